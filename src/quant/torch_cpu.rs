//! Just enough of PyTorch-on-x86-CPU float semantics to reproduce library quantizers bit for
//! bit, NaN payloads included:
//!
//! - x86 SSE/AVX arithmetic: an operation whose operands are not NaN but whose result is
//!   (0/0, inf·0, inf−inf) returns the "default NaN" 0xFFC00000; an operation with a NaN
//!   operand returns that operand quieted (the first one if both are NaN). Rust's f32
//!   arithmetic does not promise NaN bit patterns, so we compute the value with Rust and set
//!   the NaN bits ourselves.
//! - c10's float8_e4m3fn → float conversion, which maps NaN (0x7F/0xFF) to 0x7FF00000 /
//!   0xFFF00000 (it is a bit trick, not a table).
//! - torchao's `_f32_to_floatx_unpacked` E2M1 bit trick, which maps NaN inputs to codes that
//!   depend on the payload (0x7FC00000 → 0x3, 0xFFFFFFFF → 0xC).
//!
//! Only the library profiles use this; the reference profile never sees a NaN.

const QUIET: u32 = 0x0040_0000;
const DEFAULT_NAN: u32 = 0xFFC0_0000;

fn nan_result(result: f32, a: f32, b: f32) -> f32 {
    if !result.is_nan() {
        return result;
    }
    if a.is_nan() {
        f32::from_bits(a.to_bits() | QUIET)
    } else if b.is_nan() {
        f32::from_bits(b.to_bits() | QUIET)
    } else {
        f32::from_bits(DEFAULT_NAN)
    }
}

/// `a * b` as ATen's CPU kernels compute it, NaN payload rules included.
pub fn mul(a: f32, b: f32) -> f32 {
    nan_result(a * b, a, b)
}

/// `a / b` as ATen's CPU kernels compute it, NaN payload rules included.
pub fn div(a: f32, b: f32) -> f32 {
    nan_result(a / b, a, b)
}

/// `torch.clamp(x, lo, hi)`: NaN passes through unchanged.
pub fn clamp(x: f32, lo: f32, hi: f32) -> f32 {
    if x.is_nan() {
        x
    } else {
        x.max(lo).min(hi)
    }
}

/// `torch.amax(torch.abs(x))` over a slice: NaN if any element is NaN (the first NaN's
/// payload, sign cleared by abs).
pub fn amax_abs(x: &[f32]) -> f32 {
    let mut m = 0f32;
    for &v in x {
        let a = f32::from_bits(v.to_bits() & 0x7FFF_FFFF);
        if a.is_nan() {
            return a;
        }
        if a > m {
            m = a;
        }
    }
    m
}

/// c10 `fp8e4m3fn_to_fp32_value`.
pub fn e4m3_to_f32(byte: u8) -> f32 {
    let w = (byte as u32) << 24;
    let sign = w & 0x8000_0000;
    let nonsign = w & 0x7FFF_FFFF;
    // c10 renormalizes subnormals: shift the leading one up to bit 27 (4 spare bits).
    let renorm_shift = nonsign.leading_zeros().saturating_sub(4);
    let inf_nan_mask = ((nonsign.wrapping_add(0x0100_0000) as i32) >> 8) as u32 & 0x7F80_0000;
    let zero_mask = ((nonsign as i32).wrapping_sub(1) >> 31) as u32;
    let body = ((nonsign << renorm_shift >> 4)
        .wrapping_add((0x78u32.wrapping_sub(renorm_shift)) << 23)
        | inf_nan_mask)
        & !zero_mask;
    f32::from_bits(sign | body)
}

/// torchao `f32_to_f4_unpacked` (`_f32_to_floatx_unpacked(x, 2, 1)`), including what its bit
/// trick does to NaN. Returns the low 4 bits of the uint8 result (pack_uint4 keeps those).
pub fn torchao_f32_to_e2m1(x: f32) -> u8 {
    const DENORM_MASK_INT: i32 = 149 << 23;
    let bits = x.to_bits() as i32;
    let sign = (bits as u32) & 0x8000_0000;
    let abs_bits = (bits as u32) ^ sign;
    let ax = f32::from_bits(abs_bits);
    let saturate = ax >= 6.0;
    let denormal = !saturate && ax < 1.0;
    let code: u8 = if saturate {
        7
    } else if denormal {
        let d = ax + f32::from_bits(DENORM_MASK_INT as u32);
        (d.to_bits() as i32).wrapping_sub(DENORM_MASK_INT) as u8
    } else {
        let mut n = abs_bits as i32;
        let mant_odd = (n >> 22) & 1;
        let val_to_add = ((1 - 127) << 23) + ((1 << 21) - 1);
        n = n.wrapping_add(val_to_add).wrapping_add(mant_odd);
        (n >> 22) as u8
    };
    let sign_lp = ((sign >> 28) & 8) as u8;
    (code | sign_lp) & 0x0F
}

/// The first NaN payload rule of x86 and the c10 decode give these codes for torchao's NaN
/// handling; checked against torchao 0.18's observed outputs in tests/peers.rs.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e4m3_decode_matches_values_and_nan_bits() {
        assert_eq!(e4m3_to_f32(0x38), 1.0);
        assert_eq!(e4m3_to_f32(0x7E), 448.0);
        assert_eq!(e4m3_to_f32(0x01), 2f32.powi(-9));
        assert_eq!(e4m3_to_f32(0x80).to_bits(), 0x8000_0000);
        assert_eq!(e4m3_to_f32(0x7F).to_bits(), 0x7FF0_0000);
        assert_eq!(e4m3_to_f32(0xFF).to_bits(), 0xFFF0_0000);
    }

    #[test]
    fn torchao_e2m1_nan_codes_as_observed() {
        // vectors/peers/README.md (observed with torchao 0.18): 0x7fc00000 → 3, 0xffc00000 → 0xb,
        // 0x7fffffff → 4, 0xffffffff → 0xc.
        assert_eq!(torchao_f32_to_e2m1(f32::from_bits(0x7FC0_0000)), 0x3);
        assert_eq!(torchao_f32_to_e2m1(f32::from_bits(0xFFC0_0000)), 0xB);
        assert_eq!(torchao_f32_to_e2m1(f32::from_bits(0x7FFF_FFFF)), 0x4);
        assert_eq!(torchao_f32_to_e2m1(f32::from_bits(0xFFFF_FFFF)), 0xC);
        // RNE ties.
        assert_eq!(torchao_f32_to_e2m1(0.25), 0);
        assert_eq!(torchao_f32_to_e2m1(0.75), 2);
        assert_eq!(torchao_f32_to_e2m1(2.5), 4);
        assert_eq!(torchao_f32_to_e2m1(5.0), 6);
        assert_eq!(torchao_f32_to_e2m1(-0.0), 8);
    }
}
