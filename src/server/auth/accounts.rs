//! Accounts and sessions: what is kept, and the store that keeps them.
//! Two stores implement it: a JSON file beside the embedded call store
//! ([`super::file_store`]) and two DynamoDB tables ([`super::dynamo_store`]),
//! the latter shared by every server instance.

use std::fmt;

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{AccountSummary, CallId, LinkId, Role, Username};

use super::links::LinkRecord;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub username: Username,
    pub role: Role,
    /// argon2id, as a PHC string.
    pub password_hash: String,
    /// The value of the configured agent attribute on this user's calls.
    pub agent_id: String,
    #[serde(default)]
    pub disabled: bool,
    pub created_ms: i64,
    /// Raised by every password reset: a session made under an older
    /// version is over, on every instance.
    #[serde(default)]
    pub credentials_version: u64,
    /// A company account's issuer and subject (single sign-on); `None`
    /// for a local account. Such an account has no password here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso_subject: Option<String>,
}

impl Account {
    pub fn summary(&self) -> AccountSummary {
        AccountSummary {
            username: self.username.clone(),
            role: self.role,
            agent_id: self.agent_id.clone(),
            disabled: self.disabled,
        }
    }
}

/// A change to an existing account.
#[derive(Clone, Debug)]
pub enum AccountChange {
    Disabled(bool),
    /// A new password: also raises the credentials version, ending every
    /// session made before.
    PasswordHash(String),
    /// A new role: also raises the credentials version (the sessions made
    /// under the old role end).
    Role(Role),
}

/// The secret half of a session lives only in the browser's cookie; the
/// store keeps its SHA-256, so a copy of the store opens no session.
///
/// 32 random bytes, URL-safe base64, then (when the server has a secret)
/// `.` and a MAC of them under it: a forged token is refused without a
/// store read.
pub struct SessionToken(String);

const RANDOM_PART: usize = 43;
const TAG_PART: usize = 22;

fn url_safe(part: &str) -> bool {
    part.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl SessionToken {
    /// 32 random bytes, URL-safe base64, unsigned.
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A fresh token signed with `key`.
    pub fn generate_signed(key: &[u8]) -> Self {
        let random = Self::generate().0;
        let tag = tag(key, &random);
        Self(format!("{random}.{tag}"))
    }

    /// Whether the token carries a valid MAC under `key`.
    pub fn signed_by(&self, key: &[u8]) -> bool {
        let Some((random, given)) = self.0.split_once('.') else {
            return false;
        };
        let Ok(given) = URL_SAFE_NO_PAD.decode(given) else {
            return false;
        };
        // Constant-time comparison of the truncated MAC.
        mac_of(key, random).verify_truncated_left(&given).is_ok()
    }

    /// A token as the cookie carries it; anything that cannot be one is
    /// refused before any lookup.
    pub fn from_cookie(raw: &str) -> Option<Self> {
        let (random, tag) = match raw.split_once('.') {
            Some((random, tag)) => (random, Some(tag)),
            None => (raw, None),
        };
        let ok = random.len() == RANDOM_PART
            && url_safe(random)
            && tag.is_none_or(|t| t.len() == TAG_PART && url_safe(t));
        ok.then(|| Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn key(&self) -> SessionKey {
        let digest = Sha256::digest(self.0.as_bytes());
        SessionKey(URL_SAFE_NO_PAD.encode(digest))
    }
}

/// HMAC-SHA256 under `key` of a token's random part.
fn mac_of(key: &[u8], random: &str) -> Hmac<Sha256> {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(b"travoiq session\n");
    mac.update(random.as_bytes());
    mac
}

/// The MAC's first 16 bytes, URL-safe base64.
fn tag(key: &[u8], random: &str) -> String {
    let full = mac_of(key, random).finalize().into_bytes();
    URL_SAFE_NO_PAD.encode(&full[..16])
}

/// How a session is found in the store: the token's SHA-256.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionKey(pub String);

impl fmt::Debug for SessionKey {
    // Logs show a short prefix, enough to follow one session.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SessionKey({}…)",
            self.0.chars().take(8).collect::<String>()
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub key: SessionKey,
    pub username: Username,
    pub created_ms: i64,
    pub last_seen_ms: i64,
    /// The account's credentials version when the session was made.
    pub credentials_version: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountStoreError {
    #[error("an account named {0} already exists")]
    Exists(Username),
    #[error("no account named {0}")]
    NoSuchAccount(Username),
    #[error("the account store is unavailable: {0}")]
    Unavailable(String),
    #[error("the account store is unreadable: {0}")]
    Corrupt(String),
}

#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    async fn account(&self, name: &Username) -> Result<Option<Account>, AccountStoreError>;
    async fn accounts(&self) -> Result<Vec<Account>, AccountStoreError>;
    /// Adds an account; refuses if the name is taken.
    async fn create(&self, account: Account) -> Result<(), AccountStoreError>;
    /// Adds or replaces an account (the demo accounts at start).
    async fn put(&self, account: Account) -> Result<(), AccountStoreError>;
    async fn change(
        &self,
        name: &Username,
        change: AccountChange,
    ) -> Result<Account, AccountStoreError>;

    async fn create_session(&self, session: &SessionRecord) -> Result<(), AccountStoreError>;
    async fn session(&self, key: &SessionKey) -> Result<Option<SessionRecord>, AccountStoreError>;
    async fn touch_session(&self, key: &SessionKey, now_ms: i64) -> Result<(), AccountStoreError>;
    async fn delete_session(&self, key: &SessionKey) -> Result<(), AccountStoreError>;

    /// Keeps a new shared link's record.
    async fn create_link(&self, link: &LinkRecord) -> Result<(), AccountStoreError>;
    /// A link's record (the call is part of its key).
    async fn link(
        &self,
        call: &CallId,
        id: &LinkId,
    ) -> Result<Option<LinkRecord>, AccountStoreError>;
    /// Every link to a call still kept, oldest first.
    async fn links_of(&self, call: &CallId) -> Result<Vec<LinkRecord>, AccountStoreError>;
    /// Marks a link revoked (a second revocation keeps the first's who and
    /// when); the record as it now is, or `None` if there is no such link.
    async fn revoke_link(
        &self,
        call: &CallId,
        id: &LinkId,
        by: &Username,
        at_ms: i64,
    ) -> Result<Option<LinkRecord>, AccountStoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_stored_only_as_their_hash() {
        let a = SessionToken::generate();
        let b = SessionToken::generate();
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(a.as_str().len(), 43);
        assert_ne!(a.key().0, a.as_str());
        let again = SessionToken::from_cookie(a.as_str()).unwrap();
        assert_eq!(again.key(), a.key());
        for junk in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}=", &a.as_str()[..42]),
        ] {
            assert!(SessionToken::from_cookie(junk).is_none(), "{junk:?}");
        }
    }
}
