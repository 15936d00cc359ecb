//! The sink's bindings: the core's delivery state machine ([`crate::sink::Sink`]) for
//! `js/nats.js`, which speaks NATS and owns the socket and the timer.
//!
//! Two exports, behind `Tributary`'s internal methods `sinkOpen` and `sinkDo`
//! (`js/tributary.js`). Each event crosses once and its answer comes back as one byte
//! buffer (the format is described at the top of `js/nats.js`): what to open, close,
//! ping, the records to publish with their bytes, the acknowledgement progress, the
//! flush waiters that settled, the state and the next deadline. What a poll inside
//! settles waits in the client for JS (`report`), like any poll's.

use alloc::vec::Vec;

use super::client::{with, Inner, Slot};
use super::convert::Reader;
use super::{answer, put_f64, put_u32, staged};
use crate::record::ConsumedRecord;
use crate::sink::{Action, Delivery, Sink, SinkConfig, NEVER};
use crate::Error;

// sinkDo kinds, as js/nats.js names them.
const POLL: u32 = 0;
const UP: u32 = 1;
const CLOSED: u32 = 2;
const PONG: u32 = 3;
const PAUSE: u32 = 4;
const RESUME: u32 = 5;
const CLOSE: u32 = 6;
const TOO_LARGE: u32 = 7;
const NAK: u32 = 8;
const FAIL: u32 = 9;
const ACKS: u32 = 10;
const STATS: u32 = 11;
const WAIT: u32 = 12;
const WAIT_APPENDED: u32 = 13;
const BACKLOG: u32 = 14;

/// `(partition, from, to)` ranges: a count, then each.
fn put_ranges(out: &mut Vec<u8>, ranges: &[crate::sink::Range]) {
    put_u32(out, ranges.len() as u32);
    for &(p, from, to) in ranges {
        put_u32(out, p);
        put_f64(out, from as f64);
        put_f64(out, to as f64);
    }
}

/// One record to publish: its partition, then the record as `read` answers it.
fn put_record(out: &mut Vec<u8>, p: u32, r: &ConsumedRecord) {
    out.push(4);
    put_u32(out, p);
    super::convert::put_record(out, r);
}

/// Polls the sink and writes what the host must do (the actions, then the records to
/// publish), then the progress and the state. Not inlined into `act`: the wasm is 64 B
/// gzip smaller so (measured).
#[inline(never)]
fn answer_to(slot: &mut Slot, client: &mut crate::Client, t: i64, out: &mut Vec<u8>) {
    let s = &mut slot.sink;
    s.tick(client, t);
    s.drain_actions(|a| match a {
        Action::Open { server } => {
            out.push(1);
            put_u32(out, server as u32);
        }
        Action::Close => out.push(2),
        Action::Ping => out.push(3),
        Action::GivenUp { partition, offset } => {
            out.push(6);
            put_u32(out, partition);
            put_f64(out, offset as f64);
        }
    });
    s.hand_out(client, t, |p, r| put_record(out, p, r));
    s.drain_acked(|a| {
        out.push(5);
        put_u32(out, a.partition);
        put_f64(out, a.acked_offset as f64);
        put_f64(out, a.stream_seq as f64);
        put_u32(out, a.given_up.len() as u32);
        for &o in a.given_up {
            put_f64(out, o as f64);
            put_f64(out, (o + 1) as f64);
        }
    });
    s.drain_settled(t, |id, outcome, lacks| {
        out.push(7);
        put_u32(out, id);
        out.push(outcome as u8);
        put_ranges(out, lacks);
    });
    out.push(0);
    out.push(s.state() as u8);
    out.push(s.cause() as u8);
    put_u32(out, s.server() as u32);
    let d = s.deadline();
    put_f64(out, if d == NEVER { f64::NAN } else { d as f64 });
}

impl Inner {
    fn slot(&mut self, id: u32) -> Option<(&mut Slot, &mut crate::Client)> {
        let slot = self.sinks.iter_mut().find(|s| s.id == id)?;
        Some((slot, &mut self.client))
    }
}

fn num(v: Option<f64>) -> f64 {
    v.unwrap_or(-1.0)
}

/// Starts the core's sink on the staged topic, if `connect(topic, ...)` may go on
/// (`CLOSED`, `INVALID_ARGUMENT`, `UNKNOWN_TOPIC`, `SINK_EXISTS` otherwise; with
/// `configured` 0, only that check, answering nothing): after the topic's name, eight
/// f64: `[servers, atLeastOnce, maxRetries (-1: none), ackTimeoutMs, connectTimeoutMs,
/// backoffInitialMs, backoffMaxMs, maxInFlight]`. Answers five f64: `[id, partitions,
/// replicationFactor, maxAgeMs, maxBytes]` (-1: unbounded).
#[no_mangle]
pub extern "C" fn sink_open(h: u32, configured: u32, seed: f64, now: f64) -> f64 {
    answer(|out| {
        with(h, |i| {
            i.check_open()?;
            staged(|s| {
                let mut r = Reader::new(s);
                let topic = r.topic()?;
                let tc = *i.client.topic_config(topic)?;
                if i.sinks.iter().any(|s| s.sink.topic() == topic) {
                    return Err(Error::SinkExists {
                        topic: alloc::string::String::from(topic),
                    }
                    .into());
                }
                if configured == 0 {
                    return Ok(());
                }
                let mut n = || r.f64();
                let c = SinkConfig {
                    servers: n() as usize,
                    delivery: if n() == 1.0 {
                        Delivery::AtLeastOnce
                    } else {
                        Delivery::AtMostOnce
                    },
                    max_retries: Some(n()).filter(|m| *m >= 0.0).map(|m| m as u32),
                    ack_timeout_ms: n() as u64,
                    connect_timeout_ms: n() as u64,
                    backoff_initial_ms: n() as u64,
                    backoff_max_ms: n() as u64,
                    max_in_flight: n() as usize,
                };
                let sink = Sink::new(&mut i.client, topic, c, seed as u64, now as i64)?;
                i.ids = i.ids.wrapping_add(1);
                let id = i.ids;
                i.sinks.push(Slot { sink, id });
                put_f64(out, f64::from(id));
                put_f64(out, f64::from(tc.partitions));
                put_f64(out, f64::from(tc.replication_factor));
                put_f64(out, num(tc.retention.max_age_ms.map(|v| v as f64)));
                put_f64(out, num(tc.retention.max_bytes.map(|v| v as f64)));
                Ok(())
            })
        })
    })
}

/// What `js/nats.js` asks of sink `id`, by `kind`: an event (poll, up, closed, pong,
/// pause, resume, close, too large, refused, failed; `partition`/`offset` for the
/// record ones), `acks` staged acknowledgements (`ACKS`: partition, offset, stream
/// sequence, duplicate, four f64 each), a flush waiter (id `partition`, timeout `offset`
/// ms, negative: none; appending open batches first for the sink's own flush), each then
/// a poll answering what to do, as bytes; or numbers as little-endian f64 bytes: the
/// counters, whether records still wait in producers. Answers a u32 length and the
/// bytes; 0 for a sink that is gone.
#[no_mangle]
pub extern "C" fn sink_do(
    h: u32,
    id: u32,
    kind: u32,
    partition: u32,
    offset: f64,
    acks: u32,
    now: f64,
) -> f64 {
    let mut gone = false;
    let a = answer(|out| {
        // The body's length, written once it is known.
        put_u32(out, 0);
        let done = with(h, |i| {
            Ok(staged(|s| {
                act(i, id, kind, partition, offset, s, acks, now as i64, out)
            }))
        });
        let len = (out.len() - 4) as u32;
        match (done, out.get_mut(..4)) {
            (Ok(Some(())), Some(at)) => at.copy_from_slice(&len.to_le_bytes()),
            _ => gone = true,
        }
        Ok(())
    });
    if gone {
        0.0
    } else {
        a
    }
}

#[allow(clippy::too_many_arguments)]
fn act(
    i: &mut Inner,
    id: u32,
    kind: u32,
    partition: u32,
    offset: f64,
    staged: &[u8],
    acks: u32,
    t: i64,
    out: &mut Vec<u8>,
) -> Option<()> {
    if kind == BACKLOG {
        out.push(u8::from(i.backlog()));
        return Some(());
    }
    if kind == WAIT_APPENDED {
        i.run_poll(t, true);
    }
    let (slot, client) = i.slot(id)?;
    let s = &mut slot.sink;
    let o = offset as i64;
    match kind {
        UP => s.on_up(t),
        CLOSED => s.on_closed(client, t),
        PONG => s.on_pong(),
        PAUSE => s.pause(t),
        RESUME => s.resume(t),
        // Close's report: waiter `partition`, which the close stops, names what is not
        // delivered.
        CLOSE => {
            s.wait(client, partition, None);
            s.close();
        }
        TOO_LARGE => s.on_too_large(client, partition, o, t),
        NAK => s.on_nak(client, partition, o, t),
        FAIL => s.fail(t),
        ACKS => {
            let mut r = Reader::new(staged);
            for _ in 0..acks {
                let (p, off, seq, dup) = (r.f64(), r.f64(), r.f64(), r.f64());
                s.on_ack(client, p as u32, off as i64, seq as u64, dup == 1.0, t);
            }
        }
        STATS => {
            for n in s.counters() {
                put_f64(out, n as f64);
            }
            return Some(());
        }
        WAIT | WAIT_APPENDED => {
            s.wait(client, partition, (offset >= 0.0).then(|| t + o));
        }
        _ => {}
    }
    if kind == ACKS {
        // Acks free outbox room: waiting sends are admitted first, then it publishes.
        i.run_poll(t, false);
    }
    let (slot, client) = i.slot(id)?;
    answer_to(slot, client, t, out);
    if kind == CLOSE {
        if let Some(k) = i.sinks.iter().position(|s| s.id == id) {
            i.sinks.swap_remove(k);
        }
    }
    if kind != POLL && kind != ACKS {
        // Closes and refusals may free outbox room too.
        i.run_poll(t, false);
    }
    Some(())
}
