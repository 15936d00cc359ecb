//! Messages built without `core::fmt`.
//!
//! The wasm build never formats with `core::fmt`: its machinery (`Formatter`, padding,
//! integer `Display`) costs kilobytes of wasm. Error messages and protocol lines are built
//! here from string pieces and integers instead. Natively nothing changes: `Display`
//! impls write the same text.

use alloc::string::String;

/// Appends the decimal digits of `n`.
fn push_decimal(out: &mut String, n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    // From the last digit back; 20 digits hold any u64.
    for d in buf.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        i -= 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(buf.get(i..).and_then(utf8).unwrap_or(""));
}

/// `bytes` as a `str` when they are UTF-8 (`core::str::from_utf8`, in fewer bytes of
/// wasm: its fast paths and their table cost about 0.9 KB, for strings of a few bytes
/// here: names, topics, header names).
#[allow(unsafe_code)]
pub(crate) fn utf8(bytes: &[u8]) -> Option<&str> {
    let mut at = 0;
    while let Some(&lead) = bytes.get(at) {
        at += 1;
        if lead < 0x80 {
            continue;
        }
        // A lead of 2, 3 or 4 bytes (0xc0, 0xc1 and past 0xf4 lead only overlong forms
        // or code points past U+10FFFF), then its continuation bytes.
        if !(0xc2..=0xf4).contains(&lead) {
            return None;
        }
        let n = lead.leading_ones() - 1;
        let mut c = u32::from(lead) & (0x3f >> n);
        for _ in 0..n {
            let b = *bytes.get(at)?;
            if b & 0xc0 != 0x80 {
                return None;
            }
            c = (c << 6) | u32::from(b & 0x3f);
            at += 1;
        }
        // No overlong form (3 bytes for less than U+0800, 4 for less than U+10000), no
        // surrogate (U+D800..=U+DFFF), nothing past U+10FFFF.
        if c >> (5 * n + 1) == 0 || c >> 11 == 0x1b || c > 0x10_ffff {
            return None;
        }
    }
    // SAFETY: every byte was checked above: ASCII, or a well-formed UTF-8 sequence of a
    // scalar value (what `from_utf8` accepts; tested against it).
    Some(unsafe { core::str::from_utf8_unchecked(bytes) })
}

/// Appends eight lowercase hex digits of `n`.
pub(crate) fn push_hex32(out: &mut String, n: u32) {
    for shift in (0..8).rev() {
        let d = ((n >> (shift * 4)) & 0xf) as u8;
        out.push(char::from(if d < 10 { b'0' + d } else { b'a' + d - 10 }));
    }
}

/// A message under construction: `Text::new().s("partition ").u(3).done()`.
#[derive(Debug, Default)]
pub(crate) struct Text(String);

impl Text {
    pub(crate) fn new() -> Self {
        Text(String::new())
    }

    /// Appends a string.
    pub(crate) fn s(&mut self, s: &str) -> &mut Self {
        self.0.push_str(s);
        self
    }

    /// Appends an unsigned integer in decimal.
    pub(crate) fn u(&mut self, n: u64) -> &mut Self {
        push_decimal(&mut self.0, n);
        self
    }

    /// Appends a signed integer in decimal.
    pub(crate) fn i(&mut self, n: i64) -> &mut Self {
        if n < 0 {
            self.s("-");
        }
        self.u(n.unsigned_abs())
    }

    /// Appends `0x` and eight lowercase hex digits.
    pub(crate) fn hex32(&mut self, n: u32) -> &mut Self {
        self.0.push_str("0x");
        push_hex32(&mut self.0, n);
        self
    }

    pub(crate) fn done(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_hex() {
        let mut t = Text::new();
        t.u(0).s(" ").u(u64::MAX);
        assert_eq!(t.done(), "0 18446744073709551615");
        let mut t = Text::new();
        t.i(i64::MIN)
            .s(" ")
            .i(-7)
            .s(" ")
            .u(42)
            .s(" ")
            .hex32(0xdead_beef)
            .s(" ")
            .hex32(1);
        assert_eq!(t.done(), "-9223372036854775808 -7 42 0xdeadbeef 0x00000001");
    }

    /// `utf8` accepts exactly what `core::str::from_utf8` accepts: every sequence of up to
    /// three bytes, the four-byte ones at the edges (leads 0xef..=0xf5 with every second
    /// byte, over interesting third and fourth bytes), and text around them.
    #[test]
    fn utf8_agrees_with_core() {
        let same = |b: &[u8]| assert_eq!(utf8(b), core::str::from_utf8(b).ok(), "{b:x?}");
        same(b"");
        for a in 0..=255u8 {
            same(&[a]);
            for b in 0..=255u8 {
                same(&[a, b]);
                for c in 0..=255u8 {
                    same(&[a, b, c]);
                }
            }
        }
        let edge = [
            0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff,
        ];
        for a in 0xef..=0xf5u8 {
            for b in 0..=255u8 {
                for c in edge {
                    for d in edge {
                        same(&[a, b, c, d]);
                        same(&[b'x', a, b, c, d, b'y']);
                    }
                }
            }
        }
        for s in [
            "topic-1",
            "é",
            "€uro",
            "𝄞 clef",
            "\u{10ffff}",
            "\u{d7ff}\u{e000}",
        ] {
            same(s.as_bytes());
        }
    }

    // proptest is a native dev-dependency.
    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]

        /// Any bytes, mostly of UTF-8 text with some bytes changed.
        #[test]
        fn utf8_agrees_with_core_on_any_bytes(
            text in ".{0,40}",
            flips in proptest::collection::vec((0usize..200, proptest::prelude::any::<u8>()), 0..3),
        ) {
            let mut b = text.into_bytes();
            for (at, v) in flips {
                if !b.is_empty() {
                    let n = b.len();
                    b[at % n] = v;
                }
            }
            proptest::prop_assert_eq!(utf8(&b), core::str::from_utf8(&b).ok());
        }
    }
}
