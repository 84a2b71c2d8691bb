//! Every entry `build.rs` generated (`gridgames::tables`) against values recomputed here from the
//! spec files at run time.
//!
//! Two comparisons per file: (1) the spec is reloaded with `gridgames::spec::schema`'s
//! `load_element` / `load_format` (the functions build.rs uses), which checks the codegen's
//! transcription of every field; (2) the numbers are recomputed in this test from the YAML with
//! their own formulas: element values from sign/exponent/mantissa fields, grid values from the
//! element or the listed values times `factor` plus `offset` (a rational factor rounded once to
//! f32 with an exact nearest check), default targets, valid masks, selector tables, and the
//! SHA-256 of every spec file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use gridgames::element::{Element, Kind, Specials};
use gridgames::format::{Format, ScaleRounding, Ties};
use gridgames::spec::schema::{self, ResolvedElement};
use gridgames::tables;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `spec/<dir>/*.yaml`, sorted, as (path relative to the crate, text).
fn spec_files(dir: &str) -> Vec<(String, String)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("spec").join(dir))
        .expect("spec dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let rel = format!(
                "spec/{dir}/{}",
                p.file_name().expect("name").to_string_lossy()
            );
            (rel, std::fs::read_to_string(&p).expect("spec text"))
        })
        .collect()
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn ident(name: &str) -> String {
    name.to_uppercase().replace(['-', '.'], "_")
}

// ---------------------------------------------------------------------------------------------
// The YAML, read again with this test's own minimal structs (unknown keys are the loader's job).

#[derive(Deserialize)]
struct ElementYaml {
    name: String,
    kind: String,
    bits: u32,
    signed: bool,
    #[serde(default)]
    exponent_bits: u32,
    #[serde(default)]
    mantissa_bits: u32,
    #[serde(default)]
    bias: i32,
    subnormals: Option<bool>,
    specials: Option<String>,
}

#[derive(Deserialize)]
struct FormatYaml {
    name: String,
    description: Option<String>,
    group_size: u32,
    grids: Vec<GridYaml>,
    scale: ScaleYaml,
    tensor_scale: String,
    nibble_order: String,
    provenance: String,
}

#[derive(Deserialize)]
struct GridYaml {
    name: String,
    element: Option<String>,
    values: Option<Vec<String>>,
    offset: Option<String>,
    factor: Option<String>,
    invalid_codes: Option<Vec<u32>>,
    target: Option<String>,
    ties: String,
}

#[derive(Deserialize)]
struct ScaleYaml {
    element: String,
    bytes: Option<u32>,
    value_mask: Option<u32>,
    selector_bits: Option<Vec<u32>>,
    selectors: Option<BTreeMap<String, u32>>,
    max: Option<String>,
    rounding: String,
}

fn yaml<T: for<'de> Deserialize<'de>>(file: &str, text: &str) -> T {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Values from formulas.

/// Value of a code from its fields: (-1)^s 2^(E-bias) 1.M, subnormal 2^(1-bias) 0.M; integers
/// two's complement. NaN and Inf come back as f64 NaN / Inf with the code's sign.
fn element_value(e: &ElementYaml, code: u32) -> f64 {
    if e.kind == "int" {
        let half = 1i64 << (e.bits - 1);
        let v = code as i64;
        return if e.signed && v >= half {
            v - 2 * half
        } else {
            v
        } as f64;
    }
    let sign_bit = if e.signed { 1u32 << (e.bits - 1) } else { 0 };
    let sign = if code & sign_bit != 0 { -1.0 } else { 1.0 };
    let mag = code & !sign_bit;
    let m = e.mantissa_bits;
    let ef = mag >> m;
    let mant = mag & ((1 << m) - 1);
    let all_ones = (1u32 << e.exponent_bits) - 1;
    match e.specials.as_deref().unwrap_or("none") {
        // copysign: the sign of `-1.0 * NaN` is not specified.
        "ieee" if ef == all_ones => {
            return if mant == 0 { f64::INFINITY } else { f64::NAN }.copysign(sign)
        }
        "nan-all-ones" if ef == all_ones && mant == (1 << m) - 1 => return f64::NAN.copysign(sign),
        _ => {}
    }
    let v = if ef == 0 && e.subnormals.unwrap_or(true) {
        mant as f64 * 2f64.powi(1 - e.bias - m as i32)
    } else {
        ((1u64 << m) + mant as u64) as f64 * 2f64.powi(ef as i32 - e.bias - m as i32)
    };
    sign * v
}

/// The f32 bits build.rs promises for a decode entry: the value, or the canonical quiet NaN /
/// Inf with the code's sign.
fn decode_bits(v: f64) -> u32 {
    let sign = if v.is_sign_negative() { 0x8000_0000 } else { 0 };
    if v.is_nan() {
        0x7fc0_0000 | sign
    } else if v.is_infinite() {
        0x7f80_0000 | sign
    } else {
        let f = v as f32;
        assert_eq!(f as f64, v, "value {v} not exact in f32");
        f.to_bits()
    }
}

/// Parse a spec number: `f32:xxxxxxxx`, hex float `0x1.8p-1`, or a decimal.
fn parse_value(s: &str) -> f64 {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("f32:") {
        return f32::from_bits(u32::from_str_radix(h.trim_start_matches("0x"), 16).expect("f32 hex"))
            as f64;
    }
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        let (digits, exp) = h.split_once(['p', 'P']).expect("hex float exponent");
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let m = u64::from_str_radix(&format!("{int}{frac}"), 16).expect("hex digits");
        m as f64 * 2f64.powi(exp.parse::<i32>().expect("exp") - 4 * frac.len() as i32)
    } else {
        body.parse::<f64>().expect("decimal")
    };
    if neg {
        -v
    } else {
        v
    }
}

/// v·p/q rounded once to f32, nearest, ties to an even significand. The f64 quotient gives a
/// candidate; the candidate and its two f32 neighbours are then compared exactly (c·q and v·p
/// are exact in f64 here, and so is their difference, the two being within a factor of 2).
fn rational_f32(v: f64, p: i64, q: i64) -> f32 {
    let n = v * p as f64;
    assert_eq!(n / p as f64, v, "v·p not exact");
    let c = (n / q as f64) as f32;
    let dist = |c: f32| (n - c as f64 * q as f64).abs();
    let mut best = c;
    for cand in [c.next_down(), c.next_up()] {
        let (d, b) = (dist(cand), dist(best));
        if d < b || d == b && cand.to_bits() & 1 == 0 && best.to_bits() & 1 == 1 {
            best = cand;
        }
    }
    best
}

struct Grid16 {
    values: [u32; 16],
    valid: u16,
    target: u32,
}

fn recompute_grid(g: &GridYaml, elements: &BTreeMap<String, ElementYaml>) -> Grid16 {
    let mut vals: Vec<f64> = match (&g.element, &g.values) {
        (Some(name), None) => {
            let e = &elements[name];
            (0..16).map(|c| element_value(e, c)).collect()
        }
        (None, Some(vs)) => vs.iter().map(|s| parse_value(s)).collect(),
        _ => panic!("grid {}: element xor values", g.name),
    };
    assert_eq!(vals.len(), 16);
    let mut valid: u16 = 0xffff;
    for &c in g.invalid_codes.iter().flatten() {
        valid &= !(1 << c);
    }
    let mut values = [0u32; 16];
    for (c, v) in vals.iter_mut().enumerate() {
        if valid & (1 << c) == 0 {
            continue;
        }
        let mut f = match g.factor.as_deref() {
            Some(fs) if fs.contains('/') => {
                let (p, q) = fs.split_once('/').expect("p/q");
                rational_f32(
                    *v,
                    p.trim().parse().expect("p"),
                    q.trim().parse().expect("q"),
                ) as f64
            }
            Some(fs) => *v * parse_value(fs),
            None => *v,
        };
        if let Some(o) = &g.offset {
            f += parse_value(o);
        }
        values[c] = decode_bits(f);
    }
    let target = match &g.target {
        Some(t) => (parse_value(t) as f32).to_bits(),
        None => (0..16)
            .filter(|c| valid & (1 << c) != 0)
            .map(|c| f32::from_bits(values[c]).abs())
            .fold(0f32, f32::max)
            .to_bits(),
    };
    Grid16 {
        values,
        valid,
        target,
    }
}

/// Equal f32 bit patterns, except that +0 and -0 count as equal: the generated tables hold +0
/// for every -0 code (see `negative_zero_codes_keep_their_sign`).
fn same_up_to_zero_sign(a: u32, b: u32) -> bool {
    a == b || (a & 0x7fff_ffff == 0 && b & 0x7fff_ffff == 0)
}

// ---------------------------------------------------------------------------------------------

fn builtin_element(name: &str) -> &'static Element {
    tables::element(name).unwrap_or_else(|| panic!("element {name} not generated"))
}

fn decode_table(name: &str) -> Option<&'static [u32]> {
    Some(match name {
        "e2m1" => &tables::E2M1_DECODE[..],
        "e2m3" => &tables::E2M3_DECODE[..],
        "e3m2" => &tables::E3M2_DECODE[..],
        "e4m3" => &tables::E4M3_DECODE[..],
        "e5m2" => &tables::E5M2_DECODE[..],
        "int4" => &tables::INT4_DECODE[..],
        "ue4m3" => &tables::UE4M3_DECODE[..],
        "ue8m0" => &tables::UE8M0_DECODE[..],
        _ => return None,
    })
}

fn element_yamls() -> BTreeMap<String, ElementYaml> {
    spec_files("elements")
        .iter()
        .map(|(f, t)| {
            let e: ElementYaml = yaml(f, t);
            (e.name.clone(), e)
        })
        .collect()
}

fn resolved_elements() -> Vec<ResolvedElement> {
    spec_files("elements")
        .iter()
        .map(|(f, t)| schema::load_element(f, t).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[test]
fn spec_files_and_hashes() {
    let mut want: Vec<(String, String)> = Vec::new();
    for dir in ["elements", "formats"] {
        for (f, t) in spec_files(dir) {
            want.push((f, sha256_hex(&t)));
        }
    }
    let got: Vec<(String, String)> = tables::SPEC_FILES
        .iter()
        .map(|(f, h)| (f.to_string(), h.to_string()))
        .collect();
    assert_eq!(
        got, want,
        "SPEC_FILES is stale: rebuild (build.rs reruns on spec/ changes)"
    );
    for f in tables::FORMATS {
        let text = std::fs::read_to_string(root().join(f.spec_file)).expect("format spec");
        assert_eq!(f.spec_sha256, sha256_hex(&text), "{}", f.spec_file);
    }
}

#[test]
fn elements_match_spec() {
    let files = spec_files("elements");
    assert_eq!(tables::ELEMENTS.len(), files.len(), "one element per file");
    let resolved = resolved_elements();
    for (((file, text), built), r) in files.iter().zip(tables::ELEMENTS).zip(&resolved) {
        let y: ElementYaml = yaml(file, text);
        assert_eq!(built.name, y.name, "{file}: ELEMENTS in file order");
        assert_eq!(
            file,
            &format!("spec/elements/{}.yaml", y.name),
            "file named after its element"
        );
        // Independent reading of the YAML.
        assert_eq!(built.kind == Kind::Int, y.kind == "int", "{file}: kind");
        assert_eq!(built.bits, y.bits, "{file}: bits");
        assert_eq!(built.signed, y.signed, "{file}: signed");
        assert_eq!(
            built.exponent_bits, y.exponent_bits,
            "{file}: exponent_bits"
        );
        assert_eq!(
            built.mantissa_bits, y.mantissa_bits,
            "{file}: mantissa_bits"
        );
        assert_eq!(built.bias, y.bias, "{file}: bias");
        assert_eq!(
            built.subnormals,
            y.subnormals.unwrap_or(true),
            "{file}: subnormals"
        );
        let specials = match y.specials.as_deref().unwrap_or("none") {
            "none" => Specials::None,
            "ieee" => Specials::Ieee,
            "nan-all-ones" => Specials::NanAllOnes,
            other => panic!("{file}: specials {other}"),
        };
        assert_eq!(built.specials, specials, "{file}: specials");
        // The loader build.rs used agrees too.
        assert_eq!(r.name, built.name);
        assert_eq!(
            (
                r.is_int,
                r.bits,
                r.signed,
                r.exponent_bits,
                r.mantissa_bits,
                r.bias,
                r.subnormals
            ),
            (
                built.kind == Kind::Int,
                built.bits,
                built.signed,
                built.exponent_bits,
                built.mantissa_bits,
                built.bias,
                built.subnormals
            ),
            "{file}"
        );
        assert_eq!(
            r.specials.rust_name(),
            format!("{:?}", built.specials),
            "{file}"
        );
        // The named constant is the same element.
        assert_eq!(builtin_element(&y.name), built);

        // Decode tables, every code, from the fields.
        match decode_table(&y.name) {
            Some(table) => {
                assert!(y.bits <= 8, "{file}: decode table only for <= 8 bits");
                assert_eq!(table.len(), 1 << y.bits, "{file}: decode table length");
                for (code, &bits) in table.iter().enumerate() {
                    let want = decode_bits(element_value(&y, code as u32));
                    assert!(
                        same_up_to_zero_sign(bits, want),
                        "{}_DECODE[{code:#x}]: {bits:08x}, fields give {want:08x}",
                        ident(&y.name)
                    );
                    // And the library's decode agrees with its own table.
                    let d = decode_bits(built.decode(code as u32));
                    assert!(
                        same_up_to_zero_sign(d, bits),
                        "{} decode({code:#x}) = {d:08x}, table {bits:08x}",
                        y.name
                    );
                }
            }
            None => assert!(
                y.bits > 8,
                "{file}: an element of {} bits has a decode table this test does not list; add it to decode_table()",
                y.bits
            ),
        }
    }
}

#[test]
fn formats_match_spec() {
    let files = spec_files("formats");
    assert_eq!(tables::FORMATS.len(), files.len(), "one format per file");
    let elements = element_yamls();
    let resolved = resolved_elements();
    for ((file, text), built) in files.iter().zip(tables::FORMATS) {
        let y: FormatYaml = yaml(file, text);
        let built: &Format = built;
        assert_eq!(built.name, y.name, "{file}: FORMATS in file order");
        assert_eq!(tables::format(&y.name), Some(built));
        assert_eq!(built.spec_file, file);
        assert_eq!(built.spec_sha256, sha256_hex(text));
        assert_eq!(built.group_size, y.group_size, "{file}: group_size");
        assert_eq!(
            built.description,
            y.description.as_deref().unwrap_or(""),
            "{file}"
        );
        assert_eq!(built.provenance, y.provenance.trim(), "{file}: provenance");
        assert_eq!(built.tensor_scale, y.tensor_scale == "f32", "{file}");
        assert_eq!(
            built.high_nibble_first,
            y.nibble_order == "high-first",
            "{file}"
        );

        // Grids.
        assert_eq!(built.grids.len(), y.grids.len(), "{file}: grid count");
        for (g, gy) in built.grids.iter().zip(&y.grids) {
            let want = recompute_grid(gy, &elements);
            let at = format!("{file} grid {}", gy.name);
            assert_eq!(g.name, gy.name, "{at}");
            for c in 0..16 {
                assert!(
                    same_up_to_zero_sign(g.values[c], want.values[c]),
                    "{at} code {c}: table {:08x} ({}), spec formula {:08x} ({})",
                    g.values[c],
                    f32::from_bits(g.values[c]),
                    want.values[c],
                    f32::from_bits(want.values[c])
                );
            }
            assert_eq!(g.valid, want.valid, "{at}: valid mask");
            assert_eq!(g.target, want.target, "{at}: target");
            let ties = match gy.ties.as_str() {
                "even-code" => Ties::EvenCode,
                "lower-index" => Ties::LowerIndex,
                "toward-zero" => Ties::TowardZero,
                "away-from-zero" => Ties::AwayFromZero,
                other => panic!("{at}: ties {other}"),
            };
            assert_eq!(g.ties, ties, "{at}: ties");
            let v = |c: usize| f32::from_bits(want.values[c]);
            let sign_magnitude = gy.offset.is_none()
                && (0..8).all(|c| {
                    want.valid & (1 << c) != 0
                        && want.valid & (1 << (c + 8)) != 0
                        && v(c + 8) == -v(c)
                        && v(c) >= 0.0
                });
            assert_eq!(g.sign_magnitude, sign_magnitude, "{at}: sign_magnitude");
        }

        // Scale.
        let s = &y.scale;
        assert_eq!(
            &built.scale_element,
            builtin_element(&s.element),
            "{file}: scale element"
        );
        let bytes = s.bytes.unwrap_or(1);
        assert_eq!(built.scale_bytes, bytes, "{file}: scale bytes");
        let all = if bytes == 4 { u32::MAX } else { 0xff };
        assert_eq!(
            built.value_mask,
            s.value_mask.unwrap_or(all),
            "{file}: value_mask"
        );
        let sel_bits = s.selector_bits.clone().unwrap_or_default();
        let sel_mask = sel_bits.iter().fold(0u32, |m, b| m | 1 << b);
        assert_eq!(built.selector_mask, sel_mask, "{file}: selector_mask");
        assert_eq!(
            sel_mask & built.value_mask,
            0,
            "{file}: selector/value overlap"
        );
        let n = y.grids.len() as u32;
        let map: BTreeMap<u32, u32> = match &s.selectors {
            Some(m) => m
                .iter()
                .map(|(k, &g)| (u32::from_str_radix(k, 2).expect("binary key"), g))
                .collect(),
            None if sel_bits.is_empty() => BTreeMap::new(),
            None => (0..n).map(|g| (g, g)).collect(),
        };
        if bytes == 1 {
            let want: Vec<i8> = (0..256u32)
                .map(|byte| {
                    if sel_bits.is_empty() {
                        return 0;
                    }
                    // Selector value: the listed bits, most significant first.
                    let v = sel_bits
                        .iter()
                        .fold(0u32, |v, &b| (v << 1) | ((byte >> b) & 1));
                    map.get(&v).map(|&g| g as i8).unwrap_or(-1)
                })
                .collect();
            assert_eq!(
                built.selector_of_byte,
                &want[..],
                "{file}: selector_of_byte"
            );
            for g in 0..n {
                // The smallest selector value naming grid g, spread onto its bits.
                let want_bits = match map.iter().find(|(_, &x)| x == g) {
                    Some((&v, _)) => sel_bits
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| (v >> (sel_bits.len() - 1 - i)) & 1 == 1)
                        .fold(0u32, |m, (_, &b)| m | 1 << b),
                    None => 0,
                };
                assert_eq!(
                    built.selector_bits_of_grid[g as usize], want_bits,
                    "{file}: selector bits of grid {g}"
                );
                // Round trip: a scale byte carrying those bits selects grid g (or, with no
                // selector, every grid shares byte decoding).
                if !sel_bits.is_empty() {
                    assert_eq!(built.grid_of_scale(want_bits), Some(g as usize), "{file}");
                }
            }
        } else {
            assert!(built.selector_of_byte.is_empty(), "{file}: f32 scales");
        }
        assert_eq!(
            built.scale_max,
            s.max.as_deref().map(|m| (parse_value(m) as f32).to_bits()),
            "{file}: scale max"
        );
        let rounding = match s.rounding.as_str() {
            "rne" => ScaleRounding::Rne,
            "floor-pow2" => ScaleRounding::FloorPow2,
            other => panic!("{file}: scale rounding {other}"),
        };
        assert_eq!(built.scale_rounding, rounding, "{file}");

        // The loader build.rs used, run again, agrees field by field (catches codegen slips in
        // fields this test does not recompute, such as `derivation`).
        let r = schema::load_format(file, text, &resolved).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.name, built.name);
        for (rg, g) in r.grids.iter().zip(built.grids) {
            assert_eq!(rg.values, g.values, "{file}");
            assert_eq!(rg.valid, g.valid, "{file}");
            assert_eq!(rg.target, g.target, "{file}");
            assert_eq!(rg.ties.rust_name(), format!("{:?}", g.ties), "{file}");
            assert_eq!(rg.sign_magnitude, g.sign_magnitude, "{file}");
            assert_eq!(rg.derivation, g.derivation, "{file}");
        }
        assert_eq!(r.selector_of_byte, built.selector_of_byte, "{file}");
        assert_eq!(
            r.selector_bits_of_grid, built.selector_bits_of_grid,
            "{file}"
        );
        assert_eq!(
            (r.value_mask, r.selector_mask, r.scale_max, r.scale_bytes),
            (
                built.value_mask,
                built.selector_mask,
                built.scale_max,
                built.scale_bytes
            ),
            "{file}"
        );
        assert_eq!(
            r.scale_rounding.rust_name(),
            format!("{:?}", built.scale_rounding)
        );
        assert_eq!(r.scale_element.name, built.scale_element.name);
    }
}

/// Hand anchors, so that a formula wrong in the same way in build.rs and here still fails.
#[test]
fn hand_anchors() {
    let mag = |f: &Format| -> Vec<f32> { (0..8).map(|c| f.grids[0].value(c)).collect() };
    assert_eq!(
        mag(&tables::NVFP4),
        [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]
    );
    assert_eq!(tables::NVFP4.grids[0].value(9), -0.5);
    assert_eq!(tables::NVFP4.grids[0].target_value(), 6.0);
    assert_eq!(tables::MXFP4.grids[0].target_value(), 6.0);
    assert_eq!(tables::NF4.grids[0].value(0), -1.0);
    assert_eq!(tables::NF4.grids[0].value(7), 0.0);
    assert_eq!(tables::NF4.grids[0].value(15), 1.0);
    assert_eq!(tables::NF4.grids[0].target_value(), 1.0);
    assert_eq!(tables::NF4.grids[0].value(8).to_bits(), 0x3da2_faff);
    assert_eq!(tables::E4M3_DECODE[0x7e], 448f32.to_bits());
    assert_eq!(tables::UE8M0_DECODE[127], 1f32.to_bits());
    assert_eq!(
        tables::UE8M0_DECODE[0],
        0x0040_0000,
        "2^-127 is an f32 subnormal"
    );
    assert_eq!(tables::INT4_DECODE[8], (-8f32).to_bits());
    assert_eq!(tables::NVFP4.value_mask, 0x7f);
    assert_eq!(tables::MXFP4.group_size, 32);
    assert_eq!(tables::NF4_BNB.group_size, 64);
    assert!(tables::NF4_BNB.high_nibble_first);
    // IF4: INT4 × 6/7 rounded once to f32 (6/7 = 0.857142857...; f32 nearest 0x3f5b6db7).
    if let Some(if4) = tables::format("if4") {
        let int_grid = if4
            .grids
            .iter()
            .find(|g| g.values[1] != 0 && g.values[1] == 0x3f5b_6db7);
        assert!(
            int_grid.is_some(),
            "if4 has a grid with 1·6/7 = f32 0x3f5b6db7"
        );
    }
}

/// The sign of zero, strictly. Code 8 of E2M1 is -0 (sign bit set, fields 0): ml-dtypes,
/// torchao and `Element::decode` all give -0.0. The generated tables hold +0.0 there because
/// `schema::Dyadic` has no -0 (`element_code_value` and explicit `-0` values normalize it
/// away), so `E2M1_DECODE[8]`, E4M3/E5M2/E2M3/E3M2 `-0` entries and code 8 of every
/// E2M1-derived grid (nvfp4, mxfp4, four-over-six, mixfp4) are +0.
#[test]
fn negative_zero_codes_keep_their_sign() {
    let elements = element_yamls();
    let mut bad = Vec::new();
    for (name, y) in &elements {
        if let Some(table) = decode_table(name) {
            for (code, &bits) in table.iter().enumerate() {
                let want = decode_bits(element_value(y, code as u32));
                if bits != want {
                    bad.push(format!(
                        "{}_DECODE[{code:#x}]: {bits:08x}, want {want:08x}",
                        ident(name)
                    ));
                }
            }
        }
    }
    for ((file, text), built) in spec_files("formats").iter().zip(tables::FORMATS) {
        let y: FormatYaml = yaml(file, text);
        for (g, gy) in built.grids.iter().zip(&y.grids) {
            let want = recompute_grid(gy, &elements);
            for c in 0..16 {
                if g.values[c] != want.values[c] {
                    bad.push(format!(
                        "{file} grid {} code {c}: {:08x}, want {:08x}",
                        g.name, g.values[c], want.values[c]
                    ));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
