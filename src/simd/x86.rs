//! x86_64 kernels: AVX-512 (F, BW, VL, VBMI) and AVX2 (with FMA, F16C, BMI2).
//!
//! Each entry point is a safe function that runs a `#[target_feature]` function; callers
//! reach it only through `Backend::effective()`, which returns an x86 backend only when
//! `Backend::is_available()` saw the features at run time, and each entry re-checks it (one
//! cached atomic load) so a direct call on the wrong CPU runs the portable tier instead.
//!
//! Decode: per group, the 16 decoded values are computed as in the oracle (`(g·s)·t` in f64,
//! rounded once; see `plan.rs` for the 16-bit round-to-odd) into one vector, and elements are
//! looked up with `vpermd` (AVX-512, 16 lanes, the nibble is the index) or two `vpermps` and a
//! blend on bit 3 (AVX2). Nibbles are spread to lanes with a dword broadcast and `vpsrlvd`.
//!
//! Quantize: both tiers run the AVX2 block kernel (`avx2_quant.rs`) where it applies (1-byte
//! scales, groups of whole rows of 16 up to 256, calls with per-code tables); the AVX-512
//! backend takes it too, having measured it faster than its own kernels on an AVX-512 host
//! (`quantize_avx512`). Otherwise: AVX-512's tile kernel (16 single-grid groups in lanes),
//! else the per-group loops (`portable::quantize_groups`) with an element kernel per tier: AVX2
//! counts thresholds by compares (`codes_avx2`), AVX-512 by a 4-step (3 for ≤ 7 thresholds)
//! branch-free binary search over a 16-lane threshold vector (`vpermps` + compare + masked
//! add), maps the count to a code with `vpermd`, and scores with f64 lanes.

use core::arch::x86_64::*;

use super::encode::{encode_portable, Fast};
use super::plan::{nan16, DecodePlan, GridPlan, QuantPlan, TilePlan};
use super::portable::{self, decode_span, ElementKernel, PortableElements};
use super::Backend;
use crate::decode::Output;

fn have(backend: Backend) -> bool {
    backend.is_available()
}

/// Decode whole groups with an x86 backend.
pub(crate) fn decode_groups(
    backend: Backend,
    plan: &DecodePlan,
    codes: &[u8],
    scales: &[u8],
    g0: usize,
    out: &mut [u32],
) -> Result<(), ()> {
    let group = plan.format.group_size as usize;
    match backend {
        Backend::Avx512 if have(backend) && group.is_multiple_of(16) => {
            // SAFETY: AVX-512 F/BW/VL/VBMI were detected at run time (`have`).
            unsafe { decode_avx512(plan, codes, scales, g0, out) }
        }
        Backend::Avx2 | Backend::Avx512 if have(Backend::Avx2) && group.is_multiple_of(8) => {
            // SAFETY: AVX2, FMA, F16C and BMI2 were detected at run time (`have`).
            unsafe { decode_avx2(plan, codes, scales, g0, out) }
        }
        _ => decode_span(plan, codes, scales, g0 * group, out),
    }
}

/// Nibble shifts of 16 lanes fed from two dwords (lanes 0..7 from the first).
#[inline(always)]
fn nibble_shifts(high_first: bool) -> [i32; 16] {
    let mut s = [0i32; 16];
    for (i, slot) in s.iter_mut().enumerate() {
        let j = (i % 8) as i32;
        // Element 2k sits in the low nibble of byte k (low-first) or the high one.
        *slot = if high_first { 4 * (j ^ 1) } else { 4 * j };
    }
    s
}

/// The 16 decoded values of one group as one vector of u32 bits.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn table_avx512(grid: &[f64; 16], s: f64, t: f64, output: Output) -> __m512i {
    // SAFETY: `grid` has 16 f64s; the two loads read 8 each, unaligned loads allowed.
    let (glo, ghi) = unsafe {
        (
            _mm512_loadu_pd(grid.as_ptr()),
            _mm512_loadu_pd(grid.as_ptr().add(8)),
        )
    };
    let sv = _mm512_set1_pd(s);
    let tv = _mm512_set1_pd(t);
    // The oracle's order: (g · s) · t.
    let xlo = _mm512_mul_pd(_mm512_mul_pd(glo, sv), tv);
    let xhi = _mm512_mul_pd(_mm512_mul_pd(ghi, sv), tv);
    let join = |lo: __m256i, hi: __m256i| _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi);
    if output == Output::F32 {
        let lo = _mm256_castps_si256(_mm512_cvtpd_ps(xlo));
        let hi = _mm256_castps_si256(_mm512_cvtpd_ps(xhi));
        return join(lo, hi);
    }
    // Round to odd: truncate, then set the last bit where the truncation was inexact.
    let odd = |x: __m512d| {
        let r = _mm512_cvt_roundpd_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(x);
        let inexact = _mm512_cmp_pd_mask::<_CMP_NEQ_UQ>(_mm512_cvtps_pd(r), x);
        let r = _mm256_castps_si256(r);
        _mm256_mask_or_epi32(r, inexact, r, _mm256_set1_epi32(1))
    };
    let r = join(odd(xlo), odd(xhi));
    let nan = (_mm512_cmp_pd_mask::<_CMP_UNORD_Q>(xlo, xlo) as u16)
        | ((_mm512_cmp_pd_mask::<_CMP_UNORD_Q>(xhi, xhi) as u16) << 8);
    let sign = _mm512_and_si512(_mm512_srli_epi32::<16>(r), _mm512_set1_epi32(0x8000));
    let (v, canon) = if output == Output::F16 {
        let h = _mm512_cvtps_ph::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm512_castsi512_ps(r),
        );
        (_mm512_cvtepu16_epi32(h), nan16(Output::F16, 0))
    } else {
        let lsb = _mm512_and_si512(_mm512_srli_epi32::<16>(r), _mm512_set1_epi32(1));
        let b = _mm512_add_epi32(_mm512_add_epi32(r, _mm512_set1_epi32(0x7fff)), lsb);
        (_mm512_srli_epi32::<16>(b), nan16(Output::Bf16, 0))
    };
    let canon = _mm512_or_si512(_mm512_set1_epi32(canon as i32), sign);
    _mm512_mask_blend_epi32(nan, v, canon)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn decode_avx512(
    plan: &DecodePlan,
    codes: &[u8],
    scales: &[u8],
    g0: usize,
    out: &mut [u32],
) -> Result<(), ()> {
    let group = plan.format.group_size as usize;
    let shifts = nibble_shifts(plan.format.high_nibble_first);
    // SAFETY: `shifts` is 16 i32s.
    let shifts = unsafe { _mm512_loadu_si512(shifts.as_ptr().cast()) };
    let spread = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    let fifteen = _mm512_set1_epi32(15);
    for (k, chunk) in out.chunks_exact_mut(group).enumerate() {
        let g = g0 + k;
        let (grid, s) = plan.group(scales, g).ok_or(())?;
        let table = table_avx512(&plan.grids[grid], s, plan.t, plan.output);
        let check = !plan.all_valid && plan.valid[grid] != 0xffff;
        let valid = _mm512_set1_epi32(plan.valid[grid] as i32);
        let byte0 = g * group / 2;
        let bytes = &codes[byte0..byte0 + group / 2];
        for (dst, src) in chunk.chunks_exact_mut(16).zip(bytes.chunks_exact(8)) {
            let mut w = [0u8; 8];
            w.copy_from_slice(src);
            let word = _mm_cvtsi64_si128(i64::from_le_bytes(w));
            let idx = _mm512_srlv_epi32(
                _mm512_permutexvar_epi32(spread, _mm512_castsi128_si512(word)),
                shifts,
            );
            if check {
                let bit = _mm512_srlv_epi32(valid, _mm512_and_si512(idx, fifteen));
                if _mm512_test_epi32_mask(bit, _mm512_set1_epi32(1)) != 0xffff {
                    return Err(());
                }
            }
            let v = _mm512_permutexvar_epi32(idx, table);
            // SAFETY: `dst` has exactly 16 u32s (chunks_exact).
            unsafe { _mm512_storeu_si512(dst.as_mut_ptr().cast(), v) };
        }
    }
    Ok(())
}

#[target_feature(enable = "avx2,fma,f16c,bmi2")]
fn decode_avx2(
    plan: &DecodePlan,
    codes: &[u8],
    scales: &[u8],
    g0: usize,
    out: &mut [u32],
) -> Result<(), ()> {
    let group = plan.format.group_size as usize;
    let sh = nibble_shifts(plan.format.high_nibble_first);
    // SAFETY: `sh` has 16 i32s; the load reads the first 8.
    let shifts = unsafe { _mm256_loadu_si256(sh.as_ptr().cast()) };
    let fifteen = _mm256_set1_epi32(15);
    for (k, chunk) in out.chunks_exact_mut(group).enumerate() {
        let g = g0 + k;
        // The closure inherits this function's target features, so `table_avx2` is safe here.
        let (grid, table) = plan
            .group_values(scales, g, |values, s| {
                table_avx2(values, s, plan.t, plan.output)
            })
            .ok_or(())?;
        // SAFETY: `table` has 16 u32s; two loads of 8.
        let (lo, hi) = unsafe {
            (
                _mm256_loadu_ps(table.as_ptr().cast()),
                _mm256_loadu_ps(table.as_ptr().add(8).cast()),
            )
        };
        let check = !plan.all_valid && plan.valid[grid] != 0xffff;
        let valid = _mm256_set1_epi32(plan.valid[grid] as i32);
        let byte0 = g * group / 2;
        let bytes = &codes[byte0..byte0 + group / 2];
        for (dst, src) in chunk.chunks_exact_mut(8).zip(bytes.chunks_exact(4)) {
            let w = i32::from_le_bytes([src[0], src[1], src[2], src[3]]);
            let idx = _mm256_srlv_epi32(_mm256_set1_epi32(w), shifts);
            if check {
                let bit = _mm256_srlv_epi32(valid, _mm256_and_si256(idx, fifteen));
                let ones = _mm256_and_si256(bit, _mm256_set1_epi32(1));
                let eq = _mm256_cmpeq_epi32(ones, _mm256_set1_epi32(1));
                if _mm256_movemask_epi8(eq) != -1 {
                    return Err(());
                }
            }
            let v = lookup16_avx2(lo, hi, idx);
            // SAFETY: `dst` has exactly 8 u32s (chunks_exact).
            unsafe { _mm256_storeu_ps(dst.as_mut_ptr().cast(), v) };
        }
    }
    Ok(())
}

/// The 16 decoded values of one group (AVX2: f32 in vectors, 16-bit outputs through the
/// portable rounding).
#[target_feature(enable = "avx2,fma,f16c,bmi2")]
fn table_avx2(grid: &[f64; 16], s: f64, t: f64, output: Output) -> [u32; 16] {
    if output != Output::F32 {
        return super::plan::group_table(grid, s, t, output);
    }
    let mut table = [0u32; 16];
    let sv = _mm256_set1_pd(s);
    let tv = _mm256_set1_pd(t);
    for q in 0..4 {
        // SAFETY: 4 f64s read at 4q < 16 and 4 f32s written at 4q < 16.
        unsafe {
            let g = _mm256_loadu_pd(grid.as_ptr().add(4 * q));
            let x = _mm256_mul_pd(_mm256_mul_pd(g, sv), tv);
            _mm_storeu_ps(table.as_mut_ptr().add(4 * q).cast(), _mm256_cvtpd_ps(x));
        }
    }
    table
}

/// `portable::amax_bits` with AVX2 where the backend has it: the largest magnitude bits (sign
/// cleared), by `vpmaxud` in four accumulators. (SSE2, the baseline, has no unsigned 32-bit
/// max, so the portable fold compiles to compare-and-select.)
pub(crate) fn amax_bits(backend: Backend, x: &[f32]) -> u32 {
    match backend {
        Backend::Avx2 | Backend::Avx512 if have(Backend::Avx2) => {
            // SAFETY: AVX2, FMA, F16C and BMI2 were detected at run time (`have`).
            unsafe { amax_bits_avx2(x) }
        }
        _ => portable::amax_bits(x),
    }
}

/// (Also the block kernel's amax of a single group.)
#[inline]
#[target_feature(enable = "avx2,fma,f16c,bmi2")]
pub(super) fn amax_bits_avx2(x: &[f32]) -> u32 {
    let abs = _mm256_set1_epi32(0x7fff_ffff);
    let mut m = [_mm256_setzero_si256(); 4];
    let mut chunks = x.chunks_exact(32);
    let prefetch = x.len() >= super::avx2_quant::LARGE_SCAN;
    for c in &mut chunks {
        if prefetch {
            // (A prefetch never faults, past the end of `x` included.)
            let ahead = c.as_ptr().wrapping_add(super::avx2_quant::PREFETCH_AHEAD);
            _mm_prefetch::<_MM_HINT_T0>(ahead.cast());
            _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(16).cast());
        }
        for (k, slot) in m.iter_mut().enumerate() {
            // SAFETY: `c` has 32 f32s (chunks_exact); 8 read at 8k < 32.
            let v = unsafe { _mm256_loadu_si256(c.as_ptr().add(8 * k).cast()) };
            *slot = _mm256_max_epu32(*slot, _mm256_and_si256(v, abs));
        }
    }
    let mut eights = chunks.remainder().chunks_exact(8);
    for v in &mut eights {
        // SAFETY: `v` has 8 f32s (chunks_exact).
        let v = unsafe { _mm256_loadu_si256(v.as_ptr().cast()) };
        m[0] = _mm256_max_epu32(m[0], _mm256_and_si256(v, abs));
    }
    let m = _mm256_max_epu32(_mm256_max_epu32(m[0], m[1]), _mm256_max_epu32(m[2], m[3]));
    let m = _mm_max_epu32(_mm256_castsi256_si128(m), _mm256_extracti128_si256::<1>(m));
    let m = _mm_max_epu32(m, _mm_shuffle_epi32::<0b01_00_11_10>(m));
    let m = _mm_max_epu32(m, _mm_shuffle_epi32::<0b10_11_00_01>(m));
    (_mm_cvtsi128_si32(m) as u32).max(portable::amax_bits(eights.remainder()))
}

/// `avx2_quant::group_amax_bits` (every whole group's amax bits into `out`, and the amax of
/// all of `x`) where the block kernel will take the format on this backend; `None` (nothing
/// written) where it will not.
pub(crate) fn group_amax_bits(
    backend: Backend,
    format: &crate::format::Format,
    x: &[f32],
    out: &mut [u32],
) -> Option<u32> {
    let group = format.group_size as usize;
    let fits = group > 0 && out.len() == x.len() / group;
    if matches!(backend, Backend::Avx2 | Backend::Avx512)
        && have(Backend::Avx2)
        && fits
        && super::avx2_quant::applies(format)
    {
        // SAFETY: AVX2, FMA, F16C and BMI2 were detected at run time (`have`).
        return Some(unsafe { super::avx2_quant::group_amax_bits(x, group, out) });
    }
    None
}

/// Quantize whole groups with an x86 backend (`group_amax`: `group_amax_bits` of `x`, if
/// the caller has it).
pub(crate) fn quantize_groups(
    backend: Backend,
    plan: &QuantPlan,
    x: &[f32],
    group_amax: Option<&[u32]>,
    codes: &mut [u8],
    scales: &mut [u8],
    grid_of_group: &mut [u8],
) {
    let group = plan.format.group_size as usize;
    match backend {
        Backend::Avx512 if have(backend) && group.is_multiple_of(16) => {
            // SAFETY: AVX-512 F/BW/VL/VBMI were detected at run time.
            unsafe { quantize_avx512(plan, x, group_amax, codes, scales, grid_of_group) }
        }
        Backend::Avx2 | Backend::Avx512 if have(Backend::Avx2) => {
            // SAFETY: AVX2, FMA, F16C and BMI2 were detected at run time.
            unsafe { quantize_avx2(plan, x, group_amax, codes, scales, grid_of_group) }
        }
        _ => portable::quantize_groups::<PortableElements>(plan, x, codes, scales, grid_of_group),
    }
}

#[target_feature(enable = "avx2,fma,f16c,bmi2")]
fn quantize_avx2(
    plan: &QuantPlan,
    x: &[f32],
    group_amax: Option<&[u32]>,
    codes: &mut [u8],
    scales: &mut [u8],
    grid_of_group: &mut [u8],
) {
    if super::avx2_quant::quantize_blocks(plan, x, group_amax, codes, scales, grid_of_group) > 0 {
        return;
    }
    if plan.format.group_size.is_multiple_of(8) {
        portable::quantize_groups::<Avx2Elements>(plan, x, codes, scales, grid_of_group)
    } else {
        // The portable loops, compiled for AVX2.
        portable::quantize_groups::<PortableElements>(plan, x, codes, scales, grid_of_group)
    }
}

/// The AVX2 element search. Only reached from `quantize_avx2` (features enabled, group
/// sizes multiples of 8).
struct Avx2Elements;

impl ElementKernel for Avx2Elements {
    // The score is summed in f32 lanes (`ScoreBound` widens the margin to match).
    const SCORE_UNIT: f64 = f32::EPSILON as f64 / 2.0;
    #[inline(always)]
    fn pack(high_first: bool, codes: &[u8], out: &mut [u8]) {
        // SAFETY: only instantiated inside `quantize_avx2` (features detected at run time).
        unsafe { pack_avx2(high_first, codes, out) }
    }
    #[inline(always)]
    fn codes(
        grid: &GridPlan,
        thr: &[f32; 16],
        x: &[f32],
        dec: Option<&[u32; 16]>,
        out: &mut [u8],
    ) -> f64 {
        // SAFETY: this impl is only instantiated inside `quantize_avx2`, whose features were
        // detected at run time. The threshold count is unrolled: entries past `n_mids` are
        // +Inf, which no finite element reaches, so counting 7 or 15 of them is exact.
        unsafe {
            if grid.n_mids <= 7 {
                codes_avx2::<7>(grid, thr, x, dec, out)
            } else {
                codes_avx2::<15>(grid, thr, x, dec, out)
            }
        }
    }
}

/// `portable::pack`, 16 codes at a time: `vpmaddubsw` forms c0 + 16·c1 (or 16·c0 + c1) per
/// pair (codes are < 16, so no saturation) and `vpackuswb` narrows the 8 words to bytes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,bmi2")]
fn pack_avx2(high_first: bool, codes: &[u8], out: &mut [u8]) {
    let weights = _mm_set1_epi16(if high_first { 0x0110 } else { 0x1001 });
    let mut done = 0;
    for (c, o) in codes.chunks_exact(16).zip(out.chunks_exact_mut(8)) {
        // SAFETY: `c` has 16 bytes, `o` 8 (chunks_exact).
        unsafe {
            let v = _mm_loadu_si128(c.as_ptr().cast());
            let w = _mm_maddubs_epi16(v, weights);
            _mm_storel_epi64(o.as_mut_ptr().cast(), _mm_packus_epi16(w, w));
        }
        done += 16;
    }
    portable::pack(high_first, &codes[done..], &mut out[done / 2..]);
}

/// `table[idx & 15]` for a 16-entry table held as two vectors of 8 (only the low 4 bits of
/// each lane are read): two `vpermps` and a blend on bit 3 moved to the sign bit.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,bmi2")]
pub(super) fn lookup16_avx2(lo: __m256, hi: __m256, idx: __m256i) -> __m256 {
    let a = _mm256_permutevar8x32_ps(lo, idx);
    let b = _mm256_permutevar8x32_ps(hi, idx);
    _mm256_blendv_ps(a, b, _mm256_castsi256_ps(_mm256_slli_epi32::<28>(idx)))
}

/// Elements 8 at a time: |x| (sign-magnitude grids) compared with each threshold, the
/// all-ones compare masks subtracted to count them (the point index, exactly
/// `portable_codes`' count), mapped to codes by a 16-entry lookup unless point k is code k,
/// the sign OR'd in, the 8 codes narrowed to bytes with `vpshufb`. The score: the decoded
/// value by the same lookup, the error and its square summed by FMA in f32 lanes. `N` is the
/// number of thresholds to count (≥ the grid's `n_mids`; the rest are +Inf).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,bmi2")]
fn codes_avx2<const N: usize>(
    grid: &GridPlan,
    thr: &[f32; 16],
    x: &[f32],
    dec: Option<&[u32; 16]>,
    out: &mut [u8],
) -> f64 {
    let sm = grid.sign_magnitude;
    let mut tv = [_mm256_setzero_ps(); N];
    for (slot, &t) in tv.iter_mut().zip(thr) {
        *slot = _mm256_set1_ps(t);
    }
    let load16 = |t: &[u32; 16]| {
        // SAFETY: `t` is 16 u32s; two loads of 8.
        unsafe {
            (
                _mm256_loadu_ps(t.as_ptr().cast()),
                _mm256_loadu_ps(t.as_ptr().add(8).cast()),
            )
        }
    };
    let (pc_lo, pc_hi) = load16(&grid.point_codes32);
    let identity = grid.identity_codes;
    let decv = dec.map(load16);
    let abs = _mm256_set1_epi32(0x7fff_ffff);
    let eight = _mm256_set1_epi32(8);
    // Byte 0 of each dword to the low 4 bytes of each 128-bit half.
    let narrow = _mm256_setr_epi8(
        0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1,
    );
    let mut acc = _mm256_setzero_ps();
    for (xs, os) in x.chunks_exact(8).zip(out.chunks_exact_mut(8)) {
        // SAFETY: `xs` has 8 f32s (chunks_exact).
        let v = unsafe { _mm256_loadu_ps(xs.as_ptr()) };
        let vi = _mm256_castps_si256(v);
        let m = if sm {
            _mm256_castsi256_ps(_mm256_and_si256(vi, abs))
        } else {
            v
        };
        let mut idx = _mm256_setzero_si256();
        for &t in &tv {
            let ge = _mm256_cmp_ps::<_CMP_GE_OQ>(m, t);
            idx = _mm256_sub_epi32(idx, _mm256_castps_si256(ge));
        }
        let mut code = if identity {
            idx
        } else {
            _mm256_castps_si256(lookup16_avx2(pc_lo, pc_hi, idx))
        };
        if sm {
            code = _mm256_or_si256(code, _mm256_and_si256(_mm256_srli_epi32::<28>(vi), eight));
        }
        let b = _mm256_shuffle_epi8(code, narrow);
        let bytes = _mm_unpacklo_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256::<1>(b));
        // SAFETY: `os` has 8 bytes (chunks_exact); one 8-byte store.
        unsafe { _mm_storel_epi64(os.as_mut_ptr().cast(), bytes) };
        if let Some((d_lo, d_hi)) = decv {
            let e = _mm256_sub_ps(v, lookup16_avx2(d_lo, d_hi, code));
            acc = _mm256_fmadd_ps(e, e, acc);
        }
    }
    let s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps::<1>(s, s));
    _mm_cvtss_f32(s) as f64
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn quantize_avx512(
    plan: &QuantPlan,
    x: &[f32],
    group_amax: Option<&[u32]>,
    codes: &mut [u8],
    scales: &mut [u8],
    grid_of_group: &mut [u8],
) {
    // The AVX2 block kernel first, where it applies: on the AVX-512 host measured
    // (gpu/results/h200host_simd_quantize_pinned.txt) it is 2-3x the per-group path on
    // multi-grid formats and about 1.45x the tile kernel below on NVFP4 (even on MXFP4).
    if have(Backend::Avx2) {
        // SAFETY: AVX2, FMA, F16C and BMI2 were detected at run time (`have`).
        if unsafe {
            super::avx2_quant::quantize_blocks(plan, x, group_amax, codes, scales, grid_of_group)
        } > 0
        {
            return;
        }
    }
    let group = plan.format.group_size as usize;
    let done = match (&plan.tile, plan.grids.first().map(|g| g.n_mids)) {
        (Some(tile), Some(7)) => {
            quantize_tiles_avx512::<7>(plan, tile, x, codes, scales, grid_of_group)
        }
        (Some(tile), Some(15)) => {
            quantize_tiles_avx512::<15>(plan, tile, x, codes, scales, grid_of_group)
        }
        _ => 0,
    };
    portable::quantize_groups::<Avx512Elements>(
        plan,
        &x[done * group..],
        &mut codes[done * group / 2..],
        &mut scales[done * plan.format.scale_bytes as usize..],
        &mut grid_of_group[done..],
    )
}

/// 16 groups at once, one group per vector lane, for single-grid sign-magnitude formats with
/// 1-byte scales (`TilePlan`). Returns how many groups it did (whole tiles of 16 groups); the
/// caller runs the per-group path on the rest.
///
/// Per tile: the group maxima by a max-reduction tree over the 16 per-group partial maxima
/// (four levels of two `vpermt2d` + `vpmaxud`, lane g ends up with group g); the scale code by
/// a branch-free binary search in the scale threshold table (`vpermt2d` lookups, unsigned
/// compares; exactly `QuantPlan::scale_code`) or, for floor-pow2, from the exponent
/// (`vgetexpps`, which normalizes subnormals, as `quant::floor_log2` does); the scale value
/// by a lookup; the element thresholds per lane as `plan::ceil_threshold` does, with the exact
/// product error from an FMA (so `x ≥ threshold` is decided against the exact boundary
/// `mid · s · t` even where that product is not an f64). Each element row of 16 is then
/// compared with its group's N thresholds (broadcast), packed to nibbles in registers and
/// stored with the scale bytes.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn quantize_tiles_avx512<const N: usize>(
    plan: &QuantPlan,
    tile: &TilePlan,
    x: &[f32],
    codes: &mut [u8],
    scales: &mut [u8],
    grid_of_group: &mut [u8],
) -> usize {
    let group = plan.format.group_size as usize;
    let rows = group / 16;
    let grid = &plan.grids[0];
    let tiles = x.len() / (16 * group);
    // The unchecked stores below rely on these lengths.
    if codes.len() < tiles * 8 * group
        || scales.len() < tiles * 16
        || grid_of_group.len() < tiles * 16
    {
        return 0;
    }
    let load16 = |a: &[u32; 256], j: usize| {
        // SAFETY: j < 16, so 16 u32s from 16·j lie inside the 256.
        unsafe { _mm512_loadu_si512(a.as_ptr().add(16 * j).cast()) }
    };
    let mut st = [_mm512_setzero_si512(); 16];
    let mut sv = [_mm512_setzero_si512(); 16];
    for j in 0..16 {
        st[j] = load16(&tile.scale_thresholds, j);
        sv[j] = load16(&tile.scale_values, j);
    }
    let pairs = tile.pairs;
    // A lookup in a table of up to 256 u32s: one `vpermt2d` per 32 entries, selected by the
    // index bits above 5.
    let lut = |t: &[__m512i; 16], n: usize, idx: __m512i| {
        let mut r = _mm512_permutex2var_epi32(t[0], idx, t[1]);
        let hi = _mm512_srli_epi32::<5>(idx);
        for j in 1..n {
            let k = _mm512_cmpeq_epi32_mask(hi, _mm512_set1_epi32(j as i32));
            r = _mm512_mask_mov_epi32(r, k, _mm512_permutex2var_epi32(t[2 * j], idx, t[2 * j + 1]));
        }
        r
    };
    // Reduction tree indices: level w (8, 4, 2, 1) keeps, of each source segment of 2w lanes
    // of [a | b], the first (lo) or second (hi) half.
    let tree = |w: usize| {
        let mut lo = [0i32; 16];
        for (j, slot) in lo.iter_mut().enumerate() {
            *slot = ((j / w) * 2 * w + j % w) as i32;
        }
        // SAFETY: `lo` is 16 i32s.
        let lo = unsafe { _mm512_loadu_si512(lo.as_ptr().cast()) };
        (lo, _mm512_add_epi32(lo, _mm512_set1_epi32(w as i32)))
    };
    let levels = [tree(8), tree(4), tree(2), tree(1)];
    let abs = _mm512_set1_epi32(0x7fff_ffff);
    let one = _mm512_set1_epi32(1);
    let max_code = _mm512_set1_epi32(plan.max_code as i32);
    let t = _mm512_set1_pd(plan.t);
    let inf = _mm256_set1_epi32(0x7f80_0000);
    let pcv = _mm512_cvtepu8_epi32(
        // SAFETY: `point_codes` is 16 bytes.
        unsafe { _mm_loadu_si128(grid.point_codes.as_ptr().cast()) },
    );
    let high_first = plan.format.high_nibble_first;
    let mut thr = [[0u32; 16]; N];
    for ti in 0..tiles {
        let xs = &x[ti * 16 * group..(ti + 1) * 16 * group];
        let row = |g: usize, r: usize| {
            let at = (g * rows + r) * 16;
            // SAFETY: at + 16 ≤ 16·group = xs.len() (g < 16, r < rows).
            unsafe { _mm512_loadu_si512(xs.as_ptr().add(at).cast()) }
        };
        // Group maxima (inputs are finite, so magnitude bits order as values).
        let mut part = [_mm512_setzero_si512(); 16];
        for (g, slot) in part.iter_mut().enumerate() {
            let mut m = _mm512_and_si512(row(g, 0), abs);
            for r in 1..rows {
                m = _mm512_max_epu32(m, _mm512_and_si512(row(g, r), abs));
            }
            *slot = m;
        }
        let mut n = 16;
        for &(lo, hi) in &levels {
            for i in 0..n / 2 {
                let (a, b) = (part[2 * i], part[2 * i + 1]);
                part[i] = _mm512_max_epu32(
                    _mm512_permutex2var_epi32(a, lo, b),
                    _mm512_permutex2var_epi32(a, hi, b),
                );
            }
            n /= 2;
        }
        let amax = part[0];
        // Scale codes.
        let code = if let Some(off) = tile.floor_pow2 {
            let e = _mm512_cvttps_epi32(_mm512_getexp_ps(_mm512_castsi512_ps(amax)));
            let c = _mm512_add_epi32(e, _mm512_set1_epi32(off));
            let c = _mm512_min_epi32(_mm512_max_epi32(c, _mm512_setzero_si512()), max_code);
            let zero = _mm512_cmpeq_epi32_mask(amax, _mm512_setzero_si512());
            _mm512_mask_mov_epi32(c, zero, _mm512_setzero_si512())
        } else {
            let mut lo = _mm512_setzero_si512();
            let mut step = 1i32 << tile.scale_steps >> 1;
            while step > 0 {
                let probe = _mm512_add_epi32(lo, _mm512_set1_epi32(step - 1));
                let tv = lut(&st, 8, probe);
                let le = _mm512_cmple_epu32_mask(tv, amax);
                lo = _mm512_mask_add_epi32(lo, le, lo, _mm512_set1_epi32(step));
                step /= 2;
            }
            _mm512_min_epu32(lo, max_code)
        };
        let g0 = ti * 16;
        // SAFETY: scales has one byte per group and g0 + 16 ≤ groups; 16 bytes stored.
        unsafe {
            _mm_storeu_si128(
                scales.as_mut_ptr().add(g0).cast(),
                _mm512_cvtepi32_epi8(code),
            );
            _mm_storeu_si128(
                grid_of_group.as_mut_ptr().add(g0).cast(),
                _mm_setzero_si128(),
            );
        }
        // Scale products p = s · t (exact: s has few bits), per lane.
        let s = _mm512_castsi512_ps(lut(&sv, pairs, code));
        let p_lo = _mm512_mul_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(s)), t);
        let p_hi = _mm512_mul_pd(
            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
                _mm512_castps_pd(s),
            ))),
            t,
        );
        let z_lo = _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(p_lo, _mm512_setzero_pd());
        let z_hi = _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(p_hi, _mm512_setzero_pd());
        for (k, slot) in thr.iter_mut().enumerate() {
            let mid = _mm512_set1_pd(grid.mids[k]);
            let tie_up = grid.tie_up[k];
            let half = |p: __m512d, zero: u8| {
                let hi = _mm512_mul_pd(mid, p);
                // The exact boundary is hi + lo (the FMA gives a product's error exactly);
                // back − hi is exact (Sterbenz), so back < b ⟺ back − hi < lo.
                let lo = _mm512_fmsub_pd(mid, p, hi);
                let r = _mm512_cvtpd_ps(hi);
                let d = _mm512_sub_pd(_mm512_cvtps_pd(r), hi);
                let lt = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(d, lo);
                let eq = _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(d, lo);
                let step = if tie_up { lt } else { lt | eq };
                let bits = _mm256_castps_si256(r);
                // Boundaries are ≥ 0 here (sign-magnitude grid): one f32 up is +1; +Inf
                // stays; a zero scale gets +Inf so every element goes to point 0.
                let finite = _mm256_cmpneq_epi32_mask(bits, inf);
                let v = _mm256_mask_add_epi32(bits, step & finite, bits, _mm256_set1_epi32(1));
                _mm256_mask_mov_epi32(v, zero, inf)
            };
            let v =
                _mm512_inserti64x4::<1>(_mm512_castsi256_si512(half(p_lo, z_lo)), half(p_hi, z_hi));
            // SAFETY: `slot` is 16 u32s.
            unsafe { _mm512_storeu_si512(slot.as_mut_ptr().cast(), v) };
        }
        // Elements, row by row; packed pairs (element 2j in the qword's low dword).
        let cbase = ti * 16 * group / 2;
        for g in 0..16 {
            for r in 0..rows {
                let v = row(g, r);
                let m = _mm512_and_si512(v, abs);
                let mut idx = _mm512_setzero_si512();
                for tk in thr.iter() {
                    let ge = _mm512_cmpge_epi32_mask(m, _mm512_set1_epi32(tk[g] as i32));
                    idx = _mm512_mask_add_epi32(idx, ge, idx, one);
                }
                let c = if tile.identity_codes {
                    idx
                } else {
                    _mm512_permutexvar_epi32(idx, pcv)
                };
                let c = _mm512_or_si512(
                    c,
                    _mm512_and_si512(_mm512_srli_epi32::<28>(v), _mm512_set1_epi32(8)),
                );
                let packed = if high_first {
                    _mm512_or_si512(_mm512_slli_epi64::<4>(c), _mm512_srli_epi64::<32>(c))
                } else {
                    _mm512_or_si512(c, _mm512_srli_epi64::<28>(c))
                };
                let bytes = _mm512_cvtepi64_epi8(packed);
                let at = cbase + (g * rows + r) * 8;
                // SAFETY: codes holds group/2 bytes per group; at + 8 ≤ (g0 + 16)·group/2.
                unsafe { _mm_storel_epi64(codes.as_mut_ptr().add(at).cast(), bytes) };
            }
        }
    }
    tiles * 16
}

/// The AVX-512 element search. Only reached from `quantize_avx512` (features enabled).
struct Avx512Elements;

impl ElementKernel for Avx512Elements {
    const SCORE_UNIT: f64 = portable::F64_UNIT;
    #[inline(always)]
    fn thresholds(grid: &GridPlan, p: f64) -> [f32; 16] {
        let mut out = [0f32; 16];
        // SAFETY: only instantiated inside `quantize_avx512` (features detected at run
        // time); `out` is 16 f32s.
        unsafe { _mm512_storeu_ps(out.as_mut_ptr(), thresholds_avx512(grid, p)) };
        out
    }
    #[inline(always)]
    fn codes(
        grid: &GridPlan,
        thr: &[f32; 16],
        x: &[f32],
        dec: Option<&[u32; 16]>,
        out: &mut [u8],
    ) -> f64 {
        // SAFETY: this impl is only instantiated inside `quantize_avx512`, whose features
        // were detected at run time; group sizes there are multiples of 16.
        unsafe { codes_avx512(grid, thr, x, dec, out) }
    }
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn codes_avx512(
    grid: &GridPlan,
    thr: &[f32; 16],
    x: &[f32],
    dec: Option<&[u32; 16]>,
    out: &mut [u8],
) -> f64 {
    // SAFETY: `thr` is 16 f32s.
    let t = unsafe { _mm512_loadu_ps(thr.as_ptr()) };
    // SAFETY: `point_codes` is 16 bytes.
    let pcv = _mm512_cvtepu8_epi32(unsafe { _mm_loadu_si128(grid.point_codes.as_ptr().cast()) });
    let decv = dec.map(|d| {
        // SAFETY: `d` is 16 u32s.
        unsafe { _mm512_loadu_ps(d.as_ptr().cast()) }
    });
    let first_step = if grid.n_mids <= 7 { 4 } else { 8 };
    let sm = grid.sign_magnitude;
    let mut acc_lo = _mm512_setzero_pd();
    let mut acc_hi = _mm512_setzero_pd();
    for (xs, os) in x.chunks_exact(16).zip(out.chunks_exact_mut(16)) {
        // SAFETY: `xs` has 16 f32s (chunks_exact).
        let v = unsafe { _mm512_loadu_ps(xs.as_ptr()) };
        let vi = _mm512_castps_si512(v);
        let m = if sm {
            _mm512_castsi512_ps(_mm512_and_si512(vi, _mm512_set1_epi32(0x7fff_ffff)))
        } else {
            v
        };
        let mut idx = _mm512_setzero_si512();
        let mut step = first_step;
        while step > 0 {
            let probe = _mm512_add_epi32(idx, _mm512_set1_epi32(step - 1));
            let tv = _mm512_permutexvar_ps(probe, t);
            let ge = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(m, tv);
            idx = _mm512_mask_add_epi32(idx, ge, idx, _mm512_set1_epi32(step));
            step /= 2;
        }
        let mut code = _mm512_permutexvar_epi32(idx, pcv);
        if sm {
            let sign = _mm512_and_si512(_mm512_srli_epi32::<28>(vi), _mm512_set1_epi32(8));
            code = _mm512_or_si512(code, sign);
        }
        // SAFETY: `os` has 16 bytes (chunks_exact).
        unsafe { _mm_storeu_si128(os.as_mut_ptr().cast(), _mm512_cvtepi32_epi8(code)) };
        if let Some(dv) = decv {
            let d = _mm512_permutexvar_ps(code, dv);
            let lo = |a: __m512| _mm512_cvtps_pd(_mm512_castps512_ps256(a));
            let hi = |a: __m512| {
                _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
                    _mm512_castps_pd(a),
                )))
            };
            let dl = _mm512_sub_pd(lo(v), lo(d));
            let dh = _mm512_sub_pd(hi(v), hi(d));
            acc_lo = _mm512_add_pd(acc_lo, _mm512_mul_pd(dl, dl));
            acc_hi = _mm512_add_pd(acc_hi, _mm512_mul_pd(dh, dh));
        }
    }
    _mm512_reduce_add_pd(_mm512_add_pd(acc_lo, acc_hi))
}

/// `plan::element_thresholds` in vectors: boundaries mid·p (exact as hi + lo), rounded to f32
/// (nearest), then stepped one f32 up where the rounding went below the boundary, or landed
/// on it and the tie goes down — `plan::ceil_threshold`, lane by lane. Padding lanes hold
/// +Inf boundaries with their tie bit set, so they stay +Inf.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn thresholds_avx512(grid: &GridPlan, p: f64) -> __m512 {
    let pv = _mm512_set1_pd(p);
    let half = |k: usize| {
        // SAFETY: `mids` has 16 f64s; k is 0 or 8.
        let m = unsafe { _mm512_loadu_pd(grid.mids.as_ptr().add(k)) };
        // b = hi + lo exactly (`plan::ceil_threshold_fma`).
        let hi = _mm512_mul_pd(m, pv);
        let lo = _mm512_fmsub_pd(m, pv, hi);
        let r = _mm512_cvtpd_ps(hi);
        let d = _mm512_sub_pd(_mm512_cvtps_pd(r), hi);
        let lt = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(d, lo);
        let eq = _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(d, lo);
        let tie_up = (grid.tie_up_mask >> k) as u8;
        let step = lt | (eq & !tie_up);
        let bits = _mm256_castps_si256(r);
        let negzero = _mm256_cmpeq_epi32_mask(bits, _mm256_set1_epi32(i32::MIN));
        let negative = _mm256_cmplt_epi32_mask(bits, _mm256_setzero_si256()) & !negzero;
        let one = _mm256_set1_epi32(1);
        let v = _mm256_mask_add_epi32(bits, step & !negative & !negzero, bits, one);
        let v = _mm256_mask_sub_epi32(v, step & negative, v, one);
        _mm256_mask_mov_epi32(v, step & negzero, one)
    };
    let lo = half(0);
    let hi = if grid.n_mids > 8 {
        half(8)
    } else {
        _mm256_castps_si256(_mm256_set1_ps(f32::INFINITY))
    };
    _mm512_castsi512_ps(_mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi))
}

/// Element conversion with an x86 backend: the portable formulas compiled for the ISA.
pub(crate) fn encode(backend: Backend, kind: Fast, x: &[f32], out: &mut [u8]) {
    match backend {
        Backend::Avx512 if have(backend) => {
            // SAFETY: features detected at run time.
            unsafe { encode_avx512(kind, x, out) }
        }
        Backend::Avx2 | Backend::Avx512 if have(Backend::Avx2) => {
            // SAFETY: features detected at run time.
            unsafe { encode_avx2(kind, x, out) }
        }
        _ => encode_portable(kind, x, out),
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn encode_avx512(kind: Fast, x: &[f32], out: &mut [u8]) {
    encode_portable(kind, x, out)
}

#[target_feature(enable = "avx2,fma,f16c,bmi2")]
fn encode_avx2(kind: Fast, x: &[f32], out: &mut [u8]) {
    encode_portable(kind, x, out)
}
