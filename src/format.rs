//! Formats and grids as plain `Copy` data: what the generated tables hold and what every
//! quantizer, decoder and verifier reads. Nothing here allocates, so the decode side builds
//! as `no_std` without `alloc`.

use crate::element::Element;

/// At most four grids: two selector bits.
pub const MAX_GRIDS: usize = 4;

/// Which value wins when an input lies exactly halfway between two grid values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ties {
    /// The code whose last bit is 0 (IEEE round-to-nearest-even for E2M1-derived grids).
    EvenCode,
    /// The lower code index (bitsandbytes' argmin, ggml's strict `<` search).
    LowerIndex,
    /// The value of smaller magnitude.
    TowardZero,
    /// The value of larger magnitude (microxcaling's `nearest`).
    AwayFromZero,
}

/// How the reference profile rounds a block scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScaleRounding {
    /// Round the exact ratio amax / (target · tensor_scale) once, to nearest even, saturating.
    Rne,
    /// OCP MX: 2^(floor(log2(amax)) - emax_elem), emax_elem the exponent of the grid target.
    FloorPow2,
}

/// One 4-bit grid: the value of every code as an f32 bit pattern.
// Not constructible outside the crate: every instance comes from the validated spec
// pipeline (generated tables or `spec::load_format`), so a hand-built value cannot break
// the invariants decode relies on (e.g. `selector_of_byte` covering every scale byte).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    /// Grid name as in the spec (`e2m1`, `nf4`, `learned1`, ...).
    pub name: &'static str,
    /// f32 bit patterns, code 0 first.
    pub values: [u32; 16],
    /// Bit c set when code c is valid.
    pub valid: u16,
    /// The value (f32 bits) the group's maximum magnitude maps to.
    pub target: u32,
    /// Which code wins an exact tie in nearest-value search.
    pub ties: Ties,
    /// E2M1-like: codes 8..15 are the negatives of codes 0..7, so nearest search runs on
    /// magnitudes and the input's sign is kept (-0.1 → code 8).
    pub sign_magnitude: bool,
    /// How the values were derived (for `gridgames show`).
    pub derivation: &'static str,
}

impl Grid {
    /// The value of `code` (low 4 bits used).
    pub fn value(&self, code: u8) -> f32 {
        f32::from_bits(self.values[(code & 15) as usize])
    }

    /// Whether `code` (low 4 bits used) is defined in this grid (INT4 -8 is not in IF4).
    pub fn is_valid(&self, code: u8) -> bool {
        self.valid & (1 << (code & 15)) != 0
    }

    /// The value the group maximum maps to, as an f32.
    pub fn target_value(&self) -> f32 {
        f32::from_bits(self.target)
    }
}

/// A block-scaled 4-bit format with one to four grids.
// Not constructible outside the crate: every instance comes from the validated spec
// pipeline (generated tables or `spec::load_format`), so a hand-built value cannot break
// the invariants decode relies on (e.g. `selector_of_byte` covering every scale byte).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Format {
    /// Format name (`nvfp4`, `sfp4`, ...), the spec file's stem for built-ins.
    pub name: &'static str,
    /// One-line description.
    pub description: &'static str,
    /// Elements per block (one scale per group).
    pub group_size: u32,
    /// The one to four grids; the scale's selector bits pick one per group.
    pub grids: &'static [Grid],
    /// Element format of the block scale value (`ue4m3`, `ue8m0`, `f32`).
    pub scale_element: Element,
    /// 1, or 4 for an FP32 scale (little-endian).
    pub scale_bytes: u32,
    /// Bits of the scale byte that carry the scale value (the rest are selector or ignored).
    pub value_mask: u32,
    /// Bits of the scale byte that select the grid (0 for single-grid formats).
    pub selector_mask: u32,
    /// For every scale byte: the grid it selects, or -1 for an invalid selector. Empty for
    /// FP32 scales.
    pub selector_of_byte: &'static [i8],
    /// For every grid: the bits to OR into the scale byte.
    pub selector_bits_of_grid: &'static [u32],
    /// Largest scale value (f32 bits) the quantizer may produce, if lower than the element's.
    pub scale_max: Option<u32>,
    /// How the reference profile rounds the block scale.
    pub scale_rounding: ScaleRounding,
    /// Whether an FP32 per-tensor scale multiplies every block scale.
    pub tensor_scale: bool,
    /// bitsandbytes order: element 2i in the high nibble.
    pub high_nibble_first: bool,
    /// Where the format and its values come from (the spec's `provenance:`).
    pub provenance: &'static str,
    /// The spec file this format was generated from, and its SHA-256.
    pub spec_file: &'static str,
    /// SHA-256 of the spec file's bytes (hex).
    pub spec_sha256: &'static str,
}

impl Format {
    /// Whether several grids exist but share one decode (Four Over Six: the candidates
    /// differ only in the scale target, so no selector is stored).
    pub fn selector_free(&self) -> bool {
        self.selector_mask == 0
    }

    /// The grid a stored scale selects, or `None` for invalid selector bits.
    pub fn grid_of_scale(&self, scale: u32) -> Option<usize> {
        if self.scale_bytes != 1 {
            return Some(0);
        }
        match self.selector_of_byte.get((scale & 0xff) as usize) {
            Some(&g) if g >= 0 => Some(g as usize),
            _ => None,
        }
    }

    /// The exact scale value a stored scale encodes (selector bits cleared), as f64.
    pub fn scale_value(&self, scale: u32) -> f64 {
        self.scale_element.decode(scale & self.value_mask)
    }

    /// Bytes of packed codes for `n` elements.
    pub fn code_bytes(&self, n: usize) -> usize {
        n.div_ceil(2)
    }
}
