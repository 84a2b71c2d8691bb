//! `gridgames._native`: the Rust library behind the Python package, over flat NumPy arrays.
//!
//! Shapes, dtypes, torch tensors and the user-facing classes live in the Python layer
//! (`gridgames/__init__.py`); this module takes contiguous 1-D arrays, releases the GIL for
//! the work, and turns every library error into a `ValueError` with the library's message
//! (the same text the CLI prints).

use numpy::{PyArray1, PyReadonlyArray1, PyReadwriteArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use gridgames::decode::Output;
use gridgames::format::Format;
use gridgames::quant::{Profile, Quantizer};
use gridgames::simd;
use gridgames::vectors::{Answer, Options, Report, Verifier};

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn format_of(name: &str) -> PyResult<Format> {
    gridgames::spec::resolve_format(name).map_err(value_error)
}

fn profile_of(name: &str) -> PyResult<Profile> {
    Profile::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Profile::ALL.iter().map(|p| p.name()).collect();
        value_error(format!(
            "unknown profile `{name}` (expected one of: {})",
            names.join(", ")
        ))
    })
}

fn options(threads: Option<usize>) -> simd::Options {
    let mut o = simd::Options::all_cores(simd::Backend::selected());
    if let Some(t) = threads {
        o.threads = t.max(1);
    }
    o
}

/// The crate version.
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Names of the built-in formats.
#[pyfunction]
fn formats() -> Vec<&'static str> {
    gridgames::tables::FORMATS.iter().map(|f| f.name).collect()
}

/// Names of the mismatch classes `verify` reports, in report order.
#[pyfunction]
fn classes() -> Vec<&'static str> {
    gridgames::vectors::Class::ALL
        .iter()
        .map(|c| c.name())
        .collect()
}

/// Names of the profiles that apply to a format.
#[pyfunction]
fn profiles(format: &str) -> PyResult<Vec<&'static str>> {
    let f = format_of(format)?;
    Ok(Profile::for_format(&f).iter().map(|p| p.name()).collect())
}

/// What a profile is checked against.
#[pyfunction]
fn profile_evidence(profile: &str) -> PyResult<&'static str> {
    Ok(profile_of(profile)?.evidence())
}

/// The layout facts of a format, as a dict.
#[pyfunction]
fn format_info<'py>(py: Python<'py>, format: &str) -> PyResult<Bound<'py, PyDict>> {
    let f = format_of(format)?;
    let d = PyDict::new(py);
    d.set_item("name", f.name)?;
    d.set_item("description", f.description)?;
    d.set_item("group_size", f.group_size)?;
    d.set_item("grids", f.grids.iter().map(|g| g.name).collect::<Vec<_>>())?;
    d.set_item("scale_element", f.scale_element.name)?;
    d.set_item("scale_bytes", f.scale_bytes)?;
    d.set_item("tensor_scale", f.tensor_scale)?;
    d.set_item("high_nibble_first", f.high_nibble_first)?;
    d.set_item("selector_free", f.selector_free())?;
    d.set_item("provenance", f.provenance)?;
    d.set_item("spec_file", f.spec_file)?;
    Ok(d)
}

/// The 16 exact values of one grid (f64, code 0 first).
#[pyfunction]
fn grid(format: &str, index: usize) -> PyResult<Vec<f64>> {
    let f = format_of(format)?;
    let g = f.grids.get(index).ok_or_else(|| {
        value_error(format!(
            "format `{}` has {} grid(s); index {index} is out of range",
            f.name,
            f.grids.len()
        ))
    })?;
    Ok((0..16u8).map(|c| g.value(c) as f64).collect())
}

/// Quantize a flat f32 array. Returns (codes, scales, tensor_scale or None, grid per group).
/// `tensor_scale` None: the profile's own rule; a number: use that decode-direction scale.
#[pyfunction]
#[pyo3(signature = (x, format, profile, tensor_scale=None, threads=None))]
#[allow(clippy::type_complexity)]
fn quantize<'py>(
    py: Python<'py>,
    x: PyReadonlyArray1<'py, f32>,
    format: &str,
    profile: &str,
    tensor_scale: Option<f32>,
    threads: Option<usize>,
) -> PyResult<(
    Bound<'py, PyArray1<u8>>,
    Bound<'py, PyArray1<u8>>,
    Option<f32>,
    Bound<'py, PyArray1<u8>>,
)> {
    let f = format_of(format)?;
    let q = Quantizer::new(&f, profile_of(profile)?).map_err(value_error)?;
    let x = x.as_slice().map_err(value_error)?;
    let opts = options(threads);
    let r = py
        .detach(|| match tensor_scale {
            None => simd::quantize(&q, x, false, &opts),
            Some(ts) => {
                let mut ctx = q.tensor_context(x);
                ctx.scale = ts;
                q.quantize_with_context(x, &ctx, false)
            }
        })
        .map_err(value_error)?;
    Ok((
        PyArray1::from_vec(py, r.codes),
        PyArray1::from_vec(py, r.scales),
        r.tensor_scale,
        PyArray1::from_vec(py, r.grid_of_group),
    ))
}

/// Decode into a caller's f32 array (no allocation: the output pages are already mapped).
#[pyfunction]
#[pyo3(signature = (codes, scales, format, tensor_scale, out, threads=None))]
fn dequantize_into<'py>(
    py: Python<'py>,
    codes: PyReadonlyArray1<'py, u8>,
    scales: PyReadonlyArray1<'py, u8>,
    format: &str,
    tensor_scale: f32,
    mut out: PyReadwriteArray1<'py, f32>,
    threads: Option<usize>,
) -> PyResult<()> {
    let f = format_of(format)?;
    let codes = codes.as_slice().map_err(value_error)?;
    let scales = scales.as_slice().map_err(value_error)?;
    let out = out.as_slice_mut().map_err(value_error)?;
    let opts = options(threads);
    py.detach(|| simd::decode_f32(&opts, &f, codes, scales, tensor_scale, out))
        .map_err(value_error)
}

/// Decode `n` values to f32 (an f32 array) or to f16/bf16 bit patterns (a uint16 array).
#[pyfunction]
#[pyo3(signature = (codes, scales, format, tensor_scale, n, dtype, threads=None))]
#[allow(clippy::too_many_arguments)]
fn dequantize<'py>(
    py: Python<'py>,
    codes: PyReadonlyArray1<'py, u8>,
    scales: PyReadonlyArray1<'py, u8>,
    format: &str,
    tensor_scale: f32,
    n: usize,
    dtype: &str,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let f = format_of(format)?;
    let codes = codes.as_slice().map_err(value_error)?;
    let scales = scales.as_slice().map_err(value_error)?;
    let opts = options(threads);
    let output = match dtype {
        "float32" => None,
        "float16" => Some(Output::F16),
        "bfloat16" => Some(Output::Bf16),
        other => {
            return Err(value_error(format!(
                "dtype `{other}`: expected float32, float16 or bfloat16"
            )))
        }
    };
    match output {
        None => {
            let mut out = vec![0f32; n];
            py.detach(|| simd::decode_f32(&opts, &f, codes, scales, tensor_scale, &mut out))
                .map_err(value_error)?;
            Ok(PyArray1::from_vec(py, out).into_any())
        }
        Some(o) => {
            let mut bits = vec![0u32; n];
            py.detach(|| simd::decode_bits(&opts, &f, codes, scales, tensor_scale, o, &mut bits))
                .map_err(value_error)?;
            let half: Vec<u16> = bits.iter().map(|&b| b as u16).collect();
            Ok(PyArray1::from_vec(py, half).into_any())
        }
    }
}

/// One mismatch as a tuple: (class, case, group or None, element or None, detail).
type MismatchTuple = (&'static str, String, Option<usize>, Option<usize>, String);

/// A verification report: (cases, groups, elements, mismatches, rendered text, exercised:
/// [exact ties, near ties, saturated, zero groups, subnormal scales, non-finite cases]).
type ReportTuple = (
    usize,
    usize,
    usize,
    Vec<MismatchTuple>,
    String,
    [usize; 6],
    Vec<&'static str>,
);

fn report_tuple(r: &Report, examples: usize) -> ReportTuple {
    (
        r.cases,
        r.groups,
        r.elements,
        r.mismatches
            .iter()
            .map(|m| {
                (
                    m.class.name(),
                    m.case.clone(),
                    m.group,
                    m.element,
                    m.detail.clone(),
                )
            })
            .collect(),
        r.render(examples, &[]),
        [
            r.coverage.exact_ties,
            r.coverage.near_ties,
            r.coverage.saturated,
            r.coverage.zero_groups,
            r.coverage.subnormal_scales,
            r.coverage.non_finite_cases,
        ],
        r.indistinguishable.iter().map(|p| p.name()).collect(),
    )
}

/// Verify an implementation's quantized output of one tensor `x` against the profile.
#[pyfunction]
#[pyo3(signature = (name, x, codes, scales, format, profile, tensor_scale=None, grids=None, examples=5, row_len=None))]
#[allow(clippy::too_many_arguments)]
fn verify<'py>(
    py: Python<'py>,
    name: &str,
    x: PyReadonlyArray1<'py, f32>,
    codes: PyReadonlyArray1<'py, u8>,
    scales: PyReadonlyArray1<'py, u8>,
    format: &str,
    profile: &str,
    tensor_scale: Option<f32>,
    grids: Option<Vec<u8>>,
    examples: usize,
    row_len: Option<usize>,
) -> PyResult<ReportTuple> {
    let f = format_of(format)?;
    let v = Verifier::new(&f, profile_of(profile)?, Options::default()).map_err(value_error)?;
    let answer = Answer {
        codes: codes.as_slice().map_err(value_error)?.to_vec(),
        scales: scales.as_slice().map_err(value_error)?.to_vec(),
        tensor_scale,
        grids,
    };
    let x = x.as_slice().map_err(value_error)?;
    let mut report = Report::default();
    py.detach(|| {
        match row_len {
            Some(r) => v.check_rows(name, x, r, Ok(&answer), &mut report)?,
            None => v.check(name, x, Ok(&answer), &mut report)?,
        }
        report.indistinguishable = v.indistinguishable_profiles(x);
        Ok::<(), String>(())
    })
    .map_err(value_error)?;
    Ok(report_tuple(&report, examples))
}

/// The golden quantize cases of a format: (name, rule, x) each.
#[pyfunction]
fn cases(format: &str) -> PyResult<Vec<(String, &'static str, Vec<f32>)>> {
    let f = format_of(format)?;
    let cases = gridgames::vectors::catalogue::quantize_cases(&f).map_err(value_error)?;
    Ok(cases.into_iter().map(|c| (c.name, c.rule, c.x)).collect())
}

/// Element codes of f32 values (`convert`): one code per value, as uint8.
#[pyfunction]
#[pyo3(signature = (x, to, policy, rounding=None))]
fn convert<'py>(
    py: Python<'py>,
    x: PyReadonlyArray1<'py, f32>,
    to: &str,
    policy: &str,
    rounding: Option<&str>,
) -> PyResult<Bound<'py, PyArray1<u8>>> {
    let element = gridgames::tables::element(to).ok_or_else(|| {
        let names: Vec<&str> = gridgames::tables::ELEMENTS.iter().map(|e| e.name).collect();
        value_error(format!(
            "unknown element `{to}` (expected one of: {})",
            names.join(", ")
        ))
    })?;
    if element.bits > 8 {
        return Err(value_error(format!(
            "`{}` codes do not fit in uint8",
            element.name
        )));
    }
    let conversion = gridgames::element::cuda::Conversion::parse(element, policy, rounding)
        .map_err(value_error)?;
    let x = x.as_slice().map_err(value_error)?;
    let codes = py
        .detach(|| {
            x.iter()
                .enumerate()
                .map(|(i, &v)| {
                    conversion
                        .apply(element, v)
                        .map(|c| c as u8)
                        .map_err(|e| format!("value {i} ({v}): {e}"))
                })
                .collect::<Result<Vec<u8>, String>>()
        })
        .map_err(value_error)?;
    Ok(PyArray1::from_vec(py, codes))
}

/// Whole-GEMM emulation: D (M×N output bits, u32) of A (M×K codes) · B (K×N codes) + C.
#[pyfunction]
#[pyo3(signature = (instr, a, b, m, n, k, recipe="chain", ab_format=None, c=None, scale_a=None, scale_b=None, out="f32", threads=None))]
#[allow(clippy::too_many_arguments)]
fn gemm<'py>(
    py: Python<'py>,
    instr: &str,
    a: PyReadonlyArray1<'py, u32>,
    b: PyReadonlyArray1<'py, u32>,
    m: usize,
    n: usize,
    k: usize,
    recipe: &str,
    ab_format: Option<&str>,
    c: Option<PyReadonlyArray1<'py, u32>>,
    scale_a: Option<f32>,
    scale_b: Option<f32>,
    out: &str,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray1<u32>>> {
    use gridgames::emu::gemm::{self as g, Epilogue, Problem, Recipe};
    let ins = gridgames::emu::instruction(instr).map_err(value_error)?;
    let recipe = Recipe::parse(recipe).map_err(value_error)?;
    let data = match ab_format {
        None => None,
        Some(f) => Some(gridgames::emu::Format::from_name(f).ok_or_else(|| {
            value_error(format!(
                "ab_format `{f}`: not an element format the emulator knows"
            ))
        })?),
    };
    let out = match out {
        "f32" | "float32" => Output::F32,
        "bf16" | "bfloat16" => Output::Bf16,
        "f16" | "float16" => Output::F16,
        o => return Err(value_error(format!("out `{o}`: expected f32, bf16 or f16"))),
    };
    let scales = match (scale_a, scale_b) {
        (None, None) => None,
        (sa, sb) => Some((sa.unwrap_or(1.0), sb.unwrap_or(1.0))),
    };
    let epi = Epilogue { scales, out };
    let a = a.as_slice().map_err(value_error)?;
    let b = b.as_slice().map_err(value_error)?;
    let c = match &c {
        Some(c) => Some(c.as_slice().map_err(value_error)?),
        None => None,
    };
    let threads = options(threads).threads;
    let p = Problem { m, n, k, a, b, c };
    let d = py
        .detach(|| g::gemm_with_data_format(ins, data, &recipe, &epi, &p, threads))
        .map_err(value_error)?;
    Ok(PyArray1::from_vec(py, d))
}

/// One instruction's dot products, one per row: d[r] = Σ_k a[r,k]·b[r,k] + c[r] as the
/// instruction computes it (codes in, output bits out; block scales for scaled kinds).
#[pyfunction]
#[pyo3(signature = (instr, a, b, rows, c=None, scales_a=None, scales_b=None))]
#[allow(clippy::too_many_arguments)]
fn mma<'py>(
    py: Python<'py>,
    instr: &str,
    a: PyReadonlyArray1<'py, u32>,
    b: PyReadonlyArray1<'py, u32>,
    rows: usize,
    c: Option<PyReadonlyArray1<'py, u32>>,
    scales_a: Option<PyReadonlyArray1<'py, u8>>,
    scales_b: Option<PyReadonlyArray1<'py, u8>>,
) -> PyResult<Bound<'py, PyArray1<u32>>> {
    let ins = gridgames::emu::instruction(instr).map_err(value_error)?;
    let a = a.as_slice().map_err(value_error)?;
    let b = b.as_slice().map_err(value_error)?;
    if rows == 0 || a.len() % rows != 0 || a.len() != b.len() {
        return Err(value_error(format!(
            "a has {} and b {} codes: expected two (rows={rows}, K) arrays of the same shape",
            a.len(),
            b.len()
        )));
    }
    let k = a.len() / rows;
    let ns = ins.scales_for(k);
    let empty: &[u8] = &[];
    let sa = match &scales_a {
        Some(s) => s.as_slice().map_err(value_error)?,
        None => empty,
    };
    let sb = match &scales_b {
        Some(s) => s.as_slice().map_err(value_error)?,
        None => empty,
    };
    if sa.len() != rows * ns || sb.len() != rows * ns {
        return Err(value_error(format!(
            "{instr} needs {ns} scale bytes per row and operand for K = {k}: scales are ({rows}, {ns})"
        )));
    }
    let c = match &c {
        Some(c) => Some(c.as_slice().map_err(value_error)?),
        None => None,
    };
    let d = py
        .detach(|| {
            (0..rows)
                .map(|r| {
                    ins.dot(
                        &a[r * k..(r + 1) * k],
                        &b[r * k..(r + 1) * k],
                        &sa[r * ns..(r + 1) * ns],
                        &sb[r * ns..(r + 1) * ns],
                        c.map_or(0, |c| c[r]),
                    )
                })
                .collect::<Result<Vec<u32>, _>>()
        })
        .map_err(value_error)?;
    Ok(PyArray1::from_vec(py, d))
}

/// A cuBLAS preset's recipe for one shape: (recipe text, warning or None); raises when no
/// measurement backs the shape.
#[pyfunction]
fn gemm_resolve(preset: &str, m: usize, n: usize, k: usize) -> PyResult<(String, Option<String>)> {
    let p = gridgames::emu::gemm::Preset::from_name(preset)
        .ok_or_else(|| value_error(format!("`{preset}` is not a preset")))?;
    let (r, w) = p.resolve(m, n, k).map_err(value_error)?;
    Ok((r.name(), w))
}

/// A preset's instruction and data format (`None` when the instruction's own), from
/// `emu::gemm::Preset`: the one table, so Python cannot drift from the CLI.
#[pyfunction]
fn gemm_preset(preset: &str) -> PyResult<(&'static str, Option<&'static str>)> {
    let p = gridgames::emu::gemm::Preset::from_name(preset)
        .ok_or_else(|| value_error(format!("`{preset}` is not a preset")))?;
    Ok((p.instruction(), p.data_format()))
}

fn layout_of(name: &str) -> PyResult<gridgames::ScaleLayout> {
    gridgames::ScaleLayout::from_name(name).ok_or_else(|| {
        value_error(format!(
            "scale layout {name:?}: expected one of linear, 128x4, 8x4"
        ))
    })
}

/// Row-major `rows × groups` scale bytes → the bytes of `layout` (zero padded).
#[pyfunction]
fn swizzle_scales<'py>(
    py: Python<'py>,
    layout: &str,
    linear: PyReadonlyArray1<'py, u8>,
    rows: usize,
    groups: usize,
) -> PyResult<Bound<'py, PyArray1<u8>>> {
    let l = layout_of(layout)?;
    let mut stored = vec![0u8; l.stored_len(rows, groups)];
    l.from_linear(
        linear.as_slice().map_err(value_error)?,
        rows,
        groups,
        &mut stored,
    )
    .map_err(value_error)?;
    Ok(PyArray1::from_vec(py, stored))
}

/// The bytes of `layout` → row-major `rows × groups` scale bytes.
#[pyfunction]
fn unswizzle_scales<'py>(
    py: Python<'py>,
    layout: &str,
    stored: PyReadonlyArray1<'py, u8>,
    rows: usize,
    groups: usize,
) -> PyResult<Bound<'py, PyArray1<u8>>> {
    let l = layout_of(layout)?;
    let mut linear = vec![0u8; rows * groups];
    l.to_linear(
        stored.as_slice().map_err(value_error)?,
        rows,
        groups,
        &mut linear,
    )
    .map_err(value_error)?;
    Ok(PyArray1::from_vec(py, linear))
}

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(classes, m)?)?;
    m.add_function(wrap_pyfunction!(gemm_preset, m)?)?;
    m.add_function(wrap_pyfunction!(swizzle_scales, m)?)?;
    m.add_function(wrap_pyfunction!(unswizzle_scales, m)?)?;
    m.add_function(wrap_pyfunction!(formats, m)?)?;
    m.add_function(wrap_pyfunction!(profiles, m)?)?;
    m.add_function(wrap_pyfunction!(profile_evidence, m)?)?;
    m.add_function(wrap_pyfunction!(format_info, m)?)?;
    m.add_function(wrap_pyfunction!(grid, m)?)?;
    m.add_function(wrap_pyfunction!(quantize, m)?)?;
    m.add_function(wrap_pyfunction!(dequantize, m)?)?;
    m.add_function(wrap_pyfunction!(dequantize_into, m)?)?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(cases, m)?)?;
    m.add_function(wrap_pyfunction!(convert, m)?)?;
    m.add_function(wrap_pyfunction!(gemm, m)?)?;
    m.add_function(wrap_pyfunction!(gemm_resolve, m)?)?;
    m.add_function(wrap_pyfunction!(mma, m)?)?;
    Ok(())
}
