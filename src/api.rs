//! Server functions: how the page gets a call and its transcript so far.
//! The bodies run on the server over the same queries as the REST API.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::CallSnapshot;

#[cfg(feature = "ssr")]
fn state() -> Result<crate::server::state::AppState, AppError> {
    use_context::<crate::server::state::AppState>()
        .ok_or_else(|| AppError::Transport("server state missing".into()))
}

/// A call by id (as typed or as in the address bar).
#[server(prefix = "/api", endpoint = "call")]
pub async fn load_call(id: String) -> Result<CallSnapshot, AppError> {
    let state = state()?;
    crate::server::queries::snapshot(state.hub.store().as_ref(), &id).await
}

/// The newest call, if any has started.
#[server(prefix = "/api", endpoint = "latest")]
pub async fn load_latest() -> Result<Option<CallSnapshot>, AppError> {
    let state = state()?;
    crate::server::queries::latest_snapshot(state.hub.store().as_ref()).await
}
