//! Security headers, the WebSocket Origin check, and the per-address
//! socket limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderMap, HeaderValue};
use tower_http::set_header::SetResponseHeaderLayer;

/// The page's Content-Security-Policy: scripts only from this origin or
/// carrying this response's nonce (Leptos's hydration script), wasm
/// allowed to compile, sockets and fetches to this origin only, never
/// framed.
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// For responses that are not pages (JSON, files): nothing may run, and
/// nothing may frame them. Pages set their own policy first.
const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Layers that add the security headers to every response.
pub fn header_layers() -> (
    SetResponseHeaderLayer<HeaderValue>,
    SetResponseHeaderLayer<HeaderValue>,
    SetResponseHeaderLayer<HeaderValue>,
    SetResponseHeaderLayer<HeaderValue>,
) {
    (
        SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_CSP),
        ),
        SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ),
        SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ),
    )
}

/// Browsers send `Origin` on WebSocket handshakes; another site's page
/// must not open our sockets with the user's cookies. A missing `Origin`
/// (a non-browser client) is allowed. Allowed: the same host as the
/// request's `Host`, or one of `extra` (e.g. `https://monitor.example.com`).
pub fn origin_allowed(headers: &HeaderMap, extra: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if extra.iter().any(|o| o.trim_end_matches('/') == origin) {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    // Scheme, host and port: a request that reached us over TLS accepts
    // only an https origin (a plain-HTTP page on the same name is not us).
    let origin_host = match (origin.strip_prefix("https://"), over_tls(headers)) {
        (Some(rest), _) => rest,
        (None, false) => origin.strip_prefix("http://").unwrap_or_default(),
        (None, true) => "",
    };
    !host.is_empty() && !origin_host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// Whether the request reached us over TLS (as the proxy in front says).
pub fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// A state change from another site's page is refused. Browsers name the
/// page's origin in `Origin` (and `Sec-Fetch-Site`) on every POST; a
/// client that sends neither is not a browser, so carries no victim's
/// cookie. The session cookie is also `SameSite=Lax`.
pub fn same_site_request(headers: &HeaderMap, allowed: &[String]) -> bool {
    if headers.contains_key(header::ORIGIN) {
        return origin_allowed(headers, allowed);
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => matches!(site, "same-origin" | "none"),
        None => true,
    }
}

/// Counts open sockets per client address.
#[derive(Clone, Default)]
pub struct SocketLimiter {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One open socket; gives its place back when dropped.
pub struct SocketPermit {
    limiter: SocketLimiter,
    addr: IpAddr,
}

impl SocketLimiter {
    /// A permit for one more socket from `addr`, unless it already has
    /// `max` open (0: no limit).
    pub fn acquire(&self, addr: IpAddr, max: usize) -> Option<SocketPermit> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(addr).or_insert(0);
        if max > 0 && *count >= max {
            return None;
        }
        *count += 1;
        Some(SocketPermit {
            limiter: self.clone(),
            addr,
        })
    }

    /// Open sockets, all addresses together.
    pub fn open(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .sum()
    }
}

impl Drop for SocketPermit {
    fn drop(&mut self) {
        let mut open = self.limiter.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.addr) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.addr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn same_host_and_listed_origins_pass_others_do_not() {
        let extra = vec!["https://monitor.example.com".to_string()];
        assert!(origin_allowed(
            &headers(&[("host", "127.0.0.1:3000")]),
            &extra
        ));
        assert!(origin_allowed(
            &headers(&[
                ("host", "127.0.0.1:3000"),
                ("origin", "http://127.0.0.1:3000")
            ]),
            &extra
        ));
        assert!(origin_allowed(
            &headers(&[
                ("host", "10.0.0.5"),
                ("origin", "https://monitor.example.com")
            ]),
            &extra
        ));
        assert!(!origin_allowed(
            &headers(&[
                ("host", "127.0.0.1:3000"),
                ("origin", "https://evil.example")
            ]),
            &extra
        ));
        assert!(!origin_allowed(
            &headers(&[("host", "127.0.0.1:3000"), ("origin", "null")]),
            &extra
        ));
        // Over TLS, a plain-HTTP page with our name is not us.
        let tls = |origin: &str| {
            headers(&[
                ("host", "monitor.example.com"),
                ("x-forwarded-proto", "https"),
                ("origin", origin),
            ])
        };
        assert!(origin_allowed(&tls("https://monitor.example.com"), &[]));
        assert!(!origin_allowed(&tls("http://monitor.example.com"), &[]));
        // Another port is another origin.
        assert!(!origin_allowed(
            &headers(&[
                ("host", "127.0.0.1:3000"),
                ("origin", "http://127.0.0.1:3001")
            ]),
            &extra
        ));
        assert!(!origin_allowed(
            &headers(&[
                ("host", "127.0.0.1:3000"),
                ("origin", "http://127.0.0.1:3000.evil.example")
            ]),
            &extra
        ));
    }

    #[test]
    fn the_limiter_counts_per_address_and_releases_on_drop() {
        let limiter = SocketLimiter::default();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let first = limiter.acquire(a, 2).unwrap();
        let _second = limiter.acquire(a, 2).unwrap();
        assert!(limiter.acquire(a, 2).is_none());
        assert!(limiter.acquire(b, 2).is_some());
        drop(first);
        assert!(limiter.acquire(a, 2).is_some());
        assert!(limiter.acquire(a, 0).is_some(), "0 means no limit");
    }

    #[test]
    fn cross_site_posts_are_told_apart_from_our_own() {
        let ours = headers(&[("host", "monitor.test"), ("origin", "http://monitor.test")]);
        assert!(same_site_request(&ours, &[]));
        let theirs = headers(&[("host", "monitor.test"), ("origin", "https://evil.test")]);
        assert!(!same_site_request(&theirs, &[]));
        let null = headers(&[("host", "monitor.test"), ("origin", "null")]);
        assert!(!same_site_request(&null, &[]));
        let fetch_cross = headers(&[("host", "monitor.test"), ("sec-fetch-site", "cross-site")]);
        assert!(!same_site_request(&fetch_cross, &[]));
        let fetch_same = headers(&[("sec-fetch-site", "same-origin")]);
        assert!(same_site_request(&fetch_same, &[]));
        assert!(same_site_request(&HeaderMap::new(), &[]), "not a browser");
    }
}
