"""Vectors for the profiles whose libraries cannot run on this CPU: TransformerEngine (needs
CUDA) and cuDNN (a GPU library). Each is an independent numpy float32 transcription of the
library's *published* formulas, not of gridgames' code:

- TE: transformer_engine/pytorch/custom_recipes/quantization_ref_nvfp4.py (the pure-Python
  reference its exactness tests compare against with atol=0): global_encode = 448*6/amax
  (0 -> 1), decode = vec_max * (global_encode * (1/6)), clamp 448, cast e4m3 (RNE);
  encode = 1 / (decode_fp8 * (1/global_encode)); q = RNE_e2m1(clamp(x * encode, -6, 6));
  stored tensor scale 1/global_encode.
- cuDNN: frontend "Block Scale Quantize": scale = quantize_round_up(amax/vmax_otype),
  output = quantize_round_to_even(vals/scale); NVFP4 (E4M3 scale, 16) and MXFP4 (E8M0, 32).

Usage: python scripts/peers/make_formula_vectors.py --out vectors/peers/formulas
Needs numpy and ml-dtypes (scripts/peers/requirements-ci.txt). Line format: vectors/peers/README.md.
"""
import argparse
import os

import ml_dtypes
import numpy as np

F32 = np.float32
E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6], dtype=np.float64)


def rne_e2m1(y):
    """RNE to E2M1 with saturation, sign kept, by exhaustive nearest with even-code ties."""
    a = min(abs(float(y)), 6.0)
    d = np.abs(E2M1 - a)
    best = np.flatnonzero(d == d.min())
    code = int(best[0]) if len(best) == 1 else int(best[best % 2 == 0][0])
    return code | (8 if np.signbit(y) else 0)


def e4m3_bits(v):
    return int(np.array([v], dtype=F32).astype(ml_dtypes.float8_e4m3fn).view(np.uint8)[0])


def e4m3_val(b):
    return F32(np.array([b], dtype=np.uint8).view(ml_dtypes.float8_e4m3fn).astype(np.float32)[0])


def e4m3_round_up(v):
    """Smallest E4M3 value >= v (v > 0), saturating at 448."""
    b = e4m3_bits(v)
    if e4m3_val(b) < v and b < 0x7E:
        b += 1
    return min(b, 0x7E)


def e8m0_round_up(v):
    if v == 0:
        return 0
    e = int(np.ceil(np.log2(np.float64(v))))
    return max(0, min(254, e + 127))


def te_nvfp4(x):
    amax = F32(np.max(np.abs(x)))
    genc = F32(F32(448.0 * 6.0) / amax) if amax != 0 else F32(1.0)
    if not np.isfinite(genc) or genc == 0:
        genc = F32(min(genc, np.finfo(F32).max)) if genc != 0 else F32(1.0)
    sdec = F32(F32(1.0) / genc)
    codes, scales = [], []
    for blk in x.reshape(-1, 16):
        vmax = F32(np.max(np.abs(blk)))
        dec = F32(vmax * F32(genc * F32(F32(1.0) / F32(6.0))))
        s = e4m3_bits(min(dec, F32(448.0)))
        enc = F32(F32(1.0) / F32(e4m3_val(s) * sdec))
        enc = F32(min(enc, np.finfo(F32).max))
        scales.append(s)
        codes += [rne_e2m1(F32(blk_v * enc)) for blk_v in blk]
    return codes, scales, sdec


def cudnn_nvfp4(x):
    codes, scales = [], []
    for blk in x.reshape(-1, 16):
        s = e4m3_round_up(F32(F32(np.max(np.abs(blk))) / F32(6.0)))
        sv = e4m3_val(s)
        scales.append(s)
        codes += [rne_e2m1(F32(v / sv)) if sv != 0 else rne_e2m1(F32(v * 0.0)) for v in blk]
    return codes, scales, F32(1.0)


def cudnn_mxfp4(x):
    codes, scales = [], []
    for blk in x.reshape(-1, 32):
        amax = F32(np.max(np.abs(blk)))
        s = e8m0_round_up(F32(amax / F32(6.0)))
        sv = np.ldexp(np.float64(1.0), s - 127)
        scales.append(s)
        codes += [rne_e2m1(np.float64(v) / sv) for v in blk]
    return codes, scales, None


def pack_low_first(codes):
    return bytes(codes[i] | (codes[i + 1] << 4) for i in range(0, len(codes), 2))


def inputs(rng):
    out = []
    for i in range(60):
        r, c = [(1, 64), (2, 64), (4, 128)][i % 3]
        kind = i % 5
        if kind == 0:
            x = rng.standard_normal((r, c)) * 10.0 ** rng.uniform(-3, 3)
        elif kind == 1:
            x = rng.integers(-24, 25, (r, c)) / 4.0 * 2.0 ** rng.integers(-8, 8)
        elif kind == 2:
            x = rng.uniform(-1, 1, (r, c))
        elif kind == 3:
            x = rng.standard_normal((r, c)).astype(ml_dtypes.bfloat16).astype(np.float64)
        else:
            x = rng.standard_normal((r, c))
            x[:, :16] = 0.0
        out.append((f"case_{i}", x.astype(F32)))
    return out


def write(path, header, rows, fn, group, scale_kind):
    with open(path, "w") as f:
        f.write("# gridgames formula vectors v1 (format: vectors/peers/README.md)\n")
        f.write("# command: python scripts/peers/make_formula_vectors.py --out vectors/peers/formulas\n")
        f.write(f"# library: {header}\n")
        f.write(f"# versions: numpy {np.__version__}, ml-dtypes {ml_dtypes.__version__}\n")
        f.write("# packing: low-first\n")
        f.write(f"# scale: {scale_kind}\n# group: {group}\n")
        f.write(f"# cases: {len(rows)}\n")
        for name, x in rows:
            codes, scales, t = fn(x.reshape(-1))
            xs = "".join(f"{int(v):08x}" for v in x.reshape(-1).view(np.uint32))
            q = pack_low_first(codes).hex()
            s = bytes(scales).hex()
            ts = "-" if t is None else f"{int(np.array([t], dtype=F32).view(np.uint32)[0]):08x}"
            f.write(f"case={name} shape={x.shape[0]}x{x.shape[1]} x={xs} q={q} s={s} t={ts} dq=-\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="vectors/peers/formulas")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rows = inputs(np.random.default_rng(20261127))
    write(f"{args.out}/te_nvfp4.txt", "TransformerEngine NVFP4 published reference formulas (numpy float32 transcription; TE needs CUDA)", rows, te_nvfp4, 16, "e4m3")
    write(f"{args.out}/cudnn_nvfp4.txt", "cuDNN Block Scale Quantize NVFP4 (round-up E4M3 scale, divide, RNE) transcription", rows, cudnn_nvfp4, 16, "e4m3")
    mx_rows = [(n, x) for n, x in rows if x.shape[1] % 32 == 0]
    write(f"{args.out}/cudnn_mxfp4.txt", "cuDNN Block Scale Quantize MXFP4 (round-up E8M0 scale, divide, RNE) transcription", mx_rows, cudnn_mxfp4, 32, "ue8m0")


if __name__ == "__main__":
    main()
