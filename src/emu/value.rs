//! Exact operand decode and output rounding, in integers.
//!
//! Every finite value the emulator touches is dyadic: `mag · 2^exp` with an integer `mag`.
//! Decoding keeps that form, plus the *frexp exponent* MMA-Sim aligns on (`floor(log2|x|)`,
//! clamped below at the format's subnormal exponent). Rounding takes an exact dyadic value and
//! produces an output bit pattern; no floating-point operation is involved anywhere, so the
//! host's FPU (its rounding mode, FTZ flags, x87 double rounding) cannot leak into a result.
//!
//! This is deliberately separate from the crate's `element` module: the emulator needs the
//! frexp exponent and integer significands, and it must stay an independent oracle.

use std::fmt;

/// An operand or scale element format the emulator decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// FP4 E2M1 (no Inf/NaN).
    E2M1,
    /// FP6 E2M3 (no Inf/NaN).
    E2M3,
    /// FP6 E3M2 (no Inf/NaN).
    E3M2,
    /// FP8 E4M3 (`fn`: NaN only, S.1111.111).
    E4M3,
    /// FP8 E5M2 (IEEE-like: Inf and NaN).
    E5M2,
    /// bfloat16.
    BF16,
    /// IEEE binary16.
    F16,
    /// TF32, given as FP32 bits and truncated to 10 fraction bits (`>> 13 << 13`) before use.
    TF32,
    /// IEEE binary32.
    F32,
    /// Scale: unsigned power of two, `2^(byte - 127)`, 0xFF is NaN.
    UE8M0,
    /// Scale: E4M3 with the sign bit ignored (cleared) before decode; 0x7F is NaN.
    UE4M3,
}

impl Format {
    /// All formats, for parsing and listing.
    pub const ALL: [Format; 11] = [
        Format::E2M1,
        Format::E2M3,
        Format::E3M2,
        Format::E4M3,
        Format::E5M2,
        Format::BF16,
        Format::F16,
        Format::TF32,
        Format::F32,
        Format::UE8M0,
        Format::UE4M3,
    ];

    /// The PTX type name (`e2m1`, `bf16`, `ue4m3`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Format::E2M1 => "e2m1",
            Format::E2M3 => "e2m3",
            Format::E3M2 => "e3m2",
            Format::E4M3 => "e4m3",
            Format::E5M2 => "e5m2",
            Format::BF16 => "bf16",
            Format::F16 => "f16",
            Format::TF32 => "tf32",
            Format::F32 => "f32",
            Format::UE8M0 => "ue8m0",
            Format::UE4M3 => "ue4m3",
        }
    }

    /// Parses a PTX type name.
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Storage width in bits of one code (FP4 is 4, FP6 is 6, TF32 travels as 32).
    pub fn bits(self) -> u32 {
        match self {
            Format::E2M1 => 4,
            Format::E2M3 | Format::E3M2 => 6,
            Format::E4M3 | Format::E5M2 | Format::UE8M0 | Format::UE4M3 => 8,
            Format::BF16 | Format::F16 => 16,
            Format::TF32 | Format::F32 => 32,
        }
    }

    /// Hex digits one code takes in a case file (FP6 takes two: a 6-bit code in a byte).
    pub fn hex_digits(self) -> usize {
        self.bits().div_ceil(4) as usize
    }

    /// (exponent bits, mantissa bits, bias) of the IEEE-like layout.
    fn layout(self) -> (u32, u32, i32) {
        match self {
            Format::E2M1 => (2, 1, 1),
            Format::E2M3 => (2, 3, 1),
            Format::E3M2 => (3, 2, 3),
            Format::E4M3 | Format::UE4M3 => (4, 3, 7),
            Format::E5M2 => (5, 2, 15),
            Format::BF16 => (8, 7, 127),
            Format::F16 => (5, 10, 15),
            Format::TF32 | Format::F32 => (8, 23, 127),
            Format::UE8M0 => (8, 0, 127),
        }
    }

    /// MMA-Sim's subnormal exponent `e_sub` (the frexp exponent of every subnormal).
    pub fn e_sub(self) -> i32 {
        match self {
            Format::UE8M0 => -127,
            _ => {
                let (_, _, bias) = self.layout();
                1 - bias
            }
        }
    }

    /// Decodes one code (the low `bits()` bits of `code`; higher bits must be zero).
    pub fn decode(self, code: u32) -> Val {
        match self {
            Format::UE8M0 => {
                if code == 0xFF {
                    Val::Nan
                } else {
                    let e = code as i32 - 127;
                    Val::Fin(Fin {
                        neg: false,
                        mag: 1,
                        exp: e,
                        fexp: e,
                    })
                }
            }
            Format::UE4M3 => Format::E4M3.decode(code & 0x7F),
            Format::TF32 => Format::F32.decode(code >> 13 << 13),
            _ => {
                let (eb, mb, bias) = self.layout();
                let total = 1 + eb + mb;
                let neg = (code >> (total - 1)) & 1 == 1;
                let e = (code >> mb) & ((1 << eb) - 1);
                let m = code & ((1 << mb) - 1);
                let emax = (1 << eb) - 1;
                match self {
                    Format::E4M3 if e == emax && m == (1 << mb) - 1 => return Val::Nan,
                    Format::E5M2 | Format::BF16 | Format::F16 | Format::F32 if e == emax => {
                        return if m == 0 { Val::Inf { neg } } else { Val::Nan };
                    }
                    _ => {}
                }
                if e == 0 {
                    Val::Fin(Fin {
                        neg,
                        mag: u64::from(m),
                        exp: 1 - bias - mb as i32,
                        fexp: 1 - bias,
                    })
                } else {
                    let fexp = e as i32 - bias;
                    Val::Fin(Fin {
                        neg,
                        mag: u64::from(m | (1 << mb)),
                        exp: fexp - mb as i32,
                        fexp,
                    })
                }
            }
        }
    }
}

impl Format {
    /// The code of `v` in this format when `v` is exactly representable in it (F16, BF16 and
    /// F32 targets; NaN maps to the canonical quiet NaN, which is exact as a value class).
    /// None when the value would round, or for other target formats.
    pub fn encode_exact(self, v: Val) -> Option<u32> {
        let f = match v {
            Val::Nan => f64::NAN,
            Val::Inf { neg } => {
                if neg {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                }
            }
            Val::Fin(fin) => {
                // |mag| < 2^53 for every operand format here, so the product is exact.
                let m = fin.mag as f64 * 2f64.powi(fin.exp);
                if fin.neg {
                    -m
                } else {
                    m
                }
            }
        };
        let (bits, back) = match self {
            Format::F16 => {
                let h = half::f16::from_f64(f);
                (u32::from(h.to_bits()), h.to_f64())
            }
            Format::BF16 => {
                let h = half::bf16::from_f64(f);
                (u32::from(h.to_bits()), h.to_f64())
            }
            Format::F32 => {
                let h = f as f32;
                (h.to_bits(), h as f64)
            }
            _ => return None,
        };
        let same = (back == f && back.is_sign_negative() == f.is_sign_negative())
            || (back.is_nan() && f.is_nan());
        same.then_some(bits)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A finite decoded value `(-1)^neg · mag · 2^exp`, with MMA-Sim's frexp exponent `fexp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fin {
    /// Sign (kept for zeros too: −0 is a distinct code).
    pub neg: bool,
    /// Integer significand; 0 for a zero.
    pub mag: u64,
    /// Exponent of the significand's unit.
    pub exp: i32,
    /// `floor(log2|x|)`, or `e_sub` for subnormals and zeros.
    pub fexp: i32,
}

/// A decoded value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val {
    /// Finite (including zeros and subnormals).
    Fin(Fin),
    /// Infinity.
    Inf {
        /// Sign.
        neg: bool,
    },
    /// Any NaN.
    Nan,
}

/// An exact dyadic value `(-1)^neg · mag · 2^exp` with a wide significand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dyadic {
    /// Sign.
    pub neg: bool,
    /// Significand.
    pub mag: u128,
    /// Exponent of the significand's unit.
    pub exp: i32,
}

/// The output formats a tensor core writes, and how it rounds into them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// Truncate (round toward zero) to FP32; subnormals on the 2^−149 grid.
    RzFp32,
    /// Truncate to 13 fraction bits in an FP32 register (subnormals on the 2^−139 grid).
    RzE8M13,
    /// Round to nearest even into FP16.
    RneFp16,
    /// Round to nearest even into FP32 (CUDA-core arithmetic: fma, add, mul).
    RneFp32,
}

impl Rounding {
    /// Spec spelling (`rz-fp32`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Rounding::RzFp32 => "rz-fp32",
            Rounding::RzE8M13 => "rz-e8m13",
            Rounding::RneFp16 => "rne-fp16",
            Rounding::RneFp32 => "rne-fp32",
        }
    }

    /// Parses the spec spelling.
    pub fn from_name(s: &str) -> Option<Rounding> {
        [
            Rounding::RzFp32,
            Rounding::RzE8M13,
            Rounding::RneFp16,
            Rounding::RneFp32,
        ]
        .into_iter()
        .find(|r| r.name() == s)
    }

    /// Whether results are FP16 bit patterns (16 bits) rather than FP32 ones.
    pub fn is_f16(self) -> bool {
        self == Rounding::RneFp16
    }

    /// Canonical NaN of the output type.
    pub fn nan(self) -> u32 {
        if self.is_f16() {
            0x7FFF
        } else {
            0x7FFF_FFFF
        }
    }

    /// Infinity of the output type.
    pub fn inf(self, neg: bool) -> u32 {
        match (self.is_f16(), neg) {
            (true, false) => 0x7C00,
            (true, true) => 0xFC00,
            (false, false) => 0x7F80_0000,
            (false, true) => 0xFF80_0000,
        }
    }

    /// (precision incl. hidden bit, minimum normal exponent, maximum exponent, bias,
    /// round-to-nearest-even?)
    fn params(self) -> (u32, i32, i32, i32, bool) {
        match self {
            Rounding::RzFp32 => (24, -126, 127, 127, false),
            Rounding::RzE8M13 => (14, -126, 127, 127, false),
            Rounding::RneFp16 => (11, -14, 15, 15, true),
            Rounding::RneFp32 => (24, -126, 127, 127, true),
        }
    }

    /// Rounds an exact value into the output bit pattern, keeping the sign of a zero.
    pub fn round(self, v: Dyadic) -> u32 {
        let (p, emin, emax, bias, rne) = self.params();
        let sign_bit = if self.is_f16() { 15 } else { 31 };
        let sign = u32::from(v.neg) << sign_bit;
        if v.mag == 0 {
            return sign;
        }
        let msb = 127 - v.mag.leading_zeros() as i32;
        let e = msb + v.exp; // floor(log2|v|)
        let e_eff = e.max(emin);
        // q = v / 2^(e_eff - (p-1)), an integer below 2^p once truncated.
        let shift = i64::from(e_eff) - (i64::from(p) - 1) - i64::from(v.exp);
        let (mut q, round_up) = if shift <= 0 {
            (v.mag << (-shift) as u32, false)
        } else if shift >= 128 {
            // Every bit is below the rounding point; v < 2^(e_eff-p) ≤ half an ulp.
            (0, false)
        } else {
            let s = shift as u32;
            let q = v.mag >> s;
            let rem = v.mag & ((1u128 << s) - 1);
            let half = 1u128 << (s - 1);
            (q, rne && (rem > half || (rem == half && q & 1 == 1)))
        };
        if round_up {
            q += 1;
        }
        let mut e_out = e_eff;
        if q == 1u128 << p {
            q >>= 1;
            e_out += 1;
        }
        if e_out > emax {
            return sign | self.inf(false);
        }
        let hidden = 1u128 << (p - 1);
        let (field_e, frac) = if q >= hidden {
            ((e_out + bias) as u32, (q - hidden) as u32)
        } else {
            (0, q as u32)
        };
        match self {
            Rounding::RzE8M13 => sign | field_e << 23 | frac << 10,
            Rounding::RneFp16 => sign | field_e << 10 | frac,
            _ => sign | field_e << 23 | frac,
        }
    }
}

/// Exact sum of two dyadic values, for rounding into a format of at most 24 bits.
///
/// When the span of the two would not fit 128 bits, the bits of the smaller one that lie more
/// than 64 places below the larger one's leading bit are folded into a sticky unit. No
/// rounding boundary of a ≤ 24-bit format (nor a midpoint) can lie strictly inside the
/// replaced interval, so the rounded result is the same as for the exact sum.
pub fn add_exact(x: Dyadic, y: Dyadic) -> Dyadic {
    if x.mag == 0 {
        return if y.mag == 0 {
            Dyadic {
                neg: x.neg && y.neg,
                mag: 0,
                exp: 0,
            }
        } else {
            y
        };
    }
    if y.mag == 0 {
        return x;
    }
    let (hi, lo) = if top(x) >= top(y) { (x, y) } else { (y, x) };
    let mut base = hi.exp.min(lo.exp);
    let mut lo_mag = lo.mag;
    let mut lo_exp = lo.exp;
    let cut = hi.exp.min(top(hi) - 64);
    if top(hi) - base > 124 && lo.exp < cut {
        // Cut `lo` at `cut`, far below any unit the larger value's rounding can see.
        let drop = cut - lo.exp;
        let kept = if drop >= 128 {
            0
        } else {
            lo.mag >> drop as u32
        };
        let sticky = drop >= 128 || kept << drop as u32 != lo.mag;
        lo_mag = (kept << 1) | u128::from(sticky);
        lo_exp = cut - 1;
        base = hi.exp.min(lo_exp);
    }
    let hm = hi.mag << (hi.exp - base) as u32;
    let lm = lo_mag << (lo_exp - base) as u32;
    if hi.neg == lo.neg {
        Dyadic {
            neg: hi.neg,
            mag: hm + lm,
            exp: base,
        }
    } else if hm >= lm {
        let mag = hm - lm;
        // An exact cancellation is +0 under round-to-nearest.
        Dyadic {
            neg: hi.neg && mag != 0,
            mag,
            exp: base,
        }
    } else {
        Dyadic {
            neg: lo.neg,
            mag: lm - hm,
            exp: base,
        }
    }
}

/// Exponent of the leading bit (an upper bound used for ordering).
fn top(d: Dyadic) -> i32 {
    128 - d.mag.leading_zeros() as i32 + d.exp
}

/// FP32 value classes for the CUDA-core arithmetic of the SFP4 pipelines.
fn f32_val(bits: u32) -> Val {
    Format::F32.decode(bits)
}

fn fin_dy(f: Fin) -> Dyadic {
    Dyadic {
        neg: f.neg,
        mag: u128::from(f.mag),
        exp: f.exp,
    }
}

/// `fmaf(a, b, c)` with round-to-nearest-even, in integers (IEEE 754 semantics; NaN results
/// are the canonical 0x7FFFFFFF).
pub fn fma_f32(a: u32, b: u32, c: u32) -> u32 {
    let (va, vb, vc) = (f32_val(a), f32_val(b), f32_val(c));
    // Product class first.
    let prod: Val = match (va, vb) {
        (Val::Nan, _) | (_, Val::Nan) => Val::Nan,
        (Val::Inf { neg: n1 }, Val::Inf { neg: n2 }) => Val::Inf { neg: n1 != n2 },
        (Val::Inf { neg: n1 }, Val::Fin(f)) | (Val::Fin(f), Val::Inf { neg: n1 }) => {
            if f.mag == 0 {
                Val::Nan
            } else {
                Val::Inf { neg: n1 != f.neg }
            }
        }
        (Val::Fin(x), Val::Fin(y)) => Val::Fin(Fin {
            neg: x.neg != y.neg,
            mag: x.mag * y.mag,
            exp: x.exp + y.exp,
            fexp: 0,
        }),
    };
    match (prod, vc) {
        (Val::Nan, _) | (_, Val::Nan) => 0x7FFF_FFFF,
        (Val::Inf { neg: n1 }, Val::Inf { neg: n2 }) if n1 != n2 => 0x7FFF_FFFF,
        (Val::Inf { neg }, _) | (_, Val::Inf { neg }) => Rounding::RneFp32.inf(neg),
        (Val::Fin(p), Val::Fin(cc)) => Rounding::RneFp32.round(add_exact(fin_dy(p), fin_dy(cc))),
    }
}

/// `a + b` in FP32 with round-to-nearest-even.
pub fn add_f32(a: u32, b: u32) -> u32 {
    fma_f32(a, 0x3F80_0000, b)
}

/// `a + b` in FP16 with round-to-nearest-even (IEEE 754; a NaN result is the canonical
/// 0x7FFF of the f16 outputs), as an `HADD`: the exact sum rounded once.
pub fn add_f16(a: u32, b: u32) -> u32 {
    let r = Rounding::RneFp16;
    match (Format::F16.decode(a), Format::F16.decode(b)) {
        (Val::Nan, _) | (_, Val::Nan) => r.nan(),
        (Val::Inf { neg: n1 }, Val::Inf { neg: n2 }) if n1 != n2 => r.nan(),
        (Val::Inf { neg }, _) | (_, Val::Inf { neg }) => r.inf(neg),
        (Val::Fin(x), Val::Fin(y)) => r.round(add_exact(fin_dy(x), fin_dy(y))),
    }
}

/// `a · b` in FP32 with round-to-nearest-even.
pub fn mul_f32(a: u32, b: u32) -> u32 {
    // −0 as the addend keeps the product's sign for zero products (x·y + (−0) = x·y).
    fma_f32(a, b, 0x8000_0000)
}

/// Whether an FP32 bit pattern is a NaN.
pub fn is_nan_f32(bits: u32) -> bool {
    bits & 0x7F80_0000 == 0x7F80_0000 && bits & 0x007F_FFFF != 0
}

/// Whether an FP16 bit pattern is a NaN.
pub fn is_nan_f16(bits: u32) -> bool {
    bits & 0x7C00 == 0x7C00 && bits & 0x03FF != 0
}

/// The exact value of a finite FP32 bit pattern, or `None` for Inf/NaN.
pub fn f32_exact(bits: u32) -> Option<Dyadic> {
    match f32_val(bits) {
        Val::Fin(f) => Some(fin_dy(f)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `add_f16` against IEEE binary16 sums computed by hand: exact sums, a tie to even,
    /// overflow to Inf, Inf - Inf = NaN, and the sign of an exact zero sum.
    #[test]
    fn add_f16_is_one_rounding_of_the_exact_sum() {
        assert_eq!(add_f16(0x3C00, 0x3C00), 0x4000); // 1 + 1 = 2
                                                     // 2048 + 1 = 2049 is a tie between 2048 and 2050 (f16 spacing 2): even mantissa 2048.
        assert_eq!(add_f16(0x6800, 0x3C00), 0x6800);
        // 2050 + 1 = 2051, tie between 2050 (odd mantissa) and 2052: rounds up to 2052.
        assert_eq!(add_f16(0x6801, 0x3C00), 0x6802);
        assert_eq!(add_f16(0x7BFF, 0x7BFF), 0x7C00); // 65504 + 65504 overflows to +Inf
        assert_eq!(add_f16(0x7C00, 0xFC00), 0x7FFF); // Inf - Inf: the canonical NaN
        assert_eq!(add_f16(0x3C00, 0xBC00), 0x0000); // 1 - 1 = +0 under RNE
        assert_eq!(add_f16(0x8000, 0x8000), 0x8000); // -0 + -0 = -0
    }

    #[test]
    fn decode_e2m1_table() {
        // Magnitudes by code 0..7: 0, 0.5, 1, 1.5, 2, 3, 4, 6 (in units of 2^-1: 0..12).
        let want = [0, 1, 2, 3, 4, 6, 8, 12];
        for (code, w) in want.iter().enumerate() {
            let Val::Fin(f) = Format::E2M1.decode(code as u32) else {
                panic!("finite")
            };
            assert_eq!(f.mag << (f.exp + 1) as u32, *w, "code {code}");
        }
    }

    #[test]
    fn rounding_basics() {
        // 1 + 2^-24 + 2^-30 rounds up under RNE, truncates under RZ.
        let v = Dyadic {
            neg: false,
            mag: (1 << 30) + (1 << 6) + 1,
            exp: -30,
        };
        assert_eq!(Rounding::RneFp32.round(v), 0x3F80_0001);
        assert_eq!(Rounding::RzFp32.round(v), 0x3F80_0000);
        // Smallest subnormal, and overflow to Inf under RZ.
        assert_eq!(
            Rounding::RzFp32.round(Dyadic {
                neg: true,
                mag: 1,
                exp: -149
            }),
            0x8000_0001
        );
        assert_eq!(
            Rounding::RzFp32.round(Dyadic {
                neg: false,
                mag: 1,
                exp: 128
            }),
            0x7F80_0000
        );
        assert_eq!(
            Rounding::RneFp16.round(Dyadic {
                neg: false,
                mag: 65520,
                exp: 0
            }),
            0x7C00
        );
        assert_eq!(
            Rounding::RneFp16.round(Dyadic {
                neg: false,
                mag: 65519,
                exp: 0
            }),
            0x7BFF
        );
    }
}
