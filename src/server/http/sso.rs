//! Signing in with a company account (OpenID Connect): `GET /signin/sso`
//! leaves for the provider, `GET /signin/sso/callback` comes back. Every
//! refusal lands on the sign-in page with a reason the user can act on,
//! and is in the audit trail.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use cookie::{Cookie, SameSite};
use serde::Deserialize;

use crate::server::auth::audit;
use crate::server::auth::sso::claims::ClaimsError;
use crate::server::auth::sso::pending::{self, COOKIE};
use crate::server::auth::sso::SsoError;
use crate::server::auth::SsoRefusal;

use super::gate::{cookie_value, safe_next, secure_cookie, set_session_cookie, ClientAddr};
use super::state::AppState;

/// Where the pending sign-in cookie is sent: these two routes only.
const COOKIE_PATH: &str = "/signin/sso";

#[derive(Deserialize)]
pub struct Begin {
    #[serde(default)]
    next: Option<String>,
}

/// `GET /signin/sso?next=…`: to the provider, with a sealed sign-in in a
/// cookie (state, nonce, PKCE verifier, where to go after).
pub async fn begin(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<Begin>,
) -> Response {
    let Some(sso) = state.auth.sso() else {
        return refused("sso-off");
    };
    match sso.begin(&safe_next(query.next.as_deref())).await {
        Ok((url, sealed)) => {
            let mut response = Redirect::to(&url).into_response();
            let max_age = pending::MAX_AGE_MS / 1000;
            response.headers_mut().append(
                header::SET_COOKIE,
                pending_cookie(&state, &headers, &sealed, max_age),
            );
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "single sign-on: can't start a sign-in");
            refused("sso-unavailable")
        }
    }
}

#[derive(Deserialize)]
pub struct Callback {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    /// The provider's own refusal (the user cancelled, or may not use
    /// this app).
    #[serde(default)]
    error: Option<String>,
}

/// `GET /signin/sso/callback?code=…&state=…`: checks everything the
/// provider sent (see `Sso::finish`), then opens a session here.
pub async fn callback(
    State(state): State<AppState>,
    Extension(ClientAddr(addr)): Extension<ClientAddr>,
    headers: HeaderMap,
    Query(query): Query<Callback>,
) -> Response {
    let Some(sso) = state.auth.sso() else {
        return refused("sso-off");
    };
    let sealed = cookie_value(&headers, &[COOKIE]);
    let outcome = match (query.error, query.code, query.state) {
        (Some(error), _, _) => Err(SsoError::Refused(format!(
            "the provider answered {:?}",
            error.chars().take(64).collect::<String>()
        ))),
        (None, Some(code), Some(got_state)) => {
            sso.finish(&code, &got_state, sealed.as_deref()).await
        }
        _ => Err(SsoError::Refused("no code or state".into())),
    };
    let mut response = match outcome {
        Ok((who, next)) => match state.auth.sign_in_sso(&who, addr).await {
            Ok((token, _)) => {
                let mut response = Redirect::to(&next).into_response();
                response.headers_mut().append(
                    header::SET_COOKIE,
                    set_session_cookie(&token, &state, &headers),
                );
                response
            }
            Err(refusal) => refused(match refusal {
                SsoRefusal::NameTaken => "sso-name-taken",
                SsoRefusal::Disabled => "sso-disabled",
                SsoRefusal::Unavailable => "unavailable",
            }),
        },
        Err(e) => {
            let user = match &e {
                SsoError::Claims(ClaimsError::NoRole { username, .. }) => Some(username),
                _ => None,
            };
            audit::sso_refused(user, &e.to_string(), addr);
            refused(match e {
                SsoError::Claims(ClaimsError::NoRole { .. }) => "sso-no-role",
                SsoError::Claims(_) => "sso-bad-claims",
                SsoError::Unavailable(_) => "sso-unavailable",
                SsoError::Expired => "sso-expired",
                SsoError::Refused(_) => "sso-refused",
            })
        }
    };
    // The sign-in in progress is over, whatever happened.
    response
        .headers_mut()
        .append(header::SET_COOKIE, pending_cookie(&state, &headers, "", 0));
    response
}

/// Back to the sign-in page, saying why.
fn refused(code: &str) -> Response {
    Redirect::to(&format!("/signin?error={code}")).into_response()
}

fn pending_cookie(state: &AppState, headers: &HeaderMap, value: &str, max_age: i64) -> HeaderValue {
    let cookie = Cookie::build((COOKIE, value.to_string()))
        .path(COOKIE_PATH)
        .http_only(true)
        // Lax: sent on the provider's top-level redirect back to us.
        .same_site(SameSite::Lax)
        .secure(secure_cookie(state.auth.secure_cookies(), headers))
        .max_age(cookie::time::Duration::seconds(max_age))
        .build();
    HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}
