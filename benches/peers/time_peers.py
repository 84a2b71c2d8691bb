#!/usr/bin/env python3
"""Time public 4-bit quantizers and casts against gridgames on the same data, in one run.

Usage (from the repository root; builds nothing, expects the release example):

    cargo build --release --example bench_throughput
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        $PEERS_VENV/bin/python benches/peers/time_peers.py [--n 4194304] [--reps 7]

Every implementation gets the same f32 input (N(0,1), seed 0, shape [n/1024, 1024]), one
thread (torch.set_num_threads(1); gridgames THREADS=1), and the best of --reps timed runs
after one warm-up: the machine is shared, so the least disturbed run is the fairest one.
Prints one table: elements per second, and gridgames' ratio to each peer on the same
operation. Peers that fail to run are listed with the reason instead of a number.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def best_of(fn, reps: int) -> float:
    fn()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def ours(binary: Path, data: Path, op: str, fmt: str, backend: str, reps: int) -> float:
    out = subprocess.run(
        [str(binary), str(data), op, fmt, backend, "1", str(reps)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])["values_per_s"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1 << 22, help="values (multiple of 1024)")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--backend", default="avx512", help="gridgames backend (scalar|portable|avx2|avx512)")
    ap.add_argument("--binary", default=None, help="bench_throughput binary (default: target dir)")
    ap.add_argument("--json", default=None, help="also write the rows as JSON here")
    args = ap.parse_args(argv)

    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    binary = Path(args.binary) if args.binary else target / "release" / "examples" / "bench_throughput"
    if not binary.exists():
        print(f"{binary} not found: cargo build --release --example bench_throughput", file=sys.stderr)
        return 2

    n = args.n // 1024 * 1024
    x = np.random.default_rng(0).standard_normal((n // 1024, 1024), dtype=np.float32)
    tmp = tempfile.TemporaryDirectory()
    data = Path(tmp.name) / "x.f32"
    x.tofile(data)

    rows: list[tuple[str, str, float | str]] = []  # (operation, implementation, values/s or reason)

    def peer(op: str, name: str, fn):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rows.append((op, name, n / best_of(fn, args.reps)))
        except Exception as e:  # noqa: BLE001 -- report any failure as a row
            rows.append((op, name, f"did not run: {type(e).__name__}: {str(e)[:80]}"))

    # Bandwidth limit: numpy copy of the same f32 array.
    dst = np.empty_like(x)
    peer("copy f32", "numpy copyto", lambda: np.copyto(dst, x))

    # ml-dtypes casts.
    try:
        import ml_dtypes
        peer("f32 -> e2m1 codes", f"ml_dtypes {ml_dtypes.__version__} astype(float4_e2m1fn)",
             lambda: x.astype(ml_dtypes.float4_e2m1fn))
        peer("f32 -> e4m3 codes", f"ml_dtypes {ml_dtypes.__version__} astype(float8_e4m3fn)",
             lambda: x.astype(ml_dtypes.float8_e4m3fn))
    except ImportError as e:
        rows.append(("f32 -> e2m1 codes", "ml_dtypes", f"did not run: {e}"))

    try:
        import torch
        torch.set_num_threads(1)
        xt = torch.from_numpy(x)
        try:
            import torchao
            from torchao.prototype.mx_formats.nvfp4_tensor import nvfp4_quantize, per_tensor_amax_to_scale

            def torchao_nvfp4():
                pts = per_tensor_amax_to_scale(torch.max(torch.abs(xt)))
                return nvfp4_quantize(xt, block_size=16, per_tensor_scale=pts)
            peer("quantize nvfp4", f"torchao {torchao.__version__} nvfp4_quantize (CPU)", torchao_nvfp4)
        except ImportError as e:
            rows.append(("quantize nvfp4", "torchao", f"did not run: {e}"))
        try:
            from modelopt.torch.quantization.qtensor.nvfp4_tensor import NVFP4QTensor
            import importlib.metadata as md
            peer("quantize nvfp4", f"modelopt {md.version('nvidia-modelopt')} NVFP4QTensor.quantize (CPU)",
                 lambda: NVFP4QTensor.quantize(xt, 16))
        except ImportError as e:
            rows.append(("quantize nvfp4", "modelopt", f"did not run: {e}"))
        try:
            import bitsandbytes as bnb
            import bitsandbytes.functional as F
            peer("quantize nf4 (bnb layout, g=64)", f"bitsandbytes {bnb.__version__} quantize_4bit nf4 (CPU)",
                 lambda: F.quantize_4bit(xt, blocksize=64, compress_statistics=False, quant_type="nf4"))
        except ImportError as e:
            rows.append(("quantize nf4 (bnb layout, g=64)", "bitsandbytes", f"did not run: {e}"))
    except ImportError as e:
        rows.append(("quantize nvfp4", "torch", f"did not run: {e}"))

    be = args.backend
    for op, bop, fmt in [
        ("copy f32", "copy", "nvfp4"),
        ("f32 -> e2m1 codes", "encode-e2m1", "nvfp4"),
        ("f32 -> e4m3 codes", "encode-e4m3", "nvfp4"),
        # quantize-fresh: every run a new tensor scale, so the per-tensor plan is rebuilt
        # each time, as the peers redo all their work each call.
        ("quantize nvfp4", "quantize-fresh", "nvfp4"),
        ("quantize mxfp4", "quantize-fresh", "mxfp4"),
        ("quantize nf4 (bnb layout, g=64)", "quantize-fresh", "nf4-bnb"),
        ("quantize nf4 (NVFP4 container)", "quantize-fresh", "nf4"),
        ("quantize po2-nf4 (2 grids)", "quantize-fresh", "po2-nf4"),
        ("quantize mpo2 (2 grids)", "quantize-fresh", "mpo2"),
        ("quantize po2-split87 (2 grids)", "quantize-fresh", "po2-split87"),
        ("quantize sfp4 (3 grids)", "quantize-fresh", "sfp4"),
        ("decode nvfp4 -> f32", "decode-f32", "nvfp4"),
        ("decode nvfp4 -> bf16", "decode-bf16", "nvfp4"),
    ]:
        try:
            rows.append((op, f"gridgames {be} (reference profile)" if bop.startswith("quantize") else f"gridgames {be}",
                         ours(binary, data, bop, fmt, be, args.reps)))
        except Exception as e:  # noqa: BLE001
            rows.append((op, f"gridgames {be}", f"did not run: {e}"))

    # One table: every row with gridgames' ratio on the same operation.
    ggv = {op: v for op, name, v in rows if name.startswith("gridgames") and isinstance(v, float)}
    copy_v = next((v for op, name, v in rows if name == "numpy copyto" and isinstance(v, float)), None)
    print(f"n = {n} f32 values, one thread, best of {args.reps} runs, backend {be}")
    print(f"| operation | implementation | values/s | gridgames / this |")
    print(f"|---|---|---:|---:|")
    for op, name, v in rows:
        if isinstance(v, float):
            ratio = ggv.get(op)
            r = "1" if name.startswith("gridgames") else (f"{ratio / v:.1f}x" if ratio else "")
            if name.startswith("gridgames") and op.startswith("decode") and copy_v:
                r = f"{v / copy_v:.2f}x numpy copy"
            print(f"| {op} | {name} | {v:.3g} | {r} |")
        else:
            print(f"| {op} | {name} | {v} | |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
