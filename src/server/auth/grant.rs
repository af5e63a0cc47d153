//! Signed links to one call: a supervisor hands an agent a link that lets
//! them (once signed in) watch that call until it expires or is revoked.
//!
//! A grant is `{link id}.{expires_ms}.{mac}`, the MAC an HMAC-SHA256 over
//! the call id, the link id, the expiry and the username of the agent it
//! was made for, under the server's secret: it cannot be moved to another
//! call, another agent or another link's record, extended or forged
//! without the secret. The link id names the record that says whether the
//! link was revoked ([`super::links`]).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::model::{CallId, LinkId, Username};

type HmacSha256 = Hmac<Sha256>;

/// Longest grant we even try to check.
const MAX_GRANT: usize = 128;

/// What a genuine grant says: which link record it rests on, and when it
/// expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Granted {
    pub link: LinkId,
    pub expires_ms: i64,
}

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

    fn mac(&self, call: &CallId, link: &LinkId, agent: &Username, expires_ms: i64) -> HmacSha256 {
        // A key of any length is valid for HMAC.
        let mut mac = match HmacSha256::new_from_slice(&self.key) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(b"travoiq call link v2\n");
        for part in [
            call.to_string().as_str(),
            link.as_str(),
            &expires_ms.to_string(),
        ] {
            mac.update(part.as_bytes());
            mac.update(b"\n");
        }
        mac.update(agent.as_str().as_bytes());
        mac
    }

    /// The grant of link `link`: `agent` may watch `call` until
    /// `expires_ms` (while the link's record is not revoked).
    pub fn issue(&self, call: &CallId, link: &LinkId, agent: &Username, expires_ms: i64) -> String {
        let tag = self
            .mac(call, link, agent, expires_ms)
            .finalize()
            .into_bytes();
        format!("{link}.{expires_ms}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// What `grant` says, if it is a genuine grant for `agent` and `call`
    /// (whether or not it has expired).
    pub fn check(&self, grant: &str, call: &CallId, agent: &Username) -> Option<Granted> {
        if grant.len() > MAX_GRANT {
            return None;
        }
        let mut parts = grant.split('.');
        let (Some(link), Some(expires), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let link = LinkId::parse(link).ok()?;
        let expires_ms = expires.parse::<i64>().ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        // Constant-time comparison of the tag.
        self.mac(call, &link, agent, expires_ms)
            .verify_slice(&tag)
            .is_ok()
            .then_some(Granted { link, expires_ms })
    }

    /// What `grant` says, if it is genuine for `agent` and `call` and not
    /// expired at `now_ms`. (The link's record is checked by the caller.)
    pub fn verify(
        &self,
        grant: &str,
        call: &CallId,
        agent: &Username,
        now_ms: i64,
    ) -> Option<Granted> {
        self.check(grant, call, agent)
            .filter(|g| now_ms < g.expires_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> CallId {
        CallId::parse(&format!("00000000-0000-4000-8000-0000000000{n:02}")).unwrap()
    }

    fn link(c: char) -> LinkId {
        LinkId::parse(&c.to_string().repeat(22)).unwrap()
    }

    #[test]
    fn a_grant_names_its_link_and_opens_its_call_until_it_expires_and_nothing_else() {
        let signer = Signer::new(b"0123456789abcdef0123456789abcdef");
        let maria = Username::parse("maria").unwrap();
        let grant = signer.issue(&id(1), &link('a'), &maria, 10_000);
        assert!(
            grant.starts_with(&format!("{}.10000.", link('a'))),
            "{grant}"
        );
        assert_eq!(
            signer.verify(&grant, &id(1), &maria, 9_999),
            Some(Granted {
                link: link('a'),
                expires_ms: 10_000
            })
        );
        assert!(
            signer.verify(&grant, &id(1), &maria, 10_000).is_none(),
            "expired"
        );
        assert!(
            signer.check(&grant, &id(1), &maria).is_some(),
            "genuine, if expired"
        );
        assert!(
            signer.verify(&grant, &id(2), &maria, 5_000).is_none(),
            "another call"
        );
        let bob = Username::parse("bob").unwrap();
        assert!(
            signer.verify(&grant, &id(1), &bob, 5_000).is_none(),
            "another agent"
        );
        let (_, rest) = grant.split_once('.').unwrap();
        let (_, tag) = rest.split_once('.').unwrap();
        assert!(
            signer
                .verify(&format!("{}.10000.{tag}", link('b')), &id(1), &maria, 5_000)
                .is_none(),
            "moved to another link's record"
        );
        assert!(
            signer
                .verify(
                    &format!("{}.99999999.{tag}", link('a')),
                    &id(1),
                    &maria,
                    5_000
                )
                .is_none(),
            "extended"
        );
        let other = Signer::new(b"another secret, another server...");
        assert!(
            other.verify(&grant, &id(1), &maria, 5_000).is_none(),
            "forged elsewhere"
        );
        let old_format = format!("10000.{tag}");
        for junk in [
            "",
            ".",
            "..",
            "abc",
            "1.",
            "1.!!!",
            &old_format,
            &format!("{grant}.x"),
            &"9".repeat(500),
        ] {
            assert!(signer.verify(junk, &id(1), &maria, 0).is_none(), "{junk:?}");
        }
    }
}
