//! Mirror-image grid pairs: two grids of one format whose threshold rows are each other's
//! reflection through zero (SFP4's E2M1 + 1/2 and E2M1 − 1/2), so that two threshold counts on
//! |x| give both grids' point indices where counting each grid over signed x takes two counts
//! of all its midpoints.
//!
//! Why it is exact. A grid's point index of an element x is `#{k : x ≥ T[k]}` over its
//! threshold row T (`plan::element_thresholds`: the smallest f32 at or past each midpoint).
//! Split T by sign bit into negative entries and non-negative ones, and let a = |x|:
//!
//! - x with the sign bit clear (x ≥ +0) reaches every negative entry (−0 included) and the
//!   non-negative entries ≤ a: index = n_neg + `up(a)`, `up` counting the non-negative
//!   entries ≤ a (an entry +0 is excluded below, so these are all > 0).
//! - x with the sign bit set (x = −a ≤ −0) reaches no positive entry, and a negative entry
//!   −u exactly when a ≤ u, i.e. when a does not reach next_up(u): index = n_neg − `down(a)`,
//!   `down` counting the entries next_up(u) ≤ a (next_up(+Inf) = +Inf, which no finite a
//!   reaches, as −Inf is reached by every x).
//!
//! An entry +0 would be reached by x = −0 (−0 ≥ +0) but sits among the non-negative entries:
//! rows holding one are refused (SFP4 at subnormal tensor scales, about 1e-43 and below; the
//! per-grid pass runs there). When grid B's `up` entries are exactly grid A's `down`
//! entries and B's `down` entries exactly A's `up` entries (bit for bit, every non-zero scale
//! code), `up_A(a)` and `down_A(a)` give both grids' indices. The kernel then scores from the
//! same two counts: x − p and ±(a − |p|) are the same f32 up to sign (round-to-nearest is
//! symmetric), so with B's decoded values the negation of A's (checked, as values) the
//! squared errors are A's, bit for bit.
//!
//! Everything here is derived from, and checked against, the rows the per-grid kernel counts
//! (`CodeTables::thr` and `dec_by_point`); a format or tensor scale where any check fails gets
//! no pair (the per-grid pass runs), never an approximation.

use super::plan::{two_level, GridPlan};

/// The largest count of `up` entries the kernel's count takes (a seven-threshold two-level
/// count and one more compare), and of `down` entries (the two-level count alone).
pub(crate) const MAX_UP: usize = 8;
pub(crate) const MAX_DOWN: usize = 7;

/// One scale code's tables for the pair kernel.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MirrorRow {
    /// A's `up` entries (ascending, +Inf padded) for a two-level count of up to 7 (entries 0..3
    /// split thresholds u1, u3, u5; 4..8 the bucket thresholds u0, u2, u4, u6) with u7 in
    /// entry 3, the one more compare.
    pub up: [f32; 8],
    /// A's `down` entries, the same layout (entry 3 unused, +Inf).
    pub down: [f32; 8],
    /// A's decoded value of point n_neg + j, j = 0..8 (the `up` side), as f32 bits; entry 8
    /// (j = 8) in `up_top`.
    pub up_values: [u32; 8],
    pub up_top: u32,
    /// The negation of A's decoded value of point n_neg − j, j = 0..7 (the `down` side).
    pub down_values: [u32; 8],
}

/// A mirror pair and what its kernel emits. The kernel's nibble for an element of grid A is
/// `up` (sign clear) or `offset + down` (sign set); of grid B the other way round:
/// `offset + down` (sign clear) or `up` (sign set). `map_a` / `map_b` turn nibbles into codes.
#[derive(Clone, Debug)]
pub(crate) struct MirrorPair {
    pub a: usize,
    pub b: usize,
    pub offset: u32,
    pub map_a: [u8; 16],
    pub map_b: [u8; 16],
    /// Nibbles whose codes are each grid's zero-scale codes for ±0 (`GridPlan::zero_codes`).
    pub zero_a: [u8; 2],
    pub zero_b: [u8; 2],
    /// Per scale code; rows of zero-scale codes are unused.
    pub rows: Vec<MirrorRow>,
}

/// A's row split by sign bit: (n_neg, up entries ascending, down entries ascending), or `None`
/// when an entry is +0.
fn split_row(row: &[f32; 16], n_mids: usize) -> Option<(usize, Vec<u32>, Vec<u32>)> {
    let t = &row[..n_mids];
    if t.iter().any(|v| v.to_bits() == 0) {
        return None;
    }
    let neg: Vec<u32> = t
        .iter()
        .filter(|v| v.is_sign_negative())
        .map(|v| v.to_bits())
        .collect();
    let up: Vec<u32> = t
        .iter()
        .filter(|v| v.is_sign_positive())
        .map(|v| v.to_bits())
        .collect();
    // next_up(|T|) of the negative entries; the row ascends, so these descend: reverse them.
    let down: Vec<u32> = neg
        .iter()
        .rev()
        .map(|&bits| {
            let u = bits & 0x7fff_ffff;
            if u >= 0x7f80_0000 {
                0x7f80_0000
            } else {
                u + 1
            }
        })
        .collect();
    Some((neg.len(), up, down))
}

/// Up to 8 sorted entries in `plan::two_level`'s seven-threshold layout (its first 8 slots),
/// the eighth entry in its unused slot 3.
fn layout(entries: &[u32]) -> [f32; 8] {
    let mut row = [f32::INFINITY; 16];
    for (slot, &bits) in row.iter_mut().zip(entries) {
        *slot = f32::from_bits(bits);
    }
    let two = two_level(&row, 7);
    let mut out = [f32::INFINITY; 8];
    out.copy_from_slice(&two[..8]);
    out[3] = row[7];
    out
}

/// Find the mirror pairs of a multi-grid format's tables (`thr[grid][code]`,
/// `dec_by_point[grid][code]`, `zero_scale[grid][code]` true where P = 0).
pub(crate) fn find_pairs(
    grids: &[GridPlan],
    thr: &[Vec<[f32; 16]>],
    dec_by_point: &[Vec<[u32; 16]>],
    zero_scale: &[Vec<bool>],
) -> Vec<MirrorPair> {
    let mut pairs = Vec::new();
    let mut taken = vec![false; grids.len()];
    for i in 0..grids.len() {
        for j in i + 1..grids.len() {
            if taken[i] || taken[j] {
                continue;
            }
            // Try both roles: A is the grid whose `down` side fits the two-level count alone.
            let pair = pair_of(grids, thr, dec_by_point, zero_scale, i, j)
                .or_else(|| pair_of(grids, thr, dec_by_point, zero_scale, j, i));
            if let Some(p) = pair {
                taken[i] = true;
                taken[j] = true;
                pairs.push(p);
            }
        }
    }
    pairs
}

fn pair_of(
    grids: &[GridPlan],
    thr: &[Vec<[f32; 16]>],
    dec_by_point: &[Vec<[u32; 16]>],
    zero_scale_of: &[Vec<bool>],
    a: usize,
    b: usize,
) -> Option<MirrorPair> {
    let (ga, gb) = (&grids[a], &grids[b]);
    let zero_scale = &zero_scale_of[a];
    if *zero_scale != zero_scale_of[b] {
        return None;
    }
    // One target: both grids get the same scale code per group, so row c serves both.
    if ga.sign_magnitude || gb.sign_magnitude || ga.target.to_bits() != gb.target.to_bits() {
        return None;
    }
    let mut shape = None;
    let mut rows = Vec::with_capacity(thr[a].len());
    for c in 0..thr[a].len() {
        if zero_scale[c] {
            rows.push(MirrorRow {
                up: [f32::INFINITY; 8],
                down: [f32::INFINITY; 8],
                up_values: [0; 8],
                up_top: 0,
                down_values: [0; 8],
            });
            continue;
        }
        let (na_neg, up_a, down_a) = split_row(&thr[a][c], ga.n_mids)?;
        let (nb_neg, up_b, down_b) = split_row(&thr[b][c], gb.n_mids)?;
        if up_b != down_a || down_b != up_a || up_a.len() > MAX_UP || down_a.len() > MAX_DOWN {
            return None;
        }
        // The nibble layout is fixed per tensor: every row must have the same shape.
        let s = (na_neg, up_a.len(), nb_neg);
        if *shape.get_or_insert(s) != s {
            return None;
        }
        let (da, db) = (&dec_by_point[a][c], &dec_by_point[b][c]);
        let value = |bits: u32| f32::from_bits(bits);
        // B's values the negation of A's, as values (the score only squares differences).
        for j in 0..=up_a.len() {
            if value(db[nb_neg - j]) != -value(da[na_neg + j]) {
                return None;
            }
        }
        for j in 0..=down_a.len() {
            if value(db[nb_neg + j]) != -value(da[na_neg - j]) {
                return None;
            }
        }
        let up_value = |j: usize| da[(na_neg + j).min(15)];
        rows.push(MirrorRow {
            up: layout(&up_a),
            down: layout(&down_a),
            up_values: core::array::from_fn(up_value),
            up_top: up_value(8),
            down_values: core::array::from_fn(|j| (-value(da[na_neg.saturating_sub(j)])).to_bits()),
        });
    }
    let (na_neg, n_up, nb_neg) = shape?;
    let n_down = na_neg;
    let offset = n_up + 1;
    if offset + n_down > 15 || nb_neg != n_up {
        return None;
    }
    let mut map_a = [0u8; 16];
    let mut map_b = [0u8; 16];
    for j in 0..=n_up {
        map_a[j] = ga.point_codes[na_neg + j];
        map_b[j] = gb.point_codes[nb_neg - j];
    }
    for j in 0..=n_down {
        map_a[offset + j] = ga.point_codes[na_neg - j];
        map_b[offset + j] = gb.point_codes[nb_neg + j];
    }
    let used = offset + n_down + 1;
    let zero_nibbles = |map: &[u8; 16], zero: [u8; 2]| -> Option<[u8; 2]> {
        let find = |z: u8| map[..used].iter().position(|&c| c == z).map(|p| p as u8);
        Some([find(zero[0])?, find(zero[1])?])
    };
    Some(MirrorPair {
        a,
        b,
        offset: offset as u32,
        zero_a: zero_nibbles(&map_a, ga.zero_codes)?,
        zero_b: zero_nibbles(&map_b, gb.zero_codes)?,
        map_a,
        map_b,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::super::plan::QuantPlan;
    use crate::quant::{Profile, Quantizer};

    fn pairs(format: &str, ts: f32) -> Vec<(usize, usize)> {
        let f = crate::tables::format(format).expect("built-in format");
        let q = Quantizer::new(f, Profile::Reference).expect("quantizer");
        let plan = QuantPlan::new(&q, ts).expect("eligible");
        let tables = plan.code_tables(1 << 12).expect("code tables");
        tables.mirror.iter().map(|p| (p.a, p.b)).collect()
    }

    /// SFP4's shifted grids (indices 1 and 2) are found as a pair at every tensor scale tried,
    /// tiny and huge ones included (whose rows hold ±0 and infinite thresholds), so the pair
    /// kernel runs where it should: a derivation that failed its own checks would fall back to
    /// the per-grid pass silently (same bits, only slower), which `simd_equal` cannot see.
    #[test]
    fn sfp4_shifted_grids_pair() {
        for ts in [1.0f32, 0.3720238, 7.0e-3, 1.0e-30, 3.0e30, 1.0e-38] {
            let found = pairs("sfp4", ts);
            assert!(
                found == [(1, 2)] || found == [(2, 1)],
                "ts {ts}: pairs {found:?}"
            );
        }
        // At a subnormal tensor scale the smallest products round some thresholds to +0,
        // which x = −0 reaches from the wrong side of the split: the pair must be refused
        // there (the per-grid pass runs), and is. (Two checks refuse it: `split_row`'s +0
        // check, and the mirror equality, since a `down` entry is never +0.)
        assert_eq!(pairs("sfp4", 1.0e-43), []);
    }

    /// Formats without mirror-image grids get no pair.
    #[test]
    fn no_pair_without_mirror_grids() {
        for f in [
            "po2-nf4",
            "mpo2",
            "po2-split87",
            "if4",
            "four-over-six",
            "mixfp4",
            "nvfp4",
        ] {
            assert_eq!(pairs(f, 0.3720238), [], "{f}");
        }
    }
}
