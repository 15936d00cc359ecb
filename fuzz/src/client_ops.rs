//! What our client writes (`CONNECT`, `PING`, `PONG`, `SUB`, `PUB`, `HPUB`), read back the
//! way a server reads it: the other half of a fake server for the `config` target. A
//! header block is read by the core's own [`Parser`] (an `HPUB` is an `HMSG` with a
//! subscription id), so it is checked against the code that reads the server's messages.
//! Anything malformed panics: the client must never write it.

use tributary::nats::{Msg, Parser, ServerOp};

/// One operation a client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp {
    /// `CONNECT {json}`: the JSON text.
    Connect(Vec<u8>),
    /// `PING`.
    Ping,
    /// `PONG`.
    Pong,
    /// `SUB <subject> [queue] <sid>`.
    Sub {
        /// The subject.
        subject: String,
        /// The subscription id.
        sid: u64,
    },
    /// `UNSUB <sid> [max]`.
    Unsub,
    /// `PUB` (headers empty, status `None`) or `HPUB`, as a [`Msg`] (sid 0), and its
    /// size as the server counts it against `max_payload` (header block and payload).
    Pub(Msg, usize),
}

/// Every operation in `bytes`; panics on anything a server would refuse.
pub fn parse(mut bytes: &[u8]) -> Vec<ClientOp> {
    let mut ops = Vec::new();
    while !bytes.is_empty() {
        let end = bytes
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or_else(|| panic!("control line without CRLF: {:?}", lossy(bytes)));
        let line = std::str::from_utf8(&bytes[..end]).expect("control line is UTF-8");
        bytes = &bytes[end + 2..];
        assert!(!line.contains('\n'), "LF inside a control line: {line:?}");
        let (name, rest) = line.split_once(' ').unwrap_or((line, ""));
        let args: Vec<&str> = rest.split(' ').filter(|a| !a.is_empty()).collect();
        match name {
            "CONNECT" => ops.push(ClientOp::Connect(rest.as_bytes().to_vec())),
            "PING" => ops.push(ClientOp::Ping),
            "PONG" => ops.push(ClientOp::Pong),
            "SUB" => {
                assert!(args.len() == 2 || args.len() == 3, "SUB {rest:?}");
                ops.push(ClientOp::Sub {
                    subject: args[0].to_owned(),
                    sid: args[args.len() - 1].parse().expect("SUB sid"),
                });
            }
            "UNSUB" => ops.push(ClientOp::Unsub),
            "PUB" | "HPUB" => {
                let sizes = if name == "PUB" { 1 } else { 2 };
                assert!(
                    args.len() == 1 + sizes || args.len() == 2 + sizes,
                    "{name} {rest:?}"
                );
                let total: usize = args[args.len() - 1].parse().expect("size");
                assert!(bytes.len() >= total + 2, "{name} body cut short");
                assert_eq!(
                    &bytes[total..total + 2],
                    b"\r\n",
                    "{name} body not ended by CRLF"
                );
                // As the server would deliver it: PUB -> MSG, HPUB -> HMSG.
                let mut wire = Vec::new();
                wire.extend_from_slice(if name == "PUB" { b"MSG " } else { b"HMSG " });
                wire.extend_from_slice(args[0].as_bytes());
                wire.extend_from_slice(b" 0 ");
                wire.extend_from_slice(args[1..].join(" ").as_bytes());
                wire.extend_from_slice(b"\r\n");
                wire.extend_from_slice(&bytes[..total + 2]);
                bytes = &bytes[total + 2..];
                let mut parser = Parser::new();
                parser.set_max_payload(u64::MAX);
                let mut got = Vec::new();
                parser
                    .decode(&wire, &mut got)
                    .unwrap_or_else(|e| panic!("{name} does not parse: {e:?}"));
                assert_eq!(parser.buffered(), 0);
                let [ServerOp::Msg(msg)] = <[ServerOp; 1]>::try_from(got).expect("one op") else {
                    panic!("{name} is not a message")
                };
                ops.push(ClientOp::Pub(msg, total));
            }
            _ => panic!("unknown client operation {line:?}"),
        }
    }
    ops
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned()
}
