//! A sign-in in progress, kept in the browser between leaving for the
//! provider and coming back: the state (against forged callbacks), the
//! nonce (against a replayed ID token), the PKCE verifier and where to go
//! after. It travels in a short-lived cookie under a MAC, so any instance
//! can finish what another began, and none of it can be altered.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The cookie that carries it.
pub const COOKIE: &str = "travoiq_sso";
/// How long a sign-in may take at the provider.
pub const MAX_AGE_MS: i64 = 10 * 60 * 1000;
/// Longest cookie value even looked at.
const MAX_SEALED: usize = 2048;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// A local path (already checked) to open after signing in.
    pub next: String,
    pub made_ms: i64,
}

fn mac(key: &[u8], body: &str) -> Hmac<Sha256> {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(b"travoiq sso pending\n");
    mac.update(body.as_bytes());
    mac
}

impl Pending {
    /// `base64(json).base64(mac)`.
    pub fn seal(&self, key: &[u8]) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        let body = URL_SAFE_NO_PAD.encode(json);
        let tag = URL_SAFE_NO_PAD.encode(mac(key, &body).finalize().into_bytes());
        format!("{body}.{tag}")
    }

    /// The sign-in sealed in `sealed`, if it was sealed under `key` and is
    /// not older than [`MAX_AGE_MS`] at `now_ms`.
    pub fn open(sealed: &str, key: &[u8], now_ms: i64) -> Option<Self> {
        if sealed.len() > MAX_SEALED {
            return None;
        }
        let (body, tag) = sealed.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        mac(key, body).verify_slice(&tag).ok()?;
        let pending: Self = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()?;
        (now_ms >= pending.made_ms && now_ms - pending.made_ms < MAX_AGE_MS).then_some(pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending() -> Pending {
        Pending {
            state: "s".into(),
            nonce: "n".into(),
            verifier: "v".into(),
            next: "/calls".into(),
            made_ms: 1_000,
        }
    }

    #[test]
    fn only_an_unaltered_recent_sign_in_opens() {
        let key = b"0123456789abcdef0123456789abcdef";
        let sealed = pending().seal(key);
        assert_eq!(Pending::open(&sealed, key, 2_000), Some(pending()));
        assert_eq!(
            Pending::open(&sealed, key, 1_000 + MAX_AGE_MS),
            None,
            "too old"
        );
        assert_eq!(Pending::open(&sealed, b"another key", 2_000), None);
        let mut other = pending();
        other.nonce = "chosen by an attacker".into();
        let (_, tag) = sealed.split_once('.').unwrap();
        let (forged_body, _) = other
            .seal(b"guess")
            .split_once('.')
            .map(|(b, t)| (b.to_string(), t.to_string()))
            .unwrap();
        assert_eq!(
            Pending::open(&format!("{forged_body}.{tag}"), key, 2_000),
            None
        );
        for junk in ["", ".", "abc", "a.b", &"x".repeat(5000)] {
            assert_eq!(Pending::open(junk, key, 2_000), None, "{junk:?}");
        }
    }
}
