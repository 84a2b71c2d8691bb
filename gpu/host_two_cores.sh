#!/usr/bin/env bash
# Two-core scaling of quantize on an otherwise idle machine: the device host's CPUs (not its
# GPU; this VM's second vCPU is shared with other tenants, so two-core ratios measured here
# measure the host as much as the code). Binary: the bench_throughput example, built and
# carried as for gpu/host_simd_bench.sh (target/devxz/bench.xz), run from the repository root:
#   bash gpu/host_two_cores.sh > gpu/results/h200host_two_cores.txt
# 64 MiB inputs (16 Mi N(0,1) f32 values), quantize-fresh (a new tensor scale each call),
# best of 7, on the AVX2 backend (the tier this VM has) and AVX-512, at 1, 2 and 4 threads
# pinned to distinct physical cores, each thread count run five times, interleaved; the ratios
# of the medians and of the bests of the five.
set -u
work=$(mktemp -d)
xz -dc target/devxz/bench.xz > "$work/bench" && chmod +x "$work/bench"
date -u; nproc; lscpu | grep -E "Model name|Thread|Socket|NUMA node\(s\)" ; uptime
# One logical CPU per physical core (the first sibling of each core), first four.
cores=$(lscpu -p=CPU,CORE | grep -v '^#' | sort -t, -k2,2n -u | head -4 | cut -d, -f1 | paste -sd,)
echo "pinned to logical CPUs: $cores"
WORK="$work" python3 - <<'PY'
import os
import numpy as np
np.random.default_rng(1).standard_normal(1 << 24).astype('<f4').tofile(os.environ['WORK'] + '/x16m.f32')
PY
rate() { taskset -c "$cores" "$@" | sed 's/.*"values_per_s": \([0-9.e+]*\).*/\1/' | awk '{printf "%.3e", $1}'; }
printf '%-12s %-7s %-50s %-50s %-50s %s\n' format backend "1 thread (5 runs)" "2 threads" "4 threads" "median 2/1, 4/1; best 2/1, 4/1"
for f in nvfp4 mxfp4 po2-nf4 sfp4; do
  for b in avx2 avx512; do
    r1=""; r2=""; r4=""
    for k in 1 2 3 4 5; do
      r1="$r1 $(rate "$work/bench" "$work/x16m.f32" quantize-fresh $f $b 1 7)"
      r2="$r2 $(rate "$work/bench" "$work/x16m.f32" quantize-fresh $f $b 2 7)"
      r4="$r4 $(rate "$work/bench" "$work/x16m.f32" quantize-fresh $f $b 4 7)"
    done
    ratio=$(python3 -c "import sys, statistics as st; r=[list(map(float,s.split())) for s in sys.argv[1:]]; m=[st.median(x) for x in r]; b=[max(x) for x in r]; print(f'{m[1]/m[0]:.2f}x {m[2]/m[0]:.2f}x; {b[1]/b[0]:.2f}x {b[2]/b[0]:.2f}x')" "$r1" "$r2" "$r4")
    printf '%-12s %-7s %-50s %-50s %-50s %s\n' "$f" "$b" "$r1" "$r2" "$r4" "$ratio"
  done
done
uptime
rm -rf "$work"
