//! Library profiles against vectors produced by the real libraries (vectors/peers/, made by
//! scripts/peers/make_peer_vectors.py with torchao 0.18.0, ModelOpt 0.47.0, gguf 0.19.0 and
//! bitsandbytes 0.50.2 on CPU). Expected bytes come from those libraries, never from us.

use std::path::Path;

use gridgames::format::Format;
use gridgames::quant::{Profile, Quantizer, TensorContext};
use gridgames::tables;

struct Case {
    name: String,
    rows: usize,
    cols: usize,
    x: Vec<f32>,
    q: Vec<u8>,
    s: Vec<u8>,
    t: Option<u32>,
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn hex_words(s: &str) -> Vec<u32> {
    (0..s.len() / 8)
        .map(|i| u32::from_str_radix(&s[8 * i..8 * i + 8], 16).expect("hex"))
        .collect()
}

fn read_cases(path: &str) -> Vec<Case> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .expect("peer file");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let field = |k: &str| {
                line.split(' ')
                    .find_map(|f| f.strip_prefix(&format!("{k}=")))
                    .unwrap_or_else(|| panic!("{path}: no {k}"))
            };
            let (r, c) = field("shape").split_once('x').expect("shape");
            let s_field = field("s");
            let scale_words = s_field.len() % 8 == 0 && path.contains("bitsandbytes");
            Case {
                name: field("case").to_string(),
                rows: r.parse().expect("rows"),
                cols: c.parse().expect("cols"),
                x: hex_words(field("x"))
                    .into_iter()
                    .map(f32::from_bits)
                    .collect(),
                q: hex_bytes(field("q")),
                s: if scale_words {
                    hex_words(s_field)
                        .into_iter()
                        .flat_map(|w| w.to_le_bytes())
                        .collect()
                } else {
                    hex_bytes(s_field)
                },
                t: match field("t") {
                    "-" => None,
                    t => Some(u32::from_str_radix(t, 16).expect("t")),
                },
            }
        })
        .collect()
}

/// Quantize a case with our profile. `ts_override` forces the tensor decode scale.
fn ours(
    format: &Format,
    profile: Profile,
    case: &Case,
    ts_override: Option<f32>,
) -> (Vec<u8>, Vec<u8>, f32) {
    let q = Quantizer::new(format, profile).expect("profile applies");
    let mut ctx = q.tensor_context(&case.x);
    if let Some(ts) = ts_override {
        ctx = TensorContext { scale: ts, ..ctx };
    }
    // The public path, so the non-finite gate (Quantizer::check_finite) is exercised too.
    let q = q
        .quantize_with_context(&case.x, &ctx, false)
        .expect("quantize");
    (q.codes, q.scales, ctx.scale)
}

struct Tally {
    compared: usize,
    skipped_nonfinite: Vec<String>,
    mismatches: Vec<String>,
}

fn compare_file(
    path: &str,
    format: &Format,
    profile: Profile,
    no_tensor_scale: bool,
    layout: fn(&Case) -> Vec<u8>,
) -> Tally {
    let mut tally = Tally {
        compared: 0,
        skipped_nonfinite: vec![],
        mismatches: vec![],
    };
    for case in read_cases(path) {
        if case.x.iter().any(|v| !v.is_finite()) && !profile.accepts_non_finite(format) {
            tally.skipped_nonfinite.push(case.name.clone());
            continue;
        }
        let (codes, scales, ts) = ours(
            format,
            profile,
            &case,
            if no_tensor_scale { Some(1.0) } else { None },
        );
        let want_q = layout(&case);
        let mut problems = vec![];
        if let Some(t) = case.t {
            if t != ts.to_bits() {
                problems.push(format!("tensor scale {t:08x} vs ours {:08x}", ts.to_bits()));
            }
        }
        if scales != case.s {
            let first = scales
                .iter()
                .zip(&case.s)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            problems.push(format!(
                "scale {first}: lib {:02x?} ours {:02x?}",
                case.s.get(first),
                scales.get(first)
            ));
        }
        if codes != want_q {
            let first = codes
                .iter()
                .zip(&want_q)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            problems.push(format!(
                "code byte {first} (x={:?}): lib {:02x?} ours {:02x?}",
                &case.x.get(2 * first..2 * first + 2),
                want_q.get(first),
                codes.get(first)
            ));
        }
        if !problems.is_empty() {
            tally.mismatches.push(format!(
                "{} {}x{}: {}",
                case.name,
                case.rows,
                case.cols,
                problems.join("; ")
            ));
        }
        tally.compared += 1;
    }
    tally
}

fn same(case: &Case) -> Vec<u8> {
    case.q.clone()
}

/// gguf MXFP4 blocks (e, qs[16] with qs[j] = code(j) | code(j+16) << 4) → low-first pairs.
fn gguf_to_low_first(case: &Case) -> Vec<u8> {
    let mut out = vec![0u8; case.x.len() / 2];
    for (b, block) in case.q.chunks(17).enumerate() {
        for j in 0..16 {
            let lo = block[1 + j] & 15;
            let hi = block[1 + j] >> 4;
            for (i, c) in [(j, lo), (j + 16, hi)] {
                let idx = b * 32 + i;
                let byte = &mut out[idx / 2];
                if idx % 2 == 0 {
                    *byte |= c;
                } else {
                    *byte |= c << 4;
                }
            }
        }
    }
    out
}

fn check(path: &str, format: &Format, profile: Profile, no_ts: bool, layout: fn(&Case) -> Vec<u8>) {
    let t = compare_file(path, format, profile, no_ts, layout);
    eprintln!(
        "{path}: {} cases compared, {} skipped (non-finite input: {:?})",
        t.compared,
        t.skipped_nonfinite.len(),
        t.skipped_nonfinite
    );
    assert!(t.compared >= 40, "{path}: too few cases");
    assert!(
        t.mismatches.is_empty(),
        "{path}: {} mismatches:\n{}",
        t.mismatches.len(),
        t.mismatches.join("\n")
    );
}

#[test]
fn torchao_nvfp4() {
    check(
        "vectors/peers/torchao/nvfp4.txt",
        &tables::NVFP4,
        Profile::TorchAo,
        false,
        same,
    );
}

#[test]
fn torchao_nvfp4_single_level() {
    // Single-level scaling is the two-level recipe with a tensor scale of exactly 1.
    check(
        "vectors/peers/torchao/nvfp4_no_tensor_scale.txt",
        &tables::NVFP4,
        Profile::TorchAo,
        true,
        same,
    );
}

#[test]
fn torchao_mxfp4_floor() {
    check(
        "vectors/peers/torchao/mxfp4_floor.txt",
        &tables::MXFP4,
        Profile::TorchAo,
        false,
        same,
    );
}

#[test]
fn torchao_mxfp4_ceil() {
    check(
        "vectors/peers/torchao/mxfp4_ceil.txt",
        &tables::MXFP4,
        Profile::TorchAoCeil,
        false,
        same,
    );
}

#[test]
fn torchao_mxfp4_even() {
    check(
        "vectors/peers/torchao/mxfp4_even.txt",
        &tables::MXFP4,
        Profile::TorchAoEven,
        false,
        same,
    );
}

#[test]
fn torchao_mxfp4_rceil() {
    check(
        "vectors/peers/torchao/mxfp4_rceil.txt",
        &tables::MXFP4,
        Profile::TorchAoRceil,
        false,
        same,
    );
}

#[test]
fn modelopt_nvfp4() {
    check(
        "vectors/peers/modelopt/nvfp4.txt",
        &tables::NVFP4,
        Profile::ModelOpt,
        false,
        same,
    );
}

#[test]
fn gguf_mxfp4() {
    check(
        "vectors/peers/gguf/mxfp4.txt",
        &tables::MXFP4,
        Profile::Ggml,
        false,
        gguf_to_low_first,
    );
}

#[test]
fn bitsandbytes_nf4() {
    check(
        "vectors/peers/bitsandbytes/nf4.txt",
        &tables::NF4_BNB,
        Profile::Bnb,
        false,
        same,
    );
}

// Libraries that cannot run on a CPU: independent numpy transcriptions of their published
// formulas (scripts/peers/make_formula_vectors.py), not of our code.

#[test]
fn te_nvfp4_published_formulas() {
    check(
        "vectors/peers/formulas/te_nvfp4.txt",
        &tables::NVFP4,
        Profile::Te,
        false,
        same,
    );
}

#[test]
fn cudnn_nvfp4_published_formulas() {
    check(
        "vectors/peers/formulas/cudnn_nvfp4.txt",
        &tables::NVFP4,
        Profile::Cudnn,
        false,
        same,
    );
}

#[test]
fn cudnn_mxfp4_published_formulas() {
    check(
        "vectors/peers/formulas/cudnn_mxfp4.txt",
        &tables::MXFP4,
        Profile::Cudnn,
        false,
        same,
    );
}

/// vectors/peers/MANIFEST lists every file under vectors/peers (but itself) with its SHA-256:
/// a peer file added by a generator that forgot the manifest fails here.
#[test]
fn peer_manifest_covers_every_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/peers");
    let manifest = std::fs::read_to_string(root.join("MANIFEST")).unwrap();
    let listed: std::collections::BTreeMap<String, String> = manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (h, p) = l.split_once("  ").expect("`<sha256>  <path>`");
            (p.to_string(), h.to_string())
        })
        .collect();
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, base, out);
            } else {
                out.push(
                    p.strip_prefix(base)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.retain(|f| f != "MANIFEST");
    files.sort();
    let names: Vec<String> = listed.keys().cloned().collect();
    assert_eq!(files, names, "files vs MANIFEST entries");
    for f in &files {
        let got = gridgames::fsio::sha256_hex(&std::fs::read(root.join(f)).unwrap());
        assert_eq!(&got, &listed[f], "vectors/peers/{f}: sha256");
    }
}
