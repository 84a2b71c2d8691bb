#![no_main]
//! Fuzz target `spec`: see `gridgames_fuzz::spec` for the input layout and what is checked.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gridgames_fuzz::spec(data));
