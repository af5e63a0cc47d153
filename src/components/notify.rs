//! "Notify me of critical alerts": a switch, off by default and
//! remembered per browser. While on, each new critical alert shows a
//! browser notification and plays a short chime.

use leptos::prelude::*;

/// `critical`: how many critical alerts the page knows of now; a rise is
/// a new one. `what`: what the notification names (a call, the floor).
#[component]
pub fn CriticalNotify(
    #[prop(into)] critical: Signal<u32>,
    #[prop(into)] what: Signal<String>,
) -> impl IntoView {
    // Off while the page is drawn on the server and hydrated; the
    // browser's remembered choice is read once the page runs.
    let on = RwSignal::new(false);
    let refused = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        on.set(crate::client::prefs::notifies_critical() && crate::client::notify::allowed())
    });
    // Only rises after the page loaded notify: the alerts it opened with
    // were there already.
    Effect::new(move |last: Option<u32>| {
        let now = critical.get();
        if let Some(before) = last {
            if now > before && on.get_untracked() {
                ring(&what.get_untracked(), now - before);
            }
        }
        now
    });
    let switch = move |ev: leptos::ev::Event| {
        let wanted = event_target_checked(&ev);
        on.set(wanted);
        refused.set(false);
        #[cfg(feature = "hydrate")]
        {
            crate::client::prefs::remember_notify_critical(wanted);
            if wanted {
                leptos::task::spawn_local(async move {
                    if !crate::client::notify::ask().await {
                        on.set(false);
                        refused.set(true);
                        crate::client::prefs::remember_notify_critical(false);
                    }
                });
            }
        }
    };
    view! {
        <label class="switch notify-switch" title="A browser notification and a chime for each new critical alert">
            <input
                type="checkbox"
                role="switch"
                data-testid="notify-critical"
                prop:checked=move || on.get()
                on:change=switch
            />
            <span class="track" aria-hidden="true"></span>
            <span>"Notify me of critical alerts"</span>
        </label>
        <Show when=move || refused.get()>
            <p class="field-error" role="alert" data-testid="notify-refused">
                "This browser does not allow notifications from this page."
            </p>
        </Show>
    }
}

fn ring(what: &str, new: u32) {
    #[cfg(feature = "hydrate")]
    {
        let body = if new == 1 {
            format!("A critical alert on {what}.")
        } else {
            format!("{new} critical alerts on {what}.")
        };
        crate::client::notify::notify("TravoIQ Monitor: critical alert", &body, "travoiq-critical");
        crate::client::notify::chime();
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (what, new);
}
