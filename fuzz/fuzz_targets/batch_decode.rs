#![no_main]
//! See `tributary_fuzz::batch_decode` for what this target checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tributary_fuzz::batch_decode::check(data));
