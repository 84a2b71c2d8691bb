#!/usr/bin/env bash
# The block kernel's changes of 2026-12-01 (session 6: mirror pairs, phase A in the amax scan,
# prefetching scans) on the device host's CPUs (not the GPU): this VM has AVX2 only, the device
# host AVX-512, so this is where the AVX-512 backend is tested and timed. Binaries built and
# carried as for gpu/host_simd_bench.sh (target/devxz/{it,bench,bench_prev}.xz; bench_prev is
# the example built from the commit before these changes), run from the repository root:
#   bash gpu/host_simd_bench3.sh > gpu/results/h200host_simd_session6.txt
# Equality first (every simd_equal test, every backend this CPU has), then quantize-fresh
# (a new tensor scale each call, as benches/peers/time_peers.py times it) pinned to one core,
# best of 9 (4 Mi values) or 101 (64 Ki values), the two builds alternated three times.
set -u
work=$(mktemp -d)
mkdir -p "$work/devbin" && for b in it bench bench_prev; do xz -dc target/devxz/$b.xz > "$work/devbin/$b" && chmod +x "$work/devbin/$b"; done
date -u; nproc; lscpu | grep -E "Model name" | head -1
grep -o 'avx512[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' '; echo
echo "== equality with the scalar oracle on every backend of this CPU (simd_equal)"
"$work"/devbin/it simd_equal --test-threads 16 2>&1 | grep -E "^test |test result|panicked|differs" | tail -20
WORK="$work" python3 - <<'PY'
import os
import numpy as np
work = os.environ['WORK']
np.random.default_rng(1).standard_normal(1 << 22).astype('<f4').tofile(f'{work}/x4m.f32')
np.random.default_rng(1).standard_normal(1 << 16).astype('<f4').tofile(f'{work}/x64k.f32')
PY
rate() { taskset -c 3 "$@" | sed 's/.*"values_per_s": \([0-9.e+]*\).*/\1/' | awk '{printf "%.3e", $1}'; }
uptime
printf '%-12s %-7s %-6s %-34s %-34s\n' format backend size "this build (3 runs)" "previous build (3 runs)"
for f in nvfp4 mxfp4 po2-nf4 sfp4 mixfp4; do
  for b in avx2 avx512; do
    for size in 4m 64k; do
      reps=9; [ $size = 64k ] && reps=101
      new=""; old=""
      for k in 1 2 3; do
        new="$new $(rate $work/devbin/bench "$work/x$size.f32" quantize-fresh $f $b 1 $reps)"
        old="$old $(rate $work/devbin/bench_prev "$work/x$size.f32" quantize-fresh $f $b 1 $reps)"
      done
      printf '%-12s %-7s %-6s %-34s %-34s\n' "$f" "$b" "$size" "$new" "$old"
    done
  done
done
