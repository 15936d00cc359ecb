//! Converting JS values into core values, with a typed error for anything else.
//!
//! Numbers are checked for being finite integers in range; strings for being valid
//! UTF-16 (a lone surrogate is an error, not a silent U+FFFD); bytes are copied in.
//!
//! User objects are untrusted: options are read as own properties only (a value inherited
//! from a polluted `Object.prototype` is never taken), and every read that can run user
//! code (a getter, a Proxy trap, a detached buffer) goes through a `catch` import, so it
//! becomes a coded `INVALID_ARGUMENT` instead of an exception unwinding through wasm.
//! Callers read all of a call's input first and only then touch the client.

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::error::{invalid_argument, js_error};
use crate::config::{whole_number, NumberError};
use crate::driver::OnFull;
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

    // The reads of user values that may throw (getters, Proxy traps), caught.
    #[wasm_bindgen(catch, js_namespace = Object, js_name = "hasOwn")]
    fn has_own(o: &JsValue, k: &JsValue) -> Result<bool, JsValue>;
    #[wasm_bindgen(catch, js_namespace = Object, js_name = "entries")]
    fn entries(o: &JsValue) -> Result<Array, JsValue>;
    /// A copy of a user's array (or of a `Map`'s entries), read once.
    #[wasm_bindgen(catch, js_namespace = Array, js_name = "from")]
    fn array_from(v: &JsValue) -> Result<Array, JsValue>;
    #[wasm_bindgen(catch, js_namespace = Array, js_name = "isArray")]
    fn is_array_js(v: &JsValue) -> Result<bool, JsValue>;
    /// The bytes of a `Uint8Array`, copied into wasm (`Object(a)` is `a`; the glue's copy
    /// throws for a detached buffer or a Proxy, caught here).
    #[wasm_bindgen(catch, js_name = "Object")]
    fn copy_bytes(a: &JsValue) -> Result<Vec<u8>, JsValue>;
}

/// `INVALID_ARGUMENT` for a user value whose reading threw (a getter, a Proxy trap, a
/// detached buffer): `message` names it.
fn unreadable(message: &str) -> JsValue {
    invalid_argument(message)
}

/// Whether `v` is an array (`false` for a revoked Proxy, whose check throws).
pub fn is_array(v: &JsValue) -> bool {
    is_array_js(v).unwrap_or(false)
}

/// A copy of the user's array `v` (its getters run once, here), or `INVALID_ARGUMENT`
/// with `what` as its message.
pub fn array(v: &JsValue, what: &'static str) -> JsResult<Array> {
    array_from(v).map_err(|_| unreadable(what))
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
    if v.is_instance_of::<Uint8Array>() {
        return copy_bytes(v)
            .map_err(|_| unreadable(&Text::new().s(what).s(" could not be read").done()));
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

/// `obj[name]` when `obj` has it as an own property (never through the prototype chain),
/// or `None` when absent/undefined. `obj` must be an object (or undefined).
pub fn field(obj: &JsValue, name: &str) -> JsResult<Option<JsValue>> {
    if obj.is_undefined() || obj.is_null() {
        return Ok(None);
    }
    if !obj.is_object() {
        return Err(invalid_argument("options must be an object"));
    }
    let k = JsValue::from_str(name);
    let v = match has_own(obj, &k) {
        Ok(false) => return Ok(None),
        Ok(true) => Reflect::get(obj, &k),
        Err(e) => Err(e),
    }
    .map_err(|_| unreadable("options could not be read"))?;
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

const UNREADABLE_HEADERS: &str = "headers could not be read";
const HEADERS: &str = "headers must be an object or a Map of name → string | Uint8Array";

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
            return Err(invalid_argument(HEADERS));
        }
        // An object's own enumerable properties; an object with none (a Map) gives its
        // `[name, value]` pairs by iterating (each pair copied: the iterator is the user's).
        let mut pairs = entries(&h).map_err(|_| unreadable(UNREADABLE_HEADERS))?;
        let iterated = pairs.length() == 0;
        if iterated {
            pairs = array(&h, UNREADABLE_HEADERS)?;
        }
        for e in pairs.iter() {
            let pair: Array = if !iterated {
                e.unchecked_into()
            } else if is_array(&e) {
                array(&e, UNREADABLE_HEADERS)?
            } else {
                return Err(invalid_argument(HEADERS));
            };
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
    if !is_array(v) {
        return Err(invalid_argument("records must be an array"));
    }
    let arr = array(v, "records could not be read")?;
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
