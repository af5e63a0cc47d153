//! Which `Host` names this server answers for: a page from another name
//! that resolves to us (DNS rebinding) gets nothing. Bound to loopback,
//! the loopback names on the bound port; otherwise any name, unless
//! `allowed_hosts` lists them (as it should behind a load balancer).

use std::net::SocketAddr;

use axum::http::{header, HeaderMap};

use crate::error::AppError;

#[derive(Clone, Debug)]
pub struct Hosts {
    /// `None`: any name.
    allowed: Option<Vec<String>>,
}

impl Hosts {
    pub fn new(bound: SocketAddr, configured: &str) -> Self {
        let mut allowed: Vec<String> = configured
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if bound.ip().is_loopback() {
            let port = bound.port();
            allowed.extend([
                format!("127.0.0.1:{port}"),
                format!("localhost:{port}"),
                format!("[::1]:{port}"),
            ]);
            if port == 80 {
                allowed.extend(["127.0.0.1".into(), "localhost".into(), "[::1]".into()]);
            }
        } else if allowed.is_empty() {
            tracing::warn!(
                "TRAVOIQ_ALLOWED_HOSTS is not set: any Host name is answered; set it to the names users reach this server by"
            );
            return Self { allowed: None };
        } else {
            allowed.push(bound.to_string());
        }
        Self {
            allowed: Some(allowed),
        }
    }

    /// A request's `Host` checked: `UnknownHost` (421) for a name this
    /// server does not answer for.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), AppError> {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        if self.allows(host) {
            Ok(())
        } else {
            tracing::warn!(host = ?host, "request for a host name this server does not answer for");
            Err(AppError::UnknownHost)
        }
    }

    pub fn allows(&self, host: Option<&str>) -> bool {
        match (&self.allowed, host) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(allowed), Some(host)) => {
                let host = host.to_ascii_lowercase();
                allowed.contains(&host)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_loopback_only_loopback_names_on_the_port_are_answered() {
        let hosts = Hosts::new("127.0.0.1:3000".parse().unwrap(), "");
        assert!(hosts.allows(Some("127.0.0.1:3000")));
        assert!(hosts.allows(Some("LOCALHOST:3000")));
        assert!(!hosts.allows(Some("evil.example:3000")));
        assert!(!hosts.allows(Some("127.0.0.1:3001")));
        assert!(!hosts.allows(None));
    }

    #[test]
    fn elsewhere_the_configured_names_or_any() {
        let open = Hosts::new("0.0.0.0:3000".parse().unwrap(), "");
        assert!(open.allows(Some("anything.example")));
        let named = Hosts::new("0.0.0.0:3000".parse().unwrap(), "monitor.example.com");
        assert!(named.allows(Some("monitor.example.com")));
        assert!(!named.allows(Some("evil.example")));
    }
}
