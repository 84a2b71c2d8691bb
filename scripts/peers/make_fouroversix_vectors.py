#!/usr/bin/env python3
"""Random-group peer vectors for fouroversix 1.0.5 (IF4 and Four Over Six), >= 10^5 groups.

    python scripts/peers/make_fouroversix_vectors.py --out vectors/peers/fouroversix

Inputs are NOT stored: they come from an integer-only generator (below, `inputs()`), which
tests/families.rs re-implements; every file's header carries the SHA-256 of the input bytes
so a mismatch between the two generators fails loudly instead of comparing different data.
Each input value is an exact f32: an Irwin-Hall sum of four 21-bit uniforms (about normal),
times 2^k per group (k in -6..6) and 2^t per tensor (t in -20..20); one group in eight gets
one outlier (one element times 2^j, j in 2..5). No floating-point function is involved, so
the inputs are the same on every platform.

Files (one line per tensor, `tensor=<i> shape=RxC amax=<f32 hex> q=<codes hex> s=<scales hex>`;
q low-first packed like vectors/peers/README.md, s one e4m3 byte per 16-group, row-major,
un-swizzled):
  random_if4_mse.txt, random_nvfp4_mse.txt: 100 tensors of 64x256 (102,400 groups);
  random_{if4,nvfp4}_{mae,abs_max}.txt, random_nvfp4_{static_6,static_4}.txt: 16 tensors.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
COMMAND = "python scripts/peers/make_fouroversix_vectors.py --out vectors/peers/fouroversix"
SEED = 20261127
ROWS, COLS = 64, 256
M64 = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed: int):
        self.z = seed & M64

    def next(self) -> int:
        self.z = (self.z + 0x9E3779B97F4A7C15) & M64
        x = self.z
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
        return x ^ (x >> 31)

    def below(self, n: int) -> int:
        """Uniform integer in [0, n) by the top bits (n small; bias ~2^-58, irrelevant)."""
        return ((self.next() >> 32) * n) >> 32


def tensor(rng: SplitMix64) -> np.ndarray:
    t = rng.below(41) - 20
    out = np.empty((ROWS, COLS), dtype=np.float32)
    for r in range(ROWS):
        for b in range(COLS // 16):
            k = rng.below(13) - 6
            vals = []
            for _ in range(16):
                s = sum((rng.next() >> 43) for _ in range(4)) - 2 * (1 << 21)  # |s| < 2^22
                vals.append(s)
            if rng.below(8) == 0:
                i = rng.below(16)
                vals[i] *= 1 << (2 + rng.below(4))
            # value = s * 2^(k + t - 22): s has at most 22 significant bits and the exponent
            # stays in the f32 normal range, so every value is exact in f32.
            for i, s in enumerate(vals):
                out[r, b * 16 + i] = np.float32(np.ldexp(float(s), k + t - 22))
    return out


def inputs(n: int):
    rng = SplitMix64(SEED)
    return [tensor(rng) for _ in range(n)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    a = ap.parse_args(argv)
    import torch
    import fouroversix
    from fouroversix.quantize.frontend import quantize_to_fp4
    from fouroversix.quantize.config import QuantizationConfig
    from fouroversix.quantize.dequantize_utils import from_blocked
    from fouroversix.utils import DataType, QuantizeBackend, ScaleRule

    big = inputs(100)
    runs = [("if4", "mse", 100), ("nvfp4", "mse", 100)]
    runs += [("if4", r, 16) for r in ("mae", "abs_max")]
    runs += [("nvfp4", r, 16) for r in ("mae", "abs_max", "static_6", "static_4")]
    a.out.mkdir(parents=True, exist_ok=True)
    for dtype_name, rule, n in runs:
        xs = big[:n]
        sha = hashlib.sha256(b"".join(x.astype("<f4").tobytes() for x in xs)).hexdigest()
        dt = DataType(dtype_name)
        lines = []
        for i, x in enumerate(xs):
            cfg = QuantizationConfig(dtype=dt, scale_rule=ScaleRule(rule),
                                     backend=QuantizeBackend.pytorch)
            qt = quantize_to_fp4(torch.from_numpy(x.copy()), cfg)
            R, C = x.shape
            Rp, Cp = qt.padded_shape
            q = qt.values.contiguous().view(torch.uint8).cpu().numpy().reshape(Rp, Cp // 2)[:R, : C // 2]
            sf = qt.scale_factors
            if qt.scale_factors_are_in_blackwell_layout:
                sf = from_blocked(sf.contiguous().view(torch.uint8).flatten(), (Rp, Cp // 16))
            s = sf.contiguous().view(torch.uint8).cpu().numpy().reshape(Rp, Cp // 16)[:R, : C // 16]
            amax = qt.amax.detach().float().reshape(-1)[:1].numpy().astype(">f4").tobytes().hex()
            lines.append(f"tensor={i} shape={R}x{C} amax={amax} q={q.tobytes().hex()} s={s.tobytes().hex()}")
        path = a.out / f"random_{dtype_name}_{rule}.txt"
        with open(path, "w", newline="\n") as f:
            f.write("# gridgames fouroversix random-group vectors (see scripts/peers/make_fouroversix_vectors.py)\n")
            f.write(f"# command: {COMMAND}\n")
            f.write(f"# library: fouroversix {fouroversix.__version__ if hasattr(fouroversix, '__version__') else '1.0.5'}, torch {torch.__version__} (PyTorch reference backend, CPU)\n")
            f.write(f"# function: quantize_to_fp4(x, QuantizationConfig(dtype=DataType.{dtype_name}, scale_rule=ScaleRule.{rule}, backend=QuantizeBackend.pytorch))\n")
            f.write(f"# inputs: the first {n} tensors of inputs() (seed {SEED}), {ROWS}x{COLS} each; sha256 of their little-endian f32 bytes: {sha}\n")
            f.write(f"# groups: {n * ROWS * COLS // 16}\n")
            for line in lines:
                f.write(line + "\n")
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
