//! A malformed spec gets an error naming the file, the line and the field. The fixtures in
//! `tests/data/bad_specs/` each break one rule; the Display strings are pinned with insta.
//!
//! build.rs calls `schema::load_format` with the elements it parsed from `spec/elements/`; the
//! runtime path (`spec::load_format_text`) calls it with the built-in elements. Both are run
//! here and must give the same message, so a broken spec file reads the same in a failed build
//! as in `gridgames --spec`.

use std::path::Path;

use gridgames::spec::load_format_text;
use gridgames::spec::schema::{self, ResolvedElement, SpecError};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The elements exactly as build.rs loads them (from the spec files, sorted).
fn build_script_elements() -> Vec<ResolvedElement> {
    let mut paths: Vec<_> = std::fs::read_dir(root().join("spec/elements"))
        .expect("spec/elements")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let rel = format!(
                "spec/elements/{}",
                p.file_name().expect("name").to_string_lossy()
            );
            let text = std::fs::read_to_string(p).expect("element spec");
            schema::load_element(&rel, &text).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

/// Load a fixture both ways; it must fail, the same way, naming the file, a line and `field`.
fn bad(fixture: &str, field: &str) -> String {
    let rel = format!("tests/data/bad_specs/{fixture}.yaml");
    let text = std::fs::read_to_string(root().join(&rel)).expect("fixture");
    let err: SpecError = match load_format_text(&rel, &text) {
        Ok(f) => panic!("{rel}: accepted (format {})", f.name),
        Err(e) => e,
    };
    assert_eq!(err.file, rel, "error names the file");
    assert!(err.line.is_some(), "{rel}: no line in {err}");
    assert!(
        err.field.contains(field),
        "{rel}: field `{}` should name `{field}` ({err})",
        err.field
    );
    let message = err.to_string();
    assert!(message.starts_with(&format!("{rel}:{}:", err.line.unwrap_or(0))));
    let via_build = schema::load_format(&rel, &text, &build_script_elements())
        .expect_err("build-script path accepts what the runtime path refuses");
    assert_eq!(
        via_build.to_string(),
        message,
        "build.rs path, same message"
    );
    message
}

#[test]
fn inexact_value() {
    let m = bad("inexact_value", "values[1]");
    assert!(m.contains(":5:"), "{m}");
    insta::assert_snapshot!("inexact_value", m);
}

#[test]
fn duplicate_code() {
    insta::assert_snapshot!("duplicate_code", bad("duplicate_code", "values"));
}

#[test]
fn missing_field() {
    insta::assert_snapshot!("missing_field", bad("missing_field", "group_size"));
    let m = bad("missing_grid_field", "ties");
    assert!(m.contains("ties"), "{m}");
    insta::assert_snapshot!("missing_grid_field", m);
}

#[test]
fn unknown_key() {
    let m = bad("unknown_key", "colour");
    assert!(m.contains("colour"), "{m}");
    insta::assert_snapshot!("unknown_key", m);
}

#[test]
fn unknown_element() {
    let m = bad("unknown_element", "grids[g].element");
    assert!(m.contains(":5:") && m.contains("e9m9"), "{m}");
    insta::assert_snapshot!("unknown_element", m);
    let m = bad("unknown_scale_element", "scale.element");
    assert!(m.contains("ue5m3"), "{m}");
    insta::assert_snapshot!("unknown_scale_element", m);
}

#[test]
fn bad_tie_rule() {
    let m = bad("bad_tie_rule", "ties");
    assert!(m.contains(":6:") && m.contains("nearest-ish"), "{m}");
    insta::assert_snapshot!("bad_tie_rule", m);
}

#[test]
fn wrong_value_count() {
    let m = bad("wrong_value_count", "values");
    assert!(m.contains("15"), "{m}");
    insta::assert_snapshot!("wrong_value_count", m);
}

#[test]
fn selector_overlap() {
    let m = bad("selector_overlap", "scale.selector_bits");
    assert!(m.contains("value_mask"), "{m}");
    insta::assert_snapshot!("selector_overlap", m);
}

#[test]
fn rational_factor_without_rounding() {
    let m = bad("rational_factor", "factor");
    assert!(m.contains(":6:") && m.contains("factor_rounding"), "{m}");
    insta::assert_snapshot!("rational_factor", m);
}

#[test]
fn not_yaml() {
    insta::assert_snapshot!("not_yaml", bad("not_yaml", "(yaml syntax)"));
}

/// Combinations the quantizer has no semantics for are refused at load time (they were once
/// accepted and decoded N(0,1) data to ~1e-38).
#[test]
fn tensor_scale_combinations() {
    insta::assert_snapshot!(
        "fp32_scale_with_tensor_scale",
        bad("fp32_scale_with_tensor_scale", "tensor_scale")
    );
    insta::assert_snapshot!(
        "floor_pow2_with_tensor_scale",
        bad("floor_pow2_with_tensor_scale", "tensor_scale")
    );
    insta::assert_snapshot!(
        "floor_pow2_with_mantissa",
        bad("floor_pow2_with_mantissa", "scale.rounding")
    );
}

/// Every fixture in the directory is exercised by a test above (a new one cannot be forgotten).
#[test]
fn every_fixture_is_tested() {
    let mut names: Vec<String> = std::fs::read_dir(root().join("tests/data/bad_specs"))
        .expect("fixtures")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "bad_tie_rule.yaml",
            "duplicate_code.yaml",
            "floor_pow2_with_mantissa.yaml",
            "floor_pow2_with_tensor_scale.yaml",
            "fp32_scale_with_tensor_scale.yaml",
            "inexact_value.yaml",
            "missing_field.yaml",
            "missing_grid_field.yaml",
            "not_yaml.yaml",
            "rational_factor.yaml",
            "selector_overlap.yaml",
            "unknown_element.yaml",
            "unknown_key.yaml",
            "unknown_scale_element.yaml",
            "wrong_value_count.yaml",
        ]
    );
}

/// Element specs go through the same error type.
#[test]
fn bad_element_spec() {
    let text = "name: e3m3\nkind: float\nbits: 8\nsigned: true\nexponent_bits: 3\nmantissa_bits: 3\nbias: 3\nprovenance: test\n";
    let err = schema::load_element("spec/elements/e3m3.yaml", text).expect_err("7 != 8 bits");
    assert_eq!(err.line, Some(3));
    insta::assert_snapshot!("element_bits", err.to_string());
    let text = "name: e2m1\nkind: floaty\nbits: 4\nsigned: true\nprovenance: test\n";
    let err = schema::load_element("spec/elements/e2m1.yaml", text).expect_err("kind");
    assert_eq!((err.line, err.field.as_str()), (Some(2), "kind"));
    insta::assert_snapshot!("element_kind", err.to_string());
}
