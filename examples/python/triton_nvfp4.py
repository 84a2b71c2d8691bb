#!/usr/bin/env python3
"""A Triton NVFP4 quantize kernel written from torchao's formulas, checked with gridgames.

torchao 0.18 `nvfp4_quantize` (two-level scaling), as gridgames' `torchao` profile states it:
  tensor scale   ts = amax / (6 · 448)                       (f32 division)
  block scale    s  = e4m3_rne(clamp((block_amax / 6) / ts, 2^-6, 448))
  elements       e2m1_rne(clamp(x · ((1 / ts) / f32(s)), -6, 6)), the sign from the f32 bits

    python3 examples/python/triton_nvfp4.py          # needs CUDA, Triton and gridgames

runs `gridgames.testing.check_quantizer` on the kernel (golden edge cases + random tensors)
and on two planted bugs, and prints each report. `python/tests/test_triton_example.py` runs
it where CUDA exists and reports a SKIP elsewhere.
"""

import sys

import numpy as np
import torch
import triton
import triton.language as tl

import gridgames
import gridgames.testing as ggt

BUGS = {0: "none", 1: "ties away from zero", 2: "approximate division (div.full.f32)"}


@triton.jit
def _div(a, b, EXACT: tl.constexpr):
    if EXACT:
        return tl.math.div_rn(a, b)
    return a / b  # Triton lowers fp32 `/` to the approximate div.full.f32


@triton.jit
def nvfp4_kernel(x_ptr, q_ptr, s_ptr, ts_ptr, n_groups, BLOCK_G: tl.constexpr, BUG: tl.constexpr):
    pid = tl.program_id(0)
    g = pid * BLOCK_G + tl.arange(0, BLOCK_G)
    offs = g[:, None] * 16 + tl.arange(0, 16)[None, :]
    mask = g[:, None] < n_groups
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    ts = tl.load(ts_ptr)
    amax = tl.max(tl.abs(x), axis=1)
    exact: tl.constexpr = BUG != 2
    sc = _div(_div(amax, 6.0, exact), ts, exact)
    # torch.clamp propagates NaN (an all-zero tensor gives 0/0 here, as in torchao).
    sc = tl.clamp(sc, 0.015625, 448.0, propagate_nan=tl.PropagateNan.ALL)
    s8 = sc.to(tl.float8e4nv)
    rcp = _div(_div(1.0, ts, exact), s8.to(tl.float32), exact)
    y = x * rcp[:, None]
    y = tl.clamp(y, -6.0, 6.0, propagate_nan=tl.PropagateNan.ALL)
    m = tl.abs(y)
    if BUG == 1:
        code = ((m >= 0.25).to(tl.int32) + (m >= 0.75).to(tl.int32) + (m >= 1.25).to(tl.int32)
                + (m >= 1.75).to(tl.int32) + (m >= 2.5).to(tl.int32) + (m >= 3.5).to(tl.int32)
                + (m >= 5.0).to(tl.int32))
    else:
        # Ties to the even code: 0.25 -> 0, 0.75 -> 1.0, 1.25 -> 1.0, 1.75 -> 2, 2.5 -> 2,
        # 3.5 -> 4, 5 -> 4.
        code = ((m > 0.25).to(tl.int32) + (m >= 0.75).to(tl.int32) + (m > 1.25).to(tl.int32)
                + (m >= 1.75).to(tl.int32) + (m > 2.5).to(tl.int32) + (m >= 3.5).to(tl.int32)
                + (m > 5.0).to(tl.int32))
    sign = (y.to(tl.int32, bitcast=True) >> 31) & 1
    code = code | (sign << 3)
    pairs = tl.reshape(code, (BLOCK_G, 8, 2))
    lo, hi = tl.split(pairs)
    packed = (lo | (hi << 4)).to(tl.uint8)
    qoffs = g[:, None] * 8 + tl.arange(0, 8)[None, :]
    tl.store(q_ptr + qoffs, packed, mask=g[:, None] < n_groups)
    tl.store(s_ptr + g, s8.to(tl.uint8, bitcast=True), mask=g < n_groups)


def quantize(x, bug=0):
    """(codes, scales, tensor_scale) of a float32 array (any shape, last dim % 16 == 0)."""
    t = torch.as_tensor(np.ascontiguousarray(x), device="cuda").reshape(-1)
    n_groups = t.numel() // 16
    # torchao divides on the tensor's device; on CUDA PyTorch divides by a Python scalar as a
    # multiply by its reciprocal (1 ulp off in 16 of the golden cases, seen on an H200), so
    # the tensor scale is taken on the CPU, where the `torchao` profile's rule was recorded.
    amax = t.abs().max().cpu()
    ts = (amax / 2688.0).reshape(1).to("cuda")
    q = torch.empty(n_groups * 8, dtype=torch.uint8, device="cuda")
    s = torch.empty(n_groups, dtype=torch.uint8, device="cuda")
    block = 16
    nvfp4_kernel[(triton.cdiv(n_groups, block),)](t, q, s, ts, n_groups, BLOCK_G=block, BUG=bug)
    shape = x.shape
    return (q.cpu().numpy().reshape(shape[:-1] + (shape[-1] // 2,)),
            s.cpu().numpy().reshape(shape[:-1] + (shape[-1] // 16,)),
            float(ts.item()))


def zero_scale_cases():
    """Golden cases whose torchao tensor scale is 0 (an all-zero or subnormal-only tensor):
    torchao then computes 0/0, and its CPU NaN bytes are not something a GPU kernel can
    reproduce; they are reported, and set apart in the summary."""
    out = set()
    for c in ggt.golden_cases("nvfp4"):
        try:
            if gridgames.quantize(c.x, "nvfp4", "torchao").tensor_scale == 0.0:
                out.add(c.name)
        except ValueError:
            pass
    return out


def main():
    zero = zero_scale_cases()
    reports = {}
    for bug, what in BUGS.items():
        report = ggt.check_quantizer(lambda x: quantize(x, bug), "nvfp4", "torchao")
        reports[bug] = report
        print(f"=== kernel with planted bug: {what}")
        print(report)
        print()
    clean = reports[0]
    outside = [m for m in clean.mismatches if m.case not in zero]
    print(f"clean kernel: {len(clean.mismatches)} mismatches, all in the {len(zero)} cases with tensor "
          f"scale 0 (torchao's 0/0)" if not outside else f"clean kernel: {len(outside)} mismatches elsewhere")
    caught = {bug: sorted({m.cls for m in r.mismatches if m.case not in zero}) for bug, r in reports.items() if bug}
    for bug, classes in caught.items():
        print(f"planted bug `{BUGS[bug]}`: classes outside those cases: {classes or 'none (not caught)'}")
    ok = not outside and "tie-code" in caught[1]
    print("RESULT:", "as expected" if ok else "UNEXPECTED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
