//! What a server function needs to answer like every other door: its
//! state and the asking viewer (through the same extractor as the REST
//! handlers), and its error's HTTP status set from the one error table.

use leptos::prelude::use_context;

use crate::error::AppError;
use crate::server::access::{Asking, Door};

use super::extract::{client_addr, SignedIn};
use super::state::AppState;

/// The server's state.
pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| AppError::Transport("server state missing".into()))
}

/// The state and the signed-in viewer asking, through `door`.
pub fn asking(door: Door) -> Result<(AppState, Asking), AppError> {
    let state = state()?;
    let parts = use_context::<axum::http::request::Parts>()
        .ok_or_else(|| AppError::Transport("request missing".into()))?;
    let SignedIn(viewer) = SignedIn::from_parts(&parts)?;
    Ok((state, Asking::new(viewer, client_addr(&parts), door)))
}

/// The result, with the response's status set from [`AppError::status`]
/// when it is an error and the function was called over HTTP (server
/// functions otherwise answer 500). A page rendering on the server calls
/// them too: it keeps its 200 and shows the error in its words.
pub fn answer<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    let called_over_http = use_context::<axum::http::request::Parts>()
        .is_some_and(|parts| parts.uri.path().starts_with("/api/"));
    if let (Err(e), true) = (&result, called_over_http) {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = axum::http::StatusCode::from_u16(e.status()) {
                response.set_status(status);
            }
        }
    }
    result
}
