//! C API of the gridgames block decoder: the `no_std`, allocation-free decode path of the
//! `gridgames` crate behind a few `extern "C"` functions, for C, C++ and firmware.
//!
//! Formats are addressed by index into the built-in table (`gg_format_count`,
//! `gg_format_find`). Every function checks its pointers and lengths and returns a status
//! code; nothing panics across the FFI boundary.
//!
//! `unsafe` appears only where a C pointer becomes a Rust slice, each with its `// SAFETY:`
//! argument. Functions that take pointers are `unsafe extern "C"`: their `# Safety`
//! sections state what the C caller promises.
#![deny(unsafe_op_in_unsafe_fn)]

use gridgames::decode::{self, DecodeError, Output};
use gridgames::format::Format;
use gridgames::tables::FORMATS;

/// Success.
pub const GG_OK: i32 = 0;
/// No built-in format has this index or name.
pub const GG_ERR_FORMAT: i32 = -1;
/// Code, scale and output lengths disagree with the format.
pub const GG_ERR_LENGTH: i32 = -2;
/// A scale's selector bits name no grid of the format.
pub const GG_ERR_SELECTOR: i32 = -3;
/// A code that the selected grid does not define.
pub const GG_ERR_CODE: i32 = -4;
/// A required pointer is NULL.
pub const GG_ERR_NULL: i32 = -5;
/// Unknown output kind.
pub const GG_ERR_OUTPUT: i32 = -6;

/// Output kind for `gg_decode_bits`: f32 bit patterns.
pub const GG_OUTPUT_F32: u32 = 0;
/// Output kind for `gg_decode_bits`: f16 bit patterns (low 16 bits of each word).
pub const GG_OUTPUT_F16: u32 = 1;
/// Output kind for `gg_decode_bits`: bf16 bit patterns (low 16 bits of each word).
pub const GG_OUTPUT_BF16: u32 = 2;

/// What a format looks like from C.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct GgFormatInfo {
    /// Elements per group (one scale per group).
    pub group_size: u32,
    /// Bytes per stored scale: 1, or 4 (little-endian FP32).
    pub scale_bytes: u32,
    /// Number of grids (1 to 4).
    pub grids: u32,
    /// 1 when the format has a per-tensor FP32 scale.
    pub tensor_scale: u32,
    /// 1 when element 2i is in the high nibble (bitsandbytes order).
    pub high_nibble_first: u32,
}

/// Where a decode failed: the status, and the group or element index it concerns.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct GgError {
    pub status: i32,
    /// Group (selector errors) or element (code errors) index; 0 otherwise.
    pub index: usize,
    /// The offending scale or code; 0 otherwise.
    pub value: u32,
}

fn format_at(index: u32) -> Option<&'static Format> {
    FORMATS.get(index as usize).copied()
}

/// Number of built-in formats.
#[no_mangle]
pub extern "C" fn gg_format_count() -> u32 {
    FORMATS.len() as u32
}

/// Index of the built-in format named by the `len` bytes at `name` (no NUL terminator
/// needed), or `GG_ERR_FORMAT`.
///
/// # Safety
/// `name` must be NULL or point to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn gg_format_find(name: *const u8, len: usize) -> i32 {
    if name.is_null() {
        return GG_ERR_NULL;
    }
    // SAFETY: `name` is non-null and the caller promises `len` readable bytes there.
    let bytes = unsafe { core::slice::from_raw_parts(name, len) };
    FORMATS
        .iter()
        .position(|f| f.name.as_bytes() == bytes)
        .map(|i| i as i32)
        .unwrap_or(GG_ERR_FORMAT)
}

/// Copy the name of format `index` into `buf` (at most `cap` bytes, NUL-terminated when
/// room remains). Returns the name's length in bytes, or `GG_ERR_FORMAT`.
///
/// # Safety
/// `buf` must be NULL or point to `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn gg_format_name(index: u32, buf: *mut u8, cap: usize) -> i32 {
    let Some(f) = format_at(index) else {
        return GG_ERR_FORMAT;
    };
    let name = f.name.as_bytes();
    if !buf.is_null() && cap > 0 {
        // SAFETY: `buf` is non-null and the caller promises `cap` writable bytes there.
        let out = unsafe { core::slice::from_raw_parts_mut(buf, cap) };
        let n = name.len().min(cap - 1);
        out[..n].copy_from_slice(&name[..n]);
        out[n] = 0;
    }
    name.len() as i32
}

/// Fill `info` for format `index`. Returns `GG_OK`, `GG_ERR_FORMAT` or `GG_ERR_NULL`.
///
/// # Safety
/// `info` must be NULL or point to a writable `GgFormatInfo`.
#[no_mangle]
pub unsafe extern "C" fn gg_format_info(index: u32, info: *mut GgFormatInfo) -> i32 {
    let Some(f) = format_at(index) else {
        return GG_ERR_FORMAT;
    };
    if info.is_null() {
        return GG_ERR_NULL;
    }
    let value = GgFormatInfo {
        group_size: f.group_size,
        scale_bytes: f.scale_bytes,
        grids: f.grids.len() as u32,
        tensor_scale: f.tensor_scale as u32,
        high_nibble_first: f.high_nibble_first as u32,
    };
    // SAFETY: `info` is non-null and the caller promises it points to a writable
    // GgFormatInfo.
    unsafe { info.write(value) };
    GG_OK
}

fn status_of(e: DecodeError) -> GgError {
    match e {
        DecodeError::Length { .. } => GgError {
            status: GG_ERR_LENGTH,
            index: 0,
            value: 0,
        },
        DecodeError::InvalidSelector { group, scale } => GgError {
            status: GG_ERR_SELECTOR,
            index: group,
            value: scale,
        },
        DecodeError::InvalidCode { index, code } => GgError {
            status: GG_ERR_CODE,
            index,
            value: code as u32,
        },
    }
}

fn status(s: i32) -> GgError {
    GgError {
        status: s,
        index: 0,
        value: 0,
    }
}

/// A C byte buffer as a slice; `None` for NULL with a non-zero length.
///
/// # Safety
/// A non-null `p` must point to `len` readable bytes that stay valid for `'a`.
unsafe fn bytes<'a>(p: *const u8, len: usize) -> Option<&'a [u8]> {
    if len == 0 {
        Some(&[])
    } else if p.is_null() {
        None
    } else {
        // SAFETY: non-null, and the caller promises `len` readable bytes for `'a`.
        Some(unsafe { core::slice::from_raw_parts(p, len) })
    }
}

/// A C output buffer as a mutable slice; `None` for NULL with a non-zero length.
///
/// # Safety
/// A non-null `p` must point to room for `n` values of `T`, not aliased, valid for `'a`.
unsafe fn out_slice<'a, T>(p: *mut T, n: usize) -> Option<&'a mut [T]> {
    if n == 0 {
        Some(&mut [])
    } else if p.is_null() {
        None
    } else {
        // SAFETY: non-null, and the caller promises room for `n` unaliased values for `'a`.
        Some(unsafe { core::slice::from_raw_parts_mut(p, n) })
    }
}

/// Write `e` to `err` (if given) and return its status.
fn report(err: Option<&mut GgError>, e: GgError) -> i32 {
    if let Some(slot) = err {
        *slot = e;
    }
    e.status
}

/// Decode `n` elements of format `format` to f32: `grid[sel][code] × scale × tensor_scale`,
/// exact, rounded once. `codes` holds ceil(n/2) packed bytes in the format's nibble order,
/// `scales` one stored scale per group (`scale_bytes` each). `tensor_scale` is ignored by
/// formats without one. On failure returns a negative status and, if `err` is not NULL,
/// fills it.
///
/// # Safety
/// `codes` and `scales` must be NULL (only with a zero length) or point to `codes_len` and
/// `scales_len` readable bytes; `out` must be NULL (only with n = 0) or point to room for `n`
/// floats; `err` must be NULL or point to a writable `GgError`.
#[no_mangle]
pub unsafe extern "C" fn gg_decode_f32(
    format: u32,
    codes: *const u8,
    codes_len: usize,
    scales: *const u8,
    scales_len: usize,
    tensor_scale: f32,
    out: *mut f32,
    n: usize,
    err: *mut GgError,
) -> i32 {
    // SAFETY: the caller promises `err` is NULL or points to a writable GgError.
    let err = unsafe { err.as_mut() };
    let Some(f) = format_at(format) else {
        return report(err, status(GG_ERR_FORMAT));
    };
    // SAFETY: the caller promises the buffers' sizes (see `# Safety`).
    let (codes, scales, out) = unsafe {
        (
            bytes(codes, codes_len),
            bytes(scales, scales_len),
            out_slice(out, n),
        )
    };
    let (Some(codes), Some(scales), Some(out)) = (codes, scales, out) else {
        return report(err, status(GG_ERR_NULL));
    };
    match decode::decode_f32(f, codes, scales, tensor_scale, out) {
        Ok(()) => GG_OK,
        Err(e) => report(err, status_of(e)),
    }
}

/// Like `gg_decode_f32`, writing raw bit patterns of `output` (`GG_OUTPUT_F32`,
/// `GG_OUTPUT_F16`, `GG_OUTPUT_BF16`; 16-bit results in the low half of each word), each
/// rounded once from the exact product.
///
/// # Safety
/// As for `gg_decode_f32`, with `out` pointing to room for `n` 32-bit words.
#[no_mangle]
pub unsafe extern "C" fn gg_decode_bits(
    format: u32,
    codes: *const u8,
    codes_len: usize,
    scales: *const u8,
    scales_len: usize,
    tensor_scale: f32,
    output: u32,
    out: *mut u32,
    n: usize,
    err: *mut GgError,
) -> i32 {
    // SAFETY: the caller promises `err` is NULL or points to a writable GgError.
    let err = unsafe { err.as_mut() };
    let kind = match output {
        GG_OUTPUT_F32 => Output::F32,
        GG_OUTPUT_F16 => Output::F16,
        GG_OUTPUT_BF16 => Output::Bf16,
        _ => {
            return report(
                err,
                GgError {
                    status: GG_ERR_OUTPUT,
                    index: 0,
                    value: output,
                },
            )
        }
    };
    let Some(f) = format_at(format) else {
        return report(err, status(GG_ERR_FORMAT));
    };
    // SAFETY: the caller promises the buffers' sizes (see `# Safety`).
    let (codes, scales, out) = unsafe {
        (
            bytes(codes, codes_len),
            bytes(scales, scales_len),
            out_slice(out, n),
        )
    };
    let (Some(codes), Some(scales), Some(out)) = (codes, scales, out) else {
        return report(err, status(GG_ERR_NULL));
    };
    match decode::decode_bits(f, codes, scales, tensor_scale, kind, out) {
        Ok(()) => GG_OK,
        Err(e) => report(err, status_of(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvfp4_code_7_scale_1_decodes_to_6() {
        let name = b"nvfp4";
        // SAFETY: a valid pointer and length.
        let idx = unsafe { gg_format_find(name.as_ptr(), name.len()) };
        assert!(idx >= 0);
        // UE4M3 0x38 = 1.0; code 7 = 6.0; code 0xf = -6.0 (hand-derived from E2M1).
        let codes = [0xf7u8; 8];
        let scales = [0x38u8];
        let mut out = [0f32; 16];
        let mut err = GgError::default();
        // SAFETY: buffers of the stated sizes.
        let s = unsafe {
            gg_decode_f32(
                idx as u32,
                codes.as_ptr(),
                8,
                scales.as_ptr(),
                1,
                0.5,
                out.as_mut_ptr(),
                16,
                &mut err,
            )
        };
        assert_eq!(s, GG_OK);
        assert_eq!(out[0], 3.0);
        assert_eq!(out[1], -3.0);
    }

    #[test]
    fn bad_lengths_and_nulls_are_statuses() {
        let mut out = [0f32; 16];
        let null = core::ptr::null();
        // SAFETY: NULL inputs with non-zero lengths must be refused, never read.
        let s = unsafe {
            gg_decode_f32(
                0,
                null,
                8,
                null,
                1,
                1.0,
                out.as_mut_ptr(),
                16,
                core::ptr::null_mut(),
            )
        };
        assert_eq!(s, GG_ERR_NULL);
        let codes = [0u8; 3];
        let scales = [0x38u8];
        let mut err = GgError::default();
        // SAFETY: buffers of the stated sizes.
        let s = unsafe {
            gg_decode_f32(
                0,
                codes.as_ptr(),
                3,
                scales.as_ptr(),
                1,
                1.0,
                out.as_mut_ptr(),
                16,
                &mut err,
            )
        };
        assert_eq!(s, GG_ERR_LENGTH);
        assert_eq!(err.status, GG_ERR_LENGTH);
        // SAFETY: an unknown index is refused before the pointer is used.
        assert_eq!(
            unsafe { gg_format_info(999, core::ptr::null_mut()) },
            GG_ERR_FORMAT
        );
    }
}
