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
        "spec_quality" => harness::spec_quality,
        _ => return None,
    })
}

#[test]
fn every_checked_in_crash_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap_or_default();
    let mut replayed = 0;
    let dirs = std::fs::read_dir(&root).expect("fuzz/regressions/ exists");
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
    // An empty or unreadable directory must not pass as "nothing failed".
    assert!(replayed > 0, "no regression input was replayed");
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(
        std::env::var("GRIDGAMES_SPEC_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
    ))]
    /// No spec the loader accepts quantizes garbage (issue: a 4-byte scale or floor-pow2
    /// with a tensor scale decoded N(0,1) data to ~1e-38). Same check as the fuzz target.
    #[test]
    fn every_accepted_random_spec_quantizes_sensibly(bytes in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..48)) {
        harness::spec_quality(&bytes);
    }
}

/// The generator reaches the loader's acceptance and refusal on every scale kind, so the
/// property above is not vacuous.
#[test]
fn random_specs_cover_the_schema() {
    let mut accepted = std::collections::BTreeSet::new();
    let mut refused = 0;
    for seed in 0u32..4000 {
        let bytes: Vec<u8> = (0..48u32)
            .map(|i| {
                (seed
                    .wrapping_mul(2654435761)
                    .wrapping_add(i.wrapping_mul(40503))
                    >> 13) as u8
            })
            .collect();
        let text = harness::random_format_spec(&bytes);
        match gridgames::spec::load_format_text("x.yaml", &text) {
            Ok(f) => {
                accepted.insert((
                    f.scale_element.name,
                    f.grids.len(),
                    f.tensor_scale,
                    format!("{:?}", f.scale_rounding),
                ));
            }
            Err(_) => refused += 1,
        }
    }
    eprintln!(
        "random specs: {} accepted combinations, {refused} refused",
        accepted.len()
    );
    for want in ["ue4m3", "ue8m0", "f32"] {
        assert!(
            accepted.iter().any(|a| a.0 == want),
            "no accepted spec with a {want} scale: {accepted:?}"
        );
    }
    assert!(
        accepted.iter().any(|a| a.1 == 4) && accepted.iter().any(|a| a.2),
        "{accepted:?}"
    );
    assert!(refused > 0);
}
