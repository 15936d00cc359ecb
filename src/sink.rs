//! The sink's delivery decisions: a sans-IO state machine with no text in it.
//!
//! The host (the package's JS, `js/nats.js`, or a test) speaks the wire: it opens a
//! connection when asked ([`Action::Open`]), logs in, subscribes, provisions, and tells the
//! sink when the connection is ready ([`Sink::on_up`]) or gone ([`Sink::on_closed`]). It
//! publishes the records [`Sink::poll`] hands out, in the order handed out, and reports
//! what the server said of each: acknowledged ([`Sink::on_ack`]), refused for now
//! ([`Sink::on_nak`]), too large to ever go ([`Sink::on_too_large`]). Time is always an
//! argument: the host calls [`Sink::poll`] when records were appended or
//! [`Sink::next_deadline`] passed.
//!
//! What the sink decides:
//! - **The window.** At most `max_in_flight` records await acknowledgement; a congestion
//!   window below that grows by one per ack and halves when a connection is lost or an ack
//!   times out, so a link that drops every large burst still moves records.
//! - **The cursor.** Each partition's log cursor (its acked offset) moves over every
//!   contiguous settled (acknowledged or given up) offset, and only forward.
//! - **Resends.** A refusal, or an ack older than `ack_timeout_ms`, rewinds the partition to
//!   its first unacknowledged record, sent again after a backoff; a timeout also asks for a
//!   ping ([`Action::Ping`]): no pong ([`Sink::on_pong`]) within another `ack_timeout_ms`
//!   and the connection is closed and replaced. A lost connection rewinds every partition.
//! - **The retry budget.** Every attempt on a record counts: a refusal, a timeout, and a
//!   publish lost with its connection. Past `max_retries` the record is given up: counted,
//!   reported once through [`Acked::given_up`] when the cursor passes it, never silently.
//! - **Backoff.** Reconnects wait `backoff_initial_ms · 2^n` (at most `backoff_max_ms`),
//!   drawn with jitter from `[d/2, d]`, servers in turn. The schedule starts over only once
//!   a connection proved itself: an ack on it, or [`PROVEN_MS`] alive.
//! - **At most once.** Records count as delivered once handed out; nothing is sent again.
//!
//! Work per event is bounded by what the event touches, not by the partition count:
//! partitions with records to send wait in a ready queue, timeouts in send order.
//!
//! **What `flush` and `close` wait for.** A waiter ([`Sink::wait`], under an id the host
//! chose) takes each partition's high watermark as its target and settles
//! ([`Sink::take_settled`]) once every cursor reached its target (delivered, or
//! [`Outcome::GivenUp`] when records below a target were given up), at its deadline
//! ([`Outcome::TimedOut`]), or when the sink stops ([`Outcome::Stopped`]); a settled waiter
//! names what it lacks: the unacknowledged `[cursor, target)` ranges and the given-up ones.
//! A given-up range is named to the waiters pending when it is first named, not to later
//! ones. Work per ack is one step per waiter, not per partition.
//!
//! Records are handed out from a per-partition cache of decoded batches: each batch is
//! decoded once on its way out (and again only after a rewind past the cache).

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::error::Error;
use crate::log::PartitionLog;
use crate::partitioner::Rng;
use crate::producer::Client;
use crate::record::ConsumedRecord;

/// Delivery guarantee of a sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// Fire and forget: delivered once handed out.
    AtMostOnce,
    /// Acknowledged, sent again until acknowledged (default).
    #[default]
    AtLeastOnce,
}

/// A sink's settings. Durations in milliseconds.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// How many servers the host has (tried in turn); at least one.
    pub servers: usize,
    /// At least once (default) or at most once.
    pub delivery: Delivery,
    /// Attempts per record before it is given up; `None` (default) = never give up.
    pub max_retries: Option<u32>,
    /// An unacknowledged record older than this is sent again (default 5,000).
    pub ack_timeout_ms: u64,
    /// Opening a connection until [`Sink::on_up`] may take this long (default 10,000).
    pub connect_timeout_ms: u64,
    /// First reconnect/retry delay (default 100).
    pub backoff_initial_ms: u64,
    /// Longest reconnect/retry delay (default 5,000).
    pub backoff_max_ms: u64,
    /// Records awaiting acknowledgement at most (default 1,024).
    pub max_in_flight: usize,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            servers: 1,
            delivery: Delivery::AtLeastOnce,
            max_retries: None,
            ack_timeout_ms: 5_000,
            connect_timeout_ms: 10_000,
            backoff_initial_ms: 100,
            backoff_max_ms: 5_000,
            max_in_flight: 1_024,
        }
    }
}

impl SinkConfig {
    fn validate(&self) -> Result<(), Error> {
        let bad =
            |field: &'static str, reason: &'static str| Err(Error::InvalidConfig { field, reason });
        if self.servers == 0 {
            return bad("servers", "must be at least 1");
        }
        if self.max_in_flight == 0 || self.max_in_flight > 1 << 20 {
            return bad("maxInFlight", "must be 1..=1048576");
        }
        if self.ack_timeout_ms == 0 {
            return bad("ackTimeoutMs", "must be at least 1 ms");
        }
        if self.connect_timeout_ms == 0 {
            return bad("connectTimeoutMs", "must be at least 1 ms");
        }
        if self.backoff_initial_ms == 0 || self.backoff_max_ms < self.backoff_initial_ms {
            return bad("backoff", "need 1 <= backoffInitialMs <= backoffMaxMs");
        }
        Ok(())
    }
}

/// A connection alive this long has proved itself: the backoff schedule starts over.
pub const PROVEN_MS: i64 = 5_000;

/// Where the sink's connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SinkState {
    /// Opening a connection and logging in.
    Connecting = 0,
    /// Logged in and publishing.
    Connected = 1,
    /// Waiting to reconnect after a lost connection or a failed attempt.
    Reconnecting = 2,
    /// Paused by the host (offline): no connection until resumed.
    Paused = 3,
    /// Stopped by a failure that retrying cannot mend (the host said why).
    Failed = 4,
    /// Closed by the host.
    Closed = 5,
}

/// Why the sink itself closed a connection (the host knows the causes it reported).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Cause {
    /// Nothing the sink decided.
    None = 0,
    /// Connecting took longer than `connect_timeout_ms`.
    ConnectTimeout = 1,
    /// No pong within `ack_timeout_ms` of a ping.
    PingTimeout = 2,
}

/// What the host must do for the sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Open a connection to server `server` (closing any previous one first).
    Open {
        /// Index into the host's server list.
        server: usize,
    },
    /// Close the connection.
    Close,
    /// Ping the server; call [`Sink::on_pong`] when it answers.
    Ping,
    /// Record `offset` of `partition` was given up (after `max_retries` attempts).
    GivenUp {
        /// The partition.
        partition: u32,
        /// The record's offset.
        offset: i64,
    },
}

/// Acknowledged records of one partition, reported once per move of its cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acked<'a> {
    /// The partition.
    pub partition: u32,
    /// Every offset below this is now settled: acknowledged, or given up (`given_up`).
    pub acked_offset: i64,
    /// The stream sequence of the last ack (0 at most once).
    pub stream_seq: u64,
    /// The offsets below `acked_offset` given up since the last report of this partition:
    /// passed by the cursor, but not delivered.
    pub given_up: &'a [i64],
}

/// How a flush waiter settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Outcome {
    /// Every record below the targets was acknowledged.
    Delivered = 0,
    /// Every cursor reached its target, but some records below were given up.
    GivenUp = 1,
    /// The deadline passed first.
    TimedOut = 2,
    /// The sink stopped (failed or closed) first.
    Stopped = 3,
}

/// Records `[from, to)` of a partition: `(partition, from, to)`.
pub type Range = (u32, i64, i64);

#[derive(Debug)]
struct Waiter {
    id: u32,
    /// Per partition, the high watermark when it began.
    targets: Vec<i64>,
    /// Partitions whose reported cursor is still below its target.
    remaining: usize,
    /// The settle round it began in.
    created: u32,
    /// [`NEVER`]: none.
    deadline: i64,
}

/// A sink's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Records handed out (first sends and resends).
    pub published: u64,
    /// Records acknowledged (or, at most once, handed out).
    pub acked: u64,
    /// Acks that said the record was a duplicate (a resend of a stored record).
    pub duplicates: u64,
    /// Records handed out again (after a timeout, a refusal or a reconnect).
    pub resent: u64,
    /// Ack and ping timeouts.
    pub timeouts: u64,
    /// Refusals (each followed by a retry).
    pub errors: u64,
    /// Records given up.
    pub failed_records: u64,
    /// Connections that reached the connected state.
    pub connects: u64,
    /// Connections lost or abandoned.
    pub disconnects: u64,
    /// Records awaiting acknowledgement now.
    pub in_flight: u64,
}

/// A record handed out and awaiting its ack.
#[derive(Debug, Clone, Copy)]
struct Flight {
    offset: i64,
    sent_at: i64,
    /// 1 once settled (acknowledged or given up), else 0. Not a `bool`: three 64-bit
    /// fields with no niche make the partitions' `VecDeque<Flight>` the same code as the
    /// driver's queue, shared in the wasm (-43 B gzip).
    acked: u64,
}

#[derive(Debug, Default)]
struct Part {
    /// Next offset to hand out.
    next: i64,
    /// Handed out and awaiting acks, in offset order.
    flights: VecDeque<Flight>,
    /// Attempts on the first unacknowledged record.
    attempts: u32,
    /// No handing out on this partition before this time (retry backoff).
    hold_until: i64,
    /// Offsets given up, in order.
    failed: Vec<i64>,
    /// For each of `failed`, the settle round that first named it to a flush waiter
    /// ([`UNNAMED`]: none yet).
    named: Vec<u32>,
    /// How many of `failed` an [`Acked`] has reported.
    failed_reported: usize,
    last_seq: u64,
    /// The cursor last reported by [`Sink::take_acked`].
    reported: i64,
    /// One past the highest offset ever handed out (a lower one is a resend).
    sent_high: i64,
    /// Decoded records from `cache_base` on (whole batches: each decoded once).
    cache: Vec<ConsumedRecord>,
    cache_base: i64,
    /// In the ready queue.
    queued: bool,
    /// The next partition in the ready queue (or in a list `publish` keeps aside).
    link: u32,
    /// In the moved list (its cursor moved since the last report).
    moved: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    /// No connection; reconnect at `at` ([`NEVER`]: paused/failed/closed).
    Down { at: i64 },
    /// Opened at `since`; the host is logging in.
    Opening { since: i64 },
    /// Ready since `since`.
    Up { since: i64 },
}

/// The delivery state of one topic's sink. See the module documentation.
#[derive(Debug)]
pub struct Sink {
    topic: alloc::string::String,
    config: SinkConfig,
    state: SinkState,
    conn: Conn,
    cause: Cause,
    server: usize,
    reconnects: u32,
    /// An ack arrived on the current connection.
    proven: bool,
    parts: Vec<Part>,
    in_flight: usize,
    window: usize,
    ping_sent_at: Option<i64>,
    actions: Vec<Action>,
    /// Partitions with records to hand out (or on hold), round robin.
    ready: List,
    /// Partitions whose cursor moved since the last [`Sink::take_acked`].
    moved: Vec<u32>,
    /// Handed-out records in send order, for timeouts: `(sent_at, partition, offset)`.
    sent: VecDeque<(i64, u32, i64)>,
    /// The topic's appends seen (a change means partitions may have records to send).
    appends: u64,
    /// The counters of [`SinkStats`] but the last (`in_flight`, kept by the window), in its
    /// order, by the constants below.
    counts: [u64; 9],
    rng: Rng,
    /// Flush waiters, in the order they began.
    waiters: Vec<Waiter>,
    /// Settle rounds that settled a waiter.
    rounds: u32,
}

// The counters' places in `Sink::counts` (the order of `SinkStats`).
const PUBLISHED: usize = 0;
const ACKED: usize = 1;
const DUPLICATES: usize = 2;
const RESENT: usize = 3;
const TIMEOUTS: usize = 4;
const ERRORS: usize = 5;
const FAILED_RECORDS: usize = 6;
const CONNECTS: usize = 7;
const DISCONNECTS: usize = 8;

/// Messages in flight on a fresh sink before acks widen the window.
const INITIAL_WINDOW: usize = 64;
/// Records decoded into a partition's cache at a time (whole batches, at least this many).
const CACHE_RECORDS: usize = 256;
/// No time: a deadline that never comes.
pub(crate) const NEVER: i64 = i64::MAX;
/// A given-up record no flush waiter was told of yet.
const UNNAMED: u32 = u32::MAX;

impl Sink {
    /// A sink for `topic` of `client`; starts tracking the topic's partitions (every record
    /// from the cursor on is unacknowledged: the first sink on a topic starts at the log
    /// start, a later one resumes where the previous left) and asks to connect.
    /// `random_seed` draws the jitter.
    pub fn new(
        client: &mut Client,
        topic: &str,
        config: SinkConfig,
        random_seed: u64,
        now_ms: i64,
    ) -> Result<Sink, Error> {
        config.validate()?;
        let logs = client.logs_mut(topic)?;
        let mut parts = Vec::new();
        for log in logs.iter_mut() {
            log.track_sink();
            let acked = log.acked_offset().unwrap_or(0);
            parts.push(Part {
                next: acked,
                reported: acked,
                sent_high: acked,
                ..Part::default()
            });
        }
        let window = INITIAL_WINDOW.min(config.max_in_flight);
        let mut sink = Sink {
            topic: topic.into(),
            config,
            state: SinkState::Connecting,
            conn: Conn::Down { at: now_ms },
            cause: Cause::None,
            server: 0,
            reconnects: 0,
            proven: false,
            parts,
            in_flight: 0,
            window,
            ping_sent_at: None,
            actions: Vec::new(),
            ready: List::EMPTY,
            moved: Vec::new(),
            sent: VecDeque::new(),
            // The first poll looks at every partition for records to send.
            appends: u64::MAX,
            counts: [0; 9],
            rng: Rng::new(random_seed),
            waiters: Vec::new(),
            rounds: 0,
        };
        sink.open(now_ms);
        Ok(sink)
    }

    /// The topic this sink delivers.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The connection state.
    pub fn state(&self) -> SinkState {
        self.state
    }

    /// Why the sink closed the last connection itself, if it did.
    pub fn cause(&self) -> Cause {
        self.cause
    }

    /// The index of the server in use (or next to be tried).
    pub fn server(&self) -> usize {
        self.server
    }

    /// Counters.
    pub fn stats(&self) -> SinkStats {
        let [published, acked, duplicates, resent, timeouts, errors, failed_records, connects, disconnects, in_flight] =
            self.counters();
        SinkStats {
            published,
            acked,
            duplicates,
            resent,
            timeouts,
            errors,
            failed_records,
            connects,
            disconnects,
            in_flight,
        }
    }

    /// The counters of [`Sink::stats`], in its order (the bindings write them in a loop).
    pub(crate) fn counters(&self) -> [u64; 10] {
        let mut all = [self.in_flight as u64; 10];
        all[..9].copy_from_slice(&self.counts);
        all
    }

    /// What the host must do now, in order.
    pub fn take_actions(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        self.drain_actions(|a| actions.push(a));
        actions
    }

    /// [`Sink::take_actions`] through a closure (the list keeps its room).
    pub(crate) fn drain_actions(&mut self, mut action: impl FnMut(Action)) {
        for &a in &self.actions {
            action(a);
        }
        self.actions.clear();
    }

    /// Hands `acked` the acknowledgement progress since the last call, one entry per
    /// partition whose cursor moved.
    pub fn take_acked(&mut self, acked: &mut dyn FnMut(Acked<'_>)) {
        self.drain_acked(acked);
    }

    /// [`Sink::take_acked`] for one caller's own closure (the bindings': no closure
    /// object in the wasm).
    pub(crate) fn drain_acked(&mut self, mut acked: impl FnMut(Acked<'_>)) {
        for &p in &self.moved {
            let Some(part) = self.parts.get_mut(p as usize) else {
                continue;
            };
            part.moved = false;
            let cursor = part.cursor();
            if cursor <= part.reported {
                continue;
            }
            for w in &mut self.waiters {
                if w.targets
                    .get(p as usize)
                    .is_some_and(|&t| t > part.reported && t <= cursor)
                {
                    w.remaining -= 1;
                }
            }
            part.reported = cursor;
            let from = part.failed_reported;
            while part
                .failed
                .get(part.failed_reported)
                .is_some_and(|&o| o < cursor)
            {
                part.failed_reported += 1;
            }
            acked(Acked {
                partition: p,
                acked_offset: cursor,
                stream_seq: part.last_seq,
                given_up: part.failed.get(from..part.failed_reported).unwrap_or(&[]),
            });
        }
        self.moved.clear();
    }

    /// The offsets of `partition` given up, in order.
    pub fn given_up(&self, partition: u32) -> Vec<i64> {
        self.parts
            .get(partition as usize)
            .map_or(Vec::new(), |p| p.failed.clone())
    }

    /// The earliest time [`Sink::poll`] has work to do (a reconnect, a timeout, a retry).
    pub fn next_deadline(&self) -> Option<i64> {
        let d = self.deadline();
        (d != NEVER).then_some(d)
    }

    /// [`Sink::next_deadline`], [`NEVER`] for none.
    pub(crate) fn deadline(&self) -> i64 {
        let ack = self.config.ack_timeout_ms as i64;
        let mut d = match self.conn {
            Conn::Down { at } => at,
            Conn::Opening { since } => since + self.config.connect_timeout_ms as i64,
            Conn::Up { since } => {
                let mut d = NEVER;
                if !self.proven && self.reconnects > 0 {
                    d = since + PROVEN_MS;
                }
                if let Some(p) = self.ping_sent_at {
                    d = d.min(p + ack);
                }
                if let Some(&(t, ..)) = self.sent.front() {
                    d = d.min(t + ack);
                }
                let mut p = self.ready.head;
                while let Some(part) = self.parts.get(p as usize) {
                    if part.hold_until > 0 {
                        d = d.min(part.hold_until);
                    }
                    p = part.link;
                }
                d
            }
        };
        for w in &self.waiters {
            d = d.min(w.deadline);
        }
        d
    }

    /// Begins flush waiter `id` (an id the host chose, not in use): it waits for every
    /// record appended to the topic so far, until `deadline` (`None`: no deadline). It
    /// settles through [`Sink::take_settled`], at once if nothing is pending.
    pub fn wait(&mut self, client: &Client, id: u32, deadline: Option<i64>) {
        let mut targets = Vec::new();
        let mut remaining = 0;
        if let Ok(logs) = client.logs(&self.topic) {
            for (part, log) in self.parts.iter().zip(logs) {
                let t = log.high_watermark();
                remaining += usize::from(part.reported < t);
                targets.push(t);
            }
        }
        self.waiters.push(Waiter {
            id,
            targets,
            remaining,
            created: self.rounds,
            deadline: deadline.unwrap_or(NEVER),
        });
    }

    /// Hands `settled` the flush waiters that settled by `now_ms` (every cursor at its
    /// target, the deadline passed, or the sink stopped), in the order they began: the id,
    /// how, and the `(partition, from, to)` ranges it lacks (unacknowledged, then given up;
    /// none when [`Outcome::Delivered`]). Call it after [`Sink::take_acked`].
    pub fn take_settled(&mut self, now_ms: i64, settled: &mut dyn FnMut(u32, Outcome, &[Range])) {
        self.drain_settled(now_ms, settled);
    }

    /// [`Sink::take_settled`] for one caller's own closure.
    pub(crate) fn drain_settled(
        &mut self,
        now_ms: i64,
        mut settled: impl FnMut(u32, Outcome, &[Range]),
    ) {
        let stopped = matches!(self.state, SinkState::Failed | SinkState::Closed);
        let round = self.rounds;
        for w in core::mem::take(&mut self.waiters) {
            let reached = w.remaining == 0;
            if !(reached || stopped || now_ms >= w.deadline) {
                self.waiters.push(w);
                continue;
            }
            // What it lacks: per partition, `[cursor, target)` when the reported cursor is
            // below its target; then the given-up records below the targets.
            let mut lacks = Vec::new();
            for (p, (part, &t)) in self.parts.iter().zip(&w.targets).enumerate() {
                if part.reported < t {
                    lacks.push((p as u32, part.reported, t));
                }
            }
            for (p, (part, &t)) in self.parts.iter_mut().zip(&w.targets).enumerate() {
                for (&o, named) in part.failed.iter().zip(&mut part.named) {
                    // (UNNAMED is above every round.)
                    if o < t && *named >= w.created {
                        lacks.push((p as u32, o, o + 1));
                        *named = (*named).min(round);
                    }
                }
            }
            let outcome = if lacks.is_empty() {
                Outcome::Delivered
            } else if reached {
                Outcome::GivenUp
            } else if stopped {
                Outcome::Stopped
            } else {
                Outcome::TimedOut
            };
            settled(w.id, outcome, &lacks);
            self.rounds = round + 1;
        }
    }

    /// The host's connection is logged in and ready for records.
    pub fn on_up(&mut self, now_ms: i64) {
        if let Conn::Opening { .. } = self.conn {
            self.conn = Conn::Up { since: now_ms };
            self.state = SinkState::Connected;
            self.counts[CONNECTS] += 1;
            self.cause = Cause::None;
        }
    }

    /// The connection closed or failed (the host knows why).
    pub fn on_closed(&mut self, client: &mut Client, now_ms: i64) {
        if matches!(self.conn, Conn::Down { .. }) {
            return;
        }
        self.cause = Cause::None;
        self.lost(client, now_ms);
    }

    /// A failure retrying cannot mend (refused credentials, say): closes the connection and
    /// stops. Unacknowledged records stay in the log for a later sink.
    pub fn fail(&mut self, now_ms: i64) {
        if matches!(self.state, SinkState::Closed | SinkState::Failed) {
            return;
        }
        self.rewind_all(now_ms);
        self.stop(SinkState::Failed);
    }

    /// Pauses: closes the connection and stays down until [`Sink::resume`] (the host's
    /// offline event).
    pub fn pause(&mut self, now_ms: i64) {
        if matches!(self.state, SinkState::Failed | SinkState::Closed) {
            return;
        }
        self.rewind_all(now_ms);
        if self.stop(SinkState::Paused) {
            self.counts[DISCONNECTS] += 1;
        }
    }

    /// Resumes after [`Sink::pause`]: connects at once.
    pub fn resume(&mut self, now_ms: i64) {
        if self.state == SinkState::Paused {
            self.reconnects = 0;
            self.state = SinkState::Reconnecting;
            self.open(now_ms);
        }
    }

    /// Closes the sink for good. Unacknowledged records stay in the log for a later sink.
    pub fn close(&mut self) {
        self.stop(SinkState::Closed);
    }

    /// Closes the connection, if any (true then), and stays down in `state`.
    fn stop(&mut self, state: SinkState) -> bool {
        let closing = !matches!(self.conn, Conn::Down { .. });
        if closing {
            self.actions.push(Action::Close);
        }
        self.conn = Conn::Down { at: NEVER };
        self.state = state;
        closing
    }

    /// The server answered the last [`Action::Ping`].
    pub fn on_pong(&mut self) {
        self.ping_sent_at = None;
    }

    /// The server acknowledged record `offset` of `partition` (`seq`: its stream sequence;
    /// `duplicate`: it was stored before). An ack for a record not in flight (late, from
    /// a replaced connection's window, or unknown) changes nothing.
    pub fn on_ack(
        &mut self,
        client: &mut Client,
        partition: u32,
        offset: i64,
        seq: u64,
        duplicate: bool,
        now_ms: i64,
    ) {
        if !matches!(self.conn, Conn::Up { .. }) {
            return;
        }
        let Some(part) = self.parts.get_mut(partition as usize) else {
            return;
        };
        let Some(f) = part.unsettled(offset) else {
            return;
        };
        f.acked = 1;
        part.last_seq = part.last_seq.max(seq);
        self.counts[ACKED] += 1;
        if duplicate {
            self.counts[DUPLICATES] += 1;
        }
        self.proven = true;
        if self.window < self.config.max_in_flight {
            self.window += 1;
        }
        self.advance(client, partition, now_ms);
    }

    /// The server refused record `offset` of `partition` for now (no responders, a 503
    /// while a stream elects a leader, ...): an attempt; the partition is sent again from
    /// its first unacknowledged record after a backoff.
    pub fn on_nak(&mut self, client: &mut Client, partition: u32, offset: i64, now_ms: i64) {
        if !matches!(self.conn, Conn::Up { .. }) {
            return;
        }
        let in_flight = self
            .parts
            .get_mut(partition as usize)
            .and_then(|p| p.unsettled(offset))
            .is_some();
        // Every refusal counts; one in flight rewinds (the others of its window are gone).
        self.counts[ERRORS] += 1;
        if in_flight {
            self.charge(client, partition, now_ms, true);
        }
    }

    /// Record `offset` of `partition`, just handed out, can never go (larger than the
    /// server takes): given up at once, reported, never silently (once: a rewind hands it
    /// out again).
    pub fn on_too_large(&mut self, client: &mut Client, partition: u32, offset: i64, now_ms: i64) {
        if partition as usize >= self.parts.len() {
            return;
        }
        self.give_up(partition, offset);
        if self.config.delivery == Delivery::AtLeastOnce {
            let f = self
                .parts
                .get_mut(partition as usize)
                .and_then(|part| part.unsettled(offset));
            if let Some(f) = f {
                f.acked = 1;
                self.counts[PUBLISHED] -= 1;
                self.advance(client, partition, now_ms);
            }
        } else {
            self.counts[ACKED] -= 1;
        }
    }

    /// Does what is due at `now_ms`: reconnects, timeouts, retries; then hands out records
    /// appended since (up to the window) to `publish`, in the order they must be sent.
    pub fn poll(
        &mut self,
        client: &mut Client,
        now_ms: i64,
        publish: &mut dyn FnMut(u32, &ConsumedRecord),
    ) {
        self.tick(client, now_ms);
        self.hand_out(client, now_ms, publish);
    }

    /// The first half of [`Sink::poll`]: reconnects, timeouts, retries (what it asks of
    /// the host goes to [`Sink::take_actions`]; a host that writes those before the records
    /// calls this, then `hand_out`).
    pub(crate) fn tick(&mut self, client: &mut Client, now_ms: i64) {
        self.poll_conn(client, now_ms);
        let Conn::Up { since } = self.conn else {
            return;
        };
        if !self.proven && now_ms - since >= PROVEN_MS {
            self.proven = true;
        }
        self.check_timeouts(client, now_ms);
    }

    /// The second half of [`Sink::poll`]: hands out records appended since (up to the
    /// window) to `publish`, in the order they must be sent, while connected.
    pub(crate) fn hand_out(
        &mut self,
        client: &mut Client,
        now_ms: i64,
        mut publish: impl FnMut(u32, &ConsumedRecord),
    ) {
        if matches!(self.conn, Conn::Up { .. }) {
            self.publish(client, now_ms, &mut publish);
        }
    }

    // ---- connection ------------------------------------------------------------------

    fn open(&mut self, now_ms: i64) {
        self.ping_sent_at = None;
        self.proven = false;
        self.actions.push(Action::Open {
            server: self.server,
        });
        self.conn = Conn::Opening { since: now_ms };
        if self.state != SinkState::Reconnecting {
            self.state = SinkState::Connecting;
        }
    }

    fn poll_conn(&mut self, client: &mut Client, now_ms: i64) {
        match self.conn {
            Conn::Down { at } if now_ms >= at => self.open(now_ms),
            Conn::Opening { since } if now_ms - since >= self.config.connect_timeout_ms as i64 => {
                self.drop_connection(client, Cause::ConnectTimeout, now_ms);
            }
            _ => {}
        }
    }

    /// Closes the connection on our side and schedules the next attempt.
    #[inline(always)]
    fn drop_connection(&mut self, client: &mut Client, cause: Cause, now_ms: i64) {
        self.actions.push(Action::Close);
        self.lost(client, now_ms);
        self.cause = cause;
    }

    fn lost(&mut self, client: &mut Client, now_ms: i64) {
        let up = match self.conn {
            Conn::Up { since } => Some(since),
            _ => None,
        };
        if self.in_flight > 0 {
            self.shrink_window();
        }
        if up.is_some() {
            self.counts[DISCONNECTS] += 1;
            // Every record in flight was an attempt: the first unacknowledged record of each
            // partition counts one against its budget.
            self.charge_in_flight(client, now_ms);
        }
        self.rewind_all(now_ms);
        if matches!(self.state, SinkState::Failed | SinkState::Closed) {
            self.conn = Conn::Down { at: NEVER };
            return;
        }
        // A connection that proved itself (an ack, or PROVEN_MS alive) starts the backoff
        // schedule over; the next server is tried either way.
        if self.proven || up.is_some_and(|s| now_ms - s >= PROVEN_MS) {
            self.reconnects = 0;
        }
        let delay = self.backoff(self.reconnects);
        self.reconnects = self.reconnects.saturating_add(1);
        // At least one server (validated); `max` spares the division by zero check.
        self.server = (self.server + 1) % self.config.servers.max(1);
        self.conn = Conn::Down { at: now_ms + delay };
        self.state = SinkState::Reconnecting;
    }

    /// Counts an attempt on each partition's first record still in flight (its connection
    /// is gone), giving up those past the budget (the cursor passes them).
    fn charge_in_flight(&mut self, client: &mut Client, now_ms: i64) {
        if self.config.max_retries.is_none() {
            return;
        }
        for p in 0..self.parts.len() as u32 {
            // Only the partition's first unacknowledged record carries the count (a settled
            // front is passed by the next advance).
            if self
                .parts
                .get(p as usize)
                .and_then(|part| part.flights.front())
                .is_some_and(|f| f.acked == 0)
            {
                self.charge(client, p, now_ms, false);
            }
        }
    }

    fn shrink_window(&mut self) {
        self.window = (self.window / 2).max(1);
    }

    /// Exponential backoff with jitter: a delay drawn from [d/2, d], d = initial·2^attempt
    /// capped at the maximum.
    fn backoff(&mut self, attempt: u32) -> i64 {
        // initial << n saturating (a shift, not a multiplication: on wasm32 a checked
        // 64-bit multiplication is a 128-bit one).
        let (initial, n) = (self.config.backoff_initial_ms, attempt.min(30));
        let d = if n <= initial.leading_zeros() {
            initial << n
        } else {
            u64::MAX
        }
        .min(self.config.backoff_max_ms);
        let half = d / 2;
        // `d - half + 1` is at least 1 (`checked_rem` spares the division by zero check).
        (half
            + u64::from(self.rng.next_u32())
                .checked_rem(d - half + 1)
                .unwrap_or(0)) as i64
    }

    // ---- delivery --------------------------------------------------------------------

    fn enqueue(&mut self, p: u32) {
        enqueue(&mut self.parts, &mut self.ready, p);
    }

    fn note_moved(&mut self, p: u32) {
        if let Some(part) = self.parts.get_mut(p as usize) {
            part.note_moved(&mut self.moved, p);
        }
    }

    /// Pops the settled flights at the front of partition `p` and moves the log's cursor.
    fn advance(&mut self, client: &mut Client, p: u32, now_ms: i64) {
        let Some(part) = self.parts.get_mut(p as usize) else {
            return;
        };
        while part.flights.front().is_some_and(|f| f.acked != 0) {
            part.flights.pop_front();
            self.in_flight -= 1;
            part.attempts = 0;
        }
        // (A settled flight popped moves the cursor past the one last reported.)
        let cursor = part.cursor();
        if cursor > part.reported {
            if let Ok(logs) = client.logs_mut(&self.topic) {
                if let Some(log) = logs.get_mut(p as usize) {
                    log.ack(cursor, now_ms);
                }
            }
            self.note_moved(p);
        }
    }

    /// Records `offset` of partition `p` as given up and reports it, once.
    fn give_up(&mut self, p: u32, offset: i64) {
        let Some(part) = self.parts.get_mut(p as usize) else {
            return;
        };
        if !part.is_failed(offset) {
            part.failed.push(offset);
            part.named.push(UNNAMED);
            self.counts[FAILED_RECORDS] += 1;
            self.actions.push(Action::GivenUp {
                partition: p,
                offset,
            });
        }
    }

    /// An attempt on partition `p`'s first unacknowledged record (in flight): past
    /// `max_retries` it is given up (recorded, reported, passed by the cursor). With
    /// `rewind` (a refusal or a timeout) the partition is sent again from its first
    /// unacknowledged record, after a backoff unless the record was given up.
    fn charge(&mut self, client: &mut Client, p: u32, now_ms: i64, rewind: bool) {
        let Some(part) = self.parts.get_mut(p as usize) else {
            return;
        };
        let attempts = part.attempts.saturating_add(1);
        part.attempts = attempts;
        let first = part.flights.front().map_or(0, |f| f.offset);
        let delay = if rewind {
            self.backoff(attempts.saturating_sub(1))
        } else {
            0
        };
        let give_up = self.config.max_retries.is_some_and(|m| attempts > m);
        if give_up {
            self.give_up(p, first);
        }
        let Some(part) = self.parts.get_mut(p as usize) else {
            return;
        };
        if give_up {
            if let Some(f) = part.flights.front_mut() {
                f.acked = 1;
            }
            part.attempts = 0;
            part.hold_until = 0;
        }
        if rewind {
            self.in_flight -= part.rewind();
            if !give_up {
                part.hold_until = now_ms + delay;
            }
            self.enqueue(p);
        }
        if give_up || rewind {
            self.advance(client, p, now_ms);
        }
    }

    fn rewind_all(&mut self, _now_ms: i64) {
        let mut in_flight = 0;
        for p in 0..self.parts.len() as u32 {
            let Some(part) = self.parts.get_mut(p as usize) else {
                continue;
            };
            part.rewind();
            part.hold_until = 0;
            in_flight += part.flights.len();
            if part.next < part.sent_high || !part.flights.is_empty() {
                self.enqueue(p);
            }
        }
        self.in_flight = in_flight;
        self.sent.clear();
        self.ping_sent_at = None;
        // New appends may have been missed while down: look again.
        self.appends = u64::MAX;
    }

    fn check_timeouts(&mut self, client: &mut Client, now_ms: i64) {
        let ack = self.config.ack_timeout_ms as i64;
        if self.ping_sent_at.is_some_and(|t| now_ms - t >= ack) {
            // No pong: the connection is dead or the server stalled. Replace it.
            self.counts[TIMEOUTS] += 1;
            self.drop_connection(client, Cause::PingTimeout, now_ms);
            return;
        }
        while let Some(&(t, p, offset)) = self.sent.front() {
            let live = self
                .parts
                .get_mut(p as usize)
                .and_then(|part| part.unsettled(offset))
                .is_some_and(|f| f.sent_at == t);
            if !live {
                self.sent.pop_front();
                continue;
            }
            if now_ms - t < ack {
                break;
            }
            self.sent.pop_front();
            self.counts[TIMEOUTS] += 1;
            self.shrink_window();
            if self.ping_sent_at.is_none() {
                self.actions.push(Action::Ping);
                self.ping_sent_at = Some(now_ms);
            }
            self.charge(client, p, now_ms, true);
        }
    }

    fn publish(
        &mut self,
        client: &mut Client,
        now_ms: i64,
        publish: &mut impl FnMut(u32, &ConsumedRecord),
    ) {
        let appends = client.appends();
        let Ok(logs) = client.logs_mut(&self.topic) else {
            return;
        };
        // Appends since the last look: partitions with new records join the ready queue.
        if appends != self.appends {
            self.appends = appends;
            for (p, log) in logs.iter().enumerate() {
                if self
                    .parts
                    .get(p)
                    .is_some_and(|part| part.next < log.high_watermark())
                {
                    enqueue(&mut self.parts, &mut self.ready, p as u32);
                }
            }
        }
        let at_least_once = self.config.delivery == Delivery::AtLeastOnce;
        let mut held = List::EMPTY;
        while self.in_flight < self.window || !at_least_once {
            let p = self.ready.head;
            let Some(part) = self.parts.get(p as usize) else {
                break;
            };
            self.ready.head = part.link;
            let (Some(part), Some(log)) =
                (self.parts.get_mut(p as usize), logs.get_mut(p as usize))
            else {
                continue;
            };
            if part.hold_until > now_ms {
                held.push(&mut self.parts, p);
                continue;
            }
            part.hold_until = 0;
            // Records retention dropped (UnackedPolicy::Drop) are the log's to count.
            if part.next < log.log_start_offset() {
                part.next = log.log_start_offset();
                if part.flights.is_empty() {
                    log.ack(part.next, now_ms);
                    part.note_moved(&mut self.moved, p);
                }
            }
            if part.next >= log.high_watermark() {
                part.queued = false;
                continue;
            }
            let room = if at_least_once {
                (self.window - self.in_flight).min(CACHE_RECORDS)
            } else {
                CACHE_RECORDS
            };
            if !part.fill_cache(log) {
                part.queued = false;
                continue;
            }
            let from = (part.next - part.cache_base) as usize;
            let to = (from + room).min(part.cache.len());
            for r in part.cache.get(from..to).unwrap_or(&[]) {
                publish(p, r);
                self.counts[PUBLISHED] += 1;
                if r.offset < part.sent_high {
                    self.counts[RESENT] += 1;
                }
                if at_least_once {
                    part.flights.push_back(Flight {
                        offset: r.offset,
                        sent_at: now_ms,
                        acked: 0,
                    });
                    self.sent.push_back((now_ms, p, r.offset));
                } else {
                    self.counts[ACKED] += 1;
                }
            }
            let n = to - from;
            part.next += n as i64;
            part.sent_high = part.sent_high.max(part.next);
            if to == part.cache.len() {
                part.cache = Vec::new();
            }
            if at_least_once {
                self.in_flight += n;
            } else {
                let cursor = part.next;
                log.ack(cursor, now_ms);
                part.note_moved(&mut self.moved, p);
            }
            // Round robin: more of it later, after the others.
            self.ready.push(&mut self.parts, p);
        }
        self.ready.append(&mut self.parts, held);
    }
}

/// A queue of partitions linked through their [`Part::link`] (no allocation; a partition
/// is in one list at most).
#[derive(Debug, Clone, Copy)]
struct List {
    /// The first partition; [`NONE`]: the list is empty.
    head: u32,
    /// The last partition (meaningless when empty).
    tail: u32,
}

/// No partition.
const NONE: u32 = u32::MAX;

impl List {
    const EMPTY: List = List {
        head: NONE,
        tail: NONE,
    };

    /// Puts partition `p` (in no list) last.
    fn push(&mut self, parts: &mut [Part], p: u32) {
        if let Some(part) = parts.get_mut(p as usize) {
            part.link = NONE;
            self.append(parts, List { head: p, tail: p });
        }
    }

    /// Puts the partitions of `other` after this list's.
    fn append(&mut self, parts: &mut [Part], other: List) {
        if other.head == NONE {
            return;
        }
        match parts.get_mut(self.tail as usize) {
            Some(last) if self.head != NONE => last.link = other.head,
            _ => self.head = other.head,
        }
        self.tail = other.tail;
    }
}

/// Partition `p` joins the ready queue, if not in it.
fn enqueue(parts: &mut [Part], ready: &mut List, p: u32) {
    if let Some(part) = parts.get_mut(p as usize) {
        if !part.queued {
            part.queued = true;
            ready.push(parts, p);
        }
    }
}

// The `#[inline(always)]` hints on the small helpers below (and on
// `Sink::drop_connection`) are the wasm's: each measured smaller inlined (default entry,
// gzip), 2026-11-30.
impl Part {
    /// Joins the moved list, if not in it.
    #[inline(always)]
    fn note_moved(&mut self, moved: &mut Vec<u32>, p: u32) {
        if !self.moved {
            self.moved = true;
            moved.push(p);
        }
    }

    /// The first offset not settled.
    #[inline(always)]
    fn cursor(&self) -> i64 {
        self.flights.front().map_or(self.next, |f| f.offset)
    }

    /// Sends again what is in flight from the first unsettled flight on (settled flights at
    /// the front stay settled: the cursor passes them when the next ack comes); returns
    /// how many flights it dropped.
    fn rewind(&mut self) -> usize {
        let mut keep = 0;
        while self.flights.get(keep).is_some_and(|f| f.acked != 0) {
            keep += 1;
        }
        let dropped = self.flights.len() - keep;
        if let Some(f) = self.flights.get(keep) {
            self.next = f.offset;
            self.flights.truncate(keep);
        }
        dropped
    }

    /// The flight of record `offset`, if in flight and not settled.
    #[inline(always)]
    fn unsettled(&mut self, offset: i64) -> Option<&mut Flight> {
        let front = self.flights.front()?.offset;
        // A wrapped index (an offset before the front, or far past it) finds no flight or
        // another one, which the filter refuses.
        self.flights
            .get_mut((offset - front) as usize)
            .filter(|f| f.offset == offset && f.acked == 0)
    }

    // Not `contains`: its search is unrolled for i64 slices (+54 B gzip of wasm, measured).
    #[allow(clippy::manual_contains)]
    #[inline(always)]
    fn is_failed(&self, offset: i64) -> bool {
        self.failed.iter().any(|&o| o == offset)
    }

    /// Makes the cache hold `next`; false when the log has nothing there.
    #[inline(always)]
    fn fill_cache(&mut self, log: &PartitionLog) -> bool {
        let len = self.cache.len() as i64;
        if self.next >= self.cache_base && self.next < self.cache_base + len {
            return true;
        }
        self.cache = log
            .read_batches(self.next, CACHE_RECORDS)
            .unwrap_or_default();
        self.cache_base = self.next;
        !self.cache.is_empty()
    }
}
