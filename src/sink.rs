//! The sink: delivers a topic's records from the partition logs into NATS JetStream.
//!
//! Sans-IO: the sink never touches a socket or a clock. The host (the JS bindings, or a
//! test over TCP) opens connections when asked ([`Action::Open`]), writes the bytes the
//! sink produces ([`Action::Send`]), feeds back what the server sends
//! ([`Sink::on_data`]), reports a closed connection ([`Sink::on_closed`]), and calls
//! [`Sink::poll`] whenever records were appended or [`Sink::next_deadline`] passed.
//! Time is always an argument.
//!
//! # Mapping
//! Topic → stream (default: the topic's name); partition → subject
//! `<subject_prefix>.<partition>` (default prefix: the topic's name). Each record is one
//! message, published with `HPUB` and the headers
//! - `Nats-Msg-Id: <msg_id_prefix>-<partition>-<offset>`: the stable id JetStream
//!   de-duplicates on, so a record sent again after a reconnect is stored once;
//! - `Nats-Expected-Stream: <stream>`: a subject captured by another stream fails;
//! - `Tributary-Key` (UTF-8 keys without control characters) or `Tributary-Key-Base64`;
//!   `Tributary-Timestamp` (ms); the record's own headers (values that are not such text
//!   go base64url-encoded, unpadded, under `<name>-Base64`; a name that is not a valid
//!   NATS header name, or that JetStream or this encoding reads, `Nats-*`, `Tributary-*`
//!   or `*-Base64` in any case, goes as `Tributary-Header-Base64: <name>:<value>`, both
//!   base64url, so a record's header never sets a message id, an expectation or a
//!   rollup).
//!
//! # Delivery
//! - **At least once** (default): every message carries a reply subject
//!   `<inbox>.<partition>.<offset>`; JetStream's `PubAck` acknowledges it, and the
//!   partition's cursor (the log's acked offset) moves over every contiguous
//!   acknowledged offset. At most `max_in_flight` messages await acks. An error reply
//!   (no responders, a 503 while a stream elects a leader, ...) or an ack older than
//!   `ack_timeout_ms` rewinds the partition to its first unacknowledged record and sends
//!   everything from there again after a backoff (exponential, with jitter); the ids
//!   make the repeats duplicates JetStream drops. A timeout also pings the server: no
//!   `PONG` within another `ack_timeout_ms` and the connection is closed and replaced.
//!   After `max_retries` attempts on one record (default: unlimited) it is given up:
//!   counted in `failed_records`, reported to `flush`, never silently.
//! - **At most once**: messages go without a reply subject and count as delivered once
//!   written; nothing is sent again.
//!
//! On reconnect (backoff with jitter, servers in turn) each partition resumes from its
//! acknowledged cursor. Order: on one connection JetStream stores a partition's messages
//! in offset order, and resends start from the first unacknowledged offset, so the
//! stream's order is the offset order unless the server rejects a message while
//! accepting a later one (a leader change mid-window); de-duplication still holds then.
//!
//! # Failures that stop the sink
//! Refused credentials (`SINK_AUTH`), a publish permission violation
//! (`SINK_PERMISSION`), a subject captured by another stream (`SINK_WRONG_STREAM`): the
//! sink stops, the records stay in the log unacknowledged, and a new sink on the topic
//! (with better settings) resumes from the cursor.

use alloc::borrow::ToOwned;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use crate::error::Error;
use crate::log::PartitionLog;
use crate::nats::{
    encode_connect, encode_hpub, encode_pub, encode_sub, jetstream, parse_pub_ack, ConnectOptions,
    Credentials, Headers, JetStreamError, Msg, Parser, ServerErrorKind, ServerInfo, ServerOp,
    SignedNonce, StreamConfig, PING, PONG,
};
use crate::partitioner::Rng;
use crate::producer::Client;
use crate::record::ConsumedRecord;
use crate::text::Text;

/// Delivery guarantee of a sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// Fire and forget: delivered once written to the connection.
    AtMostOnce,
    /// Acknowledged by JetStream, sent again until acknowledged (default).
    #[default]
    AtLeastOnce,
}

impl Delivery {
    /// Parses the JS spelling: `at-least-once` or `at-most-once`.
    pub fn parse(name: &str) -> Result<Self, Error> {
        match name {
            "at-least-once" => Ok(Delivery::AtLeastOnce),
            "at-most-once" => Ok(Delivery::AtMostOnce),
            _ => Err(Error::InvalidConfig {
                field: "delivery",
                reason: "must be at-least-once or at-most-once",
            }),
        }
    }
}

/// A sink's settings. Durations in milliseconds.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Server URLs (`ws://`, `wss://`; the host connects), tried in turn. At least one.
    pub servers: Vec<String>,
    /// The JetStream stream; default the topic's name.
    pub stream: Option<String>,
    /// Subjects are `<subject_prefix>.<partition>`; default the topic's name.
    pub subject_prefix: Option<String>,
    /// Credentials; never in errors, logs or stats.
    pub credentials: Credentials,
    /// At least once (default) or at most once.
    pub delivery: Delivery,
    /// Attempts per record before it is given up; `None` (default) = never give up.
    pub max_retries: Option<u32>,
    /// An unacknowledged message older than this is sent again (default 5,000).
    pub ack_timeout_ms: u64,
    /// Opening a connection through the handshake may take this long (default 10,000).
    pub connect_timeout_ms: u64,
    /// First reconnect/retry delay (default 100), doubled per attempt up to
    /// `backoff_max_ms` (default 5,000), each drawn with jitter from [d/2, d].
    pub backoff_initial_ms: u64,
    /// Longest reconnect/retry delay (default 5,000).
    pub backoff_max_ms: u64,
    /// Messages awaiting acknowledgement at most (default 1,024).
    pub max_in_flight: usize,
    /// Create the stream on connect (`STREAM.CREATE`, `num_replicas` from the topic's
    /// replication factor, `max_age`/`max_bytes` from its retention); default false.
    pub provision: bool,
    /// The stream's de-duplication window when provisioning (default 120,000: two
    /// minutes, JetStream's default). Records resent later than this after their first
    /// send could be stored twice: make it longer than the longest outage to ride out.
    pub duplicate_window_ms: u64,
    /// The first part of every `Nats-Msg-Id`; unique per log (the bindings draw 16 random
    /// hex digits per client). Ids must not repeat across logs that restart at offset 0.
    pub msg_id_prefix: String,
    /// Connection name shown in the server's monitoring.
    pub name: Option<String>,
}

impl SinkConfig {
    /// Defaults for one server URL.
    pub fn new(server: &str, msg_id_prefix: &str) -> Self {
        SinkConfig {
            servers: alloc::vec![server.to_owned()],
            stream: None,
            subject_prefix: None,
            credentials: Credentials::None,
            delivery: Delivery::AtLeastOnce,
            max_retries: None,
            ack_timeout_ms: 5_000,
            connect_timeout_ms: 10_000,
            backoff_initial_ms: 100,
            backoff_max_ms: 5_000,
            max_in_flight: 1_024,
            provision: false,
            duplicate_window_ms: 120_000,
            msg_id_prefix: msg_id_prefix.to_owned(),
            name: None,
        }
    }

    fn validate(&self) -> Result<(), Error> {
        let bad =
            |field: &'static str, reason: &'static str| Err(Error::InvalidConfig { field, reason });
        if self.servers.is_empty() {
            return bad("servers", "at least one server URL is needed");
        }
        for s in &self.servers {
            let rest = s.strip_prefix("ws://").or_else(|| s.strip_prefix("wss://"));
            if rest.is_none_or(|r| r.is_empty() || r.contains(char::is_whitespace)) {
                return bad("servers", "each must be a ws:// or wss:// URL");
            }
            // Credentials go in their own options, never in a URL (which errors, stats
            // and the runtime's own messages show).
            if without_userinfo(s) != *s {
                return bad(
                    "servers",
                    "no user information in URLs: give token, user/pass, creds or nkeySeed",
                );
            }
        }
        if self.max_in_flight == 0 || self.max_in_flight > 1 << 20 {
            return bad("maxInFlight", "must be 1..=1048576");
        }
        if self.ack_timeout_ms == 0 || self.connect_timeout_ms == 0 {
            return bad("ackTimeoutMs", "timeouts must be at least 1 ms");
        }
        if self.backoff_initial_ms == 0 || self.backoff_max_ms < self.backoff_initial_ms {
            return bad("backoff", "need 1 <= backoffInitialMs <= backoffMaxMs");
        }
        let id_ok = !self.msg_id_prefix.is_empty()
            && self.msg_id_prefix.len() <= 64
            && self
                .msg_id_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            return bad("msgIdPrefix", "1..=64 of A-Z a-z 0-9 - _");
        }
        Ok(())
    }
}

/// Where the sink's connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkState {
    /// Opening a connection and logging in.
    Connecting,
    /// Logged in and publishing.
    Connected,
    /// Waiting to reconnect after a lost connection or a failed attempt.
    Reconnecting,
    /// Paused by the host (offline): no connection until resumed.
    Paused,
    /// Stopped by a failure that retrying cannot mend (see [`Sink::error`]).
    Failed,
    /// Closed by the host.
    Closed,
}

impl SinkState {
    /// The name JS sees.
    pub fn name(self) -> &'static str {
        match self {
            SinkState::Connecting => "connecting",
            SinkState::Connected => "connected",
            SinkState::Reconnecting => "reconnecting",
            SinkState::Paused => "offline",
            SinkState::Failed => "failed",
            SinkState::Closed => "closed",
        }
    }
}

/// What the host must do for the sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a connection to `url` (closing any previous one first).
    Open {
        /// The server URL.
        url: String,
    },
    /// Write these bytes to the open connection.
    Send(Vec<u8>),
    /// Close the connection.
    Close,
    /// Sign `nonce` with the nkey seed (ed25519; PKCS#8 DER given) and call
    /// [`Sink::on_signature`].
    Sign {
        /// The server's nonce, as bytes of its string.
        nonce: Vec<u8>,
        /// The seed as a PKCS#8 DER private key (WebCrypto imports it).
        pkcs8: [u8; 48],
    },
}

/// Acknowledged records of one partition, reported once per batch of acks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acked {
    /// The partition.
    pub partition: u32,
    /// Every offset below this is now settled: acknowledged, or given up (`given_up`).
    pub acked_offset: i64,
    /// The stream sequence of the last ack (0 at most once).
    pub stream_seq: u64,
    /// The `[from, to)` ranges below `acked_offset` given up since the last report of
    /// this partition: passed by the cursor, but not in JetStream.
    pub given_up: Vec<(i64, i64)>,
}

/// A sink's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Messages written (first sends and resends).
    pub published: u64,
    /// Records acknowledged (or, at most once, written).
    pub acked: u64,
    /// Acks that said the id was a duplicate (a resend of a stored record).
    pub duplicates: u64,
    /// Messages sent again (after a timeout, an error reply or a reconnect).
    pub resent: u64,
    /// Ack timeouts.
    pub timeouts: u64,
    /// Error replies from JetStream (each followed by a retry).
    pub errors: u64,
    /// Records given up after `max_retries`.
    pub failed_records: u64,
    /// Connections that reached the connected state.
    pub connects: u64,
    /// Connections lost or abandoned.
    pub disconnects: u64,
    /// Messages awaiting acknowledgement now.
    pub in_flight: u64,
}

#[derive(Debug, Clone, Copy)]
struct Flight {
    offset: i64,
    sent_at: i64,
    acked: bool,
}

#[derive(Debug, Default)]
struct Part {
    /// Next offset to publish.
    next: i64,
    /// Published and awaiting acks, in offset order.
    flights: VecDeque<Flight>,
    /// Attempts on the first unacknowledged record.
    attempts: u32,
    /// No publishing on this partition before this time (retry backoff).
    hold_until: i64,
    /// Offsets given up, as `[from, to)` ranges.
    failed: Vec<(i64, i64)>,
    /// How many of `failed` an [`Acked`] has reported.
    failed_reported: usize,
    last_seq: u64,
    reported: i64,
    /// One past the highest offset ever published (a lower one is a resend).
    sent_high: i64,
    /// `<subject_prefix>.<partition>`, made once.
    subject: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    /// No connection; reconnect at `at` (`None`: never, paused/failed/closed).
    Down { at: Option<i64> },
    /// Opened at `since`; waiting for `INFO`.
    Opening { since: i64 },
    /// `INFO` had a nonce; the host is signing it.
    Signing { since: i64 },
    /// `CONNECT`+`PING` sent; waiting for `PONG` (or `-ERR`).
    LoggingIn { since: i64 },
    /// `STREAM.CREATE` sent (last at `asked`); waiting for its reply. A cluster still
    /// electing its JetStream leader drops requests: it is asked again every ack timeout.
    Provisioning { since: i64, asked: i64 },
    /// Publishing.
    Up,
}

/// The sink of one topic. See the module documentation.
#[derive(Debug)]
pub struct Sink {
    topic: String,
    stream: String,
    subject_prefix: String,
    inbox: String,
    config: SinkConfig,
    replication_factor: u32,
    retention_max_age_ms: Option<u64>,
    retention_max_bytes: Option<u64>,
    state: SinkState,
    conn: Conn,
    server: usize,
    reconnects: u32,
    parser: Parser,
    info: Option<ServerInfo>,
    parts: Vec<Part>,
    in_flight: usize,
    /// The congestion window: messages allowed in flight now (≤ `max_in_flight`). It
    /// grows by one per ack (doubling per round trip) and halves when a connection is lost
    /// or an ack times out, so a link that drops every large burst still moves records.
    window: usize,
    ping_sent_at: Option<i64>,
    actions: Vec<Action>,
    out: Vec<u8>,
    acked_events: Vec<Acked>,
    /// `STREAM.CREATE`'s subject and body, while provisioning.
    provision: Option<(String, Vec<u8>)>,
    error: Option<Error>,
    /// What the runtime said of the current connection's failure ([`Sink::on_error`]).
    conn_error: String,
    stats: SinkStats,
    rng: Rng,
    cursor: usize,
}

const SID: u64 = 1;
/// Messages in flight on a fresh sink before acks widen the window.
const INITIAL_WINDOW: usize = 64;

impl Sink {
    /// A sink for `topic` of `client`; starts tracking the topic's partitions (every record
    /// from the cursor on is unacknowledged: the first sink on a topic starts at the log
    /// start, a later one resumes where the previous left) and asks to connect.
    /// `random_seed` draws the jitter and the inbox name.
    pub fn new(
        client: &mut Client,
        topic: &str,
        config: SinkConfig,
        random_seed: u64,
        now_ms: i64,
    ) -> Result<Sink, Error> {
        config.validate()?;
        let tc = *client.topic_config(topic)?;
        let stream = config.stream.clone().unwrap_or_else(|| topic.to_owned());
        jetstream::validate_stream_name(&stream).map_err(|_| Error::InvalidConfig {
            field: "stream",
            reason: "not a valid JetStream stream name",
        })?;
        let subject_prefix = config
            .subject_prefix
            .clone()
            .unwrap_or_else(|| topic.to_owned());
        crate::nats::validate_subject(&subject_prefix, false).map_err(|_| {
            Error::InvalidConfig {
                field: "subjectPrefix",
                reason: "not a valid NATS subject",
            }
        })?;
        let mut rng = Rng::new(random_seed);
        let mut inbox = String::from("_INBOX.");
        for _ in 0..4 {
            crate::text::push_hex32(&mut inbox, rng.next_u32());
        }
        let logs = client.logs_mut(topic)?;
        let mut parts = Vec::with_capacity(logs.len());
        for (p, log) in logs.iter_mut().enumerate() {
            log.track_sink();
            let acked = log.info().acked_offset.unwrap_or(0);
            parts.push(Part {
                next: acked,
                reported: acked,
                sent_high: acked,
                subject: Text::new().s(&subject_prefix).s(".").u(p as u64).done(),
                ..Part::default()
            });
        }
        let window = INITIAL_WINDOW.min(config.max_in_flight);
        let mut sink = Sink {
            topic: topic.to_owned(),
            stream,
            subject_prefix,
            inbox,
            replication_factor: tc.replication_factor,
            retention_max_age_ms: tc.retention.max_age_ms,
            retention_max_bytes: tc.retention.max_bytes,
            config,
            state: SinkState::Connecting,
            conn: Conn::Down { at: Some(now_ms) },
            server: 0,
            reconnects: 0,
            parser: Parser::new(),
            info: None,
            parts,
            in_flight: 0,
            window,
            ping_sent_at: None,
            actions: Vec::new(),
            out: Vec::new(),
            acked_events: Vec::new(),
            provision: None,
            error: None,
            conn_error: String::new(),
            stats: SinkStats::default(),
            rng,
            cursor: 0,
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

    /// The failure that stopped the sink, or the last error it is retrying past.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// Counters.
    pub fn stats(&self) -> SinkStats {
        SinkStats {
            in_flight: self.in_flight as u64,
            ..self.stats
        }
    }

    /// The URL of the server in use (or next to be tried). It has no user information:
    /// [`SinkConfig`] refuses URLs with it.
    pub fn server(&self) -> &str {
        &self.config.servers[self.server]
    }

    /// What the host must do now, in order.
    pub fn take_actions(&mut self) -> Vec<Action> {
        self.flush_out();
        core::mem::take(&mut self.actions)
    }

    /// Acknowledgement progress since the last call, one entry per partition that moved.
    pub fn take_acked(&mut self) -> Vec<Acked> {
        for (p, part) in self.parts.iter_mut().enumerate() {
            let cursor = part.flights.front().map_or(part.next, |f| f.offset);
            if cursor > part.reported {
                part.reported = cursor;
                let mut given_up = Vec::new();
                while let Some(&(from, to)) = part.failed.get(part.failed_reported) {
                    if from >= cursor {
                        break;
                    }
                    given_up.push((from, to));
                    part.failed_reported += 1;
                }
                self.acked_events.push(Acked {
                    partition: p as u32,
                    acked_offset: cursor,
                    stream_seq: part.last_seq,
                    given_up,
                });
            }
        }
        core::mem::take(&mut self.acked_events)
    }

    /// Offsets given up after `max_retries`, per partition, as `[from, to)` ranges.
    pub fn failed_ranges(&self, partition: u32) -> &[(i64, i64)] {
        self.parts
            .get(partition as usize)
            .map_or(&[], |p| &p.failed[..])
    }

    /// The earliest time [`Sink::poll`] has work to do (a reconnect, a timeout, a retry).
    pub fn next_deadline(&self) -> Option<i64> {
        let t = self.config.connect_timeout_ms as i64;
        let mut d = match self.conn {
            Conn::Down { at } => at,
            Conn::Opening { since } | Conn::Signing { since } | Conn::LoggingIn { since } => {
                Some(since + t)
            }
            Conn::Provisioning { since, asked } => {
                Some((since + t).min(asked + self.config.ack_timeout_ms as i64))
            }
            Conn::Up => None,
        };
        let mut min = |x: i64| d = Some(d.map_or(x, |y: i64| y.min(x)));
        if self.conn == Conn::Up {
            let ack = self.config.ack_timeout_ms as i64;
            if let Some(p) = self.ping_sent_at {
                min(p + ack);
            }
            for part in &self.parts {
                if let Some(f) = part.flights.front() {
                    min(f.sent_at + ack);
                }
                if part.hold_until > 0 && part.flights.is_empty() {
                    min(part.hold_until);
                }
            }
        }
        d
    }

    /// The connection opened by the last [`Action::Open`] is open (the server speaks first).
    pub fn on_open(&mut self, _now_ms: i64) {}

    /// The connection failed; `reason` is what the runtime said (empty if nothing). The
    /// close that follows does the work: if the server had not spoken yet, the sink's
    /// error becomes [`Error::SinkConnect`] with this reason.
    pub fn on_error(&mut self, reason: &str) {
        if matches!(self.conn, Conn::Opening { .. }) {
            self.conn_error.clear();
            // A bounded, single-line excerpt: it ends up in an error message.
            for c in reason.chars().take(200) {
                self.conn_error.push(if c.is_control() { ' ' } else { c });
            }
        }
    }

    /// The connection closed or failed.
    pub fn on_closed(&mut self, now_ms: i64) {
        if matches!(self.conn, Conn::Down { .. }) {
            return;
        }
        // Closed before the server spoke. (A connect timeout or bytes that are not NATS
        // close it from our side, with their own error.)
        if matches!(self.conn, Conn::Opening { .. }) {
            self.error = Some(Error::SinkConnect {
                server: self.server().to_owned(),
                reason: core::mem::take(&mut self.conn_error),
            });
        }
        self.lost(now_ms);
    }

    /// Pauses: closes the connection and stays down until [`Sink::resume`] (the host's
    /// offline event).
    pub fn pause(&mut self, now_ms: i64) {
        if matches!(self.state, SinkState::Failed | SinkState::Closed) {
            return;
        }
        if !matches!(self.conn, Conn::Down { .. }) {
            self.actions.push(Action::Close);
            self.stats.disconnects += 1;
        }
        self.rewind_all(now_ms);
        self.conn = Conn::Down { at: None };
        self.state = SinkState::Paused;
    }

    /// Resumes after [`Sink::pause`]: connects at once.
    pub fn resume(&mut self, now_ms: i64) {
        if self.state == SinkState::Paused {
            self.reconnects = 0;
            self.state = SinkState::Reconnecting;
            self.conn = Conn::Down { at: Some(now_ms) };
            self.poll_conn(now_ms);
        }
    }

    /// Closes the sink for good. Unacknowledged records stay in the log for a later sink.
    pub fn close(&mut self) {
        if !matches!(self.conn, Conn::Down { .. }) {
            self.flush_out();
            self.actions.push(Action::Close);
        }
        self.conn = Conn::Down { at: None };
        self.state = SinkState::Closed;
    }

    /// The host signed the nonce ([`Action::Sign`]).
    pub fn on_signature(&mut self, signature: [u8; 64], public_key: [u8; 32], now_ms: i64) {
        if let Conn::Signing { .. } = self.conn {
            let signed = SignedNonce {
                signature,
                public_key,
            };
            self.log_in(Some(&signed), now_ms);
        }
    }

    /// Bytes from the server.
    pub fn on_data(&mut self, client: &mut Client, bytes: &[u8], now_ms: i64) {
        if matches!(self.conn, Conn::Down { .. }) {
            return;
        }
        self.parser.push(bytes);
        loop {
            match self.parser.next_op() {
                Ok(Some(op)) => self.on_op(client, op, now_ms),
                Ok(None) => break,
                Err(_) => {
                    self.error = Some(Error::SinkProtocol);
                    self.drop_connection(now_ms);
                    break;
                }
            }
            if matches!(self.conn, Conn::Down { .. }) {
                break;
            }
        }
        self.poll(client, now_ms);
    }

    /// Does what is due at `now_ms`: reconnects, timeouts, retries, and publishes records
    /// appended since (up to the in-flight window).
    pub fn poll(&mut self, client: &mut Client, now_ms: i64) {
        self.poll_conn(now_ms);
        if self.conn != Conn::Up {
            return;
        }
        let Ok(logs) = client.logs_mut(&self.topic) else {
            return;
        };
        self.check_timeouts(logs, now_ms);
        if self.conn == Conn::Up {
            self.publish(logs, now_ms);
        }
        self.sync_cursors(logs, now_ms);
    }

    // ---- connection ------------------------------------------------------------------

    fn open(&mut self, now_ms: i64) {
        self.parser.reset();
        self.conn_error.clear();
        self.info = None;
        self.ping_sent_at = None;
        self.out.clear();
        self.actions.push(Action::Open {
            url: self.config.servers[self.server].clone(),
        });
        self.conn = Conn::Opening { since: now_ms };
        if self.state != SinkState::Reconnecting {
            self.state = SinkState::Connecting;
        }
    }

    fn poll_conn(&mut self, now_ms: i64) {
        match self.conn {
            Conn::Down { at: Some(at) } if now_ms >= at => self.open(now_ms),
            Conn::Opening { since }
            | Conn::Signing { since }
            | Conn::LoggingIn { since }
            | Conn::Provisioning { since, .. }
                if now_ms - since >= self.config.connect_timeout_ms as i64 =>
            {
                self.error = Some(Error::SinkTimeout);
                self.drop_connection(now_ms);
            }
            Conn::Provisioning { since, asked }
                if now_ms - asked >= self.config.ack_timeout_ms as i64 =>
            {
                self.ask_to_provision();
                self.conn = Conn::Provisioning {
                    since,
                    asked: now_ms,
                };
            }
            _ => {}
        }
    }

    /// Closes the connection on our side and schedules the next attempt.
    fn drop_connection(&mut self, now_ms: i64) {
        self.actions.push(Action::Close);
        self.lost(now_ms);
    }

    fn lost(&mut self, now_ms: i64) {
        let was_up = self.conn == Conn::Up;
        if self.in_flight > 0 {
            self.shrink_window();
        }
        if was_up {
            self.stats.disconnects += 1;
        }
        self.rewind_all(now_ms);
        if matches!(self.state, SinkState::Failed | SinkState::Closed) {
            self.conn = Conn::Down { at: None };
            return;
        }
        // A connection that got as far as logging in resets the backoff; the next server
        // is tried either way.
        if was_up {
            self.reconnects = 0;
        }
        let delay = self.backoff(self.reconnects);
        self.reconnects = self.reconnects.saturating_add(1);
        self.server = (self.server + 1) % self.config.servers.len();
        self.conn = Conn::Down {
            at: Some(now_ms + delay),
        };
        self.state = SinkState::Reconnecting;
    }

    fn shrink_window(&mut self) {
        self.window = (self.window / 2).max(1);
    }

    fn fail(&mut self, error: Error) {
        self.error = Some(error);
        self.state = SinkState::Failed;
        self.flush_out();
        self.actions.push(Action::Close);
        self.conn = Conn::Down { at: None };
    }

    /// Exponential backoff with jitter: a delay drawn from [d/2, d], d = initial·2^attempt
    /// capped at the maximum.
    fn backoff(&mut self, attempt: u32) -> i64 {
        let d = self
            .config
            .backoff_initial_ms
            .saturating_mul(1u64 << attempt.min(30))
            .min(self.config.backoff_max_ms);
        let half = d / 2;
        (half + u64::from(self.rng.next_u32()) % (d - half + 1)) as i64
    }

    fn log_in(&mut self, signed: Option<&SignedNonce>, now_ms: i64) {
        let options = ConnectOptions {
            name: self.config.name.clone(),
            echo: false,
            ..ConnectOptions::default()
        };
        if encode_connect(&mut self.out, &options, &self.config.credentials, signed).is_err() {
            self.fail(Error::SinkAuth);
            return;
        }
        self.out.extend_from_slice(PING);
        self.conn = Conn::LoggingIn { since: now_ms };
    }

    fn on_info(&mut self, info: ServerInfo, now_ms: i64) {
        if !matches!(self.conn, Conn::Opening { .. }) {
            // A later INFO (cluster changes, lame duck): keep its limits.
            self.parser.set_max_payload(info.max_payload);
            self.info = Some(info);
            return;
        }
        self.parser.set_max_payload(info.max_payload);
        let nonce = info.nonce.clone();
        self.info = Some(info);
        match (self.config.credentials.signing_seed(), nonce) {
            (Some(seed), Some(nonce)) => {
                let pkcs8 = seed.pkcs8_der();
                self.actions.push(Action::Sign {
                    nonce: nonce.into_bytes(),
                    pkcs8,
                });
                self.conn = Conn::Signing { since: now_ms };
            }
            _ => self.log_in(None, now_ms),
        }
    }

    fn logged_in(&mut self, now_ms: i64) {
        let mut wildcard = self.inbox.clone();
        wildcard.push_str(".>");
        if encode_sub(&mut self.out, &wildcard, None, SID).is_err() {
            self.fail(Error::SinkProtocol);
            return;
        }
        if self.config.provision {
            let request = self.provision_request();
            match request {
                Some(r) => {
                    self.provision = Some(r);
                    self.ask_to_provision();
                    self.conn = Conn::Provisioning {
                        since: now_ms,
                        asked: now_ms,
                    };
                }
                None => self.fail(Error::InvalidConfig {
                    field: "stream",
                    reason: "cannot be provisioned",
                }),
            }
            return;
        }
        self.up();
    }

    /// `STREAM.CREATE`'s subject and body: the partitions' subjects, the topic's
    /// replication factor and retention, the de-duplication window.
    fn provision_request(&self) -> Option<(String, Vec<u8>)> {
        let mut body = StreamConfig::new(&self.stream, alloc::vec![self.wildcard_subject()]);
        body.num_replicas = self.replication_factor.max(1);
        body.max_age_ns = self
            .retention_max_age_ms
            .map_or(0, |ms| ms.saturating_mul(1_000_000));
        body.max_bytes = self.retention_max_bytes;
        let window = self.config.duplicate_window_ms.saturating_mul(1_000_000);
        body.duplicate_window_ns = Some(if body.max_age_ns > 0 {
            window.min(body.max_age_ns)
        } else {
            window
        });
        let subject =
            jetstream::stream_create_subject(jetstream::DEFAULT_API_PREFIX, &self.stream).ok()?;
        Some((subject, body.to_json().ok()?))
    }

    fn ask_to_provision(&mut self) {
        if let Some((subject, json)) = &self.provision {
            let reply = Text::new().s(&self.inbox).s(".api").done();
            if encode_pub(&mut self.out, subject, Some(&reply), json).is_err() {
                self.fail(Error::SinkProtocol);
            }
        }
    }

    fn up(&mut self) {
        self.conn = Conn::Up;
        self.state = SinkState::Connected;
        self.stats.connects += 1;
        self.error = None;
    }

    fn wildcard_subject(&self) -> String {
        Text::new().s(&self.subject_prefix).s(".*").done()
    }

    // ---- server operations -------------------------------------------------------------

    fn on_op(&mut self, client: &mut Client, op: ServerOp, now_ms: i64) {
        match op {
            ServerOp::Info(info) => self.on_info(*info, now_ms),
            ServerOp::Ping => self.out.extend_from_slice(PONG),
            ServerOp::Pong => {
                if let Conn::LoggingIn { .. } = self.conn {
                    self.logged_in(now_ms);
                } else {
                    self.ping_sent_at = None;
                }
            }
            ServerOp::Ok => {}
            ServerOp::Err(e) => match e.kind {
                ServerErrorKind::Auth => self.fail(Error::SinkAuth),
                ServerErrorKind::PublishPermission => self.fail(Error::SinkPermission {
                    subject: e.permission_subject().unwrap_or("").to_owned(),
                }),
                _ if e.closes_connection() => {
                    self.error = Some(Error::SinkProtocol);
                    self.drop_connection(now_ms);
                }
                _ => {}
            },
            ServerOp::Msg(msg) => self.on_msg(client, msg, now_ms),
        }
    }

    fn on_msg(&mut self, client: &mut Client, msg: Msg, now_ms: i64) {
        let Some(rest) = msg
            .subject
            .strip_prefix(self.inbox.as_str())
            .and_then(|r| r.strip_prefix('.'))
        else {
            return;
        };
        if rest == "api" {
            if let Conn::Provisioning { .. } = self.conn {
                match jetstream::parse_stream_info(&msg) {
                    // Created, or already there (its config is the operator's).
                    Ok(_) => self.up(),
                    Err(JetStreamError::Api { err_code, .. })
                        if err_code == jetstream::err_code::STREAM_NAME_IN_USE =>
                    {
                        self.up()
                    }
                    // Not ready yet (no JetStream leader, a 503): asked again shortly.
                    Err(JetStreamError::NoResponders | JetStreamError::Status { .. }) => {}
                    Err(JetStreamError::Api { code, .. }) if code >= 500 => {}
                    Err(_) => self.fail(Error::InvalidConfig {
                        field: "provision",
                        reason: "JetStream refused to create the stream",
                    }),
                }
            }
            return;
        }
        let Some((p, offset)) = parse_reply(rest) else {
            return;
        };
        match parse_pub_ack(&msg) {
            Ok(ack) => {
                if ack.duplicate {
                    self.stats.duplicates += 1;
                }
                self.acked(client, p, offset, ack.seq, now_ms);
            }
            Err(JetStreamError::Api { err_code, .. })
                if err_code == jetstream::err_code::STREAM_NOT_MATCH =>
            {
                self.fail(Error::SinkWrongStream {
                    stream: self.stream.clone(),
                });
            }
            Err(e) => {
                self.stats.errors += 1;
                self.error = Some(if matches!(e, JetStreamError::NoResponders) {
                    Error::SinkNoStream {
                        stream: self.stream.clone(),
                    }
                } else {
                    Error::SinkRejected
                });
                self.retry(p, offset, now_ms);
            }
        }
    }

    // ---- delivery --------------------------------------------------------------------

    fn acked(&mut self, client: &mut Client, p: u32, offset: i64, seq: u64, now_ms: i64) {
        let Some(part) = self.parts.get_mut(p as usize) else {
            return;
        };
        let Some(front) = part.flights.front() else {
            return;
        };
        let Ok(i) = usize::try_from(offset - front.offset) else {
            return; // older than the window: a late ack of a record acknowledged already
        };
        let Some(f) = part.flights.get_mut(i) else {
            return;
        };
        if f.acked || f.offset != offset {
            return;
        }
        f.acked = true;
        part.last_seq = part.last_seq.max(seq);
        self.stats.acked += 1;
        if self.window < self.config.max_in_flight {
            self.window += 1;
        }
        if let Ok(logs) = client.logs_mut(&self.topic) {
            self.advance(p as usize, logs, now_ms);
        }
    }

    /// Pops the acknowledged (or given up) flights at the front of partition `p` and
    /// moves the log's cursor over them.
    fn advance(&mut self, p: usize, logs: &mut [PartitionLog], now_ms: i64) {
        let part = &mut self.parts[p];
        while part.flights.front().is_some_and(|f| f.acked) {
            part.flights.pop_front();
            self.in_flight -= 1;
            part.attempts = 0;
        }
        let cursor = part.flights.front().map_or(part.next, |f| f.offset);
        if let Some(log) = logs.get_mut(p) {
            log.ack(cursor, now_ms);
        }
    }

    /// Rewinds partition `p` to its first unacknowledged record after an error reply or
    /// timeout for `offset`, to be sent again after a backoff; gives the record up after
    /// `max_retries` attempts.
    fn retry(&mut self, p: u32, offset: i64, now_ms: i64) {
        let Some(first) = self
            .parts
            .get(p as usize)
            .and_then(|part| part.flights.front())
            .map(|f| f.offset)
        else {
            return;
        };
        // An error for a record already acknowledged is stale; any other rewinds the
        // partition from its first unacknowledged record.
        if offset < first {
            return;
        }
        let attempts = self.parts[p as usize].attempts.saturating_add(1);
        let delay = self.backoff(attempts.saturating_sub(1));
        let give_up = self.config.max_retries.is_some_and(|m| attempts > m);
        let part = &mut self.parts[p as usize];
        self.in_flight -= part.flights.len();
        part.flights.clear();
        part.next = first;
        part.attempts = attempts;
        part.hold_until = now_ms + delay;
        if give_up {
            // Given up (it is the first unacknowledged record: the cursor passes it at
            // the next poll), recorded as failed and reported.
            part.failed.push((first, first + 1));
            part.next = first + 1;
            part.attempts = 0;
            part.hold_until = 0;
            self.stats.failed_records += 1;
            self.error = Some(Error::SinkUndelivered {
                partition: p,
                from_offset: first,
                to_offset: first + 1,
            });
        }
    }

    fn rewind_all(&mut self, _now_ms: i64) {
        for part in &mut self.parts {
            if let Some(f) = part.flights.front() {
                part.next = f.offset;
            }
            part.flights.clear();
            part.hold_until = 0;
        }
        self.in_flight = 0;
        self.ping_sent_at = None;
    }

    fn check_timeouts(&mut self, logs: &mut [PartitionLog], now_ms: i64) {
        let ack = self.config.ack_timeout_ms as i64;
        if self.ping_sent_at.is_some_and(|t| now_ms - t >= ack) {
            // No PONG: the connection is dead or the server stalled. Replace it.
            self.stats.timeouts += 1;
            self.error = Some(Error::SinkTimeout);
            self.drop_connection(now_ms);
            return;
        }
        for p in 0..self.parts.len() {
            let Some(f) = self.parts[p].flights.front().copied() else {
                continue;
            };
            if now_ms - f.sent_at >= ack {
                self.stats.timeouts += 1;
                self.shrink_window();
                if self.ping_sent_at.is_none() {
                    self.out.extend_from_slice(PING);
                    self.ping_sent_at = Some(now_ms);
                }
                self.retry(p as u32, f.offset, now_ms);
            }
        }
        // Records retention dropped (UnackedPolicy::Drop) are the log's to count.
        for (part, log) in self.parts.iter_mut().zip(logs.iter()) {
            let start = log.log_start_offset();
            if part.next < start {
                part.next = start;
            }
        }
    }

    fn publish(&mut self, logs: &mut [PartitionLog], now_ms: i64) {
        let n = self.parts.len();
        if n == 0 {
            return;
        }
        let max_payload = self.info.as_ref().map_or(1 << 20, |i| i.max_payload);
        // Round robin over partitions, a chunk at a time, while the window has room.
        let mut idle = 0;
        while self.in_flight < self.window && idle < n {
            let p = self.cursor % n;
            self.cursor = (self.cursor + 1) % n;
            let part = &self.parts[p];
            let log = &logs[p];
            if part.hold_until > now_ms || part.next >= log.high_watermark() {
                idle += 1;
                continue;
            }
            let from = part.next.max(log.log_start_offset());
            let room = (self.window - self.in_flight).min(256);
            let records = match log.read(from, room) {
                Ok(r) => r,
                Err(_) => {
                    idle += 1;
                    continue;
                }
            };
            if records.is_empty() {
                idle += 1;
                continue;
            }
            idle = 0;
            for r in &records {
                self.publish_one(p as u32, r, max_payload, now_ms);
            }
        }
    }

    fn publish_one(&mut self, p: u32, r: &ConsumedRecord, max_payload: u64, now_ms: i64) {
        let headers = self.headers(p, r);
        let at_least_once = self.config.delivery == Delivery::AtLeastOnce;
        let size = crate::nats::message_size(Some(&headers), r.value.len()) as u64;
        let reply = at_least_once.then(|| {
            Text::new()
                .s(&self.inbox)
                .s(".")
                .u(p.into())
                .s(".")
                .i(r.offset)
                .done()
        });
        let subject = &self.parts[p as usize].subject;
        let written = size <= max_payload
            && encode_hpub(&mut self.out, subject, reply.as_deref(), &headers, &r.value).is_ok();
        let part = &mut self.parts[p as usize];
        part.next = r.offset + 1;
        if !written {
            // Larger than the server takes: given up, reported, never silently (once: a
            // rewind publishes it again).
            let known = part
                .failed
                .iter()
                .any(|&(from, to)| from <= r.offset && r.offset < to);
            if !known {
                part.failed.push((r.offset, r.offset + 1));
                self.stats.failed_records += 1;
                self.error = Some(Error::SinkUndelivered {
                    partition: p,
                    from_offset: r.offset,
                    to_offset: r.offset + 1,
                });
            }
        } else {
            self.stats.published += 1;
            if r.offset < part.sent_high {
                self.stats.resent += 1;
            }
            part.sent_high = part.sent_high.max(r.offset + 1);
            if !at_least_once {
                self.stats.acked += 1;
            }
        }
        // In flight keeps offset order: a given-up record behind unacknowledged ones
        // waits there, settled, until they are acknowledged.
        if at_least_once && (written || !part.flights.is_empty()) {
            part.flights.push_back(Flight {
                offset: r.offset,
                sent_at: now_ms,
                acked: !written,
            });
            self.in_flight += 1;
        }
        if self.out.len() >= 64 * 1024 {
            self.flush_out();
        }
    }

    /// Moves each log's cursor to its partition's first unacknowledged offset.
    fn sync_cursors(&mut self, logs: &mut [PartitionLog], now_ms: i64) {
        for (part, log) in self.parts.iter().zip(logs.iter_mut()) {
            let cursor = part.flights.front().map_or(part.next, |f| f.offset);
            log.ack(cursor, now_ms);
        }
    }

    fn headers(&self, p: u32, r: &ConsumedRecord) -> Headers {
        let mut h = Headers::new();
        let id = Text::new()
            .s(&self.config.msg_id_prefix)
            .s("-")
            .u(p.into())
            .s("-")
            .i(r.offset)
            .done();
        // Names and values below are valid by construction; a record header that is not
        // a valid NATS header name is carried base64-encoded with its name.
        let _ = h.append("Nats-Msg-Id", &id);
        let _ = h.append("Nats-Expected-Stream", &self.stream);
        if let Some(key) = &r.key {
            match header_text(key) {
                Some(k) => {
                    let _ = h.append("Tributary-Key", k);
                }
                None => {
                    let _ = h.append("Tributary-Key-Base64", &base64(key));
                }
            }
        }
        let _ = h.append("Tributary-Timestamp", &Text::new().i(r.timestamp).done());
        for rh in &r.headers {
            // A record header never speaks for the sink: a name JetStream or the sink's
            // own encoding reads (`Nats-*`, `Tributary-*`, `*-Base64`) is escaped.
            let ok_name =
                crate::nats::validate_header_name(&rh.name).is_ok() && !reserved_name(&rh.name);
            match (ok_name, header_text(&rh.value)) {
                (true, Some(v)) => {
                    let _ = h.append(&rh.name, v);
                }
                (true, None) => {
                    let name = Text::new().s(&rh.name).s("-Base64").done();
                    let _ = h.append(&name, &base64(&rh.value));
                }
                (false, _) => {
                    let v = Text::new()
                        .s(&base64(rh.name.as_bytes()))
                        .s(":")
                        .s(&base64(&rh.value))
                        .done();
                    let _ = h.append("Tributary-Header-Base64", &v);
                }
            }
        }
        h
    }

    fn flush_out(&mut self) {
        if !self.out.is_empty() && !matches!(self.conn, Conn::Down { .. }) {
            self.actions
                .push(Action::Send(core::mem::take(&mut self.out)));
        }
        self.out.clear();
    }
}

/// `<partition>.<offset>` from a reply subject's tail.
fn parse_reply(rest: &str) -> Option<(u32, i64)> {
    let (p, o) = rest.split_once('.')?;
    Some((p.parse().ok()?, o.parse().ok()?))
}

/// The bytes as a header value, if they are UTF-8 without control characters.
fn header_text(b: &[u8]) -> Option<&str> {
    let s = core::str::from_utf8(b).ok()?;
    (!s.chars().any(char::is_control) && s.trim() == s).then_some(s)
}

fn base64(data: &[u8]) -> String {
    crate::nats::nkey::base64url_encode(data)
}

/// A header name of JetStream's (`Nats-*`: ids, expectations, rollups) or of the sink's
/// own encoding (`Tributary-*`, `*-Base64`), in any case.
fn reserved_name(name: &str) -> bool {
    let n = name.as_bytes();
    let starts = |p: &[u8]| n.len() >= p.len() && n[..p.len()].eq_ignore_ascii_case(p);
    let ends = |p: &[u8]| n.len() >= p.len() && n[n.len() - p.len()..].eq_ignore_ascii_case(p);
    starts(b"nats-") || starts(b"tributary-") || ends(b"-base64")
}

/// `url` without the user information of its authority: `wss://u:p@host/x` is
/// `wss://host/x` (a URL that differs from it is refused).
fn without_userinfo(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = rest[..end]
        .rsplit_once('@')
        .map_or(&rest[..end], |(_, h)| h);
    Text::new()
        .s(scheme)
        .s(if scheme.is_empty() { "" } else { "://" })
        .s(host)
        .s(&rest[end..])
        .done()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TopicConfig;

    #[test]
    fn a_connection_closed_before_the_server_spoke_is_sink_connect_with_the_runtimes_reason() {
        let mut client = Client::new(1);
        client.create_topic("t", TopicConfig::default()).unwrap();
        // No credential in a URL: they would show in errors, stats and the runtime's words.
        let with_user = SinkConfig::new("wss://user:secret@127.0.0.1:1/x", "p");
        assert!(matches!(
            Sink::new(&mut client, "t", with_user, 1, 0),
            Err(Error::InvalidConfig {
                field: "servers",
                ..
            })
        ));
        let config = SinkConfig::new("wss://127.0.0.1:1/x", "p");
        let mut sink = Sink::new(&mut client, "t", config, 1, 0).unwrap();
        let open = sink.take_actions();
        assert!(matches!(&open[..], [Action::Open { .. }]));
        sink.on_error("unable to verify the first certificate\n(more)");
        sink.on_closed(5);
        assert_eq!(sink.state(), SinkState::Reconnecting);
        let e = sink.error().unwrap();
        assert_eq!(e.code(), "SINK_CONNECT");
        assert_eq!(
            e.message(),
            "could not connect to wss://127.0.0.1:1/x: unable to verify the first certificate (more)"
        );
        assert_eq!(sink.server(), "wss://127.0.0.1:1/x");
        // The next attempt closes with nothing said (a browser): the reason is not kept.
        sink.poll(&mut client, 10_000);
        assert!(matches!(&sink.take_actions()[..], [Action::Open { .. }]));
        sink.on_closed(10_001);
        assert_eq!(
            sink.error().unwrap().message(),
            "could not connect to wss://127.0.0.1:1/x (the connection closed before the server spoke)"
        );
        // A socket that never opens within connectTimeoutMs is a timeout, closed by us.
        sink.poll(&mut client, 30_000);
        assert!(matches!(&sink.take_actions()[..], [Action::Open { .. }]));
        sink.poll(&mut client, 30_000 + 10_000);
        assert_eq!(sink.error().unwrap().code(), "SINK_TIMEOUT");
    }

    #[test]
    fn record_headers_never_speak_for_the_sink() {
        let mut client = Client::new(1);
        client.create_topic("t", TopicConfig::default()).unwrap();
        let sink = Sink::new(&mut client, "t", SinkConfig::new("ws://h", "p"), 1, 0).unwrap();
        let header = |name: &str, value: &[u8]| crate::Header {
            name: name.into(),
            value: value.to_vec(),
        };
        let record = ConsumedRecord {
            offset: 7,
            key: None,
            value: b"v".to_vec(),
            timestamp: 1,
            headers: alloc::vec![
                header("Nats-Msg-Id", b"forged"),
                header("nats-rollup", b"all"),
                header("TRIBUTARY-Key", b"k"),
                header("X-Base64", b"aGk="),
                header("plain", b"text"),
                header("bin", &[0, 1]),
            ],
        };
        let h = sink.headers(0, &record);
        assert_eq!(h.get_all("Nats-Msg-Id").collect::<Vec<_>>(), ["p-0-7"]);
        assert_eq!(h.get("Nats-Rollup"), None);
        assert_eq!(h.get("Tributary-Key"), None);
        assert_eq!(h.get("X-Base64"), None);
        assert_eq!(h.get("plain"), Some("text"));
        assert_eq!(h.get("bin-Base64"), Some("AAE"));
        // The four reserved names are carried escaped, `<name base64>:<value base64>`.
        let escaped: Vec<_> = h.get_all("Tributary-Header-Base64").collect();
        assert_eq!(escaped.len(), 4);
        assert_eq!(escaped[0], "TmF0cy1Nc2ctSWQ:Zm9yZ2Vk");
    }

    #[test]
    fn urls_are_shown_without_user_information() {
        assert_eq!(without_userinfo("wss://u:p@h:443/x?y"), "wss://h:443/x?y");
        assert_eq!(without_userinfo("ws://a@b@h"), "ws://h");
        assert_eq!(without_userinfo("ws://h/p@q"), "ws://h/p@q");
        assert_eq!(without_userinfo("ws://h"), "ws://h");
        assert_eq!(without_userinfo("h@x"), "x");
    }
}
