//! Library profiles: the f32 operation sequences of public quantizers, reproduced bit for bit.
//! Rust's f32 arithmetic is IEEE 754 round-to-nearest-even with no fused contraction, so
//! writing each library's expression in the same order gives the same bits.
//!
//! Sources (read, and for every profile but `te` and `cudnn` also checked against the
//! library's own outputs in `vectors/peers/`): see docs/profiles.md.

use super::exact::Exact;
use super::{
    finish_group, floor_log2, reference_scale_floor_pow2, GroupResult, QuantError, Quantizer,
    TensorContext,
};
use crate::element::{Policy, Rounding};
use crate::format::Format;
use crate::tables::{E2M1, E4M3, UE8M0};

/// A named set of bit-level quantizer choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Profile {
    /// Ours: exact ratios rounded once; see spec/README.md.
    Reference,
    /// TransformerEngine's NVFP4 recipe (S_enc = 2688/amax, block scale amax·(S_enc·(1/6)),
    /// multiply by the reciprocal, cvt.rn.satfinite).
    Te,
    /// NVIDIA ModelOpt 0.47 NVFP4QTensor (true division, zero block scale 1.0, clamp 2^-9).
    ModelOpt,
    /// torchao 0.18 nvfp4_quantize (scale clamp [2^-6, 448], reciprocal multiply) and to_mx
    /// FLOOR for MXFP4.
    TorchAo,
    /// torchao to_mx with ScaleCalculationMode.CEIL.
    TorchAoCeil,
    /// torchao to_mx with ScaleCalculationMode.EVEN.
    TorchAoEven,
    /// torchao to_mx with ScaleCalculationMode.RCEIL.
    TorchAoRceil,
    /// cuDNN block-scale quantize: scale rounded up, elements x/scale rounded to even.
    Cudnn,
    /// OCP MX v1.0: floor(log2 amax) - emax scale, x / 2^e, RNE, clamp.
    Ocp,
    /// ggml / gguf-py MXFP4: OCP scale, exhaustive search with ties to the lower index.
    Ggml,
    /// bitsandbytes NF4: x·(1/absmax) clamped to [-1, 1], f32 argmin, ties to the lower index.
    Bnb,
}

impl Profile {
    pub const ALL: [Profile; 11] = [
        Profile::Reference,
        Profile::Te,
        Profile::ModelOpt,
        Profile::TorchAo,
        Profile::TorchAoCeil,
        Profile::TorchAoEven,
        Profile::TorchAoRceil,
        Profile::Cudnn,
        Profile::Ocp,
        Profile::Ggml,
        Profile::Bnb,
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Profile::Reference => "reference",
            Profile::Te => "te",
            Profile::ModelOpt => "modelopt",
            Profile::TorchAo => "torchao",
            Profile::TorchAoCeil => "torchao-ceil",
            Profile::TorchAoEven => "torchao-even",
            Profile::TorchAoRceil => "torchao-rceil",
            Profile::Cudnn => "cudnn",
            Profile::Ocp => "ocp",
            Profile::Ggml => "ggml",
            Profile::Bnb => "bnb",
        }
    }

    pub fn from_name(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The built-in formats a library profile reproduces (reference applies to all).
    pub fn formats(&self) -> &'static str {
        match self {
            Profile::Reference => "every format",
            Profile::Te | Profile::ModelOpt => "nvfp4",
            Profile::TorchAo | Profile::Cudnn => "nvfp4, mxfp4",
            Profile::TorchAoCeil
            | Profile::TorchAoEven
            | Profile::TorchAoRceil
            | Profile::Ocp
            | Profile::Ggml => "mxfp4",
            Profile::Bnb => "nf4-bnb",
        }
    }

    pub(crate) fn check_format(&self, format: &Format) -> Result<(), QuantError> {
        if *self == Profile::Reference || self.formats().split(", ").any(|f| f == format.name) {
            return Ok(());
        }
        Err(QuantError::ProfileNotForFormat {
            profile: self.name(),
            format: format.name,
            supported: self.formats(),
        })
    }

    /// Profiles that apply to a format.
    pub fn for_format(format: &Format) -> Vec<Profile> {
        Profile::ALL
            .into_iter()
            .filter(|p| p.check_format(format).is_ok())
            .collect()
    }
}

/// TransformerEngine's encode scale: fp8_max·fp4_max / amax, clamped to FLT_MAX; an amax
/// of 0 or a zero result gives 1.
fn te_s_enc(amax: f32) -> f32 {
    let s_enc = ((F8_MAX * F4_MAX) / amax).min(f32::MAX);
    if amax == 0.0 || s_enc == 0.0 {
        1.0
    } else {
        s_enc
    }
}

const F4_MAX: f32 = 6.0;
const F8_MAX: f32 = 448.0;

/// Library tensor scale (decode direction), for nvfp4.
pub(crate) fn tensor_scale(profile: Profile, format: &Format, amax: f32) -> f32 {
    match profile {
        Profile::Te => 1.0 / te_s_enc(amax),
        // ModelOpt and torchao: amax.float() / (6·448), one f32 division.
        Profile::ModelOpt | Profile::TorchAo => amax / (F4_MAX * F8_MAX),
        // cuDNN's block-scale quantize has no tensor scale: store 1.0.
        Profile::Cudnn => 1.0,
        _ => super::reference_tensor_scale(format, amax),
    }
}

fn e4m3_rne(v: f32) -> u32 {
    // torch's float8_e4m3fn cast and cvt.rn.satfinite agree for the (clamped) inputs here.
    E4M3.encode(v as f64, Rounding::NearestEven, Policy::Satfinite)
        .map(|r| r.0 & 0x7f)
        .unwrap_or(0x7e)
}

fn e2m1_rne(v: f32) -> u8 {
    E2M1.encode(v as f64, Rounding::NearestEven, Policy::Satfinite)
        .map(|r| r.0 as u8)
        .unwrap_or(7)
}

fn block_amax(x: &[f32]) -> f32 {
    x.iter().fold(0f32, |m, v| m.max(v.abs()))
}

/// One group under a library profile.
pub(crate) fn quantize_group(
    q: &Quantizer,
    x: &[f32],
    ctx: &TensorContext,
    grid: usize,
) -> GroupResult {
    let f = &q.format;
    let ts = ctx.scale;
    let amax = block_amax(x);
    match (q.profile, f.name) {
        (Profile::Te, _) => {
            let s_enc = te_s_enc(ctx.amax);
            let scale = e4m3_rne(amax * (s_enc * (1.0f32 / 6.0)));
            let s_dec_b = E4M3.decode(scale) as f32;
            let rcp = (1.0 / (s_dec_b * ts)).min(f32::MAX);
            let codes = x.iter().map(|&v| e2m1_rne(v * rcp)).collect();
            finish_group(f, x, codes, scale, grid, ts)
        }
        (Profile::ModelOpt, _) => {
            let mut per_block = amax / (F4_MAX * ts);
            if per_block == 0.0 {
                per_block = 1.0;
            }
            let scale = e4m3_rne(per_block.clamp(2f32.powi(-9), F8_MAX));
            let denom = E4M3.decode(scale) as f32 * ts;
            let codes = x
                .iter()
                .map(|&v| {
                    let y = v / denom;
                    // _cast_fp4: sign from `x < 0` (so -0.0 → +0), magnitude RNE.
                    let mag = e2m1_rne(y.abs()) & 7;
                    mag | if y < 0.0 { 8 } else { 0 }
                })
                .collect();
            finish_group(f, x, codes, scale, grid, ts)
        }
        (Profile::TorchAo, "nvfp4") => {
            let block_scale = amax / F4_MAX;
            let scaled = block_scale / ts;
            let scale = e4m3_rne(scaled.clamp(2f32.powi(-6), F8_MAX));
            let rcp = (1.0 / ts) / E4M3.decode(scale) as f32;
            let codes = x
                .iter()
                .map(|&v| e2m1_rne((v * rcp).clamp(-F4_MAX, F4_MAX)))
                .collect();
            finish_group(f, x, codes, scale, grid, ts)
        }
        (Profile::Cudnn, "nvfp4") => {
            let scale = E4M3
                .encode(
                    (amax / F4_MAX) as f64,
                    Rounding::MagnitudeUp,
                    Policy::Satfinite,
                )
                .map(|r| r.0 & 0x7f)
                .unwrap_or(0x7e);
            let s = E4M3.decode(scale) as f32;
            let codes = x
                .iter()
                .map(|&v| {
                    if s == 0.0 {
                        e2m1_rne(v * 0.0)
                    } else {
                        e2m1_rne(v / s)
                    }
                })
                .collect();
            finish_group(f, x, codes, scale, grid, ts)
        }
        (Profile::Cudnn, _) => {
            // MXFP4: E8M0 scale rounded up from amax/6.
            let scale = if amax == 0.0 {
                0
            } else {
                UE8M0
                    .encode(
                        (amax / F4_MAX) as f64,
                        Rounding::MagnitudeUp,
                        Policy::Satfinite,
                    )
                    .map(|r| r.0)
                    .unwrap_or(254)
            };
            pow2_elements(q, x, scale, grid, ts)
        }
        (Profile::TorchAo | Profile::Ocp, _) => {
            let scale = reference_scale_floor_pow2(f, amax, f.grids[grid].target_value());
            pow2_elements(q, x, scale, grid, ts)
        }
        (Profile::TorchAoCeil | Profile::TorchAoEven | Profile::TorchAoRceil, _) => {
            let scale = torchao_mx_scale(q.profile, amax);
            pow2_elements(q, x, scale, grid, ts)
        }
        (Profile::Ggml, _) => {
            let scale = reference_scale_floor_pow2(f, amax, f.grids[grid].target_value());
            let d = f.scale_value(scale) as f32;
            let codes = x.iter().map(|&v| ggml_best_index(v / d)).collect();
            finish_group(f, x, codes, scale, grid, ts)
        }
        (Profile::Bnb, _) => {
            let rcp = 1.0 / amax;
            let codes = x
                .iter()
                .map(|&v| {
                    let scaled = (v * rcp).clamp(-1.0, 1.0);
                    bnb_argmin(&f.grids[grid].values, scaled)
                })
                .collect();
            finish_group(f, x, codes, amax.to_bits(), grid, ts)
        }
        (Profile::Reference, _) => unreachable_reference(q, x, ts, grid),
    }
}

fn unreachable_reference(q: &Quantizer, x: &[f32], ts: f32, grid: usize) -> GroupResult {
    // The dispatcher sends Reference elsewhere; fall back to it rather than panic.
    let f = &q.format;
    let scale = reference_scale_floor_pow2(f, block_amax(x), f.grids[grid].target_value());
    pow2_elements(q, x, scale, grid, ts)
}

/// MXFP4 elements for a power-of-two scale: x / 2^e is exact (barring f32 underflow), then
/// RNE with saturation at ±6.
fn pow2_elements(q: &Quantizer, x: &[f32], scale: u32, grid: usize, ts: f32) -> GroupResult {
    let f = &q.format;
    let p = Exact::of_f64(f.scale_value(scale));
    let codes = q.nearest_codes(x, p, grid);
    finish_group(f, x, codes, scale, grid, ts)
}

/// torchao to_mx E8M0 scale for CEIL, EVEN and RCEIL (E2M1 target 6, emax 2).
fn torchao_mx_scale(profile: Profile, amax: f32) -> u32 {
    if amax == 0.0 {
        return 0;
    }
    let bits = amax.to_bits();
    let code = match profile {
        // RCEIL: e8m0 of amax/6 rounded up (cuBLAS "round up if any mantissa bit set").
        Profile::TorchAoRceil => {
            let v = amax / F4_MAX;
            let vb = v.to_bits();
            let exp = ((vb >> 23) & 0xff) as i32;
            let mant = vb & 0x7f_ffff;
            exp + (mant != 0) as i32
        }
        // CEIL: ceil(log2(amax)) - 2, from the exponent bits.
        Profile::TorchAoCeil => {
            let e = floor_log2(amax) + (bits & 0x7f_ffff != 0) as i32;
            e - 2 + 127
        }
        // EVEN: round amax's mantissa to E2M1's 1 bit (RNE on the bit pattern) and floor.
        _ => {
            let rounded = bits.wrapping_add(1 << 21) & !((1 << 22) - 1);
            floor_log2(f32::from_bits(rounded)) - 2 + 127
        }
    };
    code.clamp(0, 254) as u32
}

/// ggml best_index_mxfp4: exhaustive search over the 16 codes in code order, strict `<`,
/// so ties go to the lower index (toward zero) and -0 is lost; NaN → index 0.
fn ggml_best_index(y: f32) -> u8 {
    let mut best = 0u8;
    let mut best_err = f32::INFINITY;
    for code in 0..16u8 {
        let v = E2M1.decode(code as u32) as f32;
        let err = (y - v).abs();
        if err < best_err {
            best_err = err;
            best = code;
        }
    }
    best
}

/// bitsandbytes argmin(|scaled - code|) over the 16 NF4 values in f32, first minimum wins.
fn bnb_argmin(values: &[u32; 16], scaled: f32) -> u8 {
    let mut best = 0u8;
    let mut best_err = f32::INFINITY;
    for (code, &v) in values.iter().enumerate() {
        let err = (scaled - f32::from_bits(v)).abs();
        if err < best_err {
            best_err = err;
            best = code as u8;
        }
    }
    best
}
