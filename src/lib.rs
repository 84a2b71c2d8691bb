//! gridgames: the bit-exact reference for microscaled 4-bit formats with one or more grids
//! (NVFP4, MXFP4, NF4 and the Grid Games families), and an emulator of the tensor-core
//! arithmetic that consumes them.
//!
//! With `default-features = false` the crate is `no_std` without `alloc`: element formats,
//! grids, the generated tables and block decode, for firmware.
#![cfg_attr(not(feature = "std"), no_std)]
// `unsafe` is denied at the root and forbidden (no `allow` can lift it) on every module but
// `simd`, whose kernels need intrinsics; `forbid` at the root would also bind `simd`.
#![deny(unsafe_code)]
#![warn(missing_docs)]
// Input must never reach a panic: library code returns errors instead (tests are exempt).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[forbid(unsafe_code)]
pub mod decode;
#[forbid(unsafe_code)]
pub mod element;
#[forbid(unsafe_code)]
pub mod format;
#[forbid(unsafe_code)]
pub mod tables;

#[cfg(feature = "io")]
#[forbid(unsafe_code)]
pub mod container;
#[cfg(feature = "std")]
#[forbid(unsafe_code)]
pub mod emu;
#[cfg(feature = "std")]
#[forbid(unsafe_code)]
pub mod eval;
#[cfg(feature = "std")]
#[forbid(unsafe_code)]
pub mod fsio;
#[cfg(feature = "std")]
#[forbid(unsafe_code)]
pub mod learn;
#[cfg(feature = "std")]
#[forbid(unsafe_code)]
pub mod quant;
#[cfg(feature = "std")]
#[allow(unsafe_code)]
pub mod simd;
#[cfg(feature = "std")]
#[forbid(unsafe_code)]
pub mod spec;
#[cfg(feature = "std")]
#[forbid(unsafe_code)]
pub mod vectors;
