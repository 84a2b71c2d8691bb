//! Containers: quantized tensors in safetensors with the naming NVFP4 checkpoints use in the
//! wild (`<name>.weight` U8 packed codes, `<name>.weight_scale` F8_E4M3 / F8_E8M0 / F32,
//! `<name>.weight_scale_2` F32), float inputs from `.npy` and safetensors, and `.npy` output.
//! Every write goes to a temporary file in the target directory and is renamed into place, so
//! a failure never leaves a partial file behind.

pub mod npy;
pub mod stream;

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

use crate::format::Format;
use crate::layout::ScaleLayout;
use crate::quant::{Profile, Quantized};

/// Metadata keys written by gridgames.
pub const META_FORMAT: &str = "gridgames.format";
/// Metadata key: the profile (`gridgames.profile`) that produced a checkpoint's codes.
pub const META_PROFILE: &str = "gridgames.profile";
/// Metadata key: the gridgames version that wrote the checkpoint.
pub const META_VERSION: &str = "gridgames.version";
/// Which tensors `quantize` quantized (the selection rule in words).
pub const META_RULE: &str = "gridgames.rule";
/// Metadata key: the layout of the `.weight_scale` tensors (`linear` when absent; see
/// [`crate::layout`]). Swizzled scales are stored with their zero padding, shape
/// `[padded rows, padded groups]`.
pub const META_SCALE_LAYOUT: &str = "gridgames.scale_layout";

/// A float tensor read from a file, converted exactly to f32.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatTensor {
    /// Tensor name (the safetensors key, or the `.npy` file stem).
    pub name: String,
    /// Shape, outermost dimension first.
    pub shape: Vec<usize>,
    /// Values in row-major order, widened to f32 exactly.
    pub data: Vec<f32>,
}

/// A quantized tensor as stored in a container.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredQuantized {
    /// Name of the original tensor (without the `.weight` suffix conventions).
    pub name: String,
    /// Shape of the original (unquantized) tensor.
    pub shape: Vec<usize>,
    /// Packed 4-bit codes, two per byte in the format's nibble order.
    pub codes: Vec<u8>,
    /// Block scales, `scale_bytes` per group, in group order (linear layout).
    pub scales: Vec<u8>,
    /// Per-tensor FP32 scale, when the format has one.
    pub tensor_scale: Option<f32>,
    /// Zeros appended to every row before quantizing (`gridgames.<name>.padded`): the codes
    /// hold `shape[..-1] × (last + row_padding)` values, row after row.
    pub row_padding: usize,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

/// Read the float tensors of a safetensors file (F32, F16, BF16; others are skipped), or only those whose
/// names contain `filter`.
pub fn read_safetensors_floats(
    path: &Path,
    bytes: &[u8],
    filter: Option<&str>,
) -> Result<Vec<FloatTensor>, String> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| io_err(path, format!("not a valid safetensors file: {e}")))?;
    let mut out = Vec::new();
    let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
    names.sort();
    for name in names {
        if filter.is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let view = st
            .tensor(&name)
            .map_err(|e| io_err(path, format!("tensor `{name}`: {e}")))?;
        let data = match view.dtype() {
            Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F16 => view
                .data()
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Dtype::BF16 => view
                .data()
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            _ => continue,
        };
        out.push(FloatTensor {
            name,
            shape: view.shape().to_vec(),
            data,
        });
    }
    Ok(out)
}

/// Read float input from `.npy` or `.safetensors` (by extension).
pub fn read_float_input(
    path: &Path,
    npy_u16_as_bf16: bool,
    filter: Option<&str>,
) -> Result<Vec<FloatTensor>, String> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    float_input_from_bytes(path, &bytes, npy_u16_as_bf16, filter)
}

/// [`read_float_input`] over bytes already read (the CLI reads them under `--max-bytes`);
/// `path` gives the type (by extension) and the name in messages.
pub fn float_input_from_bytes(
    path: &Path,
    bytes: &[u8],
    npy_u16_as_bf16: bool,
    filter: Option<&str>,
) -> Result<Vec<FloatTensor>, String> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => {
            let arr = npy::parse(bytes).map_err(|e| io_err(path, e))?;
            let data = arr.to_f32(npy_u16_as_bf16).map_err(|e| io_err(path, e))?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "tensor".into());
            Ok(vec![FloatTensor {
                name,
                shape: arr.shape,
                data,
            }])
        }
        Some("safetensors") => read_safetensors_floats(path, bytes, filter),
        _ => Err(format!(
            "{}: unknown input type (expected .npy or .safetensors)",
            path.display()
        )),
    }
}

fn scale_dtype(format: &Format) -> Dtype {
    match (format.scale_bytes, format.scale_element.name) {
        (4, _) => Dtype::F32,
        (_, "ue8m0") => Dtype::F8_E8M0,
        (_, "ue4m3") | (_, "e4m3") => Dtype::F8_E4M3,
        _ => Dtype::U8,
    }
}

/// Serialize quantized tensors. `items` pairs each tensor's base name (`<name>.weight` is
/// written) and original shape with its quantization. Tensors that were not quantized
/// (`passthrough`) are copied as F32.
pub fn safetensors_bytes(
    items: &[(String, Vec<usize>, Quantized)],
    passthrough: &[FloatTensor],
    format: &Format,
    profile: Profile,
) -> Result<Vec<u8>, String> {
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut meta = HashMap::new();
    meta.insert(META_FORMAT.to_string(), format.name.to_string());
    meta.insert(META_PROFILE.to_string(), profile.name().to_string());
    meta.insert(
        META_VERSION.to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );
    meta.insert("format".to_string(), "pt".to_string());
    for (name, shape, q) in items {
        let cols = *shape.last().unwrap_or(&0);
        let rows: usize = shape.iter().rev().skip(1).product::<usize>().max(1);
        let stored_cols = cols + if rows == 1 { q.padded } else { 0 };
        if q.padded > 0 && rows != 1 {
            return Err(format!(
                "tensor `{name}`: padding is only supported for 1-D (or 1-row) tensors"
            ));
        }
        let mut code_shape = shape.clone();
        if let Some(last) = code_shape.last_mut() {
            *last = stored_cols.div_ceil(2);
        }
        let mut scale_shape = shape.clone();
        if let Some(last) = scale_shape.last_mut() {
            *last = stored_cols / format.group_size as usize;
        }
        let scale_dtype = scale_dtype(format);
        owned.push((
            format!("{name}.weight"),
            Dtype::U8,
            code_shape,
            q.codes.clone(),
        ));
        owned.push((
            format!("{name}.weight_scale"),
            scale_dtype,
            scale_shape,
            q.scales.clone(),
        ));
        if let Some(ts) = q.tensor_scale {
            owned.push((
                format!("{name}.weight_scale_2"),
                Dtype::F32,
                vec![],
                ts.to_le_bytes().to_vec(),
            ));
        }
        if q.padded > 0 {
            meta.insert(format!("gridgames.{name}.padded"), q.padded.to_string());
        }
    }
    for t in passthrough {
        owned.push((
            t.name.clone(),
            Dtype::F32,
            t.shape.clone(),
            t.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ));
    }
    let mut views = Vec::new();
    for (name, dtype, shape, data) in &owned {
        let view = TensorView::new(*dtype, shape.clone(), data)
            .map_err(|e| format!("tensor `{name}`: {e}"))?;
        views.push((name.clone(), view));
    }
    safetensors::serialize(views, Some(meta)).map_err(|e| format!("cannot serialize: {e}"))
}

/// The quantized tensors of a safetensors file: every `<name>.weight` of dtype U8 with a
/// `<name>.weight_scale` beside it. Sizes are checked against the format. Scales are
/// returned linear: read in `layout` when given, else in the file's `gridgames.scale_layout`
/// (linear when absent); a given layout that contradicts the file's is an error.
pub fn read_quantized(
    path: &Path,
    bytes: &[u8],
    format: &Format,
    layout: Option<ScaleLayout>,
) -> Result<Vec<StoredQuantized>, String> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| io_err(path, format!("not a valid safetensors file: {e}")))?;
    let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(|e| io_err(path, e))?;
    let meta = metadata.metadata().clone().unwrap_or_default();
    let recorded = match meta.get(META_SCALE_LAYOUT) {
        None => None,
        Some(name) => Some(ScaleLayout::from_name(name).ok_or_else(|| {
            io_err(
                path,
                format!("metadata `{META_SCALE_LAYOUT}` = `{name}` is not a known scale layout"),
            )
        })?),
    };
    let layout = match (layout, recorded) {
        (Some(given), Some(file)) if given != file => {
            return Err(io_err(
                path,
                format!(
                    "the file records scale layout `{}` (metadata `{META_SCALE_LAYOUT}`), but `{}` was asked for (option `scale_layout`)",
                    file.name(),
                    given.name()
                ),
            ))
        }
        (Some(l), _) | (None, Some(l)) => l,
        (None, None) => ScaleLayout::Linear,
    };
    layout.check_format(format).map_err(|e| io_err(path, e))?;
    let mut out = Vec::new();
    let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
    names.sort();
    for weight in names.iter().filter(|n| n.ends_with(".weight")) {
        let base = &weight[..weight.len() - ".weight".len()];
        let Ok(scale) = st.tensor(&format!("{base}.weight_scale")) else {
            continue;
        };
        let codes = st.tensor(weight).map_err(|e| io_err(path, e))?;
        if codes.dtype() != Dtype::U8 {
            continue;
        }
        let expected_scale_bytes = format.scale_bytes as usize;
        if scale.data().len() % expected_scale_bytes != 0 {
            return Err(io_err(
                path,
                format!(
                    "`{base}.weight_scale` has {} bytes, not a multiple of {expected_scale_bytes}",
                    scale.data().len()
                ),
            ));
        }
        let mut shape = codes.shape().to_vec();
        let padded: usize = meta
            .get(&format!("gridgames.{base}.padded"))
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        // The recorded padding must fit inside the last group of the stored codes: a hostile
        // value used to underflow here and, with wrapping arithmetic, come back to a
        // plausible element count beside a huge shape (fuzz/regressions/safetensors).
        let group = format.group_size as usize;
        let stored_last = shape.last().map_or(0, |&l| l * 2);
        if padded > 0 && (padded >= group || padded >= stored_last) {
            return Err(io_err(
                path,
                format!(
                    "`gridgames.{base}.padded` = {padded} is not a padding of the last group ({stored_last} stored values in groups of {group})"
                ),
            ));
        }
        // Every row holds `stored_last` values, the last `padded` of them padding.
        let n: usize = shape
            .iter()
            .rev()
            .skip(1)
            .try_fold(stored_last, |a, &d| a.checked_mul(d))
            .ok_or_else(|| io_err(path, format!("`{base}`: shape {shape:?} overflows")))?;
        if let Some(last) = shape.last_mut() {
            *last = *last * 2 - padded;
        }
        let groups = n.div_ceil(format.group_size as usize);
        // Rows of whole groups, as a swizzled layout needs them: (rows, groups per row).
        let grid = (stored_last > 0 && stored_last.is_multiple_of(group))
            .then(|| (n / stored_last, stored_last / group));
        let scales = if layout != ScaleLayout::Linear {
            // Swizzled: each scale at the layout's index.
            let Some((rows, per_row)) = grid else {
                return Err(io_err(
                    path,
                    format!(
                        "`{base}`: rows of {stored_last} stored values are not whole groups of {group}, so scale layout `{}` does not apply",
                        layout.name()
                    ),
                ));
            };
            let mut linear = vec![0u8; rows * per_row];
            layout
                .to_linear(scale.data(), rows, per_row, &mut linear)
                .map_err(|e| io_err(path, format!("`{base}.weight_scale`: {e}")))?;
            linear
        } else if scale.data().len() != groups * expected_scale_bytes {
            // Name a swizzled layout whose padded size this is (a kernel's checkpoint).
            let hint = grid
                .filter(|_| expected_scale_bytes == 1)
                .and_then(|(rows, per_row)| {
                    ScaleLayout::ALL.into_iter().find(|l| {
                        *l != ScaleLayout::Linear
                            && l.stored_len(rows, per_row) == scale.data().len()
                    })
                })
                .map(|l| {
                    format!(
                        "; that is the padded size of the `{}` layout: read the scales in that layout (option `scale_layout`)",
                        l.name()
                    )
                })
                .unwrap_or_default();
            return Err(io_err(
                path,
                format!(
                    "`{base}`: {n} elements in groups of {} need {groups} scales, but `{base}.weight_scale` holds {}{hint}",
                    format.group_size,
                    scale.data().len() / expected_scale_bytes
                ),
            ));
        } else {
            scale.data().to_vec()
        };
        out.push(StoredQuantized {
            name: base.to_string(),
            shape,
            codes: codes.data().to_vec(),
            scales,
            tensor_scale: tensor_scale_of(path, &st, base, format)?,
            row_padding: padded,
        });
    }
    Ok(out)
}

/// The `<base>.weight_scale_2` of a format with a tensor scale (one F32), checked.
fn tensor_scale_of(
    path: &Path,
    st: &SafeTensors,
    base: &str,
    format: &Format,
) -> Result<Option<f32>, String> {
    Ok(if format.tensor_scale {
        let t = st.tensor(&format!("{base}.weight_scale_2")).map_err(|_| {
            io_err(
                path,
                format!(
                    "`{base}.weight_scale_2` is missing; format `{}` needs a tensor scale",
                    format.name
                ),
            )
        })?;
        if t.dtype() != Dtype::F32 || t.data().len() != 4 {
            return Err(io_err(
                path,
                format!("`{base}.weight_scale_2` must be one F32"),
            ));
        }
        let d = t.data();
        Some(f32::from_le_bytes([d[0], d[1], d[2], d[3]]))
    } else {
        None
    })
}

/// The format and profile named in a file's metadata, if any.
pub fn metadata_format(bytes: &[u8]) -> Option<(String, Option<String>)> {
    let (_, metadata) = SafeTensors::read_metadata(bytes).ok()?;
    let meta = metadata.metadata().clone()?;
    let format = meta.get(META_FORMAT)?.clone();
    Some((format, meta.get(META_PROFILE).cloned()))
}
