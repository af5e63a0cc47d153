//! `GET /metrics`: the server's figures in the Prometheus text format, on
//! a listener of its own (`metrics_addr`), never on the main port. With
//! `metrics_token` set, a scrape without `Authorization: Bearer <token>`
//! gets 401 and nothing else. Bound to loopback, only loopback names on
//! its port are answered (421 otherwise), as on the main port: a page
//! that rebinds its own name to 127.0.0.1 reads nothing.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use crate::server::metrics::{Metrics, CONTENT_TYPE};

use super::hosts::Hosts;

#[derive(Clone)]
struct Scrape {
    metrics: Arc<Metrics>,
    /// SHA-256 of the token, compared in constant time.
    token: Option<[u8; 32]>,
    hosts: Arc<Hosts>,
}

/// The metrics listener's whole router (`bound`: its address): `/metrics`,
/// and 404 elsewhere.
pub fn routes(metrics: Arc<Metrics>, token: Option<&str>, bound: SocketAddr) -> Router {
    let token = token.map(digest);
    let hosts = Arc::new(Hosts::new(bound, ""));
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(Scrape {
            metrics,
            token,
            hosts,
        })
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Whether the request carries the token (always, when none is set).
fn authorized(headers: &HeaderMap, token: Option<&[u8; 32]>) -> bool {
    let Some(expected) = token else {
        return true;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| digest(t.trim()));
    match given {
        Some(given) => {
            given
                .iter()
                .zip(expected.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
        }
        None => false,
    }
}

async fn scrape(State(scrape): State<Scrape>, headers: HeaderMap) -> Response {
    if let Err(refused) = scrape.hosts.check(&headers) {
        return refused.into_response();
    }
    if !authorized(&headers, scrape.token.as_ref()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a bearer token is required\n",
        )
            .into_response();
    }
    match scrape.metrics.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not encode the metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_token_opens_a_scrape_when_one_is_set() {
        let token = digest("a-scrape-token-of-32-characters!");
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            headers
        };
        assert!(authorized(&HeaderMap::new(), None));
        assert!(!authorized(&HeaderMap::new(), Some(&token)));
        assert!(!authorized(&with("Bearer nope"), Some(&token)));
        assert!(!authorized(
            &with("Basic a-scrape-token-of-32-characters!"),
            Some(&token)
        ));
        assert!(authorized(
            &with("Bearer a-scrape-token-of-32-characters!"),
            Some(&token)
        ));
    }
}
