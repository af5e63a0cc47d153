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
/// when it is an error (server functions otherwise answer 500).
pub fn answer<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(e) = &result {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = axum::http::StatusCode::from_u16(e.status()) {
                response.set_status(status);
            }
        }
    }
    result
}
