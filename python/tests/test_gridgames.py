"""Tests of the Python package. Run by scripts/test.sh (pytest -rs), after `pip install ./python`.

Independent references only: the CLI binary of the same build (round trips, byte for byte),
the public libraries' own outputs checked in under vectors/peers/, the OCP E2M1 table, and a
numpy NVFP4 quantizer written here (for the planted-bug tests).
"""

import json
import os
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

import gridgames
import gridgames.testing as ggt

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("GRIDGAMES_BIN", ROOT / "target" / "release" / "gridgames"))


# ---- helpers ------------------------------------------------------------------------------


def read_safetensors(path):
    """name -> (dtype string, shape, raw bytes); safetensors' own numpy loader has no F8."""
    b = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", b[:8])
    header = json.loads(b[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        lo, hi = info["data_offsets"]
        out[name] = (info["dtype"], info["shape"], b[8 + n + lo : 8 + n + hi])
    return out


def cli(*args, cwd):
    if not BIN.exists():
        pytest.fail(f"{BIN} missing: scripts/test.sh builds it before the Python tests")
    r = subprocess.run([str(BIN), *map(str, args)], cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r


def data(shape, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    x.flat[7] *= 40.0
    return x


# ---- API basics ---------------------------------------------------------------------------


def test_version_and_names():
    assert gridgames.__version__ == "0.1.0"
    assert {"nvfp4", "mxfp4", "nf4", "sfp4", "po2-nf4", "mpo2", "if4", "four-over-six"} <= set(
        gridgames.formats()
    )
    assert gridgames.profiles("nvfp4")[0] == "reference"
    assert "torchao" in gridgames.profiles("mxfp4")
    assert "not the library" in gridgames.profile_evidence("te").lower()


def test_grid_is_the_ocp_e2m1_table():
    # OCP MX v1.0, E2M1: codes 0..7 magnitudes, 8..15 their negatives.
    e2m1 = [0, 0.5, 1, 1.5, 2, 3, 4, 6]
    assert list(gridgames.grid("nvfp4")) == e2m1 + [-v for v in e2m1]
    assert gridgames.grid("nvfp4").dtype == np.float64
    with pytest.raises(ValueError, match="out of range"):
        gridgames.grid("nvfp4", 3)


def test_quantize_shapes_and_round_trip():
    x = data((3, 5, 64))
    q = gridgames.quantize(x, "nvfp4")
    assert q.codes.shape == (3, 5, 32) and q.codes.dtype == np.uint8
    assert q.scales.shape == (3, 5, 4) and q.grids.shape == (3, 5, 4)
    assert isinstance(q.tensor_scale, float)
    y = gridgames.dequantize(q)
    assert y.shape == x.shape and y.dtype == np.float32
    assert ((x - y) ** 2).mean() / (x**2).mean() < 0.02
    # The explicit form decodes the same bytes to the same values.
    y2 = gridgames.dequantize(q.codes, q.scales, "nvfp4", tensor_scale=q.tensor_scale)
    assert np.array_equal(y.view(np.uint32), y2.view(np.uint32))
    # f16 output is the f32 result rounded (both exact roundings of one exact product).
    h = gridgames.dequantize(q, dtype="float16")
    assert h.dtype == np.float16 and np.array_equal(h, y.astype(np.float16))
    assert gridgames.verify(x, q.codes, q.scales, "nvfp4", tensor_scale=q.tensor_scale).ok


def test_four_byte_scales_are_float32():
    x = data((2, 128))
    q = gridgames.quantize(x, "nf4-bnb", "bnb")
    assert q.scales.dtype == np.float32 and q.scales.shape == (2, 2)
    # bitsandbytes stores the block absmax.
    assert np.array_equal(q.scales, np.abs(x).reshape(2, 2, 64).max(-1))


def test_half_and_bfloat16_inputs_are_widened_exactly():
    x = data((2, 32)).astype(np.float16)
    a = gridgames.quantize(x, "mxfp4")
    b = gridgames.quantize(x.astype(np.float32), "mxfp4")
    assert np.array_equal(a.codes, b.codes) and np.array_equal(a.scales, b.scales)
    ml = pytest.importorskip("ml_dtypes")
    xb = data((2, 32)).astype(ml.bfloat16)
    a = gridgames.quantize(xb, "mxfp4")
    b = gridgames.quantize(xb.astype(np.float32), "mxfp4")
    assert np.array_equal(a.codes, b.codes)


def test_explicit_tensor_scale():
    x = data((4, 64))
    q = gridgames.quantize(x, "nvfp4", tensor_scale=1.0)
    assert q.tensor_scale == 1.0
    r = gridgames.verify(x, q.codes, q.scales, "nvfp4", tensor_scale=1.0)
    assert r.counts == {"tensor-scale": 1}, str(r)
    assert not r.ok and gridgames.verify(
        x, q.codes, q.scales, "nvfp4", tensor_scale=1.0, allow=["tensor-scale"]
    ).ok


def test_convert_matches_ml_dtypes():
    ml = pytest.importorskip("ml_dtypes")
    x = data((1000,)) * 100
    ours = gridgames.convert(x, "e4m3", policy="ml_dtypes")
    theirs = x.astype(ml.float8_e4m3fn).view(np.uint8)
    assert np.array_equal(ours, theirs)


# ---- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, exc, text",
    [
        (lambda: gridgames.quantize(np.zeros((2, 24), np.float32), "nvfp4"), ValueError, "not a multiple of the group size 16"),
        (lambda: gridgames.quantize(np.zeros((2, 32), np.float64), "nvfp4"), TypeError, "float64"),
        (lambda: gridgames.quantize(np.zeros((2, 32), np.int32), "nvfp4"), TypeError, "int32"),
        (lambda: gridgames.quantize(np.zeros((32, 2), np.float32).T, "nvfp4"), ValueError, "not C-contiguous"),
        (lambda: gridgames.quantize(np.zeros((2, 32), np.float32), "nvfp5"), ValueError, "nvfp5"),
        (lambda: gridgames.quantize(np.zeros((2, 32), np.float32), "nvfp4", "bnb"), ValueError, "does not apply"),
        (lambda: gridgames.quantize(np.full((1, 16), np.nan, np.float32), "nvfp4"), ValueError, "NaN or Inf"),
        (lambda: gridgames.quantize([1.0] * 16, "nvfp4"), TypeError, "numpy.ndarray"),
        (lambda: gridgames.dequantize(np.zeros((1, 8), np.uint8), np.zeros(1, np.uint8), "nvfp4"), ValueError, "tensor scale"),
        (lambda: gridgames.dequantize(np.zeros((1, 8), np.uint8), np.zeros(3, np.uint8), "nvfp4", tensor_scale=1.0), ValueError, "scales: 3 bytes"),
        (lambda: gridgames.verify(np.zeros((1, 16), np.float32), np.zeros(8, np.uint8), np.zeros(1, np.float32), "nvfp4", tensor_scale=1.0), TypeError, "ue4m3 byte"),
        (lambda: gridgames.verify(np.zeros((1, 16), np.float32), np.zeros(8, np.uint8), np.zeros(1, np.uint8), "nvfp4", tensor_scale=1.0, allow=["typo"]), ValueError, "unknown class"),
    ],
)
def test_bad_input_raises_clear_errors(call, exc, text):
    with pytest.raises(exc, match=text):
        call()


def test_invalid_selector_is_an_error_naming_the_problem():
    with pytest.raises(ValueError, match="selector"):
        # SFP4 selector 01 (bits 7,6 = 0,1) names no grid.
        gridgames.dequantize(np.zeros((1, 8), np.uint8), np.array([0x40], np.uint8), "sfp4", tensor_scale=1.0)


# ---- the CLI, byte for byte ---------------------------------------------------------------


def _every_format_and_profile():
    for f in gridgames.formats():
        for p in gridgames.profiles(f):
            yield pytest.param(f, p, id=f"{f}-{p}")


@pytest.mark.parametrize("fmt, profile", list(_every_format_and_profile()))
def test_same_bytes_as_the_cli(tmp_path, fmt, profile):
    x = data((8, 256), seed=3)
    np.save(tmp_path / "w.npy", x)
    cli("quantize", "--format", fmt, "--profile", profile, "w.npy", "q.safetensors", cwd=tmp_path)
    st = read_safetensors(tmp_path / "q.safetensors")
    q = gridgames.quantize(x, fmt, profile)
    assert st["tensor.weight"][2] == q.codes.tobytes()
    assert st["tensor.weight_scale"][2] == q.scales.tobytes()
    if q.tensor_scale is not None:
        assert st["tensor.weight_scale_2"][2] == struct.pack("<f", q.tensor_scale)
    cli("decode", "q.safetensors", "y.npy", cwd=tmp_path)
    y = np.load(tmp_path / "y.npy")
    assert np.array_equal(y.view(np.uint32), gridgames.dequantize(q).view(np.uint32))


# ---- each library profile against the library's own outputs ------------------------------

PEERS = [
    ("torchao/nvfp4.txt", "nvfp4", "torchao", None),
    ("torchao/nvfp4_no_tensor_scale.txt", "nvfp4", "torchao", 1.0),
    ("torchao/mxfp4_floor.txt", "mxfp4", "torchao", None),
    ("torchao/mxfp4_ceil.txt", "mxfp4", "torchao-ceil", None),
    ("torchao/mxfp4_even.txt", "mxfp4", "torchao-even", None),
    ("torchao/mxfp4_rceil.txt", "mxfp4", "torchao-rceil", None),
    ("modelopt/nvfp4.txt", "nvfp4", "modelopt", None),
    ("bitsandbytes/nf4.txt", "nf4-bnb", "bnb", None),
    ("fouroversix/if4_mse.txt", "if4", "fouroversix", None),
]


def peer_cases(rel):
    for line in (ROOT / "vectors" / "peers" / rel).read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        f = dict(kv.split("=", 1) for kv in line.split(" ") if "=" in kv)
        r, c = map(int, f["shape"].split("x"))
        x = np.frombuffer(bytes.fromhex(f["x"]), ">u4").astype(np.uint32).view(np.float32).reshape(r, c)
        s = bytes.fromhex(f["s"])
        if rel.startswith("bitsandbytes"):
            s = np.frombuffer(s, ">u4").astype("<u4").tobytes()
        yield f["case"], x, bytes.fromhex(f["q"]), s


@pytest.mark.parametrize("rel, fmt, profile, ts", PEERS, ids=[p[0] for p in PEERS])
def test_profile_matches_the_library_outputs(rel, fmt, profile, ts):
    compared = 0
    bad = []
    for name, x, q_lib, s_lib in peer_cases(rel):
        if not np.isfinite(x).all():
            continue  # non-finite inputs: the Rust peer test covers the profiles that accept them
        q = gridgames.quantize(x, fmt, profile, tensor_scale="auto" if ts is None else ts)
        if q.codes.tobytes() != q_lib or q.scales.tobytes() != s_lib:
            bad.append(name)
        compared += 1
    assert compared >= 40, compared
    assert not bad, f"{len(bad)} of {compared} differ from the library: {bad[:10]}"


# ---- check_quantizer: a numpy NVFP4 quantizer with planted bugs ----------------------------

E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6], np.float64)


def e4m3_values():
    v = []
    for c in range(0x7F):
        e, m = c >> 3, c & 7
        v.append(m / 8 * 2.0**-6 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7))
    return np.array(v)


E4M3 = e4m3_values()


def nearest(values, y, ties):
    """Index of the nearest value of `values` (sorted ascending) to y >= 0 (f64)."""
    d = np.abs(values[None, :] - y[:, None])
    best = d.min(1, keepdims=True)
    cand = d == best
    idx = np.where(cand.sum(1) > 1, -1, d.argmin(1))
    for i in np.nonzero(idx < 0)[0]:
        options = np.nonzero(cand[i])[0]
        idx[i] = {"even": options[options % 2 == 0][0], "away": options[-1], "up": options[-1]}[ties]
    return idx


def numpy_nvfp4(bug=None):
    """NVFP4 with the reference rules (tensor scale amax/2688 RNE to f32, block scale
    amax/(6·ts) RNE to E4M3, elements x/(s·ts) to nearest E2M1, ties to even), in f64
    numpy: exact for the cases that matter (s·ts is exact in f64, one division)."""

    def fn(x):
        x = x.astype(np.float32)
        if bug == "bf16-double-rounding":
            b = x.view(np.uint32).astype(np.uint64)
            b = (b + 0x7FFF + ((b >> 16) & 1)) & 0xFFFF0000
            x = b.astype(np.uint32).view(np.float32)
        amax = float(np.abs(x).max())
        ts = np.float32(amax / 2688.0) if amax > 0 else np.float32(1.0)
        ts = max(ts, np.float32(np.finfo(np.float32).smallest_subnormal))
        g = x.reshape(-1, 16).astype(np.float64)
        bmax = np.abs(g).max(1)
        ratio = bmax / (6.0 * float(ts))
        if bug == "scale-rounded-up":
            sc = np.array([np.searchsorted(E4M3, r, side="left") if r > 0 else 0 for r in ratio])
        else:
            sc = nearest(E4M3, ratio, "even")
        sc = np.minimum(sc, 0x7E)
        sc[bmax == 0] = 0
        s = E4M3[sc] * float(ts)
        with np.errstate(divide="ignore", invalid="ignore"):
            if bug == "reciprocal":
                y = (g.astype(np.float32) * (np.float32(1.0) / s.astype(np.float32))[:, None]).astype(np.float64)
            else:
                y = g / s[:, None]
        y = np.where(s[:, None] == 0, 0.0, y)
        mag = nearest(E2M1, np.minimum(np.abs(y), 6.0).reshape(-1), "away" if bug == "ties-away" else "even")
        codes = (mag | (np.signbit(g.reshape(-1)) * 8)).astype(np.uint8)
        lo, hi = codes[0::2], codes[1::2]
        packed = (lo << 4 | hi) if bug == "swapped-nibbles" else (lo | hi << 4)
        return packed.astype(np.uint8).reshape(x.shape[0], -1), sc.astype(np.uint8).reshape(x.shape[0], -1), float(ts)

    return fn


def test_check_quantizer_passes_a_correct_quantizer():
    r = ggt.check_quantizer(numpy_nvfp4(), "nvfp4")
    assert r.ok, str(r)
    assert r.coverage["golden rules run"], r.coverage
    assert "coverage" in str(r)


@pytest.mark.parametrize(
    "bug, cls",
    [
        ("ties-away", "tie-code"),
        ("reciprocal", "near-tie-code"),
        ("bf16-double-rounding", "wrong-code"),
        ("swapped-nibbles", "nibble-order"),
        ("scale-rounded-up", "scale-rounding"),
    ],
)
def test_check_quantizer_names_each_planted_bug(bug, cls):
    r = ggt.check_quantizer(numpy_nvfp4(bug), "nvfp4")
    assert not r.ok, f"planted bug {bug} not caught"
    assert cls in r.counts, f"{bug}: expected {cls}, got {r.counts}"
    with pytest.raises(AssertionError, match=cls):
        case = next(c for c in ggt.golden_cases("nvfp4") if c.name in {m.case for m in r.mismatches if m.cls == cls})
        codes, scales, ts = numpy_nvfp4(bug)(case.x)
        ggt.assert_conforms(case.x, codes, scales, "nvfp4", tensor_scale=ts)


def test_cases_are_pytest_params_with_ids():
    params = ggt.cases("nvfp4", "torchao")
    assert len(params) > 20
    assert all(p.id for p in params)
    assert not any(np.isnan(p.values[0].x).any() for p in params)


# ---- torch interop (opt-in: torch is not installed by CI) ---------------------------------


def test_torch_tensors_without_copies():
    torch = pytest.importorskip("torch", reason="torch not installed (opt-in lane, see README)")
    t = torch.randn(4, 64)
    q = gridgames.quantize(t, "nvfp4")
    assert np.array_equal(q.codes, gridgames.quantize(t.numpy(), "nvfp4").codes)
    tb = t.to(torch.bfloat16)
    qb = gridgames.quantize(tb, "nvfp4")
    assert np.array_equal(qb.codes, gridgames.quantize(tb.float().numpy(), "nvfp4").codes)
    import gridgames.torch as ggtorch

    codes, scales, ts = ggtorch.quantize(t, "nvfp4")
    assert codes.dtype == getattr(torch, "float4_e2m1fn_x2", torch.uint8)
    assert gridgames.verify(t, codes, scales, "nvfp4", tensor_scale=ts).ok


def test_dequantize_into_a_given_buffer():
    x = data((4, 64))
    q = gridgames.quantize(x, "nvfp4")
    buf = np.empty((4, 64), np.float32)
    assert gridgames.dequantize(q, out=buf) is buf
    assert np.array_equal(buf.view(np.uint32), gridgames.dequantize(q).view(np.uint32))
    with pytest.raises(ValueError, match="shape"):
        gridgames.dequantize(q, out=np.empty((4, 32), np.float32))


# ---- gemm: the recorded H200 GEMMs through the Python API ---------------------------------


def test_gemm_reproduces_recorded_h200_outputs():
    meta = json.loads((ROOT / "vectors" / "gemm" / "meta.json").read_text())["experiments"]
    for name, recipe in [("triton-default", "triton-sm90"), ("triton-mmav2", "triton-sm90-mmav2"),
                         ("cublas-precise", "cublas-sm90-fp8")]:
        e = meta[name]
        m, n, k = e["M"], e["N"], e["K"]
        a = ggt.probe_codes(e["seed"], m * k, e["e_lo"], e["e_hi"]).reshape(m, k)
        b = ggt.probe_codes(e["seed"] + 1, k * n, e["e_lo"], e["e_hi"]).reshape(k, n)
        rows = 16
        want = np.load(ROOT / "vectors" / "gemm" / f"{name}.d.npy")[:rows]
        d = gridgames.gemm(None, a[:rows], b, recipe=recipe, scale_a=e.get("scale_a"), scale_b=e.get("scale_b"))
        assert np.array_equal(d.view(np.uint32), want), name
    with pytest.raises(ValueError, match="no measurement"):
        gridgames.gemm(None, np.zeros((32, 16384), np.uint8), np.zeros((16384, 32), np.uint8), recipe="cublas-sm90-fp8")


def test_runtime_spec_round_trip(tmp_path):
    spec = (ROOT / "spec" / "formats" / "nvfp4.yaml").read_text().replace("group_size: 16", "group_size: 32")
    spec = spec.replace("name: nvfp4", "name: nvfp4-g32")
    p = tmp_path / "nvfp4-g32.yaml"
    p.write_text(spec)
    x = data((4, 64))
    q = gridgames.quantize(x, str(p))
    assert q.scales.shape == (4, 2)
    assert gridgames.dequantize(q).shape == (4, 64)


# ---- scale layouts and "which library does my kernel match?" -------------------------------


def test_swizzled_scales_are_read_and_recognized():
    x = data((256, 128))
    q = gridgames.quantize(x, "nvfp4")
    sw = gridgames.swizzle_scales(q.scales)
    assert sw.size == 256 * 8
    assert np.array_equal(gridgames.unswizzle_scales(sw, 256, 8), q.scales)
    # torchao's to_blocked, written out independently: tile (128 rows x 4 groups), inside it
    # byte (r % 32) * 16 + (r // 32) * 4 + c.
    r, c = 200, 5
    tile = (r // 128) * (8 // 4) + c // 4
    assert sw[tile * 512 + (r % 128 % 32) * 16 + (r % 128 // 32) * 4 + c % 4] == q.scales[r, c]
    ok = gridgames.verify(x, q.codes, sw, "nvfp4", tensor_scale=q.tensor_scale, scale_layout="128x4")
    assert ok.ok, str(ok)
    wrong = gridgames.verify(x, q.codes, sw, "nvfp4", tensor_scale=q.tensor_scale)
    assert not wrong.ok and wrong.counts.get("scale-layout") == 1, str(wrong)
    assert "128x4" in str(wrong), str(wrong)
    # Padded blocked size (rows not a multiple of 128): the message names the layout.
    x2 = data((100, 64))
    q2 = gridgames.quantize(x2, "nvfp4")
    with pytest.raises(ValueError, match="128x4"):
        gridgames.verify(x2, q2.codes, gridgames.swizzle_scales(q2.scales), "nvfp4", tensor_scale=q2.tensor_scale)


def _blocked_reference(s, layout):
    """Independent numpy versions of the layouts (reshape/transpose, as torchao's to_blocked
    and FlashInfer's [mTiles, kTiles, 8, 4] description), not the library's index formula."""
    rows, groups = s.shape
    tr = 128 if layout == "128x4" else 8
    pr, pg = -(-rows // tr) * tr, -(-groups // 4) * 4
    p = np.zeros((pr, pg), dtype=np.uint8)
    p[:rows, :groups] = s
    tiles = p.reshape(pr // tr, tr, pg // 4, 4).transpose(0, 2, 1, 3)  # (mT, kT, tr, 4)
    if layout == "128x4":
        # inside a 128x4 tile: (4 row blocks of 32, 32, 4) -> (32, 4 row blocks, 4)
        tiles = tiles.reshape(pr // 128, pg // 4, 4, 32, 4).transpose(0, 1, 3, 2, 4)
    return tiles.reshape(-1)


@pytest.mark.parametrize("layout", ["128x4", "8x4"])
@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (128, 4), (130, 9), (300, 17)])
def test_scale_layouts_match_independent_reshapes(layout, shape):
    rng = np.random.default_rng(sum(shape))
    s = rng.integers(1, 256, size=shape, dtype=np.uint8)
    sw = gridgames.swizzle_scales(s, layout)
    assert np.array_equal(sw, _blocked_reference(s, layout))
    assert np.array_equal(gridgames.unswizzle_scales(sw, *shape, layout), s)
    with pytest.raises(ValueError, match=layout):
        gridgames.unswizzle_scales(sw[:-1], *shape, layout)


def test_8x4_scales_verify():
    x = data((24, 64))
    q = gridgames.quantize(x, "nvfp4")
    sw = gridgames.swizzle_scales(q.scales, "8x4")
    ok = gridgames.verify(x, q.codes, sw, "nvfp4", tensor_scale=q.tensor_scale, scale_layout="8x4")
    assert ok.ok, str(ok)


def test_profile_auto_names_the_matching_library():
    x = data((16, 256), seed=11)
    q = gridgames.quantize(x, "nvfp4", "modelopt")
    r = gridgames.verify(x, q.codes, q.scales, "nvfp4", "auto", tensor_scale=q.tensor_scale)
    assert r.by_profile["modelopt"] == 0 and r.ok
    assert "profile auto" in str(r) and "mismatches per profile" in str(r)


def test_cuda_conversions():
    x = np.array([1.5, -3.0, np.nan, -np.nan, 1e-40, np.inf], np.float32)
    assert list(gridgames.convert(x, "ue8m0", "cuda-satfinite", "rp")) == [128, 129, 255, 255, 0, 254]
    assert list(gridgames.convert(x, "e5m2", "cuda-satfinite")[2:4]) == [0x7F, 0x7F]
    with pytest.raises(ValueError, match="no f32 -> ue8m0 conversion"):
        gridgames.convert(x, "ue8m0", "cuda-satfinite", "rn")
    with pytest.raises(ValueError, match="rounds to nearest only"):
        gridgames.convert(x, "e4m3", "satfinite", "rz")


def test_mma_against_the_recorded_hopper_cases():
    # vectors/mma/hopper-h200/wgmma_e4m3.txt: H200 results, `id a b sa sb c d` per line
    # (hex codes element 0 first, `-` for no scales, c and d as FP32 bits).
    path = ROOT / "vectors" / "mma" / "hopper-h200" / "wgmma_e4m3.txt"
    lines = [l for l in path.read_text().splitlines() if l and not l.startswith("#")][:64]
    assert len(lines) == 64
    for line in lines:
        instr, a, b, _sa, _sb, c, d = line.split()[:7]
        A = np.frombuffer(bytes.fromhex(a), np.uint8)[None]
        B = np.frombuffer(bytes.fromhex(b), np.uint8)[None]
        got = gridgames.mma(instr, A, B, np.array([int(c, 16)], np.uint32))
        assert int(got[0]) == int(d, 16), line[:80]


def test_report_says_what_the_input_exercised():
    x = data((4, 64))
    q = gridgames.quantize(x, "nvfp4")
    r = gridgames.verify(x, q.codes, q.scales, "nvfp4", tensor_scale=q.tensor_scale)
    # Random data: no exact tie, no zero group: the report says those went unseen.
    assert r.exercised["exact ties"] == 0 and r.exercised["zero groups"] == 0
    assert any("tie rule" in w for w in r.warnings()) and "warning:" in str(r)
    report = ggt.check_quantizer(numpy_nvfp4(), "nvfp4")
    assert report.exercised["exact ties"] > 0 and report.exercised["zero groups"] > 0
    assert report.exercised["near ties"] > 0 and report.exercised["saturated elements"] > 0


def test_verify_names_profiles_the_input_cannot_separate():
    # Smooth random data: ModelOpt's and torchao's NVFP4 give the reference's bytes, so a pass
    # does not say which of them a kernel follows (the CLI test shows the golden inputs do).
    x = data((32, 256), seed=5)
    q = gridgames.quantize(x, "nvfp4")
    r = gridgames.verify(x, q.codes, q.scales, "nvfp4", tensor_scale=q.tensor_scale)
    assert r.ok
    assert "modelopt" in r.indistinguishable and "reference" not in r.indistinguishable
    assert any("give the same bytes" in w for w in r.warnings())
