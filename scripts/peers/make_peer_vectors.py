#!/usr/bin/env python3
"""Run the public peer libraries on CPU and write text peer vectors for gridgames.

    python scripts/peers/make_peer_vectors.py --out vectors/peers [--only LIB[,LIB...]]

LIB is one of: ml_dtypes, torchao, modelopt, gguf, bitsandbytes, fouroversix.
Every input is generated from fixed seeds (see build_inputs); running the script twice with the
same library versions gives byte-identical files. The line format is documented in
vectors/peers/README.md; in short, one tensor per line:

    case=<name> shape=RxC x=<f32 hex> q=<bytes hex> s=<scales hex> t=<f32 hex|-> dq=<f32 hex|-> [extra=...]

All f32 are written as their 32-bit pattern, 8 lowercase hex digits, most significant first,
concatenated in row-major order. Bytes are 2 lowercase hex digits each, in storage order.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sys
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

COMMAND = "python scripts/peers/make_peer_vectors.py --out vectors/peers"
SEED = 20261127
FLT_MAX = np.float32(np.finfo(np.float32).max)


# ----------------------------------------------------------------------------- hex helpers
def f32hex(a) -> str:
    """f32 bit patterns, 8 hex digits each (MSB first), concatenated in row-major order."""
    a = np.ascontiguousarray(np.asarray(a, dtype=np.float32))
    return a.astype(">f4").tobytes().hex()


def u8hex(a) -> str:
    a = np.ascontiguousarray(np.asarray(a, dtype=np.uint8))
    return a.tobytes().hex()


def torch_u8(t) -> np.ndarray:
    import torch

    t = t.contiguous()
    if t.dtype != torch.uint8:
        t = t.view(torch.uint8)
    return t.cpu().numpy()


def torch_f32(t) -> np.ndarray:
    import torch

    return t.detach().to(torch.float32).contiguous().cpu().numpy()


# ----------------------------------------------------------------------------- file writer
class VectorFile:
    def __init__(self, path: Path, header: dict[str, str]):
        self.path = path
        self.header = header
        self.lines: list[str] = []
        self.skips: list[str] = []

    def add(self, case: str, shape, x, q, s, t, dq, **extra):
        r, c = shape
        fields = [
            f"case={case}",
            f"shape={r}x{c}",
            f"x={x if isinstance(x, str) else f32hex(x)}",
            f"q={q if isinstance(q, str) else u8hex(q)}",
            f"s={s}",
            f"t={t}",
            f"dq={dq if isinstance(dq, str) else f32hex(dq)}",
        ]
        for k, v in extra.items():
            fields.append(f"{k}={v}")
        self.lines.append(" ".join(fields))

    def skip(self, case: str, why: str):
        why = " ".join(str(why).split())[:300]
        self.skips.append(f"# skipped case={case}: {why}")

    def write(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "w", newline="\n") as f:
            f.write("# gridgames peer vectors v1 (format: vectors/peers/README.md)\n")
            f.write(f"# command: {COMMAND}\n")
            for k, v in self.header.items():
                for i, line in enumerate(str(v).splitlines()):
                    f.write(f"# {k}: {line}\n" if i == 0 else f"#   {line}\n")
            f.write(f"# cases: {len(self.lines)}\n")
            for s in self.skips:
                f.write(s + "\n")
            for line in self.lines:
                f.write(line + "\n")
        print(f"wrote {self.path} ({len(self.lines)} cases, {len(self.skips)} skipped, "
              f"{self.path.stat().st_size} bytes)")


def versions(*mods) -> str:
    import importlib.metadata as md

    out = [f"python {platform.python_version()}"]
    for m in mods:
        try:
            out.append(f"{m} {md.version(m)}")
        except md.PackageNotFoundError:
            out.append(f"{m} (not installed)")
    return ", ".join(out)


# ----------------------------------------------------------------------------- inputs
E2M1_POS = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6], dtype=np.float32)
E2M1_TIES = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5], dtype=np.float32)


def to_bf16(x: np.ndarray) -> np.ndarray:
    """Round f32 to the nearest bf16 (RNE), returned as f32."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.astype(np.uint32).view(np.float32)


def build_inputs() -> list[tuple[str, np.ndarray]]:
    """All generic input tensors: (case name, f32 [R, C]) with C a multiple of 64."""
    rng = np.random.default_rng(SEED)
    cases: list[tuple[str, np.ndarray]] = []
    small = [(1, 64), (2, 64), (4, 64), (1, 128), (2, 128), (4, 128)]

    def add(name, a):
        a = np.ascontiguousarray(np.asarray(a, dtype=np.float32))
        assert a.ndim == 2 and a.shape[1] % 64 == 0, (name, a.shape)
        cases.append((name, a))

    # N(0,1) times a random magnitude
    for i in range(24):
        sh = small[i % len(small)]
        add(f"randn_{i}", rng.standard_normal(sh) * np.float32(10 ** rng.uniform(-3, 3)))
    for i in range(2):
        add(f"randn_big_{i}", rng.standard_normal((16, 256)))
    # bf16-representable values
    for i in range(12):
        sh = small[i % len(small)]
        add(f"bf16_randn_{i}", to_bf16(rng.standard_normal(sh) * np.float32(2.0 ** rng.integers(-8, 8))))
    # small bf16 values k/4 * 2^e: many exact E2M1 ties once scaled
    for i in range(8):
        sh = small[i % len(small)]
        k = rng.integers(-24, 25, size=sh).astype(np.float32) / 4
        add(f"bf16_quarter_ints_{i}", k * np.float32(2.0 ** rng.integers(-4, 5)))
    # uniform
    for i in range(10):
        sh = small[i % len(small)]
        a = np.float32(10 ** rng.uniform(-2, 2))
        add(f"uniform_{i}", rng.uniform(-a, a, size=sh))
    # exact E2M1 grid points and ties after scaling: per 32-value group one exponent k,
    # each 16-value block has its amax = 6*2^k (so 16- and 32-blocks get scale 2^k).
    pts = np.concatenate([E2M1_POS, E2M1_TIES])
    for i in range(14):
        sh = small[i % len(small)]
        r, c = sh
        a = np.empty(sh, np.float32)
        for row in range(r):
            for g in range(c // 32):
                k = int(rng.integers(-10, 11)) if i >= 2 else 0
                vals = rng.choice(pts, size=32) * (1 - 2 * rng.integers(0, 2, size=32))
                vals[rng.integers(0, 16)] = 6.0 * (1 - 2 * rng.integers(0, 2))
                vals[16 + rng.integers(0, 16)] = 6.0 * (1 - 2 * rng.integers(0, 2))
                a[row, g * 32:(g + 1) * 32] = vals * np.float32(2.0 ** k)
        add(f"ties_{i}", a)
    # E2M1 rounding boundaries +- 1 ulp after scaling (block amax 6*2^k)
    for i in range(6):
        sh = small[i % len(small)]
        r, c = sh
        a = np.empty(sh, np.float32)
        for row in range(r):
            for g in range(c // 16):
                k = int(rng.integers(-6, 7))
                t = rng.choice(E2M1_TIES, size=16).astype(np.float32)
                d = rng.integers(-1, 2, size=16)
                t = np.where(d > 0, np.nextafter(t, np.float32(np.inf)),
                             np.where(d < 0, np.nextafter(t, np.float32(0)), t)).astype(np.float32)
                t *= (1 - 2 * rng.integers(0, 2, size=16)).astype(np.float32)
                t[rng.integers(0, 16)] = 6.0
                a[row, g * 16:(g + 1) * 16] = t * np.float32(2.0 ** k)
        add(f"tie_ulp_{i}", a)
    # zeros
    add("zeros_1x64", np.zeros((1, 64)))
    add("zeros_4x128", np.zeros((4, 128)))
    add("negzeros_1x64", np.full((1, 64), -0.0))
    a = rng.standard_normal((4, 64)).astype(np.float32)
    a[:, 16:32] = 0.0
    a[1, :] = 0.0
    a[2, 32:64] = -0.0
    add("zero_blocks_4x64", a)
    a = rng.standard_normal((2, 64)).astype(np.float32)
    a[rng.random((2, 64)) < 0.3] = -0.0
    add("randn_with_negzero", a)
    a = np.where(rng.random((2, 64)) < 0.5, np.float32(-1e-30), np.float32(-0.0))
    add("tiny_neg_and_negzero", a)
    # one huge outlier
    for i, big in enumerate([1e4, 1e8, 1e20, 3e38, float(FLT_MAX), -float(FLT_MAX)]):
        a = rng.standard_normal((2, 64)).astype(np.float32)
        a[int(rng.integers(0, 2)), int(rng.integers(0, 64))] = np.float32(big)
        add(f"outlier_{i}", a)
    # tiny values (tiny and subnormal scales, f32 subnormal inputs)
    for i, m in enumerate([1e-6, 1e-12, 1e-20, 1e-30, 1e-36, 1e-38, 1e-40, 1e-44]):
        add(f"tiny_{i}", rng.standard_normal((2, 64)) * np.float32(m))
    add("subnormal_bits", (rng.integers(1, 1 << 23, size=(1, 64)).astype(np.uint32)
                           | (rng.integers(0, 2, size=(1, 64)).astype(np.uint32) << 31)).view(np.float32))
    # block amax just below a power of two: 2^k (1 - 2^-24), and around 6*2^k (RCEIL boundary)
    for i, k in enumerate([-20, -6, -1, 0, 1, 2, 3, 8, 20, 100]):
        r, c = (1, 64)
        a = (rng.uniform(-0.9, 0.9, size=(r, c)) * np.float32(2.0 ** k)).astype(np.float32)
        am = np.float32(2.0 ** k) * np.float32(1 - 2.0 ** -24)
        for g in range(c // 16):
            a[0, g * 16 + int(rng.integers(0, 16))] = am * (1 if g % 2 == 0 else -1)
        add(f"pow2_below_{i}", a)
    for i, k in enumerate([-10, 0, 2, 20]):
        # one candidate amax per 32-value block (so MX and NVFP4 blocks both see it alone)
        a = (rng.uniform(-1, 1, size=(1, 128)) * np.float32(2.0 ** k)).astype(np.float32)
        base = np.float32(6 * 2.0 ** k)
        cands = [np.nextafter(base, np.float32(0)), base, np.nextafter(base, np.float32(np.inf)),
                 np.float32(2.0 ** (k + 3)) * np.float32(1 - 2.0 ** -24)]
        for g in range(4):
            a[0, g * 32 + int(rng.integers(0, 16))] = cands[g]
        add(f"six_pow2_edges_{i}", a)
    # e4m3 block-scale edges, two-level: one block holds the tensor amax G, the other blocks
    # have amax G*m/448 for m at/around e4m3 values and midpoints (and the 2^-9/2^-6 floor)
    e4m3_targets = [448, 464, 447.9, 432, 440, 17, 17.5, 1.0625, 1.03125, 1.09375, 2.0 ** -6,
                    2.0 ** -6 * 1.0625, 2.0 ** -7, 2.0 ** -9, 2.0 ** -10, 3 * 2.0 ** -10, 2.0 ** -12, 0.3]
    for i in range(6):
        G = np.float32(10 ** rng.uniform(-3, 3))
        sel = rng.choice(len(e4m3_targets), size=7, replace=False)
        a = (rng.uniform(-1, 1, size=(1, 128)) * np.float32(1e-3)).astype(np.float32)
        a[0, int(rng.integers(0, 16))] = G
        for b, j in enumerate(sel, start=1):
            amb = np.float32(G * np.float32(e4m3_targets[j]) / np.float32(448))
            blk = (rng.uniform(-1, 1, size=16) * amb).astype(np.float32)
            blk[int(rng.integers(0, 16))] = amb
            a[0, b * 16:(b + 1) * 16] = blk
        add(f"e4m3_two_level_{i}", a)
    # e4m3 block-scale edges, single-level: block amax = 6*m
    for i in range(4):
        a = np.zeros((1, 64), np.float32)
        sel = rng.choice(len(e4m3_targets), size=4, replace=False)
        for b, j in enumerate(sel):
            amb = np.float32(6 * e4m3_targets[j])
            blk = (rng.uniform(-1, 1, size=16) * amb).astype(np.float32)
            blk[int(rng.integers(0, 16))] = -amb
            a[0, b * 16:(b + 1) * 16] = blk
        add(f"e4m3_single_level_{i}", a)
    # specials (each library may raise: recorded as '# skipped')
    nan, inf = np.float32(np.nan), np.float32(np.inf)
    a = rng.standard_normal((1, 64)).astype(np.float32); a[0, 3] = nan
    add("special_nan_one", a)
    a = rng.standard_normal((1, 64)).astype(np.float32); a[0, 40] = -nan
    add("special_negnan_one", a)
    a = rng.standard_normal((1, 64)).astype(np.float32); a[0, 5] = inf
    add("special_inf_one", a)
    a = rng.standard_normal((1, 64)).astype(np.float32); a[0, 20] = -inf
    add("special_neginf_one", a)
    a = rng.standard_normal((1, 64)).astype(np.float32); a[0, 0:16] = nan
    add("special_nan_block", a)
    a = rng.standard_normal((1, 64)).astype(np.float32); a[0, 1] = inf; a[0, 2] = nan
    add("special_inf_and_nan", a)
    a = rng.standard_normal((2, 64)).astype(np.float32); a[1, 7] = nan
    add("special_nan_second_row", a)
    return cases


# ----------------------------------------------------------------------------- torchao
def run_torchao(out: Path, inputs):
    import torch
    from torchao.prototype.mx_formats.nvfp4_tensor import (
        NVFP4Tensor, nvfp4_quantize, per_tensor_amax_to_scale)
    from torchao.prototype.mx_formats.mx_tensor import to_mx, to_dtype
    from torchao.prototype.mx_formats.config import ScaleCalculationMode

    ver = versions("torch", "torchao", "numpy")
    common = (
        "x is the f32 input exactly as passed (torch.float32, contiguous). q = packed E2M1 codes as "
        "torchao stores them (pack_uint4: element 2i low nibble, 2i+1 high nibble), shape [R, C/2]."
    )
    # NVFP4, two-level and single-level
    for two_level in (True, False):
        name = "nvfp4.txt" if two_level else "nvfp4_no_tensor_scale.txt"
        fn = ("pts = per_tensor_amax_to_scale(torch.max(torch.abs(x)))  # amax.float32/(448*6)\n"
              "scale, qdata = nvfp4_quantize(x, block_size=16, per_tensor_scale=pts)\n"
              "dq = NVFP4Tensor.to_nvfp4(x, block_size=16, per_tensor_scale=pts).dequantize(torch.float32)"
              if two_level else
              "scale, qdata = nvfp4_quantize(x, block_size=16, per_tensor_scale=None)\n"
              "dq = NVFP4Tensor.to_nvfp4(x, block_size=16, per_tensor_scale=None).dequantize(torch.float32)")
        vf = VectorFile(out / "torchao" / name, {
            "library": "torchao 0.18.0, torchao.prototype.mx_formats.nvfp4_tensor",
            "versions": ver,
            "function": fn,
            "packing": "low-first",
            "scale": "e4m3 (float8_e4m3fn bytes as returned, row-major [R, C/16]; never negative here)",
            "group": "16",
            "t": ("per-tensor f32 decode scale pts (torchao's per_tensor_scale)" if two_level
                  else "- (single-level scaling)"),
            "dq": ("torchao dequantize: f32(code) * (pts * f32(e4m3 scale)) -- the scale product is "
                   "rounded to f32 first, then multiplied" if two_level else
                   "torchao dequantize: f32(code) * f32(e4m3 scale)"),
            "notes": common,
        })
        for case, x in inputs:
            try:
                xt = torch.from_numpy(x.copy())
                pts = per_tensor_amax_to_scale(torch.max(torch.abs(xt))) if two_level else None
                s, q = nvfp4_quantize(xt, block_size=16, per_tensor_scale=pts)
                nv = NVFP4Tensor.to_nvfp4(xt, block_size=16, per_tensor_scale=pts)
                assert torch.equal(nv.qdata.view(torch.uint8), q.view(torch.uint8))
                dq = nv.dequantize(torch.float32)
                vf.add(case, x.shape, x, torch_u8(q), u8hex(torch_u8(s)),
                       f32hex(torch_f32(pts).reshape(1)) if two_level else "-", torch_f32(dq))
            except Exception as e:  # noqa: BLE001
                vf.skip(case, f"{type(e).__name__}: {e}")
        vf.write()
    # MXFP4
    for mode in ("floor", "ceil", "even", "rceil"):
        vf = VectorFile(out / "torchao" / f"mxfp4_{mode}.txt", {
            "library": "torchao 0.18.0, torchao.prototype.mx_formats.mx_tensor",
            "versions": ver,
            "function": (f"scale, qdata = to_mx(x, torch.float4_e2m1fn_x2, 32, "
                         f"ScaleCalculationMode.{mode.upper()}, is_swizzled_scales=False)\n"
                         "dq = to_dtype(qdata, scale, torch.float4_e2m1fn_x2, 32, torch.float32)"),
            "packing": "low-first",
            "scale": "ue8m0 (float8_e8m0fnu bytes, biased exponent, row-major [R, C/32])",
            "group": "32",
            "t": "- (no per-tensor scale)",
            "dq": "torchao to_dtype: f32(code) * 2^(s-127) (s == 255 -> NaN)",
            "notes": common + (
                "\nRCEIL on CPU (eager) takes torchao's fallback path: "
                "exponent = clamp(ceil(torch.log2(amax/6)), -127, 127) + 127 (NaN -> 255, inf -> 254),"
                " data multiplied by 2^(127-exponent) (exponent 0 -> factor 1.0), not the "
                "bit-exact cvt.rp.satfinite.ue8m0x2.f32 path." if mode == "rceil" else ""),
        })
        sm = ScaleCalculationMode(mode)
        for case, x in inputs:
            try:
                xt = torch.from_numpy(x.copy())
                s, q = to_mx(xt, torch.float4_e2m1fn_x2, 32, sm, is_swizzled_scales=False)
                dq = to_dtype(q, s, torch.float4_e2m1fn_x2, 32, torch.float32)
                vf.add(case, x.shape, x, torch_u8(q), u8hex(torch_u8(s)), "-", torch_f32(dq))
            except Exception as e:  # noqa: BLE001
                vf.skip(case, f"{type(e).__name__}: {e}")
        vf.write()


# ----------------------------------------------------------------------------- modelopt
def run_modelopt(out: Path, inputs):
    import torch
    from modelopt.torch.quantization.qtensor.nvfp4_tensor import NVFP4QTensor

    vf = VectorFile(out / "modelopt" / "nvfp4.txt", {
        "library": "nvidia-modelopt 0.47.0, modelopt.torch.quantization.qtensor.nvfp4_tensor",
        "versions": versions("torch", "nvidia-modelopt", "numpy"),
        "function": ("qt, wsf, wsf2 = NVFP4QTensor.quantize(x, 16)  # dynamic path; "
                     "wsf2 = amax/(6*448), wsf = e4m3(clamp(amax16/(6*wsf2) (0 -> 1.0), 2^-9, 448))\n"
                     "q = qt._quantized_data\n"
                     "dq = qt.dequantize(dtype=torch.float32, scale=wsf, double_scale=wsf2, "
                     "block_sizes={-1: 16})"),
        "packing": "low-first",
        "scale": "e4m3 (float8_e4m3fn bytes of weights_scaling_factor, row-major [R, C/16])",
        "group": "16",
        "t": "per-tensor f32 decode scale weights_scaling_factor_2 (amax/2688)",
        "dq": "ModelOpt dequantize: e2m1_value(code) * (f32(e4m3 scale) * wsf2), product rounded first",
        "notes": "elements: true division x / (f32(wsf) * wsf2), then _cast_fp4 (searchsorted + "
                 "odd-bound fix-up = RNE, saturating). An all-zero tensor gives wsf2 = 0 and 0/0 = NaN "
                 "block scales (the '== 0 -> 1.0' fix-up does not catch NaN).",
    })
    for case, x in inputs:
        try:
            xt = torch.from_numpy(x.copy())
            qt, wsf, wsf2 = NVFP4QTensor.quantize(xt, 16)
            q = qt._quantized_data
            dq = qt.dequantize(dtype=torch.float32, scale=wsf, double_scale=wsf2, block_sizes={-1: 16})
            vf.add(case, x.shape, x, torch_u8(q), u8hex(torch_u8(wsf)),
                   f32hex(torch_f32(wsf2).reshape(1)), torch_f32(dq))
        except Exception as e:  # noqa: BLE001
            vf.skip(case, f"{type(e).__name__}: {e}")
    vf.write()


# ----------------------------------------------------------------------------- gguf
def run_gguf(out: Path, inputs):
    import gguf
    from gguf import GGMLQuantizationType as T
    from gguf.quants import dequantize, quantize

    ver = versions("gguf", "numpy")
    vf = VectorFile(out / "gguf" / "mxfp4.txt", {
        "library": "gguf 0.19.0 (gguf-py), gguf.quants.MXFP4",
        "versions": ver,
        "function": ("raw = gguf.quants.quantize(x, GGMLQuantizationType.MXFP4)  # uint8 [R, C/32*17]\n"
                     "dq = gguf.quants.dequantize(raw, GGMLQuantizationType.MXFP4)"),
        "packing": ("gguf-split: q holds the raw block_mxfp4 bytes exactly as gguf stores them, row-major: "
                    "per 32 values 17 bytes = e (UE8M0 byte) then qs[16], qs[j] = code(j) | code(j+16) << 4"),
        "scale": "ue8m0 bytes; s repeats the e byte of every block, row-major [R, C/32] (also inside q)",
        "group": "32",
        "t": "- (no per-tensor scale)",
        "dq": "gguf dequantize: kvalues_doubled[code] * 2^(e-128) (e < 2: f32 subnormal 2^(e-128); 255 not NaN)",
        "notes": "codes are indices into kvalues (0,1,2,3,4,6,8,12,0,-1,...,-12) = E2M1 doubled; argmin "
                 "of |d*kv - x| with the first index winning ties (towards zero; -small -> +0 index 0).",
    })
    for case, x in inputs:
        try:
            with np.errstate(all="ignore"):
                raw = quantize(x, T.MXFP4)
                dq = dequantize(raw, T.MXFP4)
            raw = np.asarray(raw, np.uint8)
            s = raw.reshape(x.shape[0], -1, 17)[:, :, 0]
            vf.add(case, x.shape, x, raw, u8hex(s), "-", np.asarray(dq, np.float32).reshape(x.shape))
        except Exception as e:  # noqa: BLE001
            vf.skip(case, f"{type(e).__name__}: {e}")
    vf.write()

    if not hasattr(gguf.quants, "NVFP4"):
        print("gguf has no NVFP4 class: nvfp4_dequant.txt not written")
        return
    vf = VectorFile(out / "gguf" / "nvfp4_dequant.txt", {
        "library": "gguf 0.19.0 (gguf-py), gguf.quants.NVFP4 (dequantize only; quantize is not implemented)",
        "versions": ver,
        "function": "dq = gguf.quants.dequantize(raw, GGMLQuantizationType.NVFP4)",
        "packing": ("gguf-split: q holds raw block_nvfp4 bytes, row-major: per 64 values 36 bytes = d[4] "
                    "(UE4M3 bytes for values 16i..16i+15) then qs[32]; sub-block i uses qs[8i..8i+8], "
                    "qs[8i+j] = code(16i+j) | code(16i+j+8) << 4"),
        "scale": "e4m3 (UE4M3 bytes d[], any byte value); s repeats them row-major [R, C/16] (also inside q)",
        "group": "16 (super-block 64)",
        "t": "- (gguf NVFP4 blocks carry no per-tensor scale)",
        "dq": "gguf dequantize: kvalues_doubled[code] * 0.5 * ue4m3(d) ; 0x00 and 0x7F decode to 0, "
              "bit 7 of d is ignored except that 0xFF is NOT mapped to 0",
        "notes": "x is '-' (input = raw random/edge bytes, no float input).",
    })
    rng = np.random.default_rng(SEED + 1)
    all_scale_bytes = np.arange(256, dtype=np.uint8)
    rng.shuffle(all_scale_bytes)
    edge_scales = np.array([0x00, 0x01, 0x07, 0x08, 0x38, 0x39, 0x7E, 0x7F, 0x80, 0x81, 0xB8, 0xFE, 0xFF, 0x77],
                           np.uint8)
    shapes = [(1, 64), (1, 128), (2, 64), (4, 128), (1, 256)]
    ncase = 0
    # every scale byte appears at least once (first 16 cases: 16 scale bytes each)
    for i in range(40):
        sh = shapes[i % len(shapes)]
        nb = sh[0] * sh[1] // 64
        blocks = rng.integers(0, 256, size=(nb, 36)).astype(np.uint8)
        if i < 16:
            pool = np.resize(all_scale_bytes[i * 16:(i + 1) * 16], nb * 4)
            blocks[:, :4] = pool.reshape(nb, 4)
        elif i < 24:
            blocks[:, :4] = rng.choice(edge_scales, size=(nb, 4))
        raw = blocks.reshape(sh[0], -1)
        dq = dequantize(raw, T.NVFP4)
        s = blocks[:, :4].reshape(sh[0], -1)
        vf.add(f"raw_{i}", sh, "-", raw, u8hex(s), "-", np.asarray(dq, np.float32).reshape(sh))
        ncase += 1
    vf.write()


# ----------------------------------------------------------------------------- bitsandbytes
def run_bitsandbytes(out: Path, inputs):
    import torch
    import bitsandbytes.functional as F

    vf = VectorFile(out / "bitsandbytes" / "nf4.txt", {
        "library": "bitsandbytes 0.50.2, bitsandbytes.functional (CPU)",
        "versions": versions("torch", "bitsandbytes", "numpy"),
        "function": ("q, st = bitsandbytes.functional.quantize_4bit(x, blocksize=64, "
                     "compress_statistics=False, quant_type='nf4')  # q: uint8 [R*C/2, 1]\n"
                     "dq = bitsandbytes.functional.dequantize_4bit(q, st)  # st.absmax f32 [R*C/64]"),
        "packing": "high-first (element 2i in the high nibble, 2i+1 in the low nibble)",
        "scale": "f32 words: per-block absmax (no double quant), row-major [R, C/64]",
        "group": "64 (over the flattened row-major tensor; C is a multiple of 64 here)",
        "t": "- (no per-tensor scale)",
        "dq": "bitsandbytes dequantize_4bit (CPU kernel): NF4[code] * absmax",
        "notes": ("quantize runs the 'default' torch backend (backends/default/ops.py): "
                  "scaled = clamp(x * (1/absmax.clamp(min=1e-38)), -1, 1); "
                  "code = torch.bucketize(scaled, midpoints) (right=False: a value exactly on a "
                  "midpoint goes to the lower index); midpoints = (NF4[i]+NF4[i+1])/2 in f32."),
    })
    for case, x in inputs:
        try:
            xt = torch.from_numpy(x.copy())
            q, st = F.quantize_4bit(xt, blocksize=64, compress_statistics=False, quant_type="nf4")
            dq = F.dequantize_4bit(q, st)
            vf.add(case, x.shape, x, torch_u8(q).reshape(-1), f32hex(torch_f32(st.absmax)), "-",
                   torch_f32(dq).reshape(x.shape))
        except Exception as e:  # noqa: BLE001
            vf.skip(case, f"{type(e).__name__}: {e}")
    vf.write()


# ----------------------------------------------------------------------------- fouroversix
def run_fouroversix(out: Path, inputs):
    import torch
    from fouroversix.quantize.frontend import dequantize, quantize_to_fp4
    from fouroversix.quantize.config import QuantizationConfig
    from fouroversix.quantize.dequantize_utils import from_blocked
    from fouroversix.utils import DataType, QuantizeBackend, ScaleRule

    ver = versions("torch", "fouroversix", "numpy")
    runs = [("nvfp4", r) for r in ("static_6", "static_4", "mse", "mae", "abs_max")]
    runs += [("if4", r) for r in ("mse", "mae", "abs_max")]
    runs += [("mxfp4", r) for r in ("static_6", "static_4")]
    runs += [("nvint4", "static_6")]
    for dtype_name, rule in runs:
        dt = DataType(dtype_name)
        g = dt.block_size
        swz = dtype_name not in ("if4", "nvint4")
        if dtype_name == "mxfp4":
            scale = "ue8m0 (float8_e8m0fnu bytes) row-major [R, C/32]"
        elif dtype_name == "if4":
            scale = ("e4m3 bytes row-major [R, C/16]; bit 7 set = block uses the INT4 grid "
                     "(value = int4 code * 6/7), clear = E2M1 grid")
        else:
            scale = "e4m3 (float8_e4m3fn bytes) row-major [R, C/16]"
        if dtype_name in ("if4", "nvint4"):
            packing = "low-first; codes are two's-complement INT4 (nvint4, and IF4 blocks with bit 7 of s set) or E2M1"
        else:
            packing = "low-first"
        vmax = dt.quantized_value_type.get_maximum_value(ScaleRule(rule))
        smax = dt.scale_type.get_maximum_value(ScaleRule(rule))
        vf = VectorFile(out / "fouroversix" / f"{dtype_name}_{rule}.txt", {
            "library": "fouroversix 1.0.5 (PyTorch reference backend, fouroversix/quantize/pytorch/reference.py)",
            "versions": ver,
            "function": (f"qt = fouroversix.quantize_to_fp4(x, QuantizationConfig(dtype=DataType.{dtype_name}, "
                         f"scale_rule=ScaleRule.{rule}, backend=QuantizeBackend.pytorch))\n"
                         "dq = fouroversix.quantize.frontend.dequantize(qt, torch.float32, "
                         "backend=QuantizeBackend.pytorch)  # default intermediate_dtype=torch.float16"),
            "packing": packing,
            "scale": scale + (
                ". UN-SWIZZLED: fouroversix returns scale_factors in the 128x4 Blackwell layout of the "
                "padded tensor; s = from_blocked(scale_factors, (Rpad, Cpad/g))[:R, :C/g]" if swz else
                ". fouroversix returns these row-major (flattened, padded); s = cropped to [R, C/g]"),
            "group": str(g),
            "t": "- (see amax=)",
            "amax": ("extra field amax=<f32 hex>: QuantizedTensor.amax = max|x| (mxfp4: constant 1.0, unused). "
                     + ("decode scale = amax/(%s*%s)" % (vmax, smax) if smax else "")),
            "dq": ("fouroversix dequantize: (f16(value) * f16(scale)) in float16, then "
                   "f32 * amax / (Vmax*Smax) -- note the float16 intermediate"),
            "notes": ("input is padded with zeros to rows%128 == 0 and cols%64 == 0 by the backend; "
                      "q, s are cropped back to the unpadded [R, C/2], [R, C/g]. Elements: "
                      "fake_quantize_to_e2m1 = piecewise torch.round (half to even) with steps 0.5/1/2, "
                      "codes from the bf16 bits of the rounded value."),
        })
        for case, x in inputs:
            try:
                xt = torch.from_numpy(x.copy())
                cfg = QuantizationConfig(dtype=dt, scale_rule=ScaleRule(rule),
                                         backend=QuantizeBackend.pytorch)
                qt = quantize_to_fp4(xt, cfg)
                R, C = x.shape
                Rp, Cp = qt.padded_shape
                vals = torch_u8(qt.values).reshape(Rp, Cp // 2)[:R, : C // 2]
                sf = qt.scale_factors
                if qt.scale_factors_are_in_blackwell_layout:
                    sf = from_blocked(sf.contiguous().view(torch.uint8).flatten(), (Rp, Cp // g))
                s = torch_u8(sf).reshape(Rp, Cp // g)[:R, : C // g]
                dq = dequantize(qt, torch.float32, backend=QuantizeBackend.pytorch)
                vf.add(case, x.shape, x, vals, u8hex(s), "-", torch_f32(dq).reshape(R, C),
                       amax=f32hex(torch_f32(qt.amax).reshape(-1)[:1]))
            except Exception as e:  # noqa: BLE001
                vf.skip(case, f"{type(e).__name__}: {e}")
        vf.write()


# ----------------------------------------------------------------------------- ml_dtypes
def ml_dtypes_patterns(element: str) -> list[tuple[str, np.ndarray]]:
    """f32 inputs for one element format, grouped by category."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ml_dtypes_convert import decode

    rng = np.random.default_rng(SEED + sum(map(ord, element)))
    nbits = {"e2m1": 4, "e2m3": 6, "e3m2": 6}.get(element, 8)
    codes = np.arange(1 << nbits, dtype=np.uint8)
    vals = decode(codes, element)
    fin = np.unique(vals[np.isfinite(vals)].astype(np.float32))
    pos = fin[fin >= 0]
    cats: list[tuple[str, np.ndarray]] = []
    up = lambda a: np.nextafter(a.astype(np.float32), np.float32(np.inf))  # noqa: E731
    dn = lambda a: np.nextafter(a.astype(np.float32), np.float32(-np.inf))  # noqa: E731
    # all representable values, both signs, and +-1 ulp
    cats.append(("grid", np.concatenate([fin, -fin, up(fin), dn(fin)])))
    # midpoints between neighbours (ties), +-1 ulp, both signs
    mids = ((pos[:-1].astype(np.float64) + pos[1:].astype(np.float64)) / 2).astype(np.float32)
    assert np.all(mids.astype(np.float64) == (pos[:-1].astype(np.float64) + pos[1:]) / 2)
    cats.append(("ties", np.concatenate([mids, -mids, up(mids), dn(mids), -up(mids), -dn(mids)])))
    # overflow region
    mx = pos.max()
    if element == "ue8m0":
        big = np.array([mx, 2 * np.float64(mx) if mx < 2 ** 127 else 3e38, 1.5 * 2.0 ** 127, FLT_MAX], np.float32)
    else:
        half_ulp = (mx - pos[-2]) / 2
        big = np.array([mx, mx + half_ulp, mx + 2 * half_ulp, 2 * mx, 4 * mx, 1e10, FLT_MAX], np.float32)
        big = np.concatenate([big, up(big), dn(big)])
    cats.append(("overflow", np.concatenate([big, -big])))
    # specials
    sp = np.array([0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001,
                   0xFF800001, 0x7FFFFFFF, 0xFFFFFFFF, 0x7FA00000, 0x00000001, 0x80000001, 0x007FFFFF,
                   0x807FFFFF, 0x00800000, 0x80800000], np.uint32).view(np.float32)
    cats.append(("special", sp))
    # below the smallest subnormal / underflow region
    mn = pos[pos > 0].min()
    small = np.array([mn, mn / 2, mn / 4, mn * 0.75, mn * 1.5, mn / 2 * 1.0000001], np.float32)
    small = np.concatenate([small, up(small), dn(small)])
    cats.append(("underflow", np.concatenate([small, -small])))
    # f32 subnormals and tiny normals
    cats.append(("f32_subnormal", (rng.integers(1, 1 << 23, size=64).astype(np.uint32)
                                   | (rng.integers(0, 2, size=64).astype(np.uint32) << 31)).view(np.float32)))
    # random values within (and a bit beyond) the format range, log-uniform magnitudes
    lo = np.log2(float(mn)) - 2
    hi = np.log2(float(mx)) + 1
    mags = np.exp2(rng.uniform(lo, hi, size=1024)).astype(np.float32)
    cats.append(("random_range", mags * (1 - 2 * rng.integers(0, 2, size=1024)).astype(np.float32)))
    # random bit patterns (any f32, including NaN payloads)
    cats.append(("random_bits", rng.integers(0, 1 << 32, size=1024, dtype=np.uint64).astype(np.uint32).view(np.float32)))
    if element == "ue8m0":
        ks = np.arange(-127, 128)
        p2 = np.exp2(ks.astype(np.float64))
        t15 = (1.5 * p2).astype(np.float32)
        cats.append(("e8m0_pow2", np.concatenate([p2.astype(np.float32), up(p2.astype(np.float32)),
                                                  dn(p2.astype(np.float32))])))
        cats.append(("e8m0_1p5", np.concatenate([t15, up(t15), dn(t15),
                                                 (np.sqrt(2) * p2).astype(np.float32)])))
    return cats


def run_ml_dtypes(out: Path):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ml_dtypes_convert import ELEMENTS, decode, encode

    for element, dt in ELEMENTS.items():
        vf = VectorFile(out / "ml_dtypes" / f"convert_{element}.txt", {
            "library": f"ml_dtypes 0.6.0 ({dt.__name__})",
            "versions": versions("ml_dtypes", "numpy"),
            "function": (f"q = np.asarray(x, np.float32).astype(ml_dtypes.{dt.__name__}).view(np.uint8)\n"
                         f"dq = q.view(ml_dtypes.{dt.__name__}).astype(np.float32)   "
                         "(= scripts/peers/ml_dtypes_convert.py)"),
            "packing": "byte (one code per byte, not packed; sub-byte codes in the low bits)",
            "scale": "- (no scale)",
            "group": "1 (scalar conversion; 64 values per line)",
            "t": "-",
            "dq": "ml_dtypes' decode of the code q (NaN stays NaN; payload as ml_dtypes gives it)",
            "notes": "lines are chunks of one input category (case=<category>_<n>)",
        })
        for cat, xs in ml_dtypes_patterns(element):
            xs = np.asarray(xs, np.float32)
            for n, i in enumerate(range(0, len(xs), 64)):
                chunk = xs[i:i + 64]
                q = encode(chunk, element)
                dq = decode(q, element)
                vf.add(f"{cat}_{n}", (1, len(chunk)), chunk, q, "-", "-", dq)
        vf.write()


# ----------------------------------------------------------------------------- main
def write_manifest(out: Path):
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "MANIFEST")
    with open(out / "MANIFEST", "w", newline="\n") as f:
        f.write("# sha256 of every file under vectors/peers except this one (tests/peers.rs checks that every file is listed and every hash matches; regenerate with scripts/peers/make_peer_vectors.py)\n")
        for p in files:
            f.write(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(out).as_posix()}\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--only", default="ml_dtypes,torchao,modelopt,gguf,bitsandbytes,fouroversix")
    a = ap.parse_args(argv)
    libs = a.only.split(",")
    inputs = build_inputs()
    print(f"{len(inputs)} input tensors, {sum(x.size for _, x in inputs)} values")
    if "ml_dtypes" in libs:
        run_ml_dtypes(a.out)
    if "torchao" in libs:
        run_torchao(a.out, inputs)
    if "modelopt" in libs:
        run_modelopt(a.out, inputs)
    if "gguf" in libs:
        run_gguf(a.out, inputs)
    if "bitsandbytes" in libs:
        run_bitsandbytes(a.out, inputs)
    if "fouroversix" in libs:
        run_fouroversix(a.out, inputs)
    write_manifest(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
