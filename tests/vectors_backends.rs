//! The golden vectors through every SIMD backend this CPU has: every decode case (f32, f16
//! and bf16 outputs, error cases included) and every reference-profile quantize case must give
//! the file's bytes on each backend, not only on the scalar oracle. The files themselves are
//! checked against independent oracles in `vectors` and `peers`; here they are the expected
//! values for the fast paths. A backend the CPU lacks is a visible SKIP.

use std::path::Path;

use gridgames::decode::Output;
use gridgames::quant::{Profile, Quantizer};
use gridgames::simd::{self, Backend, Options};
use gridgames::vectors::text::{parse_bytes, parse_words, CaseFile};

fn read(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("vectors")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Backends to run: every fast one the CPU has (threads 1 and 2, so the split path runs too).
fn backends() -> Vec<Options> {
    let available = Backend::available();
    for b in Backend::ALL {
        if !available.contains(&b) {
            crate::support::skip(
                "vectors_backends",
                &format!("backend {b:?}: this CPU lacks it"),
            );
        }
    }
    available
        .into_iter()
        .filter(|&b| b != Backend::Scalar)
        .flat_map(|b| {
            [1, 2].map(|threads| Options {
                backend: b,
                threads,
            })
        })
        .collect()
}

fn words(l: &gridgames::vectors::text::Line, key: &str) -> Vec<u32> {
    parse_words(l.get(key).unwrap_or(""), 8, key).expect("hex words")
}

#[test]
fn every_decode_vector_on_every_backend() {
    let opts = backends();
    let mut checked = 0usize;
    for format in gridgames::tables::FORMATS.iter() {
        let text = read(&format!("{}/decode.txt", format.name));
        let file = CaseFile::parse("decode", &text).expect("parses");
        for (n, l) in &file.lines {
            let codes = parse_bytes(l.get("q").unwrap_or(""), "q").expect("q");
            let scales = parse_bytes(l.get("s").unwrap_or(""), "s").expect("s");
            // `t=-`: the format has no tensor scale (decode multiplies by 1).
            let ts = match l.get("t").filter(|t| *t != "-") {
                Some(t) => f32::from_bits(parse_words(t, 8, "t").expect("t")[0]),
                None => 1.0,
            };
            let errored = l.get("error").is_some();
            for (key, output, digits) in [
                ("f32", Output::F32, 8),
                ("f16", Output::F16, 4),
                ("bf16", Output::Bf16, 4),
            ] {
                let want = if errored {
                    None
                } else {
                    Some(parse_words(l.get(key).expect(key), digits, key).expect("hex"))
                };
                let len = 2 * codes.len();
                for o in &opts {
                    let mut out = vec![0u32; len];
                    let got = simd::decode_bits(o, format, &codes, &scales, ts, output, &mut out);
                    match &want {
                        None => assert!(
                            got.is_err(),
                            "{}/decode.txt:{n}: {key} on {o:?}: decoded a case the file marks as an error",
                            format.name
                        ),
                        Some(w) => {
                            assert!(got.is_ok(), "{}/decode.txt:{n}: {key} on {o:?}: {got:?}", format.name);
                            assert_eq!(&out, w, "{}/decode.txt:{n}: {key} on {o:?}", format.name);
                        }
                    }
                    checked += 1;
                }
            }
        }
    }
    eprintln!("{checked} decode case × output × backend checks");
    assert!(
        opts.is_empty() || checked > 1000,
        "too few decode checks: {checked}"
    );
}

#[test]
fn every_reference_quantize_vector_on_every_backend() {
    let opts = backends();
    let mut checked = 0usize;
    for format in gridgames::tables::FORMATS.iter() {
        let text = read(&format!("{}/reference/quantize.txt", format.name));
        let file = CaseFile::parse("quantize", &text).expect("parses");
        let q = Quantizer::new(format, Profile::Reference).expect("reference applies");
        for (n, l) in &file.lines {
            let x: Vec<f32> = words(l, "x").into_iter().map(f32::from_bits).collect();
            let errored = l.get("error").is_some();
            for o in &opts {
                let got = simd::quantize(&q, &x, false, o);
                if errored {
                    assert!(
                        got.is_err(),
                        "{}:{n} on {o:?}: quantized an error case",
                        format.name
                    );
                    continue;
                }
                let got = got.unwrap_or_else(|e| panic!("{}:{n} on {o:?}: {e}", format.name));
                let want_q = parse_bytes(l.get("q").unwrap_or(""), "q").expect("q");
                let want_s = parse_bytes(l.get("s").unwrap_or(""), "s").expect("s");
                assert_eq!(got.codes, want_q, "{}:{n} on {o:?}: codes", format.name);
                assert_eq!(got.scales, want_s, "{}:{n} on {o:?}: scales", format.name);
                if let Some(t) = l.get("t").filter(|t| *t != "-") {
                    let want_t = parse_words(t, 8, "t").expect("t")[0];
                    let got_t = got.tensor_scale.unwrap_or(1.0).to_bits();
                    assert_eq!(got_t, want_t, "{}:{n} on {o:?}: tensor scale", format.name);
                }
                checked += 1;
            }
        }
    }
    eprintln!("{checked} quantize case × backend checks");
    assert!(
        opts.is_empty() || checked > 100,
        "too few quantize checks: {checked}"
    );
}
