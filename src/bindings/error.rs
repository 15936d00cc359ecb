//! Errors on their way to JS: a code, a message, and one number whose meaning the call
//! names (`nextAvailable` of `OFFSET_EVICTED`, a `sendAll` entry's `index`, a corrupt
//! batch's reason). Each is written into its own buffer where it is made (so a failing
//! call carries only a marker, [`Fail`], back to its export); `js/tributary.js` makes a
//! `TributaryError` of it.

use alloc::vec::Vec;
use core::cell::RefCell;

use super::{put_bytes, put_f64, OneThread};

/// The last error: the extra number (f64, NaN: none), then the code and the message
/// (each u32 length, UTF-8).
static ERR: OneThread<Vec<u8>> = OneThread(RefCell::new(Vec::new()));

/// A call failed; what with is in the error buffer.
pub struct Fail;

impl Fail {
    /// Sets the error's number.
    pub fn with(self, extra: f64) -> Self {
        match ERR.mutate().first_chunk_mut::<8>() {
            Some(head) => *head = extra.to_le_bytes(),
            None => super::trap(),
        }
        self
    }

    /// Minus the address of the error (what an export returns for it).
    pub fn address() -> f64 {
        -(ERR.read().as_ptr() as usize as f64)
    }
}

fn fail(code: &str, message: &str) -> Fail {
    let mut e = ERR.mutate();
    e.clear();
    put_f64(&mut e, f64::NAN);
    put_bytes(&mut e, code.as_bytes());
    put_bytes(&mut e, message.as_bytes());
    Fail
}

impl From<crate::Error> for Fail {
    fn from(e: crate::Error) -> Self {
        fail(e.code(), &e.message())
    }
}

/// Bad argument values: `INVALID_ARGUMENT`.
pub fn invalid_argument(message: &str) -> Fail {
    fail("INVALID_ARGUMENT", message)
}
