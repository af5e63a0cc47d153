//! The sign-in and sign-out endpoints: plain HTML form posts answered with
//! a redirect, so they work before (and without) the page's script.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use crate::server::auth::{SignInRefusal, Viewer};

use super::gate::{
    clear_session_cookie, percent_encode, safe_next, set_session_cookie, ClientAddr,
};
use super::state::AppState;

#[derive(Deserialize)]
pub struct SignInForm {
    username: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /signin`: on success, a session cookie and the page asked for;
/// otherwise back to the form with a reason that never says whether the
/// account exists.
pub async fn sign_in(
    State(state): State<AppState>,
    Extension(ClientAddr(addr)): Extension<ClientAddr>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    match state
        .auth
        .sign_in(&form.username, &form.password, addr)
        .await
    {
        Ok((token, _)) => {
            let mut response = Redirect::to(&next).into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                set_session_cookie(&token, &state, &headers),
            );
            response
        }
        Err(refusal) => {
            let code = match refusal {
                SignInRefusal::Refused => "invalid",
                SignInRefusal::TooManyAttempts => "throttled",
                SignInRefusal::Unavailable => "unavailable",
            };
            // The name comes back so it needn't be typed again.
            let name: String = form.username.trim().chars().take(64).collect();
            Redirect::to(&format!(
                "/signin?error={code}&next={}&user={}",
                percent_encode(&next),
                percent_encode(&name)
            ))
            .into_response()
        }
    }
}

/// `POST /signout`: ends the session on the server (and its live
/// sockets), removes the cookie.
pub async fn sign_out(
    State(state): State<AppState>,
    Extension(ClientAddr(addr)): Extension<ClientAddr>,
    viewer: Option<Extension<Viewer>>,
    headers: HeaderMap,
) -> Response {
    if let Some(Extension(viewer)) = viewer {
        if let Err(e) = state.auth.sign_out(&viewer, addr).await {
            tracing::error!(error = %e, "sign-out: could not end the session in the store");
        }
    }
    let mut response = Redirect::to("/signin?signed_out=1").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_session_cookie(&state, &headers));
    response
}
