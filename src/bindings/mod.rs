//! The JS bindings (wasm32 only): the core behind a plain C ABI, for the package's own JS
//! (`js/tributary.js`), which owns the classes, the options, the promises and the result
//! objects. No logic lives here.
//!
//! Every export takes and returns numbers. A call's strings and bytes come in through
//! the staging area ([`stage`]: JS writes them into wasm memory, in the layouts
//! [`convert`] reads), and its answer goes out through one buffer, read by JS with a
//! `DataView` before the next call: an export returning an answer returns its address,
//! or minus the address of an error (`f64` extra number, then the code and the message
//! as length-prefixed UTF-8, [`error`]). The module imports nothing: time and random
//! seeds come in as arguments, and what a poll settles waits in the client for JS to
//! take it (`report`).

// Exported items are reached from JS through the wasm exports, not through Rust paths.
#![allow(unreachable_pub)]

use alloc::vec::Vec;
use core::cell::{Ref, RefCell, RefMut};

mod client;
mod convert;
mod error;
#[cfg(not(feature = "std"))]
mod runtime;
#[cfg(feature = "sink")]
mod sink;

/// A value only this (single) thread touches. The wasm build has no threads (no
/// `atomics` target feature), so sharing the cell between "threads" cannot happen.
pub struct OneThread<T>(pub RefCell<T>);

// SAFETY: wasm32 without the `atomics` feature runs one thread; nothing else can see it.
#[cfg(not(target_feature = "atomics"))]
unsafe impl<T> Sync for OneThread<T> {}

impl<T> OneThread<T> {
    /// The value, mutably. Borrowing it twice is a bug (no export calls back into
    /// another), so it traps, as a panic would, without core's panic message text.
    pub fn mutate(&self) -> RefMut<'_, T> {
        self.0.try_borrow_mut().unwrap_or_else(|_| trap())
    }

    /// The value, shared (traps while it is borrowed mutably, as [`Self::mutate`]).
    pub fn read(&self) -> Ref<'_, T> {
        self.0.try_borrow().unwrap_or_else(|_| trap())
    }
}

/// What a bug does here: trap (`unreachable`, a `RuntimeError` in JS), as the panic
/// handler does, but without reaching `core::panicking` (whose message text and
/// formatting stay out of the wasm then).
pub fn trap() -> ! {
    core::arch::wasm32::unreachable()
}

/// Where JS writes a call's input (8 spare bytes to align its start).
static STAGE: OneThread<Vec<u8>> = OneThread(RefCell::new(Vec::new()));
/// The answer of the last call.
static OUT: OneThread<Vec<u8>> = OneThread(RefCell::new(Vec::new()));

/// Makes the staging area at least `bytes` long; returns where it starts (8-byte
/// aligned) in wasm memory. The address holds until the next `stage` asking for more.
#[no_mangle]
pub extern "C" fn stage(bytes: u32) -> u32 {
    let mut s = STAGE.mutate();
    let need = bytes as usize + 8;
    if s.len() < need {
        *s = alloc::vec![0; need];
    }
    let at = s.as_ptr() as usize;
    (at + (8 - at % 8) % 8) as u32
}

/// The staging area from its aligned start.
fn staged<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    f(&staged_area())
}

/// [`staged`]'s borrow, made once for every export (not inlined into each).
#[inline(never)]
fn staged_area() -> Ref<'static, [u8]> {
    Ref::map(STAGE.read(), |s| {
        let skew = (8 - s.as_ptr() as usize % 8) % 8;
        s.get(skew..).unwrap_or(&[])
    })
}

/// Writes an answer with `f` into the answer buffer; returns its address, or (`f`
/// failing) minus the address of the error.
fn answer(f: impl FnOnce(&mut Vec<u8>) -> Result<(), error::Fail>) -> f64 {
    let mut out = OUT.mutate();
    out.clear();
    match f(&mut out) {
        Ok(()) => out.as_ptr() as usize as f64,
        Err(error::Fail) => error::Fail::address(),
    }
}

/// A number answer: `r`'s value, or minus the address of its error.
fn ret(r: Result<f64, error::Fail>) -> f64 {
    r.unwrap_or_else(|_| error::Fail::address())
}

/// `v` as a little-endian u32 into `out`.
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// `v` as a little-endian f64 into `out`.
pub fn put_f64(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Bytes with their u32 length before them.
pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u32(out, b.len() as u32);
    out.extend_from_slice(b);
}

/// The partition a keyed record lands in (`partitionFor`): the key is the first
/// `key_len` staged bytes; JS checked `partition_count` (1..=65536).
#[no_mangle]
pub extern "C" fn partition_for(key_len: u32, partition_count: u32) -> u32 {
    staged(|s| {
        let key = s.get(..key_len as usize).unwrap_or(&[]);
        crate::partition_for_key(key, partition_count)
    })
}
