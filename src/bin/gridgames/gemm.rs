//! `gridgames gemm`: predict a whole GEMM kernel's output bit for bit (`emu::gemm`).
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use gridgames::container::npy;
use gridgames::decode::Output;
use gridgames::emu::gemm::{self, Epilogue, Preset, Problem, Recipe};
use gridgames::emu::{self, Format};

/// Arguments of `gridgames gemm`.
#[derive(clap::Args)]
pub struct Args {
    /// Instruction, `<arch>/<ptx name>` (`gridgames mma --list`); default: the preset's.
    #[arg(long)]
    pub instr: Option<String>,
    /// A, M×K: a .npy of element codes (uint8 FP8, uint16 bf16/f16 bits, uint32 f32 bits) or
    /// of float32 values that are exact in the operand format.
    #[arg(long)]
    pub a: PathBuf,
    /// B, K×N, as A.
    #[arg(long)]
    pub b: PathBuf,
    /// Element format of A and B when it differs from the instruction's operand type (FP8 data
    /// on an f16 instruction); converted exactly, or an error.
    #[arg(long)]
    pub ab_format: Option<String>,
    /// `chain`, `promote:G[:T]`, `mmav2`, `splitk:L:<recipe>`, or a preset: triton-sm90,
    /// triton-sm90-mmav2, cublas-sm90-fp8-fast, cublas-sm90-fp8 (see vectors/gemm/README.md).
    #[arg(long, default_value = "chain")]
    pub recipe: String,
    /// Tensor-wise scale of A (cuBLAS `scale_a`): D = RN(acc · RN(sa · sb)).
    #[arg(long)]
    pub scale_a: Option<f32>,
    /// Tensor-wise scale of B.
    #[arg(long)]
    pub scale_b: Option<f32>,
    /// C, M×N, f32 values or uint32 bits (default +0).
    #[arg(long)]
    pub c: Option<PathBuf>,
    /// Output type, rounded to nearest even from FP32.
    #[arg(long, default_value = "f32")]
    pub out: String,
    /// Write the predicted D (.npy: uint32 f32 bits, or uint16 bf16/f16 bits).
    #[arg(long)]
    pub emit: Option<PathBuf>,
    /// Compare with this D (uint32/uint16 bits, or float32/float16 values), bit for bit.
    #[arg(long)]
    pub check: Option<PathBuf>,
    /// Worst mismatches listed.
    #[arg(long, default_value_t = 10)]
    pub max_report: usize,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub limits: crate::cli_io::Limits,
}

struct Matrix {
    rows: usize,
    cols: usize,
    values: Vec<u32>,
}

/// A 2-D .npy as codes of `fmt`: integer arrays are codes (their width must fit), float32
/// arrays are values converted exactly.
fn read_matrix(path: &std::path::Path, fmt: Format, max: u64) -> Result<Matrix, String> {
    let bytes = crate::cli_io::read_input(path, max)?;
    let arr = npy::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let [rows, cols] = arr.shape[..] else {
        return Err(format!(
            "{}: shape {:?}: expected a 2-D matrix",
            path.display(),
            arr.shape
        ));
    };
    let d = arr.data;
    let values: Vec<u32> = match arr.descr.as_str() {
        "|u1" | "<u1" => d.iter().map(|&b| u32::from(b)).collect(),
        "<u2" => d
            .chunks_exact(2)
            .map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        "<u4" => d
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        "<f4" => {
            let f32s: Vec<u32> = d
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            let conv = emu::gemm::convert_exact(&f32s, Format::F32, fmt).or_else(|_| {
                f32s.iter()
                    .enumerate()
                    .map(|(i, &bits)| exact_small(f32::from_bits(bits), fmt).ok_or(i))
                    .collect::<Result<Vec<u32>, usize>>()
                    .map_err(|i| {
                        format!(
                            "element ({}, {}) = {} is not exactly representable in {fmt}",
                            i / cols,
                            i % cols,
                            f32::from_bits(f32s[i])
                        )
                    })
            });
            conv.map_err(|e| format!("{}: {e}", path.display()))?
        }
        other => {
            return Err(format!(
                "{}: dtype {other}: expected uint8/uint16/uint32 codes or float32 values",
                path.display()
            ))
        }
    };
    if let Some((i, v)) = values
        .iter()
        .enumerate()
        .find(|(_, &v)| u64::from(v) >> fmt.bits() != 0)
    {
        return Err(format!(
            "{}: element ({}, {}) = {v:#x} does not fit {fmt} ({} bits)",
            path.display(),
            i / cols,
            i % cols,
            fmt.bits()
        ));
    }
    Ok(Matrix { rows, cols, values })
}

/// The code of `v` in a format of at most 8 bits, when exact (searched: 256 codes).
fn exact_small(v: f32, fmt: Format) -> Option<u32> {
    if fmt.bits() > 8 {
        return None;
    }
    (0..1u32 << fmt.bits()).find(|&c| {
        emu::gemm::convert_exact(&[c], fmt, Format::F32)
            .is_ok_and(|d| d[0] == v.to_bits() && !v.is_nan())
    })
}

fn out_type(s: &str) -> Result<Output, String> {
    match s {
        "f32" => Ok(Output::F32),
        "bf16" => Ok(Output::Bf16),
        "f16" => Ok(Output::F16),
        o => Err(format!("--out {o}: expected f32, bf16 or f16")),
    }
}

fn ulps(a: u32, b: u32, out: Output) -> u64 {
    let key = |x: u32| -> i64 {
        let (sign, mag) = match out {
            Output::F32 => (x >> 31, i64::from(x & 0x7fff_ffff)),
            _ => (x >> 15 & 1, i64::from(x & 0x7fff)),
        };
        if sign == 1 {
            -mag
        } else {
            mag
        }
    };
    (key(a) - key(b)).unsigned_abs()
}

/// Runs the subcommand: exit 0 when `--check` finds no mismatch (or without `--check`).
pub fn run(args: &Args) -> Result<ExitCode, String> {
    let preset = Preset::from_name(&args.recipe);
    let instr_id = match (&args.instr, preset) {
        (Some(i), _) => i.clone(),
        (None, Some(p)) => p.instruction().to_string(),
        (None, None) => return Err("--instr is required unless --recipe is a preset".into()),
    };
    let instr = emu::instruction(&instr_id).map_err(|e| e.to_string())?;
    if !instr.source.starts_with("hardware") {
        eprintln!(
            "warning: {instr_id}: no hardware evidence for this instruction (source: {})",
            instr.source
        );
    }
    // A preset knows its data format (mmav2: E4M3 data on an f16 instruction); an explicit
    // --ab-format wins.
    let ab_format = args
        .ab_format
        .as_deref()
        .or_else(|| preset.and_then(Preset::data_format));
    let data =
        match ab_format {
            None => None,
            Some(f) => Some(Format::from_name(f).ok_or_else(|| {
                format!("--ab-format {f}: not an element format the emulator knows")
            })?),
        };
    let fmt_a = data.unwrap_or(instr.a);
    let a = read_matrix(&args.a, fmt_a, args.limits.max_bytes)?;
    let b = read_matrix(&args.b, data.unwrap_or(instr.b), args.limits.max_bytes)?;
    if a.cols != b.rows {
        return Err(format!(
            "A is {}×{} and B is {}×{}: the inner dimensions differ",
            a.rows, a.cols, b.rows, b.cols
        ));
    }
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let c = match &args.c {
        Some(p) => {
            let cm = read_matrix(p, Format::F32, args.limits.max_bytes)?;
            if (cm.rows, cm.cols) != (m, n) {
                return Err(format!("C is {}×{}, expected {m}×{n}", cm.rows, cm.cols));
            }
            Some(cm.values)
        }
        None => None,
    };
    let recipe = match preset {
        Some(p) => {
            let (r, warning) = p.resolve(m, n, k).map_err(|e| e.to_string())?;
            if let Some(w) = warning {
                eprintln!("{w}");
            }
            r
        }
        None => Recipe::parse(&args.recipe).map_err(|e| e.to_string())?,
    };
    let out = out_type(&args.out)?;
    let epi = Epilogue {
        scales: match (args.scale_a, args.scale_b) {
            (None, None) => None,
            (sa, sb) => Some((sa.unwrap_or(1.0), sb.unwrap_or(1.0))),
        },
        out,
    };
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let problem = Problem {
        m,
        n,
        k,
        a: &a.values,
        b: &b.values,
        c: c.as_deref(),
    };
    let t = std::time::Instant::now();
    let d = gemm::gemm_with_data_format(instr, data, &recipe, &epi, &problem, threads)
        .map_err(|e| e.to_string())?;
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "{instr_id}, recipe {}, {m}×{n}×{k}: {:.3} s ({:.3e} MAC/s)",
        recipe.name(),
        secs,
        (m * n * k) as f64 / secs.max(1e-9)
    );
    if let Some(path) = &args.emit {
        let bytes = match out {
            Output::F32 => {
                let raw: Vec<u8> = d.iter().flat_map(|v| v.to_le_bytes()).collect();
                npy::to_bytes("<u4", &[m, n], &raw)
            }
            _ => {
                let raw: Vec<u8> = d.iter().flat_map(|&v| (v as u16).to_le_bytes()).collect();
                npy::to_bytes("<u2", &[m, n], &raw)
            }
        };
        gridgames::fsio::write_atomic(path, &bytes)?;
        eprintln!("wrote {}", path.display());
    }
    let Some(path) = &args.check else {
        return Ok(ExitCode::SUCCESS);
    };
    let bytes = crate::cli_io::read_input(path, args.limits.max_bytes)?;
    let arr = npy::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    if arr.shape != [m, n] {
        return Err(format!(
            "{}: shape {:?}, expected [{m}, {n}]",
            path.display(),
            arr.shape
        ));
    }
    let width = match (arr.descr.as_str(), out) {
        ("<u4" | "<f4", Output::F32) => 4,
        ("<u2" | "<f2", Output::Bf16 | Output::F16) => 2,
        (descr, _) => {
            return Err(format!(
                "{}: dtype {descr} does not hold --out {} results (f32: uint32 bits or float32; bf16/f16: uint16 bits or float16)",
                path.display(),
                args.out
            ))
        }
    };
    let want: Vec<u32> = arr
        .data
        .chunks_exact(width)
        .map(|b| match width {
            4 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            _ => u32::from(u16::from_le_bytes([b[0], b[1]])),
        })
        .collect();
    let mut mism: Vec<(u64, usize)> = d
        .iter()
        .zip(&want)
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .map(|(i, (&x, &y))| (ulps(x, y, out), i))
        .collect();
    let mut o = std::io::stdout().lock();
    if !mism.is_empty() {
        let mut hist = std::collections::BTreeMap::new();
        for (u, _) in &mism {
            let bucket = match u {
                1 => "1 ulp",
                2..=3 => "2-3 ulps",
                4..=15 => "4-15 ulps",
                16..=255 => "16-255 ulps",
                _ => ">= 256 ulps",
            };
            *hist.entry(bucket).or_insert(0usize) += 1;
        }
        let _ = writeln!(o, "ulp histogram: {hist:?}");
        mism.sort_by_key(|x| std::cmp::Reverse(x.0));
        for &(u, i) in mism.iter().take(args.max_report) {
            let _ = writeln!(
                o,
                "  ({}, {}): predicted {:#x}, given {:#x} ({u} ulps)",
                i / n,
                i % n,
                d[i],
                want[i]
            );
        }
    }
    let _ = writeln!(o, "{} outputs, {} mismatches", d.len(), mism.len());
    Ok(if mism.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
