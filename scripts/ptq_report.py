#!/usr/bin/env python3
"""Tables and an SVG chart from scripts/ptq_study.py's results.json (numpy-free).

    python scripts/ptq_report.py docs/accuracy/results.json docs/accuracy

Writes OUT/tables.md (included by hand in docs/accuracy.md) and OUT/smollm2_ppl.svg.
"""

import json
import sys
from pathlib import Path

SINGLE_OF = {"po2-nf4": "nf4", "mpo2": "nf4", "po2-split87": "split87", "sfp4": "nvfp4",
             "if4": "nvfp4", "four-over-six": "nvfp4", "mixfp4": "nvfp4"}


def main():
    res = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    rows = res["rows"]
    sm = {(r["setting"], r["format"], r["group"]): r for r in rows if r["model"] == "smollm2"}
    ml = {(r["setting"], r["format"], r["group"]): r for r in rows if r["model"] == "minilm"}
    base = next(r for r in rows if r["model"] == "smollm2" and r["format"] == "-")["ppl"]
    lines = [f"SmolLM2-135M-Instruct (baseline = the Q4_1 GGUF weights dequantized to f32): "
             f"perplexity {base:.3f} on {res['meta']['tokens']} tokens.", ""]
    lines += ["| format | group | W ppl | W ppl / base | W+A ppl | W+A ppl / base | MiniLM W cosine | MiniLM W top-1 | MiniLM W+A cosine | MiniLM W+A top-1 |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    default_group = {}
    for r in rows:  # the study runs each format's own group size first
        if r["model"] == "smollm2" and r["setting"] == "W" and r["format"] != "-":
            default_group.setdefault(r["format"], r["group"])
    formats = sorted(default_group, key=lambda f: sm[("W", f, default_group[f])]["ppl"])
    for f in formats:
        g = default_group[f]
        w = sm.get(("W", f, g), {})
        wa = sm.get(("W+A", f, g), {})
        mw = ml.get(("W", f, g), {})
        mwa = ml.get(("W+A", f, g), {})
        fmt = lambda v, d=3: "" if v is None else f"{v:.{d}f}"
        lines.append(f"| {f} | {g} | {fmt(w.get('ppl'))} | {fmt(w.get('rel'))} | {fmt(wa.get('ppl'))} | "
                     f"{fmt(wa.get('rel'))} | {fmt(mw.get('cosine'), 4)} | {fmt(mw.get('top1_agreement'), 3)} | "
                     f"{fmt(mwa.get('cosine'), 4)} | {fmt(mwa.get('top1_agreement'), 3)} |")
    lines += ["", "Multi-grid format against its single grid (SmolLM2 perplexity, lower is better):", "",
              "| multi-grid | single grid | W: multi / single | W+A: multi / single |", "|---|---|---:|---:|"]
    for m, s in SINGLE_OF.items():
        def ratio(setting):
            a = sm.get((setting, m, default_group.get(m, 16)))
            b = sm.get((setting, s, default_group.get(s, 16)))
            return "" if not a or not b or a.get("ppl") is None or b.get("ppl") is None else f"{a['ppl'] / b['ppl']:.4f}"
        lines.append(f"| {m} | {s} | {ratio('W')} | {ratio('W+A')} |")
    lines += ["", "Group-size sweep (weight-only; a group size that does not divide every layer's input "
              "dimension is not run):", "", "| model | format | group | metric | value |", "|---|---|---:|---|---:|"]
    for (s, f, g), r in sorted(sm.items(), key=lambda t: (t[0][1], str(t[0][2]))):
        if s == "W" and f != "-" and any(ff == f and gg != g for ss, ff, gg in sm if ss == "W"):
            v = "not run: " + r["note"] if r.get("ppl") is None else f"{r['ppl']:.3f}"
            lines.append(f"| smollm2 | {f} | {g} | ppl | {v} |")
    for (s, f, g), r in sorted(ml.items(), key=lambda t: (t[0][1], str(t[0][2]))):
        if s == "W" and f != "-" and any(ff == f and gg != g for ss, ff, gg in ml if ss == "W"):
            v = "not run: " + r["note"] if r.get("cosine") is None else f"{r['cosine']:.4f}"
            lines.append(f"| minilm | {f} | {g} | cosine | {v} |")
    (out / "tables.md").write_text("\n".join(lines) + "\n")

    # A horizontal bar chart of W and W+A perplexity ratios.
    items = [(f, sm.get(("W", f, default_group[f]), {}).get("rel"), sm.get(("W+A", f, default_group[f]), {}).get("rel"))
             for f in formats]
    width, bar_h, left = 720, 16, 130
    top = 40
    height = top + len(items) * (2 * bar_h + 10) + 40
    vmax = max(v for _, a, b in items for v in (a, b) if v) * 1.05
    x = lambda v: left + (width - left - 40) * (v - 1.0) / (vmax - 1.0)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<text x="{left}" y="20" font-size="14">SmolLM2-135M perplexity relative to the Q4_1 baseline (lower is better)</text>']
    y = top
    for f, a, b in items:
        svg.append(f'<text x="{left - 6}" y="{y + bar_h + 4}" text-anchor="end">{f}</text>')
        for v, color, label in ((a, "#4477aa", "W"), (b, "#ee6677", "W+A")):
            if v:
                svg.append(f'<rect x="{left}" y="{y}" width="{x(v) - left:.1f}" height="{bar_h}" fill="{color}"/>')
                svg.append(f'<text x="{x(v) + 4:.1f}" y="{y + bar_h - 3}">{label} {v:.3f}</text>')
            y += bar_h
        y += 10
    svg.append("</svg>")
    (out / "smollm2_ppl.svg").write_text("\n".join(svg) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
