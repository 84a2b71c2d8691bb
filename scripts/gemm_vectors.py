#!/usr/bin/env python3
"""Convert a gpu/gemm_probe.py run into vectors/gemm/: one .npy of output bits per
experiment (`<name>.d.npy`, `<name>.d_bf16.npy`) and meta.json (shapes, seeds, scales, the
kernels and PTX seen, GPU, driver and versions). Operands are not stored: tests/gemm.rs
regenerates them from the seeds with the probe's SplitMix64 generator.

    python3 scripts/gemm_vectors.py RUN_DIR vectors/gemm
"""

import json
import sys
from pathlib import Path

import numpy as np

run, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
z = np.load(run / "gemm_outputs.npz")
for key in z.files:
    name, arr = key.split("/")
    np.save(out / f"{name}.{arr}.npy", z[key])
meta = json.loads((run / "meta.json").read_text())
(out / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
print(f"{len(z.files)} arrays, {len(meta['experiments'])} experiments -> {out}")
