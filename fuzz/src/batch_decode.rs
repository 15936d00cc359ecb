//! `batch_decode`: [`tributary::batch::decode_batch`] on arbitrary bytes, with every
//! codec (gzip, snappy, lz4).
//!
//! Input: one flags byte, then the batch. Flags bit 0: write `batch_len` and the CRC-32C
//! to match the bytes (so mutations reach the payload and the codecs instead of dying at
//! the CRC check); bits 1-2: the decompression limit (1 MiB, 64 B, 4 KiB, `usize::MAX`).
//!
//! Checks, when it decodes: the length it reports; the count agrees with the header; and
//! the records, encoded again by [`BatchBuilder`] with the same codec and decoded, are the
//! same records (keys, values, headers, timestamps) at consecutive offsets, with the
//! header's timestamps recomputed, and encoding that again gives the same bytes.

use tributary::batch::{crc32c, decode_batch, BatchBuilder, RecordRef, BATCH_OVERHEAD};
use tributary::config::Compression;

/// Bytes before the CRC-covered part, and where the CRC sits.
const CRC_AT: usize = 17;
const ATTRIBUTES_AT: usize = 21;

/// The decompression limits the flags choose from.
pub const LIMITS: [usize; 4] = [1 << 20, 64, 4096, usize::MAX];

/// The fuzz target's check.
pub fn check(input: &[u8]) {
    let Some((&flags, rest)) = input.split_first() else {
        return;
    };
    let mut data = rest.to_vec();
    if flags & 1 == 1 {
        fix_len_and_crc(&mut data);
    }
    let limit = LIMITS[usize::from((flags >> 1) & 3)];
    let Ok((batch, used)) = decode_batch(&data, limit) else {
        return;
    };
    let batch_len = i32::from_be_bytes(data[8..12].try_into().unwrap());
    assert_eq!(used, 12 + batch_len as usize, "used bytes");
    assert!(used <= data.len() && used >= BATCH_OVERHEAD - 4);

    // Encode the records again.
    let mut builder = BatchBuilder::new();
    for r in &batch.records {
        let pushed = builder.push(&RecordRef {
            key: r.key.as_deref(),
            value: &r.value,
            timestamp: r.timestamp,
            headers: &r.headers,
        });
        if !pushed {
            // Timestamps too far apart for one of our batches: nothing to compare.
            return;
        }
    }
    let uncompressed = builder.size();
    let mut encoded = builder.finish(batch.compression);
    if batch.compression == Compression::None {
        assert_eq!(encoded.bytes().len(), uncompressed, "size() of the builder");
    }
    encoded.set_base_offset(batch.base_offset);
    let (again, used) = decode_batch(encoded.bytes(), 1 << 30).expect("our own batch decodes");
    assert_eq!(used, encoded.bytes().len());
    assert_eq!(again.compression, batch.compression);
    assert_eq!(again.base_offset, batch.base_offset);
    assert_eq!(again.producer_id, -1);
    assert_eq!(again.records.len(), batch.records.len());
    for (i, (a, b)) in again.records.iter().zip(&batch.records).enumerate() {
        assert_eq!(
            a.offset,
            batch.base_offset.wrapping_add(i as i64),
            "offset {i}"
        );
        assert_eq!(a.key, b.key, "key {i}");
        assert_eq!(a.value, b.value, "value {i}");
        assert_eq!(a.timestamp, b.timestamp, "timestamp {i}");
        assert_eq!(a.headers, b.headers, "headers {i}");
    }
    let first = batch.records.first().map_or(-1, |r| r.timestamp);
    let max = batch
        .records
        .iter()
        .map(|r| r.timestamp)
        .max()
        .unwrap_or(-1);
    assert_eq!(again.first_timestamp, first);
    assert_eq!(again.max_timestamp, max);

    // A fixed point: our bytes, decoded and encoded again, are the same bytes.
    let mut builder = BatchBuilder::new();
    for r in &again.records {
        assert!(builder.push(&RecordRef {
            key: r.key.as_deref(),
            value: &r.value,
            timestamp: r.timestamp,
            headers: &r.headers,
        }));
    }
    let mut twice = builder.finish(again.compression);
    twice.set_base_offset(again.base_offset);
    assert_eq!(
        twice.bytes(),
        encoded.bytes(),
        "encoding is not a fixed point"
    );
}

/// Writes `batch_len` for the whole input and the CRC over it.
pub fn fix_len_and_crc(data: &mut [u8]) {
    if data.len() < ATTRIBUTES_AT {
        return;
    }
    let len = (data.len() - 12) as i32;
    data[8..12].copy_from_slice(&len.to_be_bytes());
    let crc = crc32c(&data[ATTRIBUTES_AT..]);
    data[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
}
