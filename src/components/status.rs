//! The connection status: always says what is really going on.

use leptos::prelude::*;

/// Whether a socket handler wants more messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// The state of the live link, as the socket reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Live,
    Reconnecting,
    /// Connected to the server, but its data source is down.
    Unavailable,
    /// The session ended: nothing more will come until the user signs in.
    SignedOut,
}

impl From<Link> for Status {
    fn from(link: Link) -> Self {
        match link {
            Link::Connecting => Status::Connecting,
            Link::Live => Status::Live,
            Link::Reconnecting => Status::Reconnecting,
            Link::Unavailable => Status::Unavailable,
            Link::SignedOut => Status::SignedOut,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Live,
    Reconnecting,
    /// The server is up but its data source is not.
    Unavailable,
    SignedOut,
    Ended,
    Waiting,
    UnknownCall,
    InvalidCall,
    Error(String),
}

impl Status {
    pub fn label(&self) -> String {
        match self {
            Status::Connecting => "Connecting…".into(),
            Status::Live => "Live".into(),
            Status::Reconnecting => "Connection lost, reconnecting…".into(),
            Status::Unavailable => "Data source unavailable, retrying…".into(),
            Status::SignedOut => "Signed out".into(),
            Status::Ended => "Call ended".into(),
            Status::Waiting => "Waiting for the first call".into(),
            Status::UnknownCall => "Unknown call".into(),
            Status::InvalidCall => "Invalid call id".into(),
            Status::Error(reason) => format!("Error: {reason}"),
        }
    }

    /// A stable name for styling and tests.
    pub fn key(&self) -> &'static str {
        match self {
            Status::Connecting => "connecting",
            Status::Live => "live",
            Status::Reconnecting => "reconnecting",
            Status::Unavailable => "unavailable",
            Status::SignedOut => "signed-out",
            Status::Ended => "ended",
            Status::Waiting => "waiting",
            Status::UnknownCall => "unknown",
            Status::InvalidCall => "invalid",
            Status::Error(_) => "error",
        }
    }
}

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
