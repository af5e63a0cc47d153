//! The Screen Wake Lock API, where the browser has it: keeps a phone's
//! screen on. Reached through `Reflect` (web-sys has it only behind its
//! unstable APIs).

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// The browser's `navigator.wakeLock`, if it has one.
fn wake_lock() -> Option<JsValue> {
    let navigator = leptos::prelude::window().navigator();
    Reflect::get(&navigator, &JsValue::from_str("wakeLock"))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// A method of `target`, to call.
fn method(target: &JsValue, name: &str) -> Option<Function> {
    Reflect::get(target, &JsValue::from_str(name))
        .ok()?
        .dyn_into::<Function>()
        .ok()
}

/// Asks to keep the screen on; the lock's sentinel (to release it), or why
/// the browser said no.
pub async fn acquire() -> Result<JsValue, String> {
    let lock = wake_lock().ok_or("this browser can't keep the screen on")?;
    let request = method(&lock, "request").ok_or("this browser can't keep the screen on")?;
    let promise = request
        .call1(&lock, &JsValue::from_str("screen"))
        .ok()
        .and_then(|p| p.dyn_into::<Promise>().ok())
        .ok_or("the screen wake lock could not be asked for")?;
    JsFuture::from(promise).await.map_err(|e| {
        e.as_string()
            .unwrap_or_else(|| "the browser refused".into())
    })
}

/// Lets the screen sleep again.
pub fn release(sentinel: &JsValue) {
    if let Some(release) = method(sentinel, "release") {
        let _ = release.call0(sentinel);
    }
}

/// Whether this is a touch device (a phone or tablet), whose screen sleeps
/// within a minute: desktops keep their own screen-lock policy.
pub fn is_handheld() -> bool {
    leptos::prelude::window()
        .match_media("(pointer: coarse)")
        .ok()
        .flatten()
        .is_some_and(|m| m.matches())
}
