//! The partition log: an ordered, offset-addressed, retention-bounded store of batches.
//!
//! - **Offsets**: appending a batch of `n` records assigns the next `n` offsets, starting at
//!   0. An offset, once given, names that record for ever and is never reused, even after
//!   retention removed it. No offset past `2^53 - 1` is assigned (`OffsetOverflow`).
//! - **Segments**: batches are kept, encoded, in segments. A segment rolls when it holds
//!   `segment_bytes` bytes or `max_records / 8` records (see [`RetentionConfig`]).
//! - **Retention** removes whole segments from the head, by age (the segment's last append
//!   older than `max_age_ms`), by bytes and by records, whichever bites first. The active
//!   segment may go too when the bound demands it: memory is the limit in a browser. After
//!   every append the log holds at most `max_bytes` bytes and `max_records` records, unless
//!   unacknowledged records are kept (below).
//! - **Reads** return records with their offsets; an offset retention removed is
//!   `OffsetEvicted { next_available }`.
//! - **The sink's cursor**: once a sink tracks the partition ([`PartitionLog::track_sink`]),
//!   records at or past the cursor are unacknowledged. When retention would remove them,
//!   [`UnackedPolicy::Keep`] stops retention there (the bound is exceeded, and
//!   [`PartitionInfo::over_bound`] says so), [`UnackedPolicy::Drop`] removes them and counts
//!   them in [`PartitionInfo::lost_records`]. Nothing is lost silently.

use alloc::boxed::Box;
use alloc::vec::Vec;

#[cfg(any(feature = "sink", feature = "codecs"))]
use crate::batch::decode_batch;
use crate::batch::EncodedBatch;
use crate::config::{RetentionConfig, UnackedPolicy};
use crate::error::{Error, MAX_SAFE_OFFSET};
use crate::record::ConsumedRecord;

#[derive(Debug)]
struct StoredBatch {
    base_offset: i64,
    count: u32,
    bytes: Box<[u8]>,
}

#[derive(Debug)]
struct Segment {
    base_offset: i64,
    next_offset: i64,
    bytes: u64,
    records: u64,
    last_append_ms: i64,
    batches: Vec<StoredBatch>,
}

/// What a partition reports about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionInfo {
    /// The first offset still held (equals the high watermark when the log is empty).
    pub log_start_offset: i64,
    /// The next offset to be assigned.
    pub high_watermark: i64,
    /// Encoded bytes held.
    pub bytes: u64,
    /// Records held.
    pub records: u64,
    /// Segments held.
    pub segments: u64,
    /// Records removed by retention so far.
    pub evicted_records: u64,
    /// Unacknowledged records removed by retention under [`UnackedPolicy::Drop`].
    pub lost_records: u64,
    /// The sink's cursor (every offset below it is acknowledged), when a sink tracks it.
    pub acked_offset: Option<i64>,
    /// True when retention is held back by unacknowledged records ([`UnackedPolicy::Keep`]).
    pub over_bound: bool,
}

/// One partition's log.
#[derive(Debug)]
pub struct PartitionLog {
    retention: RetentionConfig,
    segment_bytes: u64,
    segment_records: u64,
    /// Oldest first. A `Vec`: retention removes from the head in one pass (`retain`)
    /// after it decided how many go, and a log holds about eight segments.
    segments: Vec<Segment>,
    log_start: i64,
    high_watermark: i64,
    bytes: u64,
    records: u64,
    evicted_records: u64,
    lost_records: u64,
    acked: Option<i64>,
    over_bound: bool,
}

#[cfg(any(feature = "sink", feature = "codecs"))]
/// Largest uncompressed batch the log decodes (batches are its own, bounded by
/// `max_request_size` ≤ 2^30 plus one batch).
const READ_LIMIT: usize = 1 << 31;

impl PartitionLog {
    /// An empty log whose first offset will be 0.
    pub fn new(retention: RetentionConfig) -> Self {
        Self::starting_at(retention, 0)
    }

    /// An empty log whose first offset will be `start` (to resume a persisted partition;
    /// clamped to `0..=2^53-1`).
    pub fn starting_at(retention: RetentionConfig, start: i64) -> Self {
        let start = start.clamp(0, MAX_SAFE_OFFSET);
        PartitionLog {
            segment_bytes: retention.effective_segment_bytes(),
            segment_records: retention.effective_segment_records(),
            retention,
            segments: Vec::new(),
            log_start: start,
            high_watermark: start,
            bytes: 0,
            records: 0,
            evicted_records: 0,
            lost_records: 0,
            acked: None,
            over_bound: false,
        }
    }

    /// The next offset to be assigned.
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    /// The first offset still held.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start
    }

    /// Checks that `count` offsets from `first` can be assigned.
    pub fn check_room_from(&self, first: i64, count: u64, partition: u32) -> Result<(), Error> {
        let last = (first as u64).saturating_add(count.saturating_sub(1));
        if count > 0 && last > MAX_SAFE_OFFSET as u64 {
            return Err(Error::OffsetOverflow { partition });
        }
        Ok(())
    }

    /// Checks that `count` more offsets can be assigned.
    pub fn check_room(&self, count: u64, partition: u32) -> Result<(), Error> {
        self.check_room_from(self.high_watermark, count, partition)
    }

    /// Appends a closed batch at `now_ms`: assigns its offsets, writes its base offset,
    /// then applies retention. Returns the base offset. An empty batch assigns nothing and
    /// returns the high watermark. Past `2^53 - 1` it is `OffsetOverflow` and nothing
    /// changes.
    pub fn append(
        &mut self,
        mut batch: EncodedBatch,
        now_ms: i64,
        partition: u32,
    ) -> Result<i64, Error> {
        let count = batch.count();
        if count == 0 {
            return Ok(self.high_watermark);
        }
        self.check_room(u64::from(count), partition)?;
        let base = self.high_watermark;
        batch.set_base_offset(base);
        let size = batch.bytes().len() as u64;
        let roll = match self.segments.last() {
            None => true,
            Some(s) => s.bytes >= self.segment_bytes || s.records >= self.segment_records,
        };
        if roll {
            self.segments.push(Segment {
                base_offset: base,
                next_offset: base,
                bytes: 0,
                records: 0,
                last_append_ms: now_ms,
                batches: Vec::new(),
            });
        }
        // The last segment: it exists (just made, if needed).
        if let Some(seg) = self.segments.last_mut() {
            seg.batches.push(StoredBatch {
                base_offset: base,
                count,
                bytes: batch.into_bytes().into_boxed_slice(),
            });
            seg.next_offset = base + i64::from(count);
            seg.bytes += size;
            seg.records += u64::from(count);
            seg.last_append_ms = seg.last_append_ms.max(now_ms);
        }
        self.high_watermark = base + i64::from(count);
        self.bytes += size;
        self.records += u64::from(count);
        self.enforce_retention(now_ms);
        Ok(base)
    }

    fn head_must_go(&self, seg: &Segment, now_ms: i64) -> bool {
        let r = &self.retention;
        r.max_bytes.is_some_and(|b| self.bytes > b)
            || r.max_records.is_some_and(|n| self.records > n)
            || r.max_age_ms.is_some_and(|age| {
                now_ms.saturating_sub(seg.last_append_ms) > age.min(i64::MAX as u64) as i64
            })
    }

    /// Removes head segments as the retention bounds demand at `now_ms`. Called by
    /// [`PartitionLog::append`] and by the client's `poll` (for age).
    pub fn enforce_retention(&mut self, now_ms: i64) {
        self.over_bound = false;
        let mut gone = 0;
        while let Some(seg) = self.segments.get(gone) {
            if !self.head_must_go(seg, now_ms) {
                break;
            }
            let (base, next, bytes, records) =
                (seg.base_offset, seg.next_offset, seg.bytes, seg.records);
            if let Some(acked) = self.acked {
                if next > acked {
                    match self.retention.unacked {
                        UnackedPolicy::Keep => {
                            self.over_bound = true;
                            break;
                        }
                        UnackedPolicy::Drop => {
                            let unacked = next - acked.max(base);
                            self.lost_records += unacked as u64;
                            self.acked = Some(next);
                        }
                    }
                }
            }
            self.bytes -= bytes;
            self.records -= records;
            self.evicted_records += records;
            self.log_start = next;
            gone += 1;
        }
        if gone > 0 {
            let mut at = 0;
            self.segments.retain(|_| {
                at += 1;
                at > gone
            });
        }
        if self.segments.is_empty() {
            self.log_start = self.high_watermark;
        }
    }

    /// Reads up to `max_records` records from `from_offset`.
    ///
    /// `from_offset` below the log start is `OffsetEvicted { next_available }`; past the
    /// high watermark (or negative) it is `OffsetOutOfRange`; at the high watermark the
    /// result is empty.
    pub fn read(&self, from_offset: i64, max_records: usize) -> Result<Vec<ConsumedRecord>, Error> {
        self.read_from(from_offset, max_records, false)
    }

    fn read_from(
        &self,
        from_offset: i64,
        max_records: usize,
        whole_batches: bool,
    ) -> Result<Vec<ConsumedRecord>, Error> {
        if from_offset < 0 || from_offset > self.high_watermark {
            return Err(Error::OffsetOutOfRange {
                offset: from_offset,
                high_watermark: self.high_watermark,
            });
        }
        if from_offset < self.log_start {
            return Err(Error::OffsetEvicted {
                offset: from_offset,
                next_available: self.log_start,
            });
        }
        let mut out = Vec::new();
        if max_records == 0 || from_offset == self.high_watermark {
            return Ok(out);
        }
        let first_seg = self
            .segments
            .partition_point(|s| s.next_offset <= from_offset);
        for seg in self.segments.iter().skip(first_seg) {
            let first_batch = seg
                .batches
                .partition_point(|b| b.base_offset + i64::from(b.count) <= from_offset);
            for b in seg.batches.iter().skip(first_batch) {
                // The log's own batch (a `BatchBuilder`'s). Without the sink and the
                // codecs nothing else decodes: the local wasm walks it unchecked.
                #[cfg(not(any(feature = "sink", feature = "codecs")))]
                let records = crate::batch::own_records(&b.bytes);
                #[cfg(any(feature = "sink", feature = "codecs"))]
                let records = decode_batch(&b.bytes, READ_LIMIT)?.0.records;
                for r in records {
                    if r.offset >= from_offset {
                        out.push(r);
                        if out.len() == max_records && !whole_batches {
                            return Ok(out);
                        }
                    }
                }
                if out.len() >= max_records {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    /// Reads the records from `from_offset` to the end of the batch holding the
    /// `min_records`-th of them (whole batches: a reader going on from there never decodes
    /// a batch twice). Errors as [`PartitionLog::read`].
    pub fn read_batches(
        &self,
        from_offset: i64,
        min_records: usize,
    ) -> Result<Vec<ConsumedRecord>, Error> {
        self.read_from(from_offset, min_records, true)
    }

    /// Starts tracking a sink: every record from the log start on is unacknowledged.
    pub fn track_sink(&mut self) {
        if self.acked.is_none() {
            self.acked = Some(self.log_start);
        }
    }

    /// The sink acknowledged every offset below `next` (clamped to the high watermark;
    /// a cursor never moves back). Retention held back by them may proceed at `now_ms`.
    pub fn ack(&mut self, next: i64, now_ms: i64) {
        if let Some(a) = self.acked {
            self.acked = Some(a.max(next.min(self.high_watermark)));
            self.enforce_retention(now_ms);
        }
    }

    /// The sink's cursor (every offset below is acknowledged), or `None` without a sink.
    pub fn acked_offset(&self) -> Option<i64> {
        self.acked
    }

    /// Records appended and not yet acknowledged by the sink (0 without a sink).
    pub fn unacked_records(&self) -> u64 {
        self.acked.map_or(0, |a| (self.high_watermark - a) as u64)
    }

    /// Whether a batch of `count` records and `bytes` bytes may be appended now. Only a
    /// partition a sink tracks under [`UnackedPolicy::Keep`] can be full: its outbox (the
    /// unacknowledged records) is bounded by `max_records` and `max_bytes`, so while the
    /// engine is unreachable appends wait (the producer's queue fills and `send` waits or
    /// fails by its policy) instead of memory growing. An empty outbox always takes one
    /// batch, however large.
    pub fn outbox_has_room(&self, count: u64, bytes: u64) -> bool {
        let Some(acked) = self.acked else {
            return true;
        };
        let unacked = self.unacked_records();
        if self.retention.unacked != UnackedPolicy::Keep || unacked == 0 {
            return true;
        }
        if self
            .retention
            .max_records
            .is_some_and(|max| unacked + count > max)
        {
            return false;
        }
        if let Some(max) = self.retention.max_bytes {
            // Whole segments holding unacknowledged records: an upper bound, in a few steps
            // (a log holds about eight segments).
            let held: u64 = self
                .segments
                .iter()
                .rev()
                .take_while(|s| s.next_offset > acked)
                .map(|s| s.bytes)
                .sum();
            if held + bytes > max {
                return false;
            }
        }
        true
    }

    /// What the partition reports about itself.
    pub fn info(&self) -> PartitionInfo {
        PartitionInfo {
            log_start_offset: self.log_start,
            high_watermark: self.high_watermark,
            bytes: self.bytes,
            records: self.records,
            segments: self.segments.len() as u64,
            evicted_records: self.evicted_records,
            lost_records: self.lost_records,
            acked_offset: self.acked,
            over_bound: self.over_bound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{BatchBuilder, RecordRef};
    use crate::config::Compression;

    fn batch(n: usize, value_len: usize, ts: i64) -> EncodedBatch {
        let mut b = BatchBuilder::new();
        let v = vec![b'x'; value_len];
        for i in 0..n {
            let key = format!("k{i}");
            b.push(&RecordRef {
                key: Some(key.as_bytes()),
                value: &v,
                timestamp: ts,
                headers: &[],
            });
        }
        b.finish(Compression::None)
    }

    #[test]
    fn offsets_start_at_zero_and_continue() {
        let mut log = PartitionLog::new(RetentionConfig::default());
        assert_eq!(log.append(batch(3, 10, 1), 1, 0).unwrap(), 0);
        assert_eq!(log.append(batch(2, 10, 1), 1, 0).unwrap(), 3);
        let got = log.read(0, 100).unwrap();
        assert_eq!(
            got.iter().map(|r| r.offset).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        assert_eq!(log.read(4, 100).unwrap().len(), 1);
        assert_eq!(log.read(5, 100).unwrap().len(), 0);
        assert!(matches!(
            log.read(6, 1),
            Err(Error::OffsetOutOfRange {
                offset: 6,
                high_watermark: 5
            })
        ));
    }

    #[test]
    fn record_retention_evicts_whole_segments_and_reports_next_available() {
        let retention = RetentionConfig {
            max_records: Some(16),
            ..Default::default()
        };
        let mut log = PartitionLog::new(retention);
        for _ in 0..20 {
            log.append(batch(1, 10, 1), 1, 0).unwrap();
        }
        let info = log.info();
        assert!(info.records <= 16, "{info:?}");
        assert_eq!(info.high_watermark, 20);
        assert_eq!(info.evicted_records, 20 - info.records);
        assert_eq!(info.log_start_offset, 20 - info.records as i64);
        assert_eq!(
            log.read(0, 1).unwrap_err(),
            Error::OffsetEvicted {
                offset: 0,
                next_available: info.log_start_offset
            }
        );
    }

    #[test]
    fn age_retention_uses_last_append_time() {
        let retention = RetentionConfig {
            max_age_ms: Some(1000),
            segment_bytes: Some(1),
            ..Default::default()
        };
        let mut log = PartitionLog::new(retention);
        log.append(batch(2, 10, 0), 0, 0).unwrap();
        log.append(batch(2, 10, 0), 500, 0).unwrap();
        log.enforce_retention(1000);
        assert_eq!(log.info().records, 4);
        log.enforce_retention(1001);
        assert_eq!(log.info().records, 2);
        assert_eq!(log.log_start_offset(), 2);
        log.enforce_retention(1501);
        assert_eq!(log.info().records, 0);
        assert_eq!(log.log_start_offset(), 4);
        // Offsets are not reused after everything went.
        assert_eq!(log.append(batch(1, 1, 0), 2000, 0).unwrap(), 4);
    }

    /// A log bounded to 8 records, tracked by a sink that acknowledged nothing, after 20
    /// one-record appends.
    fn unacked_log(unacked: UnackedPolicy) -> PartitionLog {
        let retention = RetentionConfig {
            max_records: Some(8),
            unacked,
            ..Default::default()
        };
        let mut log = PartitionLog::new(retention);
        log.track_sink();
        for _ in 0..20 {
            log.append(batch(1, 1, 0), 0, 0).unwrap();
        }
        log
    }

    #[test]
    fn keep_policy_holds_unacked_records_and_reports_it() {
        let mut log = unacked_log(UnackedPolicy::Keep);
        let info = log.info();
        assert_eq!(info.records, 20);
        assert!(info.over_bound);
        assert_eq!(info.lost_records, 0);
        log.ack(20, 0);
        let info = log.info();
        assert!(info.records <= 8);
        assert!(!info.over_bound);
    }

    #[test]
    fn drop_policy_counts_lost_records() {
        let log = unacked_log(UnackedPolicy::Drop);
        let info = log.info();
        assert!(info.records <= 8);
        assert_eq!(info.lost_records, info.evicted_records);
        assert_eq!(info.acked_offset, Some(info.log_start_offset));
    }

    #[test]
    fn refuses_offsets_past_2_pow_53() {
        let mut log = PartitionLog::starting_at(RetentionConfig::default(), MAX_SAFE_OFFSET - 1);
        assert_eq!(
            log.append(batch(3, 1, 0), 0, 7).unwrap_err(),
            Error::OffsetOverflow { partition: 7 }
        );
        assert_eq!(log.high_watermark(), MAX_SAFE_OFFSET - 1);
        assert_eq!(
            log.append(batch(2, 1, 0), 0, 7).unwrap(),
            MAX_SAFE_OFFSET - 1
        );
        let got = log.read(MAX_SAFE_OFFSET, 10).unwrap();
        assert_eq!(got[0].offset, MAX_SAFE_OFFSET);
        assert_eq!(log.high_watermark(), MAX_SAFE_OFFSET + 1);
        assert!(log.append(batch(1, 1, 0), 0, 7).is_err());
    }

    #[test]
    fn byte_bound_holds_after_every_append() {
        let retention = RetentionConfig {
            max_bytes: Some(10_000),
            ..Default::default()
        };
        let mut log = PartitionLog::new(retention);
        for i in 0..500 {
            log.append(batch(1 + i % 5, 50, 0), 0, 0).unwrap();
            assert!(log.info().bytes <= 10_000);
        }
        assert!(log.info().segments > 1);
    }
}
