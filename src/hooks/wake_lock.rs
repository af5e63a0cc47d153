//! Keeps a phone's screen on while a live call is on screen and the page is
//! visible; lets it sleep when the call ends, the connection is lost or the
//! page goes. Says when the browser can't.

use leptos::prelude::*;

/// `wanted`: a live call is being followed. Answers whether the screen
/// should stay on but can't (so the page can say so).
pub fn use_wake_lock(wanted: Signal<bool>) -> Signal<bool> {
    let refused = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    browser::keep_awake(wanted, refused);
    #[cfg(not(feature = "hydrate"))]
    let _ = wanted;
    refused.into()
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::JsValue;
    use web_sys::VisibilityState;

    use crate::client::wake_lock::{acquire, is_handheld, release};

    pub fn keep_awake(wanted: Signal<bool>, refused: RwSignal<bool>) {
        if !is_handheld() {
            return;
        }
        let visible = RwSignal::new(is_visible());
        // The browser drops the lock when the page is hidden: asked again
        // when it is shown.
        let listener = window_event_listener(leptos::ev::visibilitychange, move |_| {
            visible.set(is_visible());
        });
        let held = StoredValue::new_local(None::<JsValue>);
        let asking = StoredValue::new(false);
        let want = Memo::new(move |_| wanted.get() && visible.get());
        Effect::new(move |_| {
            if want.get() {
                if held.with_value(Option::is_some) || asking.get_value() {
                    return;
                }
                asking.set_value(true);
                leptos::task::spawn_local(async move {
                    let got = acquire().await;
                    asking.try_set_value(false);
                    match got {
                        // Still wanted once the browser answered: keep it.
                        Ok(sentinel) if want.try_get_untracked().unwrap_or(false) => {
                            held.try_set_value(Some(sentinel));
                            refused.try_set(false);
                        }
                        Ok(sentinel) => release(&sentinel),
                        Err(why) => {
                            leptos::logging::warn!("screen wake lock: {why}");
                            refused.try_set(true);
                        }
                    }
                });
            } else {
                if let Some(sentinel) = held.try_update_value(Option::take).flatten() {
                    release(&sentinel);
                }
                refused.set(false);
            }
        });
        on_cleanup(move || {
            listener.remove();
            if let Some(sentinel) = held.try_update_value(Option::take).flatten() {
                release(&sentinel);
            }
        });
    }

    fn is_visible() -> bool {
        document().visibility_state() == VisibilityState::Visible
    }
}
