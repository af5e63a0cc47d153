//! The monitoring controls: a call id to open, and the follow switch.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::context::{Follow, Newest, Shown};
use crate::error::AppError;
use crate::model::CallId;

/// The dashboard's address for a call.
pub fn call_path(id: &CallId) -> String {
    format!("/calls/{id}")
}

#[component]
pub fn Controls() -> impl IntoView {
    let follow = expect_context::<Follow>().0;
    let input = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let navigate = use_navigate();

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let raw = input.get_untracked();
        match CallId::parse(&raw) {
            Ok(id) => {
                error.set(None);
                // Watching a chosen call: stop jumping to new ones.
                follow.set(false);
                navigate(&call_path(&id), Default::default());
            }
            Err(reason) => error.set(Some(AppError::invalid_call_id(&raw, reason).to_string())),
        }
    };

    // Turned on: to the newest call heard of, at once (none heard of: the
    // one shown is the newest). Either way, remembered for the next time
    // this browser opens the dashboard at `/`.
    let to_newest = use_navigate();
    let newest = use_context::<Newest>().map(|n| n.0);
    let shown = use_context::<Shown>().map(|s| s.0);
    let switch_follow = move |ev: leptos::ev::Event| {
        let on = event_target_checked(&ev);
        follow.set(on);
        #[cfg(feature = "hydrate")]
        crate::client::prefs::remember_follow(on);
        let newest = newest.and_then(|n| n.get_untracked());
        let shown = shown.and_then(|s| s.get_untracked());
        if let Some(id) = newest.filter(|id| on && Some(id) != shown.as_ref()) {
            to_newest(&call_path(&id), Default::default());
        }
    };

    view! {
        <form class="controls" on:submit=submit novalidate>
            <div class="field">
                <label for="call-id">"Call ID"</label>
                <input
                    id="call-id"
                    name="call-id"
                    type="text"
                    data-testid="call-id-input"
                    autocomplete="off"
                    autocapitalize="off"
                    spellcheck="false"
                    placeholder="0f8fad5b-d9cb-469f-a165-70867728950e"
                    aria-invalid=move || error.with(Option::is_some).to_string()
                    bind:value=input
                />
            </div>
            <button type="submit" class="primary" data-testid="start-monitoring">
                "Start Monitoring"
            </button>
            <label class="switch">
                <input
                    type="checkbox"
                    role="switch"
                    data-testid="follow-switch"
                    checked=move || follow.get()
                    prop:checked=move || follow.get()
                    on:change=switch_follow
                />
                <span class="track" aria-hidden="true"></span>
                <span>"Follow new calls"</span>
            </label>
            <Show when=move || error.with(Option::is_some)>
                <p class="field-error" role="alert" data-testid="call-id-error">
                    {move || error.get()}
                </p>
            </Show>
        </form>
    }
}
