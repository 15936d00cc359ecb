//! Fluvio's record-batch format: encoder ([`BatchBuilder`]) and decoder ([`decode_batch`]).
//!
//! ```text
//! preamble (12 bytes)   base_offset i64, batch_len i32 (bytes after this field)
//! header (45 bytes)     partition_leader_epoch i32 = -1, magic i8 = 2,
//!                       crc u32 = CRC-32C of everything after it,
//!                       attributes i16 (bits 0-2: compression), last_offset_delta i32,
//!                       first_timestamp i64, max_time_stamp i64,
//!                       producer_id i64 = -1, producer_epoch i16 = -1, first_sequence i32 = -1
//! payload               (compressed as a whole when attributes say so)
//!                       record count u32, then each record:
//!                       varint length, attributes i8, varint timestamp delta,
//!                       varint offset delta, key (0 | 1 + varint length + bytes),
//!                       value (varint length + bytes), varint header count
//!                       [, headers: varint name length + name, varint value length + value]
//! ```
//! All integers big-endian; varints are zigzag (Kafka, protobuf `sint64`).
//!
//! Fluvio's wire format carries only the header *count* (always 0 from Fluvio's own
//! producers). Records without headers encode byte for byte as `fluvio-protocol` encodes
//! them (a conformance test shows it). Records with headers encode them as Kafka's v2
//! format does after the count, so Kafka readers and our decoder see them; Fluvio's decoder
//! would not.
//!
//! Fluvio's varint encoder is only correct within the `i32` range; the builder keeps every
//! varint it writes inside that range (a timestamp delta that would leave it starts a new
//! batch), so our bytes and Fluvio's agree and are also correct zigzag.

use alloc::borrow::ToOwned;
use alloc::vec::Vec;

use crate::compression;
use crate::config::Compression;
use crate::error::DecodeError;
use crate::record::{ConsumedRecord, Header};

/// Bytes before the header: base offset and batch length.
pub const PREAMBLE_SIZE: usize = 12;
/// Bytes of the header after the preamble.
pub const HEADER_SIZE: usize = 45;
/// Bytes of an empty, uncompressed batch: preamble, header and the record count.
pub const BATCH_OVERHEAD: usize = PREAMBLE_SIZE + HEADER_SIZE + 4;

const CRC_AT: usize = 17;
const ATTRIBUTES_AT: usize = 21;
const COMPRESSION_MASK: i16 = 0x07;

/// CRC-32C (Castagnoli), as in the batch header.
pub use crate::crc32c::crc32c;

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Bytes the zigzag varint of `v` takes.
pub fn varint_len(v: i64) -> usize {
    // Seven bits per byte; 0 takes one byte. No loop: a count of leading zeros.
    let bits = 64 - (zigzag(v) | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Writes the zigzag varint of `v` at `out[at..]`; returns where it ends.
fn put_varint(out: &mut [u8], mut at: usize, v: i64) -> usize {
    let mut z = zigzag(v);
    loop {
        let more = z >= 0x80;
        if let Some(b) = out.get_mut(at) {
            *b = (z as u8 & 0x7f) | (u8::from(more) << 7);
        }
        at += 1;
        z >>= 7;
        if !more {
            return at;
        }
    }
}

/// Writes `bytes` after their varint length at `out[at..]`; returns where they end.
fn put_bytes(out: &mut [u8], at: usize, bytes: &[u8]) -> usize {
    let at = put_varint(out, at, bytes.len() as i64);
    let end = at + bytes.len();
    if let Some(to) = out.get_mut(at..end) {
        to.copy_from_slice(bytes);
    }
    end
}

/// Writes the low `n` bytes of `v` big-endian at `out[at..]` (nothing past the end).
#[inline(never)]
fn put_be(out: &mut [u8], at: usize, n: usize, v: u64) {
    for i in 0..n {
        if let Some(b) = out.get_mut(at + i) {
            *b = (v >> (8 * (n - 1 - i))) as u8;
        }
    }
}

/// The `n` bytes (at most 8) at `data[at..]` as a big-endian integer (0 past the end).
#[inline(never)]
fn be_at(data: &[u8], at: usize, n: usize) -> u64 {
    data.get(at..at + n)
        .unwrap_or(&[])
        .iter()
        .fold(0, |v, &b| (v << 8) | u64::from(b))
}

/// The parts of one record the encoder needs, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    /// Key, absent or bytes.
    pub key: Option<&'a [u8]>,
    /// Value.
    pub value: &'a [u8],
    /// Timestamp in ms.
    pub timestamp: i64,
    /// Headers.
    pub headers: &'a [Header],
}

/// Records with the offsets they had: what [`fill`] and [`crate::Client::restore_placed`]
/// take ([`ConsumedRecord`]s read back, or records a host staged, borrowed).
pub trait Placed {
    /// Record `i`'s offset and parts; `None` past the last.
    fn get(&self, i: usize) -> Option<(i64, RecordRef<'_>)>;
}

impl Placed for &[ConsumedRecord] {
    fn get(&self, i: usize) -> Option<(i64, RecordRef<'_>)> {
        let r = <[ConsumedRecord]>::get(self, i)?;
        Some((
            r.offset,
            RecordRef {
                key: r.key.as_deref(),
                value: &r.value,
                timestamp: r.timestamp,
                headers: &r.headers,
            },
        ))
    }
}

/// Pushes `records` from the `from`-th into `batch` while each is at the offset after the
/// one before, the batch holds less than `max_size` bytes, and the record can join it
/// (see [`BatchBuilder::push`]); returns the index of the first record it did not push.
/// An empty batch always takes the first record.
pub fn fill(batch: &mut BatchBuilder, records: &dyn Placed, from: usize, max_size: usize) -> usize {
    let mut i = from;
    let mut next = None;
    while let Some((offset, r)) = records.get(i) {
        if batch.size() >= max_size || next.is_some_and(|n| n != offset) || !batch.push(&r) {
            break;
        }
        next = Some(offset.wrapping_add(1));
        i += 1;
    }
    i
}

/// Bytes of the record's body that do not depend on its place in a batch: key, value,
/// headers (everything but the attributes byte and the two deltas).
#[inline]
fn fixed_body_len(r: &RecordRef<'_>) -> usize {
    let key = match r.key {
        None => 1,
        Some(k) => 1 + varint_len(k.len() as i64) + k.len(),
    };
    let headers = if r.headers.is_empty() {
        1
    } else {
        headers_len(r.headers)
    };
    key + varint_len(r.value.len() as i64) + r.value.len() + headers
}

/// Bytes of the header count and the headers.
fn headers_len(headers: &[Header]) -> usize {
    let mut n = varint_len(headers.len() as i64);
    for h in headers {
        n += varint_len(h.name.len() as i64)
            + h.name.len()
            + varint_len(h.value.len() as i64)
            + h.value.len();
    }
    n
}

#[inline]
fn body_len(r: &RecordRef<'_>, ts_delta: i64, offset_delta: i64) -> usize {
    1 + varint_len(ts_delta) + varint_len(offset_delta) + fixed_body_len(r)
}

/// Encoded size of `r` as the first record of a batch (the size `max_request_size` is
/// checked against: the record alone, with the batch's fixed overhead).
pub fn standalone_size(r: &RecordRef<'_>) -> usize {
    let body = body_len(r, 0, 0);
    BATCH_OVERHEAD + varint_len(body as i64) + body
}

/// Accumulates records into one batch, encoding each as it arrives.
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    buf: Vec<u8>,
    count: u32,
    first_timestamp: i64,
    max_timestamp: i64,
}

impl Default for BatchBuilder {
    fn default() -> Self {
        Self::new()
    }
}

/// Where a record goes in a batch: its deltas and the sizes they give.
struct Slot {
    ts_delta: i64,
    offset_delta: i64,
    body: usize,
    /// The batch's size with the record.
    size: usize,
}

impl BatchBuilder {
    /// An empty batch.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty batch with room for `bytes` bytes (header included) before it grows.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(bytes.max(BATCH_OVERHEAD));
        buf.resize(BATCH_OVERHEAD, 0);
        BatchBuilder {
            buf,
            count: 0,
            first_timestamp: -1,
            max_timestamp: -1,
        }
    }

    /// Records in the batch.
    pub fn len(&self) -> u32 {
        self.count
    }

    /// True when no record was pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The batch's size if closed now, uncompressed.
    pub fn size(&self) -> usize {
        self.buf.len()
    }

    /// The size the batch would have with `r` pushed, or `None` if `r` cannot join this
    /// batch (its timestamp delta would leave the `i32` range, or the batch is full at
    /// `i32::MAX` records).
    pub fn size_with(&self, r: &RecordRef<'_>) -> Option<usize> {
        self.slot(r).map(|s| s.size)
    }

    fn slot(&self, r: &RecordRef<'_>) -> Option<Slot> {
        if self.count == i32::MAX as u32 {
            return None;
        }
        let ts_delta = if self.count == 0 {
            0
        } else {
            r.timestamp.checked_sub(self.first_timestamp)?
        };
        if ts_delta < i64::from(i32::MIN) || ts_delta > i64::from(i32::MAX) {
            return None;
        }
        let offset_delta = i64::from(self.count);
        let body = body_len(r, ts_delta, offset_delta);
        Some(Slot {
            ts_delta,
            offset_delta,
            body,
            size: self.buf.len() + varint_len(body as i64) + body,
        })
    }

    /// Appends `r`. Returns false (and changes nothing) when [`BatchBuilder::size_with`]
    /// would return `None`.
    pub fn push(&mut self, r: &RecordRef<'_>) -> bool {
        self.push_within(r, usize::MAX)
    }

    /// Appends `r` if the batch then stays within `max_size` bytes; returns false (and
    /// changes nothing) if it would not, or when [`BatchBuilder::size_with`] would return
    /// `None`. One sizing for both the check and the encoding.
    pub fn push_within(&mut self, r: &RecordRef<'_>, max_size: usize) -> bool {
        let Some(slot) = self.slot(r).filter(|s| s.size <= max_size) else {
            return false;
        };
        if self.count == 0 {
            self.first_timestamp = r.timestamp;
            self.max_timestamp = r.timestamp;
        } else if r.timestamp > self.max_timestamp {
            self.max_timestamp = r.timestamp;
        }
        // The record's bytes, zeroed, then written in place: one growth check, no push
        // per byte.
        let start = self.buf.len();
        self.buf.resize(slot.size, 0);
        let b = self.buf.as_mut_slice();
        let mut at = put_varint(b, start, slot.body as i64);
        at += 1; // record attributes: 0
        at = put_varint(b, at, slot.ts_delta);
        at = put_varint(b, at, slot.offset_delta);
        match r.key {
            None => at += 1, // absent: 0
            Some(k) => {
                at = put_varint(b, at, -1); // present: 1 (the zigzag varint of -1)
                at = put_bytes(b, at, k);
            }
        }
        at = put_bytes(b, at, r.value);
        at = put_varint(b, at, r.headers.len() as i64);
        for h in r.headers {
            at = put_bytes(b, at, h.name.as_bytes());
            at = put_bytes(b, at, &h.value);
        }
        debug_assert_eq!(at, b.len());
        self.count += 1;
        true
    }

    /// Closes the batch: writes the header and count, compresses the payload with
    /// `codec`, and computes the CRC. The base offset is written later, by the log, with
    /// [`EncodedBatch::set_base_offset`] (it lies outside the CRC).
    pub fn finish(mut self, codec: Compression) -> EncodedBatch {
        let payload_at = PREAMBLE_SIZE + HEADER_SIZE;
        put_be(&mut self.buf, payload_at, 4, self.count.into());
        if codec != Compression::None {
            let compressed =
                compression::compress(codec, self.buf.get(payload_at..).unwrap_or(&[]));
            self.buf.truncate(payload_at);
            self.buf.extend_from_slice(&compressed);
        }
        let batch_len = (self.buf.len() - PREAMBLE_SIZE) as u64;
        // (at, bytes, value): the preamble and header, big-endian; -1 is all ones.
        let fields: [(usize, usize, u64); 11] = [
            (0, 8, 0),
            (8, 4, batch_len),
            (12, 4, u64::MAX),
            (16, 1, 2),
            (21, 2, codec as u64),
            (23, 4, (i64::from(self.count) - 1) as u64),
            (27, 8, self.first_timestamp as u64),
            (35, 8, self.max_timestamp as u64),
            (43, 8, u64::MAX),
            (51, 2, u64::MAX),
            (53, 4, u64::MAX),
        ];
        let b = &mut self.buf;
        for (at, n, v) in fields {
            put_be(b, at, n, v);
        }
        let crc = crc32c(b.get(ATTRIBUTES_AT..).unwrap_or(&[]));
        put_be(b, CRC_AT, 4, crc.into());
        self.buf.shrink_to_fit();
        EncodedBatch {
            bytes: self.buf,
            count: self.count,
            first_timestamp: self.first_timestamp,
            max_timestamp: self.max_timestamp,
        }
    }
}

/// A closed, encoded batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedBatch {
    bytes: Vec<u8>,
    count: u32,
    first_timestamp: i64,
    max_timestamp: i64,
}

impl EncodedBatch {
    /// The encoded bytes, preamble included.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Consumes the batch into its bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Records in the batch.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The first record's timestamp.
    pub fn first_timestamp(&self) -> i64 {
        self.first_timestamp
    }

    /// The largest record timestamp.
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    /// The base offset in the preamble.
    pub fn base_offset(&self) -> i64 {
        be_at(&self.bytes, 0, 8) as i64
    }

    /// Writes the base offset (outside the CRC, so the batch stays valid).
    pub fn set_base_offset(&mut self, offset: i64) {
        put_be(&mut self.bytes, 0, 8, offset as u64);
    }
}

/// A batch decoded by [`decode_batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedBatch {
    /// Offset of the first record.
    pub base_offset: i64,
    /// The codec named in the attributes.
    pub compression: Compression,
    /// First timestamp from the header.
    pub first_timestamp: i64,
    /// Max timestamp from the header.
    pub max_timestamp: i64,
    /// Producer id from the header.
    pub producer_id: i64,
    /// The records, with absolute offsets and timestamps.
    pub records: Vec<ConsumedRecord>,
}

/// A cursor over a payload that keeps its first error: a read that fails records it and
/// gives zeros or no bytes, so the decoder checks once per record, not at every field.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    /// Where the current record ends (the payload's end between records).
    end: usize,
    err: Option<DecodeError>,
}

impl<'a> Cursor<'a> {
    fn fail(&mut self, e: DecodeError) {
        if self.err.is_none() {
            self.err = Some(e);
        }
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let left = self.end - self.pos;
        if n > left {
            self.fail(DecodeError::Truncated { needed: n - left });
            return &[];
        }
        self.pos += n;
        self.data.get(self.pos - n..self.pos).unwrap_or(&[])
    }

    /// The next `n` bytes (at most 8) as a big-endian integer.
    fn be(&mut self, n: usize) -> u64 {
        self.take(n).iter().fold(0, |v, &b| (v << 8) | u64::from(b))
    }

    fn varint(&mut self) -> i64 {
        let mut z: u64 = 0;
        for i in 0..10 {
            let b = self.be(1) as u8;
            if i == 9 && b > 1 {
                break;
            }
            z |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return ((z >> 1) as i64) ^ -((z & 1) as i64);
            }
        }
        self.fail(DecodeError::Varint);
        0
    }

    fn len(&mut self) -> usize {
        let n = self.varint();
        if n < 0 || n as u64 > (self.end - self.pos) as u64 {
            self.fail(DecodeError::InvalidLength(n));
            return 0;
        }
        n as usize
    }

    fn bytes(&mut self) -> &'a [u8] {
        let n = self.len();
        self.take(n)
    }
}

/// Decodes one batch from the front of `data`; returns it and the bytes it took.
///
/// Checks the length, magic and CRC; decompresses with the output bounded by
/// `max_uncompressed` bytes; checks that the record count, `last_offset_delta` and the
/// records present agree. Never panics, whatever the input.
pub fn decode_batch(
    data: &[u8],
    max_uncompressed: usize,
) -> Result<(DecodedBatch, usize), DecodeError> {
    if data.len() < PREAMBLE_SIZE {
        // The base offset, then the batch length, cut short.
        let field_end = if data.len() < 8 { 8 } else { PREAMBLE_SIZE };
        return Err(DecodeError::Truncated {
            needed: field_end - data.len(),
        });
    }
    let batch_len = be_at(data, 8, 4) as i32;
    if batch_len < HEADER_SIZE as i32 {
        return Err(DecodeError::BadLength(i64::from(batch_len)));
    }
    let total = PREAMBLE_SIZE + batch_len as usize;
    if data.len() < total {
        return Err(DecodeError::Truncated {
            needed: total - data.len(),
        });
    }
    // The whole header is there from here on.
    let magic = be_at(data, 16, 1) as i8;
    if magic != 2 {
        return Err(DecodeError::BadMagic(magic));
    }
    let stored = be_at(data, CRC_AT, 4) as u32;
    let computed = crc32c(data.get(ATTRIBUTES_AT..total).unwrap_or(&[]));
    if stored != computed {
        return Err(DecodeError::CrcMismatch { stored, computed });
    }
    let batch = decode_checked(data.get(..total).unwrap_or(&[]), max_uncompressed)?;
    Ok((batch, total))
}

/// Decodes one batch, all of `data`, whose length, magic byte and CRC were checked (by
/// [`decode_batch`]), or that a [`BatchBuilder`] made (the partition log's own batches):
/// the codec, the payload, and that the records agree with the header's count.
pub(crate) fn decode_checked(
    data: &[u8],
    max_uncompressed: usize,
) -> Result<DecodedBatch, DecodeError> {
    let code = be_at(data, ATTRIBUTES_AT, 2) as i16 & COMPRESSION_MASK;
    // A codec this build lacks is refused here (as `decompress` would refuse it).
    let compression = Compression::from_code(code)
        .filter(|c| c.available())
        .ok_or(DecodeError::UnsupportedCompression(code))?;
    let last_offset_delta = be_at(data, 23, 4) as i32;
    let base_offset = be_at(data, 0, 8) as i64;
    let first_timestamp = be_at(data, 27, 8) as i64;
    let max_timestamp = be_at(data, 35, 8) as i64;
    let producer_id = be_at(data, 43, 8) as i64;
    let payload = data.get(PREAMBLE_SIZE + HEADER_SIZE..).unwrap_or(&[]);
    let inflated;
    let payload = if compression == Compression::None {
        payload
    } else {
        inflated = compression::decompress(compression, payload, max_uncompressed)?;
        &inflated[..]
    };
    let records = decode_records(payload, base_offset, first_timestamp)?;
    if records.len() as i64 != i64::from(last_offset_delta) + 1 {
        return Err(DecodeError::CountMismatch {
            count: records.len() as i64,
        });
    }
    Ok(DecodedBatch {
        base_offset,
        compression,
        first_timestamp,
        max_timestamp,
        producer_id,
        records,
    })
}

fn decode_records(
    payload: &[u8],
    base_offset: i64,
    first_timestamp: i64,
) -> Result<Vec<ConsumedRecord>, DecodeError> {
    let mut r = Cursor {
        data: payload,
        pos: 0,
        end: payload.len(),
        err: None,
    };
    let count = r.be(4) as u32;
    // Each record takes at least 7 bytes: refuse counts the payload cannot hold before
    // allocating for them.
    if count as usize > payload.len() / 7 {
        r.fail(DecodeError::CountMismatch {
            count: i64::from(count),
        });
    }
    let mut out = Vec::with_capacity(if r.err.is_none() { count as usize } else { 0 });
    for _ in 0..count {
        if r.err.is_some() {
            break;
        }
        let len = r.len();
        // The record's fields end where its length says.
        r.end = r.pos + len;
        let _attributes = r.be(1);
        let ts_delta = r.varint();
        let offset_delta = r.varint();
        let key = match r.be(1) {
            0 => None,
            _ => Some(r.bytes().to_vec()),
        };
        let value = r.bytes().to_vec();
        let header_count = r.varint();
        if header_count < 0 || header_count as u64 > len as u64 {
            r.fail(DecodeError::InvalidLength(header_count));
        }
        let mut headers = Vec::new();
        for _ in 0..header_count {
            if r.err.is_some() {
                break;
            }
            let name = crate::text::utf8(r.bytes());
            if name.is_none() {
                r.fail(DecodeError::HeaderName);
            }
            headers.push(Header {
                name: name.unwrap_or("").to_owned(),
                value: r.bytes().to_vec(),
            });
        }
        if r.pos != r.end {
            r.fail(DecodeError::Trailing(r.end - r.pos));
        }
        r.end = payload.len();
        out.push(ConsumedRecord {
            offset: base_offset.wrapping_add(offset_delta),
            key,
            value,
            timestamp: first_timestamp.wrapping_add(ts_delta),
            headers,
        });
    }
    if r.pos != payload.len() {
        r.fail(DecodeError::Trailing(payload.len() - r.pos));
    }
    match r.err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The records of a batch a [`BatchBuilder`] made, read without checks (the partition
/// log's own batches, in a build without the sink and the codecs: nothing else decodes
/// there, so the local wasm carries this walker instead of [`decode_batch`]'s checks and
/// their errors). Its fields are where the builder wrote them; bytes it did not make
/// read as zeros and short fields, never out of bounds, and never more records or
/// headers than they have bytes (a count field is not trusted for an allocation).
#[cfg(any(test, not(any(feature = "sink", feature = "codecs"))))]
pub(crate) fn own_records(data: &[u8]) -> Vec<ConsumedRecord> {
    let base_offset = be_at(data, 0, 8) as i64;
    let first_timestamp = be_at(data, 27, 8) as i64;
    let count = be_at(data, PREAMBLE_SIZE + HEADER_SIZE, 4) as usize;
    let mut w = Walk {
        data,
        pos: BATCH_OVERHEAD,
    };
    let mut out = Vec::with_capacity(count.min(data.len()));
    for _ in 0..count {
        if w.pos >= data.len() {
            break;
        }
        w.varint(); // the record's length
        w.pos += 1; // attributes
        let ts_delta = w.varint();
        let offset_delta = w.varint();
        let key = match w.varint() {
            0 => None,
            _ => Some(w.bytes().to_vec()),
        };
        let value = w.bytes().to_vec();
        let mut headers = Vec::new();
        for _ in 0..w.varint() {
            if w.pos >= data.len() {
                break;
            }
            headers.push(Header {
                name: crate::text::utf8(w.bytes()).unwrap_or("").to_owned(),
                value: w.bytes().to_vec(),
            });
        }
        out.push(ConsumedRecord {
            offset: base_offset.wrapping_add(offset_delta),
            key,
            value,
            timestamp: first_timestamp.wrapping_add(ts_delta),
            headers,
        });
    }
    out
}

/// A cursor over a batch [`own_records`] reads.
#[cfg(any(test, not(any(feature = "sink", feature = "codecs"))))]
struct Walk<'a> {
    data: &'a [u8],
    pos: usize,
}

#[cfg(any(test, not(any(feature = "sink", feature = "codecs"))))]
impl<'a> Walk<'a> {
    fn varint(&mut self) -> i64 {
        let mut z: u64 = 0;
        for i in 0..10 {
            let b = self.data.get(self.pos).copied().unwrap_or(0);
            self.pos += 1;
            z |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                break;
            }
        }
        ((z >> 1) as i64) ^ -((z & 1) as i64)
    }

    /// The next field's bytes (those there are, when it runs past the end).
    fn bytes(&mut self) -> &'a [u8] {
        let n = self.varint() as usize;
        let end = self.pos.saturating_add(n).min(self.data.len());
        let s = self.data.get(self.pos..end).unwrap_or(&[]);
        self.pos = end;
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec<'a>(key: Option<&'a [u8]>, value: &'a [u8], ts: i64) -> RecordRef<'a> {
        RecordRef {
            key,
            value,
            timestamp: ts,
            headers: &[],
        }
    }

    #[test]
    fn varint_matches_zigzag() {
        for (v, bytes) in [
            (0i64, vec![0u8]),
            (-1, vec![1]),
            (1, vec![2]),
            (63, vec![126]),
            (64, vec![128, 1]),
            (-65, vec![129, 1]),
            (i64::from(i32::MAX), vec![0xfe, 0xff, 0xff, 0xff, 0x0f]),
        ] {
            let mut out = vec![0u8; 10];
            let end = put_varint(&mut out, 0, v);
            out.truncate(end);
            assert_eq!(out, bytes, "{v}");
            assert_eq!(varint_len(v), bytes.len());
            let mut r = Cursor {
                data: &out,
                pos: 0,
                end: out.len(),
                err: None,
            };
            assert_eq!((r.varint(), r.err), (v, None));
        }
    }

    #[test]
    fn empty_and_absent_keys_differ() {
        let mut b = BatchBuilder::new();
        assert!(b.push(&rec(None, b"a", 10)));
        assert!(b.push(&rec(Some(b""), b"b", 11)));
        let mut enc = b.finish(Compression::None);
        enc.set_base_offset(40);
        let (d, used) = decode_batch(enc.bytes(), 1 << 20).unwrap();
        assert_eq!(used, enc.bytes().len());
        assert_eq!(d.records[0].key, None);
        assert_eq!(d.records[1].key, Some(vec![]));
        assert_eq!(d.records[1].offset, 41);
        assert_eq!(d.records[1].timestamp, 11);
    }

    #[test]
    fn size_with_is_exact() {
        let mut b = BatchBuilder::new();
        let headers = [Header {
            name: "h".into(),
            value: vec![1, 2, 3],
        }];
        for i in 0..300 {
            let v = vec![7u8; i];
            let r = RecordRef {
                key: Some(b"key"),
                value: &v,
                timestamp: 1_000 + i as i64 * 1000,
                headers: &headers,
            };
            let predicted = b.size_with(&r).unwrap();
            assert!(b.push(&r));
            assert_eq!(b.size(), predicted);
        }
        let enc = b.finish(Compression::None);
        let (d, _) = decode_batch(enc.bytes(), 1 << 24).unwrap();
        assert_eq!(d.records.len(), 300);
        assert_eq!(d.records[299].headers, headers);
    }

    #[test]
    fn timestamp_delta_outside_i32_is_refused() {
        let mut b = BatchBuilder::new();
        assert!(b.push(&rec(None, b"", 0)));
        let far = i64::from(i32::MAX) + 1;
        assert_eq!(b.size_with(&rec(None, b"", far)), None);
        assert!(!b.push(&rec(None, b"", far)));
        assert_eq!(b.len(), 1);
        assert!(b.push(&rec(None, b"", far - 1)));
    }

    #[test]
    fn crc_and_magic_are_checked() {
        let mut b = BatchBuilder::new();
        b.push(&rec(Some(b"k"), b"value", 5));
        let bytes = b.finish(Compression::None).into_bytes();
        let mut bad = bytes.clone();
        *bad.last_mut().unwrap() ^= 0xff;
        assert!(matches!(
            decode_batch(&bad, 1 << 20),
            Err(DecodeError::CrcMismatch { .. })
        ));
        let mut bad = bytes.clone();
        bad[16] = 1;
        assert_eq!(decode_batch(&bad, 1 << 20), Err(DecodeError::BadMagic(1)));
        assert!(matches!(
            decode_batch(&bytes[..bytes.len() - 1], 1 << 20),
            Err(DecodeError::Truncated { .. })
        ));
    }

    /// A codec named in the attributes that this build lacks (any but none without the
    /// `codecs` feature; codes 4-7 always) is `UnsupportedCompression` with its code.
    #[test]
    fn a_codec_this_build_lacks_is_refused_with_its_code() {
        let mut b = BatchBuilder::new();
        b.push(&rec(Some(b"k"), b"value", 5));
        let good = b.finish(Compression::None).into_bytes();
        for code in 1..8i16 {
            let mut bad = good.clone();
            put_be(&mut bad, ATTRIBUTES_AT, 2, code as u64);
            let crc = crc32c(&bad[ATTRIBUTES_AT..]);
            put_be(&mut bad, CRC_AT, 4, u64::from(crc));
            let expected = if code > 3 || !cfg!(feature = "codecs") {
                DecodeError::UnsupportedCompression(code)
            } else {
                // The payload is not that codec's.
                DecodeError::Decompress
            };
            assert_eq!(decode_batch(&bad, 1 << 20), Err(expected), "code {code}");
        }
    }

    /// The walker of the log's own batches reads what the checked decoder reads, for
    /// batches a builder made: keys absent, empty and long, headers, large deltas.
    #[test]
    fn own_records_reads_what_decode_batch_reads() {
        let headers = [
            Header {
                name: "trace-é".into(),
                value: vec![1, 2, 3],
            },
            Header {
                name: String::new(),
                value: vec![0; 300],
            },
        ];
        let long = [b'k'; 200];
        let mut b = BatchBuilder::new();
        for i in 0..400i64 {
            let v = vec![i as u8; (i * 37 % 1000) as usize];
            let key = match i % 3 {
                0 => None,
                1 => Some(&b""[..]),
                _ => Some(&long[..(i as usize % 200)]),
            };
            assert!(b.push(&RecordRef {
                key,
                value: &v,
                timestamp: 1_700_000_000_000 + i * 5_000_000 - (i % 7) * 3,
                headers: if i % 2 == 0 { &headers } else { &[] },
            }));
        }
        let mut enc = b.finish(Compression::None);
        enc.set_base_offset((1 << 53) - 500);
        let (d, _) = decode_batch(enc.bytes(), 1 << 24).unwrap();
        assert_eq!(own_records(enc.bytes()), d.records);
        let mut one = BatchBuilder::new();
        one.push(&rec(None, b"", 0));
        let one = one.finish(Compression::None);
        assert_eq!(
            own_records(one.bytes()),
            decode_batch(one.bytes(), 1 << 20).unwrap().0.records
        );
    }

    /// Bytes no builder made (the walker's own claim: never out of bounds) neither panic
    /// nor allocate for counts the bytes cannot hold: a count of 2^32 - 1, a header count
    /// of 2^62, lengths past the end.
    #[test]
    fn own_records_on_bytes_no_builder_made() {
        let mut b = BatchBuilder::new();
        b.push(&rec(Some(b"k"), b"v", 1));
        let good = b.finish(Compression::None).into_bytes();
        let count_at = PREAMBLE_SIZE + HEADER_SIZE;
        let mut huge = good.clone();
        put_be(&mut huge, count_at, 4, u64::from(u32::MAX));
        assert!(own_records(&huge).len() <= huge.len());
        // The record's header count (its last varint) as 2^62, then lengths past the end.
        let mut headers = good.clone();
        headers.pop();
        headers.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
        assert!(own_records(&headers).len() <= headers.len());
        let mut long = good;
        long.extend_from_slice(&[0xff; 9]);
        long.push(0x7f);
        assert!(own_records(&long).len() <= long.len());
        for n in 0..64 {
            own_records(&vec![0xff; n]);
        }
    }

    // proptest is a native dev-dependency.
    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn own_records_on_any_bytes(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            // Records past the bytes' count are never made (each takes at least a byte).
            proptest::prop_assert!(own_records(&data).len() <= data.len());
        }
    }

    #[test]
    fn standalone_size_matches_a_one_record_batch() {
        let r = rec(Some(b"user"), &[9u8; 1000], 77);
        let mut b = BatchBuilder::new();
        b.push(&r);
        assert_eq!(
            standalone_size(&r),
            b.finish(Compression::None).bytes().len()
        );
    }
}
