//! `nats_text`: the NATS codec's text readers and writers outside the operation parser.
//!
//! Input: a selector byte, then the text.
//! - 0: JSON ([`json::parse`]): a document that parses, written out again, parses to the
//!   same value; `INFO` JSON reads the same through [`ServerInfo::parse`] and through
//!   the [`Parser`]; a PubAck or stream info reply that parses agrees with the JSON.
//! - 1: nkeys: a seed or public key that decodes encodes to a string that decodes to the
//!   same key; `Debug` never shows a seed.
//! - 2: `.creds` files ([`UserCreds::parse`]): what parses has a JWT of three parts and a
//!   user seed; `Debug` of the credentials shows neither.
//! - 3: writers, on strings cut from the input at NUL bytes: `CONNECT`'s JSON reads back
//!   to the same name, user, password and token; headers and a payload published with
//!   `HPUB` read back the same through the parser; a subject that validates is read back
//!   by the parser as the same subject; a stream config's JSON reads back the same.

use tributary::nats::connect::{encode_connect, ConnectOptions, Credentials};
use tributary::nats::json::{self, Value};
use tributary::nats::nkey::{
    base64url_encode, decode_public_key, encode_public_key, KeyKind, NkeySeed, UserCreds,
};
use tributary::nats::{
    encode_hpub, encode_pub, parse_pub_ack, parse_stream_info, validate_subject, Headers, Msg,
    Parser, ServerInfo, ServerOp, StreamConfig,
};

/// The fuzz target's check.
pub fn check(input: &[u8]) {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    match selector % 4 {
        0 => json_doc(data),
        1 => nkeys(&String::from_utf8_lossy(data)),
        2 => creds(&String::from_utf8_lossy(data)),
        _ => writers(data),
    }
}

fn json_doc(data: &[u8]) {
    let parsed = json::parse(data);
    if let Ok(v) = &parsed {
        let mut text = String::new();
        crate::json_text(v, &mut text);
        assert_eq!(
            json::parse(text.as_bytes()).as_ref(),
            Ok(v),
            "written out: {text}"
        );
    }
    let info = ServerInfo::parse(data);
    assert!(parsed.is_ok() || info.is_err(), "INFO parsed from bad JSON");
    // The same JSON as an INFO line, when it fits on one.
    if !data.contains(&b'\n') && data.len() < 60_000 {
        let mut line = b"INFO ".to_vec();
        line.extend_from_slice(data);
        line.extend_from_slice(b"\r\n");
        let mut parser = Parser::new();
        let mut ops = Vec::new();
        let through_parser = parser.decode(&line, &mut ops);
        match (&info, through_parser) {
            (Ok(info), Ok(())) => {
                assert_eq!(ops, [ServerOp::Info(Box::new(info.clone()))]);
            }
            (Err(_), Err(_)) => {}
            (a, b) => panic!("INFO {a:?} vs through the parser {b:?}"),
        }
    }
    for status in [None, Some(100), Some(503)] {
        let msg = Msg {
            subject: "_INBOX.x.0.0".into(),
            status,
            payload: data.to_vec(),
            ..Msg::default()
        };
        if let Ok(ack) = parse_pub_ack(&msg) {
            let v = parsed.as_ref().expect("a PubAck is JSON");
            assert_eq!(v.get("seq").and_then(Value::as_u64), Some(ack.seq));
            assert_eq!(v.get("stream").and_then(Value::as_str), Some(&*ack.stream));
        }
        if let Ok(info) = parse_stream_info(&msg) {
            let v = parsed.as_ref().expect("stream info is JSON");
            let config = v.get("config").expect("config");
            assert_eq!(
                config.get("name").and_then(Value::as_str),
                Some(&*info.name)
            );
        }
    }
}

fn nkeys(text: &str) {
    if let Ok(seed) = NkeySeed::decode(text) {
        let encoded = seed.encode();
        assert_eq!(encoded.len(), 58);
        assert_eq!(NkeySeed::decode(&encoded).as_ref(), Ok(&seed));
        let debug = format!("{seed:?}");
        assert!(!debug.contains(&encoded[2..]), "Debug shows the seed");
        assert_eq!(
            Credentials::from_nkey_seed(text).is_ok(),
            seed.kind() == KeyKind::User
        );
        let der = seed.pkcs8_der();
        assert_eq!(&der[16..], seed.seed_bytes());
    } else {
        assert!(Credentials::from_nkey_seed(text).is_err());
    }
    if let Ok((kind, key)) = decode_public_key(text) {
        let encoded = encode_public_key(kind, &key);
        assert_eq!(encoded.len(), 56);
        assert_eq!(decode_public_key(&encoded), Ok((kind, key)));
    }
    let b64 = base64url_encode(text.as_bytes());
    assert_eq!(
        crate::base64url_decode(&b64).as_deref(),
        Some(text.as_bytes())
    );
    // The decoder takes only canonical text: what it decodes encodes back the same.
    if let Some(bytes) = crate::base64url_decode(text) {
        assert_eq!(base64url_encode(&bytes), text);
    }
}

fn creds(text: &str) {
    match UserCreds::parse(text) {
        Ok(c) => {
            assert_eq!(c.jwt.split('.').count(), 3);
            assert!(c.jwt.split('.').all(|p| !p.is_empty()));
            assert_eq!(c.seed.kind(), KeyKind::User);
            let credentials = Credentials::from_creds_file(text).expect("parsed once");
            let seed = c.seed.encode();
            for debug in [format!("{c:?}"), format!("{credentials:?}")] {
                assert!(!debug.contains(&c.jwt), "Debug shows the JWT");
                assert!(!debug.contains(&seed[2..]), "Debug shows the seed");
            }
        }
        Err(_) => assert!(Credentials::from_creds_file(text).is_err()),
    }
}

fn writers(data: &[u8]) {
    let mut parts = data
        .split(|&b| b == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let mut next = || parts.next().unwrap_or_default();
    let (a, b, c, d, e) = (next(), next(), next(), next(), next());

    // CONNECT: every string escaped, one line, read back the same.
    let options = ConnectOptions {
        name: Some(a.clone()),
        lang: e.clone(),
        ..ConnectOptions::default()
    };
    for (credentials, fields) in [
        (
            Credentials::UserPassword {
                user: b.clone(),
                password: c.clone(),
            },
            [("user", &b), ("pass", &c)],
        ),
        (
            Credentials::Token(d.clone()),
            [("auth_token", &d), ("name", &a)],
        ),
    ] {
        let mut out = Vec::new();
        encode_connect(&mut out, &options, &credentials, None).expect("no signature needed");
        let body = out
            .strip_prefix(b"CONNECT ")
            .and_then(|l| l.strip_suffix(b"\r\n"))
            .expect("CONNECT line");
        assert!(!body.contains(&b'\n') && !body.contains(&b'\r'));
        let v = json::parse(body).expect("CONNECT is JSON");
        for (field, want) in fields {
            assert_eq!(v.get(field).and_then(Value::as_str), Some(want.as_str()));
        }
        assert_eq!(v.get("lang").and_then(Value::as_str), Some(e.as_str()));
    }

    // HPUB with headers: the parser reads back the same headers and payload.
    let mut headers = Headers::new();
    let appended = headers.append(&a, &b).is_ok() && headers.append(&c, &d).is_ok();
    if appended {
        let mut out = Vec::new();
        encode_hpub(&mut out, "s.1", Some("_INBOX.r"), &headers, e.as_bytes()).expect("valid");
        let ops = crate::client_ops::parse(&out);
        let [crate::client_ops::ClientOp::Pub(msg, _)] = &ops[..] else {
            panic!("{ops:?}")
        };
        assert_eq!(msg.headers, headers);
        assert_eq!(msg.status, None);
        assert_eq!(msg.payload, e.as_bytes());
    }

    // A subject that validates reaches the other side intact.
    if validate_subject(&a, false).is_ok() {
        let mut out = Vec::new();
        encode_pub(&mut out, &a, None, b.as_bytes()).expect("validated");
        let mut wire = b"MSG ".to_vec();
        let line_end = out.windows(2).position(|w| w == b"\r\n").unwrap();
        let args = std::str::from_utf8(&out[4..line_end]).unwrap();
        let (subject, size) = args.rsplit_once(' ').unwrap();
        wire.extend_from_slice(format!("{subject} 9 {size}").as_bytes());
        wire.extend_from_slice(&out[line_end..]);
        let mut parser = Parser::new();
        let mut ops = Vec::new();
        parser
            .decode(&wire, &mut ops)
            .expect("a valid subject parses");
        let [ServerOp::Msg(msg)] = &ops[..] else {
            panic!("{ops:?}")
        };
        assert_eq!(msg.subject, a);
        assert_eq!(msg.payload, b.as_bytes());
    }

    // A stream config's JSON reads back; as a STREAM.CREATE reply it is the same stream.
    let config = StreamConfig::new(&b, vec![a.clone(), c.clone()]);
    if let Ok(body) = config.to_json() {
        let v = json::parse(&body).expect("stream config is JSON");
        assert_eq!(v.get("name").and_then(Value::as_str), Some(b.as_str()));
        let mut reply = b"{\"config\":".to_vec();
        reply.extend_from_slice(&body);
        reply.push(b'}');
        let msg = Msg {
            payload: reply,
            ..Msg::default()
        };
        let info = parse_stream_info(&msg).expect("stream info");
        assert_eq!(info.name, b);
        assert_eq!(info.subjects, [a, c]);
    }
}
