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
                <a href=sign_in rel="external" data-testid="sign-in-again">
                    "Sign in again"
                </a>
            </Show>
        </div>
    }
}
