//! gridgames: the bit-exact reference for microscaled 4-bit formats with one or more grids
//! (NVFP4, MXFP4, NF4 and the Grid Games families), and an emulator of the tensor-core
//! arithmetic that consumes them.
//!
//! # Start here
//!
//! ```
//! use gridgames::{tables, Profile, Quantizer};
//!
//! let nvfp4 = tables::format("nvfp4").expect("built in");
//! let x: Vec<f32> = (0..32).map(|i| i as f32 * 0.25 - 4.0).collect();
//! let q = Quantizer::new(nvfp4, Profile::Reference)?.quantize(&x, false)?;
//! let mut y = vec![0f32; x.len()];
//! let ts = q.tensor_scale.unwrap_or(1.0);
//! gridgames::decode::decode_f32(nvfp4, &q.codes, &q.scales, ts, &mut y)?;
//! // E2M1's widest gap is 2 (4 to 6) at block scale amax/6, so no error exceeds amax/6.
//! assert!(x.iter().zip(&y).all(|(a, b)| (a - b).abs() <= 4.0 / 6.0 * 1.001));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Module map
//!
//! The flow of one value: a spec file (`spec/formats/*.yaml`) is validated by [`spec`] (at
//! build time for the built-ins, which become the `const` [`tables`]; at run time for a
//! user's file); [`quant`] turns f32 values into codes and scales under a named
//! [`Profile`]; [`decode`] turns them back (the oracle), [`simd`] does both fast and is
//! proven equal to the oracle; [`vectors`] checks another implementation's output and
//! classifies every difference; [`emu`] models the tensor cores that consume the codes.
//!
//! | layer | modules | `no_std` |
//! |---|---|---|
//! | numbers | [`element`] (element formats, exact round-once encode), [`format`](mod@format) (formats, grids), [`tables`] (generated), [`decode`] (the oracle), [`layout`] (swizzled scale layouts) | yes |
//! | spec | [`spec`] (YAML schema, validation with file:line:field errors, runtime loading) | std |
//! | quantize | [`quant`] (reference quantizer, one file per library profile), [`simd`] (fast path, per-ISA kernels) | std |
//! | conformance | [`vectors`] (golden vectors, `verify`), [`container`] (`.npy`, safetensors; feature `io`) | std |
//! | hardware | [`emu`] (MMA instructions, GEMM recipes, NVIDIA conversions live in [`element::cuda`]) | std |
//! | research | [`learn`] (grid learning), [`eval`] (MSE studies, plots) | std |
//! | plumbing | [`rng`] (the one seeded generator, SplitMix64) | yes |
//! | | [`fsio`] (capped reads, atomic writes) | std |
//!
//! With `default-features = false` the crate is `no_std` without `alloc`: element formats,
//! grids, the generated tables and block decode, for firmware. Feature `std` adds the
//! quantizer, spec loading, verification and emulation; `io` adds containers; `cli` the
//! command-line tool.
#![cfg_attr(not(feature = "std"), no_std)]
// `unsafe` is denied at the root and forbidden (no `allow` can lift it) on every module but
// `simd`, whose kernels need intrinsics; `forbid` at the root would also bind `simd`.
#![deny(unsafe_code)]
#![deny(missing_docs)]
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
pub mod layout;
#[forbid(unsafe_code)]
pub mod rng;
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

pub use decode::{DecodeError, Output};
pub use element::Element;
pub use format::{Format, Grid, ScaleRounding, Ties};
pub use layout::ScaleLayout;
#[cfg(feature = "std")]
pub use quant::{profiles::Profile, QuantError, Quantized, Quantizer};
#[cfg(feature = "std")]
pub use spec::schema::SpecError;
#[cfg(feature = "std")]
pub use vectors::verify::{Class, Mismatch, Report, Verifier};
