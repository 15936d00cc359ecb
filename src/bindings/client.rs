//! `Tributary` and `TopicProducer`: the JS classes over [`crate::Client`] and its
//! [`Driver`].
//!
//! The core decides (the driver gives every record a ticket and reports, per poll, which
//! tickets landed and which failed); this file converts arguments, and hands each poll's
//! report to the package's JS (`js/errors.js`), which keeps the promises, builds the
//! `RecordMetadata` objects and schedules the next poll (one microtask, one timer).
//!
//! Records cross in bulk: `js/errors.js` writes them into the client's staging area (one
//! per client, in wasm memory: `stage`), then one call (`push`) takes them all.
//! Internal methods (names starting with `_`, not in the types, taken off the prototypes
//! by `js/errors.js`): `_hook`, `_poll` on `Tributary`; `_stage`, `_push`, `_send`,
//! `_sendAll` on `TopicProducer`.

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use super::convert::{self, JsResult};
use super::error::{from_core, invalid_argument};
use crate::driver::Report;
use crate::producer::ProducerId;
use crate::{Client, Driver, Error, ProduceRecord, RecordParts, MAX_SAFE_OFFSET};

/// One sink of a client (the sink's bindings, `sink.rs`, drive it; this file only wakes
/// it when records were appended: the import goes one way, `sink.rs` to here).
#[cfg(feature = "sink")]
pub(super) struct Slot {
    pub(super) sink: crate::sink::Sink,
    /// The handle JS holds (drawn from `Inner::ids`: never reused within a client).
    pub(super) id: u32,
    /// Called (from `run_poll`) when records were appended.
    pub(super) wake: Function,
}

pub(super) struct Inner {
    pub(super) client: Client,
    driver: Driver,
    #[cfg(feature = "sink")]
    pub(super) sinks: Vec<Slot>,
    /// The counter of sink handles.
    #[cfg(feature = "sink")]
    pub(super) ids: u32,
    /// The client's `appends()` when the sinks were last woken: any append since (a
    /// producer's batch, a `restore`) wakes them again.
    #[cfg(feature = "sink")]
    pub(super) woken: u64,
    closed: bool,
    /// Where `js/errors.js` writes records for `push` (8 spare bytes to align its start).
    stage: Vec<u8>,
    /// The last report for JS: next deadline (NaN: none), poll again (0/1), then per
    /// settled ticket (ticket, partition or -1 for a failure, offset, timestamp).
    out: Vec<f64>,
    /// `js/errors.js`'s receiver of reports: `(out pointer, settled count, errors)`.
    hook: Option<Function>,
}

pub(super) fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

/// The records `push` finds in the staging area: `words` has (key length + 1 or 0,
/// value length) per record, the bytes follow each other in `data`. `None` when they
/// disagree.
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

pub(super) fn now() -> i64 {
    js_sys::Date::now() as i64
}

/// Hands `report` to the package's JS (the promises and the timer are there).
fn deliver(inner: &Rc<RefCell<Inner>>, report: Report) {
    let hook = {
        let mut i = inner.borrow_mut();
        let Some(hook) = i.hook.clone() else {
            return;
        };
        let n = report.landed.len() + report.failed.len();
        let out = &mut i.out;
        out.clear();
        out.push(report.next_deadline.map_or(f64::NAN, |d| d as f64));
        out.push(f64::from(u8::from(report.again)));
        for l in &report.landed {
            out.extend_from_slice(&[
                l.ticket as f64,
                f64::from(l.partition),
                l.offset as f64,
                l.timestamp as f64,
            ]);
        }
        let errors = Array::new();
        for (t, e) in &report.failed {
            out.extend_from_slice(&[*t as f64, -1.0, 0.0, 0.0]);
            errors.push(&from_core(e));
        }
        (hook, i.out.as_ptr() as u32, n as u32, errors)
    };
    let (f, ptr, n, errors) = hook;
    let _ = f.call3(&JsValue::UNDEFINED, &ptr.into(), &n.into(), &errors);
}

/// Polls the driver (`flush_all`: every open batch) and hands JS what settled.
pub(super) fn run_poll(inner: &Rc<RefCell<Inner>>, flush_all: bool) {
    let report = {
        let mut guard = inner.borrow_mut();
        let i = &mut *guard;
        i.driver.poll(&mut i.client, now(), flush_all)
    };
    deliver(inner, report);
    wake_sinks(inner);
}

/// The sinks publish what was appended since they were last woken, by a producer or by
/// `restore` (each at its next microtask).
#[cfg_attr(not(feature = "sink"), allow(unused_variables))]
fn wake_sinks(inner: &Rc<RefCell<Inner>>) {
    #[cfg(feature = "sink")]
    {
        let wakes = {
            let mut i = inner.borrow_mut();
            let appends = i.client.appends();
            if appends == i.woken {
                Vec::new()
            } else {
                i.woken = appends;
                i.sinks.iter().map(|s| s.wake.clone()).collect()
            }
        };
        for w in wakes {
            let _ = w.call0(&JsValue::UNDEFINED);
        }
    }
}

#[cfg(feature = "sink")]
impl Inner {
    /// Whether records are still queued in producers or waiting for room.
    pub(super) fn backlog(&self) -> bool {
        self.driver.backlog(&self.client)
    }
}

/// A tributary client: topics with in-memory partition logs, and the producers writing
/// to them.
///
/// ```ts
/// import { Tributary } from "tributary";
/// const client = new Tributary();
/// client.createTopic("clicks", { partitions: 4 });
/// const producer = client.topicProducer("clicks");
/// const md = await producer.send("user-42", "hello");
/// ```
#[wasm_bindgen]
pub struct Tributary {
    pub(super) inner: Rc<RefCell<Inner>>,
}

impl core::fmt::Debug for Tributary {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Tributary")
    }
}

pub(super) fn random_seed() -> u64 {
    // Math.random is enough to spread the keyless round robin's start; it is not a secret.
    let hi = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    let lo = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    (hi << 32) | lo
}

#[wasm_bindgen]
impl Tributary {
    /// A client with no topics (local mode: in-memory topics only).
    ///
    /// `options.seed` (integer) fixes the random start of the keyless round robin, for
    /// reproducible tests; by default it is random.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_optional_param_type = "{ seed?: number }")] options: JsValue,
    ) -> JsResult<Tributary> {
        let seed = match convert::field(&options, "seed")? {
            Some(v) => convert::integer(&v, "seed", 0.0, MAX_SAFE_OFFSET as f64)
                .map_err(|m| invalid_argument(&m))? as u64,
            None => random_seed(),
        };
        let inner = Rc::new(RefCell::new(Inner {
            client: Client::new(seed),
            driver: Driver::new(),
            closed: false,
            #[cfg(feature = "sink")]
            sinks: Vec::new(),
            #[cfg(feature = "sink")]
            ids: 0,
            #[cfg(feature = "sink")]
            woken: 0,
            stage: Vec::new(),
            out: Vec::new(),
            hook: None,
        }));
        Ok(Tributary { inner })
    }

    /// Internal (`js/errors.js`): the function each report goes to.
    #[wasm_bindgen(js_name = "_hook", skip_typescript)]
    pub fn set_hook(&self, hook: Function) {
        self.inner.borrow_mut().hook = Some(hook);
    }

    /// Internal (`js/errors.js`'s microtask and timer): polls, `flush` for every open batch.
    #[wasm_bindgen(js_name = "_poll", skip_typescript)]
    pub fn poll(&self, flush: bool) {
        run_poll(&self.inner, flush);
    }

    pub(super) fn check_open(&self) -> JsResult<()> {
        if self.inner.borrow().closed {
            return Err(from_core(&Error::Closed));
        }
        Ok(())
    }

    /// Creates a topic. Throws `TOPIC_EXISTS`, `INVALID_TOPIC_NAME` or `INVALID_CONFIG`.
    ///
    /// Defaults: `partitions` 1, `replicationFactor` 1, no retention bound,
    /// `compression` "none".
    #[wasm_bindgen(js_name = "createTopic")]
    pub fn create_topic(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "TopicConfig")] config: JsValue,
    ) -> JsResult<()> {
        let name = &convert::topic(&name)?;
        let config = convert::topic_config(&config)?;
        // After reading: a getter of `config` may have closed the client.
        self.check_open()?;
        self.inner
            .borrow_mut()
            .client
            .create_topic(name, config)
            .map_err(|e| from_core(&e))
    }

    /// The names of the topics, sorted.
    #[wasm_bindgen(unchecked_return_type = "string[]")]
    pub fn topics(&self) -> Array {
        self.inner
            .borrow()
            .client
            .topic_names()
            .map(JsValue::from_str)
            .collect()
    }

    /// A producer for `topic`. Throws `UNKNOWN_TOPIC` or `INVALID_CONFIG`.
    ///
    /// Defaults: `batchSize` 16384 bytes, `linger` 0 ms (batches close at the next turn of
    /// the event loop), `maxRequestSize` 1 MiB, `batchQueueSize` 100 batches per
    /// partition, `partitioner` "siphash" (Fluvio's), `onQueueFull` "wait".
    #[wasm_bindgen(js_name = "topicProducer")]
    pub fn topic_producer(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] topic: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "ProducerConfig")] config: JsValue,
    ) -> JsResult<TopicProducer> {
        let topic = &convert::topic(&topic)?;
        let (config, on_full) = convert::producer_config(&config)?;
        self.check_open()?;
        let mut guard = self.inner.borrow_mut();
        let i = &mut *guard;
        let id = i
            .driver
            .topic_producer(&mut i.client, topic, config, on_full)
            .map_err(|e| from_core(&e))?;
        Ok(TopicProducer {
            inner: self.inner.clone(),
            id,
            topic: JsValue::from_str(topic),
            closed: core::cell::Cell::new(false),
        })
    }

    /// Closes every open batch of every producer and appends it to the log; resolves when
    /// every record sent before the call is in the log and, for topics with a sink,
    /// acknowledged by JetStream (rejecting like `Sink.flush` when a sink fails).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn flush(&self) -> Promise {
        run_poll(&self.inner, true);
        Promise::resolve(&JsValue::UNDEFINED)
    }

    /// Up to `maxRecords` records of `topic`/`partition` from `fromOffset`. Throws
    /// `OFFSET_EVICTED` (with `nextAvailable`) for an offset retention removed.
    #[wasm_bindgen(unchecked_return_type = "ConsumedRecord[]")]
    pub fn read(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] topic: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] partition: JsValue,
        #[wasm_bindgen(js_name = "fromOffset", unchecked_param_type = "number")]
        from_offset: JsValue,
        #[wasm_bindgen(js_name = "maxRecords", unchecked_param_type = "number")]
        max_records: JsValue,
    ) -> JsResult<Array> {
        self.check_open()?;
        let topic = &convert::topic(&topic)?;
        let partition = arg_int(&partition, "partition", u32::MAX as f64)? as u32;
        let from = arg_int(&from_offset, "fromOffset", MAX_SAFE_OFFSET as f64)? as i64;
        let max = arg_int(&max_records, "maxRecords", 1_000_000.0)? as usize;
        let i = self.inner.borrow();
        let records = i.client.read(topic, partition, from, max).map_err(|e| {
            let err = from_core(&e);
            if let Error::OffsetEvicted { next_available, .. } = e {
                let _ = Reflect::set(
                    &err,
                    &"nextAvailable".into(),
                    &(next_available as f64).into(),
                );
            }
            err
        })?;
        Ok(records.iter().map(consumed_object).collect())
    }

    /// Puts records back at the offsets they had (a persisted outbox after a reload):
    /// `records` is `[{ offset, key, value, timestamp, headers? }]` with consecutive
    /// offsets; the partition must be empty or end exactly at the first offset (an empty
    /// one then starts there). A sink connected afterwards sends them again with the same
    /// message ids (use the same `msgIdPrefix`), so JetStream keeps each once. Throws
    /// `OFFSET_OUT_OF_RANGE`, `PARTITION_OUT_OF_RANGE`, `INVALID_TIMESTAMP`,
    /// `INVALID_ARGUMENT`, `UNKNOWN_TOPIC`, `CLOSED`; nothing changes then. (Not in
    /// `tributary/local`: it serves the sink's resends.)
    #[cfg(feature = "sink")]
    pub fn restore(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] topic: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] partition: JsValue,
        #[wasm_bindgen(unchecked_param_type = "RestoredRecord[]")] records: JsValue,
    ) -> JsResult<()> {
        let topic = &convert::topic(&topic)?;
        let partition = arg_int(&partition, "partition", u32::MAX as f64)? as u32;
        let records = convert::restored_records(&records)?;
        self.check_open()?;
        self.inner
            .borrow_mut()
            .client
            .restore(topic, partition, &records, now())
            .map_err(|e| from_core(&e))?;
        run_poll(&self.inner, false);
        Ok(())
    }

    /// Decodes one Fluvio record batch from the front of `bytes` (length, magic and
    /// CRC-32C checked; a compressed batch inflates to at most `maxUncompressed` bytes,
    /// default 1 MiB): `{ baseOffset, records, size }`, `records` as `read` returns them
    /// (ready for `restore`), `size` the bytes the batch took. Throws `CORRUPT_BATCH` with
    /// `reason` "truncated" (the bytes end inside the batch), "crc" (the checksum does not
    /// match), "decompress" (the compressed records are invalid or inflate past
    /// `maxUncompressed`) or "invalid" (anything else). (Not in `tributary/local`.)
    #[cfg(feature = "sink")]
    #[wasm_bindgen(js_name = "decodeBatch", unchecked_return_type = "DecodedBatch")]
    pub fn decode_batch(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
        #[wasm_bindgen(js_name = "maxUncompressed", unchecked_optional_param_type = "number")]
        max_uncompressed: JsValue,
    ) -> JsResult<JsValue> {
        if !bytes.is_instance_of::<Uint8Array>() {
            return Err(invalid_argument("bytes must be a Uint8Array"));
        }
        let bytes = &convert::bytes(&bytes, "bytes")?;
        let max = if max_uncompressed.is_undefined() {
            1 << 20
        } else {
            arg_int(&max_uncompressed, "maxUncompressed", u32::MAX as f64)? as usize
        };
        let (batch, size) = crate::batch::decode_batch(bytes, max).map_err(|d| {
            let reason = match d {
                crate::DecodeError::Truncated { .. } => "truncated",
                crate::DecodeError::CrcMismatch { .. } => "crc",
                crate::DecodeError::Decompress => "decompress",
                _ => "invalid",
            };
            let err = from_core(&Error::Decode(d));
            set(err.unchecked_ref(), "reason", &reason.into());
            err
        })?;
        let o = Object::new();
        set(&o, "baseOffset", &(batch.base_offset as f64).into());
        let records: Array = batch.records.iter().map(consumed_object).collect();
        set(&o, "records", &records.into());
        set(&o, "size", &(size as f64).into());
        Ok(o.into())
    }

    /// Encodes `records` (`[{ offset, key, value, timestamp, headers? }]`, consecutive
    /// offsets) as one uncompressed Fluvio record batch whose base offset is the first
    /// record's: the bytes `decodeBatch` reads back. Throws `INVALID_ARGUMENT` (no
    /// records, offsets not consecutive, timestamps more than 2^31 - 1 ms apart).
    /// (Not in `tributary/local`.)
    #[cfg(feature = "sink")]
    #[wasm_bindgen(js_name = "encodeBatch")]
    pub fn encode_batch(
        #[wasm_bindgen(unchecked_param_type = "RestoredRecord[]")] records: JsValue,
    ) -> JsResult<Uint8Array> {
        let records = convert::restored_records(&records)?;
        let base = records
            .first()
            .ok_or_else(|| invalid_argument("encodeBatch needs at least one record"))?
            .offset;
        let mut b = crate::batch::BatchBuilder::new();
        for (i, r) in records.iter().enumerate() {
            if r.offset != base + i as i64 {
                return Err(invalid_argument("records must have consecutive offsets"));
            }
            let pushed = b.push(&crate::batch::RecordRef {
                key: r.key.as_deref(),
                value: &r.value,
                timestamp: r.timestamp,
                headers: &r.headers,
            });
            if !pushed {
                return Err(invalid_argument(
                    "the records' timestamps are more than 2^31 - 1 ms apart",
                ));
            }
        }
        let mut batch = b.finish(crate::Compression::None);
        batch.set_base_offset(base);
        Ok(Uint8Array::from(batch.bytes()))
    }

    /// What one partition reports: log start offset, high watermark, bytes and records
    /// held, segments, evicted and lost records, the sink's cursor, and whether retention
    /// is held back by unacknowledged records.
    #[wasm_bindgen(js_name = "partitionInfo", unchecked_return_type = "PartitionInfo")]
    pub fn partition_info(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] topic: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] partition: JsValue,
    ) -> JsResult<JsValue> {
        self.check_open()?;
        let topic = &convert::topic(&topic)?;
        let partition = arg_int(&partition, "partition", u32::MAX as f64)? as u32;
        let info = self
            .inner
            .borrow()
            .client
            .partition_info(topic, partition)
            .map_err(|e| from_core(&e))?;
        let o = Object::new();
        set(&o, "logStartOffset", &(info.log_start_offset as f64).into());
        set(&o, "highWatermark", &(info.high_watermark as f64).into());
        set(&o, "bytes", &(info.bytes as f64).into());
        set(&o, "records", &(info.records as f64).into());
        set(&o, "segments", &(info.segments as f64).into());
        set(&o, "evictedRecords", &(info.evicted_records as f64).into());
        set(&o, "lostRecords", &(info.lost_records as f64).into());
        let acked = info
            .acked_offset
            .map_or(JsValue::NULL, |a| JsValue::from(a as f64));
        set(&o, "ackedOffset", &acked);
        set(&o, "overBound", &info.over_bound.into());
        Ok(o.into())
    }

    /// Appends every open batch, closes every sink (the package's JS first waits for
    /// delivery up to `timeoutMs`, see `Sink.close`; pending sink flushes reject with
    /// `SINK_CLOSED`), then closes the client: every later call fails with `CLOSED`,
    /// except those with nothing left to do: `close()` again and `flush()` (of the client
    /// or a producer) resolve at once (what was not delivered, the close reported: a later
    /// flush does not wait for it), `topics()` is empty.
    ///
    /// Closing releases the client's memory (logs, producers) at once, whatever JS objects
    /// still refer to it; records still waiting for queue room reject with `CLOSED`.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn close(&self) -> Promise {
        run_poll(&self.inner, true);
        let report = {
            let mut guard = self.inner.borrow_mut();
            let i = &mut *guard;
            i.closed = true;
            // The package's JS closed the sinks first (`js/nats.js`); what is left goes.
            #[cfg(feature = "sink")]
            {
                i.sinks = Vec::new();
            }
            // Records waiting for room, or in batches that could not be appended (behind
            // a full outbox), fail with `CLOSED`.
            let report = i.driver.close(&mut i.client, now());
            i.client = Client::new(0);
            i.driver = Driver::new();
            // The staging area stays until the client is dropped: js/errors.js may hold
            // its address (it writes no more once it saw the close, see `Flight.dead`).
            report
        };
        deliver(&self.inner, report);
        Promise::resolve(&JsValue::UNDEFINED)
    }
}

fn arg_int(v: &JsValue, what: &str, max: f64) -> JsResult<f64> {
    convert::integer(v, what, 0.0, max).map_err(|m| invalid_argument(&m))
}

/// A record as `read` and `decodeBatch` return it: `{ offset, key, value, timestamp, headers }`.
fn consumed_object(r: &crate::ConsumedRecord) -> JsValue {
    let o = Object::new();
    set(&o, "offset", &(r.offset as f64).into());
    let key = match &r.key {
        Some(k) => Uint8Array::from(&k[..]).into(),
        None => JsValue::NULL,
    };
    set(&o, "key", &key);
    set(&o, "value", &Uint8Array::from(&r.value[..]).into());
    set(&o, "timestamp", &(r.timestamp as f64).into());
    let headers = Object::new();
    for h in &r.headers {
        let value: JsValue = Uint8Array::from(&h.value[..]).into();
        if h.name == "__proto__" {
            // Assigning `__proto__` would set the object's prototype instead.
            let d = Object::new();
            set(&d, "value", &value);
            set(&d, "enumerable", &JsValue::TRUE);
            set(&d, "writable", &JsValue::TRUE);
            set(&d, "configurable", &JsValue::TRUE);
            Object::define_property(&headers, &"__proto__".into(), &d);
        } else {
            set(&headers, &h.name, &value);
        }
    }
    set(&o, "headers", &headers.into());
    o.into()
}

/// A producer for one topic, made by `Tributary.topicProducer`.
///
/// `send` and `sendAll` are defined by the package's JS (`js/errors.js`): it writes the
/// records into the client's staging area and calls `_push` (or `_send` / `_sendAll`,
/// which convert here, for what its fast path does not take), and keeps their promises.
#[wasm_bindgen]
pub struct TopicProducer {
    inner: Rc<RefCell<Inner>>,
    id: ProducerId,
    /// The topic's name, for `topic`.
    topic: JsValue,
    /// Closed by `close()` (or dropped). The core reuses a closed producer's id for the
    /// next producer: a closed handle must never reach it.
    closed: core::cell::Cell<bool>,
}

impl core::fmt::Debug for TopicProducer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "TopicProducer({})", self.id.0)
    }
}

impl TopicProducer {
    fn record(key: &JsValue, value: &JsValue, options: &JsValue) -> JsResult<ProduceRecord> {
        let key = convert::key(key)?;
        let value = convert::bytes(value, "value")?;
        let o = convert::send_options(options)?;
        Ok(ProduceRecord {
            key,
            value,
            timestamp: o.timestamp,
            headers: o.headers,
            partition: o.partition,
        })
    }

    /// Takes `records` as one group (all checked first: one bad record refuses the call
    /// with its `index`, taking nothing); returns the first of their consecutive tickets.
    fn group(&self, records: &mut [RecordParts<'_>]) -> JsResult<f64> {
        let mut guard = self.inner.borrow_mut();
        let i = &mut *guard;
        match i.driver.send_group(&mut i.client, self.id, records, now()) {
            Ok(t) => Ok(t as f64),
            Err((n, e)) => {
                let err = from_core(&e);
                let _ = Reflect::set(&err, &"index".into(), &(n as u32).into());
                Err(err)
            }
        }
    }

    /// Takes one record; returns its ticket.
    fn one(&self, record: &RecordParts<'_>) -> JsResult<f64> {
        let mut guard = self.inner.borrow_mut();
        let i = &mut *guard;
        i.driver
            .send(&mut i.client, self.id, record, now())
            .map(|t| t as f64)
            .map_err(|e| from_core(&e))
    }

    fn usable(&self) -> JsResult<()> {
        let i = self.inner.borrow();
        if self.closed.get() || i.closed || !i.driver.is_open(self.id) {
            return Err(from_core(&Error::Closed));
        }
        Ok(())
    }
}

/// A producer garbage-collected (or `free()`d) without `close()` is closed: it does not
/// stay in the client for good. Records it sent that are still on their way (a send's
/// promise does not keep its producer alive) are not given up: the producer is closed
/// once they are in the log.
impl Drop for TopicProducer {
    fn drop(&mut self) {
        if self.closed.get() {
            return;
        }
        let report = {
            let Ok(mut guard) = self.inner.try_borrow_mut() else {
                return;
            };
            let i = &mut *guard;
            i.driver.orphan(&mut i.client, self.id, now())
        };
        deliver(&self.inner, report);
        wake_sinks(&self.inner);
    }
}

#[wasm_bindgen]
impl TopicProducer {
    /// Internal (`js/errors.js`): makes the staging area at least `bytes` long; returns
    /// where it starts (8-byte aligned) in wasm memory.
    #[wasm_bindgen(js_name = "_stage", skip_typescript)]
    pub fn stage(&self, bytes: u32) -> u32 {
        let mut i = self.inner.borrow_mut();
        let need = bytes as usize + 8;
        if i.stage.len() < need {
            i.stage = alloc::vec![0; need];
        }
        let at = i.stage.as_ptr() as usize;
        (at + (8 - at % 8) % 8) as u32
    }

    /// Internal (`js/errors.js`): takes `count` records from the staging area, laid out as
    /// `count` pairs of little-endian u32 (key length + 1, or 0 for no key; value length),
    /// then `bytes` bytes: each key and value back to back. As one group when `group`
    /// (`sendAll`), else one record (`send`). Returns the first ticket.
    #[wasm_bindgen(js_name = "_push", skip_typescript)]
    pub fn push(&self, count: u32, bytes: u32, group: bool) -> JsResult<f64> {
        self.usable()?;
        let stage = core::mem::take(&mut self.inner.borrow_mut().stage);
        let result = {
            let at = stage.as_ptr() as usize;
            let skew = (8 - at % 8) % 8;
            let words = 8 * count as usize;
            let all = stage.get(skew..skew + words + bytes as usize);
            let records = all.and_then(|all| unpack(&all[words..], &all[..words]));
            match records {
                Some(mut records) if group => self.group(&mut records),
                Some(records) if records.len() == 1 => self.one(&records[0]),
                _ => Err(invalid_argument("push: the staged records do not add up")),
            }
        };
        // Back in place (the same allocation: js/errors.js holds its address).
        self.inner.borrow_mut().stage = stage;
        result
    }

    /// Internal (`js/errors.js`): `send` of any record (converted here: options, and what
    /// the staging path does not take); returns its ticket. Every input is read first
    /// (user getters may close this producer or the client), then the producer is
    /// checked, then the record is taken.
    #[wasm_bindgen(js_name = "_send", skip_typescript)]
    pub fn send_any(&self, key: JsValue, value: JsValue, options: JsValue) -> JsResult<f64> {
        let record = Self::record(&key, &value, &options)?;
        self.usable()?;
        self.one(&record.parts())
    }

    /// Internal (`js/errors.js`): `sendAll` of any entries (`[key, value]` or `[key,
    /// value, options]`, converted here); returns `[first ticket, count]`.
    #[wasm_bindgen(js_name = "_sendAll", skip_typescript)]
    pub fn send_all_any(&self, records: JsValue) -> JsResult<Vec<f64>> {
        let arr = match convert::is_array(&records) {
            true => convert::array(&records, "records could not be read")?,
            false => {
                return Err(invalid_argument(
                    "sendAll takes an array of [key, value] pairs",
                ))
            }
        };
        let mut parsed = Vec::with_capacity(arr.length() as usize);
        for (n, entry) in arr.iter().enumerate() {
            let record = if convert::is_array(&entry) {
                convert::array(&entry, "the entry could not be read")
                    .and_then(|e| Self::record(&e.get(0), &e.get(1), &e.get(2)))
            } else {
                Err(invalid_argument(
                    &crate::text::Text::new()
                        .s("sendAll entry ")
                        .u(n as u64)
                        .s(" must be [key, value] or [key, value, options]")
                        .done(),
                ))
            };
            match record {
                Ok(r) => parsed.push(r),
                Err(err) => {
                    let _ = Reflect::set(&err, &"index".into(), &(n as u32).into());
                    return Err(err);
                }
            }
        }
        // Read everything first: a getter may have closed this producer.
        self.usable()?;
        let mut parts: Vec<RecordParts<'_>> = parsed.iter().map(ProduceRecord::parts).collect();
        let first = self.group(&mut parts)?;
        Ok(alloc::vec![first, parts.len() as f64])
    }

    /// The topic this producer writes to.
    #[wasm_bindgen(getter)]
    pub fn topic(&self) -> JsValue {
        if self.closed.get() {
            return JsValue::UNDEFINED;
        }
        self.topic.clone()
    }

    /// Closes this producer's open batches and appends them (all producers' batches are
    /// appended: the log is shared); resolves when every record sent before is in the log
    /// and, with a sink, acknowledged. The same as `Tributary.flush`.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn flush(&self) -> Promise {
        run_poll(&self.inner, true);
        Promise::resolve(&JsValue::UNDEFINED)
    }

    /// Counters: records, bytes, batches, recordsAppended, queueDepth, queuedRecords,
    /// waiting (records waiting for queue room), rejected, queueFull (sends that met a
    /// full queue), evicted, dropped.
    #[wasm_bindgen(unchecked_return_type = "ProducerStats")]
    pub fn stats(&self) -> JsResult<JsValue> {
        if self.closed.get() {
            return Err(from_core(&Error::Closed));
        }
        let i = self.inner.borrow();
        let s = i
            .client
            .producer_stats(self.id)
            .map_err(|e| from_core(&e))?;
        let waiting = i.driver.waiting(self.id);
        let o = Object::new();
        for (k, v) in [
            ("records", s.records),
            ("bytes", s.bytes),
            ("batches", s.batches),
            ("recordsAppended", s.records_appended),
            ("queueDepth", s.queue_depth),
            ("queuedRecords", s.queued_records),
            ("waiting", waiting as u64),
            ("rejected", s.rejected),
            ("queueFull", s.queue_full),
            ("evicted", s.evicted),
            ("dropped", s.dropped),
        ] {
            set(&o, k, &(v as f64).into());
        }
        Ok(o.into())
    }

    /// Appends its open batches, then closes this producer: later calls reject with
    /// `CLOSED`. Records that cannot be appended now (the outbox is full behind a sink
    /// under `unacked: "keep"`) and records waiting for queue room reject with `CLOSED`:
    /// `await producer.flush()` first to wait for them. Closing twice does nothing.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn close(&self) -> Promise {
        if !self.closed.get() {
            self.closed.set(true);
            if !self.inner.borrow().closed {
                let report = {
                    let mut guard = self.inner.borrow_mut();
                    let i = &mut *guard;
                    i.driver.close_producer(&mut i.client, self.id, now())
                };
                deliver(&self.inner, report);
                wake_sinks(&self.inner);
            }
        }
        Promise::resolve(&JsValue::UNDEFINED)
    }
}
