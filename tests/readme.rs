//! The README cannot drift: every command in its fenced `sh` blocks runs here with the
//! binary of this build, and committed docs and scripts hold no machine-specific paths.
//!
//! Commands run in a fresh directory holding the inputs the README names (`in.npy`,
//! `weights.safetensors` with `layer.weight`), with `spec/` and `vectors/` linked in from the
//! repository. `cargo run --release -- demo` runs as `gridgames demo` (the same binary);
//! `bash scripts/test.sh` is the command that runs this test, so it is reported as SKIP (with
//! the reason) instead of recursing; a `pip install` line is run by scripts/test.sh itself.
use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `sh` fenced blocks of a Markdown file, one command per non-comment line (a trailing
/// `# comment` removed).
fn commands(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in markdown.lines() {
        let t = line.trim_start();
        if t.starts_with("```") {
            inside = !inside && t.trim_start_matches('`').trim() == "sh";
            continue;
        }
        if !inside || t.is_empty() || t.starts_with('#') {
            continue;
        }
        let cmd = match t.find(" # ") {
            Some(i) => &t[..i],
            None => t,
        };
        out.push(cmd.trim().to_string());
    }
    out
}

fn npy_f32(shape: &[usize], values: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(header.len() as u16).to_le_bytes());
    b.extend_from_slice(header.as_bytes());
    for v in values {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b
}

fn values(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 % 1000) as f32 - 500.0) / 97.0)
        .collect()
}

fn workdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("gridgames-readme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("in.npy"), npy_f32(&[4, 64], &values(256))).unwrap();
    let data: Vec<u8> = values(8 * 64)
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![8, 64], &data).unwrap();
    let bytes = safetensors::serialize([("layer.weight", view)], None).unwrap();
    std::fs::write(d.join("weights.safetensors"), bytes).unwrap();
    #[cfg(unix)]
    for link in ["spec", "vectors"] {
        std::os::unix::fs::symlink(root().join(link), d.join(link)).unwrap();
    }
    d
}

#[cfg(unix)]
#[test]
fn every_readme_command_runs() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let cmds = commands(&readme);
    assert!(cmds.len() >= 10, "found only {cmds:?}");
    let dir = workdir();
    let mut ran = 0;
    for cmd in &cmds {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let args: Vec<&str> = match words.as_slice() {
            ["gridgames", rest @ ..] => rest.to_vec(),
            ["cargo", "run", "--release", "--", rest @ ..] => rest.to_vec(),
            ["bash", "scripts/test.sh"] => {
                support::skip(
                    "readme::every_readme_command_runs",
                    &format!("`{cmd}` is the command running this test"),
                );
                continue;
            }
            ["pip", "install", ..] | ["python", ..] | ["python3", ..] => {
                support::skip(
                    "readme::every_readme_command_runs",
                    &format!("`{cmd}` is run by scripts/test.sh (Python lane)"),
                );
                continue;
            }
            _ => panic!("README command `{cmd}` is not one this test knows how to run"),
        };
        let out = Command::new(env!("CARGO_BIN_EXE_gridgames"))
            .args(&args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "README command `{cmd}` failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ran >= 10, "ran {ran} README commands");
}

/// Absolute paths of one machine (a virtualenv, a temp file, a home directory) make a
/// committed document wrong everywhere else.
#[test]
fn no_machine_specific_paths_in_committed_text() {
    let out = Command::new("git")
        .args(["ls-files"])
        .current_dir(root())
        .output();
    let Some(out) = out.ok().filter(|o| o.status.success()) else {
        panic!("git ls-files failed: this check needs a git checkout");
    };
    let files = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut bad = Vec::new();
    for f in files.lines() {
        let checked = [".md", ".py", ".sh", ".yaml", ".toml", ".txt"];
        let in_scope = f.starts_with("docs/")
            || f.starts_with("scripts/")
            || f.starts_with("benches/")
            || f.starts_with("gpu/")
            || f.starts_with("examples/")
            || f.starts_with(".ci/")
            || f.starts_with("spec/")
            || !f.contains('/');
        if !in_scope || !checked.iter().any(|e| f.ends_with(e)) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root().join(f)) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            for pat in ["/work/", "/tmp/", "/root/", "/home/", "peers-venv/"] {
                if line.contains(pat) {
                    bad.push(format!("{f}:{}: {}", i + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "machine-specific paths:\n{}",
        bad.join("\n")
    );
}
