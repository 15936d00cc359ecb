//! Writes the seed corpus, `fuzz/corpus/<target>/<name>`, from `tributary_fuzz::seeds`:
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example gen_corpus
//! ```
//!
//! Deterministic: running it again changes no file. Each target's folder is written
//! afresh (files libFuzzer found are kept in scratch copies, not here).

use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let seeds = tributary_fuzz::seeds::all();
    let mut targets: Vec<&str> = seeds.iter().map(|(t, _, _)| *t).collect();
    targets.dedup();
    for target in &targets {
        let dir = root.join(target);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("clear the corpus folder");
        }
        std::fs::create_dir_all(&dir).expect("create the corpus folder");
    }
    for (target, name, bytes) in &seeds {
        assert!(
            bytes.len() < 4096,
            "{target}/{name} is {} bytes",
            bytes.len()
        );
        let path = root.join(target).join(name);
        assert!(!path.exists(), "{target}/{name} twice");
        std::fs::write(&path, bytes).expect("write a seed");
    }
    for target in targets {
        let n = seeds.iter().filter(|(t, _, _)| *t == target).count();
        println!("corpus/{target}: {n} seeds");
    }
}
