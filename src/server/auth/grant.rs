//! Signed links to one call: a supervisor hands an agent a link that lets
//! them (once signed in) watch that call until it expires.
//!
//! A grant is `{expires_ms}.{mac}`, the MAC an HMAC-SHA256 over the call
//! id, the expiry and the username of the agent it was made for, under the
//! server's secret: it cannot be moved to another call or another agent,
//! extended or forged without the secret.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::model::{CallId, Username};

type HmacSha256 = Hmac<Sha256>;

/// Longest grant we even try to check.
const MAX_GRANT: usize = 128;

#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl Signer {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: secret.to_vec(),
        }
    }

    /// A signer with a random key: links die with the process.
    pub fn random() -> Self {
        let key: [u8; 32] = rand::random();
        Self::new(&key)
    }

    fn mac(&self, call: &CallId, agent: &Username, expires_ms: i64) -> HmacSha256 {
        // A key of any length is valid for HMAC.
        let mut mac = match HmacSha256::new_from_slice(&self.key) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(b"travoiq call link\n");
        mac.update(call.to_string().as_bytes());
        mac.update(b"\n");
        mac.update(expires_ms.to_string().as_bytes());
        mac.update(b"\n");
        mac.update(agent.as_str().as_bytes());
        mac
    }

    /// A grant for `agent` to watch `call` until `expires_ms`.
    pub fn issue(&self, call: &CallId, agent: &Username, expires_ms: i64) -> String {
        let tag = self.mac(call, agent, expires_ms).finalize().into_bytes();
        format!("{expires_ms}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// Whether `grant` lets `agent` see `call` at `now_ms`.
    pub fn verify(&self, grant: &str, call: &CallId, agent: &Username, now_ms: i64) -> bool {
        self.valid_until(grant, call, agent)
            .is_some_and(|expires_ms| now_ms < expires_ms)
    }

    /// When a genuine grant for `agent` and `call` expires; `None` if it
    /// is not one.
    pub fn valid_until(&self, grant: &str, call: &CallId, agent: &Username) -> Option<i64> {
        if grant.len() > MAX_GRANT {
            return None;
        }
        let (expires, tag) = grant.split_once('.')?;
        let expires_ms = expires.parse::<i64>().ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        // Constant-time comparison of the tag.
        self.mac(call, agent, expires_ms)
            .verify_slice(&tag)
            .is_ok()
            .then_some(expires_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> CallId {
        CallId::parse(&format!("00000000-0000-4000-8000-0000000000{n:02}")).unwrap()
    }

    #[test]
    fn a_grant_opens_its_call_until_it_expires_and_nothing_else() {
        let signer = Signer::new(b"0123456789abcdef0123456789abcdef");
        let maria = Username::parse("maria").unwrap();
        let grant = signer.issue(&id(1), &maria, 10_000);
        assert!(signer.verify(&grant, &id(1), &maria, 9_999));
        assert!(!signer.verify(&grant, &id(1), &maria, 10_000), "expired");
        assert!(
            !signer.verify(&grant, &id(2), &maria, 5_000),
            "another call"
        );
        let bob = Username::parse("bob").unwrap();
        assert!(!signer.verify(&grant, &id(1), &bob, 5_000), "another agent");
        let (_, tag) = grant.split_once('.').unwrap();
        assert!(
            !signer.verify(&format!("99999999.{tag}"), &id(1), &maria, 5_000),
            "extended"
        );
        let other = Signer::new(b"another secret, another server...");
        assert!(
            !other.verify(&grant, &id(1), &maria, 5_000),
            "forged elsewhere"
        );
        for junk in ["", ".", "abc", "1.", "1.!!!", &"9".repeat(500)] {
            assert!(!signer.verify(junk, &id(1), &maria, 0), "{junk:?}");
        }
    }
}
