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
    }
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
