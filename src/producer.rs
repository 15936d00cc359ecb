//! The client and its producers: the state machine behind `send`, `poll` and `flush`.
//!
//! A [`Client`] owns topics (each a set of [`PartitionLog`]s) and producers. Time is an
//! argument: every call that depends on it takes `now_ms`; the core never reads a clock.
//!
//! - [`Client::send`] validates a record, places it in a partition, and encodes it into
//!   that partition's open batch. It fails (and changes nothing) on an unknown or closed
//!   producer, an out-of-range partition, a record over `max_request_size`, a full batch
//!   queue, or an offset past `2^53 - 1`. It returns a [`SendReceipt`]: the partition and
//!   a per-partition sequence number.
//! - [`Client::poll`] closes the batches whose linger ended, appends every closed batch to
//!   its partition log (which assigns offsets), and applies age retention. Its
//!   [`PollOutcome`] maps each receipt to its offset. The bindings call it at the next turn
//!   of the event loop (linger 0) or when the earliest linger deadline comes.
//! - [`Client::flush`] closes every open batch and appends it, whatever its linger.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use crate::accumulator::{Limits, PartitionAccumulator};
use crate::batch::{fill, standalone_size, BatchBuilder, Placed, RecordRef};
use crate::config::{Compression, ProducerConfig, TopicConfig};
use crate::error::{Error, MAX_SAFE_OFFSET};
use crate::log::{PartitionInfo, PartitionLog};
use crate::partitioner::{Partitioner, Rng};
use crate::record::{ConsumedRecord, ProduceRecord, RecordParts};

/// Handle of a producer within its [`Client`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProducerId(pub u32);

/// What `send` hands back at once: where the record will land.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendReceipt {
    /// The partition chosen.
    pub partition: u32,
    /// Sequence number of the record among this producer's records for this partition.
    pub seq: u64,
    /// The record's timestamp.
    pub timestamp: i64,
}

/// A batch appended to a log by `poll`/`flush`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The producer that sent it.
    pub producer: ProducerId,
    /// The partition.
    pub partition: u32,
    /// Sequence number of its first record.
    pub first_seq: u64,
    /// Records in it.
    pub count: u32,
    /// Offset of its first record.
    pub base_offset: i64,
}

/// A batch `poll`/`flush` could not append (its records are rejected, not silently lost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The producer that sent it.
    pub producer: ProducerId,
    /// The partition.
    pub partition: u32,
    /// Sequence number of its first record.
    pub first_seq: u64,
    /// Records in it.
    pub count: u32,
    /// Why.
    pub error: Error,
}

/// What `poll`/`flush` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollOutcome {
    /// Batches appended, in order.
    pub appended: Vec<Appended>,
    /// Batches that could not be appended.
    pub rejected: Vec<Rejected>,
    /// The earliest moment (ms) an open batch's linger ends; the next `poll` is due then.
    pub next_deadline: Option<i64>,
}

impl PollOutcome {
    /// The offset of the record behind `receipt` from `producer`, if this outcome
    /// appended it.
    pub fn offset_of(&self, producer: ProducerId, receipt: &SendReceipt) -> Option<i64> {
        self.appended.iter().find_map(|a| {
            (a.producer == producer
                && a.partition == receipt.partition
                && receipt.seq >= a.first_seq
                && receipt.seq < a.first_seq + u64::from(a.count))
            .then(|| a.base_offset + (receipt.seq - a.first_seq) as i64)
        })
    }
}

/// A producer's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProducerStats {
    /// Records accepted by `send`.
    pub records: u64,
    /// Encoded bytes of the records accepted (record framing included, batch headers not).
    pub bytes: u64,
    /// Batches appended to the log.
    pub batches: u64,
    /// Records appended to the log.
    pub records_appended: u64,
    /// Batches (open and closed) waiting to be appended, over all partitions.
    pub queue_depth: u64,
    /// Records waiting to be appended.
    pub queued_records: u64,
    /// Records refused by `send` (any error but `QueueFull`) or rejected at append.
    pub rejected: u64,
    /// `send` calls refused with `QueueFull` (back-pressure: the record was not taken,
    /// and may be sent again).
    pub queue_full: u64,
    /// Records retention removed from the topic's partitions (all producers).
    pub evicted: u64,
    /// Unacknowledged records retention dropped (all producers), see `UnackedPolicy`.
    pub dropped: u64,
}

#[derive(Debug)]
struct Topic {
    name: String,
    config: TopicConfig,
    partitions: Vec<PartitionLog>,
}

#[derive(Debug)]
struct Producer {
    /// Index of its topic in `Client::topics` (kept right when a topic is inserted).
    topic: usize,
    config: ProducerConfig,
    compression: Compression,
    partitioner: Partitioner,
    parts: Vec<PartitionAccumulator>,
    stats: ProducerStats,
}

impl Producer {
    /// What a partition without an accumulator or a log is (not reached: the
    /// partitioner only chooses partitions the topic has).
    fn missing(&self, partition: u32) -> Error {
        Error::PartitionOutOfRange {
            partition,
            partition_count: self.parts.len() as u32,
        }
    }

    fn limits(&self) -> Limits {
        Limits {
            batch_size: self.config.batch_size,
            batch_queue_size: self.config.batch_queue_size,
            compression: self.compression,
        }
    }
}

/// Topics, their logs, and the producers writing to them.
#[derive(Debug)]
pub struct Client {
    /// Sorted by name. A client holds a handful of topics: a sorted `Vec` is the smallest
    /// map there is (a `BTreeMap` costs ~20 KB of wasm).
    topics: Vec<Topic>,
    producers: Vec<Option<Producer>>,
    rng: Rng,
    /// Batches appended (or restored) so far, any topic: a sink looks for new records
    /// only when this moved.
    appends: u64,
}

/// Batches `restore` builds close at this size.
const RESTORE_BATCH_BYTES: usize = 64 * 1024;

/// Longest topic name accepted.
pub const MAX_TOPIC_NAME: usize = 63;

fn validate_topic_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::InvalidTopicName {
            reason: "it is empty",
        });
    }
    if name.len() > MAX_TOPIC_NAME {
        return Err(Error::InvalidTopicName {
            reason: "it is longer than 63 bytes",
        });
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::InvalidTopicName {
            reason: "only A-Z, a-z, 0-9, '-' and '_' are allowed",
        });
    }
    Ok(())
}

/// The checks of `send` for `producer` (of one of `topics`); returns (partition,
/// timestamp, encoded size).
fn place(
    topics: &[Topic],
    producer: &Producer,
    record: &RecordParts<'_>,
    now_ms: i64,
) -> Result<(u32, i64, usize), Error> {
    let timestamp = record.timestamp.unwrap_or(now_ms);
    if !(0..=MAX_SAFE_OFFSET).contains(&timestamp) {
        return Err(Error::InvalidTimestamp(timestamp));
    }
    let partition = producer.partitioner.choose(record.key, record.partition)?;
    let size = standalone_size(&RecordRef {
        key: record.key,
        value: record.value,
        timestamp,
        headers: record.headers,
    });
    if size > producer.config.max_request_size {
        return Err(Error::RecordTooLarge {
            size,
            max_request_size: producer.config.max_request_size,
        });
    }
    // In range: the partitioner checked it.
    let (Some(log), Some(acc)) = (
        topics
            .get(producer.topic)
            .and_then(|t| t.partitions.get(partition as usize)),
        producer.parts.get(partition as usize),
    ) else {
        return Err(producer.missing(partition));
    };
    log.check_room(acc.pending_records() + 1, partition)?;
    Ok((partition, timestamp, size))
}

impl Client {
    /// A client with no topics. `random_seed` seeds the keyless round robin's start of
    /// each producer (the bindings pass host randomness; tests pass a constant).
    pub fn new(random_seed: u64) -> Self {
        Client {
            topics: Vec::new(),
            producers: Vec::new(),
            rng: Rng::new(random_seed),
            appends: 0,
        }
    }

    /// Creates a topic. Names are 1..=63 bytes of `[A-Za-z0-9_-]`.
    pub fn create_topic(&mut self, name: &str, config: TopicConfig) -> Result<(), Error> {
        validate_topic_name(name)?;
        config.validate()?;
        let Err(at) = self.find_topic(name) else {
            return Err(Error::TopicExists {
                topic: name.to_owned(),
            });
        };
        let partitions = (0..config.partitions)
            .map(|_| PartitionLog::new(config.retention))
            .collect();
        for p in self.producers.iter_mut().flatten() {
            if p.topic >= at {
                p.topic += 1;
            }
        }
        self.topics.insert(
            at,
            Topic {
                name: name.to_owned(),
                config,
                partitions,
            },
        );
        Ok(())
    }

    /// The topic's configuration.
    pub fn topic_config(&self, name: &str) -> Result<&TopicConfig, Error> {
        self.topic(name).map(|t| &t.config)
    }

    /// Names of the topics, sorted.
    pub fn topic_names(&self) -> impl Iterator<Item = &str> {
        self.topics.iter().map(|t| t.name.as_str())
    }

    /// Puts records back at the offsets they had, e.g. a browser outbox persisted before
    /// a reload: `records` must have consecutive offsets, and the partition's high
    /// watermark must not be past the first (an empty partition then starts there; a
    /// non-empty one must end exactly there). A sink connected later sends them again
    /// with the same message ids, so JetStream's de-duplication drops what it stored
    /// already. Errors (`OffsetOutOfRange`, `InvalidTimestamp`, `PartitionOutOfRange`,
    /// `OffsetOverflow`) change nothing.
    pub fn restore(
        &mut self,
        topic: &str,
        partition: u32,
        records: &[ConsumedRecord],
        now_ms: i64,
    ) -> Result<(), Error> {
        self.restore_placed(topic, partition, &records, now_ms)
    }

    /// [`Client::restore`] of any records [`Placed`] (the bindings' staged records, put
    /// back without a copy into [`ConsumedRecord`]s).
    pub fn restore_placed(
        &mut self,
        topic: &str,
        partition: u32,
        records: &dyn Placed,
        now_ms: i64,
    ) -> Result<(), Error> {
        let topic = self
            .find_topic(topic)
            .ok()
            .and_then(|t| self.topics.get_mut(t))
            .ok_or_else(|| Error::UnknownTopic {
                topic: topic.to_owned(),
            })?;
        self.appends += 1;
        let count = topic.partitions.len() as u32;
        let log =
            topic
                .partitions
                .get_mut(partition as usize)
                .ok_or(Error::PartitionOutOfRange {
                    partition,
                    partition_count: count,
                })?;
        let Some((first, _)) = records.get(0) else {
            return Ok(());
        };
        let hwm = log.high_watermark();
        let empty = log.info().records == 0;
        // Consecutive offsets, and the first bad timestamp.
        let (mut count, mut contiguous, mut bad_time) = (0, true, None);
        while let Some((offset, r)) = records.get(count) {
            contiguous &= offset == first + count as i64;
            if bad_time.is_none() && !(0..=MAX_SAFE_OFFSET).contains(&r.timestamp) {
                bad_time = Some(r.timestamp);
            }
            count += 1;
        }
        if !contiguous || first < hwm || (!empty && first != hwm) || first > MAX_SAFE_OFFSET {
            return Err(Error::OffsetOutOfRange {
                offset: first,
                high_watermark: hwm,
            });
        }
        if let Some(t) = bad_time {
            return Err(Error::InvalidTimestamp(t));
        }
        log.check_room_from(first, count as u64, partition)?;
        let codec = topic.config.compression;
        if empty && first > hwm {
            // A partition a sink tracks stays tracked: its cursor starts at the restored
            // records (retention keeps them until they are acknowledged).
            let tracked = log.acked_offset().is_some();
            *log = PartitionLog::starting_at(topic.config.retention, first);
            if tracked {
                log.track_sink();
            }
        }
        // Batches of `RESTORE_BATCH_BYTES` or a record more, or shorter where a record's
        // timestamp cannot join the batch. An empty batch takes a record: each pass
        // appends at least one.
        let mut at = 0;
        while at < count {
            let mut builder = BatchBuilder::new();
            at = fill(&mut builder, records, at, RESTORE_BATCH_BYTES);
            log.append(builder.finish(codec), now_ms, partition)?;
        }
        Ok(())
    }

    /// Batches appended to (or restored into) any topic so far: a number that moves
    /// whenever some partition's high watermark may have.
    pub fn appends(&self) -> u64 {
        self.appends
    }

    /// The partition logs of `topic` (the sink reads and acknowledges through them).
    pub fn logs(&self, topic: &str) -> Result<&[PartitionLog], Error> {
        self.topic(topic).map(|t| &t.partitions[..])
    }

    /// The partition logs of `topic`, mutably.
    pub fn logs_mut(&mut self, topic: &str) -> Result<&mut [PartitionLog], Error> {
        match self.find_topic(topic) {
            Ok(i) => self.topics.get_mut(i).map(|t| &mut t.partitions[..]),
            Err(_) => None,
        }
        .ok_or_else(|| Error::UnknownTopic {
            topic: topic.to_owned(),
        })
    }

    /// The topic's index, or where it would be inserted.
    fn find_topic(&self, name: &str) -> Result<usize, usize> {
        self.topics.binary_search_by(|t| t.name.as_str().cmp(name))
    }

    fn topic(&self, name: &str) -> Result<&Topic, Error> {
        match self.find_topic(name) {
            Ok(i) => self.topics.get(i),
            Err(_) => None,
        }
        .ok_or_else(|| Error::UnknownTopic {
            topic: name.to_owned(),
        })
    }

    /// A producer for `topic`. Its keyless round robin starts at a random partition.
    pub fn topic_producer(
        &mut self,
        topic: &str,
        config: ProducerConfig,
    ) -> Result<ProducerId, Error> {
        config.validate()?;
        let (index, t) = self
            .find_topic(topic)
            .ok()
            .and_then(|i| Some((i, self.topics.get(i)?)))
            .ok_or_else(|| Error::UnknownTopic {
                topic: topic.to_owned(),
            })?;
        let partition_count = t.config.partitions;
        let compression = config.compression.unwrap_or(t.config.compression);
        let start = self.rng.next_u32();
        let producer = Producer {
            topic: index,
            config,
            compression,
            partitioner: Partitioner::new(config.partitioner, partition_count, start),
            parts: (0..partition_count)
                .map(|_| PartitionAccumulator::default())
                .collect(),
            stats: ProducerStats::default(),
        };
        let id = self
            .producers
            .iter()
            .position(Option::is_none)
            .unwrap_or(self.producers.len());
        match self.producers.get_mut(id) {
            Some(free) => *free = Some(producer),
            None => self.producers.push(Some(producer)),
        }
        Ok(ProducerId(id as u32))
    }

    fn producer(&self, id: ProducerId) -> Result<&Producer, Error> {
        self.producers
            .get(id.0 as usize)
            .and_then(Option::as_ref)
            .ok_or(Error::Closed)
    }

    /// Accepts one record at `now_ms` into its partition's open batch. On error nothing
    /// changes: no sequence number, round-robin step or queue slot is used.
    pub fn send(
        &mut self,
        id: ProducerId,
        record: &ProduceRecord,
        now_ms: i64,
    ) -> Result<SendReceipt, Error> {
        self.send_ref(id, &record.parts(), now_ms)
    }

    /// [`Client::send`] for a borrowed record.
    pub fn send_ref(
        &mut self,
        id: ProducerId,
        record: &RecordParts<'_>,
        now_ms: i64,
    ) -> Result<SendReceipt, Error> {
        let result = self.try_send(id, record, now_ms);
        if let Err(e) = &result {
            if let Some(Some(p)) = self.producers.get_mut(id.0 as usize) {
                // A full queue is back-pressure, retried by the caller, not a refusal.
                if matches!(e, Error::QueueFull { .. }) {
                    p.stats.queue_full += 1;
                } else {
                    p.stats.rejected += 1;
                }
            }
        }
        result
    }

    /// Runs every check `send` runs except the queue bound (unknown or closed producer,
    /// timestamp, partition, size, offset room) without changing anything.
    pub fn check(&self, id: ProducerId, record: &ProduceRecord, now_ms: i64) -> Result<(), Error> {
        self.check_ref(id, &record.parts(), now_ms)
    }

    /// [`Client::check`] for a borrowed record.
    pub fn check_ref(
        &self,
        id: ProducerId,
        record: &RecordParts<'_>,
        now_ms: i64,
    ) -> Result<(), Error> {
        self.check_place(id, record, now_ms).map(|_| ())
    }

    /// [`Client::check_ref`], returning the partition chosen.
    pub fn check_place(
        &self,
        id: ProducerId,
        record: &RecordParts<'_>,
        now_ms: i64,
    ) -> Result<u32, Error> {
        place(&self.topics, self.producer(id)?, record, now_ms).map(|p| p.0)
    }

    fn try_send(
        &mut self,
        id: ProducerId,
        record: &RecordParts<'_>,
        now_ms: i64,
    ) -> Result<SendReceipt, Error> {
        let producer = self
            .producers
            .get_mut(id.0 as usize)
            .and_then(Option::as_mut)
            .ok_or(Error::Closed)?;
        let (partition, timestamp, size) = place(&self.topics, producer, record, now_ms)?;
        let r = RecordRef {
            key: record.key,
            value: record.value,
            timestamp,
            headers: record.headers,
        };
        let limits = producer.limits();
        let missing = producer.missing(partition);
        let seq = producer
            .parts
            .get_mut(partition as usize)
            .ok_or(missing)?
            .push(&r, now_ms, limits, partition)?;
        if record.key.is_none() && record.partition.is_none() {
            producer.partitioner.commit_keyless();
        }
        producer.stats.records += 1;
        producer.stats.bytes += (size - crate::batch::BATCH_OVERHEAD) as u64;
        Ok(SendReceipt {
            partition,
            seq,
            timestamp,
        })
    }

    /// Closes lingered batches, appends closed ones to their logs, applies age retention.
    pub fn poll(&mut self, now_ms: i64) -> PollOutcome {
        self.drain(now_ms, false)
    }

    /// Closes every open batch and appends it, whatever its linger.
    pub fn flush(&mut self, now_ms: i64) -> PollOutcome {
        self.drain(now_ms, true)
    }

    fn drain(&mut self, now_ms: i64, all: bool) -> PollOutcome {
        let mut out = PollOutcome::default();
        for (index, slot) in self.producers.iter_mut().enumerate() {
            let Some(p) = slot.as_mut() else { continue };
            let Some(topic) = self.topics.get_mut(p.topic) else {
                continue;
            };
            let id = ProducerId(index as u32);
            let compression = p.compression;
            let linger = p.config.linger_ms;
            // One accumulator per partition of the topic.
            let logs = topic.partitions.iter_mut();
            for (partition, (acc, log)) in p.parts.iter_mut().zip(logs).enumerate() {
                if all {
                    acc.close(compression);
                } else {
                    acc.close_if_lingered(now_ms, linger, compression);
                }
                // A full outbox (see `PartitionLog::outbox_has_room`) leaves batches queued.
                while acc.front().is_some_and(|r| {
                    log.outbox_has_room(u64::from(r.batch.count()), r.batch.bytes().len() as u64)
                }) {
                    let Some(ready) = acc.pop() else { break };
                    let count = ready.batch.count();
                    let partition = partition as u32;
                    match log.append(ready.batch, now_ms, partition) {
                        Ok(base_offset) => {
                            self.appends += 1;
                            p.stats.batches += 1;
                            p.stats.records_appended += u64::from(count);
                            out.appended.push(Appended {
                                producer: id,
                                partition,
                                first_seq: ready.first_seq,
                                count,
                                base_offset,
                            });
                        }
                        Err(error) => {
                            p.stats.rejected += u64::from(count);
                            out.rejected.push(Rejected {
                                producer: id,
                                partition,
                                first_seq: ready.first_seq,
                                count,
                                error,
                            });
                        }
                    }
                }
                if let Some(d) = acc.deadline(linger) {
                    out.next_deadline = Some(out.next_deadline.map_or(d, |n: i64| n.min(d)));
                }
            }
        }
        for topic in &mut self.topics {
            if topic.config.retention.max_age_ms.is_some() {
                for log in &mut topic.partitions {
                    log.enforce_retention(now_ms);
                }
            }
        }
        out
    }

    /// Flushes then removes a producer; its id becomes invalid (`Closed`).
    pub fn close_producer(&mut self, id: ProducerId, now_ms: i64) -> Result<PollOutcome, Error> {
        self.producer(id)?;
        let outcome = self.flush(now_ms);
        if let Some(slot) = self.producers.get_mut(id.0 as usize) {
            *slot = None;
        }
        Ok(outcome)
    }

    /// A producer's counters, with the topic's evicted and dropped records.
    pub fn producer_stats(&self, id: ProducerId) -> Result<ProducerStats, Error> {
        let p = self.producer(id)?;
        let mut s = p.stats;
        s.queue_depth = p.parts.iter().map(|a| a.queued_batches() as u64).sum();
        s.queued_records = p
            .parts
            .iter()
            .map(PartitionAccumulator::pending_records)
            .sum();
        if let Some(t) = self.topics.get(p.topic) {
            for log in &t.partitions {
                let info = log.info();
                s.evicted += info.evicted_records;
                s.dropped += info.lost_records;
            }
        }
        Ok(s)
    }

    fn log(&self, topic: &str, partition: u32) -> Result<&PartitionLog, Error> {
        let t = self.topic(topic)?;
        t.partitions
            .get(partition as usize)
            .ok_or(Error::PartitionOutOfRange {
                partition,
                partition_count: t.config.partitions,
            })
    }

    /// Reads up to `max_records` records of `topic`/`partition` from `from_offset`.
    pub fn read(
        &self,
        topic: &str,
        partition: u32,
        from_offset: i64,
        max_records: usize,
    ) -> Result<Vec<ConsumedRecord>, Error> {
        self.log(topic, partition)?.read(from_offset, max_records)
    }

    /// What one partition reports about itself.
    pub fn partition_info(&self, topic: &str, partition: u32) -> Result<PartitionInfo, Error> {
        Ok(self.log(topic, partition)?.info())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RetentionConfig;
    use crate::partition_for_key;

    fn client_with(partitions: u32) -> Client {
        let mut c = Client::new(7);
        c.create_topic(
            "clicks",
            TopicConfig {
                partitions,
                ..TopicConfig::default()
            },
        )
        .unwrap();
        c
    }

    #[test]
    fn send_then_poll_assigns_offsets_in_order() {
        let mut c = client_with(3);
        let p = c
            .topic_producer("clicks", ProducerConfig::default())
            .unwrap();
        let receipts: Vec<_> = (0..10)
            .map(|i| {
                c.send(p, &ProduceRecord::keyed("user-1", format!("v{i}")), 100)
                    .unwrap()
            })
            .collect();
        let outcome = c.poll(100);
        let part = partition_for_key(b"user-1", 3);
        for (i, r) in receipts.iter().enumerate() {
            assert_eq!(r.partition, part);
            assert_eq!(outcome.offset_of(p, r), Some(i as i64));
        }
        let read = c.read("clicks", part, 0, 100).unwrap();
        assert_eq!(read.len(), 10);
        assert_eq!(read[9].value, b"v9");
        assert_eq!(read[9].timestamp, 100);
    }

    #[test]
    fn a_topic_created_later_does_not_move_a_producer() {
        let mut c = client_with(1);
        let p = c
            .topic_producer("clicks", ProducerConfig::default())
            .unwrap();
        c.create_topic("alpha", TopicConfig::default()).unwrap();
        c.create_topic("zulu", TopicConfig::default()).unwrap();
        c.send(p, &ProduceRecord::new("x"), 5).unwrap();
        c.poll(5);
        assert_eq!(c.read("clicks", 0, 0, 10).unwrap().len(), 1);
        assert!(c.read("alpha", 0, 0, 10).unwrap().is_empty());
        assert!(c.read("zulu", 0, 0, 10).unwrap().is_empty());
        assert_eq!(c.producer_stats(p).unwrap().records_appended, 1);
    }

    #[test]
    fn unknown_topic_and_closed_producer() {
        let mut c = client_with(1);
        assert_eq!(
            c.topic_producer("nope", ProducerConfig::default()),
            Err(Error::UnknownTopic {
                topic: "nope".into()
            })
        );
        let p = c
            .topic_producer("clicks", ProducerConfig::default())
            .unwrap();
        c.close_producer(p, 0).unwrap();
        assert_eq!(c.send(p, &ProduceRecord::new("x"), 0), Err(Error::Closed));
    }

    #[test]
    fn duplicate_and_bad_topic_names() {
        let mut c = client_with(1);
        assert!(matches!(
            c.create_topic("clicks", TopicConfig::default()),
            Err(Error::TopicExists { .. })
        ));
        for bad in ["", "a.b", "has space", &"x".repeat(64)] {
            assert!(matches!(
                c.create_topic(bad, TopicConfig::default()),
                Err(Error::InvalidTopicName { .. })
            ));
        }
    }

    #[test]
    fn too_large_record_is_rejected_and_nothing_else_is_affected() {
        let mut c = client_with(1);
        let p = c
            .topic_producer(
                "clicks",
                ProducerConfig {
                    max_request_size: 1000,
                    ..Default::default()
                },
            )
            .unwrap();
        c.send(p, &ProduceRecord::new("ok-1"), 0).unwrap();
        let err = c
            .send(p, &ProduceRecord::new(vec![0u8; 1000]), 0)
            .unwrap_err();
        assert!(matches!(
            err,
            Error::RecordTooLarge {
                max_request_size: 1000,
                ..
            }
        ));
        let r = c.send(p, &ProduceRecord::new("ok-2"), 0).unwrap();
        assert_eq!(r.seq, 1);
        let outcome = c.poll(0);
        assert_eq!(outcome.offset_of(p, &r), Some(1));
        let stats = c.producer_stats(p).unwrap();
        assert_eq!(stats.records, 2);
        assert_eq!(stats.rejected, 1);
    }

    #[test]
    fn linger_holds_the_batch_until_its_deadline() {
        let mut c = client_with(1);
        let p = c
            .topic_producer(
                "clicks",
                ProducerConfig {
                    linger_ms: 50,
                    ..Default::default()
                },
            )
            .unwrap();
        c.send(p, &ProduceRecord::new("a"), 1000).unwrap();
        let o = c.poll(1010);
        assert!(o.appended.is_empty());
        assert_eq!(o.next_deadline, Some(1050));
        assert_eq!(c.producer_stats(p).unwrap().queue_depth, 1);
        let o = c.poll(1050);
        assert_eq!(o.appended.len(), 1);
        assert_eq!(o.next_deadline, None);
    }

    #[test]
    fn flush_ignores_linger() {
        let mut c = client_with(2);
        let p = c
            .topic_producer(
                "clicks",
                ProducerConfig {
                    linger_ms: 10_000,
                    ..Default::default()
                },
            )
            .unwrap();
        for i in 0..10 {
            c.send(p, &ProduceRecord::keyed(format!("k{i}"), "v"), 0)
                .unwrap();
        }
        let o = c.flush(1);
        assert_eq!(o.appended.iter().map(|a| a.count).sum::<u32>(), 10);
        assert_eq!(c.producer_stats(p).unwrap().queued_records, 0);
    }

    #[test]
    fn queue_full_then_poll_makes_room() {
        let mut c = client_with(1);
        let p = c
            .topic_producer(
                "clicks",
                ProducerConfig {
                    batch_size: 100,
                    batch_queue_size: 2,
                    ..Default::default()
                },
            )
            .unwrap();
        let mut accepted = 0;
        let err = loop {
            match c.send(p, &ProduceRecord::new([1u8; 30]), 0) {
                Ok(_) => accepted += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(
            err,
            Error::QueueFull {
                partition: 0,
                batch_queue_size: 2
            }
        );
        c.poll(0);
        c.send(p, &ProduceRecord::new([1u8; 30]), 0).unwrap();
        c.flush(0);
        assert_eq!(
            c.partition_info("clicks", 0).unwrap().high_watermark,
            accepted + 1
        );
    }

    #[test]
    fn keyless_records_rotate_and_explicit_partitions_are_checked() {
        let mut c = client_with(4);
        let p = c
            .topic_producer("clicks", ProducerConfig::default())
            .unwrap();
        let parts: Vec<u32> = (0..8)
            .map(|_| c.send(p, &ProduceRecord::new("x"), 0).unwrap().partition)
            .collect();
        for w in parts.windows(2) {
            assert_eq!(w[1], (w[0] + 1) % 4);
        }
        let rec = ProduceRecord {
            partition: Some(4),
            ..ProduceRecord::new("x")
        };
        assert!(matches!(
            c.send(p, &rec, 0),
            Err(Error::PartitionOutOfRange { .. })
        ));
        // The failed send did not disturb the rotation.
        let next = c.send(p, &ProduceRecord::new("x"), 0).unwrap().partition;
        assert_eq!(next, (parts[7] + 1) % 4);
    }

    #[test]
    fn stats_report_evictions() {
        let mut c = Client::new(1);
        c.create_topic(
            "t",
            TopicConfig {
                retention: RetentionConfig {
                    max_records: Some(100),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .unwrap();
        let p = c.topic_producer("t", ProducerConfig::default()).unwrap();
        for _ in 0..1000 {
            c.send(p, &ProduceRecord::new("v"), 0).unwrap();
            c.poll(0);
        }
        let s = c.producer_stats(p).unwrap();
        let info = c.partition_info("t", 0).unwrap();
        assert_eq!(s.records_appended, 1000);
        assert_eq!(s.evicted, 1000 - info.records);
        assert!(info.records <= 100);
    }

    #[test]
    fn invalid_timestamps_are_refused() {
        let mut c = client_with(1);
        let p = c
            .topic_producer("clicks", ProducerConfig::default())
            .unwrap();
        for ts in [-1, MAX_SAFE_OFFSET + 1] {
            let r = ProduceRecord {
                timestamp: Some(ts),
                ..ProduceRecord::new("x")
            };
            assert_eq!(c.send(p, &r, 0), Err(Error::InvalidTimestamp(ts)));
        }
    }

    #[test]
    fn restore_puts_records_back_at_their_offsets() {
        let mut c = client_with(2);
        let rec = |offset: i64, v: &str| ConsumedRecord {
            offset,
            key: Some(b"k".to_vec()),
            value: v.as_bytes().to_vec(),
            timestamp: 5,
            headers: Vec::new(),
        };
        let records: Vec<_> = (40..45).map(|o| rec(o, "v")).collect();
        // Gaps, a start before the high watermark, and bad partitions change nothing.
        let gap = [rec(40, "a"), rec(42, "b")];
        assert!(matches!(
            c.restore("clicks", 1, &gap, 0),
            Err(Error::OffsetOutOfRange { .. })
        ));
        assert!(matches!(
            c.restore("clicks", 9, &records, 0),
            Err(Error::PartitionOutOfRange { .. })
        ));
        assert_eq!(c.partition_info("clicks", 1).unwrap().high_watermark, 0);
        c.restore("clicks", 1, &records, 0).unwrap();
        let info = c.partition_info("clicks", 1).unwrap();
        assert_eq!((info.log_start_offset, info.high_watermark), (40, 45));
        assert_eq!(c.read("clicks", 1, 40, 10).unwrap(), records);
        // Appending continues after them; restoring again over them is refused.
        assert!(c.restore("clicks", 1, &records, 0).is_err());
        c.restore("clicks", 1, &[rec(45, "w")], 0).unwrap();
        let p = c
            .topic_producer("clicks", ProducerConfig::default())
            .unwrap();
        let r = c
            .send(
                p,
                &ProduceRecord {
                    partition: Some(1),
                    ..ProduceRecord::new("next")
                },
                0,
            )
            .unwrap();
        assert_eq!(c.flush(0).offset_of(p, &r), Some(46));
    }

    /// Restored records go into batches of 64 KiB or a record more, and a record whose
    /// timestamp cannot join the open batch starts the next: the bytes the log holds are
    /// those batches', and every record reads back as it was.
    #[test]
    fn restore_batches_by_size_and_timestamp() {
        let mut c = client_with(1);
        let far = 1 + i64::from(i32::MAX);
        let stamps = [5, 5, 5, 5 + far, 6 + far, 7];
        let records: Vec<_> = stamps
            .iter()
            .enumerate()
            .map(|(i, &timestamp)| ConsumedRecord {
                offset: 10 + i as i64,
                key: (i % 2 == 0).then(|| vec![i as u8]),
                value: vec![i as u8; 40_000],
                timestamp,
                headers: Vec::new(),
            })
            .collect();
        c.restore("clicks", 0, &records, 0).unwrap();
        // [0, 1] (80 KB: closed), [2] (3 cannot join), [3, 4] (5 cannot join), [5].
        let all = &records[..];
        let size = |from: usize, to: usize| {
            let mut b = BatchBuilder::new();
            for i in from..to {
                assert!(b.push(&Placed::get(&all, i).unwrap().1));
            }
            b.size() as u64
        };
        let expected = size(0, 2) + size(2, 3) + size(3, 5) + size(5, 6);
        let info = c.partition_info("clicks", 0).unwrap();
        assert_eq!((info.bytes, info.records), (expected, 6));
        assert_eq!(c.read("clicks", 0, 10, 10).unwrap(), records);
        // A bad timestamp after a gap: the gap is what is reported, and nothing changed.
        let mut bad = records.clone();
        bad[4].timestamp = -1;
        let mut c = client_with(1);
        assert_eq!(
            c.restore("clicks", 0, &bad, 0),
            Err(Error::InvalidTimestamp(-1))
        );
        bad[5].offset = 99;
        assert!(matches!(
            c.restore("clicks", 0, &bad, 0),
            Err(Error::OffsetOutOfRange { offset: 10, .. })
        ));
        assert_eq!(c.partition_info("clicks", 0).unwrap().records, 0);
    }
}
