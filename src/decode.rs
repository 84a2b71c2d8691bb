//! Block decode: `grid[sel][code] × scale × tensor_scale`, exact, rounded once.
//!
//! Why one rounding is possible in f64: a grid value is an f32 (24 significant bits), a block
//! scale is UE4M3 (4 bits), E8M0 (1 bit) or an FP32 absmax (24 bits, with no tensor scale),
//! and the tensor scale is an f32 (24 bits). The widest product is 24 + 4 + 24 = 52 bits, and
//! its exponent stays far inside f64's normal range, so both f64 multiplications are exact
//! and the only rounding is the final conversion to the output type.
//!
//! This module is `no_std` and allocation-free: firmware can link it alone.

use crate::element::{Element, Magnitude, Policy, Rounding};
use crate::format::Format;

/// Output type of a decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// IEEE binary32: every decoded value is exact.
    F32,
    /// IEEE binary16, rounded once (RNE) from the exact product.
    F16,
    /// bfloat16, rounded once (RNE) from the exact product.
    Bf16,
}

/// Why a block could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Packed codes, scales and output lengths disagree.
    Length {
        /// Number of elements requested.
        elements: usize,
        /// Bytes of packed codes given.
        code_bytes: usize,
        /// Bytes of scales given.
        scale_bytes: usize,
        /// Length of the output buffer given.
        output: usize,
    },
    /// A scale's selector bits name no grid of the format.
    /// A scale's selector bits name no grid of the format: the group index and its scale.
    InvalidSelector {
        /// Index of the group.
        group: usize,
        /// The stored scale (byte or FP32 bits).
        scale: u32,
    },
    /// A code that the selected grid does not define (e.g. INT4 -8 in IF4).
    /// A code the selected grid does not define: the element index and the code.
    InvalidCode {
        /// Index of the element.
        index: usize,
        /// The code.
        code: u8,
    },
}

impl core::error::Error for DecodeError {}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DecodeError::Length { elements, code_bytes, scale_bytes, output } => write!(
                f,
                "lengths disagree: {elements} elements need {} code bytes and one scale per group; got {code_bytes} code bytes, {scale_bytes} scale bytes, output room for {output}",
                elements.div_ceil(2)
            ),
            DecodeError::InvalidSelector { group, scale } => {
                write!(f, "group {group}: scale 0x{scale:02x} has selector bits that name no grid of this format")
            }
            DecodeError::InvalidCode { index, code } => write!(f, "element {index}: code 0x{code:x} is not valid in its grid"),
        }
    }
}

/// The 4-bit code of element `i` in a packed buffer.
#[inline]
pub fn code_at(format: &Format, codes: &[u8], i: usize) -> u8 {
    nibble_at(format.high_nibble_first, codes, i)
}

/// The one definition of nibble order: element `i` is the low nibble of byte `i / 2` when
/// `i` is even (PyTorch's `float4_e2m1fn_x2`, NVIDIA), the high nibble when even and
/// `high_first` (bitsandbytes). The fast paths call this too.
#[inline]
pub(crate) fn nibble_at(high_first: bool, codes: &[u8], i: usize) -> u8 {
    let byte = codes[i / 2];
    if i.is_multiple_of(2) != high_first {
        byte & 0x0f
    } else {
        byte >> 4
    }
}

/// The stored scale of group `g` (1 byte, or a little-endian u32 for FP32 scales).
#[inline]
pub fn scale_at(format: &Format, scales: &[u8], g: usize) -> u32 {
    if format.scale_bytes == 4 {
        let b = &scales[4 * g..4 * g + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    } else {
        scales[g] as u32
    }
}

/// The exact decoded value of one element as f64 (see the module comment for why it is
/// exact). NaN when the scale is NaN.
#[inline]
pub fn exact_value(format: &Format, grid: usize, code: u8, scale: u32, tensor_scale: f32) -> f64 {
    let g = format.grids[grid].value(code) as f64;
    let s = format.scale_value(scale);
    let t = if format.tensor_scale {
        tensor_scale as f64
    } else {
        1.0
    };
    g * s * t
}

/// Round an exact f64 to the output type, once, to nearest even; overflow becomes Inf.
#[inline]
pub fn round_output(x: f64, output: Output) -> u32 {
    match output {
        Output::F32 => (x as f32).to_bits(),
        Output::F16 => encode_ieee(&crate::tables::F16, x),
        Output::Bf16 => encode_ieee(&crate::tables::BF16, x),
    }
}

fn encode_ieee(element: &Element, x: f64) -> u32 {
    if x.is_nan() {
        // Canonical quiet NaN with the sign kept.
        return element.nan_code(x.is_sign_negative()).unwrap_or(0);
    }
    let negative = x.is_sign_negative();
    let m = Magnitude::of_f64(x.abs());
    if x.is_infinite() {
        return element.inf_code(negative).unwrap_or(0);
    }
    // IEEE formats always encode under ml-dtypes' rule: overflow to Inf.
    match element.encode_magnitude(negative, m, Rounding::NearestEven, Policy::MlDtypes) {
        Ok((code, _)) => code,
        Err(_) => element.nan_code(negative).unwrap_or(0),
    }
}

fn check_lengths(
    format: &Format,
    n: usize,
    codes: &[u8],
    scales: &[u8],
    out_len: usize,
) -> Result<(), DecodeError> {
    let group = format.group_size as usize;
    let groups = n.div_ceil(group);
    if codes.len() != format.code_bytes(n)
        || scales.len() != groups * format.scale_bytes as usize
        || out_len != n
    {
        return Err(DecodeError::Length {
            elements: n,
            code_bytes: codes.len(),
            scale_bytes: scales.len(),
            output: out_len,
        });
    }
    Ok(())
}

/// The one decode loop: check lengths, selectors and codes, and hand every element's exact
/// value to `store` with its slot. Both public decoders are this loop with a different store.
fn decode_with<T>(
    format: &Format,
    codes: &[u8],
    scales: &[u8],
    tensor_scale: f32,
    out: &mut [T],
    store: impl Fn(f64) -> T,
) -> Result<(), DecodeError> {
    let n = out.len();
    check_lengths(format, n, codes, scales, n)?;
    let group = format.group_size as usize;
    for (g, chunk) in out.chunks_mut(group).enumerate() {
        let scale = scale_at(format, scales, g);
        let grid = format
            .grid_of_scale(scale)
            .ok_or(DecodeError::InvalidSelector { group: g, scale })?;
        for (j, slot) in chunk.iter_mut().enumerate() {
            let index = g * group + j;
            let code = code_at(format, codes, index);
            if !format.grids[grid].is_valid(code) {
                return Err(DecodeError::InvalidCode { index, code });
            }
            *slot = store(exact_value(format, grid, code, scale, tensor_scale));
        }
    }
    Ok(())
}

/// Decode `out.len()` elements to the raw bits of `output` (f32 bits, or f16/bf16 bits in
/// the low half). Selector bits are checked; invalid codes are an error.
pub fn decode_bits(
    format: &Format,
    codes: &[u8],
    scales: &[u8],
    tensor_scale: f32,
    output: Output,
    out: &mut [u32],
) -> Result<(), DecodeError> {
    decode_with(format, codes, scales, tensor_scale, out, |v| {
        round_output(v, output)
    })
}

/// Decode to f32.
pub fn decode_f32(
    format: &Format,
    codes: &[u8],
    scales: &[u8],
    tensor_scale: f32,
    out: &mut [f32],
) -> Result<(), DecodeError> {
    // `as f32` rounds an f64 to nearest even: the single rounding of the exact value.
    decode_with(format, codes, scales, tensor_scale, out, |v| v as f32)
}
