"""pytest helpers: check a quantizer against the exact reference, with classified mismatches.

Typical use in a kernel's test suite::

    import gridgames, gridgames.testing as ggt

    @pytest.mark.parametrize("case", ggt.cases("nvfp4", "torchao"))
    def test_my_kernel(case):
        codes, scales, ts = my_kernel(case.x)          # case.x: float32, shape (1, n)
        ggt.assert_conforms(case.x, codes, scales, "nvfp4", "torchao", tensor_scale=ts)

    def test_my_kernel_everywhere():
        report = ggt.check_quantizer(my_kernel, "nvfp4", "torchao")
        assert report.ok, str(report)

Exact comparison is on bytes, so +0 and -0 codes differ (``torch.testing.assert_close``
treats them as equal; it cannot check a quantizer bit for bit).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import Report, _native, format_info, quantize, verify

__all__ = ["Case", "cases", "assert_conforms", "check_quantizer", "probe_codes"]


def probe_codes(seed: int, n: int, e_lo: int, e_hi: int) -> np.ndarray:
    """The E4M3 operand codes of gpu/gemm_probe.py (SplitMix64 outputs 1..n after ``seed``;
    sign bit 63, exponent field e_lo + (z >> 8) % (e_hi - e_lo + 1), mantissa (z >> 4) & 7), to
    regenerate the operands of the recorded GEMMs in vectors/gemm/."""
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


class Case:
    """One golden input: ``name`` (stable id), ``rule`` (what it exercises: ``exact-tie``,
    ``near-tie``, ``saturation``, ``zero-group``, ``subnormal-scale``, ``non-finite``, ...)
    and ``x`` (float32, shape ``(1, n)``, n a multiple of the group size)."""

    __slots__ = ("name", "rule", "x")

    def __init__(self, name: str, rule: str, x: np.ndarray):
        self.name, self.rule, self.x = name, rule, x

    def __repr__(self) -> str:
        return f"Case({self.name!r}, rule={self.rule!r}, n={self.x.size})"


def _refused(x: np.ndarray, format: str, profile: str) -> Optional[str]:
    """Why the reference refuses x under this profile (NaN/Inf without a rule), or None."""
    try:
        quantize(x, format, profile, threads=1)
        return None
    except ValueError as e:
        return str(e)


def golden_cases(format: str, profile: str = "reference") -> List[Case]:
    """Every golden quantize input of ``format`` (the ones in ``vectors/<format>/``)."""
    return [Case(n, r, np.asarray(x, dtype=np.float32).reshape(1, -1)) for n, r, x in _native.cases(format)]


def cases(format: str, profile: str = "reference") -> List[Any]:
    """The golden cases as ``pytest.param`` objects with readable ids (plain :class:`Case`
    objects when pytest is not installed). Cases whose input the profile refuses (NaN/Inf
    under a profile without a rule for them) are left out: see :func:`check_quantizer`."""
    out = [c for c in golden_cases(format, profile) if _refused(c.x, format, profile) is None]
    try:
        import pytest
    except ImportError:
        return out
    return [pytest.param(c, id=c.name) for c in out]


def assert_conforms(
    x: Any,
    codes: Any,
    scales: Any,
    format: str,
    profile: str = "reference",
    *,
    tensor_scale: Optional[float] = None,
    grids: Any = None,
    allow: Sequence[str] = (),
) -> Report:
    """Raise AssertionError, with the classified report as its message, unless the output
    conforms to ``profile``. Returns the report when it does."""
    r = verify(x, codes, scales, format, profile, tensor_scale=tensor_scale, grids=grids, allow=allow)
    if not r.ok:
        raise AssertionError(str(r))
    return r


def _call(fn: Callable, x: np.ndarray) -> Tuple[Any, Any, Optional[float]]:
    out = fn(x)
    if not isinstance(out, tuple) or len(out) not in (2, 3):
        raise TypeError(
            "check_quantizer: fn(x) must return (codes, scales) or (codes, scales, tensor_scale)"
        )
    if len(out) == 2:
        return out[0], out[1], None
    ts = out[2]
    if ts is not None and not isinstance(ts, float):
        ts = float(np.asarray(ts.cpu() if hasattr(ts, "cpu") else ts).reshape(-1)[0])
    return out[0], out[1], ts


def check_quantizer(
    fn: Callable[[np.ndarray], Tuple[Any, ...]],
    format: str,
    profile: str = "reference",
    *,
    random_tensors: int = 4,
    seed: int = 0,
    allow: Sequence[str] = (),
) -> Report:
    """Run ``fn`` on every golden edge case of ``format`` and on random tensors, and verify
    each output against ``profile``.

    ``fn(x)`` receives a float32 2-D array (a golden case is one row; random tensors are
    ``(64, 256)``-like, N(0,1) with a few outliers) and returns ``(codes, scales)`` or
    ``(codes, scales, tensor_scale)`` as :func:`gridgames.verify` reads them. The report's
    ``coverage`` says which golden rules ran (rule -> cases), which were not run because the
    profile itself refuses the input (NaN/Inf without a rule), and how many random tensors.
    """
    fmt = format_info(format)
    report = Report(allow=allow)
    report.header = f"gridgames check_quantizer: format {fmt['name']}, profile {profile}"
    rules: Dict[str, int] = {}
    refused: Dict[str, int] = {}
    for c in golden_cases(format, profile):
        if _refused(c.x, format, profile) is not None:
            refused[c.rule] = refused.get(c.rule, 0) + 1
            continue
        codes, scales, ts = _call(fn, c.x.copy())
        if not fmt["tensor_scale"]:
            ts = None
        r = verify(c.x, codes, scales, format, profile, tensor_scale=ts, name=c.name)
        report.merge(r)
        rules[c.rule] = rules.get(c.rule, 0) + 1
    rng = np.random.default_rng(seed)
    g = fmt["group_size"]
    cols = max(g, (256 // g) * g)
    for i in range(random_tensors):
        x = rng.standard_normal((64, cols)).astype(np.float32)
        x[rng.integers(0, 64), rng.integers(0, cols)] *= 50.0
        codes, scales, ts = _call(fn, x.copy())
        if not fmt["tensor_scale"]:
            ts = None
        report.merge(verify(x, codes, scales, format, profile, tensor_scale=ts, name=f"random.{i}"))
    report.coverage = {
        "golden rules run": dict(sorted(rules.items())),
        "golden rules not run (the profile refuses the input)": dict(sorted(refused.items())),
        "random tensors": random_tensors,
    }
    return report
