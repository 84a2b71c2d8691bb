//! `gridgames verify`: check another implementation's outputs against the reference and
//! report every mismatch by class (see `vectors/README.md`).
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gridgames::container;
use gridgames::format::Format;
use gridgames::quant::Profile;
use gridgames::vectors::text::CaseFile;
use gridgames::vectors::verify::{
    verify_decode_text, verify_quantize_text, Answer, Class, Options, Overrides, Report, Verifier,
};

/// Arguments of `gridgames verify`.
#[derive(clap::Args)]
pub struct Args {
    /// A quantize or decode case file (the layout of `vectors/`) with the implementation's
    /// answers in the `q s t [g]` or `f32 f16 bf16` fields.
    pub cases: Option<PathBuf>,
    /// Container mode: the original float input (.npy, or .safetensors with tensors named
    /// like the quantized ones).
    #[arg(long, conflicts_with = "cases")]
    pub input: Option<PathBuf>,
    /// Container mode: a safetensors file with `<name>.weight` (U8 packed codes),
    /// `<name>.weight_scale` and, for formats with a tensor scale, `<name>.weight_scale_2`.
    #[arg(long, requires = "input")]
    pub quantized: Option<PathBuf>,
    /// Container mode: packed codes as a uint8 .npy (with --scales).
    #[arg(
        long,
        requires = "input",
        requires = "scales",
        conflicts_with = "quantized"
    )]
    pub codes: Option<PathBuf>,
    /// Container mode: stored scales as a uint8 .npy (1 byte, or 4 little-endian bytes, per group).
    #[arg(long, requires = "codes")]
    pub scales: Option<PathBuf>,
    /// How the scales (--scales, or the .weight_scale tensors of --quantized) are laid out:
    /// linear (row-major rows × groups), 128x4 (cuBLAS / TransformerEngine / ModelOpt on
    /// Blackwell, torchao to_blocked), 8x4 (FlashInfer SWIZZLED_8x4); swizzled layouts
    /// include their zero padding (see src/layout.rs). Default: linear for --scales, the
    /// file's `gridgames.scale_layout` metadata (else linear) for --quantized.
    #[arg(long)]
    pub scale_layout: Option<String>,
    /// Container mode with --codes: the tensor scale, as 8 hex digits (f32 bits) or a decimal.
    #[arg(long)]
    pub tensor_scale: Option<String>,
    /// Format name or spec file (default: the case file's `# format:` header or the
    /// container's metadata).
    #[arg(long)]
    pub format: Option<String>,
    /// Profile the implementation claims to follow (default: the case file's header, the
    /// container's metadata, or `reference`).
    #[arg(long)]
    pub profile: Option<String>,
    /// Accept mismatches of this class (repeatable): wrong-code, tie-code, near-tie-code,
    /// signed-zero, scale-rounding, scale-range, scale-wrong, tensor-scale, grid-near-tie,
    /// grid-wrong, nibble-order, scale-layout, selector-bits, nan-payload, wrong-value, error-mismatch.
    #[arg(long = "allow", value_name = "CLASS")]
    pub allow: Vec<String>,
    /// Relative squared-error tolerance under which choosing another grid is
    /// `grid-near-tie` rather than `grid-wrong`.
    #[arg(long, default_value_t = 1e-6)]
    pub grid_tolerance: f64,
    /// Examples shown per class.
    #[arg(long, default_value_t = 5)]
    pub examples: usize,
    #[command(flatten)]
    pub limits: crate::cli_io::Limits,
}

/// Runs the subcommand: exit 0 when every mismatch (if any) is allowed, 1 otherwise, 2 on
/// malformed input.
pub fn run(args: &Args) -> Result<ExitCode, String> {
    let allowed = args
        .allow
        .iter()
        .map(|a| {
            Class::from_name(a).ok_or_else(|| {
                let names: Vec<&str> = Class::ALL.iter().map(|c| c.name()).collect();
                format!("--allow {a}: unknown class (known: {})", names.join(", "))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let options = Options {
        grid_tolerance: args.grid_tolerance,
    };
    let format = match &args.format {
        Some(f) => Some(gridgames::spec::resolve_format(f)?),
        None => None,
    };
    if args.profile.as_deref() == Some("auto") {
        return auto_profile(args, format, options, &allowed);
    }
    let profile = match &args.profile {
        Some(p) => {
            Some(Profile::from_name(p).ok_or_else(|| format!("--profile {p}: unknown profile"))?)
        }
        None => None,
    };
    let report = if let Some(path) = &args.cases {
        let text = crate::cli_io::read_text(path, args.limits.max_bytes)?;
        let name = path.display().to_string();
        let file = CaseFile::parse(&name, &text)?;
        let over = Overrides {
            format: format.as_ref(),
            profile,
        };
        let is_decode = match file.header("kind") {
            Some(k) => k == "decode",
            None => file
                .lines
                .first()
                .is_some_and(|(_, l)| l.get("x").is_none()),
        };
        if is_decode {
            verify_decode_text(&name, &text, &over)?
        } else {
            verify_quantize_text(&name, &text, &over, options)?
        }
    } else if let Some(input) = &args.input {
        container_report(args, input, format, profile, options)?
    } else {
        return Err(
            "nothing to verify: give a case file, or --input with --quantized or --codes/--scales"
                .into(),
        );
    };
    print!(
        "{}",
        crate::with_cli_flags(&report.render(args.examples, &allowed))
    );
    if report.fails(&allowed) {
        let failing: Vec<&str> = report
            .classes()
            .into_iter()
            .filter(|c| !allowed.contains(c))
            .map(|c| c.name())
            .collect();
        println!(
            "FAIL: mismatches of class {} (accept a class with --allow CLASS)",
            failing.join(", ")
        );
        Ok(ExitCode::from(1))
    } else {
        println!("OK");
        Ok(ExitCode::SUCCESS)
    }
}

fn container_report(
    args: &Args,
    input: &Path,
    format: Option<Format>,
    profile: Option<Profile>,
    options: Options,
) -> Result<Report, String> {
    let input_bytes = crate::cli_io::read_input(input, args.limits.max_bytes)?;
    let inputs = container::float_input_from_bytes(input, &input_bytes, false, None)?;
    let mut report = Report::default();
    if let Some(qpath) = &args.quantized {
        let bytes = crate::cli_io::read_input(qpath, args.limits.max_bytes)?;
        let meta = container::metadata_format(&bytes);
        let format = match format {
            Some(f) => f,
            None => {
                let name = meta.as_ref().map(|m| m.0.clone()).ok_or_else(|| {
                    format!(
                        "{}: no gridgames.format metadata; pass --format",
                        qpath.display()
                    )
                })?;
                gridgames::spec::resolve_format(&name)?
            }
        };
        let profile = match profile {
            Some(p) => p,
            None => meta
                .and_then(|m| m.1)
                .and_then(|p| Profile::from_name(&p))
                .unwrap_or(Profile::Reference),
        };
        let v = Verifier::new(&format, profile, options)?;
        let layout = crate::cli_io::scale_layout_arg(args.scale_layout.as_deref())?;
        let stored = container::read_quantized(qpath, &bytes, &format, layout)?;
        if stored.is_empty() {
            return Err(format!(
                "{}: no `<name>.weight` + `<name>.weight_scale` pair",
                qpath.display()
            ));
        }
        let mut first = true;
        for q in &stored {
            let x = if inputs.len() == 1 {
                &inputs[0]
            } else {
                let want = [format!("{}.weight", q.name), q.name.clone()];
                inputs
                    .iter()
                    .find(|t| want.contains(&t.name))
                    .ok_or_else(|| {
                        format!(
                            "{}: no input tensor named `{}.weight` or `{}`",
                            input.display(),
                            q.name,
                            q.name
                        )
                    })?
            };
            let answer = Answer {
                codes: q.codes.clone(),
                scales: q.scales.clone(),
                tensor_scale: q.tensor_scale,
                grids: None,
            };
            match (q.row_padding, x.shape.last()) {
                (0, Some(&cols)) => {
                    v.check_rows(&q.name, &x.data, cols, Ok(&answer), &mut report)?
                }
                _ => v.check(&q.name, &x.data, Ok(&answer), &mut report)?,
            }
            // A profile is indistinguishable only if it is so on every tensor.
            let same = v.indistinguishable_profiles(&x.data);
            if first {
                report.indistinguishable = same;
                first = false;
            } else {
                report.indistinguishable.retain(|p| same.contains(p));
            }
        }
        return Ok(report);
    }
    let (Some(cpath), Some(spath)) = (&args.codes, &args.scales) else {
        return Err("container mode needs --quantized FILE, or --codes and --scales".into());
    };
    let format = format.ok_or("--codes/--scales need --format")?;
    let profile = profile.unwrap_or(Profile::Reference);
    let read_u8 = |p: &PathBuf| -> Result<Vec<u8>, String> {
        let bytes = crate::cli_io::read_input(p, args.limits.max_bytes)?;
        let arr = container::npy::parse(&bytes).map_err(|e| format!("{}: {e}", p.display()))?;
        // Codes and scales are raw bytes: an f32 or int32 array here is a mistake, not 4× as
        // many codes.
        if !matches!(arr.descr.as_str(), "|u1" | "<u1" | "|i1" | "<i1") {
            return Err(format!(
                "{}: dtype `{}`, expected uint8 (packed codes or scale bytes; view FP8/FP4 tensors as uint8, as .view(torch.uint8) does)",
                p.display(),
                arr.descr
            ));
        }
        Ok(arr.data.to_vec())
    };
    let layout = crate::cli_io::scale_layout_arg(args.scale_layout.as_deref())?
        .unwrap_or(gridgames::ScaleLayout::Linear);
    let tensor_scale = match &args.tensor_scale {
        None => None,
        Some(t) => Some(parse_tensor_scale(t)?),
    };
    let x = inputs
        .first()
        .ok_or_else(|| format!("{}: no tensor", input.display()))?;
    let mut scales = read_u8(spath)?;
    if layout != gridgames::ScaleLayout::Linear {
        layout.check_format(&format).map_err(|e| e.to_string())?;
        let cols = x.shape.last().copied().unwrap_or(0);
        let group = format.group_size as usize;
        if cols == 0 || !cols.is_multiple_of(group) {
            return Err(format!(
                "--scale-layout {}: the input's last dimension {cols} is not a multiple of the group size {group}",
                layout.name()
            ));
        }
        let (rows, groups) = (x.data.len() / cols, cols / group);
        let mut linear = vec![0u8; rows * groups];
        layout
            .to_linear(&scales, rows, groups, &mut linear)
            .map_err(|e| format!("{}: {e}", spath.display()))?;
        scales = linear;
    }
    let answer = Answer {
        codes: read_u8(cpath)?,
        scales,
        tensor_scale,
        grids: None,
    };
    let v = Verifier::new(&format, profile, options)?;
    match x.shape.last() {
        Some(&cols) => v.check_rows(&x.name, &x.data, cols, Ok(&answer), &mut report)?,
        None => v.check(&x.name, &x.data, Ok(&answer), &mut report)?,
    }
    report.indistinguishable = v.indistinguishable_profiles(&x.data);
    Ok(report)
}

/// `--tensor-scale`: `0x` + 8 hex digits (f32 bits), 8 hex digits (f32 bits, the form case
/// files use), or a decimal. Eight decimal digits are ambiguous (bits or a number): they are
/// read as bits, and stderr says so.
pub fn parse_tensor_scale(text: &str) -> Result<f32, String> {
    let t = text.trim();
    let bits = |h: &str| {
        u32::from_str_radix(h, 16)
            .map(f32::from_bits)
            .map_err(|e| format!("--tensor-scale {text}: {e}"))
    };
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        if h.len() != 8 || !h.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "--tensor-scale {text}: `0x` must be followed by exactly 8 hex digits (f32 bits)"
            ));
        }
        return bits(h);
    }
    if t.len() == 8 && t.chars().all(|c| c.is_ascii_hexdigit()) {
        let v = bits(t)?;
        if t.chars().all(|c| c.is_ascii_digit()) {
            eprintln!(
                "note: --tensor-scale {t} read as f32 bits 0x{t} ({v:e}); write {t}.0 for the number"
            );
        }
        return Ok(v);
    }
    t.parse::<f32>().map_err(|_| {
        format!("--tensor-scale {text}: not f32 bits (0x3f800000, 3f800000) or a decimal number")
    })
}

/// `--profile auto` (container mode): "which library does my kernel match?" Every profile of
/// the format is checked; each one's mismatch count is printed, then the best profile's report.
fn auto_profile(
    args: &Args,
    format: Option<Format>,
    options: Options,
    allowed: &[Class],
) -> Result<ExitCode, String> {
    let Some(input) = &args.input else {
        return Err(
            "--profile auto works in container mode (--input with --quantized or --codes/--scales)"
                .into(),
        );
    };
    let format = match format {
        Some(f) => f,
        None => {
            let q = args
                .quantized
                .as_ref()
                .ok_or("--profile auto with --codes needs --format")?;
            let bytes = crate::cli_io::read_input(q, args.limits.max_bytes)?;
            let name = container::metadata_format(&bytes)
                .map(|m| m.0)
                .ok_or_else(|| {
                    format!(
                        "{}: no gridgames.format metadata; pass --format",
                        q.display()
                    )
                })?;
            gridgames::spec::resolve_format(&name)?
        }
    };
    let mut best: Option<(usize, Profile, Report)> = None;
    println!(
        "profile auto: mismatches against each profile of {}",
        format.name
    );
    for p in Profile::for_format(&format) {
        match container_report(args, input, Some(format), Some(p), options) {
            Ok(r) => {
                let n = r.mismatches.len();
                println!("  {:<14} {n}", p.name());
                if best.as_ref().is_none_or(|b| n < b.0) {
                    best = Some((n, p, r));
                }
            }
            Err(e) => println!("  {:<14} refused: {e}", p.name()),
        }
    }
    let Some((_, p, report)) = best else {
        return Err("every profile refused this input".into());
    };
    println!("best match: {} (its report follows)", p.name());
    print!(
        "{}",
        crate::with_cli_flags(&report.render(args.examples, allowed))
    );
    if report.fails(allowed) {
        println!("FAIL: no profile matches exactly");
        Ok(ExitCode::from(1))
    } else {
        println!("OK: matches profile {}", p.name());
        Ok(ExitCode::SUCCESS)
    }
}
