//! Signed-in users and accounts: roles and usernames.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a signed-in user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees every call.
    Supervisor,
    /// Sees the calls that are theirs, and calls shared with them.
    Agent,
    /// A supervisor who also manages accounts.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Supervisor, Role::Agent, Role::Admin];

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.to_ascii_lowercase().as_str() {
            "supervisor" => Some(Self::Supervisor),
            "agent" => Some(Self::Agent),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Supervisor => "supervisor",
            Self::Agent => "agent",
            Self::Admin => "admin",
        }
    }

    /// Supervisors and admins see every call.
    pub fn sees_every_call(self) -> bool {
        matches!(self, Self::Supervisor | Self::Admin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Longest username accepted.
pub const MAX_USERNAME: usize = 64;

/// An account's name: 1 to 64 of lower-case letters, digits, `.`, `_`, `-`
/// and `@`, starting with a letter or digit. Input is lower-cased first.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("a username is 1 to {MAX_USERNAME} characters")]
    Length,
    #[error("a username may hold only letters, digits, '.', '_', '-' and '@', and starts with a letter or digit")]
    Characters,
}

impl Username {
    pub fn parse(raw: &str) -> Result<Self, UsernameError> {
        let name = raw.trim().to_lowercase();
        if name.is_empty() || name.chars().count() > MAX_USERNAME {
            return Err(UsernameError::Length);
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_@".contains(c);
        let starts_well = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !starts_well || !name.chars().all(allowed) {
            return Err(UsernameError::Characters);
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl TryFrom<String> for Username {
    type Error = UsernameError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Username> for String {
    fn from(name: Username) -> Self {
        name.0
    }
}

/// The signed-in user, as the page shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub username: Username,
    pub role: Role,
}

/// An account as the admin page lists it (never its password hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountSummary {
    pub username: Username,
    pub role: Role,
    /// The value of the agent attribute that marks this user's calls.
    pub agent_id: String,
    pub disabled: bool,
}

/// What the sign-in page may say about this server's ways in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInHint {
    /// Demo accounts exist.
    pub demo: bool,
    /// Their password was set in TRAVOIQ_DEMO_PASSWORD (so the log does
    /// not print it).
    pub demo_password_set: bool,
    /// Single sign-on is on: how to name the provider.
    pub sso_label: Option<String>,
    /// Where to sign out at the provider too, when it offers that.
    pub sso_sign_out: Option<String>,
}
