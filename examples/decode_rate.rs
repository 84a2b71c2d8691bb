//! Decode rate of NVFP4 to f32, bf16 and f16 on the CPU's best backend, one thread, with and
//! without the per-tensor scale-byte tables (`simd::par` builds them for decodes of 2048
//! groups or more; calls of 1024 groups take the per-group path). Best of 5 over 2^24 values.
//!
//!     cargo run --release --example decode_rate
use gridgames::decode::Output;
use gridgames::simd::{self, Backend, Options};

fn main() {
    let Some(f) = gridgames::tables::format("nvfp4") else {
        eprintln!("nvfp4 is built in");
        return;
    };
    let n = 1 << 24;
    let codes: Vec<u8> = (0..n / 2usize)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let scales: Vec<u8> = (0..n / 16)
        .map(|i| 0x30 + (((i * 40_503) >> 7) as u8) % 0x40)
        .collect();
    let backend = Backend::detect();
    let opts = Options::with(backend);
    println!("backend {}, 1 thread, {n} values", backend.name());
    let mut out = vec![0u32; n];
    for output in [Output::F32, Output::Bf16, Output::F16] {
        for (label, chunk) in [("per-group tables", 1024 * 16), ("scale-byte tables", n)] {
            let mut best = f64::MAX;
            for _ in 0..5 {
                let t = std::time::Instant::now();
                for (k, dst) in out.chunks_mut(chunk).enumerate() {
                    let c0 = k * chunk;
                    let (c, s) = (
                        &codes[c0 / 2..(c0 + dst.len()) / 2],
                        &scales[c0 / 16..(c0 + dst.len()) / 16],
                    );
                    if let Err(e) = simd::decode_bits(&opts, f, c, s, 0.01, output, dst) {
                        eprintln!("decode failed: {e}");
                        return;
                    }
                }
                best = best.min(t.elapsed().as_secs_f64());
            }
            println!(
                "{output:?} {label}: {:.2} G values/s",
                n as f64 / best / 1e9
            );
        }
    }
}
