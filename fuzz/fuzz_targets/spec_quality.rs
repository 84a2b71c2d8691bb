#![no_main]
//! Fuzz target `spec_quality`: see `gridgames_fuzz::spec_quality`: every accepted random
//! spec must quantize N(0,1) data with a bounded relative MSE.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gridgames_fuzz::spec_quality(data));
