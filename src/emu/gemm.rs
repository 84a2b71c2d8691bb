//! Whole-GEMM emulation: an instruction model plus a recipe (how a kernel walks K) plus an
//! epilogue (scales, output conversion), each output computed exactly as the kernel does.
//!
//! Recipes (docs: `vectors/gemm/README.md`, with the hardware evidence of each):
//! - `chain`: one instruction chained over all of K in order, C the first accumulator
//!   (Triton's default FP8 `tl.dot` on sm_90, cuBLAS FP8 with `use_fast_accum=True`);
//! - `promote:G[:T]`: every G elements a fresh partial chain from +0, added into the FP32
//!   accumulator with one RNE `add.f32`, in K order; the chunks restart at every T-element
//!   tile (Triton adds at the end of every `tl.dot`, T = BLOCK_K); cuBLAS FP8 with
//!   `use_fast_accum=False` is G = 128;
//! - `mmav2`: Triton's mma.sync FP8 path on sm_90: inside every 32-element block of K the
//!   first f16 instruction takes k ∈ {0,1,4,5,…,28,29}, the second k ∈ {2,3,6,7,…,30,31};
//!   with an f16 instruction and FP8 data converted exactly (`--ab-format e4m3`);
//! - `splitk:L:<inner>`: K cut into ranges of L elements (the last one shorter), each
//!   computed by `inner` from +0, the partials added in FP32 (RNE) in range order, the
//!   epilogue applied to the sum (cuBLAS's `..._splitK_TNT` + `splitKreduce_kernel`, with
//!   L = ceil(K/128 / S)·128 for its split count S).
//!
//! All arithmetic is the instruction model's integer arithmetic; the FP32 adds and the
//! epilogue's products are exact-then-rounded-once (`value::add_f32`, `value::mul_f32`).

use super::fdpa;
use super::value::{self, Format, Val};
use super::{EmuError, Instruction};
use crate::decode::Output;

/// How a kernel walks K.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipe {
    /// One chain over all of K.
    Chain,
    /// Fresh partials every `every` elements (restarting at every `tile` boundary), each
    /// added into the FP32 accumulator.
    Promote {
        /// Elements per partial chain (Triton's `max_num_imprecise_acc`).
        every: usize,
        /// The K tile at whose boundaries partials also end (Triton's BLOCK_K).
        tile: Option<usize>,
    },
    /// Triton's mmav2 K permutation inside 32-element blocks, then a chain.
    Mmav2,
    /// K split into ranges of `range` elements (the last shorter) computed by `inner` from
    /// +0, summed in FP32 in range order.
    SplitK {
        /// Elements per K range.
        range: usize,
        /// How each range is computed.
        inner: Box<Recipe>,
    },
}

impl Recipe {
    /// Parse `chain`, `promote:G`, `promote:G:T`, `mmav2`, `splitk:L:<inner>`, or a preset
    /// name (see [`Preset`]).
    pub fn parse(text: &str) -> Result<Recipe, EmuError> {
        let bad = |why: &str| EmuError::Shape(format!("recipe `{text}`: {why}"));
        let num = |s: &str, what: &str| -> Result<usize, EmuError> {
            s.parse::<usize>()
                .ok()
                .filter(|&v| v > 0)
                .ok_or_else(|| bad(&format!("{what} `{s}` is not a positive integer")))
        };
        if let Some(p) = Preset::from_name(text) {
            return Ok(p.recipe());
        }
        let mut parts = text.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("chain"), None, None) => Ok(Recipe::Chain),
            (Some("mmav2"), None, None) => Ok(Recipe::Mmav2),
            (Some("promote"), Some(g), tile) => Ok(Recipe::Promote {
                every: num(g, "G")?,
                tile: tile.map(|t| num(t, "tile")).transpose()?,
            }),
            (Some("splitk"), Some(s), Some(inner)) => Ok(Recipe::SplitK {
                range: num(s, "range length")?,
                inner: Box::new(Recipe::parse(inner)?),
            }),
            _ => Err(bad(
                "expected chain, promote:G[:T], mmav2, splitk:L:<recipe>, or a preset (`emu::gemm::Preset::ALL` lists them)",
            )),
        }
    }

    /// The recipe's canonical text.
    pub fn name(&self) -> String {
        match self {
            Recipe::Chain => "chain".into(),
            Recipe::Mmav2 => "mmav2".into(),
            Recipe::Promote { every, tile: None } => format!("promote:{every}"),
            Recipe::Promote {
                every,
                tile: Some(t),
            } => format!("promote:{every}:{t}"),
            Recipe::SplitK { range, inner } => format!("splitk:{range}:{}", inner.name()),
        }
    }
}

/// Named recipes for the kernels users run, each with the evidence behind it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// Triton 3.6 FP8 `tl.dot` on sm_90, default `max_num_imprecise_acc` (2^30): one wgmma
    /// chain over the whole K loop.
    TritonSm90,
    /// Triton 3.6 on sm_90 with `max_num_imprecise_acc = G` (`triton-sm90-mnia:G:BLOCK_K`).
    TritonSm90Mmav2,
    /// cuBLAS FP8 (`torch._scaled_mm`, `use_fast_accum=True`, nvjet `..._TNT` kernels
    /// without `splitK`): one chain.
    CublasSm90Fp8Fast,
    /// cuBLAS FP8 (`use_fast_accum=False`, nvjet `..._algo2_TNT` kernels without `splitK`):
    /// promotion every 128.
    CublasSm90Fp8,
}

impl Preset {
    /// Every preset (the parameterized `triton-sm90-mnia:G:T` is parsed separately).
    pub const ALL: [Preset; 4] = [
        Preset::TritonSm90,
        Preset::TritonSm90Mmav2,
        Preset::CublasSm90Fp8Fast,
        Preset::CublasSm90Fp8,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Preset::TritonSm90 => "triton-sm90",
            Preset::TritonSm90Mmav2 => "triton-sm90-mmav2",
            Preset::CublasSm90Fp8Fast => "cublas-sm90-fp8-fast",
            Preset::CublasSm90Fp8 => "cublas-sm90-fp8",
        }
    }

    /// The recipe it stands for.
    pub fn recipe(self) -> Recipe {
        match self {
            Preset::TritonSm90 | Preset::CublasSm90Fp8Fast => Recipe::Chain,
            Preset::TritonSm90Mmav2 => Recipe::Mmav2,
            Preset::CublasSm90Fp8 => Recipe::Promote {
                every: 128,
                tile: None,
            },
        }
    }

    /// The instruction the preset's kernels run (and, for mmav2, the data format).
    pub fn instruction(self) -> &'static str {
        match self {
            Preset::TritonSm90Mmav2 => "hopper/mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32",
            _ => "hopper/wgmma.f32.e4m3.e4m3",
        }
    }

    /// The element format of A and B when it differs from the instruction's: Triton's
    /// mmav2 path holds FP8 (E4M3) data and converts it exactly to f16 for the instruction.
    pub fn data_format(self) -> Option<&'static str> {
        match self {
            Preset::TritonSm90Mmav2 => Some("e4m3"),
            _ => None,
        }
    }

    /// The evidence (versions, kernels, the recorded run).
    pub fn evidence(self) -> &'static str {
        match self {
            Preset::TritonSm90 => "H200, Triton 3.6.0, torch 2.11.0+cu130: vectors/gemm/triton-default (PTX wgmma.m64n128k32.f32.e4m3.e4m3)",
            Preset::TritonSm90Mmav2 => "H200, Triton 3.6.0, BM=BN=32, num_warps=2: vectors/gemm/triton-mmav2 (PTX mma.sync.m16n8k16.f32.f16.f16.f32)",
            Preset::CublasSm90Fp8Fast => "H200, torch 2.11.0+cu130 _scaled_mm(use_fast_accum=True), nvjet_sm90_qqsss_64x8_128x16_1x2_h_bz_TNT: vectors/gemm/cublas-fast",
            Preset::CublasSm90Fp8 => "H200, torch 2.11.0+cu130 _scaled_mm(use_fast_accum=False), nvjet_sm90_qqsss_64x8_128x16_1x2_h_bz_algo2_TNT: vectors/gemm/cublas-precise",
        }
    }

    /// A preset by name.
    pub fn from_name(name: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The recipe for one shape. cuBLAS picks split-K kernels by a heuristic that is not
    /// public: a shape with a measured decision gets it; a shape in the region where split-K
    /// kernels were seen (M·N ≤ 128·128 and K ≥ 4096) without a measurement is refused; any
    /// other shape gets the non-split recipe and a warning that no measurement backs it.
    pub fn resolve(
        self,
        m: usize,
        n: usize,
        k: usize,
    ) -> Result<(Recipe, Option<String>), EmuError> {
        let inner = self.recipe();
        let cublas = matches!(self, Preset::CublasSm90Fp8Fast | Preset::CublasSm90Fp8);
        if !cublas {
            return Ok((inner, None));
        }
        if let Some(&(_, range)) = CUBLAS_SM90_SPLITK.iter().find(|(s, _)| *s == (m, n, k)) {
            return Ok(match range {
                Some(range) => (
                    Recipe::SplitK {
                        range,
                        inner: Box::new(inner),
                    },
                    None,
                ),
                None => (inner, None),
            });
        }
        if m * n <= 128 * 128 && k >= 4096 {
            return Err(EmuError::Shape(format!(
                "{}: no measurement of cuBLAS's split-K decision for {m}x{n}x{k}, and shapes like it ran split-K kernels on the H200; \
                 run the GEMM under torch.profiler: without `splitK` in the kernel name use recipe `{}`, with it measure the split (gpu/gemm_probe.py chain probes) and use `splitk:L:{}`",
                self.name(),
                inner.name(),
                inner.name()
            )));
        }
        Ok((
            inner,
            Some(format!(
                "warning: {}: no measurement for {m}x{n}x{k}; assuming cuBLAS runs a non-split-K kernel (measured: 256x256x2048 on an H200); check the kernel name with torch.profiler",
                self.name()
            )),
        ))
    }
}

/// cuBLAS split-K decisions measured on an H200 (torch 2.11.0+cu130, `torch._scaled_mm`,
/// FP8 E4M3, both `use_fast_accum` settings; vectors/gemm/, chain probes in gpu/gemm_probe.py):
/// (M, N, K) and the K range of each split (None: no split-K kernel). The split count S
/// gives ranges of ceil(K/128 / S)·128 elements: S = 25, 6, 12, 3 below.
pub const CUBLAS_SM90_SPLITK: [((usize, usize, usize), Option<usize>); 5] = [
    ((256, 256, 2048), None),
    ((16, 16, 65536), Some(2688)),
    ((64, 64, 16384), Some(2816)),
    ((32, 256, 32768), Some(2816)),
    ((128, 128, 8192), Some(2816)),
];

/// What happens to the accumulator at the end.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Epilogue {
    /// Tensor-wise scales (cuBLAS `scale_a`, `scale_b`): D = RN(acc · RN(sa · sb)).
    pub scales: Option<(f32, f32)>,
    /// Output type, rounded to nearest even from the FP32 result.
    pub out: Output,
}

impl Default for Epilogue {
    fn default() -> Epilogue {
        Epilogue {
            scales: None,
            out: Output::F32,
        }
    }
}

/// Operands of a GEMM: A is M×K and B is K×N, row-major, as codes of the instruction's
/// operand formats (or of `data` formats converted exactly, see [`convert_exact`]).
pub struct Problem<'a> {
    /// Rows of A and D.
    pub m: usize,
    /// Columns of B and D.
    pub n: usize,
    /// The reduction length.
    pub k: usize,
    /// A, M×K row-major codes.
    pub a: &'a [u32],
    /// B, K×N row-major codes.
    pub b: &'a [u32],
    /// C, M×N row-major FP32 bits (None: +0).
    pub c: Option<&'a [u32]>,
}

/// The 32-element mmav2 permutation: positions 0..16 take k ≡ 0,1 (mod 4), 16..32 k ≡ 2,3.
fn mmav2_order() -> [usize; 32] {
    let mut o = [0usize; 32];
    let mut i = 0;
    for half in [0usize, 2] {
        for q in 0..8 {
            o[i] = 4 * q + half;
            o[i + 1] = 4 * q + half + 1;
            i += 2;
        }
    }
    o
}

/// Convert codes of element format `from` to codes of `to`, exactly (an error names the first
/// code whose value `to` cannot hold).
pub fn convert_exact(codes: &[u32], from: Format, to: Format) -> Result<Vec<u32>, EmuError> {
    codes
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let v = from.decode(c);
            let out = to.encode_exact(v).ok_or_else(|| {
                EmuError::Shape(format!(
                    "element {i}: {from} code {c:#x} is not exactly representable in {to}"
                ))
            })?;
            Ok(out)
        })
        .collect()
}

/// One plain instruction chain over slices of operands: `(a, b, c) -> d`.
type Chain<'a, T> = dyn Fn(&[T], &[T], u32) -> Result<u32, EmuError> + 'a;

/// One dot product under `recipe`, with `chain(a, b, c)` computing one plain instruction
/// chain (over codes, or over pre-decoded values on the fast path).
fn dot<T: Copy>(
    recipe: &Recipe,
    a: &[T],
    b: &[T],
    c: u32,
    chain: &Chain<'_, T>,
) -> Result<u32, EmuError> {
    match recipe {
        Recipe::Chain => chain(a, b, c),
        Recipe::Mmav2 => {
            if !a.len().is_multiple_of(32) {
                return Err(EmuError::Shape(format!(
                    "recipe mmav2 needs K a multiple of 32, got {}",
                    a.len()
                )));
            }
            let order = mmav2_order();
            let mut pa = Vec::with_capacity(a.len());
            let mut pb = Vec::with_capacity(b.len());
            for (ca, cb) in a.chunks(32).zip(b.chunks(32)) {
                pa.extend(order.iter().map(|&i| ca[i]));
                pb.extend(order.iter().map(|&i| cb[i]));
            }
            chain(&pa, &pb, c)
        }
        Recipe::Promote { every, tile } => {
            let k = a.len();
            let tile = tile.unwrap_or(k).max(1);
            let mut acc = c;
            let mut start = 0;
            while start < k {
                let tile_end = (start + tile).min(k);
                let mut s = start;
                while s < tile_end {
                    let e = (s + every).min(tile_end);
                    acc = value::add_f32(acc, chain(&a[s..e], &b[s..e], 0)?);
                    s = e;
                }
                start = tile_end;
            }
            Ok(acc)
        }
        Recipe::SplitK { range, inner } => {
            let mut acc = c;
            for (ra, rb) in a.chunks(*range).zip(b.chunks(*range)) {
                acc = value::add_f32(acc, dot(inner, ra, rb, 0, chain)?);
            }
            Ok(acc)
        }
    }
}

/// An operand pre-decoded for the fast chain: `(-1)^neg · mag · 2^exp` with MMA-Sim's
/// frexp exponent `fexp`, or a special.
#[derive(Clone, Copy, Debug)]
struct Packed {
    mag: u64,
    exp: i32,
    fexp: i32,
    neg: bool,
    /// 0 finite, 1 NaN, 2 Inf.
    kind: u8,
}

fn pack(v: Val) -> Packed {
    match v {
        Val::Fin(f) => Packed {
            mag: f.mag,
            exp: f.exp,
            fexp: f.fexp,
            neg: f.neg,
            kind: 0,
        },
        Val::Nan => Packed {
            mag: 0,
            exp: 0,
            fexp: 0,
            neg: false,
            kind: 1,
        },
        Val::Inf { neg } => Packed {
            mag: 0,
            exp: 0,
            fexp: 0,
            neg,
            kind: 2,
        },
    }
}

/// One T-FDPA over pre-decoded operands, exactly `fdpa::t_fdpa` (products exact, every term
/// aligned to the largest alignment exponent and truncated to F bits below it, one exact
/// sum, one rounding, −0 → +0; specials as MMA-Sim: NaN wins, +Inf with −Inf is NaN), without
/// its allocations. `tests::fast_chain_equals_the_model` checks it against `Instruction::dot`.
fn fast_fdpa(a: &[Packed], b: &[Packed], c: Val, p: &fdpa::FdpaParams) -> u32 {
    let (mut nan, mut pos_inf, mut neg_inf) = (false, false, false);
    let mut e_max = i32::MIN;
    for (x, y) in a.iter().zip(b) {
        if x.kind == 1 || y.kind == 1 {
            nan = true;
            continue;
        }
        if x.kind == 2 || y.kind == 2 {
            let zero = (x.kind == 0 && x.mag == 0) || (y.kind == 0 && y.mag == 0);
            if zero {
                nan = true;
            } else if x.neg ^ y.neg {
                neg_inf = true;
            } else {
                pos_inf = true;
            }
            continue;
        }
        let e = if x.mag == 0 || y.mag == 0 {
            p.e_zero
        } else {
            x.fexp + y.fexp
        };
        e_max = e_max.max(e);
    }
    let c = match c {
        Val::Nan => {
            nan = true;
            None
        }
        Val::Inf { neg } => {
            if neg {
                neg_inf = true;
            } else {
                pos_inf = true;
            }
            None
        }
        Val::Fin(f) => {
            e_max = e_max.max(if f.mag == 0 { p.e_zero } else { f.fexp });
            Some(f)
        }
    };
    if nan || (pos_inf && neg_inf) {
        return p.rho.nan();
    }
    if pos_inf || neg_inf {
        return p.rho.inf(neg_inf);
    }
    if e_max == i32::MIN {
        e_max = p.e_zero;
    }
    let unit = e_max - p.f as i32;
    // Every aligned term is below 2^(F+2) (its leading bit is at most one above 2^E) and a
    // chunk has at most 33 terms, so with F ≤ 30 (every plain T-FDPA: 13 to 25) the sum fits
    // an i64; `plain_t_fdpa` admits only such instructions.
    let term = |neg: bool, mag: u64, exp: i32| -> i64 {
        if mag == 0 {
            return 0;
        }
        let sh = exp - unit;
        let m = if sh >= 0 {
            (mag << sh as u32) as i64
        } else if sh <= -64 {
            0
        } else {
            (mag >> (-sh) as u32) as i64
        };
        if neg {
            -m
        } else {
            m
        }
    };
    let mut sum: i64 = 0;
    for (x, y) in a.iter().zip(b) {
        sum += term(x.neg ^ y.neg, x.mag * y.mag, x.exp + y.exp);
    }
    if let Some(f) = c {
        sum += term(f.neg, f.mag, f.exp);
    }
    round_sum(sum, unit, p)
}

/// A finite operand in 8 bytes: signed significand, exponent of its unit, frexp exponent.
#[derive(Clone, Copy, Debug)]
struct Compact {
    sig: i32,
    exp: i16,
    fexp: i16,
}

/// The compact form of a vector when every element is finite (significands below 2^31,
/// exponents within i16), else None (the vector then takes [`fast_fdpa`]).
fn compact(v: &[Packed]) -> Option<Vec<Compact>> {
    v.iter()
        .map(|x| {
            let small =
                x.mag < 1 << 31 && i16::try_from(x.exp).is_ok() && i16::try_from(x.fexp).is_ok();
            (x.kind == 0 && small).then(|| Compact {
                sig: if x.neg { -(x.mag as i32) } else { x.mag as i32 },
                exp: x.exp as i16,
                fexp: x.fexp as i16,
            })
        })
        .collect()
}

/// [`fast_fdpa`] for finite operands (no special-value bookkeeping); bit for bit the same
/// (`tests::fast_chain_equals_the_model` runs both paths). A zero operand still carries
/// e_zero: it takes part in the alignment maximum as the model says.
fn finite_fdpa(a: &[Compact], b: &[Compact], c: Val, p: &fdpa::FdpaParams) -> u32 {
    let c = match c {
        Val::Fin(f) => f,
        special => {
            let pa: Vec<Packed> = a.iter().map(unpack).collect();
            let pb: Vec<Packed> = b.iter().map(unpack).collect();
            return fast_fdpa(&pa, &pb, special, p);
        }
    };
    let mut e_max = if c.mag == 0 { p.e_zero } else { c.fexp };
    for (x, y) in a.iter().zip(b) {
        let e = if x.sig == 0 || y.sig == 0 {
            p.e_zero
        } else {
            i32::from(x.fexp) + i32::from(y.fexp)
        };
        e_max = e_max.max(e);
    }
    let unit = e_max - p.f as i32;
    let mut sum: i64 = 0;
    for (x, y) in a.iter().zip(b) {
        let prod = i64::from(x.sig) * i64::from(y.sig);
        if prod == 0 {
            continue;
        }
        let sh = i32::from(x.exp) + i32::from(y.exp) - unit;
        sum += if sh >= 0 {
            prod << sh as u32
        } else if sh <= -63 {
            0
        } else {
            let t = (prod.unsigned_abs() >> (-sh) as u32) as i64;
            if prod < 0 {
                -t
            } else {
                t
            }
        };
    }
    if c.mag != 0 {
        let sh = c.exp - unit;
        let m = if sh >= 0 {
            (c.mag << sh as u32) as i64
        } else if sh <= -64 {
            0
        } else {
            (c.mag >> (-sh) as u32) as i64
        };
        sum += if c.neg { -m } else { m };
    }
    round_sum(sum, unit, p)
}

fn unpack(x: &Compact) -> Packed {
    Packed {
        mag: u64::from(x.sig.unsigned_abs()),
        exp: i32::from(x.exp),
        fexp: i32::from(x.fexp),
        neg: x.sig < 0,
        kind: 0,
    }
}

/// The fused sum `sum · 2^unit` rounded once as the instruction's ρ; a zero result is +0
/// whatever the signs (MMA-Sim's "+ 0.0").
fn round_sum(sum: i64, unit: i32, p: &fdpa::FdpaParams) -> u32 {
    let bits = p.rho.round(value::Dyadic {
        neg: sum < 0,
        mag: u128::from(sum.unsigned_abs()),
        exp: unit,
    });
    let sign = if p.rho.is_f16() { 0x8000 } else { 0x8000_0000 };
    if bits & !sign == 0 {
        0
    } else {
        bits
    }
}

/// Whether `instr` is a plain T-FDPA chain (no conversion, no chunk pattern, C fused), the
/// case the pre-decoded fast path computes: chunks of `l_max` elements, each one `t_fdpa`
/// with the previous result as C — what `Instruction::dot` does for it, without decoding
/// every operand again for every output.
fn plain_t_fdpa(instr: &Instruction) -> bool {
    instr.model == super::Model::TFdpa
        && instr.convert.is_none()
        && instr.chunk_pattern.is_empty()
        && instr.c_path == super::CPath::Fused
        && instr.l_max > 0
        && instr.l_max <= 32
        && instr.f <= 30
}

fn finish(acc: u32, epi: &Epilogue) -> u32 {
    let v = match epi.scales {
        Some((sa, sb)) => value::mul_f32(acc, value::mul_f32(sa.to_bits(), sb.to_bits())),
        None => acc,
    };
    match epi.out {
        Output::F32 => v,
        out => crate::decode::round_output(f32::from_bits(v) as f64, out),
    }
}

/// D = epilogue(recipe over K of A·B + C), M×N row-major output bits (FP32, or the 16-bit
/// patterns of bf16/f16 in the low half). Rows are spread over `threads` threads.
pub fn gemm(
    instr: &Instruction,
    recipe: &Recipe,
    epi: &Epilogue,
    p: &Problem,
    threads: usize,
) -> Result<Vec<u32>, EmuError> {
    let (m, n, k) = (p.m, p.n, p.k);
    if p.a.len() != m * k || p.b.len() != k * n {
        return Err(EmuError::Shape(format!(
            "A has {} codes and B {}, expected {m}×{k} and {k}×{n}",
            p.a.len(),
            p.b.len()
        )));
    }
    if let Some(c) = p.c {
        if c.len() != m * n {
            return Err(EmuError::Shape(format!(
                "C has {} elements, expected {m}×{n}",
                c.len()
            )));
        }
    }
    if instr.acc_format() != Format::F32 {
        return Err(EmuError::Shape(format!(
            "{}: GEMM recipes are defined for FP32 accumulators only",
            instr.id()
        )));
    }
    if instr.scales_for(k) != 0 {
        return Err(EmuError::Shape(format!(
            "{}: block-scaled instructions are not supported by `gemm` yet",
            instr.id()
        )));
    }
    // B's columns, gathered once.
    let cols: Vec<Vec<u32>> = (0..n)
        .map(|j| (0..k).map(|x| p.b[x * n + j]).collect())
        .collect();
    let fast = plain_t_fdpa(instr);
    let decoded_cols: Vec<Vec<Packed>> = if fast {
        cols.iter()
            .map(|c| {
                Ok(super::decode_all(instr.b, c)?
                    .into_iter()
                    .map(pack)
                    .collect())
            })
            .collect::<Result<_, EmuError>>()?
    } else {
        Vec::new()
    };
    let params = instr.params();
    let acc = instr.acc_format();
    // Chunks never span two instructions (what `Instruction::dot` fuses per instruction).
    let l = (instr.l_max as usize).min(instr.k as usize);
    let check_k = |len: usize| instr.check_k(len);
    let val_chain = |a: &[Packed], b: &[Packed], c: u32| -> Result<u32, EmuError> {
        check_k(a.len())?;
        let mut d = c;
        for (ca, cb) in a.chunks(l).zip(b.chunks(l)) {
            d = fast_fdpa(ca, cb, acc.decode(d), &params);
        }
        Ok(d)
    };
    let finite_chain = |a: &[Compact], b: &[Compact], c: u32| -> Result<u32, EmuError> {
        check_k(a.len())?;
        let mut d = c;
        for (ca, cb) in a.chunks(l).zip(b.chunks(l)) {
            d = finite_fdpa(ca, cb, acc.decode(d), &params);
        }
        Ok(d)
    };
    let compact_cols: Vec<Option<Vec<Compact>>> = decoded_cols.iter().map(|c| compact(c)).collect();
    let code_chain = |a: &[u32], b: &[u32], c: u32| instr.dot(a, b, &[], &[], c);
    let mut d = vec![0u32; m * n];
    let threads = threads.clamp(1, m.max(1));
    let rows_per = m.div_ceil(threads);
    let result: Result<(), EmuError> = std::thread::scope(|s| {
        let handles: Vec<_> = d
            .chunks_mut(rows_per * n)
            .enumerate()
            .map(|(t, out)| {
                let (cols, decoded_cols, compact_cols) = (&cols, &decoded_cols, &compact_cols);
                let (val_chain, code_chain, finite_chain) =
                    (&val_chain, &code_chain, &finite_chain);
                s.spawn(move || -> Result<(), EmuError> {
                    for (r, row_out) in out.chunks_mut(n).enumerate() {
                        let i = t * rows_per + r;
                        let a = &p.a[i * k..(i + 1) * k];
                        let da: Vec<Packed> = if fast {
                            super::decode_all(instr.a, a)?
                                .into_iter()
                                .map(pack)
                                .collect()
                        } else {
                            Vec::new()
                        };
                        let ca = if fast { compact(&da) } else { None };
                        for (j, o) in row_out.iter_mut().enumerate() {
                            let c = p.c.map_or(0, |c| c[i * n + j]);
                            let v = if let (Some(ca), Some(Some(cb))) = (&ca, compact_cols.get(j)) {
                                dot(recipe, ca, cb, c, finite_chain)?
                            } else if fast {
                                dot(recipe, &da, &decoded_cols[j], c, val_chain)?
                            } else {
                                dot(recipe, a, &cols[j], c, code_chain)?
                            };
                            *o = finish(v, epi);
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err(EmuError::Shape("a GEMM worker panicked".into())))
        })
    });
    result?;
    Ok(d)
}

/// [`gemm`] for operands given as codes of `data` (when it differs from the instruction's
/// operand format, each code is converted exactly first, an error naming the first that
/// cannot be).
pub fn gemm_with_data_format(
    instr: &Instruction,
    data: Option<Format>,
    recipe: &Recipe,
    epi: &Epilogue,
    p: &Problem,
    threads: usize,
) -> Result<Vec<u32>, EmuError> {
    let Some(from) = data.filter(|&f| f != instr.a || f != instr.b) else {
        return gemm(instr, recipe, epi, p, threads);
    };
    let a = convert_exact(p.a, from, instr.a).map_err(|e| EmuError::Shape(format!("A: {e}")))?;
    let b = convert_exact(p.b, from, instr.b).map_err(|e| EmuError::Shape(format!("B: {e}")))?;
    gemm(instr, recipe, epi, &Problem { a: &a, b: &b, ..*p }, threads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmav2_order_is_a_permutation_of_pairs() {
        let o = mmav2_order();
        assert_eq!(&o[..4], &[0, 1, 4, 5]);
        assert_eq!(&o[14..18], &[28, 29, 2, 3]);
        let mut s = o.to_vec();
        s.sort();
        assert_eq!(s, (0..32).collect::<Vec<_>>());
    }

    /// The pre-decoded fast chain equals `Instruction::dot` (the model) on random codes of
    /// every plain T-FDPA instruction, NaN, Inf, zeros and subnormals included.
    #[test]
    fn fast_chain_equals_the_model() {
        let reg = super::super::registry().unwrap();
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let mut checked = 0;
        for ins in reg
            .instructions
            .iter()
            .filter(|i| plain_t_fdpa(i) && i.acc_format() == Format::F32)
        {
            let k = ins.k as usize * 2;
            for case in 0..200 {
                let mut code = |f: Format| -> u32 {
                    let r = next();
                    // Mostly random bits; some zeros and small magnitudes for alignment.
                    let bits = f.bits();
                    let c = (r as u32) & ((1u64 << bits) - 1) as u32;
                    match (r >> 40) % 8 {
                        0 => 0,
                        1 => c & 0x7,
                        _ => c,
                    }
                };
                let a: Vec<u32> = (0..k).map(|_| code(ins.a)).collect();
                let b: Vec<u32> = (0..k).map(|_| code(ins.b)).collect();
                let c = if case % 3 == 0 {
                    0
                } else {
                    (next() as u32) & 0x7fff_ffff
                };
                let want = ins.dot(&a, &b, &[], &[], c).unwrap();
                let p = Problem {
                    m: 1,
                    n: 1,
                    k,
                    a: &a,
                    b: &b,
                    c: Some(&[c]),
                };
                let got = gemm(ins, &Recipe::Chain, &Epilogue::default(), &p, 1).unwrap()[0];
                assert_eq!(got, want, "{} case {case}", ins.id());
                checked += 1;
            }
        }
        assert!(checked > 1000, "{checked}");
    }

    #[test]
    fn recipes_parse_and_print() {
        for t in [
            "chain",
            "mmav2",
            "promote:128",
            "promote:32:128",
            "splitk:2688:promote:128",
        ] {
            assert_eq!(Recipe::parse(t).unwrap().name(), t);
        }
        assert!(Recipe::parse("promote:0").is_err());
        assert!(Recipe::parse("splitk:2").is_err());
        assert_eq!(
            Recipe::parse("cublas-sm90-fp8").unwrap().name(),
            "promote:128"
        );
    }
}
