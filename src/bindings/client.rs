//! `Tributary` and `TopicProducer`: the JS classes over [`crate::Client`].
//!
//! The core does the work; this file converts arguments, keeps the promise of every
//! record until its batch is in the log, and schedules the core's `poll`: as a microtask
//! after a `send` (linger 0: "the next turn of the event loop"), and with a timer
//! (the host's `setTimeout`, cleared when dropped) at the earliest linger deadline.

use alloc::collections::VecDeque;
use alloc::rc::{Rc, Weak};
use alloc::vec::Vec;
use core::cell::RefCell;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use super::convert::{self, JsResult, OnFull};
use super::error::{from_core, invalid_argument};
use super::timer::Timeout;
use crate::producer::{PollOutcome, ProducerId};
use crate::{Client, Error, ProduceRecord, RecordParts, MAX_SAFE_OFFSET};

/// What a group's promise resolves with: `RecordMetadata` objects (`sendAll`), or
/// `[partition, offset, timestamp]` triples in one `Float64Array` (`sendPacked`, from
/// which the entry module builds the objects in JS).
enum Results {
    Objects(Array),
    Packed(Vec<f64>),
}

struct Group {
    results: Results,
    remaining: u32,
    resolve: Function,
    reject: Function,
    failed: bool,
}

impl Group {
    /// Resolves the group's promise with its results.
    fn resolution(&self) -> Outcome {
        let value = match &self.results {
            Results::Objects(a) => a.clone().into(),
            Results::Packed(v) => js_sys::Float64Array::from(&v[..]).into(),
        };
        Outcome::Resolve(self.resolve.clone(), value)
    }
}

enum Settle {
    One {
        resolve: Function,
        reject: Function,
    },
    Group {
        group: Rc<RefCell<Group>>,
        index: u32,
    },
}

struct Pending {
    seq: u64,
    timestamp: i64,
    settle: Settle,
}

struct Waiting {
    producer: ProducerId,
    record: ProduceRecord,
    settle: Settle,
}

struct ProducerMeta {
    /// The topic's name as a JS string, for the metadata of every record.
    topic: JsValue,
    on_full: OnFull,
    /// Records of this producer in `Inner::waiting`: while any wait, later ones queue
    /// behind them (order), without scanning the queue.
    waiting: usize,
    /// Per partition: records sent and not yet in the log, in sequence order.
    pending: Vec<VecDeque<Pending>>,
    /// Its `TopicProducer` was dropped with records on their way: it is closed once they
    /// are settled (`Inner::reap_orphans`).
    orphaned: bool,
}

impl ProducerMeta {
    /// Records of it not yet in the log, or waiting for room.
    fn busy(&self) -> bool {
        self.waiting > 0 || self.pending.iter().any(|q| !q.is_empty())
    }
}

/// The producers' metadata by `ProducerId` (the core hands out small, reused indices).
#[derive(Default)]
struct Producers(Vec<Option<ProducerMeta>>);

impl Producers {
    fn get(&self, id: ProducerId) -> Option<&ProducerMeta> {
        self.0.get(id.0 as usize).and_then(Option::as_ref)
    }

    fn get_mut(&mut self, id: ProducerId) -> Option<&mut ProducerMeta> {
        self.0.get_mut(id.0 as usize).and_then(Option::as_mut)
    }

    fn insert(&mut self, id: ProducerId, meta: ProducerMeta) {
        let i = id.0 as usize;
        if self.0.len() <= i {
            self.0.resize_with(i + 1, || None);
        }
        self.0[i] = Some(meta);
    }

    fn remove(&mut self, id: ProducerId) -> Option<ProducerMeta> {
        self.0.get_mut(id.0 as usize).and_then(Option::take)
    }

    /// The queue of records pending in `partition`.
    fn pending(&mut self, id: ProducerId, partition: u32) -> Option<&mut VecDeque<Pending>> {
        self.get_mut(id)
            .and_then(|m| m.pending.get_mut(partition as usize))
    }
}

pub(super) struct Inner {
    pub(super) client: Client,
    #[cfg(feature = "sink")]
    pub(super) sinks: Vec<super::sink::Slot>,
    /// The counter of sink handles.
    #[cfg(feature = "sink")]
    pub(super) ids: u32,
    /// The client's `appends()` when the sinks were last woken: any append since (a
    /// producer's batch, a `restore`) wakes them again.
    #[cfg(feature = "sink")]
    woken: u64,
    closed: bool,
    producers: Producers,
    meta_keys: MetaKeys,
    waiting: VecDeque<Waiting>,
    poll_scheduled: bool,
    microtask: Option<Closure<dyn FnMut(JsValue)>>,
    timer: Option<(i64, Timeout)>,
}

/// A settled promise or a user callback, applied once no borrow of `Inner` is held (a
/// callback may call back into the client).
pub(super) enum Outcome {
    Resolve(Function, JsValue),
    Reject(Function, JsValue),
}

pub(super) fn apply(outcomes: Vec<Outcome>) {
    for o in outcomes {
        let _ = match o {
            Outcome::Resolve(f, v) => f.call1(&JsValue::UNDEFINED, &v),
            Outcome::Reject(f, e) => f.call1(&JsValue::UNDEFINED, &e),
        };
    }
}

pub(super) fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

/// The property names of `RecordMetadata`, made into JS strings once per client rather
/// than once per record (each `JsValue::from_str` decodes UTF-8 in JS).
struct MetaKeys([JsValue; 4]);

impl MetaKeys {
    fn new() -> Self {
        MetaKeys(["topic", "partition", "offset", "timestamp"].map(JsValue::from_str))
    }

    fn make(&self, topic: &JsValue, partition: u32, offset: i64, timestamp: i64) -> JsValue {
        let o = Object::new();
        let [t, p, off, ts] = &self.0;
        let _ = Reflect::set(&o, t, topic);
        let _ = Reflect::set(&o, p, &JsValue::from(partition));
        let _ = Reflect::set(&o, off, &JsValue::from(offset as f64));
        let _ = Reflect::set(&o, ts, &JsValue::from(timestamp as f64));
        o.into()
    }
}

/// Where a record landed, for its promise.
struct Landed<'a> {
    keys: &'a MetaKeys,
    topic: &'a JsValue,
    partition: u32,
    offset: i64,
    timestamp: i64,
}

impl Landed<'_> {
    fn object(&self) -> JsValue {
        self.keys
            .make(self.topic, self.partition, self.offset, self.timestamp)
    }
}

fn settle_ok(settle: Settle, landed: &Landed<'_>, out: &mut Vec<Outcome>) {
    match settle {
        Settle::One { resolve, .. } => out.push(Outcome::Resolve(resolve, landed.object())),
        Settle::Group { group, index } => {
            let mut g = group.borrow_mut();
            match &mut g.results {
                Results::Objects(a) => a.set(index, landed.object()),
                Results::Packed(v) => {
                    let at = index as usize * 3;
                    v[at] = f64::from(landed.partition);
                    v[at + 1] = landed.offset as f64;
                    v[at + 2] = landed.timestamp as f64;
                }
            }
            g.remaining -= 1;
            if g.remaining == 0 && !g.failed {
                out.push(g.resolution());
            }
        }
    }
}

fn settle_err(settle: Settle, error: JsValue, out: &mut Vec<Outcome>) {
    match settle {
        Settle::One { reject, .. } => out.push(Outcome::Reject(reject, error)),
        Settle::Group { group, .. } => {
            let mut g = group.borrow_mut();
            g.remaining -= 1;
            if !g.failed {
                g.failed = true;
                out.push(Outcome::Reject(g.reject.clone(), error));
            }
        }
    }
}

/// The records `sendPacked` received: `lens` has (key length + 1 or 0, value length)
/// per record, the bytes follow each other in `data`. `None` when they disagree.
fn unpack<'a>(data: &'a [u8], lens: &[u32]) -> Option<Vec<RecordParts<'a>>> {
    if lens.len() % 2 != 0 {
        return None;
    }
    let mut at = 0usize;
    let mut take = |n: usize| -> Option<&'a [u8]> {
        let s = data.get(at..at.checked_add(n)?)?;
        at += n;
        Some(s)
    };
    let mut out = Vec::with_capacity(lens.len() / 2);
    for pair in lens.chunks_exact(2) {
        let key = match pair[0] {
            0 => None,
            n => Some(take(n as usize - 1)?),
        };
        let value = take(pair[1] as usize)?;
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

/// A borrowed record made owned: only records that must wait for room are copied.
fn owned(r: &RecordParts<'_>) -> ProduceRecord {
    ProduceRecord {
        key: r.key.map(<[u8]>::to_vec),
        value: r.value.to_vec(),
        timestamp: r.timestamp,
        headers: r.headers.to_vec(),
        partition: r.partition,
    }
}

pub(super) fn now() -> i64 {
    js_sys::Date::now() as i64
}

impl Inner {
    fn accept(
        &mut self,
        producer: ProducerId,
        record: &RecordParts<'_>,
        settle: Settle,
        now_ms: i64,
        out: &mut Vec<Outcome>,
    ) -> Option<(Settle, Error)> {
        match self.client.send_ref(producer, record, now_ms) {
            Ok(r) => {
                if let Some(queue) = self.producers.pending(producer, r.partition) {
                    queue.push_back(Pending {
                        seq: r.seq,
                        timestamp: r.timestamp,
                        settle,
                    });
                }
                None
            }
            Err(e @ Error::QueueFull { .. }) => Some((settle, e)),
            Err(e) => {
                settle_err(settle, from_core(&e), out);
                None
            }
        }
    }

    fn settle_outcome(&mut self, outcome: PollOutcome, out: &mut Vec<Outcome>) {
        for a in outcome.appended {
            let Some(meta) = self.producers.get_mut(a.producer) else {
                continue;
            };
            let Some(queue) = meta.pending.get_mut(a.partition as usize) else {
                continue;
            };
            let topic = &meta.topic;
            let keys = &self.meta_keys;
            let end = a.first_seq + u64::from(a.count);
            while queue.front().is_some_and(|p| p.seq < end) {
                let p = queue.pop_front().expect("front exists");
                let landed = Landed {
                    keys,
                    topic,
                    partition: a.partition,
                    offset: a.base_offset + (p.seq - a.first_seq) as i64,
                    timestamp: p.timestamp,
                };
                settle_ok(p.settle, &landed, out);
            }
        }
        for r in outcome.rejected {
            let Some(queue) = self.producers.pending(r.producer, r.partition) else {
                continue;
            };
            let end = r.first_seq + u64::from(r.count);
            while queue.front().is_some_and(|p| p.seq < end) {
                let p = queue.pop_front().expect("front exists");
                settle_err(p.settle, from_core(&r.error), out);
            }
        }
    }

    /// Closes producer `id` (appending what it can) and forgets it: its records that are
    /// not in the log, or wait for room, reject with `CLOSED`.
    #[inline(never)]
    fn remove_producer(&mut self, id: ProducerId, out: &mut Vec<Outcome>) {
        if let Ok(outcome) = self.client.close_producer(id, now()) {
            self.settle_outcome(outcome, out);
        }
        if let Some(meta) = self.producers.remove(id) {
            reject_pending(meta, out);
        }
        // Its records waiting for room, in a queue it shares with other producers.
        for _ in 0..self.waiting.len() {
            let Some(w) = self.waiting.pop_front() else {
                break;
            };
            if w.producer == id {
                settle_err(w.settle, from_core(&Error::Closed), out);
            } else {
                self.waiting.push_back(w);
            }
        }
    }

    /// Closes the producers dropped with records on their way once those are settled.
    fn reap_orphans(&mut self, out: &mut Vec<Outcome>) {
        for n in 0..self.producers.0.len() {
            if self.producers.0[n]
                .as_ref()
                .is_some_and(|m| m.orphaned && !m.busy())
            {
                self.remove_producer(ProducerId(n as u32), out);
            }
        }
    }

    /// Moves waiting records into the accumulators while there is room; returns how many.
    fn admit_waiting(&mut self, out: &mut Vec<Outcome>) -> usize {
        let now_ms = now();
        let mut admitted = 0;
        while let Some(w) = self.waiting.pop_front() {
            let parts = w.record.parts();
            if let Some((settle, _)) = self.accept(w.producer, &parts, w.settle, now_ms, out) {
                self.waiting.push_front(Waiting {
                    producer: w.producer,
                    record: w.record,
                    settle,
                });
                break;
            }
            if let Some(m) = self.producers.get_mut(w.producer) {
                m.waiting = m.waiting.saturating_sub(1);
            }
            admitted += 1;
        }
        admitted
    }

    fn wait(&mut self, producer: ProducerId, record: ProduceRecord, settle: Settle) {
        if let Some(m) = self.producers.get_mut(producer) {
            m.waiting += 1;
        }
        self.waiting.push_back(Waiting {
            producer,
            record,
            settle,
        });
    }

    /// Takes `record` into its batch, or, if it must wait (records of this producer
    /// already wait, or its partition queue is full under `OnFull::Wait`), into the
    /// waiting queue; otherwise settles it with its error.
    fn enqueue(
        &mut self,
        producer: ProducerId,
        record: &RecordParts<'_>,
        settle: Settle,
        on_full: OnFull,
        now_ms: i64,
        out: &mut Vec<Outcome>,
    ) {
        if self.producers.get(producer).is_some_and(|m| m.waiting > 0) {
            return self.wait(producer, owned(record), settle);
        }
        if let Some((settle, error)) = self.accept(producer, record, settle, now_ms, out) {
            match on_full {
                OnFull::Error => settle_err(settle, from_core(&error), out),
                OnFull::Wait => self.wait(producer, owned(record), settle),
            }
        }
    }
}

fn schedule_poll(inner: &Rc<RefCell<Inner>>) {
    let mut i = inner.borrow_mut();
    if i.poll_scheduled {
        return;
    }
    i.poll_scheduled = true;
    if let Some(cb) = i.microtask.as_ref() {
        let _ = Promise::resolve(&JsValue::UNDEFINED).then(cb);
    }
}

pub(super) fn run_poll(inner: &Rc<RefCell<Inner>>, flush_all: bool) {
    let mut out = Vec::new();
    let (deadline, reschedule) = {
        let mut i = inner.borrow_mut();
        i.poll_scheduled = false;
        loop {
            let outcome = if flush_all {
                i.client.flush(now())
            } else {
                i.client.poll(now())
            };
            let next = outcome.next_deadline;
            i.settle_outcome(outcome, &mut out);
            let admitted = i.admit_waiting(&mut out);
            i.reap_orphans(&mut out);
            // A flush goes on until the records it admitted are appended too; when nothing
            // was admitted (queues full behind a full outbox) it can do no more now.
            if !flush_all || admitted == 0 {
                // Admitted records sit in open batches: the next turn appends them. With
                // no progress, what still waits is woken by acks (the sink) or a timer.
                break (next, admitted > 0);
            }
        }
    };
    if reschedule {
        schedule_poll(inner);
    }
    if let Some(d) = deadline {
        arm_timer(inner, d);
    }
    apply(out);
    // The sinks publish what was appended since they were last woken, by a producer or
    // by `restore` (each at its next microtask).
    #[cfg(feature = "sink")]
    {
        let wakes = {
            let mut i = inner.borrow_mut();
            let appends = i.client.appends();
            if appends == i.woken {
                Vec::new()
            } else {
                i.woken = appends;
                super::sink::wakes(&i)
            }
        };
        for w in wakes {
            let _ = w.call0(&JsValue::UNDEFINED);
        }
    }
}

pub(super) fn arm_timer(inner: &Rc<RefCell<Inner>>, deadline: i64) {
    let mut i = inner.borrow_mut();
    if i.timer.as_ref().is_some_and(|(d, _)| *d <= deadline) {
        return;
    }
    let weak: Weak<RefCell<Inner>> = Rc::downgrade(inner);
    let delay = (deadline - now()).clamp(0, i64::from(i32::MAX)) as u32;
    let t = Timeout::new(delay, move || {
        if let Some(rc) = weak.upgrade() {
            rc.borrow_mut().timer = None;
            run_poll(&rc, false);
        }
    });
    i.timer = Some((deadline, t));
}

/// Appends everything (the package's JS waits for the sinks, `js/nats.js`).
fn flush_all(inner: &Rc<RefCell<Inner>>) -> Promise {
    run_poll(inner, true);
    Promise::resolve(&JsValue::UNDEFINED)
}

#[cfg(feature = "sink")]
impl Inner {
    /// Whether records are still queued in producers or waiting for room.
    pub(super) fn backlog(&self) -> bool {
        !self.waiting.is_empty()
            || self.producers.0.iter().enumerate().any(|(n, m)| {
                m.is_some()
                    && self
                        .client
                        .producer_stats(ProducerId(n as u32))
                        .is_ok_and(|s| s.queued_records > 0)
            })
    }
}

fn new_promise(f: impl FnOnce(Function, Function)) -> Promise {
    let mut f = Some(f);
    Promise::new(&mut |resolve, reject| {
        if let Some(f) = f.take() {
            f(resolve, reject)
        }
    })
}

fn rejected(e: JsValue) -> Promise {
    Promise::reject(&e)
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
            closed: false,
            producers: Producers::default(),
            meta_keys: MetaKeys::new(),
            #[cfg(feature = "sink")]
            sinks: Vec::new(),
            #[cfg(feature = "sink")]
            ids: 0,
            #[cfg(feature = "sink")]
            woken: 0,
            waiting: VecDeque::new(),
            poll_scheduled: false,
            microtask: None,
            timer: None,
        }));
        let weak = Rc::downgrade(&inner);
        let cb = Closure::new(move |_: JsValue| {
            if let Some(rc) = weak.upgrade() {
                run_poll(&rc, false);
            }
        });
        inner.borrow_mut().microtask = Some(cb);
        Ok(Tributary { inner })
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
        let mut i = self.inner.borrow_mut();
        let id = i
            .client
            .topic_producer(topic, config)
            .map_err(|e| from_core(&e))?;
        let partitions = i.client.topic_config(topic).map_or(0, |c| c.partitions);
        i.producers.insert(
            id,
            ProducerMeta {
                topic: JsValue::from_str(topic),
                on_full,
                waiting: 0,
                pending: (0..partitions).map(|_| VecDeque::new()).collect(),
                orphaned: false,
            },
        );
        Ok(TopicProducer {
            inner: self.inner.clone(),
            id,
            closed: core::cell::Cell::new(false),
        })
    }

    /// Closes every open batch of every producer and appends it to the log; resolves when
    /// every record sent before the call is in the log and, for topics with a sink,
    /// acknowledged by JetStream (rejecting like `Sink.flush` when a sink fails).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn flush(&self) -> Promise {
        flush_all(&self.inner)
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
    /// `SINK_CLOSED`), then closes the client: every later call fails with `CLOSED`.
    ///
    /// Closing releases the client's memory (logs, producers) at once, whatever JS objects
    /// still refer to it; records still waiting for queue room reject with `CLOSED`.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn close(&self) -> Promise {
        run_poll(&self.inner, true);
        let mut out = Vec::new();
        {
            let mut i = self.inner.borrow_mut();
            i.closed = true;
            // The package's JS closed the sinks first (`js/nats.js`); what is left goes.
            #[cfg(feature = "sink")]
            {
                i.sinks = Vec::new();
            }
            i.timer = None;
            for w in core::mem::take(&mut i.waiting) {
                settle_err(w.settle, from_core(&Error::Closed), &mut out);
            }
            // Records in batches that could not be appended (behind a full outbox).
            for meta in core::mem::take(&mut i.producers).0.into_iter().flatten() {
                reject_pending(meta, &mut out);
            }
            i.client = Client::new(0);
        }
        apply(out);
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
#[wasm_bindgen]
pub struct TopicProducer {
    inner: Rc<RefCell<Inner>>,
    id: ProducerId,
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

    /// Checks every record (one bad record rejects the call with its `index`, queuing
    /// nothing), then queues them all; resolves with `RecordMetadata[]`, or with
    /// `[partition, offset, timestamp]` triples in a `Float64Array` when `packed`.
    fn send_group(&self, records: &[RecordParts<'_>], packed: bool) -> Promise {
        let now_ms = now();
        {
            let i = self.inner.borrow();
            for (n, r) in records.iter().enumerate() {
                if let Err(e) = i.client.check_ref(self.id, r, now_ms) {
                    let err = from_core(&e);
                    let _ = Reflect::set(&err, &"index".into(), &(n as u32).into());
                    return rejected(err);
                }
            }
        }
        let count = records.len() as u32;
        let results = if packed {
            Results::Packed(alloc::vec![0.0; records.len() * 3])
        } else {
            Results::Objects(Array::new_with_length(count))
        };
        let mut out = Vec::new();
        let promise = new_promise(|resolve, reject| {
            let group = Rc::new(RefCell::new(Group {
                results,
                remaining: count,
                resolve,
                reject,
                failed: false,
            }));
            if count == 0 {
                out.push(group.borrow().resolution());
                return;
            }
            let mut i = self.inner.borrow_mut();
            for (index, record) in records.iter().enumerate() {
                let settle = Settle::Group {
                    group: group.clone(),
                    index: index as u32,
                };
                i.enqueue(self.id, record, settle, OnFull::Wait, now_ms, &mut out);
            }
        });
        schedule_poll(&self.inner);
        apply(out);
        promise
    }

    fn usable(&self) -> JsResult<()> {
        let i = self.inner.borrow();
        if self.closed.get() || i.closed || i.producers.get(self.id).is_none() {
            return Err(from_core(&Error::Closed));
        }
        Ok(())
    }

    /// Appends what it can, then removes this producer: its records that could not be
    /// appended (behind a full outbox) and those waiting for room reject with `CLOSED`.
    fn close_now(&self) {
        self.closed.set(true);
        if self.inner.borrow().closed {
            return;
        }
        run_poll(&self.inner, true);
        let mut out = Vec::new();
        self.inner.borrow_mut().remove_producer(self.id, &mut out);
        apply(out);
    }
}

/// Rejects with `CLOSED` the records of a removed producer that never reached the log.
fn reject_pending(meta: ProducerMeta, out: &mut Vec<Outcome>) {
    for queue in meta.pending {
        for p in queue {
            settle_err(p.settle, from_core(&Error::Closed), out);
        }
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
        let Ok(mut i) = self.inner.try_borrow_mut() else {
            return;
        };
        if let Some(m) = i.producers.get_mut(self.id) {
            m.orphaned = true;
        }
        drop(i);
        // Appends its batches; `reap_orphans` closes it once nothing of it is on its way.
        run_poll(&self.inner, true);
    }
}

#[wasm_bindgen]
impl TopicProducer {
    /// Sends one record; resolves with its `RecordMetadata` once it is in the local log
    /// (at the next turn of the event loop, or after `linger` ms).
    ///
    /// `key`: `string` (UTF-8) or `Uint8Array`; `null`/`undefined` for no key (round
    /// robin). An empty key is a key. `value`: `string` or `Uint8Array`.
    /// `options`: `{ headers?: Record<string, string | Uint8Array>, timestamp?: number,
    /// partition?: number }`.
    ///
    /// Rejects with `RECORD_TOO_LARGE`, `PARTITION_OUT_OF_RANGE`, `INVALID_ARGUMENT`,
    /// `INVALID_TIMESTAMP`, `CLOSED`, or `QUEUE_FULL` (with `onQueueFull: "error"`; by
    /// default the promise waits for room instead). A rejected record changes nothing.
    #[wasm_bindgen(unchecked_return_type = "Promise<RecordMetadata>")]
    pub fn send(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array | null | undefined")]
        key: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] value: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "SendOptions")] options: JsValue,
    ) -> Promise {
        // Every input is read first (user getters may close this producer or the
        // client), then the producer is checked, then the record is queued.
        let record = match Self::record(&key, &value, &options).and_then(|r| {
            self.usable()?;
            Ok(r)
        }) {
            Ok(r) => r,
            Err(e) => return rejected(e),
        };
        let mut out = Vec::new();
        let promise = new_promise(|resolve, reject| {
            let mut i = self.inner.borrow_mut();
            let on_full = i.producers.get(self.id).map_or(OnFull::Wait, |m| m.on_full);
            let settle = Settle::One { resolve, reject };
            i.enqueue(self.id, &record.parts(), settle, on_full, now(), &mut out);
        });
        schedule_poll(&self.inner);
        apply(out);
        promise
    }

    /// Sends many records crossing into wasm once; resolves with their metadata, in order.
    ///
    /// Each entry is `[key, value]` or `[key, value, options]`. Every entry is checked
    /// before any is queued: one bad entry rejects the call and queues nothing. Records
    /// that find a partition queue full wait for room, whatever `onQueueFull` says.
    #[wasm_bindgen(
        js_name = "sendAll",
        unchecked_return_type = "Promise<RecordMetadata[]>"
    )]
    pub fn send_all(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "Array<[string | Uint8Array | null, string | Uint8Array, SendOptions?]>"
        )]
        records: JsValue,
    ) -> Promise {
        let arr = match convert::is_array(&records) {
            true => convert::array(&records, "records could not be read"),
            false => Err(invalid_argument(
                "sendAll takes an array of [key, value] pairs",
            )),
        };
        let arr = match arr {
            Ok(a) => a,
            Err(e) => return rejected(e),
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
                    return rejected(err);
                }
            }
        }
        // Read everything first: a getter may have closed this producer.
        if let Err(e) = self.usable() {
            return rejected(e);
        }
        let parts: Vec<RecordParts<'_>> = parsed.iter().map(ProduceRecord::parts).collect();
        self.send_group(&parts, false)
    }

    /// `sendAll` for records packed by the entry module (which `sendAll` uses when every
    /// entry is `[string | null, string]` with well-formed strings): `data` holds every
    /// key and value's UTF-8 bytes back to back, `lens` two numbers per record (key length
    /// + 1, or 0 for no key; value length). One copy into wasm for all of them, no JS call
    /// per record; resolves with `[partition, offset, timestamp]` per record in one
    /// `Float64Array`. Checks and errors as `sendAll` (`index` names the bad record).
    #[wasm_bindgen(
        js_name = "sendPacked",
        skip_typescript,
        unchecked_return_type = "Promise<Float64Array>"
    )]
    pub fn send_packed(&self, data: &[u8], lens: &[u32]) -> Promise {
        if let Err(e) = self.usable() {
            return rejected(e);
        }
        let Some(records) = unpack(data, lens) else {
            return rejected(invalid_argument(
                "sendPacked: lengths do not match the data",
            ));
        };
        self.send_group(&records, true)
    }

    /// The topic this producer writes to.
    #[wasm_bindgen(getter)]
    pub fn topic(&self) -> JsValue {
        if self.closed.get() {
            return JsValue::UNDEFINED;
        }
        self.inner
            .borrow()
            .producers
            .get(self.id)
            .map_or(JsValue::UNDEFINED, |m| m.topic.clone())
    }

    /// Closes this producer's open batches and appends them (all producers' batches are
    /// appended: the log is shared); resolves when every record sent before is in the log
    /// and, with a sink, acknowledged. The same as `Tributary.flush`.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn flush(&self) -> Promise {
        flush_all(&self.inner)
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
        let waiting = i.producers.get(self.id).map_or(0, |m| m.waiting);
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
            self.close_now();
        }
        Promise::resolve(&JsValue::UNDEFINED)
    }
}
