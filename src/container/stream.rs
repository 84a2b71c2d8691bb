//! Streaming quantize: a float tensor file (`.npy` or safetensors) in, a quantized
//! safetensors file out, with memory bounded by one chunk of whole groups rather than by the
//! tensor.
//!
//! How: the input's header is read alone and every size it declares is checked against the
//! file's real length before anything is allocated. Each tensor is then read twice with
//! `Read` + `Seek`, chunk by chunk: once for its largest magnitude (the tensor scale needs
//! it before the first group can be quantized), once to quantize. The output's header is
//! computable up front (every size follows from the shapes), so the output file is created
//! at its final length and each chunk's codes and scales are written at their offsets. The
//! file is a temporary beside the output, renamed into place only when complete.
//!
//! The result equals [`super::safetensors_bytes`] over [`crate::quant::Quantizer::quantize`]
//! tensor for tensor (same names, dtypes, shapes, data and metadata; `tests/limits.rs`
//! compares them); only the header's key order differs (sorted here, so files are
//! reproducible byte for byte).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use safetensors::tensor::Dtype;

use super::{io_err, npy, scale_dtype, META_FORMAT, META_PROFILE, META_VERSION};
use crate::quant::{QuantError, Quantizer};

/// Elements per chunk (rounded down to whole groups, at least one pair of groups): 4 MiB of
/// f32, small next to any tensor worth streaming and large enough that reads stay sequential.
pub const CHUNK_ELEMENTS: usize = 1 << 20;

/// Largest safetensors header accepted (the `safetensors` crate's own limit).
const MAX_SAFETENSORS_HEADER: u64 = 100_000_000;

/// Element type of a float input tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatDtype {
    F32,
    F16,
    Bf16,
}

impl FloatDtype {
    fn size(self) -> usize {
        match self {
            FloatDtype::F32 => 4,
            FloatDtype::F16 | FloatDtype::Bf16 => 2,
        }
    }

    /// Convert little-endian bytes (a whole number of elements) to f32, exactly.
    fn convert(self, bytes: &[u8], out: &mut Vec<f32>) {
        out.clear();
        match self {
            FloatDtype::F32 => out.extend(
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            ),
            FloatDtype::F16 => out.extend(
                bytes
                    .chunks_exact(2)
                    .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()),
            ),
            FloatDtype::Bf16 => out.extend(
                bytes
                    .chunks_exact(2)
                    .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()),
            ),
        }
    }
}

/// A float tensor inside a file: where its data lies, not the data.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatSource {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: FloatDtype,
    /// Absolute byte offset of the first element.
    pub offset: u64,
    /// Number of elements (the product of `shape`, checked).
    pub count: usize,
}

fn read_prefix(path: &Path, file: &mut File, max: u64) -> Result<Vec<u8>, String> {
    let mut prefix = Vec::new();
    Read::by_ref(file)
        .take(max)
        .read_to_end(&mut prefix)
        .map_err(|e| io_err(path, e))?;
    Ok(prefix)
}

/// The float tensors of an `.npy` or safetensors file (by extension), from its header alone.
/// Declared sizes are checked against the file length; nothing proportional to the data is
/// allocated. Non-float safetensors tensors are skipped, as [`super::read_float_input`] does.
pub fn scan_float_input(
    path: &Path,
    npy_u16_as_bf16: bool,
    filter: Option<&str>,
) -> Result<(File, Vec<FloatSource>), String> {
    let mut file = File::open(path).map_err(|e| io_err(path, e))?;
    let file_len = file.metadata().map_err(|e| io_err(path, e))?.len();
    match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => {
            let prefix = read_prefix(path, &mut file, npy::MAX_HEADER as u64)?;
            let h = npy::parse_header(&prefix, file_len).map_err(|e| io_err(path, e))?;
            let dtype = match h.descr.as_str() {
                "<f4" => FloatDtype::F32,
                "<f2" => FloatDtype::F16,
                "<u2" if npy_u16_as_bf16 => FloatDtype::Bf16,
                "<u2" => {
                    return Err(io_err(
                        path,
                        "uint16 input: pass --bf16 to read it as bf16 bit patterns",
                    ))
                }
                d => return Err(io_err(path, format!("dtype `{d}` is not a float type"))),
            };
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "tensor".into());
            let count = h.data_len / dtype.size();
            Ok((
                file,
                vec![FloatSource {
                    name,
                    shape: h.shape,
                    dtype,
                    offset: h.data_start as u64,
                    count,
                }],
            ))
        }
        Some("safetensors") => {
            let bad = |m: String| io_err(path, format!("not a valid safetensors file: {m}"));
            let mut n8 = [0u8; 8];
            file.read_exact(&mut n8)
                .map_err(|_| bad("shorter than its 8-byte header length".into()))?;
            let n = u64::from_le_bytes(n8);
            if n > MAX_SAFETENSORS_HEADER || n > file_len.saturating_sub(8) {
                return Err(bad(format!(
                    "header length {n} exceeds the file ({file_len} bytes) or the 100 MB limit"
                )));
            }
            let header = read_prefix(path, &mut file, n)?;
            let text = std::str::from_utf8(&header).map_err(|e| bad(e.to_string()))?;
            let meta: safetensors::tensor::Metadata =
                serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
            // As `SafeTensors::read_metadata`: the data must end exactly at the file's end.
            let data_start = 8 + n;
            if data_start + meta.data_len() as u64 != file_len {
                return Err(bad(format!(
                    "the header describes {} data bytes, the file holds {}",
                    meta.data_len(),
                    file_len - data_start
                )));
            }
            let mut out = Vec::new();
            let mut names: Vec<(String, &safetensors::tensor::TensorInfo)> =
                meta.tensors().into_iter().collect();
            names.sort_by(|a, b| a.0.cmp(&b.0));
            for (name, info) in names {
                if filter.is_some_and(|f| !name.contains(f)) {
                    continue;
                }
                let dtype = match info.dtype {
                    Dtype::F32 => FloatDtype::F32,
                    Dtype::F16 => FloatDtype::F16,
                    Dtype::BF16 => FloatDtype::Bf16,
                    _ => continue,
                };
                // Metadata validation checked offsets against shape × dtype size.
                let count = (info.data_offsets.1 - info.data_offsets.0) / dtype.size();
                out.push(FloatSource {
                    name,
                    shape: info.shape.clone(),
                    dtype,
                    offset: data_start + info.data_offsets.0 as u64,
                    count,
                });
            }
            Ok((file, out))
        }
        _ => Err(format!(
            "{}: unknown input type (expected .npy or .safetensors)",
            path.display()
        )),
    }
}

/// Read elements `start..start + n` of `src` into `out` as f32.
fn read_values(
    path: &Path,
    file: &mut File,
    src: &FloatSource,
    start: usize,
    n: usize,
    buf: &mut Vec<u8>,
    out: &mut Vec<f32>,
) -> Result<(), String> {
    let size = src.dtype.size();
    buf.resize(n * size, 0);
    file.seek(SeekFrom::Start(src.offset + (start * size) as u64))
        .and_then(|_| file.read_exact(buf))
        .map_err(|e| io_err(path, format!("tensor `{}`: {e}", src.name)))?;
    src.dtype.convert(buf, out);
    Ok(())
}

/// What to write for one output tensor.
enum Body {
    /// Codes of quantized input tensor `i`.
    Codes(usize),
    /// Scales of quantized input tensor `i`.
    Scales(usize),
    /// Tensor scale of quantized input tensor `i`.
    TensorScale(usize),
    /// An input tensor copied as F32.
    Copy(usize),
}

struct Entry {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: u64,
    body: Body,
    offset: u64,
}

/// One input tensor's plan: quantized (with padding) or copied.
struct Plan {
    src: FloatSource,
    quantize: bool,
    padded: usize,
}

/// Removes the temporary file unless the output was renamed into place.
struct TempFile {
    path: PathBuf,
    done: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn dtype_name(d: Dtype) -> String {
    // Dtype's Serialize gives the safetensors spelling ("F8_E4M3", ...).
    serde_json::to_value(d)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| format!("{d:?}"))
}

/// Summary of a streaming quantize, for the CLI's report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamReport {
    /// (input name, values, groups) per quantized tensor.
    pub quantized: Vec<(String, usize, usize)>,
    /// Names of tensors copied as F32.
    pub copied: Vec<String>,
}

/// Quantize every float tensor of `input` (`.npy` or safetensors) into a safetensors file
/// at `output`, streaming. Decisions match `gridgames quantize`: a tensor whose last
/// dimension is not a multiple of the group size is copied as F32 when it is a 2-D-or-more
/// tensor of a safetensors file, padded when `pad` and it is one row, and refused otherwise.
/// `chunk` is the number of elements per read (rounded to whole pairs of groups).
/// One thread, the selected SIMD backend (the output does not depend on either).
pub fn quantize_file(
    input: &Path,
    output: &Path,
    quantizer: &Quantizer,
    pad: bool,
    npy_u16_as_bf16: bool,
    filter: Option<&str>,
    chunk: usize,
) -> Result<StreamReport, String> {
    let opts = crate::simd::Options::default();
    quantize_file_with(
        input,
        output,
        quantizer,
        pad,
        npy_u16_as_bf16,
        filter,
        chunk,
        &opts,
    )
}

/// [`quantize_file`] with the SIMD backend and thread count of `opts` (each chunk is
/// quantized by `crate::simd::quantize_chunk`, bit for bit the group-by-group oracle).
#[allow(clippy::too_many_arguments)]
pub fn quantize_file_with(
    input: &Path,
    output: &Path,
    quantizer: &Quantizer,
    pad: bool,
    npy_u16_as_bf16: bool,
    filter: Option<&str>,
    chunk: usize,
    opts: &crate::simd::Options,
) -> Result<StreamReport, String> {
    let (mut file, sources) = scan_float_input(input, npy_u16_as_bf16, filter)?;
    if sources.is_empty() {
        return Err(format!("{}: no float tensors to quantize", input.display()));
    }
    let format = &quantizer.format;
    let group = format.group_size as usize;
    if group == 0 {
        return Err(format!("format `{}` has group size 0", format.name));
    }
    let is_npy = input.extension().is_some_and(|e| e == "npy");
    let is_st = input.extension().is_some_and(|e| e == "safetensors");
    let mut plans = Vec::new();
    for src in sources {
        let cols = *src.shape.last().unwrap_or(&src.count);
        let one_row = src.shape.iter().rev().skip(1).product::<usize>() <= 1;
        let quantizable = cols % group == 0 || (pad && one_row);
        if !quantizable && src.shape.len() >= 2 && is_st {
            plans.push(Plan {
                src,
                quantize: false,
                padded: 0,
            });
            continue;
        }
        let padded = if src.count % group == 0 {
            0
        } else if pad {
            group - src.count % group
        } else {
            return Err(format!(
                "{}: tensor `{}`: {}",
                input.display(),
                src.name,
                QuantError::Length {
                    len: src.count,
                    group: format.group_size
                }
            ));
        };
        if padded > 0 && !one_row {
            return Err(format!(
                "tensor `{}`: padding is only supported for 1-D (or 1-row) tensors",
                src.name
            ));
        }
        plans.push(Plan {
            src,
            quantize: true,
            padded,
        });
    }

    // The output layout, as `safetensors_bytes` would write it.
    let mut meta = BTreeMap::new();
    meta.insert(META_FORMAT.to_string(), format.name.to_string());
    meta.insert(
        META_PROFILE.to_string(),
        quantizer.profile.name().to_string(),
    );
    meta.insert(
        META_VERSION.to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );
    meta.insert("format".to_string(), "pt".to_string());
    let mut entries = Vec::new();
    for (i, p) in plans.iter().enumerate() {
        if !p.quantize {
            entries.push(Entry {
                name: p.src.name.clone(),
                dtype: Dtype::F32,
                shape: p.src.shape.clone(),
                bytes: p.src.count as u64 * 4,
                body: Body::Copy(i),
                offset: 0,
            });
            continue;
        }
        let name = if is_npy {
            "tensor".to_string()
        } else {
            p.src.name.trim_end_matches(".weight").to_string()
        };
        let shape = if p.src.shape.is_empty() {
            vec![1]
        } else {
            p.src.shape.clone()
        };
        let stored = p.src.count + p.padded;
        let cols = *shape.last().unwrap_or(&0);
        let stored_cols = cols + p.padded;
        let mut code_shape = shape.clone();
        if let Some(last) = code_shape.last_mut() {
            *last = stored_cols.div_ceil(2);
        }
        let mut scale_shape = shape.clone();
        if let Some(last) = scale_shape.last_mut() {
            *last = stored_cols / group;
        }
        let groups = stored / group;
        entries.push(Entry {
            name: format!("{name}.weight"),
            dtype: Dtype::U8,
            shape: code_shape,
            bytes: format.code_bytes(stored) as u64,
            body: Body::Codes(i),
            offset: 0,
        });
        entries.push(Entry {
            name: format!("{name}.weight_scale"),
            dtype: scale_dtype(format),
            shape: scale_shape,
            bytes: (groups * format.scale_bytes as usize) as u64,
            body: Body::Scales(i),
            offset: 0,
        });
        if format.tensor_scale {
            entries.push(Entry {
                name: format!("{name}.weight_scale_2"),
                dtype: Dtype::F32,
                shape: vec![],
                bytes: 4,
                body: Body::TensorScale(i),
                offset: 0,
            });
        }
        if p.padded > 0 {
            meta.insert(format!("gridgames.{name}.padded"), p.padded.to_string());
        }
    }
    // safetensors' order: descending dtype alignment, then name.
    entries.sort_by(|a, b| b.dtype.cmp(&a.dtype).then(a.name.cmp(&b.name)));
    let mut offset = 0u64;
    let mut head = serde_json::Map::new();
    head.insert(
        "__metadata__".to_string(),
        serde_json::to_value(&meta).map_err(|e| e.to_string())?,
    );
    for e in &mut entries {
        e.offset = offset;
        head.insert(
            e.name.clone(),
            serde_json::json!({
                "dtype": dtype_name(e.dtype),
                "shape": e.shape,
                "data_offsets": [offset, offset + e.bytes],
            }),
        );
        offset += e.bytes;
    }
    let mut header = serde_json::to_string(&head).map_err(|e| e.to_string())?;
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let data_start = 8 + header.len() as u64;
    let total = data_start + offset;

    let dir = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = output
        .file_name()
        .ok_or_else(|| format!("{}: not a file path", output.display()))?;
    let mut tmp = TempFile {
        path: dir.join(format!(
            ".{}.tmp-{}",
            file_name.to_string_lossy(),
            std::process::id()
        )),
        done: false,
    };
    let mut out = File::create(&tmp.path).map_err(|e| io_err(&tmp.path, e))?;
    let werr = |e: std::io::Error| io_err(output, e);
    out.set_len(total).map_err(werr)?;
    out.write_all(&(header.len() as u64).to_le_bytes())
        .and_then(|_| out.write_all(header.as_bytes()))
        .map_err(werr)?;
    let at = |body: &dyn Fn(&Body) -> bool| {
        entries
            .iter()
            .find(|e| body(&e.body))
            .map_or(0, |e| data_start + e.offset)
    };

    let step = (chunk.max(1) / (2 * group)).max(1) * 2 * group;
    let mut raw = Vec::new();
    let mut x = Vec::new();
    let mut report = StreamReport::default();
    for (i, p) in plans.iter().enumerate() {
        let src = &p.src;
        if !p.quantize {
            let dst = at(&|b| matches!(b, Body::Copy(j) if *j == i));
            let mut done = 0;
            while done < src.count {
                let n = step.min(src.count - done);
                read_values(input, &mut file, src, done, n, &mut raw, &mut x)?;
                let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
                out.seek(SeekFrom::Start(dst + done as u64 * 4))
                    .and_then(|_| out.write_all(&bytes))
                    .map_err(werr)?;
                done += n;
            }
            report.copied.push(src.name.clone());
            continue;
        }
        // Pass 1: the tensor's largest magnitude, and the first non-finite value the profile
        // has no rule for (the in-memory quantizer reports that before anything else).
        let mut amax = 0f32;
        let mut done = 0;
        while done < src.count {
            let n = step.min(src.count - done);
            read_values(input, &mut file, src, done, n, &mut raw, &mut x)?;
            quantizer
                .check_finite(&x, done)
                .map_err(|e| format!("{}: tensor `{}`: {e}", input.display(), src.name))?;
            amax = x.iter().fold(amax, |m, v| m.max(v.abs()));
            done += n;
        }
        let ctx = quantizer.tensor_context_for_amax(amax);
        if format.tensor_scale {
            let dst = at(&|b| matches!(b, Body::TensorScale(j) if *j == i));
            out.seek(SeekFrom::Start(dst))
                .and_then(|_| out.write_all(&ctx.scale.to_le_bytes()))
                .map_err(werr)?;
        }
        // Pass 2: quantize whole groups, chunk by chunk (the last chunk zero-padded).
        let codes_at = at(&|b| matches!(b, Body::Codes(j) if *j == i));
        let scales_at = at(&|b| matches!(b, Body::Scales(j) if *j == i));
        let stored = src.count + p.padded;
        let mut codes = Vec::new();
        let mut scales = Vec::new();
        let mut done = 0;
        while done < stored {
            let n = step.min(stored - done);
            let real = n.min(src.count.saturating_sub(done));
            read_values(input, &mut file, src, done, real, &mut raw, &mut x)?;
            x.resize(n, 0.0);
            crate::simd::quantize_chunk(quantizer, &ctx, &x, opts, &mut codes, &mut scales);
            // `done` is a multiple of 2·group, so the chunk starts on a whole code byte.
            let scale_off = (done / group * format.scale_bytes as usize) as u64;
            out.seek(SeekFrom::Start(codes_at + (done / 2) as u64))
                .and_then(|_| out.write_all(&codes))
                .and_then(|_| out.seek(SeekFrom::Start(scales_at + scale_off)))
                .and_then(|_| out.write_all(&scales))
                .map_err(werr)?;
            done += n;
        }
        report
            .quantized
            .push((src.name.clone(), src.count, stored / group));
    }
    out.sync_all().map_err(werr)?;
    drop(out);
    std::fs::rename(&tmp.path, output).map_err(|e| io_err(output, e))?;
    tmp.done = true;
    Ok(report)
}
