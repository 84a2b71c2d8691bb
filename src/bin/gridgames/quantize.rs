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
    /// Only tensors whose name contains this (safetensors input).
    #[arg(long)]
    pub tensor: Option<String>,
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
    let tensors = container::read_float_input(&args.input, args.bf16, args.tensor.as_deref())?;
    if tensors.is_empty() {
        return Err(format!(
            "{}: no float tensors to quantize",
            args.input.display()
        ));
    }
    let group = format.group_size as usize;
    let mut items = Vec::new();
    let mut passthrough = Vec::new();
    for t in tensors {
        let cols = *t.shape.last().unwrap_or(&t.data.len());
        let quantizable =
            cols % group == 0 || (args.pad && t.shape.iter().rev().skip(1).product::<usize>() <= 1);
        if !quantizable
            && t.shape.len() >= 2
            && args.input.extension().is_some_and(|e| e == "safetensors")
        {
            // Model files hold norms and biases that no 4-bit format stores: copy them.
            passthrough.push(t);
            continue;
        }
        let name = if args.input.extension().is_some_and(|e| e == "npy") {
            "tensor".to_string()
        } else {
            t.name.trim_end_matches(".weight").to_string()
        };
        let shape = if t.shape.is_empty() {
            vec![1]
        } else {
            t.shape.clone()
        };
        let q = quantizer
            .quantize(&t.data, args.pad)
            .map_err(|e| format!("{}: tensor `{}`: {e}", args.input.display(), t.name))?;
        eprintln!(
            "{}: {} values, {} groups",
            t.name,
            t.data.len(),
            q.grid_of_group.len()
        );
        items.push((name, shape, q));
    }
    let bytes = container::safetensors_bytes(&items, &passthrough, &format, profile)?;
    container::write_atomic(&args.output, &bytes)?;
    eprintln!(
        "wrote {} quantized tensor(s) ({} {}) to {}",
        items.len(),
        format.name,
        profile.name(),
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
