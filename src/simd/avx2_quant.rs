//! The AVX2 quantize kernel for formats with 1-byte scales and groups of whole rows of 16
//! elements (NVFP4, MXFP4 and every built-in multi-grid format), on calls large enough for the
//! per-scale-code tables (`plan::CodeTables`).
//!
//! Why a kernel of its own: at 16 elements per group, the per-group path
//! (`portable::quantize_groups` with `x86::Avx2Elements`) spends as much time between the
//! element loops as in them: a dependent chain per group (amax → scale code → table row →
//! compares → horizontal sum → choice), codes stored as 8-byte halves and re-read as one
//! 16-byte vector to pack them (a store-forwarding stall), and loop bodies too long for the
//! CPU to overlap two groups. Here the work of a block of groups (2048 values) runs in phases,
//! each a short loop whose iterations are independent:
//!
//! - A: the amax of every group, eight groups at a time (`vpmaxud` on the magnitude bits,
//!   then a transposing reduction that leaves group g's maximum in lane g: `amax8`), unless
//!   the caller's scan of a large input already computed them (`group_amax_bits`);
//! - B: per grid, every group's stored scale code: scalar `ScaleIndex::count` for RNE scales
//!   (one load and one compare for E4M3 and UE4M3 scales), eight at a time from the exponent
//!   field for floor-pow2 (`scale_codes8`); grids of one target share their codes;
//! - C: per grid, every group's element codes from its code's threshold row, counted in two
//!   levels (`count_rows`: three split thresholds, then the bucket's thresholds picked
//!   per lane by `vpermilps`; 16 operations per vector of 8 for 15 midpoints, 10 for 7), two
//!   groups of 16 interleaved so the CPU sees two independent chains; the counts mapped to
//!   codes (or, for a multi-grid format's grid whose point k is not code k, kept as point
//!   indices and mapped after packing, 64 nibbles per `vpshufb` pair), the sign OR'd in,
//!   packed to nibbles in registers (`vpackusdw`, `vpermq`, `vpackuswb`, `vpmaddubsw`), and,
//!   for multi-grid formats, the squared errors summed in f32 lanes; groups whose scale is
//!   zero take the oracle's zero codes (`GridPlan::zero_codes`, by the input's sign);
//! - D: eight groups' lane sums reduced at once (`vhaddps`), the grid chosen as
//!   `portable::select` chooses it, four groups per vector of f64 (`choose8`: the
//!   `ScoreBound` margin for f32 sums; a group too close to call is re-scored in the oracle's
//!   order from the codes just computed), the winners' codes blended per f64 lane and stored
//!   (groups of 16), their scale bytes and grid indices stored.
//!
//! A single-grid format's codes go from phase C straight to the output. Two grids that are
//! mirror images (`mirror`: SFP4's shifted grids) share one phase-C pass (`run_pair16`).
//!
//! Every value this kernel produces is the one the per-group path produces: the same
//! thresholds (`CodeTables`, built by the functions the per-group path calls), the same count,
//! the same zero codes, the same choice rule. `tests/simd_equal.rs` checks it against the
//! scalar oracle on adversarial inputs, every threshold at every scale code, and bisected near
//! ties of the grid choice.

use core::arch::x86_64::*;

use super::mirror::{MirrorPair, MirrorRow};
use super::plan::{GridPlan, QuantPlan};
use super::portable::{lowest_in_order, sse_in_order, ScoreBound};
use super::x86::{amax_bits_avx2, lookup16_avx2};
use crate::format::{Format, ScaleRounding, MAX_GRIDS};

/// Values per block: enough groups that every phase loop is long, few enough that a block's
/// intermediates stay in L1.
const BLOCK_VALUES: usize = 2048;
/// How far ahead (in f32s) the scans prefetch: a single-core scan of a tensor in DRAM measured
/// 1.1-1.2x faster with it (NVFP4 quantize of 4 Mi values; 512 to 2048 alike).
pub(super) const PREFETCH_AHEAD: usize = 1024;
/// From how many values a scan is taken to read memory rather than cache: the scans prefetch,
/// and `simd::quantize` moves phase A into its scan, only from here. Both cost in cache (64 Ki
/// values, in L2: NVFP4 -8% and -4%), are even at 2 and 8 MiB (L3), and gain out of it
/// (16 MiB, a fresh tensor each call: +10% each).
pub(crate) const LARGE_SCAN: usize = 1 << 20;
/// The largest group this kernel takes (a block must hold at least eight groups, for the
/// eight-at-once reduction of phase D).
const MAX_GROUP: usize = BLOCK_VALUES / 8;
const MAX_BLOCK_GROUPS: usize = BLOCK_VALUES / 16;
const MAX_BLOCK_ROWS: usize = BLOCK_VALUES / 16;

/// Whether the kernel takes a format (the caller also needs the plan's code tables).
pub(super) fn applies(format: &Format) -> bool {
    let group = format.group_size as usize;
    format.scale_bytes == 1
        && group.is_multiple_of(16)
        && (16..=MAX_GROUP).contains(&group)
        && (1..=MAX_GRIDS).contains(&format.grids.len())
}

/// Phase A ahead of time, for a caller that scans the input anyway (the tensor-amax pass of
/// `simd::quantize`, the finiteness check of `simd::quantize_chunk`): every whole group's
/// amax bits into `out` (`x.len() / group` of them, the same values phase A computes), and
/// the largest magnitude bits of all of `x`, as `x86::amax_bits_avx2` gives them. The scan is
/// memory-bound on large inputs, so the per-group maxima cost it little, and the kernel
/// then skips phase A (10-13% of its time on NVFP4).
#[target_feature(enable = "avx2,fma,f16c,bmi2")]
pub(super) fn group_amax_bits(x: &[f32], group: usize, out: &mut [u32]) -> u32 {
    group_amaxes::<true>(x, group, out)
}

/// `group_amax_bits`, the amax of all of `x` computed only when `MAX` (phase A needs only the
/// groups').
#[inline]
#[target_feature(enable = "avx2,fma,f16c,bmi2")]
fn group_amaxes<const MAX: bool>(x: &[f32], group: usize, out: &mut [u32]) -> u32 {
    let whole = x.len() / group;
    let out = &mut out[..whole];
    let eights = whole / 8 * 8;
    let mut all = _mm256_setzero_si256();
    let prefetch = x.len() >= LARGE_SCAN;
    for (slots, x8) in out[..eights]
        .chunks_exact_mut(8)
        .zip(x.chunks_exact(8 * group))
    {
        if prefetch {
            for line in 0..8 * group / 16 {
                // (A prefetch never faults, past the end of `x` included.)
                let ahead = x8.as_ptr().wrapping_add(PREFETCH_AHEAD + 16 * line);
                _mm_prefetch::<_MM_HINT_T0>(ahead.cast());
            }
        }
        let m = amax8(x8);
        if MAX {
            all = _mm256_max_epu32(all, m);
        }
        // SAFETY: `slots` is 8 u32s.
        unsafe { _mm256_storeu_si256(slots.as_mut_ptr().cast(), m) };
    }
    for (slot, xg) in out[eights..]
        .iter_mut()
        .zip(x[eights * group..].chunks_exact(group))
    {
        *slot = amax_bits_avx2(xg);
    }
    if !MAX {
        return 0;
    }
    let mut lanes = [0u32; 8];
    // SAFETY: `lanes` is 8 u32s.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), all) };
    let groups = out[eights..].iter().copied();
    let max = lanes.into_iter().chain(groups).max().unwrap_or(0);
    max.max(amax_bits_avx2(&x[whole * group..]))
}

/// What phase C needs of one grid besides its plan.
struct GridConsts {
    /// `point_codes32` as two vectors of 8.
    point_codes: (__m256i, __m256i),
    /// Whether phase C emits point indices instead of codes (a multi-grid format's grid whose
    /// point k is not code k): the score then reads `CodeTables::dec_by_point`, and the packed
    /// indices are mapped to codes afterwards, 64 nibbles per `vpshufb` pair (`map_nibbles`),
    /// instead of a 16-entry lookup per vector of 8.
    defer: bool,
    /// What phase C emits for ±0 under a zero scale: `zero_codes[0]` and `[1]`, or, deferred,
    /// their point indices.
    zero_codes: (__m256i, __m256i),
    /// `CodeTables::zero_scale` of this grid: whether scale code c gives the zero product
    /// (P = s(c)·t = 0), the zero-scale path. (A fixed-size copy: indexed per group.)
    zero_scale: [bool; 256],
}

/// Per-block intermediates, one set per thread (stack).
struct Block {
    amax: [u32; MAX_BLOCK_GROUPS],
    /// Stored scale code per grid and group (selector bits not set).
    code: [[u32; MAX_BLOCK_GROUPS]; MAX_GRIDS],
    /// Packed codes per grid (multi-grid formats; 8 bytes per row of 16 elements).
    packed: [[u8; MAX_BLOCK_ROWS * 8]; MAX_GRIDS],
    /// Lane sums of squared errors per group (the grid being scored; `lanes2` the second
    /// grid of a mirror pair).
    lanes: [__m256; MAX_BLOCK_GROUPS],
    lanes2: [__m256; MAX_BLOCK_GROUPS],
    /// Scores per grid and group.
    score: [[f32; MAX_BLOCK_GROUPS]; MAX_GRIDS],
}

/// Quantize whole groups; returns how many it did: all of them, or 0 when the kernel does not
/// apply (the caller runs the per-group path). `codes`, `scales` and `grid_of_group` hold
/// exactly the groups of `x`; `group_amax`, when given (one per group, from
/// `group_amax_bits`), replaces phase A.
#[target_feature(enable = "avx2,fma,f16c,bmi2")]
pub(super) fn quantize_blocks(
    plan: &QuantPlan,
    x: &[f32],
    group_amax: Option<&[u32]>,
    codes: &mut [u8],
    scales: &mut [u8],
    grid_of_group: &mut [u8],
) -> usize {
    let group = plan.format.group_size as usize;
    let groups = x.len() / group.max(1);
    if !applies(&plan.format)
        || codes.len() != groups * group / 2
        || scales.len() != groups
        || grid_of_group.len() != groups
    {
        return 0;
    }
    let Some(tables) = plan.code_tables(groups) else {
        return 0;
    };
    let per_block = BLOCK_VALUES / group;
    let multi = plan.grids.len() > 1;
    let bound = ScoreBound::new(group, f32::EPSILON as f64 / 2.0);
    let consts: Vec<GridConsts> = plan
        .grids
        .iter()
        .zip(&tables.zero_scale)
        .map(|(gp, zero)| {
            let mut zero_scale = [false; 256];
            zero_scale[..zero.len()].copy_from_slice(zero);
            // The point index of each zero code, if it has one.
            let points = &gp.point_codes[..=gp.n_mids];
            let zero_points = gp
                .zero_codes
                .map(|z| points.iter().position(|&c| c == z).map(|p| p as u8));
            // (Sign-magnitude grids keep their codes: the sign bit is OR'd into the code, which a
            // nibble map of point indices would not see.)
            let defer = multi
                && !gp.identity_codes
                && !gp.sign_magnitude
                && zero_points.iter().all(Option::is_some);
            let zero = if defer {
                zero_points.map(|p| p.unwrap_or(0))
            } else {
                gp.zero_codes
            };
            GridConsts {
                point_codes: load16(&gp.point_codes32),
                defer,
                zero_codes: (
                    _mm256_set1_epi32(zero[0] as i32),
                    _mm256_set1_epi32(zero[1] as i32),
                ),
                zero_scale,
            }
        })
        .collect();
    let high_first = plan.format.high_nibble_first;
    let same_target: [Option<usize>; MAX_GRIDS] = core::array::from_fn(|k| {
        let target = plan.grids.get(k)?.target.to_bits();
        (0..k).find(|&j| plan.grids[j].target.to_bits() == target)
    });
    let mut b = Block {
        amax: [0; MAX_BLOCK_GROUPS],
        code: [[0; MAX_BLOCK_GROUPS]; MAX_GRIDS],
        packed: [[0; MAX_BLOCK_ROWS * 8]; MAX_GRIDS],
        lanes: [_mm256_setzero_ps(); MAX_BLOCK_GROUPS],
        lanes2: [_mm256_setzero_ps(); MAX_BLOCK_GROUPS],
        score: [[0.0; MAX_BLOCK_GROUPS]; MAX_GRIDS],
    };
    let mut first = 0;
    while first < groups {
        let n = per_block.min(groups - first);
        let xs = &x[first * group..(first + n) * group];
        // Phase A, unless the caller's scan did it.
        let amax: &[u32] = match group_amax {
            Some(all) if all.len() == groups => &all[first..first + n],
            _ => {
                group_amaxes::<false>(xs, group, &mut b.amax[..n]);
                &b.amax[..n]
            }
        };
        for (k, gp) in plan.grids.iter().enumerate() {
            // Phase B. The scale code depends on the grid only through its target (the format
            // and tensor scale are the call's), so grids of one target share their codes.
            if let Some(j) = same_target[k] {
                b.code[k] = b.code[j];
            } else {
                let done = scale_codes8(plan, gp, amax, &mut b.code[k][..n]);
                let (rest, amax) = (&mut b.code[k][done..n], &amax[done..n]);
                // `plan.scale_code` with its indexed-RNE arm spelled out and its branches
                // taken once per block: calling it per group measured 2-4% slower, and
                // matching per group 8% (two-grid formats).
                match (&gp.scale_index, plan.format.scale_rounding) {
                    (Some(index), ScaleRounding::Rne) => index.codes(amax, plan.max_code, rest),
                    _ => {
                        for (slot, &amax) in rest.iter_mut().zip(amax) {
                            *slot = plan.scale_code(gp, amax);
                        }
                    }
                }
            }
            // Phase C: a mirror pair's two grids in one pass, when the first of them comes.
            let pair = tables.mirror.iter().find(|p| p.a == k || p.b == k);
            if let Some(pair) = pair.filter(|_| group == 16) {
                let (ka, kb) = (pair.a, pair.b);
                // (The pair's grids share a target, so the second one's scale codes are these,
                // copied by its own phase B when its turn comes, before it is skipped here.)
                if k != ka.min(kb) {
                    continue;
                }
                let (code, zero_scale) = (&b.code[k][..n], &consts[k].zero_scale);
                let (below, from) = b.packed.split_at_mut(ka.max(kb));
                let (first, second) = (&mut below[k], &mut from[0]);
                let (pa, pb) = if ka < kb {
                    (first, second)
                } else {
                    (second, first)
                };
                let out = [&mut pa[..n * 8], &mut pb[..n * 8]];
                let lanes = [&mut b.lanes[..n], &mut b.lanes2[..n]];
                run_pair16(pair, zero_scale, high_first, xs, code, out, lanes);
                map_nibbles(&pair.map_a, &mut b.packed[ka][..n * 8]);
                map_nibbles(&pair.map_b, &mut b.packed[kb][..n * 8]);
                reduce_lanes(&b.lanes, n, &mut b.score[ka]);
                reduce_lanes(&b.lanes2, n, &mut b.score[kb]);
                continue;
            }
            let defer = consts[k].defer;
            let pass = GridPass {
                consts: &consts[k],
                lookup: !gp.identity_codes && !defer,
                split: &tables.two_level[k],
                dec: match (multi, defer) {
                    (false, _) => None,
                    (true, false) => Some(&tables.dec[k][..]),
                    (true, true) => Some(&tables.dec_by_point[k][..]),
                },
                high_first,
            };
            // A single grid's codes are final: they go straight to the output.
            let out = if multi {
                &mut b.packed[k][..n * group / 2]
            } else {
                &mut codes[first * group / 2..(first + n) * group / 2]
            };
            let (code, lanes) = (&b.code[k][..n], &mut b.lanes);
            match (group == 16, gp.n_mids <= 7, gp.sign_magnitude) {
                (true, true, true) => pass.run16::<7, true>(xs, code, out, lanes),
                (true, true, false) => pass.run16::<7, false>(xs, code, out, lanes),
                (true, false, true) => pass.run16::<15, true>(xs, code, out, lanes),
                (true, false, false) => pass.run16::<15, false>(xs, code, out, lanes),
                (false, true, true) => pass.run::<7, true>(xs, group, code, out, lanes),
                (false, true, false) => pass.run::<7, false>(xs, group, code, out, lanes),
                (false, false, true) => pass.run::<15, true>(xs, group, code, out, lanes),
                (false, false, false) => pass.run::<15, false>(xs, group, code, out, lanes),
            }
            if defer {
                map_nibbles(&gp.point_codes, &mut b.packed[k][..n * group / 2]);
            }
            if multi {
                reduce_lanes(&b.lanes, n, &mut b.score[k]);
            }
        }
        // Phase D.
        let scales = &mut scales[first..first + n];
        let grid_of_group = &mut grid_of_group[first..first + n];
        if multi {
            let grids = plan.grids.len();
            let codes = &mut codes[first * group / 2..(first + n) * group / 2];
            let selector: [u32; MAX_GRIDS] =
                core::array::from_fn(|k| plan.grids.get(k).map_or(0, |gp| gp.selector_bits));
            let half = group / 2;
            for g8 in (0..n).step_by(8) {
                // Groups of 16 whose eight-group window is whole: the winners' codes are
                // blended in vectors (one group's 8 bytes per f64 lane) and stored at once.
                let blended = group == 16 && g8 + 8 <= n;
                let window = blended.then(|| &mut codes[g8 * 8..g8 * 8 + 64]);
                let (clear, best8) = match grids {
                    2 => choose8::<2>(bound, &b.score, &b.packed, g8, window),
                    3 => choose8::<3>(bound, &b.score, &b.packed, g8, window),
                    _ => choose8::<MAX_GRIDS>(bound, &b.score, &b.packed, g8, window),
                };
                if blended && clear == 0xff {
                    // All eight decided and their codes already blended: scales and grids
                    // in vectors too (the per-group loop below measured 5-10% of a
                    // two-grid quantize).
                    let (s8, o8) = (&mut scales[g8..g8 + 8], &mut grid_of_group[g8..g8 + 8]);
                    scales8(&b.code[..grids], &selector[..grids], g8, best8, s8);
                    o8.copy_from_slice(&best8);
                    continue;
                }
                for g in g8..(g8 + 8).min(n) {
                    let decided = clear & (1 << (g - g8)) != 0;
                    let best = if decided {
                        best8[g - g8] as usize
                    } else {
                        rescore(plan, tables, &b, g, &xs[g * group..(g + 1) * group])
                    };
                    if !(decided && blended) {
                        let dst = codes[g * half..(g + 1) * half].chunks_exact_mut(8);
                        for (d, s) in dst.zip(b.packed[best][g * half..].chunks_exact(8)) {
                            d.copy_from_slice(s);
                        }
                    }
                    scales[g] = (b.code[best][g] | selector[best]) as u8;
                    grid_of_group[g] = best as u8;
                }
            }
        } else {
            let selector = plan.grids[0].selector_bits;
            for (slot, &c) in scales.iter_mut().zip(&b.code[0][..n]) {
                *slot = (c | selector) as u8;
            }
            grid_of_group.fill(0);
        }
        first += n;
    }
    groups
}

/// `portable::select`'s rule for groups `g0..g0 + 8` of the block, on their f32-summed
/// scores widened to f64 (four groups per vector): per group the lowest score (ties to the
/// lower index) and whether every other score is clearly above it (`ScoreBound`, the same
/// operations as `ScoreBound::clearly_above`; an infinite score is never clearly above).
/// Returns the bit mask of the groups decided so, and their choices; the others are re-scored.
/// With `window` (groups of 16, all eight in the block), the winners' packed codes are written
/// there too, one group per f64 lane picked by its choice (a group re-scored later is
/// overwritten by the caller).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,bmi2")]
fn choose8<const G: usize>(
    bound: ScoreBound,
    score: &[[f32; MAX_BLOCK_GROUPS]; MAX_GRIDS],
    packed: &[[u8; MAX_BLOCK_ROWS * 8]; MAX_GRIDS],
    g0: usize,
    mut window: Option<&mut [u8]>,
) -> (u32, [u8; 8]) {
    let (rel, abs) = bound.parts();
    let (rel, abs) = (_mm256_set1_pd(rel), _mm256_set1_pd(abs));
    let mut clear_mask = 0u32;
    let mut best8 = [0u8; 8];
    for half in 0..2 {
        let at = g0 + 4 * half;
        let mut s = [_mm256_setzero_pd(); G];
        for (sk, score) in s.iter_mut().zip(score) {
            // SAFETY: at + 4 ≤ g0 + 8 ≤ MAX_BLOCK_GROUPS (g0 is a multiple of 8 below it).
            *sk = _mm256_cvtps_pd(unsafe { _mm_loadu_ps(score.as_ptr().add(at)) });
        }
        let (mut low, mut best) = (s[0], _mm256_setzero_pd());
        for (k, &sk) in s.iter().enumerate().skip(1) {
            let lt = _mm256_cmp_pd::<_CMP_LT_OQ>(sk, low);
            low = _mm256_blendv_pd(low, sk, lt);
            best = _mm256_blendv_pd(best, _mm256_set1_pd(k as f64), lt);
        }
        let mut clear = _mm256_castsi256_pd(_mm256_set1_epi32(-1));
        for (k, &sk) in s.iter().enumerate() {
            let is_best = _mm256_cmp_pd::<_CMP_EQ_OQ>(best, _mm256_set1_pd(k as f64));
            let margin = _mm256_add_pd(_mm256_mul_pd(rel, _mm256_max_pd(low, sk)), abs);
            let above = _mm256_cmp_pd::<_CMP_GT_OQ>(_mm256_sub_pd(sk, low), margin);
            // An infinite score makes the margin infinite (or the difference NaN): never above.
            clear = _mm256_and_pd(clear, _mm256_or_pd(is_best, above));
        }
        clear_mask |= (_mm256_movemask_pd(clear) as u32) << (4 * half);
        if let Some(out) = window.as_deref_mut() {
            let codes = |k: usize| {
                // SAFETY: groups of 16 (8 code bytes each): bytes 8·at..8·at + 32 lie inside
                // the block's packed codes (at + 4 ≤ MAX_BLOCK_GROUPS = MAX_BLOCK_ROWS).
                unsafe { _mm256_loadu_pd(packed[k].as_ptr().add(8 * at).cast()) }
            };
            let mut w = codes(0);
            for k in 1..G {
                let is_k = _mm256_cmp_pd::<_CMP_EQ_OQ>(best, _mm256_set1_pd(k as f64));
                w = _mm256_blendv_pd(w, codes(k), is_k);
            }
            let dst = &mut out[32 * half..32 * half + 32];
            // SAFETY: `dst` is 32 bytes.
            unsafe { _mm256_storeu_pd(dst.as_mut_ptr().cast(), w) };
        }
        let idx = _mm256_cvtpd_epi32(best);
        let mut lanes = [0i32; 4];
        // SAFETY: `lanes` is 4 i32s.
        unsafe { _mm_storeu_si128(lanes.as_mut_ptr().cast(), idx) };
        for (slot, &l) in best8[4 * half..4 * half + 4].iter_mut().zip(&lanes) {
            *slot = l as u8;
        }
    }
    (clear_mask, best8)
}

/// The scale bytes of groups `g0..g0 + 8` of the block, whose grids are `best8`: the chosen
/// grid's scale code OR its selector bits, per group (a lane each), as `phase D`'s scalar
/// loop writes them.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,bmi2")]
fn scales8(
    code: &[[u32; MAX_BLOCK_GROUPS]],
    selector: &[u32],
    g0: usize,
    best8: [u8; 8],
    out: &mut [u8],
) {
    let load = |k: usize| {
        let c = &code[k][g0..g0 + 8];
        // SAFETY: `c` is 8 u32s.
        let c = unsafe { _mm256_loadu_si256(c.as_ptr().cast()) };
        _mm256_or_si256(c, _mm256_set1_epi32(selector[k] as i32))
    };
    let best = _mm256_cvtepu8_epi32(_mm_set_epi64x(0, i64::from_le_bytes(best8)));
    let mut v = load(0);
    for k in 1..code.len() {
        let is_k = _mm256_cmpeq_epi32(best, _mm256_set1_epi32(k as i32));
        v = _mm256_blendv_epi8(v, load(k), is_k);
    }
    // Scale bytes are < 256: dwords to words to bytes (per 128-bit half), then the two
    // halves' first four bytes side by side.
    let w = _mm256_packus_epi32(v, v);
    let bytes = _mm256_packus_epi16(w, w);
    let joined = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0));
    let out = &mut out[..8];
    // SAFETY: `out` is 8 bytes; one 8-byte store.
    unsafe { _mm_storel_epi64(out.as_mut_ptr().cast(), _mm256_castsi256_si128(joined)) };
}

/// The oracle's choice for group `g` of the block: each grid's codes (unpacked from this
/// kernel's own) scored in element order (`sse_in_order`), the lowest winning, ties to the
/// lower index.
#[cold]
fn rescore(
    plan: &QuantPlan,
    tables: &super::plan::CodeTables,
    b: &Block,
    g: usize,
    xg: &[f32],
) -> usize {
    let high_first = plan.format.high_nibble_first;
    let mut codes = [0u8; MAX_GROUP];
    lowest_in_order(plan.grids.len(), |k| {
        let packed = &b.packed[k][g * xg.len() / 2..(g + 1) * xg.len() / 2];
        for (j, slot) in codes[..xg.len()].iter_mut().enumerate() {
            *slot = crate::decode::nibble_at(high_first, packed, j);
        }
        sse_in_order(
            xg,
            &codes[..xg.len()],
            &tables.dec[k][b.code[k][g] as usize],
        )
    })
}

/// The first `R` rows of 16 f32s of `x`, two vectors of 8 per row.
#[inline(always)]
fn load_rows<const R: usize>(x: &[f32]) -> [[__m256; 2]; R] {
    let x = &x[..16 * R];
    // SAFETY: `x` has 16·R f32s (the slice above checked it); loads of 8 at 16r and 16r + 8.
    // (Only called from functions compiled with AVX2, into which it is inlined.)
    core::array::from_fn(|r| unsafe {
        [
            _mm256_loadu_ps(x.as_ptr().add(16 * r)),
            _mm256_loadu_ps(x.as_ptr().add(16 * r + 8)),
        ]
    })
}

/// A 16-entry table as two vectors of 8.
#[inline(always)]
fn load16(t: &[u32; 16]) -> (__m256i, __m256i) {
    // SAFETY: `t` is 16 u32s; two unaligned loads of 8. (Only called from functions compiled
    // with AVX2, into which it is inlined.)
    unsafe {
        (
            _mm256_loadu_si256(t.as_ptr().cast()),
            _mm256_loadu_si256(t.as_ptr().add(8).cast()),
        )
    }
}

/// The amax bits of eight consecutive groups (whole rows of 16 each), lane g for group g:
/// each group's vector of partial maxima, then a transposing reduction (`vpunpck*` and
/// `vpmaxud` in three levels) that leaves group g's maximum in lane g.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,bmi2")]
fn amax8(x8: &[f32]) -> __m256i {
    let abs = _mm256_set1_epi32(0x7fff_ffff);
    let group = x8.len() / 8;
    let mut m = [_mm256_setzero_si256(); 8];
    for (slot, xg) in m.iter_mut().zip(x8.chunks_exact(group)) {
        for v in xg.chunks_exact(8) {
            // SAFETY: `v` has 8 f32s (chunks_exact).
            let v = unsafe { _mm256_loadu_si256(v.as_ptr().cast()) };
            *slot = _mm256_max_epu32(*slot, _mm256_and_si256(v, abs));
        }
    }
    // Level 1: lanes (0, 2), (1, 3) of each half of a pair of groups.
    let r: [__m256i; 4] = core::array::from_fn(|p| {
        let (a, b) = (m[2 * p], m[2 * p + 1]);
        _mm256_max_epu32(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b))
    });
    // Level 2: each 128-bit half holds one partial maximum of four groups.
    let t: [__m256i; 2] = core::array::from_fn(|q| {
        let (c, d) = (r[2 * q], r[2 * q + 1]);
        _mm256_max_epu32(_mm256_unpacklo_epi64(c, d), _mm256_unpackhi_epi64(c, d))
    });
    // Level 3: the two halves.
    _mm256_max_epu32(
        _mm256_permute2x128_si256::<0x20>(t[0], t[1]),
        _mm256_permute2x128_si256::<0x31>(t[0], t[1]),
    )
}

/// `QuantPlan::scale_code` of the first groups of `amax`, eight at a time, where it is cheap
/// in vectors: floor-pow2 scales when all eight amaxes are normal f32s (`floor_log2` is then
/// the exponent field less 127). Returns how many groups it did; the caller does the rest.
/// (RNE scales stay scalar: `ScaleIndex::count` is one load and one compare for E4M3 and
/// UE4M3 scales, and gathering its entries measured no faster.)
#[inline]
#[target_feature(enable = "avx2,fma,f16c,bmi2")]
fn scale_codes8(plan: &QuantPlan, gp: &GridPlan, amax: &[u32], code: &mut [u32]) -> usize {
    if plan.format.scale_rounding != ScaleRounding::FloorPow2 {
        return 0;
    }
    let max_code = _mm256_set1_epi32(plan.max_code as i32);
    let offset = _mm256_set1_epi32(gp.floor_pow2_offset - 127);
    let mut done = 0;
    for (c8, a8) in code.chunks_exact_mut(8).zip(amax.chunks_exact(8)) {
        // SAFETY: `a8` is 8 u32s.
        let a = unsafe { _mm256_loadu_si256(a8.as_ptr().cast()) };
        let field = _mm256_srli_epi32::<23>(a);
        if _mm256_movemask_epi8(_mm256_cmpeq_epi32(field, _mm256_setzero_si256())) != 0 {
            // A zero or subnormal amax: the scalar path from here.
            break;
        }
        let e = _mm256_max_epi32(_mm256_add_epi32(field, offset), _mm256_setzero_si256());
        // SAFETY: `c8` is 8 u32s.
        unsafe { _mm256_storeu_si256(c8.as_mut_ptr().cast(), _mm256_min_epu32(e, max_code)) };
        done += 8;
    }
    done
}

/// Pack 16 codes (dwords < 16, elements 0..8 in `c0`) to the 8 bytes of `dst`: words in
/// element order (`vpackusdw`, `vpermq`), bytes (`vpackuswb`), then c[2i] + 16·c[2i+1]
/// (or 16·c[2i] + c[2i+1], high nibble first) per byte (`vpmaddubsw`, `vpackuswb`).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,bmi2")]
fn pack(high_first: bool, c0: __m256i, c1: __m256i, dst: &mut [u8]) {
    let weights = _mm_set1_epi16(if high_first { 0x0110 } else { 0x1001 });
    let w = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packus_epi32(c0, c1));
    let bytes = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256::<1>(w));
    let pairs = _mm_maddubs_epi16(bytes, weights);
    let eight_bytes = _mm_cvtsi128_si64(_mm_packus_epi16(pairs, pairs));
    dst.copy_from_slice(&eight_bytes.to_le_bytes());
}

/// `pack` of two rows at once (`c[0..2]` and `c[2..4]`) into the 16 bytes of `dst`: the
/// narrowing steps shared, so 8 operations where two `pack`s take 14. After the three
/// packs, each 128-bit half holds, per row, the bytes of elements 0–3 and 8–11 (low half)
/// or 4–7 and 12–15 (high half); interleaving the halves' 16-bit words restores element
/// order.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,bmi2")]
fn pack2(high_first: bool, c: [__m256i; 4], dst: &mut [u8]) {
    let weights = _mm256_set1_epi16(if high_first { 0x0110 } else { 0x1001 });
    let bytes = _mm256_packus_epi16(
        _mm256_packus_epi32(c[0], c[1]),
        _mm256_packus_epi32(c[2], c[3]),
    );
    let pairs = _mm256_maddubs_epi16(bytes, weights);
    let packed = _mm256_packus_epi16(pairs, pairs);
    let out = _mm_unpacklo_epi16(
        _mm256_castsi256_si128(packed),
        _mm256_extracti128_si256::<1>(packed),
    );
    let dst = &mut dst[..16];
    // SAFETY: `dst` is 16 bytes (the slice above checked it).
    unsafe { _mm_storeu_si128(dst.as_mut_ptr().cast(), out) };
}

/// Phase C for one grid.
struct GridPass<'a> {
    consts: &'a GridConsts,
    /// Whether point indices are mapped to codes here (not identity, not deferred).
    lookup: bool,
    /// `CodeTables::two_level` of this grid, indexed by scale code.
    split: &'a [[f32; 16]],
    /// `CodeTables::dec` of this grid (`dec_by_point` when deferred), for multi-grid formats
    /// (the score is needed).
    dec: Option<&'a [[u32; 16]]>,
    high_first: bool,
}

impl GridPass<'_> {
    /// The codes of one vector of point indices `idx` of elements `v`: mapped through the
    /// grid's point codes unless point k is code k (or the mapping is deferred), the sign bit
    /// OR'd in for sign-magnitude grids.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c,bmi2")]
    fn to_code<const SM: bool>(&self, idx: __m256i, v: __m256) -> __m256i {
        let mut code = if self.lookup {
            let (lo, hi) = self.consts.point_codes;
            _mm256_castps_si256(lookup16_avx2(
                _mm256_castsi256_ps(lo),
                _mm256_castsi256_ps(hi),
                idx,
            ))
        } else {
            idx
        };
        if SM {
            let sign = _mm256_srli_epi32::<28>(_mm256_castps_si256(v));
            code = _mm256_or_si256(code, _mm256_and_si256(sign, _mm256_set1_epi32(8)));
        }
        code
    }

    /// Codes of every group of `xs` (groups of `group`, scale codes `code`) packed into
    /// `packed` (one u64 per row of 16), and, when scoring, each group's lane sums of squared
    /// errors into `lanes`. `N` thresholds are counted (≥ the grid's `n_mids`; the rest of a
    /// row is +Inf, which no finite element reaches); `SM`: sign-magnitude grid.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c,bmi2")]
    fn run<const N: usize, const SM: bool>(
        &self,
        xs: &[f32],
        group: usize,
        code: &[u32],
        out: &mut [u8],
        lanes: &mut [__m256],
    ) {
        let (z0, z1) = self.consts.zero_codes;
        let groups = xs.chunks_exact(group).zip(out.chunks_exact_mut(group / 2));
        for (g, ((xg, og), &c)) in groups.zip(code).enumerate() {
            let split = &self.split[c as usize];
            let zero = self.consts.zero_scale[c as usize];
            let dec = self.dec.map(|d| {
                let (lo, hi) = load16(&d[c as usize]);
                (_mm256_castsi256_ps(lo), _mm256_castsi256_ps(hi))
            });
            let mut acc = (_mm256_setzero_ps(), _mm256_setzero_ps());
            for (row, packed) in xg.chunks_exact(16).zip(og.chunks_exact_mut(8)) {
                let [[v0, v1]] = load_rows::<1>(row);
                let (c0, c1) = if zero {
                    // The oracle's codes for ±0 under a zero scale, by the input's sign.
                    let z = |v| {
                        _mm256_castps_si256(_mm256_blendv_ps(
                            _mm256_castsi256_ps(z0),
                            _mm256_castsi256_ps(z1),
                            v,
                        ))
                    };
                    (z(v0), z(v1))
                } else {
                    let [[i0, i1]] = count_rows::<N, SM, 1>([split], [[v0, v1]]);
                    (self.to_code::<SM>(i0, v0), self.to_code::<SM>(i1, v1))
                };
                pack(self.high_first, c0, c1, packed);
                if let Some((d_lo, d_hi)) = dec {
                    let e0 = _mm256_sub_ps(v0, lookup16_avx2(d_lo, d_hi, c0));
                    let e1 = _mm256_sub_ps(v1, lookup16_avx2(d_lo, d_hi, c1));
                    acc = (
                        _mm256_fmadd_ps(e0, e0, acc.0),
                        _mm256_fmadd_ps(e1, e1, acc.1),
                    );
                }
            }
            if self.dec.is_some() {
                lanes[g] = _mm256_add_ps(acc.0, acc.1);
            }
        }
    }
}

impl GridPass<'_> {
    /// `run` for groups of 16, two groups per step: their counts interleaved (`count_rows` of two rows), so
    /// that the CPU sees two independent dependency chains in program order. A pair with a
    /// zero-scale group, and an odd last group, go through `run`.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c,bmi2")]
    fn run16<const N: usize, const SM: bool>(
        &self,
        xs: &[f32],
        code: &[u32],
        out: &mut [u8],
        lanes: &mut [__m256],
    ) {
        let abs = _mm256_set1_epi32(0x7fff_ffff);
        let identity = !self.lookup;
        let n = code.len();
        let mut g = 0;
        while g + 2 <= n {
            let (ca, cb) = (code[g] as usize, code[g + 1] as usize);
            if self.consts.zero_scale[ca] | self.consts.zero_scale[cb] {
                let span = g * 16..(g + 2) * 16;
                let (o, l) = (&mut out[g * 8..(g + 2) * 8], &mut lanes[g..g + 2]);
                self.run::<N, SM>(&xs[span], 16, &code[g..g + 2], o, l);
                g += 2;
                continue;
            }
            let [[v0, v1], [v2, v3]] = load_rows::<2>(&xs[g * 16..(g + 2) * 16]);
            let v = [v0, v1, v2, v3];
            let [[i0, i1], [i2, i3]] = count_rows::<N, SM, 2>(
                [&self.split[ca], &self.split[cb]],
                [[v[0], v[1]], [v[2], v[3]]],
            );
            let i = [i0, i1, i2, i3];
            let c: [__m256i; 4] = core::array::from_fn(|k| self.to_code::<SM>(i[k], v[k]));
            pack2(self.high_first, c, &mut out[g * 8..(g + 2) * 8]);
            if let Some(dec) = self.dec {
                let err = |d: &[u32; 16], k: usize| {
                    let (lo, hi) = load16(d);
                    let (lo, hi) = (_mm256_castsi256_ps(lo), _mm256_castsi256_ps(hi));
                    let e = if SM && identity {
                        // Sign-magnitude: the value of code c | 8 is minus that of c (and the
                        // table is rounded symmetrically), and x and its value share a sign, so
                        // x − dec[code] = ±(|x| − dec[count]): an 8-entry lookup.
                        let m = _mm256_and_ps(v[k], _mm256_castsi256_ps(abs));
                        _mm256_sub_ps(m, _mm256_permutevar8x32_ps(lo, i[k]))
                    } else {
                        _mm256_sub_ps(v[k], lookup16_avx2(lo, hi, c[k]))
                    };
                    _mm256_mul_ps(e, e)
                };
                let (da, db) = (&dec[ca], &dec[cb]);
                lanes[g] = _mm256_add_ps(err(da, 0), err(da, 1));
                lanes[g + 1] = _mm256_add_ps(err(db, 2), err(db, 3));
            }
            g += 2;
        }
        if g < n {
            let (o, l) = (&mut out[g * 8..(g + 1) * 8], &mut lanes[g..g + 1]);
            self.run::<N, SM>(&xs[g * 16..(g + 1) * 16], 16, &code[g..g + 1], o, l);
        }
    }
}

/// The point indices of `R` rows of 16 elements (two vectors each), row r against threshold
/// row `split[r]`: the number of thresholds of the row each element (its magnitude, for
/// sign-magnitude grids) reaches, counted in two levels from the row in `plan::two_level`
/// order. Level one: the three split thresholds S (broadcast), whose count b places the
/// element in a bucket of w = 4 (N = 15) or 2 (N = 7) thresholds. Level two: the J = 3 (or 1)
/// thresholds of that bucket below its last one, each picked per lane from a 4-entry table by
/// b (`vpermilps`; the table broadcast to both 128-bit halves), and counted. Compare masks are
/// all-ones, so subtracting them counts. 16 (or 10) operations per vector where comparing
/// with every threshold takes 30 (or 14). The rows' operations are interleaved step by step
/// (R = 2: two independent dependency chains in program order, +14% on NVFP4).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,bmi2")]
fn count_rows<const N: usize, const SM: bool, const R: usize>(
    split: [&[f32; 16]; R],
    v: [[__m256; 2]; R],
) -> [[__m256i; 2]; R] {
    let abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
    let m = if SM {
        v.map(|row| row.map(|x| _mm256_and_ps(x, abs)))
    } else {
        v
    };
    let ge = |m: __m256, t: __m256| _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GE_OQ>(m, t));
    let mut b = [[_mm256_setzero_si256(); 2]; R];
    for k in 0..3 {
        for (r, sp) in split.iter().enumerate() {
            let s = _mm256_set1_ps(sp[k]);
            b[r][0] = _mm256_sub_epi32(b[r][0], ge(m[r][0], s));
            b[r][1] = _mm256_sub_epi32(b[r][1], ge(m[r][1], s));
        }
    }
    let mut i = if N > 7 {
        b.map(|row| row.map(|x| _mm256_slli_epi32::<2>(x)))
    } else {
        b.map(|row| row.map(|x| _mm256_add_epi32(x, x)))
    };
    let levels = if N > 7 { 3 } else { 1 };
    for j in 0..levels {
        for r in 0..R {
            // SAFETY: 4 f32s read at 4 + 4j ≤ 12, inside the 16.
            let t = unsafe { _mm256_broadcast_ps(&*split[r].as_ptr().add(4 + 4 * j).cast()) };
            i[r][0] = _mm256_sub_epi32(i[r][0], ge(m[r][0], _mm256_permutevar_ps(t, b[r][0])));
            i[r][1] = _mm256_sub_epi32(i[r][1], ge(m[r][1], _mm256_permutevar_ps(t, b[r][1])));
        }
    }
    i
}

/// Replace every nibble k of `packed` by `codes[k]` (a deferred grid's point indices by its
/// codes): 32 bytes at a time by two `vpshufb` (low and high nibbles), the rest one by one.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,bmi2")]
fn map_nibbles(codes: &[u8; 16], packed: &mut [u8]) {
    // SAFETY: `codes` is 16 bytes.
    let table = _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(codes.as_ptr().cast()) });
    let low = _mm256_set1_epi8(0x0f);
    let mut chunks = packed.chunks_exact_mut(32);
    for c in &mut chunks {
        // SAFETY: `c` is 32 bytes (chunks_exact); one load and one store.
        unsafe {
            let v = _mm256_loadu_si256(c.as_ptr().cast());
            let lo = _mm256_shuffle_epi8(table, _mm256_and_si256(v, low));
            let hi = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16::<4>(v), low));
            // Codes are < 16, so shifting 16-bit lanes by 4 keeps each within its byte.
            let out = _mm256_or_si256(lo, _mm256_slli_epi16::<4>(hi));
            _mm256_storeu_si256(c.as_mut_ptr().cast(), out);
        }
    }
    for byte in chunks.into_remainder() {
        *byte = codes[(*byte & 15) as usize] | (codes[(*byte >> 4) as usize] << 4);
    }
}

/// The sums of the lanes of `lanes[..n]` into `score[..n]`, eight groups per step (three
/// levels of `vhaddps` and one cross-half add); the lanes past `n` of the last step are
/// summed too and ignored.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,bmi2")]
fn reduce_lanes(lanes: &[__m256; MAX_BLOCK_GROUPS], n: usize, score: &mut [f32; MAX_BLOCK_GROUPS]) {
    for (l, s) in lanes
        .chunks_exact(8)
        .zip(score.chunks_exact_mut(8))
        .take(n.div_ceil(8))
    {
        let h01 = _mm256_hadd_ps(l[0], l[1]);
        let h23 = _mm256_hadd_ps(l[2], l[3]);
        let h45 = _mm256_hadd_ps(l[4], l[5]);
        let h67 = _mm256_hadd_ps(l[6], l[7]);
        let lo = _mm256_hadd_ps(h01, h23);
        let hi = _mm256_hadd_ps(h45, h67);
        let sums = _mm256_add_ps(
            _mm256_permute2f128_ps::<0x20>(lo, hi),
            _mm256_permute2f128_ps::<0x31>(lo, hi),
        );
        // SAFETY: `s` has 8 f32s (chunks_exact).
        unsafe { _mm256_storeu_ps(s.as_mut_ptr(), sums) };
    }
}

/// Phase C for a mirror pair of grids (`mirror`), groups of 16: per element one `up` and one
/// `down` count on |x| (see `mirror` for why they give both grids' point indices), emitted as
/// the pair's nibbles (mapped to codes afterwards by `map_a` / `map_b`), and both grids'
/// squared errors, bit for bit those of `GridPass::run16` on each grid (same f32 operations:
/// the errors differ from its `x − p` at most in sign). Two groups per step; a group with a
/// zero scale, and an odd last group, one at a time.
#[inline(never)]
#[target_feature(enable = "avx2,fma,f16c,bmi2")]
fn run_pair16(
    pair: &MirrorPair,
    zero_scale: &[bool; 256],
    high_first: bool,
    xs: &[f32],
    code: &[u32],
    out: [&mut [u8]; 2],
    lanes: [&mut [__m256]; 2],
) {
    let [out_a, out_b] = out;
    let [lanes_a, lanes_b] = lanes;
    let n = code.len();
    let mut g = 0;
    while g < n {
        let (ca, cb) = (code[g] as usize, code.get(g + 1).map_or(0, |&c| c as usize));
        if g + 2 <= n && !zero_scale[ca] && !zero_scale[cb] {
            let v = load_rows::<2>(&xs[g * 16..(g + 2) * 16]);
            let (na, nb, sa, sb) = pair_rows::<2>(pair, [&pair.rows[ca], &pair.rows[cb]], v);
            let flat = |r: [[__m256i; 2]; 2]| [r[0][0], r[0][1], r[1][0], r[1][1]];
            pack2(high_first, flat(na), &mut out_a[g * 8..(g + 2) * 8]);
            pack2(high_first, flat(nb), &mut out_b[g * 8..(g + 2) * 8]);
            for r in 0..2 {
                lanes_a[g + r] = _mm256_add_ps(sa[r][0], sa[r][1]);
                lanes_b[g + r] = _mm256_add_ps(sb[r][0], sb[r][1]);
            }
            g += 2;
            continue;
        }
        let [v] = load_rows::<1>(&xs[g * 16..(g + 1) * 16]);
        let ([na], [nb], [sa], [sb]) = if zero_scale[ca] {
            // The oracle's codes for ±0 under a zero scale, by the input's sign; every decoded
            // value is ±0, so the error is x itself.
            let z = |zero: [u8; 2]| {
                let (z0, z1) = (
                    _mm256_set1_epi32(zero[0] as i32),
                    _mm256_set1_epi32(zero[1] as i32),
                );
                v.map(|x| {
                    _mm256_castps_si256(_mm256_blendv_ps(
                        _mm256_castsi256_ps(z0),
                        _mm256_castsi256_ps(z1),
                        x,
                    ))
                })
            };
            let sq = v.map(|x| _mm256_mul_ps(x, x));
            ([z(pair.zero_a)], [z(pair.zero_b)], [sq], [sq])
        } else {
            pair_rows::<1>(pair, [&pair.rows[ca]], [v])
        };
        pack(high_first, na[0], na[1], &mut out_a[g * 8..(g + 1) * 8]);
        pack(high_first, nb[0], nb[1], &mut out_b[g * 8..(g + 1) * 8]);
        lanes_a[g] = _mm256_add_ps(sa[0], sa[1]);
        lanes_b[g] = _mm256_add_ps(sb[0], sb[1]);
        g += 1;
    }
}

type PairOut<const R: usize> = (
    [[__m256i; 2]; R],
    [[__m256i; 2]; R],
    [[__m256; 2]; R],
    [[__m256; 2]; R],
);

/// `R` rows of 16 elements of a mirror pair (row r against `rows[r]`): the nibbles of grid A
/// and grid B, and the squared errors of each, per vector of 8. The counts are two-level
/// (`count_rows`' seven-threshold layout), `up` with one more compare for its eighth entry,
/// whose mask also picks the ninth `up` value.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,bmi2")]
fn pair_rows<const R: usize>(
    pair: &MirrorPair,
    rows: [&MirrorRow; R],
    v: [[__m256; 2]; R],
) -> PairOut<R> {
    let abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
    let m = v.map(|row| row.map(|x| _mm256_and_ps(x, abs)));
    let ge = |m: __m256, t: __m256| _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GE_OQ>(m, t));
    // Level one of both counts: the bucket of each element among the split thresholds.
    let mut bu = [[_mm256_setzero_si256(); 2]; R];
    let mut bd = [[_mm256_setzero_si256(); 2]; R];
    for k in 0..3 {
        for r in 0..R {
            let (su, sd) = (
                _mm256_set1_ps(rows[r].up[k]),
                _mm256_set1_ps(rows[r].down[k]),
            );
            for h in 0..2 {
                bu[r][h] = _mm256_sub_epi32(bu[r][h], ge(m[r][h], su));
                bd[r][h] = _mm256_sub_epi32(bd[r][h], ge(m[r][h], sd));
            }
        }
    }
    let offset = _mm256_set1_epi32(pair.offset as i32);
    let mut na = [[_mm256_setzero_si256(); 2]; R];
    let mut nb = [[_mm256_setzero_si256(); 2]; R];
    let mut sa = [[_mm256_setzero_ps(); 2]; R];
    let mut sb = [[_mm256_setzero_ps(); 2]; R];
    for r in 0..R {
        let row = rows[r];
        // SAFETY: entries 4..8 of each 8-entry layout; 8 u32 values each.
        let (lu, ld, up_values, down_values) = unsafe {
            (
                _mm256_broadcast_ps(&*row.up.as_ptr().add(4).cast()),
                _mm256_broadcast_ps(&*row.down.as_ptr().add(4).cast()),
                _mm256_loadu_ps(row.up_values.as_ptr().cast()),
                _mm256_loadu_ps(row.down_values.as_ptr().cast()),
            )
        };
        let (top, up_top) = (
            _mm256_set1_ps(row.up[3]),
            _mm256_set1_ps(f32::from_bits(row.up_top)),
        );
        for h in 0..2 {
            let a = m[r][h];
            let beyond = ge(a, top);
            let up = _mm256_sub_epi32(
                _mm256_sub_epi32(
                    _mm256_add_epi32(bu[r][h], bu[r][h]),
                    ge(a, _mm256_permutevar_ps(lu, bu[r][h])),
                ),
                beyond,
            );
            let down = _mm256_sub_epi32(
                _mm256_add_epi32(bd[r][h], bd[r][h]),
                ge(a, _mm256_permutevar_ps(ld, bd[r][h])),
            );
            let down_nibble = _mm256_add_epi32(down, offset);
            let sign = v[r][h];
            let pick = |lo: __m256i, hi: __m256i| {
                _mm256_castps_si256(_mm256_blendv_ps(
                    _mm256_castsi256_ps(lo),
                    _mm256_castsi256_ps(hi),
                    sign,
                ))
            };
            na[r][h] = pick(up, down_nibble);
            nb[r][h] = pick(down_nibble, up);
            let up_value = _mm256_blendv_ps(
                _mm256_permutevar8x32_ps(up_values, up),
                up_top,
                _mm256_castsi256_ps(beyond),
            );
            let d_up = _mm256_sub_ps(a, up_value);
            let d_down = _mm256_sub_ps(a, _mm256_permutevar8x32_ps(down_values, down));
            let ea = _mm256_blendv_ps(d_up, d_down, sign);
            let eb = _mm256_blendv_ps(d_down, d_up, sign);
            sa[r][h] = _mm256_mul_ps(ea, ea);
            sb[r][h] = _mm256_mul_ps(eb, eb);
        }
    }
    (na, nb, sa, sb)
}
