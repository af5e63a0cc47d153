//! What every request passes first: notes the client's address, refuses
//! cross-site state changes, and resolves the session cookie into a
//! [`Viewer`] in the request's extensions, or a [`NoViewer`] saying why
//! there is none. Whether a route needs a viewer is declared where the
//! routes are (see [`super::router`]), not here.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};

use crate::error::AppError;
use crate::server::auth::accounts::SessionToken;
use crate::server::auth::audit;
use crate::server::config::Switch;
use crate::server::security::{over_tls, same_site_request};

use super::state::AppState;
pub use crate::url::percent_encode;

pub const SESSION_COOKIE: &str = "travoiq_session";
/// The cookie's name when it is `Secure`: browsers then refuse it unless
/// it was set over TLS, by this host, for every path (no subdomain or
/// plain-HTTP page can plant or overwrite it).
pub const SECURE_SESSION_COOKIE: &str = "__Host-travoiq_session";

/// The client's address, for the audit log and rate limits.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub IpAddr);

/// Why a request carries no [`crate::server::auth::Viewer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoViewer {
    /// No session cookie.
    NoCookie,
    /// A cookie whose session is over (expired, signed out, disabled).
    Ended,
    /// The account store could not be asked.
    Unavailable,
}

pub fn session_token(headers: &HeaderMap) -> Option<SessionToken> {
    cookie_value(headers, &[SECURE_SESSION_COOKIE, SESSION_COOKIE])
        .and_then(|value| SessionToken::from_cookie(&value))
}

/// The value of the first cookie sent under one of `names`.
pub fn cookie_value(headers: &HeaderMap, names: &[&str]) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| names.contains(&c.name()))
        .map(|c| c.value().to_string())
}

/// Whether cookies set in answer to this request carry `Secure`.
pub fn secure_cookie(setting: Switch, headers: &HeaderMap) -> bool {
    match setting {
        Switch::On => true,
        Switch::Off => false,
        Switch::Auto => over_tls(headers),
    }
}

fn cookie_header(
    value: &str,
    max_age_secs: i64,
    secure: Switch,
    headers: &HeaderMap,
) -> HeaderValue {
    let secure = secure_cookie(secure, headers);
    let name = if secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    };
    let cookie = Cookie::build((name, value.to_string()))
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

pub async fn gate(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Err(e) = state.hosts.check(req.headers()) {
        return e.into_response();
    }
    let addr = super::client::client_address(peer.ip(), req.headers(), &state.trusted_proxies);
    req.extensions_mut().insert(ClientAddr(addr));
    if !req.method().is_safe() && !same_site_request(req.headers(), &state.allowed_origins) {
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok());
        audit::cross_site_refused(req.uri().path(), origin, addr);
        return AppError::CrossSite.into_response();
    }
    let found = match session_token(req.headers()) {
        None => Err(NoViewer::NoCookie),
        Some(token) => match state.auth.viewer(&token, addr).await {
            Ok(Some(viewer)) => Ok(viewer),
            Ok(None) => Err(NoViewer::Ended),
            Err(e) => {
                tracing::error!(error = %e, "session check failed");
                Err(NoViewer::Unavailable)
            }
        },
    };
    match found {
        Ok(viewer) => {
            // Static files (the page's bundle) are not counted.
            let counted = !req.uri().path().starts_with("/pkg/");
            let taken = if counted {
                state.requests.take(&viewer.user.username)
            } else {
                Ok(())
            };
            if let Err(wait) = taken {
                tracing::info!(user = %viewer.user.username, "request limit reached");
                return AppError::TooManyRequests(wait.as_secs().max(1)).into_response();
            }
            req.extensions_mut().insert(viewer);
        }
        Err(why) => {
            req.extensions_mut().insert(why);
        }
    }
    let tls = over_tls(req.headers());
    let mut response = next.run(req).await;
    if tls {
        // Reached over TLS: the browser keeps to it from now on.
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

/// The layer on routes that need a viewer and answer with data: 401 (or
/// 503 while sign-in can't be checked).
pub async fn require_viewer(req: Request, next: Next) -> Response {
    match no_viewer(&req) {
        None => next.run(req).await,
        Some(NoViewer::Unavailable) => AppError::Unavailable.into_response(),
        Some(_) => AppError::SignInRequired.into_response(),
    }
}

/// The layer on pages: a browser without a session goes to sign in, and
/// comes back here after.
pub async fn require_viewer_page(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let ended = match no_viewer(&req) {
        None => return next.run(req).await,
        Some(NoViewer::Unavailable) => return AppError::Unavailable.into_response(),
        Some(why) => why == NoViewer::Ended,
    };
    let target = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let mut response =
        Redirect::to(&sign_in_location(&safe_next(Some(&target)), ended)).into_response();
    if ended {
        response.headers_mut().insert(
            header::SET_COOKIE,
            clear_session_cookie(&state, req.headers()),
        );
    }
    response
}

/// `GET /signin` for someone already signed in: on to where they were
/// going (a bookmark of the sign-in page, a second tab, Back).
pub async fn signed_in_goes_on(req: Request, next: Next) -> Response {
    // This router also carries the server functions: only the page.
    let page = req.method() == axum::http::Method::GET && req.uri().path() == "/signin";
    if !page || no_viewer(&req).is_some() {
        return next.run(req).await;
    }
    #[derive(serde::Deserialize)]
    struct Wanted {
        next: Option<String>,
    }
    let target = axum::extract::Query::<Wanted>::try_from_uri(req.uri())
        .ok()
        .and_then(|q| q.0.next);
    Redirect::to(&safe_next(target.as_deref())).into_response()
}

fn no_viewer(req: &Request) -> Option<NoViewer> {
    if req
        .extensions()
        .get::<crate::server::auth::Viewer>()
        .is_some()
    {
        None
    } else {
        Some(
            req.extensions()
                .get::<NoViewer>()
                .copied()
                .unwrap_or(NoViewer::NoCookie),
        )
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
