#!/usr/bin/env python3
"""Write MMA case files from MMA-Sim (mmasim 2.1.1), the public bit-accurate model.

Usage (the venv needs torch and mmasim==2.1.1; mmasim JIT-compiles a small C++ extension,
so g++ and ninja must be on PATH):

    PATH=$PEERS_VENV/bin:$PATH python scripts/peers/mmasim_cases.py \
        --out vectors/mma --n 10000 --seed 20261127

One file per instruction kind, `vectors/mma/<arch>/<kind>.txt`, one dot product per line in
the format of vectors/mma/README.md. Inputs mix random bit patterns, narrow-exponent values,
cancellation, zeros, subnormals, NaN/Inf, random scale sign bits and NaN scales. Every `d`
is MMA-Sim's answer; nothing here calls gridgames.
"""
import argparse
import os
import platform
import sys

import numpy as np
import torch

import mmasim
from mmasim.nv_ptx import MMA, WGMMA, TCGen05MMA, TCGen05MMABlockScale, MMABlockScale
from importlib.metadata import version

FP4 = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]

# (format bits, exponent bits, mantissa bits)
FMT = {
    "e2m1": (4, 2, 1), "e2m3": (6, 2, 3), "e3m2": (6, 3, 2), "e4m3": (8, 4, 3),
    "e5m2": (8, 5, 2), "f16": (16, 5, 10), "bf16": (16, 8, 7), "tf32": (32, 8, 23),
    "f32": (32, 8, 23),
}
DIGITS = {"e2m1": 1, "e2m3": 2, "e3m2": 2, "e4m3": 2, "e5m2": 2, "f16": 4, "bf16": 4, "tf32": 8}

# (arch dir, case-file instruction, mmasim constructor, mmasim arch, mmasim shape/type,
#  a, b, scale, block, K)
KINDS = [
    ("volta", "mma.sync.aligned.m8n8k4.row.col.f32.f16.f16.f32", MMA, "Volta", "m8n8k4.f32.f16.f16.f32", "f16", "f16", None, 0, 4),
    ("volta", "mma.sync.aligned.m8n8k4.row.col.f16.f16.f16.f16", MMA, "Volta", "m8n8k4.f16.f16.f16.f16", "f16", "f16", None, 0, 4),
    ("ampere", "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32", MMA, "Ampere", "m16n8k16.f32.bf16.bf16.f32", "bf16", "bf16", None, 0, 16),
    ("ampere", "mma.sync.aligned.m16n8k4.row.col.f32.tf32.tf32.f32", MMA, "Ampere", "m16n8k4.f32.tf32.tf32.f32", "tf32", "tf32", None, 0, 4),
    ("ada", "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e5m2.f32", MMA, "Ada Lovelace", "m16n8k32.f32.e4m3.e5m2.f32", "e4m3", "e5m2", None, 0, 32),
    ("hopper", "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32", MMA, "Hopper", "m16n8k16.f32.bf16.bf16.f32", "bf16", "bf16", None, 0, 16),
    ("hopper", "wgmma.f32.e4m3.e4m3", WGMMA, "Hopper", "m64n8k32.f32.e4m3.e4m3", "e4m3", "e4m3", None, 0, 32),
    ("blackwell-sm100", "tcgen05.mma.kind::f8f6f4.f32.e2m3.e3m2", TCGen05MMA, "Blackwell", "m128n8k32.kind::f8f6f4.f32.e2m3.e3m2", "e2m3", "e3m2", None, 0, 32),
    ("blackwell-sm100", "tcgen05.mma.kind::mxf8f6f4.block32.e4m3.e2m1.ue8m0", TCGen05MMABlockScale, "Blackwell", "m128n8k32.kind::mxf8f6f4.block32.f32.e4m3.e2m1.ue8m0", "e4m3", "e2m1", "ue8m0", 32, 32),
    ("blackwell-sm100", "tcgen05.mma.kind::mxf4.block32.ue8m0", TCGen05MMABlockScale, "Blackwell", "m128n8k64.kind::mxf4.block32.f32.e2m1.e2m1.ue8m0", "e2m1", "e2m1", "ue8m0", 32, 64),
    ("blackwell-sm100", "tcgen05.mma.kind::mxf4nvf4.block16.ue4m3", TCGen05MMABlockScale, "Blackwell", "m128n8k64.kind::mxf4nvf4.block16.f32.e2m1.e2m1.ue4m3", "e2m1", "e2m1", "ue4m3", 16, 64),
    ("blackwell-sm120", "mma.sync.aligned.m16n8k32.row.col.f32.e5m2.e5m2.f32", MMA, "RTX Blackwell", "m16n8k32.f32.e5m2.e5m2.f32", "e5m2", "e5m2", None, 0, 32),
]


def gen_codes(rng, fmt, n, k, mode):
    """Element codes [n, k] (uint32) for one generation mode."""
    bits, eb, mb = FMT[fmt]
    if mode == "bits":
        return rng.integers(0, 1 << bits, size=(n, k), dtype=np.uint64).astype(np.uint32)
    bias = (1 << (eb - 1)) - 1
    sign = rng.integers(0, 2, size=(n, k), dtype=np.uint32) << (bits - 1)
    man = rng.integers(0, 1 << mb, size=(n, k), dtype=np.uint32)
    emax_field = (1 << eb) - 1
    top = emax_field - 1 if fmt not in ("e4m3", "e2m1", "e2m3", "e3m2") else emax_field
    if mode == "subnormal":
        exp = np.where(rng.random((n, k)) < 0.6, 0, rng.integers(1, min(4, top) + 1, size=(n, k)))
    else:  # narrow: exponents within a few binades of 1
        lo = max(1, bias - 3)
        hi = min(top, bias + 3)
        exp = rng.integers(lo, hi + 1, size=(n, k))
    codes = sign | (exp.astype(np.uint32) << mb) | man
    if fmt == "e4m3":  # keep NaN out of the structured modes
        codes = np.where((codes & 0x7F) == 0x7F, codes & 0xFE, codes)
    return codes.astype(np.uint32)


def to_tensor(codes, fmt):
    """Codes -> tensor of the dtype mmasim expects."""
    if fmt in ("f16", "bf16"):
        t = torch.from_numpy(codes.astype(np.uint16).view(np.int16))
        return t.view(torch.float16 if fmt == "f16" else torch.bfloat16)
    if fmt in ("tf32", "f32"):
        return torch.from_numpy(codes.astype(np.uint32).view(np.int32)).view(torch.float32)
    if fmt in ("e4m3", "e5m2"):
        t = torch.from_numpy(codes.astype(np.uint8))
        return t.view(torch.float8_e4m3fn if fmt == "e4m3" else torch.float8_e5m2)
    raise ValueError(fmt)


def to_fp6fp4_bytes(codes, fmt):
    """Non-packed f8f6f4 kinds hold FP4 in bits 5:2 and FP6 in bits 5:0 of a byte."""
    b = codes << 2 if fmt == "e2m1" else codes
    return torch.from_numpy(b.astype(np.uint8))


def fp4_values(codes):
    mag = np.array(FP4, dtype=np.float16)[codes & 7]
    return torch.from_numpy(np.where(codes & 8, -mag, mag).astype(np.float16))


def gen_c(rng, n, mode, f16):
    """Accumulator bit patterns [n]."""
    if f16:
        if mode == "bits":
            return rng.integers(0, 1 << 16, size=n, dtype=np.uint64).astype(np.uint32)
        sign = rng.integers(0, 2, size=n, dtype=np.uint32) << 15
        e = rng.integers(0, 20, size=n).astype(np.uint32) if mode != "narrow" else rng.integers(12, 19, size=n).astype(np.uint32)
        c = sign | (e << 10) | rng.integers(0, 1 << 10, size=n, dtype=np.uint32)
    else:
        if mode == "bits":
            return rng.integers(0, 1 << 32, size=n, dtype=np.uint64).astype(np.uint32)
        sign = rng.integers(0, 2, size=n, dtype=np.uint32) << 31
        if mode == "subnormal":
            e = np.where(rng.random(n) < 0.5, 0, rng.integers(1, 4, size=n)).astype(np.uint32)
        else:
            e = rng.integers(127 - 30, 127 + 8, size=n).astype(np.uint32)
        c = sign | (e << 23) | rng.integers(0, 1 << 23, size=n, dtype=np.uint32)
    zero = rng.random(n) < 0.1
    return np.where(zero, 0, c).astype(np.uint32)


def gen_scales(rng, sfmt, n, nblk, mode):
    if sfmt == "ue8m0":
        if mode == "bits":
            s = rng.integers(0, 256, size=(n, nblk))
        else:
            s = rng.integers(127 - 12, 127 + 12, size=(n, nblk))
        nan = rng.random((n, nblk)) < 0.003
        return np.where(nan, 0xFF, s).astype(np.uint8)
    # ue4m3: random sign bit (ignored by hardware), random exponent, occasional NaN / zero
    s = rng.integers(0, 256, size=(n, nblk))
    if mode != "bits":
        s = (s & 0x87) | (rng.integers(4, 11, size=(n, nblk)) << 3)
    nan = rng.random((n, nblk)) < 0.003
    s = np.where(nan, 0x7F | (s & 0x80), s)
    return s.astype(np.uint8)


def inject(rng, a, b, fmt_a, fmt_b, n):
    """Specials: place NaN/Inf/zero codes in some rows."""
    for codes, fmt in ((a, fmt_a), (b, fmt_b)):
        bits, eb, mb = FMT[fmt]
        rows = np.nonzero(rng.random(n) < 0.3)[0]
        cols = rng.integers(0, codes.shape[1], size=len(rows))
        if fmt in ("e2m1", "e2m3", "e3m2"):
            val = 0
        elif fmt == "e4m3":
            val = 0x7F
        else:
            val = ((1 << eb) - 1) << mb  # Inf
        signs = rng.integers(0, 2, size=len(rows)).astype(np.uint32) << (bits - 1)
        codes[rows, cols] = val | signs
        # zeros
        rows = np.nonzero(rng.random(n) < 0.3)[0]
        cols = rng.integers(0, codes.shape[1], size=len(rows))
        codes[rows, cols] = 0


def cancel(rng, a, b, fmt_a):
    """Make products cancel in pairs: a[2i+1] = -a[2i], b[2i+1] = b[2i]."""
    bits = FMT[fmt_a][0]
    a[:, 1::2] = a[:, 0::2] ^ np.uint32(1 << (bits - 1))
    b[:, 1::2] = b[:, 0::2]
    # keep one term alive so the residual is a small non-zero value
    a[:, 0] = rng.integers(0, 1 << bits, size=a.shape[0], dtype=np.uint64).astype(np.uint32) & ~np.uint32(0)


def run_kind(rng, kind, n):
    arch_dir, instr, ctor, march, shape, fa, fb, sfmt, block, K = kind
    op = ctor(march, shape)
    parts = shape.split(".")
    f16_out = (parts[2] if parts[1].startswith("kind") else parts[1]) == "f16"
    modes = rng.choice(["bits", "narrow", "cancel", "subnormal", "specials"], size=n, p=[0.3, 0.3, 0.15, 0.15, 0.1])
    a = np.zeros((n, K), dtype=np.uint32)
    b = np.zeros((n, K), dtype=np.uint32)
    c = np.zeros(n, dtype=np.uint32)
    nblk = K // block if block else 0
    sa = np.zeros((n, nblk), dtype=np.uint8)
    sb = np.zeros((n, nblk), dtype=np.uint8)
    for mode in ["bits", "narrow", "cancel", "subnormal", "specials"]:
        idx = np.nonzero(modes == mode)[0]
        m = len(idx)
        if m == 0:
            continue
        gm = {"cancel": "narrow", "specials": "narrow"}.get(mode, mode)
        aa = gen_codes(rng, fa, m, K, gm)
        bb = gen_codes(rng, fb, m, K, gm)
        if mode == "cancel" and FMT[fa][0] == FMT[fb][0]:
            cancel(rng, aa, bb, fa)
        if mode == "specials":
            inject(rng, aa, bb, fa, fb, m)
        a[idx], b[idx] = aa, bb
        c[idx] = gen_c(rng, m, gm if mode != "specials" else "bits", f16_out)
        if nblk:
            sa[idx] = gen_scales(rng, sfmt, m, nblk, gm)
            sb[idx] = gen_scales(rng, sfmt, m, nblk, gm)
    # tensors
    if fa == "e2m1" and sfmt is not None and "mxf4" in shape:
        ta, tb = fp4_values(a), fp4_values(b)
    elif fa in ("e2m1", "e2m3", "e3m2") or fb in ("e2m1", "e2m3", "e3m2"):
        ta = to_fp6fp4_bytes(a, fa) if fa in ("e2m1", "e2m3", "e3m2") else to_tensor(a, fa)
        tb = to_fp6fp4_bytes(b, fb) if fb in ("e2m1", "e2m3", "e3m2") else to_tensor(b, fb)
    else:
        ta, tb = to_tensor(a, fa), to_tensor(b, fb)
    if f16_out:
        tc = torch.from_numpy(c.astype(np.uint16).view(np.int16)).view(torch.float16)
    else:
        tc = torch.from_numpy(c.view(np.int32)).view(torch.float32)
    if sfmt is None:
        d = op.dpa(ta, tb, tc)
    else:
        sdt = torch.float8_e8m0fnu if sfmt == "ue8m0" else torch.float8_e4m3fn
        d = op.dpa(ta, tb, tc, torch.from_numpy(sa).view(sdt), torch.from_numpy(sb).view(sdt))
    if f16_out:
        dbits = d.view(torch.int16).numpy().view(np.uint16).astype(np.uint32)
        w = 4
    else:
        dbits = d.view(torch.int32).numpy().view(np.uint32)
        w = 8
    da, db = DIGITS[fa], DIGITS[fb]
    lines = []
    for i in range(n):
        sa_s = "".join(f"{x:02X}" for x in sa[i]) if nblk else "-"
        sb_s = "".join(f"{x:02X}" for x in sb[i]) if nblk else "-"
        lines.append(
            f"{arch_dir}/{instr} "
            + "".join(f"{x:0{da}X}" for x in a[i]) + " "
            + "".join(f"{x:0{db}X}" for x in b[i]) + " "
            + f"{sa_s} {sb_s} {int(c[i]):0{w}X} {int(dbits[i]):0{w}X}"
        )
    return lines


def splitmix(seed):
    mask = (1 << 64) - 1
    state = seed
    while True:
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        yield z ^ (z >> 31)


def bench(reps):
    """Time MMA-Sim on the 256x256x256 NVFP4 GEMM of benches/mma.rs (same matrices)."""
    import hashlib
    import time
    n = 256
    r = splitmix(42)
    a = np.array([next(r) % 16 for _ in range(n * n)], dtype=np.uint32).reshape(n, n)  # M x K
    b = np.array([next(r) % 16 for _ in range(n * n)], dtype=np.uint32).reshape(n, n)  # N x K
    def scale():
        v = 0x20 + next(r) % 0x40
        return v | ((next(r) % 2) << 7)
    sa = np.array([scale() for _ in range(n * n // 16)], dtype=np.uint8).reshape(n, n // 16)
    sb = np.array([scale() for _ in range(n * n // 16)], dtype=np.uint8).reshape(n, n // 16)
    op = TCGen05MMABlockScale("Blackwell", "m128n256k64.kind::mxf4nvf4.block16.f32.e2m1.e2m1.ue4m3")
    A = fp4_values(a)
    B = fp4_values(b).T.contiguous()  # K x N
    C = torch.zeros(n, n, dtype=torch.float32)
    alpha = torch.from_numpy(sa).view(torch.float8_e4m3fn)
    beta = torch.from_numpy(sb).view(torch.float8_e4m3fn).T.contiguous()  # K/16 x N
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        D = op(A, B, C, alpha, beta)
        times.append(time.perf_counter() - t0)
    bits = D.contiguous().view(torch.int32).numpy().view(np.uint32).reshape(-1)
    h = 0xcbf29ce484222325
    for byte in bits.tobytes():
        h = ((h ^ byte) * 0x100000001b3) & ((1 << 64) - 1)
    print(f"mmasim {version('mmasim')} torch {torch.__version__} threads {torch.get_num_threads()}: "
          f"256^3 NVFP4 GEMM min {min(times):.3f} s, median {sorted(times)[len(times)//2]:.3f} s over {reps}; "
          f"D fnv1a = {h:016x}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="vectors/mma")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--only", default=None, help="substring filter on the instruction")
    ap.add_argument("--bench", type=int, default=0, metavar="REPS",
                    help="instead: time MMA-Sim on the matrices of benches/mma.rs REPS times")
    args = ap.parse_args()
    if args.bench:
        bench(args.bench)
        return
    rng = np.random.default_rng(args.seed)
    cmd = "python scripts/peers/mmasim_cases.py " + " ".join(sys.argv[1:])
    for kind in KINDS:
        if args.only and args.only not in kind[1]:
            continue
        lines = run_kind(rng, kind, args.n)
        d = os.path.join(args.out, kind[0])
        os.makedirs(d, exist_ok=True)
        fname = kind[1].replace("mma.sync.aligned.", "mma.").replace("::", "-").replace(".row.col", "") + ".txt"
        path = os.path.join(d, fname)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"# MMA cases for {kind[0]}/{kind[1]}: d computed by MMA-Sim ({kind[2].__name__}(\"{kind[3]}\", \"{kind[4]}\").dpa)\n")
            f.write(f"# generated by: {cmd}\n")
            f.write(f"# mmasim {version('mmasim')}, torch {torch.__version__}, numpy {np.__version__}, python {platform.python_version()}\n")
            f.write("# format: vectors/mma/README.md (<instr> <a> <b> <sa> <sb> <c> <d>)\n")
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
        print(f"{path}: {len(lines)} cases", flush=True)


if __name__ == "__main__":
    main()
