//! The verifier: compares another implementation's quantized outputs (or decoded values)
//! with the reference and names the class of every mismatch, so a kernel author learns
//! *what* is wrong (a tie rule, a scale rounding, a nibble order) and not just *that* it is.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::decode::{code_at, scale_at};
use crate::format::Format;
use crate::quant::exact::Exact;
use crate::quant::{self, Profile, QuantError, Quantizer};

use super::catalogue::single_grid;
use super::text::{parse_bytes, parse_words, CaseFile};

/// What kind of mismatch a difference is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// An element code differs and the input is not at or near a rounding boundary.
    WrongCode,
    /// The input lies exactly on the boundary between the two codes' values (a tie) and the
    /// other neighbour was chosen: a different tie rule.
    TieCode,
    /// The input lies within 2^-20 (relative) of that boundary: usually x·(1/s) instead of
    /// x/s, or a scaled value rounded to f32 before the comparison.
    NearTieCode,
    /// +0 and -0 codes differ (the sign of zero was lost or invented).
    SignedZero,
    /// The block scale is one code step away from the reference's (its rounding differs).
    ScaleRounding,
    /// The block scale is NaN, above the format's largest scale, or the reference scale is
    /// at a clamp limit and the implementation's is not (a missing clamp or saturation).
    ScaleRange,
    /// Any other block-scale difference.
    ScaleWrong,
    /// The per-tensor scale differs. Every group is then checked under the implementation's
    /// tensor scale, so allowing this class never hides a group mismatch.
    TensorScale,
    /// Another grid was chosen, and its squared error is within the stated tolerance of the
    /// reference grid's (tie rule between grids, or summation order).
    GridNearTie,
    /// Another grid was chosen, and its error is clearly larger.
    GridWrong,
    /// The packed codes are the reference's with the two nibbles of every byte swapped.
    NibbleOrder,
    /// The block scales are the reference's written in another layout (a swizzle such as
    /// 128x4 or 8x4, or transposed); the groups are then checked on the scales read so.
    ScaleLayout,
    /// Selector bits of the scale byte are wrong while the codes and scale value are right
    /// (or bits outside the value mask differ), or name no grid.
    SelectorBits,
    /// Both values are NaN but their bit patterns differ.
    NanPayload,
    /// A decoded value differs (decode files).
    WrongValue,
    /// One side reports an error (non-finite input, invalid code) and the other does not.
    ErrorMismatch,
}

impl Class {
    /// Every class, in report order.
    pub const ALL: [Class; 16] = [
        Class::WrongCode,
        Class::TieCode,
        Class::NearTieCode,
        Class::SignedZero,
        Class::ScaleRounding,
        Class::ScaleRange,
        Class::ScaleWrong,
        Class::TensorScale,
        Class::GridNearTie,
        Class::GridWrong,
        Class::NibbleOrder,
        Class::ScaleLayout,
        Class::SelectorBits,
        Class::NanPayload,
        Class::WrongValue,
        Class::ErrorMismatch,
    ];

    /// The class's name on the command line (`--allow NAME`) and in reports.
    pub fn name(&self) -> &'static str {
        match self {
            Class::WrongCode => "wrong-code",
            Class::TieCode => "tie-code",
            Class::NearTieCode => "near-tie-code",
            Class::SignedZero => "signed-zero",
            Class::ScaleRounding => "scale-rounding",
            Class::ScaleRange => "scale-range",
            Class::ScaleWrong => "scale-wrong",
            Class::TensorScale => "tensor-scale",
            Class::GridNearTie => "grid-near-tie",
            Class::GridWrong => "grid-wrong",
            Class::NibbleOrder => "nibble-order",
            Class::ScaleLayout => "scale-layout",
            Class::SelectorBits => "selector-bits",
            Class::NanPayload => "nan-payload",
            Class::WrongValue => "wrong-value",
            Class::ErrorMismatch => "error-mismatch",
        }
    }

    /// Inverse of [`Class::name`].
    pub fn from_name(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// One mismatch: where it is and what was expected.
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    /// The mismatch class (what kind of difference).
    pub class: Class,
    /// The case (vector line or tensor) it occurred in.
    pub case: String,
    /// The group index, when the mismatch is in one group.
    pub group: Option<usize>,
    /// The element index within the case, when it is one element.
    pub element: Option<usize>,
    /// Expected and actual values, in words.
    pub detail: String,
}

/// What the checked input exercised: a difference of a kind the input never exercised
/// cannot show up, so a clean report on such an input says little about that kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Elements exactly halfway between two adjacent grid values (after scaling).
    pub exact_ties: usize,
    /// Elements within 2^-20 (relative) of such a boundary, not on it.
    pub near_ties: usize,
    /// Elements beyond the grid's largest magnitude (saturated).
    pub saturated: usize,
    /// Groups of zeros only.
    pub zero_groups: usize,
    /// Groups whose reference block scale is a subnormal of the scale element.
    pub subnormal_scales: usize,
    /// Cases holding NaN or Inf.
    pub non_finite_cases: usize,
}

impl Coverage {
    fn add(&mut self, o: &Coverage) {
        self.exact_ties += o.exact_ties;
        self.near_ties += o.near_ties;
        self.saturated += o.saturated;
        self.zero_groups += o.zero_groups;
        self.subnormal_scales += o.subnormal_scales;
        self.non_finite_cases += o.non_finite_cases;
    }

    /// One line per kind never exercised, naming the difference it would have revealed.
    pub fn warnings(&self) -> Vec<&'static str> {
        let mut w = Vec::new();
        if self.exact_ties == 0 {
            w.push("no exact tie was exercised: a different tie rule (ties away from zero, to the lower index) would pass unseen");
        }
        if self.near_ties == 0 {
            w.push("no near tie (within 2^-20) was exercised: x*(1/s) instead of x/s, or rounding through bf16, would pass unseen");
        }
        if self.saturated == 0 {
            w.push("no saturated element was exercised: a missing clamp would pass unseen");
        }
        if self.zero_groups == 0 {
            w.push("no all-zero group was exercised: zero-block scale rules (ModelOpt 1.0, torchao 2^-6) would pass unseen");
        }
        if self.subnormal_scales == 0 {
            w.push("no subnormal block scale was exercised: scale underflow handling would pass unseen");
        }
        w
    }
}

/// The result of verifying one or more cases.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Cases checked.
    pub cases: usize,
    /// Groups checked.
    pub groups: usize,
    /// Elements checked.
    pub elements: usize,
    /// Every mismatch found, in input order.
    pub mismatches: Vec<Mismatch>,
    /// What the checked inputs exercised (quantize checks).
    pub coverage: Coverage,
    /// Profiles of the format that give byte-identical output to the checked profile on
    /// these inputs (container checks, [`Verifier::indistinguishable_profiles`]): a kernel
    /// following any of them would have passed too.
    pub indistinguishable: Vec<Profile>,
}

impl Report {
    /// Mismatch counts per class.
    pub fn counts(&self) -> BTreeMap<Class, usize> {
        let mut m = BTreeMap::new();
        for x in &self.mismatches {
            *m.entry(x.class).or_insert(0) += 1;
        }
        m
    }

    /// The classes found, in report order.
    pub fn classes(&self) -> Vec<Class> {
        self.counts().into_keys().collect()
    }

    /// Whether any mismatch has a class not in `allowed`.
    pub fn fails(&self, allowed: &[Class]) -> bool {
        self.mismatches.iter().any(|m| !allowed.contains(&m.class))
    }

    /// A human-readable report with the first `examples` mismatches of each class.
    pub fn render(&self, examples: usize, allowed: &[Class]) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "checked {} cases, {} groups, {} elements",
            self.cases, self.groups, self.elements
        );
        let c = &self.coverage;
        if self.groups > 0 {
            let _ = writeln!(
                s,
                "exercised: {} exact ties, {} near ties, {} saturated elements, {} zero groups, {} subnormal block scales, {} non-finite cases",
                c.exact_ties, c.near_ties, c.saturated, c.zero_groups, c.subnormal_scales, c.non_finite_cases
            );
            for w in c.warnings() {
                let _ = writeln!(s, "warning: {w}");
            }
        }
        if !self.indistinguishable.is_empty() {
            let names: Vec<&str> = self.indistinguishable.iter().map(|p| p.name()).collect();
            let _ = writeln!(
                s,
                "warning: on this input, profile(s) {} give the same bytes as the profile checked: a kernel following them would pass too (use inputs that separate them, e.g. `gridgames vectors inputs`)",
                names.join(", ")
            );
        }
        let counts = self.counts();
        if counts.is_empty() {
            let _ = writeln!(s, "no mismatches");
            return s;
        }
        for (class, n) in &counts {
            let tag = if allowed.contains(class) {
                " (allowed)"
            } else {
                ""
            };
            let _ = writeln!(s, "{:<15} {n} mismatch(es){tag}", class.name());
            for m in self
                .mismatches
                .iter()
                .filter(|m| m.class == *class)
                .take(examples)
            {
                let mut at = format!("case {}", m.case);
                if let Some(g) = m.group {
                    let _ = write!(at, " group {g}");
                }
                if let Some(e) = m.element {
                    let _ = write!(at, " element {e}");
                }
                let _ = writeln!(s, "    {at}: {}", m.detail);
            }
        }
        s
    }
}

/// Verifier settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Options {
    /// Relative tolerance between the squared errors of two grids under which a different
    /// grid choice is `grid-near-tie` rather than `grid-wrong`.
    pub grid_tolerance: f64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            grid_tolerance: 1e-6,
        }
    }
}

/// Another implementation's quantized tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// Packed codes, in the format's nibble order.
    pub codes: Vec<u8>,
    /// Stored scales, as the format stores them.
    pub scales: Vec<u8>,
    /// The per-tensor scale (formats with one).
    pub tensor_scale: Option<f32>,
    /// The grid of each group, when the implementation reports it (needed only for
    /// selector-free formats such as Four Over Six).
    pub grids: Option<Vec<u8>>,
}

/// Checks quantized outputs for one format and profile.
pub struct Verifier {
    /// The format checked.
    pub format: Format,
    /// The profile the outputs must match.
    pub profile: Profile,
    /// What differences are allowed (classes) and how the input is laid out.
    pub options: Options,
    full: Quantizer,
    singles: Vec<Quantizer>,
}

fn exact_to_f64(e: &Exact) -> f64 {
    let m = e.mantissa as f64 * 2f64.powi(e.exponent);
    if e.negative {
        -m
    } else {
        m
    }
}

impl Verifier {
    /// A verifier; fails when the profile does not apply to the format.
    pub fn new(format: &Format, profile: Profile, options: Options) -> Result<Verifier, String> {
        let full = Quantizer::new(format, profile).map_err(|e| e.to_string())?;
        let singles = (0..format.grids.len())
            .map(|i| Quantizer::new(&single_grid(format, i), profile))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        Ok(Verifier {
            format: *format,
            profile,
            options,
            full,
            singles,
        })
    }

    /// The other profiles of the format whose quantization of `x` is byte-identical to this
    /// verifier's profile (codes, scales, tensor scale): on this input, passing does not tell
    /// them apart. Profiles that refuse `x` (non-finite input) count as distinguishable.
    pub fn indistinguishable_profiles(&self, x: &[f32]) -> Vec<Profile> {
        let Ok(mine) = self.full.quantize(x, false) else {
            return Vec::new();
        };
        Profile::for_format(&self.format)
            .into_iter()
            .filter(|&p| p != self.profile)
            .filter(|&p| {
                Quantizer::new(&self.format, p)
                    .and_then(|q| q.quantize(x, false))
                    .is_ok_and(|o| {
                        o.codes == mine.codes
                            && o.scales == mine.scales
                            && o.tensor_scale.map(f32::to_bits)
                                == mine.tensor_scale.map(f32::to_bits)
                    })
            })
            .collect()
    }

    /// [`Verifier::check`] for a tensor whose rows hold `row_len` values (its last
    /// dimension): block scales written in another layout — a swizzle of
    /// [`crate::layout::ScaleLayout`], or transposed (groups × rows) — are one
    /// [`Class::ScaleLayout`] finding instead of many scale mismatches, and the groups are
    /// then checked on the scales read in that layout. The layout is named only when reading
    /// the scales so brings at most a quarter of the scale mismatches that reading them as
    /// given does (and the latter are at least 16).
    pub fn check_rows(
        &self,
        case: &str,
        x: &[f32],
        row_len: usize,
        answer: Result<&Answer, &str>,
        report: &mut Report,
    ) -> Result<(), String> {
        if let Ok(a) = answer {
            if let Some((detail, scales)) = self.layout_finding(x, row_len, a) {
                report.mismatches.push(Mismatch {
                    class: Class::ScaleLayout,
                    case: case.to_string(),
                    group: None,
                    element: None,
                    detail,
                });
                let fixed = Answer {
                    scales,
                    ..a.clone()
                };
                return self.check(case, x, Ok(&fixed), report);
            }
        }
        self.check(case, x, answer, report)
    }

    /// The layout the implementation's scales look written in, and the scales read in it.
    fn layout_finding(&self, x: &[f32], row_len: usize, a: &Answer) -> Option<(String, Vec<u8>)> {
        use crate::layout::ScaleLayout;
        let f = &self.format;
        let g = f.group_size as usize;
        if f.scale_bytes != 1
            || g == 0
            || row_len == 0
            || !row_len.is_multiple_of(g)
            || !x.len().is_multiple_of(row_len)
        {
            return None;
        }
        let (rows, groups) = (x.len() / row_len, row_len / g);
        if a.scales.len() != rows * groups {
            return None;
        }
        let reference = match (self.full.quantize(x, false), a.tensor_scale) {
            // Under the implementation's tensor scale, as `check` compares groups.
            (Ok(r), Some(ti)) if r.tensor_scale != Some(ti) && ti.is_finite() && ti > 0.0 => {
                let mut ctx = self.full.tensor_context(x);
                ctx.scale = ti;
                self.full.quantize_with_context(x, &ctx, false).ok()?
            }
            (r, _) => r.ok()?,
        };
        let misses = |s: &[u8]| {
            s.iter()
                .zip(&reference.scales)
                .filter(|(a, b)| a != b)
                .count()
        };
        let as_given = misses(&a.scales);
        if as_given < 16 {
            return None;
        }
        // (what it looks like, what to do, the scales read so)
        let mut candidates: Vec<(String, String, Vec<u8>)> = Vec::new();
        for layout in [ScaleLayout::Blocked128x4, ScaleLayout::Blocked8x4] {
            let mut v = vec![0u8; rows * groups];
            if layout.to_linear(&a.scales, rows, groups, &mut v).is_ok() && v != a.scales {
                candidates.push((
                    format!("the `{}` layout", layout.name()),
                    format!(
                        "read them in that layout: option `scale_layout` = {}",
                        layout.name()
                    ),
                    v,
                ));
            }
        }
        if rows > 1 && groups > 1 {
            let mut v = vec![0u8; rows * groups];
            for r in 0..rows {
                for c in 0..groups {
                    v[r * groups + c] = a.scales[c * rows + r];
                }
            }
            candidates.push((
                format!("transposed ({groups} × {rows}, groups × rows)"),
                "transpose them to rows × groups".to_string(),
                v,
            ));
        }
        let (name, fix, scales, best) = candidates
            .into_iter()
            .map(|(n, h, v)| {
                let m = misses(&v);
                (n, h, v, m)
            })
            .min_by_key(|c| c.3)?;
        (best * 4 <= as_given).then(|| {
            (
                format!(
                    "the block scales look written in {name}: read so, {best} of {} differ from the reference's, read as given {as_given} do; the groups are checked on the scales read so ({fix})",
                    rows * groups
                ),
                scales,
            )
        })
    }

    /// Check one quantized tensor. `answer` is the implementation's output, or the error it
    /// reported. Malformed answers (wrong lengths) are an `Err`.
    pub fn check(
        &self,
        case: &str,
        x: &[f32],
        answer: Result<&Answer, &str>,
        report: &mut Report,
    ) -> Result<(), String> {
        let f = &self.format;
        let mut push =
            |class: Class, group: Option<usize>, element: Option<usize>, detail: String| {
                report.mismatches.push(Mismatch {
                    class,
                    case: case.to_string(),
                    group,
                    element,
                    detail,
                })
            };
        let reference = match self.full.quantize(x, false) {
            Ok(r) => r,
            Err(QuantError::NonFinite { index, bits, .. }) => {
                report.coverage.non_finite_cases += 1;
                if let Ok(_a) = answer {
                    push(
                        Class::ErrorMismatch,
                        None,
                        Some(index),
                        format!("input {index} is non-finite (0x{bits:08x}): the reference quantizer rejects it, the implementation returned output"),
                    );
                }
                report.cases += 1;
                return Ok(());
            }
            Err(e) => return Err(format!("case {case}: {e}")),
        };
        report.cases += 1;
        let a = match answer {
            Ok(a) => a,
            Err(e) => {
                push(
                    Class::ErrorMismatch,
                    None,
                    None,
                    format!(
                        "the implementation reported `{e}`, the reference quantizes this input"
                    ),
                );
                return Ok(());
            }
        };
        if a.codes.len() != reference.codes.len() || a.scales.len() != reference.scales.len() {
            return Err(format!(
                "case {case}: answer has {} code bytes and {} scale bytes, expected {} and {}",
                a.codes.len(),
                a.scales.len(),
                reference.codes.len(),
                reference.scales.len()
            ));
        }
        let g = f.group_size as usize;
        let groups = x.len() / g;
        report.groups += groups;
        report.elements += x.len();
        let mut reference = reference;
        let mut ctx = self.full.tensor_context(x);
        if let Some(tr) = reference.tensor_scale {
            let Some(ti) = a.tensor_scale else {
                return Err(format!(
                    "case {case}: the format has a tensor scale and the answer has none"
                ));
            };
            if ti.to_bits() != tr.to_bits() {
                let class = if ti.is_nan() && tr.is_nan() {
                    Class::NanPayload
                } else {
                    Class::TensorScale
                };
                // The groups are still checked, under the implementation's own tensor scale:
                // allowing this class must never skip them (a kernel with tensor scale 1,
                // as torchao's nvfp4_quantize without a per-tensor scale, is checked this way).
                let usable = ti.is_finite() && ti > 0.0;
                push(
                    class,
                    None,
                    None,
                    format!(
                        "tensor scale 0x{:08x} ({ti:e}), expected 0x{:08x} ({tr:e}); {}",
                        ti.to_bits(),
                        tr.to_bits(),
                        if usable {
                            "every group is checked under the implementation's tensor scale"
                        } else {
                            "the groups cannot be checked under it"
                        }
                    ),
                );
                if !usable {
                    push(
                        Class::ErrorMismatch,
                        None,
                        None,
                        format!("tensor scale {ti:e} is not a positive finite number: no group was checked"),
                    );
                    return Ok(());
                }
                ctx.scale = ti;
                reference = self
                    .full
                    .quantize_with_context(x, &ctx, false)
                    .map_err(|e| format!("case {case}: under tensor scale {ti:e}: {e}"))?;
            }
        }
        let ts = reference.tensor_scale.unwrap_or(1.0);

        // A whole-tensor nibble swap is one finding; the rest is then checked on the
        // corrected codes.
        let mut codes = a.codes.clone();
        if codes != reference.codes {
            let swapped: Vec<u8> = codes.iter().map(|b| b.rotate_left(4)).collect();
            if swapped == reference.codes {
                push(
                    Class::NibbleOrder,
                    None,
                    None,
                    format!(
                        "every byte has its nibbles swapped (format packs element 2i in the {} nibble)",
                        if f.high_nibble_first { "high" } else { "low" }
                    ),
                );
                codes = swapped;
            }
        }
        let vm = if f.scale_bytes == 4 {
            u32::MAX
        } else {
            f.value_mask
        };
        let mut cov = Coverage::default();
        for gi in 0..groups {
            let xg = &x[gi * g..(gi + 1) * g];
            let s_r = scale_at(f, &reference.scales, gi);
            self.cover_group(&mut cov, xg, &reference, gi, s_r & vm, ts);
            let s_i = scale_at(f, &a.scales, gi);
            let c_r: Vec<u8> = (gi * g..(gi + 1) * g)
                .map(|i| code_at(f, &reference.codes, i))
                .collect();
            let c_i: Vec<u8> = (gi * g..(gi + 1) * g)
                .map(|i| code_at(f, &codes, i))
                .collect();
            let g_r = reference.grid_of_group[gi] as usize;
            let g_i = if f.selector_free() {
                match &a.grids {
                    Some(gs) => gs
                        .get(gi)
                        .map(|&v| v as usize)
                        .filter(|&v| v < f.grids.len()),
                    None => (0..f.grids.len())
                        .find(|&k| self.singles[k].quantize_group(xg, &ctx).scale & vm == s_i & vm)
                        .or(Some(g_r)),
                }
            } else {
                f.grid_of_scale(s_i)
            };
            // Identical stored bytes are a match even where the reference's own grid record
            // disagrees with its selector bits (a NaN scale byte such as 0xff); only
            // selector-free formats need the reported grid.
            if s_r == s_i && c_r == c_i && (g_i == Some(g_r) || !f.selector_free()) {
                continue;
            }
            let Some(g_i) = g_i else {
                push(
                    Class::SelectorBits,
                    Some(gi),
                    None,
                    format!("scale 0x{s_i:02x} has selector bits that name no grid (expected 0x{s_r:02x})"),
                );
                continue;
            };
            let (exp_scale, exp_codes) = if g_i != g_r {
                if c_i == c_r && s_i & vm == s_r & vm {
                    push(
                        Class::SelectorBits,
                        Some(gi),
                        None,
                        format!(
                            "codes and scale value are the reference's for grid {g_r} ({}), but scale 0x{s_i:02x} selects grid {g_i} (expected 0x{s_r:02x})",
                            f.grids[g_r].name
                        ),
                    );
                    continue;
                }
                let cand = self.singles[g_i].quantize_group(xg, &ctx);
                if cand.scale & vm == s_i & vm && cand.codes == c_i {
                    let sse_r = self.singles[g_r].quantize_group(xg, &ctx).sse;
                    let sse_i = cand.sse;
                    let near =
                        (sse_i - sse_r).abs() <= self.options.grid_tolerance * sse_r.max(sse_i);
                    push(
                        if near { Class::GridNearTie } else { Class::GridWrong },
                        Some(gi),
                        None,
                        format!(
                            "chose grid {g_i} ({}, squared error {sse_i:e}), expected grid {g_r} ({}, squared error {sse_r:e})",
                            f.grids[g_i].name, f.grids[g_r].name
                        ),
                    );
                    continue;
                }
                (cand.scale, cand.codes)
            } else {
                (s_r, c_r)
            };
            if s_i & vm != exp_scale & vm {
                let (class, why) = self.scale_class(exp_scale & vm, s_i & vm);
                push(
                    class,
                    Some(gi),
                    None,
                    format!(
                        "block scale 0x{s_i:02x} ({:e}), expected 0x{exp_scale:02x} ({:e}){why}",
                        f.scale_value(s_i),
                        f.scale_value(exp_scale)
                    ),
                );
                continue;
            }
            if s_i != exp_scale {
                push(
                    Class::SelectorBits,
                    Some(gi),
                    None,
                    format!("scale 0x{s_i:02x}: bits outside the value mask differ from the reference's 0x{exp_scale:02x}"),
                );
            }
            let p = Exact::of_f64(f.scale_value(s_i)).mul(Exact::of_f32(if f.tensor_scale {
                ts
            } else {
                1.0
            }));
            for j in 0..g {
                if c_i[j] == exp_codes[j] {
                    continue;
                }
                let (class, detail) = self.element_class(g_i, xg[j], p, exp_codes[j], c_i[j]);
                push(class, Some(gi), Some(gi * g + j), detail);
            }
        }
        report.coverage.add(&cov);
        Ok(())
    }

    /// What one group of the input exercises, judged on the reference's own scale and grid.
    fn cover_group(
        &self,
        cov: &mut Coverage,
        xg: &[f32],
        reference: &crate::quant::Quantized,
        gi: usize,
        scale_value_bits: u32,
        ts: f32,
    ) {
        let f = &self.format;
        if xg.iter().all(|v| *v == 0.0) {
            cov.zero_groups += 1;
            return;
        }
        let e = &f.scale_element;
        let sv = e.decode(scale_value_bits);
        if f.scale_bytes == 1 && e.kind == crate::element::Kind::Float && e.subnormals && sv > 0.0 {
            let min_normal = 2f64.powi(1 - e.bias);
            if sv < min_normal {
                cov.subnormal_scales += 1;
            }
        }
        let g = f.group_size as usize;
        let grid_index = reference.grid_of_group[gi] as usize;
        let Some(gr) = f.grids.get(grid_index) else {
            return;
        };
        let p = Exact::of_f64(sv).mul(Exact::of_f32(if f.tensor_scale { ts } else { 1.0 }));
        let mut values: Vec<f32> = (0..16u8)
            .filter(|&c| gr.is_valid(c))
            .map(|c| gr.value(c))
            .collect();
        values.sort_by(f32::total_cmp);
        values.dedup();
        for (j, &x) in xg.iter().enumerate() {
            let code = code_at(f, &reference.codes, gi * g + j);
            let v = gr.value(code);
            let Some(pos) = values.iter().position(|w| *w == v) else {
                continue;
            };
            let xe = Exact::of_f32(x);
            let mut near = false;
            let mut tie = false;
            for (lo, hi) in [
                (pos.checked_sub(1).map(|i| values[i]), Some(v)),
                (Some(v), values.get(pos + 1).copied()),
            ] {
                if let (Some(lo), Some(hi)) = (lo, hi) {
                    let boundary = Exact::midpoint(Exact::of_f32(lo), Exact::of_f32(hi)).mul(p);
                    if xe.cmp_value(&boundary) == core::cmp::Ordering::Equal {
                        tie = true;
                    } else {
                        let b = exact_to_f64(&boundary);
                        near |= (x as f64 - b).abs() <= b.abs() * 2f64.powi(-20);
                    }
                }
            }
            if tie {
                cov.exact_ties += 1;
            } else if near {
                cov.near_ties += 1;
            }
            let top = values.last().copied().unwrap_or(0.0);
            let bottom = values.first().copied().unwrap_or(0.0);
            let edge = if x >= 0.0 { top } else { bottom };
            if (v == top || v == bottom)
                && xe.cmp_value(&Exact::of_f32(edge).mul(p))
                    == if x >= 0.0 {
                        core::cmp::Ordering::Greater
                    } else {
                        core::cmp::Ordering::Less
                    }
            {
                cov.saturated += 1;
            }
        }
    }

    fn scale_class(&self, expected: u32, got: u32) -> (Class, &'static str) {
        let f = &self.format;
        if f.scale_bytes == 4 {
            let v = f32::from_bits(got);
            if v.is_nan() && f32::from_bits(expected).is_nan() {
                return (Class::NanPayload, ": both NaN, different bits");
            }
            if !v.is_finite() {
                return (Class::ScaleRange, ": not finite");
            }
            if got.abs_diff(expected) == 1 && (got ^ expected) >> 31 == 0 {
                return (Class::ScaleRounding, ": one ulp apart");
            }
            return (Class::ScaleWrong, "");
        }
        let e = &f.scale_element;
        let max = quant::max_scale_code(f);
        if e.is_nan(got) && e.is_nan(expected) {
            return (
                Class::NanPayload,
                ": both NaN, different sign or payload bits",
            );
        }
        if e.is_nan(got) || e.decode(got) > e.decode(max) {
            return (Class::ScaleRange, ": NaN or above the largest scale");
        }
        if got.abs_diff(expected) == 1 {
            return (Class::ScaleRounding, ": one code step apart");
        }
        if expected == max || expected == 0 {
            return (
                Class::ScaleRange,
                ": the reference scale is at its clamp limit",
            );
        }
        (Class::ScaleWrong, "")
    }

    fn element_class(
        &self,
        grid: usize,
        x: f32,
        p: Exact,
        expected: u8,
        got: u8,
    ) -> (Class, String) {
        let gr = &self.format.grids[grid];
        let ve = gr.value(expected);
        let vi = gr.value(got);
        let base = format!(
            "x=0x{:08x} ({x:e}): code 0x{got:x} ({vi}), expected 0x{expected:x} ({ve})",
            x.to_bits()
        );
        if !gr.is_valid(got) {
            return (
                Class::WrongCode,
                format!("{base}; code invalid in grid {}", gr.name),
            );
        }
        if ve == vi {
            let class = if ve == 0.0 {
                Class::SignedZero
            } else {
                Class::WrongCode
            };
            return (class, base);
        }
        let (lo, hi) = if ve < vi { (ve, vi) } else { (vi, ve) };
        let between = (0..16u8).any(|c| gr.is_valid(c) && gr.value(c) > lo && gr.value(c) < hi);
        if between {
            return (Class::WrongCode, base);
        }
        let boundary = Exact::midpoint(Exact::of_f32(lo), Exact::of_f32(hi)).mul(p);
        if Exact::of_f32(x).cmp_value(&boundary) == core::cmp::Ordering::Equal {
            return (
                Class::TieCode,
                format!(
                    "{base}; x is exactly halfway (grid tie rule: {})",
                    super::generate::ties_name(gr.ties)
                ),
            );
        }
        let b = exact_to_f64(&boundary);
        if (x as f64 - b).abs() <= b.abs() * 2f64.powi(-20) {
            return (
                Class::NearTieCode,
                format!("{base}; x is within 2^-20 of the boundary {b:e}"),
            );
        }
        (Class::WrongCode, base)
    }
}

/// Compare decoded outputs (bit patterns) with the
/// reference's for one output type. `swapped` is the reference decode of the nibble-swapped codes, when known.
pub fn check_decoded(
    case: &str,
    expected: &[u32],
    got: &[u32],
    output: crate::decode::Output,
    swapped: Option<&[u32]>,
    report: &mut Report,
) {
    use crate::decode::Output;
    report.elements += expected.len();
    let digits = if output == Output::F32 { 8 } else { 4 };
    let is_nan = |v: u32| match output {
        Output::F32 => f32::from_bits(v).is_nan(),
        Output::F16 => v & 0x7c00 == 0x7c00 && v & 0x3ff != 0,
        Output::Bf16 => v & 0x7f80 == 0x7f80 && v & 0x7f != 0,
    };
    if expected != got {
        if let Some(sw) = swapped {
            if sw == got {
                report.mismatches.push(Mismatch {
                    class: Class::NibbleOrder,
                    case: case.to_string(),
                    group: None,
                    element: None,
                    detail: "the output equals the decode of the codes with every byte's nibbles swapped".into(),
                });
                return;
            }
        }
    }
    for (i, (&e, &g)) in expected.iter().zip(got).enumerate() {
        if e == g {
            continue;
        }
        let class = if is_nan(e) && is_nan(g) {
            Class::NanPayload
        } else {
            Class::WrongValue
        };
        report.mismatches.push(Mismatch {
            class,
            case: case.to_string(),
            group: None,
            element: Some(i),
            detail: format!("got {g:0digits$x}, expected {e:0digits$x}"),
        });
    }
}

/// Where a case file's format and profile come from when its header does not say.
#[derive(Clone, Copy, Debug, Default)]
pub struct Overrides<'a> {
    /// Use this format instead of the file's `# format:` header.
    pub format: Option<&'a Format>,
    /// Use this profile instead of the file's `# profile:` header.
    pub profile: Option<Profile>,
}

fn file_format(file: &CaseFile, name: &str, over: &Overrides) -> Result<Format, String> {
    if let Some(f) = over.format {
        return Ok(*f);
    }
    let fname = file.header("format").ok_or_else(|| {
        format!("{name}: no `# format:` header line; name the format (option `format`)")
    })?;
    crate::tables::format(fname).copied().ok_or_else(|| {
        format!("{name}: format `{fname}` is not built in; load its spec file (option `spec`)")
    })
}

/// Verify a quantize case file whose `q`, `s`, `t` (and optionally `g`) fields hold another
/// implementation's answers (`error=...` with `q=-` where it refused the input).
pub fn verify_quantize_text(
    name: &str,
    text: &str,
    over: &Overrides,
    options: Options,
) -> Result<Report, String> {
    let file = CaseFile::parse(name, text)?;
    let format = file_format(&file, name, over)?;
    let profile = match over.profile {
        Some(p) => p,
        None => match file.header("profile") {
            Some(p) => {
                Profile::from_name(p).ok_or_else(|| format!("{name}: unknown profile `{p}`"))?
            }
            None => Profile::Reference,
        },
    };
    let v = Verifier::new(&format, profile, options)?;
    let mut report = Report::default();
    for (n, line) in &file.lines {
        let at = |e: String| format!("{name}:{n}: {e}");
        let case = line.get("case").unwrap_or("?").to_string();
        let x: Vec<f32> = parse_words(line.need("x").map_err(at)?, 8, "x")
            .map_err(at)?
            .into_iter()
            .map(f32::from_bits)
            .collect();
        let answer = match line.opt("q") {
            None => Err(line.get("error").unwrap_or("no output").to_string()),
            Some(q) => {
                let codes = parse_bytes(q, "q").map_err(at)?;
                let scales = parse_bytes(
                    line.opt("s")
                        .ok_or_else(|| at("`q` given without `s`".into()))?,
                    "s",
                )
                .map_err(at)?;
                let tensor_scale = match line.opt("t") {
                    Some(t) => Some(f32::from_bits(
                        *parse_words(t, 8, "t")
                            .map_err(at)?
                            .first()
                            .ok_or_else(|| at("empty `t`".into()))?,
                    )),
                    None => None,
                };
                let grids = match line.opt("g") {
                    Some(g) => Some(
                        parse_words(g, 1, "g")
                            .map_err(at)?
                            .into_iter()
                            .map(|v| v as u8)
                            .collect(),
                    ),
                    None => None,
                };
                Ok(Answer {
                    codes,
                    scales,
                    tensor_scale,
                    grids,
                })
            }
        };
        match &answer {
            Ok(a) => v.check(&case, &x, Ok(a), &mut report),
            Err(e) => v.check(&case, &x, Err(e.as_str()), &mut report),
        }
        .map_err(at)?;
    }
    Ok(report)
}

/// Verify a decode case file whose `f32`, `f16`, `bf16` fields hold another implementation's
/// decoded values (any of them may be `-`: not checked).
pub fn verify_decode_text(name: &str, text: &str, over: &Overrides) -> Result<Report, String> {
    use crate::decode::Output;
    let file = CaseFile::parse(name, text)?;
    let f = file_format(&file, name, over)?;
    let mut report = Report::default();
    for (n, line) in &file.lines {
        let at = |e: String| format!("{name}:{n}: {e}");
        let case = line.get("case").unwrap_or("?").to_string();
        let codes = parse_bytes(line.need("q").map_err(at)?, "q").map_err(at)?;
        let scales = parse_bytes(line.need("s").map_err(at)?, "s").map_err(at)?;
        let ts = match line.opt("t") {
            Some(t) => parse_words(t, 8, "t")
                .map_err(at)?
                .first()
                .map(|&b| f32::from_bits(b)),
            None => None,
        };
        let n_el = codes.len() * 2;
        report.cases += 1;
        let expected = super::generate::reference_decode(&f, &codes, &scales, ts, n_el);
        let swapped_codes: Vec<u8> = codes.iter().map(|b| b.rotate_left(4)).collect();
        let swapped = super::generate::reference_decode(&f, &swapped_codes, &scales, ts, n_el).ok();
        let fields = [
            ("f32", Output::F32, 8usize),
            ("f16", Output::F16, 4),
            ("bf16", Output::Bf16, 4),
        ];
        match expected {
            Err(e) => {
                if fields.iter().any(|(k, _, _)| line.opt(k).is_some()) {
                    report.mismatches.push(Mismatch {
                        class: Class::ErrorMismatch,
                        case,
                        group: None,
                        element: None,
                        detail: format!(
                            "the reference decode fails ({e}); the implementation returned values"
                        ),
                    });
                }
            }
            Ok(outs) => {
                let mut any = false;
                for (k, (key, output, digits)) in fields.iter().enumerate() {
                    let Some(v) = line.opt(key) else { continue };
                    any = true;
                    let got = parse_words(v, *digits, key).map_err(at)?;
                    if got.len() != n_el {
                        return Err(at(format!(
                            "field `{key}` has {} values, expected {n_el}",
                            got.len()
                        )));
                    }
                    check_decoded(
                        &case,
                        &outs[k],
                        &got,
                        *output,
                        swapped.as_ref().map(|s| s[k].as_slice()),
                        &mut report,
                    );
                }
                if !any {
                    report.mismatches.push(Mismatch {
                        class: Class::ErrorMismatch,
                        case,
                        group: None,
                        element: None,
                        detail: format!("the implementation gave no values ({}); the reference decodes this case", line.get("error").unwrap_or("-")),
                    });
                }
            }
        }
    }
    Ok(report)
}
