//! Criterion benches of the fast path: operation × backend × size.
//!
//! Sizes: "in-cache" is 64 KiB of f32 input (16 Ki values); "out-of-cache" is 256 MiB
//! (64 Mi values), only when `GRIDGAMES_BENCH_BIG=1` (it needs ~1 GiB of memory and minutes).
//! `cargo bench --bench simd` (add `-- quantize/` etc. to filter). CI only compiles this.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gridgames::decode::Output;
use gridgames::quant::{Profile, Quantizer};
use gridgames::simd::{self, Backend, Options};
use gridgames::tables;

fn normal(n: usize, seed: u64) -> Vec<f32> {
    // Box-Muller on a 64-bit LCG: deterministic, no extra dependency.
    let mut s = seed;
    let mut u = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| ((-2.0 * u().ln()).sqrt() * (2.0 * std::f64::consts::PI * u()).cos()) as f32)
        .collect()
}

fn sizes() -> Vec<(&'static str, usize)> {
    let mut v = vec![("64KiB", 16 * 1024)];
    if std::env::var("GRIDGAMES_BENCH_BIG").is_ok_and(|v| v == "1") {
        v.push(("256MiB", 64 * 1024 * 1024));
    }
    v
}

fn bench(c: &mut Criterion) {
    let backends: Vec<Backend> = Backend::available();
    for (label, n) in sizes() {
        let x = normal(n, 1);
        for f in tables::FORMATS.iter() {
            let Ok(q) = Quantizer::new(f, Profile::Reference) else {
                continue;
            };
            let mut g = c.benchmark_group(format!("quantize/{}/{label}", f.name));
            g.throughput(Throughput::Elements(n as u64));
            for &b in &backends {
                if b == Backend::Scalar && n > 1 << 20 {
                    continue; // the oracle takes minutes at this size
                }
                g.bench_with_input(BenchmarkId::from_parameter(b.name()), &x, |bn, x| {
                    bn.iter(|| simd::quantize(&q, x, true, &Options::with(b)))
                });
            }
            g.finish();
            let Ok(qz) = simd::quantize(&q, &x, true, &Options::default()) else {
                continue;
            };
            let ts = qz.tensor_scale.unwrap_or(1.0);
            for output in [Output::F32, Output::Bf16, Output::F16] {
                let mut g = c.benchmark_group(format!("decode-{output:?}/{}/{label}", f.name));
                g.throughput(Throughput::Elements(n as u64));
                let mut out = vec![0u32; qz.stored_len()];
                for &b in &backends {
                    if b == Backend::Scalar && n > 1 << 20 {
                        continue;
                    }
                    g.bench_function(BenchmarkId::from_parameter(b.name()), |bn| {
                        bn.iter(|| {
                            simd::decode_bits(
                                &Options::with(b),
                                f,
                                &qz.codes,
                                &qz.scales,
                                ts,
                                output,
                                &mut out,
                            )
                        })
                    });
                }
                g.finish();
            }
        }
        for e in [tables::E2M1, tables::E4M3, tables::UE8M0] {
            let mut g = c.benchmark_group(format!("encode-{}/{label}", e.name));
            g.throughput(Throughput::Elements(n as u64));
            let mut out = vec![0u8; n];
            for &b in &backends {
                g.bench_function(BenchmarkId::from_parameter(b.name()), |bn| {
                    bn.iter(|| simd::encode_elements(b, &e, &x, &mut out))
                });
            }
            g.finish();
        }
        let mut g = c.benchmark_group(format!("copy-f32/{label}"));
        g.throughput(Throughput::Elements(n as u64));
        let mut out = vec![0f32; n];
        g.bench_function("memcpy", |bn| bn.iter(|| out.copy_from_slice(&x)));
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
