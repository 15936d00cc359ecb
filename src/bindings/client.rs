//! The client and its producers over the C ABI, for `js/tributary.js`'s `Tributary` and
//! `TopicProducer`: a client is a handle (a number; a freed one's is reused, see
//! `CLIENTS`), a producer its client's handle and the core's producer id (also reused:
//! `js/tributary.js` refuses a closed or freed producer's calls before they cross).
//!
//! The core decides (the driver gives every record a ticket and reports, per poll, which
//! tickets landed and which failed); these exports only unpack what JS staged, call the
//! core, and keep each poll's report in the client until JS takes it (`report`), which
//! makes the promises and `RecordMetadata` objects and schedules the next poll.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::convert::{self, Reader};
use super::error::{invalid_argument, Fail};
use super::{answer, put_bytes, put_f64, put_u32, ret, staged, OneThread};
use crate::driver::Report;
use crate::producer::ProducerId;
use crate::{Client, Driver, Error, RecordParts};

/// One sink of a client (driven by the sink's exports, `sink.rs`).
#[cfg(feature = "sink")]
pub(super) struct Slot {
    pub(super) sink: crate::sink::Sink,
    /// The handle JS holds (drawn from `Inner::ids`: never reused within a client).
    pub(super) id: u32,
}

/// What the polls settled since JS last took it (`report`).
#[derive(Default)]
struct Pending {
    /// Settled tickets.
    count: u32,
    /// Per settled ticket: ticket, partition (-1: failed), offset, timestamp (f64 each).
    settled: Vec<u8>,
    /// The failures' codes and messages, in the order of their tickets.
    errors: Vec<u8>,
    /// The last poll's next deadline (NaN: none).
    deadline: Option<i64>,
    /// Poll again at the next turn of the event loop.
    again: bool,
    /// Records were appended: the sinks have work.
    wake: bool,
}

pub(super) struct Inner {
    pub(super) client: Client,
    driver: Driver,
    #[cfg(feature = "sink")]
    pub(super) sinks: Vec<Slot>,
    /// The counter of sink handles.
    #[cfg(feature = "sink")]
    pub(super) ids: u32,
    /// The client's `appends()` when the sinks were last woken.
    #[cfg(feature = "sink")]
    woken: u64,
    closed: bool,
    pending: Pending,
}

/// The clients, by handle - 1 (`None` once freed, and then reused by the next client:
/// `js/tributary.js` reaches a client only through its state, whose handle it zeroes when
/// it frees it, so a late timer or finalizer never reaches the next client).
static CLIENTS: OneThread<Vec<Option<Box<Inner>>>> =
    OneThread(core::cell::RefCell::new(Vec::new()));

/// `f` on client `h` (`CLOSED` once freed).
pub(super) fn with<R>(h: u32, f: impl FnOnce(&mut Inner) -> Result<R, Fail>) -> Result<R, Fail> {
    let mut all = CLIENTS.mutate();
    match all
        .get_mut((h as usize).wrapping_sub(1))
        .and_then(Option::as_mut)
    {
        Some(i) => f(i),
        None => Err(Error::Closed.into()),
    }
}

impl Inner {
    /// Keeps `report` for JS, and whether the sinks have work.
    fn note(&mut self, report: Report) {
        let p = &mut self.pending;
        let mut put = |t: u64, part: f64, offset: i64, ts: i64| {
            p.count += 1;
            for v in [t as f64, part, offset as f64, ts as f64] {
                put_f64(&mut p.settled, v);
            }
        };
        for l in &report.landed {
            put(l.ticket, f64::from(l.partition), l.offset, l.timestamp);
        }
        for (t, e) in &report.failed {
            put(*t, -1.0, 0, 0);
            put_bytes(&mut p.errors, e.code().as_bytes());
            put_bytes(&mut p.errors, e.message().as_bytes());
        }
        p.deadline = report.next_deadline;
        p.again |= report.again;
        #[cfg(feature = "sink")]
        {
            let appends = self.client.appends();
            if appends != self.woken {
                self.woken = appends;
                p.wake |= !self.sinks.is_empty();
            }
        }
    }

    /// Polls the driver (`flush`: every open batch).
    pub(super) fn run_poll(&mut self, now: i64, flush: bool) {
        let report = self.driver.poll(&mut self.client, now, flush);
        self.note(report);
    }

    pub(super) fn check_open(&self) -> Result<(), Fail> {
        if self.closed {
            return Err(Error::Closed.into());
        }
        Ok(())
    }

    /// Whether records are still queued in producers or waiting for room.
    #[cfg(feature = "sink")]
    pub(super) fn backlog(&self) -> bool {
        self.driver.backlog(&self.client)
    }

    fn usable(&self, id: u32) -> Result<(), Fail> {
        if self.closed || !self.driver.is_open(ProducerId(id)) {
            return Err(Error::Closed.into());
        }
        Ok(())
    }

    /// Takes `records` as one group (`group`: all checked first, one bad record refuses
    /// the call with its index, taking nothing) or one record; returns the first ticket.
    fn take(
        &mut self,
        id: u32,
        records: &mut [RecordParts<'_>],
        group: bool,
        now: i64,
    ) -> Result<f64, Fail> {
        self.usable(id)?;
        let (c, d, id) = (&mut self.client, &mut self.driver, ProducerId(id));
        if group {
            d.send_group(c, id, records, now)
                .map(|t| t as f64)
                .map_err(|(n, e)| Fail::from(e).with(n as f64))
        } else if let [one] = records {
            Ok(d.send(c, id, one, now)? as f64)
        } else {
            Err(invalid_argument(MISMATCH))
        }
    }
}

/// A new client; `seed` fixes the keyless round robin's start. Returns its handle.
#[no_mangle]
pub extern "C" fn client_new(seed: f64) -> u32 {
    let mut all = CLIENTS.mutate();
    let at = all.iter().position(Option::is_none).unwrap_or(all.len());
    let inner = Some(Box::new(Inner {
        client: Client::new(seed as u64),
        driver: Driver::new(),
        #[cfg(feature = "sink")]
        sinks: Vec::new(),
        #[cfg(feature = "sink")]
        ids: 0,
        #[cfg(feature = "sink")]
        woken: 0,
        closed: false,
        pending: Pending::default(),
    }));
    match all.get_mut(at) {
        Some(slot) => *slot = inner,
        None => all.push(inner),
    }
    at as u32 + 1
}

/// Releases client `h` (its logs, producers, sinks).
#[no_mangle]
pub extern "C" fn client_free(h: u32) {
    if let Some(slot) = CLIENTS.mutate().get_mut((h as usize).wrapping_sub(1)) {
        *slot = None;
    }
}

/// Creates a topic: staged its name, then its config ([`convert::topic_config`]).
#[no_mangle]
pub extern "C" fn create_topic(h: u32) -> f64 {
    answer(|_| {
        staged(|s| {
            let mut r = Reader::new(s);
            let name = r.topic()?;
            let config = convert::topic_config(&mut r)?;
            // After reading: a getter of the config may have closed the client.
            with(h, |i| {
                i.check_open()?;
                Ok(i.client.create_topic(name, config)?)
            })
        })
    })
}

/// The names of the topics, sorted: a count, then each name.
#[no_mangle]
pub extern "C" fn topics(h: u32) -> f64 {
    answer(|out| {
        with(h, |i| {
            put_u32(out, i.client.topic_names().count() as u32);
            for n in i.client.topic_names() {
                put_bytes(out, n.as_bytes());
            }
            Ok(())
        })
    })
}

/// A producer for the staged topic with the staged config; `on_full` 1: `QUEUE_FULL`
/// rather than waiting. Returns its id.
#[no_mangle]
pub extern "C" fn topic_producer(h: u32, on_full: u32) -> f64 {
    ret(staged(|s| {
        let mut r = Reader::new(s);
        let topic = r.topic()?;
        let (config, on_full) = convert::producer_config(&mut r, on_full)?;
        with(h, |i| {
            i.check_open()?;
            let id = i
                .driver
                .topic_producer(&mut i.client, topic, config, on_full)?;
            Ok(f64::from(id.0))
        })
    }))
}

/// Polls (`flush`: every open batch); JS takes the report with `report`.
#[no_mangle]
pub extern "C" fn poll(h: u32, now: f64, flush: u32) {
    let _ = with(h, |i| {
        i.run_poll(now as i64, flush != 0);
        Ok(())
    });
}

/// What the polls settled since the last `report`: next deadline (NaN: none), poll again
/// (0/1), wake the sinks (0/1), the count, then per settled ticket (ticket, partition or
/// -1 for a failure, offset, timestamp), all f64; then each failure's code and message.
#[no_mangle]
pub extern "C" fn report(h: u32) -> f64 {
    answer(|out| {
        with(h, |i| {
            let p = &mut i.pending;
            put_f64(out, p.deadline.map_or(f64::NAN, |d| d as f64));
            put_f64(out, f64::from(u8::from(p.again)));
            put_f64(out, f64::from(u8::from(p.wake)));
            put_f64(out, f64::from(p.count));
            out.extend_from_slice(&p.settled);
            out.extend_from_slice(&p.errors);
            // Emptied, keeping their room for the next polls.
            p.settled.clear();
            p.errors.clear();
            (p.count, p.deadline, p.again, p.wake) = (0, None, false, false);
            Ok(())
        })
    })
}

/// Up to `max` records of the staged topic's `partition` from offset `from`: a count,
/// then each record ([`convert::put_record`]). `OFFSET_EVICTED` carries `nextAvailable`.
#[no_mangle]
pub extern "C" fn read(h: u32, partition: u32, from: f64, max: u32) -> f64 {
    answer(|out| {
        with(h, |i| {
            i.check_open()?;
            staged(|s| {
                let topic = Reader::new(s).topic()?;
                let records = i
                    .client
                    .read(topic, partition, from as i64, max as usize)
                    .map_err(|e| {
                        let next = match e {
                            Error::OffsetEvicted { next_available, .. } => next_available as f64,
                            _ => f64::NAN,
                        };
                        Fail::from(e).with(next)
                    })?;
                convert::put_records(out, &records);
                Ok(())
            })
        })
    })
}

/// What the staged topic's `partition` reports: nine f64 (logStartOffset, highWatermark,
/// bytes, records, segments, evictedRecords, lostRecords, ackedOffset (-1: none),
/// overBound).
#[no_mangle]
pub extern "C" fn partition_info(h: u32, partition: u32) -> f64 {
    answer(|out| {
        with(h, |i| {
            i.check_open()?;
            let info = staged(|s| {
                let topic = Reader::new(s).topic()?;
                Ok::<_, Fail>(i.client.partition_info(topic, partition)?)
            })?;
            for v in [
                info.log_start_offset as f64,
                info.high_watermark as f64,
                info.bytes as f64,
                info.records as f64,
                info.segments as f64,
                info.evicted_records as f64,
                info.lost_records as f64,
                info.acked_offset.map_or(-1.0, |a| a as f64),
                f64::from(u8::from(info.over_bound)),
            ] {
                put_f64(out, v);
            }
            Ok(())
        })
    })
}

/// Appends every open batch, then closes the client: its sinks go, records waiting for
/// room (or behind a full outbox) fail with `CLOSED` (in the report), its memory is
/// released; later calls fail with `CLOSED`.
#[no_mangle]
pub extern "C" fn close(h: u32, now: f64) {
    let _ = with(h, |i| {
        let now = now as i64;
        i.run_poll(now, true);
        i.closed = true;
        #[cfg(feature = "sink")]
        {
            i.sinks = Vec::new();
        }
        let report = i.driver.close(&mut i.client, now);
        i.note(report);
        i.client = Client::new(0);
        i.driver = Driver::new();
        Ok(())
    });
}

/// The records `send` finds staged: `words` has (key length + 1 or 0, value length) per
/// record, the bytes follow each other in `data`. `None` when they disagree.
fn unpack<'a>(data: &'a [u8], words: &[u8]) -> Option<Vec<RecordParts<'a>>> {
    let mut at = 0usize;
    let mut take = |n: usize| -> Option<&'a [u8]> {
        let s = data.get(at..at.checked_add(n)?)?;
        at += n;
        Some(s)
    };
    let word = |w: &[u8]| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as usize;
    let mut out = Vec::with_capacity(words.len() / 8);
    for pair in words.chunks_exact(8) {
        let key = match word(&pair[..4]) {
            0 => None,
            n => Some(take(n - 1)?),
        };
        let value = take(word(&pair[4..]))?;
        out.push(RecordParts {
            key,
            value,
            timestamp: None,
            headers: &[],
            partition: None,
        });
    }
    (at == data.len()).then_some(out)
}

/// What `send` and `send_full` answer for staging that does not match its call (JS's
/// bug, never the user's input): one message for both.
const MISMATCH: &str = "the staged records do not add up";

/// Producer `id` takes `count` staged records, laid out as `count` pairs of
/// little-endian u32 (key length + 1, or 0 for no key; value length), then `bytes` bytes:
/// each key and value back to back. As one group when `group` (`sendAll`), else one
/// record (`send`). Returns the first ticket; a group's error carries the record's index.
#[no_mangle]
pub extern "C" fn send(h: u32, id: u32, count: u32, bytes: u32, group: u32, now: f64) -> f64 {
    ret(staged(|s| {
        let words = 8 * count as usize;
        let all = s
            .get(..words + bytes as usize)
            .and_then(|all| all.split_at_checked(words));
        match all.and_then(|(words, data)| unpack(data, words)) {
            Some(mut records) => with(h, |i| i.take(id, &mut records, group != 0, now as i64)),
            None => Err(invalid_argument(MISMATCH)),
        }
    }))
}

/// As [`send`], of `count` records staged with their options ([`convert::record`]:
/// partition and timestamp, NaN: none; headers).
#[no_mangle]
pub extern "C" fn send_full(h: u32, id: u32, count: u32, group: u32, now: f64) -> f64 {
    ret(staged(|s| {
        let records = convert::records(&mut Reader::new(s), count);
        let mut parts: Vec<RecordParts<'_>> = records
            .iter()
            .map(|s| RecordParts {
                key: s.key,
                value: s.value,
                timestamp: (!s.b.is_nan()).then_some(s.b as i64),
                headers: &s.headers,
                partition: (!s.a.is_nan()).then_some(s.a as u32),
            })
            .collect();
        with(h, |i| i.take(id, &mut parts, group != 0, now as i64))
    }))
}

/// Appends producer `id`'s open batches and closes it (see `TopicProducer.close`).
#[no_mangle]
pub extern "C" fn producer_close(h: u32, id: u32, now: f64) {
    let _ = with(h, |i| {
        if !i.closed {
            let report = i
                .driver
                .close_producer(&mut i.client, ProducerId(id), now as i64);
            i.note(report);
        }
        Ok(())
    });
}

/// Producer `id` was garbage-collected (or freed) without `close()`: it is closed once
/// the records it sent are in the log (they are not given up).
#[no_mangle]
pub extern "C" fn producer_orphan(h: u32, id: u32, now: f64) {
    let _ = with(h, |i| {
        let report = i.driver.orphan(&mut i.client, ProducerId(id), now as i64);
        i.note(report);
        Ok(())
    });
}

/// Producer `id`'s counters: eleven f64 (records, bytes, batches, recordsAppended,
/// queueDepth, queuedRecords, waiting, rejected, queueFull, evicted, dropped).
#[no_mangle]
pub extern "C" fn producer_stats(h: u32, id: u32) -> f64 {
    answer(|out| {
        with(h, |i| {
            let s = i.client.producer_stats(ProducerId(id))?;
            let waiting = i.driver.waiting(ProducerId(id)) as u64;
            for v in [
                s.records,
                s.bytes,
                s.batches,
                s.records_appended,
                s.queue_depth,
                s.queued_records,
                waiting,
                s.rejected,
                s.queue_full,
                s.evicted,
                s.dropped,
            ] {
                put_f64(out, v as f64);
            }
            Ok(())
        })
    })
}

/// Puts `count` staged records (after the topic's name; [`convert::record`]: offset and
/// timestamp, key, value, headers) back into
/// the topic's `partition` at the offsets they had (see `Tributary.restore`).
#[cfg(feature = "sink")]
#[no_mangle]
pub extern "C" fn restore(h: u32, partition: u32, count: u32, now: f64) -> f64 {
    answer(|_| {
        staged(|s| {
            let mut r = Reader::new(s);
            let topic = r.topic()?;
            let records = convert::records(&mut r, count);
            with(h, |i| {
                i.check_open()?;
                i.client
                    .restore_placed(topic, partition, &records, now as i64)?;
                i.run_poll(now as i64, false);
                Ok(())
            })
        })
    })
}

/// Decodes one record batch from the `len` staged bytes (a compressed one inflating to
/// at most `max` bytes): base offset, size (f64), a count, then the records as `read`
/// answers them. `CORRUPT_BATCH` carries its reason: 0 truncated, 1 crc, 2 decompress,
/// 3 anything else.
#[cfg(feature = "sink")]
#[no_mangle]
pub extern "C" fn decode_batch(len: u32, max: u32) -> f64 {
    answer(|out| {
        staged(|s| {
            let bytes = s.get(..len as usize).unwrap_or(&[]);
            let (batch, size) = crate::batch::decode_batch(bytes, max as usize).map_err(|d| {
                let reason = match d {
                    crate::DecodeError::Truncated { .. } => 0.0,
                    crate::DecodeError::CrcMismatch { .. } => 1.0,
                    crate::DecodeError::Decompress => 2.0,
                    _ => 3.0,
                };
                Fail::from(Error::Decode(d)).with(reason)
            })?;
            put_f64(out, batch.base_offset as f64);
            put_f64(out, size as f64);
            convert::put_records(out, &batch.records);
            Ok(())
        })
    })
}

/// Encodes `count` staged records ([`convert::record`]: offset and timestamp, key,
/// value, headers; consecutive offsets) as one uncompressed record batch whose base
/// offset is the first record's: its bytes.
#[cfg(feature = "sink")]
#[no_mangle]
pub extern "C" fn encode_batch(count: u32) -> f64 {
    use crate::batch::{fill, BatchBuilder, Placed};
    answer(|out| {
        staged(|s| {
            let records = convert::records(&mut Reader::new(s), count);
            let Some((base, _)) = records.get(0) else {
                return Err(invalid_argument("encodeBatch needs at least one record"));
            };
            let mut b = BatchBuilder::new();
            let n = fill(&mut b, &records, 0, usize::MAX);
            if let Some((offset, _)) = records.get(n) {
                return Err(invalid_argument(if offset != base + n as i64 {
                    "records must have consecutive offsets"
                } else {
                    "the records' timestamps are more than 2^31 - 1 ms apart"
                }));
            }
            let mut batch = b.finish(crate::Compression::None);
            batch.set_base_offset(base);
            put_bytes(out, batch.bytes());
            Ok(())
        })
    })
}
