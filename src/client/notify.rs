//! Browser notifications and a short chime, for critical alerts (off
//! unless switched on in this browser). Everything here may be refused
//! by the browser; refusals are quiet.

use wasm_bindgen::JsCast;

/// Whether this browser lets the page notify.
pub fn allowed() -> bool {
    web_sys::Notification::permission() == web_sys::NotificationPermission::Granted
}

/// Asks the browser (once it has a user's click) whether the page may
/// notify; whether it may.
pub async fn ask() -> bool {
    if allowed() {
        return true;
    }
    let Ok(asked) = web_sys::Notification::request_permission() else {
        return false;
    };
    match wasm_bindgen_futures::JsFuture::from(asked).await {
        Ok(answer) => answer.as_string().as_deref() == Some("granted"),
        Err(_) => false,
    }
}

/// Shows a notification (tagged, so a burst of alerts on one call shows
/// as one).
pub fn notify(title: &str, body: &str, tag: &str) {
    if !allowed() {
        return;
    }
    let options = web_sys::NotificationOptions::new();
    options.set_body(body);
    options.set_tag(tag);
    let _ = web_sys::Notification::new_with_options(title, &options);
}

/// A short two-tone chime (a quarter of a second).
pub fn chime() {
    let Ok(audio) = web_sys::AudioContext::new() else {
        return;
    };
    let now = audio.current_time();
    for (i, hz) in [880.0_f32, 660.0].into_iter().enumerate() {
        let (Ok(tone), Ok(gain)) = (audio.create_oscillator(), audio.create_gain()) else {
            return;
        };
        tone.frequency().set_value(hz);
        gain.gain().set_value(0.08);
        let start = now + i as f64 * 0.13;
        let wired = tone
            .connect_with_audio_node(&gain)
            .and_then(|_| gain.connect_with_audio_node(&audio.destination()));
        if wired.is_ok() {
            let _ = tone.start_with_when(start);
            let _ = tone.stop_with_when(start + 0.12);
        }
    }
    // Closed once the tones are over, so contexts do not pile up.
    let closing = audio.unchecked_into::<web_sys::BaseAudioContext>();
    let later = wasm_bindgen::closure::Closure::once_into_js(move || {
        if let Ok(ctx) = closing.dyn_into::<web_sys::AudioContext>() {
            let _ = ctx.close();
        }
    });
    if let Some(window) = web_sys::window() {
        let _ = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(later.unchecked_ref(), 1_000);
    }
}
