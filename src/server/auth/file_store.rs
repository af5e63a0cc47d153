//! Accounts in a JSON file, sessions in this process: the account store of
//! the embedded backend (one server instance). The file is re-read when it
//! changes, so `travoiq-monitor accounts ...` run beside a live server
//! takes effect at once (a disabled account's sessions end on their next
//! request). Shared links' records are kept in the same file (a link made
//! before a restart still opens, and a revoked one stays revoked); a day
//! after a link expires its record is dropped at the next write. Writes
//! replace the file atomically (write, then rename).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::model::{CallId, LinkId, Username};
use crate::server::store::now_ms;

use super::accounts::{
    Account, AccountChange, AccountStore, AccountStoreError, SessionKey, SessionRecord,
};
use super::links::{LinkRecord, Revoked};

#[derive(Default, Serialize, Deserialize)]
struct AccountsFile {
    accounts: Vec<Account>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    links: Vec<LinkRecord>,
}

#[derive(Default)]
struct Cached {
    accounts: BTreeMap<Username, Account>,
    links: BTreeMap<LinkId, LinkRecord>,
    modified: Option<SystemTime>,
}

pub struct FileAccounts {
    path: PathBuf,
    cache: Mutex<Cached>,
    sessions: std::sync::Mutex<HashMap<SessionKey, SessionRecord>>,
}

fn io_error(path: &Path, e: std::io::Error) -> AccountStoreError {
    AccountStoreError::Unavailable(format!("{}: {e}", path.display()))
}

impl FileAccounts {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            cache: Mutex::new(Cached::default()),
            sessions: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<SessionKey, SessionRecord>> {
        // Every mutation is one insert or remove: a poisoned map is whole.
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Brings the cache up to date with the file (a missing file is no
    /// accounts yet).
    async fn refresh(&self, cache: &mut Cached) -> Result<(), AccountStoreError> {
        let modified = match tokio::fs::metadata(&self.path).await {
            Ok(meta) => meta.modified().ok(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                cache.accounts.clear();
                cache.links.clear();
                cache.modified = None;
                return Ok(());
            }
            Err(e) => return Err(io_error(&self.path, e)),
        };
        if modified.is_some() && modified == cache.modified {
            return Ok(());
        }
        let text = tokio::fs::read_to_string(&self.path)
            .await
            .map_err(|e| io_error(&self.path, e))?;
        let file: AccountsFile = serde_json::from_str(&text)
            .map_err(|e| AccountStoreError::Corrupt(format!("{}: {e}", self.path.display())))?;
        cache.accounts = file
            .accounts
            .into_iter()
            .map(|a| (a.username.clone(), a))
            .collect();
        cache.links = file.links.into_iter().map(|l| (l.id.clone(), l)).collect();
        cache.modified = modified;
        Ok(())
    }

    async fn write(&self, cache: &mut Cached) -> Result<(), AccountStoreError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| io_error(dir, e))?;
        }
        let now = now_ms();
        cache.links.retain(|_, link| !link.forgotten(now));
        let file = AccountsFile {
            accounts: cache.accounts.values().cloned().collect(),
            links: cache.links.values().cloned().collect(),
        };
        let text = serde_json::to_string_pretty(&file)
            .map_err(|e| AccountStoreError::Corrupt(e.to_string()))?;
        let temp = self
            .path
            .with_extension(format!("tmp{}", std::process::id()));
        write_private(&temp, text.as_bytes())
            .await
            .map_err(|e| io_error(&temp, e))?;
        tokio::fs::rename(&temp, &self.path)
            .await
            .map_err(|e| io_error(&self.path, e))?;
        cache.modified = tokio::fs::metadata(&self.path)
            .await
            .ok()
            .and_then(|m| m.modified().ok());
        Ok(())
    }

    /// Reads the file fresh, applies `edit`, writes it back.
    async fn edit<T>(
        &self,
        edit: impl FnOnce(&mut Cached) -> Result<T, AccountStoreError>,
    ) -> Result<T, AccountStoreError> {
        let mut cache = self.cache.lock().await;
        cache.modified = None;
        self.refresh(&mut cache).await?;
        let out = edit(&mut cache)?;
        self.write(&mut cache).await?;
        Ok(out)
    }
}

/// The file holds password hashes: readable by its owner only.
async fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).await?;
    tokio::io::AsyncWriteExt::write_all(&mut file, bytes).await?;
    file.sync_all().await
}

#[async_trait]
impl AccountStore for FileAccounts {
    async fn account(&self, name: &Username) -> Result<Option<Account>, AccountStoreError> {
        let mut cache = self.cache.lock().await;
        self.refresh(&mut cache).await?;
        Ok(cache.accounts.get(name).cloned())
    }

    async fn accounts(&self) -> Result<Vec<Account>, AccountStoreError> {
        let mut cache = self.cache.lock().await;
        self.refresh(&mut cache).await?;
        Ok(cache.accounts.values().cloned().collect())
    }

    async fn create(&self, account: Account) -> Result<(), AccountStoreError> {
        self.edit(|Cached { accounts, .. }| {
            if accounts.contains_key(&account.username) {
                return Err(AccountStoreError::Exists(account.username));
            }
            accounts.insert(account.username.clone(), account);
            Ok(())
        })
        .await
    }

    async fn put(&self, account: Account) -> Result<(), AccountStoreError> {
        self.edit(|Cached { accounts, .. }| {
            accounts.insert(account.username.clone(), account);
            Ok(())
        })
        .await
    }

    async fn change(
        &self,
        name: &Username,
        change: AccountChange,
    ) -> Result<Account, AccountStoreError> {
        self.edit(|Cached { accounts, .. }| {
            let account = accounts
                .get_mut(name)
                .ok_or_else(|| AccountStoreError::NoSuchAccount(name.clone()))?;
            match change {
                AccountChange::Disabled(disabled) => account.disabled = disabled,
                AccountChange::PasswordHash(hash) => {
                    account.password_hash = hash;
                    account.credentials_version += 1;
                }
                AccountChange::Role(role) => {
                    account.role = role;
                    account.credentials_version += 1;
                }
            }
            Ok(account.clone())
        })
        .await
    }

    async fn create_session(&self, session: &SessionRecord) -> Result<(), AccountStoreError> {
        self.sessions().insert(session.key.clone(), session.clone());
        Ok(())
    }

    async fn session(&self, key: &SessionKey) -> Result<Option<SessionRecord>, AccountStoreError> {
        Ok(self.sessions().get(key).cloned())
    }

    async fn touch_session(&self, key: &SessionKey, now_ms: i64) -> Result<(), AccountStoreError> {
        if let Some(s) = self.sessions().get_mut(key) {
            s.last_seen_ms = now_ms;
        }
        Ok(())
    }

    async fn delete_session(&self, key: &SessionKey) -> Result<(), AccountStoreError> {
        self.sessions().remove(key);
        Ok(())
    }

    async fn create_link(&self, link: &LinkRecord) -> Result<(), AccountStoreError> {
        self.edit(|cache| {
            cache.links.insert(link.id.clone(), link.clone());
            Ok(())
        })
        .await
    }

    async fn link(
        &self,
        call: &CallId,
        id: &LinkId,
    ) -> Result<Option<LinkRecord>, AccountStoreError> {
        let mut cache = self.cache.lock().await;
        self.refresh(&mut cache).await?;
        Ok(cache.links.get(id).filter(|l| &l.call == call).cloned())
    }

    async fn links_of(&self, call: &CallId) -> Result<Vec<LinkRecord>, AccountStoreError> {
        let mut cache = self.cache.lock().await;
        self.refresh(&mut cache).await?;
        let mut links: Vec<_> = cache
            .links
            .values()
            .filter(|l| &l.call == call)
            .cloned()
            .collect();
        links.sort_by_key(|l| l.made_ms);
        Ok(links)
    }

    async fn revoke_link(
        &self,
        call: &CallId,
        id: &LinkId,
        by: &Username,
        at_ms: i64,
    ) -> Result<Option<LinkRecord>, AccountStoreError> {
        self.edit(|cache| {
            let Some(link) = cache.links.get_mut(id).filter(|l| &l.call == call) else {
                return Ok(None);
            };
            link.revoked.get_or_insert_with(|| Revoked {
                by: by.clone(),
                at_ms,
            });
            Ok(Some(link.clone()))
        })
        .await
    }
}
