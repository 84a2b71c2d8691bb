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

cargo test --release --all-targets

# Every SIMD backend, forced, against the scalar oracle (only where the tests exist).
if [ -f tests/simd_equal.rs ]; then
    for path in scalar portable avx2 avx512; do
        echo "== SIMD equality tests, GRIDGAMES_SIMD=$path"
        GRIDGAMES_SIMD=$path cargo test --release --test simd_equal
    done
fi

# Golden vectors, the C example and the Python checker.
if [ -f .ci/vectors.sh ]; then
    bash .ci/vectors.sh
fi
