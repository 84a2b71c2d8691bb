//! Element formats: exact decode of every code, and encode of any finite or special `f64`
//! (which holds every f32, f16 and bf16 value exactly) with a named rounding direction and
//! overflow/NaN policy.
//!
//! The arithmetic is integer only: a magnitude is a `u128` significand times a power of two,
//! rounded once to the element's quantum. No floating-point operation takes part in a rounding
//! decision, so the result cannot depend on the host's float behaviour.

#[cfg(feature = "std")]
pub mod cuda;
mod policy;

pub use policy::Policy;

/// Which codes of an element format are special.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Specials {
    /// Every code is a finite number (E2M1, E2M3, E3M2, INT4).
    None,
    /// IEEE 754 style: an all-ones exponent is Inf (zero mantissa) or NaN (E5M2, F16, BF16, F32).
    Ieee,
    /// Only the all-ones exponent with the all-ones mantissa is NaN; no Inf (E4M3, UE4M3, E8M0).
    NanAllOnes,
}

/// Integer or floating-point element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Sign, exponent and mantissa fields (IEEE-like, with the element's own specials).
    Float,
    /// Two's complement (signed) or plain binary (unsigned) integer.
    Int,
}

/// An element format, fully described by its bit fields. Built-in instances come from
/// `spec/elements/*.yaml` through the generated tables.
// Not constructible outside the crate: every instance comes from the validated spec
// pipeline (generated tables or `spec::load_format`), so a hand-built value cannot break
// the invariants decode relies on (e.g. `selector_of_byte` covering every scale byte).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Element {
    /// Name as in `spec/elements/` (`e2m1`, `ue4m3`, ...).
    pub name: &'static str,
    /// Float or integer.
    pub kind: Kind,
    /// Total width in bits, sign included.
    pub bits: u32,
    /// Whether the top bit is a sign (floats) or the integer is two's complement.
    pub signed: bool,
    /// Width of the exponent field (0 for integers).
    pub exponent_bits: u32,
    /// Width of the mantissa (fraction) field.
    pub mantissa_bits: u32,
    /// Exponent bias: a normal code with field e is 1.m · 2^(e − bias).
    pub bias: i32,
    /// Whether exponent field 0 holds subnormals (E8M0 has none: field 0 is 2^-127).
    pub subnormals: bool,
    /// Which codes are Inf or NaN.
    pub specials: Specials,
}

/// Rounding direction for a conversion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// Round to nearest, ties to the even code (IEEE RNE; hardware `cvt.rn`). An element
    /// without mantissa bits (E8M0) has only the implicit 1 as significand digit on both sides
    /// of a tie, so its ties go up, as LLVM APFloat `Float8E8M0FNU` and torch `float8_e8m0fnu`
    /// do (0.75 → 1, 3 → 4).
    NearestEven,
    /// Round to nearest, ties away from zero.
    NearestAway,
    /// Truncate the magnitude (`cvt.rz`).
    TowardZero,
    /// Round the magnitude up (toward +Inf for positive values; `cvt.rp` on scales).
    MagnitudeUp,
}

/// What a conversion produced besides its code: whether it had to saturate, produced a NaN,
/// and so on. Callers that need an error on such events inspect this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The input was representable: the code decodes to it exactly.
    Exact,
    /// The input was rounded to a neighbouring finite value.
    Rounded,
    /// The value was beyond the largest finite magnitude and the policy saturated it.
    Saturated,
    /// The policy produced a NaN code (NaN input, or overflow under a NaN-on-overflow policy).
    Nan,
    /// The policy produced an infinity.
    Infinite,
}

/// The rounded magnitude is beyond the format's largest finite value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflow;

/// Why a value has no encoding under a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// NaN input and the format has no NaN code, and the policy has no rule for it.
    NanUnrepresentable,
    /// Infinite or overflowing input and neither saturation nor a special code applies.
    OverflowUnrepresentable,
    /// Negative input to an unsigned format that has no NaN to signal it.
    NegativeUnrepresentable,
    /// The value rounds to zero and the format has no zero (E8M0).
    ZeroUnrepresentable,
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let text = match self {
            EncodeError::NanUnrepresentable => {
                "NaN has no encoding in this format under this policy"
            }
            EncodeError::OverflowUnrepresentable => {
                "value overflows the format and the policy neither saturates nor has a special code"
            }
            EncodeError::NegativeUnrepresentable => "negative value in an unsigned format",
            EncodeError::ZeroUnrepresentable => "value rounds to zero and the format has no zero",
        };
        f.write_str(text)
    }
}

/// An exact finite magnitude `significand · 2^exponent`, plus a sticky bit meaning "and a
/// little more, strictly less than one unit of the significand's last bit".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Magnitude {
    /// Integer significand.
    pub significand: u128,
    /// Binary exponent applied to the significand.
    pub exponent: i32,
    /// Set when the true value is strictly above `significand · 2^exponent`, by less than one unit.
    pub sticky: bool,
}

impl Magnitude {
    /// Exact magnitude of a finite f64.
    pub fn of_f64(x: f64) -> Magnitude {
        let bits = x.to_bits();
        let field = ((bits >> 52) & 0x7ff) as i32;
        let fraction = bits & ((1u64 << 52) - 1);
        let (significand, exponent) = if field == 0 {
            (fraction, -1074)
        } else {
            (fraction | (1u64 << 52), field - 1075)
        };
        Magnitude {
            significand: significand as u128,
            exponent,
            sticky: false,
        }
    }

    fn is_zero(&self) -> bool {
        self.significand == 0 && !self.sticky
    }
}

fn bit_length(x: u128) -> i32 {
    128 - x.leading_zeros() as i32
}

/// Shift `m` right by `shift` bits, returning the kept bits, the first dropped bit (round bit)
/// and whether any lower bit was set (sticky).
fn shift_right_with_round(m: u128, shift: i32, sticky_in: bool) -> (u128, bool, bool) {
    if shift <= 0 {
        // No bits dropped: the incoming sticky lies below the last kept bit. A left shift
        // that would push set bits past bit 127 saturates instead (the value is beyond
        // every format's range, so callers report overflow); a plain `<<` silently lost
        // those bits and encoded e.g. 2^130 as INT4 zero (fuzz/regressions/element).
        let left = shift.unsigned_abs();
        let kept = if m == 0 {
            0
        } else if left >= m.leading_zeros() {
            u128::MAX
        } else {
            m << left
        };
        return (kept, false, sticky_in);
    }
    if shift > 128 {
        return (0, false, m != 0 || sticky_in);
    }
    let kept = if shift == 128 { 0 } else { m >> shift as u32 };
    let round = (m >> (shift - 1) as u32) & 1 == 1;
    let below = if shift >= 2 {
        m & ((1u128 << (shift - 1) as u32) - 1)
    } else {
        0
    };
    (kept, round, below != 0 || sticky_in)
}

/// Apply a rounding direction to an integer part with its round and sticky bits.
/// `even_target` is the bit whose parity "ties to even" looks at (the code's last bit).
fn apply_rounding(kept: u128, round: bool, sticky: bool, rounding: Rounding) -> u128 {
    let inexact = round || sticky;
    let up = match rounding {
        Rounding::NearestEven => round && (sticky || kept & 1 == 1),
        Rounding::NearestAway => round,
        Rounding::TowardZero => false,
        Rounding::MagnitudeUp => inexact,
    };
    // Saturating: `kept` may be the saturated u128::MAX of an out-of-range value.
    kept.saturating_add(up as u128)
}

impl Element {
    /// Number of codes (2^bits).
    pub const fn code_count(&self) -> u32 {
        1 << self.bits
    }

    const fn sign_bit(&self) -> u32 {
        if self.signed {
            1 << (self.bits - 1)
        } else {
            0
        }
    }

    fn exponent_field_max(&self) -> u32 {
        (1 << self.exponent_bits) - 1
    }

    /// Whether `code` is NaN.
    pub fn is_nan(&self, code: u32) -> bool {
        if self.kind == Kind::Int {
            return false;
        }
        let mag = code & !self.sign_bit();
        let field = mag >> self.mantissa_bits;
        let mant = mag & ((1 << self.mantissa_bits) - 1);
        match self.specials {
            Specials::None => false,
            Specials::Ieee => field == self.exponent_field_max() && mant != 0,
            Specials::NanAllOnes => {
                field == self.exponent_field_max() && mant == (1 << self.mantissa_bits) - 1
            }
        }
    }

    /// Whether `code` is an infinity.
    pub fn is_inf(&self, code: u32) -> bool {
        if self.kind == Kind::Int || self.specials != Specials::Ieee {
            return false;
        }
        let mag = code & !self.sign_bit();
        mag >> self.mantissa_bits == self.exponent_field_max()
            && mag & ((1 << self.mantissa_bits) - 1) == 0
    }

    /// Exact value of a code. Every element of at most 32 bits is exact in f64.
    /// Bits of `code` above the element's width are ignored.
    pub fn decode(&self, code: u32) -> f64 {
        let code = if self.bits >= 32 {
            code
        } else {
            code & ((1 << self.bits) - 1)
        };
        if self.kind == Kind::Int {
            return if self.signed && code & self.sign_bit() != 0 {
                code as f64 - (1u64 << self.bits) as f64
            } else {
                code as f64
            };
        }
        let negative = code & self.sign_bit() != 0;
        let sign = if negative { -1.0 } else { 1.0 };
        if self.is_nan(code) {
            return if negative { -f64::NAN } else { f64::NAN };
        }
        if self.is_inf(code) {
            return sign * f64::INFINITY;
        }
        let mag = code & !self.sign_bit();
        let field = (mag >> self.mantissa_bits) as i32;
        let mant = (mag & ((1 << self.mantissa_bits) - 1)) as f64;
        let scale = (1u64 << self.mantissa_bits) as f64;
        let value = if field == 0 && self.subnormals {
            pow2(1 - self.bias) * (mant / scale)
        } else {
            pow2(field - self.bias) * (1.0 + mant / scale)
        };
        sign * value
    }

    /// The code of the largest finite magnitude (positive).
    pub fn max_finite_code(&self) -> u32 {
        if self.kind == Kind::Int {
            return if self.signed {
                (1 << (self.bits - 1)) - 1
            } else {
                (1 << self.bits) - 1
            };
        }
        let all_mant = (1 << self.mantissa_bits) - 1;
        match self.specials {
            Specials::None => (self.exponent_field_max() << self.mantissa_bits) | all_mant,
            Specials::Ieee => ((self.exponent_field_max() - 1) << self.mantissa_bits) | all_mant,
            // All-ones is NaN; the largest finite code is one below it (E4M3: 0x7E = 448,
            // E8M0: 0xFE = 2^127).
            Specials::NanAllOnes => {
                ((self.exponent_field_max() << self.mantissa_bits) | all_mant) - 1
            }
        }
    }

    /// Largest finite value.
    pub fn max_finite(&self) -> f64 {
        self.decode(self.max_finite_code())
    }

    /// The canonical NaN code with the given sign, if the format has one.
    pub fn nan_code(&self, negative: bool) -> Option<u32> {
        if self.kind == Kind::Int || self.specials == Specials::None {
            return None;
        }
        let all_mant = (1 << self.mantissa_bits) - 1;
        let mag = match self.specials {
            Specials::Ieee => {
                (self.exponent_field_max() << self.mantissa_bits)
                    | (1 << self.mantissa_bits.saturating_sub(1))
            }
            _ => (self.exponent_field_max() << self.mantissa_bits) | all_mant,
        };
        Some(mag | if negative { self.sign_bit() } else { 0 })
    }

    /// The infinity code, if the format has one.
    pub fn inf_code(&self, negative: bool) -> Option<u32> {
        if self.kind == Kind::Int || self.specials != Specials::Ieee {
            return None;
        }
        Some(
            (self.exponent_field_max() << self.mantissa_bits)
                | if negative { self.sign_bit() } else { 0 },
        )
    }

    /// Round an exact non-negative magnitude to a magnitude code of this format.
    /// Returns `Err(())` when the rounded value exceeds the largest finite magnitude, and
    /// `Ok(None)` when it rounds to zero in a format without zero.
    pub fn round_magnitude(
        &self,
        m: Magnitude,
        rounding: Rounding,
    ) -> Result<Option<(u32, bool)>, Overflow> {
        let max_code = self.max_finite_code();
        if m.is_zero() {
            return Ok(if self.has_zero() {
                Some((0, false))
            } else {
                None
            });
        }
        if self.kind == Kind::Int {
            let (kept, round, sticky) =
                shift_right_with_round(m.significand, -m.exponent, m.sticky);
            let n = apply_rounding(kept, round, sticky, rounding);
            return if n > max_code as u128 {
                Err(Overflow)
            } else {
                Ok(Some((n as u32, round || sticky)))
            };
        }
        let e = bit_length(m.significand) - 1 + m.exponent;
        let mbits = self.mantissa_bits as i32;
        let emin = if self.subnormals {
            1 - self.bias
        } else {
            -self.bias
        };
        let e_eff = e.max(emin);
        // Quantum of the binade: 2^(e_eff - mbits). Shift the significand onto it.
        let shift = e_eff - mbits - m.exponent;
        let (kept, round, sticky) = shift_right_with_round(m.significand, shift, m.sticky);
        let inexact = round || sticky;
        let mut n = apply_rounding(kept, round, sticky, rounding);
        let mut e_eff = e_eff;
        if n >= (2u128 << mbits) {
            n >>= 1;
            e_eff += 1;
        }
        if n == 0 {
            return Ok(if self.has_zero() {
                Some((0, inexact))
            } else {
                None
            });
        }
        let code = if n < (1u128 << mbits) {
            if !self.subnormals {
                // Below the smallest normal with no subnormals: nothing but zero is here.
                return Ok(if self.has_zero() {
                    Some((0, inexact))
                } else {
                    None
                });
            }
            n as u32
        } else {
            let field = e_eff + self.bias;
            if field < 0 {
                return Ok(if self.has_zero() {
                    Some((0, inexact))
                } else {
                    None
                });
            }
            if field > self.exponent_field_max() as i32 {
                return Err(Overflow);
            }
            ((field as u32) << self.mantissa_bits) | (n as u32 - (1 << self.mantissa_bits))
        };
        if code > max_code {
            return Err(Overflow);
        }
        Ok(Some((code, inexact)))
    }

    /// Whether the format can represent zero (E8M0 cannot).
    pub fn has_zero(&self) -> bool {
        self.kind == Kind::Int || self.subnormals
    }

    /// Encode an exact magnitude with a sign (for quotients and other exact intermediates
    /// that are not f64), under a rounding direction and a policy.
    pub fn encode_magnitude(
        &self,
        negative: bool,
        m: Magnitude,
        rounding: Rounding,
        policy: Policy,
    ) -> Result<(u32, Outcome), EncodeError> {
        policy::encode_finite(self, negative, m, rounding)
            .or_else(|fail| policy.resolve(self, negative, fail))
    }

    /// Encode an f64 (every f32, f16 and bf16 value converts to f64 exactly, so this is also
    /// the exact encoder for those inputs) under `rounding` and `policy`.
    ///
    /// Under [`Policy::MlDtypes`] the input is first rounded to f32 (RNE, overflow to Inf), as
    /// ml-dtypes 0.6.0 does with f64 arrays, so an f64 that is not an f32 is rounded twice
    /// there; f32, f16 and bf16 inputs are unaffected. See [`Policy::MlDtypes`] for the E8M0
    /// rule on f32 subnormal inputs.
    pub fn encode(
        &self,
        x: f64,
        rounding: Rounding,
        policy: Policy,
    ) -> Result<(u32, Outcome), EncodeError> {
        let negative = x.is_sign_negative();
        if x.is_nan() {
            return policy.resolve(self, negative, policy::Failure::Nan);
        }
        if x.is_infinite() {
            return policy.resolve(self, negative, policy::Failure::Infinite);
        }
        if policy == Policy::MlDtypes {
            return policy::encode_ml_dtypes(self, negative, Magnitude::of_f64(x.abs()), rounding);
        }
        self.encode_magnitude(negative, Magnitude::of_f64(x.abs()), rounding, policy)
    }

    /// Encode with round-to-nearest-even, the rounding every policy in this crate uses for
    /// elements.
    pub fn encode_rne(&self, x: f64, policy: Policy) -> Result<(u32, Outcome), EncodeError> {
        self.encode(x, Rounding::NearestEven, policy)
    }

    fn sign_code(&self, negative: bool) -> u32 {
        if negative {
            self.sign_bit()
        } else {
            0
        }
    }
}

/// Exact power of two as f64 (for exponents in f64's normal and subnormal range).
pub fn pow2(e: i32) -> f64 {
    if e >= -1022 {
        f64::from_bits(((e + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (e + 1074).max(0) as u32)
    }
}

#[cfg(test)]
mod tests;
