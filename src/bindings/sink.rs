//! `Sink`: the JS class over [`crate::sink::Sink`], and the WebSocket it drives.
//!
//! The core decides everything; this file carries out its actions: opens a WebSocket
//! (the host's global `WebSocket`, or the constructor passed as `options.WebSocket`, e.g.
//! the `ws` package on Node 20), writes bytes, closes, signs nkey nonces with WebCrypto
//! (Ed25519), feeds received bytes back, and calls `poll` when the client's timer fires.
//! Socket events carry a generation number: events of a replaced socket are ignored.

use alloc::rc::{Rc, Weak};
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use js_sys::{Array, ArrayBuffer, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::client::{apply, arm_timer, now, run_poll, set, then, then2, Inner, Outcome};
use super::error::{from_core, js_error};
use crate::sink::{Action, SinkState};
use crate::Error;

#[wasm_bindgen]
extern "C" {
    /// A WebSocket: the browser's, Deno's, Bun's, workerd's, or the `ws` package's.
    pub type Socket;
    #[wasm_bindgen(method, catch)]
    fn send(this: &Socket, data: &Uint8Array) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn close(this: &Socket) -> Result<(), JsValue>;
    #[wasm_bindgen(method, setter = binaryType)]
    fn set_binary_type(this: &Socket, t: &str);
    #[wasm_bindgen(method, setter = onmessage)]
    fn set_onmessage(this: &Socket, f: Option<&Function>);
    #[wasm_bindgen(method, setter = onclose)]
    fn set_onclose(this: &Socket, f: Option<&Function>);
    #[wasm_bindgen(method, setter = onerror)]
    fn set_onerror(this: &Socket, f: Option<&Function>);
}

/// The socket in use and the handlers bound to it.
struct Conn {
    socket: Socket,
    _on_message: Closure<dyn FnMut(JsValue)>,
    _on_close: Closure<dyn FnMut(JsValue)>,
    _on_error: Closure<dyn FnMut(JsValue)>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        // Errors may still come while it closes, and the `ws` package throws those nobody
        // listens for: leave a handler that outlives ours, `Function.prototype` (a
        // built-in function that does nothing).
        let noop = Reflect::get(&js_sys::global(), &"Function".into())
            .and_then(|f| Reflect::get(&f, &"prototype".into()))
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok());
        self.socket.set_onerror(noop.as_ref());
        let _ = self.socket.close();
    }
}

/// A pending `flush`: per partition, the high watermark every record must pass.
pub(super) struct Waiter {
    targets: Vec<i64>,
    /// `Slot::settles` when it was made: it reports every given-up range below its
    /// targets that no flush settled before it was made had reported.
    created: u32,
    deadline: Option<i64>,
    resolve: Function,
    reject: Function,
}

/// One sink of a client, with its socket and callbacks.
pub(super) struct Slot {
    pub(super) sink: crate::sink::Sink,
    /// Which `connect` made it: a slot's index is reused once it is closed, and a stale
    /// `Sink` handle must not reach the next sink there.
    pub(super) serial: u32,
    conn: Option<Conn>,
    /// The socket in use: its handlers act only while this holds. Drawn from the same
    /// counter as `serial`, so no socket of an earlier sink in this slot matches.
    generation: u32,
    ctor: Function,
    on_ack: Option<Function>,
    on_state: Option<Function>,
    last_state: SinkState,
    waiters: Vec<Waiter>,
    /// Report passes in which some flush settled.
    settles: u32,
    /// Per partition, per given-up range (`failed_ranges`' order): the pass whose
    /// settling flush first reported it.
    reported_at: Vec<Vec<Option<u32>>>,
}

impl Slot {
    pub(super) fn new(
        sink: crate::sink::Sink,
        serial: u32,
        ctor: Function,
        on_ack: Option<Function>,
        on_state: Option<Function>,
    ) -> Slot {
        Slot {
            last_state: sink.state(),
            sink,
            serial,
            conn: None,
            generation: serial,
            ctor,
            on_ack,
            on_state,
            waiters: Vec::new(),
            settles: 0,
            reported_at: Vec::new(),
        }
    }
}

fn bytes_of(data: &JsValue) -> Option<Vec<u8>> {
    if let Some(buf) = data.dyn_ref::<ArrayBuffer>() {
        return Some(Uint8Array::new(buf).to_vec());
    }
    if let Some(view) = data.dyn_ref::<Uint8Array>() {
        return Some(view.to_vec());
    }
    // Text frames carry the protocol as UTF-8 too.
    data.as_string().map(String::into_bytes)
}

/// Runs every sink's `poll`, carries out their actions, settles flush waiters and
/// collects callbacks; re-arms the client's timer. Call with no borrow of `inner` held.
pub(super) fn drive(inner: &Rc<RefCell<Inner>>) {
    let mut out = Vec::new();
    let mut deadline = None;
    {
        let mut guard = inner.borrow_mut();
        let i = &mut *guard;
        let t = now();
        for index in 0..i.sinks.len() {
            let Some(slot) = i.sinks[index].as_mut() else {
                continue;
            };
            slot.sink.poll(&mut i.client, t);
            carry_out(inner, slot, index, &mut i.ids, t);
            report(slot, &i.client, t, &mut out);
            if let Some(d) = slot.sink.next_deadline() {
                deadline = Some(deadline.map_or(d, |x: i64| x.min(d)));
            }
            for w in &slot.waiters {
                if let Some(d) = w.deadline {
                    deadline = Some(deadline.map_or(d, |x: i64| x.min(d)));
                }
            }
        }
    }
    if let Some(d) = deadline {
        arm_timer(inner, d);
    }
    apply(out);
}

/// The next number of `ids`, the client's counter of sinks and sockets.
pub(super) fn next_id(ids: &mut u32) -> u32 {
    *ids = ids.wrapping_add(1);
    *ids
}

/// Carries out the sink's actions on its socket.
fn carry_out(inner: &Rc<RefCell<Inner>>, slot: &mut Slot, index: usize, ids: &mut u32, t: i64) {
    for action in slot.sink.take_actions() {
        match action {
            Action::Open { url } => {
                slot.conn = None;
                slot.generation = next_id(ids);
                match open(inner, &slot.ctor, &url, index, slot.generation) {
                    Ok(conn) => {
                        slot.conn = Some(conn);
                        slot.sink.on_open(t);
                    }
                    Err(reason) => {
                        slot.sink.on_error(&reason);
                        slot.sink.on_closed(t);
                    }
                }
            }
            Action::Send(bytes) => {
                let sent = slot
                    .conn
                    .as_ref()
                    .is_some_and(|c| c.socket.send(&Uint8Array::from(&bytes[..])).is_ok());
                if !sent {
                    slot.conn = None;
                    slot.sink.on_closed(t);
                }
            }
            Action::Close => slot.conn = None,
            Action::Sign { nonce, pkcs8 } => sign(inner, index, slot.generation, &nonce, &pkcs8),
        }
    }
}

/// What an error event or exception says: its `message`, or its `error.message` (empty
/// when neither is a string, as in browsers, which say nothing of why a socket failed).
fn message_of(value: &JsValue) -> String {
    let get = |v: &JsValue, k: &str| {
        Reflect::get(v, &k.into())
            .ok()
            .filter(|x| !x.is_undefined())
    };
    get(value, "message")
        .and_then(|m| m.as_string())
        .filter(|m| !m.is_empty())
        .or_else(|| {
            get(value, "error")
                .and_then(|e| get(&e, "message"))
                .and_then(|m| m.as_string())
        })
        .unwrap_or_default()
}

/// Opens a socket to `url` with handlers that feed sink `index` while `generation` holds;
/// `Err` has what the WebSocket constructor threw.
fn open(
    inner: &Rc<RefCell<Inner>>,
    ctor: &Function,
    url: &str,
    index: usize,
    generation: u32,
) -> Result<Conn, String> {
    let socket: Socket = Reflect::construct(ctor, &Array::of1(&JsValue::from_str(url)))
        .map_err(|e| message_of(&e))?
        .unchecked_into();
    socket.set_binary_type("arraybuffer");
    let weak = Rc::downgrade(inner);
    let on_message = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        let data = Reflect::get(&event, &"data".into()).unwrap_or(JsValue::UNDEFINED);
        if let Some(bytes) = bytes_of(&data) {
            event_for(&weak, index, generation, |slot, client, t| {
                slot.sink.on_data(client, &bytes, t)
            });
        }
    });
    let weak = Rc::downgrade(inner);
    let on_close = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| {
        event_for(&weak, index, generation, |slot, _, t| {
            slot.sink.on_closed(t)
        });
    });
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    // An error is followed by a close event; the close does the work, the error says
    // why. (A handler must be there: the `ws` package throws errors nobody listens for.)
    let weak = Rc::downgrade(inner);
    let on_error = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        let reason = message_of(&event);
        event_for(&weak, index, generation, |slot, _, _| {
            slot.sink.on_error(&reason)
        });
    });
    socket.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    Ok(Conn {
        socket,
        _on_message: on_message,
        _on_close: on_close,
        _on_error: on_error,
    })
}

/// Runs `f` on sink `index` if `generation` is still its socket's, then drives the
/// client (new acks may free outbox room: waiting sends are admitted).
fn event_for(
    weak: &Weak<RefCell<Inner>>,
    index: usize,
    generation: u32,
    f: impl FnOnce(&mut Slot, &mut crate::Client, i64),
) {
    let Some(inner) = weak.upgrade() else {
        return;
    };
    {
        let mut guard = inner.borrow_mut();
        let i = &mut *guard;
        let Some(slot) = i.sinks.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        if slot.generation != generation {
            return;
        }
        f(slot, &mut i.client, now());
    }
    run_poll(&inner, false);
}

/// Signs the server's nonce with WebCrypto's Ed25519 and hands the signature and the
/// public key (from the key's JWK `x`) to the sink.
fn sign(inner: &Rc<RefCell<Inner>>, index: usize, generation: u32, nonce: &[u8], pkcs8: &[u8]) {
    let weak = Rc::downgrade(inner);
    let fail = {
        let weak = weak.clone();
        move || {
            event_for(&weak, index, generation, |slot, _, t| {
                slot.sink.on_closed(t)
            });
        }
    };
    let Some(subtle) = Reflect::get(&js_sys::global(), &"crypto".into())
        .ok()
        .and_then(|c| Reflect::get(&c, &"subtle".into()).ok())
        .filter(|s| s.is_object())
    else {
        fail();
        return;
    };
    let call = |name: &str, args: &Array| subtle_call(&subtle, name, args);
    let algo = Object::new();
    set(&algo, "name", &"Ed25519".into());
    let usages = Array::of1(&"sign".into());
    let import = call(
        "importKey",
        &Array::of5(
            &"pkcs8".into(),
            &Uint8Array::from(pkcs8).into(),
            &algo,
            &true.into(),
            &usages,
        ),
    );
    let Some(import) = import else {
        fail();
        return;
    };
    let nonce = Uint8Array::from(nonce);
    let subtle2 = subtle.clone();
    let done = Closure::once_into_js(move |key: JsValue| -> JsValue {
        let call = |name: &str, args: &Array| subtle_call(&subtle2, name, args);
        let sig = call("sign", &Array::of3(&"Ed25519".into(), &key, &nonce));
        let jwk = call("exportKey", &Array::of2(&"jwk".into(), &key));
        match (sig, jwk) {
            (Some(sig), Some(jwk)) => Promise::all(&Array::of2(&sig, &jwk)).into(),
            _ => Promise::reject(&JsValue::NULL).into(),
        }
    });
    let weak2 = weak.clone();
    let signed = Closure::once_into_js(move |pair: JsValue| {
        let pair: Array = pair.unchecked_into();
        let sig = Uint8Array::new(&pair.get(0)).to_vec();
        let x = Reflect::get(&pair.get(1), &"x".into())
            .ok()
            .and_then(|x| x.as_string())
            .and_then(|x| crate::nats::nkey::base64url_decode(&x))
            .and_then(|k| <[u8; 32]>::try_from(k).ok());
        match (<[u8; 64]>::try_from(sig.as_slice()), x) {
            (Ok(sig), Some(pk)) => event_for(&weak2, index, generation, |slot, _, t| {
                slot.sink.on_signature(sig, pk, t)
            }),
            _ => event_for(&weak2, index, generation, |slot, _, t| {
                slot.sink.on_closed(t)
            }),
        }
    });
    let failed = Closure::once_into_js(move |_: JsValue| fail());
    // One-shot closures handed to JS free themselves when called.
    let _ = then2(&then(&import, &done), &signed, &failed);
}

/// `crypto.subtle[name](...args)`, a promise.
fn subtle_call(subtle: &JsValue, name: &str, args: &Array) -> Option<Promise> {
    let f: Function = Reflect::get(subtle, &JsValue::from_str(name))
        .ok()?
        .dyn_into()
        .ok()?;
    f.apply(subtle, args).ok()?.dyn_into().ok()
}

/// State-change and ack callbacks, and settled flush waiters, of one slot.
fn report(slot: &mut Slot, client: &crate::Client, t: i64, out: &mut Vec<Outcome>) {
    let state = slot.sink.state();
    if state != slot.last_state {
        slot.last_state = state;
        if let Some(f) = &slot.on_state {
            let err = slot.sink.error().map_or(JsValue::UNDEFINED, from_core);
            out.push(Outcome::Call(f.clone(), state.name().into(), err));
        }
    }
    let acked = slot.sink.take_acked();
    if let (Some(f), false) = (&slot.on_ack, acked.is_empty()) {
        let list = Array::new();
        for a in &acked {
            let o = Object::new();
            set(&o, "partition", &a.partition.into());
            set(&o, "ackedOffset", &(a.acked_offset as f64).into());
            set(&o, "streamSeq", &(a.stream_seq as f64).into());
            // Records the cursor passed because they were given up, not acknowledged.
            if !a.given_up.is_empty() {
                let given_up: Array = (a.given_up.iter())
                    .map(|&(from, to)| range(a.partition, from, to))
                    .collect();
                set(&o, "givenUp", &given_up);
            }
            list.push(&o);
        }
        out.push(Outcome::Call(f.clone(), list.into(), JsValue::UNDEFINED));
    }
    if slot.waiters.is_empty() {
        return;
    }
    let Ok(logs) = client.logs(slot.sink.topic()) else {
        return;
    };
    let acked: Vec<i64> = logs
        .iter()
        .map(|l| l.info().acked_offset.unwrap_or(0))
        .collect();
    let stopped = matches!(state, SinkState::Failed | SinkState::Closed);
    let mut keep = Vec::new();
    let mut settled = false;
    for w in core::mem::take(&mut slot.waiters) {
        let reached = w.targets.iter().zip(&acked).all(|(t, a)| a >= t);
        let timed_out = w.deadline.is_some_and(|d| t >= d);
        if !(reached || stopped || timed_out) {
            keep.push(w);
            continue;
        }
        settled = true;
        // Undelivered: what is not acknowledged yet, and what was given up (once: the
        // ranges no flush settled before this one was called had reported).
        let missing = Array::new();
        for (p, (target, a)) in w.targets.iter().zip(&acked).enumerate() {
            if a < target {
                missing.push(&range(p as u32, *a, *target));
            }
            let failed = slot.sink.failed_ranges(p as u32);
            if slot.reported_at.len() <= p {
                slot.reported_at.resize_with(p + 1, Vec::new);
            }
            let seen = &mut slot.reported_at[p];
            seen.resize(failed.len(), None);
            for (&(from, to), at) in failed.iter().zip(seen.iter_mut()) {
                if from < *target && at.is_none_or(|k| k >= w.created) {
                    missing.push(&range(p as u32, from, to.min(*target)));
                    at.get_or_insert(slot.settles);
                }
            }
        }
        if missing.length() == 0 {
            out.push(Outcome::Resolve(w.resolve, JsValue::UNDEFINED));
            continue;
        }
        let e = if reached {
            // Everything was settled, but some records were given up on the way.
            js_error(
                "SINK_UNDELIVERED",
                "some records were given up (see `undelivered`)",
            )
        } else if state == SinkState::Closed {
            from_core(&Error::SinkClosed)
        } else if stopped {
            from_core(slot.sink.error().unwrap_or(&Error::SinkClosed))
        } else {
            from_core(&Error::SinkTimeout)
        };
        let _ = Reflect::set(&e, &"undelivered".into(), &missing);
        // Why, when the sink knows more than the code says (a flush timeout while a
        // certificate is refused, say): the sink's last error.
        if let Some(why) = slot.sink.error() {
            let _ = Reflect::set(&e, &"cause".into(), &from_core(why));
        }
        out.push(Outcome::Reject(w.reject, e));
    }
    if settled {
        slot.settles = slot.settles.wrapping_add(1);
    }
    slot.waiters = keep;
}

fn range(partition: u32, from: i64, to: i64) -> JsValue {
    let o = Object::new();
    set(&o, "partition", &partition.into());
    set(&o, "fromOffset", &(from as f64).into());
    set(&o, "toOffset", &(to as f64).into());
    o.into()
}

/// The slot at `index` if the sink `serial` is still there.
fn slot_mut(sinks: &mut [Option<Slot>], index: usize, serial: u32) -> Option<&mut Slot> {
    sinks
        .get_mut(index)
        .and_then(Option::as_mut)
        .filter(|s| s.serial == serial)
}

/// A promise that settles when sink `serial` (at `index`) has acknowledged every record
/// appended so far (rejecting with the undelivered ranges if it stops, gives records up,
/// or `timeout_ms` passes); resolves at once when that sink is gone.
pub(super) fn wait_acked(
    inner: &Rc<RefCell<Inner>>,
    index: usize,
    serial: u32,
    timeout_ms: Option<u64>,
) -> Promise {
    let mut resolve_now = None;
    let promise = Promise::new(&mut |resolve, reject| {
        let mut guard = inner.borrow_mut();
        let i = &mut *guard;
        let targets: Vec<i64> = match slot_mut(&mut i.sinks, index, serial) {
            Some(slot) => i
                .client
                .logs(slot.sink.topic())
                .map(|logs| logs.iter().map(|l| l.high_watermark()).collect())
                .unwrap_or_default(),
            None => {
                resolve_now = Some(resolve);
                return;
            }
        };
        let deadline = timeout_ms.map(|ms| now() + ms as i64);
        if let Some(slot) = slot_mut(&mut i.sinks, index, serial) {
            slot.waiters.push(Waiter {
                created: slot.settles,
                targets,
                deadline,
                resolve,
                reject,
            });
        }
    });
    if let Some(r) = resolve_now {
        let _ = r.call0(&JsValue::UNDEFINED);
    }
    drive(inner);
    promise
}

/// Closes every sink of the client (its `close`).
pub(super) fn close_all(inner: &Rc<RefCell<Inner>>) {
    for slot in inner.borrow_mut().sinks.iter_mut().flatten() {
        slot.sink.close();
    }
    drive(inner);
    inner.borrow_mut().sinks = Vec::new();
}

/// A sink: delivers one topic's records into NATS JetStream over a WebSocket. Made by
/// `Tributary.connect`.
#[wasm_bindgen(js_name = "Sink")]
pub struct JsSink {
    inner: Rc<RefCell<Inner>>,
    index: usize,
    serial: u32,
}

impl core::fmt::Debug for JsSink {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Sink")
    }
}

impl JsSink {
    pub(super) fn new(inner: Rc<RefCell<Inner>>, index: usize, serial: u32) -> JsSink {
        JsSink {
            inner,
            index,
            serial,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Slot, &mut crate::Client) -> R) -> Option<R> {
        let mut guard = self.inner.borrow_mut();
        let i = &mut *guard;
        let slot = slot_mut(&mut i.sinks, self.index, self.serial)?;
        Some(f(slot, &mut i.client))
    }
}

#[wasm_bindgen(js_class = "Sink")]
impl JsSink {
    /// "connecting", "connected", "reconnecting", "offline" (paused), "failed" or "closed".
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        self.with(|s, _| s.sink.state().name())
            .unwrap_or("closed")
            .into()
    }

    /// The error that stopped the sink ("failed"), or the last one it is retrying past;
    /// null when there is none.
    #[wasm_bindgen(getter, unchecked_return_type = "TributaryError | null")]
    pub fn error(&self) -> JsValue {
        self.with(|s, _| s.sink.error().map(from_core))
            .flatten()
            .unwrap_or(JsValue::NULL)
    }

    /// Counters: published, acked, duplicates, resent, timeouts, errors, failedRecords,
    /// connects, disconnects, inFlight; and the state and server URL in use.
    #[wasm_bindgen(unchecked_return_type = "SinkStats")]
    pub fn stats(&self) -> JsValue {
        let o = Object::new();
        self.with(|slot, _| {
            let s = slot.sink.stats();
            for (k, v) in [
                ("published", s.published),
                ("acked", s.acked),
                ("duplicates", s.duplicates),
                ("resent", s.resent),
                ("timeouts", s.timeouts),
                ("errors", s.errors),
                ("failedRecords", s.failed_records),
                ("connects", s.connects),
                ("disconnects", s.disconnects),
                ("inFlight", s.in_flight),
            ] {
                set(&o, k, &(v as f64).into());
            }
            set(&o, "state", &slot.sink.state().name().into());
            set(&o, "server", &slot.sink.server().into());
        });
        o.into()
    }

    /// Resolves when every record appended to the topic before the call is acknowledged
    /// by JetStream. Rejects (with `undelivered`: `{partition, fromOffset, toOffset}[]`)
    /// when the sink fails or is closed first (its code: `SINK_AUTH`, ...), when records
    /// were given up (`SINK_UNDELIVERED`), or after `timeoutMs` (`SINK_TIMEOUT`; default:
    /// no timeout).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn flush(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "{ timeoutMs?: number }")] options: JsValue,
    ) -> Promise {
        let timeout = match super::convert::field(&options, "timeoutMs") {
            Ok(Some(v)) => match super::convert::integer(&v, "timeoutMs", 0.0, 2_147_483_647.0) {
                Ok(n) => Some(n as u64),
                Err(m) => return Promise::reject(&super::error::invalid_argument(&m)),
            },
            Ok(None) => None,
            Err(e) => return Promise::reject(&e),
        };
        run_poll(&self.inner, true);
        wait_acked(&self.inner, self.index, self.serial, timeout)
    }

    /// Goes offline: closes the connection and stays down until `resume()` (records
    /// keep accumulating in the log, within its retention).
    pub fn pause(&self) {
        self.with(|s, _| s.sink.pause(now()));
        drive(&self.inner);
    }

    /// Comes back online after `pause()`: connects at once.
    pub fn resume(&self) {
        self.with(|s, _| s.sink.resume(now()));
        drive(&self.inner);
    }

    /// Closes the sink: pending `flush` promises reject with `SINK_CLOSED`; records not yet
    /// acknowledged stay in the log, and a later `connect` resumes from them.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn close(&self) -> Promise {
        if self.with(|s, _| s.sink.close()).is_some() {
            drive(&self.inner);
            let mut i = self.inner.borrow_mut();
            // Still ours (a callback during `drive` may have closed it, and a `connect`
            // taken the slot).
            if slot_mut(&mut i.sinks, self.index, self.serial).is_some() {
                i.sinks[self.index] = None;
            }
        }
        Promise::resolve(&JsValue::UNDEFINED)
    }
}
