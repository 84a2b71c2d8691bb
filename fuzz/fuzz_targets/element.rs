#![no_main]
//! Fuzz target `element`: see `gridgames_fuzz::element` for the input layout and what is checked.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gridgames_fuzz::element(data));
