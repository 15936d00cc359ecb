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
