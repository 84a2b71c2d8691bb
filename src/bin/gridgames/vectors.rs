//! `gridgames vectors generate [--check]`: rebuild the golden vectors under `vectors/`, or
//! check that the checked-in files are exactly what the generator produces now.
use std::path::PathBuf;
use std::process::ExitCode;

use gridgames::vectors::generate::{self, GeneratedFile};
use gridgames::vectors::text::count_cases;

/// Arguments of `gridgames vectors`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

/// What to do with the vectors.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Rebuild every generated file and the MANIFEST (or, with --check, compare).
    Generate(GenerateArgs),
    /// Write the golden edge-case inputs of a format as tensors, to run through your kernel
    /// and check with `gridgames verify --input OUT.safetensors --quantized YOURS.safetensors`.
    Inputs(InputsArgs),
}

/// Arguments of `gridgames vectors inputs`.
#[derive(clap::Args)]
pub struct InputsArgs {
    /// Format name or spec .yaml path.
    pub format: String,
    /// Leave out the cases this profile refuses (NaN/Inf without a rule).
    #[arg(long, default_value = "reference")]
    pub profile: String,
    /// Output: `NAME.safetensors` (one F32 tensor `<case>.weight` of shape [1, n] per case)
    /// or `NAME.npy` (every case concatenated as one [1, total] row: groups never straddle
    /// cases, but the tensor scale is then the whole row's).
    pub output: PathBuf,
}

/// Arguments of `gridgames vectors generate`.
#[derive(clap::Args)]
pub struct GenerateArgs {
    /// Rebuild in memory and fail on any byte difference with the files on disk (nothing is
    /// written).
    #[arg(long)]
    pub check: bool,
    /// The vectors directory.
    #[arg(long, default_value = "vectors")]
    pub dir: PathBuf,
}

/// Runs the subcommand: exit 0 on success, 1 when --check finds a difference.
pub fn run(args: &Args) -> Result<ExitCode, String> {
    match &args.command {
        Command::Generate(g) => generate_cmd(g),
        Command::Inputs(i) => inputs_cmd(i),
    }
}

fn inputs_cmd(args: &InputsArgs) -> Result<ExitCode, String> {
    use gridgames::container::npy;
    use gridgames::quant::Quantizer;
    let format = gridgames::spec::resolve_format(&args.format)?;
    let profile = crate::quantize::parse_profile(&args.profile)?;
    let q = Quantizer::new(&format, profile).map_err(|e| e.to_string())?;
    let cases = gridgames::vectors::catalogue::quantize_cases(&format)?;
    let kept: Vec<_> = cases
        .iter()
        .filter(|c| q.quantize(&c.x, false).is_ok())
        .collect();
    let left_out = cases.len() - kept.len();
    let ext = args
        .output
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("");
    let bytes = match ext {
        "safetensors" => {
            use safetensors::tensor::{Dtype, TensorView};
            let data: Vec<Vec<u8>> = kept
                .iter()
                .map(|c| c.x.iter().flat_map(|v| v.to_le_bytes()).collect())
                .collect();
            let mut views = Vec::new();
            for (c, d) in kept.iter().zip(&data) {
                let v = TensorView::new(Dtype::F32, vec![1, c.x.len()], d)
                    .map_err(|e| e.to_string())?;
                views.push((format!("{}.weight", c.name), v));
            }
            let meta = std::collections::HashMap::from([
                (
                    "gridgames.inputs".to_string(),
                    format!("{} golden quantize cases", format.name),
                ),
                (
                    "gridgames.version".to_string(),
                    env!("CARGO_PKG_VERSION").to_string(),
                ),
            ]);
            safetensors::serialize(views, Some(meta)).map_err(|e| e.to_string())?
        }
        "npy" => {
            let all: Vec<f32> = kept.iter().flat_map(|c| c.x.iter().copied()).collect();
            npy::f32_bytes(&[1, all.len()], &all)
        }
        other => {
            return Err(format!(
                "{}: extension `{other}`: expected .safetensors or .npy",
                args.output.display()
            ))
        }
    };
    gridgames::fsio::write_atomic(&args.output, &bytes)?;
    eprintln!(
        "wrote {} golden inputs of {} to {} ({left_out} left out: refused by profile {})",
        kept.len(),
        format.name,
        args.output.display(),
        profile.name()
    );
    Ok(ExitCode::SUCCESS)
}

fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            let cut = |s: &str| s.chars().take(100).collect::<String>();
            return format!(
                "line {}: on disk `{}`, generated `{}`",
                i + 1,
                cut(x),
                cut(y)
            );
        }
    }
    format!(
        "{} lines on disk, {} generated",
        a.lines().count(),
        b.lines().count()
    )
}

fn generate_cmd(args: &GenerateArgs) -> Result<ExitCode, String> {
    let dir = &args.dir;
    if !dir.is_dir() {
        return Err(format!(
            "{}: no such directory (run from the repository root, or pass --dir)",
            dir.display()
        ));
    }
    let files = generate::generate_all()?;
    let stale = generate::stale_files(dir, &files)?;
    let manifest = GeneratedFile {
        path: "MANIFEST".into(),
        text: generate::manifest(dir, &files)?,
    };
    let cases: usize = files.iter().map(|f| count_cases(&f.text)).sum();
    let bytes: usize = files.iter().map(|f| f.text.len()).sum();
    if args.check {
        let mut problems = Vec::new();
        for f in files.iter().chain(std::iter::once(&manifest)) {
            let path = dir.join(&f.path);
            match std::fs::read(&path) {
                Ok(disk) if disk == f.text.as_bytes() => {}
                Ok(disk) => problems.push(format!(
                    "{}: differs ({})",
                    path.display(),
                    first_difference(&String::from_utf8_lossy(&disk), &f.text)
                )),
                Err(e) => problems.push(format!("{}: {e}", path.display())),
            }
        }
        for s in &stale {
            problems.push(format!(
                "{}/{s}: not produced by the generator (stale)",
                dir.display()
            ));
        }
        if problems.is_empty() {
            println!(
                "vectors up to date: {} generated files, {cases} cases, {bytes} bytes; MANIFEST matches",
                files.len()
            );
            return Ok(ExitCode::SUCCESS);
        }
        for p in &problems {
            eprintln!("{p}");
        }
        eprintln!(
            "{} problem(s); run `gridgames vectors generate` and commit the result",
            problems.len()
        );
        return Ok(ExitCode::from(1));
    }
    let mut written = 0;
    for f in &files {
        let path = dir.join(&f.path);
        if std::fs::read(&path).ok().as_deref() != Some(f.text.as_bytes()) {
            generate::write_atomic(&path, &f.text)?;
            written += 1;
        }
    }
    for s in &stale {
        let path = dir.join(s);
        std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    generate::write_atomic(&dir.join("MANIFEST"), &manifest.text)?;
    println!(
        "{} generated files ({written} changed, {} stale removed), {cases} cases, {bytes} bytes; MANIFEST written",
        files.len(),
        stale.len()
    );
    Ok(ExitCode::SUCCESS)
}
