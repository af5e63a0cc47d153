//! Server functions: how the page gets a call and its transcript so far,
//! who is signed in, and shared links (made, listed, revoked). The bodies run on the server and
//! ask [`crate::server::access`] for the call, as every door does.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{CallId, CallSnapshot, FloorRow, LinkId, LinkSummary, User};

/// A call by id (as typed or as in the address bar), with a shared link's
/// grant if the page was opened from one.
#[server(prefix = "/api", endpoint = "call")]
pub async fn load_call(id: String, grant: Option<String>) -> Result<CallSnapshot, AppError> {
    use crate::server::http::server_fn::{answer, asking};
    answer(
        async {
            let (state, who) = asking(crate::server::access::Door::Page)?;
            state.access.snapshot(&who.with_grant(grant), &id).await
        }
        .await,
    )
}

/// The newest call this user may see, if any has started.
#[server(prefix = "/api", endpoint = "latest")]
pub async fn load_latest() -> Result<Option<CallSnapshot>, AppError> {
    use crate::server::http::server_fn::{answer, asking};
    answer(
        async {
            let (state, who) = asking(crate::server::access::Door::Page)?;
            state.access.latest_snapshot(&who).await
        }
        .await,
    )
}

/// The floor: the recent calls this user may see, newest first.
#[server(prefix = "/api", endpoint = "floor")]
pub async fn load_floor() -> Result<Vec<FloorRow>, AppError> {
    use crate::server::http::server_fn::{answer, asking};
    answer(
        async {
            let (state, who) = asking(crate::server::access::Door::Floor)?;
            state.access.floor(&who).await.map(|(rows, _)| rows)
        }
        .await,
    )
}

/// Who is signed in (`None` on the sign-in page).
#[server(prefix = "/api", endpoint = "me")]
pub async fn current_user() -> Result<Option<User>, AppError> {
    use crate::server::http::server_fn::{answer, asking};
    match asking(crate::server::access::Door::Page) {
        Ok((_, who)) => Ok(Some(who.viewer.user)),
        Err(AppError::SignInRequired) => Ok(None),
        Err(e) => answer(Err(e)),
    }
}

/// A link to one call that one agent (`agent`, by username) can open, once
/// signed in, until it expires: made by supervisors and admins only.
/// Returns the path and its expiry.
#[server(prefix = "/api", endpoint = "share")]
pub async fn share_call(id: CallId, agent: String) -> Result<(String, i64), AppError> {
    use crate::server::http::server_fn::{answer, asking};
    answer(
        async {
            let agent = crate::model::Username::parse(agent.trim())
                .map_err(|e| AppError::Invalid(format!("Agent's username: {e}")))?;
            let (state, who) = asking(crate::server::access::Door::Share)?;
            state.access.share(&who, &id, &agent).await
        }
        .await,
    )
}

/// The links to a call, for supervisors and admins (agents are refused).
#[server(prefix = "/api", endpoint = "links")]
pub async fn call_links(id: CallId) -> Result<Vec<LinkSummary>, AppError> {
    use crate::server::http::server_fn::{answer, asking};
    answer(
        async {
            let (state, who) = asking(crate::server::access::Door::Share)?;
            state.access.links(&who, &id).await
        }
        .await,
    )
}

/// Revokes a link to a call: by the supervisor who made it, or an admin.
#[server(prefix = "/api", endpoint = "links/revoke")]
pub async fn revoke_link(id: CallId, link: LinkId) -> Result<(), AppError> {
    use crate::server::http::server_fn::{answer, asking};
    answer(
        async {
            let (state, who) = asking(crate::server::access::Door::Share)?;
            state.access.revoke(&who, &id, &link).await
        }
        .await,
    )
}

/// What the sign-in page may say about this server: demo accounts, and
/// signing in (and out) with a company account.
#[server(prefix = "/api", endpoint = "signin_hint")]
pub async fn sign_in_hint() -> Result<crate::model::SignInHint, AppError> {
    let state = crate::server::http::server_fn::state()?;
    let sso = state.auth.sso();
    let sso_sign_out = match sso {
        Some(sso) => sso.end_session_url(&sso.signed_out_url()).await,
        None => None,
    };
    Ok(crate::model::SignInHint {
        demo: state.settings.demo_users_enabled(),
        demo_password_set: !state.settings.demo_password.is_empty(),
        sso_label: sso.map(|s| s.label().to_string()),
        sso_sign_out,
    })
}
