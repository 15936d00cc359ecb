//! The NATS client protocol, sans IO: encoders for what a client sends (`PUB`, `HPUB`,
//! `SUB`, `UNSUB`, `PING`, `PONG`; `CONNECT` is in [`super::connect`]) and an incremental
//! [`Parser`] for what a server sends (`INFO`, `MSG`, `HMSG`, `PING`, `PONG`, `+OK`, `-ERR`).
//!
//! Encoders append to a caller's `Vec<u8>` and validate first: on an error nothing was
//! appended. Subjects are tokens separated by `.`: never empty, no empty token, no
//! whitespace or control characters; `*` (one token) and `>` (the rest, last token only)
//! are wildcards, allowed in `SUB` but not in a subject or reply subject published to.
//!
//! The parser takes bytes in chunks of any size (a WebSocket frame, a TCP read) and yields
//! whole operations. It is bounded: a control line longer than
//! [`ParserLimits::max_control_line`] or a message larger than
//! [`ParserLimits::max_payload`] is an error, not a reason to buffer more. Any error is
//! final for the connection (the byte stream can no longer be trusted): the parser keeps
//! returning it until [`Parser::reset`], which a reconnect calls. Operation names are
//! matched case-insensitively; arguments are separated by spaces or tabs.

use alloc::{borrow::ToOwned, boxed::Box, string::String, vec::Vec};

use super::headers::{is_blank, parse_block, trim_blanks, Headers};
use super::info::ServerInfo;
use super::json::{parse_u64, push_u64, JsonError};
use crate::text::Text;

/// `PING\r\n`: asks the server for a `PONG` (a keep-alive, or a flush barrier).
pub const PING: &[u8] = b"PING\r\n";
/// `PONG\r\n`: the answer to the server's `PING`; a client that does not answer is dropped.
pub const PONG: &[u8] = b"PONG\r\n";

/// Everything that can go wrong encoding or parsing the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtoError {
    /// A subject (or reply subject) that the protocol cannot carry or that is not allowed
    /// where it was used.
    InvalidSubject {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A queue group name that is empty or has whitespace or control characters.
    InvalidQueueGroup,
    /// A header name that is empty or has characters other than printable ASCII without `:`.
    InvalidHeaderName,
    /// A header value with CR or LF, or with leading or trailing whitespace.
    InvalidHeaderValue,
    /// The server sent a control line longer than the limit without ending it.
    ControlLineTooLong {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The server announced a message larger than the limit.
    PayloadTooLarge {
        /// The announced total size (headers and payload), in bytes.
        size: u64,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The server sent an operation this client does not know.
    UnknownOperation,
    /// A known operation with arguments that do not parse.
    MalformedOperation {
        /// The operation (`MSG`, `HMSG`, ...).
        op: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An `HMSG` header block that does not parse.
    HeaderBlock {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The `INFO` JSON does not parse.
    Info(JsonError),
    /// `CONNECT` for nkey or JWT credentials was built without a signed server nonce.
    SignatureRequired,
}

impl ProtoError {
    /// The human-readable message (the same text as `Display`), built without `core::fmt`.
    pub fn message(&self) -> String {
        let t = Text::new();
        match self {
            ProtoError::InvalidSubject { reason } => t.s("invalid subject: ").s(reason),
            ProtoError::InvalidQueueGroup => t.s("invalid queue group name"),
            ProtoError::InvalidHeaderName => t.s("invalid header name"),
            ProtoError::InvalidHeaderValue => {
                t.s("invalid header value: CR, LF or leading/trailing whitespace")
            }
            ProtoError::ControlLineTooLong { limit } => t
                .s("protocol control line longer than ")
                .u(*limit as u64)
                .s(" bytes"),
            ProtoError::PayloadTooLarge { size, limit } => t
                .s("message of ")
                .u(*size)
                .s(" bytes is larger than the limit of ")
                .u(*limit)
                .s(" bytes"),
            ProtoError::UnknownOperation => t.s("unknown protocol operation"),
            ProtoError::MalformedOperation { op, reason } => {
                t.s("malformed ").s(op).s(": ").s(reason)
            }
            ProtoError::HeaderBlock { reason } => t.s("malformed header block: ").s(reason),
            ProtoError::Info(e) => t.s("malformed INFO: ").s(&e.message()),
            ProtoError::SignatureRequired => {
                t.s("these credentials need the server nonce signed before CONNECT")
            }
        }
        .done()
    }
}

impl core::fmt::Display for ProtoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for ProtoError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            ProtoError::Info(e) => Some(e),
            _ => None,
        }
    }
}

fn subject_error(reason: &'static str) -> ProtoError {
    ProtoError::InvalidSubject { reason }
}

/// Checks a subject. With `wildcards`, `*` tokens and a final `>` token are allowed (a
/// `SUB`); without, they are refused (a subject or reply subject to publish to).
pub fn validate_subject(subject: &str, wildcards: bool) -> Result<(), ProtoError> {
    if subject.is_empty() {
        return Err(subject_error("empty"));
    }
    if subject
        .bytes()
        .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
    {
        return Err(subject_error("whitespace or control character"));
    }
    let mut tokens = subject.split('.').peekable();
    while let Some(token) = tokens.next() {
        match token {
            "" => return Err(subject_error("empty token")),
            "*" | ">" if !wildcards => return Err(subject_error("wildcard in a publish subject")),
            ">" if tokens.peek().is_some() => {
                return Err(subject_error("'>' before the last token"))
            }
            _ => {}
        }
    }
    Ok(())
}

fn validate_queue_group(queue: &str) -> Result<(), ProtoError> {
    if queue.is_empty()
        || queue
            .bytes()
            .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
    {
        Err(ProtoError::InvalidQueueGroup)
    } else {
        Ok(())
    }
}

fn push_arg(out: &mut Vec<u8>, arg: &str) {
    out.push(b' ');
    out.extend_from_slice(arg.as_bytes());
}

fn push_num(out: &mut Vec<u8>, n: usize) {
    out.push(b' ');
    push_u64(out, n as u64);
}

/// Appends `PUB <subject> [reply] <#bytes>\r\n<payload>\r\n`.
pub fn encode_pub(
    out: &mut Vec<u8>,
    subject: &str,
    reply: Option<&str>,
    payload: &[u8],
) -> Result<(), ProtoError> {
    validate_subject(subject, false)?;
    if let Some(reply) = reply {
        validate_subject(reply, false)?;
    }
    out.reserve(subject.len() + reply.map_or(0, str::len) + payload.len() + 32);
    out.extend_from_slice(b"PUB");
    push_arg(out, subject);
    if let Some(reply) = reply {
        push_arg(out, reply);
    }
    push_num(out, payload.len());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// Appends `HPUB <subject> [reply] <#header bytes> <#total bytes>\r\n<headers><payload>\r\n`.
///
/// The server refuses a message whose total (headers and payload) is over its
/// `max_payload` and closes the connection: check [`message_size`] against
/// [`ServerInfo::max_payload`] first.
pub fn encode_hpub(
    out: &mut Vec<u8>,
    subject: &str,
    reply: Option<&str>,
    headers: &Headers,
    payload: &[u8],
) -> Result<(), ProtoError> {
    validate_subject(subject, false)?;
    if let Some(reply) = reply {
        validate_subject(reply, false)?;
    }
    let header_len = headers.encoded_len();
    out.reserve(subject.len() + reply.map_or(0, str::len) + header_len + payload.len() + 48);
    out.extend_from_slice(b"HPUB");
    push_arg(out, subject);
    if let Some(reply) = reply {
        push_arg(out, reply);
    }
    push_num(out, header_len);
    push_num(out, header_len + payload.len());
    out.extend_from_slice(b"\r\n");
    headers.encode(out);
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// The size the server counts against `max_payload`: the header block (if any) plus the
/// payload.
pub fn message_size(headers: Option<&Headers>, payload_len: usize) -> usize {
    headers.map_or(0, Headers::encoded_len) + payload_len
}

/// Appends `SUB <subject> [queue group] <sid>\r\n`.
pub fn encode_sub(
    out: &mut Vec<u8>,
    subject: &str,
    queue_group: Option<&str>,
    sid: u64,
) -> Result<(), ProtoError> {
    validate_subject(subject, true)?;
    if let Some(queue) = queue_group {
        validate_queue_group(queue)?;
    }
    out.extend_from_slice(b"SUB");
    push_arg(out, subject);
    if let Some(queue) = queue_group {
        push_arg(out, queue);
    }
    out.push(b' ');
    push_u64(out, sid);
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// Appends `UNSUB <sid> [max_msgs]\r\n`: unsubscribe now, or after `max_msgs` more messages.
pub fn encode_unsub(out: &mut Vec<u8>, sid: u64, max_msgs: Option<u64>) {
    out.extend_from_slice(b"UNSUB ");
    push_u64(out, sid);
    if let Some(max) = max_msgs {
        out.push(b' ');
        push_u64(out, max);
    }
    out.extend_from_slice(b"\r\n");
}

/// One operation from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerOp {
    /// `INFO {json}`: sent first on connect, and again when the cluster changes or the
    /// server enters lame duck mode.
    Info(Box<ServerInfo>),
    /// `MSG` or `HMSG`: a message on a subscription.
    Msg(Msg),
    /// `PING`: answer with [`PONG`].
    Ping,
    /// `PONG`: the answer to our `PING`.
    Pong,
    /// `+OK` (only in verbose mode, which our `CONNECT` turns off).
    Ok,
    /// `-ERR '<message>'`.
    Err(ServerError),
}

/// A message delivered on a subscription (`MSG` or `HMSG`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Msg {
    /// The subject it was published to.
    pub subject: String,
    /// The subscription id it was delivered on.
    pub sid: u64,
    /// The reply subject, if the publisher set one.
    pub reply: Option<String>,
    /// The status code of the header block's version line (`503` = no responders).
    pub status: Option<u16>,
    /// The status description, if the version line had one.
    pub description: Option<String>,
    /// The headers (empty for `MSG`).
    pub headers: Headers,
    /// The payload.
    pub payload: Vec<u8>,
}

impl Msg {
    /// Whether this is the server's "no responders" answer to a request (status 503, no
    /// payload): nothing subscribes to the subject asked, e.g. no stream captures it.
    pub fn is_no_responders(&self) -> bool {
        self.status == Some(503) && self.payload.is_empty()
    }
}

/// What kind of `-ERR` the server sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerErrorKind {
    /// Login refused: `Authorization Violation`, `Authentication Timeout`,
    /// `User Authentication Expired`/`Revoked`, `Account Authentication Expired`.
    Auth,
    /// `Permissions Violation for Publish to "<subject>"`.
    PublishPermission,
    /// `Permissions Violation for Subscription to "<subject>"`.
    SubscribePermission,
    /// `Maximum Payload Violation`: a message over `max_payload`.
    MaxPayload,
    /// `Stale Connection`: our `PING`s went unanswered... or theirs did.
    StaleConnection,
    /// `Maximum Connections Exceeded`.
    MaxConnections,
    /// Anything else (`Unknown Protocol Operation`, `Invalid Subject`, ...).
    Other,
}

/// A `-ERR` from the server: its kind and its text (without the quotes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// The classification of `message`.
    pub kind: ServerErrorKind,
    /// The server's text, e.g. `Authorization Violation`.
    pub message: String,
}

impl ServerError {
    /// Classifies a `-ERR` text (quotes already removed).
    pub fn new(message: &str) -> Self {
        let lower = message.to_ascii_lowercase();
        let has = |needle: &str| lower.contains(needle);
        let kind = if has("authorization violation")
            || has("authentication timeout")
            || has("authentication expired")
            || has("authentication revoked")
        {
            ServerErrorKind::Auth
        } else if has("permissions violation for publish") {
            ServerErrorKind::PublishPermission
        } else if has("permissions violation for subscription") {
            ServerErrorKind::SubscribePermission
        } else if has("maximum payload") {
            ServerErrorKind::MaxPayload
        } else if has("stale connection") {
            ServerErrorKind::StaleConnection
        } else if has("maximum connections") {
            ServerErrorKind::MaxConnections
        } else {
            ServerErrorKind::Other
        };
        ServerError {
            kind,
            message: message.to_owned(),
        }
    }

    /// Whether the server closes the connection after this error. Permission violations
    /// and `Invalid Subject` / `Invalid Publish Subject` leave it open (only that one
    /// operation failed); every other `-ERR` is followed by the server closing.
    pub fn closes_connection(&self) -> bool {
        match self.kind {
            ServerErrorKind::PublishPermission | ServerErrorKind::SubscribePermission => false,
            ServerErrorKind::Other => {
                let lower = self.message.to_ascii_lowercase();
                !(lower.contains("invalid subject") || lower.contains("invalid publish subject"))
            }
            _ => true,
        }
    }

    /// For a permission violation, the subject named in it.
    pub fn permission_subject(&self) -> Option<&str> {
        if !matches!(
            self.kind,
            ServerErrorKind::PublishPermission | ServerErrorKind::SubscribePermission
        ) {
            return None;
        }
        let start = self.message.find('"')? + 1;
        let len = self.message.get(start..)?.find('"')?;
        self.message.get(start..start + len)
    }
}

/// The parser's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserLimits {
    /// The longest control line accepted (an `INFO` with a large cluster's `connect_urls`
    /// is the longest the server sends). Default 64 KiB.
    pub max_control_line: usize,
    /// The largest message (headers and payload) accepted. Default 1 MiB, the server's
    /// default `max_payload`; set it from [`ServerInfo::max_payload`] after `INFO`.
    pub max_payload: u64,
}

impl Default for ParserLimits {
    fn default() -> Self {
        ParserLimits {
            max_control_line: 64 * 1024,
            max_payload: 1024 * 1024,
        }
    }
}

/// An `MSG`/`HMSG` whose control line was read and whose body is still arriving.
#[derive(Debug, Clone)]
struct PendingMsg {
    subject: String,
    sid: u64,
    reply: Option<String>,
    header_len: usize,
    total_len: usize,
}

/// The incremental parser of server operations.
///
/// ```
/// use tributary::nats::{Parser, ServerOp};
///
/// let mut parser = Parser::new();
/// let mut ops = Vec::new();
/// parser.decode(b"PING\r\nMSG _INBOX.a 1 5\r\nhel", &mut ops)?;
/// assert_eq!(ops, [ServerOp::Ping]);
/// parser.decode(b"lo\r\n", &mut ops)?;
/// let ServerOp::Msg(msg) = &ops[1] else { panic!() };
/// assert_eq!(msg.payload, b"hello");
/// # Ok::<(), tributary::nats::ProtoError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Parser {
    limits: ParserLimits,
    buf: Vec<u8>,
    /// Bytes before `pos` are consumed.
    pos: usize,
    /// No `\n` at or after `pos` before this index.
    scanned: usize,
    pending: Option<PendingMsg>,
    failed: Option<ProtoError>,
}

impl Parser {
    /// A parser with the default [`ParserLimits`].
    pub fn new() -> Self {
        Parser::default()
    }

    /// A parser with the given limits.
    pub fn with_limits(limits: ParserLimits) -> Self {
        Parser {
            limits,
            ..Parser::default()
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> ParserLimits {
        self.limits
    }

    /// Sets the largest message accepted (from `INFO`'s `max_payload`).
    pub fn set_max_payload(&mut self, max_payload: u64) {
        self.limits.max_payload = max_payload;
    }

    /// Forgets everything buffered and any error: for a new connection.
    pub fn reset(&mut self) {
        let limits = self.limits;
        *self = Parser::with_limits(limits);
    }

    /// Bytes received and not yet returned as operations.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Appends received bytes. Call [`Parser::next_op`] until it returns `Ok(None)` after
    /// each push, so that at most one incomplete operation stays buffered (or use
    /// [`Parser::decode`], which does both).
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 && (self.pos == self.buf.len() || self.pos >= self.buf.len() / 2) {
            self.buf.drain(..self.pos);
            self.scanned = self.scanned.saturating_sub(self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// [`Parser::push`], then every complete operation appended to `ops`. On an error, the
    /// operations before it are in `ops`.
    pub fn decode(&mut self, bytes: &[u8], ops: &mut Vec<ServerOp>) -> Result<(), ProtoError> {
        self.push(bytes);
        while let Some(op) = self.next_op()? {
            ops.push(op);
        }
        Ok(())
    }

    /// The next complete operation, `Ok(None)` if more bytes are needed, or the error that
    /// ended this connection's stream.
    pub fn next_op(&mut self) -> Result<Option<ServerOp>, ProtoError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.step();
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    fn step(&mut self) -> Result<Option<ServerOp>, ProtoError> {
        if self.pending.is_none() {
            let start = self.pos.max(self.scanned);
            let Some(newline) = self.buf[start..].iter().position(|&c| c == b'\n') else {
                self.scanned = self.buf.len();
                // A final CR may be the CR of the line's CRLF, which does not count: the
                // same line arriving whole is within the limit (found by fuzzing).
                let cr = usize::from(self.buf[self.pos..].last() == Some(&b'\r'));
                if self.buffered() - cr > self.limits.max_control_line {
                    return Err(ProtoError::ControlLineTooLong {
                        limit: self.limits.max_control_line,
                    });
                }
                return Ok(None);
            };
            let end = start + newline;
            let line_start = self.pos;
            self.pos = end + 1;
            self.scanned = self.pos;
            let line = &self.buf[line_start..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.len() > self.limits.max_control_line {
                return Err(ProtoError::ControlLineTooLong {
                    limit: self.limits.max_control_line,
                });
            }
            match parse_control_line(line, self.limits.max_payload)? {
                Control::Op(op) => return Ok(Some(op)),
                Control::Msg(pending) => self.pending = Some(pending),
            }
        }
        self.body()
    }

    /// The body of the pending `MSG`/`HMSG`, once all of it and its CRLF are here.
    fn body(&mut self) -> Result<Option<ServerOp>, ProtoError> {
        let Some(pending) = &self.pending else {
            return Ok(None);
        };
        let needed = pending.total_len + 2;
        if self.buffered() < needed {
            return Ok(None);
        }
        let Some(pending) = self.pending.take() else {
            return Ok(None);
        };
        let body = &self.buf[self.pos..self.pos + needed];
        self.pos += needed;
        self.scanned = self.pos;
        let Some(body) = body.strip_suffix(b"\r\n") else {
            return Err(ProtoError::MalformedOperation {
                op: "MSG",
                reason: "payload not followed by CRLF",
            });
        };
        let (header_bytes, payload) = body.split_at(pending.header_len);
        let mut msg = Msg {
            subject: pending.subject,
            sid: pending.sid,
            reply: pending.reply,
            payload: payload.to_vec(),
            ..Msg::default()
        };
        if !header_bytes.is_empty() {
            let block = parse_block(header_bytes)?;
            msg.status = block.status;
            msg.description = block.description;
            msg.headers = block.headers;
        }
        Ok(Some(ServerOp::Msg(msg)))
    }
}

enum Control {
    Op(ServerOp),
    Msg(PendingMsg),
}

fn parse_control_line(line: &[u8], max_payload: u64) -> Result<Control, ProtoError> {
    let line = trim_blanks(line);
    let name_len = line.iter().position(|&c| is_blank(c)).unwrap_or(line.len());
    let (name, rest) = line.split_at(name_len);
    let rest = trim_blanks(rest);
    let is = |op: &[u8]| name.eq_ignore_ascii_case(op);
    let bare = |op: ServerOp, label: &'static str| {
        if rest.is_empty() {
            Ok(Control::Op(op))
        } else {
            Err(ProtoError::MalformedOperation {
                op: label,
                reason: "unexpected arguments",
            })
        }
    };
    if is(b"MSG") {
        parse_msg_args(rest, false, max_payload).map(Control::Msg)
    } else if is(b"HMSG") {
        parse_msg_args(rest, true, max_payload).map(Control::Msg)
    } else if is(b"PING") {
        bare(ServerOp::Ping, "PING")
    } else if is(b"PONG") {
        bare(ServerOp::Pong, "PONG")
    } else if is(b"+OK") {
        bare(ServerOp::Ok, "+OK")
    } else if is(b"-ERR") {
        let text = rest
            .strip_prefix(b"'")
            .and_then(|r| r.strip_suffix(b"'"))
            .unwrap_or(rest);
        let text = String::from_utf8_lossy(trim_blanks(text));
        Ok(Control::Op(ServerOp::Err(ServerError::new(&text))))
    } else if is(b"INFO") {
        let info = ServerInfo::parse(rest).map_err(ProtoError::Info)?;
        Ok(Control::Op(ServerOp::Info(Box::new(info))))
    } else {
        Err(ProtoError::UnknownOperation)
    }
}

/// `MSG <subject> <sid> [reply] <#bytes>` or
/// `HMSG <subject> <sid> [reply] <#header bytes> <#total bytes>`.
fn parse_msg_args(args: &[u8], headers: bool, max_payload: u64) -> Result<PendingMsg, ProtoError> {
    let op = if headers { "HMSG" } else { "MSG" };
    let malformed = |reason| ProtoError::MalformedOperation { op, reason };
    let mut parts: [&[u8]; 5] = [&[]; 5];
    let mut count = 0;
    for part in args.split(|&c| is_blank(c)).filter(|p| !p.is_empty()) {
        let slot = parts
            .get_mut(count)
            .ok_or(malformed("too many arguments"))?;
        *slot = part;
        count += 1;
    }
    let sizes = if headers { 2 } else { 1 };
    let (has_reply, parts) = match count.checked_sub(2 + sizes) {
        Some(0) => (false, &parts[..2 + sizes]),
        Some(1) => (true, &parts[..3 + sizes]),
        _ => return Err(malformed("wrong number of arguments")),
    };
    let text = |bytes: &[u8]| -> Result<String, ProtoError> {
        core::str::from_utf8(bytes)
            .map(ToOwned::to_owned)
            .map_err(|_| malformed("subject is not UTF-8"))
    };
    let subject = text(parts[0])?;
    let sid = parse_u64(parts[1]).ok_or(malformed("subscription id is not a number"))?;
    let reply = if has_reply {
        Some(text(parts[2])?)
    } else {
        None
    };
    let size_args = &parts[parts.len() - sizes..];
    let mut sizes_read = [0u64; 2];
    for (slot, arg) in sizes_read.iter_mut().zip(size_args) {
        *slot = parse_u64(arg).ok_or(malformed("size is not a number"))?;
    }
    let (header_len, total_len) = if headers {
        (sizes_read[0], sizes_read[1])
    } else {
        (0, sizes_read[0])
    };
    if header_len > total_len {
        return Err(malformed("header size larger than total size"));
    }
    if total_len > max_payload {
        return Err(ProtoError::PayloadTooLarge {
            size: total_len,
            limit: max_payload,
        });
    }
    let too_big = || ProtoError::PayloadTooLarge {
        size: total_len,
        limit: max_payload,
    };
    Ok(PendingMsg {
        subject,
        sid,
        reply,
        header_len: usize::try_from(header_len).map_err(|_| too_big())?,
        total_len: usize::try_from(total_len)
            .ok()
            .filter(|n| n.checked_add(2).is_some())
            .ok_or_else(too_big)?,
    })
}

// proptest is a native dev-dependency; these run natively.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use alloc::format;
    use proptest::prelude::*;

    fn all(input: &[u8]) -> Result<Vec<ServerOp>, ProtoError> {
        let mut p = Parser::new();
        let mut ops = Vec::new();
        p.decode(input, &mut ops)?;
        assert_eq!(p.buffered(), 0, "left over");
        Ok(ops)
    }

    fn one(input: &[u8]) -> ServerOp {
        let ops = all(input).unwrap();
        assert_eq!(ops.len(), 1, "{ops:?}");
        ops.into_iter().next().unwrap()
    }

    fn msg(input: &[u8]) -> Msg {
        match one(input) {
            ServerOp::Msg(m) => m,
            other => panic!("{other:?}"),
        }
    }

    fn first_error(input: &[u8]) -> ProtoError {
        let mut p = Parser::new();
        let mut ops = Vec::new();
        p.decode(input, &mut ops).unwrap_err()
    }

    #[test]
    fn encodes_pub() {
        let mut out = Vec::new();
        encode_pub(&mut out, "orders.1", None, b"hello").unwrap();
        encode_pub(&mut out, "orders.1", Some("_INBOX.x.1"), b"").unwrap();
        assert_eq!(
            out,
            b"PUB orders.1 5\r\nhello\r\nPUB orders.1 _INBOX.x.1 0\r\n\r\n"
        );
    }

    #[test]
    fn encodes_hpub_with_lengths() {
        let headers = Headers::new()
            .with("Nats-Msg-Id", "p1-0-7")
            .unwrap()
            .with("Nats-Expected-Stream", "clicks")
            .unwrap();
        let mut out = Vec::new();
        encode_hpub(&mut out, "clicks.0", Some("_INBOX.r.7"), &headers, b"v").unwrap();
        let block = "NATS/1.0\r\nNats-Msg-Id: p1-0-7\r\nNats-Expected-Stream: clicks\r\n\r\n";
        let expected = format!(
            "HPUB clicks.0 _INBOX.r.7 {} {}\r\n{block}v\r\n",
            block.len(),
            block.len() + 1
        );
        assert_eq!(core::str::from_utf8(&out).unwrap(), expected);
        assert_eq!(message_size(Some(&headers), 1), block.len() + 1);
        assert_eq!(message_size(None, 9), 9);
        out.clear();
        encode_hpub(&mut out, "a", None, &Headers::new(), b"").unwrap();
        assert_eq!(out, b"HPUB a 12 12\r\nNATS/1.0\r\n\r\n\r\n");
    }

    #[test]
    fn encodes_sub_unsub_ping_pong() {
        let mut out = Vec::new();
        encode_sub(&mut out, "_INBOX.abc.*", None, 1).unwrap();
        encode_sub(&mut out, "orders.>", Some("workers"), u64::MAX).unwrap();
        encode_unsub(&mut out, 1, None);
        encode_unsub(&mut out, 2, Some(10));
        out.extend_from_slice(PING);
        out.extend_from_slice(PONG);
        assert_eq!(
            core::str::from_utf8(&out).unwrap(),
            "SUB _INBOX.abc.* 1\r\nSUB orders.> workers 18446744073709551615\r\nUNSUB 1\r\nUNSUB 2 10\r\nPING\r\nPONG\r\n"
        );
    }

    #[test]
    fn refuses_bad_subjects_and_appends_nothing() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("a b", "whitespace or control character"),
            ("a\tb", "whitespace or control character"),
            ("a\r\nPUB x 1", "whitespace or control character"),
            ("a\u{0}", "whitespace or control character"),
            (".a", "empty token"),
            ("a.", "empty token"),
            ("a..b", "empty token"),
            ("a.*", "wildcard in a publish subject"),
            ("a.>", "wildcard in a publish subject"),
        ];
        let mut out = Vec::new();
        for (subject, reason) in cases {
            let err = encode_pub(&mut out, subject, None, b"x").unwrap_err();
            assert_eq!(err, ProtoError::InvalidSubject { reason }, "{subject:?}");
            let err =
                encode_hpub(&mut out, "ok", Some(subject), &Headers::new(), b"x").unwrap_err();
            assert_eq!(err, ProtoError::InvalidSubject { reason }, "{subject:?}");
        }
        assert_eq!(
            encode_sub(&mut out, "a.>.b", None, 1),
            Err(ProtoError::InvalidSubject {
                reason: "'>' before the last token"
            })
        );
        assert_eq!(
            encode_sub(&mut out, "a", Some("q q"), 1),
            Err(ProtoError::InvalidQueueGroup)
        );
        assert_eq!(
            encode_sub(&mut out, "a", Some(""), 1),
            Err(ProtoError::InvalidQueueGroup)
        );
        assert!(out.is_empty());
        // Wildcard characters inside a token are literal.
        encode_pub(&mut out, "a*b.c>d", None, b"").unwrap();
        encode_sub(&mut out, "*.x.>", None, 3).unwrap();
    }

    #[test]
    fn parses_simple_ops_case_insensitively() {
        assert_eq!(
            all(b"PING\r\nPONG\r\n+OK\r\nping\r\nPong\r\n+ok\r\n").unwrap(),
            [
                ServerOp::Ping,
                ServerOp::Pong,
                ServerOp::Ok,
                ServerOp::Ping,
                ServerOp::Pong,
                ServerOp::Ok
            ]
        );
        assert_eq!(one(b"PING \r\n"), ServerOp::Ping);
        assert_eq!(one(b"PING\n"), ServerOp::Ping);
    }

    #[test]
    fn parses_msg() {
        let m = msg(b"MSG orders.1 9 11\r\nhello world\r\n");
        assert_eq!(m.subject, "orders.1");
        assert_eq!(m.sid, 9);
        assert_eq!(m.reply, None);
        assert_eq!(m.payload, b"hello world");
        assert!(m.headers.is_empty());
        let m = msg(b"msg  a.b\t7   _INBOX.x  3\r\n\r\n\r\r\n");
        assert_eq!(m.reply.as_deref(), Some("_INBOX.x"));
        assert_eq!(m.payload, b"\r\n\r");
        let m = msg(b"MSG a 1 0\r\n\r\n");
        assert!(m.payload.is_empty());
    }

    #[test]
    fn parses_hmsg_with_status_and_headers() {
        let m = msg(b"HMSG _INBOX.a.1 2 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
        assert_eq!(m.status, Some(503));
        assert!(m.is_no_responders());
        assert!(m.payload.is_empty());

        let block = b"NATS/1.0\r\nNats-Msg-Id: x1\r\n\r\n";
        let mut input = format!(
            "HMSG s.1 3 _INBOX.r {} {}\r\n",
            block.len(),
            block.len() + 2
        )
        .into_bytes();
        input.extend_from_slice(block);
        input.extend_from_slice(b"ok\r\n");
        let m = msg(&input);
        assert_eq!(m.status, None);
        assert!(!m.is_no_responders());
        assert_eq!(m.headers.get("Nats-Msg-Id"), Some("x1"));
        assert_eq!(m.reply.as_deref(), Some("_INBOX.r"));
        assert_eq!(m.payload, b"ok");
    }

    #[test]
    fn parses_err_and_classifies() {
        let cases: &[(&[u8], ServerErrorKind, &str, bool)] = &[
            (
                b"-ERR 'Authorization Violation'\r\n",
                ServerErrorKind::Auth,
                "Authorization Violation",
                true,
            ),
            (
                b"-ERR 'Authentication Timeout'\r\n",
                ServerErrorKind::Auth,
                "Authentication Timeout",
                true,
            ),
            (
                b"-ERR 'User Authentication Expired'\r\n",
                ServerErrorKind::Auth,
                "User Authentication Expired",
                true,
            ),
            (
                b"-ERR 'User Authentication Revoked'\r\n",
                ServerErrorKind::Auth,
                "User Authentication Revoked",
                true,
            ),
            (
                b"-ERR 'Permissions Violation for Publish to \"secret.x\"'\r\n",
                ServerErrorKind::PublishPermission,
                "Permissions Violation for Publish to \"secret.x\"",
                false,
            ),
            (
                b"-ERR 'Permissions Violation for Subscription to \"a.>\"'\r\n",
                ServerErrorKind::SubscribePermission,
                "Permissions Violation for Subscription to \"a.>\"",
                false,
            ),
            (
                b"-ERR 'Maximum Payload Violation'\r\n",
                ServerErrorKind::MaxPayload,
                "Maximum Payload Violation",
                true,
            ),
            (
                b"-ERR 'Stale Connection'\r\n",
                ServerErrorKind::StaleConnection,
                "Stale Connection",
                true,
            ),
            (
                b"-ERR 'maximum connections exceeded'\r\n",
                ServerErrorKind::MaxConnections,
                "maximum connections exceeded",
                true,
            ),
            (
                b"-ERR 'Unknown Protocol Operation'\r\n",
                ServerErrorKind::Other,
                "Unknown Protocol Operation",
                true,
            ),
            (
                b"-ERR 'Invalid Subject'\r\n",
                ServerErrorKind::Other,
                "Invalid Subject",
                false,
            ),
            (
                b"-ERR 'Invalid Publish Subject'\r\n",
                ServerErrorKind::Other,
                "Invalid Publish Subject",
                false,
            ),
            (
                b"-ERR 'Invalid Client Protocol'\r\n",
                ServerErrorKind::Other,
                "Invalid Client Protocol",
                true,
            ),
            (
                b"-err   unquoted text  \r\n",
                ServerErrorKind::Other,
                "unquoted text",
                true,
            ),
        ];
        for (input, kind, text, closes) in cases {
            let ServerOp::Err(e) = one(input) else {
                panic!()
            };
            assert_eq!(e.kind, *kind, "{text}");
            assert_eq!(e.message, *text);
            assert_eq!(e.closes_connection(), *closes, "{text}");
        }
        let ServerOp::Err(e) = one(b"-ERR 'Permissions Violation for Publish to \"secret.x\"'\r\n")
        else {
            panic!()
        };
        assert_eq!(e.permission_subject(), Some("secret.x"));
        assert_eq!(
            ServerError::new("Authorization Violation").permission_subject(),
            None
        );
    }

    #[test]
    fn parses_info() {
        let ServerOp::Info(info) = one(
            b"INFO {\"server_id\":\"NABC\",\"version\":\"2.9.10\",\"max_payload\":1048576,\"headers\":true,\"nonce\":\"xyz\",\"auth_required\":true}\r\n",
        ) else {
            panic!()
        };
        assert_eq!(info.server_id, "NABC");
        assert_eq!(info.max_payload, 1_048_576);
        assert_eq!(info.nonce.as_deref(), Some("xyz"));
        assert!(info.headers && info.auth_required);
        assert!(matches!(
            first_error(b"INFO {bad}\r\n"),
            ProtoError::Info(_)
        ));
        assert!(matches!(first_error(b"INFO\r\n"), ProtoError::Info(_)));
    }

    #[test]
    fn refuses_malformed_ops() {
        let malformed: &[&[u8]] = &[
            b"MSG\r\n",
            b"MSG a\r\n",
            b"MSG a 1\r\n",
            b"MSG a x 1\r\n",
            b"MSG a 1 r r 1\r\n",
            b"MSG a 1 -1\r\n",
            b"MSG a 1 99999999999999999999999\r\n",
            b"HMSG a 1 5\r\n",
            b"HMSG a 1 6 5\r\n",
            b"PING x\r\n",
            b"+OK x\r\n",
        ];
        for input in malformed {
            assert!(
                matches!(first_error(input), ProtoError::MalformedOperation { .. }),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert_eq!(
            first_error(b"MSG a 1 3\r\nabcXY"),
            ProtoError::MalformedOperation {
                op: "MSG",
                reason: "payload not followed by CRLF"
            }
        );
        assert_eq!(first_error(b"HELLO\r\n"), ProtoError::UnknownOperation);
        assert_eq!(first_error(b"\r\n"), ProtoError::UnknownOperation);
        assert!(matches!(
            first_error(b"HMSG a 1 5 5\r\nNATS/\r\n"),
            ProtoError::HeaderBlock { .. }
        ));
    }

    #[test]
    fn errors_are_sticky_until_reset() {
        let mut p = Parser::new();
        let mut ops = Vec::new();
        let e = p
            .decode(b"PING\r\nBOGUS\r\nPONG\r\n", &mut ops)
            .unwrap_err();
        assert_eq!(ops, [ServerOp::Ping]);
        assert_eq!(e, ProtoError::UnknownOperation);
        assert_eq!(p.next_op(), Err(ProtoError::UnknownOperation));
        p.reset();
        ops.clear();
        p.decode(b"PONG\r\n", &mut ops).unwrap();
        assert_eq!(ops, [ServerOp::Pong]);
    }

    #[test]
    fn bounded_control_line() {
        let mut p = Parser::with_limits(ParserLimits {
            max_control_line: 16,
            max_payload: 100,
        });
        let mut ops = Vec::new();
        p.decode(b"MSG a.b.c.d 1 ", &mut ops).unwrap();
        p.decode(b"12", &mut ops).unwrap();
        assert_eq!(
            p.decode(b"345", &mut ops),
            Err(ProtoError::ControlLineTooLong { limit: 16 })
        );
        // A long line arriving whole is refused as well.
        let mut p = Parser::with_limits(ParserLimits {
            max_control_line: 16,
            max_payload: 100,
        });
        assert_eq!(
            p.decode(b"-ERR 'this is far too long'\r\n", &mut ops),
            Err(ProtoError::ControlLineTooLong { limit: 16 })
        );
    }

    #[test]
    fn bounded_payload() {
        let mut p = Parser::new();
        p.set_max_payload(10);
        let mut ops = Vec::new();
        p.decode(b"MSG a 1 10\r\n0123456789\r\n", &mut ops).unwrap();
        assert_eq!(ops.len(), 1);
        assert_eq!(
            p.decode(b"MSG a 1 11\r\n", &mut ops),
            Err(ProtoError::PayloadTooLarge {
                size: 11,
                limit: 10
            })
        );
        let mut p = Parser::with_limits(ParserLimits {
            max_control_line: 100,
            max_payload: u64::MAX,
        });
        assert!(matches!(
            p.decode(b"MSG a 1 18446744073709551615\r\n", &mut ops),
            Err(ProtoError::PayloadTooLarge { .. }) | Ok(())
        ));
    }

    #[test]
    fn compacts_its_buffer() {
        let mut p = Parser::new();
        let mut ops = Vec::new();
        for _ in 0..10_000 {
            p.decode(b"MSG a 1 3\r\nabc\r\nPI", &mut ops).unwrap();
            p.decode(b"NG\r\n", &mut ops).unwrap();
            assert!(p.buf.len() < 64, "{}", p.buf.len());
        }
        assert_eq!(ops.len(), 20_000);
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            ProtoError::PayloadTooLarge {
                size: 11,
                limit: 10
            }
            .to_string(),
            "message of 11 bytes is larger than the limit of 10 bytes"
        );
        assert_eq!(
            ProtoError::MalformedOperation {
                op: "HMSG",
                reason: "size is not a number"
            }
            .to_string(),
            "malformed HMSG: size is not a number"
        );
        assert_eq!(
            ProtoError::ControlLineTooLong { limit: 4096 }.to_string(),
            "protocol control line longer than 4096 bytes"
        );
    }

    // ---- property tests: a server-side encoder of the ops the parser reads ----

    fn encode_server_op(op: &ServerOp, out: &mut Vec<u8>) {
        match op {
            ServerOp::Ping => out.extend_from_slice(b"PING\r\n"),
            ServerOp::Pong => out.extend_from_slice(b"PONG\r\n"),
            ServerOp::Ok => out.extend_from_slice(b"+OK\r\n"),
            ServerOp::Err(e) => {
                out.extend_from_slice(format!("-ERR '{}'\r\n", e.message).as_bytes())
            }
            ServerOp::Info(info) => {
                out.extend_from_slice(b"INFO ");
                out.extend_from_slice(&info.to_json());
                out.extend_from_slice(b"\r\n");
            }
            ServerOp::Msg(m) => {
                let reply = m
                    .reply
                    .as_ref()
                    .map(|r| format!(" {r}"))
                    .unwrap_or_default();
                let has_block = m.status.is_some() || !m.headers.is_empty();
                if has_block {
                    let mut block = Vec::new();
                    block.extend_from_slice(b"NATS/1.0");
                    if let Some(status) = m.status {
                        block.extend_from_slice(format!(" {status}").as_bytes());
                        if let Some(d) = &m.description {
                            block.extend_from_slice(format!(" {d}").as_bytes());
                        }
                    }
                    block.extend_from_slice(b"\r\n");
                    for (n, v) in m.headers.iter() {
                        block.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
                    }
                    block.extend_from_slice(b"\r\n");
                    out.extend_from_slice(
                        format!(
                            "HMSG {} {}{reply} {} {}\r\n",
                            m.subject,
                            m.sid,
                            block.len(),
                            block.len() + m.payload.len()
                        )
                        .as_bytes(),
                    );
                    out.extend_from_slice(&block);
                } else {
                    out.extend_from_slice(
                        format!("MSG {} {}{reply} {}\r\n", m.subject, m.sid, m.payload.len())
                            .as_bytes(),
                    );
                }
                out.extend_from_slice(&m.payload);
                out.extend_from_slice(b"\r\n");
            }
        }
    }

    fn subject() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_$-]{1,8}(\\.[A-Za-z0-9_*>$-]{1,8}){0,3}"
    }

    fn header_value() -> impl Strategy<Value = String> {
        "([!-~]([ -~]{0,10}[!-~])?)?"
    }

    fn msg_strategy() -> impl Strategy<Value = Msg> {
        (
            subject(),
            any::<u64>(),
            proptest::option::of(subject()),
            proptest::option::of((
                100u16..1000,
                proptest::option::of("[A-Za-z][A-Za-z ]{0,10}[A-Za-z]"),
            )),
            proptest::collection::vec(("[!-9;-~]{1,12}", header_value()), 0..4),
            proptest::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(subject, sid, reply, status, headers, payload)| {
                let mut h = Headers::new();
                for (n, v) in &headers {
                    h.append(n, v).unwrap();
                }
                Msg {
                    subject,
                    sid,
                    reply,
                    status: status.as_ref().map(|(s, _)| *s),
                    description: status.and_then(|(_, d)| d),
                    headers: h,
                    payload,
                }
            })
    }

    fn op_strategy() -> impl Strategy<Value = ServerOp> {
        prop_oneof![
            Just(ServerOp::Ping),
            Just(ServerOp::Pong),
            Just(ServerOp::Ok),
            "[ -&(-~]{0,40}".prop_map(|m| ServerOp::Err(ServerError::new(m.trim()))),
            (
                any::<String>(),
                any::<u64>(),
                any::<bool>(),
                proptest::collection::vec("[a-z0-9.:]{1,20}", 0..3)
            )
                .prop_map(|(server_id, max_payload, headers, connect_urls)| {
                    ServerOp::Info(Box::new(ServerInfo {
                        server_id,
                        max_payload,
                        headers,
                        connect_urls,
                        ..ServerInfo::default()
                    }))
                }),
            msg_strategy().prop_map(ServerOp::Msg),
        ]
    }

    proptest! {
        #[test]
        fn any_chunking_parses_the_same(
            ops in proptest::collection::vec(op_strategy(), 0..12),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let mut stream = Vec::new();
            for op in &ops {
                encode_server_op(op, &mut stream);
            }
            let mut cut_at: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
            cut_at.sort_unstable();
            let mut parser = Parser::with_limits(ParserLimits { max_control_line: 64 * 1024, max_payload: 1 << 20 });
            let mut parsed = Vec::new();
            let mut from = 0;
            for at in cut_at.into_iter().chain([stream.len()]) {
                parser.decode(&stream[from..at], &mut parsed).unwrap();
                from = at;
            }
            prop_assert_eq!(parsed, ops);
            prop_assert_eq!(parser.buffered(), 0);
        }

        #[test]
        fn byte_at_a_time_parses_the_same(ops in proptest::collection::vec(op_strategy(), 0..6)) {
            let mut stream = Vec::new();
            for op in &ops {
                encode_server_op(op, &mut stream);
            }
            let mut parser = Parser::new();
            let mut parsed = Vec::new();
            for b in &stream {
                parser.decode(core::slice::from_ref(b), &mut parsed).unwrap();
            }
            prop_assert_eq!(parsed, ops);
        }

        #[test]
        fn arbitrary_bytes_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8)) {
            let mut parser = Parser::with_limits(ParserLimits { max_control_line: 128, max_payload: 256 });
            let mut ops = Vec::new();
            for chunk in &chunks {
                if parser.decode(chunk, &mut ops).is_err() {
                    break;
                }
            }
            prop_assert!(parser.buffered() <= 128 + 256 + 2 + 64);
        }

        #[test]
        fn protocol_shaped_noise_never_panics(
            text in "((MSG|HMSG|INFO|PING|PONG|\\+OK|-ERR|NATS/1.0|[0-9]{1,3}|[a-z.]{1,4}|\\{|\\}|\"| |\r\n|:)){0,30}",
            cut in any::<prop::sample::Index>(),
        ) {
            let bytes = text.as_bytes();
            let at = cut.index(bytes.len() + 1);
            let mut parser = Parser::new();
            let mut ops = Vec::new();
            if parser.decode(&bytes[..at], &mut ops).is_ok() {
                let _ = parser.decode(&bytes[at..], &mut ops);
            }
        }
    }
}
