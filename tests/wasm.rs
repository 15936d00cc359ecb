//! wasm32 tests, run with wasm-bindgen-test-runner under Node (`make test-wasm`): the
//! shared partition table must give the same partitions on wasm32 (4-byte `usize`) as
//! natively, and the core's CRC-32C its definition.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::wasm_bindgen_test;

include!("common/partition_table.rs");

#[wasm_bindgen_test]
fn partition_table_on_wasm32() {
    assert_eq!(core::mem::size_of::<usize>(), 4, "this must run on wasm32");
    check_partition_table();
}

#[wasm_bindgen_test]
fn client_round_trip_on_wasm32() {
    use tributary::{Client, ProduceRecord, ProducerConfig, TopicConfig};
    let mut c = Client::new(3);
    c.create_topic(
        "t",
        TopicConfig {
            partitions: 7,
            ..TopicConfig::default()
        },
    )
    .unwrap();
    let p = c.topic_producer("t", ProducerConfig::default()).unwrap();
    let r = c.send(p, &ProduceRecord::keyed("user-1", "v"), 5).unwrap();
    assert_eq!(r.partition, 5);
    let o = c.flush(5);
    assert_eq!(o.offset_of(p, &r), Some(0));
    assert_eq!(c.read("t", 5, 0, 1).unwrap()[0].value, b"v");
}

/// CRC-32C on wasm32: the slicing tables built at first use in the wasm instance give the
/// catalogue's check values and RFC 3720's vectors, and the bitwise definition at every
/// length and start (the 16-byte steps and every tail).
#[wasm_bindgen_test]
fn crc32c_on_wasm32() {
    use tributary::batch::crc32c;
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
    assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
    let inc: Vec<u8> = (0..32).collect();
    assert_eq!(crc32c(&inc), 0x46DD_794E);
    let bitwise = |data: &[u8]| {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = (crc >> 1) ^ (0x82F6_3B78 & (crc & 1).wrapping_neg());
            }
        }
        !crc
    };
    let data: Vec<u8> = (0..200u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for start in 0..16 {
        for end in start..data.len() {
            assert_eq!(crc32c(&data[start..end]), bitwise(&data[start..end]));
        }
    }
}
