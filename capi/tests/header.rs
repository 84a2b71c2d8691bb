//! The checked-in C header is what cbindgen generates from `src/lib.rs`. Needs the `cbindgen`
//! CLI (`cargo install cbindgen`); where it is missing the test records a SKIP that
//! scripts/test.sh reports (and fails under GRIDGAMES_NO_SKIP=1).

#[path = "../../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;

#[test]
fn checked_in_header_is_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::temp_dir().join(format!("gridgames-header-{}.h", std::process::id()));
    let status = Command::new("cbindgen")
        .arg("--config")
        .arg(dir.join("cbindgen.toml"))
        .arg("--crate")
        .arg("gridgames-capi")
        .arg("--output")
        .arg(&out)
        .arg(dir)
        .status();
    let Ok(status) = status else {
        support::skip(
            "capi::header::checked_in_header_is_up_to_date",
            "cbindgen not installed: header freshness not checked",
        );
        return;
    };
    assert!(status.success(), "cbindgen failed");
    let fresh = std::fs::read_to_string(&out).expect("cbindgen output");
    let _ = std::fs::remove_file(&out);
    let checked_in =
        std::fs::read_to_string(dir.join("include/gridgames.h")).expect("checked-in header");
    assert!(
        fresh == checked_in,
        "capi/include/gridgames.h is stale: regenerate with `cbindgen --config capi/cbindgen.toml --crate gridgames-capi --output capi/include/gridgames.h capi`"
    );
}
