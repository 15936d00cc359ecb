//! A small JSON reader and writer, written for the few documents the NATS sink handles:
//! the server's `INFO`, our `CONNECT`, and JetStream API requests and replies.
//!
//! The reader builds a [`Value`] tree from bytes. It accepts exactly RFC 8259 JSON (UTF-8,
//! no trailing commas, no comments), never panics, nests at most [`MAX_DEPTH`] levels (so
//! hostile input cannot exhaust the stack), and keeps numbers as their text: a sequence
//! number up to `2^64 - 1` reads back exactly through [`Number::as_u64`], with no float in
//! between. Objects keep their members in document order; a duplicated key is looked up
//! by its first occurrence.
//!
//! The writer half escapes strings (`"`, `\`, and every control character) and writes
//! integers without `core::fmt`.

use alloc::{string::String, vec::Vec};

use crate::text::Text;

/// How deeply arrays and objects may nest before the reader refuses the document.
pub const MAX_DEPTH: usize = 32;

/// Why a JSON document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonError {
    /// The bytes are not JSON: `offset` is where the reader stopped.
    Syntax {
        /// Byte offset of the problem in the input.
        offset: usize,
        /// What was wrong there.
        reason: &'static str,
    },
    /// The document is JSON but a field has the wrong type or is missing.
    Field {
        /// The field's name.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl JsonError {
    /// The human-readable message (the same text as `Display`), built without `core::fmt`.
    pub fn message(&self) -> String {
        match self {
            JsonError::Syntax { offset, reason } => Text::new()
                .s("invalid JSON at byte ")
                .u(*offset as u64)
                .s(": ")
                .s(reason)
                .done(),
            JsonError::Field { field, reason } => Text::new()
                .s("JSON field `")
                .s(field)
                .s("`: ")
                .s(reason)
                .done(),
        }
    }
}

impl core::fmt::Display for JsonError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for JsonError {}

/// A JSON number, kept as the text it was written with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number(String);

impl Number {
    /// The number as written in the document.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value if it is a non-negative integer (no fraction, no exponent) up to `u64::MAX`.
    pub fn as_u64(&self) -> Option<u64> {
        parse_u64(self.0.as_bytes())
    }

    /// The value if it is an integer (no fraction, no exponent) in `i64`'s range.
    pub fn as_i64(&self) -> Option<i64> {
        match self.0.as_bytes().split_first() {
            Some((b'-', digits)) => {
                let magnitude = parse_u64(digits)?;
                0i64.checked_sub_unsigned(magnitude)
            }
            _ => i64::try_from(self.as_u64()?).ok(),
        }
    }
}

/// Decimal digits only (at least one) to `u64`, refusing overflow.
pub(crate) fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(n)
}

/// A JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written.
    Number(Number),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object's members, in document order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The member `key` of an object (its first occurrence); `None` for a non-object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number as `u64`, if this is a non-negative integer that fits.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    /// The number as `i64`, if this is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// Typed access to an object's optional members: absent or `null` is `Ok(None)`, a
/// member of another type is a [`JsonError::Field`].
pub(crate) struct Fields<'a>(pub(crate) &'a Value);

impl<'a> Fields<'a> {
    fn member(&self, field: &'static str) -> Option<&'a Value> {
        self.0.get(field).filter(|v| !v.is_null())
    }

    pub(crate) fn str(&self, field: &'static str) -> Result<Option<&'a str>, JsonError> {
        self.member(field)
            .map(|v| v.as_str().ok_or(wrong(field, "expected a string")))
            .transpose()
    }

    pub(crate) fn bool(&self, field: &'static str) -> Result<Option<bool>, JsonError> {
        self.member(field)
            .map(|v| v.as_bool().ok_or(wrong(field, "expected true or false")))
            .transpose()
    }

    pub(crate) fn u64(&self, field: &'static str) -> Result<Option<u64>, JsonError> {
        self.member(field)
            .map(|v| {
                v.as_u64()
                    .ok_or(wrong(field, "expected an integer in 0..=2^64-1"))
            })
            .transpose()
    }

    pub(crate) fn i64(&self, field: &'static str) -> Result<Option<i64>, JsonError> {
        self.member(field)
            .map(|v| v.as_i64().ok_or(wrong(field, "expected a 64-bit integer")))
            .transpose()
    }

    pub(crate) fn object(&self, field: &'static str) -> Result<Option<Fields<'a>>, JsonError> {
        match self.member(field) {
            None => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(Fields(v))),
            Some(_) => Err(wrong(field, "expected an object")),
        }
    }

    /// An array of strings.
    pub(crate) fn strings(&self, field: &'static str) -> Result<Vec<String>, JsonError> {
        let Some(v) = self.member(field) else {
            return Ok(Vec::new());
        };
        let items = v
            .as_array()
            .ok_or(wrong(field, "expected an array of strings"))?;
        items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(String::from)
                    .ok_or(wrong(field, "expected an array of strings"))
            })
            .collect()
    }
}

pub(crate) fn wrong(field: &'static str, reason: &'static str) -> JsonError {
    JsonError::Field { field, reason }
}

/// Parses one JSON document (surrounding whitespace allowed, nothing else after it).
pub fn parse(input: &[u8]) -> Result<Value, JsonError> {
    let text = core::str::from_utf8(input).map_err(|e| JsonError::Syntax {
        offset: e.valid_up_to(),
        reason: "not UTF-8",
    })?;
    let mut reader = Reader { text, at: 0 };
    reader.skip_ws();
    let value = reader.value(0)?;
    reader.skip_ws();
    if reader.at != text.len() {
        return Err(reader.fail("characters after the document"));
    }
    Ok(value)
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl Reader<'_> {
    fn fail(&self, reason: &'static str) -> JsonError {
        JsonError::Syntax {
            offset: self.at,
            reason,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), JsonError> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.fail(reason))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        match self.peek() {
            None => Err(self.fail("unexpected end of input")),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.fail("unexpected character")),
        }
    }

    fn literal(&mut self, word: &'static str, value: Value) -> Result<Value, JsonError> {
        if self.text.as_bytes()[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.fail("invalid literal"))
        }
    }

    /// After an opening bracket: `item`s separated by commas, up to `close`.
    fn items(
        &mut self,
        depth: usize,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Result<(), JsonError>,
    ) -> Result<(), JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.fail("nested too deeply"));
        }
        self.at += 1; // '{' or '['
        self.skip_ws();
        if self.peek() == Some(close) {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            item(self)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(c) if c == close => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(self.fail("expected ',' or a closing bracket")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        let mut members = Vec::new();
        self.items(depth, b'}', |r| {
            if r.peek() != Some(b'"') {
                return Err(r.fail("expected a string key"));
            }
            let key = r.string()?;
            r.skip_ws();
            r.expect(b':', "expected ':'")?;
            r.skip_ws();
            members.push((key, r.value(depth)?));
            Ok(())
        })?;
        Ok(Value::Object(members))
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        let mut items = Vec::new();
        self.items(depth, b']', |r| {
            items.push(r.value(depth)?);
            Ok(())
        })?;
        Ok(Value::Array(items))
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.fail("expected a digit")),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(self.fail("expected a digit after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(self.fail("expected a digit in the exponent"));
            }
        }
        let text = self.text.get(start..self.at).unwrap_or_default();
        Ok(Value::Number(Number(String::from(text))))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut n = 0u32;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return Err(self.fail("expected 4 hex digits after \\u")),
            };
            n = (n << 4) | u32::from(d);
            self.at += 1;
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.at += 1; // '"'
        let mut out = String::new();
        loop {
            let start = self.at;
            while let Some(c) = self.peek() {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.at += 1;
            }
            // `start` and `at` both sit next to ASCII bytes (or the ends): char boundaries.
            out.push_str(self.text.get(start..self.at).unwrap_or_default());
            match self.peek() {
                None => return Err(self.fail("unterminated string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escaped = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.at += 1;
                            let c = self.unicode_escape()?;
                            out.push(c);
                            continue;
                        }
                        _ => return Err(self.fail("invalid escape")),
                    };
                    self.at += 1;
                    out.push(escaped);
                }
                Some(_) => return Err(self.fail("control character in string")),
            }
        }
    }

    /// After `\u`: one code point, or a surrogate pair written as two escapes.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !self.text.as_bytes()[self.at..].starts_with(b"\\u") {
                    return Err(self.fail("unpaired surrogate"));
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.fail("unpaired surrogate"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.fail("unpaired surrogate")),
            c => c,
        };
        char::from_u32(code).ok_or(self.fail("invalid code point"))
    }
}

/// Appends `s` as a JSON string literal, quoted and escaped.
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &c) in bytes.iter().enumerate() {
        let escape: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f | 0x7f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(c >> 4)]);
            out.push(HEX[usize::from(c & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends `n` in decimal.
pub(crate) fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(crate::text::decimal(n, &mut [0; 20]).as_bytes());
}

/// Appends `n` in decimal, with a leading `-` when negative.
pub(crate) fn push_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    push_u64(out, n.unsigned_abs());
}

/// Writes one JSON object member by member: `{"a":1,"b":"x"}`.
pub(crate) struct ObjectWriter<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> ObjectWriter<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        ObjectWriter { out, first: true }
    }

    /// Writes `"key":` (after a comma if needed) and returns the buffer for the value.
    pub(crate) fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        push_str(self.out, key);
        self.out.push(b':');
        self.out
    }

    pub(crate) fn str(&mut self, key: &str, value: &str) {
        push_str(self.key(key), value);
    }

    pub(crate) fn bool(&mut self, key: &str, value: bool) {
        let text: &[u8] = if value { b"true" } else { b"false" };
        self.key(key).extend_from_slice(text);
    }

    pub(crate) fn u64(&mut self, key: &str, value: u64) {
        push_u64(self.key(key), value);
    }

    pub(crate) fn i64(&mut self, key: &str, value: i64) {
        push_i64(self.key(key), value);
    }

    /// An array of strings.
    pub(crate) fn strs(&mut self, key: &str, values: &[String]) {
        let out = self.key(key);
        out.push(b'[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_str(out, v);
        }
        out.push(b']');
    }

    pub(crate) fn finish(self) {
        self.out.push(b'}');
    }
}

// proptest is a native dev-dependency; these run natively.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use alloc::{format, vec};
    use proptest::prelude::*;

    fn s(v: &str) -> Value {
        Value::String(String::from(v))
    }

    fn n(v: &str) -> Value {
        Value::Number(Number(String::from(v)))
    }

    #[test]
    fn reads_every_kind_of_value() {
        let v =
            parse(br#" {"a": [1, -2.5e+3, true, false, null, "x"], "b": {}, "c": []} "#).unwrap();
        assert_eq!(
            v,
            Value::Object(vec![
                (
                    "a".into(),
                    Value::Array(vec![
                        n("1"),
                        n("-2.5e+3"),
                        Value::Bool(true),
                        Value::Bool(false),
                        Value::Null,
                        s("x")
                    ])
                ),
                ("b".into(), Value::Object(vec![])),
                ("c".into(), Value::Array(vec![])),
            ])
        );
        assert_eq!(v.get("b"), Some(&Value::Object(vec![])));
        assert_eq!(v.get("zzz"), None);
        assert_eq!(s("x").get("a"), None);
    }

    #[test]
    fn strings_unescape() {
        let v = parse(br#""a\"b\\c\/d\b\f\n\r\t\u00e9\u20AC\ud83d\ude00""#).unwrap();
        assert_eq!(
            v.as_str(),
            Some("a\"b\\c/d\u{8}\u{c}\n\r\t\u{e9}\u{20ac}\u{1f600}")
        );
        assert_eq!(
            parse("\"héllo €\"".as_bytes()).unwrap().as_str(),
            Some("héllo €")
        );
    }

    #[test]
    fn integers_read_exactly() {
        let v = parse(
            b"[18446744073709551615, 18446744073709551616, -9223372036854775808, 0, 1.0, 1e3, -0]",
        )
        .unwrap();
        let items = v.as_array().unwrap();
        assert_eq!(items[0].as_u64(), Some(u64::MAX));
        assert_eq!(items[0].as_i64(), None);
        assert_eq!(items[1].as_u64(), None);
        assert_eq!(items[2].as_i64(), Some(i64::MIN));
        assert_eq!(items[2].as_u64(), None);
        assert_eq!(items[3].as_u64(), Some(0));
        assert_eq!(items[4].as_u64(), None);
        assert_eq!(items[5].as_u64(), None);
        assert_eq!(items[6].as_i64(), Some(0));
        assert_eq!(n("-9223372036854775809").as_i64(), None);
    }

    #[test]
    fn rejects_bad_documents() {
        let bad: &[&[u8]] = &[
            b"",
            b"   ",
            b"{",
            b"}",
            b"[1,]",
            b"{\"a\":1,}",
            b"{\"a\" 1}",
            b"{a:1}",
            b"[1 2]",
            b"01",
            b"-",
            b"1.",
            b"1e",
            b".5",
            b"+1",
            b"tru",
            b"nul",
            b"\"abc",
            b"\"\\x\"",
            b"\"\\u12\"",
            b"\"\\ud800\"",
            b"\"\\ud800\\u0041\"",
            b"\"\\udc00\"",
            b"\"a\nb\"",
            b"\xff",
            b"\"\xc3\"",
            b"{} {}",
            b"[1] x",
            b"NaN",
            b"'a'",
        ];
        for doc in bad {
            assert!(
                matches!(parse(doc), Err(JsonError::Syntax { .. })),
                "accepted {:?}",
                core::str::from_utf8(doc)
            );
        }
    }

    #[test]
    fn depth_is_bounded() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(ok.as_bytes()).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(
            parse(deep.as_bytes()),
            Err(JsonError::Syntax {
                offset: MAX_DEPTH,
                reason: "nested too deeply"
            })
        );
        let hostile = "[{\"a\":".repeat(100_000);
        assert!(parse(hostile.as_bytes()).is_err());
    }

    #[test]
    fn writer_escapes() {
        let mut out = Vec::new();
        let mut w = ObjectWriter::new(&mut out);
        w.str("s", "q\"b\\n\nr\rt\t\u{1}\u{7f}é");
        w.bool("t", true);
        w.bool("f", false);
        w.u64("u", u64::MAX);
        w.i64("i", i64::MIN);
        w.strs("a", &["x".into(), "y".into()]);
        w.strs("e", &[]);
        w.finish();
        let text = core::str::from_utf8(&out).unwrap();
        assert_eq!(
            text,
            r#"{"s":"q\"b\\n\nr\rt\t\u0001\u007fé","t":true,"f":false,"u":18446744073709551615,"i":-9223372036854775808,"a":["x","y"],"e":[]}"#
        );
        let back = parse(&out).unwrap();
        assert_eq!(
            back.get("s").unwrap().as_str(),
            Some("q\"b\\n\nr\rt\t\u{1}\u{7f}é")
        );
        assert_eq!(back.get("i").unwrap().as_i64(), Some(i64::MIN));
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            parse(b"[1,]").unwrap_err().to_string(),
            "invalid JSON at byte 3: unexpected character"
        );
        assert_eq!(
            wrong("seq", "expected an integer").to_string(),
            "JSON field `seq`: expected an integer"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn json_shaped_noise_never_panics(doc in "[\\[\\]{}\",:0-9eE.+\\-a-z\\\\ ]{0,64}") {
            let _ = parse(doc.as_bytes());
        }

        #[test]
        fn any_string_round_trips(text in any::<String>()) {
            let mut out = Vec::new();
            push_str(&mut out, &text);
            prop_assert_eq!(parse(&out).unwrap(), Value::String(text));
        }

        #[test]
        fn any_integer_round_trips(u in any::<u64>(), i in any::<i64>()) {
            let mut out = Vec::new();
            push_u64(&mut out, u);
            prop_assert_eq!(parse(&out).unwrap().as_u64(), Some(u));
            out.clear();
            push_i64(&mut out, i);
            prop_assert_eq!(parse(&out).unwrap().as_i64(), Some(i));
        }
    }
}
