//! Element conversion f32 → E2M1 / E4M3 / UE8M0 codes under `Policy::Satfinite` and
//! round-to-nearest-even, as `Element::encode(x, Rounding::NearestEven, Policy::Satfinite)`.
//! Other elements, and the `Scalar` backend, call that oracle per element.
//!
//! The fast form works on the f32 bit pattern. For a normal result, rounding the f32 to M
//! mantissa bits is an integer add of (half − 1 + the kept LSB) and a shift; the carry walks
//! into the exponent field exactly as a rounding up into the next binade should. For a
//! subnormal result, `a · 2^k` (k moves the quantum to 1) is exact and the magic-number add
//! of 2^23 rounds it to an integer, nearest even. Saturation is a `min` on the magnitude code.
//! UE8M0 has no mantissa, so the oracle's round-to-nearest compares with the implicit bit,
//! which is always 1: its ties go up, and the formula adds exactly half.
//! `tests/simd_equal.rs` checks every code boundary (±1 ulp) and random bit patterns.

use crate::element::{Element, Policy, Rounding};
use crate::tables::{E2M1, E4M3, UE8M0};

use super::Backend;

/// Why a slice could not be converted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeSliceError {
    /// Input and output lengths differ.
    Length { input: usize, output: usize },
    /// The element is wider than 8 bits, so its codes do not fit the `u8` output.
    TooWide { element: &'static str, bits: u32 },
}

impl core::fmt::Display for EncodeSliceError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EncodeSliceError::Length { input, output } => {
                write!(f, "{input} input values but room for {output} codes")
            }
            EncodeSliceError::TooWide { element, bits } => {
                write!(
                    f,
                    "element {element} has {bits}-bit codes; this conversion writes bytes"
                )
            }
        }
    }
}

impl std::error::Error for EncodeSliceError {}

#[derive(Clone, Copy)]
pub(crate) enum Fast {
    E2m1,
    E4m3,
    Ue8m0,
}

fn fast_kind(e: &Element) -> Option<Fast> {
    if *e == E2M1 {
        Some(Fast::E2m1)
    } else if *e == E4M3 {
        Some(Fast::E4m3)
    } else if *e == UE8M0 {
        Some(Fast::Ue8m0)
    } else {
        None
    }
}

/// Convert `x` to codes of `element` (satfinite, round to nearest even), one byte each.
pub fn encode_elements(
    backend: Backend,
    element: &Element,
    x: &[f32],
    out: &mut [u8],
) -> Result<(), EncodeSliceError> {
    if x.len() != out.len() {
        return Err(EncodeSliceError::Length {
            input: x.len(),
            output: out.len(),
        });
    }
    if element.bits > 8 {
        return Err(EncodeSliceError::TooWide {
            element: element.name,
            bits: element.bits,
        });
    }
    let backend = backend.effective();
    let kind = match fast_kind(element) {
        Some(k) if backend != Backend::Scalar => k,
        _ => {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = oracle(element, v);
            }
            return Ok(());
        }
    };
    match backend {
        #[cfg(target_arch = "x86_64")]
        Backend::Avx2 | Backend::Avx512 => super::x86::encode(backend, kind, x, out),
        _ => encode_portable(kind, x, out),
    }
    Ok(())
}

/// The oracle, for one value (satfinite never errors on a ≤ 8-bit element; the fallback
/// code is never used for the built-in ones).
pub(crate) fn oracle(element: &Element, v: f32) -> u8 {
    element
        .encode(v as f64, Rounding::NearestEven, Policy::Satfinite)
        .map_or(0, |r| r.0 as u8)
}

#[inline(always)]
pub(crate) fn encode_portable(kind: Fast, x: &[f32], out: &mut [u8]) {
    match kind {
        Fast::E2m1 => {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = small_float::<1, 1, 7, 3>(v.to_bits(), 7);
            }
        }
        Fast::E4m3 => {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = small_float::<3, 7, 0x7e, 7>(v.to_bits(), 0x7f);
            }
        }
        Fast::Ue8m0 => {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = ue8m0(v.to_bits());
            }
        }
    }
}

/// A signed float element with M mantissa bits, bias B, subnormals, largest magnitude code
/// MAX, sign at bit SIGN. `nan` is the code of a positive NaN input (E4M3: 0x7f with the
/// sign; E2M1 has no NaN and satfinite gives +max whatever the sign).
#[inline(always)]
pub(crate) fn small_float<const M: u32, const B: u32, const MAX: u32, const SIGN: u32>(
    bits: u32,
    nan: u32,
) -> u8 {
    let a = bits & 0x7fff_ffff;
    let sign = bits >> 31;
    // Smallest normal of the element: 2^(1-B).
    let min_normal = (127 + 1 - B) << 23;
    let sub = {
        // a · 2^(B-1+M): the quantum 2^(1-B-M) becomes 1; exact, and < 2^(M+1).
        let scale = f32::from_bits((127 + B - 1 + M) << 23);
        let y = f32::from_bits(a) * scale;
        // y + 2^23 rounds y to an integer (nearest, ties to even) and, for 0 ≤ y < 2^23,
        // holds it in its low mantissa bits: no float-to-int conversion (whose saturating
        // semantics cost several vector instructions).
        (y + 8_388_608.0).to_bits() - 0x4b00_0000
    };
    let shift = 23 - M;
    let norm =
        ((a + (1 << (shift - 1)) - 1 + ((a >> shift) & 1)) >> shift).wrapping_sub((127 - B) << M);
    let mag = if a < min_normal { sub } else { norm.min(MAX) };
    let code = if a > 0x7f80_0000 {
        if nan == 0x7f {
            nan | (sign << SIGN)
        } else {
            nan
        }
    } else {
        mag | (sign << SIGN)
    };
    code as u8
}

/// UE8M0 (unsigned 2^(code-127), no zero, 0xFF NaN), satfinite, as the oracle: NaN and
/// negative non-zero values → 0xFF; ±0 and values below 1.5·2^-127 → 0 (the smallest);
/// ties go up; beyond 2^127 (and +Inf) → 0xFE.
#[inline(always)]
pub(crate) fn ue8m0(bits: u32) -> u8 {
    let a = bits & 0x7fff_ffff;
    let negative = bits >> 31 == 1 && a != 0;
    let normal = ((a + 0x40_0000) >> 23).min(254);
    let code = if a < 0x0080_0000 {
        (a >= 0x0060_0000) as u32
    } else {
        normal
    };
    if a > 0x7f80_0000 || negative {
        0xff
    } else {
        code as u8
    }
}
