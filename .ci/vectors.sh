#!/usr/bin/env bash
# Golden-vector lane: regenerate-and-compare, the C decoder example, the Python checker.
# Works from a clean clone: needs cargo, a C compiler (cc) and python3 (numpy is installed
# into .venv-ci when the python at hand lacks it).
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
out="$target/ci-vectors"
mkdir -p "$out"

echo "== gridgames vectors generate --check"
cargo build --release --locked -p gridgames --bin gridgames
start=$(date +%s)
"$target/release/gridgames" vectors generate --check
echo "(check took $(( $(date +%s) - start )) s)"

echo "== spec/mma/README.md: the PTX instruction table matches the registry"
python3 scripts/mma_table.py --check --gridgames "$target/release/gridgames"

echo "== C: libgridgames_capi (no_std decode path) + examples/c/decode_vectors.c"
# Built on its own so gridgames keeps default-features = false (no std) inside the library.
cargo build --release --locked -p gridgames-capi
cc -O2 -Wall -Wextra -Werror -std=c11 -Icapi/include examples/c/decode_vectors.c \
    "$target/release/libgridgames_capi.a" -lpthread -ldl -lm -o "$out/decode_vectors"
"$out/decode_vectors" vectors/*/decode.txt

echo "== Python: examples/python/check_vectors.py (numpy only)"
py="${PYTHON:-python3}"
if ! "$py" -c 'import numpy' 2>/dev/null; then
    if [ ! -x .venv-ci/bin/python ]; then
        "$py" -m venv .venv-ci
        .venv-ci/bin/python -m pip install --quiet "numpy>=2.0"
    fi
    py=.venv-ci/bin/python
fi
"$py" examples/python/check_vectors.py vectors

if command -v cbindgen >/dev/null 2>&1; then
    echo "== capi header up to date (cbindgen found)"
    cbindgen --config capi/cbindgen.toml --crate gridgames-capi --output "$out/gridgames.h" capi
    diff -u capi/include/gridgames.h "$out/gridgames.h"
fi
echo "vectors lane: OK"
