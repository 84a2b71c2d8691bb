#![no_main]
//! Fuzz target `safetensors`: see `gridgames_fuzz::safetensors` for the input layout and what is checked.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gridgames_fuzz::safetensors(data));
