//! Errors of the core.
//!
//! Every failing operation of the core returns [`Error`]; a failed call leaves the state it
//! was called on unchanged (no record half-accepted, no offset consumed). Each variant has a
//! stable machine-readable [`Error::code`], which the JS bindings expose as `error.code`.

use alloc::string::String;

use crate::text::Text;

/// The largest offset the core assigns: `2^53 - 1`, the largest integer a JS `number`
/// holds exactly. The core refuses to assign an offset past it, so no offset is ever rounded.
pub const MAX_SAFE_OFFSET: i64 = (1 << 53) - 1;

/// Everything that can go wrong in the core.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is out of its range; `field` names it.
    InvalidConfig {
        /// The config key, as spelled in JS (`partitions`, `batchSize`, ...).
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `produce`/`read` named a topic that was never created.
    UnknownTopic {
        /// The topic name given.
        topic: String,
    },
    /// `create_topic` named a topic that exists already.
    TopicExists {
        /// The topic name given.
        topic: String,
    },
    /// A topic name that is empty, too long, or has characters other than
    /// `[A-Za-z0-9_-]` (the names both Fluvio and NATS subjects accept).
    InvalidTopicName {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A partition number at or past the topic's partition count.
    PartitionOutOfRange {
        /// The partition asked for.
        partition: u32,
        /// How many partitions the topic has.
        partition_count: u32,
    },
    /// One record is larger, encoded, than `max_request_size`; nothing was queued.
    RecordTooLarge {
        /// The record's encoded size in bytes.
        size: usize,
        /// The configured `max_request_size`.
        max_request_size: usize,
    },
    /// The partition's queue of unsent batches is full (`batch_queue_size`); nothing was queued.
    QueueFull {
        /// The partition whose queue is full.
        partition: u32,
        /// The configured bound.
        batch_queue_size: usize,
    },
    /// A read asked for an offset that retention removed.
    OffsetEvicted {
        /// The offset asked for.
        offset: i64,
        /// The log start offset: the first offset still held.
        next_available: i64,
    },
    /// A read asked for an offset past the high watermark (or a negative one).
    OffsetOutOfRange {
        /// The offset asked for.
        offset: i64,
        /// The next offset to be assigned.
        high_watermark: i64,
    },
    /// Assigning the next offset would pass `2^53 - 1` ([`MAX_SAFE_OFFSET`]).
    OffsetOverflow {
        /// The partition that is full.
        partition: u32,
    },
    /// The producer (or client) was closed.
    Closed,
    /// A record batch failed to decode.
    Decode(DecodeError),
    /// A timestamp outside `0..=2^53 - 1` milliseconds.
    InvalidTimestamp(i64),
    // The sink's wire failures (SINK_AUTH, SINK_PERMISSION, SINK_CONNECT, SINK_TIMEOUT,
    // SINK_UNDELIVERED, SINK_CLOSED, ...) are made where they are found, by the package's
    // JS (`js/nats.js`); the core decides delivery without text.
    /// The topic has an open sink already (one sink per topic: close it first).
    SinkExists {
        /// The topic.
        topic: String,
    },
}

impl Error {
    /// The stable code of this error, the same string JS sees as `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidConfig { .. } => "INVALID_CONFIG",
            Error::UnknownTopic { .. } => "UNKNOWN_TOPIC",
            Error::TopicExists { .. } => "TOPIC_EXISTS",
            Error::InvalidTopicName { .. } => "INVALID_TOPIC_NAME",
            Error::PartitionOutOfRange { .. } => "PARTITION_OUT_OF_RANGE",
            Error::RecordTooLarge { .. } => "RECORD_TOO_LARGE",
            Error::QueueFull { .. } => "QUEUE_FULL",
            Error::OffsetEvicted { .. } => "OFFSET_EVICTED",
            Error::OffsetOutOfRange { .. } => "OFFSET_OUT_OF_RANGE",
            Error::OffsetOverflow { .. } => "OFFSET_OVERFLOW",
            Error::Closed => "CLOSED",
            Error::Decode(_) => "CORRUPT_BATCH",
            Error::InvalidTimestamp(_) => "INVALID_TIMESTAMP",
            Error::SinkExists { .. } => "SINK_EXISTS",
        }
    }
}

impl Error {
    /// The human-readable message (the same text as `Display`), built without `core::fmt`.
    pub fn message(&self) -> String {
        let mut t = Text::new();
        match self {
            Error::InvalidConfig { field, reason } => {
                t.s("invalid config `").s(field).s("`: ").s(reason)
            }
            Error::UnknownTopic { topic } => t.s("unknown topic `").s(topic).s("`"),
            Error::TopicExists { topic } => t.s("topic `").s(topic).s("` already exists"),
            Error::InvalidTopicName { reason } => t.s("invalid topic name: ").s(reason),
            Error::PartitionOutOfRange {
                partition,
                partition_count,
            } => t
                .s("partition ")
                .u((*partition).into())
                .s(" out of range: the topic has ")
                .u((*partition_count).into())
                .s(" partitions"),
            Error::RecordTooLarge {
                size,
                max_request_size,
            } => t
                .s("record of ")
                .u(*size as u64)
                .s(" bytes is larger than maxRequestSize (")
                .u(*max_request_size as u64)
                .s(" bytes)"),
            Error::QueueFull {
                partition,
                batch_queue_size,
            } => t
                .s("batch queue of partition ")
                .u((*partition).into())
                .s(" is full (")
                .u(*batch_queue_size as u64)
                .s(" batches)"),
            Error::OffsetEvicted {
                offset,
                next_available,
            } => t
                .s("offset ")
                .i(*offset)
                .s(" was evicted by retention; the next available offset is ")
                .i(*next_available),
            Error::OffsetOutOfRange {
                offset,
                high_watermark,
            } => t
                .s("offset ")
                .i(*offset)
                .s(" is out of range: the high watermark is ")
                .i(*high_watermark),
            Error::OffsetOverflow { partition } => t
                .s("partition ")
                .u((*partition).into())
                .s(" would assign offsets past 2^53 - 1"),
            Error::Closed => t.s("the producer is closed"),
            Error::Decode(d) => t.s("corrupt record batch: ").s(&d.message()),
            Error::InvalidTimestamp(ts) => t
                .s("invalid timestamp ")
                .i(*ts)
                .s(": it must be 0..=2^53-1 ms since the epoch"),
            Error::SinkExists { topic } => t
                .s("topic `")
                .s(topic)
                .s("` has an open sink already: close it first"),
        };
        t.done()
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::Decode(d) => Some(d),
            _ => None,
        }
    }
}

impl From<DecodeError> for Error {
    fn from(d: DecodeError) -> Self {
        Error::Decode(d)
    }
}

/// Why a record batch failed to decode. The decoder never panics on any input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the structure did.
    Truncated {
        /// How many more bytes the next field needed.
        needed: usize,
    },
    /// `batch_len` disagrees with the bytes present or is negative.
    BadLength(i64),
    /// The magic byte is not 2.
    BadMagic(i8),
    /// The CRC-32C stored in the header does not match the data.
    CrcMismatch {
        /// The CRC in the header.
        stored: u32,
        /// The CRC computed over the bytes after it.
        computed: u32,
    },
    /// Compression bits name a codec this build does not have.
    UnsupportedCompression(i16),
    /// The compressed payload is invalid or inflates past the limit.
    Decompress,
    /// A varint is longer than 10 bytes or does not fit its type.
    Varint,
    /// A length or count is negative or larger than the data.
    InvalidLength(i64),
    /// The record count disagrees with `last_offset_delta` or with the records present.
    CountMismatch {
        /// The count stored in the batch.
        count: i64,
    },
    /// A header name that is not UTF-8.
    HeaderName,
    /// Bytes left over after the last record.
    Trailing(usize),
}

impl DecodeError {
    /// The human-readable message (the same text as `Display`), built without `core::fmt`.
    pub fn message(&self) -> String {
        let mut t = Text::new();
        match self {
            DecodeError::Truncated { needed } => {
                t.s("truncated: needed ").u(*needed as u64).s(" more bytes")
            }
            DecodeError::BadLength(n) => t.s("batch_len ").i(*n).s(" does not match the data"),
            DecodeError::BadMagic(m) => t.s("unsupported magic byte ").i((*m).into()),
            DecodeError::CrcMismatch { stored, computed } => t
                .s("crc mismatch: stored ")
                .hex32(*stored)
                .s(", computed ")
                .hex32(*computed),
            DecodeError::UnsupportedCompression(c) => {
                t.s("unsupported compression code ").i((*c).into())
            }
            DecodeError::Decompress => t.s("decompression failed"),
            DecodeError::Varint => t.s("malformed varint"),
            DecodeError::InvalidLength(n) => t.s("invalid length ").i(*n),
            DecodeError::CountMismatch { count } => t
                .s("record count ")
                .i(*count)
                .s(" disagrees with the batch"),
            DecodeError::HeaderName => t.s("header name is not UTF-8"),
            DecodeError::Trailing(n) => t.u(*n as u64).s(" trailing bytes after the last record"),
        };
        t.done()
    }
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for DecodeError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec::Vec;

    #[test]
    fn decode_messages() {
        let e: Error = DecodeError::CrcMismatch {
            stored: 0xab,
            computed: 0xdead_beef,
        }
        .into();
        assert_eq!(
            e.to_string(),
            "corrupt record batch: crc mismatch: stored 0x000000ab, computed 0xdeadbeef"
        );
        assert_eq!(
            DecodeError::Trailing(3).to_string(),
            "3 trailing bytes after the last record"
        );
        assert_eq!(
            Error::InvalidTimestamp(-1).to_string(),
            "invalid timestamp -1: it must be 0..=2^53-1 ms since the epoch"
        );
    }

    #[test]
    fn record_too_large_names_both_sizes_once() {
        let e = Error::RecordTooLarge {
            size: 2_000_000,
            max_request_size: 1_048_576,
        };
        let text = e.to_string();
        assert_eq!(
            text,
            "record of 2000000 bytes is larger than maxRequestSize (1048576 bytes)"
        );
        assert_eq!(text.matches("2000000").count(), 1);
        assert_eq!(e.code(), "RECORD_TOO_LARGE");
    }

    #[test]
    fn offset_evicted_names_next_available() {
        let e = Error::OffsetEvicted {
            offset: 3,
            next_available: 10,
        };
        assert_eq!(
            e.to_string(),
            "offset 3 was evicted by retention; the next available offset is 10"
        );
        assert_eq!(e.code(), "OFFSET_EVICTED");
    }

    #[test]
    fn codes_are_distinct() {
        let all = [
            Error::InvalidConfig {
                field: "x",
                reason: "y",
            },
            Error::UnknownTopic { topic: "t".into() },
            Error::TopicExists { topic: "t".into() },
            Error::InvalidTopicName { reason: "r" },
            Error::PartitionOutOfRange {
                partition: 1,
                partition_count: 1,
            },
            Error::RecordTooLarge {
                size: 1,
                max_request_size: 0,
            },
            Error::QueueFull {
                partition: 0,
                batch_queue_size: 1,
            },
            Error::OffsetEvicted {
                offset: 0,
                next_available: 1,
            },
            Error::OffsetOutOfRange {
                offset: 5,
                high_watermark: 1,
            },
            Error::OffsetOverflow { partition: 0 },
            Error::Closed,
            Error::Decode(DecodeError::Varint),
            Error::InvalidTimestamp(-1),
            Error::SinkExists { topic: "t".into() },
        ];
        let mut codes: Vec<_> = all.iter().map(Error::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }
}
