//! `nats_parser`: the incremental [`Parser`] of what a NATS server sends, fed the same
//! bytes whole and in chunks cut at arbitrary points, must yield the same operations and
//! the same error (a TCP read or a WebSocket frame may end anywhere).
//!
//! Input: a flags byte (bits 0-2: `max_control_line`, 8/16/64/1024/64 KiB; bits 3-4:
//! `max_payload`, 0/16/1024/1 MiB; bit 5: follow `INFO`'s `max_payload` as the sink does),
//! a byte `n` (0..=15 cut sizes follow), the `n` cut sizes (cycled), then the stream.
//! Every message parsed is also read as a JetStream reply (PubAck, stream info) and every
//! `-ERR` classified, which must not panic.

use tributary::nats::{
    parse_pub_ack, parse_stream_info, Parser, ParserLimits, ProtoError, ServerOp,
};

const CONTROL_LINES: [usize; 5] = [8, 16, 64, 1024, 64 * 1024];
const PAYLOADS: [u64; 4] = [0, 16, 1024, 1 << 20];

/// The fuzz target's check.
pub fn check(input: &[u8]) {
    let [flags, n, rest @ ..] = input else {
        return;
    };
    let limits = ParserLimits {
        max_control_line: CONTROL_LINES[usize::from(flags & 7) % CONTROL_LINES.len()],
        max_payload: PAYLOADS[usize::from((flags >> 3) & 3)],
    };
    let follow_info = flags & 0x20 != 0;
    let (cuts, stream) = rest.split_at(usize::from(n % 16).min(rest.len()));

    let whole = run(limits, follow_info, std::iter::once(stream));
    let chunked = run(limits, follow_info, chunks(stream, cuts));
    assert_eq!(whole, chunked, "whole vs chunked {cuts:?}");
    if stream.len() <= 512 {
        let bytes = run(limits, follow_info, stream.chunks(1));
        assert_eq!(whole, bytes, "whole vs byte at a time");
    }

    for op in &whole.ops {
        match op {
            ServerOp::Msg(msg) => {
                let _ = parse_pub_ack(msg);
                let _ = parse_stream_info(msg);
                let _ = msg.is_no_responders();
            }
            ServerOp::Err(e) => {
                let _ = e.closes_connection();
                if let Some(subject) = e.permission_subject() {
                    assert!(e.message.contains(subject));
                }
            }
            _ => {}
        }
    }
}

/// What a parser made of a stream.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The operations, in order.
    pub ops: Vec<ServerOp>,
    /// The error that ended the stream, if any.
    pub error: Option<ProtoError>,
    /// Bytes still buffered at the end (when no error).
    pub buffered: usize,
}

/// Feeds `chunks` to a fresh parser as the sink does (push, then every op).
pub fn run<'a>(
    limits: ParserLimits,
    follow_info: bool,
    chunks: impl Iterator<Item = &'a [u8]>,
) -> Outcome {
    let mut parser = Parser::with_limits(limits);
    let mut ops = Vec::new();
    for chunk in chunks {
        parser.push(chunk);
        loop {
            match parser.next_op() {
                Ok(Some(op)) => {
                    if let (true, ServerOp::Info(info)) = (follow_info, &op) {
                        parser.set_max_payload(info.max_payload);
                    }
                    ops.push(op);
                }
                Ok(None) => break,
                Err(e) => {
                    // Sticky: asked again, the same error.
                    assert_eq!(parser.next_op(), Err(e.clone()));
                    return Outcome {
                        ops,
                        error: Some(e),
                        buffered: 0,
                    };
                }
            }
        }
    }
    Outcome {
        ops,
        error: None,
        buffered: parser.buffered(),
    }
}

/// `stream` cut into pieces of the sizes in `cuts`, cycled (the last piece is the rest).
pub fn chunks<'a>(stream: &'a [u8], cuts: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = stream;
    let mut i = 0;
    let all_zero = cuts.iter().all(|&c| c == 0);
    std::iter::from_fn(move || {
        if rest.is_empty() && i > 0 {
            return None;
        }
        let size = if cuts.is_empty() || all_zero {
            rest.len()
        } else {
            usize::from(cuts[i % cuts.len()])
        };
        i += 1;
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        Some(piece)
    })
}
