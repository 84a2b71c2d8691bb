//! Per-call preparation shared by every tier: decode tables and the exact thresholds of the
//! reference quantizer. Everything here is scalar, runs once per call (or once per tensor),
//! and is derived from the oracle's own functions so the tiers cannot drift from it.

use crate::decode::Output;
use crate::element::{Magnitude, Policy, Rounding};
use crate::format::{Format, ScaleRounding, MAX_GRIDS};
use crate::quant::exact::Exact;
use crate::quant::nearest::PreparedGrid;
use crate::quant::{max_scale_code, Profile, Quantizer};
use crate::tables::F32;
use std::cell::RefCell;
use std::rc::Rc;

/// What decode needs besides the packed data.
#[derive(Clone, Debug)]
pub(crate) struct DecodePlan {
    pub format: Format,
    pub output: Output,
    /// Grid values as f64 (exact), per grid.
    pub grids: [[f64; 16]; MAX_GRIDS],
    /// Valid-code masks, and whether any grid has an invalid code.
    pub valid: [u16; MAX_GRIDS],
    pub all_valid: bool,
    /// The factor the oracle multiplies by last: the tensor scale, or 1.0.
    pub t: f64,
    /// For 1-byte scales: the scale value of every byte, and the grid it selects (-1 none).
    pub scale_of_byte: [f64; 256],
    pub grid_of_byte: [i8; 256],
    /// For 1-byte scales and large decodes: the 16 decoded values of every scale byte
    /// (`group_table` of its grid and scale), so a group costs a lookup instead of 16 products
    /// and roundings (which for f16/bf16 outputs go through the scalar `round_fast`). Empty
    /// otherwise; entries of bytes with an invalid selector are never read.
    pub byte_tables: Vec<[u32; 16]>,
}

impl DecodePlan {
    pub fn new(format: &Format, tensor_scale: f32, output: Output) -> DecodePlan {
        let mut grids = [[0f64; 16]; MAX_GRIDS];
        let mut valid = [0u16; MAX_GRIDS];
        for (i, g) in format.grids.iter().enumerate().take(MAX_GRIDS) {
            for c in 0..16u8 {
                grids[i][c as usize] = g.value(c) as f64;
            }
            valid[i] = g.valid;
        }
        let mut scale_of_byte = [0f64; 256];
        let mut grid_of_byte = [-1i8; 256];
        if format.scale_bytes == 1 {
            for b in 0..256u32 {
                scale_of_byte[b as usize] = format.scale_value(b);
                grid_of_byte[b as usize] = format.grid_of_scale(b).map_or(-1, |g| g as i8);
            }
        }
        DecodePlan {
            format: *format,
            output,
            grids,
            valid,
            all_valid: format.grids.iter().all(|g| g.valid == 0xffff),
            t: if format.tensor_scale {
                tensor_scale as f64
            } else {
                1.0
            },
            scale_of_byte,
            grid_of_byte,
            byte_tables: Vec::new(),
        }
    }

    /// Fill `byte_tables` (1-byte scales only): 256 group tables, each computed exactly as
    /// the per-group path computes it, so results are unchanged; worth it once a decode has
    /// more groups than there are scale bytes.
    pub fn precompute_byte_tables(&mut self) {
        if self.format.scale_bytes != 1 || self.format.grids.is_empty() {
            return;
        }
        self.byte_tables = (0..256)
            .map(|b| match self.grid_of_byte[b] {
                g if g >= 0 => group_table(
                    &self.grids[g as usize],
                    self.scale_of_byte[b],
                    self.t,
                    self.output,
                ),
                _ => [0; 16],
            })
            .collect();
    }

    /// The grid and the 16 decoded values of group `g`, or `None` for an invalid selector:
    /// the precomputed table of its scale byte when `byte_tables` is filled, else
    /// `compute(grid values, scale)` (the backend's own per-group table).
    #[inline]
    pub fn group_values(
        &self,
        scales: &[u8],
        g: usize,
        compute: impl FnOnce(&[f64; 16], f64) -> [u32; 16],
    ) -> Option<(usize, [u32; 16])> {
        if !self.byte_tables.is_empty() {
            let b = scales[g] as usize;
            let grid = usize::try_from(self.grid_of_byte[b]).ok()?;
            return Some((grid, self.byte_tables[b]));
        }
        let (grid, s) = self.group(scales, g)?;
        Some((grid, compute(&self.grids[grid], s)))
    }

    /// The grid and scale value of group `g`, or `None` for an invalid selector.
    #[inline]
    pub fn group(&self, scales: &[u8], g: usize) -> Option<(usize, f64)> {
        if self.format.scale_bytes == 1 {
            let b = scales[g] as usize;
            let grid = self.grid_of_byte[b];
            if grid < 0 {
                return None;
            }
            Some((grid as usize, self.scale_of_byte[b]))
        } else {
            let s = crate::decode::scale_at(&self.format, scales, g);
            Some((0, self.format.scale_value(s)))
        }
    }
}

/// Round an f64 to f32 *to odd*: truncate toward zero, and set the last bit if anything was
/// cut. Followed by a round-to-nearest-even to a format with at most 22 significant bits (f16
/// has 11, bf16 8) this is one correct rounding of the f64 (Boldo & Melquiond, "Emulation of
/// FMA and correctly rounded sums: proved algorithms using rounding to odd", 2008): f32 keeps
/// at least two more bits than the 16-bit type in every binade the 16-bit type has, subnormals
/// included (bf16 subnormals have quantum 2^-133, f32's is 2^-149). Beyond f32's range the
/// truncation is `f32::MAX`, odd, which rounds on to the same Inf as the exact value would.
#[inline]
pub fn f64_to_f32_odd(x: f64) -> u32 {
    let r = x as f32;
    let back = r as f64;
    let mut bits = r.to_bits();
    if back != x {
        if back.abs() > x.abs() {
            bits -= 1;
        }
        bits |= 1;
    }
    bits
}

/// f32 bits (not NaN) to f16 bits, round to nearest even, overflow to Inf.
#[inline]
pub fn f32_to_f16_rne(bits: u32) -> u32 {
    let sign = (bits >> 16) & 0x8000;
    let a = bits & 0x7fff_ffff;
    if a >= 0x477f_f000 {
        // 65520 = 65504 + half an ulp; the tie goes to the even neighbour, Inf.
        return sign | 0x7c00;
    }
    if a < 0x3880_0000 {
        // Below 2^-14: a subnormal f16, quantum 2^-24. a·2^24 < 2^10 is exact in f32, and
        // adding 2^23 rounds it to an integer, nearest even (the default rounding).
        let scaled = f32::from_bits(a) * 16_777_216.0;
        let n = (scaled + 8_388_608.0) - 8_388_608.0;
        return sign | n as u32;
    }
    let r = a + 0xfff + ((a >> 13) & 1);
    sign | ((r >> 13) - ((127 - 15) << 10))
}

/// f32 bits (not NaN) to bf16 bits, round to nearest even, overflow to Inf.
#[inline]
pub fn f32_to_bf16_rne(bits: u32) -> u32 {
    (bits + 0x7fff + ((bits >> 16) & 1)) >> 16
}

/// The oracle's canonical NaN of a 16-bit output type with the given sign bit (0 or 1).
#[inline]
pub fn nan16(output: Output, negative: u32) -> u32 {
    match output {
        Output::F16 => 0x7e00 | (negative << 15),
        _ => 0x7fc0 | (negative << 15),
    }
}

/// Round the exact f64 `x` to `output` as `decode::round_output` does.
#[inline]
pub fn round_fast(x: f64, output: Output) -> u32 {
    match output {
        Output::F32 => (x as f32).to_bits(),
        _ if x.is_nan() => nan16(output, x.is_sign_negative() as u32),
        Output::F16 => f32_to_f16_rne(f64_to_f32_odd(x)),
        Output::Bf16 => f32_to_bf16_rne(f64_to_f32_odd(x)),
    }
}

/// The decoded bits of all 16 codes of one group: `((g · s) · t)` in f64, the oracle's
/// order, rounded once.
#[inline]
pub fn group_table(grid: &[f64; 16], s: f64, t: f64, output: Output) -> [u32; 16] {
    let mut table = [0u32; 16];
    for (slot, &g) in table.iter_mut().zip(grid) {
        *slot = round_fast((g * s) * t, output);
    }
    table
}

/// One grid of a format, prepared for the threshold search of the reference quantizer.
#[derive(Clone, Debug)]
pub(crate) struct GridPlan {
    /// Grid values as f64, for the decode table of the error score.
    pub values: [f64; 16],
    pub target: f32,
    pub selector_bits: u32,
    pub sign_magnitude: bool,
    /// Exact midpoints between neighbouring distinct values (magnitudes for sign-magnitude
    /// grids), ascending; `n_mids` of them, the rest +Inf.
    pub mids: [f64; 16],
    pub n_mids: usize,
    /// Whether an exact tie at midpoint k goes to the upper point.
    pub tie_up: [bool; 16],
    /// The same as a bit mask, with the padding lanes (k ≥ n_mids) set so that their +Inf
    /// boundary stays +Inf.
    pub tie_up_mask: u16,
    /// The code of the k-th point (points ascending), padded with the last.
    pub point_codes: [u8; 16],
    /// The same, widened to u32 lanes (vector lookups).
    pub point_codes32: [u32; 16],
    /// Whether point k is code k for every k ≤ `n_mids` (the lookup can be skipped).
    pub identity_codes: bool,
    /// The code the oracle gives ±0 under a zero scale (index 1 for -0).
    pub zero_codes: [u8; 2],
    /// f32 bit thresholds of the block scale: the scale code is the number of entries ≤
    /// the group amax's bits (capped at `max_code`). Empty for floor-pow2 and f32 scales.
    pub scale_thresholds: Vec<u32>,
    /// A direct index into `scale_thresholds` (RNE 1-byte scales, when it applies).
    pub scale_index: Option<ScaleIndex>,
    /// Floor-pow2 scales: `bias − floor_log2(target)`, the per-format part of
    /// `quant::reference_scale_floor_pow2` (which also re-derives the largest code per call).
    pub floor_pow2_offset: i32,
}

/// The RNE scale code without a search. Bucket k holds the amax bit patterns with
/// `bits >> 19 == k` (1/16 of a binade); `start[k]` counts the thresholds below the bucket's
/// first pattern, and no bucket holds more than `MAX_SCALE_PROBE` thresholds, so the code is
/// `start[k]` plus the number of the `MAX_SCALE_PROBE` thresholds from there that are ≤ the
/// amax: the count of all thresholds ≤ the amax, which is what the binary search computes.
/// (Probing a fixed number keeps the count branch-free: a probed threshold past the bucket
/// belongs to a later bucket, or is padding, and is above every pattern of this one.)
#[derive(Clone, Debug)]
pub(crate) struct ScaleIndex {
    pub start: Box<[u16; 4096]>,
    /// When no bucket holds more than one threshold (E4M3 and UE4M3 scales): per bucket its
    /// start (low half) and the threshold at the start (high half), so the count is one load
    /// and one compare.
    pub one: Option<Box<[u64; 4096]>>,
    /// `scale_thresholds` padded with `MAX_SCALE_PROBE` more `u32::MAX` (so reads never
    /// leave it).
    pub thresholds: Vec<u32>,
}

/// The number of entries ≤ `amax` of a sorted table padded to a power of two with values above
/// every finite amax: a branch-free binary search.
fn binary_search_count(t: &[u32], amax: u32) -> u32 {
    let mut lo = 0usize;
    let mut step = t.len() / 2;
    while step > 0 {
        lo += step * (t[lo + step - 1] <= amax) as usize;
        step /= 2;
    }
    lo as u32
}

/// Beyond this many thresholds in one bucket the binary search is as fast.
const MAX_SCALE_PROBE: usize = 3;

impl ScaleIndex {
    fn new(thresholds: &[u32]) -> Option<ScaleIndex> {
        let real: Vec<u32> = thresholds
            .iter()
            .copied()
            .take_while(|&t| t != u32::MAX)
            .collect();
        if real.is_empty() {
            // No RNE table (floor-pow2 or 4-byte scales): nothing to index.
            return None;
        }
        // A threshold t lies in bucket t >> 19, so a bucket's start is the number of
        // thresholds in earlier buckets (a prefix sum of the per-bucket counts) and its
        // probe length its own count: one pass, no search per bucket. Only the span from the
        // first threshold's bucket to the last one's is counted (about 270 of 4096 buckets
        // for E4M3 scales; all 4096 were 8% of a fresh 64 Ki-value quantize): the buckets
        // below it start at 0, those above it at the number of thresholds, filled at once.
        let (first, last) = (
            (real[0] >> 19) as usize,
            (real[real.len() - 1] >> 19) as usize,
        );
        let mut in_bucket = vec![0u16; last - first + 1];
        for &t in &real {
            in_bucket[(t >> 19) as usize - first] += 1;
        }
        let mut start = Box::new([0u16; 4096]);
        let mut below = 0u16;
        for (slot, &n) in start[first..=last].iter_mut().zip(in_bucket.iter()) {
            *slot = below;
            below += n;
        }
        start[last + 1..].fill(below);
        let probe = in_bucket.iter().copied().max().unwrap_or(0) as usize;
        if probe > MAX_SCALE_PROBE {
            return None;
        }
        let mut padded = real;
        padded.resize(padded.len() + MAX_SCALE_PROBE, u32::MAX);
        let one = (probe <= 1).then(|| {
            let entry = |lo: u16| lo as u64 | (padded[lo as usize] as u64) << 32;
            let mut one = Box::new([0u64; 4096]);
            one[..first].fill(entry(0));
            for (slot, &lo) in one[first..=last].iter_mut().zip(&start[first..=last]) {
                *slot = entry(lo);
            }
            one[last + 1..].fill(entry(below));
            one
        });
        Some(ScaleIndex {
            start,
            one,
            thresholds: padded,
        })
    }

    /// The number of thresholds ≤ `amax` (amax a finite f32's bits, sign clear).
    #[inline(always)]
    pub fn count(&self, amax: u32) -> u32 {
        if let Some(one) = &self.one {
            return count_one(one, amax);
        }
        let lo = self.start[(amax >> 19) as usize & 4095] as usize;
        let t = &self.thresholds[lo..lo + MAX_SCALE_PROBE];
        lo as u32 + t.iter().map(|&t| (t <= amax) as u32).sum::<u32>()
    }

    /// `count(amax).min(max_code)` for every amax, into `code`: the layout's branch taken once
    /// for the slice (inside the loop it measured 8% of a two-grid quantize).
    #[inline(always)]
    pub fn codes(&self, amax: &[u32], max_code: u32, code: &mut [u32]) {
        match &self.one {
            Some(one) => {
                for (slot, &a) in code.iter_mut().zip(amax) {
                    *slot = count_one(one, a).min(max_code);
                }
            }
            None => {
                for (slot, &a) in code.iter_mut().zip(amax) {
                    *slot = self.count(a).min(max_code);
                }
            }
        }
    }
}

/// `ScaleIndex::count` in the one-threshold-per-bucket layout (`ScaleIndex::one`): the
/// bucket's start, plus one if the amax reaches the threshold stored beside it.
#[inline(always)]
fn count_one(one: &[u64; 4096], amax: u32) -> u32 {
    let e = one[(amax >> 19) as usize & 4095];
    e as u32 + ((e >> 32) as u32 <= amax) as u32
}

/// The part of a `QuantPlan` that does not depend on the tensor scale, for one format and
/// profile: kept per thread for the last format asked, since a checkpoint's tensors share a
/// format and each has its own tensor scale (building it was about 12% of a fresh 64 Ki-value
/// two-grid quantize: the exact midpoints and tie directions asked of the oracle's search, the
/// eligibility check, the 256 scale values).
#[derive(Debug)]
struct FormatPlan {
    /// Every grid, `with_tensor_scale` not yet applied.
    grids: Vec<GridPlan>,
    max_code: u32,
    scale_of_code: [f64; 256],
}

impl FormatPlan {
    /// `None` when the format is not eligible (the caller runs the oracle).
    fn new(q: &Quantizer) -> Option<FormatPlan> {
        let format = &q.format;
        if !quant_eligible(format, q.profile) {
            return None;
        }
        let mut scale_of_code = [0f64; 256];
        if format.scale_bytes == 1 {
            for (b, slot) in scale_of_code.iter_mut().enumerate() {
                *slot = format.scale_value(b as u32);
            }
        }
        Some(FormatPlan {
            grids: (0..format.grids.len())
                .map(|g| GridPlan::without_tensor_scale(format, g))
                .collect(),
            max_code: max_scale_code(format),
            scale_of_code,
        })
    }

    /// `new`, reused while the thread asks for the same format and profile.
    fn cached(q: &Quantizer) -> Option<Rc<FormatPlan>> {
        thread_local! {
            static LAST: LastOf<(Profile, Format), FormatPlan> = const { RefCell::new(None) };
        }
        last_or(&LAST, (q.profile, q.format), || FormatPlan::new(q))
    }
}

/// A per-thread cache of one entry: the last key asked and what was built for it (`None`
/// when nothing could be: an ineligible format).
type LastOf<K, T> = RefCell<Option<(K, Option<Rc<T>>)>>;

/// What `slot` holds for `key`, or `make()`'s, which then replaces it.
fn last_or<K: PartialEq, T>(
    slot: &'static std::thread::LocalKey<LastOf<K, T>>,
    key: K,
    make: impl FnOnce() -> Option<T>,
) -> Option<Rc<T>> {
    let hit = slot.with(|l| match &*l.borrow() {
        Some((k, built)) if *k == key => Some(built.clone()),
        _ => None,
    });
    if let Some(built) = hit {
        return built;
    }
    let built = make().map(Rc::new);
    slot.with(|l| *l.borrow_mut() = Some((key, built.clone())));
    built
}

/// The reference quantizer, prepared for one tensor (its tensor scale fixed).
#[derive(Clone, Debug)]
pub(crate) struct QuantPlan {
    pub format: Format,
    pub grids: Vec<GridPlan>,
    pub ts: f32,
    /// The tensor-scale factor of P (ts, or 1.0 without a tensor scale).
    pub t: f64,
    pub max_code: u32,
    pub scale_of_code: [f64; 256],
    /// The 16-groups-at-once layout (`x86::quantize_tiles_avx512`), when it applies.
    pub tile: Option<TilePlan>,
    /// Per-scale-code tables, built on the first large call (`code_tables`).
    tables: std::sync::OnceLock<CodeTables>,
}

/// What quantize needs of one grid for a group whose stored scale code is `c`: the element
/// thresholds (`element_thresholds` of P = s(c)·t) and the decoded f32 values
/// (`group_table(values, s(c), t, F32)`, for the error score of multi-grid formats). Both
/// depend only on the code, not on the group, so a tensor with more groups than codes builds
/// them once per code, with the same functions the per-group path calls: bits unchanged.
#[derive(Clone, Debug)]
pub(crate) struct CodeTables {
    /// `thr[grid][c]`; entries of a code whose P is 0 are unused (the zero-scale path).
    pub thr: Vec<Vec<[f32; 16]>>,
    /// `dec[grid][c]`; empty for single-grid formats (no score is needed).
    pub dec: Vec<Vec<[u32; 16]>>,
    /// `two_level(thr[grid][c], n_mids)`: the same thresholds reordered for a two-level count.
    pub two_level: Vec<Vec<[f32; 16]>>,
    /// `dec[grid][c]` indexed by point index instead of code (entry k is the decoded value of
    /// `point_codes[k]`): for kernels that score point indices before mapping them to codes.
    /// Empty for single-grid formats.
    pub dec_by_point: Vec<Vec<[u32; 16]>>,
    /// The format's mirror-image grid pairs at this tensor scale (`mirror`), each checked
    /// against `thr` and `dec_by_point`.
    pub mirror: Vec<super::mirror::MirrorPair>,
    /// `zero_scale[grid][c]`: whether code c gives the zero product (P = s(c)·t = 0), whose
    /// groups take the oracle's zero codes.
    pub zero_scale: Vec<Vec<bool>>,
}

/// A threshold row (ascending, +Inf past `n_mids`) reordered for counting in two levels
/// (`avx2_quant`): entries 0..3 are the split thresholds S, entries 4 + 4j + b are L_j[b].
/// With 8 or more midpoints (up to 15): S = t[3], t[7], t[11] and L_j[b] = t[4b + j] for
/// j < 3; else (up to 7): S = t[1], t[3], t[5] and L_0[b] = t[2b]. Because the row is sorted,
/// the count of thresholds ≤ x is `w·b + Σ_j [L_j[b] ≤ x]` where b is the count of S ≤ x
/// and w = 4 (or 2): the S count places x among the buckets of w thresholds, the last of
/// which (t[w·b + w − 1], an S entry or the +Inf pad t[15], t[7]) is above x. Unused entries
/// are +Inf.
pub(crate) fn two_level(row: &[f32; 16], n_mids: usize) -> [f32; 16] {
    let mut out = [f32::INFINITY; 16];
    if n_mids > 7 {
        out[..3].copy_from_slice(&[row[3], row[7], row[11]]);
        for j in 0..3 {
            for b in 0..4 {
                out[4 + 4 * j + b] = row[4 * b + j];
            }
        }
    } else {
        out[..3].copy_from_slice(&[row[1], row[3], row[5]]);
        for b in 0..4 {
            out[4 + b] = row[2 * b];
        }
    }
    out
}

/// Groups from which building `CodeTables` (≤ 256 codes × grids) pays for itself.
pub(crate) const CODE_TABLES_MIN_GROUPS: usize = 256;

/// What the tile kernel (16 groups at once, one group per vector lane) needs besides the
/// grid plan. It applies to single-grid, sign-magnitude formats with 1-byte scales whose
/// scale values are f32s and whose block-scale rounding is a threshold table (RNE) or
/// floor-pow2 (computed from the exponent).
#[derive(Clone, Debug)]
pub(crate) struct TilePlan {
    /// `GridPlan::scale_thresholds`, padded to 256 entries with `u32::MAX`.
    pub scale_thresholds: [u32; 256],
    /// log2 of the search length (the padded RNE table's length; 0 for floor-pow2).
    pub scale_steps: u32,
    /// Scale value (f32 bits) of every code ≤ `max_code`, exact.
    pub scale_values: [u32; 256],
    /// How many 32-entry tables the code lookups need (`max_code / 32 + 1`).
    pub pairs: usize,
    /// floor-pow2: `bias − floor_log2(target)`, added to `floor_log2(amax)`.
    pub floor_pow2: Option<i32>,
    /// Whether point index k is code k (E2M1 magnitudes), so the code lookup can be skipped.
    pub identity_codes: bool,
}

impl TilePlan {
    fn new(
        format: &Format,
        grids: &[GridPlan],
        max_code: u32,
        scale_of_code: &[f64; 256],
    ) -> Option<TilePlan> {
        let [grid] = grids else { return None };
        let group = format.group_size as usize;
        if format.scale_bytes != 1
            || !grid.sign_magnitude
            || group == 0
            || !group.is_multiple_of(16)
            || group > 256
            || grid.selector_bits != 0
        {
            return None;
        }
        // The kernel gives a zero-scale group point 0 with the input's sign: the oracle's
        // zero codes must be exactly that.
        let p0 = grid.point_codes[0];
        if p0 & 8 != 0 || grid.zero_codes != [p0, p0 | 8] {
            return None;
        }
        let mut scale_values = [0u32; 256];
        for c in 0..=max_code as usize {
            let v = scale_of_code[c] as f32;
            if v as f64 != scale_of_code[c] {
                return None;
            }
            scale_values[c] = v.to_bits();
        }
        let mut scale_thresholds = [u32::MAX; 256];
        let (scale_steps, floor_pow2) = match format.scale_rounding {
            ScaleRounding::Rne => {
                let t = &grid.scale_thresholds;
                if t.is_empty() || t.len() > 256 {
                    return None;
                }
                scale_thresholds[..t.len()].copy_from_slice(t);
                (t.len().trailing_zeros(), None)
            }
            ScaleRounding::FloorPow2 => (0, Some(grid.floor_pow2_offset)),
        };
        let identity_codes = grid.identity_codes;
        Some(TilePlan {
            scale_thresholds,
            scale_steps,
            scale_values,
            pairs: max_code as usize / 32 + 1,
            floor_pow2,
            identity_codes,
        })
    }
}

/// Whether the threshold method applies to a format: reference profile; every midpoint
/// times every scale value times the tensor scale exact in f64 (≤ 53 significant bits);
/// 1- or 4-byte scales; groups small enough for the score margin (see `select`).
pub(crate) fn quant_eligible(format: &Format, profile: Profile) -> bool {
    if profile != Profile::Reference || format.grids.is_empty() || format.group_size > 4096 {
        return false;
    }
    let scale_bits = if format.scale_bytes == 4 {
        24
    } else {
        format.scale_element.mantissa_bits + 1
    };
    let ts_bits = if format.tensor_scale { 24 } else { 0 };
    format.grids.iter().all(|g| {
        let p = PreparedGrid::new(g);
        let mid_bits = p
            .midpoints
            .iter()
            .map(|m| significant_bits(m.mantissa))
            .max()
            .unwrap_or(0);
        // P = s · t must be an f64; mid · P need not be: thresholds add the product's
        // rounding error, which an FMA gives exactly (`ceil_threshold_fma`).
        g.target_value() > 0.0 && mid_bits <= 53 && scale_bits + ts_bits <= 53
    }) && (format.scale_bytes == 4 || format.value_mask <= 0xff)
}

/// Bits from the highest to the lowest set bit. A zero midpoint (a grid symmetric about 0
/// after an offset: E2M1 + 2.5 holds -0.5 and 0.5) has none; the plain formula
/// `128 - leading - trailing` underflowed there (fuzz/regressions/spec/zero-midpoint).
fn significant_bits(mantissa: u128) -> u32 {
    match mantissa {
        0 => 0,
        m => 128 - m.leading_zeros() - m.trailing_zeros(),
    }
}

fn exact_to_f64(e: Exact) -> f64 {
    // Mantissas here have ≤ 53 bits (eligibility) and exponents far inside f64's range.
    let v = e.mantissa as f64 * crate::element::pow2(e.exponent);
    if e.negative {
        -v
    } else {
        v
    }
}

impl GridPlan {
    /// The plan of one grid for tensor scale `ts` (the tests' shorthand; `QuantPlan::new`
    /// takes the tensor-scale-free part from `FormatPlan::cached`).
    #[cfg(test)]
    fn new(format: &Format, grid_index: usize, ts: f32) -> GridPlan {
        GridPlan::without_tensor_scale(format, grid_index).with_tensor_scale(format, ts)
    }

    /// The grid's thresholds of the RNE block scale (and their index) for tensor scale `ts`:
    /// the only part of a `GridPlan` that depends on it.
    fn with_tensor_scale(mut self, format: &Format, ts: f32) -> GridPlan {
        self.scale_thresholds =
            if format.scale_bytes == 1 && format.scale_rounding == ScaleRounding::Rne {
                scale_thresholds(format, self.target, ts)
            } else {
                Vec::new()
            };
        self.scale_index = ScaleIndex::new(&self.scale_thresholds);
        self
    }

    /// Everything but the tensor-scale part (`with_tensor_scale`), which is left empty.
    fn without_tensor_scale(format: &Format, grid_index: usize) -> GridPlan {
        let grid = &format.grids[grid_index];
        let prepared = PreparedGrid::new(grid);
        let mut values = [0f64; 16];
        for c in 0..16u8 {
            values[c as usize] = grid.value(c) as f64;
        }
        let mut mids = [f64::INFINITY; 16];
        let mut tie_up = [false; 16];
        for (k, m) in prepared.midpoints.iter().enumerate().take(16) {
            mids[k] = exact_to_f64(*m);
            // Ask the oracle's own search which side an exact tie goes to.
            let at = prepared.nearest(*m, Exact::ONE);
            tie_up[k] = at == prepared.points[k + 1].1 && at != prepared.points[k].1;
        }
        let mut point_codes = [0u8; 16];
        let last = prepared.points.last().map_or(0, |p| p.1);
        for (k, slot) in point_codes.iter_mut().enumerate() {
            *slot = prepared.points.get(k).map_or(last, |p| p.1);
        }
        let zero = |negative| {
            prepared.nearest(
                Exact {
                    negative,
                    ..Exact::ZERO
                },
                Exact::ONE,
            )
        };
        GridPlan {
            values,
            target: grid.target_value(),
            selector_bits: format
                .selector_bits_of_grid
                .get(grid_index)
                .copied()
                .unwrap_or(0),
            sign_magnitude: grid.sign_magnitude,
            mids,
            n_mids: prepared.midpoints.len().min(15),
            tie_up,
            tie_up_mask: (0..16).fold(0u16, |m, k| {
                m | (((k >= prepared.midpoints.len().min(15)) || tie_up[k]) as u16) << k
            }),
            point_codes,
            point_codes32: point_codes.map(u32::from),
            identity_codes: (0..=prepared.midpoints.len().min(15))
                .all(|k| point_codes[k] as usize == k),
            zero_codes: [zero(false), zero(true)],
            scale_index: None,
            scale_thresholds: Vec::new(),
            floor_pow2_offset: format.scale_element.bias
                - crate::quant::floor_log2(grid.target_value()),
        }
    }
}

/// Thresholds of the RNE block scale: entry c is the smallest f32 amax whose scale code is
/// above c. The oracle rounds q = amax / (target · ts) once to the scale element; codes
/// 0..=max are increasing values, so the code steps up exactly where q crosses the midpoint
/// of two neighbouring codes, i.e. where amax crosses B = mid · target · ts (exact). The
/// smallest f32 ≥ B is B rounded up to f32; if B is itself an f32 and the tie goes down,
/// the next f32. The tie direction is asked of the element encoder itself.
fn scale_thresholds(format: &Format, target: f32, ts: f32) -> Vec<u32> {
    let ts = if format.tensor_scale { ts } else { 1.0 };
    let mids = scale_mids(format, target);
    let mut out = Vec::with_capacity(mids.len().next_power_of_two());
    for &(m, tie_up, exact_mid) in mids.iter() {
        // Fast path: m = mid · target is an f64 of ≤ 29 significant bits, so m · ts (≤ 53
        // bits) is exact and `ceil_threshold` rounds it up as the exact path below does.
        let t = if let Some(m) = exact_mid {
            ceil_threshold(m * ts as f64, tie_up).to_bits()
        } else {
            exact_threshold(m.mul(Exact::of_f32(ts)), tie_up)
        };
        out.push(t);
    }
    // Pad to a power of two for the branch-free search; no finite amax reaches the pad.
    let len = (out.len() + 1).next_power_of_two();
    out.resize(len, u32::MAX);
    out
}

/// The smallest f32 ≥ the exact boundary `b` (the next one if `b` is an f32 and its tie goes
/// down), by the oracle's own f32 encoder.
fn exact_threshold(b: Exact, tie_up: bool) -> u32 {
    let up = F32.encode_magnitude(
        false,
        Magnitude {
            significand: b.mantissa,
            exponent: b.exponent,
            sticky: false,
        },
        Rounding::MagnitudeUp,
        Policy::Satfinite,
    );
    match up {
        Ok((bits, crate::element::Outcome::Exact)) if !tie_up => bits + 1,
        Ok((bits, crate::element::Outcome::Exact | crate::element::Outcome::Rounded)) => bits,
        // Beyond f32: no finite amax reaches it.
        _ => 0x7f80_0000,
    }
}

/// Per scale midpoint c (between codes c and c + 1): mid · target exactly, whether an exact
/// tie goes up, and mid · target as an f64 when it has ≤ 29 significant bits. These do not
/// depend on the tensor scale, and cost far more than the thresholds themselves (exact
/// arithmetic, one encoder call each), so they are computed once per process and scale setup
/// (shared by every thread: the CLI's workers start per tensor).
type ScaleMids = std::sync::Arc<Vec<(Exact, bool, Option<f64>)>>;

fn scale_mids(format: &Format, target: f32) -> ScaleMids {
    type Key = (crate::element::Element, u32, u32, u32);
    static CACHE: std::sync::Mutex<Vec<(Key, ScaleMids)>> = std::sync::Mutex::new(Vec::new());
    let e = &format.scale_element;
    let max = max_scale_code(format);
    let key: Key = (*e, max, target.to_bits(), format.value_mask);
    let cached = |k: &Key| -> Option<ScaleMids> {
        let c = CACHE.lock().ok()?;
        c.iter().find(|(kk, _)| kk == k).map(|(_, v)| v.clone())
    };
    if let Some(hit) = cached(&key) {
        return hit;
    }
    let d = Exact::of_f32(target);
    let mut mids = Vec::with_capacity(max as usize);
    for c in 0..max {
        let (lo, hi) = (e.decode(c), e.decode(c + 1));
        let mid = Exact::midpoint(Exact::of_f64(lo), Exact::of_f64(hi));
        let tie = e.encode_magnitude(
            false,
            Magnitude {
                significand: mid.mantissa,
                exponent: mid.exponent,
                sticky: false,
            },
            Rounding::NearestEven,
            Policy::Satfinite,
        );
        let tie_up = matches!(tie, Ok((code, _)) if code > c);
        let m = mid.mul(d);
        let bits = significant_bits(m.mantissa);
        let fast = (m.mantissa != 0 && bits <= 29 && !m.negative).then(|| exact_to_f64(m));
        mids.push((m, tie_up, fast));
    }
    let mids = std::sync::Arc::new(mids);
    if let Ok(mut c) = CACHE.lock() {
        if c.len() >= 16 {
            c.remove(0);
        }
        c.push((key, mids.clone()));
    }
    mids
}

impl QuantPlan {
    /// `QuantPlan::new`, remembering the last plan of this thread: a tensor quantized in
    /// chunks (the CLI's streaming), or quantized again, pays for the plan once.
    pub fn cached(q: &Quantizer, ts: f32) -> Option<Rc<QuantPlan>> {
        thread_local! {
            static LAST: LastOf<(Profile, u32, Format), QuantPlan> = const { RefCell::new(None) };
        }
        // (The cheap parts of the key first: a tuple compares in order.)
        let key = (q.profile, ts.to_bits(), q.format);
        last_or(&LAST, key, || QuantPlan::new(q, ts))
    }

    /// Prepare a format for one tensor whose tensor scale is `ts`; `None` when the format
    /// is not eligible (the caller runs the oracle).
    pub fn new(q: &Quantizer, ts: f32) -> Option<QuantPlan> {
        let format = &q.format;
        let base = FormatPlan::cached(q)?;
        let grids: Vec<GridPlan> = base
            .grids
            .iter()
            .map(|g| g.clone().with_tensor_scale(format, ts))
            .collect();
        let (max_code, scale_of_code) = (base.max_code, base.scale_of_code);
        let tile = TilePlan::new(format, &grids, max_code, &scale_of_code);
        Some(QuantPlan {
            format: *format,
            grids,
            ts,
            t: if format.tensor_scale { ts as f64 } else { 1.0 },
            max_code,
            scale_of_code,
            tile,
            tables: std::sync::OnceLock::new(),
        })
    }

    /// The per-scale-code tables for a call of `groups` groups: `None` for small calls (the
    /// per-group path is cheaper) and for 4-byte scales (too many codes).
    pub fn code_tables(&self, groups: usize) -> Option<&CodeTables> {
        if groups < CODE_TABLES_MIN_GROUPS || self.format.scale_bytes != 1 {
            return None;
        }
        Some(self.tables.get_or_init(|| {
            let codes = self.max_code as usize + 1;
            let multi = self.grids.len() > 1;
            let mut thr: Vec<Vec<[f32; 16]>> = Vec::with_capacity(self.grids.len());
            let mut dec: Vec<Vec<[u32; 16]>> = Vec::new();
            let mut zero_scale: Vec<Vec<bool>> = Vec::with_capacity(self.grids.len());
            for gp in &self.grids {
                let s = |c: usize| self.scale_value(c as u32 | gp.selector_bits);
                let p: Vec<f64> = (0..codes).map(|c| s(c) * self.t).collect();
                zero_scale.push(p.iter().map(|&p| p == 0.0).collect());
                thr.push(
                    p.iter()
                        .map(|&p| {
                            if p == 0.0 {
                                [f32::INFINITY; 16]
                            } else {
                                element_thresholds(gp, p)
                            }
                        })
                        .collect(),
                );
                if multi {
                    dec.push(
                        (0..codes)
                            .map(|c| group_table(&gp.values, s(c), self.t, Output::F32))
                            .collect(),
                    );
                }
            }
            let two_level = thr
                .iter()
                .zip(&self.grids)
                .map(|(rows, gp)| rows.iter().map(|r| two_level(r, gp.n_mids)).collect())
                .collect();
            let dec_by_point: Vec<Vec<[u32; 16]>> = dec
                .iter()
                .zip(&self.grids)
                .map(|(rows, gp)| {
                    rows.iter()
                        .map(|d| gp.point_codes.map(|c| d[c as usize]))
                        .collect()
                })
                .collect();
            let mirror = if multi {
                super::mirror::find_pairs(&self.grids, &thr, &dec_by_point, &zero_scale)
            } else {
                Vec::new()
            };
            CodeTables {
                thr,
                dec,
                two_level,
                dec_by_point,
                mirror,
                zero_scale,
            }
        }))
    }

    /// The stored scale (selector bits not yet set) of a group with amax bits `amax`.
    #[inline]
    pub fn scale_code(&self, grid: &GridPlan, amax: u32) -> u32 {
        let f = &self.format;
        if f.scale_bytes == 4 {
            return crate::quant::reference_scale_rne(
                f,
                f32::from_bits(amax),
                grid.target,
                self.ts,
            );
        }
        match f.scale_rounding {
            // `quant::reference_scale_floor_pow2`, its format-constant parts precomputed.
            ScaleRounding::FloorPow2 if amax == 0 => 0,
            ScaleRounding::FloorPow2 => (crate::quant::floor_log2(f32::from_bits(amax))
                + grid.floor_pow2_offset)
                .clamp(0, self.max_code as i32) as u32,
            ScaleRounding::Rne => match &grid.scale_index {
                Some(index) => index.count(amax).min(self.max_code),
                None => binary_search_count(&grid.scale_thresholds, amax).min(self.max_code),
            },
        }
    }

    /// The exact scale value of a stored scale (selector bits included or not).
    #[inline]
    pub fn scale_value(&self, stored: u32) -> f64 {
        if self.format.scale_bytes == 4 {
            self.format.scale_value(stored)
        } else {
            self.scale_of_code[(stored & self.format.value_mask & 0xff) as usize]
        }
    }
}

/// The element thresholds of one grid for one exact product P = s · t > 0: entry k is the
/// smallest f32 `x` (magnitude, for sign-magnitude grids) at or past midpoint k, so the
/// point index of x is the number of entries ≤ x. The boundary mid·P is exact in f64
/// (`quant_eligible`); rounding it up to f32 and stepping past an exact tie that goes down
/// turns "x > b, or x = b and ties go up" into "x ≥ threshold".
#[inline(always)]
pub fn element_thresholds(grid: &GridPlan, p: f64) -> [f32; 16] {
    let mut out = [f32::INFINITY; 16];
    for (k, slot) in out.iter_mut().enumerate().take(grid.n_mids) {
        *slot = ceil_threshold_fma(grid.mids[k], p, grid.tie_up[k]);
    }
    out
}

/// `ceil_threshold` of the exact product b = m · p of two f64s (b itself need not be an f64).
/// hi = fl(m·p) and lo = m·p − hi (exact: the FMA rounds once, and a product's error is an
/// f64 unless it underflows, which needs |b| < 2^-969, far below any f32-derived product
/// here). r = fl32(hi) is one of the two f32s around b (rounding is monotone, and hi lies
/// between them); back − hi is exact (Sterbenz, or back = 0), so back < b ⟺ back − hi < lo
/// and back = b ⟺ back − hi = lo.
#[inline(always)]
pub fn ceil_threshold_fma(m: f64, p: f64, tie_up: bool) -> f32 {
    let hi = m * p;
    let lo = m.mul_add(p, -hi);
    let r = hi as f32;
    let d = r as f64 - hi;
    let step = ((d < lo) | ((d == lo) & !tie_up)) as u32;
    next_up_by(r, step)
}

/// `r` moved `step` (0 or 1) f32s up; +Inf stays.
#[inline(always)]
fn next_up_by(r: f32, step: u32) -> f32 {
    let bits = r.to_bits();
    let negative = (bits >> 31) & (bits != 0x8000_0000) as u32;
    let up = if bits == 0x8000_0000 {
        step
    } else {
        bits.wrapping_add(step)
    };
    let down = bits.wrapping_sub(step);
    let inf = (r == f32::INFINITY) as u32;
    let out = if negative == 1 { down } else { up };
    f32::from_bits(if inf == 1 { bits } else { out })
}

/// The smallest f32 `t` such that (x ≥ t) ⟺ (x > b or (x = b and tie_up)) for every f32 x.
/// Branch-free: the comparisons are data-dependent and would mispredict.
#[inline(always)]
pub fn ceil_threshold(b: f64, tie_up: bool) -> f32 {
    let r = b as f32;
    let back = r as f64;
    let step = ((back < b) | ((back == b) & !tie_up)) as u32;
    let bits = r.to_bits();
    // next_up: +1 on positive bit patterns (and +0), −1 on negative ones, −0 → 2^-149.
    let negative = (bits >> 31) & (bits != 0x8000_0000) as u32;
    let up = if bits == 0x8000_0000 {
        step
    } else {
        bits.wrapping_add(step)
    };
    let down = bits.wrapping_sub(step);
    let inf = (r == f32::INFINITY) as u32;
    let out = if negative == 1 { down } else { up };
    f32::from_bits(if inf == 1 { bits } else { out })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tensor-scale-free part is cached per thread by format *and* profile: a library
    /// profile is never eligible, whichever plan the thread built before it, and the cache
    /// hands back the right format after another.
    #[test]
    fn format_plans_are_per_format_and_profile() {
        let Some(nvfp4) = crate::tables::format("nvfp4").copied() else {
            panic!("built-in format nvfp4 missing");
        };
        let q = |f: &Format, p| Quantizer::new(f, p).unwrap_or_else(|e| panic!("{e}"));
        let (reference, te) = (q(&nvfp4, Profile::Reference), q(&nvfp4, Profile::Te));
        for ts in [1.0f32, 0.5] {
            assert!(
                QuantPlan::new(&reference, ts).is_some(),
                "reference, ts {ts}"
            );
            assert!(
                QuantPlan::new(&te, ts).is_none(),
                "TE profile after reference, ts {ts}"
            );
            assert!(
                QuantPlan::new(&reference, ts).is_some(),
                "reference after TE, ts {ts}"
            );
        }
        // Every eligible built-in format, twice round, two tensor scales: the plan's grids are
        // those built from scratch for that format and tensor scale.
        let mut checked = 0;
        for round in 0..2 {
            for f in crate::tables::FORMATS {
                let ts = if round == 0 { 1.0 } else { 0.3720238 };
                let Some(plan) = QuantPlan::new(&q(f, Profile::Reference), ts) else {
                    continue;
                };
                let direct: Vec<GridPlan> = (0..f.grids.len())
                    .map(|g| GridPlan::new(f, g, ts))
                    .collect();
                assert_eq!(
                    format!("{:?}", plan.grids),
                    format!("{direct:?}"),
                    "{}",
                    f.name
                );
                assert_eq!(plan.max_code, max_scale_code(f), "{}", f.name);
                checked += 1;
            }
        }
        assert!(checked > 10, "only {checked} plans checked");
    }

    /// The bucket index counts exactly what the binary search counts: every built-in RNE
    /// format with 1-byte scales, several tensor scales, every amax at a threshold and one
    /// bit pattern either side, and at every bucket's first and last pattern.
    #[test]
    fn scale_index_equals_binary_search() {
        let mut indexed = 0;
        for f in crate::tables::FORMATS.iter().filter(|f| {
            f.scale_bytes == 1 && f.scale_rounding == ScaleRounding::Rne && !f.grids.is_empty()
        }) {
            for ts in [1.0f32, 0.3720238, 1.0e-30, 3.0e30, 7.0e-3] {
                for gi in 0..f.grids.len() {
                    let gp = GridPlan::new(f, gi, ts);
                    let Some(index) = &gp.scale_index else {
                        continue;
                    };
                    indexed += 1;
                    let t = &gp.scale_thresholds;
                    let mut probes: Vec<u32> = Vec::new();
                    for &v in t.iter().filter(|&&v| v < 0x7f80_0000) {
                        probes.extend([v.saturating_sub(1), v, v + 1]);
                    }
                    for k in 0..0xff0u32 {
                        probes.extend([k << 19, (k << 19) | 0x7_ffff]);
                    }
                    probes.retain(|&a| a < 0x7f80_0000);
                    let mut codes = vec![0u32; probes.len()];
                    index.codes(&probes, u32::MAX, &mut codes);
                    for (&a, &c) in probes.iter().zip(&codes) {
                        let want = binary_search_count(t, a);
                        let at = format!("{} grid {gi} ts {ts} amax {a:#x}", f.name);
                        assert_eq!(index.count(a), want, "count: {at}");
                        assert_eq!(c, want, "codes: {at}");
                    }
                }
            }
        }
        assert!(indexed > 20, "only {indexed} grids indexed");
    }

    /// The two-level count over `two_level` rows equals the plain count, for every built-in
    /// grid at several products, at every threshold and one f32 either side (the scalar model
    /// of what `avx2_quant::count_rows` computes per lane).
    #[test]
    fn two_level_count_equals_plain_count() {
        let mut checked = 0;
        for f in crate::tables::FORMATS {
            for gi in 0..f.grids.len() {
                let gp = GridPlan::new(f, gi, 1.0);
                for p in [1.0, 0.375, 6.0e-5, 448.0 * 6.0] {
                    let row = element_thresholds(&gp, p);
                    let split = two_level(&row, gp.n_mids);
                    let (w, levels) = if gp.n_mids > 7 { (4, 3) } else { (2, 1) };
                    let mut xs = vec![0.0f32, -0.0, f32::MAX, -f32::MAX];
                    for &t in row.iter().filter(|t| t.is_finite()) {
                        xs.extend([t, t.next_down(), t.next_up()]);
                    }
                    for x in xs {
                        let plain = row.iter().filter(|&&t| x >= t).count();
                        let b = split[..3].iter().filter(|&&t| x >= t).count();
                        let two =
                            w * b + (0..levels).filter(|&j| x >= split[4 + 4 * j + b]).count();
                        assert_eq!(two, plain, "{} grid {gi} p {p} x {x:e}", f.name);
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 1000, "only {checked} checks");
    }

    /// `ceil_threshold_fma` against the exact oracle path (`exact_threshold` on the exact
    /// product), on every midpoint of every built-in grid times products P = S·T built so
    /// that mid·P sits one unit of its 54th bit beside an f32 (so fl64(mid·P) *is* that f32
    /// and only the FMA's error term tells which side b lies), plus plain random ones.
    #[test]
    fn fma_threshold_equals_exact_threshold() {
        let mut near = 0;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for f in crate::tables::FORMATS {
            for g in f.grids {
                let prepared = PreparedGrid::new(g);
                for (k, mid) in prepared.midpoints.iter().enumerate() {
                    let m = exact_to_f64(*mid);
                    let tie_up = k % 2 == 0;
                    // The mid's odd mantissa modulo 2^30, and its inverse (Newton).
                    let odd = (mid.mantissa >> mid.mantissa.trailing_zeros()) as u64;
                    for s in [1u64, 3, 5, 7, 9, 11, 13, 15] {
                        let a = odd.wrapping_mul(s) & ((1 << 30) - 1);
                        let mut inv = a;
                        for _ in 0..5 {
                            inv = inv.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(inv)));
                        }
                        let inv = inv & ((1 << 30) - 1);
                        for t in [inv, (1 << 30) - inv] {
                            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                            let random = (seed >> 40) | 1;
                            for t in [t, random] {
                                if t == 0 || t >= 1 << 24 {
                                    continue;
                                }
                                let p = (s * t) as f64 * 2f64.powi(-30);
                                let b = Exact::of_f64(m).mul(Exact::of_f64(p));
                                let hi = m * p;
                                if m.mul_add(p, -hi) != 0.0 && (hi as f32) as f64 == hi {
                                    near += 1;
                                }
                                let fast = ceil_threshold_fma(m, p, tie_up).to_bits();
                                let exact = if b.negative {
                                    // exact_threshold is for magnitudes: mirror.
                                    continue;
                                } else {
                                    exact_threshold(b, tie_up)
                                };
                                assert_eq!(fast, exact, "{} mid {m:e} p {p:e}", f.name);
                            }
                        }
                    }
                }
            }
        }
        // Synthetic: m (26 bits) · p (28 bits) = X·2^30 ± 1 with X an f32 mantissa, so
        // fl64(m·p) = X·2^30 exactly and only lo = ±1 tells the side. For odd p, choose
        // X ≡ ∓2^-30 (mod p) and m = (X·2^30 ± 1) / p.
        fn inverse(a: i128, n: i128) -> i128 {
            let (mut r0, mut r1, mut s0, mut s1) = (n, a.rem_euclid(n), 0i128, 1i128);
            while r1 != 0 {
                let q = r0 / r1;
                (r0, r1) = (r1, r0 - q * r1);
                (s0, s1) = (s1, s0 - q * s1);
            }
            s0.rem_euclid(n)
        }
        for _ in 0..4000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            let p_int = ((seed >> 36) as i128 | 1) | (1 << 27);
            let inv = inverse(1 << 30, p_int);
            for sign in [1i128, -1] {
                let x = (-sign * inv).rem_euclid(p_int);
                if !((1 << 23)..(1 << 24)).contains(&x) {
                    continue;
                }
                let n = (x << 30) + sign;
                assert_eq!(n % p_int, 0);
                let m_int = n / p_int;
                let (m, p) = (m_int as f64 * 2f64.powi(-26), p_int as f64 * 2f64.powi(-40));
                let hi = m * p;
                assert!(m.mul_add(p, -hi) != 0.0 && (hi as f32) as f64 == hi);
                near += 1;
                let b = Exact::of_f64(m).mul(Exact::of_f64(p));
                for tie_up in [false, true] {
                    let fast = ceil_threshold_fma(m, p, tie_up).to_bits();
                    let plain = ceil_threshold(hi, tie_up).to_bits();
                    let exact = exact_threshold(b, tie_up);
                    assert_eq!(fast, exact, "m {m:e} p {p:e} tie_up {tie_up}");
                    // The case the FMA is for: without lo, the threshold would be wrong.
                    if (sign == 1) == tie_up {
                        assert_ne!(plain, exact, "m {m:e} p {p:e} tie_up {tie_up}");
                    }
                }
            }
        }
        assert!(
            near > 100,
            "only {near} products landed next to an f32: vacuous"
        );
    }
}
