//! The server's `INFO`: what it is, what it allows, and where else to connect.

use alloc::{string::String, vec::Vec};

use super::json::{self, Fields, JsonError};

/// The server's default `max_payload` (1 MiB), assumed when `INFO` does not say.
pub const DEFAULT_MAX_PAYLOAD: u64 = 1024 * 1024;

/// The fields of `INFO` a client acts on; others are ignored. Absent fields take their
/// defaults (empty, `false`, [`DEFAULT_MAX_PAYLOAD`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerInfo {
    /// The server's unique id.
    pub server_id: String,
    /// The server's configured name.
    pub server_name: String,
    /// The server's version, e.g. `2.9.10`.
    pub version: String,
    /// The protocol version (1 supports `INFO` updates of the cluster's URLs).
    pub proto: i64,
    /// The largest message (headers and payload) the server accepts.
    pub max_payload: u64,
    /// Whether the server supports headers (`HPUB`/`HMSG`); 2.2 and later do.
    pub headers: bool,
    /// Whether the server requires credentials.
    pub auth_required: bool,
    /// Whether the server requires TLS.
    pub tls_required: bool,
    /// The nonce to sign for nkey or JWT authentication.
    pub nonce: Option<String>,
    /// Client URLs (`host:port`) of the cluster's other servers.
    pub connect_urls: Vec<String>,
    /// WebSocket URLs of the cluster's servers.
    pub ws_connect_urls: Vec<String>,
    /// Lame duck mode: the server is about to shut down; move to another.
    pub ldm: bool,
    /// Whether JetStream is enabled on the server.
    pub jetstream: bool,
    /// The id the server gave this connection.
    pub client_id: u64,
    /// The JetStream domain, if any.
    pub domain: Option<String>,
}

impl Default for ServerInfo {
    fn default() -> Self {
        ServerInfo {
            server_id: String::new(),
            server_name: String::new(),
            version: String::new(),
            proto: 0,
            max_payload: DEFAULT_MAX_PAYLOAD,
            headers: false,
            auth_required: false,
            tls_required: false,
            nonce: None,
            connect_urls: Vec::new(),
            ws_connect_urls: Vec::new(),
            ldm: false,
            jetstream: false,
            client_id: 0,
            domain: None,
        }
    }
}

impl ServerInfo {
    /// Parses the JSON after `INFO `.
    pub fn parse(bytes: &[u8]) -> Result<ServerInfo, JsonError> {
        let doc = json::parse(bytes)?;
        if !matches!(doc, json::Value::Object(_)) {
            return Err(json::wrong("INFO", "expected an object"));
        }
        let f = Fields(&doc);
        let owned = |s: Option<&str>| s.map(String::from);
        Ok(ServerInfo {
            server_id: owned(f.str("server_id")?).unwrap_or_default(),
            server_name: owned(f.str("server_name")?).unwrap_or_default(),
            version: owned(f.str("version")?).unwrap_or_default(),
            proto: f.i64("proto")?.unwrap_or(0),
            max_payload: f.u64("max_payload")?.unwrap_or(DEFAULT_MAX_PAYLOAD),
            headers: f.bool("headers")?.unwrap_or(false),
            auth_required: f.bool("auth_required")?.unwrap_or(false),
            tls_required: f.bool("tls_required")?.unwrap_or(false),
            nonce: owned(f.str("nonce")?),
            connect_urls: f.strings("connect_urls")?,
            ws_connect_urls: f.strings("ws_connect_urls")?,
            ldm: f.bool("ldm")?.unwrap_or(false),
            jetstream: f.bool("jetstream")?.unwrap_or(false),
            client_id: f.u64("client_id")?.unwrap_or(0),
            domain: owned(f.str("domain")?),
        })
    }

    /// The JSON a server would send for this `INFO` (for tests of the parser).
    #[cfg(test)]
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = json::ObjectWriter::new(&mut out);
        w.str("server_id", &self.server_id);
        w.str("server_name", &self.server_name);
        w.str("version", &self.version);
        w.i64("proto", self.proto);
        w.u64("max_payload", self.max_payload);
        w.bool("headers", self.headers);
        w.bool("auth_required", self.auth_required);
        w.bool("tls_required", self.tls_required);
        if let Some(nonce) = &self.nonce {
            w.str("nonce", nonce);
        }
        w.strs("connect_urls", &self.connect_urls);
        w.strs("ws_connect_urls", &self.ws_connect_urls);
        w.bool("ldm", self.ldm);
        w.bool("jetstream", self.jetstream);
        w.u64("client_id", self.client_id);
        if let Some(domain) = &self.domain {
            w.str("domain", domain);
        }
        w.finish();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_real_info() {
        // As nats-server 2.9 sends it, with a nonce (auth configured) and a cluster.
        let info = ServerInfo::parse(br#"{"server_id":"NDLSQ6QRMSWZ4NE5EK5GF3XZGNVU3S4TXFXLJTQ4I5W3SGRZGVOQ7VLB","server_name":"n1","version":"2.9.10","proto":1,"git_commit":"","go":"go1.19.8","host":"127.0.0.1","port":4222,"headers":true,"auth_required":true,"max_payload":8388608,"jetstream":true,"client_id":7,"client_ip":"127.0.0.1","nonce":"IhBbBr2dd_-c4k0","cluster":"c","connect_urls":["127.0.0.1:4223","127.0.0.1:4224"],"ldm":true,"xkey":"X123"}"#).unwrap();
        assert_eq!(info.server_name, "n1");
        assert_eq!(info.version, "2.9.10");
        assert_eq!(info.proto, 1);
        assert_eq!(info.max_payload, 8_388_608);
        assert!(info.headers && info.auth_required && info.jetstream && info.ldm);
        assert!(!info.tls_required);
        assert_eq!(info.client_id, 7);
        assert_eq!(info.nonce.as_deref(), Some("IhBbBr2dd_-c4k0"));
        assert_eq!(info.connect_urls, ["127.0.0.1:4223", "127.0.0.1:4224"]);
        assert!(info.ws_connect_urls.is_empty());
    }

    #[test]
    fn defaults_and_type_errors() {
        let info = ServerInfo::parse(b"{}").unwrap();
        assert_eq!(info, ServerInfo::default());
        assert_eq!(info.max_payload, DEFAULT_MAX_PAYLOAD);
        let info = ServerInfo::parse(br#"{"nonce":null,"connect_urls":null}"#).unwrap();
        assert_eq!(info.nonce, None);
        assert_eq!(
            ServerInfo::parse(br#"{"max_payload":-1}"#),
            Err(json::wrong(
                "max_payload",
                "expected an integer in 0..=2^64-1"
            ))
        );
        assert_eq!(
            ServerInfo::parse(br#"{"headers":"yes"}"#),
            Err(json::wrong("headers", "expected true or false"))
        );
        assert_eq!(
            ServerInfo::parse(br#"{"connect_urls":["a",1]}"#),
            Err(json::wrong("connect_urls", "expected an array of strings"))
        );
        assert_eq!(
            ServerInfo::parse(b"[]"),
            Err(json::wrong("INFO", "expected an object"))
        );
    }

    #[test]
    fn round_trips_through_json() {
        let info = ServerInfo {
            server_id: "a\"b".into(),
            nonce: Some("n".into()),
            connect_urls: alloc::vec!["x:1".into()],
            domain: Some("hub".into()),
            max_payload: u64::MAX,
            ..ServerInfo::default()
        };
        assert_eq!(ServerInfo::parse(&info.to_json()).unwrap(), info);
    }
}
