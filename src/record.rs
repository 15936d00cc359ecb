//! Records: what a producer hands in, and what a read hands back.
//!
//! A record has a `value` (bytes), an optional `key` (bytes; an absent key and an empty key
//! are different things: the first is round-robined, the second is hashed), a `timestamp`
//! in milliseconds since the epoch (set at send time unless given), and optional `headers`
//! (name → bytes, in order, names may repeat as in Kafka).

use alloc::string::String;
use alloc::vec::Vec;

/// One record header: a UTF-8 name and a byte value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The header's name.
    pub name: String,
    /// The header's value.
    pub value: Vec<u8>,
}

/// A record as handed to [`crate::Client::send`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProduceRecord {
    /// `None` is "no key" (round robin); `Some(vec![])` is the empty key (hashed).
    pub key: Option<Vec<u8>>,
    /// The payload.
    pub value: Vec<u8>,
    /// Milliseconds since the epoch; `None` takes the `now_ms` of the send.
    pub timestamp: Option<i64>,
    /// Headers, in order.
    pub headers: Vec<Header>,
    /// An explicit partition; `None` lets the partitioner choose.
    pub partition: Option<u32>,
}

/// A record to produce, borrowed: what [`crate::Client::send_ref`] takes, so a caller
/// holding many records in one buffer sends them without a copy per record.
#[derive(Debug, Clone, Copy)]
pub struct RecordParts<'a> {
    /// `None` is "no key" (round robin).
    pub key: Option<&'a [u8]>,
    /// The payload.
    pub value: &'a [u8],
    /// Milliseconds since the epoch; `None` takes the `now_ms` of the send.
    pub timestamp: Option<i64>,
    /// Headers, in order.
    pub headers: &'a [Header],
    /// An explicit partition.
    pub partition: Option<u32>,
}

impl RecordParts<'_> {
    /// The record, owned (what [`ProduceRecord::parts`] borrows).
    #[inline]
    pub fn to_record(&self) -> ProduceRecord {
        ProduceRecord {
            key: self.key.map(<[u8]>::to_vec),
            value: self.value.to_vec(),
            timestamp: self.timestamp,
            headers: self.headers.to_vec(),
            partition: self.partition,
        }
    }
}

impl ProduceRecord {
    /// The record, borrowed.
    pub fn parts(&self) -> RecordParts<'_> {
        RecordParts {
            key: self.key.as_deref(),
            value: &self.value,
            timestamp: self.timestamp,
            headers: &self.headers,
            partition: self.partition,
        }
    }

    /// A record with a value and nothing else.
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        ProduceRecord {
            value: value.into(),
            ..Self::default()
        }
    }

    /// A record with a key and a value.
    pub fn keyed(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        ProduceRecord {
            key: Some(key.into()),
            value: value.into(),
            ..Self::default()
        }
    }
}

/// A record read back from a partition log, with its offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedRecord {
    /// The record's offset in its partition.
    pub offset: i64,
    /// The key as sent (`None` when sent without one).
    pub key: Option<Vec<u8>>,
    /// The value as sent.
    pub value: Vec<u8>,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// Headers as sent.
    pub headers: Vec<Header>,
}

/// Where a record landed: what `send` resolves with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: u32,
    /// The offset in the partition.
    pub offset: i64,
    /// The record's timestamp (ms since the epoch).
    pub timestamp: i64,
}
