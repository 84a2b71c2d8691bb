//! `gridgames convert --to ELEMENT [--policy P] IN.npy OUT.npy`: element codes as uint8.
use std::path::PathBuf;
use std::process::ExitCode;

use gridgames::container::{self, npy};
use gridgames::element::cuda::Conversion;
use gridgames::tables;

#[derive(clap::Args)]
pub struct Args {
    /// Element format (e2m1, e2m3, e3m2, e4m3, e5m2, ue8m0, ue4m3, int4).
    #[arg(long)]
    pub to: String,
    /// Overflow/NaN policy: satfinite, ml_dtypes, ocp, or NVIDIA's cuda-satfinite /
    /// cuda-nosat (CUDA 13.0 `cuda_fp8.h`/`cuda_fp6.h`/`cuda_fp4.h`, checked on an H200).
    #[arg(long, default_value = "satfinite")]
    pub policy: String,
    /// Rounding: rn (default), or rz / rp where NVIDIA has them (UE8M0: rz, rp; FP6/FP4: rz).
    #[arg(long)]
    pub rounding: Option<String>,
    /// Read uint16 input as bf16 bit patterns.
    #[arg(long)]
    pub bf16: bool,
    #[command(flatten)]
    pub limits: crate::cli_io::Limits,
    pub input: PathBuf,
    pub output: PathBuf,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let element = tables::element(&args.to).ok_or_else(|| {
        let names: Vec<&str> = tables::ELEMENTS
            .iter()
            .filter(|e| e.bits <= 8)
            .map(|e| e.name)
            .collect();
        format!(
            "unknown element `{}` (expected one of: {})",
            args.to,
            names.join(", ")
        )
    })?;
    if element.bits > 8 {
        return Err(format!("`{}` codes do not fit in uint8", element.name));
    }
    let conversion = Conversion::parse(element, &args.policy, args.rounding.as_deref())?;
    crate::cli_io::check_output(&args.input, &args.output, "npy")?;
    let bytes = crate::cli_io::read_input(&args.input, args.limits.max_bytes)?;
    let tensors = container::float_input_from_bytes(&args.input, &bytes, args.bf16, None)?;
    let t = tensors
        .first()
        .ok_or_else(|| format!("{}: no float tensor", args.input.display()))?;
    let mut codes = Vec::with_capacity(t.data.len());
    for (i, &v) in t.data.iter().enumerate() {
        let code = conversion.apply(element, v).map_err(|e| {
            format!(
                "{}: value {i} ({v}): {e} (element {}, policy {})",
                args.input.display(),
                element.name,
                args.policy
            )
        })?;
        codes.push(code as u8);
    }
    gridgames::fsio::write_atomic(&args.output, &npy::to_bytes("|u1", &t.shape, &codes))?;
    eprintln!(
        "wrote {} {} codes to {}",
        codes.len(),
        element.name,
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
