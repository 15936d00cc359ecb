//! The driver (`tributary::Driver`) under any interleaving of sends (single and grouped,
//! with queues that fill, under both `OnFull` policies), polls, flushes, producer closes,
//! orphaned producers, a sink-less log, and a final client close: every ticket handed out
//! is settled exactly once, records land in send order per producer and partition, each
//! offset of a partition is given once, and what the core refuses is refused at once.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::HashMap;

use proptest::prelude::*;
use tributary::{
    Client, Driver, Error, OnFull, ProducerConfig, ProducerId, RecordParts, Report,
    RetentionConfig, Ticket, TopicConfig,
};

const PARTITIONS: u32 = 3;

#[derive(Debug, Clone)]
enum Op {
    Send {
        producer: usize,
        partition: Option<u32>,
        len: usize,
    },
    Group {
        producer: usize,
        partitions: Vec<Option<u32>>,
    },
    Poll {
        dt: u8,
    },
    Flush,
    CloseProducer {
        producer: usize,
    },
    Orphan {
        producer: usize,
    },
    Reopen {
        producer: usize,
        on_full_error: bool,
    },
    /// The sink of partition 0 acknowledges everything: its outbox empties.
    Ack,
}

fn partition() -> impl Strategy<Value = Option<u32>> {
    // Partition 0 (behind the small outbox) most; 3 is out of range: refused.
    prop_oneof![3 => Just(Some(0)), 2 => (1..PARTITIONS).prop_map(Some), 1 => Just(None), 1 => Just(Some(3))]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..2usize, partition(), 0..40usize)
            .prop_map(|(producer, partition, len)| Op::Send { producer, partition, len }),
        2 => (0..2usize, prop::collection::vec(partition(), 0..6))
            .prop_map(|(producer, partitions)| Op::Group { producer, partitions }),
        2 => any::<u8>().prop_map(|dt| Op::Poll { dt }),
        1 => Just(Op::Flush),
        1 => (0..2usize).prop_map(|producer| Op::CloseProducer { producer }),
        1 => (0..2usize).prop_map(|producer| Op::Orphan { producer }),
        1 => (0..2usize, any::<bool>())
            .prop_map(|(producer, on_full_error)| Op::Reopen { producer, on_full_error }),
        1 => Just(Op::Ack),
    ]
}

/// Every ticket issued, with (producer slot, producer id generation) and what settled it.
#[derive(Default)]
struct Book {
    /// ticket -> (producer slot, generation)
    issued: HashMap<Ticket, (usize, u32)>,
    settled: HashMap<Ticket, Result<(u32, i64), Error>>,
    /// (slot, generation, partition) -> last ticket landed there
    last: HashMap<(usize, u32, u32), Ticket>,
    /// partition -> next offset expected
    offsets: HashMap<u32, i64>,
}

impl Book {
    fn take(&mut self, report: Report) {
        for l in report.landed {
            let who = *self
                .issued
                .get(&l.ticket)
                .expect("landed ticket was issued");
            assert!(
                self.settled
                    .insert(l.ticket, Ok((l.partition, l.offset)))
                    .is_none(),
                "ticket {} settled twice",
                l.ticket
            );
            let next = self.offsets.entry(l.partition).or_insert(0);
            assert_eq!(
                l.offset, *next,
                "offsets of partition {} in order",
                l.partition
            );
            *next += 1;
            if let Some(prev) = self.last.insert((who.0, who.1, l.partition), l.ticket) {
                assert!(
                    prev < l.ticket,
                    "send order kept per producer and partition"
                );
            }
        }
        for (t, e) in report.failed {
            assert!(self.issued.contains_key(&t), "failed ticket was issued");
            assert!(
                self.settled.insert(t, Err(e)).is_none(),
                "ticket {t} settled twice"
            );
        }
    }
}

fn config(on_full_error: bool) -> (ProducerConfig, OnFull) {
    let c = ProducerConfig {
        batch_size: 30,
        batch_queue_size: 2,
        linger_ms: 5,
        max_request_size: 120,
        ..ProducerConfig::default()
    };
    let on_full = if on_full_error {
        OnFull::Error
    } else {
        OnFull::Wait
    };
    (c, on_full)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_ticket_settles_once_in_order(ops in prop::collection::vec(op(), 1..80)) {
        let mut client = Client::new(3);
        // Partition 0 has a sink's outbox of at most 6 records (kept while unacknowledged):
        // behind it, appends wait, queues fill and records wait for room.
        let retention = RetentionConfig { max_records: Some(6), ..RetentionConfig::default() };
        client.create_topic("t", TopicConfig { partitions: PARTITIONS, retention, ..TopicConfig::default() }).unwrap();
        client.logs_mut("t").unwrap()[0].track_sink();
        let mut d = Driver::new();
        let mut now = 1_700_000_000_000i64;
        let mut book = Book::default();
        // Per slot: the producer (None once closed or orphaned) and its generation.
        let mut slots: Vec<(Option<ProducerId>, u32)> = Vec::new();
        for n in 0..2 {
            let (c, f) = config(n == 1);
            slots.push((Some(d.topic_producer(&mut client, "t", c, f).unwrap()), 0));
        }
        let value = [7u8; 200];
        for op in ops {
            match op {
                Op::Send { producer, partition, len } => {
                    let (id, generation) = slots[producer];
                    let Some(id) = id else { continue };
                    let r = RecordParts { key: None, value: &value[..len * 3], timestamp: None, headers: &[], partition };
                    match d.send(&mut client, id, &r, now) {
                        Ok(t) => { prop_assert!(book.issued.insert(t, (producer, generation)).is_none()); }
                        Err(Error::QueueFull { .. } | Error::PartitionOutOfRange { .. } | Error::RecordTooLarge { .. }) => {}
                        Err(e) => prop_assert!(false, "unexpected refusal {e:?}"),
                    }
                }
                Op::Group { producer, partitions } => {
                    let (id, generation) = slots[producer];
                    let Some(id) = id else { continue };
                    let mut records: Vec<_> = partitions.iter().map(|&partition| RecordParts {
                        key: Some(b"k"), value: &value[..10], timestamp: None, headers: &[], partition,
                    }).collect();
                    match d.send_group(&mut client, id, &mut records, now) {
                        Ok(first) => for n in 0..records.len() as u64 {
                            prop_assert!(book.issued.insert(first + n, (producer, generation)).is_none());
                        },
                        Err((n, e)) => {
                            prop_assert_eq!(records[n].partition, Some(3));
                            let refused = matches!(e, Error::PartitionOutOfRange { .. });
                            prop_assert!(refused);
                        }
                    }
                }
                Op::Poll { dt } => {
                    now += i64::from(dt % 10);
                    book.take(d.poll(&mut client, now, false));
                }
                Op::Flush => book.take(d.poll(&mut client, now, true)),
                Op::CloseProducer { producer } => {
                    if let Some(id) = slots[producer].0.take() {
                        book.take(d.close_producer(&mut client, id, now));
                        prop_assert!(!d.is_open(id));
                    }
                }
                Op::Orphan { producer } => {
                    if let Some(id) = slots[producer].0.take() {
                        book.take(d.orphan(&mut client, id, now));
                    }
                }
                Op::Ack => {
                    let log = &mut client.logs_mut("t").unwrap()[0];
                    let hw = log.high_watermark();
                    log.ack(hw, now);
                }
                Op::Reopen { producer, on_full_error } => {
                    if slots[producer].0.is_none() {
                        let (c, f) = config(on_full_error);
                        let id = d.topic_producer(&mut client, "t", c, f).unwrap();
                        slots[producer] = (Some(id), slots[producer].1 + 1);
                    }
                }
            }
        }
        book.take(d.close(&mut client, now));
        prop_assert!(!d.backlog(&client));
        for t in book.issued.keys() {
            prop_assert!(book.settled.contains_key(t), "ticket {} never settled", t);
        }
        prop_assert_eq!(book.issued.len(), book.settled.len());
    }
}
