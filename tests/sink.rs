//! The sink's delivery decisions (`tributary::sink`), natively, against a simulated
//! JetStream: a server that stores each message id once, acknowledges in order, and may
//! lose acks, stall, refuse, or lose the connection. Any interleaving of acks, timeouts,
//! cuts and sends keeps each record stored once and in offset order per partition, or
//! reported given up (once); the cursor ends at the high watermark.
#![cfg(all(not(target_arch = "wasm32"), feature = "sink"))]

use std::collections::{HashMap, HashSet, VecDeque};

use proptest::prelude::*;
use tributary::sink::{Action, Delivery, Outcome, Sink, SinkConfig, SinkState, PROVEN_MS};
use tributary::{Client, Error, ProduceRecord, ProducerConfig, TopicConfig};

/// What the simulated network and server do next.
#[derive(Debug, Clone)]
enum Op {
    /// The client sends this many records (keyed over the partitions).
    Send(u8),
    /// The server takes the next message: stores it (once per id) and acknowledges it.
    Deliver(u8),
    /// The server takes the next message but its ack is lost.
    AckLost,
    /// The server refuses everything queued, each with an error reply (a leader election).
    Refuse,
    /// The connection is lost: what is queued is gone.
    Cut,
    /// Time passes.
    Tick(u16),
    /// A flush begins: it waits for what was appended, with this timeout if any.
    Wait(Option<u16>),
}

/// A flush waiter as the host sees it.
struct Waiting {
    targets: Vec<i64>,
    /// How many give-ups had happened when it began.
    given_before: usize,
    deadline: Option<i64>,
}

struct World {
    client: Client,
    sink: Sink,
    now: i64,
    up: bool,
    /// Published on the current connection, not yet taken by the server: (partition, offset).
    wire: VecDeque<(u32, i64)>,
    /// Per partition: offsets in the order first stored.
    stored: HashMap<u32, Vec<i64>>,
    ids: HashSet<(u32, i64)>,
    given_up_actions: Vec<(u32, i64)>,
    given_up_reported: Vec<(u32, i64, i64)>,
    publishes: HashMap<(u32, i64), u32>,
    cursors: HashMap<u32, i64>,
    pong_due: bool,
    waiting: HashMap<u32, Waiting>,
    waits: u32,
    /// Settled waiters: (id, outcome).
    settled: Vec<(u32, Outcome)>,
}

const TOPIC: &str = "t";

impl World {
    fn new(partitions: u32, config: SinkConfig) -> World {
        let mut client = Client::new(1);
        let tc = TopicConfig {
            partitions,
            ..TopicConfig::default()
        };
        client.create_topic(TOPIC, tc).unwrap();
        let sink = Sink::new(&mut client, TOPIC, config, 7, 0).unwrap();
        World {
            client,
            sink,
            now: 0,
            up: false,
            wire: VecDeque::new(),
            stored: HashMap::new(),
            ids: HashSet::new(),
            given_up_actions: Vec::new(),
            given_up_reported: Vec::new(),
            publishes: HashMap::new(),
            cursors: HashMap::new(),
            pong_due: false,
            waiting: HashMap::new(),
            waits: 0,
            settled: Vec::new(),
        }
    }

    /// The host's turn: carry out actions (connections succeed at once), poll.
    fn turn(&mut self) {
        for _ in 0..4 {
            let mut published = Vec::new();
            self.sink.poll(&mut self.client, self.now, &mut |p, r| {
                published.push((p, r.offset))
            });
            for (p, o) in published {
                *self.publishes.entry((p, o)).or_default() += 1;
                if self.up {
                    self.wire.push_back((p, o));
                }
            }
            let actions = self.sink.take_actions();
            let mut again = false;
            for a in actions {
                match a {
                    Action::Open { .. } => {
                        self.wire.clear();
                        self.up = true;
                        self.sink.on_up(self.now);
                        again = true;
                    }
                    Action::Close => {
                        self.up = false;
                        self.wire.clear();
                    }
                    Action::Ping => self.pong_due = true,
                    Action::GivenUp { partition, offset } => {
                        self.given_up_actions.push((partition, offset))
                    }
                }
            }
            let (cursors, reported) = (&mut self.cursors, &mut self.given_up_reported);
            self.sink.take_acked(&mut |a| {
                let c = cursors.entry(a.partition).or_default();
                assert!(a.acked_offset > *c, "a cursor only moves forward");
                *c = a.acked_offset;
                for &o in a.given_up {
                    reported.push((a.partition, o, o + 1));
                }
            });
            let mut settled = Vec::new();
            self.sink.take_settled(self.now, &mut |id, outcome, lacks| {
                settled.push((id, outcome, lacks.to_vec()))
            });
            for (id, outcome, lacks) in settled {
                self.check_settled(id, outcome, &lacks);
            }
            if !again {
                break;
            }
        }
    }

    fn wait(&mut self, timeout: Option<u16>) {
        self.waits += 1;
        let deadline = timeout.map(|t| self.now + i64::from(t));
        let logs = self.client.logs(TOPIC).unwrap();
        let targets = logs.iter().map(|l| l.high_watermark()).collect();
        self.sink.wait(&self.client, self.waits, deadline);
        let given_before = self.given_up_actions.len();
        self.waiting.insert(
            self.waits,
            Waiting {
                targets,
                given_before,
                deadline,
            },
        );
    }

    /// What a settled waiter says holds: it settled once, for its reason, naming what it
    /// lacks (every record given up during its wait below its targets among them).
    fn check_settled(&mut self, id: u32, outcome: Outcome, lacks: &[(u32, i64, i64)]) {
        let w = self.waiting.remove(&id).expect("a waiter settles once");
        self.settled.push((id, outcome));
        let reached = w
            .targets
            .iter()
            .enumerate()
            .all(|(p, &t)| self.cursors.get(&(p as u32)).copied().unwrap_or(0) >= t);
        let given: HashSet<(u32, i64)> = self.given_up_actions.iter().copied().collect();
        match outcome {
            Outcome::Delivered => {
                assert!(reached, "delivered: every cursor at its target");
                assert!(lacks.is_empty());
            }
            Outcome::GivenUp => {
                assert!(reached, "given up: every cursor at its target");
                for &(p, from, to) in lacks {
                    assert!((from..to).all(|o| given.contains(&(p, o))), "{lacks:?}");
                }
            }
            Outcome::TimedOut => assert!(w.deadline.is_some_and(|d| self.now >= d)),
            Outcome::Stopped => panic!("the sink never stops here"),
        }
        for &(p, o) in &self.given_up_actions[w.given_before..] {
            if o < w.targets[p as usize] {
                assert!(
                    lacks
                        .iter()
                        .any(|&(q, from, to)| q == p && from <= o && o < to),
                    "record {o} of {p} given up during the wait, not named: {lacks:?}"
                );
            }
        }
        for &(p, from, to) in lacks {
            assert!(from < to && to <= w.targets[p as usize], "{lacks:?}");
        }
    }

    fn send(&mut self, n: u8, seq: &mut u32) {
        let producer = self
            .client
            .topic_producer(TOPIC, ProducerConfig::default())
            .unwrap();
        for _ in 0..n {
            *seq += 1;
            let key = format!("k{}", *seq % 7);
            self.client
                .send(producer, &ProduceRecord::keyed(key, "v"), self.now)
                .unwrap();
        }
        self.client.flush(self.now);
        self.client.close_producer(producer, self.now).unwrap();
    }

    fn take(&mut self, ack: bool) -> bool {
        let Some((p, o)) = self.wire.pop_front() else {
            return false;
        };
        if self.ids.insert((p, o)) {
            self.stored.entry(p).or_default().push(o);
        }
        if ack {
            self.sink.on_ack(&mut self.client, p, o, 1, false, self.now);
        }
        true
    }

    fn apply(&mut self, op: &Op, seq: &mut u32) {
        match *op {
            Op::Send(n) => self.send(n, seq),
            Op::Deliver(n) => {
                for _ in 0..n {
                    if !self.take(true) {
                        break;
                    }
                }
            }
            Op::AckLost => {
                self.take(false);
            }
            Op::Refuse => {
                for (p, o) in core::mem::take(&mut self.wire) {
                    self.sink.on_nak(&mut self.client, p, o, self.now);
                }
            }
            Op::Cut => {
                if self.up {
                    self.up = false;
                    self.wire.clear();
                    self.sink.on_closed(&mut self.client, self.now);
                }
            }
            Op::Wait(timeout) => self.wait(timeout),
            Op::Tick(ms) => {
                self.now += i64::from(ms);
                if self.pong_due && self.up {
                    self.pong_due = false;
                    self.sink.on_pong();
                }
            }
        }
        self.turn();
    }

    /// A healthy server from now on: deliver everything until nothing is left.
    fn heal(&mut self) {
        for _ in 0..10_000 {
            self.turn();
            while self.take(true) {}
            self.turn();
            if self.pong_due {
                self.pong_due = false;
                self.sink.on_pong();
            }
            let logs = self.client.logs(TOPIC).unwrap();
            let done = logs
                .iter()
                .all(|l| l.info().acked_offset == Some(l.high_watermark()));
            if done && self.wire.is_empty() {
                return;
            }
            self.now += self
                .sink
                .next_deadline()
                .map_or(10, |d| (d - self.now).clamp(1, 10_000));
        }
        panic!("the sink never settled");
    }

    fn check(&self, max_retries: Option<u32>) {
        let logs = self.client.logs(TOPIC).unwrap();
        let given: HashSet<(u32, i64)> = self.given_up_actions.iter().copied().collect();
        assert_eq!(
            given.len(),
            self.given_up_actions.len(),
            "each give-up once"
        );
        let mut reported = HashSet::new();
        for &(p, from, to) in &self.given_up_reported {
            for o in from..to {
                assert!(reported.insert((p, o)), "a given-up record reported twice");
            }
        }
        assert_eq!(
            reported, given,
            "every give-up reported by the cursor, once"
        );
        for (p, log) in logs.iter().enumerate() {
            let p = p as u32;
            let hw = log.high_watermark();
            assert_eq!(log.info().acked_offset, Some(hw), "partition {p} settled");
            let stored = self.stored.get(&p).cloned().unwrap_or_default();
            assert!(
                stored.windows(2).all(|w| w[0] < w[1]),
                "partition {p}: stored in offset order: {stored:?}"
            );
            for o in 0..hw {
                assert!(
                    self.ids.contains(&(p, o)) || given.contains(&(p, o)),
                    "record {o} of {p} neither stored nor given up"
                );
                if let Some(m) = max_retries {
                    // Every attempt counts: a record goes at most max_retries + 1 times as
                    // the first unacknowledged record, plus once per connection before.
                    let n = self.publishes.get(&(p, o)).copied().unwrap_or(0);
                    assert!(
                        n <= (m + 1) * (o as u32 + 1),
                        "record {o} of {p} sent {n} times"
                    );
                }
            }
        }
    }
}

fn config(max_retries: Option<u32>) -> SinkConfig {
    SinkConfig {
        max_retries,
        ack_timeout_ms: 1_000,
        backoff_initial_ms: 10,
        backoff_max_ms: 200,
        max_in_flight: 8,
        ..SinkConfig::default()
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1u8..20).prop_map(Op::Send),
        4 => (1u8..10).prop_map(Op::Deliver),
        1 => Just(Op::AckLost),
        1 => Just(Op::Refuse),
        1 => Just(Op::Cut),
        2 => (1u16..3000).prop_map(Op::Tick),
        1 => proptest::option::of(1u16..3000).prop_map(Op::Wait),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_interleaving_stores_each_record_once_in_order_or_reports_it(
        ops in proptest::collection::vec(op(), 1..60),
        partitions in 1u32..4,
        retries in proptest::option::of(0u32..3),
    ) {
        let mut w = World::new(partitions, config(retries));
        let mut seq = 0;
        for op in &ops {
            w.apply(op, &mut seq);
        }
        w.heal();
        w.check(retries);
        prop_assert!(w.waiting.is_empty(), "every flush settles once the records are acknowledged");
        if retries.is_none() {
            prop_assert!(w.given_up_actions.is_empty(), "nothing given up without a budget");
        }
    }
}

#[test]
fn publishes_lost_with_their_connection_count_against_the_budget() {
    // A server that closes the connection on every publish (defect 2): with maxRetries 1
    // each record goes twice, then is given up, and the sink settles.
    let mut w = World::new(1, config(Some(1)));
    let mut seq = 0;
    w.apply(&Op::Send(3), &mut seq);
    for _ in 0..100 {
        if w.wire.is_empty() {
            w.apply(&Op::Tick(300), &mut seq);
            continue;
        }
        w.apply(&Op::Cut, &mut seq);
    }
    let logs = w.client.logs(TOPIC).unwrap();
    assert_eq!(logs[0].info().acked_offset, Some(3));
    assert_eq!(w.sink.stats().failed_records, 3);
    for o in 0..3 {
        assert!(w.publishes[&(0, o)] <= 2 * (o as u32 + 1));
    }
    assert_eq!(w.publishes[&(0, 0)], 2);
}

#[test]
fn the_backoff_starts_over_only_after_a_connection_proved_itself() {
    // Defect 3: a server that logs in and closes at once is retried ever more slowly.
    let mut client = Client::new(1);
    client.create_topic(TOPIC, TopicConfig::default()).unwrap();
    let c = SinkConfig {
        backoff_initial_ms: 100,
        backoff_max_ms: 10_000,
        ..SinkConfig::default()
    };
    let mut sink = Sink::new(&mut client, TOPIC, c, 3, 0).unwrap();
    let mut now = 0;
    let mut opens = 0;
    let mut delays = Vec::new();
    while now < 5_000 {
        sink.poll(&mut client, now, &mut |_, _| {});
        for a in sink.take_actions() {
            if let Action::Open { .. } = a {
                opens += 1;
                sink.on_up(now);
                sink.on_closed(&mut client, now);
                let d = sink.next_deadline().unwrap() - now;
                delays.push(d);
            }
        }
        now = sink.next_deadline().unwrap();
    }
    assert!(opens <= 8, "{opens} connections in 5 s: {delays:?}");
    assert!(delays.windows(2).all(|w| w[1] >= w[0] / 2), "{delays:?}");
    // A connection alive PROVEN_MS starts the schedule over.
    sink.poll(&mut client, now, &mut |_, _| {});
    let _ = sink.take_actions();
    sink.on_up(now);
    now += PROVEN_MS;
    sink.poll(&mut client, now, &mut |_, _| {});
    sink.on_closed(&mut client, now);
    assert!(sink.next_deadline().unwrap() - now <= 100);
    assert_eq!(sink.state(), SinkState::Reconnecting);
}

#[test]
fn an_ack_costs_the_same_on_65536_partitions() {
    // Defect 8: the work per ack does not grow with the partition count. Counted, not
    // timed: the records handed out per poll and the progress entries per ack.
    let mut w = World::new(65_536, config(None));
    let mut seq = 0;
    w.apply(&Op::Send(200), &mut seq);
    // A pending flush costs one step per ack, not one per partition.
    w.wait(None);
    let mut entries = 0;
    while let Some((p, o)) = w.wire.pop_front() {
        w.sink.on_ack(&mut w.client, p, o, 1, false, w.now);
        let mut acked = Vec::new();
        w.sink
            .take_acked(&mut |a| acked.push((a.partition, a.acked_offset)));
        entries += acked.len();
        assert!(acked.len() <= 1, "one progress entry per ack");
        for (p, o) in acked {
            w.cursors.insert(p, o);
        }
        w.turn();
    }
    assert_eq!(entries, 200);
    assert_eq!(w.sink.stats().acked, 200);
    assert_eq!(w.settled, [(1, Outcome::Delivered)]);
}

#[test]
fn at_most_once_hands_each_record_out_once() {
    let mut w = World::new(
        2,
        SinkConfig {
            delivery: Delivery::AtMostOnce,
            ..config(None)
        },
    );
    let mut seq = 0;
    w.apply(&Op::Send(50), &mut seq);
    w.apply(&Op::Cut, &mut seq);
    w.apply(&Op::Tick(1000), &mut seq);
    assert!(w.publishes.values().all(|&n| n == 1));
    assert_eq!(w.publishes.len(), 50);
    assert_eq!(w.sink.stats().acked, 50);
}

#[test]
fn bad_numbers_are_invalid_config() {
    let mut client = Client::new(1);
    client.create_topic(TOPIC, TopicConfig::default()).unwrap();
    for c in [
        SinkConfig {
            servers: 0,
            ..SinkConfig::default()
        },
        SinkConfig {
            max_in_flight: 0,
            ..SinkConfig::default()
        },
        SinkConfig {
            ack_timeout_ms: 0,
            ..SinkConfig::default()
        },
        SinkConfig {
            backoff_initial_ms: 10,
            backoff_max_ms: 5,
            ..SinkConfig::default()
        },
    ] {
        let e = Sink::new(&mut client, TOPIC, c, 1, 0).unwrap_err();
        assert_eq!(e.code(), "INVALID_CONFIG");
    }
    assert_eq!(
        Sink::new(&mut client, "nope", SinkConfig::default(), 1, 0)
            .unwrap_err()
            .code(),
        "UNKNOWN_TOPIC"
    );
}

#[test]
fn a_refused_timeout_names_its_own_field() {
    let mut client = Client::new(1);
    client.create_topic(TOPIC, TopicConfig::default()).unwrap();
    for (c, name) in [
        (
            SinkConfig {
                ack_timeout_ms: 0,
                ..SinkConfig::default()
            },
            "ackTimeoutMs",
        ),
        (
            SinkConfig {
                connect_timeout_ms: 0,
                ..SinkConfig::default()
            },
            "connectTimeoutMs",
        ),
    ] {
        match Sink::new(&mut client, TOPIC, c, 1, 0) {
            Err(Error::InvalidConfig { field, .. }) => assert_eq!(field, name),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn flush_waiters_settle_by_id_with_what_they_lack() {
    let mut w = World::new(2, config(None));
    let mut seq = 0;
    w.apply(&Op::Send(10), &mut seq);
    w.wait(None); // 1
    w.wait(Some(500)); // 2
    w.turn();
    assert!(w.settled.is_empty(), "nothing acknowledged yet");
    w.apply(&Op::Tick(500), &mut seq);
    assert_eq!(w.settled, [(2, Outcome::TimedOut)]);
    w.heal();
    assert_eq!(w.settled, [(2, Outcome::TimedOut), (1, Outcome::Delivered)]);
    // Nothing pending: a new waiter settles at once.
    w.wait(None);
    w.turn();
    assert_eq!(w.settled.last(), Some(&(3, Outcome::Delivered)));
}

#[test]
fn a_given_up_record_is_named_to_the_waiters_pending_then_not_later() {
    let mut w = World::new(1, config(Some(0)));
    let mut seq = 0;
    w.apply(&Op::Send(3), &mut seq);
    w.wait(None); // 1
    w.wait(None); // 2
                  // The server refuses what is on the wire once: with no retries, each is given up.
    w.apply(&Op::Refuse, &mut seq);
    w.heal();
    assert_eq!(
        w.settled,
        [(1, Outcome::GivenUp), (2, Outcome::GivenUp)],
        "both pending when the records were given up"
    );
    w.wait(None); // 3: later, nothing of its own is missing
    w.turn();
    assert_eq!(w.settled.last(), Some(&(3, Outcome::Delivered)));
}

#[test]
fn closing_settles_waiters_as_stopped_naming_the_unacknowledged() {
    let mut client = Client::new(1);
    let tc = TopicConfig {
        partitions: 2,
        ..TopicConfig::default()
    };
    client.create_topic(TOPIC, tc).unwrap();
    let mut sink = Sink::new(&mut client, TOPIC, config(None), 1, 0).unwrap();
    let producer = client
        .topic_producer(TOPIC, ProducerConfig::default())
        .unwrap();
    for i in 0..4 {
        let r = ProduceRecord::keyed(format!("k{i}"), "v");
        client.send(producer, &r, 0).unwrap();
    }
    client.flush(0);
    sink.wait(&client, 7, None);
    let mut settled = Vec::new();
    sink.take_settled(0, &mut |id, o, l| settled.push((id, o, l.to_vec())));
    assert!(settled.is_empty());
    let hw: Vec<i64> = client
        .logs(TOPIC)
        .unwrap()
        .iter()
        .map(|l| l.high_watermark())
        .collect();
    let expected: Vec<(u32, i64, i64)> = (0..2u32)
        .filter(|&p| hw[p as usize] > 0)
        .map(|p| (p, 0, hw[p as usize]))
        .collect();
    // Close's report: a waiter begun as it closes.
    sink.wait(&client, 8, None);
    sink.close();
    sink.take_settled(1, &mut |id, o, l| settled.push((id, o, l.to_vec())));
    assert_eq!(
        settled,
        [
            (7, Outcome::Stopped, expected.clone()),
            (8, Outcome::Stopped, expected)
        ]
    );
}

#[test]
fn restored_records_stay_the_sinks_until_acknowledged_and_a_flush_waits_for_them() {
    // A restore into an empty partition a sink tracks (a page's outbox put back at its
    // offsets): retention may not evict the restored records before they are acknowledged,
    // and a flush begun after the restore waits for them.
    let mut client = Client::new(1);
    let tc = TopicConfig {
        partitions: 1,
        retention: tributary::RetentionConfig {
            max_records: Some(4),
            ..Default::default()
        },
        ..TopicConfig::default()
    };
    client.create_topic(TOPIC, tc).unwrap();
    let c = SinkConfig {
        max_in_flight: 64,
        ..config(None)
    };
    let mut sink = Sink::new(&mut client, TOPIC, c, 1, 0).unwrap();
    let records: Vec<tributary::ConsumedRecord> = (100..110)
        .map(|offset| tributary::ConsumedRecord {
            offset,
            key: None,
            value: b"v".to_vec(),
            timestamp: 1,
            headers: Vec::new(),
        })
        .collect();
    client.restore(TOPIC, 0, &records, 0).unwrap();
    let info = client.partition_info(TOPIC, 0).unwrap();
    assert_eq!(info.acked_offset, Some(100), "still tracked by the sink");
    assert_eq!((info.records, info.lost_records), (10, 0), "{info:?}");
    sink.wait(&client, 1, None);
    let mut published = Vec::new();
    for a in sink.take_actions() {
        if let Action::Open { .. } = a {
            sink.on_up(0);
        }
    }
    sink.poll(&mut client, 0, &mut |p, r| published.push((p, r.offset)));
    assert_eq!(published, (100..110).map(|o| (0, o)).collect::<Vec<_>>());
    let mut settled = Vec::new();
    sink.take_acked(&mut |_| {});
    sink.take_settled(0, &mut |id, o, _| settled.push((id, o)));
    assert!(settled.is_empty(), "nothing acknowledged yet");
    for (p, o) in published {
        sink.on_ack(&mut client, p, o, 1, false, 0);
    }
    sink.take_acked(&mut |_| {});
    sink.take_settled(0, &mut |id, o, _| settled.push((id, o)));
    assert_eq!(settled, [(1, Outcome::Delivered)]);
    assert_eq!(
        client.partition_info(TOPIC, 0).unwrap().acked_offset,
        Some(110)
    );
}
