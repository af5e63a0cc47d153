//! Shared links to one call, as the call view lists them.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Username;

/// Characters in a link id: 16 random bytes, URL-safe base64.
pub const LINK_ID_LEN: usize = 22;

/// A shared link's id: 22 URL-safe base64 characters (16 random bytes),
/// parsed once where it comes in.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LinkId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a link id is {LINK_ID_LEN} URL-safe base64 characters")]
pub struct LinkIdError;

impl LinkId {
    pub fn parse(raw: &str) -> Result<Self, LinkIdError> {
        let ok = raw.len() == LINK_ID_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(raw.to_string())).ok_or(LinkIdError)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl TryFrom<String> for LinkId {
    type Error = LinkIdError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<LinkId> for String {
    fn from(id: LinkId) -> Self {
        id.0
    }
}

/// Where a link stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum LinkState {
    Active,
    Expired,
    Revoked { by: Username, at_ms: i64 },
}

impl LinkState {
    pub fn as_str(&self) -> &'static str {
        match self {
            LinkState::Active => "active",
            LinkState::Expired => "expired",
            LinkState::Revoked { .. } => "revoked",
        }
    }
}

/// A link as the call view lists it (never its grant).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkSummary {
    pub id: LinkId,
    pub agent: Username,
    pub made_by: Username,
    pub made_ms: i64,
    pub expires_ms: i64,
    pub state: LinkState,
    /// Whether the one asking may revoke it (its maker, or an admin, while
    /// it is active).
    pub may_revoke: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_id_is_exactly_22_url_safe_characters() {
        let good = "AbCdEfGhIjKlMnOpQr_-09";
        assert_eq!(LinkId::parse(good).unwrap().as_str(), good);
        for bad in [
            "",
            "short",
            &format!("{good}x"),
            "AbCdEfGhIjKlMnOpQr_-0.",
            "AbCdEfGhIjKlMnOpQr_-0=",
        ] {
            assert!(LinkId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
