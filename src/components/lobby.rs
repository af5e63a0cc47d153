//! The dashboard without a call to show: says why, and listens for new
//! calls; or says that the session ended.

use leptos::prelude::*;

use crate::components::new_call_notice::NewCallNotice;
use crate::components::status::StatusBadge;
use crate::hooks::live::use_live;
use crate::live::state::{LiveState, LobbyReason};
use crate::live::status::Status;

/// No call to show: says why, and listens for new calls.
#[component]
pub fn Lobby(reason: LobbyReason) -> impl IntoView {
    let (title, detail) = match &reason {
        LobbyReason::Waiting => (
            "Waiting for the first call".to_string(),
            "The transcript appears here as soon as a call starts.".to_string(),
        ),
        LobbyReason::Unknown(id) => (
            format!("No call with id {id}"),
            "Check the id, or wait: new calls appear here when they start.".to_string(),
        ),
        // The message already says what a call id looks like.
        LobbyReason::Invalid(message) => (
            message.clone(),
            "Check the address, or type the call id above.".to_string(),
        ),
        LobbyReason::Link(message) => (
            message.clone(),
            "New calls of yours still appear here when they start.".to_string(),
        ),
        LobbyReason::Failed(message) => {
            (message.clone(), "Reload the page to try again.".to_string())
        }
    };
    let live = use_live(LiveState::lobby(reason));
    let status = Memo::new(move |_| live.with(LiveState::status));

    view! {
        <div class="call-head">
            <StatusBadge status />
        </div>
        <NewCallNotice live />
        <section class="empty-state" data-testid="empty-state">
            <h2>{title}</h2>
            <p>{detail}</p>
        </section>
    }
}

/// The session ended while the page was open.
#[component]
pub fn SignedOut() -> impl IntoView {
    view! {
        <div class="call-head">
            <StatusBadge status=Status::SignedOut />
        </div>
        <section class="empty-state" data-testid="empty-state">
            <h2>"Your session ended"</h2>
            <p>"Sign in again to keep watching."</p>
        </section>
    }
}
