#![no_main]
//! Fuzz target `vectors`: see `gridgames_fuzz::vectors` for the input layout and what is checked.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gridgames_fuzz::vectors(data));
