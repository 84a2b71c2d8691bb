//! `gridgames learn`: learn grids by k-means over grids (see `gridgames::learn`) and write a
//! spec YAML ready for `spec/formats/`.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gridgames::eval::Distribution;
use gridgames::learn::{self, Config, LearnGrid, Stop};
use gridgames::spec;
use gridgames::spec::schema::{ScaleRule, TieRule};
use gridgames::spec::writer::{write_format, FormatDraft, GridDraft};

#[derive(clap::Args)]
pub struct Args {
    /// Training data, repeatable: `normal:GROUPS` (or laplace, uniform, student-tN: synthetic
    /// groups drawn with --seed), `safetensors:PATH[:SUBSTRING]` (every 2-D tensor, or those
    /// whose name contains SUBSTRING), `npy:PATH` (f32 or f16, little-endian).
    #[arg(long, required = true)]
    data: Vec<String>,
    /// Total number of grids (1 to 4), fixed ones included.
    #[arg(long, default_value_t = 2)]
    grids: usize,
    /// A fixed grid, as FORMAT[:GRID] (a built-in name or a spec path); repeatable, taken first.
    #[arg(long)]
    fixed: Vec<String>,
    /// Starting values of a learnable grid, as FORMAT[:GRID]; repeatable, in order. Grids
    /// without one start uniform (see --levels).
    #[arg(long)]
    init: Vec<String>,
    /// Uniform start: NEG,POS levels below and above an exact 0.
    #[arg(long, default_value = "7,8")]
    levels: String,
    /// Values that never move (comma-separated, in grid units with largest magnitude 1).
    #[arg(long, default_value = "-1,0,1", allow_hyphen_values = true)]
    pins: String,
    /// Grid 2 is grid 1's mirror (signed-absmax normalization, PO2(Split87)).
    #[arg(long)]
    mirror: bool,
    #[arg(long, default_value_t = 16)]
    group_size: usize,
    /// Round block scales to UE4M3 (tensor scale amax/448) inside the loop.
    #[arg(long)]
    ue4m3: bool,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 200)]
    max_iters: u32,
    /// Time bound in seconds (0: none). A run stopped by time is not reproducible; the
    /// provenance says which bound stopped it.
    #[arg(long, default_value_t = 0.0)]
    max_seconds: f64,
    /// Name of the format written.
    #[arg(long)]
    name: String,
    #[arg(long, default_value = "")]
    description: String,
    /// Output YAML (written atomically, after it validates).
    #[arg(long)]
    out: PathBuf,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    limits: crate::cli_io::Limits,
}

/// Load one `--data` argument: tensors and a one-line description for the provenance.
pub fn load_data(
    arg: &str,
    group_size: usize,
    seed: u64,
    max_bytes: u64,
) -> Result<(Vec<Vec<f32>>, String), String> {
    if let Some(rest) = arg.strip_prefix("safetensors:") {
        let (path, pattern) = match rest.rsplit_once(':') {
            Some((p, pat)) if Path::new(p).exists() => (p, Some(pat)),
            _ => (rest, None),
        };
        let (t, sha) = crate::cli_io::load_safetensors(Path::new(path), pattern, true, max_bytes)?;
        let n: usize = t.iter().map(|(_, v)| v.len()).sum();
        let desc = format!(
            "{} 2-D tensors ({n} values) of {} (sha256 {sha}){}",
            t.len(),
            Path::new(path)
                .file_name()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default(),
            pattern
                .map(|p| format!(", names containing `{p}`"))
                .unwrap_or_default()
        );
        return Ok((t.into_iter().map(|(_, v)| v).collect(), desc));
    }
    if let Some(path) = arg.strip_prefix("npy:") {
        let v = crate::cli_io::load_npy(Path::new(path), max_bytes)?;
        let desc = format!("{path} ({} values)", v.len());
        return Ok((vec![v], desc));
    }
    let (dist, groups) = arg.split_once(':').ok_or_else(|| {
        format!("--data `{arg}`: expected DIST:GROUPS, safetensors:PATH or npy:PATH")
    })?;
    let d = Distribution::from_name(dist).ok_or_else(|| {
        format!(
            "--data `{arg}`: unknown distribution `{dist}` (normal, laplace, uniform, student-tN)"
        )
    })?;
    let groups: usize = groups
        .parse()
        .map_err(|_| format!("--data `{arg}`: `{groups}` is not a number of groups"))?;
    let v = d.sample_f32(groups * group_size, seed);
    Ok((
        vec![v],
        format!(
            "{groups} synthetic groups of {group_size} {} values (gridgames eval::rng xoshiro256**, seed {seed}, one tensor)",
            d.name()
        ),
    ))
}

/// FORMAT[:GRID] → that grid's values (normalized to largest magnitude 1 by the learner).
fn grid_values(arg: &str) -> Result<(Vec<f64>, Vec<u32>, String), String> {
    let (name, grid) = match arg.rsplit_once(':') {
        Some((n, g)) if g.chars().all(|c| c.is_ascii_digit()) && !g.is_empty() => {
            (n, g.parse::<usize>().unwrap_or(0))
        }
        _ => (arg, 0),
    };
    let f = spec::resolve_format(name)?;
    let g = f
        .grids
        .get(grid)
        .ok_or_else(|| format!("`{arg}`: format {} has {} grids", f.name, f.grids.len()))?;
    let mut vals = Vec::new();
    let mut bits = Vec::new();
    for c in 0..16u8 {
        if g.is_valid(c) {
            vals.push(g.value(c) as f64);
            bits.push(g.values[c as usize]);
        }
    }
    Ok((vals, bits, format!("{}:{grid} ({})", f.name, g.name)))
}

fn parse_list(s: &str, what: &str) -> Result<Vec<f64>, String> {
    s.split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|t| {
            t.trim()
                .parse::<f64>()
                .map_err(|_| format!("--{what}: `{t}` is not a number"))
        })
        .collect()
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    if !(1..=4).contains(&args.grids) {
        return Err(format!("--grids {}: need 1 to 4", args.grids));
    }
    if args.fixed.len() > args.grids {
        return Err("more --fixed grids than --grids".to_string());
    }
    let pins = parse_list(&args.pins, "pins")?;
    let levels = parse_list(&args.levels, "levels")?;
    let [neg, pos] = levels[..] else {
        return Err(format!("--levels `{}`: expected NEG,POS", args.levels));
    };
    let mut tensors = Vec::new();
    let mut data_desc = Vec::new();
    for d in &args.data {
        let (t, desc) = load_data(d, args.group_size, args.seed, args.limits.max_bytes)?;
        tensors.extend(t);
        data_desc.push(desc);
    }
    // Starting grids: fixed first, then learnable (from --init or uniform).
    let mut grids = Vec::new();
    let mut fixed_bits = Vec::new();
    let mut origin = Vec::new();
    for f in &args.fixed {
        let (vals, bits, desc) = grid_values(f)?;
        grids.push(LearnGrid::with_pins(vals, &[], true)?);
        fixed_bits.push(Some(bits));
        origin.push(format!("fixed {desc}"));
    }
    let mut inits = args.init.iter();
    while grids.len() < args.grids {
        if args.mirror && grids.len() == 1 {
            let m = grids[0].mirror();
            grids.push(m);
            fixed_bits.push(None);
            origin.push("mirror of grid 0".to_string());
            continue;
        }
        match inits.next() {
            Some(i) => {
                let (vals, _, desc) = grid_values(i)?;
                grids.push(LearnGrid::with_pins(vals, &pins, false)?);
                origin.push(format!("learned, started from {desc}"));
            }
            None => {
                grids.push(LearnGrid::uniform(neg as usize, pos as usize, &pins)?);
                origin.push(format!(
                    "learned, started uniform ({neg} below 0, {pos} above)"
                ));
            }
        }
        fixed_bits.push(None);
    }
    let cfg = Config {
        group_size: args.group_size,
        ue4m3_in_loop: args.ue4m3,
        mirror: args.mirror,
        max_iters: args.max_iters,
        max_seconds: args.max_seconds,
    };
    let bar = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(args.max_iters as u64)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} iterations {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let refs: Vec<&[f32]> = tensors.iter().map(|t| t.as_slice()).collect();
    let outcome = learn::learn(&refs, grids, &cfg, |p| {
        bar.set_position(p.iteration as u64);
        bar.set_message(format!(
            "objective {:.6}, {} groups moved, max value move {:.2e}",
            p.objective, p.changed, p.max_move
        ));
    })?;
    bar.finish_and_clear();
    let command = std::env::args()
        .enumerate()
        .map(|(i, a)| if i == 0 { "gridgames".to_string() } else { a })
        .map(|a| if a.contains(' ') { format!("'{a}'") } else { a })
        .collect::<Vec<_>>()
        .join(" ");
    let stop = match outcome.stop {
        Stop::Converged => "converged (no assignment changed, no value moved)".to_string(),
        Stop::Iterations => format!("stopped by the iteration bound {}", args.max_iters),
        Stop::Time => format!(
            "stopped by the time bound {} s (NOT reproducible)",
            args.max_seconds
        ),
    };
    let text = yaml(
        args,
        &outcome,
        &fixed_bits,
        &origin,
        &data_desc,
        &command,
        &stop,
    )?;
    // Validate before writing: a spec that does not load must never reach spec/formats/.
    let file = args.out.display().to_string();
    spec::load_format_text(&file, &text)
        .map_err(|e| format!("generated spec does not validate: {e}"))?;
    let tmp = args.out.with_extension("yaml.tmp");
    std::fs::write(&tmp, &text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    println!(
        "{}: {} iterations, {stop}; objective (relative MSE, no output rounding) {:.6}; grid shares {:?}",
        args.out.display(),
        outcome.iterations,
        outcome.last.objective,
        outcome.share.iter().map(|s| format!("{:.3}", s)).collect::<Vec<_>>()
    );
    Ok(ExitCode::SUCCESS)
}

fn yaml(
    args: &Args,
    outcome: &learn::Outcome,
    fixed_bits: &[Option<Vec<u32>>],
    origin: &[String],
    data: &[String],
    command: &str,
    stop: &str,
) -> Result<String, String> {
    let mut grids = Vec::new();
    for (j, g) in outcome.grids.iter().enumerate() {
        let bits: Vec<u32> = match &fixed_bits[j] {
            Some(b) => b.clone(),
            None => learn::f32_values(g)?.iter().map(|v| v.to_bits()).collect(),
        };
        let name = match &fixed_bits[j] {
            Some(_) => origin[j]
                .split_once('(')
                .and_then(|(_, r)| r.split_once(')'))
                .map(|(n, _)| n.to_string())
                .unwrap_or_else(|| format!("fixed{j}")),
            None if args.mirror && j == 1 => "mirror".to_string(),
            None => format!("learned{j}"),
        };
        grids.push(GridDraft {
            comment: Some(origin[j].clone()),
            name,
            values: bits
                .try_into()
                .map_err(|_| "a learned grid does not have 16 values".to_string())?,
            invalid_codes: Vec::new(),
            target: None,
            ties: TieRule::LowerIndex,
        });
    }
    // The container is NVFP4's: UE4M3 block scale (value bits 0..6, or 0..5 with two
    // selector bits), FP32 tensor scale.
    let n = outcome.grids.len();
    let (value_mask, selector_bits) = match n {
        1 => (0x7f, vec![]),
        2 => (0x7f, vec![7]),
        _ => (0x3f, vec![7, 6]),
    };
    let prov = vec![
        "OUR RECONSTRUCTION, not the paper's values (Grid Games, arXiv 2605.12327, publishes no"
            .to_string(),
        "grid values). Learned by `gridgames learn` (k-means over grids, block-level".to_string(),
        "assignment, weighted Lloyd step with weight = scale^2, pins kept):".to_string(),
        format!("  command: {command}"),
        format!("  data: {}", data.join("; ")),
        format!(
            "  seed {}; group size {}; pins {}; UE4M3 scale rounding in the loop: {}; mirror: {}",
            args.seed,
            args.group_size,
            args.pins,
            if args.ue4m3 { "yes" } else { "no" },
            if args.mirror { "yes" } else { "no" }
        ),
        format!(
            "  bounds: {} iterations, {}; {} after {} iterations",
            args.max_iters,
            if args.max_seconds > 0.0 {
                format!("{} s", args.max_seconds)
            } else {
                "no time bound".to_string()
            },
            stop,
            outcome.iterations
        ),
        format!(
            "  final objective (relative MSE, unrounded f64 values) {:.6}; share of groups per grid {}",
            outcome.last.objective,
            outcome
                .share
                .iter()
                .map(|v| format!("{v:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "Container: NVFP4's (UE4M3 block scale, FP32 tensor scale); the selector is scale bit 7"
            .to_string(),
        "(bits 7 and 6 for three or four grids). Every group maps its largest magnitude to the"
            .to_string(),
        "grid's largest magnitude (1); ties to the lower code. Values are the learned f64 means"
            .to_string(),
        "rounded once to f32.".to_string(),
    ];
    Ok(write_format(&FormatDraft {
        name: args.name.clone(),
        description: args.description.clone(),
        group_size: u32::try_from(args.group_size)
            .map_err(|_| "--group-size is too large".to_string())?,
        grids,
        scale_element: "ue4m3".into(),
        scale_bytes: 1,
        value_mask: Some(value_mask),
        selector_bits,
        selectors: None,
        scale_max: None,
        rounding: ScaleRule::Rne,
        tensor_scale: true,
        high_nibble_first: false,
        provenance: prov,
    }))
}
