//! The spec language at run time: load an element or format YAML file that is not built in
//! (`gridgames --spec my-grid.yaml`). The parser and validator are the ones `build.rs` uses.

pub mod schema;
pub mod writer;

use crate::element::{Element, Kind, Specials};
use crate::format::{Format, Grid, ScaleRounding, Ties};
use crate::tables;
pub use schema::SpecError;

fn leak<T>(v: Vec<T>) -> &'static [T] {
    // Runtime specs live for the whole process (a CLI loads a handful); leaking keeps
    // `Format` a plain `Copy` struct shared with the no_std tables.
    Box::leak(v.into_boxed_slice())
}

fn leak_str(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// The built-in elements in the schema's resolved form (for validating runtime formats).
pub fn builtin_resolved_elements() -> Vec<schema::ResolvedElement> {
    tables::ELEMENTS.iter().map(resolved_of_element).collect()
}

fn resolved_of_element(e: &Element) -> schema::ResolvedElement {
    schema::ResolvedElement {
        name: e.name.to_string(),
        is_int: e.kind == Kind::Int,
        bits: e.bits,
        signed: e.signed,
        exponent_bits: e.exponent_bits,
        mantissa_bits: e.mantissa_bits,
        bias: e.bias,
        subnormals: e.subnormals,
        specials: match e.specials {
            Specials::None => schema::SpecialsRule::None,
            Specials::Ieee => schema::SpecialsRule::Ieee,
            Specials::NanAllOnes => schema::SpecialsRule::NanAllOnes,
        },
        provenance: String::new(),
    }
}

/// Turn a resolved element into the runtime type.
pub fn element_of_resolved(e: &schema::ResolvedElement) -> Element {
    Element {
        name: leak_str(&e.name),
        kind: if e.is_int { Kind::Int } else { Kind::Float },
        bits: e.bits,
        signed: e.signed,
        exponent_bits: e.exponent_bits,
        mantissa_bits: e.mantissa_bits,
        bias: e.bias,
        subnormals: e.subnormals,
        // Exhaustive: a new rule in the schema is a compile error here, not a wrong number.
        specials: match e.specials {
            schema::SpecialsRule::None => Specials::None,
            schema::SpecialsRule::Ieee => Specials::Ieee,
            schema::SpecialsRule::NanAllOnes => Specials::NanAllOnes,
        },
    }
}

fn ties_of(rule: schema::TieRule) -> Ties {
    match rule {
        schema::TieRule::EvenCode => Ties::EvenCode,
        schema::TieRule::LowerIndex => Ties::LowerIndex,
        schema::TieRule::TowardZero => Ties::TowardZero,
        schema::TieRule::AwayFromZero => Ties::AwayFromZero,
    }
}

/// Turn a resolved format into the runtime type.
pub fn format_of_resolved(f: &schema::ResolvedFormat, file: &str, sha256: &str) -> Format {
    let grids: Vec<Grid> = f
        .grids
        .iter()
        .map(|g| Grid {
            name: leak_str(&g.name),
            values: g.values,
            valid: g.valid,
            target: g.target,
            ties: ties_of(g.ties),
            sign_magnitude: g.sign_magnitude,
            derivation: leak_str(&g.derivation),
        })
        .collect();
    let scale_element = element_of_resolved(&f.scale_element);
    Format {
        name: leak_str(&f.name),
        description: leak_str(&f.description),
        group_size: f.group_size,
        grids: leak(grids),
        scale_element,
        scale_bytes: f.scale_bytes,
        value_mask: f.value_mask,
        selector_mask: f.selector_mask,
        selector_of_byte: leak(f.selector_of_byte.clone()),
        selector_bits_of_grid: leak(f.selector_bits_of_grid.clone()),
        scale_max: f.scale_max,
        scale_rounding: match f.scale_rounding {
            schema::ScaleRule::Rne => ScaleRounding::Rne,
            schema::ScaleRule::FloorPow2 => ScaleRounding::FloorPow2,
        },
        tensor_scale: f.tensor_scale,
        high_nibble_first: f.high_nibble_first,
        provenance: leak_str(&f.provenance),
        spec_file: leak_str(file),
        spec_sha256: leak_str(sha256),
    }
}

/// SHA-256 of a spec text, lowercase hex (as in the generated header).
pub fn sha256_hex(text: &str) -> String {
    crate::fsio::sha256_hex(text.as_bytes())
}

/// Load a format spec from YAML text against the built-in elements.
pub fn load_format_text(file: &str, text: &str) -> Result<Format, SpecError> {
    let elements = builtin_resolved_elements();
    let resolved = schema::load_format(file, text, &elements)?;
    Ok(format_of_resolved(&resolved, file, &sha256_hex(text)))
}

/// Load a format spec file from disk.
pub fn load_format_file(path: &std::path::Path) -> Result<Format, SpecError> {
    let file = path.display().to_string();
    // Bounded like every other read: a spec path could name a device or a huge file.
    let text = crate::fsio::read_text_capped(path, crate::fsio::MAX_SPEC_BYTES).map_err(|e| {
        SpecError {
            file: file.clone(),
            line: None,
            field: "(file)".into(),
            message: match e {
                crate::fsio::FileError::Io { message, .. } => message,
                other => other.to_string(),
            },
        }
    })?;
    load_format_text(&file, &text)
}

/// A format by name (built in) or by path (a `.yaml` file).
pub fn resolve_format(name_or_path: &str) -> Result<Format, String> {
    if let Some(f) = tables::format(name_or_path) {
        return Ok(*f);
    }
    if name_or_path.ends_with(".yaml") || name_or_path.ends_with(".yml") {
        return load_format_file(std::path::Path::new(name_or_path)).map_err(|e| e.to_string());
    }
    let known: Vec<&str> = tables::FORMATS.iter().map(|f| f.name).collect();
    Err(format!(
        "unknown format `{name_or_path}` (built in: {}; or give a path to a .yaml spec)",
        known.join(", ")
    ))
}
