//! `gridgames decode IN.safetensors OUT.npy|OUT.safetensors`: decode one quantized tensor to
//! an .npy, or every quantized tensor of a checkpoint to a dense safetensors checkpoint (the
//! other tensors copied byte for byte).
use std::path::PathBuf;
use std::process::ExitCode;

use gridgames::container::{self, npy};
use gridgames::decode::{self, Output};
use gridgames::simd::{self, Backend, Options};

#[derive(clap::Args)]
pub struct Args {
    /// Format, when the file does not name one in its metadata (ModelOpt checkpoints are
    /// nvfp4).
    #[arg(long)]
    pub format: Option<String>,
    /// Which tensor, by a regular expression on the base name (without `.weight`), searched
    /// anywhere in it (`^name$` for an exact name), as in `quantize`. An .npy output needs
    /// exactly one match; a .safetensors output decodes every match (default: all).
    #[arg(long)]
    pub tensor: Option<String>,
    /// Output type: f32, f16 or bf16 (.npy: f16/bf16 written as uint16 bit patterns;
    /// .safetensors: F32, F16 or BF16 tensors).
    #[arg(long, default_value = "f32")]
    pub output_type: String,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Layout of the file's .weight_scale tensors (linear, 128x4, 8x4; see `verify`).
    /// Default: the file's `gridgames.scale_layout` metadata, else linear.
    #[arg(long)]
    pub scale_layout: Option<String>,
    #[command(flatten)]
    pub limits: crate::cli_io::Limits,
    pub input: PathBuf,
    pub output: PathBuf,
}

/// The fast path's options for `--threads` (None: all cores), on the selected backend
/// (`GRIDGAMES_SIMD` or the CPU's best).
pub fn simd_options(threads: Option<usize>) -> Result<Options, String> {
    let mut opts = Options::all_cores(Backend::selected());
    match threads {
        Some(0) => return Err("--threads: expected at least 1".to_string()),
        Some(n) => opts.threads = n,
        None => {}
    }
    Ok(opts)
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let opts = simd_options(args.threads)?;
    let dense = args
        .output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"));
    crate::cli_io::check_output(
        &args.input,
        &args.output,
        if dense { "safetensors" } else { "npy" },
    )?;
    let bytes = crate::cli_io::read_input(&args.input, args.limits.max_bytes)?;
    let format_name = match (&args.format, container::metadata_format(&bytes)) {
        (Some(f), _) => f.clone(),
        (None, Some((f, _))) => f,
        (None, None) => "nvfp4".to_string(),
    };
    let format = gridgames::spec::resolve_format(&format_name)?;
    let output = match args.output_type.as_str() {
        "f32" => Output::F32,
        "f16" => Output::F16,
        "bf16" => Output::Bf16,
        other => {
            return Err(format!(
                "unknown output type `{other}` (expected f32, f16, bf16)"
            ))
        }
    };
    let layout = crate::cli_io::scale_layout_arg(args.scale_layout.as_deref())?;
    let tensors = container::read_quantized(&args.input, &bytes, &format, layout)?;
    let re = crate::cli_io::regex_arg("--tensor", args.tensor.as_deref())?;
    let chosen: Vec<_> = tensors
        .iter()
        .filter(|t| re.as_ref().is_none_or(|r| r.is_match(&t.name)))
        .collect();
    if chosen.is_empty() {
        let names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
        return Err(format!(
            "{}: no quantized tensor{} (found: {})",
            args.input.display(),
            args.tensor
                .as_ref()
                .map(|n| format!(" matching `{n}`"))
                .unwrap_or_default(),
            names.join(", ")
        ));
    }
    if dense {
        return write_dense(args, &bytes, &format, &chosen, output, &opts);
    }
    let t = match chosen.as_slice() {
        [one] => *one,
        many => {
            let names: Vec<&str> = many.iter().map(|t| t.name.as_str()).collect();
            return Err(format!(
                "{}: {} quantized tensors; pick one with --tensor, or write a .safetensors checkpoint ({})",
                args.input.display(),
                many.len(),
                names.join(", ")
            ));
        }
    };
    let descr = match output {
        Output::F32 => "<f4",
        _ => "<u2",
    };
    let mut file = gridgames::fsio::AtomicFile::create(&args.output)?;
    file.write_all(&npy::header_bytes(descr, &t.shape))?;
    file = write_decoded(file, &args.input, &format, t, output, &opts)?;
    file.commit()?;
    eprintln!(
        "decoded `{}` ({} values, {}) to {}",
        t.name,
        t.shape.iter().product::<usize>(),
        format.name,
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Append the decoded bytes of `t` to `file`, streamed: each decoded chunk as it is ready
/// (no full-size buffer). With two or more threads, one decodes while another writes (the
/// write's copy into the page cache is most of the time on a fast file system); buffers go
/// back for reuse.
fn write_decoded(
    mut file: gridgames::fsio::AtomicFile,
    input: &std::path::Path,
    format: &gridgames::format::Format,
    t: &container::StoredQuantized,
    output: Output,
    opts: &Options,
) -> Result<gridgames::fsio::AtomicFile, String> {
    if opts.threads < 2 {
        decode_tensor_into(input, format, t, output, opts, &mut |bytes| {
            file.write_all(bytes).map_err(String::from)
        })?;
        return Ok(file);
    }
    let one = Options {
        threads: 1,
        ..*opts
    };
    std::thread::scope(|s| -> Result<_, String> {
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
        let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let writer = s.spawn(move || -> Result<_, String> {
            for buf in full_rx {
                file.write_all(&buf)?;
                let _ = empty_tx.send(buf);
            }
            Ok(file)
        });
        let decoded = decode_tensor_into(input, format, t, output, &one, &mut |b| {
            let mut buf = empty_rx.try_recv().unwrap_or_default();
            buf.clear();
            buf.extend_from_slice(b);
            // A closed channel means the writer stopped on an error; join reports it.
            full_tx.send(buf).map_err(|_| String::new())
        });
        drop(full_tx);
        let written = writer
            .join()
            .map_err(|_| "the writer thread panicked".to_string())?;
        let file = written?;
        decoded?;
        Ok(file)
    })
}

/// The dense little-endian bytes (f32, or f16/bf16 bits) of one quantized tensor, row
/// padding removed, handed to `sink` a chunk of whole groups at a time (no full-size buffer).
fn decode_tensor_into(
    input: &std::path::Path,
    format: &gridgames::format::Format,
    t: &container::StoredQuantized,
    output: Output,
    opts: &Options,
    sink: &mut dyn FnMut(&[u8]) -> Result<(), String>,
) -> Result<(), String> {
    let count: usize = t.shape.iter().product();
    let n = t.codes.len() * 2;
    let cols = *t.shape.last().unwrap_or(&count);
    let stored_cols = cols + t.row_padding;
    let rows = count.checked_div(cols).unwrap_or(0);
    if rows * stored_cols > n || (t.row_padding > 0 && rows * stored_cols != n) {
        return Err(format!(
            "{}: tensor `{}`: shape {:?} (row padding {}) needs {} values, {n} codes are stored",
            input.display(),
            t.name,
            t.shape,
            t.row_padding,
            rows * stored_cols
        ));
    }
    let group = format.group_size as usize;
    let scale_bytes = format.scale_bytes as usize;
    if group == 0 || t.scales.len() != n.div_ceil(group) * scale_bytes {
        let e = decode::DecodeError::Length {
            elements: n,
            code_bytes: t.codes.len(),
            scale_bytes: t.scales.len(),
            output: n,
        };
        return Err(format!("{}: tensor `{}`: {e}", input.display(), t.name));
    }
    let width = if output == Output::F32 { 4 } else { 2 };
    // 64 Ki values a chunk: decoded bits and bytes stay in a core's L2.
    let step = ((1usize << 16) / (2 * group)).max(1) * (2 * group);
    let mut bits = Vec::new();
    let mut data = Vec::with_capacity(step * width);
    let mut start = 0;
    while start < n {
        let len = step.min(n - start);
        let g0 = start / group;
        let scales = t
            .scales
            .get(g0 * scale_bytes..(g0 + len.div_ceil(group)) * scale_bytes)
            .unwrap_or(&[]);
        bits.resize(len, 0u32);
        simd::decode_bits(
            opts,
            format,
            &t.codes[start / 2..(start + len) / 2],
            scales,
            t.tensor_scale.unwrap_or(1.0),
            output,
            &mut bits,
        )
        .map_err(|e| format!("{}: tensor `{}`: {e}", input.display(), t.name))?;
        data.clear();
        if t.row_padding == 0 && start + len <= count {
            // Every decoded value is kept (no row padding, none past the shape).
            data.resize(len * width, 0);
            match output {
                Output::F32 => {
                    for (d, b) in data.chunks_exact_mut(4).zip(&bits) {
                        d.copy_from_slice(&b.to_le_bytes());
                    }
                }
                _ => {
                    for (d, b) in data.chunks_exact_mut(2).zip(&bits) {
                        d.copy_from_slice(&(*b as u16).to_le_bytes());
                    }
                }
            }
            sink(&data)?;
            start += len;
            continue;
        }
        for (j, b) in bits.iter().enumerate() {
            let e = start + j;
            // Keep the real values: inside a row, before its padding; none past the shape.
            if e >= rows * stored_cols || (stored_cols > 0 && e % stored_cols >= cols) {
                continue;
            }
            match output {
                Output::F32 => data.extend_from_slice(&b.to_le_bytes()),
                _ => data.extend_from_slice(&(*b as u16).to_le_bytes()),
            }
        }
        sink(&data)?;
        start += len;
    }
    Ok(())
}

/// A dense checkpoint: every chosen quantized tensor decoded (as `<name>.weight`), every
/// other tensor of the input copied byte for byte; gridgames' metadata dropped.
fn write_dense(
    args: &Args,
    bytes: &[u8],
    format: &gridgames::format::Format,
    chosen: &[&container::StoredQuantized],
    output: Output,
    opts: &Options,
) -> Result<ExitCode, String> {
    use safetensors::tensor::Dtype;
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| {
        format!(
            "{}: not a valid safetensors file: {e}",
            args.input.display()
        )
    })?;
    let dtype = match output {
        Output::F32 => Dtype::F32,
        Output::F16 => Dtype::F16,
        Output::Bf16 => Dtype::BF16,
    };
    let width = if output == Output::F32 { 4 } else { 2 };
    // The output's tensors: each chosen quantized tensor decoded (as `<name>.weight`), every
    // other input tensor copied. Laid out as the safetensors crate lays them out (descending
    // dtype alignment, then name) and written streamed: header first, then each tensor.
    enum Body<'a> {
        Decode(&'a container::StoredQuantized),
        Copy(&'a [u8]),
    }
    let mut entries: Vec<(String, Dtype, Vec<usize>, usize, Body)> = Vec::new();
    let mut taken = std::collections::BTreeSet::new();
    for t in chosen {
        for suffix in [".weight", ".weight_scale", ".weight_scale_2"] {
            taken.insert(format!("{}{suffix}", t.name));
        }
        let n = t.shape.iter().product::<usize>() * width;
        entries.push((
            format!("{}.weight", t.name),
            dtype,
            t.shape.clone(),
            n,
            Body::Decode(t),
        ));
    }
    let decoded = entries.len();
    for (name, view) in st.tensors() {
        if taken.contains(&name) {
            continue;
        }
        // `st` borrows `bytes`, so the data outlives the views.
        let data = view.data();
        entries.push((
            name,
            view.dtype(),
            view.shape().to_vec(),
            data.len(),
            Body::Copy(data),
        ));
    }
    let copied = entries.len() - decoded;
    entries.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    // The header as the safetensors crate writes it (entries in data order, fields dtype,
    // shape, data_offsets), so the file is byte-identical to `safetensors::serialize`'s.
    let mut header = String::from(r#"{"__metadata__":{"format":"pt"}"#);
    let mut offset = 0usize;
    for (name, dt, shape, n, _) in &entries {
        // A JSON value displays as its JSON text.
        header.push_str(&format!(
            ",{}:{{\"dtype\":{},\"shape\":{},\"data_offsets\":[{offset},{}]}}",
            serde_json::Value::from(name.as_str()),
            serde_json::to_value(dt).map_err(|e| e.to_string())?,
            serde_json::Value::from(shape.clone()),
            offset + n
        ));
        offset += n;
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut file = gridgames::fsio::AtomicFile::create(&args.output)?;
    file.write_all(&(header.len() as u64).to_le_bytes())?;
    file.write_all(header.as_bytes())?;
    for (_, _, _, _, body) in &entries {
        match body {
            Body::Decode(t) => file = write_decoded(file, &args.input, format, t, output, opts)?,
            Body::Copy(data) => file.write_all(data)?,
        }
    }
    file.commit()?;
    eprintln!(
        "decoded {decoded} tensor(s) ({}), copied {copied} unchanged, to {}",
        format.name,
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
