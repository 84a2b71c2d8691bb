//! `gridgames decode IN.safetensors OUT.npy`: decode quantized tensors.
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
    /// Which tensor (base name, without `.weight`) when the file holds several.
    #[arg(long)]
    pub tensor: Option<String>,
    /// Output type: f32, f16 or bf16 (f16/bf16 written as uint16 bit patterns).
    #[arg(long, default_value = "f32")]
    pub output_type: String,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
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
    crate::cli_io::check_output(&args.input, &args.output, "npy")?;
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
    let tensors = container::read_quantized(&args.input, &bytes, &format)?;
    let chosen: Vec<_> = tensors
        .iter()
        .filter(|t| args.tensor.as_ref().is_none_or(|n| &t.name == n))
        .collect();
    let t = match chosen.as_slice() {
        [one] => *one,
        [] => {
            let names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
            return Err(format!(
                "{}: no quantized tensor{} (found: {})",
                args.input.display(),
                args.tensor
                    .as_ref()
                    .map(|n| format!(" named `{n}`"))
                    .unwrap_or_default(),
                names.join(", ")
            ));
        }
        many => {
            let names: Vec<&str> = many.iter().map(|t| t.name.as_str()).collect();
            return Err(format!(
                "{}: {} quantized tensors; pick one with --tensor ({})",
                args.input.display(),
                many.len(),
                names.join(", ")
            ));
        }
    };
    // The .npy is built in place, a chunk of whole groups at a time, so peak memory is the
    // input plus the output (no full-size intermediate of u32 bits).
    let count: usize = t.shape.iter().product();
    let n = t.codes.len() * 2;
    if count > n {
        return Err(format!(
            "{}: tensor `{}`: shape {:?} needs {count} values, {n} codes are stored",
            args.input.display(),
            t.name,
            t.shape
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
        return Err(format!(
            "{}: tensor `{}`: {e}",
            args.input.display(),
            t.name
        ));
    }
    let (descr, width) = match output {
        Output::F32 => ("<f4", 4),
        _ => ("<u2", 2),
    };
    let mut data = npy::to_bytes(descr, &t.shape, &[]);
    data.reserve_exact(count * width);
    let step = ((1usize << 20) / (2 * group)).max(1) * (2 * group);
    let mut bits = Vec::new();
    let mut start = 0;
    while start < n {
        let len = step.min(n - start);
        let g0 = start / group;
        let scales = t
            .scales
            .get(g0 * scale_bytes..(g0 + len.div_ceil(group)) * scale_bytes)
            .unwrap_or(&[]);
        bits.clear();
        bits.resize(len, 0u32);
        simd::decode_bits(
            &opts,
            &format,
            &t.codes[start / 2..(start + len) / 2],
            scales,
            t.tensor_scale.unwrap_or(1.0),
            output,
            &mut bits,
        )
        .map_err(|e| format!("{}: tensor `{}`: {e}", args.input.display(), t.name))?;
        let keep = len.min(count.saturating_sub(start));
        for b in &bits[..keep] {
            match output {
                Output::F32 => data.extend_from_slice(&b.to_le_bytes()),
                _ => data.extend_from_slice(&(*b as u16).to_le_bytes()),
            }
        }
        start += len;
    }
    gridgames::fsio::write_atomic(&args.output, &data)?;
    eprintln!(
        "decoded `{}` ({} values, {}) to {}",
        t.name,
        count,
        format.name,
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
