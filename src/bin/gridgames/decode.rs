//! `gridgames decode IN.safetensors OUT.npy`: decode quantized tensors.
use std::path::PathBuf;
use std::process::ExitCode;

use gridgames::container::{self, npy};
use gridgames::decode::{self, Output};

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
    pub input: PathBuf,
    pub output: PathBuf,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let bytes = std::fs::read(&args.input).map_err(|e| format!("{}: {e}", args.input.display()))?;
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
    let n = t.codes.len() * 2;
    let mut bits = vec![0u32; n];
    decode::decode_bits(
        &format,
        &t.codes,
        &t.scales,
        t.tensor_scale.unwrap_or(1.0),
        output,
        &mut bits,
    )
    .map_err(|e| format!("{}: tensor `{}`: {e}", args.input.display(), t.name))?;
    let count: usize = t.shape.iter().product();
    bits.truncate(count);
    let data = match output {
        Output::F32 => npy::to_bytes(
            "<f4",
            &t.shape,
            &bits
                .iter()
                .flat_map(|b| b.to_le_bytes())
                .collect::<Vec<u8>>(),
        ),
        _ => npy::to_bytes(
            "<u2",
            &t.shape,
            &bits
                .iter()
                .flat_map(|b| (*b as u16).to_le_bytes())
                .collect::<Vec<u8>>(),
        ),
    };
    container::write_atomic(&args.output, &data)?;
    eprintln!(
        "decoded `{}` ({} values, {}) to {}",
        t.name,
        count,
        format.name,
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
