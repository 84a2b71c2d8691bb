//! The edge-case catalogue: inputs for quantize and decode vectors, generated from a format's
//! tables (never hand-picked), each case tagged with the rule it exercises.
//!
//! Quantize inputs are per format (every profile of the format quantizes the same inputs).
//! Cases that need a known tensor scale carry an *anchor* group first: one value
//! `A = min_target · max_scale` that fixes the tensor scale near 1, so the group under test
//! gets exactly the block scale the case was built for.

use crate::element::{Magnitude, Policy, Rounding};
use crate::format::Format;
use crate::quant::exact::Exact;
use crate::quant::nearest::PreparedGrid;
use crate::quant::{self, Profile, Quantizer, TensorContext};
use crate::tables::F32;

use super::rng::Rng;

/// The rules of the quantize catalogue, with what each exercises (written into every
/// quantize file's header and into `vectors/README.md`).
pub const QUANTIZE_RULES: &[(&str, &str)] = &[
    ("zero-group", "every element +0.0 (alone, and after an anchor group)"),
    ("neg-zero-group", "every element -0.0, and +0/-0 alternating"),
    ("equal-group", "every element the same value (exact grid ties between candidate grids)"),
    ("element-boundary", "for every grid, every midpoint between adjacent grid values times the block scale (and tensor scale), the f32 nearest to it and one f32 ulp either side, at several block scales"),
    ("negative-extreme", "the group maximum negative, and the grid's most negative value (asymmetric grids)"),
    ("scale-sweep", "one case per representable block scale: amax = target * scale * tensor_scale"),
    ("scale-min", "the smallest non-zero block scale"),
    ("scale-max", "the largest block scale"),
    ("scale-subnormal", "a subnormal block scale"),
    ("scale-boundary", "amax on the rounding boundary between two block scales, and one ulp either side"),
    ("saturation", "amax just below a scale rounding boundary, so elements exceed the grid's target and saturate"),
    ("scale-underflow", "amax so small that the block scale rounds to zero or clamps at the smallest scale"),
    ("scale-overflow", "the exact block scale exceeds the largest scale and saturates (tensor-scale rounding, or huge amax)"),
    ("tensor-scale-extreme", "a tensor amax of FLT_MAX, the smallest normal or subnormal f32"),
    ("non-finite", "NaN (several payloads, both signs) or +-Inf in the input: the quantizer returns an error"),
    ("grid-tie", "two grids give exactly equal squared error (the lower grid index must win)"),
    ("grid-near-tie", "a grid-tie group with one element moved by one f32 ulp"),
    ("random-normal", "seeded random groups: approximately normal, per-group scale 2^k"),
    ("random-uniform", "seeded random groups: uniform in [-1, 1), per-group scale 2^k"),
    ("random-heavy", "seeded random groups: heavy-tailed (normal / sqrt(uniform))"),
    ("random-log-uniform", "seeded random groups: log-uniform magnitudes over 2^-30 .. 2^30"),
    ("random-bf16", "seeded random groups: normals rounded to bf16 (many exact element ties)"),
    ("random-sparse", "seeded random groups: 7 in 8 elements zero"),
    ("random-outlier", "seeded random groups: normals with one element 1000x larger"),
    ("random-grid-points", "seeded random groups: grid values times a power of two (exact ties)"),
];

/// The rules of the decode catalogue.
pub const DECODE_RULES: &[(&str, &str)] = &[
    (
        "scale-byte",
        "every scale byte (1-byte scales) with every valid code of the grid it selects",
    ),
    (
        "scale-value",
        "FP32 scales: zero, subnormal, normal, largest, NaN",
    ),
    (
        "tensor-scale",
        "tensor scales: 1, subnormal, smallest normal, FLT_MAX (overflow to Inf), quantizer-like",
    ),
    (
        "invalid-selector",
        "a scale byte whose selector bits name no grid: decode must fail",
    ),
    (
        "invalid-code",
        "a code the selected grid does not define: decode must fail",
    ),
    (
        "random",
        "seeded random valid codes and scales, several groups",
    ),
];

/// One quantize input.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantCase {
    /// Case name (unique within its file).
    pub name: String,
    /// The rule of the spec the case exercises.
    pub rule: &'static str,
    /// Input values, a whole number of groups.
    pub x: Vec<f32>,
}

/// One decode input.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodeCase {
    /// Case name (unique within its file).
    pub name: String,
    /// The rule of the spec the case exercises.
    pub rule: &'static str,
    /// Packed codes in the format's nibble order.
    pub codes: Vec<u8>,
    /// Stored scales (1 byte, or 4 little-endian bytes, per group).
    pub scales: Vec<u8>,
    /// The tensor scale, for formats that have one.
    pub tensor_scale: Option<f32>,
}

/// A format restricted to its grid `i` (same container, same selector bits for that grid):
/// quantizing with it gives grid `i`'s candidate of the full quantizer.
pub fn single_grid(f: &Format, i: usize) -> Format {
    let i = i.min(f.grids.len().saturating_sub(1));
    let selector_bits_of_grid = if f.selector_bits_of_grid.len() > i {
        &f.selector_bits_of_grid[i..=i]
    } else {
        &f.selector_bits_of_grid[..0]
    };
    Format {
        grids: &f.grids[i..=i],
        selector_bits_of_grid,
        ..*f
    }
}

/// An exact value rounded once (RNE) to f32, saturating at ±FLT_MAX.
pub fn exact_to_f32(e: Exact) -> f32 {
    if e.is_zero() {
        return if e.negative { -0.0 } else { 0.0 };
    }
    let m = Magnitude {
        significand: e.mantissa,
        exponent: e.exponent,
        sticky: false,
    };
    match F32.encode_magnitude(e.negative, m, Rounding::NearestEven, Policy::Satfinite) {
        Ok((bits, _)) => f32::from_bits(bits),
        Err(_) => {
            if e.negative {
                -f32::MAX
            } else {
                f32::MAX
            }
        }
    }
}

/// What the generators need to place values exactly: the reference quantizer per grid, and
/// the tensor context an anchor group sets.
struct Planner {
    f: Format,
    singles: Vec<Quantizer>,
    /// The anchor group (formats with a tensor scale) or nothing.
    prefix: Vec<f32>,
    ctx: TensorContext,
    /// Largest amax a group after the anchor may have without changing the tensor scale.
    cap: f32,
    group: usize,
}

impl Planner {
    fn new(f: &Format) -> Result<Planner, String> {
        let reference = Quantizer::new(f, Profile::Reference).map_err(|e| e.to_string())?;
        let singles = (0..f.grids.len())
            .map(|i| Quantizer::new(&single_grid(f, i), Profile::Reference))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let group = f.group_size as usize;
        let (prefix, cap) = if f.tensor_scale {
            let a =
                Exact::of_f32(quant::min_target(f)).mul(Exact::of_f64(quant::max_scale_value(f)));
            let a = exact_to_f32(a);
            let mut p = vec![0f32; group];
            p[0] = a;
            (p, a)
        } else {
            (Vec::new(), f32::MAX)
        };
        let ctx = if f.tensor_scale {
            reference.tensor_context(&prefix)
        } else {
            TensorContext {
                amax: 0.0,
                scale: 1.0,
            }
        };
        Ok(Planner {
            f: *f,
            singles,
            prefix,
            ctx,
            cap,
            group,
        })
    }

    fn ts(&self) -> f32 {
        if self.f.tensor_scale {
            self.ctx.scale
        } else {
            1.0
        }
    }

    /// The anchor (if any) followed by `group`.
    fn tensor(&self, group: Vec<f32>) -> Vec<f32> {
        let mut t = self.prefix.clone();
        t.extend(group);
        t
    }

    /// The stored scale grid `i`'s candidate gets for a group.
    fn scale_for(&self, i: usize, x: &[f32]) -> u32 {
        self.singles[i].quantize_group(x, &self.ctx).scale
    }

    /// Exact scale · tensor scale of a stored scale.
    fn p_of(&self, scale: u32) -> Exact {
        Exact::of_f64(self.f.scale_value(scale)).mul(Exact::of_f32(self.ts()))
    }

    /// The amax (f32) that maps grid `i`'s target onto block scale value `s`.
    fn amax_for_scale(&self, i: usize, s: f64) -> Option<f32> {
        if !s.is_finite() || s <= 0.0 {
            return None;
        }
        let t = Exact::of_f32(self.f.grids[i].target_value());
        let a = exact_to_f32(t.mul(Exact::of_f64(s)).mul(Exact::of_f32(self.ts())));
        (a > 0.0 && a.is_finite() && a <= self.cap).then_some(a)
    }

    /// `n` values that grid `i` represents exactly at product `p` (zero error for it),
    /// cycling through its codes of magnitude at most the target.
    fn fill(&self, i: usize, p: Exact, n: usize, start: usize) -> Vec<f32> {
        let grid = &self.f.grids[i];
        let target = grid.target_value().abs();
        let mut values: Vec<f32> = (0..16u8)
            .filter(|&c| grid.is_valid(c) && grid.value(c).abs() <= target)
            .map(|c| exact_to_f32(Exact::of_f32(grid.value(c)).mul(p)))
            .collect();
        if values.is_empty() {
            values.push(0.0);
        }
        (0..n).map(|k| values[(start + k) % values.len()]).collect()
    }

    /// Random values in (-a, a) to complete a group of which `head` is given.
    fn random_fill(&self, rng: &mut Rng, head: Vec<f32>, a: f32) -> Vec<f32> {
        let mut g = head;
        g.truncate(self.group);
        while g.len() < self.group {
            g.push(rng.symmetric() * a);
        }
        g
    }

    /// Block-scale values worth building element-boundary cases at: the largest, 1, the
    /// smallest normal, and the smallest subnormal (where they exist).
    fn scale_choices(&self) -> Vec<f64> {
        let e = &self.f.scale_element;
        if self.f.scale_bytes == 4 {
            return vec![
                1.0,
                0.1f32 as f64,
                crate::element::pow2(-140),
                3.0e37f32 as f64,
            ];
        }
        let max = quant::max_scale_value(&self.f);
        let mut v = vec![max, 1.0];
        let min_normal_code = if e.subnormals {
            1u32 << e.mantissa_bits
        } else {
            0
        };
        v.push(e.decode(min_normal_code));
        if e.subnormals {
            v.push(e.decode(1));
        }
        v.retain(|s| *s > 0.0 && *s <= max);
        v.dedup();
        v
    }
}

struct Out {
    cases: Vec<QuantCase>,
    group: usize,
}

impl Out {
    fn push(&mut self, rule: &'static str, name: String, x: Vec<f32>) {
        if x.is_empty()
            || !x.len().is_multiple_of(self.group)
            || self.cases.iter().any(|c| c.name == name)
        {
            return;
        }
        self.cases.push(QuantCase { name, rule, x });
    }
}

/// Every quantize input of a format's catalogue.
pub fn quantize_cases(f: &Format) -> Result<Vec<QuantCase>, String> {
    let pl = Planner::new(f)?;
    let g = pl.group;
    let mut out = Out {
        cases: Vec::new(),
        group: g,
    };
    let mut rng = Rng::from_label(&format!("quantize/{}", f.name));

    // Zero and equal groups.
    out.push("zero-group", "zero".into(), vec![0.0; g]);
    if f.tensor_scale {
        out.push(
            "zero-group",
            "zero.anchored".into(),
            pl.tensor(vec![0.0; g]),
        );
    }
    out.push("neg-zero-group", "negzero".into(), vec![-0.0; g]);
    let mixed: Vec<f32> = (0..g)
        .map(|i| if i % 2 == 0 { 0.0 } else { -0.0 })
        .collect();
    out.push("neg-zero-group", "mixedzero".into(), mixed);
    let target0 = f.grids[0].target_value();
    let equal_values = [
        1.0f32,
        -1.0,
        0.1,
        -7.5e-3,
        target0,
        3.0e5,
        -f32::from_bits(0x0000_1234),
    ];
    for (k, &v) in equal_values.iter().enumerate() {
        out.push(
            "equal-group",
            format!("equal.{k}.{:08x}", v.to_bits()),
            vec![v; g],
        );
    }
    if f.tensor_scale {
        out.push(
            "equal-group",
            "equal.anchored.pos".into(),
            pl.tensor(vec![1.0; g]),
        );
        out.push(
            "equal-group",
            "equal.anchored.neg".into(),
            pl.tensor(vec![-0.1; g]),
        );
    }

    // Element boundaries of every grid at several block scales.
    for (i, grid) in f.grids.iter().enumerate() {
        let prepared = PreparedGrid::new(grid);
        for s in pl.scale_choices() {
            let Some(a) = pl.amax_for_scale(i, s) else {
                continue;
            };
            let mut probe = vec![0f32; g];
            probe[0] = a;
            let sc = pl.scale_for(i, &probe);
            let p = pl.p_of(sc);
            if p.is_zero() {
                continue;
            }
            for (k, mid) in prepared.midpoints.iter().enumerate() {
                let b = exact_to_f32(mid.mul(p));
                let mut vals = vec![a, b.next_down(), b, b.next_up()];
                if grid.sign_magnitude {
                    vals.extend([-b.next_down(), -b, -b.next_up()]);
                }
                vals.retain(|v| v.abs() <= a);
                let rest = g.saturating_sub(vals.len());
                vals.extend(pl.fill(i, p, rest, k));
                out.push(
                    "element-boundary",
                    format!("boundary.{}.g{i}.mid{k}.scale{sc:02x}", grid.name),
                    pl.tensor(vals),
                );
            }
        }
        // Negative extremes.
        let s = pl.scale_choices().first().copied().unwrap_or(1.0);
        if let Some(a) = pl.amax_for_scale(
            i,
            s.min(1.0)
                .max(pl.scale_choices().last().copied().unwrap_or(1.0)),
        ) {
            let mut probe = vec![0f32; g];
            probe[0] = a;
            let sc = pl.scale_for(i, &probe);
            let p = pl.p_of(sc);
            let mut head = vec![-a];
            head.extend(pl.fill(i, p, g.saturating_sub(1), 3));
            out.push(
                "negative-extreme",
                format!("negext.{}.g{i}.negamax", grid.name),
                pl.tensor(head),
            );
            let min = (0..16u8)
                .filter(|&c| grid.is_valid(c))
                .map(|c| grid.value(c))
                .fold(f32::INFINITY, f32::min);
            let v = exact_to_f32(Exact::of_f32(min).mul(p));
            if v.abs() <= a {
                let mut head = vec![a, v, v];
                head.extend(pl.fill(i, p, g.saturating_sub(3), 5));
                out.push(
                    "negative-extreme",
                    format!("negext.{}.g{i}.mincode", grid.name),
                    pl.tensor(head),
                );
            } else {
                // |min| above the target: the negative end sets the scale.
                let mut head = vec![v.max(-pl.cap)];
                head.extend(pl.fill(i, p, g.saturating_sub(1), 5));
                out.push(
                    "negative-extreme",
                    format!("negext.{}.g{i}.mincode-amax", grid.name),
                    pl.tensor(head),
                );
            }
        }
    }

    scale_cases(&pl, &mut out, &mut rng);
    nonfinite_cases(&pl, &mut out, &mut rng);
    grid_tie_cases(&pl, &mut out);
    let mut tie_rng = Rng::from_label(&format!("grid-ties/{}", f.name));
    searched_tie_cases(&pl, &mut out, &mut tie_rng);
    random_cases(&pl, &mut out, &mut rng);
    Ok(out.cases)
}

fn scale_cases(pl: &Planner, out: &mut Out, rng: &mut Rng) {
    let f = &pl.f;
    let g = pl.group;
    let e = &f.scale_element;
    if f.scale_bytes == 1 {
        let max_code = quant::max_scale_code(f);
        // The grid with the smallest target reaches every scale below the anchor's cap
        // (the tensor scale is set from that target).
        let low = (0..f.grids.len())
            .min_by(|&p, &q| {
                f.grids[p]
                    .target_value()
                    .abs()
                    .total_cmp(&f.grids[q].target_value().abs())
            })
            .unwrap_or(0);
        let min_code = (1..=max_code)
            .find(|&c| c & !f.value_mask == 0 && e.decode(c) > 0.0 && !e.is_nan(c))
            .unwrap_or(0);
        for code in 0..=max_code {
            if code & !f.value_mask != 0 || e.is_nan(code) || e.decode(code) <= 0.0 {
                continue;
            }
            let Some(a) = pl.amax_for_scale(low, e.decode(code)) else {
                continue;
            };
            let rule = if code == max_code {
                "scale-max"
            } else if code == min_code {
                "scale-min"
            } else if e.subnormals && code >> e.mantissa_bits == 0 {
                "scale-subnormal"
            } else {
                "scale-sweep"
            };
            let x = pl.random_fill(rng, vec![a], a);
            out.push(rule, format!("scale.{code:02x}"), pl.tensor(x));
        }
        // Rounding boundaries between adjacent scale codes.
        match f.scale_rounding {
            crate::format::ScaleRounding::Rne => {
                let min_normal = if e.subnormals {
                    1u32 << e.mantissa_bits
                } else {
                    1
                };
                let mut lows = vec![
                    0u32,
                    min_code,
                    min_normal.saturating_sub(1),
                    max_code.saturating_sub(1),
                ];
                if let Ok((one, _)) = e.encode(1.0, Rounding::NearestEven, Policy::Satfinite) {
                    lows.push(one);
                }
                lows.sort_unstable();
                lows.dedup();
                let target = Exact::of_f32(f.grids[0].target_value());
                let ts = Exact::of_f32(pl.ts());
                for lo in lows {
                    let hi = lo + 1;
                    if hi > max_code || e.is_nan(hi) {
                        continue;
                    }
                    let mid =
                        Exact::midpoint(Exact::of_f64(e.decode(lo)), Exact::of_f64(e.decode(hi)));
                    let b = exact_to_f32(mid.mul(target).mul(ts));
                    for (tag, a) in [("below", b.next_down()), ("at", b), ("above", b.next_up())] {
                        if a.is_nan() || a <= 0.0 || a > pl.cap {
                            continue;
                        }
                        let rule = if lo == 0 {
                            "scale-underflow"
                        } else {
                            "scale-boundary"
                        };
                        let x = pl.random_fill(rng, vec![a, -a], a);
                        out.push(rule, format!("scaleb.{lo:02x}.{tag}"), pl.tensor(x));
                        if tag == "below" && lo != 0 {
                            // Every element at the largest value that still rounds down:
                            // after scaling they lie beyond the target and saturate.
                            let sat: Vec<f32> =
                                (0..g).map(|k| if k % 2 == 0 { a } else { -a }).collect();
                            out.push("saturation", format!("sat.{lo:02x}"), pl.tensor(sat));
                        }
                    }
                }
                // Far below the smallest scale: rounds to zero.
                if let Some(a) = pl.amax_for_scale(0, e.decode(min_code) / 8.0) {
                    let x = pl.random_fill(rng, vec![a], a);
                    out.push(
                        "scale-underflow",
                        "scale.underflow.eighth".into(),
                        pl.tensor(x),
                    );
                }
            }
            crate::format::ScaleRounding::FloorPow2 => {
                for m in [-126i32, -100, -20, -1, 0, 1, 2, 3, 20, 100, 127] {
                    let p2 = crate::element::pow2(m) as f32;
                    for (tag, a) in [
                        ("below", p2.next_down()),
                        ("at", p2),
                        ("above", p2.next_up()),
                    ] {
                        if !(a > 0.0 && a.is_finite()) {
                            continue;
                        }
                        let x = pl.random_fill(rng, vec![a, -a], a);
                        out.push("scale-boundary", format!("pow2.{m}.{tag}"), pl.tensor(x));
                    }
                    let a = p2.next_down();
                    let sat: Vec<f32> = (0..g).map(|k| if k % 2 == 0 { a } else { -a }).collect();
                    out.push("saturation", format!("sat.pow2.{m}"), pl.tensor(sat));
                }
                for (tag, a) in [
                    ("min-subnormal", f32::from_bits(1)),
                    ("subnormal", 1.0e-40f32),
                    ("tiny", f32::from_bits(0x0080_0000)),
                ] {
                    let x = pl.random_fill(rng, vec![a], a);
                    out.push(
                        "scale-underflow",
                        format!("scale.underflow.{tag}"),
                        pl.tensor(x),
                    );
                }
                for (tag, a) in [("flt-max", f32::MAX), ("neg-flt-max", -f32::MAX)] {
                    let x = pl.random_fill(rng, vec![a], f32::MAX);
                    out.push("scale-overflow", format!("scale.huge.{tag}"), pl.tensor(x));
                }
            }
        }
    } else {
        let amaxes: [(&'static str, &str, f32); 8] = [
            ("scale-sweep", "one", 1.0),
            ("scale-sweep", "tenth", 0.1),
            ("scale-sweep", "three", 3.0),
            ("scale-sweep", "min-normal", f32::from_bits(0x0080_0000)),
            ("scale-subnormal", "subnormal", f32::from_bits(0x0000_5555)),
            ("scale-min", "min-subnormal", f32::from_bits(1)),
            ("scale-sweep", "large", 1.0e38),
            ("scale-max", "flt-max", f32::MAX),
        ];
        for (rule, tag, a) in amaxes {
            let x = pl.random_fill(rng, vec![a, -a], a);
            out.push(rule, format!("scale.{tag}"), pl.tensor(x));
        }
    }

    if f.tensor_scale {
        // Tensors alone (no anchor): the tensor amax sets the tensor scale.
        for (tag, a) in [
            ("flt-max", f32::MAX),
            ("min-normal", f32::from_bits(0x0080_0000)),
            ("min-subnormal", f32::from_bits(1)),
            ("tiny", 1.0e-30f32),
        ] {
            let x = pl.random_fill(rng, vec![a, -a], a);
            out.push("tensor-scale-extreme", format!("tensor.{tag}"), x);
        }
        // The tensor scale is rounded, so amax / (target * ts) can land just above the
        // largest block scale: it must saturate.
        let reference = Quantizer::new(f, Profile::Reference);
        let max = Exact::of_f64(quant::max_scale_value(f));
        let mut found = 0;
        if let Ok(reference) = reference {
            for k in 0..400 {
                if found >= 6 {
                    break;
                }
                let a = rng.log_uniform(-20, 20).abs();
                let x = pl.random_fill(rng, vec![a], a);
                let ctx = reference.tensor_context(&x);
                let target = Exact::of_f32(quant::min_target(f));
                let q = Exact::of_f32(a);
                let limit = max.mul(target).mul(Exact::of_f32(ctx.scale));
                if q.cmp_magnitude(&limit) == core::cmp::Ordering::Greater {
                    found += 1;
                    out.push("scale-overflow", format!("overflow.{k}"), x);
                }
            }
        }
    }
}

fn nonfinite_cases(pl: &Planner, out: &mut Out, rng: &mut Rng) {
    let specials: [(&str, u32); 6] = [
        ("nan", 0x7fc0_0000),
        ("neg-nan", 0xffc0_0000),
        ("nan-payload", 0x7f80_0001),
        ("nan-all-ones", 0xffff_ffff),
        ("inf", 0x7f80_0000),
        ("neg-inf", 0xff80_0000),
    ];
    for (k, (tag, bits)) in specials.iter().enumerate() {
        let mut x = pl.random_fill(rng, vec![1.0], 1.0);
        let at = (k * 5 + 1) % pl.group;
        x[at] = f32::from_bits(*bits);
        out.push("non-finite", format!("nonfinite.{tag}"), x);
    }
    // A NaN in the second group only.
    let mut x = pl.random_fill(rng, vec![1.0], 1.0);
    let mut second = pl.random_fill(rng, vec![2.0], 2.0);
    second[3] = f32::NAN;
    x.extend(second);
    out.push("non-finite", "nonfinite.second-group".into(), x);
}

/// Groups on which two grids give exactly equal squared error: the group maximum is exact
/// on both grids, every other element is that maximum too, except one element `y` halfway
/// between a value of grid i and a value of grid j (both scaled), so both errors are equal.
fn grid_tie_cases(pl: &Planner, out: &mut Out) {
    let f = &pl.f;
    if f.grids.len() < 2 {
        return;
    }
    let g = pl.group;
    let n = f.grids.len();
    let sse = |x: &[f32]| -> Vec<f64> {
        pl.singles
            .iter()
            .map(|q| q.quantize_group(x, &pl.ctx).sse)
            .collect()
    };
    // Trivial exact ties: an equal group after the anchor.
    for (k, s) in pl.scale_choices().into_iter().enumerate() {
        if let Some(a) = pl.amax_for_scale(0, s) {
            let x = vec![a; g];
            let e = sse(&x);
            if e.iter().filter(|v| **v == e[0]).count() >= 2 {
                out.push("grid-tie", format!("gridtie.equal.{k}"), pl.tensor(x));
            }
        }
    }
    for i in 0..n {
        for j in i + 1..n {
            let mut found = 0;
            'amax: for s in pl.scale_choices() {
                for base in [i, j] {
                    let Some(a) = pl.amax_for_scale(base, s) else {
                        continue;
                    };
                    let flat = vec![a; g];
                    let e0 = sse(&flat);
                    if e0[i] != 0.0 || e0[j] != 0.0 {
                        continue;
                    }
                    let di = decoded(pl, i, &flat);
                    let dj = decoded(pl, j, &flat);
                    for &u in &di {
                        for &v in &dj {
                            if found >= 4 {
                                break 'amax;
                            }
                            if u == v {
                                continue;
                            }
                            let y = (u + v) / 2.0;
                            let yf = y as f32;
                            if yf as f64 != y || yf.abs() > a {
                                continue;
                            }
                            let mut x = flat.clone();
                            x[1] = yf;
                            let e = sse(&x);
                            let best = e.iter().cloned().fold(f64::INFINITY, f64::min);
                            if e[i] == e[j] && e[i] == best && e[i] > 0.0 {
                                found += 1;
                                out.push(
                                    "grid-tie",
                                    format!("gridtie.g{i}g{j}.{found}"),
                                    pl.tensor(x.clone()),
                                );
                                for (tag, z) in [("down", yf.next_down()), ("up", yf.next_up())] {
                                    let mut xn = x.clone();
                                    xn[1] = z;
                                    out.push(
                                        "grid-near-tie",
                                        format!("gridneartie.g{i}g{j}.{found}.{tag}"),
                                        pl.tensor(xn),
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A seeded search for exact grid ties in groups built from few values: the group maximum
/// (on some grid's target), zeros, and values of every grid at its scale and the midpoints
/// between them. Finds ties the constructive search above misses (grids whose targets
/// differ, mirrored grids such as E2M1 ± c).
fn searched_tie_cases(pl: &Planner, out: &mut Out, rng: &mut Rng) {
    let f = &pl.f;
    let n = f.grids.len();
    if n < 2 {
        return;
    }
    let g = pl.group;
    let mut found = vec![0usize; n * n];
    let choices = pl.scale_choices();
    if choices.is_empty() {
        return;
    }
    for _ in 0..6000 {
        let k = rng.below(n as u64) as usize;
        let s = choices[rng.below(choices.len().min(2) as u64) as usize];
        let Some(a) = pl.amax_for_scale(k, s) else {
            continue;
        };
        let mut probe = vec![0f32; g];
        probe[0] = if rng.below(2) == 0 { a } else { -a };
        let mut pool: Vec<f64> = Vec::new();
        for i in 0..n {
            let d = decoded(pl, i, &probe);
            for w in d.windows(2) {
                pool.push((w[0] + w[1]) / 2.0);
            }
            pool.extend(d);
        }
        pool.retain(|v| v.abs() <= a as f64 && (*v as f32) as f64 == *v);
        if pool.is_empty() {
            continue;
        }
        let mut x = probe.clone();
        let extra = 1 + rng.below(3) as usize;
        for _ in 0..extra {
            let at = 1 + rng.below(g as u64 - 1) as usize;
            x[at] = pool[rng.below(pool.len() as u64) as usize] as f32;
        }
        let e: Vec<f64> = pl
            .singles
            .iter()
            .map(|q| q.quantize_group(&x, &pl.ctx).sse)
            .collect();
        let best = e.iter().cloned().fold(f64::INFINITY, f64::min);
        if best <= 0.0 {
            continue;
        }
        let tied: Vec<usize> = (0..n).filter(|&i| e[i] == best).collect();
        if tied.len() < 2 {
            continue;
        }
        let (i, j) = (tied[0], tied[1]);
        if found[i * n + j] >= 3 {
            continue;
        }
        found[i * n + j] += 1;
        let tag = found[i * n + j];
        out.push(
            "grid-tie",
            format!("gridtie.search.g{i}g{j}.{tag}"),
            pl.tensor(x.clone()),
        );
        // Move one non-maximal, non-zero element by one ulp each way.
        if let Some(at) = (1..g).find(|&t| x[t] != 0.0 && x[t].abs() < a) {
            for (dir, z) in [("down", x[at].next_down()), ("up", x[at].next_up())] {
                let mut xn = x.clone();
                xn[at] = z;
                out.push(
                    "grid-near-tie",
                    format!("gridneartie.search.g{i}g{j}.{tag}.{dir}"),
                    pl.tensor(xn),
                );
            }
        }
    }
}

/// The distinct decoded values (f64, exact) grid `i` can give a group quantized like `x`.
fn decoded(pl: &Planner, i: usize, x: &[f32]) -> Vec<f64> {
    let scale = pl.scale_for(i, x);
    let grid = &pl.f.grids[i];
    let s = pl.f.scale_value(scale) * pl.ts() as f64;
    let mut v: Vec<f64> = (0..16u8)
        .filter(|&c| grid.is_valid(c))
        .map(|c| grid.value(c) as f64 * s)
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v.dedup();
    v
}

fn random_cases(pl: &Planner, out: &mut Out, rng: &mut Rng) {
    let f = &pl.f;
    let g = pl.group;
    let groups = 4;
    let dists: [&'static str; 8] = [
        "random-normal",
        "random-uniform",
        "random-heavy",
        "random-log-uniform",
        "random-bf16",
        "random-sparse",
        "random-outlier",
        "random-grid-points",
    ];
    for rule in dists {
        for case in 0..6 {
            let mut x = Vec::with_capacity(groups * g);
            for _ in 0..groups {
                let k = rng.below(17) as i32 - 8;
                let scale = crate::element::pow2(k) as f32;
                for _ in 0..g {
                    let v = match rule {
                        "random-normal" => rng.normal(),
                        "random-uniform" => rng.symmetric(),
                        "random-heavy" => rng.heavy(),
                        "random-log-uniform" => rng.log_uniform(-30, 30),
                        "random-bf16" => {
                            let b = rng.normal().to_bits();
                            let r = b.wrapping_add(0x7fff + ((b >> 16) & 1)) & 0xffff_0000;
                            f32::from_bits(r)
                        }
                        "random-sparse" => {
                            if rng.below(8) == 0 {
                                rng.normal()
                            } else {
                                0.0
                            }
                        }
                        "random-outlier" => rng.normal(),
                        _ => {
                            let grid = &f.grids[rng.below(f.grids.len() as u64) as usize];
                            let c = rng.below(16) as u8;
                            if grid.is_valid(c) {
                                grid.value(c)
                            } else {
                                0.0
                            }
                        }
                    };
                    x.push(v * scale);
                }
            }
            if rule == "random-outlier" {
                let at = rng.below(x.len() as u64) as usize;
                x[at] *= 1000.0;
            }
            out.push(
                rule,
                format!("{}.{case}", rule.trim_start_matches("random-")),
                x,
            );
        }
    }
}

/// Every decode input of a format's catalogue.
pub fn decode_cases(f: &Format) -> Vec<DecodeCase> {
    let g = f.group_size as usize;
    let mut rng = Rng::from_label(&format!("decode/{}", f.name));
    let mut cases = Vec::new();
    let ts1 = f.tensor_scale.then_some(1.0f32);
    let pack = |codes: &[u8]| -> Vec<u8> {
        let mut packed = vec![0u8; f.code_bytes(codes.len())];
        for (i, &c) in codes.iter().enumerate() {
            quant::put_code(f, &mut packed, i, c);
        }
        packed
    };
    let valid_codes = |grid: usize| -> Vec<u8> {
        let gr = &f.grids[grid];
        let v: Vec<u8> = (0..16u8).filter(|&c| gr.is_valid(c)).collect();
        if v.is_empty() {
            return vec![0; g];
        }
        (0..g).map(|k| v[k % v.len()]).collect()
    };
    if f.scale_bytes == 1 {
        for byte in 0..=255u32 {
            match f.grid_of_scale(byte) {
                Some(grid) => cases.push(DecodeCase {
                    name: format!("byte.{byte:02x}"),
                    rule: "scale-byte",
                    codes: pack(&valid_codes(grid)),
                    scales: vec![byte as u8],
                    tensor_scale: ts1,
                }),
                None => cases.push(DecodeCase {
                    name: format!("badsel.{byte:02x}"),
                    rule: "invalid-selector",
                    codes: pack(&valid_codes(0)),
                    scales: vec![byte as u8],
                    tensor_scale: ts1,
                }),
            }
        }
    } else {
        let scales: [(&str, u32); 8] = [
            ("zero", 0),
            ("one", 0x3f80_0000),
            ("half", 0x3f00_0000),
            ("three", 0x4040_0000),
            ("subnormal", 0x0001_16c2),
            ("min-subnormal", 0x0000_0001),
            ("flt-max", 0x7f7f_ffff),
            ("nan", 0x7fc0_0000),
        ];
        for (tag, bits) in scales {
            for grid in 0..f.grids.len() {
                cases.push(DecodeCase {
                    name: format!("scale.{tag}.g{grid}"),
                    rule: "scale-value",
                    codes: pack(&valid_codes(grid)),
                    scales: bits.to_le_bytes().to_vec(),
                    tensor_scale: ts1,
                });
            }
        }
    }
    // A scale byte for grid `grid` with a normal value near 1.
    let scale_for_grid = |grid: usize| -> Vec<u8> {
        if f.scale_bytes == 4 {
            return 0x3f80_0000u32.to_le_bytes().to_vec();
        }
        let one = f
            .scale_element
            .encode(1.0, Rounding::NearestEven, Policy::Satfinite)
            .map(|r| r.0)
            .unwrap_or(0)
            & f.value_mask;
        let bits = f.selector_bits_of_grid.get(grid).copied().unwrap_or(0);
        vec![(one | bits) as u8]
    };
    if f.tensor_scale {
        let max_code = quant::max_scale_code(f);
        let tss: [(&str, u32); 6] = [
            ("one", 0x3f80_0000),
            ("quantizer-like", (1.0f32 / 2688.0).to_bits()),
            ("min-normal", 0x0080_0000),
            ("min-subnormal", 0x0000_0001),
            ("flt-max", 0x7f7f_ffff),
            ("pow2-100", 0x7180_0000),
        ];
        for (tag, bits) in tss {
            for grid in 0..f.grids.len() {
                let mut s = scale_for_grid(grid);
                let sel = f.selector_bits_of_grid.get(grid).copied().unwrap_or(0);
                for (stag, code) in [
                    ("one", s[0] as u32),
                    ("max", max_code | sel),
                    ("min", 1 | sel),
                ] {
                    s[0] = code as u8;
                    if f.grid_of_scale(code) != Some(grid) {
                        continue;
                    }
                    cases.push(DecodeCase {
                        name: format!("ts.{tag}.g{grid}.{stag}"),
                        rule: "tensor-scale",
                        codes: pack(&valid_codes(grid)),
                        scales: s.clone(),
                        tensor_scale: Some(f32::from_bits(bits)),
                    });
                }
            }
        }
    }
    for (grid, gr) in f.grids.iter().enumerate() {
        for c in (0..16u8).filter(|&c| !gr.is_valid(c)) {
            let mut codes = valid_codes(grid);
            codes[1] = c;
            cases.push(DecodeCase {
                name: format!("badcode.g{grid}.{c:x}"),
                rule: "invalid-code",
                codes: pack(&codes),
                scales: scale_for_grid(grid),
                tensor_scale: ts1,
            });
        }
    }
    // Random valid tensors of four groups.
    let valid_bytes: Vec<u32> = (0..=255u32)
        .filter(|&b| f.grid_of_scale(b).is_some() && !f.scale_element.is_nan(b & f.value_mask))
        .collect();
    let random_cases = if f.scale_bytes == 1 && valid_bytes.is_empty() {
        0
    } else {
        24
    };
    for k in 0..random_cases {
        let mut codes = Vec::new();
        let mut scales = Vec::new();
        for _ in 0..4 {
            let (grid, sbytes) = if f.scale_bytes == 4 {
                let v = rng.log_uniform(-20, 20).abs();
                (0, v.to_bits().to_le_bytes().to_vec())
            } else {
                let b = valid_bytes[rng.below(valid_bytes.len() as u64) as usize];
                (f.grid_of_scale(b).unwrap_or(0), vec![b as u8])
            };
            scales.extend(sbytes);
            let gr = &f.grids[grid];
            let v: Vec<u8> = (0..16u8).filter(|&c| gr.is_valid(c)).collect();
            for _ in 0..g {
                codes.push(
                    v.get(rng.below(v.len() as u64) as usize)
                        .copied()
                        .unwrap_or(0),
                );
            }
        }
        let ts = f
            .tensor_scale
            .then(|| rng.log_uniform(-12, 4).abs() / 2688.0);
        cases.push(DecodeCase {
            name: format!("random.{k}"),
            rule: "random",
            codes: pack(&codes),
            scales,
            tensor_scale: ts,
        });
    }
    cases
}
