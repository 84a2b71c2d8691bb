#!/usr/bin/env python3
"""Write a small NVFP4 checkpoint produced by NVIDIA ModelOpt 0.47.0 on CPU.

    python scripts/peers/make_modelopt_checkpoint.py --out vectors/peers/modelopt/checkpoint

Model: two seeded Linear layers, fc1 64x128 (out x in) and fc2 32x64, no bias.
Route tried first: mtq.quantize(model, mtq.NVFP4_DEFAULT_CFG, forward_loop) then
modelopt.torch.export.export_hf_checkpoint(model, export_dir=...) (ModelOpt's own HF export).
If that route fails on CPU, the fallback quantizes each weight with
NVFP4QTensor.quantize(w, 16) and saves <name>.weight (U8), <name>.weight_scale (F8_E4M3),
<name>.weight_scale_2 (F32) with safetensors. ROUTE.txt in the output says which route ran.

Beside the checkpoint:
  original.safetensors      the float32 weights before quantization (fc1.weight, fc2.weight)
  modelopt_dequant.safetensors  ModelOpt's own dequantization of the exported weights
                            (NVFP4QTensor(...).dequantize(dtype=float32, scale, double_scale)).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import traceback
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

SEED = 1234
COMMAND = "python scripts/peers/make_modelopt_checkpoint.py --out vectors/peers/modelopt/checkpoint"


class TinyMLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(128, 64, bias=False)
        self.fc2 = torch.nn.Linear(64, 32, bias=False)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def build_model() -> TinyMLP:
    torch.manual_seed(SEED)
    m = TinyMLP().float().eval()
    with torch.no_grad():
        # make a few blocks interesting: an outlier, an all-zero block, a bf16-exact block
        m.fc1.weight[3, 5] = 0.9
        m.fc1.weight[7, 16:32] = 0.0
        m.fc2.weight[0, :16] = torch.tensor([6, 5, 3.5, 2.5, 1.75, 1.25, 0.75, 0.25,
                                             -6, -5, -3.5, -2.5, -1.75, -1.25, -0.75, -0.25]) / 64
    return m


def modelopt_dequant(w_u8, scale_e4m3, scale2, shape):
    from modelopt.torch.quantization.qtensor.nvfp4_tensor import NVFP4QTensor

    qt = NVFP4QTensor(torch.Size(shape), torch.float32, w_u8)
    return qt.dequantize(dtype=torch.float32, scale=scale_e4m3, double_scale=scale2,
                         block_sizes={-1: 16})


def build_hf_model():
    """A tiny transformers Llama (built from a config, no download) whose one decoder layer
    has mlp.up_proj [128, 64], mlp.down_proj [64, 128] and 64x64 attention projections."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(SEED)
    cfg = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=4,
                      num_key_value_heads=4, vocab_size=64, max_position_embeddings=64,
                      tie_word_embeddings=False, architectures=["LlamaForCausalLM"])
    m = LlamaForCausalLM(cfg).float().eval()
    with torch.no_grad():
        mlp = m.model.layers[0].mlp
        mlp.up_proj.weight[3, 5] = 0.9                       # outlier
        mlp.up_proj.weight[7, 16:32] = 0.0                   # all-zero block
        mlp.down_proj.weight[0, :16] = torch.tensor([6, 5, 3.5, 2.5, 1.75, 1.25, 0.75, 0.25,
                                                     -6, -5, -3.5, -2.5, -1.75, -1.25, -0.75,
                                                     -0.25]) / 64
    return m


def route_export(out: Path):
    import modelopt.torch.quantization as mtq
    from modelopt.torch.export import export_hf_checkpoint

    model = build_hf_model()
    original = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()
                if k.endswith("proj.weight")}
    torch.manual_seed(SEED + 1)
    calib = [torch.randint(0, 64, (2, 16)) for _ in range(4)]

    def forward_loop(m):
        for ids in calib:
            m(input_ids=ids)

    mtq.quantize(model, mtq.NVFP4_DEFAULT_CFG, forward_loop)
    export_hf_checkpoint(model, dtype=torch.float32, export_dir=out)
    return "modelopt.torch.export.export_hf_checkpoint (tiny LlamaForCausalLM, NVFP4_DEFAULT_CFG)", original


def route_fallback(model, out: Path) -> str:
    from modelopt.torch.quantization.qtensor.nvfp4_tensor import NVFP4QTensor

    tensors = {}
    for name in ("fc1", "fc2"):
        w = getattr(model, name).weight.detach().clone()
        qt, wsf, wsf2 = NVFP4QTensor.quantize(w, 16)
        tensors[f"{name}.weight"] = qt._quantized_data.contiguous()
        tensors[f"{name}.weight_scale"] = wsf.contiguous()
        tensors[f"{name}.weight_scale_2"] = wsf2.reshape(()).contiguous()
    save_file(tensors, str(out / "model.safetensors"), metadata={"producer": "modelopt NVFP4QTensor fallback"})
    return "fallback NVFP4QTensor.quantize"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--force-fallback", action="store_true")
    a = ap.parse_args(argv)
    out: Path = a.out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    route, err = None, None
    if not a.force_fallback:
        try:
            route, original = route_export(out)
        except Exception:  # noqa: BLE001
            err = traceback.format_exc()
            print(err, file=sys.stderr)
            for p in out.iterdir():
                p.unlink() if p.is_file() else shutil.rmtree(p)
    if route is None:
        model = build_model()
        original = {f"{n}.weight": getattr(model, n).weight.detach().clone().contiguous()
                    for n in ("fc1", "fc2")}
        route = route_fallback(model, out)
    save_file(original, str(out / "original.safetensors"))

    # ModelOpt's own dequantization of what was written
    st = {}
    for p in sorted(out.glob("model*.safetensors")):
        st.update(load_file(str(p)))
    deq = {}
    for key in original:
        name = key[: -len(".weight")]
        if f"{name}.weight_scale" not in st:
            continue
        w, s, s2 = st[f"{name}.weight"], st[f"{name}.weight_scale"], st[f"{name}.weight_scale_2"]
        shape = original[key].shape
        deq[key] = modelopt_dequant(w, s, s2.float(), shape).contiguous()
    save_file(deq, str(out / "modelopt_dequant.safetensors"))

    import importlib.metadata as md

    info = {
        "route": route,
        "command": COMMAND,
        "versions": {k: md.version(k) for k in ("torch", "nvidia-modelopt", "safetensors")},
        "model": "see build_hf_model() (export route) / TinyMLP: fc1 Linear(128->64) weight [64,128], fc2 Linear(64->32) weight [32,64], no bias, "
                 f"torch.manual_seed({SEED}), edits in build_model()",
        "tensors": {k: [str(v.dtype), list(v.shape)] for k, v in st.items()},
        "export_error": err.strip().splitlines()[-1] if err else None,
    }
    (out / "ROUTE.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
