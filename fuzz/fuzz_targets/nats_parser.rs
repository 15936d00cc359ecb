#![no_main]
//! See `tributary_fuzz::nats_parser` for what this target checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tributary_fuzz::nats_parser::check(data));
