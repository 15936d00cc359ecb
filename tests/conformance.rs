//! Conformance with `fluvio-protocol` (the reference, from crates.io): the same records
//! encode to the same bytes, our batches decode with it (compressed ones included), and
//! its batches decode with ours.
#![cfg(not(target_arch = "wasm32"))] // native only: uses native-only dev-dependencies

use std::io::Cursor;

use fluvio_protocol::record::{Batch, MemoryRecords, RawRecords, Record, RecordData};
use fluvio_protocol::{Decoder, Encoder};
use tributary::batch::{decode_batch, BatchBuilder, RecordRef};
use tributary::Compression;

const CODECS: [Compression; 4] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
];

struct Sample {
    key: Option<Vec<u8>>,
    value: Vec<u8>,
    timestamp: i64,
}

fn samples(n: usize, seed: u64) -> Vec<Sample> {
    let mut s = seed;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let base = 1_700_000_000_000i64;
    (0..n)
        .map(|i| {
            let key = match next() % 4 {
                0 => None,
                1 => Some(Vec::new()),
                _ => Some(format!("user-{}", next() % 1000).into_bytes()),
            };
            let len = (next() % 300) as usize;
            let value = (0..len).map(|j| b"abcdefgh"[(i + j) % 8]).collect();
            // Timestamps move forward and back, as clocks and given timestamps do.
            let timestamp = base + (next() % 100_000) as i64 - 50_000;
            Sample {
                key,
                value,
                timestamp,
            }
        })
        .collect()
}

fn ours(records: &[Sample], codec: Compression, base_offset: i64) -> Vec<u8> {
    let mut b = BatchBuilder::new();
    for r in records {
        assert!(b.push(&RecordRef {
            key: r.key.as_deref(),
            value: &r.value,
            timestamp: r.timestamp,
            headers: &[],
        }));
    }
    let mut enc = b.finish(codec);
    enc.set_base_offset(base_offset);
    enc.into_bytes()
}

fn fluvio_batch(records: &[Sample], codec: Compression, base_offset: i64) -> Batch {
    let first = records[0].timestamp;
    let max = records.iter().map(|r| r.timestamp).max().unwrap();
    let recs: Vec<Record> = records
        .iter()
        .map(|r| {
            let mut rec = Record {
                key: r.key.clone().map(RecordData::from),
                value: RecordData::from(r.value.clone()),
                ..Record::default()
            };
            rec.preamble.set_timestamp_delta(r.timestamp - first);
            rec
        })
        .collect();
    let mut batch = Batch::from(recs);
    batch.set_base_offset(base_offset);
    batch.header.first_timestamp = first;
    batch.header.max_time_stamp = max;
    batch.header.attributes = codec as i16;
    batch
}

fn fluvio_bytes(records: &[Sample], codec: Compression, base_offset: i64) -> Vec<u8> {
    let batch = fluvio_batch(records, codec, base_offset);
    let bytes = if codec == Compression::None {
        batch.as_bytes(0).unwrap()
    } else {
        let raw: Batch<RawRecords> = batch.try_into().unwrap();
        raw.as_bytes(0).unwrap()
    };
    bytes.to_vec()
}

#[test]
fn same_records_encode_to_the_same_bytes() {
    for (i, n) in [1usize, 2, 17, 200].into_iter().enumerate() {
        let recs = samples(n, 0x1234 + i as u64);
        for codec in CODECS {
            let base = 1_000 * i as i64;
            assert_eq!(
                ours(&recs, codec, base),
                fluvio_bytes(&recs, codec, base),
                "{n} records, {codec:?}"
            );
        }
    }
}

#[test]
fn our_batches_decode_with_fluvio_protocol() {
    let recs = samples(150, 99);
    for codec in CODECS {
        let bytes = ours(&recs, codec, 4242);
        let raw = Batch::<RawRecords>::decode_from(&mut Cursor::new(&bytes), 0).unwrap();
        assert_eq!(raw.get_base_offset(), 4242);
        assert_eq!(
            raw.header.crc,
            u32::from_be_bytes(bytes[17..21].try_into().unwrap())
        );
        assert_eq!(raw.batch_len() as usize, bytes.len() - 12);
        let decoded: MemoryRecords = raw.memory_records().unwrap();
        assert_eq!(decoded.len(), recs.len(), "{codec:?}");
        for (i, (d, r)) in decoded.iter().zip(&recs).enumerate() {
            assert_eq!(d.preamble.offset_delta(), i as i64);
            assert_eq!(
                d.key.as_ref().map(|k| k.as_ref().to_vec()),
                r.key,
                "{codec:?} #{i}"
            );
            assert_eq!(d.value.as_ref(), &r.value[..]);
            assert_eq!(
                raw.get_base_timestamp() + d.preamble.get_timestamp_delta(),
                r.timestamp
            );
        }
        if codec == Compression::None {
            let mem = Batch::<MemoryRecords>::decode_from(&mut Cursor::new(&bytes), 0).unwrap();
            assert!(mem.validate_decoding());
            assert_eq!(mem.records().len(), recs.len());
        }
    }
}

#[test]
fn fluvio_batches_decode_with_ours() {
    let recs = samples(120, 7);
    for codec in CODECS {
        let bytes = fluvio_bytes(&recs, codec, 77);
        let (batch, used) = decode_batch(&bytes, 1 << 24).unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(batch.compression, codec);
        assert_eq!(batch.records.len(), recs.len());
        for (i, (d, r)) in batch.records.iter().zip(&recs).enumerate() {
            assert_eq!(d.offset, 77 + i as i64);
            assert_eq!(d.key, r.key);
            assert_eq!(d.value, r.value);
            assert_eq!(d.timestamp, r.timestamp);
        }
    }
}
