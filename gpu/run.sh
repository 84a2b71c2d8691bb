#!/usr/bin/env bash
# Hopper hardware check of the MMA emulator.
#
#   gpu/run.sh [OUTDIR]        on a machine with a Hopper GPU and nvcc: build gpu/mma_probe.cu
#                              for sm_90a, record the SASS of the MMA instructions, run the
#                              probe (>= 10^5 cases per instruction plus an SFP4 x NVFP4 GEMM),
#                              compress the case files into OUTDIR (default gpu/out), and, when
#                              cargo is there too, check them (as --check does).
#   gpu/run.sh --check DIR     check DIR/*.txt.xz (or *.txt) with `gridgames mma --cases` and
#                              print the summary (cases, mismatches, GPU, driver).
set -euo pipefail
cd "$(dirname "$0")/.."

check() {
  local dir=$1
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
  cargo build -q --release --bin gridgames
  local bin=$CARGO_TARGET_DIR/release/gridgames
  echo "== hardware summary"
  grep -h -E '^(gpu|driver|nvcc|layout)' "$dir"/probe_summary.txt || true
  local status=0
  for f in "$dir"/*.txt.xz "$dir"/*.txt; do
    [ -e "$f" ] || continue
    case $f in *probe_summary.txt|*sass*) continue;; esac
    local plain=$f
    if [[ $f == *.xz ]]; then plain=${TMPDIR:-/tmp}/$(basename "${f%.xz}"); xz -dc "$f" > "$plain"; fi
    "$bin" mma --cases "$plain" --max-report 5 | tail -n 3 || status=1
  done
  return $status
}

if [[ ${1:-} == --check ]]; then
  check "${2:?usage: gpu/run.sh --check DIR}"
  exit $?
fi

OUTDIR=${1:-gpu/out}
mkdir -p "$OUTDIR"
BUILD=${TMPDIR:-/tmp}/gridgames-gpu
mkdir -p "$BUILD"
{
  echo "driver: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
  echo "nvcc: $(nvcc --version | tail -n 1)"
} | tee "$BUILD/env.txt"
nvcc -O2 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o "$BUILD/mma_probe" gpu/mma_probe.cu
# Which tensor-core instructions each kernel became (is e4m3 mma.sync an FP8 MMA at all?).
cuobjdump -sass "$BUILD/mma_probe" | awk '/Function :/ {fn=$3} /MMA|GMMA|F2FP|I2F|HADD2|PRMT/ {print fn ": " $2 " " $3}' \
  | sed 's/;//' | sort | uniq -c > "$OUTDIR/sass_mma.txt" || true
cat "$OUTDIR/sass_mma.txt"
"$BUILD/mma_probe" "$BUILD" "${TILES:-800}" "${SEED:-1}"
cat "$BUILD/env.txt" "$BUILD/probe_summary.txt" > "$OUTDIR/probe_summary.txt"
for f in "$BUILD"/hopper_*.txt; do xz -T0 -9 -c "$f" > "$OUTDIR/$(basename "$f").xz"; done
ls -la "$OUTDIR"
if command -v cargo >/dev/null 2>&1; then
  check "$OUTDIR"
else
  echo "cargo is not on this machine: bring $OUTDIR back and run gpu/run.sh --check $OUTDIR"
fi
