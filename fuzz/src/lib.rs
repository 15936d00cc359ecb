//! The fuzz targets' checks, one module per target (`fuzz_targets/<name>.rs` calls
//! `<name>::check`), the seed corpus they start from ([`seeds`], written by
//! `examples/gen_corpus.rs`), and what they share: a reader of the protocol our client
//! writes ([`client_ops`]), a JSON writer to compare the reader against ([`json_text`]).
//!
//! Every check asserts an invariant that can fail (a round trip, two ways of feeding the
//! same bytes agreeing, a valid config working end to end), not only "does not panic".

pub mod batch_decode;
pub mod client_ops;
pub mod config;
pub mod nats_parser;
pub mod nats_text;
pub mod seeds;

use tributary::nats::json::Value;

/// `v` as JSON text (numbers as written, strings escaped as RFC 8259 says), to feed back
/// to the reader: `parse(json_text(parse(x))) == parse(x)`.
pub fn json_text(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(n.as_str()),
        Value::String(s) => json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_text(item, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (i, (k, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(k, out);
                out.push(':');
                json_text(item, out);
            }
            out.push('}');
        }
    }
}

/// A JSON string literal.
pub fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(char::from(b"0123456789abcdef"[(c as usize) >> 4]));
                out.push(char::from(b"0123456789abcdef"[(c as usize) & 15]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

pub use tributary::nats::nkey::base64url_decode;
