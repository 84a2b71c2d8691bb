//! NVIDIA's float conversions (`element::cuda`) against an H200 running CUDA 13.0's headers
//! (gpu/cvt_probe.cu, gpu/results/h200_cvt_probe.txt): a strided subset of the recorded
//! outputs always, and all 2^32 inputs of every mode (the FNV-1a hash the probe printed)
//! with GRIDGAMES_EXHAUSTIVE=1.

use gridgames::element::cuda::{self, CudaRounding as R, CudaSaturation as S};
use gridgames::element::Element;
use gridgames::tables;

/// The probe's modes, in its order, with the hash it printed over all 2^32 inputs.
const MODES: [(&str, S, R, u64); 14] = [
    ("e4m3", S::SatFinite, R::Nearest, 0xebacd1da2b4991d2),
    ("e4m3", S::NoSat, R::Nearest, 0x665055fe08bee7a2),
    ("e5m2", S::SatFinite, R::Nearest, 0xa5a11dd42827d3e9),
    ("e5m2", S::NoSat, R::Nearest, 0x32c068d7fd514bc8),
    ("ue8m0", S::SatFinite, R::Zero, 0x89fe52c1696dac01),
    ("ue8m0", S::NoSat, R::Zero, 0xf449df6cb57cd54d),
    ("ue8m0", S::SatFinite, R::PosInf, 0x95e2eb5e53a840a5),
    ("ue8m0", S::NoSat, R::PosInf, 0x7b8b981f39398bf5),
    ("e2m1", S::SatFinite, R::Nearest, 0x3371c8f1bd178949),
    ("e2m1", S::SatFinite, R::Zero, 0x10757ba5e9cecfdf),
    ("e2m3", S::SatFinite, R::Nearest, 0x0ac734b79bc73e92),
    ("e2m3", S::SatFinite, R::Zero, 0x2ab8ce1593919122),
    ("e3m2", S::SatFinite, R::Nearest, 0x43e77e7df63af52b),
    ("e3m2", S::SatFinite, R::Zero, 0x7a52410d29dc4993),
];

fn element(name: &str) -> &'static Element {
    tables::element(name).expect("element")
}

fn code(e: &Element, bits: u32, s: S, r: R) -> u8 {
    cuda::convert(e, f32::from_bits(bits), s, r).expect("mode") as u8
}

#[test]
fn strided_subset_matches_the_h200() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/vectors/cuda_cvt/samples.bin"
    ))
    .expect("vectors/cuda_cvt/samples.bin");
    let per = 1 << 16;
    assert_eq!(bytes.len(), MODES.len() * per);
    for (m, &(name, s, r, _)) in MODES.iter().enumerate() {
        let e = element(name);
        let mut bad = Vec::new();
        for j in 0..per {
            let bits = (j as u32) * 65536 + 2049;
            let want = bytes[m * per + j];
            let got = code(e, bits, s, r);
            if got != want {
                bad.push(format!("0x{bits:08x}: ours 0x{got:02x}, H200 0x{want:02x}"));
            }
        }
        assert!(
            bad.is_empty(),
            "{name} {s:?} {r:?}: {} of {per} differ: {:?}",
            bad.len(),
            &bad[..bad.len().min(8)]
        );
    }
}

#[test]
fn every_f32_matches_the_h200_hash() {
    if std::env::var("GRIDGAMES_EXHAUSTIVE").as_deref() != Ok("1") {
        eprintln!("SKIP every_f32_matches_the_h200_hash: set GRIDGAMES_EXHAUSTIVE=1 (2^32 inputs × 14 modes)");
        return;
    }
    const FNV_OFFSET: u64 = 0xcbf29ce484222325;
    const FNV_PRIME: u64 = 0x100000001b3;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    for &(name, s, r, want) in &MODES {
        let e = element(name);
        // Chunk c covers inputs c·2^22 .. (c+1)·2^22, hashed in order; chunks split over threads.
        let chunks: Vec<u64> = std::thread::scope(|sc| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    sc.spawn(move || {
                        (0..1024u32)
                            .filter(|c| *c as usize % threads == t)
                            .map(|c| {
                                let mut h = FNV_OFFSET;
                                for i in 0..(1u32 << 22) {
                                    h ^= u64::from(code(e, (c << 22) | i, s, r));
                                    h = h.wrapping_mul(FNV_PRIME);
                                }
                                (c, h)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut all: Vec<(u32, u64)> = handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect();
            all.sort();
            all.into_iter().map(|(_, h)| h).collect()
        });
        let mut total = FNV_OFFSET;
        for h in chunks {
            for b in 0..8 {
                total ^= (h >> (8 * b)) & 0xff;
                total = total.wrapping_mul(FNV_PRIME);
            }
        }
        assert_eq!(
            total, want,
            "{name} {s:?} {r:?}: hash over all 2^32 inputs differs from the H200's"
        );
        eprintln!("{name} {s:?} {r:?}: all 2^32 inputs match the H200");
    }
}

/// Modes CUDA does not have are refused with a message, not guessed.
#[test]
fn modes_cuda_lacks_are_refused() {
    let err = cuda::convert(element("ue8m0"), 1.0, S::SatFinite, R::Nearest).unwrap_err();
    assert!(
        err.to_string().contains("no f32 -> ue8m0 conversion"),
        "{err}"
    );
    assert!(cuda::convert(element("e4m3"), 1.0, S::SatFinite, R::Zero).is_err());
    assert!(cuda::convert(element("e2m1"), 1.0, S::NoSat, R::Nearest).is_err());
}
