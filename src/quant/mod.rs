//! Block quantization: per-tensor scale, per-group scale, nearest grid value, grid selection,
//! packing. The `reference` profile is the specification (exact rationals, one rounding per
//! step); the library profiles reproduce the f32 operation sequences of public libraries,
//! bit for bit (see `profiles.rs` and docs/profiles.md).

pub mod exact;
pub mod nearest;
pub mod profiles;
pub(crate) mod torch_cpu;

use exact::Exact;
use nearest::PreparedGrid;
pub use profiles::Profile;

use crate::decode;
use crate::element::{Policy, Rounding};
use crate::format::{Format, ScaleRounding};

/// The result of quantizing a tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantized {
    /// The format quantized to.
    pub format: Format,
    /// The profile whose arithmetic was reproduced.
    pub profile: Profile,
    /// Number of input values (before padding).
    pub len: usize,
    /// Zero values appended to fill the last group (`--pad`).
    pub padded: usize,
    /// Packed 4-bit codes in the format's nibble order.
    pub codes: Vec<u8>,
    /// One stored scale per group (1 byte, or 4 little-endian bytes for FP32 scales), with
    /// the grid selector bits set.
    pub scales: Vec<u8>,
    /// Per-tensor FP32 decode scale, for formats that have one.
    pub tensor_scale: Option<f32>,
    /// The grid chosen for each group (also encoded in the scale's selector bits, except for
    /// selector-free formats).
    pub grid_of_group: Vec<u8>,
}

impl Quantized {
    /// Number of elements stored (input plus padding).
    pub fn stored_len(&self) -> usize {
        self.len + self.padded
    }

    /// Decode back to f32 (the padded tail removed).
    pub fn decode_f32(&self) -> Result<Vec<f32>, decode::DecodeError> {
        let mut out = vec![0f32; self.stored_len()];
        decode::decode_f32(
            &self.format,
            &self.codes,
            &self.scales,
            self.tensor_scale.unwrap_or(1.0),
            &mut out,
        )?;
        out.truncate(self.len);
        Ok(out)
    }
}

/// Why a tensor could not be quantized.
#[derive(Clone, Debug, PartialEq)]
pub enum QuantError {
    /// The length is not a multiple of the group size and padding was not asked for.
    /// The input is not a whole number of groups: its length and the group size.
    Length {
        /// Number of input values.
        len: usize,
        /// The format's group size.
        group: u32,
    },
    /// A NaN or infinite input under a profile that has no rule for it.
    NonFinite {
        /// Index of the first non-finite input value.
        index: usize,
        /// Its f32 bit pattern.
        bits: u32,
        /// The profile that has no rule for it.
        profile: &'static str,
    },
    /// The profile does not apply to this format.
    ProfileNotForFormat {
        /// The profile asked for.
        profile: &'static str,
        /// The format it was asked for.
        format: &'static str,
        /// The formats the profile supports.
        supported: &'static str,
    },
}

impl std::fmt::Display for QuantError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuantError::Length { len, group } => write!(
                f,
                "input has {len} values, not a multiple of the group size {group} ({} left over); pad the last group with zeros (option `pad`)",
                len % *group as usize
            ),
            QuantError::NonFinite { index, bits, profile } => write!(
                f,
                "input value {index} is {} (f32 bits 0x{bits:08x}); profile `{profile}` has no rule for NaN or Inf",
                f32::from_bits(*bits)
            ),
            QuantError::ProfileNotForFormat { profile, format, supported } => {
                write!(f, "profile `{profile}` does not apply to format `{format}` (it supports: {supported})")
            }
        }
    }
}

impl std::error::Error for QuantError {}

/// What a group needs to know about its tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TensorContext {
    /// The tensor's largest magnitude.
    pub amax: f32,
    /// The per-tensor decode scale (1.0 for formats without one).
    pub scale: f32,
}

/// A quantizer for one format and profile, with its grids prepared for exact search.
pub struct Quantizer {
    /// The format.
    pub format: Format,
    /// The profile.
    pub profile: Profile,
    grids: Vec<PreparedGrid>,
}

/// The quantized form of one group: unpacked codes, the stored scale, the grid.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupResult {
    /// One code per element, unpacked (low 4 bits).
    pub codes: Vec<u8>,
    /// The stored scale: its byte (selector bits included) or FP32 bit pattern.
    pub scale: u32,
    /// Index of the grid chosen.
    pub grid: usize,
    /// Sum of squared errors of the decoded group against the input (f64).
    pub sse: f64,
}

impl Quantizer {
    /// A quantizer; fails when the profile does not apply to the format.
    pub fn new(format: &Format, profile: Profile) -> Result<Quantizer, QuantError> {
        profile.check_format(format)?;
        let grids = format.grids.iter().map(PreparedGrid::new).collect();
        Ok(Quantizer {
            format: *format,
            profile,
            grids,
        })
    }

    /// Quantize a whole tensor (flattened, groups taken in order).
    pub fn quantize(&self, x: &[f32], pad: bool) -> Result<Quantized, QuantError> {
        // Zero padding cannot change the tensor's largest magnitude.
        self.quantize_with_context(x, &self.tensor_context(x), pad)
    }

    /// Quantize with a given tensor context: a calibrated amax, or a tensor scale taken from
    /// elsewhere (an exported checkpoint's `weight_scale_2`, or 1.0 for block scales only).
    pub fn quantize_with_context(
        &self,
        x: &[f32],
        ctx: &TensorContext,
        pad: bool,
    ) -> Result<Quantized, QuantError> {
        let group = self.format.group_size as usize;
        let padded = if x.len().is_multiple_of(group) {
            0
        } else if pad {
            group - x.len() % group
        } else {
            return Err(QuantError::Length {
                len: x.len(),
                group: self.format.group_size,
            });
        };
        self.check_finite(x, 0)?;
        let mut data;
        let x = if padded > 0 {
            data = x.to_vec();
            data.resize(x.len() + padded, 0.0);
            &data[..]
        } else {
            x
        };
        let groups = x.len() / group;
        let mut codes = vec![0u8; x.len().div_ceil(2)];
        let mut scales = vec![0u8; groups * self.format.scale_bytes as usize];
        let mut grid_of_group = Vec::with_capacity(groups);
        for (g, chunk) in x.chunks(group).enumerate() {
            let r = self.quantize_group(chunk, ctx);
            store_group(&self.format, &r, g, &mut codes, &mut scales);
            grid_of_group.push(r.grid as u8);
        }
        Ok(Quantized {
            format: self.format,
            profile: self.profile,
            len: x.len() - padded,
            padded,
            codes,
            scales,
            tensor_scale: self.format.tensor_scale.then_some(ctx.scale),
            grid_of_group,
        })
    }

    /// The first NaN or Inf in `x` (reported at `offset + index`), unless this profile
    /// reproduces its library's handling of them on this format.
    pub fn check_finite(&self, x: &[f32], offset: usize) -> Result<(), QuantError> {
        if self.profile.accepts_non_finite(&self.format) {
            return Ok(());
        }
        match x.iter().position(|v| !v.is_finite()) {
            Some(j) => Err(QuantError::NonFinite {
                index: offset + j,
                bits: x[j].to_bits(),
                profile: self.profile.name(),
            }),
            None => Ok(()),
        }
    }

    /// The per-tensor context (amax and decode scale) of a tensor.
    pub fn tensor_context(&self, x: &[f32]) -> TensorContext {
        let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
        self.tensor_context_for_amax(amax)
    }

    /// The per-tensor context for a known tensor amax (e.g. a calibrated one).
    pub fn tensor_context_for_amax(&self, amax: f32) -> TensorContext {
        let scale = if !self.format.tensor_scale {
            1.0
        } else {
            match self.profile {
                Profile::Reference => reference_tensor_scale(&self.format, amax),
                _ => profiles::tensor_scale(self.profile, &self.format, amax),
            }
        };
        TensorContext { amax, scale }
    }

    /// Quantize one group against every grid and keep the best (smallest SSE, then lowest
    /// grid index).
    pub fn quantize_group(&self, x: &[f32], ctx: &TensorContext) -> GroupResult {
        let mut best: Option<GroupResult> = None;
        for grid in 0..self.format.grids.len() {
            let r = match self.profile {
                Profile::Reference => self.reference_group(x, ctx.scale, grid),
                _ => profiles::quantize_group(self, x, ctx, grid),
            };
            if best.as_ref().is_none_or(|b| r.sse < b.sse) {
                best = Some(r);
            }
        }
        // A format has at least one grid (validated), so `best` is set.
        best.unwrap_or(GroupResult {
            codes: vec![0; x.len()],
            scale: 0,
            grid: 0,
            sse: 0.0,
        })
    }

    fn reference_group(&self, x: &[f32], ts: f32, grid: usize) -> GroupResult {
        let f = &self.format;
        let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
        let target = f.grids[grid].target_value();
        let scale_code = match f.scale_rounding {
            ScaleRounding::Rne => reference_scale_rne(f, amax, target, ts),
            ScaleRounding::FloorPow2 => reference_scale_floor_pow2(f, amax, target),
        };
        let stored = scale_code | f.selector_bits_of_grid.get(grid).copied().unwrap_or(0);
        let p = Exact::of_f64(f.scale_value(stored)).mul(Exact::of_f32(if f.tensor_scale {
            ts
        } else {
            1.0
        }));
        let codes = self.nearest_codes(x, p, grid);
        finish_group(f, x, codes, stored, grid, ts)
    }

    /// Nearest codes of a group for the exact product P = scale · tensor_scale.
    pub(crate) fn nearest_codes(&self, x: &[f32], p: Exact, grid: usize) -> Vec<u8> {
        let prepared = &self.grids[grid];
        x.iter()
            .map(|&v| {
                if p.is_zero() {
                    // A zero scale: every element decodes to zero; keep the input's sign
                    // where the grid has a signed zero.
                    let zero = Exact {
                        negative: v.is_sign_negative(),
                        ..Exact::ZERO
                    };
                    return prepared.nearest(zero, Exact::ONE);
                }
                prepared.nearest(Exact::of_f32(v), p)
            })
            .collect()
    }
}

/// Decode a candidate group and score it: SSE in f64, summed in element order.
pub(crate) fn finish_group(
    f: &Format,
    x: &[f32],
    codes: Vec<u8>,
    stored: u32,
    grid: usize,
    ts: f32,
) -> GroupResult {
    let mut sse = 0f64;
    for (&v, &c) in x.iter().zip(&codes) {
        let decoded = decode::exact_value(f, grid, c, stored, ts) as f32;
        let d = v as f64 - decoded as f64;
        sse += d * d;
    }
    GroupResult {
        codes,
        scale: stored,
        grid,
        sse,
    }
}

/// Write group `g`'s result into packed codes and stored scales (sized for the tensor).
pub(crate) fn store_group(
    format: &Format,
    r: &GroupResult,
    g: usize,
    codes: &mut [u8],
    scales: &mut [u8],
) {
    let group = format.group_size as usize;
    for (j, &c) in r.codes.iter().enumerate() {
        put_code(format, codes, g * group + j, c);
    }
    if format.scale_bytes == 4 {
        scales[4 * g..4 * g + 4].copy_from_slice(&r.scale.to_le_bytes());
    } else {
        scales[g] = r.scale as u8;
    }
}

/// Store code `c` for element `i`.
pub(crate) fn put_code(format: &Format, codes: &mut [u8], i: usize, c: u8) {
    let low = i.is_multiple_of(2) != format.high_nibble_first;
    let byte = &mut codes[i / 2];
    if low {
        *byte = (*byte & 0xf0) | (c & 0x0f);
    } else {
        *byte = (*byte & 0x0f) | (c << 4);
    }
}

/// Largest stored scale code the format allows: within `value_mask`, finite, and not above
/// `scale_max`.
pub fn max_scale_code(f: &Format) -> u32 {
    let e = &f.scale_element;
    let mut code = e.max_finite_code().min(f.value_mask);
    while code > 0 && (e.is_nan(code) || code & !f.value_mask != 0) {
        code -= 1;
    }
    if let Some(max) = f.scale_max {
        let max = f32::from_bits(max) as f64;
        while code > 0 && e.decode(code) > max {
            code -= 1;
        }
    }
    code
}

/// The largest scale value, exactly.
pub fn max_scale_value(f: &Format) -> f64 {
    f.scale_element.decode(max_scale_code(f))
}

/// Smallest grid target of the format: the tensor scale is chosen so that every grid's
/// block scale fits for the tensor's largest group.
pub fn min_target(f: &Format) -> f32 {
    f.grids
        .iter()
        .map(|g| g.target_value())
        .fold(f32::INFINITY, f32::min)
}

/// Reference tensor scale: amax / (min_target · max_scale), rounded once to f32 (RNE).
/// amax = 0 gives 1.0; a quotient below the smallest f32 subnormal gives that subnormal.
pub(crate) fn reference_tensor_scale(f: &Format, amax: f32) -> f32 {
    if amax == 0.0 {
        return 1.0;
    }
    let den = Exact::of_f32(min_target(f)).mul(Exact::of_f64(max_scale_value(f)));
    let q = exact::quotient(Exact::of_f32(amax), den);
    let f32e = &crate::tables::F32;
    match f32e.encode_magnitude(false, q, Rounding::NearestEven, Policy::Satfinite) {
        Ok((bits, _)) if bits != 0 => f32::from_bits(bits),
        _ => f32::from_bits(1),
    }
}

/// Reference block scale (RNE): amax / (target · ts) rounded once, saturating at the
/// format's largest scale. A zero group gets scale code 0.
pub(crate) fn reference_scale_rne(f: &Format, amax: f32, target: f32, ts: f32) -> u32 {
    if f.scale_bytes == 4 {
        // FP32 absmax scales: amax / target rounded once to f32.
        let q = exact::quotient(Exact::of_f32(amax), Exact::of_f32(target));
        return crate::tables::F32
            .encode_magnitude(false, q, Rounding::NearestEven, Policy::Satfinite)
            .map(|r| r.0)
            .unwrap_or(0);
    }
    if amax == 0.0 {
        return 0;
    }
    let ts = if f.tensor_scale { ts } else { 1.0 };
    let q = exact::quotient(
        Exact::of_f32(amax),
        Exact::of_f32(target).mul(Exact::of_f32(ts)),
    );
    let max = max_scale_code(f);
    match f
        .scale_element
        .encode_magnitude(false, q, Rounding::NearestEven, Policy::Satfinite)
    {
        Ok((code, _)) => code.min(max),
        Err(_) => max,
    }
}

/// OCP MX scale: 2^(floor(log2 amax) - floor(log2 target)), taken from exponent bits,
/// clamped to the E8M0 range. A zero group gets code 0 (2^-127).
pub(crate) fn reference_scale_floor_pow2(f: &Format, amax: f32, target: f32) -> u32 {
    if amax == 0.0 {
        return 0;
    }
    let e = floor_log2(amax) - floor_log2(target);
    let code = e + f.scale_element.bias;
    code.clamp(0, max_scale_code(f) as i32) as u32
}

/// Exact floor(log2 |x|) of a finite non-zero f32, subnormals included.
pub(crate) fn floor_log2(x: f32) -> i32 {
    let bits = x.abs().to_bits();
    let field = (bits >> 23) as i32;
    if field == 0 {
        // Subnormal: value = fraction · 2^-149.
        let frac = bits & 0x7f_ffff;
        return 31 - frac.leading_zeros() as i32 - 149;
    }
    field - 127
}
