#![no_main]
//! Fuzz target `quantize`: see `gridgames_fuzz::quantize` for the input layout and what is checked.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gridgames_fuzz::quantize(data));
