//! Runs a target's check on input files natively, without libFuzzer or a nightly
//! toolchain (a crash reproduced in a debugger, a corpus replayed after a change):
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example replay -- config fuzz/corpus/config/*
//! ```

use libfuzzer_sys::arbitrary::{Arbitrary, Unstructured};

fn main() {
    let mut args = std::env::args().skip(1);
    let target = args.next().expect("usage: replay <target> <file>...");
    for path in args {
        let data = std::fs::read(&path).expect("read the input");
        eprintln!("{path}");
        match target.as_str() {
            "batch_decode" => tributary_fuzz::batch_decode::check(&data),
            "config" => {
                if let Ok(input) =
                    tributary_fuzz::config::Input::arbitrary_take_rest(Unstructured::new(&data))
                {
                    if std::env::var_os("REPLAY_SHOW").is_some() {
                        eprintln!("{input:#?}");
                    }
                    tributary_fuzz::config::check(&input);
                }
            }
            other => panic!("no target {other}"),
        }
    }
}
