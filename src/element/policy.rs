//! Overflow and NaN policies: what the public stacks do with values an element format
//! cannot hold. Rounding of in-range values is the same under every policy; the policies only
//! differ where a value is NaN, infinite, beyond the largest finite magnitude, negative in an
//! unsigned format, or rounds to zero in a format without zero.

use super::{Element, EncodeError, Kind, Magnitude, Outcome, Rounding, Specials};

/// A named overflow/NaN policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Saturating: overflow and ±Inf saturate to ±max finite (as NVIDIA's `cvt.rn.satfinite`
    /// and `__NV_SATFINITE` do for every non-NaN f32, checked on an H200); NaN becomes the
    /// format's NaN *with the input's sign* (NVIDIA gives 0x7F for every NaN, E5M2 included:
    /// that is the `cuda-satfinite` conversion, `element::cuda`), or, in a format without NaN,
    /// +max finite.
    /// The NaN-to-max rule for NaN-less formats (E2M1, E2M3, E3M2) is our reading: PTX does
    /// not document it and no Hopper instruction converts to these types (see spec/README.md).
    Satfinite,
    /// ml-dtypes 0.6.0 (`ConvertImpl` with its MX extensions): overflow goes to Inf, or NaN
    /// where the format has NaN but no Inf (E4M3: 480 and above → NaN), or max finite where
    /// the format has neither (E2M1: `infinity()` is 6.0). NaN input becomes the format's NaN
    /// with the input's sign; in a NaN-less MX type `quiet_NaN()` is -0 (code 0b1..0) and the
    /// conversion flips the input's sign into it (+NaN → 0x8, -NaN → 0x0 for E2M1).
    /// E8M0: zero, negative values, Inf and NaN all become 0xFF (NaN); ties round up.
    /// ml-dtypes converts through f32: an f64 input is rounded to f32 first (so
    /// `Element::encode` rounds twice for an f64 that is not an f32), and an f32 *subnormal*
    /// input to E8M0 takes ml-dtypes' subnormal path, which rounds x/2^-126 to nearest even:
    /// (0, 2^-127] → 0x00 (2^-127), (2^-127, 2^-126) → 0x01 (2^-126), although 1.1·2^-127 is
    /// nearer to 2^-127 (observed on every positive f32 subnormal, tests/element_ml_dtypes.rs).
    MlDtypes,
    /// OCP MX v1.0: elements round to nearest even and normal overflow clamps to ±max finite
    /// ("clamping normal numbers"); Inf and NaN are not clamped: they map to the format's
    /// Inf/NaN where it has one, and are an error where it has none.
    Ocp,
}

impl Policy {
    /// Every policy, in a fixed order (for listings and exhaustive tests).
    pub const ALL: [Policy; 3] = [Policy::Satfinite, Policy::MlDtypes, Policy::Ocp];

    /// The name used on the command line and in vector files.
    pub fn name(&self) -> &'static str {
        match self {
            Policy::Satfinite => "satfinite",
            Policy::MlDtypes => "ml_dtypes",
            Policy::Ocp => "ocp",
        }
    }

    /// Inverse of [`Policy::name`].
    pub fn from_name(name: &str) -> Option<Policy> {
        Policy::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The rounding direction a policy applies to in-range values. ml-dtypes rounds E8M0
    /// ties up (0.75 → 1.0, 3.0 → 4.0), unlike RNE on the exponent field.
    pub fn rounding_for(&self, element: &Element) -> Rounding {
        match self {
            Policy::MlDtypes if element.mantissa_bits == 0 && element.kind == Kind::Float => {
                Rounding::NearestAway
            }
            _ => Rounding::NearestEven,
        }
    }

    pub(super) fn resolve(
        &self,
        element: &Element,
        negative: bool,
        failure: Failure,
    ) -> Result<(u32, Outcome), EncodeError> {
        let max = element.max_finite_code();
        let signed = |code: u32| code | element.sign_code(negative && element.signed);
        let nan = || {
            element
                .nan_code(negative && element.signed)
                .map(|c| (c, Outcome::Nan))
        };
        match (self, failure) {
            (Policy::Satfinite, Failure::Nan) => Ok(nan().unwrap_or((max, Outcome::Nan))),
            (Policy::Satfinite, Failure::Overflow | Failure::Infinite) => {
                if negative && !element.signed {
                    return nan().ok_or(EncodeError::NegativeUnrepresentable);
                }
                Ok((signed(max), Outcome::Saturated))
            }
            (Policy::Satfinite | Policy::Ocp, Failure::Negative) => {
                nan().ok_or(EncodeError::NegativeUnrepresentable)
            }
            (Policy::Satfinite | Policy::Ocp, Failure::Zero) => {
                // No zero (E8M0): the smallest value is the nearest representable one.
                Ok((0, Outcome::Rounded))
            }
            (Policy::MlDtypes, Failure::Nan) => {
                if element.specials == Specials::None
                    && element.kind == Kind::Float
                    && element.signed
                {
                    // quiet_NaN() is -0 and the input's sign is flipped into it.
                    return Ok((element.sign_code(!negative), Outcome::Nan));
                }
                nan().ok_or(EncodeError::NanUnrepresentable)
            }
            (Policy::MlDtypes, Failure::Overflow | Failure::Infinite) => {
                if negative && !element.signed {
                    return nan().ok_or(EncodeError::NegativeUnrepresentable);
                }
                if let Some(inf) = element.inf_code(negative) {
                    return Ok((inf, Outcome::Infinite));
                }
                if let Some(nan) = nan() {
                    return Ok(nan);
                }
                Ok((signed(max), Outcome::Saturated))
            }
            (Policy::MlDtypes, Failure::Negative | Failure::Zero) => {
                nan().ok_or(EncodeError::NegativeUnrepresentable)
            }
            (Policy::Ocp, Failure::Nan) => nan().ok_or(EncodeError::NanUnrepresentable),
            (Policy::Ocp, Failure::Infinite) => {
                if let Some(inf) = element.inf_code(negative) {
                    return Ok((inf, Outcome::Infinite));
                }
                nan().ok_or(EncodeError::OverflowUnrepresentable)
            }
            (Policy::Ocp, Failure::Overflow) => {
                if negative && !element.signed {
                    return nan().ok_or(EncodeError::NegativeUnrepresentable);
                }
                Ok((signed(max), Outcome::Saturated))
            }
        }
    }
}

/// Why a finite encode could not produce an ordinary code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Failure {
    Nan,
    Infinite,
    Overflow,
    Negative,
    Zero,
}

/// Encode a finite magnitude with a sign; `Err` says which policy rule must decide.
pub(super) fn encode_finite(
    element: &Element,
    negative: bool,
    m: Magnitude,
    rounding: Rounding,
) -> Result<(u32, Outcome), Failure> {
    let nonzero = !m.is_zero();
    if negative && !element.signed && nonzero {
        return Err(Failure::Negative);
    }
    match element.round_magnitude(m, rounding) {
        Err(super::Overflow) => Err(Failure::Overflow),
        Ok(None) => Err(Failure::Zero),
        Ok(Some((mag, inexact))) => {
            let outcome = if inexact {
                Outcome::Rounded
            } else {
                Outcome::Exact
            };
            if element.kind == Kind::Int {
                let code = if negative && mag != 0 && element.signed {
                    ((1u64 << element.bits) - mag as u64) as u32
                } else {
                    mag
                };
                return Ok((code, outcome));
            }
            // A negative value that rounds to zero keeps its sign (-0), as IEEE RNE does.
            Ok((mag | element.sign_code(negative && element.signed), outcome))
        }
    }
}

/// `Element::encode` under [`Policy::MlDtypes`] for a finite magnitude (zero included): round to
/// f32 first (numpy's f64 → f32 cast, RNE, overflow to Inf), then convert the f32 the way
/// ml-dtypes 0.6.0 does.
pub(super) fn encode_ml_dtypes(
    element: &Element,
    negative: bool,
    m: Magnitude,
    rounding: Rounding,
) -> Result<(u32, Outcome), EncodeError> {
    let policy = Policy::MlDtypes;
    let f32_element = crate::tables::F32;
    let (bits, first) =
        match f32_element.encode_magnitude(false, m, Rounding::NearestEven, Policy::Satfinite) {
            // Beyond f32's range the cast gives Inf, and ml-dtypes converts the Inf.
            Ok((_, Outcome::Saturated)) | Err(_) => {
                return policy.resolve(element, negative, Failure::Infinite)
            }
            Ok(r) => r,
        };
    let m32 = Magnitude::of_f64(f32::from_bits(bits) as f64);
    let twice_rounded = |r: Result<(u32, Outcome), EncodeError>| {
        r.map(|(code, outcome)| match (outcome, first) {
            (Outcome::Exact, Outcome::Rounded) => (code, Outcome::Rounded),
            _ => (code, outcome),
        })
    };
    let f32_subnormal = bits != 0 && bits < 0x0080_0000;
    if f32_subnormal
        && element.kind == Kind::Float
        && element.mantissa_bits == 0
        && !element.subnormals
        && element.bias == 127
        && (!negative || element.signed)
    {
        // ml-dtypes' ConvertImpl sends an f32 subnormal down its "result is subnormal" path
        // (same bias): the 23 fraction bits are rounded to nearest even as a count of 2^-126,
        // giving exponent field 0 or 1. 2^-127 itself (a tie) stays at field 0.
        let (code, outcome) = match bits.cmp(&0x0040_0000) {
            core::cmp::Ordering::Less => (0, Outcome::Rounded),
            core::cmp::Ordering::Equal => (0, Outcome::Exact),
            core::cmp::Ordering::Greater => (1, Outcome::Rounded),
        };
        return twice_rounded(Ok((
            code | element.sign_code(negative && element.signed),
            outcome,
        )));
    }
    twice_rounded(element.encode_magnitude(negative, m32, rounding, policy))
}
