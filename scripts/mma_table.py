#!/usr/bin/env python3
"""The PTX ISA's matrix-multiply instructions for sm_70 … sm_120, each shape and type
combination with its status in gridgames: modelled with hardware evidence, modelled from
MMA-Sim only, modelled by inference, or not modelled (and why).

The instruction list is written here from the PTX ISA (9.0: sections "Warp Level Matrix
Multiply-Accumulate Instructions" (mma, mma.sp), "Asynchronous Warpgroup Level Matrix
Multiply-Accumulate" (wgmma) and "TensorCore 5th Generation Family Instructions"
(tcgen05.mma)); the status of each combination is read from `gridgames mma --list` (the spec
files and the hardware case files). The table goes into spec/mma/README.md between the
markers; `--check` fails when the checked-in table is stale (CI runs it).

Usage: python3 scripts/mma_table.py [--check] [--gridgames target/release/gridgames]
"""

import argparse
import subprocess
import sys
from itertools import product
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "spec" / "mma" / "README.md"
BEGIN = "<!-- mma-table:begin (scripts/mma_table.py) -->"
END = "<!-- mma-table:end -->"

F8 = ["e4m3", "e5m2"]
F8F6F4 = ["e4m3", "e5m2", "e3m2", "e2m3", "e2m1"]
ARCH_SM = {"volta": "sm_70", "turing": "sm_75", "ampere": "sm_80", "ada": "sm_89",
           "hopper": "sm_90", "blackwell-sm100": "sm_100a", "blackwell-sm120": "sm_120a"}
MMA_ARCHES = list(ARCH_SM)  # mma.sync is forward compatible: every later arch runs it


def since(arch):
    return MMA_ARCHES[MMA_ARCHES.index(arch):]


def mma_sync(shape, d, a, b, c):
    return f"mma.sync.aligned.{shape}.row.col.{d}.{a}.{b}.{c}"


def families():
    """(family, PTX form, [(arch, gridgames-style name)], reason when none is modelled)."""
    fam = []
    for shape, first in [("m8n8k4", "volta"), ("m16n8k8", "turing"), ("m16n8k16", "ampere")]:
        insts = [(ar, mma_sync(shape, d, "f16", "f16", c)) for ar in since(first)
                 for d, c in product(["f16", "f32"], repeat=2)]
        fam.append((f"mma.sync {shape} f16", f"mma.sync.aligned.{shape}.row.col.{{f16,f32}}.f16.f16.{{f16,f32}}", insts, None))
    for shape, t in [("m16n8k4", "tf32"), ("m16n8k8", "tf32"), ("m16n8k8", "bf16"), ("m16n8k16", "bf16")]:
        insts = [(ar, mma_sync(shape, "f32", t, t, "f32")) for ar in since("ampere")]
        fam.append((f"mma.sync {shape} {t}", mma_sync(shape, "f32", t, t, "f32"), insts, None))
    for shape in ["m16n8k16", "m16n8k32"]:
        insts = [(ar, mma_sync(shape, d, a, b, d)) for ar in since("ada")
                 for d in ["f32", "f16"] for a, b in product(F8, F8)]
        fam.append((f"mma.sync {shape} FP8", f"mma.sync.aligned.{shape}.row.col.{{f32,f16}}.{{e4m3,e5m2}}×2.{{f32,f16}}", insts, None))
    insts = [("blackwell-sm120", f"mma.sync.aligned.m16n8k32.row.col.kind::f8f6f4.{d}.{a}.{b}.{d}")
             for d in ["f32", "f16"] for a, b in product(F8F6F4, F8F6F4)]
    fam.append(("mma.sync kind::f8f6f4", "mma.sync.aligned.m16n8k32.row.col.kind::f8f6f4.{f32,f16}.{f8f6f4}×2.{f32,f16}", insts, None))
    insts = [("blackwell-sm120", f"mma.sync.aligned.m16n8k32.row.col.kind::mxf8f6f4.block_scale.scale_vec::1X.f32.{a}.{b}.f32.ue8m0")
             for a, b in product(F8F6F4, F8F6F4)]
    fam.append(("mma.sync kind::mxf8f6f4", "…m16n8k32.row.col.kind::mxf8f6f4.block_scale.scale_vec::1X.f32.{f8f6f4}×2.f32.ue8m0", insts, None))
    insts = [("blackwell-sm120", "mma.sync.aligned.m16n8k64.row.col.kind::mxf4.block_scale.scale_vec::2X.f32.e2m1.e2m1.f32.ue8m0")]
    fam.append(("mma.sync kind::mxf4", "…m16n8k64.row.col.kind::mxf4.block_scale.scale_vec::2X.f32.e2m1.e2m1.f32.ue8m0", insts, None))
    insts = [("blackwell-sm120", f"mma.sync.aligned.m16n8k64.row.col.kind::mxf4nvf4.block_scale.scale_vec::{v}.f32.e2m1.e2m1.f32.{s}")
             for v, s in [("2X", "ue8m0"), ("4X", "ue8m0"), ("4X", "ue4m3")]]
    fam.append(("mma.sync kind::mxf4nvf4", "…m16n8k64.row.col.kind::mxf4nvf4.block_scale.scale_vec::{2X,4X}.f32.e2m1.e2m1.f32.{ue8m0,ue4m3}", insts, None))
    # wgmma (sm_90a): the N of the shape does not change one output element's arithmetic.
    insts = [("hopper", f"wgmma.{d}.{t}.{t}") for t in ["f16"] for d in ["f32", "f16"]]
    insts += [("hopper", "wgmma.f32.bf16.bf16"), ("hopper", "wgmma.f32.tf32.tf32")]
    fam.append(("wgmma f16/bf16/tf32", "wgmma.mma_async.sync.aligned.m64nNk16.{f32,f16}.{f16,bf16} / m64nNk8.f32.tf32", insts, None))
    insts = [("hopper", f"wgmma.{d}.{a}.{b}") for d in ["f32", "f16"] for a, b in product(F8, F8)]
    fam.append(("wgmma FP8", "wgmma.mma_async.sync.aligned.m64nNk32.{f32,f16}.{e4m3,e5m2}×2", insts, None))
    # tcgen05.mma (sm_100a)
    insts = [("blackwell-sm100", f"tcgen05.mma.kind::f16.{d}.{t}.{t}") for t in ["f16", "bf16"] for d in ["f32", "f16"] if not (t == "bf16" and d == "f16")]
    insts += [("blackwell-sm100", "tcgen05.mma.kind::tf32.f32.tf32.tf32")]
    fam.append(("tcgen05.mma kind::f16 / tf32", "tcgen05.mma.cta_group.kind::{f16,tf32}", insts, None))
    insts = [("blackwell-sm100", f"tcgen05.mma.kind::f8f6f4.{d}.{a}.{b}") for d in ["f32", "f16"] for a, b in product(F8F6F4, F8F6F4)]
    fam.append(("tcgen05.mma kind::f8f6f4", "tcgen05.mma.cta_group.kind::f8f6f4 (f32 or f16 D)", insts, None))
    insts = [("blackwell-sm100", f"tcgen05.mma.kind::mxf8f6f4.block32.{a}.{b}.ue8m0") for a, b in product(F8F6F4, F8F6F4)]
    fam.append(("tcgen05.mma kind::mxf8f6f4", "tcgen05.mma.cta_group.kind::mxf8f6f4.block_scale.block32 (ue8m0)", insts, None))
    insts = [("blackwell-sm100", "tcgen05.mma.kind::mxf4.block32.ue8m0")]
    insts += [("blackwell-sm100", f"tcgen05.mma.kind::mxf4nvf4.{b}.{s}") for b, s in [("block32", "ue8m0"), ("block16", "ue8m0"), ("block16", "ue4m3")]]
    fam.append(("tcgen05.mma kind::mxf4 / mxf4nvf4", "tcgen05.mma.cta_group.kind::{mxf4,mxf4nvf4}.block_scale.{block32,block16}", insts, None))
    # Not modelled at all, by design or for now.
    fam.append(("mma.sync / wgmma / tcgen05 integer (s8, u8, s4, u4, b1)", "…{s8,u8,s4,u4}… .s32, b1 .and/.xor.popc", [],
                "integer products and sums are exact (s32 wraps only past 2^31), so there is no rounding for a model to capture; outside the 4-bit float scope"))
    fam.append(("mma.sync f64 (m8n8k4, m16n8k4/k8/k16)", "mma.sync.aligned.*.f64.f64.f64.f64", [],
                "IEEE binary64 fused multiply-add per element (PTX: `.rn` DFMA semantics), not a tensor-core rounding model; out of scope"))
    fam.append(("mma.sp / mma.sp::ordered_metadata (2:4 sparse, sm_80+; kind::f8f6f4 and block-scaled on sm_120a)", "mma.sp.sync.aligned.{m16n8k16,m16n8k32,m16n8k64,m16n8k128}…", [],
                "the metadata selects 2 of every 4 A elements; whether the hardware then fuses the selected products exactly as the dense instruction of the same K/2 does is unmeasured, so it is not claimed"))
    fam.append(("tcgen05.mma.sp, tcgen05.mma.ws, kind::i8", "tcgen05.mma{.sp,.ws}…", [],
                "sparse and weight-stationary variants: unmeasured (as mma.sp); kind::i8 is integer (exact)"))
    return fam


def status_of(reg, arch, name):
    ident = f"{arch}/{name}"
    row = reg.get(ident)
    if row is None:
        return "none", ident
    source, hw = row
    if hw != "hw=none":
        return "hw", ident
    if source.startswith("mmasim"):
        return "mmasim", ident
    return "inferred", ident


def table(reg):
    lines = ["| family | PTX form | archs | combinations | hardware evidence | MMA-Sim only | inferred | not modelled |",
             "|---|---|---|---|---|---|---|---|"]
    missing_notes = []
    for name, form, insts, why in families():
        if not insts:
            lines.append(f"| {name} | `{form}` | | — | | | | all: {why} |")
            continue
        counts = {"hw": 0, "mmasim": 0, "inferred": 0, "none": 0}
        absent = []
        for arch, n in insts:
            s, ident = status_of(reg, arch, n)
            counts[s] += 1
            if s == "none":
                absent.append(ident)
        archs = sorted({a for a, _ in insts}, key=MMA_ARCHES.index)
        arch_txt = ", ".join(ARCH_SM[a] for a in archs)
        lines.append(f"| {name} | `{form}` | {arch_txt} | {len(insts)} | {counts['hw']} | {counts['mmasim']} | "
                     f"{counts['inferred']} | {counts['none']} |")
        if absent:
            missing_notes.append(f"- {name}: " + ", ".join(f"`{a}`" for a in absent))
    out = ["Every combination counted once per architecture that runs it (mma.sync is forward",
           "compatible, so an sm_80 instruction is listed for sm_80, sm_89, sm_90, sm_100a and",
           "sm_120a). *Hardware evidence*: modelled and reproduced bit for bit on checked-in case",
           "files of a real GPU (`hw=` in `gridgames mma --list`); *MMA-Sim only*: modelled from",
           "MMA-Sim 2.1.1 (peichenxie/MMA-Sim), checked against its outputs but not against a GPU;",
           "*inferred*: modelled by carrying a measured rule to a sibling combination; *not",
           "modelled*: `gridgames mma` refuses it (listed below the table).", ""] + lines
    out += ["", "Combinations without a model:", ""] + (missing_notes or ["- none"])
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--gridgames", default=str(ROOT / "target" / "release" / "gridgames"))
    a = ap.parse_args()
    listing = subprocess.run([a.gridgames, "mma", "--list"], check=True, capture_output=True, text=True).stdout
    reg = {}
    for line in listing.splitlines():
        f = line.split("\t")
        if len(f) >= 7:
            reg[f[0]] = (f[5].strip('"'), f[6])
    body = table(reg)
    text = README.read_text()
    if BEGIN not in text or END not in text:
        sys.exit(f"{README}: markers missing")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = head + BEGIN + "\n" + body + END + tail
    if a.check:
        if new != text:
            sys.exit("spec/mma/README.md: the instruction table is stale; run python3 scripts/mma_table.py")
        print("spec/mma/README.md: instruction table up to date")
        return
    README.write_text(new)
    print("wrote the instruction table into spec/mma/README.md")


if __name__ == "__main__":
    main()
