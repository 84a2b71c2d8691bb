"""gridgames: the bit-exact reference for microscaled 4-bit formats, from Python.

NVFP4, MXFP4, NF4 and the multi-grid formats of "Grid Games" (arXiv 2605.12327), IF4, Four
Over Six and MixFP4: exact quantize and decode with the profiles that reproduce public
libraries, and a verifier that explains every mismatch by class.

Arrays go in and out as NumPy arrays (CPU torch tensors are accepted too, see
``gridgames.torch``). The work runs in Rust with the GIL released, on all cores by default.
Errors are ``ValueError`` (bad values, shapes, names) or ``TypeError`` (bad dtypes), with the
same messages as the ``gridgames`` command line.

>>> import numpy as np, gridgames
>>> x = np.random.default_rng(0).standard_normal((4, 64), dtype=np.float32)
>>> q = gridgames.quantize(x, "nvfp4")
>>> q.codes.shape, q.scales.shape
((4, 32), (4, 4))
>>> y = gridgames.dequantize(q)
>>> gridgames.verify(x, q.codes, q.scales, "nvfp4", tensor_scale=q.tensor_scale).ok
True
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _native

__all__ = [
    "__version__",
    "formats",
    "profiles",
    "profile_evidence",
    "format_info",
    "grid",
    "Quantized",
    "quantize",
    "dequantize",
    "Mismatch",
    "Report",
    "verify",
    "convert",
    "gemm",
    "mma",
    "swizzle_scales",
    "unswizzle_scales",
    "SCALE_LAYOUTS",
    "CLASSES",
]

__version__: str = _native.version()

#: Every mismatch class the verifier reports, in report order (see ``vectors/README.md``),
#: from the library itself, so the two cannot drift apart.
CLASSES: Tuple[str, ...] = tuple(_native.classes())


def formats() -> List[str]:
    """Names of the built-in formats (any function also takes a path to a spec ``.yaml``)."""
    return list(_native.formats())


def profiles(format: str) -> List[str]:
    """Names of the quantizer profiles that apply to ``format`` (``reference`` first)."""
    return list(_native.profiles(format))


def profile_evidence(profile: str) -> str:
    """What ``profile`` is checked against (a library's own outputs, or only a formula)."""
    return _native.profile_evidence(profile)


def format_info(format: str) -> Dict[str, Any]:
    """Layout facts of ``format``: group_size, grids, scale_element, scale_bytes,
    tensor_scale, high_nibble_first, selector_free, provenance, spec_file."""
    return dict(_native.format_info(format))


def grid(format: str, index: int = 0) -> np.ndarray:
    """The 16 exact values of grid ``index`` of ``format`` (float64, code 0 first)."""
    return np.asarray(_native.grid(format, int(index)), dtype=np.float64)


# ---- inputs -----------------------------------------------------------------------------


def _is_torch(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def _torch_to_numpy(x: Any, what: str) -> np.ndarray:
    """A CPU view of a torch tensor (a CUDA tensor is copied to the host first)."""
    import torch

    t = x.detach()
    if t.device.type != "cpu":
        t = t.to("cpu")
    if not t.is_contiguous():
        raise ValueError(
            f"{what}: tensor is not contiguous (strides {tuple(t.stride())}); "
            "call .contiguous() first (gridgames does not copy behind your back)"
        )
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(np.uint16).view(_BF16_MARK)
    float8_or_4 = [
        getattr(torch, n, None)
        for n in ("float8_e4m3fn", "float8_e8m0fnu", "float8_e5m2", "float4_e2m1fn_x2")
    ]
    if t.dtype in [d for d in float8_or_4 if d is not None]:
        return t.view(torch.uint8).numpy()
    return t.numpy()


class _Bf16Mark(np.ndarray):
    """Marks a uint16 array that holds bfloat16 bit patterns (from torch or ml_dtypes)."""


_BF16_MARK = _Bf16Mark


def _as_array(x: Any, what: str) -> np.ndarray:
    if _is_torch(x):
        return _torch_to_numpy(x, what)
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{what}: expected a numpy.ndarray or a torch.Tensor, got {type(x).__name__}")
    if not x.flags.c_contiguous:
        raise ValueError(
            f"{what}: array is not C-contiguous (strides {x.strides}); "
            "use numpy.ascontiguousarray first (gridgames does not copy behind your back)"
        )
    return x


def _as_f32(x: Any, what: str = "x") -> np.ndarray:
    """float32 values of ``x``: float32 as it is, float16 and bfloat16 widened exactly."""
    a = _as_array(x, what)
    if isinstance(a, _Bf16Mark) or a.dtype.name == "bfloat16":
        bits = np.asarray(a).view(np.uint16).astype(np.uint32) << 16
        return bits.view(np.float32)
    if a.dtype == np.float32:
        return np.asarray(a)
    if a.dtype == np.float16:
        return a.astype(np.float32)
    raise TypeError(
        f"{what}: dtype {a.dtype} is not float32, float16 or bfloat16"
        + ("; round it to float32 yourself (the rounding is part of your kernel)" if a.dtype == np.float64 else "")
    )


def _as_u8(x: Any, what: str) -> np.ndarray:
    a = _as_array(x, what)
    if a.dtype == np.uint8:
        return np.asarray(a)
    if a.dtype == np.int8:
        return a.view(np.uint8)
    raise TypeError(
        f"{what}: dtype {a.dtype}; expected uint8 bytes (view packed FP4 or FP8 data as uint8)"
    )


def _as_scales(x: Any, fmt: Dict[str, Any], what: str = "scales") -> np.ndarray:
    a = _as_array(x, what)
    if fmt["scale_bytes"] == 4:
        if a.dtype == np.float32:
            return np.asarray(a).view(np.uint8)
        if a.dtype == np.uint8:
            return np.asarray(a)
        raise TypeError(f"{what}: format {fmt['name']} stores float32 scales; got dtype {a.dtype}")
    if a.dtype in (np.float32, np.float64, np.float16):
        raise TypeError(
            f"{what}: dtype {a.dtype}, but format {fmt['name']} stores one {fmt['scale_element']} "
            "byte per group: pass the stored bytes (uint8, or a float8 tensor viewed as uint8)"
        )
    return _as_u8(a, what)


def _group_size(fmt: Dict[str, Any], shape: Tuple[int, ...], what: str) -> int:
    g = fmt["group_size"]
    if len(shape) == 0 or shape[-1] == 0:
        raise ValueError(f"{what}: shape {shape}: need at least one dimension and one value")
    if shape[-1] % g:
        raise ValueError(
            f"{what}: last dimension {shape[-1]} is not a multiple of the group size {g} of "
            f"format {fmt['name']} (groups run along the last dimension; pad each row yourself)"
        )
    return g


# ---- quantize / dequantize --------------------------------------------------------------


class Quantized:
    """A quantized tensor: packed codes, stored scales, the tensor scale.

    Attributes:
        codes: uint8, shape ``(..., K // 2)``, in the format's nibble order.
        scales: uint8, shape ``(..., K // group)`` (float32 for 4-byte-scale formats such as
            ``nf4-bnb``), selector bits included.
        tensor_scale: the per-tensor decode scale (float), or None for formats without one.
        grids: uint8, shape ``(..., K // group)``: the grid each group chose.
        format: the format as given to :func:`quantize` (a name or a spec path);
        profile: its name. shape: the original shape.
    """

    def __init__(self, codes, scales, tensor_scale, grids, format, profile, shape):
        self.codes: np.ndarray = codes
        self.scales: np.ndarray = scales
        self.tensor_scale: Optional[float] = tensor_scale
        self.grids: np.ndarray = grids
        self.format: str = format
        self.profile: str = profile
        self.shape: Tuple[int, ...] = tuple(shape)

    def dequantize(self, dtype: str = "float32") -> np.ndarray:
        """Decode back (see :func:`dequantize`)."""
        return dequantize(self, dtype=dtype)

    def __repr__(self) -> str:
        return (
            f"Quantized(format={self.format!r}, profile={self.profile!r}, shape={self.shape}, "
            f"tensor_scale={self.tensor_scale!r})"
        )


def quantize(
    x: Any,
    format: str,
    profile: str = "reference",
    *,
    tensor_scale: Union[str, float] = "auto",
    threads: Optional[int] = None,
) -> Quantized:
    """Quantize ``x`` exactly as ``profile`` does.

    Args:
        x: numpy array or CPU torch tensor, float32 / float16 / bfloat16, C-contiguous; the
            last dimension a multiple of the format's group size (groups run along it).
        format: a built-in format name (:func:`formats`) or a spec ``.yaml`` path.
        profile: ``reference`` (the specification) or a library profile (:func:`profiles`).
        tensor_scale: ``"auto"``: the profile's own per-tensor rule; a float: use this
            decode-direction tensor scale (as a kernel given an external scale does).
        threads: worker threads (default: all cores). Results never depend on it.

    Returns:
        :class:`Quantized`. Raises ValueError for NaN/Inf under a profile without a rule for
        them, a shape that does not group, or an unknown name.
    """
    fmt = format_info(format)
    x32 = _as_f32(x)
    g = _group_size(fmt, x32.shape, "x")
    ts = None
    if isinstance(tensor_scale, str):
        if tensor_scale != "auto":
            raise ValueError(f"tensor_scale={tensor_scale!r}: expected 'auto' or a number")
    else:
        ts = float(tensor_scale)
    codes, scales, t, grids = _native.quantize(x32.reshape(-1), format, profile, ts, threads)
    lead = x32.shape[:-1]
    k = x32.shape[-1]
    codes = codes.reshape(lead + (k // 2,))
    if fmt["scale_bytes"] == 4:
        scales = scales.view(np.float32).reshape(lead + (k // g,))
    else:
        scales = scales.reshape(lead + (k // g,))
    # `format` as given (a built-in name or a spec path), so dequantize(q) finds it again.
    return Quantized(codes, scales, t, grids.reshape(lead + (k // g,)), format, profile, x32.shape)


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
) -> np.ndarray:
    """Decode exactly: ``grid[selector][code] × scale × tensor_scale``, rounded once (RNE).

    Call as ``dequantize(q)`` with a :class:`Quantized`, or as
    ``dequantize(codes, scales, format, tensor_scale=..., shape=...)`` with stored bytes
    (codes uint8 ``(..., K // 2)``; scales uint8, or float32 for 4-byte-scale formats).

    ``dtype``: ``"float32"`` or ``"float16"`` (numpy arrays of that type), or ``"bfloat16"``
    (an ``ml_dtypes.bfloat16`` array when ml_dtypes is installed, else uint16 bit patterns).
    A format with a tensor scale needs ``tensor_scale``; an invalid selector or code raises
    ValueError naming the element. ``out``: a C-contiguous float32 array of ``shape`` to write
    into (dtype float32 only), as NumPy's ``out=``: no allocation, returned.
    """
    if isinstance(q_or_codes, Quantized):
        q = q_or_codes
        codes, scales, format = q.codes, q.scales, q.format
        tensor_scale, shape = q.tensor_scale, q.shape
    elif scales is None or format is None:
        raise TypeError("dequantize(codes, scales, format, ...) needs scales and format")
    else:
        codes = q_or_codes
    fmt = format_info(format)
    c = _as_u8(codes, "codes")
    s = _as_scales(scales, fmt)
    if shape is None:
        shape = tuple(c.shape[:-1]) + (c.shape[-1] * 2,)
    shape = tuple(int(d) for d in shape)
    n = int(np.prod(shape)) if shape else 0
    _group_size(fmt, shape, "shape")
    if c.size * 2 != n:
        raise ValueError(f"codes: {c.size} bytes hold {c.size * 2} values, shape {shape} has {n}")
    want_scales = n // fmt["group_size"] * fmt["scale_bytes"]
    if s.size != want_scales:
        raise ValueError(
            f"scales: {s.size} bytes, expected {want_scales} ({n // fmt['group_size']} groups "
            f"× {fmt['scale_bytes']} byte(s)); trim any padding of a swizzled layout first"
        )
    if fmt["tensor_scale"]:
        if tensor_scale is None:
            raise ValueError(f"format {fmt['name']} has a tensor scale: pass tensor_scale=")
        ts = float(tensor_scale)
    else:
        ts = 1.0 if tensor_scale is None else float(tensor_scale)
    if out is not None:
        if dtype != "float32" or not isinstance(out, np.ndarray) or out.dtype != np.float32:
            raise TypeError("out: must be a float32 numpy array (dtype='float32')")
        if tuple(out.shape) != shape or not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError(f"out: needs a writeable C-contiguous array of shape {shape}, got {out.shape}")
        _native.dequantize_into(c.reshape(-1), s.reshape(-1), format, ts, out.reshape(-1), threads)
        return out
    out = _native.dequantize(c.reshape(-1), s.reshape(-1), format, ts, n, dtype, threads)
    out = out.reshape(shape)
    if dtype == "float16":
        return out.view(np.float16)
    if dtype == "bfloat16":
        try:
            import ml_dtypes

            return out.view(ml_dtypes.bfloat16)
        except ImportError:
            return out
    return out


# ---- scale layouts ----------------------------------------------------------------------

#: Scale layouts :func:`verify` and :func:`dequantize` read (``scale_layout=``), defined once in
#: the Rust library (``src/layout.rs``, with the index formula and the libraries' sources):
#: ``linear``: row-major ``(rows, groups)``; ``128x4``: the blocked layout of cuBLAS
#: block-scaled GEMMs, TransformerEngine and ModelOpt on Blackwell (torchao
#: ``mx_formats.utils.to_blocked``): rows padded to 128 and groups to 4 with zeros, 128×4 tiles
#: in row-major tile order, inside a tile byte ``(r % 32)·16 + (r // 32)·4 + c``; ``8x4``:
#: FlashInfer's ``SWIZZLED_8x4``: rows padded to 8 and groups to 4, 8×4 tiles in row-major
#: tile order, inside a tile byte ``r·4 + c``.
SCALE_LAYOUTS = ("linear", "128x4", "8x4")


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def swizzle_scales(scales: np.ndarray, layout: str = "128x4") -> np.ndarray:
    """Row-major ``(rows, groups)`` scale bytes → the flat bytes of ``layout`` (zero padded)."""
    s = np.ascontiguousarray(scales, dtype=np.uint8)
    if s.ndim != 2:
        raise ValueError(f"scales: shape {s.shape}, expected (rows, groups)")
    rows, groups = s.shape
    return _native.swizzle_scales(layout, s.reshape(-1), rows, groups)


def unswizzle_scales(flat: np.ndarray, rows: int, groups: int, layout: str = "128x4") -> np.ndarray:
    """The inverse of :func:`swizzle_scales`: ``layout`` bytes → row-major ``(rows, groups)``."""
    f = np.ascontiguousarray(flat, dtype=np.uint8).reshape(-1)
    return _native.unswizzle_scales(layout, f, rows, groups).reshape(rows, groups)


# ---- verify -----------------------------------------------------------------------------


class Mismatch:
    """One classified difference: ``cls`` (a name from :data:`CLASSES`), ``case``, ``group``
    and ``element`` (flat indices, or None), and a ``detail`` sentence."""

    __slots__ = ("cls", "case", "group", "element", "detail")

    def __init__(self, cls, case, group, element, detail):
        self.cls, self.case, self.group, self.element, self.detail = cls, case, group, element, detail

    def __repr__(self) -> str:
        at = f" group {self.group}" if self.group is not None else ""
        at += f" element {self.element}" if self.element is not None else ""
        return f"<{self.cls} case {self.case}{at}: {self.detail}>"


class Report:
    """A verification report.

    Attributes:
        ok: True when nothing differs in a class that is not allowed.
        counts: dict, mismatch class -> count.
        mismatches: every :class:`Mismatch`.
        examples: the first few mismatches of each class.
        cases, groups, elements: what was checked.
        coverage: for reports of :func:`gridgames.testing.check_quantizer`, the golden rules
            exercised (rule -> cases) and what was not run.
    ``str(report)`` is the readable report the CLI prints.
    """

    def __init__(self, cases=0, groups=0, elements=0, mismatches=(), text="", allow=()):
        self.cases = cases
        self.groups = groups
        self.elements = elements
        self.mismatches: List[Mismatch] = list(mismatches)
        self.allow = tuple(allow)
        self._text = text
        self.coverage: Dict[str, Any] = {}
        self.header = ""
        self.notes: List[str] = []
        self.by_profile: Dict[str, Any] = {}
        #: Profiles whose output on the checked input is byte-identical to the checked one's.
        self.indistinguishable: List[str] = []
        #: What the checked input exercised (exact ties, near ties, saturated elements, zero
        #: groups, subnormal block scales, non-finite cases): counts.
        self.exercised: Dict[str, int] = {k: 0 for k in _EXERCISED}

    @property
    def counts(self) -> Dict[str, int]:
        c: Dict[str, int] = {}
        for m in self.mismatches:
            c[m.cls] = c.get(m.cls, 0) + 1
        return c

    @property
    def ok(self) -> bool:
        return all(m.cls in self.allow for m in self.mismatches)

    @property
    def examples(self) -> List[Mismatch]:
        seen: Dict[str, int] = {}
        out = []
        for m in self.mismatches:
            if seen.get(m.cls, 0) < 5:
                out.append(m)
                seen[m.cls] = seen.get(m.cls, 0) + 1
        return out

    def merge(self, other: "Report") -> None:
        self.cases += other.cases
        self.groups += other.groups
        self.elements += other.elements
        self.mismatches.extend(other.mismatches)
        for k, v in other.exercised.items():
            self.exercised[k] = self.exercised.get(k, 0) + v
        self._text = ""

    def warnings(self) -> List[str]:
        """One line per kind the input never exercised (a difference there cannot show), and
        one naming the profiles whose output on this input is byte-identical to the one checked."""
        w = [w for k, w in _UNSEEN.items() if self.groups and not self.exercised.get(k)]
        if self.indistinguishable:
            w.append(f"on this input, profile(s) {', '.join(self.indistinguishable)} give the same bytes "
                     "as the profile checked: a kernel following them would pass too (use inputs that "
                     "separate them, e.g. gridgames.testing.cases)")
        return w

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        lines = [self.header] if self.header else []
        lines.append(f"checked {self.cases} cases, {self.groups} groups, {self.elements} elements")
        if self.groups:
            lines.append("exercised: " + ", ".join(f"{v} {k}" for k, v in self.exercised.items()))
            lines += [f"warning: {w}" for w in self.warnings()]
        counts = self.counts
        if not counts:
            lines.append("no mismatches")
        for cls in CLASSES:
            if cls not in counts:
                continue
            tag = " (allowed)" if cls in self.allow else ""
            lines.append(f"{cls:<15} {counts[cls]} mismatch(es){tag}")
            for m in [m for m in self.mismatches if m.cls == cls][:5]:
                at = f"case {m.case}"
                at += f" group {m.group}" if m.group is not None else ""
                at += f" element {m.element}" if m.element is not None else ""
                lines.append(f"    {at}: {m.detail}")
        for key, value in self.coverage.items():
            lines.append(f"coverage {key}: {value}")
        for note in self.notes:
            lines.append(f"note: {note}")
        lines.append("OK" if self.ok else "FAIL")
        return "\n".join(lines)

    __repr__ = __str__


_EXERCISED = ("exact ties", "near ties", "saturated elements", "zero groups",
              "subnormal block scales", "non-finite cases")
_UNSEEN = {
    "exact ties": "no exact tie was exercised: a different tie rule would pass unseen",
    "near ties": "no near tie (within 2^-20) was exercised: x*(1/s) instead of x/s, or rounding through bf16, would pass unseen",
    "saturated elements": "no saturated element was exercised: a missing clamp would pass unseen",
    "zero groups": "no all-zero group was exercised: zero-block scale rules would pass unseen",
    "subnormal block scales": "no subnormal block scale was exercised: scale underflow handling would pass unseen",
}


def _report(t, allow=()) -> Report:
    cases, groups, elements, mismatches, text, exercised, indistinguishable = t
    r = Report(cases, groups, elements, [Mismatch(*m) for m in mismatches], text, allow)
    r.exercised = dict(zip(_EXERCISED, exercised))
    r.indistinguishable = list(indistinguishable)
    return r


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
) -> Report:
    """Check an implementation's quantized output of ``x`` against ``profile``.

    ``codes``: packed uint8 ``(..., K // 2)`` (a torch ``float4_e2m1fn_x2`` tensor is read
    as its bytes); ``scales``: the stored scale bytes ``(..., K // group)`` (uint8 or a
    float8 tensor; float32 for 4-byte-scale formats), in row-major order, without swizzle
    or padding; ``tensor_scale``: the implementation's tensor scale (formats with one). When
    it differs from the profile's, the report says so (class ``tensor-scale``) and every group
    is still checked under the implementation's own tensor scale. ``grids``: the grid of each
    group, only for selector-free formats (Four Over Six). ``allow``: classes that do not
    make ``ok`` false (they are still reported). ``scale_layout``: how ``scales`` are laid out
    (:data:`SCALE_LAYOUTS`; a 2-D ``x`` gives the rows); scales that look written in another
    layout (swizzled, or transposed) are one ``scale-layout`` mismatch, and the groups are
    checked on the scales read in that layout. ``profile="auto"``: verify against every profile of the format; the
    report's ``by_profile`` maps each profile to its mismatch count ("which library does my
    kernel match?") and the report itself is the best profile's.
    """
    if profile == "auto":
        return _verify_auto(x, codes, scales, format, tensor_scale=tensor_scale, grids=grids,
                            allow=allow, name=name, scale_layout=scale_layout)
    fmt = format_info(format)
    bad = [a for a in allow if a not in CLASSES]
    if bad:
        raise ValueError(f"allow: unknown class(es) {bad}; expected names from gridgames.CLASSES")
    x32 = _as_f32(x)
    g = _group_size(fmt, x32.shape, "x")
    c = _as_u8(codes, "codes").reshape(-1)
    s = _as_scales(scales, fmt).reshape(-1)
    rows, groups = x32.size // x32.shape[-1], x32.shape[-1] // g
    if scale_layout != "linear":
        if fmt["scale_bytes"] != 1:
            raise ValueError(f"scale_layout={scale_layout!r} applies to 1-byte scales only")
        s = unswizzle_scales(s, rows, groups, scale_layout).reshape(-1)
    elif s.size == _ceil(rows, 128) * 128 * _ceil(groups, 4) * 4 and s.size != rows * groups:
        raise ValueError(
            f"scales: {s.size} bytes for {rows}x{groups} groups: that is the padded size of the "
            "128x4 blocked layout (cuBLAS / TransformerEngine / ModelOpt); pass scale_layout='128x4'"
        )
    n = x32.size
    if c.size * 2 != n:
        raise ValueError(f"codes: {c.size} bytes hold {c.size * 2} values; x has {n}")
    want = n // fmt["group_size"] * fmt["scale_bytes"]
    if s.size != want:
        raise ValueError(
            f"scales: {s.size} bytes, expected {want} ({n // fmt['group_size']} groups); "
            "a swizzled or padded scale layout must be un-swizzled first"
        )
    if fmt["tensor_scale"] and tensor_scale is None:
        raise ValueError(f"format {fmt['name']} has a tensor scale: pass tensor_scale=")
    g_list = None if grids is None else [int(v) for v in np.asarray(grids).reshape(-1)]
    t = _native.verify(
        name,
        x32.reshape(-1),
        c,
        s,
        format,
        profile,
        None if tensor_scale is None else float(tensor_scale),
        g_list,
        # Rows of the tensor: scales written in another layout (a swizzle, or transposed)
        # are then one `scale-layout` finding (the library's check_rows).
        row_len=int(x32.shape[-1]) if x32.ndim else None,
    )
    r = _report(t, allow)
    r.header = f"gridgames verify: format {fmt['name']}, profile {profile}"
    return r


def _verify_auto(x, codes, scales, format, **kw) -> Report:
    results = {}
    for p in profiles(format):
        try:
            results[p] = verify(x, codes, scales, format, p, **kw)
        except ValueError as e:  # the profile refuses this input (e.g. NaN without a rule)
            results[p] = e
    counts = {p: (len(r.mismatches) if isinstance(r, Report) else f"refused: {r}") for p, r in results.items()}
    ranked = sorted((c, p) for p, c in counts.items() if isinstance(c, int))
    if not ranked:
        raise ValueError(f"every profile of {format} refuses this input: {counts}")
    best = results[ranked[0][1]]
    best.by_profile = counts
    best.header += " (profile auto: best match)"
    best.notes.append("mismatches per profile: " + ", ".join(f"{p} {c}" for p, c in counts.items()))
    return best


def convert(x: Any, to: str, policy: str = "satfinite", rounding: Optional[str] = None) -> np.ndarray:
    """Element codes of ``x`` (one uint8 code per value, same shape): f32 → ``to``
    (``e2m1``, ``e4m3``, ``e5m2``, ``ue8m0``, ...), overflow and NaN as ``policy`` says
    (``satfinite``, ``ml_dtypes``, ``ocp``, or NVIDIA's ``cuda-satfinite`` / ``cuda-nosat``,
    the CUDA 13.0 header conversions checked over all 2^32 inputs on an H200).
    ``rounding``: ``rn`` (default), or ``rz`` / ``rp`` where NVIDIA has them (UE8M0: rz, rp;
    FP6/FP4: rz)."""
    x32 = _as_f32(x)
    return _native.convert(x32.reshape(-1), to, policy, rounding).reshape(x32.shape)


def _codes(x: Any, what: str) -> np.ndarray:
    a = _as_array(x, what)
    if a.ndim != 2:
        raise ValueError(f"{what}: shape {a.shape}: expected a 2-D matrix")
    if a.dtype in (np.uint8, np.uint16, np.uint32):
        return np.asarray(a).astype(np.uint32)
    if a.dtype.name in ("float8_e4m3fn", "float8_e5m2"):
        return np.asarray(a).view(np.uint8).astype(np.uint32)
    if a.dtype.name == "bfloat16" or isinstance(a, _Bf16Mark):
        return np.asarray(a).view(np.uint16).astype(np.uint32)
    if a.dtype == np.float16:
        return a.view(np.uint16).astype(np.uint32)
    if a.dtype == np.float32:
        return a.view(np.uint32).astype(np.uint32)
    raise TypeError(f"{what}: dtype {a.dtype}: expected element codes (uint8/16/32) or float8/16/bf16/32")


def mma(instr: str, a: Any, b: Any, c: Any = None, scales_a: Any = None, scales_b: Any = None) -> np.ndarray:
    """One instruction's dot product per row: ``d[r] = Σ_k a[r, k]·b[r, k] + c[r]`` exactly as
    ``instr`` (``<arch>/<ptx name>``, ``gridgames mma --list``) computes it, K a multiple of
    its K (longer K chains instructions). ``a``, ``b``: (R, K) element codes (uint8/16/32) or
    arrays of the operand type; ``c``: (R,) output bits (uint32 f32 / uint16 f16) or float32;
    ``scales_a``, ``scales_b``: (R, K/block) scale bytes for block-scaled kinds. Returns the
    (R,) output bits (uint32; f16 results in the low half)."""
    A = _codes(a, "a")
    B = _codes(b, "b")
    if A.shape != B.shape:
        raise ValueError(f"a is {A.shape} and b is {B.shape}: one dot product per row needs equal shapes")
    rows = A.shape[0]
    C = None
    if c is not None:
        cc = np.asarray(c)
        C = (cc.view(np.uint32) if cc.dtype == np.float32 else cc.astype(np.uint32)).reshape(-1)
        if C.size != rows:
            raise ValueError(f"c has {C.size} values for {rows} rows")
    sa = None if scales_a is None else _as_u8(scales_a, "scales_a").reshape(-1)
    sb = None if scales_b is None else _as_u8(scales_b, "scales_b").reshape(-1)
    return _native.mma(instr, A.reshape(-1), B.reshape(-1), rows, C, sa, sb)


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
) -> np.ndarray:
    """Predict a whole GEMM kernel's output bit for bit: D = epilogue(recipe(A·B + C)).

    ``instr``: ``<arch>/<ptx name>`` (``gridgames mma --list``), or None with a preset
    ``recipe``. ``a`` (M×K) and ``b`` (K×N): element codes (uint8 for FP8, uint16 bits for
    bf16/f16, uint32 for f32) or arrays of that float type (torch ``float8_e4m3fn`` or
    ml_dtypes arrays are read as their codes). ``recipe``: ``chain``, ``promote:G[:T]``,
    ``mmav2``, ``splitk:L:<recipe>``, or a preset (``triton-sm90``, ``triton-sm90-mmav2``,
    ``cublas-sm90-fp8-fast``, ``cublas-sm90-fp8``; see ``vectors/gemm/README.md``): a cuBLAS
    preset on a shape without a measured split-K decision raises ValueError or warns.
    ``ab_format``: the element format of A and B when the instruction's differs (FP8 data on
    an f16 instruction), converted exactly. ``out``: ``float32`` (uint32 bits → returned as
    float32), ``bfloat16`` or ``float16`` (returned as uint16 bits / float16).
    """
    import warnings

    if instr is None:
        try:
            instr, data_format = _native.gemm_preset(recipe)
        except ValueError:
            raise ValueError("gemm: instr is required unless recipe is a preset") from None
        if ab_format is None:
            ab_format = data_format
    A = _codes(a, "a")
    B = _codes(b, "b")
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"A is {A.shape[0]}x{A.shape[1]} and B is {B.shape[0]}x{B.shape[1]}")
    m, k = A.shape
    n = B.shape[1]
    C = None
    if c is not None:
        C = _codes(c, "c")
        if C.shape != (m, n):
            raise ValueError(f"c: shape {C.shape}, expected {(m, n)}")
        C = C.reshape(-1)
    rec = recipe
    if recipe.startswith("cublas-"):
        rec = _native.gemm_resolve(recipe, m, n, k)
        if isinstance(rec, tuple):
            rec, warning = rec
            if warning:
                warnings.warn(warning, stacklevel=2)
    o = {"float32": "f32", "bfloat16": "bf16", "float16": "f16"}.get(out, out)
    d = _native.gemm(instr, A.reshape(-1), B.reshape(-1), m, n, k, rec, ab_format, C, scale_a, scale_b, o, threads)
    d = d.reshape(m, n)
    if o == "f32":
        return d.view(np.float32)
    if o == "f16":
        return d.astype(np.uint16).view(np.float16)
    return d.astype(np.uint16)


from . import testing  # noqa: E402  (needs the names above)
