//! Structural rules that would otherwise erode silently.
//!
//! * `autotests = false` means a new `tests/*.rs` file runs only if `tests/it.rs` declares
//!   it: every file must be declared, or its tests would never run.
//! * Library code has other front ends than the CLI (Python, C), so no library error text may
//!   name a CLI flag; errors name the option (``(option `pad`)``) and the CLI maps it.

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_test_file_is_a_module_of_the_one_binary() {
    let it = std::fs::read_to_string(root().join("tests/it.rs")).expect("tests/it.rs");
    let mut files = 0;
    for entry in std::fs::read_dir(root().join("tests")).expect("tests/") {
        let path = entry.expect("entry").path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_some_and(|e| e == "rs") && stem != "it" {
            files += 1;
            assert!(
                it.lines().any(|l| l.trim() == format!("mod {stem};")),
                "tests/{stem}.rs is not declared in tests/it.rs: its tests would never run"
            );
        }
    }
    assert!(files >= 19, "only {files} test modules found");
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `--name` inside a string literal on a non-comment line: a CLI flag.
fn flag_in_string(line: &str) -> Option<String> {
    let code = line.trim_start();
    if code.starts_with("//") {
        return None;
    }
    let mut in_string = false;
    let bytes = code.as_bytes();
    for i in 0..bytes.len() {
        match bytes[i] {
            b'"' if i == 0 || bytes[i - 1] != b'\\' => in_string = !in_string,
            b'-' if in_string
                && bytes.get(i + 1) == Some(&b'-')
                && bytes.get(i + 2).is_some_and(|c| c.is_ascii_lowercase())
                && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) =>
            {
                let end = code[i + 2..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                    .map_or(code.len(), |e| i + 2 + e);
                return Some(code[i..end].to_string());
            }
            _ => {}
        }
    }
    None
}

#[test]
fn library_errors_name_no_cli_flag() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let bin = root().join("src/bin");
    let mut found = Vec::new();
    for f in files.iter().filter(|f| !f.starts_with(&bin)) {
        let text = std::fs::read_to_string(f).expect("readable");
        for (n, line) in text.lines().enumerate() {
            if let Some(flag) = flag_in_string(line) {
                found.push(format!("{}:{}: {flag}", f.display(), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "library strings name CLI flags:\n{}",
        found.join("\n")
    );
    assert!(
        flag_in_string(r#"    "pass --pad to pad""#).is_some(),
        "the scanner finds a planted flag"
    );
}
