#!/usr/bin/env python3
"""gridgames.gemm against mmaemu 0.1.0 (PyPI) on the recorded H200 `torch._scaled_mm` GEMMs:
same operands, same run; both outputs compared bit for bit with the H200's, and the CPU time
of each (best of --reps). Needs torch (CPU), mmaemu and gridgames.

    python benches/peers/gemm_vs_mmaemu.py [--reps 3] [--threads N]
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

import gridgames
from gridgames.testing import probe_codes as codes

ROOT = Path(__file__).resolve().parents[2]
V = ROOT / "vectors" / "gemm"


def best(reps, f):
    out, ts = None, []
    for _ in range(reps):
        t = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t)
    return out, min(ts)


def main():
    import mmaemu

    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    meta = json.loads((V / "meta.json").read_text())["experiments"]
    print(f"mmaemu {mmaemu.__version__}, gridgames {gridgames.__version__}, torch {torch.__version__}, {a.threads} thread(s)")
    print(f"{'experiment':<30}{'MACs':>12}{'gridgames s':>13}{'mmaemu s':>10}{'ratio':>8}  {'gridgames vs H200':<20}{'mmaemu vs H200'}")
    for name in ["cublas-fast", "cublas-precise", "splitk-16x16x65536-fast", "splitk-16x16x65536-precise",
                 "splitk-64x64x16384-fast", "splitk-64x64x16384-precise", "splitk-128x128x8192-fast"]:
        e = meta[name]
        m, n, k = e["M"], e["N"], e["K"]
        A = codes(e["seed"], m * k, e["e_lo"], e["e_hi"]).reshape(m, k)
        B = codes(e["seed"] + 1, k * n, e["e_lo"], e["e_hi"]).reshape(k, n)
        want = np.load(V / f"{name}.d.npy")
        fast = e["use_fast_accum"]
        preset = "cublas-sm90-fp8-fast" if fast else "cublas-sm90-fp8"
        g, tg = best(a.reps, lambda: gridgames.gemm(None, A, B, recipe=preset, scale_a=e["scale_a"],
                                                     scale_b=e["scale_b"], threads=a.threads))
        ta = torch.from_numpy(A).view(torch.float8_e4m3fn)
        tb = torch.from_numpy(np.ascontiguousarray(B.T)).view(torch.float8_e4m3fn).t()
        sa = torch.tensor(e["scale_a"], dtype=torch.float32)
        sb = torch.tensor(e["scale_b"], dtype=torch.float32)
        try:
            r, tm = best(a.reps, lambda: mmaemu.scaled_mm(ta, tb, sa, sb, out_dtype=torch.float32,
                                                           use_fast_accum=fast, backend="reference"))
            mm = r.contiguous().view(torch.int32).numpy().view(np.uint32)
            mm_eq = f"{int((mm != want).sum())} mismatches"
            ratio = f"{tm / tg:6.2f}x"
            tm_s = f"{tm:10.2f}"
        except Exception as ex:  # noqa: BLE001  (mmaemu refuses what it has no evidence for)
            mm_eq, ratio, tm_s = f"refused: {type(ex).__name__}", "   -", "         -"
        g_eq = f"{int((g.view(np.uint32) != want).sum())} mismatches"
        print(f"{name:<30}{m * n * k:>12.2e}{tg:>13.2f}{tm_s}{ratio:>8}  {g_eq:<20}{mm_eq}", flush=True)


if __name__ == "__main__":
    main()
