//! `gridgames eval`: the accuracy study. Relative MSE of every format (or those named) on
//! synthetic distributions and real weights, for group sizes 8..256 (the format's grids, its
//! group size overridden), and the PO2 gain of each multi-grid format over the best of its
//! own grids used alone. Prints tables, writes a CSV and SVG charts.
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use gridgames::eval::plot::{self, Chart, Series};
use gridgames::eval::{self, Distribution, ErrorSum, Profile, GROUP_SIZES};
use gridgames::format::Format;
use gridgames::{spec, tables};

#[derive(clap::Args)]
pub struct Args {
    /// Formats (built-in names or spec paths), comma-separated; default every built-in
    /// format with a one-byte scale (FP32-scaled nf4-bnb is a different container).
    #[arg(long)]
    formats: Option<String>,
    #[arg(long, default_value = "reference")]
    profile: String,
    /// Values per synthetic distribution (one tensor).
    #[arg(long, default_value_t = 1 << 20)]
    values: usize,
    /// Seed of the synthetic data (each distribution gets seed + its index).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Distributions, comma-separated (normal, laplace, student-t3, student-t5, uniform).
    #[arg(long, default_value = "normal,laplace,student-t3,student-t5,uniform")]
    distributions: String,
    /// Real weights: a safetensors file; every 2-D tensor is one tensor of the study.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// At most this many leading values of each weight tensor (0: all), to bound run time.
    #[arg(long, default_value_t = 0)]
    weight_values: usize,
    /// Group sizes, comma-separated.
    #[arg(long, default_value = "8,16,32,64,128,256")]
    group_sizes: String,
    /// Write the results as CSV.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Write the SVG charts into this directory.
    #[arg(long)]
    svg_dir: Option<PathBuf>,
    /// Worker threads (default: available parallelism).
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten)]
    pub limits: crate::cli_io::Limits,
}

/// One data set of the study.
struct Dataset {
    name: String,
    tensors: Vec<Vec<f32>>,
}

/// One cell: data set × format (or one of its grids alone) × group size.
#[derive(Clone, Copy)]
struct Job {
    dataset: usize,
    format: usize,
    single: Option<usize>,
    group: u32,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let profile = Profile::from_name(&args.profile)
        .ok_or_else(|| format!("unknown profile `{}`", args.profile))?;
    let formats: Vec<Format> = match &args.formats {
        Some(list) => list
            .split(',')
            .map(|n| spec::resolve_format(n.trim()))
            .collect::<Result<_, _>>()?,
        None => tables::FORMATS
            .iter()
            .filter(|f| f.scale_bytes == 1)
            .map(|f| **f)
            .collect(),
    };
    let groups: Vec<u32> = args
        .group_sizes
        .split(',')
        .map(|g| {
            g.trim()
                .parse::<u32>()
                .ok()
                .filter(|&g| g >= 2 && g % 2 == 0)
                .ok_or_else(|| format!("--group-sizes: `{g}` is not an even size ≥ 2"))
        })
        .collect::<Result<_, _>>()?;
    let _ = GROUP_SIZES;
    let mut datasets = Vec::new();
    for (i, d) in args.distributions.split(',').enumerate() {
        let dist = Distribution::from_name(d.trim())
            .ok_or_else(|| format!("--distributions: unknown `{d}`"))?;
        datasets.push(Dataset {
            name: dist.name(),
            tensors: vec![dist.sample_f32(args.values, args.seed + i as u64)],
        });
    }
    if let Some(w) = &args.weights {
        let (t, _) = crate::cli_io::load_safetensors(w, None, true, args.limits.max_bytes)?;
        let tensors: Vec<Vec<f32>> = t
            .into_iter()
            .map(|(_, mut v)| {
                if args.weight_values > 0 && v.len() > args.weight_values {
                    v.truncate(args.weight_values);
                }
                v
            })
            .collect();
        datasets.push(Dataset {
            name: "weights".to_string(),
            tensors,
        });
    }
    let mut jobs = Vec::new();
    for d in 0..datasets.len() {
        for (fi, f) in formats.iter().enumerate() {
            for &g in &groups {
                jobs.push(Job {
                    dataset: d,
                    format: fi,
                    single: None,
                    group: g,
                });
                if f.grids.len() > 1 {
                    for s in 0..f.grids.len() {
                        jobs.push(Job {
                            dataset: d,
                            format: fi,
                            single: Some(s),
                            group: g,
                        });
                    }
                }
            }
        }
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let bar = indicatif::ProgressBar::new(jobs.len() as u64);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<ErrorSum, String>>>> = Mutex::new(vec![None; jobs.len()]);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let f = &formats[job.format];
                let r = match job.single {
                    None => Some(*f),
                    Some(g) => eval::single_grid(f, g),
                }
                .ok_or_else(|| format!("{}: no grid {:?}", f.name, job.single))
                .and_then(|f| {
                    let refs: Vec<&[f32]> = datasets[job.dataset]
                        .tensors
                        .iter()
                        .map(|t| t.as_slice())
                        .collect();
                    eval::relative_mse(&f, profile, job.group, &refs)
                });
                if let Ok(mut res) = results.lock() {
                    res[i] = Some(r);
                }
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    let results = results
        .into_inner()
        .map_err(|_| "a worker thread panicked".to_string())?;
    let value = |job: &Job| -> Result<f64, String> {
        let i = jobs
            .iter()
            .position(|j| {
                j.dataset == job.dataset
                    && j.format == job.format
                    && j.single == job.single
                    && j.group == job.group
            })
            .ok_or("missing cell")?;
        match &results[i] {
            Some(Ok(e)) => Ok(e.relative_mse()),
            Some(Err(e)) => Err(e.clone()),
            None => Err("cell not computed".to_string()),
        }
    };
    // Tables, CSV, charts.
    let mut csv =
        String::from("dataset,format,group_size,relative_mse,best_single_grid_mse,po2_gain\n");
    let mut mse = vec![vec![vec![0f64; groups.len()]; formats.len()]; datasets.len()];
    let mut gain = vec![vec![vec![None; groups.len()]; formats.len()]; datasets.len()];
    for (d, ds) in datasets.iter().enumerate() {
        let values: u64 = ds.tensors.iter().map(|t| t.len() as u64).sum();
        println!(
            "\n{} ({} tensors, {} values), profile {}: relative MSE ‖x − x̂‖²/‖x‖²",
            ds.name,
            ds.tensors.len(),
            values,
            profile.name()
        );
        print!("{:<16}", "format");
        for g in &groups {
            print!("{:>11}", format!("g={g}"));
        }
        println!("   PO2 gain over its best single grid");
        for (fi, f) in formats.iter().enumerate() {
            print!("{:<16}", f.name);
            let mut gains = Vec::new();
            for (gi, &g) in groups.iter().enumerate() {
                let m = value(&Job {
                    dataset: d,
                    format: fi,
                    single: None,
                    group: g,
                })?;
                mse[d][fi][gi] = m;
                print!("{m:>11.6}");
                let mut best = f64::NAN;
                if f.grids.len() > 1 {
                    best = f64::INFINITY;
                    for s in 0..f.grids.len() {
                        best = best.min(value(&Job {
                            dataset: d,
                            format: fi,
                            single: Some(s),
                            group: g,
                        })?);
                    }
                    let gn = if best > 0.0 { 1.0 - m / best } else { 0.0 };
                    gain[d][fi][gi] = Some(gn);
                    gains.push(format!("{:.1}%", gn * 100.0));
                }
                csv.push_str(&format!(
                    "{},{},{g},{m:.9},{},{}\n",
                    ds.name,
                    f.name,
                    if best.is_nan() {
                        String::new()
                    } else {
                        format!("{best:.9}")
                    },
                    gain[d][fi][gi]
                        .map(|v: f64| format!("{v:.6}"))
                        .unwrap_or_default()
                ));
            }
            println!("   {}", gains.join(" "));
        }
    }
    if let Some(path) = &args.csv {
        gridgames::fsio::write_atomic(path, csv.as_bytes())?;
        println!("\nwrote {}", path.display());
    }
    if let Some(dir) = &args.svg_dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for (d, ds) in datasets.iter().enumerate() {
            let series = |f: &dyn Fn(usize, usize) -> Option<f64>| -> Vec<Series> {
                formats
                    .iter()
                    .enumerate()
                    .filter_map(|(fi, fmt)| {
                        let points: Vec<(f64, f64)> = groups
                            .iter()
                            .enumerate()
                            .filter_map(|(gi, &g)| f(fi, gi).map(|v| (g as f64, v)))
                            .collect();
                        (!points.is_empty()).then(|| Series {
                            name: fmt.name.to_string(),
                            points,
                            dashed: fmt.grids.len() == 1,
                        })
                    })
                    .collect()
            };
            let c1 = Chart {
                title: format!(
                    "Relative MSE vs group size ({}, profile {})",
                    ds.name,
                    profile.name()
                ),
                x_label: "group size".to_string(),
                y_label: "relative MSE ‖x − x̂‖² / ‖x‖²".to_string(),
                log_y: true,
                percent_y: false,
                series: series(&|fi, gi| Some(mse[d][fi][gi])),
            };
            let c2 = Chart {
                title: format!("PO2 gain over the best single grid ({})", ds.name),
                x_label: "group size".to_string(),
                y_label: "1 − MSE(format) / min over its grids of MSE(grid alone)".to_string(),
                log_y: false,
                percent_y: true,
                series: series(&|fi, gi| gain[d][fi][gi]),
            };
            for (name, chart) in [("relative_mse", c1), ("po2_gain", c2)] {
                let path = dir.join(format!("{name}_{}.svg", ds.name));
                gridgames::fsio::write_atomic(&path, plot::svg(&chart).as_bytes())?;
                println!("wrote {}", path.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
