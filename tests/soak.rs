//! Soak test (opt-in: `GRIDGAMES_SOAK=1`): many random values through quantize → decode for
//! every built-in format, every SIMD backend this CPU runs compared with the scalar oracle
//! (`quant::Quantizer::quantize`, `decode::decode_bits`), bit for bit. Zero mismatches.
//!
//! ```text
//! GRIDGAMES_SOAK=1 GRIDGAMES_SOAK_VALUES=1000000000 cargo test --release --test soak -- --nocapture
//! ```
//! `GRIDGAMES_SOAK_VALUES` is the number of values per format (default 10^9);
//! `GRIDGAMES_SOAK_FORMAT` restricts the run to one format (for parallel processes);
//! `GRIDGAMES_SOAK_SEED` changes the stream. The values mix the shapes that break fast
//! paths: normal-ish data over many binades, exact ties of the grids (small integers and
//! halves times powers of two), subnormals, zeros of both signs, huge values near f32's
//! maximum, and all-equal groups.

use std::time::Instant;

use gridgames::decode::{self, Output};
use gridgames::quant::{Profile, Quantizer};
use gridgames::simd::{self, Backend};
use gridgames::tables;

/// xorshift64*: fast, reproducible, independent of the code under test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// One tensor of `n` values in one of several regimes.
fn tensor(rng: &mut Rng, n: usize, out: &mut Vec<f32>) {
    out.clear();
    let regime = rng.next() % 6;
    let binade = (rng.next() % 200) as i32 - 120;
    let scale = 2f32.powi(binade.clamp(-126, 100));
    for _ in 0..n {
        let r = rng.next();
        let v = match regime {
            // Uniform mantissas over ±8 binades around `scale`.
            0 => {
                let m = (r >> 40) as f32 / (1u64 << 24) as f32;
                let e = ((r >> 8) % 16) as i32 - 8;
                m * scale * 2f32.powi(e)
            }
            // Grid ties and grid points: k/2 for small k, times a power of two.
            1 => ((r >> 32) % 25) as f32 * 0.25 * scale,
            // Raw bit patterns, finite only (NaN/Inf are refused by every profile).
            2 => {
                let x = f32::from_bits((r >> 32) as u32);
                if x.is_finite() {
                    x
                } else {
                    0.0
                }
            }
            // Subnormals and zeros of both signs.
            3 => f32::from_bits(((r >> 32) as u32) & 0x807f_ffff),
            // Near f32::MAX.
            4 => f32::from_bits(0x7f00_0000 | ((r >> 40) as u32 & 0x7f_ffff)),
            // Constant groups.
            _ => scale,
        };
        out.push(if r & 1 == 1 { -v } else { v });
    }
}

#[test]
fn soak_quantize_decode_every_backend() {
    if std::env::var("GRIDGAMES_SOAK").as_deref() != Ok("1") {
        eprintln!("soak: skipped (set GRIDGAMES_SOAK=1)");
        return;
    }
    let per_format: u64 = std::env::var("GRIDGAMES_SOAK_VALUES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000_000);
    let seed: u64 = std::env::var("GRIDGAMES_SOAK_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed);
    let backends: Vec<Backend> = Backend::available()
        .into_iter()
        .filter(|&b| b != Backend::Scalar)
        .collect();
    eprintln!("soak: {per_format} values per format, backends {backends:?}");
    let mut mismatches = 0u64;
    let total = Instant::now();
    // GRIDGAMES_SOAK_FORMAT=name runs one format, so formats can soak in parallel processes.
    let only = std::env::var("GRIDGAMES_SOAK_FORMAT").ok();
    for format in tables::FORMATS {
        if only.as_deref().is_some_and(|name| name != format.name) {
            continue;
        }
        let started = Instant::now();
        let q = Quantizer::new(format, Profile::Reference).unwrap();
        let group = format.group_size as usize;
        let n = (4096 / group).max(1) * group;
        let mut rng = Rng(seed ^ (format.name.len() as u64 * 0x9e37_79b9));
        let mut x = Vec::new();
        let mut done = 0u64;
        let mut want = vec![0u32; n];
        let mut got = vec![0u32; n];
        while done < per_format {
            tensor(&mut rng, n, &mut x);
            let oracle = q.quantize(&x, false).unwrap();
            for &b in &backends {
                let fast = simd::quantize(&q, &x, false, &simd::Options::with(b)).unwrap();
                if fast != oracle {
                    mismatches += 1;
                    if mismatches <= 5 {
                        eprintln!("{} quantize {b:?} differs on {:08x?}", format.name, &x[..8]);
                    }
                }
            }
            let ts = oracle.tensor_scale.unwrap_or(1.0);
            for output in [Output::F32, Output::F16, Output::Bf16] {
                decode::decode_bits(format, &oracle.codes, &oracle.scales, ts, output, &mut want)
                    .unwrap();
                for &b in &backends {
                    let opts = simd::Options::with(b);
                    simd::decode_bits(
                        &opts,
                        format,
                        &oracle.codes,
                        &oracle.scales,
                        ts,
                        output,
                        &mut got,
                    )
                    .unwrap();
                    if got != want {
                        mismatches += 1;
                        if mismatches <= 5 {
                            eprintln!("{} decode {output:?} {b:?} differs", format.name);
                        }
                    }
                }
            }
            done += n as u64;
        }
        let s = started.elapsed().as_secs_f64();
        eprintln!(
            "soak: {:<14} {done} values in {s:.1} s ({:.1} M values/s, all backends)",
            format.name,
            done as f64 / s / 1e6
        );
    }
    eprintln!(
        "soak: {} formats, {mismatches} mismatches, {:.1} s",
        tables::FORMATS.len(),
        total.elapsed().as_secs_f64()
    );
    assert_eq!(mismatches, 0);
}
