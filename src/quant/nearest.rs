//! Exact nearest-value search on a grid: which code is closest to x / P, where P is the exact
//! product of the block scale and the tensor scale, with the grid's tie rule at exact
//! midpoints. Implemented by comparing x against midpoint·P with integer arithmetic, so no
//! division and no rounding is involved.

use core::cmp::Ordering;

use super::exact::Exact;
use crate::format::{Grid, Ties};

/// One grid prepared for search: its distinct valid values in ascending order, with the code
/// chosen for each, and the exact midpoints between neighbours.
#[derive(Clone, Debug)]
pub struct PreparedGrid {
    /// (value, code), ascending by value. For sign-magnitude grids only codes 0..7.
    pub points: Vec<(Exact, u8)>,
    /// Exact midpoints between adjacent values, ascending.
    pub midpoints: Vec<Exact>,
    /// The grid's tie rule.
    pub ties: Ties,
    /// Search on magnitudes and keep the input's sign (E2M1-like grids).
    pub sign_magnitude: bool,
}

impl PreparedGrid {
    /// Prepare a grid: sort its valid values and compute their midpoints exactly.
    pub fn new(grid: &Grid) -> PreparedGrid {
        let codes: Vec<u8> = if grid.sign_magnitude {
            (0..8).collect()
        } else {
            (0..16).collect()
        };
        let mut points: Vec<(Exact, u8)> = Vec::new();
        for code in codes {
            if !grid.is_valid(code) {
                continue;
            }
            let v = Exact::of_f32(grid.value(code));
            // Codes with equal values (+0/-0, or E2M1+c's two images of 0): keep the lowest
            // code, so a search result is always the canonical one.
            if points
                .iter()
                .any(|(p, _)| p.cmp_value(&v) == Ordering::Equal)
            {
                continue;
            }
            points.push((v, code));
        }
        points.sort_by(|a, b| a.0.cmp_value(&b.0));
        let midpoints = points
            .windows(2)
            .map(|w| Exact::midpoint(w[0].0, w[1].0))
            .collect();
        PreparedGrid {
            points,
            midpoints,
            ties: grid.ties,
            sign_magnitude: grid.sign_magnitude,
        }
    }

    /// Largest and smallest values.
    pub fn max_value(&self) -> Exact {
        self.points.last().map(|p| p.0).unwrap_or(Exact::ZERO)
    }

    /// The code nearest to x / p (p > 0), by this grid's tie rule. Values beyond the ends
    /// saturate to the end values.
    pub fn nearest(&self, x: Exact, p: Exact) -> u8 {
        if self.sign_magnitude {
            let code = self.nearest_signed(x.abs(), p);
            return if x.negative { code | 8 } else { code };
        }
        self.nearest_signed(x, p)
    }

    fn nearest_signed(&self, x: Exact, p: Exact) -> u8 {
        // Linear scan: 15 comparisons at most; the reference path favours plainness.
        for (k, mid) in self.midpoints.iter().enumerate() {
            let boundary = mid.mul(p);
            match x.cmp_value(&boundary) {
                Ordering::Less => return self.points[k].1,
                Ordering::Equal => return self.tie(k),
                Ordering::Greater => {}
            }
        }
        self.points.last().map(|p| p.1).unwrap_or(0)
    }

    /// Resolve an exact tie between points k and k+1.
    fn tie(&self, k: usize) -> u8 {
        let (lo, lo_code) = self.points[k];
        let (hi, hi_code) = self.points[k + 1];
        match self.ties {
            Ties::EvenCode => {
                if lo_code & 1 == 0 {
                    lo_code
                } else if hi_code & 1 == 0 {
                    hi_code
                } else {
                    lo_code.min(hi_code)
                }
            }
            Ties::LowerIndex => lo_code.min(hi_code),
            Ties::TowardZero => {
                if lo.cmp_magnitude(&hi) == Ordering::Less {
                    lo_code
                } else {
                    hi_code
                }
            }
            Ties::AwayFromZero => {
                if lo.cmp_magnitude(&hi) == Ordering::Greater {
                    lo_code
                } else {
                    hi_code
                }
            }
        }
    }
}
