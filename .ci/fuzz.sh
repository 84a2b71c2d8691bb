#!/usr/bin/env bash
# Fuzz lane: every target in fuzz/ for FUZZ_SECONDS (default 60) on stable Rust, without a
# sanitizer (none is stable for libFuzzer builds; the targets run with overflow checks and
# debug assertions on instead, see fuzz/Cargo.toml).
#
# Two ways to build, same flags:
#   default              plain `cargo build` of fuzz/ with the instrumentation flags that
#                        `cargo fuzz build --sanitizer none` passes (copied from cargo-fuzz
#                        0.13.2, src/project.rs), then each target binary run directly.
#   FUZZ_CARGO_FUZZ=1    `cargo fuzz run <t> --sanitizer none`, installing cargo-fuzz with
#                        `cargo install cargo-fuzz --locked` when missing. That install took
#                        5 min 50 s on the 2-core development machine (under load), which
#                        with 9 targets × 60 s and the build breaks the ~15 min budget, so it
#                        is not the default.
# A crash fails the lane and leaves the input under fuzz/artifacts/<target>/: add it to
# fuzz/regressions/<target>/ with its root cause (see fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${FUZZ_SECONDS:-60}"
# One target per file in fuzz/fuzz_targets/ (each is a [[bin]] of fuzz/Cargo.toml).
targets=$(for f in fuzz/fuzz_targets/*.rs; do basename "$f" .rs; done)
triple=$(rustc -vV | sed -n 's/^host: //p')
start=$(date +%s)

echo "== seed corpora (fuzz/seed_corpora.py)"
python3 fuzz/seed_corpora.py

if [ "${FUZZ_CARGO_FUZZ:-0}" = 1 ]; then
    if ! cargo fuzz --version >/dev/null 2>&1; then
        t0=$(date +%s)
        cargo install cargo-fuzz --locked
        echo "(cargo install cargo-fuzz took $(( $(date +%s) - t0 )) s)"
    fi
    for t in $targets; do
        echo "== cargo fuzz run $t (${secs} s)"
        cargo fuzz run "$t" --sanitizer none -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10
    done
else
    echo "== build fuzz targets (plain cargo build, libFuzzer instrumentation)"
    export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing \
-Cllvm-args=-simplifycfg-branch-fold-threshold=0 -Cllvm-args=-sanitizer-coverage-stack-depth \
-Ccodegen-units=1"
    # Its own target dir: these flags must not mix with the normal build's artifacts.
    tdir="${FUZZ_TARGET_DIR:-fuzz/target}"
    cargo build --manifest-path fuzz/Cargo.toml --release --locked --target "$triple" \
        --target-dir "$tdir" --bins
    mkdir -p fuzz/artifacts
    for t in $targets; do
        echo "== $t (${secs} s)"
        mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
        "$tdir/$triple/release/$t" "fuzz/corpus/$t" \
            -artifact_prefix="fuzz/artifacts/$t/" -max_total_time="$secs" \
            -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>&1 | tail -n 20
    done
fi
echo "fuzz lane: OK ($(( $(date +%s) - start )) s)"
