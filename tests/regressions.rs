//! Every input that ever made a fuzz target fail, replayed through the same check the
//! target runs (`fuzz/src/lib.rs`, included here so the two cannot drift apart).
//!
//! Inputs live in `fuzz/regressions/<target>/<name>`; `fuzz/regressions/README.md` has one
//! line per input with its root cause and the fix. A new crash: copy the artifact there,
//! add its line, and this test fails until the library is fixed.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod harness;

use std::path::Path;

fn target(name: &str) -> Option<fn(&[u8])> {
    Some(match name {
        "decode" => harness::decode,
        "quantize" => harness::quantize,
        "element" => harness::element,
        "npy" => harness::npy,
        "safetensors" => harness::safetensors,
        "spec" => harness::spec,
        "mma_cases" => harness::mma_cases,
        "mma_dot" => harness::mma_dot,
        "vectors" => harness::vectors,
        _ => return None,
    })
}

#[test]
fn every_checked_in_crash_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap_or_default();
    let mut replayed = 0;
    let Ok(dirs) = std::fs::read_dir(&root) else {
        return;
    };
    let mut dirs: Vec<_> = dirs.map(|d| d.unwrap().path()).collect();
    dirs.sort();
    for dir in dirs.into_iter().filter(|d| d.is_dir()) {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let run =
            target(&name).unwrap_or_else(|| panic!("fuzz/regressions/{name}: no such target"));
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|f| f.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let file = f.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                readme.contains(&format!("{name}/{file}")),
                "fuzz/regressions/{name}/{file} has no root-cause line in fuzz/regressions/README.md"
            );
            let data = std::fs::read(&f).unwrap();
            let r = std::panic::catch_unwind(|| run(&data));
            assert!(r.is_ok(), "fuzz/regressions/{name}/{file} fails again");
            replayed += 1;
        }
    }
    eprintln!("{replayed} regression inputs replayed");
}
