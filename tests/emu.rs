//! Tensor-core emulator tests. Expected values come from MMA-Sim (the checked-in case files of
//! `vectors/mma/<arch>/`), from real hardware (`vectors/mma/hopper-h200/`), or from hand
//! derivations written out below (from the worked example of Xie et al., "MMA-Sim",
//! arXiv 2511.10909); none is computed by the code under test.
use std::path::{Path, PathBuf};

use gridgames::emu::sfp4::{self, Pipeline};
use gridgames::emu::{self, cases, Elements, Layout, Operand};

fn case_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/mma");
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "txt") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_spec_file_parses() {
    let reg = emu::registry().expect("spec files parse");
    let arches: Vec<&str> = reg.arches.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        arches,
        [
            "volta",
            "turing",
            "ampere",
            "ada",
            "hopper",
            "blackwell-sm100",
            "blackwell-sm120"
        ]
    );
    assert!(reg.arches.iter().all(|a| !a.provenance.is_empty()));
    for id in [
        "hopper/mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32",
        "hopper/mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32",
        "hopper/wgmma.f32.e4m3.e4m3",
        "hopper/wgmma.f32.bf16.bf16",
        "blackwell-sm100/tcgen05.mma.kind::mxf4nvf4.block16.ue4m3",
        "blackwell-sm100/tcgen05.mma.kind::mxf4nvf4.block32.ue8m0",
        "blackwell-sm100/tcgen05.mma.kind::mxf4.block32.ue8m0",
        "blackwell-sm100/tcgen05.mma.kind::mxf8f6f4.block32.e4m3.e2m1.ue8m0",
    ] {
        assert!(reg.get(id).is_some(), "{id} missing");
    }
    assert_eq!(
        reg.get("hopper/mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32")
            .map(|i| i.source.as_str()),
        Some("hardware")
    );
}

#[test]
fn bad_spec_is_reported_with_file_name() {
    let bad = "arch: x\ndisplay: X\nprovenance: p\ninstructions:\n  - name: y\n    model: q-fdpa\n    a: f16\n    b: f16\n    k: 4\n    l_max: 4\n    F: 23\n    rounding: rz-fp32\n    e_zero: -1\n    source: s\n";
    let err = emu::spec::parse_all(&[("bad.yaml", bad)]).expect_err("unknown model");
    assert!(
        err.to_string().contains("bad.yaml:5:") && err.to_string().contains("q-fdpa"),
        "the error names the file, the family's line (5) and the bad value: {err}"
    );
}

/// Every checked-in case file (MMA-Sim and hardware) passes bit for bit.
#[test]
fn all_case_files_pass() {
    let files = case_files();
    assert!(
        files.len() >= 12,
        "expected the mmasim and hardware case files, found {}",
        files.len()
    );
    let mut total = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).expect("readable");
        let r = cases::check(&text);
        assert!(
            r.malformed.is_empty(),
            "{}: malformed {:?}",
            f.display(),
            &r.malformed[..r.malformed.len().min(3)]
        );
        let first: Vec<String> = r
            .mismatches
            .iter()
            .take(3)
            .map(|m| format!("line {}: want {:08X} got {:08X}", m.line, m.expected, m.got))
            .collect();
        assert!(
            r.mismatches.is_empty(),
            "{}: {} mismatches, e.g. {first:?}",
            f.display(),
            r.mismatches.len()
        );
        // The third-party hardware files (km/) are 256-case subsets of 5000 (the full sets
        // are regenerated and checked by scripts/km_convert.py, see vectors/mma/README.md).
        let least = if f.parent().is_some_and(|d| d.ends_with("km")) {
            256
        } else {
            1000
        };
        assert!(r.cases >= least, "{}: only {} cases", f.display(), r.cases);
        total += r.cases;
    }
    assert!(total >= 120_000);
}

/// The worked example of MMA-Sim (arXiv 2511.10909, its exact-result example): −0.875 from
/// a = [−2^13, −0.5, −0.25, −0.125], b = [2^10, 1, 1, 1], c = 2^23, other lanes zero.
#[test]
fn worked_example_per_architecture() {
    const C: u32 = 0x4B00_0000; // 2^23
    const ZERO: u32 = 0;
    const M050: u32 = 0xBF00_0000;
    const M075: u32 = 0xBF40_0000;
    // (instruction, element codes of a and b for the four lanes, K, expected d)
    let f16 = (
        [0xF000, 0xB800, 0xB400, 0xB000],
        [0x6400, 0x3C00, 0x3C00, 0x3C00],
    );
    let bf16 = (
        [0xC600, 0xBF00, 0xBE80, 0xBE00],
        [0x4480, 0x3F80, 0x3F80, 0x3F80],
    );
    let tf32 = (
        [0xC600_0000, 0xBF00_0000, 0xBE80_0000, 0xBE00_0000],
        [0x4480_0000, 0x3F80_0000, 0x3F80_0000, 0x3F80_0000],
    );
    let e5m2 = ([0xF0, 0xB8, 0xB4, 0xB0], [0x64, 0x3C, 0x3C, 0x3C]);
    type Lanes = ([u32; 4], [u32; 4]);
    let rows: [(&str, Lanes, usize, u32); 11] = [
        (
            "volta/mma.sync.aligned.m8n8k4.row.col.f32.f16.f16.f32",
            f16,
            4,
            ZERO,
        ),
        (
            "turing/mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32",
            f16,
            8,
            M050,
        ),
        (
            "ampere/mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32",
            f16,
            16,
            M050,
        ),
        (
            "ampere/mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32",
            bf16,
            16,
            M050,
        ),
        (
            "ampere/mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32",
            tf32,
            8,
            M050,
        ),
        (
            "ada/mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32",
            f16,
            16,
            M050,
        ),
        (
            "ada/mma.sync.aligned.m16n8k32.row.col.f32.e5m2.e5m2.f32",
            e5m2,
            32,
            ZERO,
        ),
        ("hopper/wgmma.f32.f16.f16", f16, 16, M075),
        ("hopper/wgmma.f32.e5m2.e5m2", e5m2, 32, ZERO),
        (
            "blackwell-sm100/tcgen05.mma.kind::f16.f32.f16.f16",
            f16,
            16,
            M075,
        ),
        (
            "blackwell-sm100/tcgen05.mma.kind::f8f6f4.f32.e5m2.e5m2",
            e5m2,
            32,
            M075,
        ),
    ];
    for (id, (a4, b4), k, want) in rows {
        let ins = emu::instruction(id).expect(id);
        let mut a = vec![0u32; k];
        let mut b = vec![0u32; k];
        a[..4].copy_from_slice(&a4);
        b[..4].copy_from_slice(&b4);
        assert_eq!(ins.dot(&a, &b, &[], &[], C), Ok(want), "{id}");
    }
    // Blackwell MXFP8 with unit scales (E8M0 0x7F = 1): −0.75.
    let ins =
        emu::instruction("blackwell-sm100/tcgen05.mma.kind::mxf8f6f4.block32.e5m2.e5m2.ue8m0")
            .expect("mxf8");
    let (mut a, mut b) = (vec![0u32; 32], vec![0u32; 32]);
    a[..4].copy_from_slice(&e5m2.0);
    b[..4].copy_from_slice(&e5m2.1);
    assert_eq!(ins.dot(&a, &b, &[0x7F], &[0x7F], C), Ok(M075));
    // GST-FDPA: group 0 a = [−4], b = [4]; group 1 a = [−1, −1, −0.5], b = [1, 0.5, 0.5];
    // α = [2^11, 1, 1, 1], β = [2^8, 2^−1, 1, 1] (E8M0): exact −0.875 survives (F = 35).
    let ins =
        emu::instruction("blackwell-sm100/tcgen05.mma.kind::mxf4nvf4.block16.ue8m0").expect("nvf4");
    let (mut a, mut b) = (vec![0u32; 64], vec![0u32; 64]);
    a[0] = 0xE;
    b[0] = 0x6;
    a[16..19].copy_from_slice(&[0xA, 0xA, 0x9]);
    b[16..19].copy_from_slice(&[0x2, 0x1, 0x1]);
    assert_eq!(
        ins.dot(
            &a,
            &b,
            &[0x8A, 0x7F, 0x7F, 0x7F],
            &[0x87, 0x7E, 0x7F, 0x7F],
            C
        ),
        Ok(0xBF60_0000)
    );
}

#[test]
fn special_values() {
    let nv =
        emu::instruction("blackwell-sm100/tcgen05.mma.kind::mxf4nvf4.block16.ue4m3").expect("nvf4");
    let a = vec![0x2u32; 64]; // all 1.0
    let one = [0x38u8; 4]; // UE4M3 1.0
                           // 64 · 1 · 1 = 64; the UE4M3 sign bit is ignored.
    assert_eq!(
        nv.dot(&a, &a, &one, &[0xB8, 0x38, 0xB8, 0x38], 0),
        Ok(0x4280_0000)
    );
    // A NaN scale (0x7F, or 0xFF once the sign is cleared) makes the output NaN, even over zeros.
    assert_eq!(
        nv.dot(&vec![0; 64], &a, &[0xFF, 0x38, 0x38, 0x38], &one, 0),
        Ok(0x7FFF_FFFF)
    );
    let bf = emu::instruction("hopper/mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32")
        .expect("bf16");
    let mut x = vec![0u32; 16];
    let mut y = vec![0u32; 16];
    // Inf · 0 is NaN; +Inf + −Inf is NaN; Inf alone is Inf; −0 sums give +0.
    x[0] = 0x7F80;
    assert_eq!(bf.dot(&x, &y, &[], &[], 0), Ok(0x7FFF_FFFF));
    y[0] = 0x3F80;
    assert_eq!(bf.dot(&x, &y, &[], &[], 0xFF80_0000), Ok(0x7FFF_FFFF));
    assert_eq!(bf.dot(&x, &y, &[], &[], 0x3F80_0000), Ok(0x7F80_0000));
    assert_eq!(
        bf.dot(&[0x8000; 16], &[0x3F80; 16], &[], &[], 0x8000_0000),
        Ok(0)
    );
    // Overflow goes to Inf, not to the largest finite value: 2^127·1.5 + 2^127·1.5 (C).
    x[0] = 0x7F40;
    assert_eq!(bf.dot(&x, &y, &[], &[], 0x7F40_0000), Ok(0x7F80_0000));
    // Subnormal results are kept (RZ): 2^-149 · 1.
    let tf = emu::instruction("ampere/mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32")
        .expect("tf32");
    let mut p = vec![0u32; 8];
    let mut q = vec![0u32; 8];
    p[0] = 0x0000_2000; // smallest TF32 subnormal, 2^-136
    q[0] = 0x3800_0000; // 2^-15
    assert_eq!(tf.dot(&p, &q, &[], &[], 0), Ok(0)); // 2^-151 truncates to +0
    q[0] = 0x3B80_0000; // 2^-8 → 2^-144
    assert_eq!(tf.dot(&p, &q, &[], &[], 0), Ok(0x0000_0020));
}

#[test]
fn malformed_lines_are_reported_and_the_rest_checked() {
    let good = "hopper/wgmma.f32.bf16.bf16 3F803F803F803F803F803F803F803F803F803F803F803F803F803F803F803F80 3F803F803F803F803F803F803F803F803F803F803F803F803F803F803F803F80 - - 00000000 41800000";
    let text = format!(
        "# header\n{good}\nnot/an.instr 00 00 - - 00000000 00000000\n{}\n{}\nhopper/wgmma.f32.bf16.bf16 3F80 3F80 - - 00000000 3F800000\n{good} # trailing comment\n",
        good.replace(" - - ", " 00 - "),
        good.replace("3F80 -", "3G80 -"),
    );
    let r = cases::check(&text);
    assert_eq!(r.cases, 2);
    assert!(r.mismatches.is_empty());
    let lines: Vec<usize> = r.malformed.iter().map(|m| m.0).collect();
    assert_eq!(lines, [3, 4, 5, 6]);
    assert!(
        r.malformed[0].1.contains("unknown instruction"),
        "{}",
        r.malformed[0].1
    );
    assert!(
        r.malformed[1].1.contains("sa: expected `-`"),
        "{}",
        r.malformed[1].1
    );
    assert!(
        r.malformed[2].1.contains("not a hex digit"),
        "{}",
        r.malformed[2].1
    );
    assert!(
        r.malformed[3].1.contains("K = 1 is not allowed"),
        "{}",
        r.malformed[3].1
    );
    // A wrong d is a mismatch with its ULP distance.
    let r = cases::check(&good.replace("41800000", "41800002"));
    assert_eq!(
        (
            r.mismatches.len(),
            r.mismatches[0].ulps,
            r.mismatches[0].nan_payload_only
        ),
        (1, 2, false)
    );
    let r = cases::check(
        &good
            .replace("41800000", "7FC00000")
            .replace("3F803F80 - -", "3F807FC1 - -"),
    );
    assert!(r.mismatches[0].nan_payload_only);
    // --emit fills `-` and keeps comments.
    let filled = cases::emit(&format!("# c\n{}\n", good.replace("41800000", "-"))).expect("emit");
    assert_eq!(filled, format!("# c\n{good}\n"));
}

/// Small integers are exact in every model: D = A·B + C as integers (hand arithmetic), through
/// the matrix API with row/column-major and packed FP4 (low nibble first).
#[test]
fn gemm_layouts_and_packing() {
    let ins =
        emu::instruction("blackwell-sm100/tcgen05.mma.kind::mxf4nvf4.block16.ue4m3").expect("nvf4");
    let (m, n, k) = (3usize, 2usize, 64usize);
    // E2M1 codes of small integers: 0→0, 1→2, 2→4, 3→5, 4→6; negative adds 8.
    let code = |v: i32| -> u32 {
        [0u32, 2, 4, 5, 6][v.unsigned_abs() as usize] | if v < 0 { 8 } else { 0 }
    };
    let av = |i: usize, kk: usize| ((i * 7 + kk * 3) % 9) as i32 - 4;
    let bv = |kk: usize, j: usize| ((kk * 5 + j * 11) % 7) as i32 - 3;
    let a_row: Vec<u32> = (0..m * k).map(|x| code(av(x / k, x % k))).collect();
    let b_col: Vec<u32> = (0..n * k).map(|x| code(bv(x % k, x / k))).collect(); // column-major K×N
    let pack = |v: &[u32]| -> Vec<u8> { v.chunks(2).map(|p| (p[0] | p[1] << 4) as u8).collect() };
    let sa = vec![0x38u8; m * k / 16];
    let sb = vec![0x38u8; n * k / 16];
    let c: Vec<u32> = vec![0; m * n];
    let want: Vec<u32> = (0..m * n)
        .map(|x| {
            let (i, j) = (x / n, x % n);
            let s: i32 = (0..k).map(|kk| av(i, kk) * bv(kk, j)).sum();
            (s as f32).to_bits() // exact small integer: the host conversion is exact
        })
        .collect();
    let a1 = Operand {
        elements: Elements::Codes(&a_row),
        layout: Layout::RowMajor,
        scales: &sa,
    };
    let b1 = Operand {
        elements: Elements::Codes(&b_col),
        layout: Layout::ColMajor,
        scales: &sb,
    };
    assert_eq!(ins.gemm(m, n, k, &a1, &b1, &c).expect("gemm"), want);
    let (pa, pb) = (pack(&a_row), pack(&b_col));
    let a2 = Operand {
        elements: Elements::PackedFp4(&pa),
        layout: Layout::RowMajor,
        scales: &sa,
    };
    let b2 = Operand {
        elements: Elements::PackedFp4(&pb),
        layout: Layout::ColMajor,
        scales: &sb,
    };
    assert_eq!(ins.gemm(m, n, k, &a2, &b2, &c).expect("gemm packed"), want);
    // The same through the generic (non-GST) path: an FP8 instruction, row-major B.
    let f8 = emu::instruction("hopper/wgmma.f32.e4m3.e4m3").expect("e4m3");
    let e4 = |v: i32| -> u32 {
        [0u32, 0x38, 0x40, 0x44, 0x48][v.unsigned_abs() as usize] | if v < 0 { 0x80 } else { 0 }
    };
    let a3: Vec<u32> = (0..m * k).map(|x| e4(av(x / k, x % k))).collect();
    let b3: Vec<u32> = (0..k * n).map(|x| e4(bv(x / n, x % n))).collect(); // row-major K×N
    let o1 = Operand {
        elements: Elements::Codes(&a3),
        layout: Layout::RowMajor,
        scales: &[],
    };
    let o2 = Operand {
        elements: Elements::Codes(&b3),
        layout: Layout::RowMajor,
        scales: &[],
    };
    assert_eq!(f8.gemm(m, n, k, &o1, &o2, &c).expect("gemm fp8"), want);
}

// ---------------------------------------------------------------------------------------
// SFP4

fn rng(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn fp4(code: u32) -> f64 {
    let m = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0][(code & 7) as usize];
    if code & 8 != 0 {
        -m
    } else {
        m
    }
}

fn ue4m3(b: u8) -> f64 {
    let (e, m) = (i32::from((b >> 3) & 15), f64::from(b & 7));
    if e == 0 {
        m * 2f64.powi(-9)
    } else {
        (8.0 + m) * 2f64.powi(e - 10)
    }
}

#[test]
fn sfp4_selector_and_hand_example() {
    assert!(sfp4::split_scale(0x40).is_err());
    assert_eq!(
        sfp4::split_scale(0xB8).map(|(g, s)| (g.delta(), s)),
        Ok((1, 0x38))
    );
    assert_eq!(
        sfp4::split_scale(0xF8).map(|(g, s)| (g.delta(), s)),
        Ok((-1, 0x38))
    );
    // Blocks (plus, minus, plain, plus) of 1.0-codes, scale 1.0, times NVFP4 1.0 with scale 1:
    // 16·1.5 + 16·0.5 + 16·1 + 16·1.5 = 72 (= 0x42900000), in every pipeline.
    let a = vec![0x2u32; 64];
    for p in [Pipeline::Blackwell, Pipeline::Hopper, Pipeline::Exact] {
        assert_eq!(
            p.dot(&a, &a, &[0xB8, 0xF8, 0x38, 0xB8], &[0x38; 4], 0),
            Ok(0x4290_0000),
            "{p:?}"
        );
    }
    // Selector 01 is an error, not a number.
    assert!(Pipeline::Exact
        .dot(&a, &a, &[0x78, 0x38, 0x38, 0x38], &[0x38; 4], 0)
        .is_err());
}

/// Random SFP4 × NVFP4 dot products: `exact` equals the f64 sum rounded once (the f64 sum of
/// these terms is exact: 2^-20-grid values below 2^24), and the Blackwell and Hopper
/// pipelines stay within the error bounds their models imply:
///
/// * Blackwell: each of the n_c = K/64 GST-FDPAs truncates ≤ 5 terms at 2^(E−35) where
///   2^E ≤ max(max_g ŝ_g, |C_j|), ŝ_g = max(α_g, 2^−6)·max(β_g, 2^−6), and |C_j| ≤ 2T
///   (T = |c| + Σ|a_i b_i| over the shifted values plus Σ|correction terms|); its RZ-FP32
///   output loses < 2^−23·2T + 2^−149. The correction's n_b FP32 additions and the final one
///   each lose ≤ 2^−24·2T. Bound: n_c(5·2^−35·max(ŝ, 2T) + 2^−22·T + 2^−149) + (n_b+1)·2^−23·T.
/// * Hopper: per 16-block b, T-FDPA with F = 13 truncates 16 terms at 2^(E_b−13) with
///   2^(E_b) ≤ M_b = max|a_i b_i| (element values ≥ ½ are normal E4M3), and RZ-E8M13 loses
///   < 2^−13·S_b·(1+2^−9), S_b = Σ_b|a_i b_i|; both are scaled by s_b = s^A_b s^B_b. Each
///   fmaf loses ≤ 2^−24·2T. Bound: Σ_b s_b(2^−9·M_b + 2^−13·1.002·S_b) + n_b·2^−23·T + n_b·2^−149.
#[test]
fn sfp4_pipelines_within_model_bounds() {
    let mut st = 7u64;
    let mut worst = [0f64; 2];
    let mut inexact = [0usize; 2];
    for case in 0..3000 {
        let k = 64 * (1 + (case % 4));
        let nb = k / 16;
        let a: Vec<u32> = (0..k).map(|_| (rng(&mut st) % 16) as u32).collect();
        let b: Vec<u32> = (0..k).map(|_| (rng(&mut st) % 16) as u32).collect();
        let sel = [0x00u8, 0x80, 0xC0];
        let sa: Vec<u8> = (0..nb)
            .map(|_| sel[(rng(&mut st) % 3) as usize] | (rng(&mut st) % 64) as u8)
            .collect();
        let sb: Vec<u8> = (0..nb)
            .map(|_| ((rng(&mut st) % 2) << 7) as u8 | (0x08 + rng(&mut st) % 0x70) as u8)
            .collect();
        let c: u32 = if case % 3 == 0 {
            0
        } else {
            (rng(&mut st) as u32 & 0x807F_FFFF) | ((120 + rng(&mut st) % 16) as u32) << 23
        };
        // f64 reference quantities (test oracle only).
        let cf = f64::from(f32::from_bits(c));
        let (mut sum, mut t, mut bound_h, mut shat) = (0f64, cf.abs(), 0f64, 0f64);
        for blk in 0..nb {
            let d = match sa[blk] >> 6 {
                0 => 0.0,
                2 => 0.5,
                _ => -0.5,
            };
            let (s1, s2) = (ue4m3(sa[blk] & 0x3F), ue4m3(sb[blk] & 0x7F));
            let (mut mb, mut sbk, mut ysum_abs) = (0f64, 0f64, 0f64);
            for i in blk * 16..blk * 16 + 16 {
                let x = fp4(a[i]) + d;
                let y = fp4(b[i]);
                sum += x * y * s1 * s2;
                mb = f64::max(mb, (x * y).abs());
                sbk += (x * y).abs();
                ysum_abs += y.abs();
            }
            t += sbk * s1 * s2 + d.abs() * s1 * s2 * ysum_abs;
            bound_h += s1 * s2 * (mb * 2f64.powi(-9) + sbk * 1.002 * 2f64.powi(-13));
            shat = f64::max(shat, s1.max(2f64.powi(-6)) * s2.max(2f64.powi(-6)));
        }
        let nc = (k / 64) as f64;
        let tiny = 2f64.powi(-149);
        let bound_b = nc * (5.0 * 2f64.powi(-35) * shat.max(2.0 * t) + 2f64.powi(-22) * t + tiny)
            + (nb as f64 + 1.0) * 2f64.powi(-23) * t;
        let bound_h = bound_h + nb as f64 * (2f64.powi(-23) * t + tiny);
        let exact = Pipeline::Exact.dot(&a, &b, &sa, &sb, c).expect("exact");
        let ef = f64::from(f32::from_bits(exact));
        if c == 0 {
            assert_eq!(exact, (sum as f32).to_bits(), "case {case}: exact vs f64");
        }
        assert!(
            (ef - (sum + cf)).abs() <= 2f64.powi(-24) * (sum + cf).abs() + tiny,
            "case {case}: exact rounding"
        );
        for (pi, (p, bound)) in [(Pipeline::Blackwell, bound_b), (Pipeline::Hopper, bound_h)]
            .into_iter()
            .enumerate()
        {
            let got = f64::from(f32::from_bits(
                p.dot(&a, &b, &sa, &sb, c).expect("pipeline"),
            ));
            let err = (got - ef).abs();
            // ef itself is within half an ulp of the real result.
            let allowed = bound + 2f64.powi(-24) * ef.abs() + tiny;
            assert!(
                err <= allowed,
                "case {case} {p:?}: |{got} − {ef}| = {err} > {allowed}"
            );
            if bound > 0.0 {
                worst[pi] = worst[pi].max(err / allowed);
            }
            inexact[pi] += usize::from(err > 0.0);
        }
    }
    // The bounds are not vacuous: both pipelines do differ from exact on many cases.
    assert!(
        inexact[0] > 100 && inexact[1] > 100,
        "inexact counts {inexact:?}"
    );
    eprintln!("inexact cases {inexact:?} of 3000, worst error/bound {worst:?}");
    assert!(worst.iter().all(|w| *w <= 1.0), "{worst:?}");
}

/// The evidence column cannot lie: an instruction whose spec says its model came from
/// hardware has at least one checked-in case file of a real GPU (which `all_case_files_pass`
/// runs bit for bit), and every listed evidence file exists.
#[test]
fn hardware_sources_have_hardware_case_files() {
    let reg = emu::registry().expect("spec files parse");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut with_evidence = 0;
    for i in &reg.instructions {
        let files = emu::hardware_evidence(&i.id());
        if i.source.trim_matches('"').starts_with("hardware") {
            assert!(
                !files.is_empty(),
                "{}: `source: {}` but no case file of a real GPU exercises it",
                i.id(),
                i.source
            );
        }
        for f in files {
            assert!(
                root.join(f).is_file(),
                "{}: evidence file {f} is missing",
                i.id()
            );
        }
        with_evidence += usize::from(!files.is_empty());
    }
    assert!(
        with_evidence >= 29,
        "only {with_evidence} instructions have hardware evidence"
    );
}

/// `gridgames mma --cases FILE --json`: one record per case, in file order; a changed `d`
/// shows as `ok: false` with the computed bits, and the exit status says so.
#[test]
fn mma_json_has_one_record_per_case() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/mma/km/A100-fp16-fp32.txt");
    let text = std::fs::read_to_string(&src).expect("km file");
    // Flip the last bit of the first case's `d`.
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let first = lines
        .iter()
        .position(|l| !l.starts_with('#'))
        .expect("a case");
    let mut fields: Vec<String> = lines[first].split(' ').map(str::to_string).collect();
    let d = u32::from_str_radix(&fields[6], 16).expect("hex d") ^ 1;
    fields[6] = format!("{d:08x}");
    lines[first] = fields.join(" ");
    let dir = std::env::temp_dir().join(format!("gridgames-mma-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let file = dir.join("cases.txt");
    std::fs::write(&file, lines.join("\n") + "\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gridgames"))
        .args(["mma", "--cases"])
        .arg(&file)
        .arg("--json")
        .output()
        .expect("runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success(), "a mismatch must fail");
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(records.len(), 256);
    assert_eq!(records[0]["line"], first + 1);
    assert_eq!(records[0]["ok"], false);
    assert_eq!(records[0]["expected"], format!("{d:08x}"));
    assert_eq!(records[0]["ulps"], 1);
    assert!(records[1..].iter().all(|r| r["ok"] == true));
}

/// The optional `k=` field: a matching K parses, and FP8-width codes on an f16 line are
/// reported instead of being read as half as many f16 codes.
#[test]
fn k_field_catches_codes_of_the_wrong_width() {
    let i = "ampere/mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32";
    let f16_codes = "3c00".repeat(16);
    let ok = format!("{i} {f16_codes} {f16_codes} - - 00000000 - k=16");
    assert!(emu::cases::parse_line(&ok).is_ok());
    // 32 FP8 codes (2 digits each) = 64 digits = 16 f16 codes without k=: silently K = 16.
    let fp8 = "38".repeat(32);
    let silent = format!("{i} {fp8} {fp8} - - 00000000 -");
    assert!(emu::cases::parse_line(&silent).is_ok());
    let caught = format!("{i} {fp8} {fp8} - - 00000000 - k=32");
    let e = emu::cases::parse_line(&caught).expect_err("wrong width");
    assert!(
        e.0.contains("k=32") && e.0.contains("128 hex digits"),
        "{}",
        e.0
    );
    let emitted = emu::cases::emit(&format!("{ok}\n")).expect("emits");
    assert!(emitted.trim_end().ends_with("k=16"), "{emitted}");
}

/// `gridgames mma --cases FILE.gz` reads gzip-compressed case files (what a large hardware
/// recording is shipped as); a corrupt one is a clear error.
#[test]
fn gzip_case_files_are_read() {
    use std::io::Write;
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/mma/km/V100-fp16-fp32.txt");
    let text = std::fs::read(&src).expect("km file");
    let dir = std::env::temp_dir().join(format!("gridgames-gz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let gz = dir.join("cases.txt.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&text).expect("compress");
    std::fs::write(&gz, enc.finish().expect("finish")).expect("write");
    let bad = dir.join("bad.txt.gz");
    std::fs::write(&bad, b"not gzip").expect("write");
    let run = |p: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_gridgames"))
            .args(["mma", "--cases"])
            .arg(p)
            .output()
            .expect("runs")
    };
    let ok = run(&gz);
    let err = run(&bad);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("256 cases, 0 mismatches"));
    assert!(!err.status.success());
    assert!(String::from_utf8_lossy(&err.stderr).contains("not valid gzip"));
}
