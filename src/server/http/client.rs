//! Who the client is, by address: the peer, unless the peer is a trusted
//! proxy, in which case the nearest address its forwarding headers name
//! that is not itself a trusted proxy. Headers from anyone else are
//! ignored, so a client can't pick its own address to dodge a limit.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The client's address, given the peer and its headers.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |addr: &IpAddr| trusted.iter().any(|net| net.contains(addr));
    if !is_trusted(&peer) {
        return peer;
    }
    // Right to left: each proxy appends the address it got the request from.
    forwarded_for(headers)
        .into_iter()
        .rev()
        .find(|addr| !is_trusted(addr))
        .unwrap_or(peer)
}

/// The addresses in `X-Forwarded-For`, or else `Forwarded`'s `for=`, in
/// order; anything unparsable ends the list there (it can't be trusted).
fn forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    let values = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let xff = values("x-forwarded-for");
    let raw: Vec<String> = if !xff.is_empty() {
        xff
    } else {
        values("forwarded")
            .iter()
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (key, value) = pair.trim().split_once('=')?;
                    key.eq_ignore_ascii_case("for")
                        .then(|| value.trim_matches('"').to_string())
                })
            })
            .collect()
    };
    let mut out = Vec::new();
    for entry in raw.iter().rev() {
        match parse(entry) {
            Some(addr) => out.push(addr),
            None => break,
        }
    }
    out.reverse();
    out
}

/// `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443`, `203.0.113.7:80`.
fn parse(entry: &str) -> Option<IpAddr> {
    if let Ok(addr) = entry.parse() {
        return Some(addr);
    }
    if let Some(rest) = entry.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    entry.rsplit_once(':')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let h = headers(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(
            client_address(ip("198.51.100.1"), &h, &[]),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_a_spoofed_prefix_does_not_count() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // The client sent a made-up first entry; the proxy appended the
        // real one.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.7")]);
        assert_eq!(
            client_address(ip("10.0.0.5"), &h, &trusted),
            ip("203.0.113.7")
        );
        // Through two trusted proxies.
        let h = headers(&[("x-forwarded-for", "203.0.113.7, 10.1.1.1")]);
        assert_eq!(
            client_address(ip("10.0.0.5"), &h, &trusted),
            ip("203.0.113.7")
        );
        // RFC 7239.
        let h = headers(&[("forwarded", "for=\"[2001:db8::1]:4711\";proto=https")]);
        assert_eq!(
            client_address(ip("10.0.0.5"), &h, &trusted),
            ip("2001:db8::1")
        );
        // Nothing usable: the proxy itself.
        let h = headers(&[("x-forwarded-for", "garbage")]);
        assert_eq!(client_address(ip("10.0.0.5"), &h, &trusted), ip("10.0.0.5"));
    }
}
