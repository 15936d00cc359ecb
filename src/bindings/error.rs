//! Errors on their way to JS: a code, a message, and one number whose meaning the call
//! names (`nextAvailable` of `OFFSET_EVICTED`, a `sendAll` entry's `index`, a corrupt
//! batch's reason), written into the answer buffer; `js/tributary.js` makes a
//! `TributaryError` of them.

use alloc::string::String;
use alloc::vec::Vec;

use super::{put_bytes, put_f64};

/// A failure of a call, as JS will see it.
pub struct Fail {
    code: &'static str,
    message: String,
    /// NaN: none.
    extra: f64,
}

impl Fail {
    /// `extra` for the call's number.
    pub fn with(mut self, extra: f64) -> Self {
        self.extra = extra;
        self
    }

    /// Writes `extra`, then the code and the message (each u32 length, UTF-8).
    pub fn write(&self, out: &mut Vec<u8>) {
        put_f64(out, self.extra);
        put_bytes(out, self.code.as_bytes());
        put_bytes(out, self.message.as_bytes());
    }
}

impl From<crate::Error> for Fail {
    fn from(e: crate::Error) -> Self {
        Fail {
            code: e.code(),
            message: e.message(),
            extra: f64::NAN,
        }
    }
}

/// Bad argument values: `INVALID_ARGUMENT`.
pub fn invalid_argument(message: &str) -> Fail {
    Fail {
        code: "INVALID_ARGUMENT",
        message: String::from(message),
        extra: f64::NAN,
    }
}
