//! The connection status badge: always says what is really going on.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::live::status::Status;
use crate::url::percent_encode;

#[component]
pub fn StatusBadge(#[prop(into)] status: Signal<Status>) -> impl IntoView {
    // Signing in again returns to this page (a shared link's grant too).
    let location = use_location();
    let sign_in = move || {
        let mut here = location.pathname.get();
        location.search.with(|q| {
            if !q.is_empty() {
                here.push('?');
                here.push_str(q);
            }
        });
        format!("/signin?next={}", percent_encode(&here))
    };
    // On a phone a good connection is a dot; a tap says it in words (any
    // other state is always said in words).
    let words = RwSignal::new(false);
    view! {
        <div
            class="status"
            role="status"
            data-testid="connection-status"
            data-state=move || status.with(Status::key)
            class:words=move || words.get()
        >
            <button
                type="button"
                class="status-tap"
                data-testid="status-tap"
                aria-label=move || format!("Connection: {}", status.with(Status::label))
                on:click=move |_| words.update(|w| *w = !*w)
            >
                <span class="dot" aria-hidden="true"></span>
                <span class="label">{move || status.with(Status::label)}</span>
            </button>
            <Show when=move || status.with(|s| *s == Status::SignedOut)>
                <a href=sign_in rel="external" data-testid="sign-in-again">
                    "Sign in again"
                </a>
            </Show>
        </div>
    }
}
