//! SFP4 ("shifted NVFP4") on tensor cores (docs/design.md, "Tensor-core emulator").
//!
//! An SFP4 block of 16 codes `q_i` (E2M1) with scale byte `s` decodes to
//! `scale(s) · (q_i + δ·c)`, with `c = ½` (E2M1 units) and the grid selector in scale bits 7
//! and 6: `00` plain (δ = 0), `10` plus (δ = +1), `11` minus (δ = −1), `01` invalid. The
//! block scale is the UE4M3 value of the low six bits (bit 6 is the UE4M3 exponent's top
//! bit, so scales lie in [2^−9, 1.875] or are zero). The other operand is plain NVFP4:
//! E2M1 codes and UE4M3 scales (sign bit ignored, 0x7F NaN), blocks of 16.
//!
//! Three ways to compute `d = Σ_i a_i·b_i + c` (A SFP4, B NVFP4):
//!
//! * [`Pipeline::Blackwell`]: the NVFP4 block-scaled MMA (`tcgen05.mma.kind::mxf4nvf4.block16.ue4m3`,
//!   GST-FDPA, chained over K in 64s, starting from `c`) on A's codes with selector bits
//!   cleared, then the shift correction `c·Σ_b s_b δ_b (Σ_{i∈b} x_i)` in FP32 (RNE):
//!   for each block `b` in ascending order with `δ_b ≠ 0`, `t_b = (δ_b·½·s_b) · (t^B_b · Σ_{i∈b} y_i)`
//!   (every factor and product here is exact in FP32), `corr ← corr + t_b` starting from +0;
//!   finally `d = D_mma + corr`. The only roundings are the MMA's and the FP32 additions.
//! * [`Pipeline::Hopper`]: per 16-block, both operands decoded to E4M3 (every SFP4 and E2M1
//!   value is exact in E4M3), one FP8 `wgmma` (model `hopper/wgmma.f32.e4m3.e4m3`: T-FDPA,
//!   F = 13, RZ-E8M13; the block in k = 0..15, zeros in 16..31, C = 0), then promotion in FP32:
//!   `s = s^A_b · s^B_b` (exact), `acc ← fmaf(D_b, s, acc)` from `acc = c`, blocks ascending.
//! * [`Pipeline::Exact`]: the real-number result, rounded once to FP32 (RNE).

use super::value::{self, add_exact, Dyadic, Format, Rounding, Val};
use super::{fp4_x2, instruction, EmuError};

/// Instruction used by the Blackwell pipeline.
pub const BLACKWELL_MMA: &str = "blackwell-sm100/tcgen05.mma.kind::mxf4nvf4.block16.ue4m3";
/// Instruction used per block by the Hopper pipeline.
pub const HOPPER_MMA: &str = "hopper/wgmma.f32.e4m3.e4m3";

/// An SFP4 × NVFP4 dot-product pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pipeline {
    /// NVFP4 MMA on cleared scales plus an FP32 correction (Blackwell).
    Blackwell,
    /// Per-block FP8 wgmma and FP32 promotion (Hopper).
    Hopper,
    /// Real-number result, rounded once.
    Exact,
}

/// The grid an SFP4 scale byte selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grid {
    /// E2M1.
    Plain,
    /// E2M1 + ½.
    Plus,
    /// E2M1 − ½.
    Minus,
}

impl Grid {
    /// The shift in units of ½ (δ).
    pub fn delta(self) -> i32 {
        match self {
            Grid::Plain => 0,
            Grid::Plus => 1,
            Grid::Minus => -1,
        }
    }
}

/// Splits an SFP4 scale byte into its grid and its scale bits (selector bits cleared).
pub fn split_scale(byte: u8) -> Result<(Grid, u8), EmuError> {
    let g = match byte >> 6 {
        0b00 => Grid::Plain,
        0b10 => Grid::Plus,
        0b11 => Grid::Minus,
        _ => {
            return Err(EmuError::Shape(format!(
                "SFP4 scale byte {byte:#04x}: selector 01 is invalid"
            )))
        }
    };
    Ok((g, byte & 0x3F))
}

/// Twice the SFP4 value of a code under a grid (an integer in −13..=13).
pub fn sfp4_x2(code: u32, grid: Grid) -> Result<i32, EmuError> {
    Ok(i32::from(fp4_x2(code)?) + grid.delta())
}

/// E4M3 code of `x2 / 2` for |x2| ≤ 15 (exact; zero encodes as +0).
pub fn e4m3_of_x2(x2: i32) -> u32 {
    let m = x2.unsigned_abs();
    if m == 0 {
        return 0;
    }
    let e = 31 - m.leading_zeros(); // m in [2^e, 2^(e+1)), e ≤ 3
    let frac = (m << (3 - e)) & 7;
    let bexp = e + 6; // unbiased exponent e − 1 (x2 is in units of ½), bias 7
    u32::from(x2 < 0) << 7 | bexp << 3 | frac
}

fn ue4m3_f32(byte: u8) -> u32 {
    match Format::UE4M3.decode(byte.into()) {
        Val::Fin(f) => Rounding::RneFp32.round(Dyadic {
            neg: false,
            mag: u128::from(f.mag),
            exp: f.exp,
        }),
        _ => 0x7FFF_FFFF,
    }
}

impl Pipeline {
    /// Name used in case files after `sfp4/`.
    pub fn name(self) -> &'static str {
        match self {
            Pipeline::Blackwell => "blackwell",
            Pipeline::Hopper => "hopper",
            Pipeline::Exact => "exact",
        }
    }

    /// Parses [`Pipeline::name`].
    pub fn from_name(s: &str) -> Option<Pipeline> {
        [Pipeline::Blackwell, Pipeline::Hopper, Pipeline::Exact]
            .into_iter()
            .find(|p| p.name() == s)
    }

    /// K must be a positive multiple of this.
    pub fn k_multiple(self) -> usize {
        match self {
            Pipeline::Blackwell => 64,
            _ => 16,
        }
    }

    /// `d = Σ a_i·b_i + c`: `a` SFP4 codes with scale bytes `sa` (one per 16), `b` NVFP4 codes
    /// with UE4M3 scale bytes `sb`, `c` and the result FP32 bit patterns.
    pub fn dot(self, a: &[u32], b: &[u32], sa: &[u8], sb: &[u8], c: u32) -> Result<u32, EmuError> {
        let k = a.len();
        if k == 0
            || !k.is_multiple_of(self.k_multiple())
            || b.len() != k
            || sa.len() != k / 16
            || sb.len() != k / 16
        {
            return Err(EmuError::Shape(format!(
                "sfp4/{}: need K a positive multiple of {} with K/16 scales per operand (K = {k}, |b| = {}, |sa| = {}, |sb| = {})",
                self.name(),
                self.k_multiple(),
                b.len(),
                sa.len(),
                sb.len()
            )));
        }
        let grids: Vec<(Grid, u8)> = sa
            .iter()
            .map(|&s| split_scale(s))
            .collect::<Result<_, _>>()?;
        match self {
            Pipeline::Blackwell => blackwell(a, b, &grids, sb, c),
            Pipeline::Hopper => hopper(a, b, &grids, sb, c),
            Pipeline::Exact => exact(a, b, &grids, sb, c),
        }
    }
}

fn blackwell(
    a: &[u32],
    b: &[u32],
    grids: &[(Grid, u8)],
    sb: &[u8],
    c: u32,
) -> Result<u32, EmuError> {
    let mma = instruction(BLACKWELL_MMA)?;
    let cleared: Vec<u8> = grids.iter().map(|g| g.1).collect();
    let main = mma.dot(a, b, &cleared, sb, c)?;
    let mut corr = 0u32;
    for (blk, (g, s)) in grids.iter().enumerate() {
        if g.delta() == 0 {
            continue;
        }
        let ysum2: i32 = b[blk * 16..blk * 16 + 16]
            .iter()
            .map(|&y| fp4_x2(y).map(i32::from))
            .sum::<Result<i32, _>>()?;
        // ½·Σy as FP32 (exact: |Σy| ≤ 96), times B's block scale (exact: ≤ 11 bits).
        let ysum = Rounding::RneFp32.round(Dyadic {
            neg: ysum2 < 0,
            mag: u128::from(ysum2.unsigned_abs()),
            exp: -1,
        });
        let xsum = value::mul_f32(ysum, ue4m3_f32(sb[blk]));
        // δ·c·s_b with c = ½: a signed half of the cleared scale (exact).
        let sa = ue4m3_f32(*s);
        let coef = value::mul_f32(
            sa,
            if g.delta() > 0 {
                0x3F00_0000
            } else {
                0xBF00_0000
            },
        );
        corr = value::add_f32(corr, value::mul_f32(coef, xsum));
    }
    Ok(value::add_f32(main, corr))
}

fn hopper(a: &[u32], b: &[u32], grids: &[(Grid, u8)], sb: &[u8], c: u32) -> Result<u32, EmuError> {
    let mma = instruction(HOPPER_MMA)?;
    let mut acc = c;
    let mut ea = [0u32; 32];
    let mut eb = [0u32; 32];
    for (blk, (g, s)) in grids.iter().enumerate() {
        for i in 0..16 {
            ea[i] = e4m3_of_x2(sfp4_x2(a[blk * 16 + i], *g)?);
            eb[i] = e4m3_of_x2(i32::from(fp4_x2(b[blk * 16 + i])?));
        }
        let d = mma.dot(&ea, &eb, &[], &[], 0)?;
        let scale = value::mul_f32(ue4m3_f32(*s), ue4m3_f32(sb[blk]));
        acc = value::fma_f32(d, scale, acc);
    }
    Ok(acc)
}

fn exact(a: &[u32], b: &[u32], grids: &[(Grid, u8)], sb: &[u8], c: u32) -> Result<u32, EmuError> {
    // All products are multiples of 2^-20: x2a·x2b/4 · (ma·2^ea)(mb·2^eb) with scale unit
    // exponents ≥ −9 (UE4M3 subnormals are mag·2^−9).
    const BASE: i32 = -20;
    let mut sum: i128 = 0;
    for (blk, (g, s)) in grids.iter().enumerate() {
        let (Val::Fin(fa), Val::Fin(fb)) = (
            Format::UE4M3.decode((*s).into()),
            Format::UE4M3.decode(sb[blk].into()),
        ) else {
            return Ok(0x7FFF_FFFF);
        };
        let mut p: i128 = 0;
        for i in blk * 16..blk * 16 + 16 {
            p += i128::from(sfp4_x2(a[i], *g)?) * i128::from(fp4_x2(b[i])?);
        }
        let sh = fa.exp + fb.exp - 2 - BASE;
        sum += (p * i128::from(fa.mag * fb.mag)) << sh as u32;
    }
    let prod = Dyadic {
        neg: sum < 0,
        mag: sum.unsigned_abs(),
        exp: BASE,
    };
    match value::f32_exact(c) {
        Some(cv) => Ok(Rounding::RneFp32.round(add_exact(prod, cv))),
        // Inf or NaN C: the finite products do not change it (NaN canonicalised).
        None => Ok(if value::is_nan_f32(c) { 0x7FFF_FFFF } else { c }),
    }
}
