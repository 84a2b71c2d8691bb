//! `gridgames demo`: the main job on embedded data. Quantizes a synthetic N(0,1) tensor and a
//! small real weight tensor (all-MiniLM-L6-v2, layer 0 query) with every built-in format and
//! every profile that applies, decodes, prints a table, emulates a block-scaled MMA, and
//! checks itself. Exit status is non-zero if any check fails.
use std::process::ExitCode;
use std::time::Instant;

use gridgames::container::npy;
use gridgames::decode::{self, Output};
use gridgames::quant::{Profile, Quantized, Quantizer, TensorContext};
use gridgames::rng::SplitMix64;
use gridgames::tables;

use crate::formats::bits_per_value;

#[derive(clap::Args)]
pub struct Args {
    /// Number of synthetic N(0,1) values.
    #[arg(long, default_value_t = 1 << 16)]
    pub values: usize,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = 20261127)]
    pub seed: u64,
}

const MINILM: &[u8] = include_bytes!("../../../assets/demo/minilm_l0_query_64x384.npy");

/// Demo data: the crate's SplitMix64 with a uniform and a Box–Muller normal on top.
struct SplitMix(SplitMix64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Box–Muller.
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
    }
}

fn relative_mse(x: &[f32], y: &[f32]) -> f64 {
    let num: f64 = x
        .iter()
        .zip(y)
        .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
        .sum();
    let den: f64 = x.iter().map(|a| (*a as f64).powi(2)).sum();
    num / den
}

/// Self-checks on one quantization; returns the failures found.
fn check(q: &Quantized, x: &[f32], decoded: &[f32]) -> Vec<String> {
    let f = &q.format;
    let mut failures = vec![];
    let g = f.group_size as usize;
    // 1. Every stored scale selects the grid the quantizer chose.
    for (gi, &grid) in q.grid_of_group.iter().enumerate() {
        let scale = decode::scale_at(f, &q.scales, gi);
        if !f.selector_free() && f.grid_of_scale(scale) != Some(grid as usize) {
            failures.push(format!(
                "group {gi}: scale 0x{scale:02x} selects {:?}, quantizer chose {grid}",
                f.grid_of_scale(scale)
            ));
            break;
        }
    }
    // 2. f16 and bf16 decodes are the f32 decode's exact value rounded once (compare through
    //    the exact value, independently of decode_bits).
    for output in [Output::F16, Output::Bf16] {
        let mut bits = vec![0u32; q.stored_len()];
        if let Err(e) = decode::decode_bits(
            f,
            &q.codes,
            &q.scales,
            q.tensor_scale.unwrap_or(1.0),
            output,
            &mut bits,
        ) {
            failures.push(format!("decode {output:?}: {e}"));
            continue;
        }
        for (i, &b) in bits.iter().enumerate().take(x.len()) {
            let exact = decode::exact_value(
                f,
                q.grid_of_group[i / g] as usize,
                decode::code_at(f, &q.codes, i),
                decode::scale_at(f, &q.scales, i / g),
                q.tensor_scale.unwrap_or(1.0),
            );
            let back = match output {
                Output::F16 => half::f16::from_bits(b as u16).to_f64(),
                _ => half::bf16::from_bits(b as u16).to_f64(),
            };
            let err = (back - exact).abs();
            let f32_err = (decoded[i] as f64 - exact).abs();
            // f16/bf16 are coarser than f32: their rounding error can only be larger or equal.
            if back.is_finite() && err + 1e-300 < f32_err {
                failures.push(format!(
                    "element {i}: {output:?} decode closer than f32 decode, impossible"
                ));
                break;
            }
        }
    }
    // 3. The chosen grid is never worse than another grid of the format (first 64 groups).
    if f.grids.len() > 1 {
        let quantizer = Quantizer::new(f, q.profile).ok();
        if let Some(quantizer) = quantizer {
            let ctx = TensorContext {
                amax: 0.0,
                scale: q.tensor_scale.unwrap_or(1.0),
            };
            for (gi, chunk) in x.chunks(g).take(64).enumerate() {
                let best = quantizer.quantize_group(chunk, &ctx);
                let chosen_sse: f64 = chunk
                    .iter()
                    .enumerate()
                    .map(|(j, &v)| (v as f64 - decoded[gi * g + j] as f64).powi(2))
                    .sum();
                if chosen_sse > best.sse {
                    failures.push(format!(
                        "group {gi}: chosen SSE {chosen_sse} > best {}",
                        best.sse
                    ));
                    break;
                }
            }
        }
    }
    // 4. Sanity: a 4-bit format keeps relative MSE well below 1 on these inputs.
    let rel = relative_mse(x, decoded);
    if rel.is_nan() || rel >= 0.1 {
        failures.push(format!(
            "relative MSE {rel} is not plausible for a 4-bit format"
        ));
    }
    failures
}

/// Emulate a Blackwell NVFP4 block-scaled GEMM on quantized random matrices and compare
/// with the exact product of the decoded operands. The GST-FDPA model keeps F = 35 bits
/// below the largest scaled term of each 64-wide chunk and truncates the FP32 result, so
/// per output the error is below (K/64 + 1) FP32 ulps of the running magnitude; the demo
/// checks a looser 2^-20 of Σ|a·b| and reports the worst case.
fn emulate(rng: &mut SplitMix) -> Result<Vec<String>, String> {
    use gridgames::emu::{self, Elements, Layout, Operand};
    let (m, n, k) = (32usize, 32usize, 256usize);
    let a: Vec<f32> = (0..m * k).map(|_| rng.normal()).collect();
    let bt: Vec<f32> = (0..n * k).map(|_| rng.normal()).collect();
    let quantizer =
        Quantizer::new(&tables::NVFP4, Profile::Reference).map_err(|e| e.to_string())?;
    // Block scales only: the FP32 tensor scales are an epilogue factor outside the MMA.
    let one = TensorContext {
        amax: 0.0,
        scale: 1.0,
    };
    let quantize = |x: &[f32]| {
        quantizer
            .quantize_with_context(x, &one, false)
            .map(|q| (q.codes, q.scales))
            .map_err(|e| e.to_string())
    };
    let (qa, sa) = quantize(&a)?;
    let (qb, sb) = quantize(&bt)?;
    let id = "blackwell-sm100/tcgen05.mma.kind::mxf4nvf4.block16.ue4m3";
    let instr = emu::instruction(id).map_err(|e| format!("{e}"))?;
    let op_a = Operand {
        elements: Elements::PackedFp4(&qa),
        layout: Layout::RowMajor,
        scales: &sa,
    };
    let op_b = Operand {
        elements: Elements::PackedFp4(&qb),
        layout: Layout::ColMajor,
        scales: &sb,
    };
    let start = Instant::now();
    // A random FP32 accumulator input, so alignment and truncation matter.
    let c: Vec<f32> = (0..m * n).map(|_| rng.normal() * 64.0).collect();
    let c_bits: Vec<u32> = c.iter().map(|v| v.to_bits()).collect();
    let d = instr
        .gemm(m, n, k, &op_a, &op_b, &c_bits)
        .map_err(|e| format!("{e}"))?;
    let seconds = start.elapsed().as_secs_f64();
    let value = |codes: &[u8], scales: &[u8], i: usize| {
        decode::exact_value(
            &tables::NVFP4,
            0,
            decode::code_at(&tables::NVFP4, codes, i),
            scales[i / 16] as u32,
            1.0,
        )
    };
    let mut worst = 0f64;
    let mut exact_matches = 0usize;
    for i in 0..m {
        for j in 0..n {
            let (mut sum, mut mag) = (c[i * n + j] as f64, (c[i * n + j] as f64).abs());
            for kk in 0..k {
                let p = value(&qa, &sa, i * k + kk) * value(&qb, &sb, j * k + kk);
                sum += p;
                mag += p.abs();
            }
            let got = f32::from_bits(d[i * n + j]) as f64;
            // f64 accumulation: its error (about 2^-53 of the sum of magnitudes) is far below
            // the 2^-20 check and the FP32 ulps compared here.
            exact_matches += (got == sum as f32 as f64) as usize;
            worst = worst.max((got - sum).abs() / mag.max(f64::MIN_POSITIVE));
        }
    }
    if worst > 2f64.powi(-20) {
        return Err(format!("{id}: error {worst:e} of Σ|a·b| exceeds 2^-20"));
    }
    Ok(vec![
        format!("emulated {id}: {m}x{n}x{k} NVFP4 GEMM in {:.1} ms (integer GST-FDPA model)", seconds * 1e3),
        format!("  {exact_matches}/{} outputs equal the exact A·B + C rounded to nearest f32 (the hardware model truncates); worst error {worst:.2e} of Σ|a·b| + |c| (check: < 2^-20)", m * n),
    ])
}

/// Show `verify` at work: our own SFP4 output passes, and two planted implementation bugs
/// (swapped nibbles, a dropped selector bit) are caught and named.
fn verify_demo(x: &[f32]) -> Result<Vec<String>, String> {
    use gridgames::vectors::verify::{Answer, Options, Report, Verifier};
    let format = tables::format("sfp4").copied().unwrap_or(tables::NVFP4);
    let x = &x[..4096];
    let q = Quantizer::new(&format, Profile::Reference)
        .map_err(|e| e.to_string())?
        .quantize(x, false)
        .map_err(|e| e.to_string())?;
    let verifier = Verifier::new(&format, Profile::Reference, Options::default())?;
    let good = Answer {
        codes: q.codes.clone(),
        scales: q.scales.clone(),
        tensor_scale: q.tensor_scale,
        grids: Some(q.grid_of_group.clone()),
    };
    let swapped = Answer {
        codes: q.codes.iter().map(|b| b.rotate_left(4)).collect(),
        ..good.clone()
    };
    let no_selector = Answer {
        scales: q
            .scales
            .iter()
            .map(|&s| s & format.value_mask as u8)
            .collect(),
        ..good.clone()
    };
    let mut lines = vec![format!(
        "verify ({} reference, {} values):",
        format.name,
        x.len()
    )];
    for (name, answer, must_fail) in [
        ("our own output", &good, false),
        ("planted bug: nibbles swapped", &swapped, true),
        ("planted bug: selector bits dropped", &no_selector, true),
    ] {
        let mut report = Report::default();
        verifier.check("demo", x, Ok(answer), &mut report)?;
        let classes: Vec<String> = report
            .counts()
            .iter()
            .map(|(c, n)| format!("{} ×{n}", c.name()))
            .collect();
        let caught = !report.mismatches.is_empty();
        if caught != must_fail {
            return Err(format!(
                "{name}: expected {}, got {:?}",
                if must_fail { "mismatches" } else { "none" },
                classes
            ));
        }
        lines.push(format!(
            "  {name:<36} {}",
            if caught {
                classes.join(", ")
            } else {
                "0 mismatches".to_string()
            }
        ));
    }
    Ok(lines)
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let mut rng = SplitMix(SplitMix64::new(args.seed));
    let synthetic: Vec<f32> = (0..args.values).map(|_| rng.normal()).collect();
    let minilm = npy::parse(MINILM)
        .and_then(|a| a.to_f32(false))
        .map_err(|e| format!("embedded MiniLM slice: {e}"))?;
    let datasets: [(&str, &[f32]); 2] = [("N(0,1)", &synthetic), ("MiniLM-L6 q", &minilm)];

    println!("gridgames demo: quantize → decode → check, every built-in format and profile");
    println!("data: {} synthetic N(0,1) values (seed {}), {} real weights (all-MiniLM-L6-v2 layer 0 query, 64x384)", synthetic.len(), args.seed, minilm.len());
    println!();
    println!(
        "{:<14} {:<14} {:<12} {:>10} {:>9} {:>12} {:>8}",
        "format", "profile", "data", "rel. MSE", "bits/val", "Mvalues/s", "checks"
    );
    let mut failed = 0usize;
    for f in tables::FORMATS {
        for profile in Profile::for_format(f) {
            for (name, x) in datasets {
                let quantizer = Quantizer::new(f, profile).map_err(|e| e.to_string())?;
                let n = x.len() - x.len() % f.group_size as usize;
                let x = &x[..n];
                let start = Instant::now();
                let q = match quantizer.quantize(x, false) {
                    Ok(q) => q,
                    Err(e) => {
                        println!(
                            "{:<14} {:<14} {:<12} error: {e}",
                            f.name,
                            profile.name(),
                            name
                        );
                        failed += 1;
                        continue;
                    }
                };
                let decoded = q.decode_f32().map_err(|e| e.to_string())?;
                let seconds = start.elapsed().as_secs_f64();
                let failures = check(&q, x, &decoded);
                let verdict = if failures.is_empty() {
                    "ok".to_string()
                } else {
                    format!("FAIL ({})", failures.len())
                };
                println!(
                    "{:<14} {:<14} {:<12} {:>10.6} {:>9.3} {:>12.2} {:>8}",
                    f.name,
                    profile.name(),
                    name,
                    relative_mse(x, &decoded),
                    bits_per_value(f),
                    n as f64 / seconds / 1e6,
                    verdict
                );
                for failure in &failures {
                    println!("    {failure}");
                }
                failed += failures.len();
            }
        }
    }
    println!();
    match emulate(&mut rng) {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
        }
        Err(e) => {
            println!("emulation FAILED: {e}");
            failed += 1;
        }
    }
    match verify_demo(&synthetic) {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
        }
        Err(e) => {
            println!("verify FAILED: {e}");
            failed += 1;
        }
    }
    println!();
    println!("(throughput is the scalar reference path, quantize + decode; see docs/performance.md for the fast path)");
    if failed > 0 {
        println!("demo: {failed} check(s) FAILED");
        return Ok(ExitCode::FAILURE);
    }
    println!("demo: all checks passed");
    Ok(ExitCode::SUCCESS)
}
