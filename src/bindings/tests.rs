//! wasm-bindgen tests of the code that touches JS values. `make test-wasm`
//! runs them under Node and in headless Chromium (wasm-bindgen-test-runner with
//! Debian's chromedriver).

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::wasm_bindgen_test;

use super::client::Tributary;
use super::convert;

fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

#[wasm_bindgen_test]
fn numbers_are_checked_without_float_formatting() {
    let msg = |v: JsValue| convert::integer(&v, "n", 0.0, 10.0).unwrap_err();
    assert_eq!(
        msg(JsValue::from(f64::NAN)),
        "n must be a whole number, got NaN"
    );
    assert_eq!(msg(JsValue::from(1.5)), "n must be a whole number");
    assert_eq!(
        msg(JsValue::from(f64::INFINITY)),
        "n must be a whole number"
    );
    assert_eq!(msg(JsValue::from(-3.0)), "n must be 0..=10, got -3");
    assert_eq!(
        msg(JsValue::from(1e300)),
        "n must be 0..=10, got a number out of range"
    );
    assert_eq!(msg("4".into()), "n must be a number");
    assert_eq!(
        convert::integer(&JsValue::from(10.0), "n", 0.0, 10.0),
        Ok(10.0)
    );
}

#[wasm_bindgen_test]
fn a_lone_surrogate_is_refused_not_replaced() {
    let lone = js_sys::JsString::from_char_code1(0xd800);
    let e = convert::bytes(&lone.into(), "key").unwrap_err();
    assert_eq!(
        Reflect::get(&e, &"code".into())
            .unwrap()
            .as_string()
            .unwrap(),
        "INVALID_ARGUMENT"
    );
    assert_eq!(convert::bytes(&"é".into(), "key").unwrap(), "é".as_bytes());
}

#[wasm_bindgen_test]
fn each_poll_hands_its_tickets_to_the_hook() {
    let client = Tributary::new(object(&[("seed", 7.into())])).unwrap();
    client
        .create_topic("t".into(), object(&[("partitions", 3.into())]))
        .unwrap();
    let producer = client
        .topic_producer("t".into(), JsValue::UNDEFINED)
        .unwrap();
    // (ticket, partition, offset) per settled record; the errors' codes.
    let got: Rc<RefCell<Vec<(f64, f64, f64)>>> = Rc::default();
    let codes: Rc<RefCell<Vec<JsValue>>> = Rc::default();
    let (g, c) = (got.clone(), codes.clone());
    let hook =
        Closure::<dyn FnMut(u32, u32, Array)>::new(move |ptr: u32, n: u32, errors: Array| {
            // SAFETY: `ptr` is the report `deliver` wrote: 2 + 4 * n f64 in wasm memory.
            #[allow(unsafe_code)]
            let out = unsafe { core::slice::from_raw_parts(ptr as *const f64, 2 + 4 * n as usize) };
            for r in out[2..].chunks_exact(4) {
                g.borrow_mut().push((r[0], r[1], r[2]));
            }
            for e in errors.iter() {
                c.borrow_mut()
                    .push(Reflect::get(&e, &"code".into()).unwrap());
            }
        });
    client.set_hook(hook.as_ref().unchecked_ref::<js_sys::Function>().clone());
    let a = producer
        .send_any("k".into(), "v".into(), JsValue::UNDEFINED)
        .unwrap();
    let b = producer
        .send_any("k".into(), "w".into(), JsValue::UNDEFINED)
        .unwrap();
    assert_eq!((a, b), (0.0, 1.0));
    client.poll(false);
    let p = f64::from(crate::partition_for_key(b"k", 3));
    assert_eq!(*got.borrow(), [(0.0, p, 0.0), (1.0, p, 1.0)]);
    // A record refused at once gets no ticket: the call throws.
    let bad = object(&[("partition", 9.into())]);
    assert!(producer.send_any("k".into(), "v".into(), bad).is_err());
    assert!(codes.borrow().is_empty());
}
