//! # tributary
//!
//! A producer SDK for browsers and edge workers, after Fluvio's producer model: records
//! are placed in partitions of a topic (same key, same partition, always), batched in
//! Fluvio's record-batch format, and kept in an in-memory partition log with offsets and
//! retention.
//!
//! This crate is one crate with an inner wall. The core modules ([`config`], [`record`],
//! [`partitioner`], [`batch`], [`compression`], [`accumulator`], [`log`], [`producer`],
//! [`driver`], [`error`]) use no wasm-bindgen, js-sys or web-sys, never read a clock (time is an
//! argument, `now_ms`), and are tested natively. The bindings layer (`bindings`, wasm32
//! only) exposes the core to the package's JS as a plain C ABI over numbers and wasm memory.
//!
//! ```
//! use tributary::{Client, ProduceRecord, ProducerConfig, TopicConfig};
//!
//! let mut client = Client::new(42);
//! client.create_topic("clicks", TopicConfig { partitions: 4, ..TopicConfig::default() })?;
//! let producer = client.topic_producer("clicks", ProducerConfig::default())?;
//! let receipt = client.send(producer, &ProduceRecord::keyed("user-42", "hello"), 1_700_000_000_000)?;
//! assert_eq!(receipt.partition, tributary::partition_for_key(b"user-42", 4));
//! let outcome = client.flush(1_700_000_000_000);
//! let offset = outcome.offset_of(producer, &receipt).expect("appended");
//! let records = client.read("clicks", receipt.partition, offset, 10)?;
//! assert_eq!(records[0].value, b"hello");
//! # Ok::<(), tributary::Error>(())
//! ```
// no_std only where it pays: the wasm build without the `std` feature (natively, std is
// always there, so a native `--no-default-features` build links as usual).
#![cfg_attr(all(target_arch = "wasm32", not(any(feature = "std", test))), no_std)]
#![warn(
    unreachable_pub,
    missing_debug_implementations,
    missing_docs,
    rust_2018_idioms
)]
#![deny(unsafe_code)]
// The npm package's build (wasm-pack.toml `crate-rustflags`, with RUSTC_BOOTSTRAP naming
// this crate) sets `tributary_unstable`: its wasm then handles allocation failure itself
// (bindings/runtime.rs). Every other build stays on stable Rust.
#![cfg_attr(tributary_unstable, feature(alloc_error_handler))]

// The core needs only `alloc`; `std` comes with the `std` feature (codecs, native use).
extern crate alloc;

pub mod accumulator;
pub mod batch;
pub mod compression;
pub mod config;
mod crc32c;
pub mod driver;
pub mod error;
pub mod log;
pub mod partitioner;
pub mod producer;
pub mod record;
#[cfg(feature = "sink")]
pub mod sink;
pub(crate) mod text;

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)] // `#[no_mangle]` exports; one `Sync` impl for the single-threaded wasm
mod bindings;

pub use config::{
    Compression, PartitionerKind, ProducerConfig, RetentionConfig, TopicConfig, UnackedPolicy,
};
pub use driver::{Driver, Landed, OnFull, Report, Ticket};
pub use error::{DecodeError, Error, MAX_SAFE_OFFSET};
pub use log::{PartitionInfo, PartitionLog};
pub use partitioner::{murmur2_partition, partition_for_key};
pub use producer::{Client, PollOutcome, ProducerId, ProducerStats, SendReceipt};
pub use record::{ConsumedRecord, Header, ProduceRecord, RecordMetadata, RecordParts};

/// The README's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
