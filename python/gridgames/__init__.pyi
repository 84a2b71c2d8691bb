from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import testing as testing

__version__: str
CLASSES: Tuple[str, ...]

def formats() -> List[str]: ...
def profiles(format: str) -> List[str]: ...
def profile_evidence(profile: str) -> str: ...
def format_info(format: str) -> Dict[str, Any]: ...
def grid(format: str, index: int = 0) -> np.ndarray: ...

class Quantized:
    codes: np.ndarray
    scales: np.ndarray
    tensor_scale: Optional[float]
    grids: np.ndarray
    format: str
    profile: str
    shape: Tuple[int, ...]
    def dequantize(self, dtype: str = "float32") -> np.ndarray: ...

def quantize(
    x: Any,
    format: str,
    profile: str = "reference",
    *,
    tensor_scale: Union[str, float] = "auto",
    threads: Optional[int] = None,
) -> Quantized: ...
def dequantize(
    q_or_codes: Any,
    scales: Any = None,
    format: Optional[str] = None,
    *,
    tensor_scale: Optional[float] = None,
    shape: Optional[Sequence[int]] = None,
    dtype: str = "float32",
    threads: Optional[int] = None,
    out: Optional[np.ndarray] = None,
) -> np.ndarray: ...

class Mismatch:
    cls: str
    case: str
    group: Optional[int]
    element: Optional[int]
    detail: str

class Report:
    cases: int
    groups: int
    elements: int
    mismatches: List[Mismatch]
    allow: Tuple[str, ...]
    coverage: Dict[str, Any]
    notes: List[str]
    by_profile: Dict[str, Any]
    @property
    def ok(self) -> bool: ...
    @property
    def counts(self) -> Dict[str, int]: ...
    @property
    def examples(self) -> List[Mismatch]: ...
    def __bool__(self) -> bool: ...

def verify(
    x: Any,
    codes: Any,
    scales: Any,
    format: str,
    profile: str = "reference",
    *,
    tensor_scale: Optional[float] = None,
    grids: Any = None,
    allow: Sequence[str] = (),
    name: str = "x",
    scale_layout: str = "linear",
) -> Report: ...
SCALE_LAYOUTS: Tuple[str, ...]
def swizzle_scales(scales: np.ndarray, layout: str = "128x4") -> np.ndarray: ...
def unswizzle_scales(flat: np.ndarray, rows: int, groups: int, layout: str = "128x4") -> np.ndarray: ...
def convert(x: Any, to: str, policy: str = "satfinite") -> np.ndarray: ...
def gemm(
    instr: Optional[str],
    a: Any,
    b: Any,
    c: Any = None,
    *,
    recipe: str = "chain",
    ab_format: Optional[str] = None,
    scale_a: Optional[float] = None,
    scale_b: Optional[float] = None,
    out: str = "float32",
    threads: Optional[int] = None,
) -> np.ndarray: ...
def mma(instr: str, a: Any, b: Any, c: Any = None, scales_a: Any = None, scales_b: Any = None) -> np.ndarray: ...
