#!/usr/bin/env python3
"""The `ocp` profile against the OCP MX reference implementation, microsoft/microxcaling
(commit 7bc4195, MIT licence, pure PyTorch on CPU), side by side on the same data.

    MX_PATH=/path/to/microxcaling python scripts/peers/microxcaling_ocp.py

microxcaling is not vendored: point MX_PATH at a checkout (`git clone
https://github.com/microsoft/microxcaling`). Compared: the decoded values of
`mx.mx_ops._quantize_mx(x, 8, "fp4_e2m1", "max", axes=[-1], block_size=32, round="even")`
against `gridgames.dequantize(gridgames.quantize(x, "mxfp4", "ocp"))`, bit for bit, on N(0,1)
data and on three constructed cases: block maxima one f32 ulp below a power of two, elements
one ulp below a rounding tie, and signed zeros. Prints the mismatch count per case.
"""

import os
import sys

import numpy as np
import torch

import gridgames

sys.path.insert(0, os.environ.get("MX_PATH", "microxcaling"))
from mx.mx_ops import _quantize_mx  # noqa: E402


def theirs(x):
    t = torch.from_numpy(x.copy())
    return _quantize_mx(t, 8, "fp4_e2m1", shared_exp_method="max", axes=[-1], block_size=32,
                        round="even").numpy()


def ours(x):
    return gridgames.dequantize(gridgames.quantize(x, "mxfp4", "ocp"))


def compare(name, x):
    a, b = theirs(x), ours(x)
    diff = a.view(np.uint32) != b.view(np.uint32)
    both_zero = (a == 0) & (b == 0)
    sign_only = diff & both_zero
    print(f"{name:<36} {x.size:>8} values  {int(diff.sum()):>6} differ  "
          f"({int(sign_only.sum())} only in the sign of zero)")
    if diff.any():
        i = int(np.argmax(diff.reshape(-1)))
        print(f"    first: x={x.reshape(-1)[i]!r} (block max {np.abs(x.reshape(-1, 32)[i // 32]).max()!r}), "
              f"microxcaling {a.reshape(-1)[i]!r}, gridgames {b.reshape(-1)[i]!r}")
    return int(diff.sum())


def main():
    rng = np.random.default_rng(0)
    compare("N(0,1), 1024x256", rng.standard_normal((1024, 256)).astype(np.float32))
    # Block maximum one ulp below 2^k: floor(log2) must be k-1.
    x = rng.uniform(-1, 1, (64, 32)).astype(np.float32)
    for r in range(64):
        x[r, 0] = np.nextafter(np.float32(2.0 ** (r % 20 - 10)), np.float32(0))
        x[r, 1:] *= np.float32(2.0 ** (r % 20 - 10))
    compare("block max one ulp below 2^k", x)
    # Elements one ulp below a tie of the scaled E2M1 grid (block max 4 -> scale 1).
    ties = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0], np.float32)
    y = np.zeros((len(ties), 32), np.float32)
    y[:, 0] = 4.0
    for i, t in enumerate(ties):
        y[i, 1:] = np.nextafter(t, np.float32(0))
    compare("one ulp below a tie", y)
    z = np.zeros((2, 32), np.float32)
    z[0, 0] = 1.0
    z[0, 1:] = -0.0
    z[1, 0] = 1.0
    z[1, 1:] = -1e-3
    compare("signed zeros (-0.0, tiny negatives)", z)


if __name__ == "__main__":
    main()
