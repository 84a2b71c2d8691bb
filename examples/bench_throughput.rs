//! Throughput of the fast path on one input, for `benches/peers/time_peers.py` (which times
//! the public libraries on the same data in the same run). Prints one JSON object per line.
//!
//! ```text
//! cargo run --release --example bench_throughput -- INPUT.f32 OP FORMAT BACKEND THREADS REPS
//! ```
//! INPUT.f32: raw little-endian f32 values. OP: quantize | quantize-fresh (a new tensor
//! scale every call, so the per-tensor plan is rebuilt) | decode-f32 | decode-bf16 |
//! decode-f16 | encode-e2m1 | encode-e4m3 | copy. BACKEND: scalar | portable | avx2 | avx512.
//! The best of REPS timed runs is reported (the machine is shared; the best run is the one
//! least disturbed).

use std::time::Instant;

use gridgames::decode::Output;
use gridgames::quant::{Profile, Quantizer};
use gridgames::simd::{self, Backend, Options};
use gridgames::tables;

fn main() {
    if let Err(e) = run() {
        eprintln!("bench_throughput: {e}");
        std::process::exit(2);
    }
}

fn best_of<F: FnMut()>(reps: usize, mut f: F) -> f64 {
    f(); // warm caches and pages
    (0..reps.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, op, format, backend, threads, reps] = args.as_slice() else {
        return Err("usage: INPUT.f32 OP FORMAT BACKEND THREADS REPS".into());
    };
    let bytes = std::fs::read(input).map_err(|e| format!("{input}: {e}"))?;
    let x: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let f = tables::format(format).ok_or(format!("unknown format {format}"))?;
    let backend = Backend::from_name(backend).ok_or(format!("unknown backend {backend}"))?;
    let threads: usize = threads.parse().map_err(|_| "THREADS: a number")?;
    let reps: usize = reps.parse().map_err(|_| "REPS: a number")?;
    let opts = Options { backend, threads };
    let q = Quantizer::new(f, Profile::Reference).map_err(|e| e.to_string())?;
    let n = x.len();
    let seconds = match op.as_str() {
        "quantize" => best_of(reps, || {
            let r = simd::quantize(&q, &x, true, &opts);
            std::hint::black_box(&r);
        }),
        "quantize-fresh" => {
            // Every call a new tensor scale (x and 0.75·x alternate), so no call reuses the
            // previous call's plan: the cost of a tensor quantized once.
            let y: Vec<f32> = x.iter().map(|v| v * 0.75).collect();
            let mut flip = false;
            best_of(reps, || {
                flip = !flip;
                let r = simd::quantize(&q, if flip { &x } else { &y }, true, &opts);
                std::hint::black_box(&r);
            })
        }
        "decode-f32" | "decode-bf16" | "decode-f16" => {
            let qz = simd::quantize(&q, &x, true, &opts).map_err(|e| e.to_string())?;
            let ts = qz.tensor_scale.unwrap_or(1.0);
            let m = qz.stored_len();
            let mut out = vec![0u32; m];
            let output = match op.as_str() {
                "decode-f32" => Output::F32,
                "decode-bf16" => Output::Bf16,
                _ => Output::F16,
            };
            best_of(reps, || {
                let r = simd::decode_bits(&opts, f, &qz.codes, &qz.scales, ts, output, &mut out);
                std::hint::black_box((&r, &out));
            })
        }
        "encode-e2m1" | "encode-e4m3" => {
            let e = if op == "encode-e2m1" {
                tables::E2M1
            } else {
                tables::E4M3
            };
            let mut out = vec![0u8; n];
            best_of(reps, || {
                let r = simd::encode_elements(backend, &e, &x, &mut out);
                std::hint::black_box((&r, &out));
            })
        }
        "copy" => {
            let mut out = vec![0f32; n];
            best_of(reps, || {
                out.copy_from_slice(std::hint::black_box(&x));
                std::hint::black_box(&out);
            })
        }
        other => return Err(format!("unknown op {other}")),
    };
    println!(
        "{{\"impl\": \"gridgames\", \"op\": \"{op}\", \"format\": \"{format}\", \"backend\": \"{}\", \"threads\": {threads}, \"values\": {n}, \"best_s\": {seconds:e}, \"values_per_s\": {:e}}}",
        backend.name(),
        n as f64 / seconds
    );
    Ok(())
}
