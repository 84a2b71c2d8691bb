//! The fused dot-product-add models of MMA-Sim 2.1.1, in integer arithmetic.
//!
//! * **T-FDPA** (`mmasim/arithmetic/fdpa.py::t_fdpa`): exact products; every term (products
//!   and C) aligned to the largest *frexp* exponent `E` among them (zeros carry `e_zero`);
//!   each term truncated toward zero to `F` bits below `2^E`; an exact integer sum; one
//!   conversion `ρ`; `-0` becomes `+0`.
//! * **ST-FDPA** (`st_fdpa`): the same with one scale per operand folded into every product.
//! * **GST-FDPA** (`gst_fdpa`): products summed exactly per group of `G` elements, the group
//!   sum multiplied by the group's two scales; alignment uses only the scale exponents.
//!
//! The truncated term only depends on the term's exact value and on `E`:
//! `trunc(s_i · 2^(e_i − E + F)) = trunc(v_i · 2^(F − E))` because `v_i = s_i · 2^e_i`.
//! The per-term exponents `e_i` only matter through their maximum. That is what the code
//! below computes: an exact `v_i = ±mag · 2^exp` and an alignment exponent `e_i`.

use super::value::{Dyadic, Fin, Rounding, Val};

/// Parameters of one fused dot-product-add.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdpaParams {
    /// Fraction bits kept below `2^E` when aligning.
    pub f: u32,
    /// Output conversion.
    pub rho: Rounding,
    /// Exponent given to zero products and a zero C.
    pub e_zero: i32,
}

/// One aligned term: exact value `±mag · 2^exp`, alignment exponent `e`.
#[derive(Clone, Copy, Debug)]
struct Term {
    neg: bool,
    mag: u64,
    exp: i32,
    e: i32,
}

/// Special-value summary of the inputs of one FDPA.
#[derive(Default)]
struct Specials {
    nan: bool,
    pos_inf: bool,
    neg_inf: bool,
}

impl Specials {
    fn inf(&mut self, neg: bool) {
        if neg {
            self.neg_inf = true;
        } else {
            self.pos_inf = true;
        }
    }

    /// The special result, if any (NaN wins, then +Inf with −Inf is NaN, then ±Inf).
    fn result(&self, rho: Rounding) -> Option<u32> {
        if self.nan || (self.pos_inf && self.neg_inf) {
            Some(rho.nan())
        } else if self.pos_inf || self.neg_inf {
            Some(rho.inf(self.neg_inf))
        } else {
            None
        }
    }
}

/// Multiplies a list of decoded factors: `None` result means a special (recorded in `sp`).
fn product(factors: &[Val], sp: &mut Specials) -> Option<Fin> {
    let mut neg = false;
    let mut mag: u64 = 1;
    let mut exp = 0i32;
    let mut fexp = 0i32;
    let mut inf = false;
    let mut zero = false;
    for v in factors {
        match *v {
            Val::Nan => {
                sp.nan = true;
                return None;
            }
            Val::Inf { neg: n } => {
                inf = true;
                neg ^= n;
            }
            Val::Fin(f) => {
                neg ^= f.neg;
                if f.mag == 0 {
                    zero = true;
                }
                mag = mag.saturating_mul(f.mag);
                exp += f.exp;
                fexp += f.fexp;
            }
        }
    }
    if inf {
        if zero {
            sp.nan = true;
        } else {
            sp.inf(neg);
        }
        return None;
    }
    Some(Fin {
        neg,
        mag,
        exp,
        fexp,
    })
}

/// The C term: value, alignment exponent (`e_zero` for a zero C).
fn c_term(c: Val, e_zero: i32, sp: &mut Specials) -> Option<Term> {
    match c {
        Val::Nan => {
            sp.nan = true;
            None
        }
        Val::Inf { neg } => {
            sp.inf(neg);
            None
        }
        Val::Fin(f) => Some(Term {
            neg: f.neg,
            mag: f.mag,
            exp: f.exp,
            e: if f.mag == 0 { e_zero } else { f.fexp },
        }),
    }
}

/// Aligns, truncates, sums and converts. `terms` must be non-empty.
fn fused_sum(terms: &[Term], p: &FdpaParams) -> u32 {
    let e_max = terms.iter().map(|t| t.e).max().unwrap_or(p.e_zero);
    let unit = e_max - p.f as i32; // the sum is in units of 2^(E − F)
    let mut sum: i128 = 0;
    for t in terms {
        if t.mag == 0 {
            continue;
        }
        let sh = t.exp - unit;
        let m: i128 = if sh >= 0 {
            // sh ≤ F + a few bits: the term's leading bit sits at or below 2^(E+2).
            i128::from(t.mag) << sh as u32
        } else if sh <= -64 {
            0
        } else {
            i128::from(t.mag >> (-sh) as u32)
        };
        sum += if t.neg { -m } else { m };
    }
    let v = Dyadic {
        neg: sum < 0,
        mag: sum.unsigned_abs(),
        exp: unit,
    };
    let bits = p.rho.round(v);
    // "+ 0.0": a zero result (exact, or underflowed by RNE-FP16) is +0 whatever the signs.
    let sign = if p.rho.is_f16() { 0x8000 } else { 0x8000_0000 };
    if bits & !sign == 0 {
        0
    } else {
        bits
    }
}

/// T-FDPA: `ρ(Σ trunc_F(a_i·b_i) + trunc_F(c))` for one chunk (any length).
pub fn t_fdpa(a: &[Val], b: &[Val], c: Val, p: &FdpaParams) -> u32 {
    let mut sp = Specials::default();
    let mut terms = Vec::with_capacity(a.len() + 1);
    for (x, y) in a.iter().zip(b) {
        if let Some(f) = product(&[*x, *y], &mut sp) {
            terms.push(Term {
                neg: f.neg,
                mag: f.mag,
                exp: f.exp,
                e: if f.mag == 0 { p.e_zero } else { f.fexp },
            });
        }
    }
    if let Some(t) = c_term(c, p.e_zero, &mut sp) {
        terms.push(t);
    }
    if let Some(s) = sp.result(p.rho) {
        return s;
    }
    fused_sum(&terms, p)
}

/// ST-FDPA: every product carries the operand scales `alpha`, `beta` (one each per chunk).
pub fn st_fdpa(a: &[Val], b: &[Val], c: Val, alpha: Val, beta: Val, p: &FdpaParams) -> u32 {
    let mut sp = Specials::default();
    let mut terms = Vec::with_capacity(a.len() + 1);
    for (x, y) in a.iter().zip(b) {
        if let Some(f) = product(&[*x, *y, alpha, beta], &mut sp) {
            terms.push(Term {
                neg: f.neg,
                mag: f.mag,
                exp: f.exp,
                e: if f.mag == 0 { p.e_zero } else { f.fexp },
            });
        }
    }
    if let Some(t) = c_term(c, p.e_zero, &mut sp) {
        terms.push(t);
    }
    if let Some(s) = sp.result(p.rho) {
        return s;
    }
    fused_sum(&terms, p)
}

/// One group of GST-FDPA, given as the exact group sum of products.
#[derive(Clone, Copy, Debug)]
pub struct Group {
    /// Σ a_k·b_k · 4 (an integer for E2M1 operands).
    pub p4: i64,
    /// Whether every one of the group's products is zero (±0): then the group takes `e_zero`.
    pub all_zero: bool,
    /// Scale of A for this group.
    pub alpha: Val,
    /// Scale of B for this group.
    pub beta: Val,
}

/// GST-FDPA over groups whose product sums are already exact.
pub fn gst_fdpa(groups: &[Group], c: Val, p: &FdpaParams) -> u32 {
    let mut sp = Specials::default();
    let mut terms = Vec::with_capacity(groups.len() + 1);
    for g in groups {
        let (sa, sb) = match (g.alpha, g.beta) {
            (Val::Fin(x), Val::Fin(y)) => (x, y),
            // A NaN scale poisons the group even when its products are all zero (0·NaN).
            _ => {
                sp.nan = true;
                continue;
            }
        };
        let mag = g.p4.unsigned_abs() * sa.mag * sb.mag;
        let zero = g.all_zero || sa.mag * sb.mag == 0;
        terms.push(Term {
            neg: g.p4 < 0,
            mag,
            exp: sa.exp + sb.exp - 2,
            e: if zero { p.e_zero } else { sa.fexp + sb.fexp },
        });
    }
    if let Some(t) = c_term(c, p.e_zero, &mut sp) {
        terms.push(t);
    }
    if let Some(s) = sp.result(p.rho) {
        return s;
    }
    fused_sum(&terms, p)
}
