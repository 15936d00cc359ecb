//! The committed seed corpus, `fuzz/corpus/<target>/<name>`, made by
//! `cargo run --manifest-path fuzz/Cargo.toml --example gen_corpus`. Deterministic: the
//! same files every run. Real inputs: batches from our own encoder with each codec (and
//! damaged copies), valid and invalid configs.

use libfuzzer_sys::arbitrary::{Arbitrary, Unstructured};
use tributary::batch::{BatchBuilder, RecordRef};
use tributary::config::Compression;
use tributary::sink::{Delivery, SinkConfig};
use tributary::Header;

use crate::config::{
    Bytes, CredsIn, Few, HeaderIn, Input, ParsingIn, ProducerIn, RecordIn, RetentionIn, SinkIn,
    Str, TopicIn,
};

/// One seed: its target, file name and bytes.
pub type Seed = (&'static str, String, Vec<u8>);

/// Every seed of every target.
pub fn all() -> Vec<Seed> {
    let mut out = Vec::new();
    batch(&mut out);
    regressions(&mut out);
    config(&mut out);
    out
}

// ---- batch_decode --------------------------------------------------------------------

/// A record for the batch encoder: key, value, timestamp, headers.
type Rec<'a> = (Option<&'a [u8]>, &'a [u8], i64, &'a [Header]);

fn encode(records: &[Rec<'_>], codec: Compression) -> Vec<u8> {
    let mut b = BatchBuilder::new();
    for (key, value, timestamp, headers) in records {
        assert!(b.push(&RecordRef {
            key: *key,
            value,
            timestamp: *timestamp,
            headers,
        }));
    }
    let mut e = b.finish(codec);
    e.set_base_offset(40);
    e.into_bytes()
}

fn batch(out: &mut Vec<Seed>) {
    let headers = [
        Header {
            name: "trace".into(),
            value: b"abc-123".to_vec(),
        },
        Header {
            name: "bin".into(),
            value: vec![0, 255, 7],
        },
    ];
    let text = b"the quick brown fox jumps over the lazy dog; the quick brown fox again".as_slice();
    let binary: Vec<u8> = (0..=255u8).collect();
    let sets: Vec<(&str, Vec<Rec<'_>>)> = vec![
        ("empty", vec![]),
        (
            "one",
            vec![(None, b"hello".as_slice(), 1_700_000_000_000, &[])],
        ),
        (
            "keys",
            vec![
                (None, b"a".as_slice(), 10, &[]),
                (Some(b"".as_slice()), b"b".as_slice(), 11, &[]),
                (Some(b"user-42".as_slice()), text, 9, &[]),
            ],
        ),
        (
            "headers",
            vec![
                (Some(b"k".as_slice()), b"v".as_slice(), 5, &headers[..]),
                (None, &binary[..], 2_000_000_005, &headers[1..]),
            ],
        ),
        (
            "many",
            (0..24)
                .map(|i| {
                    (
                        Some(b"click".as_slice()),
                        text,
                        1_700_000_000_000 + i * 37,
                        &[][..],
                    )
                })
                .collect(),
        ),
    ];
    for (codec, cname) in [
        (Compression::None, "none"),
        (Compression::Gzip, "gzip"),
        (Compression::Snappy, "snappy"),
        (Compression::Lz4, "lz4"),
    ] {
        for (name, records) in &sets {
            let bytes = encode(records, codec);
            let mut seed = vec![0u8];
            seed.extend_from_slice(&bytes);
            out.push(("batch_decode", format!("{cname}-{name}"), seed));
        }
    }
    // Damaged copies (flags 1: length and CRC rewritten, so the damage is what fails).
    let good = encode(&sets[2].1, Compression::None);
    let gz = encode(&sets[4].1, Compression::Gzip);
    let mut damaged: Vec<(&str, u8, Vec<u8>)> = Vec::new();
    damaged.push(("truncated", 0, good[..good.len() - 3].to_vec()));
    let mut crc = good.clone();
    *crc.last_mut().unwrap() ^= 1;
    damaged.push(("crc", 0, crc));
    let mut magic = good.clone();
    magic[16] = 1;
    damaged.push(("magic", 1, magic));
    let mut codec = good.clone();
    codec[22] = 5;
    damaged.push(("codec-5", 1, codec));
    let mut trailing = good.clone();
    trailing.push(0);
    damaged.push(("trailing", 1, trailing));
    let mut count = good.clone();
    count[60] = 7;
    damaged.push(("count", 1, count));
    let mut lod = good.clone();
    lod[26] = 9;
    damaged.push(("last-offset-delta", 1, lod));
    let mut varint = good.clone();
    varint[61] = 0xff;
    damaged.push(("varint", 1, varint));
    damaged.push(("gzip-cut", 1, gz[..gz.len() - 10].to_vec()));
    damaged.push(("gzip-limit-64", 2, gz.clone()));
    damaged.push(("gzip-limit-max", 6, gz));
    let lz = encode(&sets[4].1, Compression::Lz4);
    damaged.push(("lz4-limit-4096", 4, lz));
    let mut two = good.clone();
    two.extend_from_slice(&good);
    damaged.push(("two-batches", 0, two));
    for (name, flags, bytes) in damaged {
        let mut seed = vec![flags];
        seed.extend_from_slice(&bytes);
        out.push(("batch_decode", format!("bad-{name}"), seed));
    }
}

// ---- what fuzzing found (each also a test in tests/fuzz_regressions.rs) ---------------

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn regressions(out: &mut Vec<Seed>) {
    // decode_batch(gzip batch, usize::MAX): `limit + 1` overflowed (a panic with debug
    // assertions, a decompression limit of 0 without).
    out.push((
        "batch_decode",
        "regression-limit-usize-max".into(),
        hex(concat!(
            "ff250000000000002800000112ffffffff02b42214580001000000170000ffffffffffff1f8b0800",
            "0000000000ffb5ccbb0ec16018c6f1efabaaaa1211111191372222226ec01db88b3a9feb7cba0053",
            "2731994c4d2793d164329a4c6232194d2651bbb1cff624cf3f3fc658d4e48c31ae943bcd72dbe0e3",
            "466ec09506221db88b3a9feb7cba00532732994c4d2793d164329a4c62111191372222226ec01db8",
            "8b3a9feb7cba005327943bcd72db000000000000002800000045ffffffff02d31f76020001ffffff",
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff1f8b08000000000000",
            "ff6360606000001cdf4421040000000000000000ffb5ccbb0ec16018c6f1efabaaaa121111119137",
            "2222226ec0ded41c4035fd79a7",
        )),
    ));
}

// Credentials the config seeds carry (the JS side reads them now; the fields keep the
// corpus's shape): the nkeys project's documented user seed, a JWT-shaped token, and an
// account seed, as `nsc` writes them.
const DOC_SEED: &str = "SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY";
const JWT: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVIn0.c2ln";

fn creds_file(jwt: &str, seed: &str) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
    )
}

fn account_seed() -> String {
    "SAAH2PP6CDL5KKCN2NFWHVQ6GUXCDASRTR2CVBDJ2NHSH7OOWDLLSSTVBU".into()
}

// ---- config ----------------------------------------------------------------------------

/// Writes a value the way `arbitrary` reads it back (the seeds are checked by reading
/// them back: see `examples/gen_corpus.rs`).
pub trait Enc {
    /// Appends the encoding.
    fn enc(&self, out: &mut Vec<u8>);
}

impl Enc for u32 {
    fn enc(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Enc for u64 {
    fn enc(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Enc for i64 {
    fn enc(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Enc for u8 {
    fn enc(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }
}

impl Enc for bool {
    fn enc(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl<T: Enc> Enc for Option<T> {
    fn enc(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.enc(out);
            }
        }
    }
}

impl Enc for Str {
    fn enc(&self, out: &mut Vec<u8>) {
        (self.0.len() as u16)
            .to_le_bytes()
            .iter()
            .for_each(|b| out.push(*b));
        out.extend_from_slice(self.0.as_bytes());
    }
}

impl Enc for Bytes {
    fn enc(&self, out: &mut Vec<u8>) {
        (self.0.len() as u16)
            .to_le_bytes()
            .iter()
            .for_each(|b| out.push(*b));
        out.extend_from_slice(&self.0);
    }
}

impl<T: Enc, const N: usize> Enc for Few<T, N> {
    fn enc(&self, out: &mut Vec<u8>) {
        assert!(self.0.len() <= N);
        out.push(self.0.len() as u8);
        self.0.iter().for_each(|v| v.enc(out));
    }
}

/// The `u32` that derived `arbitrary` maps to variant `index` of `count`.
fn variant(index: u32, count: u32, out: &mut Vec<u8>) {
    let v = ((u64::from(index) << 32).div_ceil(u64::from(count))) as u32;
    assert_eq!((u64::from(v) * u64::from(count)) >> 32, u64::from(index));
    v.enc(out);
}

impl Enc for Input {
    fn enc(&self, out: &mut Vec<u8>) {
        self.topic.enc(out);
        let t = &self.topic_config;
        t.partitions.enc(out);
        t.replication_factor.enc(out);
        t.compression.enc(out);
        let r = &t.retention;
        r.max_age_ms.enc(out);
        r.max_bytes.enc(out);
        r.max_records.enc(out);
        r.segment_bytes.enc(out);
        r.drop_unacked.enc(out);
        let p = &self.producer;
        p.batch_size.enc(out);
        p.linger_ms.enc(out);
        p.max_request_size.enc(out);
        p.batch_queue_size.enc(out);
        p.partitioner.enc(out);
        p.compression.enc(out);
        let r = &self.record;
        r.key.enc(out);
        r.value.enc(out);
        r.timestamp.enc(out);
        r.partition.enc(out);
        r.headers.enc(out);
        self.sink.enc(out);
        let p = &self.parsing;
        p.bits.enc(out);
        p.int.enc(out);
        p.pick.enc(out);
        p.unacked.enc(out);
        p.delivery.enc(out);
        p.token.enc(out);
        p.user.enc(out);
        p.pass.enc(out);
        p.creds.enc(out);
        p.nkey_seed.enc(out);
    }
}

impl Enc for HeaderIn {
    fn enc(&self, out: &mut Vec<u8>) {
        self.name.enc(out);
        self.value.enc(out);
    }
}

impl Enc for SinkIn {
    fn enc(&self, out: &mut Vec<u8>) {
        self.servers.enc(out);
        self.stream.enc(out);
        self.subject_prefix.enc(out);
        match &self.credentials {
            CredsIn::None => variant(0, 5, out),
            CredsIn::Token(t) => {
                variant(1, 5, out);
                t.enc(out);
            }
            CredsIn::UserPassword(u, p) => {
                variant(2, 5, out);
                u.enc(out);
                p.enc(out);
            }
            CredsIn::Creds(c) => {
                variant(3, 5, out);
                c.enc(out);
            }
            CredsIn::NkeySeed(s) => {
                variant(4, 5, out);
                s.enc(out);
            }
        }
        self.at_most_once.enc(out);
        self.max_retries.enc(out);
        self.ack_timeout_ms.enc(out);
        self.connect_timeout_ms.enc(out);
        self.backoff_initial_ms.enc(out);
        self.backoff_max_ms.enc(out);
        self.max_in_flight.enc(out);
        self.provision.enc(out);
        self.duplicate_window_ms.enc(out);
        self.msg_id_prefix.enc(out);
        self.name.enc(out);
        self.max_payload.enc(out);
    }
}

fn s(v: &str) -> Str {
    Str(v.into())
}

/// The defaults a page gets with `{}` everywhere: topic `clicks`, one partition.
pub fn base() -> Input {
    Input {
        topic: s("clicks"),
        topic_config: TopicIn {
            partitions: 1,
            replication_factor: 1,
            compression: None,
            retention: RetentionIn {
                max_age_ms: None,
                max_bytes: None,
                max_records: None,
                segment_bytes: None,
                drop_unacked: false,
            },
        },
        producer: ProducerIn {
            batch_size: 16_384,
            linger_ms: 0,
            max_request_size: 1 << 20,
            batch_queue_size: 100,
            partitioner: None,
            compression: None,
        },
        record: RecordIn {
            key: Some(Bytes(b"user-42".to_vec())),
            value: Bytes(b"{\"page\":\"/\",\"x\":10}".to_vec()),
            timestamp: None,
            partition: None,
            headers: Few(vec![]),
        },
        sink: None,
        parsing: ParsingIn {
            bits: 1.5f64.to_bits(),
            int: 16_384,
            pick: 1,
            unacked: s("keep"),
            delivery: s("at-least-once"),
            token: None,
            user: None,
            pass: None,
            creds: None,
            nkey_seed: None,
        },
    }
}

/// A sink on `ws://127.0.0.1:8080` with the defaults.
pub fn base_sink() -> SinkIn {
    // The core's defaults, as the bindings start from them.
    let d = SinkConfig::default();
    SinkIn {
        servers: Few(vec![s("ws://127.0.0.1:8080")]),
        stream: None,
        subject_prefix: None,
        credentials: CredsIn::None,
        at_most_once: d.delivery == Delivery::AtMostOnce,
        max_retries: d.max_retries,
        ack_timeout_ms: d.ack_timeout_ms,
        connect_timeout_ms: d.connect_timeout_ms,
        backoff_initial_ms: d.backoff_initial_ms,
        backoff_max_ms: d.backoff_max_ms,
        max_in_flight: d.max_in_flight as u32,
        provision: false,
        duplicate_window_ms: 120_000,
        msg_id_prefix: None,
        name: None,
        max_payload: 1 << 20,
    }
}

/// The config seeds, by name.
pub fn configs() -> Vec<(&'static str, Input)> {
    let mut v: Vec<(&'static str, Input)> = Vec::new();
    let mut add = |name, f: &dyn Fn(&mut Input)| {
        let mut i = base();
        f(&mut i);
        v.push((name, i));
    };
    // Valid.
    add("defaults", &|_| {});
    add("topic-full", &|i| {
        i.topic = s("page-views_2024");
        i.topic_config.partitions = 7;
        i.topic_config.replication_factor = 3;
        i.topic_config.compression = Some(s("gzip"));
        i.topic_config.retention = RetentionIn {
            max_age_ms: Some(86_400_000),
            max_bytes: Some(1 << 24),
            max_records: Some(10_000),
            segment_bytes: Some(1 << 16),
            drop_unacked: true,
        };
    });
    add("producer-full", &|i| {
        i.producer = ProducerIn {
            batch_size: 1,
            linger_ms: 3_600_000,
            max_request_size: 1 << 30,
            batch_queue_size: 1,
            partitioner: Some(s("murmur2")),
            compression: Some(s("lz4")),
        };
    });
    add("snappy-keyless-explicit", &|i| {
        i.topic_config.partitions = 65_536;
        i.producer.compression = Some(s("snappy"));
        i.record.key = None;
        i.record.partition = Some(65_535);
        i.record.timestamp = Some(0);
    });
    add("record-headers", &|i| {
        i.record.key = Some(Bytes(vec![0, 159, 146, 150]));
        i.record.headers = Few(vec![
            HeaderIn {
                name: s("trace-id"),
                value: Bytes(b"abc".to_vec()),
            },
            HeaderIn {
                name: s("bin:ary name"),
                value: Bytes(vec![0, 1, 255]),
            },
        ]);
        i.record.timestamp = Some((1 << 53) - 1);
    });
    add("tiny-max-bytes", &|i| {
        i.topic_config.retention.max_bytes = Some(10);
    });
    // Invalid topic and producer configs.
    add("bad-topic-empty", &|i| i.topic = s(""));
    add("bad-topic-long", &|i| i.topic = s(&"t".repeat(64)));
    add("bad-topic-dot", &|i| i.topic = s("orders.eu"));
    add("bad-topic-unicode", &|i| i.topic = s("cl\u{ef}cks"));
    add("bad-partitions-0", &|i| i.topic_config.partitions = 0);
    add("bad-partitions-65537", &|i| {
        i.topic_config.partitions = 65_537
    });
    add("bad-replication-6", &|i| {
        i.topic_config.replication_factor = 6
    });
    add("bad-retention-0", &|i| {
        i.topic_config.retention.max_records = Some(0)
    });
    add("bad-codec", &|i| {
        i.topic_config.compression = Some(s("zstd"))
    });
    add("bad-batch-size-0", &|i| i.producer.batch_size = 0);
    add("bad-max-request", &|i| {
        i.producer.max_request_size = (1 << 30) + 1
    });
    add("bad-linger", &|i| i.producer.linger_ms = 3_600_001);
    add("bad-partitioner", &|i| {
        i.producer.partitioner = Some(s("random"))
    });
    // Records the core refuses.
    add("bad-timestamp", &|i| i.record.timestamp = Some(-1));
    add("bad-timestamp-2^53", &|i| {
        i.record.timestamp = Some(1 << 53)
    });
    add("bad-partition", &|i| i.record.partition = Some(1));
    add("record-too-large", &|i| i.producer.max_request_size = 70);
    // Sinks.
    let sink = |f: &dyn Fn(&mut SinkIn)| -> Option<SinkIn> {
        let mut k = base_sink();
        f(&mut k);
        Some(k)
    };
    add("sink-defaults", &|i| i.sink = sink(&|_| {}));
    // The parsing helpers: numbers at and past their ranges, the spellings, credentials.
    add("parsing-nan", &|i| i.parsing.bits = f64::NAN.to_bits());
    add("parsing-fraction", &|i| i.parsing.pick = 2);
    add("parsing-2^53", &|i| {
        i.parsing.int = 1 << 53;
        i.parsing.pick = 4; // the range 0..=2^53-1, taken as a whole number
    });
    add("parsing-negative", &|i| i.parsing.int = -1);
    add("parsing-drop-at-most-once", &|i| {
        i.parsing.unacked = s("drop");
        i.parsing.delivery = s("at-most-once");
    });
    add("parsing-bad-spellings", &|i| {
        i.parsing.unacked = s("Keep");
        i.parsing.delivery = s("exactly-once");
    });
    add("parsing-user-pass", &|i| {
        i.parsing.user = Some(s("alice"));
        i.parsing.pass = Some(s("s3cret-password"));
    });
    add("parsing-token-and-user", &|i| {
        i.parsing.token = Some(s("tok-123456789"));
        i.parsing.user = Some(s("alice"));
    });
    add("parsing-bad-seed", &|i| {
        i.parsing.nkey_seed = Some(s("SUAFAKESEEDFAKESEED"))
    });
    add("record-reserved-headers", &|i| {
        i.sink = sink(&|_| {});
        i.record.headers = Few(vec![
            HeaderIn {
                name: s("Nats-Msg-Id"),
                value: Bytes(b"forged".to_vec()),
            },
            HeaderIn {
                name: s("tributary-key"),
                value: Bytes(b"k".to_vec()),
            },
        ]);
    });
    add("sink-token-provision", &|i| {
        i.topic_config.replication_factor = 3;
        i.topic_config.retention.max_age_ms = Some(60_000);
        i.sink = sink(&|k| {
            k.credentials = CredsIn::Token(s("s3cr\"et"));
            k.provision = true;
            k.stream = Some(s("CLICKS"));
            k.subject_prefix = Some(s("events.clicks"));
            k.name = Some(s("edge \"1\""));
        })
    });
    add("sink-user-at-most-once", &|i| {
        i.sink = sink(&|k| {
            k.credentials = CredsIn::UserPassword(s("alice"), s("p\u{e4}ss\nword"));
            k.at_most_once = true;
            k.servers = Few(vec![s("wss://nats.example:443"), s("ws://[::1]:8080")]);
            k.msg_id_prefix = Some(s("p1"));
        })
    });
    add("sink-creds", &|i| {
        i.sink = sink(&|k| k.credentials = CredsIn::Creds(s(&creds_file(JWT, DOC_SEED))))
    });
    add("sink-nkey", &|i| {
        i.sink = sink(&|k| k.credentials = CredsIn::NkeySeed(s(DOC_SEED)))
    });
    add("sink-small-max-payload", &|i| {
        i.record.value = Bytes(vec![b'x'; 2000]);
        i.sink = sink(&|k| k.max_payload = 1024)
    });
    add("sink-drop-tiny-max-bytes", &|i| {
        i.topic_config.retention.max_bytes = Some(10);
        i.topic_config.retention.drop_unacked = true;
        i.sink = sink(&|_| {})
    });
    add("sink-keep-tiny-max-bytes", &|i| {
        i.topic_config.retention.max_bytes = Some(10);
        i.sink = sink(&|_| {})
    });
    add("sink-bad-no-servers", &|i| {
        i.sink = sink(&|k| k.servers = Few(vec![]))
    });
    add("sink-bad-http", &|i| {
        i.sink = sink(&|k| k.servers = Few(vec![s("http://127.0.0.1:4222")]))
    });
    add("sink-bad-ws-empty", &|i| {
        i.sink = sink(&|k| k.servers = Few(vec![s("ws://")]))
    });
    add("sink-bad-in-flight", &|i| {
        i.sink = sink(&|k| k.max_in_flight = 0)
    });
    add("sink-bad-timeout", &|i| {
        i.sink = sink(&|k| k.ack_timeout_ms = 0)
    });
    add("sink-bad-backoff", &|i| {
        i.sink = sink(&|k| k.backoff_initial_ms = 6_000)
    });
    add("sink-bad-msg-id-prefix", &|i| {
        i.sink = sink(&|k| k.msg_id_prefix = Some(s("has space")))
    });
    add("sink-bad-stream", &|i| {
        i.sink = sink(&|k| k.stream = Some(s("a.b")))
    });
    add("sink-bad-subject", &|i| {
        i.sink = sink(&|k| k.subject_prefix = Some(s("clicks.*")))
    });
    add("sink-bad-seed-kind", &|i| {
        i.sink = sink(&|k| k.credentials = CredsIn::NkeySeed(s(&account_seed())))
    });
    add("sink-bad-creds", &|i| {
        i.sink = sink(&|k| k.credentials = CredsIn::Creds(s("-----BEGIN NATS USER JWT-----\nx\n")))
    });
    v
}

fn config(out: &mut Vec<Seed>) {
    for (name, input) in configs() {
        let mut bytes = Vec::new();
        input.enc(&mut bytes);
        let back = Input::arbitrary_take_rest(Unstructured::new(&bytes))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(back, input, "{name}: the seed does not read back");
        out.push(("config", name.to_owned(), bytes));
    }
}
