#!/usr/bin/env python3
"""Build the fuzz seed corpora under fuzz/corpus/<target>/ from the checked-in vectors.

Standard library only (CI's light venv is enough; no numpy). Deterministic: the same tree
gives the same seeds, named by the SHA-1 of their content (libFuzzer's convention), so
re-running never duplicates a seed.

    python3 fuzz/seed_corpora.py            # from the repository root

Seeds by target (the input layouts are documented in fuzz/src/lib.rs):
  spec         every spec/elements/*.yaml and spec/formats/*.yaml
  vectors      vectors/<format>/**/*.txt and decode.txt, cut into pieces of a header plus
               a few data lines (small inputs mutate faster than 200 kB files)
  mma_cases    vectors/mma/**/*.txt, cut the same way
  decode       every decode.txt line as [format][n][ts][mode=0][codes][scales]
  quantize     every quantize vector's x= field as [format][profile=0][flags][f32 LE...]
  npy          assets/demo/*.npy, plus small arrays of every supported dtype written here
  safetensors  small files written here (floats, and quantized nvfp4/mxfp4 layouts)
  element      special f64 values x every element / rounding / policy byte
  mma_dot      a few operand patterns (zeros, ones, maxima) for the first instructions
"""

import hashlib
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")
MAX_SEEDS_PER_TARGET = 1000
PIECE_LINES = 4


def put(target, data, counts):
    if counts.get(target, 0) >= MAX_SEEDS_PER_TARGET:
        return
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    path = os.path.join(d, name)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
        counts[target] = counts.get(target, 0) + 1


def walk(top, suffix):
    for dirpath, _, files in sorted(os.walk(top)):
        for f in sorted(files):
            if f.endswith(suffix):
                yield os.path.join(dirpath, f)


def format_names():
    # tables::FORMATS follows build.rs: spec files sorted by name.
    return sorted(f[:-5] for f in os.listdir(os.path.join(ROOT, "spec", "formats")) if f.endswith(".yaml"))


def pieces(text):
    """Header lines plus PIECE_LINES data lines at a time (every piece parses alone)."""
    header = [l for l in text.splitlines() if l.startswith("#")]
    data = [l for l in text.splitlines() if l.strip() and not l.startswith("#")]
    for i in range(0, len(data), PIECE_LINES):
        yield "\n".join(header + data[i:i + PIECE_LINES]) + "\n"


def fields(line):
    out = {}
    for tok in line.split(" #")[0].split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k] = v
    return out


def npy_bytes(descr, shape, data):
    shape_text = "(%d,)" % shape[0] if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape_text)
    total = 10 + len(header) + 1
    header += " " * ((64 - total % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data


def safetensors_bytes(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, bytes)."""
    head = {}
    if metadata:
        head["__metadata__"] = metadata
    off = 0
    blob = b""
    for name, dtype, shape, data in tensors:
        head[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        off += len(data)
        blob += data
    h = json.dumps(head, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + blob


def main():
    counts = {}
    names = format_names()

    for f in walk(os.path.join(ROOT, "spec"), ".yaml"):
        with open(f) as fh:
            put("spec", fh.read(), counts)

    for fmt in names:
        top = os.path.join(ROOT, "vectors", fmt)
        if not os.path.isdir(top):
            continue
        for f in walk(top, ".txt"):
            with open(f) as fh:
                text = fh.read()
            for n, p in enumerate(pieces(text)):
                if n >= 40:
                    break
                put("vectors", p, counts)
            for k, line in enumerate(l for l in text.splitlines() if l.strip() and not l.startswith("#")):
                if k >= 40:
                    break
                fl = fields(line)
                if os.path.basename(f) == "decode.txt" and "q" in fl and "s" in fl:
                    codes = bytes.fromhex(fl["q"])
                    scales = bytes.fromhex(fl["s"])
                    ts = int(fl.get("t", "3f800000").replace("-", "3f800000"), 16)
                    seed = bytes([names.index(fmt)]) + struct.pack("<HI", 2 * len(codes), ts) + b"\x00" + codes + scales
                    put("decode", seed, counts)
                elif "x" in fl:
                    xs = bytes.fromhex(fl["x"])
                    # Vector files hold big-endian hex words; the target reads little-endian.
                    le = b"".join(xs[i:i + 4][::-1] for i in range(0, len(xs) - len(xs) % 4, 4))
                    put("quantize", bytes([names.index(fmt), 0, 0]) + le, counts)

    mma = os.path.join(ROOT, "vectors", "mma")
    for f in walk(mma, ".txt"):
        with open(f) as fh:
            for n, p in enumerate(pieces(fh.read())):
                if n >= 10:
                    break
                put("mma_cases", p, counts)

    for f in walk(os.path.join(ROOT, "assets"), ".npy"):
        with open(f, "rb") as fh:
            put("npy", fh.read(), counts)
    vals = [0.0, -0.0, 1.0, -1.5, 6.0, 448.0, 1e-40, float("inf"), float("nan")]
    put("npy", npy_bytes("<f4", [len(vals)], struct.pack("<%df" % len(vals), *vals)), counts)
    put("npy", npy_bytes("<f4", [3, 3], struct.pack("<9f", *vals)), counts)
    put("npy", npy_bytes("<f2", [4], struct.pack("<4e", 0.0, 1.0, -2.0, 65504.0)), counts)
    put("npy", npy_bytes("<u2", [2, 2], struct.pack("<4H", 0x3F80, 0xBF80, 0x7F80, 0x0001)), counts)
    put("npy", npy_bytes("|u1", [5], bytes(range(5))), counts)
    put("npy", npy_bytes("<f4", [0], b""), counts)

    f32 = struct.pack("<32f", *[(i - 16) * 0.25 for i in range(32)])
    put("safetensors", safetensors_bytes([("w", "F32", [2, 16], f32)]), counts)
    put("safetensors", safetensors_bytes([("w", "BF16", [4], struct.pack("<4H", 0x3F80, 0, 0xC000, 0x7F80))]), counts)
    put("safetensors", safetensors_bytes([("w", "F16", [2], struct.pack("<2e", 1.0, -0.5))]), counts)
    for fmt, scale_dtype, ts in (("nvfp4", "F8_E4M3", True), ("mxfp4", "F8_E8M0", False)):
        group = 16 if fmt == "nvfp4" else 32
        tensors = [
            ("layer.weight", "U8", [2, group // 2], bytes(range(group))),
            ("layer.weight_scale", scale_dtype, [2, 1], b"\x38\x40"),
        ]
        if ts:
            tensors.append(("layer.weight_scale_2", "F32", [], struct.pack("<f", 0.5)))
        meta = {"gridgames.format": fmt, "gridgames.profile": "reference"}
        put("safetensors", safetensors_bytes(tensors, meta), counts)
        meta["gridgames.layer.padded"] = "3"
        put("safetensors", safetensors_bytes(tensors, meta), counts)

    specials = [0.0, -0.0, 1.0, -1.0, 0.5, 0.25, 0.75, 1.5, 3.0, 5.0, 6.0, 7.0, 448.0, 464.0,
                480.0, 57344.0, 2.0 ** -9, 2.0 ** -10, 2.0 ** -127, 2.0 ** 127, 5e-324,
                1.7976931348623157e308, float("inf"), -float("inf"), float("nan")]
    for e in range(12):
        for x in specials:
            put("element", bytes([e, 0, 0]) + struct.pack("<d", x), counts)

    for ins in range(24):
        for fill in (b"\x00", b"\x01", b"\x3c", b"\xff"):
            put("mma_dot", struct.pack("<HBBI", ins, 0, 0, 0) + fill * 512, counts)

    for t in sorted(counts):
        print("%-12s %d new seeds" % (t, counts[t]))


if __name__ == "__main__":
    sys.exit(main())
