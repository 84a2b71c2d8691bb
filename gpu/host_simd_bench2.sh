#!/usr/bin/env bash
# Second, steadier pass of gpu/host_simd_bench.sh on the device host (same carried binaries):
# each configuration pinned to one core (taskset -c 3), best of 25, and the two builds run
# alternately three times, so a disturbance shows as a spread instead of a wrong ratio.
#   bash gpu/host_simd_bench2.sh > gpu/results/h200host_simd_quantize_pinned.txt
set -u
work=$(mktemp -d)
mkdir -p "$work/devbin" && for b in bench bench_prev; do xz -dc target/devxz/$b.xz > "$work/devbin/$b" && chmod +x "$work/devbin/$b"; done
date -u; uptime
python3 -c "import numpy as np; np.random.default_rng(1).standard_normal(1 << 22).astype('<f4').tofile('$work/x4m.f32')"
rate() { taskset -c 3 "$@" | sed 's/.*"values_per_s": \([0-9.e+]*\).*/\1/' | awk '{printf "%.3e", $1}'; }
printf '%-12s %-7s %-34s %-34s\n' format backend "this build (3 runs)" "previous build (3 runs)"
for f in nvfp4 mxfp4 po2-nf4 sfp4 mixfp4; do
  for b in avx2 avx512; do
    new=""; old=""
    for k in 1 2 3; do
      new="$new $(rate $work/devbin/bench "$work/x4m.f32" quantize $f $b 1 25)"
      old="$old $(rate $work/devbin/bench_prev "$work/x4m.f32" quantize $f $b 1 25)"
    done
    printf '%-12s %-7s %-34s %-34s\n' "$f" "$b" "$new" "$old"
  done
done
