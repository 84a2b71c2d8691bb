//! Criterion bench: a 256×256×256 NVFP4 GEMM through the Blackwell GST-FDPA model
//! (`tcgen05.mma.kind::mxf4nvf4.block16.ue4m3`, chained over K in 64s).
//!
//! The matrices come from splitmix64 (seed 42) in the same order as
//! `scripts/peers/mmasim_cases.py --bench`, which times MMA-Sim on them; both print an FNV-1a
//! hash of D so the two results can be compared.
//!
//! Measured 2026-11-27 on this repository's 2-core dev machine (shared, so both numbers are
//! noisy): `cargo bench --bench mma` 65 ms (criterion, 62.9–67.8 ms); MMA-Sim 2.1.1 with
//! torch 2.15.0 CPU, 2 threads, `python scripts/peers/mmasim_cases.py --bench 3`: 8.0 s min,
//! 10.1 s median; about 123× faster (min vs median of ours). Both gave
//! D fnv1a = 6dbbb4cbbc80384e, i.e. the same 65536 results bit for bit.
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use gridgames::emu::{self, Elements, Layout, Operand};

use gridgames::rng::SplitMix64;

const N: usize = 256;

/// A (M×K codes, row-major), B (K×N codes, column-major), scales of A (M×K/16), of B (N×K/16).
fn matrices() -> (Vec<u32>, Vec<u32>, Vec<u8>, Vec<u8>) {
    let mut r = SplitMix64::new(42);
    let a: Vec<u32> = (0..N * N).map(|_| (r.next_u64() % 16) as u32).collect();
    let b: Vec<u32> = (0..N * N).map(|_| (r.next_u64() % 16) as u32).collect();
    let mut scale =
        || -> u8 { (0x20 + r.next_u64() % 0x40) as u8 | (((r.next_u64() % 2) as u8) << 7) };
    let sa: Vec<u8> = (0..N * N / 16).map(|_| scale()).collect();
    let sb: Vec<u8> = (0..N * N / 16).map(|_| scale()).collect();
    (a, b, sa, sb)
}

fn fnv1a(d: &[u32]) -> u64 {
    d.iter()
        .flat_map(|x| x.to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325, |h, byte| {
            (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

fn bench(c: &mut Criterion) {
    let Ok(ins) = emu::instruction("blackwell-sm100/tcgen05.mma.kind::mxf4nvf4.block16.ue4m3")
    else {
        eprintln!("instruction missing from the spec");
        return;
    };
    let (a, b, sa, sb) = matrices();
    let cz = vec![0u32; N * N];
    let oa = Operand {
        elements: Elements::Codes(&a),
        layout: Layout::RowMajor,
        scales: &sa,
    };
    let ob = Operand {
        elements: Elements::Codes(&b),
        layout: Layout::ColMajor,
        scales: &sb,
    };
    match ins.gemm(N, N, N, &oa, &ob, &cz) {
        Ok(d) => eprintln!("nvfp4 gemm 256^3: D fnv1a = {:016x}", fnv1a(&d)),
        Err(e) => {
            eprintln!("gemm failed: {e}");
            return;
        }
    }
    c.bench_function("nvfp4_gemm_256x256x256_blackwell", |bch| {
        bch.iter(|| black_box(ins.gemm(N, N, N, black_box(&oa), black_box(&ob), &cz)))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
