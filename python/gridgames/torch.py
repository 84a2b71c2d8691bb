"""PyTorch helpers: quantize a tensor and get torch tensors back, typed as PyTorch's own
low-precision dtypes where they exist (as safetensors' Python bindings return them).

A CPU tensor is read without a copy (float32; float16 and bfloat16 are widened exactly); a
CUDA tensor is copied to the host first, and the results are returned on the input's device.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np
import torch

from . import format_info, quantize as _quantize

__all__ = ["quantize"]

_SCALE_DTYPES = {"ue4m3": "float8_e4m3fn", "ue8m0": "float8_e8m0fnu"}


def quantize(x: torch.Tensor, format: str, profile: str = "reference", **kw: Any) -> Tuple[torch.Tensor, torch.Tensor, Optional[float]]:
    """(codes, scales, tensor_scale) as torch tensors on ``x``'s device.

    codes: ``torch.float4_e2m1fn_x2`` for E2M1-grid formats in PyTorch's nibble order (else
    uint8), shape ``(..., K // 2)``; scales: ``float8_e4m3fn`` (UE4M3 scales; the sign bit
    carries a selector for multi-grid formats) or ``float8_e8m0fnu`` where PyTorch has the
    dtype (else uint8), float32 for 4-byte scales.
    """
    q = _quantize(x, format, profile, **kw)
    info = format_info(format)
    codes = torch.from_numpy(np.ascontiguousarray(q.codes))
    fp4 = getattr(torch, "float4_e2m1fn_x2", None)
    if fp4 is not None and info["grids"] == ["e2m1"] and not info["high_nibble_first"]:
        codes = codes.view(fp4)
    scales = torch.from_numpy(np.ascontiguousarray(q.scales))
    name = _SCALE_DTYPES.get(info["scale_element"])
    if name and getattr(torch, name, None) is not None and info["scale_bytes"] == 1:
        scales = scales.view(getattr(torch, name))
    return codes.to(x.device), scales.to(x.device), q.tensor_scale
