//! Account changes, one set for every caller: the admin page, the command
//! line and the demo accounts. Each hashes, writes and audits the same way.

use crate::model::{Role, Username};

use super::accounts::{Account, AccountChange, AccountStore, AccountStoreError};
use tokio::sync::broadcast;

use super::password::{self, PasswordError};
use super::sso::claims::SsoIdentity;
use super::{audit, AccessChange};
use crate::server::store::now_ms;

/// Why a company account can't sign in here.
#[derive(Debug, thiserror::Error)]
pub enum CompanyAccountError {
    #[error("{0} is the name of a local account (or another company account)")]
    NameTaken(Username),
    #[error("{0} is disabled here")]
    Disabled(Username),
    #[error(transparent)]
    Store(#[from] AccountStoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum AccountOpError {
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Store(#[from] AccountStoreError),
    #[error("{0} is the last enabled admin: make another admin first")]
    LastAdmin(Username),
}

/// How an account is written: as new (refused if the name is taken), or
/// over whatever is there (the demo accounts, at every start).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    New,
    Replace,
}

/// Account changes made by `by` (a username, or "command line").
pub struct AccountOps<'a> {
    store: &'a dyn AccountStore,
    by: &'a str,
    announce: Option<&'a broadcast::Sender<AccessChange>>,
}

impl<'a> AccountOps<'a> {
    pub fn new(store: &'a dyn AccountStore, by: &'a str) -> Self {
        Self {
            store,
            by,
            announce: None,
        }
    }

    /// Announces each change on `changes` (this instance's sockets check
    /// the account's sessions again at once).
    pub fn announcing(mut self, changes: &'a broadcast::Sender<AccessChange>) -> Self {
        self.announce = Some(changes);
        self
    }

    fn changed(&self, username: &Username, what: &str) {
        audit::account_changed(self.by, username, what);
        if let Some(changes) = self.announce {
            // No receiver is not an error: no socket is open.
            let _ = changes.send(AccessChange::Account(username.clone()));
        }
    }

    /// Adds an account with `password`, or a fresh random one; returns the
    /// password used (to show once). The agent id defaults to the username.
    pub async fn add(
        &self,
        username: &Username,
        role: Role,
        agent_id: Option<&str>,
        password: Option<String>,
        write: Write,
    ) -> Result<String, AccountOpError> {
        let (chosen, hash) = hashed(password).await?;
        let agent_id = match agent_id.map(str::trim) {
            None | Some("") => username.to_string(),
            Some(id) => id.chars().take(128).collect(),
        };
        let mut account = Account {
            username: username.clone(),
            role,
            password_hash: hash,
            agent_id,
            disabled: false,
            created_ms: now_ms(),
            credentials_version: 0,
            sso_subject: None,
        };
        match write {
            Write::New => self.store.create(account).await?,
            Write::Replace => {
                // A new password over an old one ends the old sessions; the
                // same password again (every instance making the same demo
                // accounts at start) ends nothing.
                if let Some(old) = self.store.account(username).await? {
                    let (given, hash) = (chosen.clone(), old.password_hash.clone());
                    let same = tokio::task::spawn_blocking(move || password::verify(&given, &hash))
                        .await
                        .unwrap_or(false);
                    account.credentials_version = old.credentials_version + u64::from(!same);
                }
                self.store.put(account).await?
            }
        }
        self.changed(username, &format!("added as {role}"));
        Ok(chosen)
    }

    /// The account of a user signed in with their company account: made at
    /// their first sign-in, its role and agent id kept as the provider says
    /// (a change ends the sessions made before it, as a reset does). A
    /// local account of the same name is never taken over.
    pub async fn company_account(&self, who: &SsoIdentity) -> Result<Account, CompanyAccountError> {
        let existing = self.store.account(&who.username).await?;
        match existing {
            Some(a) if a.sso_subject.as_deref() != Some(who.subject.as_str()) => {
                Err(CompanyAccountError::NameTaken(who.username.clone()))
            }
            Some(a) if a.disabled => Err(CompanyAccountError::Disabled(who.username.clone())),
            Some(a) if a.role == who.role && a.agent_id == who.agent_id => Ok(a),
            Some(a) => {
                let updated = Account {
                    role: who.role,
                    agent_id: who.agent_id.clone(),
                    credentials_version: a.credentials_version + 1,
                    ..a
                };
                self.store.put(updated.clone()).await?;
                self.changed(
                    &who.username,
                    &format!("now {} (from the identity provider)", who.role),
                );
                Ok(updated)
            }
            None => {
                let account = Account {
                    username: who.username.clone(),
                    role: who.role,
                    // No password: this account signs in at its provider.
                    password_hash: String::new(),
                    agent_id: who.agent_id.clone(),
                    disabled: false,
                    created_ms: now_ms(),
                    credentials_version: 0,
                    sso_subject: Some(who.subject.clone()),
                };
                self.store.create(account.clone()).await?;
                self.changed(
                    &who.username,
                    &format!("added as {} (from the identity provider)", who.role),
                );
                Ok(account)
            }
        }
    }

    /// Sets a new password (`password`, or a fresh random one); returns it.
    pub async fn reset_password(
        &self,
        username: &Username,
        password: Option<String>,
    ) -> Result<String, AccountOpError> {
        let (chosen, hash) = hashed(password).await?;
        self.store
            .change(username, AccountChange::PasswordHash(hash))
            .await?;
        self.changed(username, "password reset");
        Ok(chosen)
    }

    /// Gives an account another role. Like a password reset, it raises the
    /// credentials version: every session made under the old role ends,
    /// on every instance. The last enabled admin keeps their role.
    pub async fn set_role(&self, username: &Username, role: Role) -> Result<(), AccountOpError> {
        let accounts = self.store.accounts().await?;
        let Some(account) = accounts.iter().find(|a| &a.username == username) else {
            return Err(AccountStoreError::NoSuchAccount(username.clone()).into());
        };
        if account.role == role {
            return Ok(());
        }
        let enabled_admin = |a: &Account| a.role == Role::Admin && !a.disabled;
        if enabled_admin(account) && accounts.iter().filter(|a| enabled_admin(a)).count() == 1 {
            return Err(AccountOpError::LastAdmin(username.clone()));
        }
        self.store
            .change(username, AccountChange::Role(role))
            .await?;
        self.changed(username, &format!("role {} to {role}", account.role));
        Ok(())
    }

    pub async fn set_disabled(
        &self,
        username: &Username,
        disabled: bool,
    ) -> Result<(), AccountOpError> {
        self.store
            .change(username, AccountChange::Disabled(disabled))
            .await?;
        let what = if disabled { "disabled" } else { "enabled" };
        self.changed(username, what);
        Ok(())
    }
}

/// The password to use (given, or a fresh random one) and its hash.
async fn hashed(password: Option<String>) -> Result<(String, String), PasswordError> {
    let chosen = password.unwrap_or_else(password::random_password);
    let hash = password::hash_blocking(chosen.clone()).await?;
    Ok((chosen, hash))
}

#[cfg(test)]
mod tests {
    use super::super::file_store::FileAccounts;
    use super::*;

    fn store() -> FileAccounts {
        FileAccounts::new(std::env::temp_dir().join(format!(
            "travoiq-ops-test-{}-{}.json",
            std::process::id(),
            rand::random::<u32>()
        )))
    }

    #[tokio::test]
    async fn add_reset_and_disable_write_what_they_say() {
        let store = store();
        let ops = AccountOps::new(&store, "test");
        let maria = Username::parse("maria").unwrap();
        let chosen = ops
            .add(&maria, Role::Agent, Some("  "), None, Write::New)
            .await
            .unwrap();
        let account = store.account(&maria).await.unwrap().unwrap();
        assert_eq!(
            account.agent_id, "maria",
            "a blank agent id is the username"
        );
        assert!(password::verify(&chosen, &account.password_hash));
        // A second add of the same name is refused; a replace is not.
        assert!(matches!(
            ops.add(&maria, Role::Agent, None, None, Write::New).await,
            Err(AccountOpError::Store(AccountStoreError::Exists(_)))
        ));
        let given = "a long enough password".to_string();
        ops.reset_password(&maria, Some(given.clone()))
            .await
            .unwrap();
        let account = store.account(&maria).await.unwrap().unwrap();
        assert!(password::verify(&given, &account.password_hash));
        assert!(!password::verify(&chosen, &account.password_hash));
        ops.set_disabled(&maria, true).await.unwrap();
        assert!(store.account(&maria).await.unwrap().unwrap().disabled);
        let nobody = Username::parse("nobody").unwrap();
        assert!(ops.set_disabled(&nobody, true).await.is_err());
    }

    #[tokio::test]
    async fn a_password_reset_ends_the_sessions_made_before_it() {
        let settings = crate::server::config::Settings::load_with(&[]).unwrap();
        let auth = super::super::Auth::new(std::sync::Arc::new(store()), &settings);
        let maria = Username::parse("maria").unwrap();
        let old = "the first long password".to_string();
        auth.ops("test")
            .add(&maria, Role::Agent, None, Some(old.clone()), Write::New)
            .await
            .unwrap();
        let addr = std::net::IpAddr::from([127, 0, 0, 1]);
        let (_, before) = auth.sign_in("maria", &old, addr).await.unwrap();
        assert!(auth.session(&before.session).await.unwrap().is_some());
        let new = "the second long password".to_string();
        auth.ops("test")
            .reset_password(&maria, Some(new.clone()))
            .await
            .unwrap();
        assert!(
            auth.session(&before.session).await.unwrap().is_none(),
            "a session from before the reset is over"
        );
        let (_, after) = auth.sign_in("maria", &new, addr).await.unwrap();
        assert!(auth.session(&after.session).await.unwrap().is_some());
        // Made again with the same password (as every instance makes the
        // demo accounts at start): the session lives on. With another
        // password: it ends.
        let replace = |password: &str| {
            let ops = auth.ops("test");
            let password = Some(password.to_string());
            let maria = maria.clone();
            async move {
                ops.add(&maria, Role::Agent, None, password, Write::Replace)
                    .await
            }
        };
        replace(&new).await.unwrap();
        assert!(auth.session(&after.session).await.unwrap().is_some());
        replace("yet another long password").await.unwrap();
        assert!(auth.session(&after.session).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_company_account_follows_its_provider_and_never_takes_a_local_name() {
        let settings = crate::server::config::Settings::load_with(&[]).unwrap();
        let auth = super::super::Auth::new(std::sync::Arc::new(store()), &settings);
        let addr = std::net::IpAddr::from([127, 0, 0, 1]);
        let mut who = SsoIdentity {
            username: Username::parse("sam").unwrap(),
            role: Role::Supervisor,
            agent_id: String::new(),
            subject: "https://login.example.com 42".into(),
        };
        let (_, first) = auth.sign_in_sso(&who, addr).await.unwrap();
        let (_, again) = auth.sign_in_sso(&who, addr).await.unwrap();
        assert!(auth.session(&first.session).await.unwrap().is_some());
        // Demoted at the provider: the sessions made before end.
        who.role = Role::Agent;
        let (_, demoted) = auth.sign_in_sso(&who, addr).await.unwrap();
        assert_eq!(demoted.user.role, Role::Agent);
        for old in [&first, &again] {
            assert!(auth.session(&old.session).await.unwrap().is_none());
        }
        assert!(auth.session(&demoted.session).await.unwrap().is_some());
        // Another subject with the same name, or a local account's name.
        let mut other = who.clone();
        other.subject = "https://login.example.com 43".into();
        assert!(matches!(
            auth.ops("test").company_account(&other).await,
            Err(CompanyAccountError::NameTaken(_))
        ));
        auth.ops("test")
            .add(
                &Username::parse("kim").unwrap(),
                Role::Agent,
                None,
                None,
                Write::New,
            )
            .await
            .unwrap();
        other.username = Username::parse("kim").unwrap();
        assert!(matches!(
            auth.ops("test").company_account(&other).await,
            Err(CompanyAccountError::NameTaken(_))
        ));
        auth.ops("test")
            .set_disabled(&who.username, true)
            .await
            .unwrap();
        assert!(matches!(
            auth.ops("test").company_account(&who).await,
            Err(CompanyAccountError::Disabled(_))
        ));
    }

    #[tokio::test]
    async fn a_role_change_ends_old_sessions_and_spares_the_last_admin() {
        let settings = crate::server::config::Settings::load_with(&[]).unwrap();
        let auth = super::super::Auth::new(std::sync::Arc::new(store()), &settings);
        let mut changes = auth.changes();
        let (ada, sam) = (
            Username::parse("ada").unwrap(),
            Username::parse("sam").unwrap(),
        );
        let password = "a password long enough".to_string();
        for (name, role) in [(&ada, Role::Admin), (&sam, Role::Supervisor)] {
            auth.ops("test")
                .add(name, role, None, Some(password.clone()), Write::New)
                .await
                .unwrap();
        }
        while changes.try_recv().is_ok() {}
        let addr = std::net::IpAddr::from([127, 0, 0, 1]);
        let (_, before) = auth.sign_in("sam", &password, addr).await.unwrap();
        auth.ops("ada").set_role(&sam, Role::Agent).await.unwrap();
        assert_eq!(
            changes.try_recv().unwrap(),
            AccessChange::Account(sam.clone())
        );
        assert!(
            auth.session(&before.session).await.unwrap().is_none(),
            "a session from before the role change is over"
        );
        let (_, after) = auth.sign_in("sam", &password, addr).await.unwrap();
        assert_eq!(after.user.role, Role::Agent);
        // Ada is the only enabled admin: she stays one.
        assert!(matches!(
            auth.ops("ada").set_role(&ada, Role::Supervisor).await,
            Err(AccountOpError::LastAdmin(_))
        ));
        assert_eq!(
            auth.store().account(&ada).await.unwrap().unwrap().role,
            Role::Admin
        );
        // With another enabled admin she may step down.
        auth.ops("ada").set_role(&sam, Role::Admin).await.unwrap();
        auth.ops("ada")
            .set_role(&ada, Role::Supervisor)
            .await
            .unwrap();
        let nobody = Username::parse("nobody").unwrap();
        assert!(auth
            .ops("ada")
            .set_role(&nobody, Role::Agent)
            .await
            .is_err());
    }
}
