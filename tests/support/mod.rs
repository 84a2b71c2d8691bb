//! Helpers shared by the integration tests (included with `mod support;` or `#[path]`).

/// Record that a test could not run its check here. Cargo hides the output of passing tests,
/// so the reason also goes to `$GRIDGAMES_SKIP_LOG` when set: `scripts/test.sh` sets it and
/// prints every SKIP line, with their count, at the end of the run. With `GRIDGAMES_NO_SKIP=1`
/// a skip is a failure.
#[allow(dead_code)]
pub fn skip(test: &str, why: &str) {
    let line = format!("SKIP {test}: {why}");
    assert!(
        std::env::var("GRIDGAMES_NO_SKIP").as_deref() != Ok("1"),
        "{line} (GRIDGAMES_NO_SKIP=1)"
    );
    eprintln!("{line}");
    if let Ok(path) = std::env::var("GRIDGAMES_SKIP_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}
