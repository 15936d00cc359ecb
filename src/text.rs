//! Messages built without `core::fmt`.
//!
//! The wasm build never formats with `core::fmt`: its machinery (`Formatter`, padding,
//! integer `Display`) costs kilobytes of wasm. Error messages and protocol lines are built
//! here from string pieces and integers instead. Natively nothing changes: `Display`
//! impls write the same text.

use alloc::string::String;

/// The decimal digits of `n`, written into `buf`.
pub(crate) fn decimal(n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = 0;
    let mut n = n;
    // From the last digit back; 20 digits hold any u64.
    for (at, d) in buf.iter_mut().enumerate().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            i = at;
            break;
        }
    }
    // Only ASCII digits were written.
    buf.get(i..)
        .and_then(|b| core::str::from_utf8(b).ok())
        .unwrap_or("")
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
    pub(crate) fn s(mut self, s: &str) -> Self {
        self.0.push_str(s);
        self
    }

    /// Appends an unsigned integer in decimal.
    pub(crate) fn u(mut self, n: u64) -> Self {
        self.0.push_str(decimal(n, &mut [0; 20]));
        self
    }

    /// Appends a signed integer in decimal.
    pub(crate) fn i(self, n: i64) -> Self {
        let t = if n < 0 { self.s("-") } else { self };
        t.u(n.unsigned_abs())
    }

    /// Appends `0x` and eight lowercase hex digits.
    pub(crate) fn hex32(mut self, n: u32) -> Self {
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
        assert_eq!(decimal(0, &mut [0; 20]), "0");
        assert_eq!(decimal(u64::MAX, &mut [0; 20]), "18446744073709551615");
        let t = Text::new()
            .i(i64::MIN)
            .s(" ")
            .i(-7)
            .s(" ")
            .u(42)
            .s(" ")
            .hex32(0xdead_beef)
            .s(" ")
            .hex32(1)
            .done();
        assert_eq!(t, "-9223372036854775808 -7 42 0xdeadbeef 0x00000001");
    }
}
