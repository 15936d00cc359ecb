//! The driver: what happens to every record between `send` and its settlement, for a
//! host that hands out one promise (or callback) per record.
//!
//! [`Driver`] works beside a [`Client`] (each call takes the client it drives): it gives
//! every record it takes a [`Ticket`], and each [`Driver::poll`] (or close) reports which
//! tickets landed (partition, offset, timestamp) and which failed (with the core
//! [`Error`]), plus when the next poll is due. Every ticket is reported exactly once.
//!
//! - **Waiting for room.** A record that finds its partition's batch queue full waits in
//!   one queue (shared by all producers, in send order) when its producer's
//!   [`OnFull`] is `Wait`; with `Error` it is refused with `QueueFull`. Order per
//!   producer: once one of its records waits, its later records queue behind it, whatever
//!   their partition. Each poll admits waiting records, front first, while they find room.
//! - **Groups** ([`Driver::send_group`]): every record is checked first (one bad record
//!   refuses the group, with its index, and takes nothing); then all are taken, waiting
//!   for room whatever `OnFull` says.
//! - **Orphans.** A producer whose handle is gone ([`Driver::orphan`]) is closed once none
//!   of its records is on its way (not in the log yet, or waiting).
//! - **Closing.** [`Driver::close_producer`] appends what it can, then fails with
//!   `Closed` the producer's records not in the log (behind a full outbox) and those
//!   waiting for room. [`Driver::close`] does the same for every producer.
//!
//! Time is an argument (`now_ms`), as everywhere in the core.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::producer::{PollOutcome, ProducerId};
use crate::{Client, Error, ProduceRecord, ProducerConfig, RecordParts};

/// The id of one record taken by the driver, counted from 0 per driver.
pub type Ticket = u64;

/// What `send` does when the record's partition queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFull {
    /// The record waits for room (the default).
    #[default]
    Wait,
    /// The record is refused with [`Error::QueueFull`].
    Error,
}

/// A record in the log: where it landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Landed {
    /// The record's ticket.
    pub ticket: Ticket,
    /// Its partition.
    pub partition: u32,
    /// Its offset.
    pub offset: i64,
    /// Its timestamp.
    pub timestamp: i64,
}

/// What a poll (or a close) settled.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Records now in the log.
    pub landed: Vec<Landed>,
    /// Records that will never be: their ticket and why.
    pub failed: Vec<(Ticket, Error)>,
    /// When the next poll is due (the earliest linger deadline).
    pub next_deadline: Option<i64>,
    /// Records were admitted from the waiting queue into open batches: poll again soon
    /// (at the next turn of the event loop).
    pub again: bool,
}

#[derive(Debug)]
struct Pending {
    seq: u64,
    ticket: Ticket,
    timestamp: i64,
}

#[derive(Debug)]
struct Waiting {
    producer: ProducerId,
    ticket: Ticket,
    record: ProduceRecord,
}

#[derive(Debug)]
struct Meta {
    on_full: OnFull,
    /// Records of it in `Driver::waiting`.
    waiting: usize,
    /// Per partition: records taken and not yet in the log, in sequence order.
    pending: Vec<VecDeque<Pending>>,
    orphaned: bool,
}

impl Meta {
    fn busy(&self) -> bool {
        self.waiting > 0 || self.pending.iter().any(|q| !q.is_empty())
    }
}

/// The records on their way, by ticket; see the module docs.
#[derive(Debug, Default)]
pub struct Driver {
    /// By `ProducerId` (the client hands out small, reused indices).
    producers: Vec<Option<Meta>>,
    waiting: VecDeque<Waiting>,
    next: Ticket,
    /// Failures found while taking records of a group, reported by the next poll.
    failed: Vec<(Ticket, Error)>,
}

impl Driver {
    /// A driver with no producers.
    pub fn new() -> Self {
        Driver::default()
    }

    fn meta(&self, id: ProducerId) -> Option<&Meta> {
        self.producers.get(id.0 as usize).and_then(Option::as_ref)
    }

    fn meta_mut(&mut self, id: ProducerId) -> Option<&mut Meta> {
        self.producers
            .get_mut(id.0 as usize)
            .and_then(Option::as_mut)
    }

    /// A producer of `client` for `topic` (see [`Client::topic_producer`]).
    pub fn topic_producer(
        &mut self,
        client: &mut Client,
        topic: &str,
        config: ProducerConfig,
        on_full: OnFull,
    ) -> Result<ProducerId, Error> {
        let id = client.topic_producer(topic, config)?;
        let partitions = client.topic_config(topic).map_or(0, |c| c.partitions);
        let i = id.0 as usize;
        if self.producers.len() <= i {
            self.producers.resize_with(i + 1, || None);
        }
        // There since the resize.
        if let Some(slot) = self.producers.get_mut(i) {
            *slot = Some(Meta {
                on_full,
                waiting: 0,
                pending: (0..partitions).map(|_| VecDeque::new()).collect(),
                orphaned: false,
            });
        }
        Ok(id)
    }

    /// Whether producer `id` is open (made here, not closed).
    pub fn is_open(&self, id: ProducerId) -> bool {
        self.meta(id).is_some()
    }

    /// Records of producer `id` waiting for room.
    pub fn waiting(&self, id: ProducerId) -> usize {
        self.meta(id).map_or(0, |m| m.waiting)
    }

    /// Whether records are still queued in producers or waiting for room.
    pub fn backlog(&self, client: &Client) -> bool {
        !self.waiting.is_empty()
            || self.producers.iter().enumerate().any(|(n, m)| {
                m.is_some()
                    && client
                        .producer_stats(ProducerId(n as u32))
                        .is_ok_and(|s| s.queued_records > 0)
            })
    }

    fn ticket(&mut self) -> Ticket {
        let t = self.next;
        self.next += 1;
        t
    }

    /// Takes one record of producer `id`: its ticket, settled by a later poll or close.
    /// `Err` (nothing taken, no ticket) for a record refused now: a closed producer, any
    /// check of [`Client::send`], or a full queue under [`OnFull::Error`].
    pub fn send(
        &mut self,
        client: &mut Client,
        id: ProducerId,
        record: &RecordParts<'_>,
        now_ms: i64,
    ) -> Result<Ticket, Error> {
        let meta = self.meta(id).ok_or(Error::Closed)?;
        let on_full = meta.on_full;
        if meta.waiting > 0 {
            // Behind its records that wait: its checks still apply now.
            client.check_ref(id, record, now_ms)?;
            let t = self.ticket();
            self.wait(id, t, record);
            return Ok(t);
        }
        match client.send_ref(id, record, now_ms) {
            Ok(r) => {
                let t = self.ticket();
                self.taken(id, t, r);
                Ok(t)
            }
            Err(Error::QueueFull { .. }) if on_full == OnFull::Wait => {
                let t = self.ticket();
                self.wait(id, t, record);
                Ok(t)
            }
            Err(e) => Err(e),
        }
    }

    /// Takes the records of a group: all are checked first (`Err` with the index of the
    /// first refused record: nothing taken), then each is taken or waits for room (as
    /// [`OnFull::Wait`]). Their tickets are consecutive, from the one returned. The checks
    /// pin each keyed record to the partition its key chose (`partition` set in
    /// `records`): the key is hashed once.
    pub fn send_group(
        &mut self,
        client: &mut Client,
        id: ProducerId,
        records: &mut [RecordParts<'_>],
        now_ms: i64,
    ) -> Result<Ticket, (usize, Error)> {
        if !self.is_open(id) {
            return Err((0, Error::Closed));
        }
        for (n, r) in records.iter_mut().enumerate() {
            let partition = client.check_place(id, r, now_ms).map_err(|e| (n, e))?;
            if r.key.is_some() {
                r.partition = Some(partition);
            }
        }
        let first = self.next;
        // Taken while there is room; from the first that finds none (or when some already
        // wait), they wait, in order.
        let mut waiting = self.waiting(id) > 0;
        for r in records.iter() {
            let t = self.ticket();
            if !waiting {
                match client.send_ref(id, r, now_ms) {
                    Ok(receipt) => {
                        self.taken(id, t, receipt);
                        continue;
                    }
                    Err(Error::QueueFull { .. }) => waiting = true,
                    Err(e) => {
                        self.failed.push((t, e));
                        continue;
                    }
                }
            }
            self.wait(id, t, r);
        }
        Ok(first)
    }

    /// The records of producer `id` taken into `partition` and not yet in the log.
    fn pending_mut(&mut self, id: ProducerId, partition: u32) -> Option<&mut VecDeque<Pending>> {
        self.meta_mut(id)
            .and_then(|m| m.pending.get_mut(partition as usize))
    }

    fn taken(&mut self, id: ProducerId, ticket: Ticket, r: crate::SendReceipt) {
        if let Some(q) = self.pending_mut(id, r.partition) {
            q.push_back(Pending {
                seq: r.seq,
                ticket,
                timestamp: r.timestamp,
            });
        }
    }

    fn wait(&mut self, id: ProducerId, ticket: Ticket, r: &RecordParts<'_>) {
        if let Some(m) = self.meta_mut(id) {
            m.waiting += 1;
        }
        self.waiting.push_back(Waiting {
            producer: id,
            ticket,
            record: r.to_record(),
        });
    }

    /// Closes lingered batches (every open batch when `flush`) and appends them, admits
    /// waiting records while they find room, closes orphans that are done; reports what
    /// settled. A flush goes on until the records it admitted are appended too.
    pub fn poll(&mut self, client: &mut Client, now_ms: i64, flush: bool) -> Report {
        let mut report = Report {
            failed: core::mem::take(&mut self.failed),
            ..Report::default()
        };
        loop {
            let outcome = if flush {
                client.flush(now_ms)
            } else {
                client.poll(now_ms)
            };
            report.next_deadline = outcome.next_deadline;
            self.settle(outcome, &mut report);
            let admitted = self.admit(client, now_ms, &mut report);
            self.reap_orphans(client, now_ms, &mut report);
            if !flush || admitted == 0 {
                report.again = admitted > 0;
                return report;
            }
        }
    }

    fn settle(&mut self, outcome: PollOutcome, report: &mut Report) {
        for a in outcome.appended {
            let Some(q) = self.pending_mut(a.producer, a.partition) else {
                continue;
            };
            let end = a.first_seq + u64::from(a.count);
            while let Some(p) = q.front().filter(|p| p.seq < end) {
                report.landed.push(Landed {
                    ticket: p.ticket,
                    partition: a.partition,
                    offset: a.base_offset + (p.seq - a.first_seq) as i64,
                    timestamp: p.timestamp,
                });
                q.pop_front();
            }
        }
        for r in outcome.rejected {
            let Some(q) = self.pending_mut(r.producer, r.partition) else {
                continue;
            };
            let end = r.first_seq + u64::from(r.count);
            while let Some(p) = q.front().filter(|p| p.seq < end) {
                report.failed.push((p.ticket, r.error.clone()));
                q.pop_front();
            }
        }
    }

    /// Moves waiting records into batches while there is room; returns how many.
    fn admit(&mut self, client: &mut Client, now_ms: i64, report: &mut Report) -> usize {
        let mut admitted = 0;
        while let Some(w) = self.waiting.front() {
            let (id, ticket) = (w.producer, w.ticket);
            match client.send_ref(id, &w.record.parts(), now_ms) {
                Err(Error::QueueFull { .. }) => break,
                Ok(r) => self.taken(id, ticket, r),
                Err(e) => report.failed.push((ticket, e)),
            }
            self.waiting.pop_front();
            if let Some(m) = self.meta_mut(id) {
                m.waiting -= 1;
            }
            admitted += 1;
        }
        admitted
    }

    /// Marks producer `id` as dropped by its host: it is closed (as
    /// [`Driver::close_producer`]) once none of its records is on its way. Flushes.
    pub fn orphan(&mut self, client: &mut Client, id: ProducerId, now_ms: i64) -> Report {
        if let Some(m) = self.meta_mut(id) {
            m.orphaned = true;
        }
        self.poll(client, now_ms, true)
    }

    fn reap_orphans(&mut self, client: &mut Client, now_ms: i64, report: &mut Report) {
        for n in 0..self.producers.len() {
            if self
                .producers
                .get(n)
                .and_then(Option::as_ref)
                .is_some_and(|m| m.orphaned && !m.busy())
            {
                self.remove(client, ProducerId(n as u32), now_ms, report);
            }
        }
    }

    /// Closes producer `id` in `client` (appending what it can) and fails with `Closed`
    /// its records not in the log and those waiting for room.
    fn remove(&mut self, client: &mut Client, id: ProducerId, now_ms: i64, report: &mut Report) {
        if let Ok(outcome) = client.close_producer(id, now_ms) {
            self.settle(outcome, report);
        }
        if let Some(meta) = self.producers.get_mut(id.0 as usize).and_then(Option::take) {
            fail_pending(meta, report);
        }
        let mut kept = VecDeque::with_capacity(self.waiting.len());
        for w in core::mem::take(&mut self.waiting) {
            if w.producer == id {
                report.failed.push((w.ticket, Error::Closed));
            } else {
                kept.push_back(w);
            }
        }
        self.waiting = kept;
    }

    /// Flushes, then closes producer `id`: its records that cannot be appended now (behind
    /// a full outbox) and those waiting for room fail with `Closed`. Later sends of it
    /// are refused with `Closed`. Closing a closed producer reports only the flush.
    pub fn close_producer(&mut self, client: &mut Client, id: ProducerId, now_ms: i64) -> Report {
        let mut report = self.poll(client, now_ms, true);
        if self.is_open(id) {
            self.remove(client, id, now_ms, &mut report);
        }
        report
    }

    /// Flushes, then fails with `Closed` every record not in the log, and forgets every
    /// producer (the host then drops the client).
    pub fn close(&mut self, client: &mut Client, now_ms: i64) -> Report {
        let mut report = self.poll(client, now_ms, true);
        for w in core::mem::take(&mut self.waiting) {
            report.failed.push((w.ticket, Error::Closed));
        }
        for meta in core::mem::take(&mut self.producers).into_iter().flatten() {
            fail_pending(meta, &mut report);
        }
        report.next_deadline = None;
        report.again = false;
        report
    }
}

fn fail_pending(meta: Meta, report: &mut Report) {
    for q in meta.pending {
        for p in q {
            report.failed.push((p.ticket, Error::Closed));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TopicConfig;

    const T: i64 = 1_700_000_000_000;

    fn setup(queue: usize, on_full: OnFull) -> (Client, Driver, ProducerId) {
        let mut c = Client::new(1);
        c.create_topic(
            "t",
            TopicConfig {
                partitions: 2,
                ..TopicConfig::default()
            },
        )
        .unwrap();
        let mut d = Driver::new();
        let config = ProducerConfig {
            batch_size: 1,
            batch_queue_size: queue,
            ..ProducerConfig::default()
        };
        let p = d.topic_producer(&mut c, "t", config, on_full).unwrap();
        (c, d, p)
    }

    fn rec(v: &[u8]) -> RecordParts<'_> {
        RecordParts {
            key: None,
            value: v,
            timestamp: None,
            headers: &[],
            partition: Some(0),
        }
    }

    #[test]
    fn a_ticket_lands_at_its_offset() {
        let (mut c, mut d, p) = setup(10, OnFull::Wait);
        let a = d.send(&mut c, p, &rec(b"a"), T).unwrap();
        let b = d.send(&mut c, p, &rec(b"b"), T).unwrap();
        let r = d.poll(&mut c, T, false);
        let got: Vec<_> = r.landed.iter().map(|l| (l.ticket, l.offset)).collect();
        assert_eq!(got, [(a, 0), (b, 1)]);
        assert!(r.failed.is_empty());
    }

    #[test]
    fn a_full_queue_waits_or_refuses() {
        let (mut c, mut d, p) = setup(1, OnFull::Wait);
        let a = d.send(&mut c, p, &rec(b"a"), T).unwrap();
        let b = d.send(&mut c, p, &rec(b"b"), T).unwrap();
        assert_eq!(d.waiting(p), 1);
        // Behind a waiting record, even one for another partition waits (order).
        let other = RecordParts {
            partition: Some(1),
            ..rec(b"c")
        };
        let cc = d.send(&mut c, p, &other, T).unwrap();
        assert_eq!(d.waiting(p), 2);
        let r = d.poll(&mut c, T, true);
        let got: Vec<_> = r.landed.iter().map(|l| l.ticket).collect();
        assert_eq!(got, [a, b, cc]);
        assert_eq!(d.waiting(p), 0);

        let (mut c, mut d, p) = setup(1, OnFull::Error);
        d.send(&mut c, p, &rec(b"a"), T).unwrap();
        assert!(matches!(
            d.send(&mut c, p, &rec(b"b"), T),
            Err(Error::QueueFull { .. })
        ));
    }

    #[test]
    fn a_group_is_checked_whole() {
        let (mut c, mut d, p) = setup(1, OnFull::Error);
        let bad = RecordParts {
            partition: Some(9),
            ..rec(b"x")
        };
        let e = d
            .send_group(&mut c, p, &mut [rec(b"a"), bad], T)
            .unwrap_err();
        assert_eq!(e.0, 1);
        assert!(matches!(e.1, Error::PartitionOutOfRange { .. }));
        assert_eq!(c.producer_stats(p).unwrap().records, 0);
        // A group waits for room whatever OnFull says.
        let first = d
            .send_group(&mut c, p, &mut [rec(b"a"), rec(b"b"), rec(b"c")], T)
            .unwrap();
        assert_eq!(d.waiting(p), 2);
        let r = d.poll(&mut c, T, true);
        let got: Vec<_> = r.landed.iter().map(|l| l.ticket).collect();
        assert_eq!(got, [first, first + 1, first + 2]);
    }

    #[test]
    fn closing_fails_what_waits() {
        let (mut c, mut d, p) = setup(1, OnFull::Wait);
        let a = d.send(&mut c, p, &rec(b"a"), T).unwrap();
        let b = d.send(&mut c, p, &rec(b"b"), T).unwrap();
        // The flush of a close admits b (the queue has room once a is appended).
        let r = d.close_producer(&mut c, p, T);
        let got: Vec<_> = r.landed.iter().map(|l| l.ticket).collect();
        assert_eq!(got, [a, b]);
        assert_eq!(d.send(&mut c, p, &rec(b"c"), T), Err(Error::Closed));
        assert!(!d.is_open(p));
    }

    #[test]
    fn an_orphan_closes_once_done() {
        let (mut c, mut d, p) = setup(10, OnFull::Wait);
        let a = d.send(&mut c, p, &rec(b"a"), T).unwrap();
        let r = d.orphan(&mut c, p, T);
        assert_eq!(r.landed[0].ticket, a);
        assert!(!d.is_open(p));
        assert!(c.producer_stats(p).is_err());
    }
}
