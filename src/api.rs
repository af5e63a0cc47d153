//! Server functions: how the page gets a call and its transcript so far,
//! who is signed in, and a shared link. The bodies run on the server over
//! the same queries as the REST API, for the signed-in viewer only.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{CallId, CallSnapshot, User};

#[cfg(feature = "ssr")]
pub(crate) mod access {
    use crate::error::AppError;
    use crate::server::auth::gate::ClientAddr;
    use crate::server::auth::Viewer;
    use crate::server::state::AppState;

    /// The server's state, the signed-in viewer and their address.
    pub fn viewer() -> Result<(AppState, Viewer, Option<std::net::IpAddr>), AppError> {
        use leptos::prelude::use_context;
        let state = use_context::<AppState>()
            .ok_or_else(|| AppError::Transport("server state missing".into()))?;
        let parts = use_context::<axum::http::request::Parts>()
            .ok_or_else(|| AppError::Transport("request missing".into()))?;
        let viewer = parts
            .extensions
            .get::<Viewer>()
            .cloned()
            .ok_or(AppError::SignInRequired)?;
        let addr = parts.extensions.get::<ClientAddr>().map(|a| a.0);
        Ok((state, viewer, addr))
    }
}

/// A call by id (as typed or as in the address bar), with a shared link's
/// grant if the page was opened from one.
#[server(prefix = "/api", endpoint = "call")]
pub async fn load_call(id: String, grant: Option<String>) -> Result<CallSnapshot, AppError> {
    let (state, viewer, addr) = access::viewer()?;
    let asker = crate::server::queries::Asker::new(&state.auth, &viewer, addr, "page")
        .with_grant(grant.as_deref());
    asker.snapshot(state.hub.store().as_ref(), &id).await
}

/// The newest call this user may see, if any has started.
#[server(prefix = "/api", endpoint = "latest")]
pub async fn load_latest() -> Result<Option<CallSnapshot>, AppError> {
    let (state, viewer, addr) = access::viewer()?;
    let asker = crate::server::queries::Asker::new(&state.auth, &viewer, addr, "page");
    asker.latest_snapshot(state.hub.store().as_ref()).await
}

/// Who is signed in (`None` on the sign-in page).
#[server(prefix = "/api", endpoint = "me")]
pub async fn current_user() -> Result<Option<User>, AppError> {
    match access::viewer() {
        Ok((_, viewer, _)) => Ok(Some(viewer.user)),
        Err(AppError::SignInRequired) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A link to one call an agent can open (once signed in) until it
/// expires: supervisors and admins only. Returns the path and its expiry.
#[server(prefix = "/api", endpoint = "share")]
pub async fn share_call(id: CallId) -> Result<(String, i64), AppError> {
    let (state, viewer, addr) = access::viewer()?;
    if !viewer.user.role.sees_every_call() {
        return Err(AppError::NotAllowed);
    }
    let asker = crate::server::queries::Asker::new(&state.auth, &viewer, addr, "share");
    let call = asker
        .details(state.hub.store().as_ref(), id.as_str())
        .await?;
    let (grant, expires_ms) = state.auth.share(&call.call_id);
    tracing::info!(target: "audit", event = "call_shared", user = %viewer.user.username, call = %call.call_id, expires_ms);
    Ok((format!("/calls/{}?grant={grant}", call.call_id), expires_ms))
}

/// What the sign-in page may say about this server: whether demo
/// accounts exist (their passwords are in the server's log).
#[server(prefix = "/api", endpoint = "signin_hint")]
pub async fn sign_in_hint() -> Result<bool, AppError> {
    let state = use_context::<crate::server::state::AppState>()
        .ok_or_else(|| AppError::Transport("server state missing".into()))?;
    Ok(state.settings.demo_users_enabled())
}
