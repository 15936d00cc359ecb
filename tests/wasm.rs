//! wasm32 tests, run with wasm-bindgen-test-runner under Node (`make test-wasm`): the
//! shared partition table must give the same partitions on wasm32 (4-byte `usize`) as
//! natively.
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
