//! The shared key → partition table, natively (the same table runs on wasm32 in
//! tests/wasm.rs).

include!("common/partition_table.rs");

#[test]
fn partition_table_native() {
    check_partition_table();
}

#[test]
fn design_md_samples() {
    for (key, want) in [("", [1, 2, 3]), ("user-1", [0, 1, 5]), ("click", [0, 1, 4])] {
        for (n, w) in [2, 3, 7].into_iter().zip(want) {
            assert_eq!(tributary::partition_for_key(key.as_bytes(), n), w);
        }
    }
}

/// The JS suites read the same table from tests/js/partition-table.mjs: it must agree.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn js_copy_of_the_table_agrees() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/js/partition-table.mjs"
    ))
    .unwrap();
    // `export default {JSON};` after a comment header.
    let start = text.find("export default ").unwrap() + "export default ".len();
    let body = text[start..].trim_end().trim_end_matches(';');
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    let u64s = |v: &serde_json::Value| -> Vec<u64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .collect()
    };
    let counts = u64s(&json["counts"]);
    assert_eq!(
        counts,
        PARTITION_COUNTS
            .iter()
            .map(|&n| u64::from(n))
            .collect::<Vec<_>>()
    );
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), PARTITION_TABLE.len());
    for (row, (key, want)) in rows.iter().zip(PARTITION_TABLE) {
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(row[0].as_str().unwrap(), hex);
        let parts = u64s(&row[1]);
        assert_eq!(
            parts,
            want.iter().map(|&n| u64::from(n)).collect::<Vec<_>>()
        );
    }
}
