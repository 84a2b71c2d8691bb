#!/usr/bin/env python3
"""Independent checker of the gridgames golden vectors (numpy only).

Parses every file under vectors/ in the documented line formats (vectors/README.md) and:
  * decodes every case of every `<format>/decode.txt` with its own element decoders
    (E2M1, INT4, NF4 table, generic minifloat scales such as UE4M3/E8M0, FP32) and its own
    round-to-nearest-even to f32/f16/bf16, and compares bit for bit (any NaN matches NaN);
  * checks the grids declared in each header against its own tables where it has one
    (e2m1, int4, nf4), so the files cannot silently drift from the standards;
  * checks the shape of every quantize case (lengths of x, q, s, g; error lines);
  * checks vectors/MANIFEST: every file listed with the right SHA-256 and case count.

Usage: python3 examples/python/check_vectors.py [vectors-dir]     (exit 0 when all pass)
"""
import hashlib
import math
import os
import sys

import numpy as np

# ---- own tables -------------------------------------------------------------------------

def e2m1_value(code):
    """E2M1: s e1 e0 m, bias 1, subnormal at exponent 0 (OCP MX v1.0)."""
    sign = -1.0 if code & 8 else 1.0
    e = (code >> 1) & 3
    m = code & 1
    mag = (m * 0.5) if e == 0 else (1.0 + m * 0.5) * 2.0 ** (e - 1)
    return sign * mag

def int4_value(code):
    return float(code - 16 if code & 8 else code)

# bitsandbytes functional.py get_4bit_type("nf4"), as published (float32).
NF4 = np.array([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0], dtype=np.float32)

OWN_GRIDS = {
    "e2m1": [e2m1_value(c) for c in range(16)],
    "int4": [int4_value(c) for c in range(16)],
    "nf4": [float(v) for v in NF4],
}

# Known scale element layouts: (bits, exponent_bits, mantissa_bits, bias, subnormals, specials)
OWN_ELEMENTS = {
    "ue4m3": (7, 4, 3, 7, 1, "nan-all-ones"),
    "ue8m0": (8, 8, 0, 127, 0, "nan-all-ones"),
    "e4m3": (8, 4, 3, 7, 1, "nan-all-ones"),
    "f32": (32, 8, 23, 127, 1, "ieee"),
}

def f32_of_bits(b):
    return float(np.array([b], dtype=np.uint32).view(np.float32)[0])

def minifloat_value(code, el):
    """Generic decode of a float element from its header fields."""
    if el["name"] == "f32" or el["bits"] == 32:
        return f32_of_bits(code)
    bits, eb, mb, bias = el["bits"], el["exponent_bits"], el["mantissa_bits"], el["bias"]
    code &= (1 << bits) - 1
    sign_bit = (1 << (bits - 1)) if el["signed"] else 0
    neg = bool(code & sign_bit)
    mag = code & ~sign_bit
    field, mant = mag >> mb, mag & ((1 << mb) - 1)
    all_e = (1 << eb) - 1
    if el["specials"] == "nan-all-ones" and field == all_e and mant == (1 << mb) - 1:
        return math.nan
    if el["specials"] == "ieee" and field == all_e:
        return math.nan if mant else (-math.inf if neg else math.inf)
    if field == 0 and el["subnormals"]:
        v = math.ldexp(mant, 1 - bias - mb)
    else:
        v = math.ldexp((1 << mb) + mant, field - bias - mb)
    return -v if neg else v

def round_ieee(x, ebits, mbits):
    """Round a Python float (exact) once to an IEEE binary format; returns the bit pattern."""
    total = 1 + ebits + mbits
    sign = (1 << (total - 1)) if math.copysign(1.0, x) < 0 else 0
    exp_all = ((1 << ebits) - 1) << mbits
    if math.isnan(x):
        return exp_all | (1 << (mbits - 1))
    if math.isinf(x):
        return sign | exp_all
    x = abs(x)
    if x == 0.0:
        return sign
    bias = (1 << (ebits - 1)) - 1
    emin = 1 - bias
    m, e = math.frexp(x)                 # x = m * 2^e, 0.5 <= m < 1
    M = int(m * (1 << 53))               # exact: x = M * 2^(e-53)
    lsb = max(e - 1, emin) - mbits       # exponent of the result's last bit
    shift = lsb - (e - 53)
    if shift <= 0:
        R = M << -shift
    else:
        R, rem = M >> shift, M & ((1 << shift) - 1)
        half = 1 << (shift - 1)
        if rem > half or (rem == half and R & 1):
            R += 1
    if R == 0:
        return sign
    L = R.bit_length()
    E = lsb + L - 1
    if E < emin:                          # subnormal
        return sign | R
    field = E + bias
    if field >= (1 << ebits) - 1:
        return sign | exp_all             # overflow: Inf
    frac = (R << (mbits + 1 - L) if L <= mbits + 1 else R >> (L - mbits - 1)) - (1 << mbits)
    return sign | (field << mbits) | frac

def is_nan_bits(v, ebits, mbits):
    return (v >> mbits) & ((1 << ebits) - 1) == (1 << ebits) - 1 and v & ((1 << mbits) - 1) != 0

OUTPUTS = [("f32", 8, 8, 23), ("f16", 4, 5, 10), ("bf16", 4, 8, 7)]

# ---- parsing ----------------------------------------------------------------------------

def parse_file(path):
    header, lines = {}, []
    grids = []
    with open(path, encoding="ascii") as fh:
        for n, raw in enumerate(fh, 1):
            line = raw.rstrip("\n")
            if not line.strip():
                continue
            if line.startswith("#"):
                body = line[1:].strip()
                if ": " in body:
                    k, v = body.split(": ", 1)
                    if " " not in k:
                        if k == "grid":
                            grids.append(v)
                        header.setdefault(k, v)
                continue
            fields = dict(tok.split("=", 1) for tok in line.split(" #")[0].split())
            lines.append((n, fields))
    return header, grids, lines

def words(s, digits):
    if s == "-":
        return None
    if len(s) % digits:
        raise ValueError(f"{len(s)} hex digits is not a multiple of {digits}")
    return [int(s[i:i + digits], 16) for i in range(0, len(s), digits)]

def kv(text):
    parts = text.split()
    head = parts[0]
    return head, dict(p.split("=", 1) for p in parts[1:] if "=" in p)

def parse_format(header, grids):
    fmt = {"name": header["format"], "group": int(header["group"])}
    fmt["high_first"] = header["packing"].startswith("high-first")
    _, sc = kv("scale " + header["scale"])
    fmt["scale_bytes"] = int(sc["bytes"])
    fmt["value_mask"] = int(sc["value_mask"], 16)
    name, el = kv(header["scale_element"])
    el = {k: (v if k in ("kind", "specials") else int(v)) for k, v in el.items()}
    el["name"] = name
    fmt["scale_element"] = el
    fmt["tensor_scale"] = header["tensor_scale"] == "f32"
    fmt["grids"] = []
    for g in grids:
        idx, f = kv(g)
        vals = [f32_of_bits(w) for w in words(f["values"], 8)]
        fmt["grids"].append({"name": f["name"], "values": vals, "valid": int(f["valid"], 16)})
    if fmt["scale_bytes"] == 1:
        m = header["selector_of_byte"]
        fmt["selector"] = [None if c == "-" else int(c, 16) for c in m]
    return fmt

# ---- checks -----------------------------------------------------------------------------

def check_declared(fmt, problems, notes):
    """Compare the header's declarations with our own tables."""
    el = fmt["scale_element"]
    own = OWN_ELEMENTS.get(el["name"])
    if own is None:
        notes.append(f"{fmt['name']}: scale element {el['name']} decoded from its header fields only")
    elif own != (el["bits"], el["exponent_bits"], el["mantissa_bits"], el["bias"], el["subnormals"], el["specials"]):
        problems.append(f"{fmt['name']}: scale element {el['name']} fields {el} differ from the standard {own}")
    for g in fmt["grids"]:
        own = OWN_GRIDS.get(g["name"])
        if own is None:
            notes.append(f"{fmt['name']}: grid {g['name']} taken from the header (no own table)")
            continue
        for c in range(16):
            if g["valid"] >> c & 1 and g["values"][c] != own[c]:
                problems.append(f"{fmt['name']}: grid {g['name']} code {c}: header {g['values'][c]!r}, own table {own[c]!r}")

def code_at(fmt, q, i):
    b = q[i // 2]
    low = (i % 2 == 0) != fmt["high_first"]
    return b & 15 if low else b >> 4

def check_decode(path, problems, notes):
    header, grids, lines = parse_file(path)
    fmt = parse_format(header, grids)
    check_declared(fmt, problems, notes)
    g = fmt["group"]
    bad = 0
    for n, f in lines:
        q = bytes(words(f["q"], 2))
        s = bytes(words(f["s"], 2))
        t = words(f["t"], 8)
        ts = f32_of_bits(t[0]) if (t and fmt["tensor_scale"]) else 1.0
        nel = 2 * len(q)
        vals, err = [], None
        for i in range(nel):
            gi = i // g
            if fmt["scale_bytes"] == 1:
                sb = s[gi]
                grid = fmt["selector"][sb]
                if grid is None:
                    err = "invalid-selector"
                    break
                sv = minifloat_value(sb & fmt["value_mask"], fmt["scale_element"])
            else:
                grid = 0
                sv = f32_of_bits(int.from_bytes(s[4 * gi:4 * gi + 4], "little"))
            c = code_at(fmt, q, i)
            gr = fmt["grids"][grid]
            if not gr["valid"] >> c & 1:
                err = "invalid-code"
                break
            # Exact in float64: a 24-bit grid value times a <=24-bit scale times a 24-bit
            # tensor scale (the widest case, FP32 scales, has no tensor scale).
            vals.append(gr["values"][c] * sv * ts)
        want_err = f.get("error")
        if err or want_err:
            if err != want_err:
                problems.append(f"{path}:{n}: case {f['case']}: own decode gives {err or 'values'}, file says {want_err or 'values'}")
                bad += 1
            continue
        for key, digits, eb, mb in OUTPUTS:
            exp = words(f[key], digits)
            got = [round_ieee(v, eb, mb) for v in vals]
            for i, (a, b) in enumerate(zip(got, exp)):
                if a != b and not (is_nan_bits(a, eb, mb) and is_nan_bits(b, eb, mb)):
                    problems.append(f"{path}:{n}: case {f['case']} {key}[{i}]: own {a:0{digits}x}, file {b:0{digits}x}")
                    bad += 1
                    break
    return len(lines), bad

def check_quantize(path, problems):
    header, grids, lines = parse_file(path)
    fmt = parse_format(header, grids)
    g = fmt["group"]
    for n, f in lines:
        x = words(f["x"], 8)
        if len(x) % g:
            problems.append(f"{path}:{n}: {len(x)} inputs, not a multiple of the group size {g}")
            continue
        groups = len(x) // g
        if "error" in f:
            if f["q"] != "-":
                problems.append(f"{path}:{n}: error line with codes")
            continue
        q, s = words(f["q"], 2), words(f["s"], 2)
        if len(q) * 2 != len(x) or len(s) != groups * fmt["scale_bytes"] or len(f["g"]) != groups:
            problems.append(f"{path}:{n}: case {f['case']}: lengths of q/s/g do not match {len(x)} inputs")
        if fmt["tensor_scale"] != (f["t"] != "-"):
            problems.append(f"{path}:{n}: t present iff the format has a tensor scale")
    if int(header.get("cases", -1)) != len(lines):
        problems.append(f"{path}: header says {header.get('cases')} cases, file has {len(lines)}")
    return len(lines)

def check_manifest(root, problems):
    path = os.path.join(root, "MANIFEST")
    listed = {}
    with open(path, encoding="ascii") as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            sha, cases, rel = line.rstrip("\n").split(" ", 2)
            listed[rel] = (sha, cases)
    on_disk = []
    for d, _, files in os.walk(root):
        for name in files:
            rel = os.path.relpath(os.path.join(d, name), root).replace(os.sep, "/")
            if rel != "MANIFEST" and "__pycache__" not in rel:
                on_disk.append(rel)
    for rel in sorted(set(on_disk) - set(listed)):
        problems.append(f"MANIFEST: {rel} is not listed")
    for rel in sorted(set(listed) - set(on_disk)):
        problems.append(f"MANIFEST: {rel} is listed but missing")
    for rel in sorted(set(listed) & set(on_disk)):
        data = open(os.path.join(root, rel), "rb").read()
        sha = hashlib.sha256(data).hexdigest()
        if sha != listed[rel][0]:
            problems.append(f"MANIFEST: {rel}: sha256 {sha}, listed {listed[rel][0]}")
        if rel.endswith(".txt"):
            n = sum(1 for l in data.decode("utf-8", "replace").splitlines() if l.strip() and not l.startswith("#"))
            if str(n) != listed[rel][1]:
                problems.append(f"MANIFEST: {rel}: {n} cases, listed {listed[rel][1]}")
    return len(listed)

def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "vectors"
    problems, notes = [], []
    formats = sorted(d for d in os.listdir(root)
                     if os.path.isfile(os.path.join(root, d, "decode.txt")))
    total_dec = total_q = 0
    for fmt in formats:
        n, bad = check_decode(os.path.join(root, fmt, "decode.txt"), problems, notes)
        total_dec += n
        qfiles = []
        for prof in sorted(os.listdir(os.path.join(root, fmt))):
            p = os.path.join(root, fmt, prof, "quantize.txt")
            if os.path.isfile(p):
                total_q += check_quantize(p, problems)
                qfiles.append(prof)
        print(f"{fmt}: {n} decode cases ({bad} failing); quantize files parsed: {', '.join(qfiles)}")
    files = check_manifest(root, problems)
    for note in sorted(set(notes)):
        print("note:", note)
    print(f"{len(formats)} formats, {total_dec} decode cases decoded independently, "
          f"{total_q} quantize cases parsed, MANIFEST {files} files")
    if problems:
        for p in problems[:50]:
            print("FAIL:", p)
        print(f"{len(problems)} problem(s)")
        return 1
    print("all vectors check out")
    return 0

if __name__ == "__main__":
    sys.exit(main())
