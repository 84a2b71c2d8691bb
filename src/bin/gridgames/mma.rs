//! `gridgames mma`: check or fill in MMA case files with the tensor-core emulator.
use std::path::PathBuf;
use std::process::ExitCode;

use gridgames::emu::{self, cases};

/// Arguments of `gridgames mma`.
#[derive(clap::Args)]
pub struct MmaArgs {
    /// Case file to check (or, with --emit, to fill in).
    #[arg(long)]
    pub cases: Option<PathBuf>,
    /// Write the case file with every `d` recomputed to this path (atomically).
    #[arg(long, requires = "cases")]
    pub emit: Option<PathBuf>,
    /// Treat results that are both NaN but differ in payload as equal.
    #[arg(long)]
    pub allow_nan_payload: bool,
    /// Report at most this many mismatches per file (all are counted).
    #[arg(long, default_value_t = 50)]
    pub max_report: usize,
    /// Print one JSON object per case on stdout (`line`, `instr`, `expected`, `computed` as
    /// hex bits, `ulps`, `ok`) and the summary on stderr, for scripts.
    #[arg(long, conflicts_with = "emit")]
    pub json: bool,
    /// List the instructions of the spec files and exit.
    #[arg(long)]
    pub list: bool,
    #[command(flatten)]
    pub limits: crate::cli_io::Limits,
}

/// Runs the subcommand: exit 0 when every case matches, 1 on any mismatch or malformed line.
pub fn run(args: &MmaArgs) -> Result<ExitCode, String> {
    if args.list {
        use std::io::Write;
        let reg = emu::registry().map_err(|e| e.to_string())?;
        // Write through a locked handle and stop quietly when the reader goes away
        // (`gridgames mma --list | head`): println! would panic on a closed pipe.
        let mut out = std::io::stdout().lock();
        for i in &reg.instructions {
            // Columns (docs in spec/mma/README.md): id, F, L, rounding, e_zero, the model's
            // source (`source:` of the spec), and the hardware evidence: the checked-in case
            // files of real GPUs that the model reproduces bit for bit, or `hw=none`.
            let files = emu::hardware_evidence(&i.id());
            let evidence = if files.is_empty() {
                "hw=none".to_string()
            } else {
                format!("hw={}", files.join(","))
            };
            let line = writeln!(
                out,
                "{}\tF={}\tL={}\t{}\te_zero={}\t{}\t{evidence}",
                i.id(),
                i.f,
                i.l_max,
                i.rounding.name(),
                i.e_zero,
                i.source
            );
            if line.is_err() {
                return Ok(ExitCode::SUCCESS);
            }
        }
        for p in ["hopper", "blackwell", "exact"] {
            if writeln!(out, "sfp4/{p}").is_err() {
                break;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(path) = &args.cases else {
        return Err(
            "nothing to do: give --cases FILE (and optionally --emit OUT), or --list".into(),
        );
    };
    let text = crate::cli_io::read_text(path, args.limits.max_bytes)?;
    if let Some(out) = &args.emit {
        return match cases::emit(&text) {
            Ok(filled) => {
                gridgames::fsio::write_atomic(out, filled.as_bytes())?;
                println!("wrote {}", out.display());
                Ok(ExitCode::SUCCESS)
            }
            Err(bad) => {
                for (line, msg) in &bad {
                    eprintln!("{}:{line}: malformed: {msg}", path.display());
                }
                eprintln!(
                    "{}: {} malformed lines; nothing written",
                    path.display(),
                    bad.len()
                );
                Ok(ExitCode::FAILURE)
            }
        };
    }
    let report = if args.json {
        cases::check_all(&text)
    } else {
        cases::check(&text)
    };
    // What fails the run: mismatches not excused by --allow-nan-payload, malformed lines.
    let excused = |m: &cases::Mismatch| args.allow_nan_payload && m.nan_payload_only;
    let failing = report.mismatches.iter().filter(|m| !excused(m)).count();
    if args.json {
        if !print_json(&report, &excused) {
            return Ok(ExitCode::SUCCESS);
        }
    } else {
        print_text(&report, path, &excused, args.max_report);
    }
    // A match against a model nobody measured on hardware is a statement about the model.
    let unmeasured: Vec<&str> = report
        .per_instr
        .iter()
        .map(|(i, _, _)| i.as_str())
        .filter(|i| !i.starts_with("sfp4/") && emu::hardware_evidence(i).is_empty())
        .collect();
    if !unmeasured.is_empty() {
        eprintln!(
            "warning: {} instruction(s) in {} have no hardware evidence in this repository (their models come from MMA-Sim or inference, see `gridgames mma --list`): {}",
            unmeasured.len(),
            path.display(),
            unmeasured.join(", ")
        );
    }
    // The summary: on stdout for the text report, on stderr beside the JSON records.
    let summary = format!(
        "{}: {} cases, {} mismatches ({} NaN-payload-only), {} malformed lines",
        path.display(),
        report.cases,
        report.mismatches.len(),
        report
            .mismatches
            .iter()
            .filter(|m| m.nan_payload_only)
            .count(),
        report.malformed.len()
    );
    if args.json {
        for (line, msg) in &report.malformed {
            eprintln!("{}:{line}: malformed: {msg}", path.display());
        }
        eprintln!("{summary}");
    } else {
        println!("{summary}");
    }
    Ok(if failing == 0 && report.malformed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One JSON object per case on stdout; false when the reader went away (`| head`).
fn print_json(report: &cases::Report, excused: &dyn Fn(&cases::Mismatch) -> bool) -> bool {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for c in &report.results {
        let width = if c.f16 { 4 } else { 8 };
        let record = serde_json::json!({
            "line": c.line,
            "instr": c.instr,
            "expected": format!("{:0width$x}", c.expected),
            "computed": format!("{:0width$x}", c.got),
            "ulps": c.ulps,
            "ok": c.expected == c.got || excused(c),
        });
        if writeln!(out, "{record}").is_err() {
            return false;
        }
    }
    true
}

/// The first `max_report` failing mismatches, the malformed lines and the per-instruction
/// counts, on stdout.
fn print_text(
    report: &cases::Report,
    path: &std::path::Path,
    excused: &dyn Fn(&cases::Mismatch) -> bool,
    max_report: usize,
) {
    for m in report
        .mismatches
        .iter()
        .filter(|m| !excused(m))
        .take(max_report)
    {
        let tag = if m.nan_payload_only {
            " (NaN payload only)"
        } else {
            ""
        };
        println!(
            "{}:{}: {}: expected {:08X} got {:08X}, {} ulp{tag}",
            path.display(),
            m.line,
            m.instr,
            m.expected,
            m.got,
            m.ulps
        );
    }
    for (line, msg) in &report.malformed {
        println!("{}:{line}: malformed: {msg}", path.display());
    }
    for (instr, n, bad) in &report.per_instr {
        println!("  {instr}: {n} cases, {bad} mismatches");
    }
}
