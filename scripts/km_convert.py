#!/usr/bin/env python3
"""Convert the Khattak–Mikaitis tensor-core validation data into gridgames MMA case files.

Source: github.com/north-numerical-computing/MATLAB-tensor-core, `model_validation/`
(BSD-2-Clause, file LICENCE there). Every GPU result there is one dot product

    d = sum_k a_k * b_k + c

computed by one output element of a tensor-core instruction, with the CUDA programs in
`model_validation/CUDA/`:
  * `mma_fp8_output_fp32.cu`, `mma_fp8_output_fp16.cu`: PTX `mma.sync.aligned.m16n8k32.row.col
    .{f32,f16}.{e4m3,e5m2}.{e4m3,e5m2}.{f32,f16}`, A row 0 and B column 0 hold the K = 32 values
    in file order (threads 0-3: k = 4*tid + i and 16 + 4*tid + i), every other element 0;
    inputs converted with `__nv_cvt_float_to_fp8(x, __NV_SATFINITE, ...)`; for f16 output
    `c` is `__float2half(c)` and the file holds `__half2float(d)`.
  * `wmma_fp16_bf16_tf32_input.cu`: `wmma::mma_sync` on a 16x16x16 tile (16x16x8 for tf32),
    the first K ("fma_size") values of A row 0 and B column 0 set, the rest 0; inputs
    converted with `__float2half` / `__float2bfloat16` (round to nearest even), tf32 inputs
    passed as f32 (the instruction reads the top 19 bits).
File layout: `a_<GPU>_<in>.txt` / `b_…`: one case per line, K f32 bit patterns in hex;
`c_<GPU>_fp32.txt` and `d_<GPU>_<out>.txt`: one f32 bit pattern per line as a 32-digit binary
string.

H100 and H200 FP8 are the exception: their results are `wgmma` results with C = 0 (the
validation script `Validate_TC_models.m` says so: "D= AB+D where D is zero for fp8 with
WGMMA", and sets C to zero for them); with the file's c and `mma.sync` they do not match.
They are converted as `hopper/wgmma.f32.<a>.<b>` with c = 0.

Mapping to gridgames instructions (an instruction with K_instr >= K; the zero padding the
programs use is written out, so the case is the instruction's own K):
  V100 -> volta, A100/A2 -> ampere, Ada/L40S -> ada, H100/H200 -> hopper, B200 -> blackwell-sm100.
A (GPU, input, output) whose instruction gridgames does not model is reported, not converted.

Usage:
  python3 scripts/km_convert.py SRC/model_validation OUT_DIR [--cases N]
N (default 256) cases per file are written (the first N, in the source's order); `--cases 0`
writes all 5000. The checked-in `vectors/mma/km/` holds the first 256 of each.
"""

import argparse
import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np

ARCH = {"V100": "volta", "A100": "ampere", "A2": "ampere", "Ada": "ada", "L40S": "ada",
        "H100": "hopper", "H200": "hopper", "B200": "blackwell-sm100"}
# K of the data (the programs' fma_size).
DATA_K = {("V100", "fp16"): 4}
for g in ("A100", "A2", "Ada", "L40S"):
    DATA_K.update({(g, "fp16"): 8, (g, "bf16"): 8, (g, "tf32"): 4})
for g in ("H100", "H200", "B200"):
    DATA_K.update({(g, "fp16"): 16, (g, "bf16"): 16, (g, "tf32"): 4})
for g in ("Ada", "L40S", "H100", "H200", "B200"):
    DATA_K.update({(g, "E4M3"): 32, (g, "E5M2"): 32})

IN_PTX = {"fp16": "f16", "bf16": "bf16", "tf32": "tf32", "E4M3": "e4m3", "E5M2": "e5m2"}


def read_hex_rows(path):
    return [[int(t, 16) for t in line.split()] for line in path.read_text().splitlines() if line.strip()]


def read_bin_rows(path):
    return [int(line.strip(), 2) for line in path.read_text().splitlines() if line.strip()]


def f32(bits):
    return np.array(bits, dtype=np.uint32).view(np.float32)


def codes(values_bits, fmt):
    """Element codes as the program converts them (RNE for f16/bf16, exact for fp8)."""
    x = f32(values_bits)
    if fmt == "fp16":
        return [f"{int(v):04x}" for v in x.astype(np.float16).view(np.uint16)], 4
    if fmt == "bf16":
        return [f"{int(v):04x}" for v in x.astype(ml_dtypes.bfloat16).view(np.uint16)], 4
    if fmt == "tf32":
        return [f"{int(b):08x}" for b in values_bits], 8
    dt = ml_dtypes.float8_e4m3fn if fmt == "E4M3" else ml_dtypes.float8_e5m2
    y = x.astype(dt)
    if not np.array_equal(y.astype(np.float32), x, equal_nan=True):
        raise ValueError(f"{fmt} input not exactly representable (the program would round it)")
    return [f"{int(v):02x}" for v in y.view(np.uint8)], 2


def instruction(registry, gpu, fmt, out, k):
    arch = ARCH[gpu]
    t = IN_PTX[fmt]
    o = "f16" if out == "fp16" else "f32"
    best = None
    for ins in registry:
        a, _, name = ins.partition("/")
        if a != arch or not name.startswith("mma.sync.aligned."):
            continue
        shape = name.split(".")[3]  # m16n8k16
        kk = int(shape.split("k")[1])
        want = f"row.col.{o}.{t}.{t}.{o}"
        if name.endswith(want) and kk >= k and (best is None or kk < best[1]):
            best = (ins, kk)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src", type=Path, help="model_validation/ of a checkout")
    ap.add_argument("out", type=Path)
    ap.add_argument("--cases", type=int, default=256)
    ap.add_argument("--commit", default="unknown", help="the source checkout's commit")
    ap.add_argument("--gridgames", default="target/release/gridgames")
    a = ap.parse_args()
    registry = [l.split("\t")[0] for l in
                subprocess.run([a.gridgames, "mma", "--list"], check=True, capture_output=True,
                               text=True).stdout.splitlines()]
    a.out.mkdir(parents=True, exist_ok=True)
    skipped = []
    for (gpu, fmt), k in sorted(DATA_K.items()):
        d = a.src / gpu / fmt
        if not d.is_dir():
            continue
        for out in ("fp32", "fp16"):
            dfile = d / f"d_{gpu}_{out}.txt"
            if not dfile.exists():
                continue
            # fp32 output only: the H100/H200 f16-output FP8 files are mma.sync results with
            # the file's c (they differ from any wgmma model by hundreds of ulps, from the
            # mma.sync candidates by 1-3 ulps).
            wgmma = gpu in ("H100", "H200") and fmt in ("E4M3", "E5M2") and out == "fp32"
            if wgmma:
                t = IN_PTX[fmt]
                found = (f"hopper/wgmma.f32.{t}.{t}", 32)
                if found[0] not in registry:
                    found = None
            else:
                found = instruction(registry, gpu, fmt, out, k)
            if found is None:
                skipped.append(f"{gpu} {fmt} -> {out}: no modelled {ARCH[gpu]} mma.sync instruction")
                continue
            ins, kk = found
            A = read_hex_rows(d / f"a_{gpu}_{fmt}.txt")
            B = read_hex_rows(d / f"b_{gpu}_{fmt}.txt")
            C = read_bin_rows(d / f"c_{gpu}_fp32.txt")
            D = read_bin_rows(dfile)
            n = len(D) if a.cases == 0 else min(a.cases, len(D))
            lines = [
                f"# Khattak & Mikaitis tensor-core validation data, converted by scripts/km_convert.py.",
                f"# source: github.com/north-numerical-computing/MATLAB-tensor-core commit {a.commit},",
                f"#   model_validation/{gpu}/{fmt}/ (a, b, c_{gpu}_fp32, d_{gpu}_{out}); BSD-2-Clause",
                f"#   (Copyright the authors; licence text in that repository's LICENCE file).",
                f"# GPU {gpu}; data K = {k}, written zero-padded to the instruction's K = {kk}."
                + (" wgmma with C = 0 (Validate_TC_models.m)." if wgmma else ""),
                f"# {n} of {len(D)} cases (the first {n}, in the source's order).",
            ]
            for i in range(n):
                ca, w = codes(A[i][:k], fmt)
                cb, _ = codes(B[i][:k], fmt)
                pad = "0" * w * (kk - k)
                c = 0 if wgmma else C[i]
                dd = D[i]
                if out == "fp16":
                    c = int(f32([c]).astype(np.float16).view(np.uint16)[0])
                    dv = f32([dd])
                    h = dv.astype(np.float16)
                    if not np.array_equal(h.astype(np.float32), dv, equal_nan=True):
                        raise ValueError(f"{dfile}:{i + 1}: d is not an f16 value")
                    cs, ds = f"{c:04x}", f"{int(h.view(np.uint16)[0]):04x}"
                else:
                    cs, ds = f"{c:08x}", f"{dd:08x}"
                lines.append(f"{ins} {''.join(ca)}{pad} {''.join(cb)}{pad} - - {cs} {ds}")
            name = f"{gpu}-{fmt.lower()}-{out}.txt"
            (a.out / name).write_text("\n".join(lines) + "\n")
            print(f"{name}: {n} cases on {ins}")
    for s in skipped:
        print("not converted:", s)


if __name__ == "__main__":
    sys.exit(main())
