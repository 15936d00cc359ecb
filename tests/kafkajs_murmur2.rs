//! Kafka's murmur2 partitioner checked against kafkajs's own DefaultPartitioner
//! (npm `kafkajs`, installed by `make test` through `npm ci`) on 1,204 keys and seven
//! partition counts. Fails, never skips, when node or kafkajs is missing.
#![cfg(not(target_arch = "wasm32"))] // native only: uses native-only dev-dependencies

use std::process::Command;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn murmur2_matches_kafkajs_default_partitioner() {
    let out = Command::new("node")
        .arg("tests/js/kafkajs-murmur2.mjs")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("node must be installed (make test installs the JS tools)");
    assert!(
        out.status.success(),
        "kafkajs script failed (run `npm ci`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<(String, u32, u32)> = serde_json::from_slice(&out.stdout).expect("JSON rows");
    assert!(rows.len() >= 1000 * 7, "only {} rows", rows.len());
    let mut mismatches = Vec::new();
    for (key_hex, n, want) in &rows {
        let got = tributary::murmur2_partition(&unhex(key_hex), *n);
        if got != *want {
            mismatches.push((key_hex.clone(), *n, *want, got));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches, first: {:?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(5)]
    );
}
