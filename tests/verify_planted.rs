//! The verifier is tested by planted bugs: take reference outputs, apply a realistic
//! implementation bug (each a small alternative quantizer written here), and check that
//! `verify` catches it and names the right class. The bug quantizers use their own E2M1 and
//! UE4M3 rounding (written below from the OCP / NVFP4 definitions), not the crate's.

use gridgames::format::Format;
use gridgames::quant::{Profile, Quantized, Quantizer};
use gridgames::vectors::catalogue::{quantize_cases, QuantCase};
use gridgames::vectors::verify::{verify_decode_text, Overrides};
use gridgames::vectors::{Answer, Class, Options, Report, Verifier};

// ---- independent helpers ----------------------------------------------------------------

/// E2M1 magnitudes by code 0..7 (OCP MX v1.0 table).
const E2M1: [f64; 8] = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0];

#[derive(Clone, Copy, PartialEq)]
enum Tie {
    Even,
    Away,
    LowerIndex,
}

/// Nearest E2M1 code of y (sign kept, saturating at 6) with a tie rule.
fn e2m1(y: f64, tie: Tie) -> u8 {
    let m = y.abs();
    let mut best = 0usize;
    for (c, &v) in E2M1.iter().enumerate().skip(1) {
        let d_new = (m - v).abs();
        let d_best = (m - E2M1[best]).abs();
        if d_new < d_best {
            best = c;
        } else if d_new == d_best {
            let pick_new = match tie {
                Tie::Even => c % 2 == 0,
                Tie::Away => true,
                Tie::LowerIndex => false,
            };
            if pick_new {
                best = c;
            }
        }
    }
    best as u8 | if y.is_sign_negative() { 8 } else { 0 }
}

/// UE4M3 value of a 7-bit code (bias 7, subnormals at field 0; 0x7f is NaN).
fn ue4m3(c: u8) -> f64 {
    let field = (c >> 3) as i32;
    let m = (c & 7) as f64;
    if field == 0 {
        m / 8.0 * 2f64.powi(-6)
    } else {
        (1.0 + m / 8.0) * 2f64.powi(field - 7)
    }
}

/// UE4M3 code nearest to v (saturating at 448), ties to even or up.
fn ue4m3_round(v: f64, half_up: bool) -> u8 {
    let mut best = 0u8;
    for c in 1..=0x7eu8 {
        let d_new = (v - ue4m3(c)).abs();
        let d_best = (v - ue4m3(best)).abs();
        if d_new < d_best || (d_new == d_best && (half_up || c % 2 == 0)) {
            best = c;
        }
    }
    best
}

fn code_at(f: &Format, codes: &[u8], i: usize) -> u8 {
    let b = codes[i / 2];
    if i.is_multiple_of(2) != f.high_nibble_first {
        b & 15
    } else {
        b >> 4
    }
}

fn put_code(f: &Format, codes: &mut [u8], i: usize, c: u8) {
    let b = &mut codes[i / 2];
    if i.is_multiple_of(2) != f.high_nibble_first {
        *b = (*b & 0xf0) | c;
    } else {
        *b = (*b & 0x0f) | (c << 4);
    }
}

/// The reference outputs of a format's catalogue (non-finite cases skipped).
fn reference(f: &Format, profile: Profile) -> Vec<(QuantCase, Quantized)> {
    let q = Quantizer::new(f, profile).expect("profile applies");
    quantize_cases(f)
        .expect("catalogue")
        .into_iter()
        .filter_map(|c| q.quantize(&c.x, false).ok().map(|r| (c, r)))
        .collect()
}

fn answer_of(r: &Quantized) -> Answer {
    Answer {
        codes: r.codes.clone(),
        scales: r.scales.clone(),
        tensor_scale: r.tensor_scale,
        grids: None,
    }
}

/// Apply `bug` to every reference output and verify; returns the report.
fn plant(
    f: &Format,
    profile: Profile,
    bug: impl Fn(&Format, &[f32], &Quantized) -> Answer,
) -> Report {
    let v = Verifier::new(f, profile, Options::default()).expect("verifier");
    let mut report = Report::default();
    for (case, r) in reference(f, profile) {
        let a = bug(f, &case.x, &r);
        v.check(&case.name, &case.x, Ok(&a), &mut report)
            .expect("well-formed answer");
    }
    report
}

/// The bug must be caught, its `primary` class must be among those reported, and every
/// reported class must be one the bug can explain.
fn assert_caught(name: &str, report: &Report, primary: Class, allowed: &[Class]) {
    let classes = report.classes();
    assert!(
        !report.mismatches.is_empty(),
        "planted bug `{name}` was not caught"
    );
    assert!(
        classes.contains(&primary),
        "planted bug `{name}`: expected class {}, got {:?}\n{}",
        primary.name(),
        classes,
        report.render(3, &[])
    );
    for c in &classes {
        assert!(
            *c == primary || allowed.contains(c),
            "planted bug `{name}`: unexpected class {}\n{}",
            c.name(),
            report.render(3, &[])
        );
    }
}

/// Recompute every code from the stored scale with an element rule (f64 division: exact for
/// the ties that matter, see the test module doc).
fn recode(f: &Format, x: &[f32], r: &Quantized, tie: Tie) -> Answer {
    let g = f.group_size as usize;
    let mut a = answer_of(r);
    let ts = r.tensor_scale.unwrap_or(1.0) as f64;
    for (i, &v) in x.iter().enumerate() {
        let s = f.scale_value(r.scales[i / g] as u32);
        let y = if s == 0.0 {
            if v.is_sign_negative() {
                -0.0
            } else {
                0.0
            }
        } else {
            v as f64 / (s * ts)
        };
        put_code(f, &mut a.codes, i, e2m1(y, tie));
    }
    a
}

fn nvfp4() -> &'static Format {
    gridgames::tables::format("nvfp4").expect("nvfp4 built in")
}

fn mxfp4() -> &'static Format {
    gridgames::tables::format("mxfp4").expect("mxfp4 built in")
}

/// A two-grid test format: E2M1 and E2M1 shifted by +0.5 (an SFP4-style pair), selected by
/// bit 7 of the UE4M3 scale byte. Used when the real SFP4 spec is not built in.
fn two_grid() -> Format {
    if let Some(f) = gridgames::tables::format("sfp4") {
        return *f;
    }
    let yaml = r#"
name: planted-shifted
description: test format for planted bugs
group_size: 16
grids:
  - name: e2m1
    element: e2m1
    ties: even-code
  - name: e2m1-plus-half
    element: e2m1
    offset: "0.5"
    ties: even-code
scale:
  element: ue4m3
  value_mask: 0x7f
  selector_bits: [7]
  rounding: rne
tensor_scale: f32
nibble_order: low-first
provenance: tests/verify_planted.rs
"#;
    gridgames::spec::load_format_text("planted-shifted.yaml", yaml).expect("test spec is valid")
}

// ---- the sanity check: the reference verifies clean -------------------------------------

#[test]
fn reference_outputs_verify_clean() {
    for f in [nvfp4(), mxfp4()] {
        let r = plant(f, Profile::Reference, |_, _, r| answer_of(r));
        assert!(r.mismatches.is_empty(), "{}", r.render(3, &[]));
        assert!(r.cases > 100);
    }
    let f = two_grid();
    let r = plant(&f, Profile::Reference, |_, _, r| answer_of(r));
    assert!(r.mismatches.is_empty(), "{}", r.render(3, &[]));
}

// ---- the planted bugs ---------------------------------------------------------------------

#[test]
fn bug_ties_away_from_zero() {
    let r = plant(nvfp4(), Profile::Reference, |f, x, r| {
        recode(f, x, r, Tie::Away)
    });
    assert_caught("ties away from zero", &r, Class::TieCode, &[]);
}

#[test]
fn bug_ties_to_lower_index() {
    let r = plant(nvfp4(), Profile::Reference, |f, x, r| {
        recode(f, x, r, Tie::LowerIndex)
    });
    assert_caught("ties to the lower index", &r, Class::TieCode, &[]);
}

#[test]
fn bug_round_half_up_block_scale() {
    let r = plant(nvfp4(), Profile::Reference, |f, x, r| {
        let g = f.group_size as usize;
        let ts = r.tensor_scale.unwrap_or(1.0) as f64;
        let mut q = r.clone();
        for (gi, chunk) in x.chunks(g).enumerate() {
            let amax = chunk.iter().fold(0f64, |m, v| m.max((*v as f64).abs()));
            if amax > 0.0 {
                q.scales[gi] = ue4m3_round(amax / (6.0 * ts), true);
            }
        }
        recode(f, x, &q, Tie::Even)
    });
    assert_caught("round-half-up block scales", &r, Class::ScaleRounding, &[]);
}

#[test]
fn bug_multiply_by_f32_reciprocal() {
    let r = plant(nvfp4(), Profile::Reference, |f, x, r| {
        let g = f.group_size as usize;
        let ts = r.tensor_scale.unwrap_or(1.0);
        let mut a = answer_of(r);
        for (i, &v) in x.iter().enumerate() {
            let s = f.scale_value(r.scales[i / g] as u32) as f32;
            if s == 0.0 {
                continue;
            }
            let rcp = 1.0f32 / (s * ts);
            put_code(f, &mut a.codes, i, e2m1((v * rcp) as f64, Tie::Even));
        }
        a
    });
    assert_caught(
        "x * (1/s) in f32 instead of x / s",
        &r,
        Class::TieCode,
        // 1/s overflows to Inf for the smallest scales: those elements come out wrong or
        // with the wrong zero sign, as they would in such a kernel.
        &[Class::NearTieCode, Class::WrongCode, Class::SignedZero],
    );
}

#[test]
fn bug_swapped_nibbles() {
    let r = plant(nvfp4(), Profile::Reference, |_, _, r| {
        let mut a = answer_of(r);
        for b in a.codes.iter_mut() {
            *b = b.rotate_left(4);
        }
        a
    });
    assert_caught("swapped nibbles", &r, Class::NibbleOrder, &[]);
}

#[test]
fn bug_selector_bit_ignored() {
    let f = two_grid();
    let r = plant(&f, Profile::Reference, |f, _, r| {
        let mut a = answer_of(r);
        for s in a.scales.iter_mut() {
            *s &= f.value_mask as u8;
        }
        a
    });
    assert_caught("selector bit never written", &r, Class::SelectorBits, &[]);
}

#[test]
fn bug_wrong_shift_sign() {
    let f = two_grid();
    // The implementation's shifted grid uses -offset: its values are grid 0's minus c where
    // the spec says plus c.
    let shifted = f.grids[1];
    let offset = (shifted.value(0) - f.grids[0].value(0)) as f64;
    let r = plant(&f, Profile::Reference, |f, x, r| {
        let g = f.group_size as usize;
        let ts = r.tensor_scale.unwrap_or(1.0) as f64;
        let mut a = answer_of(r);
        for (gi, &grid) in r.grid_of_group.iter().enumerate() {
            if grid != 1 {
                continue;
            }
            let s = f.scale_value(r.scales[gi] as u32) * ts;
            for (i, &xi) in x.iter().enumerate().skip(gi * g).take(g) {
                let y = xi as f64 / s;
                let mut best = 0u8;
                for c in 0..16u8 {
                    let wrong = f.grids[0].value(c) as f64 - offset;
                    let cur = f.grids[0].value(best) as f64 - offset;
                    if (y - wrong).abs() < (y - cur).abs() {
                        best = c;
                    }
                }
                put_code(f, &mut a.codes, i, best);
            }
        }
        a
    });
    assert_caught(
        "shifted grid with the wrong sign of the shift",
        &r,
        Class::WrongCode,
        &[Class::TieCode, Class::NearTieCode, Class::SignedZero],
    );
}

#[test]
fn bug_scale_clamp_missing() {
    // MXFP4: 2^(floor(log2 amax) - 2) stored as a biased byte without clamping to [0, 254].
    let r = plant(mxfp4(), Profile::Reference, |f, x, r| {
        let g = f.group_size as usize;
        let mut a = answer_of(r);
        for (gi, chunk) in x.chunks(g).enumerate() {
            let amax = chunk.iter().fold(0f32, |m, v| m.max(v.abs()));
            if amax == 0.0 {
                continue;
            }
            let bits = amax.to_bits();
            let field = (bits >> 23) as i32;
            let e = if field == 0 {
                31 - (bits & 0x7f_ffff).leading_zeros() as i32 - 149
            } else {
                field - 127
            };
            a.scales[gi] = (e - 2 + 127) as u8;
        }
        a
    });
    assert_caught("scale clamp missing", &r, Class::ScaleRange, &[]);
}

#[test]
fn bug_tensor_scale_one_ulp_off() {
    // The implementation computes its tensor scale one ulp high and then quantizes every
    // group consistently under it: only the tensor scale is wrong.
    let q = Quantizer::new(nvfp4(), Profile::Reference).unwrap();
    let r = plant(nvfp4(), Profile::Reference, |_, x, r| {
        let mut ctx = q.tensor_context(x);
        ctx.scale = f32::from_bits(ctx.scale.to_bits() + 1);
        let own = q.quantize_with_context(x, &ctx, false).unwrap();
        assert_eq!(
            own.tensor_scale,
            r.tensor_scale.map(|t| f32::from_bits(t.to_bits() + 1))
        );
        answer_of(&own)
    });
    assert_caught("tensor scale one ulp off", &r, Class::TensorScale, &[]);
}

/// Allowing `tensor-scale` never skips the group checks (it once did: garbage codes passed).
#[test]
fn allowed_tensor_scale_still_checks_every_group() {
    let f = nvfp4();
    let v = Verifier::new(f, Profile::Reference, Options::default()).unwrap();
    let q = Quantizer::new(f, Profile::Reference).unwrap();
    let x: Vec<f32> = (0..4096)
        .map(|i| ((i * 7919 % 2001) as f32 - 1000.0) / 311.0)
        .collect();
    // A kernel that uses tensor scale 1 (torchao's nvfp4_quantize without per_tensor_scale)
    // and is otherwise right: only the tensor-scale class, and it can be allowed.
    let mut ctx = q.tensor_context(&x);
    ctx.scale = 1.0;
    let right = q.quantize_with_context(&x, &ctx, false).unwrap();
    let mut report = Report::default();
    v.check("ts-one", &x, Ok(&answer_of(&right)), &mut report)
        .unwrap();
    assert_eq!(
        report.classes(),
        vec![Class::TensorScale],
        "{}",
        report.render(3, &[])
    );
    assert!(!report.fails(&[Class::TensorScale]));
    // Garbage codes under the same tensor scale: every group is still checked.
    let mut garbage = answer_of(&right);
    for (i, b) in garbage.codes.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add(11);
    }
    let mut report = Report::default();
    v.check("garbage", &x, Ok(&garbage), &mut report).unwrap();
    assert!(
        report.fails(&[Class::TensorScale]),
        "{}",
        report.render(3, &[])
    );
    assert!(report.mismatches.len() > 100);
}

#[test]
fn bug_sign_of_zero_lost() {
    let r = plant(nvfp4(), Profile::Reference, |f, x, r| {
        let mut a = answer_of(r);
        for i in 0..x.len() {
            if code_at(f, &a.codes, i) == 8 {
                put_code(f, &mut a.codes, i, 0);
            }
        }
        a
    });
    assert_caught("sign of zero lost", &r, Class::SignedZero, &[]);
}

#[test]
fn bug_grid_ties_to_highest_index() {
    let f = two_grid();
    let singles: Vec<Quantizer> = (0..f.grids.len())
        .map(|i| {
            Quantizer::new(
                &gridgames::vectors::catalogue::single_grid(&f, i),
                Profile::Reference,
            )
            .expect("single grid")
        })
        .collect();
    let full = Quantizer::new(&f, Profile::Reference).expect("quantizer");
    let r = plant(&f, Profile::Reference, |f, x, r| {
        let g = f.group_size as usize;
        let ctx = full.tensor_context(x);
        let mut a = answer_of(r);
        for (gi, chunk) in x.chunks(g).enumerate() {
            let cands: Vec<_> = singles
                .iter()
                .map(|q| q.quantize_group(chunk, &ctx))
                .collect();
            // `<=` instead of `<`: exact ties go to the last grid.
            let mut best = 0;
            for (k, c) in cands.iter().enumerate() {
                if c.sse <= cands[best].sse {
                    best = k;
                }
            }
            a.scales[gi] = cands[best].scale as u8;
            for (j, &c) in cands[best].codes.iter().enumerate() {
                put_code(f, &mut a.codes, gi * g + j, c);
            }
        }
        a
    });
    assert_caught(
        "exact grid ties to the highest index",
        &r,
        Class::GridNearTie,
        &[],
    );
}

#[test]
fn bug_floor_log2_in_f32() {
    // gguf-py style: e = floor(log2f(amax)) in f32 arithmetic; 2^k (1 - 2^-24) rounds up to k.
    let r = plant(mxfp4(), Profile::Reference, |f, x, r| {
        let g = f.group_size as usize;
        let mut a = answer_of(r);
        for (gi, chunk) in x.chunks(g).enumerate() {
            let amax = chunk.iter().fold(0f32, |m, v| m.max(v.abs()));
            if amax == 0.0 {
                continue;
            }
            let e = amax.log2().floor() as i32 - 2 + 127;
            a.scales[gi] = e.clamp(0, 254) as u8;
        }
        a
    });
    assert_caught("floor(log2) taken in f32", &r, Class::ScaleRounding, &[]);
}

// ---- decode-side bugs, through decode case files ------------------------------------------

fn decode_text(f: &Format) -> String {
    let cases = gridgames::vectors::catalogue::decode_cases(f);
    gridgames::vectors::generate::decode_file(f, &cases)
}

/// Rewrite every data line's `f32=` field with `edit`.
fn edit_f32(text: &str, edit: impl Fn(&str, &str) -> String) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with('#') {
                return l.to_string();
            }
            l.split(' ')
                .map(|t| match t.strip_prefix("f32=") {
                    Some(v) if v != "-" => format!("f32={}", edit(l, v)),
                    _ => t.to_string(),
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn bug_decode_nan_payload() {
    let f = nvfp4();
    let text = edit_f32(&decode_text(f), |_, v| v.replace("7fc00000", "ffc00001"));
    let r = verify_decode_text("planted", &text, &Overrides::default()).expect("parses");
    assert_caught("NaN payload differs", &r, Class::NanPayload, &[]);
}

#[test]
fn bug_decode_swapped_nibbles() {
    let f = nvfp4();
    // The implementation decodes element 2i from the high nibble.
    let text: String = decode_text(f)
        .lines()
        .map(|l| {
            if l.starts_with('#') || l.contains("error=") {
                return l.to_string();
            }
            let get = |k: &str| {
                l.split(' ')
                    .find_map(|t| t.strip_prefix(&format!("{k}=")))
                    .unwrap_or("-")
                    .to_string()
            };
            let q: Vec<u8> = (0..get("q").len() / 2)
                .map(|i| u8::from_str_radix(&get("q")[2 * i..2 * i + 2], 16).unwrap_or(0))
                .collect();
            let swapped: Vec<u8> = q.iter().map(|b| b.rotate_left(4)).collect();
            let s = u8::from_str_radix(&get("s"), 16).unwrap_or(0);
            let t = f32::from_bits(u32::from_str_radix(&get("t"), 16).unwrap_or(0x3f80_0000));
            let mut out = vec![0f32; q.len() * 2];
            if gridgames::decode::decode_f32(f, &swapped, &[s], t, &mut out).is_err() {
                return l.to_string();
            }
            let hex: String = out
                .iter()
                .map(|v| format!("{:08x}", if v.is_nan() { 0x7fc0_0000 } else { v.to_bits() }))
                .collect();
            l.replace(&format!("f32={}", get("f32")), &format!("f32={hex}"))
        })
        .collect::<Vec<_>>()
        .join("\n");
    let r = verify_decode_text("planted", &text, &Overrides::default()).expect("parses");
    assert_caught("decoder reads nibbles swapped", &r, Class::NibbleOrder, &[]);
}

/// Scales written in another layout: a kernel's 128x4 or 8x4 swizzle, or a transpose, of an
/// otherwise correct answer is one `scale-layout` finding and nothing else (the groups are
/// checked on the scales read in that layout); a correct answer, and a few wrong scales, are
/// not mistaken for a layout.
#[test]
fn bug_scales_in_another_layout() {
    use gridgames::ScaleLayout;
    let f = nvfp4();
    let (rows, cols) = (256usize, 256usize);
    let mut seed = 0x1a7e_u64;
    let x: Vec<f32> = (0..rows * cols)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 8.0
        })
        .collect();
    let q = gridgames::Quantizer::new(f, Profile::Reference)
        .unwrap()
        .quantize(&x, false)
        .unwrap();
    let groups = cols / 16;
    let v = Verifier::new(f, Profile::Reference, Options::default()).unwrap();
    let check = |scales: Vec<u8>| {
        let mut a = answer_of(&q);
        a.scales = scales;
        let mut report = Report::default();
        v.check_rows("w", &x, cols, Ok(&a), &mut report).unwrap();
        report
    };
    assert!(check(q.scales.clone()).mismatches.is_empty());
    for layout in [ScaleLayout::Blocked128x4, ScaleLayout::Blocked8x4] {
        let mut stored = vec![0u8; layout.stored_len(rows, groups)];
        layout
            .from_linear(&q.scales, rows, groups, &mut stored)
            .unwrap();
        let r = check(stored);
        assert_caught(layout.name(), &r, Class::ScaleLayout, &[]);
        assert_eq!(r.mismatches.len(), 1, "{}", r.render(3, &[]));
        assert!(r.mismatches[0].detail.contains(layout.name()));
    }
    let mut transposed = vec![0u8; rows * groups];
    for r in 0..rows {
        for c in 0..groups {
            transposed[c * rows + r] = q.scales[r * groups + c];
        }
    }
    let r = check(transposed);
    assert_caught("transposed scales", &r, Class::ScaleLayout, &[]);
    assert_eq!(r.mismatches.len(), 1, "{}", r.render(3, &[]));
    // A few wrong scales are scale mismatches, not a layout.
    let mut few = q.scales.clone();
    for i in (0..few.len()).step_by(97) {
        few[i] ^= 1;
    }
    let r = check(few);
    assert!(
        !r.classes().contains(&Class::ScaleLayout),
        "{}",
        r.render(3, &[])
    );
    assert!(!r.mismatches.is_empty());
}
