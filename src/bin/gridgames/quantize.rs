//! `gridgames quantize --format F [--profile P] IN OUT.safetensors`.
use std::path::PathBuf;
use std::process::ExitCode;

use gridgames::container;
use gridgames::quant::{Profile, Quantizer};

#[derive(clap::Args)]
pub struct Args {
    /// Format name or spec .yaml path.
    #[arg(long, default_value = "nvfp4")]
    pub format: String,
    /// Profile: reference, or the library to reproduce (see `gridgames formats`).
    #[arg(long, default_value = "reference")]
    pub profile: String,
    /// Pad the last group with zeros when the length is not a multiple of the group size
    /// (recorded in the file's metadata).
    #[arg(long)]
    pub pad: bool,
    /// Read uint16 .npy input as bf16 bit patterns.
    #[arg(long)]
    pub bf16: bool,
    /// Quantize the tensors whose names match this regular expression (searched anywhere in
    /// the name; `^name$` for one exact name). Default: every 2-D float `*.weight` tensor
    /// whose last dimension is a multiple of the group size. Everything not quantized is
    /// copied byte for byte.
    #[arg(long)]
    pub tensor: Option<String>,
    /// Never quantize the tensors whose names match this regular expression.
    #[arg(long)]
    pub exclude: Option<String>,
    /// Worker threads for the reference profile's fast path (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Write the .weight_scale tensors in this layout: linear (default), 128x4 (cuBLAS /
    /// TransformerEngine / ModelOpt on Blackwell), 8x4 (FlashInfer SWIZZLED_8x4); swizzled
    /// scales carry their zero padding and are recorded in `gridgames.scale_layout`.
    #[arg(long)]
    pub scale_layout: Option<String>,
    #[command(flatten)]
    pub limits: crate::cli_io::Limits,
    pub input: PathBuf,
    pub output: PathBuf,
}

pub fn parse_profile(name: &str) -> Result<Profile, String> {
    Profile::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Profile::ALL.iter().map(|p| p.name()).collect();
        format!(
            "unknown profile `{name}` (expected one of: {})",
            names.join(", ")
        )
    })
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let format = gridgames::spec::resolve_format(&args.format)?;
    let profile = parse_profile(&args.profile)?;
    let quantizer = Quantizer::new(&format, profile).map_err(|e| e.to_string())?;
    crate::cli_io::check_output(&args.input, &args.output, "safetensors")?;
    let selection = container::stream::Selection {
        tensor: crate::cli_io::regex_arg("--tensor", args.tensor.as_deref())?,
        exclude: crate::cli_io::regex_arg("--exclude", args.exclude.as_deref())?,
    };
    // Streaming (container::stream): memory stays at one chunk of groups, whatever the
    // tensor's size; the input's declared sizes are checked against its length first.
    crate::cli_io::check_size(&args.input, args.limits.max_bytes)?;
    // The fast path (gridgames::simd) where it applies, bit for bit the oracle; library
    // profiles run the scalar quantizer group by group.
    let write = container::stream::WriteOptions {
        simd: crate::decode::simd_options(args.threads)?,
        scale_layout: crate::cli_io::scale_layout_arg(args.scale_layout.as_deref())?
            .unwrap_or(gridgames::ScaleLayout::Linear),
    };
    let report = container::stream::quantize_file_with(
        &args.input,
        &args.output,
        &quantizer,
        args.pad,
        args.bf16,
        &selection,
        container::stream::CHUNK_ELEMENTS,
        &write,
    )?;
    eprintln!("rule: quantize {}", report.rule);
    for (name, values, groups) in &report.quantized {
        eprintln!("quantized {name}: {values} values, {groups} groups");
    }
    if !report.copied.is_empty() {
        eprintln!(
            "copied unchanged ({}): {}",
            report.copied.len(),
            report.copied.join(", ")
        );
    }
    let items = &report.quantized;
    eprintln!(
        "wrote {} quantized tensor(s) ({} {}) to {}",
        items.len(),
        format.name,
        profile.name(),
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
