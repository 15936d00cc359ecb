//! Per-partition batching for one producer.
//!
//! Records accumulate, encoded as they arrive, into the partition's open batch. The open
//! batch closes when it reaches `batch_size` bytes (a record that would take it past that
//! starts a new batch; a record larger than `batch_size` travels alone), when `linger` ms
//! have passed since its first record, or on flush. Closed batches wait in the partition's
//! queue until the client's `poll` appends them to the log. The queue is bounded: open and
//! closed batches together may not pass `batch_queue_size`; a record that would need one
//! more batch is refused with `QueueFull` and nothing changes.
//!
//! A new batch reserves room for the partition's previous batch and a quarter more, at
//! most `batch_size`: a steady stream encodes each batch into one allocation that never
//! grows (no copy of the bytes already encoded), and a partition that sees a few records
//! per linger does not hold `batch_size` bytes per open batch.

use alloc::collections::VecDeque;

use crate::batch::{BatchBuilder, EncodedBatch, RecordRef};
use crate::config::Compression;
use crate::error::Error;

#[derive(Debug)]
struct OpenBatch {
    builder: BatchBuilder,
    first_seq: u64,
    opened_at: i64,
}

/// A closed batch waiting to be appended, with the sequence number of its first record.
#[derive(Debug)]
pub struct ReadyBatch {
    /// The encoded batch.
    pub batch: EncodedBatch,
    /// Producer-side sequence number (per partition) of its first record.
    pub first_seq: u64,
}

/// One partition's accumulator within one producer.
#[derive(Debug, Default)]
pub struct PartitionAccumulator {
    open: Option<OpenBatch>,
    ready: VecDeque<ReadyBatch>,
    next_seq: u64,
    pending_records: u64,
    /// Size of the last batch closed, which sizes the next one's first allocation.
    last_size: usize,
}

/// Limits the accumulator applies.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Close at this many bytes.
    pub batch_size: usize,
    /// Open plus closed batches allowed.
    pub batch_queue_size: usize,
    /// Codec for closing.
    pub compression: Compression,
}

impl PartitionAccumulator {
    /// Records accepted but not yet appended to the log.
    pub fn pending_records(&self) -> u64 {
        self.pending_records
    }

    /// Batches (open and closed) not yet appended.
    pub fn queued_batches(&self) -> usize {
        self.ready.len() + usize::from(self.open.is_some())
    }

    /// Adds `r` at `now_ms`; returns its sequence number. On `QueueFull` (reported for
    /// `partition`) nothing changes.
    pub fn push(
        &mut self,
        r: &RecordRef<'_>,
        now_ms: i64,
        limits: Limits,
        partition: u32,
    ) -> Result<u64, Error> {
        let pushed = self
            .open
            .as_mut()
            .is_some_and(|o| o.builder.push_within(r, limits.batch_size));
        if !pushed {
            let after = self.ready.len() + 1 + usize::from(self.open.is_some());
            if after > limits.batch_queue_size {
                return Err(Error::QueueFull {
                    partition,
                    batch_queue_size: limits.batch_queue_size,
                });
            }
            self.close(limits.compression);
            let room = (self.last_size + self.last_size / 4).min(limits.batch_size);
            let mut builder = BatchBuilder::with_capacity(room);
            let pushed = builder.push(r);
            debug_assert!(pushed, "a fresh batch takes any record");
            self.open = Some(OpenBatch {
                builder,
                first_seq: self.next_seq,
                opened_at: now_ms,
            });
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.pending_records += 1;
        if self
            .open
            .as_ref()
            .is_some_and(|o| o.builder.size() >= limits.batch_size)
        {
            self.close(limits.compression);
        }
        Ok(seq)
    }

    /// Closes the open batch, if any, into the queue.
    pub fn close(&mut self, compression: Compression) {
        if let Some(open) = self.open.take() {
            self.last_size = open.builder.size();
            self.ready.push_back(ReadyBatch {
                batch: open.builder.finish(compression),
                first_seq: open.first_seq,
            });
        }
    }

    /// Closes the open batch if `linger_ms` has passed since its first record at `now_ms`.
    pub fn close_if_lingered(&mut self, now_ms: i64, linger_ms: u64, compression: Compression) {
        if let Some(deadline) = self.deadline(linger_ms) {
            if now_ms >= deadline {
                self.close(compression);
            }
        }
    }

    /// When the open batch's linger ends, if there is one.
    pub fn deadline(&self, linger_ms: u64) -> Option<i64> {
        self.open.as_ref().map(|o| {
            o.opened_at
                .saturating_add(linger_ms.min(i64::MAX as u64) as i64)
        })
    }

    /// The oldest closed batch.
    pub fn front(&self) -> Option<&ReadyBatch> {
        self.ready.front()
    }

    /// Takes the oldest closed batch.
    pub fn pop(&mut self) -> Option<ReadyBatch> {
        let b = self.ready.pop_front()?;
        self.pending_records -= u64::from(b.batch.count());
        Some(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        batch_size: 200,
        batch_queue_size: 3,
        compression: Compression::None,
    };

    fn rec(v: &[u8]) -> RecordRef<'_> {
        RecordRef {
            key: None,
            value: v,
            timestamp: 0,
            headers: &[],
        }
    }

    #[test]
    fn closes_at_batch_size_and_bounds_the_queue() {
        let mut acc = PartitionAccumulator::default();
        let v = [0u8; 40];
        let mut seqs = Vec::new();
        loop {
            match acc.push(&rec(&v), 0, LIMITS, 2) {
                Ok(s) => seqs.push(s),
                Err(e) => {
                    assert_eq!(
                        e,
                        Error::QueueFull {
                            partition: 2,
                            batch_queue_size: 3
                        }
                    );
                    break;
                }
            }
        }
        assert_eq!(acc.queued_batches(), 3);
        assert_eq!(acc.pending_records(), seqs.len() as u64);
        assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
        // Every closed batch is within batch_size.
        let mut total = 0;
        while let Some(b) = acc.pop() {
            assert!(b.batch.bytes().len() <= 200);
            assert_eq!(b.first_seq, total);
            total += u64::from(b.batch.count());
        }
        acc.close(Compression::None);
        while let Some(b) = acc.pop() {
            total += u64::from(b.batch.count());
        }
        assert_eq!(total, seqs.len() as u64);
        assert_eq!(acc.pending_records(), 0);
    }

    #[test]
    fn a_record_larger_than_batch_size_travels_alone() {
        let mut acc = PartitionAccumulator::default();
        acc.push(&rec(b"small"), 0, LIMITS, 0).unwrap();
        acc.push(&rec(&[1u8; 500]), 0, LIMITS, 0).unwrap();
        acc.push(&rec(b"small"), 0, LIMITS, 0).unwrap();
        let first = acc.pop().unwrap();
        let big = acc.pop().unwrap();
        assert_eq!(first.batch.count(), 1);
        assert_eq!(big.batch.count(), 1);
        assert!(big.batch.bytes().len() > 500);
        assert!(
            acc.pop().is_none(),
            "the third record waits in the open batch"
        );
        assert_eq!(acc.queued_batches(), 1);
    }

    #[test]
    fn linger_closes_after_the_deadline() {
        let mut acc = PartitionAccumulator::default();
        acc.push(&rec(b"a"), 1000, LIMITS, 0).unwrap();
        assert_eq!(acc.deadline(50), Some(1050));
        acc.close_if_lingered(1049, 50, Compression::None);
        assert!(acc.front().is_none());
        acc.close_if_lingered(1050, 50, Compression::None);
        assert_eq!(acc.front().unwrap().batch.count(), 1);
    }
}
