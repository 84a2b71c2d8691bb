//! Element encode/decode under `Policy::MlDtypes` against ml-dtypes 0.6.0, the authority for
//! that policy.
//!
//! (a) The checked-in vectors `vectors/peers/ml_dtypes/convert_*.txt` (made by ml-dtypes itself,
//!     see vectors/peers/README.md) must match with zero mismatches.
//! (b) A side-by-side run: with `GRIDGAMES_PYTHON` pointing at a python that has ml-dtypes 0.6.0,
//!     more than 10^6 f32 patterns per element go through `scripts/peers/ml_dtypes_convert.py`
//!     and every code is compared; `--decode` is compared on every byte. Without the variable
//!     the test says it skipped, and fails when `CI` is set so CI cannot skip it silently.

use std::path::{Path, PathBuf};
use std::process::Command;

use gridgames::element::{Element, Policy};
use gridgames::tables;

/// The ml-dtypes names (the script's `--element` values) and our elements.
const ELEMENTS: [&str; 6] = ["e2m1", "e2m3", "e3m2", "e4m3", "e5m2", "ue8m0"];

fn element(name: &str) -> Element {
    *tables::element(name).unwrap_or_else(|| panic!("no built-in element {name}"))
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Our code under the ml_dtypes policy, with the rounding that policy uses for the element
/// (ties up for E8M0, RNE otherwise). ml-dtypes always yields a code, so an error is a mismatch.
fn ours(e: &Element, x: f32) -> Result<u32, String> {
    let p = Policy::MlDtypes;
    e.encode(x as f64, p.rounding_for(e), p)
        .map(|(code, _)| code)
        .map_err(|err| err.to_string())
}

/// Decode results agree when the f32 bit patterns are equal, or both are NaN of the same sign.
fn same_decode(ml: u32, ours: f32) -> bool {
    let ml = f32::from_bits(ml);
    if ml.is_nan() || ours.is_nan() {
        return ml.is_nan() && ours.is_nan() && ml.is_sign_negative() == ours.is_sign_negative();
    }
    ml.to_bits() == ours.to_bits()
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex byte"))
        .collect()
}

fn hex_words(s: &str) -> Vec<u32> {
    (0..s.len() / 8)
        .map(|i| u32::from_str_radix(&s[8 * i..8 * i + 8], 16).expect("hex word"))
        .collect()
}

#[test]
fn checked_in_vectors_match() {
    let mut total = 0usize;
    let mut problems = Vec::new();
    for name in ELEMENTS {
        let e = element(name);
        let rel = format!("vectors/peers/ml_dtypes/convert_{name}.txt");
        let text = std::fs::read_to_string(root().join(&rel)).expect("peer vector file");
        let mut lines = 0;
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let field = |k: &str| {
                line.split(' ')
                    .find_map(|f| f.strip_prefix(&format!("{k}=")))
                    .unwrap_or_else(|| panic!("{rel}: line without {k}="))
            };
            let case = field("case");
            let x = hex_words(field("x"));
            let q = hex_bytes(field("q"));
            let dq = hex_words(field("dq"));
            assert_eq!(x.len(), q.len(), "{rel} {case}: x and q lengths");
            assert_eq!(x.len(), dq.len(), "{rel} {case}: x and dq lengths");
            lines += 1;
            for i in 0..x.len() {
                total += 1;
                let xf = f32::from_bits(x[i]);
                match ours(&e, xf) {
                    Ok(code) if code == q[i] as u32 => {}
                    got => problems.push(format!(
                        "{rel} {case}[{i}]: x={:08x} ({xf:e}) ml_dtypes {:#04x}, ours {got:?}",
                        x[i], q[i]
                    )),
                }
                let d = e.decode(q[i] as u32) as f32;
                if !same_decode(dq[i], d) {
                    problems.push(format!(
                        "{rel} {case}[{i}]: decode {:#04x}: ml_dtypes {:08x}, ours {:08x}",
                        q[i],
                        dq[i],
                        d.to_bits()
                    ));
                }
            }
        }
        assert!(lines > 0, "{rel}: no data lines");
    }
    println!("compared {total} checked-in ml_dtypes conversions");
    assert!(
        problems.is_empty(),
        "{} mismatches against ml-dtypes vectors:\n{}",
        problems.len(),
        problems[..problems.len().min(40)].join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Side-by-side run.

/// A fixed generator (the crate's SplitMix64) so every run tests the same patterns.
struct Rng(gridgames::rng::SplitMix64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
}

/// At least 10^6 f32 patterns for one element: every representable value and every midpoint
/// between neighbours (both signs) ±64 ulps, the overflow region, powers of two and 1.5·2^k
/// ±8 ulps over the whole f32 range, specials (NaN payloads, ±Inf, ±0, subnormals),
/// log-uniform values around the element's range, and random bit patterns to fill up.
fn patterns(e: &Element) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    let around = |centre: f32, radius: i64, out: &mut Vec<u32>| {
        let b = centre.abs().to_bits() as i64;
        for d in -radius..=radius {
            let v = b + d;
            if (0..=0x7f80_0000).contains(&v) {
                out.push(v as u32);
                out.push(v as u32 | 0x8000_0000);
            }
        }
    };
    // Finite values of the element, ascending magnitude (decode is checked on its own below).
    let mut mags: Vec<f64> = (0..e.code_count())
        .map(|c| e.decode(c))
        .filter(|v| v.is_finite() && *v >= 0.0)
        .collect();
    mags.sort_by(f64::total_cmp);
    mags.dedup();
    let max = *mags.last().expect("finite values");
    for w in mags.windows(2) {
        around(w[0] as f32, 64, &mut out);
        around(((w[0] + w[1]) / 2.0) as f32, 64, &mut out);
    }
    around(max as f32, 64, &mut out);
    for k in 1..=8 {
        // The overflow region: max + k/8 of the next binade's step, and far beyond.
        let step = max / 4.0;
        around((max + step * k as f64 / 8.0) as f32, 16, &mut out);
    }
    for k in -149..=127 {
        let p = 2f64.powi(k) as f32;
        around(p, 8, &mut out);
        around((1.5 * 2f64.powi(k)) as f32, 8, &mut out);
    }
    for special in [
        0u32,
        0x8000_0000,
        0x7f80_0000,
        0xff80_0000,
        0x7fc0_0000,
        0xffc0_0000,
        0x7f80_0001,
        0xff80_0001,
        0x7fa0_0000,
        0x7fff_ffff,
        0xffff_ffff,
        0x7f7f_ffff,
        0xff7f_ffff,
        0x0000_0001,
        0x8000_0001,
        0x007f_ffff,
        0x0080_0000,
    ] {
        out.push(special);
    }
    let mut rng = Rng(gridgames::rng::SplitMix64::new(
        0x6d6c_5f64_7479_7065 ^ e.bits as u64 ^ (e.mantissa_bits as u64) << 8,
    ));
    for _ in 0..4096 {
        // More NaN payloads, both signs.
        let payload = (rng.next() as u32 & 0x007f_ffff).max(1);
        out.push(0x7f80_0000 | payload | (rng.next() as u32 & 0x8000_0000));
    }
    let (lo, hi) = (mags[1].log2() - 4.0, max.log2() + 4.0);
    for _ in 0..200_000 {
        let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
        let v = 2f64.powf(lo + (hi - lo) * u) as f32;
        out.push(v.to_bits() | (rng.next() as u32 & 0x8000_0000));
    }
    while out.len() < 1_100_000 {
        out.push(rng.next() as u32);
    }
    out
}

fn temp_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "gridgames-ml-dtypes-{}-{tag}.bin",
        std::process::id()
    ))
}

/// Run the converter script on `input` bytes; returns its output bytes.
fn run_script(python: &str, element: &str, decode: bool, input: &[u8]) -> Vec<u8> {
    let tag = format!("{element}-{}", if decode { "dec" } else { "enc" });
    let inp = temp_path(&format!("{tag}-in"));
    let outp = temp_path(&format!("{tag}-out"));
    std::fs::write(&inp, input).expect("write temp input");
    let mut cmd = Command::new(python);
    cmd.arg(root().join("scripts/peers/ml_dtypes_convert.py"))
        .args(["--element", element]);
    if decode {
        cmd.arg("--decode");
    }
    let status = cmd.arg(&inp).arg(&outp).status();
    let result = std::fs::read(&outp);
    let _ = std::fs::remove_file(&inp);
    let _ = std::fs::remove_file(&outp);
    let status = status.unwrap_or_else(|err| panic!("cannot run {python}: {err}"));
    assert!(
        status.success(),
        "ml_dtypes_convert.py {tag} failed: {status}"
    );
    result.expect("script output")
}

#[test]
fn side_by_side_with_ml_dtypes() {
    let Ok(python) = std::env::var("GRIDGAMES_PYTHON") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but GRIDGAMES_PYTHON is not: the ml-dtypes differential test must run in CI"
        );
        println!("SKIPPED: set GRIDGAMES_PYTHON to a python with ml-dtypes 0.6.0 to run this test");
        return;
    };
    let version = Command::new(&python)
        .args(["-c", "import ml_dtypes; print(ml_dtypes.__version__)"])
        .output()
        .unwrap_or_else(|err| panic!("cannot run {python}: {err}"));
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    assert_eq!(
        version, "0.6.0",
        "{python} has ml-dtypes {version:?}, need 0.6.0"
    );

    let mut report = Vec::new();
    let mut problems = Vec::new();
    for name in ELEMENTS {
        let e = element(name);
        let xs = patterns(&e);
        let bytes: Vec<u8> = xs.iter().flat_map(|x| x.to_le_bytes()).collect();
        let codes = run_script(&python, name, false, &bytes);
        assert_eq!(codes.len(), xs.len(), "{name}: one code per input");
        let mut mismatches = 0usize;
        for (&x, &code) in xs.iter().zip(&codes) {
            let got = ours(&e, f32::from_bits(x));
            if got != Ok(code as u32) {
                mismatches += 1;
                if mismatches <= 20 {
                    problems.push(format!(
                        "{name}: x={x:08x} ({:e}): ml_dtypes {code:#04x}, ours {got:?}",
                        f32::from_bits(x)
                    ));
                }
            }
        }
        // Decode every code. Bytes with bits above a sub-byte element's width are not codes:
        // ml-dtypes reads any of those bits as the sign (0x10 → -0.0 as float4_e2m1fn) while
        // `Element::decode` ignores them, so they are left out.
        let all: Vec<u8> = (0..e.code_count().min(256)).map(|c| c as u8).collect();
        let dec = run_script(&python, name, true, &all);
        assert_eq!(
            dec.len(),
            4 * all.len(),
            "{name}: 4 bytes per decoded value"
        );
        let mut dec_mismatches = 0usize;
        for (b, w) in all.iter().zip(dec.chunks_exact(4)) {
            let ml = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
            let d = e.decode(*b as u32) as f32;
            if !same_decode(ml, d) {
                dec_mismatches += 1;
                problems.push(format!(
                    "{name}: decode {b:#04x}: ml_dtypes {ml:08x}, ours {:08x}",
                    d.to_bits()
                ));
            }
        }
        report.push(format!(
            "{name}: {} encodes, {mismatches} mismatches; {} decodes, {dec_mismatches} mismatches",
            xs.len(),
            all.len()
        ));
    }
    println!("{}", report.join("\n"));
    assert!(
        problems.is_empty(),
        "{}\n{}",
        report.join("\n"),
        problems.join("\n")
    );
}
