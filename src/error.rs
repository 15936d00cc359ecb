//! Errors of the core.
//!
//! Every failing operation of the core returns [`Error`]; a failed call leaves the state it
//! was called on unchanged (no record half-accepted, no offset consumed). Each variant has a
//! stable machine-readable [`Error::code`], which the JS bindings expose as `error.code`.

use thiserror::Error as ThisError;

/// The largest offset the core assigns: `2^53 - 1`, the largest integer a JS `number`
/// holds exactly. The core refuses to assign an offset past it, so no offset is ever rounded.
pub const MAX_SAFE_OFFSET: i64 = (1 << 53) - 1;

/// Everything that can go wrong in the core.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is out of its range; `field` names it.
    #[error("invalid config `{field}`: {reason}")]
    InvalidConfig {
        /// The config key, as spelled in JS (`partitions`, `batchSize`, ...).
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `produce`/`read` named a topic that was never created.
    #[error("unknown topic `{topic}`")]
    UnknownTopic {
        /// The topic name given.
        topic: String,
    },
    /// `create_topic` named a topic that exists already.
    #[error("topic `{topic}` already exists")]
    TopicExists {
        /// The topic name given.
        topic: String,
    },
    /// A topic name that is empty, too long, or has characters other than
    /// `[A-Za-z0-9_-]` (the names both Fluvio and NATS subjects accept).
    #[error("invalid topic name: {reason}")]
    InvalidTopicName {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A partition number at or past the topic's partition count.
    #[error("partition {partition} out of range: the topic has {partition_count} partitions")]
    PartitionOutOfRange {
        /// The partition asked for.
        partition: u32,
        /// How many partitions the topic has.
        partition_count: u32,
    },
    /// One record is larger, encoded, than `max_request_size`; nothing was queued.
    #[error("record of {size} bytes is larger than maxRequestSize ({max_request_size} bytes)")]
    RecordTooLarge {
        /// The record's encoded size in bytes.
        size: usize,
        /// The configured `max_request_size`.
        max_request_size: usize,
    },
    /// The partition's queue of unsent batches is full (`batch_queue_size`); nothing was queued.
    #[error("batch queue of partition {partition} is full ({batch_queue_size} batches)")]
    QueueFull {
        /// The partition whose queue is full.
        partition: u32,
        /// The configured bound.
        batch_queue_size: usize,
    },
    /// A read asked for an offset that retention removed.
    #[error(
        "offset {offset} was evicted by retention; the next available offset is {next_available}"
    )]
    OffsetEvicted {
        /// The offset asked for.
        offset: i64,
        /// The log start offset: the first offset still held.
        next_available: i64,
    },
    /// A read asked for an offset past the high watermark (or a negative one).
    #[error("offset {offset} is out of range: the high watermark is {high_watermark}")]
    OffsetOutOfRange {
        /// The offset asked for.
        offset: i64,
        /// The next offset to be assigned.
        high_watermark: i64,
    },
    /// Assigning the next offset would pass `2^53 - 1` ([`MAX_SAFE_OFFSET`]).
    #[error("partition {partition} would assign offsets past 2^53 - 1")]
    OffsetOverflow {
        /// The partition that is full.
        partition: u32,
    },
    /// The producer (or client) was closed.
    #[error("the producer is closed")]
    Closed,
    /// A record batch failed to decode.
    #[error("corrupt record batch: {0}")]
    Decode(#[from] DecodeError),
    /// A timestamp outside `0..=2^53 - 1` milliseconds.
    #[error("invalid timestamp {0}: it must be 0..=2^53-1 ms since the epoch")]
    InvalidTimestamp(i64),
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
        }
    }
}

/// Why a record batch failed to decode. The decoder never panics on any input.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the structure did.
    #[error("truncated: needed {needed} more bytes")]
    Truncated {
        /// How many more bytes the next field needed.
        needed: usize,
    },
    /// `batch_len` disagrees with the bytes present or is negative.
    #[error("batch_len {0} does not match the data")]
    BadLength(i64),
    /// The magic byte is not 2.
    #[error("unsupported magic byte {0}")]
    BadMagic(i8),
    /// The CRC-32C stored in the header does not match the data.
    #[error("crc mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// The CRC in the header.
        stored: u32,
        /// The CRC computed over the bytes after it.
        computed: u32,
    },
    /// Compression bits name a codec this build does not have.
    #[error("unsupported compression code {0}")]
    UnsupportedCompression(i16),
    /// The compressed payload is invalid or inflates past the limit.
    #[error("decompression failed")]
    Decompress,
    /// A varint is longer than 10 bytes or does not fit its type.
    #[error("malformed varint")]
    Varint,
    /// A length or count is negative or larger than the data.
    #[error("invalid length {0}")]
    InvalidLength(i64),
    /// The record count disagrees with `last_offset_delta` or with the records present.
    #[error("record count {count} disagrees with the batch")]
    CountMismatch {
        /// The count stored in the batch.
        count: i64,
    },
    /// A header name that is not UTF-8.
    #[error("header name is not UTF-8")]
    HeaderName,
    /// Bytes left over after the last record.
    #[error("{0} trailing bytes after the last record")]
    Trailing(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

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
        ];
        let mut codes: Vec<_> = all.iter().map(Error::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }
}
