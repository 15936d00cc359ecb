//! What JS staged for a call, read back: strings, numbers, configs and records.
//!
//! `js/tributary.js` reads the user's values (own properties only, getters once, every
//! throw caught and coded), checks their types and that numbers are whole numbers their
//! Rust fields hold, and writes them into the staging area little-endian: a string as
//! u32 length + UTF-8 (`u32::MAX`: absent; for a topic `u32::MAX - 1`: a lone UTF-16
//! surrogate, `u32::MAX - 2`: not a string), a number as f64 (NaN: absent), a record as
//! [`record`] reads it. What the values mean (ranges, names of codecs, topics) the core
//! checks, one place for each rule.

use alloc::string::String;
use alloc::vec::Vec;

use super::error::{invalid_argument, Fail};
use crate::driver::OnFull;
use crate::{
    Compression, Header, PartitionerKind, ProducerConfig, RetentionConfig, TopicConfig,
    UnackedPolicy,
};

/// A cursor over staged bytes. Reading past the end gives zeros and empty strings: JS
/// writes what the call reads, so that happens only to a bug, and refuses nothing then.
pub struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

const ABSENT: u32 = u32::MAX;
const LONE_SURROGATE: u32 = u32::MAX - 1;
const NOT_A_STRING: u32 = u32::MAX - 2;

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Reader { b, at: 0 }
    }

    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let end = self.at.saturating_add(n).min(self.b.len());
        let s = self.b.get(self.at.min(end)..end).unwrap_or(&[]);
        self.at = end;
        s
    }

    fn word<const N: usize>(&mut self) -> [u8; N] {
        let mut w = [0; N];
        let s = self.take(N);
        for (w, s) in w.iter_mut().zip(s) {
            *w = *s;
        }
        w
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.word())
    }

    pub fn f64(&mut self) -> f64 {
        f64::from_le_bytes(self.word())
    }

    /// A number JS checked; `None` when absent.
    pub fn num(&mut self) -> Option<f64> {
        let n = self.f64();
        (!n.is_nan()).then_some(n)
    }

    fn bytes_or(&mut self) -> Result<&'a [u8], u32> {
        match self.u32() {
            n @ (ABSENT | LONE_SURROGATE | NOT_A_STRING) => Err(n),
            n => Ok(self.take(n as usize)),
        }
    }

    /// A string; `None` when absent.
    pub fn text(&mut self) -> Option<&'a str> {
        self.bytes_or()
            .ok()
            .map(|b| crate::text::utf8(b).unwrap_or(""))
    }

    /// A topic name argument: `INVALID_ARGUMENT` unless a string, `INVALID_TOPIC_NAME`
    /// for a lone surrogate (the core checks the rest of the name).
    pub fn topic(&mut self) -> Result<&'a str, Fail> {
        match self.bytes_or() {
            Ok(b) => Ok(crate::text::utf8(b).unwrap_or("")),
            Err(LONE_SURROGATE) => Err(crate::Error::InvalidTopicName {
                reason: "it has a lone UTF-16 surrogate",
            }
            .into()),
            Err(_) => Err(invalid_argument("topic must be a string")),
        }
    }
}

fn compression(r: &mut Reader<'_>) -> Result<Option<Compression>, Fail> {
    Ok(r.text().map(Compression::parse).transpose()?)
}

/// Topic config: partitions, replicationFactor, retention's maxAgeMs, maxBytes,
/// maxRecords, segmentBytes (numbers), compression, retention's unacked (strings).
pub fn topic_config(r: &mut Reader<'_>) -> Result<TopicConfig, Fail> {
    let mut c = TopicConfig::default();
    if let Some(n) = r.num() {
        c.partitions = n as u32;
    }
    if let Some(n) = r.num() {
        c.replication_factor = n as u32;
    }
    let mut get = || r.num().map(|n| n as u64);
    c.retention = RetentionConfig {
        max_age_ms: get(),
        max_bytes: get(),
        max_records: get(),
        segment_bytes: get(),
        unacked: UnackedPolicy::Keep,
    };
    if let Some(codec) = compression(r)? {
        c.compression = codec;
    }
    if let Some(name) = r.text() {
        c.retention.unacked = UnackedPolicy::parse(name)?;
    }
    Ok(c)
}

/// Producer config: batchSize, linger, maxRequestSize, batchQueueSize (numbers),
/// partitioner, compression (strings); `on_full` is the call's argument (1: error).
pub fn producer_config(r: &mut Reader<'_>, on_full: u32) -> Result<(ProducerConfig, OnFull), Fail> {
    let mut c = ProducerConfig::default();
    if let Some(n) = r.num() {
        c.batch_size = n as usize;
    }
    if let Some(n) = r.num() {
        c.linger_ms = n as u64;
    }
    if let Some(n) = r.num() {
        c.max_request_size = n as usize;
    }
    if let Some(n) = r.num() {
        c.batch_queue_size = n as usize;
    }
    if let Some(name) = r.text() {
        c.partitioner = PartitionerKind::parse(name)?;
    }
    c.compression = compression(r)?;
    let on_full = if on_full == 1 {
        OnFull::Error
    } else {
        OnFull::Wait
    };
    Ok((c, on_full))
}

/// One staged record: two numbers (a send's partition and timestamp, a restored
/// record's offset and timestamp; NaN: none), key length (i32, -1: no key), value
/// length, header count, each header's name and value lengths, then the key, the value,
/// and each header's name and value. The layout `read` answers with. The key and the
/// value are borrowed from the staging area.
#[derive(Debug)]
pub struct Staged<'a> {
    pub a: f64,
    pub b: f64,
    pub key: Option<&'a [u8]>,
    pub value: &'a [u8],
    pub headers: Vec<Header>,
}

/// Reads one staged record ([`Staged`]).
pub fn record<'a>(r: &mut Reader<'a>) -> Staged<'a> {
    let a = r.f64();
    let b = r.f64();
    let kl = r.u32();
    let vl = r.u32();
    let n = r.u32() as usize;
    // The headers' lengths, read beside the bytes that follow them (no list of them).
    let mut lens = Reader { b: r.b, at: r.at };
    r.take(n.saturating_mul(8));
    let key = (kl != u32::MAX).then(|| r.take(kl as usize));
    let value = r.take(vl as usize);
    let headers = (0..n.min(r.b.len()))
        .map(|_| {
            let (nl, hl) = (lens.u32(), lens.u32());
            Header {
                name: String::from(crate::text::utf8(r.take(nl as usize)).unwrap_or("")),
                value: r.take(hl as usize).to_vec(),
            }
        })
        .collect();
    Staged {
        a,
        b,
        key,
        value,
        headers,
    }
}

/// `count` staged records ([`record`]).
pub fn records<'a>(r: &mut Reader<'a>, count: u32) -> Vec<Staged<'a>> {
    (0..count).map(|_| record(r)).collect()
}

/// Records staged with their offsets and timestamps (`restore`, `encodeBatch`).
#[cfg(feature = "sink")]
impl crate::batch::Placed for Vec<Staged<'_>> {
    fn get(&self, i: usize) -> Option<(i64, crate::batch::RecordRef<'_>)> {
        let s = <[Staged<'_>]>::get(self, i)?;
        Some((
            s.a as i64,
            crate::batch::RecordRef {
                key: s.key,
                value: s.value,
                timestamp: s.b as i64,
                headers: &s.headers,
            },
        ))
    }
}

/// A count, then each of `records` ([`put_record`]): what `read` and `decodeBatch` answer.
pub fn put_records(out: &mut Vec<u8>, records: &[crate::ConsumedRecord]) {
    super::put_u32(out, records.len() as u32);
    for r in records {
        put_record(out, r);
    }
}

/// A record as `read` answers it (the layout [`record`] reads).
pub fn put_record(out: &mut Vec<u8>, r: &crate::ConsumedRecord) {
    use super::{put_f64, put_u32};
    put_f64(out, r.offset as f64);
    put_f64(out, r.timestamp as f64);
    put_u32(out, r.key.as_ref().map_or(u32::MAX, |k| k.len() as u32));
    put_u32(out, r.value.len() as u32);
    put_u32(out, r.headers.len() as u32);
    for h in &r.headers {
        put_u32(out, h.name.len() as u32);
        put_u32(out, h.value.len() as u32);
    }
    if let Some(k) = &r.key {
        out.extend_from_slice(k);
    }
    out.extend_from_slice(&r.value);
    for h in &r.headers {
        out.extend_from_slice(h.name.as_bytes());
        out.extend_from_slice(&h.value);
    }
}
