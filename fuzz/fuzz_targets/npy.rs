#![no_main]
//! Fuzz target `npy`: see `gridgames_fuzz::npy` for the input layout and what is checked.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gridgames_fuzz::npy(data));
