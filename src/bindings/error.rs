//! JS errors: every failure reaching JS is a `TributaryError` (an `Error` subclass defined
//! by the package's entry module and handed in with `setErrorClass`) with a stable `code`.
//! Before that class is set, a plain `Error` with `name` and `code` is made instead.

use std::cell::RefCell;

use js_sys::{Array, Function, Reflect};
use wasm_bindgen::prelude::*;

thread_local! {
    static ERROR_CLASS: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// Registers the `TributaryError` class the entry module defines.
#[wasm_bindgen(js_name = "setErrorClass", skip_typescript)] // internal: called by the entry module
pub fn set_error_class(class: Function) {
    ERROR_CLASS.with(|c| *c.borrow_mut() = Some(class));
}

/// A `TributaryError` with `code` and `message`.
pub fn js_error(code: &str, message: &str) -> JsValue {
    let made = ERROR_CLASS.with(|c| {
        c.borrow().as_ref().and_then(|class| {
            let args = Array::of2(&JsValue::from_str(code), &JsValue::from_str(message));
            Reflect::construct(class, &args).ok()
        })
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
    js_error(e.code(), &e.to_string())
}

/// Bad argument types and values: `INVALID_ARGUMENT`.
pub fn invalid_argument(message: &str) -> JsValue {
    js_error("INVALID_ARGUMENT", message)
}
