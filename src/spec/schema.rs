//! The spec language: YAML schema types, the exact-value parser and validation.
//!
//! This file is shared verbatim by `build.rs` (through `#[path]`) and by the library, so it
//! depends on nothing but `std`, `serde` and `serde-saphyr`. Validation turns a parsed file
//! into a [`ResolvedFormat`] / [`ResolvedElement`]: plain data with every grid value as an
//! f32 bit pattern, which `build.rs` writes out as `const` tables and the library turns into
//! its runtime types.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_saphyr::Spanned;

/// A spec error with the file, the line and the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The spec file (as given to the loader).
    pub file: String,
    /// 1-based line of the offending field, when known.
    pub line: Option<u32>,
    /// The field path (`grids[e2m1].values[3]`, `scale.bytes`, ...).
    pub field: String,
    /// What is wrong and, where one exists, the fix.
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(
                f,
                "{}:{}: field `{}`: {}",
                self.file, line, self.field, self.message
            ),
            None => write!(f, "{}: field `{}`: {}", self.file, self.field, self.message),
        }
    }
}

impl std::error::Error for SpecError {}

type Str = Spanned<String>;

/// `spec/elements/*.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElementFile {
    /// Element name; must match the file stem.
    pub name: Str,
    /// `float` or `int`.
    pub kind: Str,
    /// Total width in bits (2..=32), sign included.
    pub bits: Spanned<u32>,
    /// Whether the element has a sign bit (floats) or is two's complement (ints).
    pub signed: bool,
    /// Exponent field width (floats).
    #[serde(default)]
    pub exponent_bits: u32,
    /// Mantissa field width (floats).
    #[serde(default)]
    pub mantissa_bits: u32,
    /// Exponent bias (floats).
    #[serde(default)]
    pub bias: i32,
    /// Whether exponent field 0 holds subnormals. Default true.
    #[serde(default = "default_true")]
    pub subnormals: bool,
    /// `none`, `ieee` or `nan-all-ones`.
    #[serde(default = "default_specials")]
    pub specials: Str,
    /// Where the element is defined (standard, section, library cross-check).
    pub provenance: Str,
}

fn default_true() -> bool {
    true
}

fn default_specials() -> Str {
    Spanned::new(
        "none".to_string(),
        serde_saphyr::Location::UNKNOWN,
        serde_saphyr::Location::UNKNOWN,
    )
}

/// `spec/formats/*.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatFile {
    /// Format name; must match the file stem.
    pub name: Str,
    /// One-line description.
    #[serde(default)]
    pub description: Option<String>,
    /// Elements per block (even, 2..=4096).
    pub group_size: Spanned<u32>,
    /// One to four grids.
    pub grids: Spanned<Vec<GridSpec>>,
    /// The block scale.
    pub scale: ScaleSpec,
    /// `f32` (a per-tensor FP32 decode scale) or `none`.
    pub tensor_scale: Str,
    /// `low-first` (element 2i in the low nibble) or `high-first`.
    pub nibble_order: Str,
    /// Free text: where the values come from.
    pub provenance: Str,
}

/// One grid as written in a format file (before validation).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridSpec {
    /// Grid name, unique within the format.
    pub name: Str,
    /// Derive the 16 values by decoding every code of this element format.
    #[serde(default)]
    pub element: Option<Str>,
    /// Explicit values, code 0 first: exact decimals, hex floats (`0x1.8p-1`) or f32 bit
    /// patterns (`f32:3f400000`).
    #[serde(default)]
    pub values: Option<Spanned<Vec<Str>>>,
    /// Added to every value (after `factor`), in grid units. Must be exact.
    #[serde(default)]
    pub offset: Option<Str>,
    /// Multiplies every value. An exact value, or a rational `p/q`; a rational whose products
    /// are not exact in f32 needs `factor_rounding: rne-f32`, which says every product is
    /// rounded once to f32 (that rounding is then part of the format).
    #[serde(default)]
    pub factor: Option<Str>,
    /// `rne-f32` when `factor` is a rational whose products are rounded once to f32.
    #[serde(default)]
    pub factor_rounding: Option<Str>,
    /// Codes that are not valid in this grid (e.g. INT4 -8).
    #[serde(default)]
    pub invalid_codes: Vec<u32>,
    /// The grid value the group's maximum maps to. Default: the largest magnitude.
    #[serde(default)]
    pub target: Option<Str>,
    /// Tie rule of nearest-value search: `even-code`, `lower-index`, `toward-zero`,
    /// `away-from-zero`.
    pub ties: Str,
}

/// The `scale:` section of a format file (before validation).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleSpec {
    /// Element format of the scale value (`ue4m3`, `ue8m0`, `f32`).
    pub element: Str,
    /// Storage width of one scale in bytes (1, or 4 for f32).
    #[serde(default = "default_one")]
    pub bytes: u32,
    /// Mask of the scale byte's bits that carry the value; they are shifted down to bit 0
    /// only if `value_shift` says so. Default: all bits.
    #[serde(default)]
    pub value_mask: Option<Spanned<u32>>,
    /// Bits of the scale byte that select the grid, most significant first.
    #[serde(default = "no_selector_bits")]
    pub selector_bits: Spanned<Vec<u32>>,
    /// Selector value (as a binary string over `selector_bits`, e.g. `"10"`) → grid index.
    /// Missing combinations are invalid. Default: the identity on 0..grids.
    #[serde(default)]
    pub selectors: Option<Spanned<BTreeMap<String, u32>>>,
    /// Largest scale value the quantizer may produce (e.g. 256 for Four Over Six). Default:
    /// the element's largest finite value.
    #[serde(default)]
    pub max: Option<Str>,
    /// Scale rounding of the reference profile: `rne` (round the exact ratio once, to nearest
    /// even, saturating) or `floor-pow2` (OCP MX: 2^(floor(log2 amax) - emax_elem)).
    pub rounding: Str,
}

fn no_selector_bits() -> Spanned<Vec<u32>> {
    Spanned::new(
        Vec::new(),
        serde_saphyr::Location::UNKNOWN,
        serde_saphyr::Location::UNKNOWN,
    )
}

fn default_one() -> u32 {
    1
}

/// A validated element format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedElement {
    /// Element name.
    pub name: String,
    /// Integer element (else float).
    pub is_int: bool,
    /// Total width in bits.
    pub bits: u32,
    /// Has a sign bit / is two's complement.
    pub signed: bool,
    /// Exponent field width.
    pub exponent_bits: u32,
    /// Mantissa field width.
    pub mantissa_bits: u32,
    /// Exponent bias.
    pub bias: i32,
    /// Whether exponent field 0 holds subnormals.
    pub subnormals: bool,
    /// Which codes are Inf/NaN.
    pub specials: SpecialsRule,
    /// The spec's provenance text, trimmed.
    pub provenance: String,
}

/// Which codes of an element are Inf/NaN (`specials:` in an element spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecialsRule {
    /// No Inf or NaN codes.
    None,
    /// IEEE: the all-ones exponent field holds Inf (zero mantissa) and NaN.
    Ieee,
    /// Only the all-ones code (per sign) is NaN (OCP E4M3).
    NanAllOnes,
}

/// The tie rule of a grid (`ties:` in a format spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TieRule {
    /// The code whose last bit is 0.
    EvenCode,
    /// The lower code index.
    LowerIndex,
    /// The value of smaller magnitude.
    TowardZero,
    /// The value of larger magnitude.
    AwayFromZero,
}

/// The reference block-scale rounding (`scale.rounding:` in a format spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleRule {
    /// The exact ratio rounded once to nearest even, saturating.
    Rne,
    /// OCP MX: 2^(floor(log2 amax) - emax).
    FloorPow2,
}

impl SpecialsRule {
    /// The variant name of `element::Specials` this rule is (for generated code).
    pub fn rust_name(self) -> &'static str {
        match self {
            SpecialsRule::None => "None",
            SpecialsRule::Ieee => "Ieee",
            SpecialsRule::NanAllOnes => "NanAllOnes",
        }
    }
}

impl TieRule {
    /// Every rule.
    pub const ALL: [TieRule; 4] = [
        TieRule::EvenCode,
        TieRule::LowerIndex,
        TieRule::TowardZero,
        TieRule::AwayFromZero,
    ];

    /// Its spelling in a spec file (`ties:`); the parser and the writer both use it.
    pub fn yaml_name(self) -> &'static str {
        match self {
            TieRule::EvenCode => "even-code",
            TieRule::LowerIndex => "lower-index",
            TieRule::TowardZero => "toward-zero",
            TieRule::AwayFromZero => "away-from-zero",
        }
    }

    /// The variant name of `format::Ties` this rule is (for generated code).
    pub fn rust_name(self) -> &'static str {
        match self {
            TieRule::EvenCode => "EvenCode",
            TieRule::LowerIndex => "LowerIndex",
            TieRule::TowardZero => "TowardZero",
            TieRule::AwayFromZero => "AwayFromZero",
        }
    }
}

impl ScaleRule {
    /// Its spelling in a spec file (`scale.rounding:`).
    pub fn yaml_name(self) -> &'static str {
        match self {
            ScaleRule::Rne => "rne",
            ScaleRule::FloorPow2 => "floor-pow2",
        }
    }

    /// The variant name of `format::ScaleRounding` this rule is (for generated code).
    pub fn rust_name(self) -> &'static str {
        match self {
            ScaleRule::Rne => "Rne",
            ScaleRule::FloorPow2 => "FloorPow2",
        }
    }
}

/// A validated grid: 16 f32 bit patterns, code 0 first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedGrid {
    /// Grid name.
    pub name: String,
    /// f32 bit patterns of the 16 codes, code 0 first.
    pub values: [u32; 16],
    /// Bit c set when code c is valid.
    pub valid: u16,
    /// f32 bits of the value the group maximum maps to.
    pub target: u32,
    /// The tie rule.
    pub ties: TieRule,
    /// True when the grid is sign-symmetric with code bit 3 the sign (E2M1 and its multiples):
    /// nearest search then runs on magnitudes and keeps the input's sign, so -0.1 → code 8.
    pub sign_magnitude: bool,
    /// How the values were derived, for `gridgames show`.
    pub derivation: String,
}

/// A validated format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedFormat {
    /// Format name.
    pub name: String,
    /// One-line description.
    pub description: String,
    /// Elements per block.
    pub group_size: u32,
    /// The validated grids.
    pub grids: Vec<ResolvedGrid>,
    /// The block-scale element, resolved (so no later lookup can miss it).
    pub scale_element: ResolvedElement,
    /// Bytes per stored scale (1, or 4 for f32).
    pub scale_bytes: u32,
    /// Scale bits that carry the value.
    pub value_mask: u32,
    /// Scale bits that select the grid.
    pub selector_mask: u32,
    /// For every scale byte value: the grid index, or -1 when the selector bits are invalid.
    pub selector_of_byte: Vec<i8>,
    /// For every grid: the selector bits to OR into the scale byte.
    pub selector_bits_of_grid: Vec<u32>,
    /// Largest scale value (f32 bits) the quantizer may produce, when capped.
    pub scale_max: Option<u32>,
    /// The reference block-scale rounding.
    pub scale_rounding: ScaleRule,
    /// Whether an FP32 per-tensor scale is part of the format.
    pub tensor_scale: bool,
    /// Element 2i in the high nibble (bitsandbytes order).
    pub high_nibble_first: bool,
    /// The spec's provenance text, trimmed.
    pub provenance: String,
}

fn err(file: &str, line: Option<u32>, field: &str, message: impl Into<String>) -> SpecError {
    SpecError {
        file: file.to_string(),
        line,
        field: field.to_string(),
        message: message.into(),
    }
}

fn line_of<T>(s: &Spanned<T>) -> Option<u32> {
    let line = s.referenced.line();
    if line == 0 {
        None
    } else {
        Some(line as u32)
    }
}

/// Parse YAML text into a spec struct, mapping parse errors to [`SpecError`].
pub fn parse_yaml<T: for<'de> Deserialize<'de>>(file: &str, text: &str) -> Result<T, SpecError> {
    serde_saphyr::from_str::<T>(text).map_err(|e| {
        let full = e.to_string();
        let first = full.lines().next().unwrap_or("");
        let line = parse_line_from_message(first);
        // "error: line 12 column 1: missing field `group_size`" → the part after the
        // location; the field is the one the message names, if any.
        let message = first
            .split_once(": line ")
            .and_then(|(_, rest)| rest.split_once(": ").map(|(_, m)| m))
            .unwrap_or(first)
            .trim_start_matches("error: ")
            .to_string();
        let field = ["missing field `", "unknown field `"]
            .iter()
            .find_map(|p| {
                message
                    .split_once(p)
                    .and_then(|(_, rest)| rest.split_once('`'))
                    .map(|(f, _)| f.to_string())
            })
            .unwrap_or_else(|| "(yaml syntax)".to_string());
        err(file, line, &field, message)
    })
}

fn parse_line_from_message(message: &str) -> Option<u32> {
    // serde-saphyr reports "line N column M"; fish the number out for a uniform prefix.
    let idx = message.find("line ")?;
    let digits: String = message[idx + 5..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// Exact values.

/// An exact dyadic rational `mantissa · 2^exponent` (mantissa signed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dyadic {
    /// Signed integer mantissa.
    pub mantissa: i128,
    /// Binary exponent.
    pub exponent: i32,
}

impl Dyadic {
    fn normalized(mut self) -> Dyadic {
        if self.mantissa == 0 {
            return Dyadic {
                mantissa: 0,
                exponent: 0,
            };
        }
        let tz = self.mantissa.trailing_zeros();
        self.mantissa >>= tz;
        // Exponents come from parsed text (bounded by `MAX_WRITTEN_EXPONENT`) and f32 bit
        // patterns, so this cannot saturate for a value that could ever be an f32; saturating
        // keeps an absurd input absurd (it then fails every f32 check) instead of panicking.
        self.exponent = self.exponent.saturating_add(tz as i32);
        self
    }

    /// The f32 bit pattern, if this value is exactly an f32.
    pub fn to_f32_exact(self) -> Option<u32> {
        let d = self.normalized();
        if d.mantissa == 0 {
            return Some(0);
        }
        let m = d.mantissa.unsigned_abs();
        if m >= 1 << 24 {
            return None;
        }
        let value = (m as f64) * pow2(d.exponent)?;
        let f = value as f32;
        if (f as f64) != value || f.is_infinite() {
            return None;
        }
        let f = if d.mantissa < 0 { -f } else { f };
        Some(f.to_bits())
    }

    /// The exact value of a finite f32 bit pattern (0 for ±0).
    pub fn from_f32_bits(bits: u32) -> Dyadic {
        let f = f32::from_bits(bits) as f64;
        if f == 0.0 {
            return Dyadic {
                mantissa: 0,
                exponent: 0,
            };
        }
        let b = f.abs().to_bits();
        let field = ((b >> 52) & 0x7ff) as i32;
        let frac = (b & ((1 << 52) - 1)) as i128;
        let (m, e) = if field == 0 {
            (frac, -1074)
        } else {
            (frac | (1 << 52), field - 1075)
        };
        Dyadic {
            mantissa: if f < 0.0 { -m } else { m },
            exponent: e,
        }
        .normalized()
    }

    /// Checked exact sum (None on overflow); a method, not `impl Add`, because it can fail.
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, other: Dyadic) -> Option<Dyadic> {
        let e = self.exponent.min(other.exponent);
        let shift = |x: i32| u32::try_from(i64::from(x) - i64::from(e)).ok();
        let a = self
            .mantissa
            .checked_mul(1i128.checked_shl(shift(self.exponent)?)?)?;
        let b = other
            .mantissa
            .checked_mul(1i128.checked_shl(shift(other.exponent)?)?)?;
        Some(
            Dyadic {
                mantissa: a.checked_add(b)?,
                exponent: e,
            }
            .normalized(),
        )
    }

    /// Checked exact product (None on overflow).
    #[allow(clippy::should_implement_trait)]
    pub fn mul(self, other: Dyadic) -> Option<Dyadic> {
        Some(
            Dyadic {
                mantissa: self.mantissa.checked_mul(other.mantissa)?,
                exponent: self.exponent.checked_add(other.exponent)?,
            }
            .normalized(),
        )
    }
}

fn pow2(e: i32) -> Option<f64> {
    if !(-1074..=1023).contains(&e) {
        return None;
    }
    Some(if e >= -1022 {
        f64::from_bits(((e + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (e + 1074))
    })
}

/// An exact value as written in a spec: a dyadic, or a rational `p/q` (only for factors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExactValue {
    /// An exact dyadic rational.
    Dyadic(Dyadic),
    /// `p/q` with q > 0, not necessarily dyadic (factors only).
    Rational(i64, i64),
}

/// Parse an exact value: decimal (`-0.875`, `6`, `1e-3` is refused because it is not exact),
/// hex float (`0x1.8p-1`), f32 bit pattern (`f32:3f400000`), or rational `p/q` when
/// `allow_rational`. Refuses anything that would round.
pub fn parse_exact(text: &str, allow_rational: bool) -> Result<ExactValue, String> {
    let t = text.trim();
    if let Some(hex) = t.strip_prefix("f32:") {
        let bits = u32::from_str_radix(hex.trim_start_matches("0x"), 16)
            .map_err(|_| format!("`{t}` is not an f32 bit pattern (8 hex digits)"))?;
        let f = f32::from_bits(bits);
        if !f.is_finite() {
            return Err(format!("`{t}` is not a finite f32"));
        }
        return Ok(ExactValue::Dyadic(Dyadic::from_f32_bits(bits)));
    }
    if let Some((p, q)) = t.split_once('/') {
        if !allow_rational {
            return Err(format!("`{t}`: a rational is only allowed for `factor`"));
        }
        let p: i64 = p
            .trim()
            .parse()
            .map_err(|_| format!("`{t}`: bad numerator"))?;
        let q: i64 = q
            .trim()
            .parse()
            .map_err(|_| format!("`{t}`: bad denominator"))?;
        if q <= 0 {
            return Err(format!("`{t}`: denominator must be positive"));
        }
        return Ok(ExactValue::Rational(p, q));
    }
    let (negative, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        return parse_hex_float(hex, negative)
            .map(ExactValue::Dyadic)
            .map_err(|why| format!("`{t}` {why}"));
    }
    parse_decimal(body, negative)
        .map(ExactValue::Dyadic)
        .map_err(|why| format!("`{t}` {why}"))
}

/// The largest binary exponent a spec may write in a hex float: far beyond every f32 (and f64)
/// value, and small enough that exact sums and products of written values never overflow i32.
const MAX_WRITTEN_EXPONENT: u32 = 1 << 16;

fn parse_hex_float(hex: &str, negative: bool) -> Result<Dyadic, String> {
    let not_hex =
        || "is not a hex float (`0x1.8p-1`); write f32 bit patterns as `f32:3f400000`".to_string();
    let (digits, exp) = hex.split_once(['p', 'P']).ok_or_else(not_hex)?;
    let exp: i32 = exp.parse().map_err(|_| not_hex())?;
    if exp.unsigned_abs() > MAX_WRITTEN_EXPONENT {
        return Err(format!(
            "has a binary exponent beyond ±{MAX_WRITTEN_EXPONENT} (no f32 is that large or small)"
        ));
    }
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    let mut mantissa: i128 = 0;
    for c in int_part.chars().chain(frac_part.chars()) {
        let digit = c.to_digit(16).ok_or_else(not_hex)?;
        mantissa = mantissa
            .checked_mul(16)
            .and_then(|m| m.checked_add(digit as i128))
            .ok_or("has too many hex digits")?;
    }
    let frac_bits = i32::try_from(frac_part.len())
        .ok()
        .and_then(|n| n.checked_mul(4))
        .ok_or("has too many hex digits")?;
    let exponent = exp
        .checked_sub(frac_bits)
        .ok_or("has too many hex digits")?;
    Ok(Dyadic {
        mantissa: if negative { -mantissa } else { mantissa },
        exponent,
    }
    .normalized())
}

fn parse_decimal(body: &str, negative: bool) -> Result<Dyadic, &'static str> {
    if body.is_empty() || body.contains(['e', 'E']) {
        return Err("is not a plain decimal (no exponent notation: write a hex float)");
    }
    let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
    if !int_part
        .chars()
        .chain(frac_part.chars())
        .all(|c| c.is_ascii_digit())
        || (int_part.is_empty() && frac_part.is_empty())
    {
        return Err("is not a number");
    }
    let mut n: i128 = 0;
    for c in int_part.chars().chain(frac_part.chars()) {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(c as i128 - '0' as i128))
            .ok_or("has too many digits")?;
    }
    // n / 10^k = n / (5^k · 2^k): exact in binary iff 5^k divides n.
    let k = frac_part.len() as u32;
    let five_k = 5i128.checked_pow(k).ok_or("has too many digits")?;
    if n % five_k != 0 {
        return Err("is not exactly representable in binary (it would round)");
    }
    let m = n / five_k;
    Ok(Dyadic {
        mantissa: if negative { -m } else { m },
        exponent: -(k as i32),
    }
    .normalized())
}

/// Parse a value that must be an exact f32 (grid values, targets, offsets, maxima).
fn exact_f32(file: &str, field: &str, s: &Str) -> Result<u32, SpecError> {
    match parse_exact(&s.value, false) {
        Ok(ExactValue::Dyadic(d)) => d.to_f32_exact().ok_or_else(|| {
            err(
                file,
                line_of(s),
                field,
                format!(
                    "`{}` is exact but not an f32 (too many bits or out of range)",
                    s.value
                ),
            )
        }),
        Ok(ExactValue::Rational(..)) => {
            Err(err(file, line_of(s), field, "rational not allowed here"))
        }
        Err(message) => Err(err(file, line_of(s), field, message)),
    }
}

// ---------------------------------------------------------------------------------------------
// Validation.

/// Validate a parsed element file.
pub fn resolve_element(file: &str, e: &ElementFile) -> Result<ResolvedElement, SpecError> {
    let is_int = match e.kind.value.as_str() {
        "float" => false,
        "int" => true,
        other => {
            return Err(err(
                file,
                line_of(&e.kind),
                "kind",
                format!("unknown kind `{other}` (expected `float` or `int`)"),
            ))
        }
    };
    let bits = e.bits.value;
    if !(2..=32).contains(&bits) {
        return Err(err(
            file,
            line_of(&e.bits),
            "bits",
            format!("{bits} is outside 2..=32"),
        ));
    }
    // Checked: hostile widths such as `exponent_bits: 4294967295` must not wrap into a sum
    // that happens to match `bits` (or panic with overflow checks).
    let field_sum = e
        .exponent_bits
        .checked_add(e.mantissa_bits)
        .and_then(|s| s.checked_add(e.signed as u32));
    if !is_int && field_sum != Some(bits) {
        return Err(err(
            file,
            line_of(&e.bits),
            "bits",
            format!(
                "sign ({}) + exponent_bits ({}) + mantissa_bits ({}) != bits ({bits})",
                e.signed as u32, e.exponent_bits, e.mantissa_bits
            ),
        ));
    }
    // Every element gridgames computes with is at most f32-wide in each field (decode goes
    // through f32/f64); wider fields or an extreme bias would overflow the shifts and
    // exponent arithmetic of the exact decoders.
    if !is_int && (e.exponent_bits > 8 || e.mantissa_bits > 23 || e.bias.unsigned_abs() > 1024) {
        return Err(err(
            file,
            line_of(&e.bits),
            "exponent_bits",
            format!(
                "exponent_bits {} / mantissa_bits {} / bias {} exceed f32's fields (at most 8 / 23, |bias| ≤ 1024)",
                e.exponent_bits, e.mantissa_bits, e.bias
            ),
        ));
    }
    let specials = match e.specials.value.as_str() {
        "none" => SpecialsRule::None,
        "ieee" => SpecialsRule::Ieee,
        "nan-all-ones" => SpecialsRule::NanAllOnes,
        other => {
            return Err(err(
                file,
                line_of(&e.specials),
                "specials",
                format!("unknown `{other}` (expected none, ieee, nan-all-ones)"),
            ))
        }
    };
    if e.provenance.value.trim().is_empty() {
        return Err(err(
            file,
            line_of(&e.provenance),
            "provenance",
            "must say where the format comes from",
        ));
    }
    Ok(ResolvedElement {
        name: e.name.value.clone(),
        is_int,
        bits,
        signed: e.signed,
        exponent_bits: e.exponent_bits,
        mantissa_bits: e.mantissa_bits,
        bias: e.bias,
        subnormals: e.subnormals,
        specials,
        provenance: e.provenance.value.trim().to_string(),
    })
}

/// Whether a code of a resolved element is -0 (sign bit set, all other bits clear).
pub fn element_code_is_negative_zero(e: &ResolvedElement, code: u32) -> bool {
    !e.is_int && e.signed && code == 1 << (e.bits - 1)
}

/// Exact value of one code of a resolved element, as a dyadic, or None for NaN/Inf.
pub fn element_code_value(e: &ResolvedElement, code: u32) -> Option<Dyadic> {
    let sign_bit = if e.signed { 1u32 << (e.bits - 1) } else { 0 };
    if e.is_int {
        let v = if e.signed && code & sign_bit != 0 {
            code as i128 - (1i128 << e.bits)
        } else {
            code as i128
        };
        return Some(
            Dyadic {
                mantissa: v,
                exponent: 0,
            }
            .normalized(),
        );
    }
    let negative = code & sign_bit != 0;
    let mag = code & !sign_bit;
    let field = mag >> e.mantissa_bits;
    let mant = mag & ((1 << e.mantissa_bits) - 1);
    let field_max = (1u32 << e.exponent_bits) - 1;
    match e.specials {
        SpecialsRule::Ieee if field == field_max => return None,
        SpecialsRule::NanAllOnes if field == field_max && mant == (1 << e.mantissa_bits) - 1 => {
            return None
        }
        _ => {}
    }
    let (m, exp) = if field == 0 && e.subnormals {
        (mant as i128, 1 - e.bias - e.mantissa_bits as i32)
    } else {
        (
            (mant | (1 << e.mantissa_bits)) as i128,
            field as i32 - e.bias - e.mantissa_bits as i32,
        )
    };
    Some(
        Dyadic {
            mantissa: if negative { -m } else { m },
            exponent: exp,
        }
        .normalized(),
    )
}

fn ties_name(file: &str, s: &Str) -> Result<TieRule, SpecError> {
    TieRule::ALL
        .into_iter()
        .find(|t| t.yaml_name() == s.value)
        .ok_or_else(|| {
            let other = &s.value;
            err(file, line_of(s), "grids[g].ties", format!("unknown tie rule `{other}` (expected even-code, lower-index, toward-zero, away-from-zero)"))
        })
}

fn resolve_grid(
    file: &str,
    g: &GridSpec,
    elements: &[ResolvedElement],
) -> Result<ResolvedGrid, SpecError> {
    let field = |f: &str| format!("grids[{}].{f}", g.name.value);
    // Dyadic has no signed zero; remember which codes are -0 so the tables keep the sign
    // (E2M1 code 8 decodes to -0.0, as IEEE and ml-dtypes decode it).
    let mut negative_zero = [false; 16];
    let mut base: Vec<Option<Dyadic>> = match (&g.element, &g.values) {
        (Some(name), None) => {
            let e = elements
                .iter()
                .find(|e| e.name == name.value)
                .ok_or_else(|| {
                    err(
                        file,
                        line_of(name),
                        &field("element"),
                        format!("unknown element `{}`", name.value),
                    )
                })?;
            if e.bits != 4 {
                return Err(err(
                    file,
                    line_of(name),
                    &field("element"),
                    format!("element `{}` has {} bits; grids need 4", e.name, e.bits),
                ));
            }
            for c in 0..16u32 {
                negative_zero[c as usize] = element_code_is_negative_zero(e, c);
            }
            (0..16).map(|c| element_code_value(e, c)).collect()
        }
        (None, Some(values)) => {
            if values.value.len() != 16 {
                return Err(err(
                    file,
                    line_of(values),
                    &field("values"),
                    format!(
                        "{} values given; a 4-bit grid has exactly 16",
                        values.value.len()
                    ),
                ));
            }
            let mut out = Vec::new();
            for (i, v) in values.value.iter().enumerate() {
                let bits = exact_f32(file, &format!("{}[{i}]", field("values")), v)?;
                let text = v.value.trim();
                negative_zero[i] = bits == 0
                    && (text.starts_with('-')
                        || text.trim_start_matches("f32:").trim_start_matches("0x") == "80000000");
                out.push(Some(Dyadic::from_f32_bits(bits)));
            }
            out
        }
        _ => {
            return Err(err(
                file,
                line_of(&g.name),
                &field("element"),
                "give exactly one of `element` and `values`",
            ))
        }
    };
    for &c in &g.invalid_codes {
        if c >= 16 {
            return Err(err(
                file,
                line_of(&g.name),
                &field("invalid_codes"),
                format!("code {c} is not a 4-bit code"),
            ));
        }
        base[c as usize] = None;
    }
    let mut derivation = match &g.element {
        Some(e) => format!("codes of {}", e.value),
        None => "explicit values".to_string(),
    };
    // factor, then offset.
    let mut rounded_factor: Option<(i64, i64)> = None;
    if let Some(f) = &g.factor {
        match parse_exact(&f.value, true).map_err(|m| err(file, line_of(f), &field("factor"), m))? {
            ExactValue::Dyadic(d) => {
                for v in base.iter_mut().flatten() {
                    *v = v.mul(d).ok_or_else(|| {
                        err(file, line_of(f), &field("factor"), "product overflows")
                    })?;
                }
            }
            ExactValue::Rational(p, q) => {
                let rounding = g.factor_rounding.as_ref().map(|s| s.value.as_str());
                if rounding != Some("rne-f32") {
                    return Err(err(file, line_of(f), &field("factor"), format!("`{}` is a rational: its products are not exact, so `factor_rounding: rne-f32` must say they are rounded once to f32", f.value)));
                }
                rounded_factor = Some((p, q));
            }
        }
        derivation.push_str(&format!(", times {}", f.value));
    }
    if let Some(o) = &g.offset {
        // x + c is +0 or c, never -0 (IEEE: -0 + 0 = +0).
        negative_zero = [false; 16];
        let bits = exact_f32(file, &field("offset"), o)?;
        let d = Dyadic::from_f32_bits(bits);
        for v in base.iter_mut().flatten() {
            *v = v.add(d).ok_or_else(|| {
                err(
                    file,
                    line_of(o),
                    &field("offset"),
                    "value + offset has too many significant bits to be exact",
                )
            })?;
        }
        derivation.push_str(&format!(", plus {}", o.value));
    }
    let mut values = [0u32; 16];
    let mut valid = 0u16;
    for (code, v) in base.iter().enumerate() {
        let Some(v) = v else { continue };
        let bits = match rounded_factor {
            Some((p, q)) => round_rational_to_f32(*v, p, q).ok_or_else(|| {
                err(
                    file,
                    line_of(&g.name),
                    &field("factor"),
                    format!("code {code}: value × factor rounds outside the normal f32 range"),
                )
            })?,
            None => v.to_f32_exact().ok_or_else(|| {
                err(
                    file,
                    line_of(&g.name),
                    &field("values"),
                    format!("code {code}: derived value is not exact in f32"),
                )
            })?,
        };
        values[code] = if bits == 0 && negative_zero[code] {
            0x8000_0000
        } else {
            bits
        };
        valid |= 1 << code;
    }
    // Duplicate values are allowed only as +0/-0 pairs or where an offset maps ±0 to one value
    // (E2M1 + c); any other duplicate wastes a code and is almost surely a typo.
    for a in 0..16 {
        for b in a + 1..16 {
            if valid & (1 << a) != 0
                && valid & (1 << b) != 0
                && f32::from_bits(values[a]) == f32::from_bits(values[b])
            {
                let zero_pair = a + 8 == b && a == 0;
                if !zero_pair {
                    return Err(err(
                        file,
                        line_of(&g.name),
                        &field("values"),
                        format!(
                            "codes {a} and {b} have the same value {}: duplicate code",
                            f32::from_bits(values[a])
                        ),
                    ));
                }
            }
        }
    }
    // The exact quantizer (`quant::exact`) holds midpoints of adjacent values and their
    // products with the scale in u128 mantissas, which is exact only while a grid's nonzero
    // magnitudes stay within a bounded range of each other: a grid holding 1.0 and 1e31
    // overflowed there (fuzz/regressions/spec). 2^32 is far beyond any 4-bit grid in use
    // (E2M1 spans 12×, NF4 13×, INT4 8×).
    let magnitudes = (0..16)
        .filter(|&c| valid & (1 << c) != 0)
        .map(|c| f32::from_bits(values[c]).abs())
        .filter(|&m| m > 0.0);
    let (lo, hi) = magnitudes.fold((f32::INFINITY, 0f32), |(lo, hi), m| (lo.min(m), hi.max(m)));
    if hi > 0.0 && (hi as f64) / (lo as f64) > (1u64 << 32) as f64 {
        return Err(err(
            file,
            line_of(&g.name),
            &field("values"),
            format!(
                "nonzero magnitudes range from {lo:e} to {hi:e}, more than 2^32 apart; a 4-bit grid this wide is not supported"
            ),
        ));
    }
    let target = match &g.target {
        Some(t) => exact_f32(file, &field("target"), t)?,
        None => {
            let mut best = 0u32;
            for (code, &v) in values.iter().enumerate() {
                if valid & (1 << code) != 0 && f32::from_bits(v).abs() > f32::from_bits(best).abs()
                {
                    best = v;
                }
            }
            f32::from_bits(best).abs().to_bits()
        }
    };
    if f32::from_bits(target) <= 0.0 {
        return Err(err(
            file,
            line_of(&g.name),
            &field("target"),
            "target must be positive",
        ));
    }
    let sign_magnitude = g.offset.is_none()
        && (0..8).all(|c| {
            valid & (1 << c) != 0
                && valid & (1 << (c + 8)) != 0
                && f32::from_bits(values[c + 8]) == -f32::from_bits(values[c])
                && f32::from_bits(values[c]) >= 0.0
        });
    Ok(ResolvedGrid {
        name: g.name.value.clone(),
        values,
        valid,
        target,
        ties: ties_name(file, &g.ties)?,
        sign_magnitude,
        derivation,
    })
}

/// Round v·p/q once to f32 (RNE), computed exactly with integers. None when the product
/// does not fit (integer overflow) or its rounded value is not zero or a finite normal f32:
/// rounding into the subnormal range would need a second rounding step at fewer bits, and
/// no 4-bit grid needs values there.
fn round_rational_to_f32(v: Dyadic, p: i64, q: i64) -> Option<u32> {
    if v.mantissa == 0 || p == 0 {
        return Some(0);
    }
    let negative = (v.mantissa < 0) != (p < 0);
    let num = v
        .mantissa
        .unsigned_abs()
        .checked_mul(u128::from(p.unsigned_abs()))?;
    let den = u128::try_from(q).ok()?;
    // value = num/den · 2^e. Scale num so the quotient has at least 26 bits, which needs
    // num·2^shift to stay inside u128: den < 2^63 and 2^26·den < 2^89 leave room.
    let mut shift = 0u32;
    while (num << shift) / den < (1 << 26) {
        if num.leading_zeros() <= shift + 1 {
            return None;
        }
        shift += 1;
    }
    let quotient = (num << shift) / den;
    let sticky = !(num << shift).is_multiple_of(den);
    let exponent = i64::from(v.exponent) - i64::from(shift);
    // Round quotient·2^exponent (+sticky) to 24 bits.
    let len = 128 - quotient.leading_zeros();
    let drop = len - 24;
    let kept = quotient >> drop;
    let round = (quotient >> (drop - 1)) & 1 == 1;
    let below = quotient & ((1 << (drop - 1)) - 1) != 0 || sticky;
    let mut m = kept + (round && (below || kept & 1 == 1)) as u128;
    let mut e = exponent + i64::from(drop);
    if m == 1 << 24 {
        m >>= 1;
        e += 1;
    }
    // m·2^e with 2^23 ≤ m < 2^24: a normal f32 iff -149 ≤ e ≤ 104.
    if !(-149..=104).contains(&e) {
        return None;
    }
    let f = ((m as f64) * pow2(e as i32)?) as f32;
    Some((if negative { -f } else { f }).to_bits())
}

/// Validate a parsed format file against the known elements.
pub fn resolve_format(
    file: &str,
    f: &FormatFile,
    elements: &[ResolvedElement],
) -> Result<ResolvedFormat, SpecError> {
    if f.provenance.value.trim().is_empty() {
        return Err(err(
            file,
            line_of(&f.provenance),
            "provenance",
            "must say where the values come from",
        ));
    }
    let group_size = f.group_size.value;
    if group_size == 0 || !group_size.is_multiple_of(2) || group_size > 4096 {
        return Err(err(
            file,
            line_of(&f.group_size),
            "group_size",
            format!("{group_size} must be even and in 2..=4096"),
        ));
    }
    let n = f.grids.value.len();
    if !(1..=4).contains(&n) {
        return Err(err(
            file,
            line_of(&f.grids),
            "grids",
            format!("{n} grids; a format has 1 to 4"),
        ));
    }
    let mut grids = Vec::new();
    for g in &f.grids.value {
        if grids.iter().any(|r: &ResolvedGrid| r.name == g.name.value) {
            return Err(err(
                file,
                line_of(&g.name),
                "grids[].name",
                format!("duplicate grid name `{}`", g.name.value),
            ));
        }
        grids.push(resolve_grid(file, g, elements)?);
    }
    let scale_el = elements
        .iter()
        .find(|e| e.name == f.scale.element.value)
        .ok_or_else(|| {
            err(
                file,
                line_of(&f.scale.element),
                "scale.element",
                format!("unknown element `{}`", f.scale.element.value),
            )
        })?;
    let scale_bytes = f.scale.bytes;
    // The 1-or-4 test comes first so the width product cannot overflow.
    if !(scale_bytes == 1 || scale_bytes == 4) || scale_bytes * 8 < scale_el.bits {
        return Err(err(
            file,
            line_of(&f.scale.element),
            "scale.bytes",
            format!(
                "{scale_bytes} bytes cannot hold `{}` ({} bits); use 1 or 4",
                scale_el.name, scale_el.bits
            ),
        ));
    }
    if scale_bytes == 4 && scale_el.bits != 32 {
        // The quantizer stores FP32 absmax patterns in 4-byte scales; any other element
        // there would be read back as something else.
        return Err(err(
            file,
            line_of(&f.scale.element),
            "scale.bytes",
            format!("4-byte scales must be `f32`, not `{}`", scale_el.name),
        ));
    }
    let width = scale_bytes * 8;
    let all_bits = if width == 32 {
        u32::MAX
    } else {
        (1u32 << width) - 1
    };
    let value_mask = f
        .scale
        .value_mask
        .as_ref()
        .map(|m| m.value)
        .unwrap_or(all_bits);
    if value_mask & !all_bits != 0 || value_mask == 0 {
        return Err(err(
            file,
            f.scale.value_mask.as_ref().and_then(line_of),
            "scale.value_mask",
            format!("{value_mask:#x} must be nonzero and fit in {scale_bytes} byte(s)"),
        ));
    }
    let sel_bits = &f.scale.selector_bits.value;
    let mut selector_mask = 0u32;
    for &b in sel_bits {
        if b >= width || selector_mask & (1 << b) != 0 {
            return Err(err(
                file,
                line_of(&f.scale.selector_bits),
                "scale.selector_bits",
                format!("bit {b} is out of the scale or repeated"),
            ));
        }
        selector_mask |= 1 << b;
    }
    if selector_mask & value_mask != 0 && !sel_bits.is_empty() {
        // The selector may share bits with the value only where hardware ignores them; we
        // require the value mask to exclude them so decode is unambiguous.
        return Err(err(
            file,
            line_of(&f.scale.selector_bits),
            "scale.selector_bits",
            "selector bits overlap `value_mask`",
        ));
    }
    if scale_bytes == 4 && !sel_bits.is_empty() {
        return Err(err(
            file,
            line_of(&f.scale.selector_bits),
            "scale.selector_bits",
            "f32 scales carry no selector bits",
        ));
    }
    // selector string → grid
    let mut map: BTreeMap<u32, u32> = BTreeMap::new();
    match &f.scale.selectors {
        Some(s) => {
            for (key, &grid) in &s.value {
                if key.len() != sel_bits.len() || !key.chars().all(|c| c == '0' || c == '1') {
                    return Err(err(
                        file,
                        line_of(s),
                        "scale.selectors",
                        format!("key `{key}` must be {} binary digits", sel_bits.len()),
                    ));
                }
                if grid as usize >= n {
                    return Err(err(
                        file,
                        line_of(s),
                        "scale.selectors",
                        format!("`{key}` names grid {grid}, but there are {n}"),
                    ));
                }
                let v = u32::from_str_radix(key, 2).unwrap_or(0);
                map.insert(v, grid);
            }
        }
        None => {
            if n > 1 && sel_bits.is_empty() {
                // Several candidates, no selector: they must decode identically (Four Over Six).
                for g in &grids[1..] {
                    if g.values != grids[0].values {
                        return Err(err(
                            file,
                            line_of(&f.grids),
                            "scale.selector_bits",
                            "several grids with different values need selector bits",
                        ));
                    }
                }
            } else {
                if (1usize << sel_bits.len()) < n {
                    return Err(err(
                        file,
                        line_of(&f.scale.selector_bits),
                        "scale.selector_bits",
                        format!("{} bits cannot select {n} grids", sel_bits.len()),
                    ));
                }
                for g in 0..n as u32 {
                    map.insert(g, g);
                }
            }
        }
    }
    for g in 0..n as u32 {
        if !sel_bits.is_empty() && !map.values().any(|&x| x == g) {
            return Err(err(
                file,
                line_of(&f.grids),
                "scale.selectors",
                format!("grid {g} has no selector value"),
            ));
        }
    }
    let mut selector_of_byte = Vec::new();
    let mut selector_bits_of_grid = vec![0u32; n];
    if scale_bytes == 1 {
        for byte in 0..256u32 {
            let mut v = 0;
            for &b in sel_bits {
                v = (v << 1) | ((byte >> b) & 1);
            }
            let grid = if sel_bits.is_empty() {
                Some(0)
            } else {
                map.get(&v).copied()
            };
            selector_of_byte.push(grid.map(|g| g as i8).unwrap_or(-1));
        }
        for (v, &g) in map.iter().rev() {
            let mut bits = 0;
            for (i, &b) in sel_bits.iter().enumerate() {
                if (v >> (sel_bits.len() - 1 - i)) & 1 == 1 {
                    bits |= 1 << b;
                }
            }
            selector_bits_of_grid[g as usize] = bits;
        }
    }
    let scale_max = match &f.scale.max {
        Some(m) => Some(exact_f32(file, "scale.max", m)?),
        None => None,
    };
    let scale_rounding = match f.scale.rounding.value.as_str() {
        "rne" => ScaleRule::Rne,
        "floor-pow2" => ScaleRule::FloorPow2,
        other => {
            return Err(err(
                file,
                line_of(&f.scale.rounding),
                "scale.rounding",
                format!("unknown `{other}` (expected rne, floor-pow2)"),
            ))
        }
    };
    let tensor_scale = match f.tensor_scale.value.as_str() {
        "f32" => true,
        "none" => false,
        other => {
            return Err(err(
                file,
                line_of(&f.tensor_scale),
                "tensor_scale",
                format!("unknown `{other}` (expected f32, none)"),
            ))
        }
    };
    // A per-tensor scale is defined (spec/README.md §4) only with 1-byte block scales rounded
    // by `rne`: the block scale is then amax / (target × tensor scale) and the decode product
    // grid × scale × tensor scale is at most 52 bits, exact in f64. With a 4-byte FP32 block
    // scale the product needs 72 bits, and `floor-pow2` (OCP MX) has no rule that involves a
    // tensor scale; both were once accepted and silently produced garbage, so they are refused.
    // `floor-pow2` writes the exponent as the scale code (code = e + bias), which is the
    // element's encoding of 2^e only for an unsigned exponent-only element such as UE8M0.
    if scale_rounding == ScaleRule::FloorPow2
        && (scale_el.is_int || scale_el.signed || scale_el.mantissa_bits != 0)
    {
        return Err(err(
            file,
            line_of(&f.scale.rounding),
            "scale.rounding",
            format!(
                "`floor-pow2` needs an unsigned power-of-two scale element (no sign, no \
                 mantissa, as ue8m0); `{}` is not one: use `rounding: rne`",
                scale_el.name
            ),
        ));
    }
    if tensor_scale && scale_bytes == 4 {
        return Err(err(
            file,
            line_of(&f.tensor_scale),
            "tensor_scale",
            "`tensor_scale: f32` with a 4-byte FP32 block scale (`scale.bytes: 4`) is not \
             supported: the semantics define a tensor scale only for 1-byte block scales; \
             use `tensor_scale: none`",
        ));
    }
    if tensor_scale && scale_rounding == ScaleRule::FloorPow2 {
        return Err(err(
            file,
            line_of(&f.tensor_scale),
            "tensor_scale",
            "`tensor_scale: f32` with `scale.rounding: floor-pow2` is not supported: OCP MX \
             power-of-two scales are defined without a tensor scale; use `tensor_scale: none` \
             or `scale.rounding: rne`",
        ));
    }
    let high_nibble_first = match f.nibble_order.value.as_str() {
        "low-first" => false,
        "high-first" => true,
        other => {
            return Err(err(
                file,
                line_of(&f.nibble_order),
                "nibble_order",
                format!("unknown `{other}` (expected low-first, high-first)"),
            ))
        }
    };
    Ok(ResolvedFormat {
        name: f.name.value.clone(),
        description: f.description.clone().unwrap_or_default(),
        group_size,
        grids,
        scale_element: scale_el.clone(),
        scale_bytes,
        value_mask,
        selector_mask,
        selector_of_byte,
        selector_bits_of_grid,
        scale_max,
        scale_rounding,
        tensor_scale,
        high_nibble_first,
        provenance: f.provenance.value.trim().to_string(),
    })
}

/// Parse and validate one element file.
pub fn load_element(file: &str, text: &str) -> Result<ResolvedElement, SpecError> {
    let parsed: ElementFile = parse_yaml(file, text)?;
    resolve_element(file, &parsed)
}

/// Parse and validate one format file against the known elements.
pub fn load_format(
    file: &str,
    text: &str,
    elements: &[ResolvedElement],
) -> Result<ResolvedFormat, SpecError> {
    let parsed: FormatFile = parse_yaml(file, text)?;
    resolve_format(file, &parsed, elements)
}
