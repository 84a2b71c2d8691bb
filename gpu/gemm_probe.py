#!/usr/bin/env python3
"""Record real FP8/BF16 GEMMs on a Hopper GPU for `gridgames gemm` (vectors/gemm/).

    python3 gpu/gemm_probe.py OUTDIR

Operands are generated from a seed by SplitMix64 (`codes()` below, re-implemented in
tests/gemm.rs), so the repository keeps only the outputs: OUTDIR/gemm_outputs.npz holds D
per experiment as `<name>/d` (FP32 bits as uint32; `<name>/d_bf16`: bf16 bits as uint16),
OUTDIR/meta.json the shapes, seeds, scales, the kernels each call launched (torch.profiler)
and the Triton PTX instruction used.

Experiments:
  triton-default, -mnia32, -mnia64   FP8 tl.dot (BLOCK_K 64 / 128, max_num_imprecise_acc)
  triton-mmav2                       BM=BN=32, num_warps=2: Triton's mma.sync path
  triton-bf16                        bf16 tl.dot
  cublas-fast / cublas-precise       torch._scaled_mm, use_fast_accum True / False, f32 and
                                     bf16 outputs, non-unit scales
  splitk-<shape>-<mode>              shapes for which cuBLAS picks split-K kernels
  chainprobe-<shape>-<mode>-o<off>   structure probes: D[i,j] = 2^8 + 2^-8 when K positions
                                     s_i and t_j fall in different accumulation chains, 2^8
                                     when one truncating chain holds both
"""

import json
import os
import sys

import numpy as np
import torch
import triton
import triton.language as tl

OUT = sys.argv[1] if len(sys.argv) > 1 else "gemm_out"
os.makedirs(OUT, exist_ok=True)
dev = "cuda"
meta = {
    "gpu": torch.cuda.get_device_name(0),
    "capability": list(torch.cuda.get_device_capability(0)),
    "torch": torch.__version__,
    "triton": triton.__version__,
    "cuda": torch.version.cuda,
    "command": "python3 gpu/gemm_probe.py OUTDIR",
    "generator": "codes(seed, n, e_lo, e_hi): SplitMix64 (state = seed, z = state += 0x9E3779B97F4A7C15, ...); "
    "code = sign(bit 63) << 7 | e << 3 | m, e = e_lo + (z >> 8) % (e_hi - e_lo + 1), m = (z >> 4) & 7; "
    "A row-major M x K from seed, B row-major K x N from seed + 1",
    "experiments": {},
}
try:
    import subprocess

    meta["driver"] = subprocess.run(
        ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
        capture_output=True, text=True,
    ).stdout.strip()
except Exception as e:  # noqa: BLE001
    meta["driver"] = f"unknown ({e})"

M64 = (1 << 64) - 1


def codes(seed, n, e_lo=1, e_hi=14):
    """n E4M3 codes from SplitMix64: exponent field in [e_lo, e_hi] (never NaN)."""
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(seed) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    sign = (z >> np.uint64(63)).astype(np.uint8)
    e = (e_lo + (z >> np.uint64(8)) % np.uint64(e_hi - e_lo + 1)).astype(np.uint8)
    m = ((z >> np.uint64(4)) & np.uint64(7)).astype(np.uint8)
    return (sign << 7) | (e << 3) | m


def operands(seed, m, n, k, e_lo=1, e_hi=14):
    a = codes(seed, m * k, e_lo, e_hi).reshape(m, k)
    b = codes(seed + 1, k * n, e_lo, e_hi).reshape(k, n)
    return a, b


def to_fp8(c):
    return torch.from_numpy(np.ascontiguousarray(c)).to(dev).view(torch.float8_e4m3fn)


def bits(t):
    if t.dtype == torch.float32:
        return t.contiguous().view(torch.int32).cpu().numpy().view(np.uint32)
    return t.contiguous().view(torch.int16).cpu().numpy().view(np.uint16)


def kernels_of(fn):
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as p:
        fn()
        torch.cuda.synchronize()
    names = sorted({e.key for e in p.key_averages() if e.device_type.name == "CUDA"})
    return [n.split("(")[0] for n in names]


@triton.jit
def mm_kernel(a_ptr, b_ptr, c_ptr, M, N, K, sam, sak, sbk, sbn, scm, scn,
              BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr, MNIA: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rm = pid_m * BM + tl.arange(0, BM)
    rn = pid_n * BN + tl.arange(0, BN)
    rk = tl.arange(0, BK)
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for k in range(0, K, BK):
        a = tl.load(a_ptr + rm[:, None] * sam + (k + rk)[None, :] * sak)
        b = tl.load(b_ptr + (k + rk)[:, None] * sbk + rn[None, :] * sbn)
        if MNIA > 0:
            acc = tl.dot(a, b, acc, max_num_imprecise_acc=MNIA)
        else:
            acc = tl.dot(a, b, acc)
    tl.store(c_ptr + rm[:, None] * scm + rn[None, :] * scn, acc)


def triton_mm(a, b, bm, bn, bk, mnia, warps):
    m, k = a.shape
    n = b.shape[1]
    c = torch.empty((m, n), device=dev, dtype=torch.float32)
    h = mm_kernel[(m // bm, n // bn)](a, b, c, m, n, k, a.stride(0), a.stride(1), b.stride(0),
                                      b.stride(1), c.stride(0), c.stride(1), BM=bm, BN=bn, BK=bk,
                                      MNIA=mnia, num_warps=warps)
    torch.cuda.synchronize()
    ptx = h.asm.get("ptx", "")
    used = sorted({l.strip().split()[0] for l in ptx.splitlines() if "mma" in l and "sync.aligned" in l
                   and not l.strip().startswith("//") and ("mma_async" in l or "mma.sync" in l)})
    return c, used


OUTPUTS = {}


def save(name, info, **arrays):
    for key, v in arrays.items():
        OUTPUTS[f"{name}/{key}"] = v
    meta["experiments"][name] = info
    print(name, {k: (v.shape, v.dtype.name) for k, v in arrays.items()}, info.get("ptx", ""),
          info.get("kernels", ""), flush=True)


# ---- Triton -----------------------------------------------------------------------------
M = N = 128
K = 1024
SEED = 1000
ac, bc = operands(SEED, M, N, K, 4, 11)
a, b = to_fp8(ac), to_fp8(bc)
for name, bk, mnia, bm, bn, warps in [
    ("triton-default", 64, 0, 128, 128, 4),
    ("triton-mnia32", 128, 32, 128, 128, 4),
    ("triton-mnia64", 128, 64, 128, 128, 4),
    ("triton-mmav2", 32, 0, 32, 32, 2),
]:
    d, ptx = triton_mm(a, b, bm, bn, bk, mnia, warps)
    save(name, {"M": M, "N": N, "K": K, "seed": SEED, "e_lo": 4, "e_hi": 11, "BLOCK_M": bm,
                "BLOCK_N": bn, "BLOCK_K": bk, "max_num_imprecise_acc": mnia or None,
                "num_warps": warps, "ptx": ptx}, d=bits(d))

# bf16 operands: the E4M3 values widened exactly (every E4M3 value is a bf16 value).
d, ptx = triton_mm(a.to(torch.bfloat16)[:, :512].contiguous(), b.to(torch.bfloat16)[:512].contiguous(),
                   128, 128, 64, 0, 4)
save("triton-bf16", {"M": M, "N": N, "K": 512, "seed": SEED, "e_lo": 4, "e_hi": 11,
                     "note": "A[:, :512] and B[:512] of the FP8 operands, as bf16", "BLOCK_K": 64,
                     "ptx": ptx}, d=bits(d))

# ---- cuBLAS through torch._scaled_mm ------------------------------------------------------
SA, SB = 0.37109375, 1.6328125
sa = torch.tensor(SA, device=dev)
sb = torch.tensor(SB, device=dev)


def scaled(a, b, fast, out, s_a=sa, s_b=sb):
    # _scaled_mm wants B column-major: pass the transpose of a contiguous N x K copy.
    return torch._scaled_mm(a, b.t().contiguous().t(), scale_a=s_a, scale_b=s_b, out_dtype=out,
                            use_fast_accum=fast)


def cublas(name, m, n, k, seed, e_lo, e_hi, outs=(torch.float32,)):
    ac, bc = operands(seed, m, n, k, e_lo, e_hi)
    a, b = to_fp8(ac), to_fp8(bc)
    for fast in (True, False):
        mode = "fast" if fast else "precise"
        arrays = {}
        info = {"M": m, "N": n, "K": k, "seed": seed, "e_lo": e_lo, "e_hi": e_hi, "scale_a": SA,
                "scale_b": SB, "use_fast_accum": fast}
        for out in outs:
            key = "d" if out == torch.float32 else "d_bf16"
            arrays[key] = bits(scaled(a, b, fast, out))
            info["kernels" if key == "d" else "kernels_bf16"] = kernels_of(lambda: scaled(a, b, fast, out))
        save(f"{name}-{mode}", info, **arrays)


cublas("cublas", 256, 256, 2048, 2000, 3, 10, outs=(torch.float32, torch.bfloat16))
for i, (m, n, k) in enumerate([(64, 64, 16384), (32, 256, 32768), (16, 16, 65536), (128, 128, 8192)]):
    cublas(f"splitk-{m}x{n}x{k}", m, n, k, 3000 + 10 * i, 2, 12)

# ---- chain-structure probes ----------------------------------------------------------------
# A[i, s_i] = B[s_i, j] = 2^-4 for all j; A[i, t_j] = B[t_j, j] = 2^4 for all i; else 0.
# D[i, j] = 2^8 + 2^-8 unless one truncating chain holds both positions (then 2^8).
E4M3_2P4 = 0x58   # 16
E4M3_2M4 = 0x18   # 1/16
one = torch.tensor(1.0, device=dev)


def probe(m, n, k, offsets):
    for off in offsets:
        s = [(i * (k // m) + off) % k for i in range(m)]
        t = [j * (k // n) for j in range(n)]
        if set(s) & set(t):
            continue
        ac = np.zeros((m, k), np.uint8)
        bc = np.zeros((k, n), np.uint8)
        for i, si in enumerate(s):
            ac[i, si] = E4M3_2M4
            bc[si, :] = E4M3_2M4
        for j, tj in enumerate(t):
            ac[:, tj] = E4M3_2P4
            bc[tj, j] = E4M3_2P4
        a, b = to_fp8(ac), to_fp8(bc)
        for fast in (True, False):
            d = scaled(a, b, fast, torch.float32, one, one)
            save(f"chainprobe-{m}x{n}x{k}-{'fast' if fast else 'precise'}-o{off}",
                 {"M": m, "N": n, "K": k, "s": s, "t": t, "use_fast_accum": fast,
                  "kernels": kernels_of(lambda: scaled(a, b, fast, torch.float32, one, one))},
                 d=bits(d))


probe(16, 16, 65536, [32, 96, 128, 480, 512, 992, 1024, 2016, 2048, 3072])
probe(64, 64, 16384, [32, 128, 160, 224])

np.savez_compressed(os.path.join(OUT, "gemm_outputs.npz"), **OUTPUTS)
with open(os.path.join(OUT, "meta.json"), "w") as f:
    json.dump(meta, f, indent=1)
print("done")
