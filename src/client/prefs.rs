//! Choices remembered per browser (local storage): whether the home page
//! follows new calls, and whether critical alerts notify.

const FOLLOW_KEY: &str = "travoiq.follow";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// Whether the home page follows new calls: on unless turned off here.
pub fn follows_new_calls() -> bool {
    storage()
        .and_then(|s| s.get_item(FOLLOW_KEY).ok().flatten())
        .is_none_or(|v| v != "off")
}

pub fn remember_follow(on: bool) {
    if let Some(storage) = storage() {
        // A browser that refuses (private mode, quota) just forgets.
        let _ = storage.set_item(FOLLOW_KEY, if on { "on" } else { "off" });
    }
}

const NOTIFY_KEY: &str = "travoiq.notifyCritical";

/// Whether critical alerts notify in this browser: off unless turned on.
pub fn notifies_critical() -> bool {
    storage()
        .and_then(|s| s.get_item(NOTIFY_KEY).ok().flatten())
        .is_some_and(|v| v == "on")
}

pub fn remember_notify_critical(on: bool) {
    if let Some(storage) = storage() {
        let _ = storage.set_item(NOTIFY_KEY, if on { "on" } else { "off" });
    }
}
