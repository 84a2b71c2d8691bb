//! The spec writer: a format as spec YAML that `spec::load_format_text` reads back to the
//! same tables (`load(write(x)) == x`, tested for every built-in format). `gridgames learn`
//! writes its learned formats through it; a runtime format can be exported with explicit
//! values the same way.

use std::fmt::Write as _;

use super::schema::{ScaleRule, TieRule};
use crate::format::{Format, ScaleRounding, Ties};

/// One grid to write: explicit values (f32 bit patterns, code 0 first).
#[derive(Clone, Debug, PartialEq)]
pub struct GridDraft {
    /// A `# comment` line written above the grid (where it came from).
    pub comment: Option<String>,
    /// Grid name.
    pub name: String,
    /// f32 bit patterns of the 16 codes.
    pub values: [u32; 16],
    /// Codes that are not valid (written as `invalid_codes:` when any).
    pub invalid_codes: Vec<u32>,
    /// The value (f32 bits) the group maximum maps to, when not the largest magnitude.
    pub target: Option<u32>,
    /// Tie rule.
    pub ties: TieRule,
}

/// One format to write.
#[derive(Clone, Debug, PartialEq)]
pub struct FormatDraft {
    /// Format name (the file stem it should be saved under).
    pub name: String,
    /// One-line description (omitted when empty).
    pub description: String,
    /// Elements per group.
    pub group_size: u32,
    /// The grids, in selector order.
    pub grids: Vec<GridDraft>,
    /// Scale element name (`ue4m3`, `ue8m0`, `f32`).
    pub scale_element: String,
    /// Bytes per scale (written only when 4).
    pub scale_bytes: u32,
    /// Value bits of the scale (written when not all bits).
    pub value_mask: Option<u32>,
    /// Selector bit positions, most significant first.
    pub selector_bits: Vec<u32>,
    /// Selector value → grid, written as `selectors:` when not the identity.
    pub selectors: Option<Vec<(String, u32)>>,
    /// Largest scale value (f32 bits), when capped.
    pub scale_max: Option<u32>,
    /// Reference block-scale rounding.
    pub rounding: ScaleRule,
    /// FP32 tensor scale.
    pub tensor_scale: bool,
    /// bitsandbytes nibble order.
    pub high_nibble_first: bool,
    /// Provenance lines (written as a `|` block, two spaces of indent added).
    pub provenance: Vec<String>,
}

impl FormatDraft {
    /// A draft that reproduces `format` with explicit values: what `write` then loads back
    /// to the same grids, scale and packing.
    pub fn of_format(format: &Format) -> FormatDraft {
        let width = format.scale_bytes * 8;
        let all_bits = if width == 32 {
            u32::MAX
        } else {
            (1u32 << width) - 1
        };
        let selector_bits: Vec<u32> = (0..width)
            .rev()
            .filter(|b| format.selector_mask & (1 << b) != 0)
            .collect();
        // The selector value of grid g: its bits read in `selector_bits` order.
        let value_of = |g: usize| {
            selector_bits.iter().fold(0u32, |v, &b| {
                (v << 1) | ((format.selector_bits_of_grid.get(g).copied().unwrap_or(0) >> b) & 1)
            })
        };
        let identity = (0..format.grids.len()).all(|g| value_of(g) == g as u32);
        let selectors = (!selector_bits.is_empty() && !identity).then(|| {
            (0..format.grids.len())
                .map(|g| {
                    let v = value_of(g);
                    let key = (0..selector_bits.len())
                        .rev()
                        .map(|i| if (v >> i) & 1 == 1 { '1' } else { '0' })
                        .collect();
                    (key, g as u32)
                })
                .collect()
        });
        FormatDraft {
            name: format.name.to_string(),
            description: format.description.to_string(),
            group_size: format.group_size,
            grids: format
                .grids
                .iter()
                .map(|g| {
                    let largest = (0..16u8)
                        .filter(|&c| g.is_valid(c))
                        .map(|c| g.value(c).abs())
                        .fold(0f32, f32::max);
                    GridDraft {
                        comment: None,
                        name: g.name.to_string(),
                        values: g.values,
                        invalid_codes: (0..16).filter(|&c| g.valid & (1 << c) == 0).collect(),
                        target: (g.target_value() != largest).then_some(g.target),
                        ties: match g.ties {
                            Ties::EvenCode => TieRule::EvenCode,
                            Ties::LowerIndex => TieRule::LowerIndex,
                            Ties::TowardZero => TieRule::TowardZero,
                            Ties::AwayFromZero => TieRule::AwayFromZero,
                        },
                    }
                })
                .collect(),
            scale_element: format.scale_element.name.to_string(),
            scale_bytes: format.scale_bytes,
            value_mask: (format.value_mask != all_bits).then_some(format.value_mask),
            selector_bits,
            selectors,
            scale_max: format.scale_max,
            rounding: match format.scale_rounding {
                ScaleRounding::Rne => ScaleRule::Rne,
                ScaleRounding::FloorPow2 => ScaleRule::FloorPow2,
            },
            tensor_scale: format.tensor_scale,
            high_nibble_first: format.high_nibble_first,
            provenance: format.provenance.lines().map(str::to_string).collect(),
        }
    }
}

/// The draft as spec YAML.
pub fn write_format(d: &FormatDraft) -> String {
    let mut s = String::new();
    // `write!` to a String cannot fail.
    let _ = writeln!(s, "name: {}", d.name);
    if !d.description.is_empty() {
        let _ = writeln!(s, "description: {}", d.description);
    }
    let _ = writeln!(s, "group_size: {}\ngrids:", d.group_size);
    for g in &d.grids {
        if let Some(c) = &g.comment {
            let _ = writeln!(s, "  # {c}");
        }
        let _ = write!(s, "  - name: {}\n    values: [", g.name);
        for (k, b) in g.values.iter().enumerate() {
            if k > 0 {
                s.push_str(if k % 4 == 0 { ",\n             " } else { ", " });
            }
            let _ = write!(s, "f32:{b:08x}");
        }
        s.push_str("]\n");
        if !g.invalid_codes.is_empty() {
            let codes: Vec<String> = g.invalid_codes.iter().map(u32::to_string).collect();
            let _ = writeln!(s, "    invalid_codes: [{}]", codes.join(", "));
        }
        if let Some(t) = g.target {
            let _ = writeln!(s, "    target: f32:{t:08x}");
        }
        let _ = writeln!(s, "    ties: {}", g.ties.yaml_name());
    }
    let _ = writeln!(s, "scale:\n  element: {}", d.scale_element);
    if d.scale_bytes != 1 {
        let _ = writeln!(s, "  bytes: {}", d.scale_bytes);
    }
    if let Some(m) = d.value_mask {
        let _ = writeln!(s, "  value_mask: {m:#x}");
    }
    if !d.selector_bits.is_empty() {
        let bits: Vec<String> = d.selector_bits.iter().map(u32::to_string).collect();
        let _ = writeln!(s, "  selector_bits: [{}]", bits.join(", "));
    }
    if let Some(sel) = &d.selectors {
        s.push_str("  selectors:\n");
        for (key, g) in sel {
            let _ = writeln!(s, "    \"{key}\": {g}");
        }
    }
    if let Some(m) = d.scale_max {
        let _ = writeln!(s, "  max: f32:{m:08x}");
    }
    let _ = writeln!(s, "  rounding: {}", d.rounding.yaml_name());
    let _ = writeln!(
        s,
        "tensor_scale: {}\nnibble_order: {}",
        if d.tensor_scale { "f32" } else { "none" },
        if d.high_nibble_first {
            "high-first"
        } else {
            "low-first"
        }
    );
    s.push_str("provenance: |\n");
    for l in &d.provenance {
        let _ = writeln!(s, "  {l}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// load(write(x)) == x for every built-in format: same grids (values, validity, target,
    /// ties, sign-magnitude), same scale (element, bytes, masks, selectors, maximum,
    /// rounding), same tensor scale and nibble order.
    #[test]
    fn every_builtin_format_round_trips() {
        for f in crate::tables::FORMATS {
            let text = write_format(&FormatDraft::of_format(f));
            let back = crate::spec::load_format_text("written.yaml", &text)
                .unwrap_or_else(|e| panic!("{}: written spec does not load: {e}\n{text}", f.name));
            assert_eq!(back.group_size, f.group_size, "{}", f.name);
            assert_eq!(back.grids.len(), f.grids.len(), "{}", f.name);
            for (a, b) in back.grids.iter().zip(f.grids) {
                assert_eq!(
                    (
                        a.name,
                        a.values,
                        a.valid,
                        a.target,
                        a.ties,
                        a.sign_magnitude
                    ),
                    (
                        b.name,
                        b.values,
                        b.valid,
                        b.target,
                        b.ties,
                        b.sign_magnitude
                    ),
                    "{}: grid {}",
                    f.name,
                    b.name
                );
            }
            assert_eq!(back.scale_element, f.scale_element, "{}", f.name);
            assert_eq!(
                (
                    back.scale_bytes,
                    back.value_mask,
                    back.selector_mask,
                    back.scale_max
                ),
                (f.scale_bytes, f.value_mask, f.selector_mask, f.scale_max),
                "{}",
                f.name
            );
            assert_eq!(back.selector_of_byte, f.selector_of_byte, "{}", f.name);
            assert_eq!(
                back.selector_bits_of_grid, f.selector_bits_of_grid,
                "{}",
                f.name
            );
            assert_eq!(
                (
                    back.scale_rounding,
                    back.tensor_scale,
                    back.high_nibble_first
                ),
                (f.scale_rounding, f.tensor_scale, f.high_nibble_first),
                "{}",
                f.name
            );
        }
    }
}
