#!/usr/bin/env python3
"""Convert raw f32 values to element-format codes (or decode codes) with ml_dtypes.

Used by the gridgames Rust test suite as a side-by-side oracle. Needs only numpy and
ml_dtypes (pinned: ml-dtypes==0.6.0, see requirements-ci.txt).

  python ml_dtypes_convert.py --element e2m1 IN OUT          # IN: raw little-endian f32
                                                             # OUT: one uint8 code per value
  python ml_dtypes_convert.py --element e2m1 --decode IN OUT # IN: uint8 codes
                                                             # OUT: raw little-endian f32

Encoding is `np.asarray(f32).astype(<ml_dtypes type>)`, i.e. ml_dtypes' own ConvertImpl (RNE;
for float4/float6 types overflow saturates to max finite, for float8_e4m3fn overflow gives NaN,
for float8_e8m0fnu zero/negative/non-finite give 0xff). The code written is the raw storage
byte (`.view(np.uint8)`); for sub-byte types ml_dtypes keeps the code in the low bits.
Decoding reinterprets each byte as the ml_dtypes type and casts to f32 (for float4/float6 types
ml_dtypes only looks at the low 4/6 bits).
"""
import argparse
import sys

import numpy as np
import ml_dtypes

ELEMENTS = {
    "e2m1": ml_dtypes.float4_e2m1fn,
    "e2m3": ml_dtypes.float6_e2m3fn,
    "e3m2": ml_dtypes.float6_e3m2fn,
    "e4m3": ml_dtypes.float8_e4m3fn,
    "e5m2": ml_dtypes.float8_e5m2,
    "ue8m0": ml_dtypes.float8_e8m0fnu,
}


def encode(x_f32: np.ndarray, element: str) -> np.ndarray:
    dt = ELEMENTS[element]
    with np.errstate(all="ignore"):
        q = np.asarray(x_f32, dtype=np.float32).astype(dt)
    return q.view(np.uint8).copy()


def decode(codes: np.ndarray, element: str) -> np.ndarray:
    dt = ELEMENTS[element]
    return np.asarray(codes, dtype=np.uint8).view(dt).astype(np.float32)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--element", required=True, choices=sorted(ELEMENTS))
    ap.add_argument("--decode", action="store_true",
                    help="IN holds uint8 codes, OUT gets raw little-endian f32")
    ap.add_argument("input", help="input file ('-' for stdin)")
    ap.add_argument("output", help="output file ('-' for stdout)")
    a = ap.parse_args(argv)

    raw = sys.stdin.buffer.read() if a.input == "-" else open(a.input, "rb").read()
    if a.decode:
        out = decode(np.frombuffer(raw, dtype=np.uint8), a.element).astype("<f4").tobytes()
    else:
        if len(raw) % 4:
            ap.error(f"input length {len(raw)} is not a multiple of 4")
        out = encode(np.frombuffer(raw, dtype="<f4"), a.element).tobytes()
    if a.output == "-":
        sys.stdout.buffer.write(out)
    else:
        with open(a.output, "wb") as f:
            f.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
