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
use std::path::Path;

use safetensors::tensor::Dtype;

use super::{io_err, npy, scale_dtype, META_FORMAT, META_PROFILE, META_RULE, META_VERSION};
use crate::quant::Quantizer;

/// Elements per chunk (rounded down to whole groups, at least one pair of groups): 4 MiB of
/// f32, small next to any tensor worth streaming and large enough that reads stay sequential.
pub const CHUNK_ELEMENTS: usize = 1 << 20;

/// Largest safetensors header accepted (the `safetensors` crate's own limit).
const MAX_SAFETENSORS_HEADER: u64 = 100_000_000;

/// Element type of a float input tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatDtype {
    /// IEEE binary32.
    F32,
    /// IEEE binary16.
    F16,
    /// bfloat16 (stored as `<u2` in `.npy`).
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

/// A tensor inside a file: where its data lies, not the data (any dtype: what is not
/// quantized is copied byte for byte).
#[derive(Clone, Debug, PartialEq)]
pub struct RawSource {
    /// Tensor name.
    pub name: String,
    /// Shape, outermost dimension first.
    pub shape: Vec<usize>,
    /// The safetensors dtype, as stored.
    pub stored: Dtype,
    /// Absolute byte offset of the data.
    pub offset: u64,
    /// Data length in bytes.
    pub bytes: u64,
}

/// A float tensor inside a file: where its data lies, not the data.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatSource {
    /// Tensor name.
    pub name: String,
    /// Shape, outermost dimension first.
    pub shape: Vec<usize>,
    /// Stored element type, converted to f32 exactly on read.
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
    let (file, floats, _) = scan_input(path, npy_u16_as_bf16, filter)?;
    Ok((file, floats))
}

/// [`scan_float_input`], plus every tensor of a safetensors file (floats included) as a
/// [`RawSource`], so that what is not quantized can be copied as it is.
pub fn scan_input(
    path: &Path,
    npy_u16_as_bf16: bool,
    filter: Option<&str>,
) -> Result<(File, Vec<FloatSource>, Vec<RawSource>), String> {
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
                        "uint16 input: read it as bf16 bit patterns (option `bf16`) or convert it to a float dtype",
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
                Vec::new(),
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
            let mut raw = Vec::new();
            let mut names: Vec<(String, &safetensors::tensor::TensorInfo)> =
                meta.tensors().into_iter().collect();
            names.sort_by(|a, b| a.0.cmp(&b.0));
            for (name, info) in names {
                if filter.is_some_and(|f| !name.contains(f)) {
                    continue;
                }
                raw.push(RawSource {
                    name: name.clone(),
                    shape: info.shape.clone(),
                    stored: info.dtype,
                    offset: data_start + info.data_offsets.0 as u64,
                    bytes: (info.data_offsets.1 - info.data_offsets.0) as u64,
                });
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
            Ok((file, out, raw))
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

/// One worker's buffers, kept across chunks and tensors (fresh ones would cost page faults
/// and zero-fills on every tensor of a checkpoint).
#[derive(Default)]
struct WorkerBufs {
    raw: Vec<u8>,
    x: Vec<f32>,
    padded: Vec<f32>,
    codes: Vec<u8>,
    scales: Vec<u8>,
}

/// Run `work` on chunks `0..chunks` with one thread per element of `bufs` (chunk c on worker
/// c mod workers), each worker with its own handle on `input` and its own buffers, and hand
/// every result to `take` on this thread as it arrives (in any order). The first error stops
/// the run.
fn parallel_chunks<T: Send>(
    input: &Path,
    bufs: &mut [WorkerBufs],
    chunks: usize,
    work: impl Fn(&mut File, usize, &mut WorkerBufs) -> Result<T, String> + Sync,
    mut take: impl FnMut(usize, T) -> Result<(), String>,
) -> Result<(), String> {
    let workers = bufs.len().clamp(1, chunks.max(1));
    if workers <= 1 {
        let mut file = File::open(input).map_err(|e| io_err(input, e))?;
        let mut local = WorkerBufs::default();
        let b = bufs.first_mut().unwrap_or(&mut local);
        for c in 0..chunks {
            take(c, work(&mut file, c, b)?)?;
        }
        return Ok(());
    }
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<(usize, T), String>>(2 * workers);
        for (k, b) in bufs.iter_mut().take(workers).enumerate() {
            let tx = tx.clone();
            let work = &work;
            s.spawn(move || {
                let mut file = match File::open(input) {
                    Ok(f) => f,
                    Err(e) => {
                        let _ = tx.send(Err(io_err(input, e)));
                        return;
                    }
                };
                for c in (k..chunks).step_by(workers) {
                    let r = work(&mut file, c, b).map(|t| (c, t));
                    let failed = r.is_err();
                    // A closed channel: the receiver stopped on an error.
                    if tx.send(r).is_err() || failed {
                        return;
                    }
                }
            });
        }
        drop(tx);
        for r in rx {
            let (c, t) = r?;
            take(c, t)?;
        }
        Ok(())
    })
}

/// What to write for one output tensor.
enum Body {
    /// Codes of quantized input tensor `i`.
    Codes(usize),
    /// Scales of quantized input tensor `i`.
    Scales(usize),
    /// Tensor scale of quantized input tensor `i`.
    TensorScale(usize),
    /// An input tensor copied byte for byte.
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
    /// Names of tensors copied byte for byte, in their own dtype.
    pub copied: Vec<String>,
    /// The selection rule, as recorded in the file's metadata.
    pub rule: String,
}

/// Which tensors of a safetensors input are quantized; every other tensor is copied byte for
/// byte in its own dtype.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Quantize the tensors whose names match (a regular expression, searched anywhere in the
    /// name; anchor it with `^…$` for an exact name). None: the default rule, every 2-D
    /// F32/F16/BF16 tensor named `*.weight` whose last dimension fits the group size (the
    /// linear layers, as ModelOpt's NVFP4 export does).
    pub tensor: Option<regex::Regex>,
    /// Never quantize the tensors whose names match.
    pub exclude: Option<regex::Regex>,
}

impl Selection {
    /// The rule in words (recorded as `gridgames.rule` in the output's metadata).
    pub fn describe(&self, group: usize) -> String {
        let mut s = match &self.tensor {
            Some(re) => format!("tensors matching /{}/", re.as_str()),
            None => format!(
                "2-D float tensors named *.weight with the last dimension a multiple of {group}"
            ),
        };
        if let Some(re) = &self.exclude {
            s.push_str(&format!(", except those matching /{}/", re.as_str()));
        }
        s
    }
}

/// One output item: a quantized float tensor (each row padded with `row_pad` zeros), or a
/// tensor copied as it is.
enum Item {
    Quant { src: FloatSource, row_pad: usize },
    Copy(RawSource),
}

/// Quantize the float tensors of `input` (`.npy` or safetensors) into a safetensors file at
/// `output`, streaming. Groups run along the last dimension: a tensor whose last dimension is
/// not a multiple of the group size is padded row by row when `pad` (recorded in the
/// metadata), and refused otherwise. `selection` chooses the tensors of a safetensors input
/// (see [`Selection`]); the others are copied byte for byte. `chunk` is the number of
/// elements per read. One thread, the selected SIMD backend (the output depends on neither).
pub fn quantize_file(
    input: &Path,
    output: &Path,
    quantizer: &Quantizer,
    pad: bool,
    npy_u16_as_bf16: bool,
    selection: &Selection,
    chunk: usize,
) -> Result<StreamReport, String> {
    quantize_file_with(
        input,
        output,
        quantizer,
        pad,
        npy_u16_as_bf16,
        selection,
        chunk,
        &WriteOptions::default(),
    )
}

/// How [`quantize_file_with`] computes and writes.
#[derive(Clone, Copy, Debug)]
pub struct WriteOptions {
    /// SIMD backend and threads (each chunk is quantized by `crate::simd::quantize_chunk`,
    /// bit for bit the group-by-group oracle).
    pub simd: crate::simd::Options,
    /// Layout of the written `.weight_scale` tensors (swizzled ones are padded, shape
    /// `[padded rows, padded groups]`, recorded in `gridgames.scale_layout`).
    pub scale_layout: crate::layout::ScaleLayout,
}

impl Default for WriteOptions {
    fn default() -> WriteOptions {
        WriteOptions {
            simd: crate::simd::Options::default(),
            scale_layout: crate::layout::ScaleLayout::Linear,
        }
    }
}

/// The rows-padding a tensor needs (0 when its last dimension is a multiple of `group`), or
/// the error naming it.
fn row_padding(
    input: &Path,
    src: &FloatSource,
    group: usize,
    pad: bool,
    format: &str,
) -> Result<usize, String> {
    let cols = *src.shape.last().unwrap_or(&src.count);
    if cols == 0 {
        return Err(format!(
            "{}: tensor `{}` (shape {:?}) is empty",
            input.display(),
            src.name,
            src.shape
        ));
    }
    if cols.is_multiple_of(group) {
        Ok(0)
    } else if pad {
        Ok(group - cols % group)
    } else {
        Err(format!(
            "{}: tensor `{}` (shape {:?}): the last dimension {cols} is not a multiple of the group size {group} of `{format}` (groups run along the last dimension); pad each row with zeros (option `pad`)",
            input.display(),
            src.name,
            src.shape
        ))
    }
}

/// [`quantize_file`] with the backend, threads and scale layout of `write`.
#[allow(clippy::too_many_arguments)]
pub fn quantize_file_with(
    input: &Path,
    output: &Path,
    quantizer: &Quantizer,
    pad: bool,
    npy_u16_as_bf16: bool,
    selection: &Selection,
    chunk: usize,
    write: &WriteOptions,
) -> Result<StreamReport, String> {
    let (mut file, sources, raw) = scan_input(input, npy_u16_as_bf16, None)?;
    let format = &quantizer.format;
    let opts = &write.simd;
    let layout = write.scale_layout;
    let group = format.group_size as usize;
    if group == 0 {
        return Err(format!("format `{}` has group size 0", format.name));
    }
    layout.check_format(format).map_err(|e| e.to_string())?;
    let is_npy = input.extension().is_some_and(|e| e == "npy");
    let rule = if is_npy {
        "the .npy tensor".to_string()
    } else {
        selection.describe(group)
    };
    let floats: BTreeMap<&str, &FloatSource> =
        sources.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut items = Vec::new();
    if is_npy {
        for src in sources.iter().cloned() {
            let row_pad = row_padding(input, &src, group, pad, format.name)?;
            items.push(Item::Quant { src, row_pad });
        }
    } else {
        for r in &raw {
            let excluded = selection
                .exclude
                .as_ref()
                .is_some_and(|re| re.is_match(&r.name));
            let float = floats.get(r.name.as_str());
            let chosen = match (&selection.tensor, float) {
                (_, None) => false,
                (Some(re), Some(_)) => re.is_match(&r.name) && !excluded,
                (None, Some(f)) => {
                    let cols = *f.shape.last().unwrap_or(&0);
                    !excluded
                        && f.shape.len() == 2
                        && r.name.ends_with(".weight")
                        && cols > 0
                        && (cols.is_multiple_of(group) || pad)
                }
            };
            match float {
                Some(f) if chosen => {
                    if !r.name.ends_with(".weight") {
                        return Err(format!(
                            "{}: tensor `{}` matches the tensor selection, but only tensors named `*.weight` can be quantized (the output is named `<name>.weight`, `.weight_scale`, `.weight_scale_2`, as loaders expect)",
                            input.display(),
                            r.name
                        ));
                    }
                    let row_pad = row_padding(input, f, group, pad, format.name)?;
                    items.push(Item::Quant {
                        src: (*f).clone(),
                        row_pad,
                    });
                }
                _ => items.push(Item::Copy(r.clone())),
            }
        }
    }
    if !items.iter().any(|i| matches!(i, Item::Quant { .. })) {
        let names: Vec<&str> = raw.iter().map(|r| r.name.as_str()).take(12).collect();
        return Err(format!(
            "{}: no tensor to quantize (rule: {rule}); tensors in the file: {}{}",
            input.display(),
            names.join(", "),
            if raw.len() > 12 { ", ..." } else { "" }
        ));
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
    meta.insert(META_RULE.to_string(), rule.clone());
    meta.insert("format".to_string(), "pt".to_string());
    if layout != crate::layout::ScaleLayout::Linear {
        meta.insert(
            super::META_SCALE_LAYOUT.to_string(),
            layout.name().to_string(),
        );
    }
    let mut entries = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let (src, row_pad) = match item {
            Item::Copy(r) => {
                entries.push(Entry {
                    name: r.name.clone(),
                    dtype: r.stored,
                    shape: r.shape.clone(),
                    bytes: r.bytes,
                    body: Body::Copy(i),
                    offset: 0,
                });
                continue;
            }
            Item::Quant { src, row_pad } => (src, *row_pad),
        };
        let name = if is_npy {
            "tensor".to_string()
        } else {
            src.name.trim_end_matches(".weight").to_string()
        };
        let shape = if src.shape.is_empty() {
            vec![1]
        } else {
            src.shape.clone()
        };
        let cols = (*shape.last().unwrap_or(&1)).max(1);
        let rows = src.count / cols;
        let stored_cols = cols + row_pad;
        let stored = rows * stored_cols;
        let mut code_shape = shape.clone();
        if let Some(last) = code_shape.last_mut() {
            *last = stored_cols / 2;
        }
        let mut scale_shape = shape.clone();
        if let Some(last) = scale_shape.last_mut() {
            *last = stored_cols / group;
        }
        let groups = stored / group;
        let (scale_shape, scale_bytes) = if layout == crate::layout::ScaleLayout::Linear {
            (scale_shape, (groups * format.scale_bytes as usize) as u64)
        } else {
            let (pr, pg) = layout.padded(rows, stored_cols / group);
            (vec![pr, pg], (pr * pg) as u64)
        };
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
            bytes: scale_bytes,
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
        if row_pad > 0 {
            meta.insert(format!("gridgames.{name}.padded"), row_pad.to_string());
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

    let mut tmp = crate::fsio::AtomicFile::create(output)?;
    let out = tmp.file()?;
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
    let mut raw_buf = Vec::new();
    let mut x = Vec::new();
    let mut pool: Vec<WorkerBufs> = (0..opts.threads.max(1))
        .map(|_| WorkerBufs::default())
        .collect();
    let mut report = StreamReport {
        rule,
        ..StreamReport::default()
    };
    for (i, item) in items.iter().enumerate() {
        let (src, row_pad) = match item {
            Item::Copy(r) => {
                let dst = at(&|b| matches!(b, Body::Copy(j) if *j == i));
                let mut done = 0u64;
                while done < r.bytes {
                    let n = (4u64 << 20).min(r.bytes - done);
                    raw_buf.resize(n as usize, 0);
                    file.seek(SeekFrom::Start(r.offset + done))
                        .and_then(|_| file.read_exact(&mut raw_buf))
                        .map_err(|e| io_err(input, format!("tensor `{}`: {e}", r.name)))?;
                    out.seek(SeekFrom::Start(dst + done))
                        .and_then(|_| out.write_all(&raw_buf))
                        .map_err(werr)?;
                    done += n;
                }
                report.copied.push(r.name.clone());
                continue;
            }
            Item::Quant { src, row_pad } => (src, *row_pad),
        };
        // Pass 1: the tensor's largest magnitude, and the first non-finite value the profile
        // has no rule for (the in-memory quantizer reports that before anything else). The
        // workers read and scan their chunks in parallel; one integer max over the magnitude
        // bits (`simd::amax_bits`, the backend's vector max) decides both: below the Inf pattern every value
        // is finite and the bits order as the magnitudes. A non-finite value anywhere sends the tensor through
        // the sequential scan, which names the first one (or, for profiles with a rule for
        // them, takes the amax as the in-memory quantizer does).
        let chunks = src.count.div_ceil(step);
        let mut max_bits = 0u32;
        parallel_chunks(
            input,
            &mut pool,
            chunks,
            |file, c, b| {
                let done = c * step;
                read_values(
                    input,
                    file,
                    src,
                    done,
                    step.min(src.count - done),
                    &mut b.raw,
                    &mut b.x,
                )?;
                Ok(crate::simd::amax_bits(opts.backend.effective(), &b.x))
            },
            |_, bits| {
                max_bits = max_bits.max(bits);
                Ok(())
            },
        )?;
        let amax = if max_bits < 0x7f80_0000 {
            f32::from_bits(max_bits)
        } else {
            let mut amax = 0f32;
            let mut done = 0;
            while done < src.count {
                let n = step.min(src.count - done);
                read_values(input, &mut file, src, done, n, &mut raw_buf, &mut x)?;
                quantizer
                    .check_finite(&x, done)
                    .map_err(|e| format!("{}: tensor `{}`: {e}", input.display(), src.name))?;
                amax = x.iter().fold(amax, |m, v| m.max(v.abs()));
                done += n;
            }
            amax
        };
        let ctx = quantizer.tensor_context_for_amax(amax);
        if format.tensor_scale {
            let dst = at(&|b| matches!(b, Body::TensorScale(j) if *j == i));
            out.seek(SeekFrom::Start(dst))
                .and_then(|_| out.write_all(&ctx.scale.to_le_bytes()))
                .map_err(werr)?;
        }
        // Pass 2: whole rows of whole groups, chunk by chunk, each row padded with `row_pad`
        // zeros (zeros cannot change the tensor's largest magnitude).
        let codes_at = at(&|b| matches!(b, Body::Codes(j) if *j == i));
        let scales_at = at(&|b| matches!(b, Body::Scales(j) if *j == i));
        let cols = (*src.shape.last().unwrap_or(&src.count)).max(1);
        let rows = src.count / cols;
        let stored_cols = cols + row_pad;
        let rows_per = (step / stored_cols).max(1);
        let per_row = stored_cols / group;
        let swizzled_layout = layout != crate::layout::ScaleLayout::Linear;
        let mut all_scales = vec![0u8; if swizzled_layout { rows * per_row } else { 0 }];
        let chunks = rows.div_ceil(rows_per);
        // Each worker quantizes whole chunks on one thread (its plan cached for the tensor)
        // and writes them at their offsets, in any order.
        let one = crate::simd::Options {
            threads: 1,
            ..*opts
        };
        let sink = std::sync::Mutex::new((&mut *out, &mut all_scales));
        parallel_chunks(
            input,
            &mut pool,
            chunks,
            |file, c, b| {
                let row = c * rows_per;
                let nr = rows_per.min(rows - row);
                read_values(
                    input,
                    file,
                    src,
                    row * cols,
                    nr * cols,
                    &mut b.raw,
                    &mut b.x,
                )?;
                let values: &[f32] = if row_pad == 0 {
                    &b.x
                } else {
                    b.padded.clear();
                    for r in b.x.chunks(cols) {
                        b.padded.extend_from_slice(r);
                        b.padded.resize(b.padded.len() + row_pad, 0.0);
                    }
                    &b.padded
                };
                crate::simd::quantize_chunk(
                    quantizer,
                    &ctx,
                    values,
                    &one,
                    &mut b.codes,
                    &mut b.scales,
                );
                // Every row is a whole number of groups (an even number of values), so each
                // chunk starts on a whole code byte.
                let first = row * stored_cols;
                let mut guard = sink.lock().map_err(|_| "a worker panicked".to_string())?;
                let (out, all_scales) = &mut *guard;
                out.seek(SeekFrom::Start(codes_at + (first / 2) as u64))
                    .and_then(|_| out.write_all(&b.codes))
                    .map_err(werr)?;
                if swizzled_layout {
                    // Swizzled scales are written once the tensor's are all known (1/group
                    // of the values: small beside the chunk buffers).
                    all_scales[first / group..first / group + b.scales.len()]
                        .copy_from_slice(&b.scales);
                } else {
                    let scale_off = (first / group * format.scale_bytes as usize) as u64;
                    out.seek(SeekFrom::Start(scales_at + scale_off))
                        .and_then(|_| out.write_all(&b.scales))
                        .map_err(werr)?;
                }
                Ok(())
            },
            |_, ()| Ok(()),
        )?;
        if swizzled_layout {
            let mut swizzled = vec![0u8; layout.stored_len(rows, per_row)];
            layout
                .from_linear(&all_scales, rows, per_row, &mut swizzled)
                .map_err(|e| format!("tensor `{}`: {e}", src.name))?;
            out.seek(SeekFrom::Start(scales_at))
                .and_then(|_| out.write_all(&swizzled))
                .map_err(werr)?;
        }
        report
            .quantized
            .push((src.name.clone(), src.count, rows * stored_cols / group));
    }
    tmp.commit()?;
    Ok(report)
}
