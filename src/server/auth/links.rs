//! The record of a shared link, kept in the account store: which call,
//! for which agent, made by whom and when, until when, and whether it was
//! revoked. A grant names its record ([`super::grant`]); a link opens its
//! call only while the record exists and is not revoked.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::model::{CallId, LinkId, LinkState, Username};

/// How long a link's record is kept after it expires (so the call view
/// still lists it as expired), before the store forgets it.
pub const KEEP_EXPIRED_MS: i64 = 24 * 3_600_000;

/// Who revoked a link, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revoked {
    pub by: Username,
    pub at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkRecord {
    pub id: LinkId,
    pub call: CallId,
    pub agent: Username,
    pub made_by: Username,
    pub made_ms: i64,
    pub expires_ms: i64,
    #[serde(default)]
    pub revoked: Option<Revoked>,
}

impl LinkRecord {
    /// A new link with a fresh random id.
    pub fn new(call: CallId, agent: Username, made_by: Username, now_ms: i64, for_ms: i64) -> Self {
        Self {
            id: new_id(),
            call,
            agent,
            made_by,
            made_ms: now_ms,
            expires_ms: now_ms.saturating_add(for_ms),
            revoked: None,
        }
    }

    pub fn state(&self, now_ms: i64) -> LinkState {
        match &self.revoked {
            Some(r) => LinkState::Revoked {
                by: r.by.clone(),
                at_ms: r.at_ms,
            },
            None if now_ms >= self.expires_ms => LinkState::Expired,
            None => LinkState::Active,
        }
    }

    /// Whether this link lets `agent` see `call` at `now_ms`.
    pub fn opens(&self, call: &CallId, agent: &Username, now_ms: i64) -> bool {
        &self.call == call && &self.agent == agent && self.state(now_ms) == LinkState::Active
    }

    /// Whether the store may forget it.
    pub fn forgotten(&self, now_ms: i64) -> bool {
        now_ms >= self.expires_ms.saturating_add(KEEP_EXPIRED_MS)
    }
}

/// 16 random bytes, URL-safe base64.
fn new_id() -> LinkId {
    let bytes: [u8; 16] = rand::random();
    match LinkId::parse(&URL_SAFE_NO_PAD.encode(bytes)) {
        Ok(id) => id,
        Err(_) => unreachable!("16 bytes are 22 URL-safe base64 characters"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_opens_its_call_for_its_agent_until_expired_or_revoked() {
        let call = CallId::parse("0f8fad5b-d9cb-469f-a165-70867728950e").unwrap();
        let other = CallId::parse("7c9e6679-7425-40de-944b-e07fc1f90ae7").unwrap();
        let maria = Username::parse("maria").unwrap();
        let sam = Username::parse("sam").unwrap();
        let mut link = LinkRecord::new(call.clone(), maria.clone(), sam.clone(), 1_000, 500);
        assert_ne!(
            link.id,
            LinkRecord::new(call.clone(), maria.clone(), sam.clone(), 1_000, 500).id
        );
        assert!(link.opens(&call, &maria, 1_499));
        assert!(!link.opens(&call, &maria, 1_500), "expired");
        assert_eq!(link.state(1_500), LinkState::Expired);
        assert!(!link.opens(&other, &maria, 1_000), "another call");
        assert!(!link.opens(&call, &sam, 1_000), "another agent");
        link.revoked = Some(Revoked {
            by: sam.clone(),
            at_ms: 1_200,
        });
        assert!(!link.opens(&call, &maria, 1_300), "revoked");
        assert_eq!(link.state(1_300).as_str(), "revoked");
        assert!(!link.forgotten(1_500 + KEEP_EXPIRED_MS - 1));
        assert!(link.forgotten(1_500 + KEEP_EXPIRED_MS));
    }
}
