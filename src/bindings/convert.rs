//! Converting JS values into core values, with a typed error for anything else.
//!
//! Numbers are checked for being finite integers in range; strings for being valid
//! UTF-16 (a lone surrogate is an error, not a silent U+FFFD); bytes are copied in.

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::error::{invalid_argument, js_error};
use crate::config::{whole_number, NumberError};
use crate::text::Text;
use crate::{
    Compression, Header, PartitionerKind, ProducerConfig, RetentionConfig, TopicConfig,
    UnackedPolicy, MAX_SAFE_OFFSET,
};

#[wasm_bindgen]
extern "C" {
    /// A JS string, for `String.prototype.isWellFormed` (ES2024: every runtime the package
    /// targets has it). One call, where js-sys's `is_valid_utf16` calls `charCodeAt` per
    /// UTF-16 unit.
    #[wasm_bindgen(js_name = "String")]
    type WellFormed;
    #[wasm_bindgen(method, js_name = "isWellFormed")]
    fn is_well_formed(this: &WellFormed) -> bool;
}

/// Result type of the bindings: the error is a JS error value.
pub type JsResult<T> = Result<T, JsValue>;

fn invalid_config(field: &str, reason: &str) -> JsValue {
    let message = Text::new()
        .s("invalid config `")
        .s(field)
        .s("`: ")
        .s(reason)
        .done();
    js_error("INVALID_CONFIG", &message)
}

/// Bytes from a `string` (UTF-8) or `Uint8Array` (copied); `what` names the argument.
pub fn bytes(v: &JsValue, what: &str) -> JsResult<Vec<u8>> {
    if let Some(s) = v.dyn_ref::<js_sys::JsString>() {
        if !s.unchecked_ref::<WellFormed>().is_well_formed() {
            return Err(invalid_argument(
                &Text::new()
                    .s(what)
                    .s(" is a string with a lone UTF-16 surrogate; it cannot be encoded as UTF-8")
                    .done(),
            ));
        }
        return Ok(String::from(s).into_bytes());
    }
    if let Some(a) = v.dyn_ref::<Uint8Array>() {
        return Ok(a.to_vec());
    }
    Err(invalid_argument(
        &Text::new()
            .s(what)
            .s(" must be a string or a Uint8Array")
            .done(),
    ))
}

/// A key: `null`/`undefined` is no key; otherwise as [`bytes`].
pub fn key(v: &JsValue) -> JsResult<Option<Vec<u8>>> {
    if v.is_null() || v.is_undefined() {
        Ok(None)
    } else {
        bytes(v, "key").map(Some)
    }
}

/// A whole number in `min..=max` (finite, no fraction). Messages format numbers as
/// integers: pulling in `f64` formatting would cost ~17 KB of wasm.
pub fn integer(v: &JsValue, what: &str, min: f64, max: f64) -> Result<f64, String> {
    let t = Text::new().s(what);
    let Some(n) = v.as_f64() else {
        return Err(t.s(" must be a number").done());
    };
    whole_number(n, min, max).map_err(|e| {
        match e {
            NumberError::NaN => t.s(" must be a whole number, got NaN"),
            NumberError::NotWhole => t.s(" must be a whole number"),
            NumberError::OutOfRange => {
                let t = t
                    .s(" must be ")
                    .i(min as i64)
                    .s("..=")
                    .i(max as i64)
                    .s(", got ");
                if n.abs() >= 9.0e18 {
                    t.s("a number out of range")
                } else {
                    t.i(n as i64)
                }
            }
        }
        .done()
    })
}

/// `obj[name]`, or `None` when absent/undefined. `obj` must be an object (or undefined).
pub fn field(obj: &JsValue, name: &str) -> JsResult<Option<JsValue>> {
    if obj.is_undefined() || obj.is_null() {
        return Ok(None);
    }
    if !obj.is_object() {
        return Err(invalid_argument("options must be an object"));
    }
    let v = Reflect::get(obj, &JsValue::from_str(name))
        .map_err(|_| invalid_argument("options could not be read"))?;
    Ok(if v.is_undefined() { None } else { Some(v) })
}

fn config_int(obj: &JsValue, name: &'static str, min: f64, max: f64) -> JsResult<Option<f64>> {
    match field(obj, name)? {
        None => Ok(None),
        Some(v) => integer(&v, name, min, max)
            .map(Some)
            .map_err(|reason| invalid_config(name, &reason)),
    }
}

/// A well-formed JS string as UTF-8, or why not (a lone UTF-16 surrogate cannot be
/// encoded: it is refused, not replaced).
pub fn text(v: &JsValue) -> Result<String, &'static str> {
    let s = v.dyn_ref::<js_sys::JsString>().ok_or("must be a string")?;
    if !s.unchecked_ref::<WellFormed>().is_well_formed() {
        return Err("is a string with a lone UTF-16 surrogate");
    }
    Ok(String::from(s))
}

/// A topic name argument: `INVALID_ARGUMENT` unless a string, `INVALID_TOPIC_NAME` for a
/// lone surrogate (the core checks the rest of the name).
pub fn topic(v: &JsValue) -> JsResult<String> {
    if !v.is_string() {
        return Err(invalid_argument("topic must be a string"));
    }
    text(v).map_err(|_| {
        super::error::from_core(&crate::Error::InvalidTopicName {
            reason: "it has a lone UTF-16 surrogate",
        })
    })
}

fn config_str(obj: &JsValue, name: &'static str) -> JsResult<Option<String>> {
    match field(obj, name)? {
        None => Ok(None),
        Some(v) => text(&v)
            .map(Some)
            .map_err(|reason| invalid_config(name, reason)),
    }
}

const SAFE: f64 = MAX_SAFE_OFFSET as f64;
const U32: f64 = u32::MAX as f64;

fn config_compression(obj: &JsValue) -> JsResult<Option<Compression>> {
    config_str(obj, "compression")?
        .map(|name| Compression::parse(&name).map_err(|e| super::error::from_core(&e)))
        .transpose()
}

// The bindings check only that a number is a whole number its Rust field can hold; the
// ranges (partitions 1..=65536, ...) are the core's `validate`, one place for each rule.

/// Topic config from `{ partitions, replicationFactor, retention: {...}, compression }`.
pub fn topic_config(obj: &JsValue) -> JsResult<TopicConfig> {
    let mut c = TopicConfig::default();
    if let Some(n) = config_int(obj, "partitions", 0.0, U32)? {
        c.partitions = n as u32;
    }
    if let Some(n) = config_int(obj, "replicationFactor", 0.0, U32)? {
        c.replication_factor = n as u32;
    }
    if let Some(codec) = config_compression(obj)? {
        c.compression = codec;
    }
    if let Some(r) = field(obj, "retention")? {
        c.retention = retention(&r)?;
    }
    Ok(c)
}

fn retention(obj: &JsValue) -> JsResult<RetentionConfig> {
    if !obj.is_object() {
        return Err(invalid_config("retention", "must be an object"));
    }
    let get = |name: &'static str| -> JsResult<Option<u64>> {
        Ok(config_int(obj, name, 0.0, SAFE)?.map(|n| n as u64))
    };
    let unacked = match config_str(obj, "unacked")? {
        None => UnackedPolicy::Keep,
        Some(name) => UnackedPolicy::parse(&name).map_err(|e| super::error::from_core(&e))?,
    };
    Ok(RetentionConfig {
        max_age_ms: get("maxAgeMs")?,
        max_bytes: get("maxBytes")?,
        max_records: get("maxRecords")?,
        segment_bytes: get("segmentBytes")?,
        unacked,
    })
}

/// What `send` does when a partition's batch queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFull {
    /// `send` returns a pending promise that settles once there is room.
    Wait,
    /// `send` rejects with `QUEUE_FULL`.
    Error,
}

/// Producer config from `{ batchSize, linger, maxRequestSize, batchQueueSize, partitioner,
/// compression, onQueueFull }`.
pub fn producer_config(obj: &JsValue) -> JsResult<(ProducerConfig, OnFull)> {
    let mut c = ProducerConfig::default();
    if let Some(n) = config_int(obj, "batchSize", 0.0, U32)? {
        c.batch_size = n as usize;
    }
    if let Some(n) = config_int(obj, "linger", 0.0, SAFE)? {
        c.linger_ms = n as u64;
    }
    if let Some(n) = config_int(obj, "maxRequestSize", 0.0, U32)? {
        c.max_request_size = n as usize;
    }
    if let Some(n) = config_int(obj, "batchQueueSize", 0.0, U32)? {
        c.batch_queue_size = n as usize;
    }
    if let Some(name) = config_str(obj, "partitioner")? {
        c.partitioner = PartitionerKind::parse(&name).map_err(|e| super::error::from_core(&e))?;
    }
    c.compression = config_compression(obj)?;
    let on_full = match config_str(obj, "onQueueFull")?.as_deref() {
        None | Some("wait") => OnFull::Wait,
        Some("error") => OnFull::Error,
        Some(_) => return Err(invalid_config("onQueueFull", "must be wait or error")),
    };
    Ok((c, on_full))
}

/// Send options `{ headers, timestamp, partition }`.
pub struct SendOptions {
    /// Headers in order.
    pub headers: Vec<Header>,
    /// Explicit timestamp (ms).
    pub timestamp: Option<i64>,
    /// Explicit partition.
    pub partition: Option<u32>,
}

/// Parses send options (`undefined` is none).
pub fn send_options(obj: &JsValue) -> JsResult<SendOptions> {
    let mut o = SendOptions {
        headers: Vec::new(),
        timestamp: None,
        partition: None,
    };
    if let Some(v) = field(obj, "timestamp")? {
        o.timestamp =
            Some(integer(&v, "timestamp", 0.0, SAFE).map_err(|m| invalid_argument(&m))? as i64);
    }
    if let Some(v) = field(obj, "partition")? {
        o.partition = Some(
            integer(&v, "partition", 0.0, u32::MAX as f64).map_err(|m| invalid_argument(&m))?
                as u32,
        );
    }
    if let Some(h) = field(obj, "headers")? {
        if !h.is_object() {
            return Err(invalid_argument(
                "headers must be an object of name → string | Uint8Array",
            ));
        }
        let entries = Object::entries(h.unchecked_ref());
        for e in entries.iter() {
            let pair: js_sys::Array = e.unchecked_into();
            let name = text(&pair.get(0)).map_err(|reason| {
                invalid_argument(&Text::new().s("a header name ").s(reason).done())
            })?;
            let value = bytes(&pair.get(1), "a header value")?;
            o.headers.push(Header { name, value });
        }
    }
    Ok(o)
}

/// `[{ offset, key, value, timestamp, headers? }]` for `Tributary.restore`.
#[cfg(feature = "sink")]
pub fn restored_records(v: &JsValue) -> JsResult<Vec<crate::ConsumedRecord>> {
    let arr = v
        .dyn_ref::<js_sys::Array>()
        .ok_or_else(|| invalid_argument("records must be an array"))?;
    let mut out = Vec::with_capacity(arr.length() as usize);
    for r in arr.iter() {
        if !r.is_object() {
            return Err(invalid_argument(
                "each record must be { offset, key, value, timestamp }",
            ));
        }
        let get = |name: &str| field(&r, name).map(|v| v.unwrap_or(JsValue::UNDEFINED));
        let num = |name: &str| -> JsResult<i64> {
            integer(&get(name)?, name, 0.0, SAFE)
                .map(|n| n as i64)
                .map_err(|m| invalid_argument(&m))
        };
        let o = send_options(&r)?;
        out.push(crate::ConsumedRecord {
            offset: num("offset")?,
            key: key(&get("key")?)?,
            value: bytes(&get("value")?, "value")?,
            timestamp: num("timestamp")?,
            headers: o.headers,
        });
    }
    Ok(out)
}

#[cfg(feature = "sink")]
/// What `Tributary.connect` takes besides the core's `SinkConfig`.
pub struct SinkHost {
    /// The WebSocket constructor.
    pub ctor: js_sys::Function,
    /// `onAck(progress[])`.
    pub on_ack: Option<js_sys::Function>,
    /// `onStateChange(state, error?)`.
    pub on_state: Option<js_sys::Function>,
}

#[cfg(feature = "sink")]
fn config_fn(obj: &JsValue, name: &'static str) -> JsResult<Option<js_sys::Function>> {
    match field(obj, name)? {
        None => Ok(None),
        Some(v) => v
            .dyn_into::<js_sys::Function>()
            .map(Some)
            .map_err(|_| invalid_config(name, "must be a function")),
    }
}

#[cfg(feature = "sink")]
fn config_bool(obj: &JsValue, name: &'static str) -> JsResult<Option<bool>> {
    match field(obj, name)? {
        None => Ok(None),
        Some(v) => v
            .as_bool()
            .map(Some)
            .ok_or_else(|| invalid_config(name, "must be true or false")),
    }
}

#[cfg(feature = "sink")]
/// Sink options: `{ servers | server, stream, subjectPrefix, token, user, pass, creds,
/// nkeySeed, delivery, maxRetries, ackTimeoutMs, connectTimeoutMs, backoffInitialMs,
/// backoffMaxMs, maxInFlight, provision, duplicateWindowMs, msgIdPrefix, name,
/// WebSocket, onAck, onStateChange }`. Credential errors never echo the credential.
pub fn sink_config(
    obj: &JsValue,
    msg_id_prefix: &str,
) -> JsResult<(crate::sink::SinkConfig, SinkHost)> {
    use crate::nats::Credentials;
    use crate::sink::{Delivery, SinkConfig};
    if !obj.is_object() {
        return Err(invalid_config(
            "options",
            "connect needs { servers: [url, ...] }",
        ));
    }
    let mut servers = Vec::new();
    if let Some(v) = field(obj, "servers")? {
        let arr = v
            .dyn_into::<js_sys::Array>()
            .map_err(|_| invalid_config("servers", "must be an array of URLs"))?;
        for s in arr.iter() {
            servers.push(
                s.as_string()
                    .ok_or_else(|| invalid_config("servers", "must be an array of URLs"))?,
            );
        }
    }
    if let Some(s) = config_str(obj, "server")? {
        servers.push(s);
    }
    let mut c = SinkConfig::new("ws://unset", msg_id_prefix);
    c.servers = servers;
    c.stream = config_str(obj, "stream")?;
    c.subject_prefix = config_str(obj, "subjectPrefix")?;
    c.name = config_str(obj, "name")?;
    if let Some(p) = config_str(obj, "msgIdPrefix")? {
        c.msg_id_prefix = p;
    }
    let token = config_str(obj, "token")?;
    let user = config_str(obj, "user")?;
    let pass = config_str(obj, "pass")?;
    let creds = config_str(obj, "creds")?;
    let seed = config_str(obj, "nkeySeed")?;
    c.credentials = Credentials::from_options(token, user, pass, creds.as_deref(), seed.as_deref())
        .map_err(|e| super::error::from_core(&e))?;
    c.delivery = match config_str(obj, "delivery")? {
        None => Delivery::AtLeastOnce,
        Some(name) => Delivery::parse(&name).map_err(|e| super::error::from_core(&e))?,
    };
    if let Some(n) = config_int(obj, "maxRetries", 0.0, U32)? {
        c.max_retries = Some(n as u32);
    }
    let ms = |name: &'static str| config_int(obj, name, 0.0, SAFE).map(|v| v.map(|n| n as u64));
    if let Some(n) = ms("ackTimeoutMs")? {
        c.ack_timeout_ms = n;
    }
    if let Some(n) = ms("connectTimeoutMs")? {
        c.connect_timeout_ms = n;
    }
    if let Some(n) = ms("backoffInitialMs")? {
        c.backoff_initial_ms = n;
    }
    if let Some(n) = ms("backoffMaxMs")? {
        c.backoff_max_ms = n;
    }
    if let Some(n) = ms("duplicateWindowMs")? {
        c.duplicate_window_ms = n;
    }
    if let Some(n) = config_int(obj, "maxInFlight", 0.0, U32)? {
        c.max_in_flight = n as usize;
    }
    if let Some(b) = config_bool(obj, "provision")? {
        c.provision = b;
    }
    let ctor = match config_fn(obj, "WebSocket")? {
        Some(f) => f,
        None => Reflect::get(&js_sys::global(), &JsValue::from_str("WebSocket"))
            .ok()
            .and_then(|v| v.dyn_into::<js_sys::Function>().ok())
            .ok_or_else(|| {
                invalid_config(
                    "WebSocket",
                    "this runtime has no global WebSocket: pass one (the ws package on Node 20)",
                )
            })?,
    };
    let host = SinkHost {
        ctor,
        on_ack: config_fn(obj, "onAck")?,
        on_state: config_fn(obj, "onStateChange")?,
    };
    Ok((c, host))
}
