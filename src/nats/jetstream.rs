//! JetStream over the core protocol: publishing with acknowledgements, and the two stream
//! API requests the sink needs (create a stream, look one up).
//!
//! A JetStream publish is a plain `PUB`/`HPUB` to a subject a stream captures, with a
//! reply subject (an inbox the client subscribed to). The stream answers on it with a
//! PubAck, `{"stream":"S","seq":N}` (`"duplicate":true` when a message with the same
//! `Nats-Msg-Id` was stored within the stream's duplicate window, and then `seq` is the
//! first copy's), or with an API error `{"error":{"code":503,"err_code":10077,...}}`. If no
//! stream captures the subject, the server answers `NATS/1.0 503` with no payload ("no
//! responders", as `CONNECT` asked for).
//!
//! API requests are messages to `$JS.API.<op>` (or a domain's prefix) with a JSON body;
//! replies come the same way. Durations are nanoseconds in JetStream's JSON.

use alloc::{string::String, vec::Vec};

use super::json::{self, Fields, JsonError, ObjectWriter};
use super::proto::{validate_subject, Msg, ProtoError};
use crate::text::Text;

/// The API subject prefix of the default JetStream domain.
pub const DEFAULT_API_PREFIX: &str = "$JS.API";

/// The headers JetStream reads on a publish.
pub mod header {
    /// The message id the stream de-duplicates on within its duplicate window.
    pub const MSG_ID: &str = "Nats-Msg-Id";
    /// Store only if the subject's stream is this one (else error 10060).
    pub const EXPECTED_STREAM: &str = "Nats-Expected-Stream";
    /// Store only if the stream's last sequence is this (else error 10071).
    pub const EXPECTED_LAST_SEQUENCE: &str = "Nats-Expected-Last-Sequence";
    /// Store only if the stream's last message id is this.
    pub const EXPECTED_LAST_MSG_ID: &str = "Nats-Expected-Last-Msg-Id";
}

/// JetStream `err_code`s the sink acts on (the server's `errors.json`).
pub mod err_code {
    /// A stream with this name exists with a different configuration.
    pub const STREAM_NAME_IN_USE: u32 = 10058;
    /// No stream by this name.
    pub const STREAM_NOT_FOUND: u32 = 10059;
    /// `Nats-Expected-Stream` names another stream than the subject's.
    pub const STREAM_NOT_MATCH: u32 = 10060;
    /// `Nats-Expected-Last-Sequence` did not match.
    pub const STREAM_WRONG_LAST_SEQUENCE: u32 = 10071;
    /// Replicas > 1 asked of a server that is not clustered.
    pub const REPLICAS_NOT_SUPPORTED: u32 = 10074;
    /// JetStream is not enabled on the server.
    pub const NOT_ENABLED: u32 = 10076;
    /// JetStream is not enabled for the account.
    pub const NOT_ENABLED_FOR_ACCOUNT: u32 = 10039;
    /// Insufficient resources (storage, memory).
    pub const INSUFFICIENT_RESOURCES: u32 = 10023;
}

/// What went wrong with a JetStream request or publish.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JetStreamError {
    /// The server answered with an API error.
    Api {
        /// The HTTP-like status (`400`, `404`, `503`, ...).
        code: u16,
        /// JetStream's own error code (see [`err_code`]); 0 if absent.
        err_code: u32,
        /// The server's description.
        description: String,
    },
    /// Nothing answered: no stream captures the subject, or JetStream is not there.
    NoResponders,
    /// A status-only reply other than no responders (e.g. `408`).
    Status {
        /// The status code.
        code: u16,
    },
    /// The reply is not the JSON expected.
    Malformed(JsonError),
    /// A stream name JetStream would refuse.
    InvalidStreamName {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A stream subject that is not a valid subject.
    InvalidSubject(ProtoError),
}

impl JetStreamError {
    /// The human-readable message (the same text as `Display`), built without `core::fmt`.
    pub fn message(&self) -> String {
        let t = Text::new();
        match self {
            JetStreamError::Api {
                code,
                err_code,
                description,
            } => t
                .s("JetStream error ")
                .u(u64::from(*code))
                .s(" (")
                .u(u64::from(*err_code))
                .s("): ")
                .s(description),
            JetStreamError::NoResponders => {
                t.s("no responders: no JetStream stream captures the subject")
            }
            JetStreamError::Status { code } => t.s("JetStream status ").u(u64::from(*code)),
            JetStreamError::Malformed(e) => t.s("malformed JetStream reply: ").s(&e.message()),
            JetStreamError::InvalidStreamName { reason } => t.s("invalid stream name: ").s(reason),
            JetStreamError::InvalidSubject(e) => t.s("invalid stream subject: ").s(&e.message()),
        }
        .done()
    }
}

impl core::fmt::Display for JetStreamError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for JetStreamError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            JetStreamError::Malformed(e) => Some(e),
            JetStreamError::InvalidSubject(e) => Some(e),
            _ => None,
        }
    }
}

/// Where a stream keeps its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Storage {
    /// On disk (the default).
    #[default]
    File,
    /// In memory.
    Memory,
}

impl Storage {
    fn as_str(self) -> &'static str {
        match self {
            Storage::File => "file",
            Storage::Memory => "memory",
        }
    }
}

/// The stream configuration `STREAM.CREATE` sends (retention `limits`, discard `old`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// The stream's name.
    pub name: String,
    /// The subjects it captures (wildcards allowed).
    pub subjects: Vec<String>,
    /// How many servers hold a copy (1, or up to 5 in a cluster).
    pub num_replicas: u32,
    /// The age past which messages are removed, in nanoseconds; 0 = no limit.
    pub max_age_ns: u64,
    /// The size past which the oldest messages are removed; `None` = no limit.
    pub max_bytes: Option<u64>,
    /// The count past which the oldest messages are removed; `None` = no limit.
    pub max_msgs: Option<u64>,
    /// How long `Nats-Msg-Id`s are remembered for de-duplication, in nanoseconds; `None`
    /// = the server's default (2 minutes, or `max_age` if shorter). It may not exceed
    /// `max_age_ns` when that is set.
    pub duplicate_window_ns: Option<u64>,
    /// File or memory.
    pub storage: Storage,
}

impl StreamConfig {
    /// A file-backed, single-replica stream with no limits.
    pub fn new(name: &str, subjects: Vec<String>) -> Self {
        StreamConfig {
            name: String::from(name),
            subjects,
            num_replicas: 1,
            max_age_ns: 0,
            max_bytes: None,
            max_msgs: None,
            duplicate_window_ns: None,
            storage: Storage::File,
        }
    }

    /// The JSON body of `STREAM.CREATE`. Checks the name and the subjects.
    pub fn to_json(&self) -> Result<Vec<u8>, JetStreamError> {
        validate_stream_name(&self.name)?;
        for subject in &self.subjects {
            validate_subject(subject, true).map_err(JetStreamError::InvalidSubject)?;
        }
        let limit = |v: Option<u64>| v.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        let mut w = ObjectWriter::new(&mut out);
        w.str("name", &self.name);
        w.strs("subjects", &self.subjects);
        w.str("retention", "limits");
        w.i64("max_consumers", -1);
        w.i64("max_msgs", limit(self.max_msgs));
        w.i64("max_bytes", limit(self.max_bytes));
        w.u64("max_age", self.max_age_ns);
        w.str("storage", self.storage.as_str());
        w.str("discard", "old");
        w.u64("num_replicas", u64::from(self.num_replicas));
        if let Some(window) = self.duplicate_window_ns {
            w.u64("duplicate_window", window);
        }
        w.finish();
        Ok(out)
    }
}

/// Checks a stream name: 1 to 255 bytes, no whitespace or control characters, none of
/// `.`, `*`, `>`, `/`, `\`.
pub fn validate_stream_name(name: &str) -> Result<(), JetStreamError> {
    let fail = |reason| Err(JetStreamError::InvalidStreamName { reason });
    if name.is_empty() {
        return fail("empty");
    }
    if name.len() > 255 {
        return fail("longer than 255 bytes");
    }
    if name
        .bytes()
        .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
    {
        return fail("whitespace or control character");
    }
    if name
        .bytes()
        .any(|c| matches!(c, b'.' | b'*' | b'>' | b'/' | b'\\'))
    {
        return fail("contains one of . * > / \\");
    }
    Ok(())
}

fn api_subject(prefix: &str, op: &str, stream: &str) -> Result<String, JetStreamError> {
    validate_stream_name(stream)?;
    let subject = Text::new().s(prefix).s(".").s(op).s(".").s(stream).done();
    validate_subject(&subject, false).map_err(JetStreamError::InvalidSubject)?;
    Ok(subject)
}

/// `<prefix>.STREAM.CREATE.<stream>` (the prefix is [`DEFAULT_API_PREFIX`] unless the
/// stream lives in another domain: `$JS.<domain>.API`).
pub fn stream_create_subject(prefix: &str, stream: &str) -> Result<String, JetStreamError> {
    api_subject(prefix, "STREAM.CREATE", stream)
}

/// `<prefix>.STREAM.INFO.<stream>` (request body empty).
pub fn stream_info_subject(prefix: &str, stream: &str) -> Result<String, JetStreamError> {
    api_subject(prefix, "STREAM.INFO", stream)
}

/// The JSON of a reply, or the error it carries.
fn reply_json(msg: &Msg) -> Result<json::Value, JetStreamError> {
    if msg.is_no_responders() {
        return Err(JetStreamError::NoResponders);
    }
    if let (Some(code), true) = (msg.status, msg.payload.is_empty()) {
        return Err(JetStreamError::Status { code });
    }
    let doc = json::parse(&msg.payload).map_err(JetStreamError::Malformed)?;
    if !matches!(doc, json::Value::Object(_)) {
        return Err(JetStreamError::Malformed(json::wrong(
            "reply",
            "expected an object",
        )));
    }
    if let Some(error) = Fields(&doc)
        .object("error")
        .map_err(JetStreamError::Malformed)?
    {
        let code = error.u64("code").map_err(JetStreamError::Malformed)?;
        let err_code = error.u64("err_code").map_err(JetStreamError::Malformed)?;
        let description = error
            .str("description")
            .map_err(JetStreamError::Malformed)?;
        return Err(JetStreamError::Api {
            code: code.and_then(|c| u16::try_from(c).ok()).unwrap_or(0),
            err_code: err_code.and_then(|c| u32::try_from(c).ok()).unwrap_or(0),
            description: String::from(description.unwrap_or_default()),
        });
    }
    Ok(doc)
}

fn required<T>(
    value: Result<Option<T>, JsonError>,
    field: &'static str,
) -> Result<T, JetStreamError> {
    value
        .and_then(|v| v.ok_or(json::wrong(field, "missing")))
        .map_err(JetStreamError::Malformed)
}

/// A stream's acknowledgement of a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubAck {
    /// The stream that stored the message.
    pub stream: String,
    /// Its sequence number in the stream (the first copy's, for a duplicate).
    pub seq: u64,
    /// Whether the message id was seen within the duplicate window (not stored again).
    pub duplicate: bool,
    /// The stream's JetStream domain, if any.
    pub domain: Option<String>,
}

/// The PubAck in a publish's reply, or why there is none.
pub fn parse_pub_ack(msg: &Msg) -> Result<PubAck, JetStreamError> {
    let doc = reply_json(msg)?;
    let f = Fields(&doc);
    Ok(PubAck {
        stream: String::from(required(f.str("stream"), "stream")?),
        seq: required(f.u64("seq"), "seq")?,
        duplicate: f
            .bool("duplicate")
            .map_err(JetStreamError::Malformed)?
            .unwrap_or(false),
        domain: f
            .str("domain")
            .map_err(JetStreamError::Malformed)?
            .map(String::from),
    })
}

/// What `STREAM.CREATE` and `STREAM.INFO` answer: the stream's configuration and state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamInfo {
    /// The stream's name.
    pub name: String,
    /// The subjects it captures.
    pub subjects: Vec<String>,
    /// Its replica count.
    pub num_replicas: u32,
    /// Its `max_age`, in nanoseconds (0 = no limit).
    pub max_age_ns: u64,
    /// Its `max_bytes` (-1 = no limit).
    pub max_bytes: i64,
    /// Its de-duplication window, in nanoseconds.
    pub duplicate_window_ns: u64,
    /// File or memory.
    pub storage: Storage,
    /// Messages held.
    pub messages: u64,
    /// Bytes held.
    pub bytes: u64,
    /// The first sequence held.
    pub first_seq: u64,
    /// The last sequence assigned.
    pub last_seq: u64,
}

/// The stream info in a `STREAM.CREATE` or `STREAM.INFO` reply, or the error.
pub fn parse_stream_info(msg: &Msg) -> Result<StreamInfo, JetStreamError> {
    let doc = reply_json(msg)?;
    let f = Fields(&doc);
    let m = JetStreamError::Malformed;
    let config = f
        .object("config")
        .map_err(m)?
        .ok_or(m(json::wrong("config", "missing")))?;
    let state = f.object("state").map_err(m)?;
    let state_u64 = |field| -> Result<u64, JetStreamError> {
        match &state {
            Some(s) => Ok(s.u64(field).map_err(m)?.unwrap_or(0)),
            None => Ok(0),
        }
    };
    let storage = match config.str("storage").map_err(m)? {
        None | Some("file") => Storage::File,
        Some("memory") => Storage::Memory,
        Some(_) => return Err(m(json::wrong("storage", "expected file or memory"))),
    };
    Ok(StreamInfo {
        name: String::from(required(config.str("name"), "name")?),
        subjects: config.strings("subjects").map_err(m)?,
        num_replicas: config
            .u64("num_replicas")
            .map_err(m)?
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(1),
        max_age_ns: config.u64("max_age").map_err(m)?.unwrap_or(0),
        max_bytes: config.i64("max_bytes").map_err(m)?.unwrap_or(-1),
        duplicate_window_ns: config.u64("duplicate_window").map_err(m)?.unwrap_or(0),
        storage,
        messages: state_u64("messages")?,
        bytes: state_u64("bytes")?,
        first_seq: state_u64("first_seq")?,
        last_seq: state_u64("last_seq")?,
    })
}

// proptest is a native dev-dependency; these run natively.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::nats::Headers;
    use alloc::{borrow::ToOwned, vec};
    use proptest::prelude::*;

    fn reply(payload: &[u8]) -> Msg {
        Msg {
            subject: "_INBOX.x.1".into(),
            sid: 1,
            payload: payload.to_vec(),
            ..Msg::default()
        }
    }

    #[test]
    fn pub_acks() {
        let ack =
            parse_pub_ack(&reply(br#"{"stream":"clicks","seq":18446744073709551615}"#)).unwrap();
        assert_eq!(
            ack,
            PubAck {
                stream: "clicks".into(),
                seq: u64::MAX,
                duplicate: false,
                domain: None
            }
        );
        let ack = parse_pub_ack(&reply(
            br#"{"stream":"S","seq":7,"duplicate":true,"domain":"hub"}"#,
        ))
        .unwrap();
        assert!(ack.duplicate);
        assert_eq!(ack.domain.as_deref(), Some("hub"));
    }

    #[test]
    fn api_errors_and_no_responders() {
        let e = parse_pub_ack(&reply(
            br#"{"error":{"code":400,"err_code":10060,"description":"expected stream does not match"}}"#,
        ))
        .unwrap_err();
        assert_eq!(
            e,
            JetStreamError::Api {
                code: 400,
                err_code: err_code::STREAM_NOT_MATCH,
                description: "expected stream does not match".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "JetStream error 400 (10060): expected stream does not match"
        );
        let e = parse_stream_info(&reply(
            br#"{"type":"io.nats.jetstream.api.v1.stream_info_response","error":{"code":404,"err_code":10059,"description":"stream not found"}}"#,
        ))
        .unwrap_err();
        assert!(matches!(
            e,
            JetStreamError::Api {
                code: 404,
                err_code: 10059,
                ..
            }
        ));

        let mut no_responders = reply(b"");
        no_responders.status = Some(503);
        assert_eq!(
            parse_pub_ack(&no_responders),
            Err(JetStreamError::NoResponders)
        );
        let mut timeout = reply(b"");
        timeout.status = Some(408);
        assert_eq!(
            parse_pub_ack(&timeout),
            Err(JetStreamError::Status { code: 408 })
        );
    }

    #[test]
    fn malformed_acks() {
        for payload in [
            &b""[..],
            b"[]",
            b"{}",
            br#"{"stream":"S"}"#,
            br#"{"seq":1}"#,
            br#"{"stream":"S","seq":-1}"#,
            br#"{"stream":"S","seq":1.5}"#,
            br#"{"stream":"S","seq":18446744073709551616}"#,
            br#"{"stream":1,"seq":1}"#,
            br#"{"stream":"S","seq":1,"duplicate":"yes"}"#,
            br#"{"error":"x"}"#,
            b"{\"stream\":\"S\",\"seq\":1",
        ] {
            assert!(
                matches!(
                    parse_pub_ack(&reply(payload)),
                    Err(JetStreamError::Malformed(_))
                ),
                "{:?}",
                core::str::from_utf8(payload)
            );
        }
    }

    #[test]
    fn stream_create_request() {
        let mut cfg = StreamConfig::new("clicks", vec!["clicks.*".to_owned()]);
        cfg.num_replicas = 3;
        cfg.max_age_ns = 86_400_000_000_000;
        cfg.max_bytes = Some(1 << 30);
        cfg.duplicate_window_ns = Some(120_000_000_000);
        cfg.storage = Storage::Memory;
        assert_eq!(
            core::str::from_utf8(&cfg.to_json().unwrap()).unwrap(),
            r#"{"name":"clicks","subjects":["clicks.*"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":1073741824,"max_age":86400000000000,"storage":"memory","discard":"old","num_replicas":3,"duplicate_window":120000000000}"#
        );
        assert_eq!(
            stream_create_subject(DEFAULT_API_PREFIX, "clicks").unwrap(),
            "$JS.API.STREAM.CREATE.clicks"
        );
        assert_eq!(
            stream_info_subject("$JS.hub.API", "clicks").unwrap(),
            "$JS.hub.API.STREAM.INFO.clicks"
        );
    }

    #[test]
    fn refuses_bad_stream_names_and_subjects() {
        for name in ["", "a.b", "a*", "a>", "a/b", "a\\b", "a b", "a\nb"] {
            assert!(
                matches!(
                    validate_stream_name(name),
                    Err(JetStreamError::InvalidStreamName { .. })
                ),
                "{name:?}"
            );
            assert!(stream_create_subject(DEFAULT_API_PREFIX, name).is_err());
        }
        assert!(validate_stream_name(&"x".repeat(255)).is_ok());
        assert!(validate_stream_name(&"x".repeat(256)).is_err());
        assert!(validate_stream_name("clicks-2_X").is_ok());
        let cfg = StreamConfig::new("s", vec!["a..b".to_owned()]);
        assert!(matches!(
            cfg.to_json(),
            Err(JetStreamError::InvalidSubject(_))
        ));
    }

    #[test]
    fn stream_info_replies() {
        let info = parse_stream_info(&reply(br#"{"type":"io.nats.jetstream.api.v1.stream_create_response","config":{"name":"clicks","subjects":["clicks.*"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"sealed":false},"created":"2026-11-27T03:00:00.000Z","state":{"messages":3,"bytes":120,"first_seq":1,"first_ts":"2026-11-27T03:00:00Z","last_seq":3,"last_ts":"2026-11-27T03:00:00Z","consumer_count":0},"did_create":true}"#)).unwrap();
        assert_eq!(info.name, "clicks");
        assert_eq!(info.subjects, ["clicks.*"]);
        assert_eq!(info.num_replicas, 1);
        assert_eq!(info.max_bytes, -1);
        assert_eq!(info.duplicate_window_ns, 120_000_000_000);
        assert_eq!(info.storage, Storage::File);
        assert_eq!(
            (info.messages, info.bytes, info.first_seq, info.last_seq),
            (3, 120, 1, 3)
        );
        assert!(matches!(
            parse_stream_info(&reply(br#"{"state":{}}"#)),
            Err(JetStreamError::Malformed(_))
        ));
        assert!(matches!(
            parse_stream_info(&reply(br#"{"config":{"name":"s","storage":"tape"}}"#)),
            Err(JetStreamError::Malformed(_))
        ));
    }

    #[test]
    fn header_names_are_valid() {
        let mut h = Headers::new();
        for name in [
            header::MSG_ID,
            header::EXPECTED_STREAM,
            header::EXPECTED_LAST_SEQUENCE,
            header::EXPECTED_LAST_MSG_ID,
        ] {
            h.append(name, "1").unwrap();
        }
    }

    proptest! {
        #[test]
        fn any_reply_never_panics(payload in proptest::collection::vec(any::<u8>(), 0..128), status in proptest::option::of(100u16..1000)) {
            let mut m = reply(&payload);
            m.status = status;
            let _ = parse_pub_ack(&m);
            let _ = parse_stream_info(&m);
        }

        #[test]
        fn any_seq_reads_back(seq in any::<u64>(), dup in any::<bool>()) {
            let body = alloc::format!("{{\"stream\":\"S\",\"seq\":{seq},\"duplicate\":{dup}}}");
            let ack = parse_pub_ack(&reply(body.as_bytes())).unwrap();
            prop_assert_eq!((ack.seq, ack.duplicate), (seq, dup));
        }
    }
}
