//! NATS message headers: the `NATS/1.0` block that `HPUB` sends and `HMSG` delivers.
//!
//! A block is a version line, optionally with a status code and description
//! (`NATS/1.0 503` is "no responders"), then `Name: value` lines, then an empty line:
//!
//! ```text
//! NATS/1.0\r\n
//! Nats-Msg-Id: p1-0-42\r\n
//! \r\n
//! ```
//!
//! Names are case-sensitive, kept as written, and may repeat (each occurrence is a value).
//! A name is one or more printable ASCII characters other than `:`; a value may hold any
//! text but CR and LF, and loses leading and trailing spaces and tabs on the way through
//! the server (as in HTTP), so [`Headers::append`] refuses values that would change.

use alloc::{borrow::ToOwned, string::String, vec::Vec};

use super::json::parse_u64;
use super::proto::ProtoError;

const VERSION: &[u8] = b"NATS/1.0";

/// An ordered list of header (name, value) pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers::default()
    }

    /// Adds one `name: value` pair after the others (a repeated name adds a value).
    ///
    /// Refuses a name that is empty or has anything but printable ASCII other than `:`
    /// ([`ProtoError::InvalidHeaderName`]), and a value with CR or LF or with leading or
    /// trailing whitespace ([`ProtoError::InvalidHeaderValue`]); nothing is added then.
    pub fn append(&mut self, name: &str, value: &str) -> Result<(), ProtoError> {
        validate_name(name)?;
        validate_value(value)?;
        self.entries.push((name.to_owned(), value.to_owned()));
        Ok(())
    }

    /// [`Headers::append`], by value, for chaining.
    pub fn with(mut self, name: &str, value: &str) -> Result<Self, ProtoError> {
        self.append(name, value)?;
        Ok(self)
    }

    /// The first value of `name` (exact, case-sensitive match).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// All pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// How many pairs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The size of the encoded block (`NATS/1.0\r\n`, the lines, the closing `\r\n`): the
    /// `#header bytes` of an `HPUB`.
    pub fn encoded_len(&self) -> usize {
        let lines: usize = self
            .entries
            .iter()
            .map(|(n, v)| n.len() + 2 + v.len() + 2)
            .sum();
        VERSION.len() + 2 + lines + 2
    }

    /// Appends the encoded block.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(VERSION);
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.entries {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// A header name: one or more printable ASCII characters (`!`..=`~`) other than `:`.
pub fn validate_name(name: &str) -> Result<(), ProtoError> {
    if !name.is_empty() && name.bytes().all(|c| c.is_ascii_graphic() && c != b':') {
        Ok(())
    } else {
        Err(ProtoError::InvalidHeaderName)
    }
}

fn validate_value(value: &str) -> Result<(), ProtoError> {
    let bytes = value.as_bytes();
    let edges_ok =
        !bytes.first().is_some_and(|&c| is_blank(c)) && !bytes.last().is_some_and(|&c| is_blank(c));
    if edges_ok && !bytes.iter().any(|&c| c == b'\r' || c == b'\n') {
        Ok(())
    } else {
        Err(ProtoError::InvalidHeaderValue)
    }
}

/// What an `HMSG` header block holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HeaderBlock {
    pub(crate) status: Option<u16>,
    pub(crate) description: Option<String>,
    pub(crate) headers: Headers,
}

fn block_error(reason: &'static str) -> ProtoError {
    ProtoError::HeaderBlock { reason }
}

/// Space or tab: what separates protocol arguments and pads header values.
pub(crate) fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// `s` without leading and trailing spaces and tabs.
pub(crate) fn trim_blanks(mut s: &[u8]) -> &[u8] {
    while let [c, rest @ ..] = s {
        if !is_blank(*c) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., c] = s {
        if !is_blank(*c) {
            break;
        }
        s = rest;
    }
    s
}

/// Parses a whole header block: exactly the `#header bytes` of an `HMSG`, ending in
/// `\r\n\r\n`. Values that are not UTF-8 are kept with U+FFFD in place of bad bytes.
pub(crate) fn parse_block(block: &[u8]) -> Result<HeaderBlock, ProtoError> {
    // Every line, the version line included, ends in CRLF; then comes one empty line.
    let Some(body) = block.strip_suffix(b"\r\n") else {
        return Err(block_error("does not end with an empty line"));
    };
    if !body.ends_with(b"\r\n") {
        return Err(block_error("does not end with an empty line"));
    }
    let mut lines = body.split_inclusive(|&c| c == b'\n').map(|line| {
        line.strip_suffix(b"\r\n")
            .ok_or(block_error("line not ended by CRLF"))
    });
    let first = lines.next().unwrap_or(Ok(&[]))?;
    let Some(after_version) = first.strip_prefix(VERSION) else {
        return Err(block_error("does not start with NATS/1.0"));
    };
    let mut parsed = HeaderBlock::default();
    if !after_version.is_empty() {
        let [b' ' | b'\t', status_line @ ..] = after_version else {
            return Err(block_error("bad version line"));
        };
        let status_line = trim_blanks(status_line);
        let (code, description) = match status_line.iter().position(|&c| c == b' ' || c == b'\t') {
            Some(i) => (&status_line[..i], trim_blanks(&status_line[i..])),
            None => (status_line, &[][..]),
        };
        let code = parse_u64(code)
            .filter(|_| code.len() == 3)
            .ok_or(block_error("status code is not 3 digits"))?;
        parsed.status = Some(code as u16);
        if !description.is_empty() {
            parsed.description = Some(String::from_utf8_lossy(description).into_owned());
        }
    }
    for line in lines {
        let line = line?;
        if line.is_empty() {
            return Err(block_error("empty line inside the block"));
        }
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            return Err(block_error("line without ':'"));
        };
        let name = core::str::from_utf8(&line[..colon])
            .map_err(|_| block_error("header name is not UTF-8"))?;
        let name = name.trim_matches(|c| c == ' ' || c == '\t');
        validate_name(name).map_err(|_| block_error("invalid header name"))?;
        let value = trim_blanks(&line[colon + 1..]);
        parsed
            .headers
            .entries
            .push((name.to_owned(), String::from_utf8_lossy(value).into_owned()));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_measures() {
        let h = Headers::new()
            .with("Nats-Msg-Id", "p1-0-42")
            .unwrap()
            .with("X-Key", "a b")
            .unwrap();
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(
            out,
            b"NATS/1.0\r\nNats-Msg-Id: p1-0-42\r\nX-Key: a b\r\n\r\n"
        );
        assert_eq!(h.encoded_len(), out.len());
        let mut empty = Vec::new();
        Headers::new().encode(&mut empty);
        assert_eq!(empty, b"NATS/1.0\r\n\r\n");
        assert_eq!(Headers::new().encoded_len(), 12);
    }

    #[test]
    fn refuses_bad_names_and_values() {
        let mut h = Headers::new();
        for name in ["", "a b", "a:b", "a\r", "é", "a\tb", "\u{7f}"] {
            assert_eq!(
                h.append(name, "v"),
                Err(ProtoError::InvalidHeaderName),
                "{name:?}"
            );
        }
        for value in ["a\rb", "a\nb", " a", "a ", "\ta"] {
            assert_eq!(
                h.append("N", value),
                Err(ProtoError::InvalidHeaderValue),
                "{value:?}"
            );
        }
        assert!(h.is_empty());
        h.append("N", "").unwrap();
        h.append("N", "é ok").unwrap();
        assert_eq!(h.get_all("N").collect::<Vec<_>>(), ["", "é ok"]);
        assert_eq!(h.get("n"), None);
    }

    #[test]
    fn parses_status_and_headers() {
        let b = parse_block(b"NATS/1.0 503\r\n\r\n").unwrap();
        assert_eq!(b.status, Some(503));
        assert_eq!(b.description, None);
        assert!(b.headers.is_empty());

        let b = parse_block(b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\n\r\n")
            .unwrap();
        assert_eq!(b.status, Some(408));
        assert_eq!(b.description.as_deref(), Some("Request Timeout"));
        assert_eq!(b.headers.get("Nats-Pending-Messages"), Some("1"));

        let b = parse_block(b"NATS/1.0\r\nA:  x y \r\nA:z\r\nB:\r\n\r\n").unwrap();
        assert_eq!(b.status, None);
        assert_eq!(b.headers.get_all("A").collect::<Vec<_>>(), ["x y", "z"]);
        assert_eq!(b.headers.get("B"), Some(""));
    }

    #[test]
    fn refuses_bad_blocks() {
        let bad: &[&[u8]] = &[
            b"",
            b"NATS/1.0\r\n",
            b"NATS/2.0\r\n\r\n",
            b"HTTP/1.1\r\n\r\n",
            b"NATS/1.0x\r\n\r\n",
            b"NATS/1.0 50\r\n\r\n",
            b"NATS/1.0 5034\r\n\r\n",
            b"NATS/1.0 abc\r\n\r\n",
            b"NATS/1.0\r\nno colon\r\n\r\n",
            b"NATS/1.0\r\n: empty name\r\n\r\n",
            b"NATS/1.0\r\nA: b\nC: d\r\n\r\n",
            b"NATS/1.0\r\nA: b\r\n\r\nC: d\r\n\r\n",
        ];
        for block in bad {
            assert!(
                matches!(parse_block(block), Err(ProtoError::HeaderBlock { .. })),
                "accepted {:?}",
                String::from_utf8_lossy(block)
            );
        }
    }

    #[test]
    fn round_trips() {
        let h = Headers::new()
            .with("Nats-Msg-Id", "x")
            .unwrap()
            .with("Nats-Expected-Stream", "S")
            .unwrap()
            .with("Nats-Msg-Id", "y")
            .unwrap();
        let mut out = Vec::new();
        h.encode(&mut out);
        let b = parse_block(&out).unwrap();
        assert_eq!(b.headers, h);
        assert_eq!(b.status, None);
    }
}
