//! The fast path: decode, reference-profile quantize and element conversion, in three tiers
//! that must equal the scalar oracle (`crate::decode`, `crate::quant`, `Element::encode`) bit
//! for bit.
//!
//! - [`Backend::Scalar`]: the oracle itself, called unchanged.
//! - [`Backend::Portable`]: plain Rust, no `unsafe`, per-group tables and precomputed exact
//!   thresholds (see `portable.rs`); also the fallback for tails and odd group sizes.
//! - [`Backend::Avx2`], [`Backend::Avx512`]: x86_64 kernels (`x86.rs`, and the quantize block
//!   kernel both use, `avx2_quant.rs`), chosen at run time.
//!
//! Dispatch: [`Backend::selected`] reads `GRIDGAMES_SIMD` (`scalar`, `portable`, `avx2`,
//! `avx512`) once, else detects the CPU once, and caches the answer. Every backend is callable
//! directly (`decode_bits(Backend::Avx2, ..)`); a backend the CPU lacks runs the portable
//! tier instead of faulting (check [`Backend::is_available`] first when it matters).
//!
//! Why the fast paths can equal the oracle (the arguments are repeated where they are used):
//! - Decode: the oracle computes `((g · s) · t)` in f64 and rounds once. The fast path does the
//!   same f64 operations, in the same order, once per (group, code) into a 16-entry table, and
//!   looks elements up in it; for f16/bf16 it rounds the f64 to f32 *to odd* and then to the
//!   16-bit type to nearest even, which is a single correct rounding because f32 keeps at
//!   least two more bits than either 16-bit type in every binade (the classic round-to-odd
//!   argument), and NaNs are replaced by the oracle's canonical NaN.
//! - Quantize: every rounding decision of the reference profile is a comparison of an f32
//!   input against an exact boundary (a midpoint times the exact scale product). Those
//!   boundaries fit in f64 for every built-in format (checked per format at run time;
//!   otherwise the oracle runs), and a comparison of an f32 `x` against a real `b` equals a
//!   comparison of `x` against the smallest f32 `≥ b` (or `> b`, by the tie rule). So each
//!   boundary becomes one f32 threshold and each element one count of thresholds ≤ x.
//! - Grid selection: sums of squared errors are computed in a different order than the
//!   oracle's, so they may differ in the last bits; a selection is accepted only when the sums
//!   differ by far more than both rounding errors can explain, else the group is re-scored in
//!   the oracle's order.
//! - Errors: any error (invalid selector, invalid code, non-finite input) makes the whole call
//!   re-run on the oracle, so errors and partial outputs are the oracle's exactly.

#[cfg(target_arch = "x86_64")]
mod avx2_quant;
mod encode;
mod mirror;
mod par;
mod plan;
mod portable;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::sync::atomic::{AtomicU8, Ordering};

pub use encode::encode_elements;
pub(crate) use par::amax_bits;
pub use par::{decode_bits, decode_f32, quantize, quantize_chunk};

/// One implementation tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The scalar oracle (`crate::decode`, `crate::quant`, `Element::encode`), unchanged.
    Scalar,
    /// Fast portable Rust: per-group tables and exact thresholds, no SIMD intrinsics.
    Portable,
    /// x86_64 AVX2 (with FMA, F16C and BMI2).
    Avx2,
    /// x86_64 AVX-512 F, BW, VL and VBMI.
    Avx512,
}

impl Backend {
    /// Every backend, slowest first.
    pub const ALL: [Backend; 4] = [
        Backend::Scalar,
        Backend::Portable,
        Backend::Avx2,
        Backend::Avx512,
    ];

    /// The name `GRIDGAMES_SIMD` accepts.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Scalar => "scalar",
            Backend::Portable => "portable",
            Backend::Avx2 => "avx2",
            Backend::Avx512 => "avx512",
        }
    }

    /// Parse a `GRIDGAMES_SIMD` value.
    pub fn from_name(name: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Whether this CPU can run the backend.
    pub fn is_available(self) -> bool {
        match self {
            Backend::Scalar | Backend::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                    && std::arch::is_x86_feature_detected!("f16c")
                    && std::arch::is_x86_feature_detected!("bmi2")
            }
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512vbmi")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The backends this CPU can run, slowest first.
    pub fn available() -> Vec<Backend> {
        Backend::ALL
            .into_iter()
            .filter(|b| b.is_available())
            .collect()
    }

    /// The fastest backend this CPU runs.
    pub fn detect() -> Backend {
        *Backend::available().last().unwrap_or(&Backend::Portable)
    }

    /// The backend used when none is named: `GRIDGAMES_SIMD` if set to an available
    /// backend, else [`Backend::detect`]. Read once and cached.
    pub fn selected() -> Backend {
        static CACHE: AtomicU8 = AtomicU8::new(u8::MAX);
        let cached = CACHE.load(Ordering::Relaxed);
        if let Some(&b) = Backend::ALL.get(cached as usize) {
            return b;
        }
        let chosen = Backend::forced()
            .filter(|b| b.is_available())
            .unwrap_or_else(Backend::detect);
        let index = Backend::ALL.iter().position(|&b| b == chosen).unwrap_or(1);
        CACHE.store(index as u8, Ordering::Relaxed);
        chosen
    }

    /// The backend `GRIDGAMES_SIMD` names, if it names one (available or not).
    pub fn forced() -> Option<Backend> {
        std::env::var("GRIDGAMES_SIMD")
            .ok()
            .and_then(|v| Backend::from_name(v.trim()))
    }

    /// The backend that actually runs when `self` is asked for: an unavailable SIMD backend
    /// runs the portable tier.
    pub(crate) fn effective(self) -> Backend {
        if self.is_available() {
            self
        } else {
            Backend::Portable
        }
    }
}

/// How to run a fast-path operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Which kernels run (`Backend::best()` for the CPU's best tier).
    pub backend: Backend,
    /// Worker threads (1 = the calling thread only). Small inputs use fewer.
    pub threads: usize,
}

impl Default for Options {
    /// The selected backend, one thread.
    fn default() -> Options {
        Options {
            backend: Backend::selected(),
            threads: 1,
        }
    }
}

impl Options {
    /// One thread on `backend`.
    pub fn with(backend: Backend) -> Options {
        Options {
            backend,
            threads: 1,
        }
    }

    /// Every core the OS reports (the CLI's default).
    pub fn all_cores(backend: Backend) -> Options {
        Options {
            backend,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        }
    }
}
