//! fouroversix 1.0.5's CPU reference (`fouroversix/quantize/pytorch/reference.py`),
//! reproduced f32 operation by f32 operation, for IF4 (`select_intfloat`) and Four Over Six
//! (`select_fouroversix`), plus its static NVFP4 rules. Checked bit for bit against
//! `vectors/peers/fouroversix/` (tests/families.rs).
//!
//! The sequence, per tensor x (f32) with amax = max|x|:
//! * encode = f32(Vmax·Smax) / amax; block scale hp = (block_amax / Vmax) · encode
//!   (× 1.5 for the map-to-4 candidate); scale = float8_e4m3fn(hp) (RNE);
//! * decode = 1 / (f32(Vmax·Smax) / amax); scaled = x · (1 / (decode · scale)), 0 when the
//!   scale is 0;
//! * E2M1: piecewise `torch.round` (half to even) with steps ½, 1, 2, sign from
//!   `torch.sign` (so a small negative keeps code 8, −0.0 gives code 0); no clamp (a scaled
//!   value ≥ 7 would give 8, which only a subnormal-scale block can reach);
//! * INT4 (IF4): round(clamp(scaled · f32(7/6), −7, 7)), two's-complement codes;
//! * error of a candidate: dequantized = ((q · scale) · amax) [· f32(6/7)] / f32(Vmax·Smax),
//!   then Σ (dq − x)² (or Σ|dq − x|, or max|dq − x|) in f32, summed the way PyTorch's CPU
//!   `sum` does for 16 contiguous values: lane k = `v[k] + v[k+8]`, then lanes 0..7 in order;
//! * the second candidate (INT4, map-to-4) wins only when its error is strictly smaller.
//!
//! Vmax·Smax is 6·448 = 2688 for IF4 and static-6 NVFP4, 6·256 = 1536 for Four Over Six
//! (fouroversix limits E4M3 to 256 so that 1.5× fits), 4·448 for static-4.

use crate::element::{Policy, Rounding};
use crate::quant::exact::{self, Exact};
use crate::quant::{GroupResult, TensorContext};
use crate::tables::E4M3;

/// fouroversix's block-selection rule (`ScaleRule`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Sum of squared errors (the library default; the `fouroversix` profile).
    Mse,
    /// Sum of absolute errors.
    Mae,
    /// Largest absolute error.
    AbsMax,
    /// No selection: block maximum to 6 (plain NVFP4).
    Static6,
    /// No selection: block maximum to 4.
    Static4,
}

impl Rule {
    /// The library's name (`mse`, `mae`, `abs_max`, `static_6`, `static_4`).
    pub fn name(&self) -> &'static str {
        match self {
            Rule::Mse => "mse",
            Rule::Mae => "mae",
            Rule::AbsMax => "abs_max",
            Rule::Static6 => "static_6",
            Rule::Static4 => "static_4",
        }
    }
}

/// Which fouroversix data type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `DataType.if4`: E2M1 or INT4·6/7, selector in bit 7 of the scale.
    If4,
    /// `DataType.nvfp4` with a selecting rule: Four Over Six.
    FourOverSix,
    /// `DataType.nvfp4` with a static rule.
    Nvfp4Static,
}

/// Vmax · Smax, the constant of the encode and decode scales.
pub fn vmax_smax(kind: Kind, rule: Rule) -> f32 {
    match (kind, rule) {
        (Kind::If4, _) => 2688.0,
        (_, Rule::Static4) => 4.0 * 448.0,
        (_, Rule::Static6) => 2688.0,
        (Kind::FourOverSix | Kind::Nvfp4Static, _) => 1536.0,
    }
}

/// The decode-direction tensor scale a gridgames container stores for fouroversix's
/// output: amax / (Vmax·Smax), rounded once (fouroversix itself keeps amax and multiplies
/// at decode time).
pub fn tensor_scale(kind: Kind, rule: Rule, amax: f32) -> f32 {
    if amax == 0.0 {
        return 1.0;
    }
    let q = exact::quotient(Exact::of_f32(amax), Exact::of_f32(vmax_smax(kind, rule)));
    match crate::tables::F32.encode_magnitude(false, q, Rounding::NearestEven, Policy::Satfinite) {
        Ok((bits, _)) if bits != 0 => f32::from_bits(bits),
        _ => f32::from_bits(1),
    }
}

/// float8_e4m3fn of an f32 (RNE, the bits PyTorch's cast gives below 464), as a byte.
fn e4m3(v: f32) -> u32 {
    E4M3.encode(v as f64, Rounding::NearestEven, Policy::Satfinite)
        .map(|r| r.0)
        .unwrap_or(0x7e)
}

/// torch.round: half to even, in f32.
fn round_even(v: f32) -> f32 {
    v.round_ties_even()
}

/// The NaN an x86 CPU produces for an invalid operation such as `inf · 0` (sign set, quiet,
/// no payload): what PyTorch's CPU kernels give, and what propagates through later ops.
const X86_DEFAULT_NAN: u32 = 0xffc0_0000;

/// fake_quantize_to_e2m1 for one value.
///
/// The library selects the range with masks multiplied in, not with branches:
/// `sign(x) · (step1·m1 + step2·!m1·m2 + step3·!m1·!m2)`. For |x| = inf every step is inf and
/// at least one mask is 0, so `inf · 0` makes the sum the x86 default NaN (0xffc00000, which
/// becomes code 0xb); this happens when `1/(decode·scale)` overflows for a tensor with a tiny
/// amax (seen with fouroversix 1.0.5: a 1e-34 tensor gave codes 0xb, and the E2M1 candidate
/// was kept because a NaN error never compares smaller). For finite x the masked sum equals
/// the branch below, and a NaN x (0 · inf) keeps the code-3 behaviour the peer vectors pin.
fn fake_e2m1(x: f32) -> f32 {
    if x.is_infinite() {
        return f32::from_bits(X86_DEFAULT_NAN);
    }
    let a = x.abs();
    let q = if a < 2.0 {
        round_even(2.0 * a) / 2.0
    } else if a < 4.0 {
        round_even(a)
    } else {
        2.0 * round_even(a / 2.0)
    };
    // torch.sign: −1, 0 or 1 (0 for ±0), times the magnitude.
    let sign = if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    };
    sign * q
}

/// quantize_bf16_to_unpacked_fp4 of a value that is a multiple of ½ (exact in bf16), or NaN.
///
/// The library converts to bfloat16 first (`x.to(torch.bfloat16)`); ATen's vectorized f32 →
/// bf16 conversion on x86 (AVX2/AVX-512 `cvtfp32_bf16`) writes every NaN as 0xffff, whose
/// fields give code 0xb. (ATen's scalar conversion, used for a tail shorter than one vector,
/// writes 0x7fc0, code 0x3; the library's tensors are whole vectors in every peer case.)
fn e2m1_code(v: f32) -> u8 {
    if v.is_nan() {
        return 0xb;
    }
    let bx = (v.to_bits() >> 16) as i32;
    let s = (bx >> 15) & 1;
    let e = (bx >> 7) & 0xff;
    let mut m = (bx & 0x7f) >> 6 & 1;
    let is_zero = e == 0 && bx & 0x7f == 0;
    if e == 126 && m == 0 {
        m = 1;
    }
    let (e, m) = if is_zero { (0, 0) } else { (e - 126, m) };
    ((s << 3) | (e << 1) | m) as u8
}

/// One candidate of a block: codes, the e4m3 scale byte and the library's error.
struct Candidate {
    codes: Vec<u8>,
    scale: u32,
    error: f32,
}

/// PyTorch CPU `sum` of 16 contiguous f32 (8 vector lanes, then the lanes in order); other
/// lengths sequentially after the lanes of whole 16-blocks.
fn torch_sum(v: &[f32]) -> f32 {
    if v.len() == 16 {
        let mut acc = 0f32;
        for k in 0..8 {
            acc += v[k] + v[k + 8];
        }
        return acc;
    }
    v.iter().fold(0f32, |a, &b| a + b)
}

fn error_of(rule: Rule, dq: &[f32], x: &[f32]) -> f32 {
    match rule {
        Rule::Mse => {
            let sq: Vec<f32> = dq.iter().zip(x).map(|(&d, &v)| (d - v) * (d - v)).collect();
            torch_sum(&sq)
        }
        Rule::Mae => {
            let ab: Vec<f32> = dq.iter().zip(x).map(|(&d, &v)| (d - v).abs()).collect();
            torch_sum(&ab)
        }
        _ => dq
            .iter()
            .zip(x)
            .fold(0f32, |m, (&d, &v)| m.max((d - v).abs())),
    }
}

/// The two candidates' common inputs.
struct Block<'a> {
    x: &'a [f32],
    amax: f32,
    kind: Kind,
    rule: Rule,
}

impl Block<'_> {
    /// Block scale byte for the E2M1 target `vmax` (× `expand`).
    fn scale(&self, vmax: f32, expand: Option<f32>) -> u32 {
        if self.amax == 0.0 {
            return 0;
        }
        let c = vmax_smax(self.kind, self.rule);
        let encode = c / self.amax;
        let bamax = self.x.iter().fold(0f32, |m, v| m.max(v.abs()));
        let mut hp = bamax / vmax * encode;
        if let Some(f) = expand {
            hp *= f;
        }
        e4m3(hp)
    }

    fn scaled(&self, scale: u32) -> Vec<f32> {
        let s = E4M3.decode(scale) as f32;
        if s == 0.0 {
            return vec![0.0; self.x.len()];
        }
        let decode = 1.0 / (vmax_smax(self.kind, self.rule) / self.amax);
        let r = 1.0 / (decode * s);
        self.x.iter().map(|&v| v * r).collect()
    }

    fn dequant(&self, q: &[f32], scale: u32, int: bool) -> Vec<f32> {
        let s = E4M3.decode(scale) as f32;
        let c = match self.kind {
            // select_fouroversix divides by E2M1_MAX_VALUE · E4M3_MAX_FOUROVERSIX always.
            Kind::FourOverSix => 1536.0,
            _ => 2688.0,
        };
        q.iter()
            .map(|&v| {
                let d = v * s * self.amax;
                let d = if int { d * (6.0f32 / 7.0) } else { d };
                d / c
            })
            .collect()
    }

    fn e2m1(&self, scale: u32) -> Candidate {
        let q: Vec<f32> = self.scaled(scale).into_iter().map(fake_e2m1).collect();
        let error = error_of(self.rule, &self.dequant(&q, scale, false), self.x);
        Candidate {
            codes: q.iter().map(|&v| e2m1_code(v)).collect(),
            scale,
            error,
        }
    }

    fn int4(&self, scale: u32) -> Candidate {
        let q: Vec<f32> = self
            .scaled(scale)
            .into_iter()
            .map(|v| round_even((v * (7.0f32 / 6.0)).clamp(-7.0, 7.0)))
            .collect();
        let error = error_of(self.rule, &self.dequant(&q, scale, true), self.x);
        Candidate {
            codes: q.iter().map(|&v| (v as i8 as u8) & 0xf).collect(),
            scale,
            error,
        }
    }
}

/// One block as fouroversix quantizes it; `candidate` 0 is E2M1 with the maximum at 6 (or 4
/// for static-4), 1 the alternative (INT4 for IF4, map-to-4 for Four Over Six). Returns the
/// codes, the stored scale byte (with IF4's bit 7 for candidate 1) and the library's error.
pub fn candidate(
    kind: Kind,
    rule: Rule,
    x: &[f32],
    tensor_amax: f32,
    which: usize,
) -> (Vec<u8>, u32, f32) {
    let b = Block {
        x,
        amax: tensor_amax,
        kind,
        rule,
    };
    let c = match (kind, which) {
        (Kind::If4, 0) => b.e2m1(b.scale(6.0, None)),
        (Kind::If4, _) => {
            let mut c = b.int4(b.scale(6.0, None));
            c.scale |= 0x80;
            c
        }
        (Kind::FourOverSix, 0) => b.e2m1(b.scale(6.0, None)),
        (Kind::FourOverSix, _) => b.e2m1(b.scale(6.0, Some(1.5))),
        (Kind::Nvfp4Static, _) => {
            let vmax = if rule == Rule::Static4 { 4.0 } else { 6.0 };
            b.e2m1(b.scale(vmax, None))
        }
    };
    (c.codes, c.scale, c.error)
}

/// A whole block: both candidates, the second kept only when its error is strictly smaller.
pub fn quantize_block(kind: Kind, rule: Rule, x: &[f32], tensor_amax: f32) -> (Vec<u8>, u32) {
    let (c0, s0, e0) = candidate(kind, rule, x, tensor_amax, 0);
    if kind == Kind::Nvfp4Static {
        return (c0, s0);
    }
    let (c1, s1, e1) = candidate(kind, rule, x, tensor_amax, 1);
    if e1 < e0 {
        (c1, s1)
    } else {
        (c0, s0)
    }
}

/// The `fouroversix` profile's group step (rule `mse`) for `if4` and `four-over-six`. The
/// returned `sse` is fouroversix's own f32 error, so the quantizer's "smallest, ties to the
/// lower grid" choice is the library's "second only when strictly smaller".
pub(crate) fn profile_group(
    format_name: &str,
    x: &[f32],
    ctx: &TensorContext,
    grid: usize,
) -> GroupResult {
    let kind = if format_name == "if4" {
        Kind::If4
    } else {
        Kind::FourOverSix
    };
    let (codes, scale, error) = candidate(kind, Rule::Mse, x, ctx.amax, grid);
    GroupResult {
        codes,
        scale,
        grid,
        sse: error as f64,
    }
}

/// The `fouroversix` profile's tensor scale for `if4` and `four-over-six`.
pub(crate) fn profile_tensor_scale(format_name: &str, amax: f32) -> f32 {
    let kind = if format_name == "if4" {
        Kind::If4
    } else {
        Kind::FourOverSix
    };
    tensor_scale(kind, Rule::Mse, amax)
}
