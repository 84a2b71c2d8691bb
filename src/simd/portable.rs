//! The portable tier, and the group loops the tiers share. Through these loops the SIMD tiers
//! replace only the per-element inner loops (`ElementKernel`, `DecodeKernel`), and the
//! per-group scalar work (scale code, thresholds, grid selection) is this code for all tiers;
//! the one exception is the AVX2 block kernel (`avx2_quant.rs`), which does the per-group work
//! in vectors too, from the same plan, tables and choice rule (`ScoreBound`).

use crate::decode::Output;
use crate::format::MAX_GRIDS;

use super::plan::{element_thresholds, group_table, DecodePlan, GridPlan, QuantPlan};

/// The inner loop of decode: `out[j] = table[code of element first + j]`.
pub(crate) trait DecodeKernel {
    /// Decode whole groups `g0..g0 + out.len() / group`; `Err(())` on any invalid selector or
    /// code (the caller re-runs the oracle to report it).
    fn decode_groups(
        plan: &DecodePlan,
        codes: &[u8],
        scales: &[u8],
        g0: usize,
        out: &mut [u32],
    ) -> Result<(), ()>;
}

/// Plain Rust decode.
pub(crate) struct PortableDecode;

use crate::decode::nibble_at as code_at;

/// Decode elements `first..first + out.len()` whose groups are valid, group by group.
#[inline]
pub(crate) fn decode_span(
    plan: &DecodePlan,
    codes: &[u8],
    scales: &[u8],
    first: usize,
    out: &mut [u32],
) -> Result<(), ()> {
    let group = plan.format.group_size as usize;
    let high = plan.format.high_nibble_first;
    let mut i = first;
    let mut rest = out;
    while !rest.is_empty() {
        let g = i / group;
        let in_group = (group - i % group).min(rest.len());
        let (grid, table) = plan
            .group_values(scales, g, |values, s| {
                group_table(values, s, plan.t, plan.output)
            })
            .ok_or(())?;
        let valid = plan.valid[grid];
        let (now, later) = rest.split_at_mut(in_group);
        for (j, slot) in now.iter_mut().enumerate() {
            let c = code_at(high, codes, i + j);
            if valid & (1 << c) == 0 {
                return Err(());
            }
            *slot = table[c as usize];
        }
        i += in_group;
        rest = later;
    }
    Ok(())
}

impl DecodeKernel for PortableDecode {
    fn decode_groups(
        plan: &DecodePlan,
        codes: &[u8],
        scales: &[u8],
        g0: usize,
        out: &mut [u32],
    ) -> Result<(), ()> {
        decode_span(
            plan,
            codes,
            scales,
            g0 * plan.format.group_size as usize,
            out,
        )
    }
}

/// The inner loop of quantize for one grid of one group: the point index of every element
/// (count of thresholds ≤ x, magnitudes for sign-magnitude grids), mapped to codes, and, when
/// `dec` is given, the sum of squared errors against the decoded f32 values, in any order.
pub(crate) trait ElementKernel {
    /// Unit roundoff of the arithmetic the score is summed in (2^-53 for f64, 2^-24 for
    /// f32): `select` derives its "too close to call" margin from it.
    const SCORE_UNIT: f64;
    /// `element_thresholds(grid, p)`, for a kernel that computes them faster.
    #[inline(always)]
    fn thresholds(grid: &GridPlan, p: f64) -> [f32; 16] {
        element_thresholds(grid, p)
    }
    /// `portable::pack`, for a kernel that packs faster.
    #[inline(always)]
    fn pack(high_first: bool, codes: &[u8], out: &mut [u8]) {
        pack(high_first, codes, out)
    }
    /// `thr`: `element_thresholds` of the group's exact scale product (P > 0).
    fn codes(
        grid: &GridPlan,
        thr: &[f32; 16],
        x: &[f32],
        dec: Option<&[u32; 16]>,
        out: &mut [u8],
    ) -> f64;
}

/// Plain Rust element search.
pub(crate) struct PortableElements;

impl ElementKernel for PortableElements {
    const SCORE_UNIT: f64 = F64_UNIT;
    // Always inlined, so the AVX2 instantiation (`x86::quantize_avx2`) compiles it with AVX2.
    #[inline(always)]
    fn codes(
        grid: &GridPlan,
        thr: &[f32; 16],
        x: &[f32],
        dec: Option<&[u32; 16]>,
        out: &mut [u8],
    ) -> f64 {
        portable_codes(grid, thr, x, out);
        dec.map_or(0.0, |d| sse_any_order(x, out, d))
    }
}

/// Unit roundoff of f64 (2^-53).
pub(crate) const F64_UNIT: f64 = f64::EPSILON / 2.0;

#[inline(always)]
pub(crate) fn portable_codes(grid: &GridPlan, thr: &[f32; 16], x: &[f32], out: &mut [u8]) {
    let n = grid.n_mids;
    for (slot, &v) in out.iter_mut().zip(x) {
        let m = if grid.sign_magnitude { v.abs() } else { v };
        let mut idx = 0usize;
        for &t in &thr[..n] {
            idx += (m >= t) as usize;
        }
        let code = grid.point_codes[idx];
        *slot = if grid.sign_magnitude && v.is_sign_negative() {
            code | 8
        } else {
            code
        };
    }
}

/// Sum of squared errors in element order, exactly as the oracle's `finish_group`.
#[inline]
pub(crate) fn sse_in_order(x: &[f32], codes: &[u8], dec: &[u32; 16]) -> f64 {
    let mut sse = 0f64;
    for (&v, &c) in x.iter().zip(codes) {
        let d = v as f64 - f32::from_bits(dec[c as usize & 15]) as f64;
        sse += d * d;
    }
    sse
}

/// The same sum with four accumulators (a different order; see `select`).
#[inline(always)]
pub(crate) fn sse_any_order(x: &[f32], codes: &[u8], dec: &[u32; 16]) -> f64 {
    let mut acc = [0f64; 4];
    for (k, (&v, &c)) in x.iter().zip(codes).enumerate() {
        let d = v as f64 - f32::from_bits(dec[c as usize & 15]) as f64;
        acc[k & 3] += d * d;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// When two approximate scores are too close to call. Each score is a sum of n non-negative
/// terms d², d = x − dec. Summed in a format of unit roundoff u, in any order, with d and d²
/// (or an FMA) rounded once each: the result lies within (n + 2)·u·S of the exact sum S
/// (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., §3.1 and §4.2),
/// plus, where terms fall below the format's normal range, at most 2^-149 (f32) per rounding
/// (a subtraction of two floats is exact when its result is subnormal, so only the squares
/// and sums can lose, each by half a subnormal quantum). The oracle's own f64 sum obeys the
/// same bound with u = 2^-53. If two approximate scores differ by more than 16(n + 2)u times
/// the larger, plus 16n·2^-149, the exact sums and the oracle's sums are ordered the same way
/// and are not equal; otherwise the grids are re-scored in the oracle's order. A factor of 4
/// would suffice; 16 leaves a wide berth at a negligible cost in re-scores.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScoreBound {
    rel: f64,
    abs: f64,
}

impl ScoreBound {
    /// The bound for groups of `n` elements summed at unit roundoff `unit`.
    pub fn new(n: usize, unit: f64) -> ScoreBound {
        ScoreBound {
            rel: 16.0 * (n as f64 + 2.0) * unit,
            abs: 16.0 * n as f64 * f32::from_bits(1) as f64,
        }
    }

    /// The relative and absolute parts of the margin (for vector versions of the test).
    pub(crate) fn parts(self) -> (f64, f64) {
        (self.rel, self.abs)
    }

    /// Whether `b` is clearly above `a` (never for NaN or Inf).
    #[inline(always)]
    fn clearly_above(self, a: f64, b: f64) -> bool {
        b.is_finite() & ((b - a) > self.rel * a.max(b) + self.abs)
    }
}

/// Pick the grid as the oracle does (smallest score, exact ties to the lowest index), from
/// scores summed in any order; when two scores are too close to call (`ScoreBound`), re-score
/// those grids in the oracle's order.
#[inline(always)]
pub(crate) fn select(
    bound: ScoreBound,
    approx: &[f64],
    x: &[f32],
    codes: &[[u8; 4096]],
    decs: &[[u32; 16]],
) -> usize {
    // Branch-free (selects and `&`, no short-circuit): which grid wins is data-dependent and
    // would mispredict on most groups.
    let n = approx.len();
    let (mut best, mut low) = (0usize, approx[0]);
    for (g, &a) in approx.iter().enumerate().skip(1) {
        let lt = a < low;
        best = if lt { g } else { best };
        low = if lt { a } else { low };
    }
    let mut clear = true;
    for (g, &a) in approx.iter().enumerate() {
        clear &= (g == best) | bound.clearly_above(low, a);
    }
    if clear {
        return best;
    }
    let len = x.len();
    lowest_in_order(n, |g| sse_in_order(x, &codes[g][..len], &decs[g]))
}

/// The oracle's choice among `n` grids from its own scores, `score(g)` summed in the oracle's
/// order (`sse_in_order`): the lowest, exact ties to the lower index.
#[inline]
pub(crate) fn lowest_in_order(n: usize, mut score: impl FnMut(usize) -> f64) -> usize {
    let (mut best, mut best_sse) = (0usize, score(0));
    for g in 1..n {
        let s = score(g);
        if s < best_sse {
            best = g;
            best_sse = s;
        }
    }
    best
}

/// Per-thread scratch for quantize: unpacked codes and decode tables per grid.
pub(crate) struct Scratch {
    pub codes: Vec<[u8; 4096]>,
    pub decs: Vec<[u32; 16]>,
    pub approx: Vec<f64>,
}

impl Scratch {
    pub fn new(grids: usize) -> Scratch {
        Scratch {
            codes: vec![[0u8; 4096]; grids.min(MAX_GRIDS)],
            decs: vec![[0u32; 16]; grids.min(MAX_GRIDS)],
            approx: vec![0.0; grids.min(MAX_GRIDS)],
        }
    }
}

/// The largest magnitude bits of `x` (sign cleared): for finite inputs the bits order as the
/// values, so this is the amax's bits; any NaN or Inf makes it ≥ `0x7f80_0000`.
#[inline]
pub(crate) fn amax_bits(x: &[f32]) -> u32 {
    x.iter().fold(0u32, |m, v| m.max(v.to_bits() & 0x7fff_ffff))
}

/// Quantize whole groups. `x` holds the groups; `codes` their packed bytes (the group size
/// is even, so groups start on byte boundaries); one scale (1 or 4 bytes) and one grid index
/// per group. Per group and grid: the scale code, then the element thresholds and (multi-grid)
/// decoded values of that code — from the plan's per-code tables on large calls, computed
/// here otherwise, with the same functions — then the element kernel, then the grid choice.
#[inline(always)]
pub(crate) fn quantize_groups<K: ElementKernel>(
    plan: &QuantPlan,
    x: &[f32],
    codes: &mut [u8],
    scales: &mut [u8],
    grid_of_group: &mut [u8],
) {
    let f = &plan.format;
    let group = f.group_size as usize;
    let multi = plan.grids.len() > 1;
    let mut scratch = Scratch::new(plan.grids.len());
    let scale_bytes = f.scale_bytes as usize;
    let tables = plan.code_tables(x.len() / group);
    let bound = ScoreBound::new(group, K::SCORE_UNIT);
    let mut local_thr = [0f32; 16];
    for (g, xs) in x.chunks_exact(group).enumerate() {
        let amax = amax_bits(xs);
        let mut stored = [0u32; MAX_GRIDS];
        for (gi, gp) in plan.grids.iter().enumerate() {
            let code = plan.scale_code(gp, amax);
            stored[gi] = code | gp.selector_bits;
            let s = plan.scale_value(stored[gi]);
            let p = s * plan.t;
            let out = &mut scratch.codes[gi][..group];
            let thr = match tables {
                Some(t) => {
                    if multi {
                        scratch.decs[gi] = t.dec[gi][code as usize];
                    }
                    &t.thr[gi][code as usize]
                }
                None => {
                    if multi {
                        scratch.decs[gi] = group_table(&gp.values, s, plan.t, Output::F32);
                    }
                    if p != 0.0 {
                        local_thr = K::thresholds(gp, p);
                    }
                    &local_thr
                }
            };
            let dec = multi.then_some(&scratch.decs[gi]);
            scratch.approx[gi] = if p == 0.0 {
                for (slot, &v) in out.iter_mut().zip(xs) {
                    *slot = gp.zero_codes[v.is_sign_negative() as usize];
                }
                dec.map_or(0.0, |d| sse_any_order(xs, out, d))
            } else {
                K::codes(gp, thr, xs, dec, out)
            };
        }
        let best = if multi {
            select(bound, &scratch.approx, xs, &scratch.codes, &scratch.decs)
        } else {
            0
        };
        K::pack(
            f.high_nibble_first,
            &scratch.codes[best][..group],
            &mut codes[g * group / 2..(g + 1) * group / 2],
        );
        if scale_bytes == 4 {
            scales[4 * g..4 * g + 4].copy_from_slice(&stored[best].to_le_bytes());
        } else {
            scales[g] = stored[best] as u8;
        }
        grid_of_group[g] = best as u8;
    }
}

/// Pack unpacked codes (even count) into bytes in the format's nibble order.
#[inline]
pub(crate) fn pack(high_first: bool, codes: &[u8], out: &mut [u8]) {
    for (byte, pair) in out.iter_mut().zip(codes.chunks_exact(2)) {
        *byte = if high_first {
            (pair[0] << 4) | (pair[1] & 15)
        } else {
            (pair[0] & 15) | (pair[1] << 4)
        };
    }
}
