//! The connection status badge: always says what is really going on.

use leptos::prelude::*;

use crate::live::status::Status;

#[component]
pub fn StatusBadge(#[prop(into)] status: Signal<Status>) -> impl IntoView {
    view! {
        <div
            class="status"
            role="status"
            data-testid="connection-status"
            data-state=move || status.with(Status::key)
        >
            <span class="dot" aria-hidden="true"></span>
            <span>{move || status.with(Status::label)}</span>
            <Show when=move || status.with(|s| *s == Status::SignedOut)>
                <a href="/signin" rel="external" data-testid="sign-in-again">
                    "Sign in again"
                </a>
            </Show>
        </div>
    }
}
