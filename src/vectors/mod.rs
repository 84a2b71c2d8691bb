//! Golden vectors: the generated edge-case catalogue, the text case files under `vectors/`
//! (line formats in `vectors/README.md`), their MANIFEST, and the verifier that classifies
//! another implementation's mismatches.
//!
//! Files are generated deterministically from the built-in formats
//! ([`crate::tables::FORMATS`]) and every profile that applies to each
//! ([`crate::quant::Profile::for_format`]), so a new spec file gets vectors without code
//! changes.

pub mod catalogue;
pub mod generate;
pub(crate) mod rng;
pub mod text;
pub mod verify;

pub use generate::{generate_all, manifest, GeneratedFile, COMMAND, VERSION};
pub use verify::{Answer, Class, Mismatch, Options, Report, Verifier};
