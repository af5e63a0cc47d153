//! The door every request passes: resolves the session cookie into a
//! [`Viewer`] (in the request's extensions), refuses cross-site state
//! changes, and sends anyone without a session to sign in (pages) or
//! answers 401 (everything else). Only the sign-in page, the health check,
//! static assets and the developer API (off unless switched on) are open.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use cookie::{Cookie, SameSite};
use serde_json::json;

use crate::server::config::Switch;
use crate::server::security::same_site_request;
use crate::server::state::AppState;

use super::accounts::SessionToken;
use super::audit;

pub const SESSION_COOKIE: &str = "travoiq_session";

/// The client's address, for the audit log and rate limits.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub IpAddr);

/// Paths open without a session.
fn is_public(path: &str) -> bool {
    // `/api/me` answers "nobody" without a session; `/api/signin_hint`
    // serves the sign-in page.
    matches!(
        path,
        "/signin" | "/healthz" | "/favicon.svg" | "/api/me" | "/api/signin_hint"
    ) || path.starts_with("/pkg/")
        || path.starts_with("/api/dev/")
}

/// A browser navigating to a page (sent to sign in), rather than a script
/// or client calling an endpoint (told 401).
fn is_page(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD)
        && !["/api/", "/ws/", "/details/", "/latest-call"]
            .iter()
            .any(|p| path.starts_with(p))
}

pub fn session_token(headers: &HeaderMap) -> Option<SessionToken> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .and_then(|c| SessionToken::from_cookie(c.value()))
}

/// Whether the request reached us over TLS (directly or via a proxy).
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

fn cookie_header(
    value: &str,
    max_age_secs: i64,
    secure: Switch,
    headers: &HeaderMap,
) -> HeaderValue {
    let secure = match secure {
        Switch::On => true,
        Switch::Off => false,
        Switch::Auto => over_tls(headers),
    };
    let cookie = Cookie::build((SESSION_COOKIE, value.to_string()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build();
    HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` for a new session.
pub fn set_session_cookie(
    token: &SessionToken,
    state: &AppState,
    headers: &HeaderMap,
) -> HeaderValue {
    cookie_header(
        token.as_str(),
        state.auth.max_age_secs(),
        state.auth.secure_cookies(),
        headers,
    )
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session_cookie(state: &AppState, headers: &HeaderMap) -> HeaderValue {
    cookie_header("", 0, state.auth.secure_cookies(), headers)
}

/// Where to go after signing in: a path on this site, never elsewhere.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control)
                && n.len() <= 512 =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

fn sign_in_location(next: &str, ended: bool) -> String {
    let mut url = String::from("/signin");
    let mut query = form_urlencoded_pairs(&[("next", next)]);
    if ended {
        query.push_str("&ended=1");
    }
    url.push('?');
    url.push_str(&query);
    url
}

fn form_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn percent_encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

pub async fn gate(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let addr = peer.ip();
    req.extensions_mut().insert(ClientAddr(addr));
    let path = req.uri().path().to_string();
    if !req.method().is_safe() && !same_site_request(req.headers(), &state.allowed_origins) {
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok());
        audit::cross_site_refused(&path, origin, addr);
        return json_error(
            StatusCode::FORBIDDEN,
            "cross_site",
            "Requests from other sites are refused.",
        );
    }
    let token = session_token(req.headers());
    let viewer = match &token {
        Some(token) => match state.auth.viewer(token).await {
            Ok(viewer) => viewer,
            Err(e) if is_public(&path) => {
                tracing::warn!(error = %e, "session check failed on an open path");
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "session check failed");
                let mut response = json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Sign-in is unavailable; retrying.",
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                return response;
            }
        },
        None => None,
    };
    match viewer {
        Some(viewer) => {
            req.extensions_mut().insert(viewer);
            next.run(req).await
        }
        None if is_public(&path) => next.run(req).await,
        None if is_page(req.method(), &path) => {
            let target = req
                .uri()
                .path_and_query()
                .map(|pq| pq.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            let mut response = Redirect::to(&sign_in_location(
                &safe_next(Some(&target)),
                token.is_some(),
            ))
            .into_response();
            if token.is_some() {
                response.headers_mut().insert(
                    header::SET_COOKIE,
                    clear_session_cookie(&state, req.headers()),
                );
            }
            response
        }
        // Server functions: the error as the page's client decodes it.
        None if path.starts_with("/api/") => (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_string(&crate::error::AppError::SignInRequired).unwrap_or_default(),
        )
            .into_response(),
        None => json_error(
            StatusCode::UNAUTHORIZED,
            "sign_in_required",
            "Sign in to continue.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn next_never_leaves_the_site() {
        assert_eq!(safe_next(Some("/calls/abc?x=1")), "/calls/abc?x=1");
        for bad in [
            "https://evil.test",
            "//evil.test",
            "/\\evil.test",
            "evil",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn only_a_well_formed_session_cookie_is_read() {
        let token = SessionToken::generate();
        let h = cookie(&format!("a=b; {SESSION_COOKIE}={}; c=d", token.as_str()));
        assert_eq!(session_token(&h).map(|t| t.key()), Some(token.key()));
        let h = cookie(&format!("{SESSION_COOKIE}=forged"));
        assert!(session_token(&h).is_none());
    }
}
