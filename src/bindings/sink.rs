//! The sink's bindings: the core's delivery state machine ([`crate::sink::Sink`]) for
//! `js/nats.js`, which speaks NATS and owns the socket and the timer.
//!
//! Internal methods of `Tributary` (not in the types): `sinkOpen`, `sinkDo`. Each event
//! crosses once and its answer comes back as one byte buffer (the format is described at
//! the top of `js/nats.js`): what to open, close, ping, the records to publish with their
//! bytes, the acknowledgement progress, the flush waiters that settled, the state and the
//! next deadline.

use alloc::vec::Vec;

use js_sys::{Float64Array, Function};
use wasm_bindgen::prelude::*;

use super::client::{now, run_poll, Inner, Slot, Tributary};
use super::convert::{self, JsResult};
use super::error::from_core;
use crate::record::ConsumedRecord;
use crate::sink::{Action, Delivery, Sink, SinkConfig};
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

fn u32le(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn f64le(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// `(partition, from, to)` ranges: a count, then each.
fn put_ranges(out: &mut Vec<u8>, ranges: &[crate::sink::Range]) {
    u32le(out, ranges.len() as u32);
    for &(p, from, to) in ranges {
        u32le(out, p);
        f64le(out, from as f64);
        f64le(out, to as f64);
    }
}

/// One record to publish: partition, offset, timestamp, lengths, then the bytes.
fn put_record(out: &mut Vec<u8>, p: u32, r: &ConsumedRecord) {
    out.push(4);
    u32le(out, p);
    f64le(out, r.offset as f64);
    f64le(out, r.timestamp as f64);
    let kl = r.key.as_ref().map_or(-1, |k| k.len() as i32);
    out.extend_from_slice(&kl.to_le_bytes());
    u32le(out, r.value.len() as u32);
    u32le(out, r.headers.len() as u32);
    for h in &r.headers {
        u32le(out, h.name.len() as u32);
        u32le(out, h.value.len() as u32);
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

/// Polls the sink and writes what the host must do, then the progress and the state.
fn answer(slot: &mut Slot, client: &mut crate::Client, t: i64, head: &mut Vec<u8>) {
    let mut out = Vec::new();
    slot.sink
        .poll(client, t, &mut |p, r| put_record(&mut out, p, r));
    for a in &slot.sink.take_actions() {
        match *a {
            Action::Open { server } => {
                head.push(1);
                u32le(head, server as u32);
            }
            Action::Close => head.push(2),
            Action::Ping => head.push(3),
            Action::GivenUp { partition, offset } => {
                head.push(6);
                u32le(head, partition);
                f64le(head, offset as f64);
            }
        }
    }
    head.extend_from_slice(&out);
    slot.sink.take_acked(&mut |a| {
        head.push(5);
        u32le(head, a.partition);
        f64le(head, a.acked_offset as f64);
        f64le(head, a.stream_seq as f64);
        u32le(head, a.given_up.len() as u32);
        for &o in a.given_up {
            f64le(head, o as f64);
            f64le(head, (o + 1) as f64);
        }
    });
    slot.sink.take_settled(t, &mut |id, outcome, lacks| {
        head.push(7);
        u32le(head, id);
        head.push(outcome as u8);
        put_ranges(head, lacks);
    });
    head.push(0);
    head.push(slot.sink.state() as u8);
    head.push(slot.sink.cause() as u8);
    u32le(head, slot.sink.server() as u32);
    f64le(
        head,
        slot.sink.next_deadline().map_or(f64::NAN, |d| d as f64),
    );
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

#[wasm_bindgen]
impl Tributary {
    /// Starts the core's sink on `topic`, if `connect(topic, ...)` may go on (`CLOSED`,
    /// `INVALID_ARGUMENT`, `UNKNOWN_TOPIC`, `SINK_EXISTS` otherwise; with no `config`, only
    /// that check, answering nothing): `config` is `[servers, atLeastOnce, maxRetries (-1:
    /// none), ackTimeoutMs, connectTimeoutMs, backoffInitialMs, backoffMaxMs,
    /// maxInFlight]`. Returns `[id, partitions, replicationFactor, maxAgeMs, maxBytes]`
    /// (-1: unbounded).
    #[wasm_bindgen(js_name = "sinkOpen", skip_typescript)]
    pub fn sink_open(
        &self,
        topic: JsValue,
        config: &[f64],
        wake: Function,
    ) -> JsResult<Option<Float64Array>> {
        self.check_open()?;
        let topic = convert::topic(&topic)?;
        let mut guard = self.inner.borrow_mut();
        let i = &mut *guard;
        let tc = *i.client.topic_config(&topic).map_err(|e| from_core(&e))?;
        if i.sinks.iter().any(|s| s.sink.topic() == topic) {
            return Err(from_core(&Error::SinkExists { topic }));
        }
        if config.is_empty() {
            return Ok(None);
        }
        let n = |i: usize| config.get(i).copied().unwrap_or(0.0);
        let c = SinkConfig {
            servers: n(0) as usize,
            delivery: if n(1) == 1.0 {
                Delivery::AtLeastOnce
            } else {
                Delivery::AtMostOnce
            },
            max_retries: (n(2) >= 0.0).then(|| n(2) as u32),
            ack_timeout_ms: n(3) as u64,
            connect_timeout_ms: n(4) as u64,
            backoff_initial_ms: n(5) as u64,
            backoff_max_ms: n(6) as u64,
            max_in_flight: n(7) as usize,
        };
        let sink = Sink::new(
            &mut i.client,
            &topic,
            c,
            super::client::random_seed(),
            now(),
        )
        .map_err(|e| from_core(&e))?;
        i.ids = i.ids.wrapping_add(1);
        let id = i.ids;
        i.sinks.push(Slot { sink, id, wake });
        Ok(Some(Float64Array::from(
            &[
                f64::from(id),
                f64::from(tc.partitions),
                f64::from(tc.replication_factor),
                num(tc.retention.max_age_ms.map(|v| v as f64)),
                num(tc.retention.max_bytes.map(|v| v as f64)),
            ][..],
        )))
    }

    /// What `js/nats.js` asks of sink `id`, by `kind`: an event (poll, up, closed, pong,
    /// pause, resume, close, too large, refused, failed; `partition`/`offset` for the
    /// record ones), acknowledgements (`acks`: partition, offset, stream sequence,
    /// duplicate, four numbers each), a flush waiter (id `partition`, timeout `offset` ms,
    /// negative: none; appending open batches first for the sink's own flush), each then
    /// a poll answering what to do, as bytes; or numbers as little-endian f64 bytes: the
    /// counters, whether records still wait in producers. A sink that is gone answers
    /// nothing (`undefined`).
    #[wasm_bindgen(js_name = "sinkDo", skip_typescript)]
    pub fn sink_do(
        &self,
        id: u32,
        kind: u32,
        partition: u32,
        offset: f64,
        acks: &[f64],
    ) -> Option<Vec<u8>> {
        let t = now();
        if kind == BACKLOG {
            return Some(alloc::vec![u8::from(self.inner.borrow().backlog())]);
        }
        if kind == WAIT_APPENDED {
            run_poll(&self.inner, true);
        }
        let out = {
            let mut guard = self.inner.borrow_mut();
            let (slot, client) = guard.slot(id)?;
            let s = &mut slot.sink;
            let o = offset as i64;
            match kind {
                UP => s.on_up(t),
                CLOSED => s.on_closed(client, t),
                PONG => s.on_pong(),
                PAUSE => s.pause(t),
                RESUME => s.resume(t),
                // Close's report: waiter `partition`, which the close stops, names what
                // is not delivered.
                CLOSE => {
                    s.wait(client, partition, None);
                    s.close();
                }
                TOO_LARGE => s.on_too_large(client, partition, o, t),
                NAK => s.on_nak(client, partition, o, t),
                FAIL => s.fail(t),
                ACKS => {
                    for a in acks.chunks_exact(4) {
                        s.on_ack(
                            client,
                            a[0] as u32,
                            a[1] as i64,
                            a[2] as u64,
                            a[3] == 1.0,
                            t,
                        );
                    }
                }
                STATS => {
                    let x = s.stats();
                    let mut b = Vec::new();
                    for n in [
                        x.published,
                        x.acked,
                        x.duplicates,
                        x.resent,
                        x.timeouts,
                        x.errors,
                        x.failed_records,
                        x.connects,
                        x.disconnects,
                        x.in_flight,
                    ] {
                        f64le(&mut b, n as f64);
                    }
                    return Some(b);
                }
                WAIT | WAIT_APPENDED => {
                    s.wait(client, partition, (offset >= 0.0).then(|| t + o));
                }
                _ => {}
            }
            if kind == ACKS {
                // Acks free outbox room: waiting sends are admitted first, then it publishes.
                drop(guard);
                run_poll(&self.inner, false);
                guard = self.inner.borrow_mut();
            }
            let (slot, client) = guard.slot(id)?;
            let mut out = Vec::new();
            answer(slot, client, t, &mut out);
            if kind == CLOSE {
                guard.sinks.retain(|s| s.id != id);
            }
            out
        };
        if kind != POLL && kind != ACKS {
            // Closes and refusals may free outbox room too.
            run_poll(&self.inner, false);
        }
        Some(out)
    }
}
