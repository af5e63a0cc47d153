//! Account changes, one set for every caller: the admin page, the command
//! line and the demo accounts. Each hashes, writes and audits the same way.

use crate::model::{Role, Username};

use super::accounts::{Account, AccountChange, AccountStore, AccountStoreError};
use tokio::sync::broadcast;

use super::password::{self, PasswordError};
use super::{audit, AccessChange};
use crate::server::store::now_ms;

#[derive(Debug, thiserror::Error)]
pub enum AccountOpError {
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Store(#[from] AccountStoreError),
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
        let account = Account {
            username: username.clone(),
            role,
            password_hash: hash,
            agent_id,
            disabled: false,
            created_ms: now_ms(),
        };
        match write {
            Write::New => self.store.create(account).await?,
            Write::Replace => self.store.put(account).await?,
        }
        self.changed(username, &format!("added as {role}"));
        Ok(chosen)
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
}
