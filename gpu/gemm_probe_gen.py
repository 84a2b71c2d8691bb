import numpy as np
M64 = (1 << 64) - 1


def codes(seed, n, e_lo=1, e_hi=14):
    """n E4M3 codes from SplitMix64: exponent field in [e_lo, e_hi] (never NaN)."""
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(seed) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    sign = (z >> np.uint64(63)).astype(np.uint8)
    e = (e_lo + (z >> np.uint64(8)) % np.uint64(e_hi - e_lo + 1)).astype(np.uint8)
    m = ((z >> np.uint64(4)) & np.uint64(7)).astype(np.uint8)
    return (sign << 7) | (e << 3) | m


def operands(seed, m, n, k, e_lo=1, e_hi=14):
    a = codes(seed, m * k, e_lo, e_hi).reshape(m, k)
    b = codes(seed + 1, k * n, e_lo, e_hi).reshape(k, n)
    return a, b


