//! JS errors: every failure reaching JS is a `TributaryError` (an `Error` subclass defined
//! by the package's entry module and handed in with `setErrorClass`) with a stable `code`.
//! Before that class is set, a plain `Error` with `name` and `code` is made instead.

use core::cell::RefCell;

use js_sys::{Array, Function, Reflect};
use wasm_bindgen::prelude::*;

/// A value only this (single) thread touches. The wasm build has no threads (no
/// `atomics` target feature), so sharing the cell between "threads" cannot happen.
struct OneThread<T>(RefCell<Option<T>>);

// SAFETY: wasm32 without the `atomics` feature runs one thread; nothing else can see it.
#[cfg(not(target_feature = "atomics"))]
#[allow(unsafe_code)]
unsafe impl<T> Sync for OneThread<T> {}

static ERROR_CLASS: OneThread<Function> = OneThread(RefCell::new(None));

/// Registers the `TributaryError` class the entry module defines.
#[wasm_bindgen(js_name = "setErrorClass", skip_typescript)] // internal: called by the entry module
pub fn set_error_class(class: Function) {
    *ERROR_CLASS.0.borrow_mut() = Some(class);
}

/// A `TributaryError` with `code` and `message`.
pub fn js_error(code: &str, message: &str) -> JsValue {
    let made = ERROR_CLASS.0.borrow().as_ref().and_then(|class| {
        let args = Array::of2(&JsValue::from_str(code), &JsValue::from_str(message));
        Reflect::construct(class, &args).ok()
    });
    made.unwrap_or_else(|| {
        let e = js_sys::Error::new(message);
        e.set_name("TributaryError");
        let _ = Reflect::set(&e, &"code".into(), &code.into());
        e.into()
    })
}

/// A core error as a JS error.
pub fn from_core(e: &crate::Error) -> JsValue {
    js_error(e.code(), &e.message())
}

/// Bad argument types and values: `INVALID_ARGUMENT`.
pub fn invalid_argument(message: &str) -> JsValue {
    js_error("INVALID_ARGUMENT", message)
}
