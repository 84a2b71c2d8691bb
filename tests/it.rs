//! The integration tests: one binary, one module per area (`cargo test --test it AREA::`).
//!
//! One binary links the library once instead of once per file (19 binaries before), and the
//! helpers in `support` are shared by every module. Each module's own header says what it
//! checks and where its expected values come from.

mod support;

mod architecture;
mod cli_errors;
mod containers;
mod cuda_cvt;
mod element_exhaustive;
mod element_ml_dtypes;
mod emu;
mod families;
mod gemm;
mod limits;
mod peers;
mod quant_smoke;
mod readme;
mod regressions;
mod simd_equal;
mod soak;
mod spec_errors;
mod spec_tables;
mod vectors;
mod vectors_backends;
mod verify_planted;
