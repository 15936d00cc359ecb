//! Topic and producer configuration, with their defaults and validation.
//!
//! | key (JS spelling) | default | meaning |
//! |---|---|---|
//! | `partitions` | 1 | partitions of the topic, 1..=65536 |
//! | `replicationFactor` | 1 | carried to the sink's engine as its replica count, 1..=5 |
//! | `retention.maxAgeMs` | none | remove segments whose last append is older |
//! | `retention.maxBytes` | none | bound on encoded bytes held per partition |
//! | `retention.maxRecords` | none | bound on records held per partition |
//! | `retention.segmentBytes` | 1 MiB, or `maxBytes / 8` when smaller | a segment rolls at this size |
//! | `retention.unacked` | `"keep"` | retention meets unacknowledged records: keep them (bound exceeded, reported) or drop them (counted as lost) |
//! | `compression` | `"none"` | codec of the topic's batches: none, gzip, snappy, lz4 |
//! | `batchSize` | 16384 | bytes (uncompressed, encoded) at which a batch closes |
//! | `linger` | 0 | ms a batch waits for more records after its first |
//! | `maxRequestSize` | 1 MiB | a larger record is rejected |
//! | `batchQueueSize` | 100 | batches (open and closed) one partition may hold unsent |
//! | `partitioner` | `"siphash"` | keyed partitioner: Fluvio's SipHash or Kafka's murmur2 |

use crate::error::Error;

/// Compression codec of a batch; the number is the code in the batch's attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Compression {
    /// No compression (code 0).
    #[default]
    None = 0,
    /// gzip (code 1), deflate level 6.
    Gzip = 1,
    /// Snappy, framed (code 2).
    Snappy = 2,
    /// LZ4, framed (code 3).
    Lz4 = 3,
}

impl Compression {
    /// Parses the JS spelling: `none`, `gzip`, `snappy`, `lz4`.
    pub fn parse(name: &str) -> Result<Self, Error> {
        match name {
            "none" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            "snappy" => Ok(Compression::Snappy),
            "lz4" => Ok(Compression::Lz4),
            _ => Err(Error::InvalidConfig {
                field: "compression",
                reason: "must be one of none, gzip, snappy, lz4",
            }),
        }
    }

    /// The codec for the three attribute bits of a batch, if this build knows it.
    pub fn from_code(code: i16) -> Option<Self> {
        match code {
            0 => Some(Compression::None),
            1 => Some(Compression::Gzip),
            2 => Some(Compression::Snappy),
            3 => Some(Compression::Lz4),
            _ => None,
        }
    }

    /// The JS spelling.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
        }
    }
}

/// What retention does when it would remove records the sink has not acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnackedPolicy {
    /// Keep them: the retention bound is exceeded, and the excess is reported.
    #[default]
    Keep,
    /// Remove them anyway: they are counted and reported as lost.
    Drop,
}

impl UnackedPolicy {
    /// Parses the JS spelling: `keep` or `drop`.
    pub fn parse(name: &str) -> Result<Self, Error> {
        match name {
            "keep" => Ok(UnackedPolicy::Keep),
            "drop" => Ok(UnackedPolicy::Drop),
            _ => Err(Error::InvalidConfig {
                field: "retention.unacked",
                reason: "must be keep or drop",
            }),
        }
    }
}

/// Why a number given for an integer setting is refused ([`whole_number`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberError {
    /// NaN.
    NaN,
    /// Infinite, or with a fraction.
    NotWhole,
    /// Whole, but outside the range.
    OutOfRange,
}

/// `n` if it is a whole number in `min..=max` (a JS number given for an integer setting:
/// finite, no fraction). `min` and `max` are whole numbers.
pub fn whole_number(n: f64, min: f64, max: f64) -> Result<f64, NumberError> {
    if n.is_nan() {
        return Err(NumberError::NaN);
    }
    // Every f64 of magnitude 2^53 and beyond is whole; below, `n as i64` truncates, so a
    // fraction shows as a difference (no libm `fract` in the no_std build).
    let huge = n.abs() >= 9.0e18;
    if !n.is_finite() || (!huge && n != (n as i64) as f64) {
        return Err(NumberError::NotWhole);
    }
    if n < min || n > max {
        return Err(NumberError::OutOfRange);
    }
    Ok(n)
}

/// Retention of a topic's partitions. Every bound is per partition; `None` means unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionConfig {
    /// Remove a segment once its last append is older than this many ms.
    pub max_age_ms: Option<u64>,
    /// Keep at most this many encoded bytes.
    pub max_bytes: Option<u64>,
    /// Keep at most this many records.
    pub max_records: Option<u64>,
    /// Roll to a new segment at this many bytes; default: 1 MiB, or `max_bytes / 8`
    /// (at least 1) when that is smaller, and `max_records / 8` records likewise.
    pub segment_bytes: Option<u64>,
    /// What happens to unacknowledged records (only once a sink tracks the partition).
    pub unacked: UnackedPolicy,
}

/// Default segment size: 1 MiB.
pub const DEFAULT_SEGMENT_BYTES: u64 = 1 << 20;

impl RetentionConfig {
    /// Bytes at which a segment rolls.
    pub fn effective_segment_bytes(&self) -> u64 {
        self.segment_bytes.unwrap_or_else(|| {
            let by_bound = self.max_bytes.map_or(u64::MAX, |b| (b / 8).max(1));
            DEFAULT_SEGMENT_BYTES.min(by_bound)
        })
    }

    /// Records at which a segment rolls (an eighth of `max_records`, so that retention
    /// removes at most an eighth of the bound at once).
    pub fn effective_segment_records(&self) -> u64 {
        self.max_records.map_or(u64::MAX, |r| (r / 8).max(1))
    }

    fn validate(&self) -> Result<(), Error> {
        let positive = |v: Option<u64>, field: &'static str| match v {
            Some(0) => Err(Error::InvalidConfig {
                field,
                reason: "must be at least 1",
            }),
            _ => Ok(()),
        };
        positive(self.max_age_ms, "retention.maxAgeMs")?;
        positive(self.max_bytes, "retention.maxBytes")?;
        positive(self.max_records, "retention.maxRecords")?;
        positive(self.segment_bytes, "retention.segmentBytes")?;
        Ok(())
    }
}

/// A topic's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicConfig {
    /// Number of partitions, 1..=65536 (default 1).
    pub partitions: u32,
    /// Replica count carried to the sink's engine, 1..=5 (default 1).
    pub replication_factor: u32,
    /// Retention bounds (default: none).
    pub retention: RetentionConfig,
    /// Codec for the topic's batches (default none).
    pub compression: Compression,
}

/// The largest partition count a topic may have.
pub const MAX_PARTITIONS: u32 = 65_536;

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            partitions: 1,
            replication_factor: 1,
            retention: RetentionConfig::default(),
            compression: Compression::None,
        }
    }
}

impl TopicConfig {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), Error> {
        if self.partitions == 0 || self.partitions > MAX_PARTITIONS {
            return Err(Error::InvalidConfig {
                field: "partitions",
                reason: "must be 1..=65536",
            });
        }
        if !self.compression.available() {
            return Err(Error::InvalidConfig {
                field: "compression",
                reason: "this build has no codecs but none (import tributary/full)",
            });
        }
        if self.replication_factor == 0 || self.replication_factor > 5 {
            return Err(Error::InvalidConfig {
                field: "replicationFactor",
                reason: "must be 1..=5",
            });
        }
        self.retention.validate()
    }
}

/// Which function places keyed records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartitionerKind {
    /// Fluvio's: SipHash-2-4 over the length-prefixed key (the default).
    #[default]
    SipHash,
    /// Kafka's Java client and kafkajs: `toPositive(murmur2(key)) % n`.
    Murmur2,
}

impl PartitionerKind {
    /// Parses the JS spelling: `siphash` or `murmur2`.
    pub fn parse(name: &str) -> Result<Self, Error> {
        match name {
            "siphash" => Ok(PartitionerKind::SipHash),
            "murmur2" => Ok(PartitionerKind::Murmur2),
            _ => Err(Error::InvalidConfig {
                field: "partitioner",
                reason: "must be siphash or murmur2",
            }),
        }
    }
}

/// A producer's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerConfig {
    /// Bytes (encoded, uncompressed) at which a batch closes (default 16384).
    pub batch_size: usize,
    /// Ms a batch waits after its first record before it closes (default 0: it closes at
    /// the next [`crate::Client::poll`], i.e. the next turn of the event loop in JS).
    pub linger_ms: u64,
    /// A record whose encoded size passes this is rejected (default 1 MiB).
    pub max_request_size: usize,
    /// Batches, open and closed, one partition may hold before `send` fails with
    /// `QueueFull` (default 100).
    pub batch_queue_size: usize,
    /// Keyed partitioner (default SipHash).
    pub partitioner: PartitionerKind,
    /// Codec override; `None` takes the topic's (default).
    pub compression: Option<Compression>,
}

/// Default `batch_size`: 16384 bytes.
pub const DEFAULT_BATCH_SIZE: usize = 16_384;
/// Default `max_request_size`: 1 MiB.
pub const DEFAULT_MAX_REQUEST_SIZE: usize = 1 << 20;
/// Default `batch_queue_size`: 100 batches.
pub const DEFAULT_BATCH_QUEUE_SIZE: usize = 100;

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            batch_size: DEFAULT_BATCH_SIZE,
            linger_ms: 0,
            max_request_size: DEFAULT_MAX_REQUEST_SIZE,
            batch_queue_size: DEFAULT_BATCH_QUEUE_SIZE,
            partitioner: PartitionerKind::SipHash,
            compression: None,
        }
    }
}

impl ProducerConfig {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), Error> {
        if self.batch_size == 0 {
            return Err(Error::InvalidConfig {
                field: "batchSize",
                reason: "must be at least 1",
            });
        }
        if self.max_request_size == 0 || self.max_request_size > (1 << 30) {
            return Err(Error::InvalidConfig {
                field: "maxRequestSize",
                reason: "must be 1..=2^30",
            });
        }
        if self.compression.is_some_and(|c| !c.available()) {
            return Err(Error::InvalidConfig {
                field: "compression",
                reason: "this build has no codecs but none (import tributary/full)",
            });
        }
        if self.batch_queue_size == 0 {
            return Err(Error::InvalidConfig {
                field: "batchQueueSize",
                reason: "must be at least 1",
            });
        }
        if self.linger_ms > 3_600_000 {
            return Err(Error::InvalidConfig {
                field: "linger",
                reason: "must be 0..=3600000 ms",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_in_range() {
        assert_eq!(whole_number(5.0, 0.0, 10.0), Ok(5.0));
        assert_eq!(whole_number(-0.0, 0.0, 10.0), Ok(-0.0));
        assert_eq!(whole_number(f64::NAN, 0.0, 10.0), Err(NumberError::NaN));
        assert_eq!(whole_number(0.5, 0.0, 10.0), Err(NumberError::NotWhole));
        assert_eq!(
            whole_number(f64::INFINITY, 0.0, 10.0),
            Err(NumberError::NotWhole)
        );
        assert_eq!(whole_number(11.0, 0.0, 10.0), Err(NumberError::OutOfRange));
        assert_eq!(whole_number(-1.0, 0.0, 10.0), Err(NumberError::OutOfRange));
        assert_eq!(
            whole_number(2f64.powi(60), 0.0, 10.0),
            Err(NumberError::OutOfRange)
        );
        assert!(UnackedPolicy::parse("Keep").is_err());
        assert_eq!(UnackedPolicy::parse("drop"), Ok(UnackedPolicy::Drop));
    }

    #[test]
    fn topic_config_validation_names_the_field() {
        let bad = TopicConfig {
            partitions: 0,
            ..TopicConfig::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "invalid config `partitions`: must be 1..=65536"
        );
        let bad = TopicConfig {
            replication_factor: 0,
            ..TopicConfig::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(Error::InvalidConfig {
                field: "replicationFactor",
                ..
            })
        ));
        let bad = TopicConfig {
            retention: RetentionConfig {
                max_bytes: Some(0),
                ..RetentionConfig::default()
            },
            ..TopicConfig::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(Error::InvalidConfig {
                field: "retention.maxBytes",
                ..
            })
        ));
        assert!(TopicConfig::default().validate().is_ok());
    }

    #[test]
    fn producer_config_validation() {
        assert!(ProducerConfig::default().validate().is_ok());
        for (cfg, field) in [
            (
                ProducerConfig {
                    batch_size: 0,
                    ..Default::default()
                },
                "batchSize",
            ),
            (
                ProducerConfig {
                    batch_queue_size: 0,
                    ..Default::default()
                },
                "batchQueueSize",
            ),
            (
                ProducerConfig {
                    max_request_size: 0,
                    ..Default::default()
                },
                "maxRequestSize",
            ),
        ] {
            match cfg.validate() {
                Err(Error::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
                other => panic!("expected InvalidConfig for {field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn segment_size_follows_the_bound() {
        let r = RetentionConfig {
            max_bytes: Some(800),
            max_records: Some(80),
            ..Default::default()
        };
        assert_eq!(r.effective_segment_bytes(), 100);
        assert_eq!(r.effective_segment_records(), 10);
        assert_eq!(
            RetentionConfig::default().effective_segment_bytes(),
            DEFAULT_SEGMENT_BYTES
        );
    }

    #[test]
    fn compression_names_round_trip() {
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
        ] {
            assert_eq!(Compression::parse(c.name()).unwrap(), c);
            assert_eq!(Compression::from_code(c as i16), Some(c));
        }
        assert!(Compression::parse("zstd").is_err());
    }
}
