//! The portable tier, and the group loops every tier shares. SIMD tiers replace only the
//! per-element inner loops (`ElementKernel`, `DecodeKernel`); the per-group scalar work (scale
//! code, thresholds, grid selection) is the same code for all tiers.

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
    /// `p` = s · t > 0, the exact scale product.
    fn codes(grid: &GridPlan, p: f64, x: &[f32], dec: Option<&[u32; 16]>, out: &mut [u8]) -> f64;
}

/// Plain Rust element search.
pub(crate) struct PortableElements;

impl ElementKernel for PortableElements {
    // Always inlined, so the AVX2 instantiation (`x86::quantize_avx2`) compiles it with AVX2.
    #[inline(always)]
    fn codes(grid: &GridPlan, p: f64, x: &[f32], dec: Option<&[u32; 16]>, out: &mut [u8]) -> f64 {
        let thr = element_thresholds(grid, p);
        portable_codes(grid, &thr, x, out);
        dec.map_or(0.0, |d| sse_any_order(x, out, d))
    }
}

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

/// Relative margin under which two scores count as "too close to call". Each score is a sum
/// of n ≤ 4096 non-negative terms d², where d = x − dec is rounded once and d² once: each
/// term carries a relative error ≤ 3u, and any summation order adds ≤ (n−1)u (u = 2^-53), so
/// both the oracle's sum and ours lie within ε = (n + 2)u ≤ 2^-40.9 of the exact sum. If ours
/// differ by more than 4ε·max, the oracle's differ in the same direction (and are not equal).
/// 2^-36 leaves a wide berth.
const MARGIN: f64 = 1.0 / (1u64 << 36) as f64;

/// Pick the grid as the oracle does (smallest score, exact ties to the lowest index), from
/// scores summed in any order; when two scores are too close to call, re-score those grids
/// in the oracle's order.
pub(crate) fn select(approx: &[f64], x: &[f32], codes: &[[u8; 4096]], decs: &[[u32; 16]]) -> usize {
    let n = approx.len();
    let mut best = 0usize;
    for g in 1..n {
        if approx[g] < approx[best] {
            best = g;
        }
    }
    let clear = (0..n).all(|g| {
        g == best || {
            let (a, b) = (approx[best], approx[g]);
            // b must be clearly above a; NaN or Inf anywhere is never clear.
            (b - a) > MARGIN * a.max(b) && b.is_finite()
        }
    });
    if clear {
        return best;
    }
    let len = x.len();
    let mut best = 0usize;
    let mut best_sse = sse_in_order(x, &codes[0][..len], &decs[0]);
    for g in 1..n {
        let s = sse_in_order(x, &codes[g][..len], &decs[g]);
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

/// Largest magnitude of a group, as f32 bits (inputs are finite, so bits order as values).
#[inline]
pub(crate) fn amax_bits(x: &[f32]) -> u32 {
    x.iter().fold(0u32, |m, v| m.max(v.to_bits() & 0x7fff_ffff))
}

/// Quantize whole groups. `x` holds the groups; `codes` their packed bytes (the group size
/// is even, so groups start on byte boundaries); one scale (1 or 4 bytes) and one grid index
/// per group.
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
    for (g, xs) in x.chunks_exact(group).enumerate() {
        let amax = amax_bits(xs);
        let mut stored = [0u32; MAX_GRIDS];
        for (gi, gp) in plan.grids.iter().enumerate() {
            let code = plan.scale_code(gp, amax);
            stored[gi] = code | gp.selector_bits;
            let s = plan.scale_value(stored[gi]);
            let p = s * plan.t;
            let out = &mut scratch.codes[gi][..group];
            let dec = if multi {
                scratch.decs[gi] = group_table(&gp.values, s, plan.t, Output::F32);
                Some(&scratch.decs[gi])
            } else {
                None
            };
            scratch.approx[gi] = if p == 0.0 {
                for (slot, &v) in out.iter_mut().zip(xs) {
                    *slot = gp.zero_codes[v.is_sign_negative() as usize];
                }
                dec.map_or(0.0, |d| sse_any_order(xs, out, d))
            } else {
                K::codes(gp, p, xs, dec, out)
            };
        }
        let best = if multi {
            select(&scratch.approx, xs, &scratch.codes, &scratch.decs)
        } else {
            0
        };
        pack(
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
