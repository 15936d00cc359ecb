//! The JS bindings (wasm32 only): converts JS values, and exposes the core with
//! wasm-bindgen. No logic lives here.

// Exported items are reached from JS through wasm-bindgen, not through Rust paths.
#![allow(unreachable_pub)]
use wasm_bindgen::prelude::*;

/// The partition a keyed record lands in, for a topic of `partitionCount` partitions:
/// the same number as Rust's `tributary::partition_for_key` and Fluvio's producer.
#[wasm_bindgen(js_name = "partitionFor")]
pub fn partition_for(key: &[u8], partition_count: u32) -> u32 {
    crate::partition_for_key(key, partition_count)
}
