//! Library profiles: the f32 operation sequences of public quantizers, reproduced bit for bit.
//! Rust's f32 arithmetic is IEEE 754 round-to-nearest-even with no fused contraction, so
//! writing each library's expression in the same order gives the same bits.
//!
//! Sources (read, and for every profile but `te` and `cudnn` also checked against the
//! library's own outputs in `vectors/peers/`): see docs/profiles.md.

use super::exact::Exact;
use super::torch_cpu;
use super::{
    finish_group, reference_scale_floor_pow2, GroupResult, QuantError, Quantizer, TensorContext,
};
use crate::element::{Policy, Rounding};
use crate::format::Format;
use crate::tables::{E2M1, E4M3, UE8M0};

#[path = "fouroversix.rs"]
pub mod fouroversix;

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
    /// fouroversix 1.0.5's CPU reference, rule `mse`, for `if4` and `four-over-six`
    /// (logic in fouroversix.rs).
    Fouroversix,
}

impl Profile {
    /// Every profile, in listing order.
    pub const ALL: [Profile; 12] = [
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
        Profile::Fouroversix,
    ];

    /// The name used on the command line, in vector files and in checkpoint metadata.
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
            Profile::Fouroversix => "fouroversix",
        }
    }

    /// Inverse of [`Profile::name`].
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
            Profile::Fouroversix => "if4, four-over-six",
        }
    }

    /// What this profile's bits are checked against, exactly (shown by `gridgames formats`
    /// and `show`). Only a profile checked against its library's own outputs may claim to
    /// reproduce that library.
    pub fn evidence(&self) -> &'static str {
        match self {
            Profile::Reference => {
                "the definition (spec/README.md section 4); its quantize golden vectors are \
                 regression pins of this implementation, its decode vectors are re-derived by an \
                 independent numpy decoder (examples/python/check_vectors.py)"
            }
            Profile::ModelOpt => "ModelOpt 0.47 outputs (vectors/peers/modelopt/)",
            Profile::TorchAo
            | Profile::TorchAoCeil
            | Profile::TorchAoEven
            | Profile::TorchAoRceil => "torchao 0.18 outputs (vectors/peers/torchao/)",
            Profile::Ggml => "gguf-py outputs (vectors/peers/gguf/)",
            Profile::Bnb => "bitsandbytes 0.50.2 outputs (vectors/peers/bitsandbytes/)",
            Profile::Fouroversix => {
                "fouroversix 1.0.5 outputs (vectors/peers/fouroversix/), tiny-amax NaN paths \
                 included"
            }
            Profile::Te | Profile::Cudnn => {
                "NOT the library: our numpy transcription of its published formula \
                 (vectors/peers/formulas/); no output of the library itself was compared"
            }
            Profile::Ocp => {
                "the OCP MX v1.0 text; side by side with microsoft/microxcaling 7bc4195 it is \
                 equal on N(0,1) data and follows the standard where microxcaling deviates \
                 (scripts/peers/microxcaling_ocp.py, docs/profiles.md)"
            }
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

    /// Whether the profile reproduces what its library does with NaN and Inf inputs on this
    /// format, bit for bit (checked against the library's own outputs in tests/peers.rs).
    /// Everything else rejects non-finite input with an error: the reference has no rule by
    /// design; TE, cuDNN and OCP behaviour could not be observed; and the NaN paths of
    /// torchao NVFP4/RCEIL, ModelOpt and bitsandbytes (NaN amax poisoning whole tensors,
    /// payload-dependent codes) are recorded in vectors/peers/ but not yet reproduced.
    pub fn accepts_non_finite(&self, format: &Format) -> bool {
        match self {
            Profile::Ggml => true,
            Profile::TorchAo | Profile::TorchAoCeil | Profile::TorchAoEven => {
                format.name == "mxfp4"
            }
            _ => false,
        }
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
        Profile::ModelOpt | Profile::TorchAo => torch_cpu::div(amax, F4_MAX * F8_MAX),
        // cuDNN's block-scale quantize has no tensor scale: store 1.0.
        Profile::Cudnn => 1.0,
        Profile::Fouroversix => fouroversix::profile_tensor_scale(format.name, amax),
        _ => super::reference_tensor_scale(format, amax),
    }
}

/// torch's saturating float8_e4m3fn cast (NaN keeps its sign: 0x7F / 0xFF).
fn e4m3_cast(v: f32) -> u32 {
    E4M3.encode(v as f64, Rounding::NearestEven, Policy::Satfinite)
        .map(|r| r.0)
        .unwrap_or(0x7e)
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
            // NVFP4QTensor.get_weights_scaling_factor + quantize + _cast_fp4 (torch CPU).
            let mut per_block = torch_cpu::div(torch_cpu::amax_abs(x), torch_cpu::mul(F4_MAX, ts));
            if per_block == 0.0 {
                per_block = 1.0;
            }
            let scale = e4m3_cast(torch_cpu::clamp(per_block, 2f32.powi(-9), F8_MAX));
            let denom = torch_cpu::mul(torch_cpu::e4m3_to_f32(scale as u8), ts);
            let codes = x
                .iter()
                .map(|&v| modelopt_cast_fp4(torch_cpu::div(v, denom)))
                .collect();
            finish_group(f, x, codes, scale, grid, ts)
        }
        (Profile::TorchAo, "nvfp4") => {
            // nvfp4_quantize, two-level branch (torch CPU float semantics, NaN included).
            let max_abs = torch_cpu::amax_abs(x);
            let block_scale = torch_cpu::div(max_abs, F4_MAX);
            let scaled = torch_cpu::div(block_scale, ts);
            let scale = e4m3_cast(torch_cpu::clamp(scaled, 2f32.powi(-6), F8_MAX));
            let scale_fp32 = torch_cpu::e4m3_to_f32(scale as u8);
            let rcp = torch_cpu::div(torch_cpu::div(1.0, ts), scale_fp32);
            let codes = x
                .iter()
                .map(|&v| {
                    torch_cpu::torchao_f32_to_e2m1(torch_cpu::clamp(
                        torch_cpu::mul(v, rcp),
                        -F4_MAX,
                        F4_MAX,
                    ))
                })
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
        (Profile::Ocp, _) => {
            let scale = reference_scale_floor_pow2(f, amax, f.grids[grid].target_value());
            pow2_elements(q, x, scale, grid, ts)
        }
        (Profile::TorchAo | Profile::TorchAoCeil | Profile::TorchAoEven, _) => {
            let (scale, divisor) = torchao_mx_scale(q.profile, torch_cpu::amax_abs(x));
            let codes = x
                .iter()
                .map(|&v| torch_cpu::torchao_f32_to_e2m1(torch_cpu::div(v, divisor)))
                .collect();
            finish_group(f, x, codes, scale, grid, ts)
        }
        (Profile::TorchAoRceil, _) => {
            let (scale, rcp) = torchao_rceil(torch_cpu::amax_abs(x));
            let codes = x
                .iter()
                .map(|&v| {
                    torch_cpu::torchao_f32_to_e2m1(torch_cpu::clamp(
                        torch_cpu::mul(v, rcp),
                        -F4_MAX,
                        F4_MAX,
                    ))
                })
                .collect();
            finish_group(f, x, codes, scale, grid, ts)
        }
        (Profile::Ggml, _) => {
            // gguf-py MXFP4.quantize_blocks: e from float32 np.log2, then argmin over the 16
            // doubled kvalues of |d·kv - x| in f32 with d = 2^(e-128); first minimum wins.
            let scale = gguf_mxfp4_e(x);
            let d = f32::from_bits(if scale < 2 {
                0x0020_0000 << scale
            } else {
                (scale - 1) << 23
            });
            let codes = x.iter().map(|&v| gguf_argmin(d, v)).collect();
            finish_group(f, x, codes, scale, grid, ts)
        }
        (Profile::Bnb, _) => {
            // bitsandbytes 0.50.2 CPU (backends/default/ops.py): reciprocal of the absmax
            // clamped to 1e-38, clamp to [-1, 1], bucketize over the f32 midpoints.
            let rcp = 1.0 / amax.max(1e-38);
            let mids = bnb_midpoints(&f.grids[grid].values);
            let codes = x
                .iter()
                .map(|&v| {
                    let scaled = (v * rcp).clamp(-1.0, 1.0);
                    // bucketize(right=False): the number of midpoints strictly below.
                    mids.iter().filter(|&&m| m < scaled).count() as u8
                })
                .collect();
            finish_group(f, x, codes, amax.to_bits(), grid, ts)
        }
        (Profile::Fouroversix, _) => fouroversix::profile_group(f.name, x, ctx, grid),
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

/// torchao to_mx scale for FLOOR, CEIL and EVEN (E2M1: target_max_pow2 = 2): the stored
/// E8M0 byte and the f32 divisor, which is the byte's value clamped up to 2^-126 (so a
/// stored byte 0, 2^-127, divides by 2^-126).
fn torchao_mx_scale(profile: Profile, max_abs: f32) -> (u32, f32) {
    let mut bits = max_abs.to_bits() as i32;
    if profile == Profile::TorchAoEven && !max_abs.is_nan() {
        // Round the mantissa to E2M1's one bit by adding half an ulp, keep sign+exponent.
        bits = bits.wrapping_add(1 << 21) & (0x1FF << 23);
    }
    let mut extracted = ((bits >> 23) & 0xFF) - 127;
    if profile == Profile::TorchAoCeil {
        extracted += (bits & 0x7F_FFFF > 0) as i32;
    }
    let unbiased = (extracted - 2).clamp(-127, 128);
    let biased = if max_abs.is_nan() {
        255
    } else {
        (unbiased + 127) as u32
    };
    let divisor = f32::from_bits(biased << 23).max(f32::MIN_POSITIVE);
    (biased, divisor)
}

/// torchao `_to_mx_rceil` on CPU (eager fallback): exponent = clamp(ceil(log2(amax/6)),
/// -127, 127) + 127 computed with f32 log2 (so it can round an amax just above a power of
/// two down), and the multiplier it uses.
fn torchao_rceil(max_abs: f32) -> (u32, f32) {
    let descale = torch_cpu::div(max_abs, F4_MAX);
    if descale.is_nan() {
        return (255, descale);
    }
    if descale.is_infinite() {
        return (254, 2f32.powi(-127));
    }
    let e = descale.log2().ceil().clamp(-127.0, 127.0) as i32 + 127;
    let rcp = if e == 0 { 1.0 } else { 2f32.powi(127 - e) };
    (e as u32, rcp)
}

/// ModelOpt `_cast_fp4`: sign from `x < 0` (so -0.0 and NaN are positive), magnitude by
/// searchsorted over [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5] (NaN sorts last → 7) plus one at
/// the odd bounds 0.75, 1.75, 3.5: round to nearest even, saturating.
fn modelopt_cast_fp4(y: f32) -> u8 {
    const BOUNDS: [f32; 7] = [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0];
    let sign = if y < 0.0 { 8 } else { 0 };
    let a = y.abs();
    let ord = if a.is_nan() {
        7
    } else {
        BOUNDS.iter().filter(|&&b| b < a).count() as u8
    };
    let odd = (a == 0.75 || a == 1.75 || a == 3.5) as u8;
    sign | (ord + odd)
}

/// gguf-py's MXFP4 shared exponent: floor(log2(amax)) - 2 + 127 with a float32 log2, 0 for
/// a zero block; a block whose max is NaN or Inf gets 0 (NaN fails `d > 0`; Inf wraps to 0).
fn gguf_mxfp4_e(x: &[f32]) -> u32 {
    let d = torch_cpu::amax_abs(x);
    // `d > 0` is false for NaN as well as for zero.
    if d.is_nan() || d <= 0.0 || d.is_infinite() {
        return 0;
    }
    // `.astype(np.uint8)` wraps modulo 256: a tiny block's negative exponent becomes 25x.
    let e = d.log2().floor() - 2.0 + 127.0;
    (e as i64).rem_euclid(256) as u32
}

/// gguf-py argmin of |d·kv - x| over kvalues (0,1,2,3,4,6,8,12,0,-1,...,-12) in f32: the
/// first minimum wins, so ties go toward zero and -0 becomes +0; a NaN input gives index 0.
fn gguf_argmin(d: f32, x: f32) -> u8 {
    const KVALUES: [f32; 16] = [
        0., 1., 2., 3., 4., 6., 8., 12., 0., -1., -2., -3., -4., -6., -8., -12.,
    ];
    if x.is_nan() {
        return 0;
    }
    let mut best = 0u8;
    let mut best_err = f32::INFINITY;
    for (i, &kv) in KVALUES.iter().enumerate() {
        let err = (d * kv - x).abs();
        if err < best_err {
            best_err = err;
            best = i as u8;
        }
    }
    best
}

/// bitsandbytes' midpoints: (v[i] + v[i+1]) / 2 in f32 (the sum rounded, the halving exact).
fn bnb_midpoints(values: &[u32; 16]) -> [f32; 15] {
    let mut mids = [0f32; 15];
    for (i, m) in mids.iter_mut().enumerate() {
        *m = (f32::from_bits(values[i]) + f32::from_bits(values[i + 1])) / 2.0;
    }
    mids
}
