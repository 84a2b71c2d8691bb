#!/usr/bin/env python3
"""Sanity-check vectors/peers: parse every file by the README's rules and re-decode q/s/t with
plain numpy (+ ml_dtypes for e4m3 bytes), comparing bit for bit with each library's own dq.

    python scripts/peers/check_peer_vectors.py vectors/peers

Needs only numpy and ml_dtypes. Exit status 1 on a format error or an unexpected mismatch.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import ml_dtypes

E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6], np.float32)
E2M1_MODELOPT = np.where(np.arange(16) == 8, np.float32(0), E2M1).astype(np.float32)
NF4 = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
                0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
                0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0], np.float32)
KV2 = np.array([0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12], np.float32)


def parse(path: Path):
    header, cases = {}, []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            body = line[1:].strip()
            if ": " in body and not body.startswith("skipped"):
                k, v = body.split(": ", 1)
                header.setdefault(k.strip(), v)
            continue
        if not line.strip():
            continue
        rec = dict(f.split("=", 1) for f in line.split())
        cases.append(rec)
    return header, cases


def f32(h: str) -> np.ndarray:
    if h == "-":
        return None
    assert len(h) % 8 == 0
    return np.frombuffer(bytes.fromhex(h), dtype=">u4").astype(np.uint32).view(np.float32)


def u8(h: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(h), dtype=np.uint8)


def unpack(q: np.ndarray, packing: str, n: int, group: int = 0) -> np.ndarray:
    if packing.startswith("low-first"):
        return np.stack([q & 15, q >> 4], -1).reshape(-1)[:n]
    if packing.startswith("high-first"):
        return np.stack([q >> 4, q & 15], -1).reshape(-1)[:n]
    raise ValueError(packing)


def same_bits(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Equal bit patterns, treating any two NaNs as equal."""
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    return (a.view(np.uint32) == b.view(np.uint32)) | (np.isnan(a) & np.isnan(b))


def e4m3(s):
    return s.view(ml_dtypes.float8_e4m3fn).astype(np.float32)


def check_file(path: Path, root: Path) -> tuple[int, int]:
    rel = path.relative_to(root).as_posix()
    header, cases = parse(path)
    for k in ("command", "library", "versions", "packing", "scale", "group"):
        assert k in header, f"{rel}: header lacks '{k}'"
    bad = 0
    with np.errstate(all="ignore"):
        for c in cases:
            r, cc = map(int, c["shape"].split("x"))
            n = r * cc
            x = f32(c["x"])
            if x is not None:
                assert x.size == n, (rel, c["case"])
            dq = f32(c["dq"])
            q = u8(c["q"])
            if rel.startswith("ml_dtypes/"):
                el = rel.split("_", 2)[-1][:-4]
                dt = {"e2m1": ml_dtypes.float4_e2m1fn, "e2m3": ml_dtypes.float6_e2m3fn,
                      "e3m2": ml_dtypes.float6_e3m2fn, "e4m3": ml_dtypes.float8_e4m3fn,
                      "e5m2": ml_dtypes.float8_e5m2, "ue8m0": ml_dtypes.float8_e8m0fnu}[el]
                mine = q.view(dt).astype(np.float32)
            elif rel.startswith("gguf/mxfp4"):
                blocks = q.reshape(-1, 17)
                e = blocks[:, 0].astype(np.uint32)
                d = np.where(e < 2, np.uint32(0x00200000) << e, (e - 1) << 23).astype(np.uint32).view(np.float32)
                qs = blocks[:, 1:]
                codes = np.concatenate([qs & 15, qs >> 4], axis=1)
                mine = (d[:, None] * KV2[codes]).reshape(-1)
                assert np.array_equal(u8(c["s"]), blocks[:, 0]), rel
            elif rel.startswith("gguf/nvfp4"):
                blocks = q.reshape(-1, 36)
                d = blocks[:, :4]
                ex = ((d >> 3) & 15).astype(np.int32)
                man = (d & 7).astype(np.float32)
                raw = np.where(ex == 0, man * np.float32(2.0 ** -9),
                               (1 + man / np.float32(8)) * np.exp2((ex - 7).astype(np.float32)))
                sc = np.where((d == 0) | (d == 0x7F), np.float32(0), raw * np.float32(0.5)).astype(np.float32)
                qs = blocks[:, 4:].reshape(-1, 4, 8)
                codes = np.concatenate([qs & 15, qs >> 4], axis=-1)
                mine = (sc[:, :, None] * KV2[codes]).reshape(-1)
            elif rel.startswith("bitsandbytes/"):
                codes = unpack(q, header["packing"], n)
                am = f32(c["s"])
                mine = (NF4[codes].reshape(-1, 64) * am[:, None]).reshape(-1)
            elif rel.startswith("torchao/mxfp4") or rel.startswith("fouroversix/mxfp4"):
                codes = unpack(q, header["packing"], n)
                s = u8(c["s"]).astype(np.int32)
                sc = np.where(s == 255, np.float32(np.nan), np.exp2((s - 127).astype(np.float64)).astype(np.float32))
                if rel.startswith("fouroversix"):
                    # float16 intermediate; no amax factor for mxfp4
                    v = E2M1[codes].astype(np.float16).reshape(-1, 32)
                    mine = (v * sc.astype(np.float16)[:, None]).astype(np.float32).reshape(-1)
                else:
                    mine = (E2M1[codes].reshape(-1, 32) * sc[:, None]).reshape(-1)
            elif rel.startswith("torchao/nvfp4") or rel.startswith("modelopt/"):
                codes = unpack(q, header["packing"], n)
                s = e4m3(u8(c["s"]))
                t = f32(c["t"])
                if t is not None:
                    s = (s * t[0]).astype(np.float32)
                # ModelOpt's e2m1_values table has +0 (not -0) for code 8
                tab = E2M1_MODELOPT if rel.startswith("modelopt/") else E2M1
                mine = (tab[codes].reshape(-1, 16) * s[:, None]).reshape(-1)
            elif rel.startswith("fouroversix/"):
                kind, rule = path.stem.split("_", 1)
                codes = unpack(q, header["packing"], n).reshape(-1, 16)
                sb = u8(c["s"])
                amax = f32(c["amax"])[0]
                if kind == "nvint4":
                    vals = ((codes.astype(np.int8) << 4) >> 4).astype(np.float16)
                    sv = e4m3(sb)
                elif kind == "if4":
                    isint = sb >= 128
                    # torch: f16 tensor * python float -> computed in f32 with f32(6/7), rounded to f16
                    ivals = ((((codes.astype(np.int8) << 4) >> 4).astype(np.float32)
                              * np.float32(6 / 7)).astype(np.float16))
                    vals = np.where(isint[:, None], ivals, E2M1[codes].astype(np.float16))
                    sv = e4m3(np.where(isint, sb - 128, sb).astype(np.uint8))
                else:
                    vals = E2M1[codes].astype(np.float16)
                    sv = e4m3(sb)
                vmax = 4 if rule == "static_4" else (7 if kind == "nvint4" else 6)
                smax = 448 if rule.startswith("static") or kind in ("if4", "nvint4") else 256
                res = (vals * sv.astype(np.float16)[:, None]).astype(np.float32)
                mine = ((res * amax) / np.float32(vmax * smax)).reshape(-1)
            else:
                raise AssertionError(f"unknown file {rel}")
            ok = same_bits(mine, dq)
            if not ok.all():
                bad += 1
                i = int(np.argmin(ok))
                print(f"  {rel} case={c['case']}: {int((~ok).sum())} dq mismatches, first at {i}: "
                      f"mine {mine[i]!r} lib {dq[i]!r}")
    return len(cases), bad


def main(argv=None) -> int:
    root = Path((argv or sys.argv[1:] or ["vectors/peers"])[0])
    total_bad = 0
    for path in sorted(root.rglob("*.txt")):
        n, bad = check_file(path, root)
        total_bad += bad
        print(f"{path.relative_to(root)}: {n} cases, {bad} with dq mismatches")
    return 1 if total_bad else 0


if __name__ == "__main__":
    sys.exit(main())
