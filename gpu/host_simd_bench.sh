#!/usr/bin/env bash
# The fast path's quantize speed and equality on the device host's CPUs (not the GPU): this VM
# has AVX2 only, the device host has AVX-512, so this is where the AVX-512 tier is tested and
# timed. Binaries are built here and carried (stripped), the command run from the repository
# root on the device:
#   cargo build --release --example bench_throughput && strip -o target/devbin/bench target/release/examples/bench_throughput
#   (target/devbin/bench_prev: the same example built from the previous commit, for the routing comparison)
#   cargo test --release --test it --no-run && strip -o target/devbin/it target/release/deps/it-<hash>
#   (compressed to fit the transfer: xz -9 into target/devxz/)
#   bash gpu/host_simd_bench.sh > gpu/results/h200host_simd_quantize.txt
set -u
work=$(mktemp -d)
mkdir -p "$work/devbin" && for b in it bench bench_prev; do xz -dc target/devxz/$b.xz > "$work/devbin/$b" && chmod +x "$work/devbin/$b"; done
date -u; nproc; lscpu | grep -E "Model name|^Flags" | sed 's/^Flags:.*\(avx512[a-z_]*\).*/Flags: ... \1 .../' | head -3
grep -o 'avx512[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' '; echo
WORK="$work" python3 - <<'PY'
import os
import numpy as np
work = os.environ['WORK']
np.random.default_rng(1).standard_normal(1 << 22).astype('<f4').tofile(f'{work}/x4m.f32')
np.random.default_rng(1).standard_normal(1 << 16).astype('<f4').tofile(f'{work}/x64k.f32')
PY
rate() { "$@" | sed 's/.*"values_per_s": \([0-9.e+]*\).*/\1/'; }
printf '%-14s %-7s %12s %12s %12s %12s\n' format backend "4Mi" "4Mi prev" "64Ki" "64Ki prev"
for f in nvfp4 mxfp4 nf4-bnb po2-nf4 mpo2 po2-split87 sfp4 if4 four-over-six mixfp4; do
  for b in avx2 avx512; do
    printf '%-14s %-7s %12s %12s %12s %12s\n' "$f" "$b" \
      "$(rate "$work"/devbin/bench "$work/x4m.f32" quantize $f $b 1 7)" \
      "$(rate "$work"/devbin/bench_prev "$work/x4m.f32" quantize $f $b 1 7)" \
      "$(rate "$work"/devbin/bench "$work/x64k.f32" quantize $f $b 1 200)" \
      "$(rate "$work"/devbin/bench_prev "$work/x64k.f32" quantize $f $b 1 200)"
  done
done
echo "== equality with the scalar oracle on every backend of this CPU (simd_equal)"
"$work"/devbin/it simd_equal --test-threads 16 2>&1 | grep -E "^test |test result|panicked|differs" | tail -20
