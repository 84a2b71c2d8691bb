//! The golden vectors: the checked-in files are what the generator produces, the MANIFEST
//! matches them, the catalogue covers every rule it promises, and the vectors agree with
//! oracles written here (E2M1, UE4M3, E8M0 and IEEE rounding from their definitions, not
//! from the crate).

use std::path::Path;

use gridgames::vectors::catalogue::{DECODE_RULES, QUANTIZE_RULES};
use gridgames::vectors::text::{count_cases, parse_bytes, parse_words, CaseFile};
use gridgames::vectors::verify::{verify_decode_text, verify_quantize_text, Overrides};
use gridgames::vectors::{generate_all, Options};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let p = root().join("vectors").join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn checked_in_files_are_what_the_generator_produces() {
    let files = generate_all().expect("generation");
    assert!(files.len() >= gridgames::tables::FORMATS.len() * 2);
    let again = generate_all().expect("generation");
    assert_eq!(files, again, "generation is not deterministic");
    let manifest = read("MANIFEST");
    for f in &files {
        let disk = read(&f.path);
        assert!(
            disk == f.text,
            "vectors/{} is stale: run `gridgames vectors generate`",
            f.path
        );
        // The MANIFEST line for this file: sha256, case count, path.
        let line = manifest
            .lines()
            .find(|l| l.ends_with(&format!(" {}", f.path)))
            .unwrap_or_else(|| panic!("MANIFEST lacks {}", f.path));
        let mut parts = line.split(' ');
        let sha = parts.next().unwrap_or("");
        let cases: usize = parts.next().unwrap_or("x").parse().expect("case count");
        use sha2::Digest;
        let want: String = sha2::Sha256::digest(f.text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(sha, want, "MANIFEST sha256 of {}", f.path);
        assert_eq!(cases, count_cases(&f.text), "MANIFEST cases of {}", f.path);
    }
}

#[test]
fn every_format_and_profile_has_files_and_every_rule_is_covered() {
    for f in gridgames::tables::FORMATS.iter() {
        let decode =
            CaseFile::parse("decode", &read(&format!("{}/decode.txt", f.name))).expect("parses");
        let rules: Vec<&str> = decode
            .lines
            .iter()
            .filter_map(|(_, l)| l.get("rule"))
            .collect();
        assert!(
            rules.contains(&"random"),
            "{}: decode rule random missing",
            f.name
        );
        assert!(rules
            .iter()
            .all(|r| DECODE_RULES.iter().any(|(k, _)| k == r)));
        assert_eq!(
            decode.header("crate"),
            Some(format!("gridgames {}", env!("CARGO_PKG_VERSION")).as_str())
        );
        assert_eq!(decode.header("command"), Some("gridgames vectors generate"));
        for p in gridgames::quant::Profile::for_format(f) {
            let text = read(&format!("{}/{}/quantize.txt", f.name, p.name()));
            let file = CaseFile::parse("quantize", &text).expect("parses");
            let rules: Vec<&str> = file
                .lines
                .iter()
                .filter_map(|(_, l)| l.get("rule"))
                .collect();
            let mut required = vec![
                "zero-group",
                "neg-zero-group",
                "equal-group",
                "element-boundary",
                "negative-extreme",
                "scale-min",
                "scale-max",
                "non-finite",
                "random-normal",
                "random-bf16",
                "random-grid-points",
            ];
            if f.scale_bytes == 1 {
                required.extend(["scale-boundary", "saturation", "scale-underflow"]);
            }
            if f.tensor_scale {
                required.extend(["tensor-scale-extreme", "scale-overflow"]);
            }
            if f.grids.len() > 1 {
                required.push("grid-tie");
            }
            for r in required {
                assert!(
                    rules.contains(&r),
                    "{} / {}: rule {r} missing",
                    f.name,
                    p.name()
                );
            }
            assert!(rules
                .iter()
                .all(|r| QUANTIZE_RULES.iter().any(|(k, _)| k == r)));
            // A non-finite input is an expected error, except under the profiles that
            // reproduce their library's NaN/Inf handling (checked against the library in
            // tests/peers.rs), where it has codes and scales.
            for (_, l) in &file.lines {
                if l.get("rule") == Some("non-finite") {
                    if p.accepts_non_finite(f) {
                        assert_eq!(l.get("error"), None, "{} / {}", f.name, p.name());
                        assert_ne!(l.get("q"), Some("-"), "{} / {}", f.name, p.name());
                    } else {
                        assert_eq!(l.get("error"), Some("non-finite"));
                        assert_eq!(l.get("q"), Some("-"));
                    }
                }
            }
        }
    }
}

#[test]
fn checked_in_files_verify_clean_against_themselves() {
    for f in gridgames::tables::FORMATS.iter() {
        let name = format!("{}/decode.txt", f.name);
        let r =
            verify_decode_text(&name, &read(&name), &Overrides::default()).expect("decode file");
        assert!(r.mismatches.is_empty(), "{name}: {}", r.render(3, &[]));
        for p in gridgames::quant::Profile::for_format(f) {
            let name = format!("{}/{}/quantize.txt", f.name, p.name());
            let r = verify_quantize_text(
                &name,
                &read(&name),
                &Overrides::default(),
                Options::default(),
            )
            .expect("quantize file");
            assert!(r.mismatches.is_empty(), "{name}: {}", r.render(3, &[]));
            assert!(r.cases > 100);
        }
    }
}

// ---- oracles written from the definitions ------------------------------------------------

/// E2M1 magnitudes, code 0..7.
const E2M1: [f64; 8] = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0];

fn e2m1_value(c: u8) -> f64 {
    let m = E2M1[(c & 7) as usize];
    if c & 8 != 0 {
        -m
    } else {
        m
    }
}

/// Nearest E2M1 code, ties to the even code, saturating at 6, sign kept (-0 → code 8).
fn e2m1_rne(y: f64) -> u8 {
    let m = y.abs();
    let mut best = 0usize;
    for (c, &v) in E2M1.iter().enumerate().skip(1) {
        let (dn, db) = ((m - v).abs(), (m - E2M1[best]).abs());
        if dn < db || (dn == db && c % 2 == 0) {
            best = c;
        }
    }
    best as u8 | if y.is_sign_negative() { 8 } else { 0 }
}

fn ue4m3(c: u32) -> f64 {
    let field = (c >> 3) as i32 & 15;
    let m = (c & 7) as f64;
    if c & 0x7f == 0x7f {
        return f64::NAN;
    }
    if field == 0 {
        m / 8.0 * 2f64.powi(-6)
    } else {
        (1.0 + m / 8.0) * 2f64.powi(field - 7)
    }
}

fn ue4m3_rne(v: f64) -> u32 {
    let mut best = 0u32;
    for c in 1..=0x7e {
        let (dn, db) = ((v - ue4m3(c)).abs(), (v - ue4m3(best)).abs());
        if dn < db || (dn == db && c % 2 == 0) {
            best = c;
        }
    }
    best
}

fn e8m0(c: u32) -> f64 {
    if c == 255 {
        f64::NAN
    } else {
        2f64.powi(c as i32 - 127)
    }
}

fn floor_log2(x: f32) -> i32 {
    let b = x.abs().to_bits();
    let field = (b >> 23) as i32;
    if field == 0 {
        31 - (b & 0x7f_ffff).leading_zeros() as i32 - 149
    } else {
        field - 127
    }
}

fn code_at(high_first: bool, q: &[u8], i: usize) -> u8 {
    let b = q[i / 2];
    if i.is_multiple_of(2) != high_first {
        b & 15
    } else {
        b >> 4
    }
}

/// NVFP4 and MXFP4 reference quantize files against the oracle: the tensor scale
/// amax/2688 (NVFP4), block scales (RNE UE4M3 of amax/(6·ts); OCP floor(log2 amax) - 2),
/// and every element the RNE E2M1 code of x/(s·ts).
#[test]
fn reference_quantize_vectors_match_oracle() {
    for (name, nv) in [("nvfp4", true), ("mxfp4", false)] {
        let text = read(&format!("{name}/reference/quantize.txt"));
        let file = CaseFile::parse(name, &text).expect("parses");
        let g = if nv { 16 } else { 32 };
        let mut checked = 0;
        for (n, l) in &file.lines {
            if l.get("error").is_some() {
                continue;
            }
            let x: Vec<f32> = parse_words(l.get("x").unwrap_or(""), 8, "x")
                .expect("x")
                .into_iter()
                .map(f32::from_bits)
                .collect();
            let q = parse_bytes(l.get("q").unwrap_or(""), "q").expect("q");
            let s = parse_bytes(l.get("s").unwrap_or(""), "s").expect("s");
            let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
            let ts = if nv {
                let t =
                    f32::from_bits(parse_words(l.get("t").unwrap_or(""), 8, "t").expect("t")[0]);
                let want = if amax == 0.0 {
                    1.0
                } else {
                    (amax as f64 / 2688.0) as f32
                };
                let want = if want == 0.0 { f32::from_bits(1) } else { want };
                assert_eq!(t.to_bits(), want.to_bits(), "{name}:{n}: tensor scale");
                t as f64
            } else {
                1.0
            };
            for (gi, chunk) in x.chunks(g).enumerate() {
                let bmax = chunk.iter().fold(0f32, |m, v| m.max(v.abs()));
                let want_s = if bmax == 0.0 {
                    0
                } else if nv {
                    ue4m3_rne(bmax as f64 / (6.0 * ts))
                } else {
                    (floor_log2(bmax) - 2 + 127).clamp(0, 254) as u32
                };
                assert_eq!(s[gi] as u32, want_s, "{name}:{n}: group {gi} scale");
                let sv = if nv { ue4m3(want_s) } else { e8m0(want_s) } * ts;
                for (j, &v) in chunk.iter().enumerate() {
                    let y = if sv == 0.0 {
                        if v.is_sign_negative() {
                            -0.0
                        } else {
                            0.0
                        }
                    } else {
                        v as f64 / sv
                    };
                    let i = gi * g + j;
                    assert_eq!(
                        code_at(false, &q, i),
                        e2m1_rne(y),
                        "{name}:{n}: element {i} (x = {v:e})"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 5000, "{name}: only {checked} elements checked");
    }
}

/// Decode vectors of the E2M1 formats against the oracle (f32 output; f16 and bf16 through
/// `half`, which rounds from f64 directly).
#[test]
fn e2m1_decode_vectors_match_oracle() {
    for (name, nv) in [("nvfp4", true), ("mxfp4", false)] {
        let file = CaseFile::parse(name, &read(&format!("{name}/decode.txt"))).expect("parses");
        let g = if nv { 16 } else { 32 };
        for (n, l) in &file.lines {
            if l.get("error").is_some() {
                panic!("{name}:{n}: E2M1 formats have no invalid codes or selectors");
            }
            let q = parse_bytes(l.get("q").unwrap_or(""), "q").expect("q");
            let s = parse_bytes(l.get("s").unwrap_or(""), "s").expect("s");
            let ts = match l.get("t") {
                Some("-") | None => 1.0,
                Some(t) => f32::from_bits(parse_words(t, 8, "t").expect("t")[0]) as f64,
            };
            let f32s = parse_words(l.get("f32").unwrap_or(""), 8, "f32").expect("f32");
            let f16s = parse_words(l.get("f16").unwrap_or(""), 4, "f16").expect("f16");
            let bf16s = parse_words(l.get("bf16").unwrap_or(""), 4, "bf16").expect("bf16");
            for i in 0..q.len() * 2 {
                let sb = s[i / g] as u32;
                let sv = if nv { ue4m3(sb & 0x7f) } else { e8m0(sb) };
                let v = e2m1_value(code_at(false, &q, i)) * sv * ts;
                if v.is_nan() {
                    assert_eq!(f32s[i], 0x7fc0_0000, "{name}:{n}: canonical NaN");
                    continue;
                }
                assert_eq!(f32s[i], (v as f32).to_bits(), "{name}:{n}: f32 element {i}");
                assert_eq!(
                    f16s[i],
                    half::f16::from_f64(v).to_bits() as u32,
                    "{name}:{n}: f16 element {i}"
                );
                assert_eq!(
                    bf16s[i],
                    half::bf16::from_f64(v).to_bits() as u32,
                    "{name}:{n}: bf16 element {i}"
                );
            }
        }
    }
}

#[test]
fn hand_derived_boundary_cases() {
    // NVFP4, anchor 2688 → tensor scale exactly 1; block scale 0x38 = 1.0. Element 1..3 are
    // 0.75 - ulp, 0.75, 0.75 + ulp: codes 1 (0.5), 2 (tie → even code 2 = 1.0), 2.
    let text = read("nvfp4/reference/quantize.txt");
    let line = text
        .lines()
        .find(|l| l.starts_with("case=boundary.e2m1.g0.mid1.scale38 "))
        .expect("case present");
    let file = CaseFile::parse("x", line).expect("parses");
    let l = &file.lines[0].1;
    assert_eq!(l.get("t"), Some("3f800000"));
    assert_eq!(l.get("s"), Some("7e38"));
    let q = parse_bytes(l.get("q").unwrap_or(""), "q").expect("q");
    // second group starts at byte 8: element 16 = 6.0 (code 7), 17 = code 1, 18/19 = code 2.
    assert_eq!(q[8], 0x17);
    assert_eq!(q[9], 0x22);
    // -0.75 + ulp, -0.75, -0.75 - ulp (as magnitudes): codes 9, a (tie → even), a.
    assert_eq!(q[10], 0xa9);
}
