//! A one-shot timer on the host's `setTimeout`, cleared when dropped.
//!
//! Every runtime the package targets (browsers, Node, Deno, Bun, workerd) has
//! `setTimeout`/`clearTimeout` as globals. The id is kept as an opaque value: a number in
//! browsers, a `Timeout` object in Node.

use alloc::boxed::Box;

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = "setTimeout")]
    fn set_timeout(callback: &Closure<dyn FnMut()>, ms: u32) -> JsValue;
    #[wasm_bindgen(js_name = "clearTimeout")]
    fn clear_timeout(id: &JsValue);
}

/// Runs `callback` once after `ms` milliseconds unless dropped first.
pub struct Timeout {
    id: JsValue,
    _callback: Closure<dyn FnMut()>,
}

impl Timeout {
    /// Schedules `callback` after `ms` milliseconds.
    pub fn new(ms: u32, callback: impl FnOnce() + 'static) -> Self {
        let mut callback = Some(callback);
        let callback = Closure::wrap(Box::new(move || {
            if let Some(f) = callback.take() {
                f();
            }
        }) as Box<dyn FnMut()>);
        let id = set_timeout(&callback, ms);
        Timeout {
            id,
            _callback: callback,
        }
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        clear_timeout(&self.id);
    }
}

impl core::fmt::Debug for Timeout {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Timeout")
    }
}
