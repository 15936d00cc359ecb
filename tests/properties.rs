//! Property tests (proptest) of the core's invariants: the golden rule; offsets monotonic
//! and never reused across retention; per-partition order; the retention bound; reads
//! return exactly what was appended minus what was evicted; the encoder/decoder round trip;
//! the decoder never panicking on arbitrary bytes.
#![cfg(not(target_arch = "wasm32"))] // native only: uses native-only dev-dependencies

use std::collections::HashMap;

use proptest::prelude::*;
use tributary::batch::{crc32c, decode_batch, BatchBuilder, RecordRef};
use tributary::{
    partition_for_key, Client, Compression, Error, Header, ProduceRecord, ProducerConfig,
    RetentionConfig, TopicConfig,
};

fn codec() -> impl Strategy<Value = Compression> {
    prop_oneof![
        Just(Compression::None),
        Just(Compression::Gzip),
        Just(Compression::Snappy),
        Just(Compression::Lz4),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Send {
        key: Option<Vec<u8>>,
        len: usize,
        dt: u16,
    },
    Poll {
        dt: u16,
    },
    Flush,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (proptest::option::of(proptest::collection::vec(0u8..4, 0..3)), 0usize..400, 0u16..50)
            .prop_map(|(key, len, dt)| Op::Send { key, len, dt }),
        2 => (0u16..500).prop_map(|dt| Op::Poll { dt }),
        1 => Just(Op::Flush),
    ]
}

#[derive(Debug, Clone)]
struct Sent {
    key: Option<Vec<u8>>,
    value: Vec<u8>,
    timestamp: i64,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn golden_rule(key in proptest::collection::vec(any::<u8>(), 0..64), n in 1u32..5000) {
        let p = partition_for_key(&key, n);
        prop_assert!(p < n);
        prop_assert_eq!(p, partition_for_key(&key.clone(), n));
    }

    /// A random workload through the client, against a model of what was sent.
    #[test]
    fn log_matches_model(
        ops in proptest::collection::vec(op(), 1..300),
        partitions in 1u32..5,
        max_records in proptest::option::of(1u64..60),
        max_bytes in proptest::option::of(200u64..20_000),
        max_age in proptest::option::of(1u64..2_000),
        batch_size in 100usize..3_000,
        linger in 0u64..100,
        codec in codec(),
        seed in any::<u64>(),
    ) {
        let mut c = Client::new(seed);
        let retention = RetentionConfig {
            max_records,
            max_bytes,
            max_age_ms: max_age,
            ..RetentionConfig::default()
        };
        c.create_topic("t", TopicConfig { partitions, retention, compression: codec, ..TopicConfig::default() }).unwrap();
        let p = c.topic_producer("t", ProducerConfig { batch_size, linger_ms: linger, batch_queue_size: 1000, ..ProducerConfig::default() }).unwrap();
        let mut now = 1_000i64;
        // Per partition: the records in send order, and their offsets once known.
        let mut sent: Vec<Vec<Sent>> = vec![Vec::new(); partitions as usize];
        let mut offsets: HashMap<(u32, u64), i64> = HashMap::new();
        let mut key_partition: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut last_offset: Vec<i64> = vec![-1; partitions as usize];
        let apply = |o: tributary::PollOutcome, offsets: &mut HashMap<(u32, u64), i64>, last: &mut Vec<i64>| {
            assert!(o.rejected.is_empty());
            for a in o.appended {
                // Offsets are monotonic and consecutive per partition: never reused.
                assert_eq!(a.base_offset, last[a.partition as usize] + 1);
                last[a.partition as usize] = a.base_offset + i64::from(a.count) - 1;
                for i in 0..u64::from(a.count) {
                    offsets.insert((a.partition, a.first_seq + i), a.base_offset + i as i64);
                }
            }
        };
        for op in ops {
            match op {
                Op::Send { key, len, dt } => {
                    now += i64::from(dt);
                    let value: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
                    let r = c.send(p, &ProduceRecord { key: key.clone(), value: value.clone(), ..ProduceRecord::default() }, now).unwrap();
                    if let Some(k) = &key {
                        let first = *key_partition.entry(k.clone()).or_insert(r.partition);
                        prop_assert_eq!(first, r.partition, "golden rule");
                    }
                    let part = &mut sent[r.partition as usize];
                    prop_assert_eq!(r.seq, part.len() as u64);
                    part.push(Sent { key, value, timestamp: now });
                }
                Op::Poll { dt } => {
                    now += i64::from(dt);
                    let o = c.poll(now);
                    apply(o, &mut offsets, &mut last_offset);
                }
                Op::Flush => {
                    let o = c.flush(now);
                    apply(o, &mut offsets, &mut last_offset);
                }
            }
            for part in 0..partitions {
                let info = c.partition_info("t", part).unwrap();
                if let Some(m) = max_records { prop_assert!(info.records <= m, "records bound"); }
                if let Some(m) = max_bytes { prop_assert!(info.bytes <= m, "bytes bound"); }
            }
        }
        let o = c.flush(now);
        apply(o, &mut offsets, &mut last_offset);
        for part in 0..partitions {
            let info = c.partition_info("t", part).unwrap();
            let records = &sent[part as usize];
            prop_assert_eq!(info.high_watermark, records.len() as i64);
            prop_assert_eq!(info.log_start_offset + info.records as i64, info.high_watermark);
            prop_assert_eq!(info.evicted_records + info.records, records.len() as u64);
            let read = c.read("t", part, info.log_start_offset, usize::MAX).unwrap();
            prop_assert_eq!(read.len() as u64, info.records);
            // Exactly the appended records minus the evicted head, in send order.
            for (seq, s) in records.iter().enumerate() {
                let offset = offsets[&(part, seq as u64)];
                prop_assert_eq!(offset, seq as i64, "per-partition order");
                if offset >= info.log_start_offset {
                    let r = &read[(offset - info.log_start_offset) as usize];
                    prop_assert_eq!(r.offset, offset);
                    prop_assert_eq!(&r.key, &s.key);
                    prop_assert_eq!(&r.value, &s.value);
                    prop_assert_eq!(r.timestamp, s.timestamp);
                } else {
                    let evicted = matches!(c.read("t", part, offset, 1), Err(Error::OffsetEvicted { next_available, .. }) if next_available == info.log_start_offset);
                    prop_assert!(evicted);
                }
            }
        }
    }

    #[test]
    fn encode_decode_round_trip(
        recs in proptest::collection::vec((
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
            proptest::collection::vec(any::<u8>(), 0..200),
            -100_000i64..100_000,
            proptest::collection::vec(("[a-z-]{0,8}", proptest::collection::vec(any::<u8>(), 0..8)), 0..3),
        ), 1..50),
        codec in codec(),
        base in 0i64..(1 << 40),
    ) {
        let base_ts = 1_700_000_000_000i64;
        let headers: Vec<Vec<Header>> = recs.iter().map(|r| r.3.iter().map(|(n, v)| Header { name: n.clone(), value: v.clone() }).collect()).collect();
        let mut b = BatchBuilder::new();
        for (r, h) in recs.iter().zip(&headers) {
            let pushed = b.push(&RecordRef { key: r.0.as_deref(), value: &r.1, timestamp: base_ts + r.2, headers: h });
            prop_assert!(pushed);
        }
        let mut enc = b.finish(codec);
        enc.set_base_offset(base);
        let (d, used) = decode_batch(enc.bytes(), 1 << 24).unwrap();
        prop_assert_eq!(used, enc.bytes().len());
        prop_assert_eq!(d.compression, codec);
        prop_assert_eq!(d.records.len(), recs.len());
        for (i, ((r, h), got)) in recs.iter().zip(&headers).zip(&d.records).enumerate() {
            prop_assert_eq!(got.offset, base + i as i64);
            prop_assert_eq!(&got.key, &r.0);
            prop_assert_eq!(&got.value, &r.1);
            prop_assert_eq!(got.timestamp, base_ts + r.2);
            prop_assert_eq!(&got.headers, h);
        }
    }

    #[test]
    fn decoder_never_panics_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_batch(&data, 1 << 16);
    }

    /// Valid batches with bytes changed after the CRC, then the CRC fixed, so the damage
    /// reaches the record parser instead of stopping at the CRC check.
    #[test]
    fn decoder_never_panics_on_damaged_batches(
        n in 1usize..20,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        codec in codec(),
        truncate in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut b = BatchBuilder::new();
        for i in 0..n {
            let v = vec![i as u8; i * 3];
            b.push(&RecordRef { key: Some(b"key"), value: &v, timestamp: i as i64, headers: &[] });
        }
        let mut bytes = b.finish(codec).into_bytes();
        for (at, x) in flips {
            let i = 21 + at.index(bytes.len() - 21);
            bytes[i] ^= x;
        }
        let crc = crc32c(&bytes[21..]);
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
        if let Some(t) = truncate {
            let len = t.index(bytes.len());
            bytes.truncate(len);
        }
        let _ = decode_batch(&bytes, 1 << 16);
    }
}

#[test]
fn offset_boundary_at_2_pow_53() {
    use tributary::{PartitionLog, MAX_SAFE_OFFSET};
    let mut log = PartitionLog::starting_at(RetentionConfig::default(), MAX_SAFE_OFFSET);
    let mut b = BatchBuilder::new();
    b.push(&RecordRef {
        key: None,
        value: b"last",
        timestamp: 0,
        headers: &[],
    });
    assert_eq!(
        log.append(b.finish(Compression::None), 0, 0).unwrap(),
        MAX_SAFE_OFFSET
    );
    let mut b = BatchBuilder::new();
    b.push(&RecordRef {
        key: None,
        value: b"one too many",
        timestamp: 0,
        headers: &[],
    });
    assert_eq!(
        log.append(b.finish(Compression::None), 0, 0),
        Err(Error::OffsetOverflow { partition: 0 })
    );
    assert_eq!(log.read(MAX_SAFE_OFFSET, 5).unwrap().len(), 1);
}
