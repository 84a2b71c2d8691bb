#![no_main]
//! Fuzz target `decode`: see `gridgames_fuzz::decode` for the input layout and what is checked.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gridgames_fuzz::decode(data));
