#!/usr/bin/env python3
"""Time gridgames.quantize / dequantize from Python against the same calls in Rust, in one run.

    cargo build --release --example bench_throughput
    python benches/python/python_vs_rust.py [--n 16777216] [--reps 5] [--threads N]

The Rust side is examples/bench_throughput.rs (simd::quantize / simd::decode_bits on the
same f32 file); the Python side is the installed package (pip install ./python). Both run
the selected SIMD backend on the same number of threads; best of REPS each. Prints the
values/s of both and the ratio Python time / Rust time (target: <= 1.15).
"""

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import gridgames

ROOT = Path(__file__).resolve().parents[2]


def best_backend():
    """The tier the library selects on this CPU (what the Python side runs)."""
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return "portable"
    if all(f in flags.split() for f in ("avx512f", "avx512bw", "avx512vl", "avx512vbmi")):
        return "avx512"
    if all(f in flags.split() for f in ("avx2", "f16c", "bmi2")):
        return "avx2"
    return "portable"


def best(reps, f):
    f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return min(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1 << 24)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--format", default="nvfp4")
    ap.add_argument("--backend", default=os.environ.get("GRIDGAMES_SIMD", best_backend()))
    a = ap.parse_args()
    x = np.random.default_rng(0).standard_normal(a.n, dtype=np.float32)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    exe = target / "release" / "examples" / "bench_throughput"
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.f32"
        x.tofile(path)
        rust = {}
        for op in ["quantize", "decode-f32"]:
            out = subprocess.run(
                [str(exe), str(path), op, a.format, a.backend, str(a.threads), str(a.reps)],
                capture_output=True, text=True, check=True,
            ).stdout
            rust[op] = json.loads(out.strip().splitlines()[-1])
    x2 = x.reshape(-1, 256)
    tq = best(a.reps, lambda: gridgames.quantize(x2, a.format, threads=a.threads))
    q = gridgames.quantize(x2, a.format, threads=a.threads)
    td = best(a.reps, lambda: gridgames.dequantize(q, threads=a.threads))
    buf = np.empty(x2.shape, np.float32)
    tdo = best(a.reps, lambda: gridgames.dequantize(q, threads=a.threads, out=buf))
    # The Rust bench decodes into one reused buffer: `out=` is the like-for-like call; a
    # fresh result array also pays the kernel's first-touch page faults.
    rows = [
        ("quantize", tq, rust["quantize"]),
        ("dequantize out=", tdo, rust["decode-f32"]),
        ("dequantize new", td, rust["decode-f32"]),
    ]
    print(f"{a.n} values, format {a.format}, backend {a.backend}, {a.threads} thread(s), best of {a.reps}")
    print(f"{'operation':<16}{'python values/s':>18}{'rust values/s':>16}{'python/rust time':>18}")
    for name, t, r in rows:
        rv = float(r["values_per_s"])
        print(f"{name:<16}{a.n / t:>18.3e}{rv:>16.3e}{(t * rv / a.n):>18.3f}")


if __name__ == "__main__":
    main()
