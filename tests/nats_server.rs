//! The NATS codec (`tributary::nats`) against a real `nats-server` (Debian's 2.9), over
//! plain TCP with `std::net` and nothing but our encoder and parser: JetStream stream
//! creation, 1,000 acknowledged publishes, de-duplication, API errors, no responders,
//! token / user-password / nkey / JWT (`.creds`) authentication, permission violations,
//! the WebSocket listener, and a 3-node cluster with an R3 stream.
//!
//! ed25519 signing of the server nonce is done by the `openssl` command line (OpenSSL 3),
//! as the JS host's WebCrypto does it in the bindings: the core hands out the seed as
//! PKCS#8 ([`NkeySeed::pkcs8_der`]).
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/nats.rs"]
mod nats_harness;

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use nats_harness::{
    start_cluster, websocket_handshake, websocket_read_frame, NatsServer, ServerConfig, TempDir,
};
use tributary::nats::jetstream::{err_code, header};
use tributary::nats::nkey::{base64url_encode, decode_public_key, encode_public_key};
use tributary::nats::{
    encode_connect, encode_hpub, encode_pub, encode_sub, parse_pub_ack, parse_stream_info,
    stream_create_subject, stream_info_subject, ConnectOptions, Credentials, Headers,
    JetStreamError, KeyKind, Msg, NkeySeed, Parser, ServerError, ServerErrorKind, ServerInfo,
    ServerOp, SignedNonce, StreamConfig, StreamInfo, DEFAULT_API_PREFIX, PING, PONG,
};

const TIMEOUT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------
// ed25519 through the openssl command line

fn random_seed(kind: KeyKind) -> NkeySeed {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("/dev/urandom");
    NkeySeed::from_bytes(kind, bytes)
}

fn openssl(args: &[&str], dir: &TempDir) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir.path())
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The ed25519 public key of a seed.
fn public_key(seed: &NkeySeed) -> [u8; 32] {
    let dir = TempDir::new("key");
    std::fs::write(dir.path().join("k.der"), seed.pkcs8_der()).unwrap();
    let spki = openssl(
        &[
            "pkey", "-inform", "DER", "-in", "k.der", "-pubout", "-outform", "DER",
        ],
        &dir,
    );
    spki[spki.len() - 32..].try_into().unwrap()
}

fn public_nkey(seed: &NkeySeed) -> String {
    encode_public_key(seed.kind(), &public_key(seed))
}

/// An ed25519 signature of `message` with `seed`.
fn sign(seed: &NkeySeed, message: &[u8]) -> [u8; 64] {
    let dir = TempDir::new("sign");
    std::fs::write(dir.path().join("k.der"), seed.pkcs8_der()).unwrap();
    std::fs::write(dir.path().join("msg"), message).unwrap();
    let sig = openssl(
        &[
            "pkeyutl", "-sign", "-inkey", "k.der", "-keyform", "DER", "-rawin", "-in", "msg",
        ],
        &dir,
    );
    sig.try_into().expect("64-byte signature")
}

// ---------------------------------------------------------------------------------------
// A blocking client made of the codec and a TcpStream

struct Conn {
    stream: TcpStream,
    parser: Parser,
    ops: VecDeque<ServerOp>,
    info: ServerInfo,
    next_sid: u64,
    inbox: String,
}

#[derive(Debug)]
enum ConnectFailure {
    Server(ServerError),
    Closed,
}

impl Conn {
    /// Connects and waits for the server's `INFO`.
    fn open(port: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        let mut conn = Conn {
            stream,
            parser: Parser::new(),
            ops: VecDeque::new(),
            info: ServerInfo::default(),
            next_sid: 1,
            inbox: format!("_INBOX.{}", std::process::id()),
        };
        match conn.read_op() {
            Some(ServerOp::Info(info)) => {
                conn.parser.set_max_payload(info.max_payload);
                conn.info = *info;
            }
            other => panic!("expected INFO first, got {other:?}"),
        }
        conn
    }

    /// `CONNECT` (signing the nonce if the credentials need it), then `PING`: `Ok` on
    /// `PONG`, the server's `-ERR` otherwise.
    fn connect(port: u16, credentials: &Credentials) -> Result<Conn, ConnectFailure> {
        let mut conn = Conn::open(port);
        let signed = credentials.signing_seed().map(|seed| {
            let nonce = conn.info.nonce.clone().expect("the server sent a nonce");
            SignedNonce {
                signature: sign(seed, nonce.as_bytes()),
                public_key: public_key(seed),
            }
        });
        let mut out = Vec::new();
        let options = ConnectOptions {
            name: Some("tributary-test".into()),
            ..ConnectOptions::default()
        };
        encode_connect(&mut out, &options, credentials, signed.as_ref()).unwrap();
        out.extend_from_slice(PING);
        conn.send(&out);
        loop {
            match conn.read_op() {
                Some(ServerOp::Pong) => return Ok(conn),
                Some(ServerOp::Err(e)) => return Err(ConnectFailure::Server(e)),
                Some(ServerOp::Ping) => conn.send(PONG),
                Some(ServerOp::Info(_) | ServerOp::Ok) => {}
                Some(ServerOp::Msg(m)) => panic!("message before connect: {m:?}"),
                None => return Err(ConnectFailure::Closed),
            }
        }
    }

    fn auth_error(port: u16, credentials: &Credentials) -> ServerError {
        match Conn::connect(port, credentials) {
            Ok(_) => panic!("connected with bad credentials {credentials:?}"),
            Err(ConnectFailure::Server(e)) => e,
            Err(ConnectFailure::Closed) => panic!("closed without -ERR"),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// The next operation; `None` when the server closed the connection.
    fn read_op(&mut self) -> Option<ServerOp> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if let Some(op) = self.ops.pop_front() {
                return Some(op);
            }
            let n = match self.stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("read (timeout {:?}): {e}", self.stream.read_timeout()),
            };
            let mut ops = Vec::new();
            self.parser
                .decode(&buf[..n], &mut ops)
                .expect("the server's bytes parse");
            self.ops.extend(ops);
        }
    }

    /// The next message, answering `PING`s; panics on `-ERR` or a closed connection.
    fn next_msg(&mut self) -> Msg {
        loop {
            match self.read_op() {
                Some(ServerOp::Msg(m)) => return m,
                Some(ServerOp::Ping) => self.send(PONG),
                Some(ServerOp::Err(e)) => panic!("-ERR {e:?}"),
                Some(_) => {}
                None => panic!("connection closed"),
            }
        }
    }

    /// The next `-ERR`, answering `PING`s, skipping nothing else.
    fn next_err(&mut self) -> ServerError {
        loop {
            match self.read_op() {
                Some(ServerOp::Err(e)) => return e,
                Some(ServerOp::Ping) => self.send(PONG),
                other => panic!("expected -ERR, got {other:?}"),
            }
        }
    }

    /// `PING` and wait for `PONG`: everything sent before was processed.
    fn flush(&mut self) {
        self.send(PING);
        loop {
            match self.read_op() {
                Some(ServerOp::Pong) => return,
                Some(ServerOp::Ping) => self.send(PONG),
                Some(ServerOp::Err(e)) => panic!("-ERR {e:?}"),
                Some(other) => panic!("unexpected {other:?}"),
                None => panic!("connection closed"),
            }
        }
    }

    fn subscribe(&mut self, subject: &str) -> u64 {
        let sid = self.next_sid;
        self.next_sid += 1;
        let mut out = Vec::new();
        encode_sub(&mut out, subject, None, sid).unwrap();
        self.send(&out);
        sid
    }

    /// One JetStream publish (`HPUB` with a message id and an expected stream) and its
    /// reply, on the `<inbox>.ack.*` subscription the caller made.
    fn publish_one(&mut self, subject: &str, msg_id: &str, stream: &str, payload: &[u8]) -> Msg {
        let mut out = Vec::new();
        let reply = format!("{}.ack.{msg_id}", self.inbox);
        encode_hpub(
            &mut out,
            subject,
            Some(&reply),
            &msg_headers(msg_id, stream),
            payload,
        )
        .unwrap();
        self.send(&out);
        let msg = self.next_msg();
        assert_eq!(msg.subject, reply);
        msg
    }

    /// A request: a fresh inbox subscription, the publish, the first reply.
    fn request(&mut self, subject: &str, payload: &[u8]) -> Msg {
        self.request_within(subject, payload, TIMEOUT)
            .expect("a reply in time")
    }

    /// A request that may go unanswered (`None` after `timeout`); replies to earlier
    /// requests that arrive late are skipped.
    fn request_within(&mut self, subject: &str, payload: &[u8], timeout: Duration) -> Option<Msg> {
        let reply = format!("{}.req{}", self.inbox, self.next_sid);
        let sid = self.subscribe(&reply);
        let mut out = Vec::new();
        encode_pub(&mut out, subject, Some(&reply), payload).unwrap();
        self.send(&out);
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            if self.ops.is_empty() {
                self.stream
                    .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                    .unwrap();
                let mut buf = vec![0u8; 64 * 1024];
                let read = self.stream.read(&mut buf);
                self.stream.set_read_timeout(Some(TIMEOUT)).unwrap();
                match read {
                    Ok(0) => panic!("connection closed"),
                    Ok(n) => {
                        let mut ops = Vec::new();
                        self.parser
                            .decode(&buf[..n], &mut ops)
                            .expect("the server's bytes parse");
                        self.ops.extend(ops);
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        return None
                    }
                    Err(e) => panic!("read: {e}"),
                }
                continue;
            }
            match self.ops.pop_front() {
                Some(ServerOp::Msg(m)) if m.sid == sid => return Some(m),
                Some(ServerOp::Ping) => self.send(PONG),
                Some(ServerOp::Err(e)) => panic!("-ERR {e:?}"),
                _ => {}
            }
        }
    }
}

// ---------------------------------------------------------------------------------------

fn create_stream(conn: &mut Conn, config: &StreamConfig) -> Result<StreamInfo, JetStreamError> {
    let subject = stream_create_subject(DEFAULT_API_PREFIX, &config.name).unwrap();
    let reply = conn.request(&subject, &config.to_json().unwrap());
    parse_stream_info(&reply)
}

fn stream_info(conn: &mut Conn, stream: &str) -> Result<StreamInfo, JetStreamError> {
    let subject = stream_info_subject(DEFAULT_API_PREFIX, stream).unwrap();
    parse_stream_info(&conn.request(&subject, b""))
}

fn msg_headers(id: &str, stream: &str) -> Headers {
    Headers::new()
        .with(header::MSG_ID, id)
        .unwrap()
        .with(header::EXPECTED_STREAM, stream)
        .unwrap()
}

#[test]
fn jetstream_publish_acks_dedup_and_errors() {
    let server = NatsServer::start(ServerConfig::new("js"));
    let mut conn = Conn::connect(server.client_port(), &Credentials::None).expect("connect");
    assert!(conn.info.headers && conn.info.jetstream, "{:?}", conn.info);
    assert_eq!(conn.info.max_payload, 1024 * 1024);
    assert!(conn.info.version.starts_with("2."));

    // Create the stream; creating it again with the same config is fine, with another
    // config it is refused.
    let mut config = StreamConfig::new("orders", vec!["orders.*".into()]);
    config.duplicate_window_ns = Some(60_000_000_000);
    config.max_age_ns = 3_600_000_000_000;
    config.max_bytes = Some(512 * 1024 * 1024);
    let info = create_stream(&mut conn, &config).expect("stream created");
    assert_eq!(info.name, "orders");
    assert_eq!(info.subjects, ["orders.*"]);
    assert_eq!(info.duplicate_window_ns, 60_000_000_000);
    assert_eq!(info.max_age_ns, 3_600_000_000_000);
    assert_eq!(info.max_bytes, 512 * 1024 * 1024);
    assert_eq!((info.messages, info.last_seq), (0, 0));
    create_stream(&mut conn, &config).expect("same config again");
    let mut other = config.clone();
    other.subjects = vec!["elsewhere.*".into()];
    match create_stream(&mut conn, &other) {
        Err(JetStreamError::Api { err_code, .. }) => {
            assert_eq!(err_code, err_code::STREAM_NAME_IN_USE)
        }
        other => panic!("{other:?}"),
    }

    // 1,000 HPUBs with message ids and reply inboxes, pipelined in batches of 100.
    let acks = conn.subscribe(&format!("{}.ack.*", conn.inbox));
    let mut seqs = Vec::new();
    for batch in 0..10 {
        let mut out = Vec::new();
        for i in batch * 100..(batch + 1) * 100 {
            let reply = format!("{}.ack.{i}", conn.inbox);
            let payload = format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(i % 64));
            encode_hpub(
                &mut out,
                &format!("orders.{}", i % 4),
                Some(&reply),
                &msg_headers(&format!("p1-{}-{i}", i % 4), "orders"),
                payload.as_bytes(),
            )
            .unwrap();
        }
        conn.send(&out);
        for i in batch * 100..(batch + 1) * 100 {
            let msg = conn.next_msg();
            assert_eq!(msg.sid, acks);
            assert_eq!(
                msg.subject,
                format!("{}.ack.{i}", conn.inbox),
                "acks arrive in order"
            );
            let ack = parse_pub_ack(&msg).expect("a PubAck");
            assert_eq!(ack.stream, "orders");
            assert!(!ack.duplicate);
            seqs.push(ack.seq);
        }
    }
    assert_eq!(seqs, (1..=1000).collect::<Vec<u64>>());

    // The same message id again: not stored, acknowledged as a duplicate of seq 501.
    let ack = parse_pub_ack(&conn.publish_one("orders.0", "p1-0-500", "orders", b"again")).unwrap();
    assert!(ack.duplicate);
    assert_eq!(ack.seq, 501);

    // A plain PUB (no headers) is stored too.
    let ack = parse_pub_ack(&conn.request("orders.9", b"plain")).unwrap();
    assert_eq!((ack.seq, ack.duplicate), (1001, false));

    // The wrong expected stream: an API error, nothing stored.
    match parse_pub_ack(&conn.publish_one("orders.1", "w-1", "payments", b"x")) {
        Err(JetStreamError::Api { err_code, code, .. }) => {
            assert_eq!(err_code, err_code::STREAM_NOT_MATCH);
            assert_eq!(code, 400);
        }
        other => panic!("{other:?}"),
    }

    // No stream captures the subject: no responders (HMSG with NATS/1.0 503).
    let reply = conn.request("nostream.1", b"lost?");
    assert!(reply.is_no_responders(), "{reply:?}");
    assert_eq!(parse_pub_ack(&reply), Err(JetStreamError::NoResponders));

    // STREAM.INFO sees the 1,001 messages; an unknown stream is an API error.
    let info = stream_info(&mut conn, "orders").unwrap();
    assert_eq!(
        (info.messages, info.first_seq, info.last_seq),
        (1001, 1, 1001)
    );
    match stream_info(&mut conn, "nope") {
        Err(JetStreamError::Api { code, err_code, .. }) => {
            assert_eq!((code, err_code), (404, err_code::STREAM_NOT_FOUND));
        }
        other => panic!("{other:?}"),
    }

    // A message over max_payload: the server's -ERR, classified, and the connection ends.
    let mut big = Conn::connect(server.client_port(), &Credentials::None).unwrap();
    let mut out = Vec::new();
    encode_pub(&mut out, "orders.1", None, &vec![b'x'; 1024 * 1024 + 1]).unwrap();
    // The server judges the size from the control line and closes at once: send just it.
    let control_line = out.iter().position(|&c| c == b'\n').unwrap() + 1;
    assert_eq!(&out[..control_line], b"PUB orders.1 1048577\r\n");
    big.send(&out[..control_line]);
    let e = big.next_err();
    assert_eq!(e.kind, ServerErrorKind::MaxPayload, "{e:?}");
    assert!(e.closes_connection());
    assert!(big.read_op().is_none(), "closed after the error");
    conn.flush();
}

#[test]
fn websocket_listener_speaks_the_same_protocol() {
    let server = NatsServer::start(ServerConfig::new("ws"));
    let config = server.config_text();
    let ws = server.ws_port().unwrap();
    assert!(
        config.contains(&format!(
            "websocket {{\n  listen: \"127.0.0.1:{ws}\"\n  no_tls: true\n}}"
        )),
        "{config}"
    );
    let mut stream = websocket_handshake(ws).expect("WebSocket upgrade");
    let (opcode, payload) = websocket_read_frame(&mut stream).expect("first frame");
    assert_eq!(opcode, 2, "binary frame");
    let mut parser = Parser::new();
    let mut ops = Vec::new();
    parser.decode(&payload, &mut ops).unwrap();
    let Some(ServerOp::Info(info)) = ops.first() else {
        panic!("{ops:?}")
    };
    assert!(info.headers && info.jetstream);
}

#[test]
fn token_auth() {
    let mut config = ServerConfig::new("token");
    config.auth = Some("authorization { token: \"s3cret-t0ken\" }".into());
    let server = NatsServer::start(config);
    let port = server.client_port();

    let mut conn =
        Conn::connect(port, &Credentials::Token("s3cret-t0ken".into())).expect("token accepted");
    assert!(conn.info.auth_required);
    conn.flush();

    for bad in [Credentials::Token("wrong".into()), Credentials::None] {
        let e = Conn::auth_error(port, &bad);
        assert_eq!(e.kind, ServerErrorKind::Auth, "{e:?}");
        assert_eq!(e.message, "Authorization Violation");
        assert!(e.closes_connection());
    }
}

#[test]
fn user_password_nkey_and_permissions() {
    let nkey_user = random_seed(KeyKind::User);
    let mut config = ServerConfig::new("users");
    config.jetstream = false;
    config.auth = Some(format!(
        r#"authorization {{
  users: [
    {{ user: "ann", password: "pw-ann" }}
    {{ user: "limited", password: "pw-lim", permissions: {{
        publish: {{ allow: ["ok.>"] }}
        subscribe: {{ allow: ["_INBOX.>", "ok.>"] }}
    }} }}
    {{ nkey: "{}" }}
  ]
}}"#,
        public_nkey(&nkey_user)
    ));
    let server = NatsServer::start(config);
    let port = server.client_port();

    // User and password.
    let ann = Credentials::UserPassword {
        user: "ann".into(),
        password: "pw-ann".into(),
    };
    Conn::connect(port, &ann).expect("ann").flush();
    let wrong = Credentials::UserPassword {
        user: "ann".into(),
        password: "pw-bob".into(),
    };
    assert_eq!(Conn::auth_error(port, &wrong).kind, ServerErrorKind::Auth);
    assert_eq!(
        Conn::auth_error(port, &Credentials::None).kind,
        ServerErrorKind::Auth
    );

    // An nkey user: the nonce signed with the seed.
    let mut conn = Conn::connect(
        port,
        &Credentials::from_nkey_seed(&nkey_user.encode()).unwrap(),
    )
    .expect("nkey user");
    assert!(conn.info.nonce.is_some());
    conn.flush();
    let impostor = Credentials::Nkey(random_seed(KeyKind::User));
    assert_eq!(
        Conn::auth_error(port, &impostor).kind,
        ServerErrorKind::Auth
    );

    // Permissions: a refused publish and subscribe leave the connection open.
    let mut lim = Conn::connect(
        port,
        &Credentials::UserPassword {
            user: "limited".into(),
            password: "pw-lim".into(),
        },
    )
    .expect("limited");
    let sid = lim.subscribe("ok.>");
    let mut out = Vec::new();
    encode_pub(&mut out, "secret.plans", None, b"no").unwrap();
    encode_pub(&mut out, "ok.1", None, b"yes").unwrap();
    lim.send(&out);
    let e = lim.next_err();
    assert_eq!(e.kind, ServerErrorKind::PublishPermission, "{e:?}");
    assert_eq!(e.permission_subject(), Some("secret.plans"));
    assert!(!e.closes_connection());
    let m = lim.next_msg();
    assert_eq!(
        (m.sid, m.subject.as_str(), m.payload.as_slice()),
        (sid, "ok.1", &b"yes"[..])
    );
    lim.subscribe("secret.>");
    let e = lim.next_err();
    assert_eq!(e.kind, ServerErrorKind::SubscribePermission, "{e:?}");
    assert_eq!(e.permission_subject(), Some("secret.>"));
    lim.flush();
}

// ---------------------------------------------------------------------------------------
// Operator mode: a user JWT signed by an account, signed by an operator; `.creds` login.

fn jwt(claims: &str, issuer: &NkeySeed) -> String {
    let header = base64url_encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let body = base64url_encode(claims.as_bytes());
    let signing_input = format!("{header}.{body}");
    let signature = sign(issuer, signing_input.as_bytes());
    format!("{signing_input}.{}", base64url_encode(&signature))
}

fn creds_file(user_jwt: &str, seed: &NkeySeed) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\n\
         -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
        seed.encode()
    )
}

#[test]
fn jwt_creds_in_operator_mode() {
    let operator = random_seed(KeyKind::Operator);
    let account = random_seed(KeyKind::Account);
    let user = random_seed(KeyKind::User);
    let (op_pub, acc_pub, user_pub) = (
        public_nkey(&operator),
        public_nkey(&account),
        public_nkey(&user),
    );
    assert_eq!(decode_public_key(&user_pub).unwrap().0, KeyKind::User);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let operator_jwt = jwt(
        &format!(
            r#"{{"jti":"OPJTI{now}","iat":{now},"iss":"{op_pub}","name":"test-op","sub":"{op_pub}","nats":{{"type":"operator","version":2}}}}"#
        ),
        &operator,
    );
    let account_jwt = jwt(
        &format!(
            r#"{{"jti":"ACJTI{now}","iat":{now},"iss":"{op_pub}","name":"test-acc","sub":"{acc_pub}","nats":{{"limits":{{"subs":-1,"data":-1,"payload":-1,"imports":-1,"exports":-1,"wildcards":true,"conn":-1,"leaf":-1}},"default_permissions":{{"pub":{{}},"sub":{{}}}},"type":"account","version":2}}}}"#
        ),
        &operator,
    );
    let user_jwt = jwt(
        &format!(
            r#"{{"jti":"USJTI{now}","iat":{now},"iss":"{acc_pub}","name":"test-user","sub":"{user_pub}","nats":{{"pub":{{}},"sub":{{}},"subs":-1,"data":-1,"payload":-1,"type":"user","version":2}}}}"#
        ),
        &account,
    );

    let mut config = ServerConfig::new("operator");
    config.jetstream = false;
    let op_file = TempDir::new("operator-jwt");
    let op_path = op_file.path().join("operator.jwt");
    std::fs::write(&op_path, &operator_jwt).unwrap();
    config.auth = Some(format!(
        "operator: {:?}\nresolver: MEMORY\nresolver_preload: {{\n  {acc_pub}: \"{account_jwt}\"\n}}",
        op_path.display().to_string()
    ));
    let server = NatsServer::start(config);
    let port = server.client_port();

    let creds = Credentials::from_creds_file(&creds_file(&user_jwt, &user)).expect("creds parse");
    let mut conn =
        Conn::connect(port, &creds).unwrap_or_else(|e| panic!("{e:?}\n{}", server.log()));
    conn.flush();
    // The right JWT signed with another seed: refused.
    let stolen =
        Credentials::from_creds_file(&creds_file(&user_jwt, &random_seed(KeyKind::User))).unwrap();
    assert_eq!(Conn::auth_error(port, &stolen).kind, ServerErrorKind::Auth);
}

// ---------------------------------------------------------------------------------------

#[test]
fn three_node_cluster_with_an_r3_stream() {
    let servers = start_cluster(3, "tc");
    let mut conn = Conn::connect(servers[0].client_port(), &Credentials::None).expect("connect");
    let mut config = StreamConfig::new("events", vec!["events.*".into()]);
    config.num_replicas = 3;
    // The JetStream meta leader may still be being elected: retry for a while.
    let deadline = Instant::now() + Duration::from_secs(30);
    let subject = stream_create_subject(DEFAULT_API_PREFIX, "events").unwrap();
    let info = loop {
        let reply =
            conn.request_within(&subject, &config.to_json().unwrap(), Duration::from_secs(2));
        match reply.as_ref().map(parse_stream_info) {
            Some(Ok(info)) => break info,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(250)),
            other => panic!("{other:?}\n{}", servers[0].log()),
        }
    };
    assert_eq!(info.num_replicas, 3);
    let acks = conn.subscribe(&format!("{}.ack.*", conn.inbox));
    let mut out = Vec::new();
    for i in 0..100 {
        let reply = format!("{}.ack.{i}", conn.inbox);
        encode_hpub(
            &mut out,
            "events.0",
            Some(&reply),
            &msg_headers(&format!("c-{i}"), "events"),
            b"v",
        )
        .unwrap();
    }
    conn.send(&out);
    for i in 0..100u64 {
        let m = conn.next_msg();
        assert_eq!(m.sid, acks);
        assert_eq!(parse_pub_ack(&m).unwrap().seq, i + 1);
    }
    // Another node sees the replicated stream.
    let mut other =
        Conn::connect(servers[2].client_port(), &Credentials::None).expect("connect n3");
    let info = stream_info(&mut other, "events").unwrap();
    assert_eq!(
        (info.num_replicas, info.messages, info.last_seq),
        (3, 100, 100)
    );
    // INFO lists the cluster's client URLs once the routes are up.
    assert!(
        other.info.connect_urls.len() >= 2,
        "{:?}",
        other.info.connect_urls
    );
}
