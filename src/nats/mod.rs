//! The NATS client protocol and JetStream publishing, sans IO: the codec of the WebSocket
//! sink. No sockets, no timers, no clock: bytes in, operations out, and the reverse.
//!
//! # A connection, step by step
//!
//! 1. The server speaks first: feed what arrives to a [`Parser`]; the first operation is
//!    [`ServerOp::Info`] ([`ServerInfo`]: `max_payload`, `headers`, a `nonce` when auth is
//!    configured, `connect_urls` of the cluster, `ldm` when it is about to shut down).
//!    Call [`Parser::set_max_payload`] with its `max_payload`.
//! 2. Send [`encode_connect`] with [`ConnectOptions`] and [`Credentials`]; for nkey and
//!    `.creds` credentials, first have the host sign the nonce with
//!    [`Credentials::signing_seed`] (ed25519; [`NkeySeed::pkcs8_der`] imports into
//!    WebCrypto) and pass the [`SignedNonce`]. Then send [`PING`]: the server answers
//!    [`ServerOp::Pong`] once it accepted `CONNECT`, or `-ERR 'Authorization Violation'`
//!    ([`ServerErrorKind::Auth`]) and closes the connection.
//! 3. Subscribe to a reply inbox ([`encode_sub`] with `_INBOX.<id>.*`), then publish with
//!    [`encode_hpub`]: headers [`jetstream::header::MSG_ID`] (de-duplication) and perhaps
//!    [`jetstream::header::EXPECTED_STREAM`], reply subject `_INBOX.<id>.<n>`. Each reply
//!    arrives as [`ServerOp::Msg`]; [`parse_pub_ack`] gives the stream sequence, the
//!    duplicate flag, or the error ([`JetStreamError::NoResponders`] when no stream
//!    captures the subject).
//! 4. Answer every [`ServerOp::Ping`] with [`PONG`]. A [`ServerOp::Err`] whose
//!    [`ServerError::closes_connection`] is true ends the connection; a publish permission
//!    violation ([`ServerErrorKind::PublishPermission`]) does not.
//!
//! Streams are created with [`StreamConfig::to_json`] sent to [`stream_create_subject`]
//! and looked up with [`stream_info_subject`]; both answer with [`parse_stream_info`].
//!
//! # Errors
//!
//! One enum per area: [`ProtoError`] (encoding and parsing; a parse error ends the
//! connection), [`JetStreamError`] (API errors, no responders, malformed replies),
//! [`NkeyError`] (keys and `.creds` files) and [`JsonError`]. The server's own `-ERR` is
//! not an error of the codec but an operation, [`ServerOp::Err`]. No error message holds
//! a credential; `Debug` of credentials redacts them.
//!
//! # Size
//!
//! Built for the wasm budget: no serde, no regex, no base32/base64 crates, and no
//! `core::fmt` on the paths that run in wasm (numbers and messages are written by hand;
//! `Display` exists for native use).

pub mod connect;
mod headers;
pub mod info;
pub mod jetstream;
pub mod json;
pub mod nkey;
pub mod proto;

pub use connect::{encode_connect, ConnectOptions, Credentials, SignedNonce};
pub use headers::{validate_name as validate_header_name, Headers};
pub use info::ServerInfo;
pub use jetstream::{
    parse_pub_ack, parse_stream_info, stream_create_subject, stream_info_subject, JetStreamError,
    PubAck, Storage, StreamConfig, StreamInfo, DEFAULT_API_PREFIX,
};
pub use json::JsonError;
pub use nkey::{KeyKind, NkeyError, NkeySeed, UserCreds};
pub use proto::{
    encode_hpub, encode_pub, encode_sub, encode_unsub, message_size, validate_subject, Msg, Parser,
    ParserLimits, ProtoError, ServerError, ServerErrorKind, ServerOp, PING, PONG,
};
