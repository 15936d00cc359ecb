//! wasm-bindgen tests of the code that touches timers and JS values. `make test-wasm`
//! runs them under Node and in headless Chromium (wasm-bindgen-test-runner with
//! Debian's chromedriver).

use alloc::rc::Rc;
use core::cell::{Cell, RefCell};

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

use super::client::Tributary;
use super::convert;
use super::timer::Timeout;

/// A promise that resolves after `ms`, on a timer of our own.
fn sleep(ms: u32) -> JsFuture {
    let keep: Rc<RefCell<Option<Timeout>>> = Rc::default();
    let p = Promise::new(&mut |resolve, _| {
        let k = keep.clone();
        *keep.borrow_mut() = Some(Timeout::new(ms, move || {
            let _ = resolve.call0(&JsValue::UNDEFINED);
            drop(k.borrow_mut().take()); // dropping the timer inside its own callback is fine
        }));
    });
    JsFuture::from(p)
}

fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

#[wasm_bindgen_test]
async fn a_timer_fires_once_after_its_delay() {
    let fired = Rc::new(Cell::new(0));
    let f = fired.clone();
    let start = js_sys::Date::now();
    let _t = Timeout::new(20, move || f.set(f.get() + 1));
    sleep(5).await.unwrap();
    assert_eq!(fired.get(), 0, "fired early");
    sleep(40).await.unwrap();
    assert_eq!(fired.get(), 1);
    assert!(js_sys::Date::now() - start >= 20.0);
}

#[wasm_bindgen_test]
async fn a_dropped_timer_never_fires() {
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    drop(Timeout::new(5, move || f.set(true)));
    sleep(30).await.unwrap();
    assert!(!fired.get());
}

#[wasm_bindgen_test]
async fn linger_holds_a_send_until_the_timer_appends_its_batch() {
    let client = Tributary::new(object(&[("seed", 7.into())])).unwrap();
    client
        .create_topic("t".into(), object(&[("partitions", 3.into())]))
        .unwrap();
    let producer = client
        .topic_producer("t".into(), object(&[("linger", 40.into())]))
        .unwrap();
    // When the send settled, in ms after it (NaN: not yet). The check is against the
    // linger itself, not against a sleep shorter than it, so a stalled machine cannot fail it.
    let settled_after = Rc::new(Cell::new(f64::NAN));
    let s = settled_after.clone();
    let start = js_sys::Date::now();
    let sent = producer.send("k".into(), "v".into(), JsValue::UNDEFINED);
    let done = Closure::<dyn FnMut(JsValue)>::new(move |_| s.set(js_sys::Date::now() - start));
    let _ = sent.then(&done);
    sleep(10).await.unwrap();
    let early = settled_after.get();
    assert!(
        early.is_nan() || early >= 39.0,
        "the batch was appended {early} ms after the send, before its 40 ms linger"
    );
    let md = JsFuture::from(sent).await.unwrap(); // after `done`, registered first
    let after = settled_after.get();
    assert!(
        after >= 39.0,
        "settled {after} ms after the send, before its 40 ms linger"
    );
    let offset = Reflect::get(&md, &"offset".into()).unwrap();
    assert_eq!(offset.as_f64(), Some(0.0));
    let partition = Reflect::get(&md, &"partition".into()).unwrap();
    assert_eq!(
        partition.as_f64(),
        Some(f64::from(crate::partition_for_key(b"k", 3)))
    );
}

#[wasm_bindgen_test]
async fn close_cancels_the_linger_timer_and_appends_everything() {
    let client = Tributary::new(JsValue::UNDEFINED).unwrap();
    client.create_topic("t".into(), JsValue::UNDEFINED).unwrap();
    let producer = client
        .topic_producer("t".into(), object(&[("linger", 60_000.into())]))
        .unwrap();
    let sent = producer.send(JsValue::NULL, "v".into(), JsValue::UNDEFINED);
    JsFuture::from(client.close()).await.unwrap();
    // Resolves at once: close flushed the batch its hour-long linger would have held.
    JsFuture::from(sent).await.unwrap();
    let e = client
        .create_topic("u".into(), JsValue::UNDEFINED)
        .unwrap_err();
    assert_eq!(
        Reflect::get(&e, &"code".into())
            .unwrap()
            .as_string()
            .unwrap(),
        "CLOSED"
    );
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
