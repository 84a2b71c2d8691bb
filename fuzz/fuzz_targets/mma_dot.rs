#![no_main]
//! Fuzz target `mma_dot`: see `gridgames_fuzz::mma_dot` for the input layout and what is checked.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gridgames_fuzz::mma_dot(data));
