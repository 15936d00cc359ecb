#![no_main]
//! See `tributary_fuzz::config` for what this target checks.

libfuzzer_sys::fuzz_target!(|input: tributary_fuzz::config::Input| {
    tributary_fuzz::config::check(&input)
});
