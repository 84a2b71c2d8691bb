//! Exact dyadic arithmetic for the reference quantizer: products, midpoints, comparisons and
//! correctly rounded quotients, all on integers.

use core::cmp::Ordering;

use crate::element::Magnitude;

/// `mantissa · 2^exponent`, with a sign. Mantissas stay below 2^100 in this crate's uses
/// (a 26-bit grid midpoint times a 24-bit scale times a 24-bit tensor scale).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exact {
    /// Sign (true for values below zero; zero is never negative).
    pub negative: bool,
    /// Magnitude's integer mantissa.
    pub mantissa: u128,
    /// Binary exponent: the magnitude is `mantissa · 2^exponent`.
    pub exponent: i32,
}

impl Exact {
    /// Zero.
    pub const ZERO: Exact = Exact {
        negative: false,
        mantissa: 0,
        exponent: 0,
    };
    /// One.
    pub const ONE: Exact = Exact {
        negative: false,
        mantissa: 1,
        exponent: 0,
    };

    /// Exact value of a finite f64 (and so of any f32).
    pub fn of_f64(x: f64) -> Exact {
        let m = Magnitude::of_f64(x.abs());
        // The sign of zero is kept: -0.0 quantizes to the negative zero code.
        Exact {
            negative: x.is_sign_negative(),
            mantissa: m.significand,
            exponent: m.exponent,
        }
        .trimmed()
    }

    /// The exact value of a finite f32.
    pub fn of_f32(x: f32) -> Exact {
        Exact::of_f64(x as f64)
    }

    fn trimmed(mut self) -> Exact {
        if self.mantissa == 0 {
            return Exact {
                negative: self.negative,
                ..Exact::ZERO
            };
        }
        let tz = self.mantissa.trailing_zeros();
        self.mantissa >>= tz;
        self.exponent += tz as i32;
        self
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// The magnitude.
    pub fn abs(self) -> Exact {
        Exact {
            negative: false,
            ..self
        }
    }

    /// Exact product. Mantissas are trimmed, so the widths add.
    // A plain method rather than `impl Mul`: call sites read as exact arithmetic, not f32.
    #[allow(clippy::should_implement_trait)]
    pub fn mul(self, other: Exact) -> Exact {
        Exact {
            negative: self.negative != other.negative,
            mantissa: self.mantissa * other.mantissa,
            exponent: self.exponent + other.exponent,
        }
        .trimmed()
    }

    /// Exact midpoint of two values whose exponents are close (adjacent grid values).
    pub fn midpoint(a: Exact, b: Exact) -> Exact {
        let e = a.exponent.min(b.exponent);
        let sa = (a.mantissa << (a.exponent - e) as u32) as i128 * if a.negative { -1 } else { 1 };
        let sb = (b.mantissa << (b.exponent - e) as u32) as i128 * if b.negative { -1 } else { 1 };
        let sum = sa + sb;
        Exact {
            negative: sum < 0,
            mantissa: sum.unsigned_abs(),
            exponent: e - 1,
        }
        .trimmed()
    }

    /// Position of the top bit plus one: the value lies in [2^(top-1), 2^top).
    fn top(&self) -> i64 {
        (128 - self.mantissa.leading_zeros()) as i64 + self.exponent as i64
    }

    /// Compare magnitudes exactly.
    pub fn cmp_magnitude(&self, other: &Exact) -> Ordering {
        match (self.is_zero(), other.is_zero()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        match self.top().cmp(&other.top()) {
            Ordering::Equal => {}
            unequal => return unequal,
        }
        // Same top bit: aligning shifts the one with the larger exponent left by at most the
        // other's width, so both fit in u128.
        if self.exponent >= other.exponent {
            (self.mantissa << (self.exponent - other.exponent) as u32).cmp(&other.mantissa)
        } else {
            self.mantissa
                .cmp(&(other.mantissa << (other.exponent - self.exponent) as u32))
        }
    }

    /// Compare signed values exactly.
    pub fn cmp_value(&self, other: &Exact) -> Ordering {
        let sa = !self.is_zero() && self.negative;
        let sb = !other.is_zero() && other.negative;
        match (sa, sb) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_magnitude(other),
            (true, true) => other.cmp_magnitude(self),
        }
    }
}

/// The exact quotient |num| / |den| as a magnitude with at least 66 significant bits and a
/// sticky bit, ready for a single correct rounding by `Element::encode_magnitude`.
pub fn quotient(num: Exact, den: Exact) -> Magnitude {
    if num.is_zero() || den.is_zero() {
        return Magnitude {
            significand: 0,
            exponent: 0,
            sticky: false,
        };
    }
    let num_bits = 128 - num.mantissa.leading_zeros() as i32;
    let den_bits = 128 - den.mantissa.leading_zeros() as i32;
    // Shift the numerator so it has den_bits + 66 bits (< 128 since den_bits <= 60 here).
    let shift = (den_bits + 66 - num_bits).max(0);
    let shift = shift.min(127 - num_bits);
    let n = num.mantissa << shift as u32;
    let q = n / den.mantissa;
    let r = n % den.mantissa;
    Magnitude {
        significand: q,
        exponent: num.exponent - shift - den.exponent,
        sticky: r != 0,
    }
}
