//! Who is signed in: accounts, sessions, sign-in limits and the audit
//! trail. Which calls a signed-in viewer may see is decided in one place
//! above this, [`crate::server::access`].

pub mod accounts;
pub mod audit;
pub mod cli;
pub mod dynamo_items;
pub mod dynamo_links;
pub mod dynamo_store;
pub mod file_store;
pub mod grant;
pub mod limit;
pub mod links;
pub mod ops;
pub mod password;
pub mod sso;

use std::net::IpAddr;
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::model::{LinkId, Role, User, Username};

use super::config::{Settings, Switch};
use super::store::now_ms;
use accounts::{Account, AccountStore, AccountStoreError, SessionKey, SessionRecord, SessionToken};
use limit::{SignInLimiter, Verdict};

/// Sessions are marked as used at most this often (a store write).
const TOUCH_EVERY_MS: i64 = 60_000;

/// The signed-in user behind a request or socket.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub user: User,
    /// The agent attribute value that marks this user's own calls.
    pub agent_id: String,
    pub session: SessionKey,
}

/// A change on this instance that may end what open sockets show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessChange {
    /// This session ended.
    SignedOut(SessionKey),
    /// This account changed (disabled, enabled, password reset, role):
    /// its sessions are checked again.
    Account(Username),
    /// This shared link was revoked: sockets opened with it close.
    LinkRevoked(LinkId),
}

/// Why a company sign-in did not open a session here, as the user is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsoRefusal {
    /// A local account (or another company account) has this name.
    NameTaken,
    Disabled,
    Unavailable,
}

/// Why a sign-in did not succeed, as the user is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInRefusal {
    /// Wrong name or password, or a disabled account: one answer for all.
    Refused,
    TooManyAttempts,
    Unavailable,
}

pub struct Auth {
    store: Arc<dyn AccountStore>,
    limiter: SignInLimiter,
    idle_ms: i64,
    max_age_ms: i64,
    secure_cookies: Switch,
    changes: broadcast::Sender<AccessChange>,
    /// Signs session tokens when the server has a secret (then a forged
    /// token is refused without a store read).
    cookie_key: Option<Vec<u8>>,
    /// Lookups of well-formed tokens that named no session, per address.
    missed: limit::FailedLookups,
    /// Single sign-on, when configured.
    sso: Option<sso::Sso>,
}

impl Auth {
    pub fn new(store: Arc<dyn AccountStore>, settings: &Settings) -> Self {
        let (changes, _) = broadcast::channel(256);
        Self {
            store,
            limiter: SignInLimiter::new(settings.sign_in_per_account, settings.sign_in_per_address),
            idle_ms: settings.session_idle_mins.saturating_mul(60_000) as i64,
            max_age_ms: settings.session_max_hours.saturating_mul(3_600_000) as i64,
            secure_cookies: settings.secure_cookies,
            changes,
            cookie_key: match settings.secret.trim() {
                "" => None,
                secret => Some(secret.as_bytes().to_vec()),
            },
            missed: limit::FailedLookups::default(),
            sso: Self::sso_from(settings),
        }
    }

    fn sso_from(settings: &Settings) -> Option<sso::Sso> {
        // Checked when the settings were loaded.
        let config = settings.sso.parsed().ok().flatten()?;
        let secret = Some(settings.secret.trim().as_bytes()).filter(|s| !s.is_empty());
        match sso::Sso::new(config, secret) {
            Ok(sso) => Some(sso),
            Err(e) => {
                tracing::error!(error = %e, "single sign-on is configured but can't start");
                None
            }
        }
    }

    /// Single sign-on, when it is configured.
    pub fn sso(&self) -> Option<&sso::Sso> {
        self.sso.as_ref()
    }

    pub fn store(&self) -> &Arc<dyn AccountStore> {
        &self.store
    }

    pub fn max_age_secs(&self) -> i64 {
        self.max_age_ms / 1000
    }

    pub fn secure_cookies(&self) -> Switch {
        self.secure_cookies
    }

    /// Sessions ended on this instance (sockets close at once; other
    /// instances notice at their next heartbeat).
    pub fn changes(&self) -> broadcast::Receiver<AccessChange> {
        self.changes.subscribe()
    }

    /// Tells this instance's sockets of a change at once (other instances
    /// notice at their next re-check).
    pub fn announce(&self, change: AccessChange) {
        // No receiver is not an error: no socket is open.
        let _ = self.changes.send(change);
    }

    /// Account changes made through [`Self::ops`] are announced to this
    /// instance's sockets at once.
    pub fn ops<'a>(&'a self, by: &'a str) -> ops::AccountOps<'a> {
        ops::AccountOps::new(self.store.as_ref(), by).announcing(&self.changes)
    }

    /// Checks a name and password; on success opens a session and returns
    /// its token (for the cookie).
    pub async fn sign_in(
        &self,
        raw_name: &str,
        password: &str,
        addr: IpAddr,
    ) -> Result<(SessionToken, Viewer), SignInRefusal> {
        let shown: String = raw_name.trim().chars().take(64).collect();
        match self.limiter.check(&shown, addr) {
            Verdict::Go => {}
            Verdict::Wait(delay) => tokio::time::sleep(delay).await,
            Verdict::Refuse => {
                audit::sign_in_throttled(&shown, addr);
                return Err(SignInRefusal::TooManyAttempts);
            }
        }
        let account = match Username::parse(raw_name) {
            Ok(name) => self.store.account(&name).await.map_err(|e| {
                tracing::error!(error = %e, "sign-in: account store unavailable");
                SignInRefusal::Unavailable
            })?,
            Err(_) => None,
        };
        let password = password.to_string();
        // A company account has no password here.
        let checked = account.clone().filter(|a| a.sso_subject.is_none());
        // The same work whether or not the account exists or is disabled.
        let matches = password::capped(move || match &checked {
            Some(a) => password::verify(&password, &a.password_hash) && !a.disabled,
            None => {
                password::verify_nobody(&password);
                false
            }
        })
        .await
        .unwrap_or(false);
        let account = match (matches, account) {
            (true, Some(account)) => account,
            _ => {
                self.limiter.failed(&shown, addr);
                audit::sign_in_failed(&shown, addr);
                return Err(SignInRefusal::Refused);
            }
        };
        self.limiter.succeeded(&shown, addr);
        let opened = self.open_session(&account, addr, "password").await;
        opened.map_err(|()| SignInRefusal::Unavailable)
    }

    /// Opens a session for someone who signed in with their company
    /// account (the provider has vouched for them; see [`sso::Sso::finish`]).
    pub async fn sign_in_sso(
        &self,
        who: &sso::claims::SsoIdentity,
        addr: IpAddr,
    ) -> Result<(SessionToken, Viewer), SsoRefusal> {
        let account = self
            .ops("identity provider")
            .company_account(who)
            .await
            .map_err(|e| {
                audit::sso_refused(Some(&who.username), &e.to_string(), addr);
                match e {
                    ops::CompanyAccountError::NameTaken(_) => SsoRefusal::NameTaken,
                    ops::CompanyAccountError::Disabled(_) => SsoRefusal::Disabled,
                    ops::CompanyAccountError::Store(e) => {
                        tracing::error!(error = %e, "single sign-on: account store unavailable");
                        SsoRefusal::Unavailable
                    }
                }
            })?;
        let opened = self.open_session(&account, addr, "sso").await;
        opened.map_err(|()| SsoRefusal::Unavailable)
    }

    /// A new session for `account`: its token (for the cookie) and viewer.
    async fn open_session(
        &self,
        account: &Account,
        addr: IpAddr,
        via: &str,
    ) -> Result<(SessionToken, Viewer), ()> {
        let token = match &self.cookie_key {
            Some(key) => SessionToken::generate_signed(key),
            None => SessionToken::generate(),
        };
        let now = now_ms();
        let record = SessionRecord {
            key: token.key(),
            username: account.username.clone(),
            created_ms: now,
            last_seen_ms: now,
            credentials_version: account.credentials_version,
        };
        self.store.create_session(&record).await.map_err(|e| {
            tracing::error!(error = %e, "sign-in: could not store the session");
        })?;
        audit::signed_in(&account.username, addr, via);
        Ok((token, self.viewer_of(account, record.key)))
    }

    fn viewer_of(&self, account: &Account, session: SessionKey) -> Viewer {
        Viewer {
            user: User {
                username: account.username.clone(),
                role: account.role,
            },
            agent_id: account.agent_id.clone(),
            session,
        }
    }

    /// The viewer a session token belongs to, if the session is alive and
    /// its account enabled. Expired sessions are deleted. A token that is
    /// not signed (when the server has a secret), or one from an address
    /// that has asked for too many sessions that don't exist, is refused
    /// without a store read.
    pub async fn viewer(
        &self,
        token: &SessionToken,
        addr: IpAddr,
    ) -> Result<Option<Viewer>, AccountStoreError> {
        if let Some(key) = &self.cookie_key {
            if !token.signed_by(key) {
                return Ok(None);
            }
        }
        if !self.missed.allowed(addr) {
            return Ok(None);
        }
        let viewer = self.session(&token.key()).await?;
        if viewer.is_none() {
            self.missed.missed(addr);
        }
        Ok(viewer)
    }

    /// Re-checks a session (for long-lived sockets), marking it used.
    pub async fn session(&self, key: &SessionKey) -> Result<Option<Viewer>, AccountStoreError> {
        let Some(record) = self.store.session(key).await? else {
            return Ok(None);
        };
        let now = now_ms();
        if now - record.created_ms >= self.max_age_ms || now - record.last_seen_ms >= self.idle_ms {
            audit::session_expired(&record.username);
            self.store.delete_session(key).await?;
            return Ok(None);
        }
        let account = match self.store.account(&record.username).await? {
            // A password reset since the session was made ends it.
            Some(a) if !a.disabled && a.credentials_version == record.credentials_version => a,
            _ => {
                self.store.delete_session(key).await?;
                return Ok(None);
            }
        };
        if now - record.last_seen_ms >= TOUCH_EVERY_MS {
            self.store.touch_session(key, now).await?;
        }
        Ok(Some(self.viewer_of(&account, record.key)))
    }

    /// Ends a session everywhere: the store forgets it, and this
    /// instance's sockets for it close.
    pub async fn sign_out(&self, viewer: &Viewer, addr: IpAddr) -> Result<(), AccountStoreError> {
        self.store.delete_session(&viewer.session).await?;
        let _ = self
            .changes
            .send(AccessChange::SignedOut(viewer.session.clone()));
        audit::signed_out(&viewer.user.username, addr);
        Ok(())
    }

    /// Makes (or resets) the demo accounts `supervisor` and `agent`. Each
    /// gets `password`, or a fresh random one; returns what was used.
    pub async fn ensure_demo_users(
        &self,
        password: Option<&str>,
    ) -> Result<Vec<(Username, String)>, String> {
        let ops = self.ops("demo accounts");
        let mut made = Vec::new();
        for (name, role) in [("supervisor", Role::Supervisor), ("agent", Role::Agent)] {
            let username = Username::parse(name).map_err(|e| e.to_string())?;
            let given = password.map(str::to_string);
            let chosen = ops
                .add(&username, role, None, given, ops::Write::Replace)
                .await
                .map_err(|e| format!("demo account {name}: {e}"))?;
            made.push((username, chosen));
        }
        Ok(made)
    }
}

#[cfg(test)]
mod tests;
