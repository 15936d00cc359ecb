// The partition table: keys → partitions for several partition counts, as Fluvio's native
// 64-bit producer computes them (SipHash-2-4 through `Hash` on a 64-bit target; generated
// once with `siphasher::sip::SipHasher` and `<[u8] as Hash>::hash`). Shared by the native
// test (tests/partition_table.rs) and the wasm32 test (tests/wasm.rs): `include!`d by both.
// The first three rows hold the samples stated in DESIGN.md.

/// Partition counts, one per column of `PARTITION_TABLE`.
pub const PARTITION_COUNTS: [u32; 8] = [1, 2, 3, 4, 7, 16, 100, 1024];

/// (key bytes, partition for each of `PARTITION_COUNTS`).
pub const PARTITION_TABLE: &[(&[u8], [u32; 8])] = &[
    (&[], [0, 1, 2, 3, 3, 7, 19, 359]),
    (&[117, 115, 101, 114, 45, 49], [0, 0, 1, 0, 5, 4, 4, 260]),
    (&[99, 108, 105, 99, 107], [0, 0, 1, 0, 4, 12, 16, 188]),
    (&[97], [0, 1, 1, 3, 2, 11, 87, 107]),
    (&[117, 115, 101, 114, 45, 52, 50], [0, 1, 0, 1, 6, 5, 89, 533]),
    (&[115, 101, 115, 115, 105, 111, 110, 45, 55, 102, 51, 97], [0, 1, 1, 3, 4, 7, 39, 167]),
    (&[104, 195, 169, 108, 108, 111], [0, 0, 2, 0, 3, 0, 20, 416]),
    (&[0], [0, 0, 1, 2, 3, 14, 6, 382]),
    (&[255, 255, 255], [0, 0, 1, 2, 4, 14, 18, 622]),
    (&[48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102], [0, 1, 0, 3, 4, 11, 83, 27]),
    (&[97, 32, 107, 101, 121, 32, 116, 104, 97, 116, 32, 105, 115, 32, 114, 97, 116, 104, 101, 114, 32, 108, 111, 110, 103, 101, 114, 32, 116, 104, 97, 110, 32, 115, 105, 120, 116, 101, 101, 110, 32, 98, 121, 116, 101, 115], [0, 1, 2, 3, 1, 7, 99, 871]),
    (&[111, 114, 100, 101, 114, 58, 49, 48, 48, 49], [0, 1, 1, 1, 0, 5, 33, 485]),
    (&[111, 114, 100, 101, 114, 58, 49, 48, 48, 50], [0, 1, 2, 1, 6, 9, 53, 553]),
    (&[100, 101, 118, 105, 99, 101, 47, 105, 111, 115, 47, 49, 55], [0, 0, 2, 2, 2, 10, 74, 362]),
    (&[230, 151, 165, 230, 156, 172, 232, 170, 158], [0, 0, 2, 2, 3, 14, 2, 190]),
];

/// Checks `tributary::partition_for_key` against every cell of the table.
#[allow(dead_code)]
fn check_partition_table() {
    for (key, want) in PARTITION_TABLE {
        for (n, w) in PARTITION_COUNTS.iter().zip(want) {
            assert_eq!(
                tributary::partition_for_key(key, *n),
                *w,
                "key {key:?} over {n}"
            );
        }
    }
}
