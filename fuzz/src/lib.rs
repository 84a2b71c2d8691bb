//! The bodies of the fuzz targets, as plain functions over `&[u8]`.
//!
//! Each function must return normally for every input: a panic is a finding, either a
//! crash in the library (input that reaches an `unwrap`, an index or an overflow) or a
//! broken property asserted here (a SIMD backend that disagrees with the scalar oracle, a
//! quantizer output that does not decode, an optimized MMA path that differs from the plain
//! model). The same functions replay the checked-in findings in `tests/regressions.rs`
//! (included there with `#[path]`), so a regression test checks exactly what the fuzzer
//! checked.
//!
//! Inputs are bounded (elements, K, text length) so one execution stays in the
//! milliseconds: libFuzzer explores more with many short runs than with a few long ones, and
//! the work per byte is linear in every parser here anyway.

use std::path::Path;

use gridgames::decode::{self, Output};
use gridgames::element::{Policy, Rounding};
use gridgames::format::Format;
use gridgames::quant::{Profile, Quantizer};
use gridgames::simd::{self, Backend};
use gridgames::tables;

/// Largest element count the decode and quantize targets use.
const MAX_ELEMENTS: usize = 4096;

/// A little-endian cursor over the fuzz input; reads past the end yield zeros.
struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    /// Up to `n` bytes (fewer when the input runs out).
    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }

    fn rest(&mut self) -> &'a [u8] {
        self.take(self.data.len())
    }
}

fn pick<T: Copy>(items: &[T], b: u8) -> Option<T> {
    if items.is_empty() {
        None
    } else {
        Some(items[b as usize % items.len()])
    }
}

const OUTPUTS: [Output; 3] = [Output::F32, Output::F16, Output::Bf16];

/// Decode with the scalar oracle and with every backend this CPU runs; results and outputs
/// (partial outputs on error included) must be identical.
fn decode_all_backends(format: &Format, codes: &[u8], scales: &[u8], ts: f32, n: usize) {
    for output in OUTPUTS {
        let mut want = vec![0u32; n];
        let r_want = decode::decode_bits(format, codes, scales, ts, output, &mut want);
        for backend in Backend::available() {
            let mut got = vec![0u32; n];
            let opts = simd::Options::with(backend);
            let r_got = simd::decode_bits(&opts, format, codes, scales, ts, output, &mut got);
            assert_eq!(r_want, r_got, "{}: {backend:?} result differs", format.name);
            assert_eq!(want, got, "{}: {backend:?} output differs", format.name);
        }
        if output == Output::F32 {
            let mut f = vec![0f32; n];
            let r_f = decode::decode_f32(format, codes, scales, ts, &mut f);
            assert_eq!(r_want, r_f, "{}: decode_f32 result differs", format.name);
            if r_f.is_ok() {
                let bits: Vec<u32> = f.iter().map(|v| v.to_bits()).collect();
                assert_eq!(
                    want, bits,
                    "{}: decode_f32 differs from decode_bits",
                    format.name
                );
            }
        }
    }
}

/// Decode arbitrary bytes as a built-in format: `[format][n lo][n hi][ts: 4][codes..][scales..]`.
/// The code and scale lengths are taken from the input, so mismatched lengths are exercised
/// as well as valid ones.
pub fn decode(data: &[u8]) {
    let mut b = Bytes { data };
    let Some(format) = pick(tables::FORMATS, b.u8()) else {
        return;
    };
    let n = b.u16() as usize % (MAX_ELEMENTS + 1);
    let ts = f32::from_bits(b.u32());
    let mode = b.u8();
    let groups = n.div_ceil(format.group_size as usize);
    let (code_len, scale_len) = if mode & 1 == 0 {
        // Consistent lengths (the common case): whatever the input has left is split.
        (n.div_ceil(2), groups * format.scale_bytes as usize)
    } else {
        (b.u8() as usize, b.u8() as usize)
    };
    let codes = b.take(code_len).to_vec();
    let scales = b.take(scale_len).to_vec();
    decode_all_backends(format, &codes, &scales, ts, n);
}

/// Quantize arbitrary f32 bit patterns with every built-in format and one of its profiles:
/// `[format][profile][flags][f32 LE...]`. Every backend must equal the scalar oracle, and a
/// successful result must decode without error to values of the right length.
pub fn quantize(data: &[u8]) {
    let mut b = Bytes { data };
    let Some(format) = pick(tables::FORMATS, b.u8()) else {
        return;
    };
    let profiles = Profile::for_format(format);
    let Some(profile) = pick(&profiles, b.u8()) else {
        return;
    };
    let flags = b.u8();
    let pad = flags & 1 != 0;
    let x: Vec<f32> = b
        .rest()
        .chunks_exact(4)
        .take(MAX_ELEMENTS)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    quantize_values(format, profile, &x, pad);
}

fn quantize_values(format: &Format, profile: Profile, x: &[f32], pad: bool) {
    let Ok(q) = Quantizer::new(format, profile) else {
        return;
    };
    let want = q.quantize(x, pad);
    for backend in Backend::available() {
        let got = simd::quantize(&q, x, pad, &simd::Options::with(backend));
        assert_eq!(
            want,
            got,
            "{} {}: {backend:?} differs from the scalar quantizer",
            format.name,
            profile.name()
        );
    }
    if let Ok(r) = want {
        assert_eq!(r.len, x.len());
        assert_eq!(r.stored_len() % format.group_size as usize, 0);
        let back = r.decode_f32();
        let back = match back {
            Ok(v) => v,
            Err(e) => panic!(
                "{} {}: quantizer output does not decode: {e}",
                format.name,
                profile.name()
            ),
        };
        assert_eq!(back.len(), x.len());
        // The quantizer's own output decodes through every backend too.
        decode_all_backends(
            format,
            &r.codes,
            &r.scales,
            r.tensor_scale.unwrap_or(1.0),
            r.stored_len(),
        );
    }
}

/// Element encode of an arbitrary f64 bit pattern: `[element][rounding][policy][f64 LE]`.
/// A code must fit the element's width; an exact outcome must decode to the input.
pub fn element(data: &[u8]) {
    let mut b = Bytes { data };
    let Some(e) = pick(tables::ELEMENTS, b.u8()) else {
        return;
    };
    let rounding = [
        Rounding::NearestEven,
        Rounding::NearestAway,
        Rounding::TowardZero,
        Rounding::MagnitudeUp,
    ][b.u8() as usize % 4];
    let policy = Policy::ALL[b.u8() as usize % Policy::ALL.len()];
    let x = f64::from_bits(b.u64());
    if let Ok((code, outcome)) = e.encode(x, rounding, policy) {
        assert!(
            e.bits >= 32 || code >> e.bits == 0,
            "{}: code {code:#x} wider than {} bits",
            e.name,
            e.bits
        );
        if outcome == gridgames::element::Outcome::Exact && x.is_finite() {
            let back = e.decode(code);
            assert!(
                back == x,
                "{}: {x:e} encoded exactly as {code:#x}, which decodes to {back:e}",
                e.name
            );
        }
    }
}

/// The `.npy` reader: parse, convert, and (when it parses) re-serialize and parse again.
pub fn npy(data: &[u8]) {
    use gridgames::container::npy;
    let Ok(arr) = npy::parse(data) else {
        return;
    };
    let count: usize = arr.shape.iter().product();
    for bf16 in [false, true] {
        if let Ok(v) = arr.to_f32(bf16) {
            assert_eq!(v.len(), count, "to_f32 length differs from the shape");
        }
    }
    let bytes = npy::to_bytes(&arr.descr, &arr.shape, arr.data);
    let again = match npy::parse(&bytes) {
        Ok(a) => a,
        Err(e) => panic!("re-serialized .npy does not parse: {e}"),
    };
    assert_eq!(again, arr, "re-serialized .npy differs");
}

/// The safetensors readers: floats, quantized tensors under every built-in format (each
/// decoded the way `gridgames decode` does), and the metadata lookup.
pub fn safetensors(data: &[u8]) {
    use gridgames::container;
    let path = Path::new("fuzz.safetensors");
    if let Ok(ts) = container::read_safetensors_floats(path, data, None) {
        for t in ts {
            let count = t.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            assert_eq!(
                count,
                Some(t.data.len()),
                "`{}`: data length differs from shape",
                t.name
            );
        }
    }
    let _ = container::metadata_format(data);
    for format in tables::FORMATS {
        let Ok(ts) = container::read_quantized(path, data, format, None) else {
            continue;
        };
        for t in ts {
            let count = t.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            let Some(count) = count else {
                panic!(
                    "`{}`: read_quantized returned a shape whose size overflows",
                    t.name
                );
            };
            let stored = t.codes.len() * 2;
            assert!(
                count <= stored,
                "`{}`: shape {:?} holds {count} elements but only {stored} codes are stored",
                t.name,
                t.shape
            );
            let mut out = vec![0u32; stored];
            let _ = decode::decode_bits(
                format,
                &t.codes,
                &t.scales,
                t.tensor_scale.unwrap_or(1.0),
                Output::F32,
                &mut out,
            );
        }
    }
}

/// The spec parser: element files, format files and the runtime format built from them.
/// A format that loads must quantize and decode a small tensor (the validator's promise).
pub fn spec(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.len() > 64 * 1024 {
        return;
    }
    let _ = gridgames::spec::schema::load_element("fuzz.yaml", text);
    // load_format_text leaks the runtime format (formats live for the process): cheap here
    // because almost no fuzz input is a valid format.
    let Ok(format) = gridgames::spec::load_format_text("fuzz.yaml", text) else {
        return;
    };
    let group = format.group_size as usize;
    if group == 0 || group > MAX_ELEMENTS {
        return;
    }
    let x: Vec<f32> = (0..group * 2)
        .map(|i| (i as f32 - group as f32) * 0.37)
        .collect();
    quantize_values(&format, Profile::Reference, &x, false);
    let codes: Vec<u8> = (0..group).map(|i| i as u8).collect();
    let scales: Vec<u8> = (0..2 * format.scale_bytes as usize)
        .map(|i| 0x38 + i as u8)
        .collect();
    decode_all_backends(&format, &codes, &scales, 1.0, group * 2);
}

/// The MMA case-file parser and checker on arbitrary text.
pub fn mma_cases(data: &[u8]) {
    use gridgames::emu::cases;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.len() > 64 * 1024 {
        return;
    }
    for line in text.lines() {
        let _ = cases::parse_line(line);
    }
    let _ = cases::check(text);
    let _ = cases::emit(text);
}

/// The MMA models on arbitrary operands: `[instr][k multiple][m,n][c: 4][codes.. scales..]`.
/// The GEMM (whose GST-FDPA path is the optimized one) must equal one `dot` per element,
/// and neither may panic.
pub fn mma_dot(data: &[u8]) {
    use gridgames::emu::{self, Elements, Layout, Operand};
    let Ok(reg) = emu::registry() else {
        return;
    };
    let mut b = Bytes { data };
    let sel = b.u16() as usize;
    let mult = 1 + (b.u8() as usize % 4);
    let mn = b.u8();
    let (m, n) = (1 + (mn & 1) as usize, 1 + ((mn >> 1) & 1) as usize);
    let c_bits = b.u32();
    let mask_codes = mn & 4 == 0;
    let pipelines = [
        emu::sfp4::Pipeline::Blackwell,
        emu::sfp4::Pipeline::Hopper,
        emu::sfp4::Pipeline::Exact,
    ];
    let total = reg.instructions.len() + pipelines.len();
    if total == 0 {
        return;
    }
    let sel = sel % total;
    let Some(ins) = reg.instructions.get(sel) else {
        // An SFP4 pipeline: E2M1 operands, one scale byte per 16.
        let p = pipelines[sel - reg.instructions.len()];
        let k = p.k_multiple() * mult;
        let code = |b: &mut Bytes| u32::from(b.u8() & 0xF);
        let a: Vec<u32> = (0..k).map(|_| code(&mut b)).collect();
        let bb: Vec<u32> = (0..k).map(|_| code(&mut b)).collect();
        let sa = b.take(k / 16).to_vec();
        let sb = b.take(k / 16).to_vec();
        let _ = p.dot(&a, &bb, &sa, &sb, c_bits);
        return;
    };
    let k = ins.k as usize * mult;
    let wa = ins.a.bits();
    let wb = ins.b.bits();
    let code = |b: &mut Bytes, w: u32| {
        let v = b.u32();
        if mask_codes && w < 32 {
            v & ((1u32 << w) - 1)
        } else {
            v
        }
    };
    let a: Vec<u32> = (0..m * k).map(|_| code(&mut b, wa)).collect();
    let bm: Vec<u32> = (0..k * n).map(|_| code(&mut b, wb)).collect();
    let ns = ins.scales_for(k);
    let sa = b.take(m * ns).to_vec();
    let sb = b.take(n * ns).to_vec();
    let acc_bits = ins.acc_format().bits();
    let c_one = if acc_bits < 32 && mask_codes {
        c_bits & ((1 << acc_bits) - 1)
    } else {
        c_bits
    };
    let c: Vec<u32> = vec![c_one; m * n];
    let oa = Operand {
        elements: Elements::Codes(&a),
        layout: Layout::RowMajor,
        scales: &sa,
    };
    let ob = Operand {
        elements: Elements::Codes(&bm),
        layout: Layout::RowMajor,
        scales: &sb,
    };
    let gemm = ins.gemm(m, n, k, &oa, &ob, &c);
    // The plain model, one dot product per output element.
    let mut plain = Vec::with_capacity(m * n);
    let mut plain_err = None;
    'outer: for i in 0..m {
        for j in 0..n {
            let row = &a[i * k..(i + 1) * k];
            let col: Vec<u32> = (0..k).map(|x| bm[x * n + j]).collect();
            let (s_a, s_b) = if ns == 0 {
                (&[][..], &[][..])
            } else if sa.len() == m * ns && sb.len() == n * ns {
                (&sa[i * ns..(i + 1) * ns], &sb[j * ns..(j + 1) * ns])
            } else {
                plain_err = Some(());
                break 'outer;
            };
            match ins.dot(row, &col, s_a, s_b, c[i * n + j]) {
                Ok(d) => plain.push(d),
                Err(_) => {
                    plain_err = Some(());
                    break 'outer;
                }
            }
        }
    }
    match (&gemm, plain_err) {
        (Ok(d), None) => assert_eq!(
            d,
            &plain,
            "{} ({:?}): gemm differs from dot (m={m} n={n} k={k})",
            ins.id(),
            ins.model
        ),
        (Err(_), Some(())) => {}
        (g, p) => panic!(
            "{}: gemm {:?} but dot {}",
            ins.id(),
            g,
            if p.is_some() { "failed" } else { "succeeded" }
        ),
    }
}

/// The vector-file parser and verifiers (`vectors/<format>/<profile>/*.txt`, `decode.txt`).
pub fn vectors(data: &[u8]) {
    use gridgames::vectors::{text, verify};
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if s.len() > 64 * 1024 {
        return;
    }
    let _ = text::CaseFile::parse("fuzz.txt", s);
    let over = verify::Overrides::default();
    let _ = verify::verify_quantize_text("fuzz.txt", s, &over, verify::Options::default());
    let _ = verify::verify_decode_text("fuzz.txt", s, &over);
}

/// A random valid-looking format spec built from the input bytes, covering every schema
/// combination: 1–4 grids (E2M1, INT4, shifted or scaled E2M1, explicit near-uniform
/// values), every tie rule, UE4M3 / UE8M0 / 4-byte FP32 scales, selector bits, value masks,
/// both scale roundings, with and without a tensor scale, both nibble orders. Returns the
/// YAML text; the loader decides whether the combination is accepted.
pub fn random_format_spec(data: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut b = Bytes { data };
    let group = pick(&[2u32, 4, 8, 16, 32, 64, 128], b.u8()).unwrap_or(16);
    let scale_kind = b.u8() % 3;
    let grids = if scale_kind == 2 { 1 } else { 1 + b.u8() % 4 };
    let ties = ["even-code", "lower-index", "toward-zero", "away-from-zero"];
    let mut y = String::new();
    let _ = writeln!(y, "name: fuzz-quality\ngroup_size: {group}\ngrids:");
    for g in 0..grids {
        let tie = pick(&ties, b.u8()).unwrap_or("even-code");
        let _ = writeln!(y, "  - name: g{g}");
        match b.u8() % 5 {
            0 => {
                let _ = writeln!(y, "    element: e2m1");
            }
            1 => {
                let _ = writeln!(y, "    element: int4");
            }
            2 => {
                let off = pick(&["0.5", "-0.5", "0.25"], b.u8()).unwrap_or("0.5");
                let _ = writeln!(y, "    element: e2m1\n    offset: {off}");
            }
            3 => {
                let _ = writeln!(y, "    element: e2m1\n    factor: 0.75");
            }
            _ => {
                // -7..8 with a jitter of at most a quarter step (k/64): sorted, distinct,
                // an exact 0 and the top at 8; every gap at most 1.5 steps.
                let values: Vec<String> = (0..16i32)
                    .map(|i| {
                        let jitter = if i == 7 || i == 15 {
                            0
                        } else {
                            (b.u8() % 33) as i32 - 16
                        };
                        format!("{}", ((i - 7) * 64 + jitter) as f64 / 64.0)
                    })
                    .collect();
                let _ = writeln!(y, "    values: [{}]", values.join(", "));
            }
        }
        let _ = writeln!(y, "    ties: {tie}");
    }
    let (element, bits): (&str, u32) = match scale_kind {
        0 => ("ue4m3", 7),
        1 => ("ue8m0", 8),
        _ => ("f32", 32),
    };
    let _ = writeln!(y, "scale:\n  element: {element}");
    if scale_kind == 2 {
        let _ = writeln!(y, "  bytes: 4");
    }
    if grids > 1 {
        let sel: &[u32] = if grids == 2 { &[7] } else { &[7, 6] };
        let sel_mask: u32 = sel.iter().map(|s| 1 << s).sum();
        let value_mask = ((1u32 << bits) - 1) & !sel_mask & 0xff;
        let list: Vec<String> = sel.iter().map(|s| s.to_string()).collect();
        let _ = writeln!(
            y,
            "  selector_bits: [{}]\n  value_mask: 0x{value_mask:02x}",
            list.join(", ")
        );
        if grids == 3 {
            let _ = writeln!(y, "  selectors: {{\"00\": 0, \"10\": 1, \"11\": 2}}");
        }
    }
    let rounding = if b.u8().is_multiple_of(2) {
        "rne"
    } else {
        "floor-pow2"
    };
    let tensor = if b.u8().is_multiple_of(2) {
        "f32"
    } else {
        "none"
    };
    let nibbles = if b.u8().is_multiple_of(2) {
        "low-first"
    } else {
        "high-first"
    };
    let _ = writeln!(
        y,
        "  rounding: {rounding}\ntensor_scale: {tensor}\nnibble_order: {nibbles}\nprovenance: fuzz"
    );
    y
}

/// Relative MSE above which an accepted format's reference quantization is garbage. The
/// generated grids have every gap at most 1/3 of the target (E2M1's 4 → 6), and a
/// floor-pow2 scale with a target that is not a power of two saturates the group maximum by
/// up to a factor 2, so a correct quantizer can reach ~0.11 on groups of 2 (E2M1 × 0.75 under
/// UE8M0, seen) and stays far below otherwise; the defects this guards against (a scale that
/// ignores the tensor scale, a floor-pow2 exponent stored as an FP32 bit pattern) gave 1.0.
pub const SPEC_QUALITY_MAX_REL_MSE: f64 = 0.25;

/// Every spec the loader accepts must quantize N(0,1)-shaped data sensibly: the reference
/// profile's output decodes, and the relative MSE is below [`SPEC_QUALITY_MAX_REL_MSE`].
/// The data amplitude sits in the middle of the format's scale range (a format without a
/// tensor scale cannot represent data outside it, and saying so is not garbage).
pub fn spec_quality(data: &[u8]) {
    let text = random_format_spec(data);
    let Ok(format) = gridgames::spec::load_format_text("fuzz-quality.yaml", &text) else {
        return;
    };
    let Ok(q) = Quantizer::new(&format, Profile::Reference) else {
        return;
    };
    let group = format.group_size as usize;
    let amplitude = if format.tensor_scale || format.scale_bytes == 4 {
        1.0
    } else {
        let e = &format.scale_element;
        let max_code = gridgames::quant::max_scale_code(&format);
        let positive: Vec<f64> = (0..=max_code)
            .filter(|&c| c & !format.value_mask == 0 && !e.is_nan(c))
            .map(|c| e.decode(c))
            .filter(|v| *v > 0.0 && v.is_finite())
            .collect();
        let lo = positive.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = positive.iter().cloned().fold(0.0, f64::max);
        // A group's amax is about 2.5 for N(0,1); aim its scale at the geometric middle.
        let target = gridgames::quant::min_target(&format) as f64;
        ((lo * hi).sqrt() * target / 2.5).clamp(1e-30, 1e30)
    };
    let x: Vec<f32> = gridgames::eval::Distribution::Normal
        .sample_f32(group * 8, 7)
        .iter()
        .map(|v| (*v as f64 * amplitude) as f32)
        .collect();
    let r = match q.quantize(&x, false) {
        Ok(r) => r,
        Err(e) => panic!("accepted spec does not quantize finite data: {e}\n{text}"),
    };
    let back = match r.decode_f32() {
        Ok(v) => v,
        Err(e) => panic!("accepted spec's output does not decode: {e}\n{text}"),
    };
    let (mut err, mut sig) = (0f64, 0f64);
    for (a, b) in x.iter().zip(&back) {
        err += (*a as f64 - *b as f64).powi(2);
        sig += (*a as f64).powi(2);
    }
    let rel = err / sig;
    assert!(
        rel < SPEC_QUALITY_MAX_REL_MSE,
        "accepted spec quantizes N(0,1) data with relative MSE {rel} (amplitude {amplitude}):\n{text}"
    );
}
