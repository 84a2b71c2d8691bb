//! gridgames: the bit-exact reference for microscaled 4-bit formats with one or more grids
//! (NVFP4, MXFP4, NF4 and the Grid Games families), and an emulator of the tensor-core
//! arithmetic that consumes them.
//!
//! With `default-features = false` the crate is `no_std` without `alloc`: element formats,
//! grids, the generated tables and block decode, for firmware.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_code)]

pub mod decode;
pub mod element;
pub mod format;
pub mod tables;

#[cfg(feature = "cli")]
pub mod container;
#[cfg(feature = "std")]
pub mod emu;
#[cfg(feature = "std")]
pub mod eval;
#[cfg(feature = "std")]
pub mod learn;
#[cfg(feature = "std")]
pub mod quant;
#[cfg(feature = "std")]
#[allow(unsafe_code)]
pub mod simd;
#[cfg(feature = "std")]
pub mod spec;
#[cfg(feature = "std")]
pub mod vectors;
