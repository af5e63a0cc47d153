//! Accounts in a JSON file, sessions in this process: the account store of
//! the embedded backend (one server instance). The file is re-read when it
//! changes, so `travoiq-monitor accounts ...` run beside a live server
//! takes effect at once (a disabled account's sessions end on their next
//! request). Writes replace the file atomically (write, then rename).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::model::Username;

use super::accounts::{
    Account, AccountChange, AccountStore, AccountStoreError, SessionKey, SessionRecord,
};

#[derive(Default, Serialize, Deserialize)]
struct AccountsFile {
    accounts: Vec<Account>,
}

#[derive(Default)]
struct Cached {
    accounts: BTreeMap<Username, Account>,
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
        cache.modified = modified;
        Ok(())
    }

    async fn write(&self, cache: &mut Cached) -> Result<(), AccountStoreError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| io_error(dir, e))?;
        }
        let file = AccountsFile {
            accounts: cache.accounts.values().cloned().collect(),
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
        edit: impl FnOnce(&mut BTreeMap<Username, Account>) -> Result<T, AccountStoreError>,
    ) -> Result<T, AccountStoreError> {
        let mut cache = self.cache.lock().await;
        cache.modified = None;
        self.refresh(&mut cache).await?;
        let out = edit(&mut cache.accounts)?;
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
        self.edit(|accounts| {
            if accounts.contains_key(&account.username) {
                return Err(AccountStoreError::Exists(account.username));
            }
            accounts.insert(account.username.clone(), account);
            Ok(())
        })
        .await
    }

    async fn put(&self, account: Account) -> Result<(), AccountStoreError> {
        self.edit(|accounts| {
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
        self.edit(|accounts| {
            let account = accounts
                .get_mut(name)
                .ok_or_else(|| AccountStoreError::NoSuchAccount(name.clone()))?;
            match change {
                AccountChange::Disabled(disabled) => account.disabled = disabled,
                AccountChange::PasswordHash(hash) => {
                    account.password_hash = hash;
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
}
