//! `config`: the JS-facing configuration, as the bindings (`src/bindings/convert.rs`) hand
//! it to the core: a topic name and [`TopicConfig`], a [`ProducerConfig`], a record and
//! its send options, and the sink's [`SinkConfig`] with its credentials. The input is an
//! [`Input`], a mirror of those values derived with `arbitrary` (numbers in the ranges the
//! bindings let through, strings as JS would give them, the codec and partitioner names as
//! text for the core to parse).
//!
//! Checks:
//! - every config the documented rules refuse is an `Err` with the right code
//!   (`INVALID_TOPIC_NAME`, `INVALID_CONFIG` naming a bad field, `INVALID_TIMESTAMP`, ...),
//!   and every config they allow is taken: [`expect_*`](expected_topic_error) restate
//!   the rules (config.rs's table, the sink's settings) independently of the code;
//! - a valid config works end to end: the topic and producer are created, the record is
//!   sent, flushed and read back as sent (or evicted, only where retention says so); a
//!   valid sink logs in to a fake server (INFO, a signed nonce for nkey and `.creds`
//!   credentials, CONNECT read back as JSON, PONG, provisioning with `STREAM.CREATE`),
//!   publishes the record with its id, key, timestamp and headers, and moves the
//!   partition's cursor when the PubAck comes (or reports the record undelivered when the
//!   server's `max_payload` is too small, or lost where retention dropped it).

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use tributary::batch::{standalone_size, RecordRef};
use tributary::sink::{Action, Delivery, Sink, SinkConfig, SinkState};
use tributary::{
    murmur2_partition, partition_for_key, Client, Compression, Error, Header, PartitionerKind,
    ProduceRecord, ProducerConfig, RetentionConfig, TopicConfig, UnackedPolicy, MAX_SAFE_OFFSET,
};

/// The time of every call: a plausible `Date.now()`.
pub const NOW: i64 = 1_700_000_000_000;
/// The nonce of the fake server's `INFO`.
pub const NONCE: &str = "fQGSpTSuijJiWQM";
/// The msg id prefix the bindings draw when `msgIdPrefix` is not given.
pub const DEFAULT_MSG_ID_PREFIX: &str = "0123456789abcdef";

// ---- the input --------------------------------------------------------------------------

/// A JS string: a length (u16, little-endian), then that many bytes (invalid UTF-8
/// replaced, as a well-formed JS string cannot hold it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Str(pub String);

impl<'a> Arbitrary<'a> for Str {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let n = usize::from(u16::arbitrary(u)?).min(u.len());
        Ok(Str(String::from_utf8_lossy(u.bytes(n)?).into_owned()))
    }
}

/// Bytes (a string or `Uint8Array` in JS): a length (u16, little-endian), then the bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl<'a> Arbitrary<'a> for Bytes {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let n = usize::from(u16::arbitrary(u)?).min(u.len());
        Ok(Bytes(u.bytes(n)?.to_vec()))
    }
}

/// At most `N` items: a count byte (modulo `N + 1`), then the items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Few<T, const N: usize>(pub Vec<T>);

impl<'a, T: Arbitrary<'a>, const N: usize> Arbitrary<'a> for Few<T, N> {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let n = usize::from(u8::arbitrary(u)?) % (N + 1);
        (0..n)
            .map(|_| T::arbitrary(u))
            .collect::<Result<_, _>>()
            .map(Few)
    }
}

/// Everything a page hands the JS API for one topic, producer, record and sink.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// `createTopic(name, ...)`.
    pub topic: Str,
    /// `createTopic(.., config)`.
    pub topic_config: TopicIn,
    /// `topicProducer(.., config)`.
    pub producer: ProducerIn,
    /// `send(key, value, options)`.
    pub record: RecordIn,
    /// `connect(topic, options)`, before the record is sent.
    pub sink: Option<SinkIn>,
    /// What the bindings parse with the core's helpers before anything above exists.
    pub parsing: ParsingIn,
}

/// The pieces of `convert.rs`'s parsing that live in the core: the whole-number check
/// of every integer setting, the `unacked` and `delivery` spellings, and the choice of
/// credentials among `token`, `user`/`pass`, `creds`, `nkeySeed`.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct ParsingIn {
    /// A JS number: `f64::from_bits(bits)`, `int`, or `int + 0.5`, by `pick`.
    pub bits: u64,
    /// See `bits`.
    pub int: i64,
    /// See `bits`; also picks the range the bindings check against.
    pub pick: u8,
    /// `retention.unacked`.
    pub unacked: Str,
    /// `delivery`.
    pub delivery: Str,
    /// `token`.
    pub token: Option<Str>,
    /// `user`.
    pub user: Option<Str>,
    /// `pass`.
    pub pass: Option<Str>,
    /// `creds`.
    pub creds: Option<Str>,
    /// `nkeySeed`.
    pub nkey_seed: Option<Str>,
}

/// The ranges `convert.rs` checks integer settings against.
const RANGES: [(f64, f64); 4] = [
    (0.0, 4_294_967_295.0),
    (0.0, 9_007_199_254_740_991.0),
    (1.0, 65_536.0),
    (0.0, 2_147_483_647.0),
];

/// The parsing helpers against the rules, restated.
pub fn check_parsing(p: &ParsingIn) {
    use tributary::config::{whole_number, NumberError};
    let n = match p.pick % 3 {
        0 => f64::from_bits(p.bits),
        1 => p.int as f64,
        _ => p.int as f64 + 0.5,
    };
    let (min, max) = RANGES[usize::from(p.pick / 3) % RANGES.len()];
    let whole = n.is_finite() && n.trunc() == n;
    match whole_number(n, min, max) {
        Ok(v) => {
            assert!(
                whole && (min..=max).contains(&n),
                "{n} taken for {min}..={max}"
            );
            assert_eq!(v.to_bits(), n.to_bits());
        }
        Err(NumberError::NaN) => assert!(n.is_nan()),
        Err(NumberError::NotWhole) => assert!(!n.is_nan() && !whole, "{n} called not whole"),
        Err(NumberError::OutOfRange) => {
            assert!(
                whole && !(min..=max).contains(&n),
                "{n} called out of {min}..={max}"
            )
        }
    }

    let refused = |r: Result<(), Error>, field: &str| match r {
        Err(Error::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
        other => panic!("{other:?} for {field}"),
    };
    match p.unacked.0.as_str() {
        "keep" => assert_eq!(UnackedPolicy::parse("keep"), Ok(UnackedPolicy::Keep)),
        "drop" => assert_eq!(UnackedPolicy::parse("drop"), Ok(UnackedPolicy::Drop)),
        s => refused(UnackedPolicy::parse(s).map(drop), "retention.unacked"),
    }
    // `delivery` and the credentials are read by the package's JS (js/nats.js) now;
    // their fields stay in the input so the committed corpus keeps its meaning.
    let _ = (
        &p.delivery,
        &p.token,
        &p.user,
        &p.pass,
        &p.creds,
        &p.nkey_seed,
    );
}

/// `{ partitions, replicationFactor, compression, retention }`.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct TopicIn {
    /// Any whole number the bindings take (0..=2^32-1).
    pub partitions: u32,
    /// Likewise.
    pub replication_factor: u32,
    /// The codec's name.
    pub compression: Option<Str>,
    /// `retention`.
    pub retention: RetentionIn,
}

/// `{ maxAgeMs, maxBytes, maxRecords, segmentBytes, unacked }`, each 0..=2^53-1.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct RetentionIn {
    /// `maxAgeMs`.
    pub max_age_ms: Option<u64>,
    /// `maxBytes`.
    pub max_bytes: Option<u64>,
    /// `maxRecords`.
    pub max_records: Option<u64>,
    /// `segmentBytes`.
    pub segment_bytes: Option<u64>,
    /// `unacked: "drop"` (else `"keep"`).
    pub drop_unacked: bool,
}

/// `{ batchSize, linger, maxRequestSize, batchQueueSize, partitioner, compression }`.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct ProducerIn {
    /// `batchSize`.
    pub batch_size: u32,
    /// `linger` (0..=2^53-1).
    pub linger_ms: u64,
    /// `maxRequestSize`.
    pub max_request_size: u32,
    /// `batchQueueSize`.
    pub batch_queue_size: u32,
    /// The partitioner's name.
    pub partitioner: Option<Str>,
    /// The codec override's name.
    pub compression: Option<Str>,
}

/// One header of a record.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct HeaderIn {
    /// Its name.
    pub name: Str,
    /// Its value.
    pub value: Bytes,
}

/// `send(key, value, { timestamp, partition, headers })`.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct RecordIn {
    /// `null` or bytes.
    pub key: Option<Bytes>,
    /// The value.
    pub value: Bytes,
    /// `timestamp` (the core checks its range).
    pub timestamp: Option<i64>,
    /// `partition`.
    pub partition: Option<u32>,
    /// `headers`.
    pub headers: Few<HeaderIn, 2>,
}

/// The credentials options: at most one kind (the bindings refuse a mix).
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum CredsIn {
    /// None given.
    None,
    /// `token`.
    Token(Str),
    /// `user`, `pass`.
    UserPassword(Str, Str),
    /// `creds`: the text of a `.creds` file.
    Creds(Str),
    /// `nkeySeed`.
    NkeySeed(Str),
}

/// `connect(topic, { servers, stream, subjectPrefix, ..., })`, and the fake server's
/// `max_payload`.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct SinkIn {
    /// `servers`.
    pub servers: Few<Str, 3>,
    /// `stream`.
    pub stream: Option<Str>,
    /// `subjectPrefix`.
    pub subject_prefix: Option<Str>,
    /// `token` | `user`/`pass` | `creds` | `nkeySeed`.
    pub credentials: CredsIn,
    /// `delivery: "at-most-once"`.
    pub at_most_once: bool,
    /// `maxRetries`.
    pub max_retries: Option<u32>,
    /// `ackTimeoutMs` (0..=2^53-1, as every duration below).
    pub ack_timeout_ms: u64,
    /// `connectTimeoutMs`.
    pub connect_timeout_ms: u64,
    /// `backoffInitialMs`.
    pub backoff_initial_ms: u64,
    /// `backoffMaxMs`.
    pub backoff_max_ms: u64,
    /// `maxInFlight`.
    pub max_in_flight: u32,
    /// `provision`.
    pub provision: bool,
    /// `duplicateWindowMs`.
    pub duplicate_window_ms: u64,
    /// `msgIdPrefix` (default: drawn by the bindings).
    pub msg_id_prefix: Option<Str>,
    /// `name`.
    pub name: Option<Str>,
    /// The fake server's `max_payload` (at least 1024, so its replies fit).
    pub max_payload: u64,
}

/// A whole number the bindings let through for a duration or a retention bound.
fn safe(v: u64) -> u64 {
    v & MAX_SAFE_OFFSET as u64
}

impl RetentionIn {
    /// The core's value.
    pub fn config(&self) -> RetentionConfig {
        RetentionConfig {
            max_age_ms: self.max_age_ms.map(safe),
            max_bytes: self.max_bytes.map(safe),
            max_records: self.max_records.map(safe),
            segment_bytes: self.segment_bytes.map(safe),
            unacked: if self.drop_unacked {
                UnackedPolicy::Drop
            } else {
                UnackedPolicy::Keep
            },
        }
    }
}

impl SinkIn {
    /// The core's value, as `js/nats.js` hands it over (`sinkOpen`): the numbers; the
    /// URLs, names and credentials are the JS side's to check.
    pub fn config(&self) -> SinkConfig {
        SinkConfig {
            servers: self.servers.0.len(),
            delivery: if self.at_most_once {
                Delivery::AtMostOnce
            } else {
                Delivery::AtLeastOnce
            },
            max_retries: self.max_retries,
            ack_timeout_ms: safe(self.ack_timeout_ms),
            connect_timeout_ms: safe(self.connect_timeout_ms),
            backoff_initial_ms: safe(self.backoff_initial_ms),
            backoff_max_ms: safe(self.backoff_max_ms),
            max_in_flight: self.max_in_flight as usize,
        }
    }
}

// ---- the rules, restated ------------------------------------------------------------------

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Whether the rules allow `name` as a topic name: 1..=63 of `[A-Za-z0-9_-]`.
pub fn valid_topic_name(name: &str) -> bool {
    (1..=63).contains(&name.len()) && name.bytes().all(is_name_char)
}

/// The fields of a topic config the rules refuse.
pub fn topic_config_errors(c: &TopicConfig) -> Vec<&'static str> {
    let mut bad = Vec::new();
    if !(1..=65_536).contains(&c.partitions) {
        bad.push("partitions");
    }
    if !(1..=5).contains(&c.replication_factor) {
        bad.push("replicationFactor");
    }
    let r = &c.retention;
    for (v, field) in [
        (r.max_age_ms, "retention.maxAgeMs"),
        (r.max_bytes, "retention.maxBytes"),
        (r.max_records, "retention.maxRecords"),
        (r.segment_bytes, "retention.segmentBytes"),
    ] {
        if v == Some(0) {
            bad.push(field);
        }
    }
    bad
}

/// The fields of a producer config the rules refuse.
pub fn producer_config_errors(c: &ProducerConfig) -> Vec<&'static str> {
    let mut bad = Vec::new();
    if c.batch_size == 0 {
        bad.push("batchSize");
    }
    if !(1..=1 << 30).contains(&c.max_request_size) {
        bad.push("maxRequestSize");
    }
    if c.batch_queue_size == 0 {
        bad.push("batchQueueSize");
    }
    if c.linger_ms > 3_600_000 {
        bad.push("linger");
    }
    bad
}

/// Whether JetStream takes `name` as a stream name.
pub fn valid_stream_name(name: &str) -> bool {
    (1..=255).contains(&name.len())
        && !name.bytes().any(|c| {
            c.is_ascii_whitespace()
                || c.is_ascii_control()
                || matches!(c, b'.' | b'*' | b'>' | b'/' | b'\\')
        })
}

/// Whether `s` is a subject one may publish to.
pub fn valid_publish_subject(s: &str) -> bool {
    !s.is_empty()
        && !s
            .bytes()
            .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
        && s.split('.').all(|t| !t.is_empty() && t != "*" && t != ">")
}

/// The fields of a sink config the rules refuse.
pub fn sink_config_errors(c: &SinkConfig) -> Vec<&'static str> {
    let mut bad = Vec::new();
    if c.servers == 0 {
        bad.push("servers");
    }
    if !(1..=1 << 20).contains(&c.max_in_flight) {
        bad.push("maxInFlight");
    }
    if c.ack_timeout_ms == 0 {
        bad.push("ackTimeoutMs");
    }
    if c.connect_timeout_ms == 0 {
        bad.push("connectTimeoutMs");
    }
    if c.backoff_initial_ms == 0 || c.backoff_max_ms < c.backoff_initial_ms {
        bad.push("backoff");
    }
    bad
}

/// `result` is `Err(InvalidConfig)` naming one of `bad`, or `Ok` when `bad` is empty.
fn expect_config<T: std::fmt::Debug>(what: &str, result: &Result<T, Error>, bad: &[&str]) {
    match result {
        Ok(_) => assert!(bad.is_empty(), "{what}: taken, but {bad:?} are bad"),
        Err(Error::InvalidConfig { field, .. }) => {
            assert!(
                bad.contains(field),
                "{what}: refused {field}, bad are {bad:?}"
            );
        }
        Err(e) => panic!("{what}: unexpected error {e:?}"),
    }
}

fn parse_codec(name: &Option<Str>) -> Option<Result<Compression, Error>> {
    name.as_ref().map(|n| {
        let parsed = Compression::parse(&n.0);
        let known = ["none", "gzip", "snappy", "lz4"].contains(&n.0.as_str());
        match &parsed {
            Ok(c) => assert!(known && c.name() == n.0, "codec {:?}", n.0),
            Err(e) => assert!(!known && e.code() == "INVALID_CONFIG", "codec {:?}", n.0),
        }
        parsed
    })
}

// ---- the check ---------------------------------------------------------------------------

/// The fuzz target's check.
pub fn check(input: &Input) {
    check_parsing(&input.parsing);
    let topic = input.topic.0.as_str();
    let mut client = Client::new(42);

    // createTopic
    let Ok(compression) = parse_codec(&input.topic_config.compression).transpose() else {
        return;
    };
    let tc = TopicConfig {
        partitions: input.topic_config.partitions,
        replication_factor: input.topic_config.replication_factor,
        retention: input.topic_config.retention.config(),
        compression: compression.unwrap_or_default(),
    };
    let created = client.create_topic(topic, tc);
    if !valid_topic_name(topic) {
        assert!(
            matches!(created, Err(Error::InvalidTopicName { .. })),
            "topic {topic:?}: {created:?}"
        );
        assert_eq!(created.unwrap_err().code(), "INVALID_TOPIC_NAME");
        return;
    }
    expect_config("createTopic", &created, &topic_config_errors(&tc));
    if created.is_err() {
        return;
    }
    assert_eq!(client.topic_config(topic), Ok(&tc));
    assert_eq!(
        client.create_topic(topic, tc),
        Err(Error::TopicExists {
            topic: topic.to_owned()
        })
    );

    // connect (before the record, so the sink tracks it from the start)
    let mut sink = match &input.sink {
        None => None,
        Some(s) => match connect(&mut client, topic, &tc, s) {
            Some(fake) => Some(fake),
            None => return,
        },
    };

    // topicProducer
    let p = &input.producer;
    let Ok(codec) = parse_codec(&p.compression).transpose() else {
        return;
    };
    let partitioner = p.partitioner.as_ref().map(|n| {
        let parsed = PartitionerKind::parse(&n.0);
        assert_eq!(
            parsed.is_ok(),
            n.0 == "siphash" || n.0 == "murmur2",
            "partitioner {:?}",
            n.0
        );
        parsed
    });
    let Ok(partitioner) = partitioner.transpose() else {
        return;
    };
    let pc = ProducerConfig {
        batch_size: p.batch_size as usize,
        linger_ms: safe(p.linger_ms),
        max_request_size: p.max_request_size as usize,
        batch_queue_size: p.batch_queue_size as usize,
        partitioner: partitioner.unwrap_or_default(),
        compression: codec,
    };
    let producer = client.topic_producer(topic, pc);
    expect_config("topicProducer", &producer, &producer_config_errors(&pc));
    let Ok(producer) = producer else {
        return;
    };

    // send
    let r = &input.record;
    let record = ProduceRecord {
        key: r.key.as_ref().map(|k| k.0.clone()),
        value: r.value.0.clone(),
        timestamp: r.timestamp,
        headers: r
            .headers
            .0
            .iter()
            .map(|h| Header {
                name: h.name.0.clone(),
                value: h.value.0.clone(),
            })
            .collect(),
        partition: r.partition,
    };
    let timestamp = r.timestamp.unwrap_or(NOW);
    let sent = client.send(producer, &record, NOW);
    let size = standalone_size(&RecordRef {
        key: record.key.as_deref(),
        value: &record.value,
        timestamp,
        headers: &record.headers,
    });
    if !(0..=MAX_SAFE_OFFSET).contains(&timestamp) {
        assert_eq!(sent, Err(Error::InvalidTimestamp(timestamp)));
        return;
    }
    if let Some(explicit) = r.partition.filter(|&n| n >= tc.partitions) {
        assert_eq!(
            sent,
            Err(Error::PartitionOutOfRange {
                partition: explicit,
                partition_count: tc.partitions
            })
        );
        return;
    }
    if size > pc.max_request_size {
        assert_eq!(
            sent,
            Err(Error::RecordTooLarge {
                size,
                max_request_size: pc.max_request_size
            })
        );
        return;
    }
    let receipt = sent.unwrap_or_else(|e| panic!("send refused a valid record: {e:?}"));
    let partition = receipt.partition;
    match (r.partition, &record.key) {
        (Some(n), _) => assert_eq!(partition, n),
        (None, Some(k)) => assert_eq!(
            partition,
            match pc.partitioner {
                PartitionerKind::SipHash => partition_for_key(k, tc.partitions),
                PartitionerKind::Murmur2 => murmur2_partition(k, tc.partitions),
            }
        ),
        (None, None) => assert!(partition < tc.partitions),
    }
    assert_eq!(receipt.timestamp, timestamp);

    // flush, read back
    let outcome = client.flush(NOW);
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
    let offset = outcome
        .offset_of(producer, &receipt)
        .expect("flush appends the record");
    assert_eq!(offset, 0);
    let keeps = sink.is_some() && !input.topic_config.retention.drop_unacked;
    match client.read(topic, partition, offset, 10) {
        Ok(records) => {
            assert_eq!(records.len(), 1);
            let got = &records[0];
            assert_eq!(got.offset, offset);
            assert_eq!(got.key, record.key);
            assert_eq!(got.value, record.value);
            assert_eq!(got.timestamp, timestamp);
            assert_eq!(got.headers, record.headers);
        }
        Err(Error::OffsetEvicted { next_available, .. }) => {
            // Only a byte bound smaller than the batch removes a lone fresh record, and
            // only when no sink keeps it.
            assert!(
                !keeps,
                "evicted though the sink keeps unacknowledged records"
            );
            assert!(
                tc.retention.max_bytes.is_some(),
                "evicted without a byte bound"
            );
            assert_eq!(next_available, offset + 1);
        }
        Err(e) => panic!("read: {e:?}"),
    }

    if let Some(fake) = &mut sink {
        fake.deliver(&mut client, &record, partition, offset, timestamp);
    }
}

// ---- the sink and a fake host ----------------------------------------------------------

/// A connected sink and what the check needs to know about it.
pub struct Fake {
    sink: Sink,
    topic: String,
    at_most_once: bool,
    max_payload: u64,
}

/// `Tributary.connect`: the sink config checked against the rules, then (when valid) a
/// connection the host reports ready. `None` when the config is refused.
fn connect(client: &mut Client, topic: &str, _tc: &TopicConfig, s: &SinkIn) -> Option<Fake> {
    let config = s.config();
    let bad = sink_config_errors(&config);
    let created = Sink::new(client, topic, config, 7, NOW);
    expect_config("connect", &created, &bad);
    let mut sink = created.ok()?;
    assert_eq!(sink.state(), SinkState::Connecting);
    assert_eq!(sink.take_actions(), [Action::Open { server: 0 }]);
    sink.on_up(NOW);
    assert_eq!(sink.state(), SinkState::Connected);
    Some(Fake {
        sink,
        topic: topic.to_owned(),
        at_most_once: s.at_most_once,
        max_payload: s.max_payload.max(1024),
    })
}

impl Fake {
    /// The record at `offset` of `partition` is handed out as sent, and its ack moves the
    /// cursor; or it is reported lost (retention) or given up (too large for the host).
    fn deliver(
        &mut self,
        client: &mut Client,
        record: &ProduceRecord,
        partition: u32,
        offset: i64,
        timestamp: i64,
    ) {
        let mut out = Vec::new();
        self.sink
            .poll(client, NOW, &mut |p, r| out.push((p, r.clone())));
        let info = client.partition_info(&self.topic, partition).unwrap();
        if info.lost_records == 1 {
            // Dropped by retention before the sink saw it: counted, not sent.
            assert!(out.is_empty(), "{out:?}");
            assert_eq!(info.acked_offset, Some(offset + 1));
            return;
        }
        assert_eq!(info.lost_records, 0);
        let [(p, got)] = &out[..] else {
            panic!("one record handed out: {out:?}");
        };
        assert_eq!((*p, got.offset), (partition, offset));
        assert_eq!(got.key, record.key);
        assert_eq!(got.value, record.value);
        assert_eq!(got.timestamp, timestamp);
        assert_eq!(got.headers, record.headers);
        if record.value.len() as u64 > self.max_payload {
            // Too large for the server: the host says so; given up and reported.
            self.sink.on_too_large(client, partition, offset, NOW);
            assert_eq!(self.sink.given_up(partition), [offset]);
            assert_eq!(self.sink.stats().failed_records, 1);
            assert_eq!(
                self.sink.take_actions(),
                [Action::GivenUp { partition, offset }]
            );
            let mut events = Vec::new();
            self.sink
                .take_acked(&mut |a| events.push((a.partition, a.given_up.to_vec())));
            assert_eq!(events, [(partition, vec![offset])]);
        } else {
            let acked = if self.at_most_once {
                0
            } else {
                self.sink.on_ack(client, partition, offset, 1, false, NOW);
                1
            };
            assert_eq!(self.sink.stats().acked, 1);
            let mut events = Vec::new();
            self.sink.take_acked(&mut |a| {
                events.push((a.partition, a.acked_offset, a.stream_seq, a.given_up.len()))
            });
            assert_eq!(events, [(partition, offset + 1, acked, 0)]);
        }
        assert_eq!(
            client
                .partition_info(&self.topic, partition)
                .unwrap()
                .acked_offset,
            Some(offset + 1)
        );
        assert_eq!(self.sink.state(), SinkState::Connected);
    }
}
