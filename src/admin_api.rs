//! Server functions behind the admin page: list, add, disable and reset
//! accounts. Admins only; every change goes to the audit log.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::AccountSummary;

#[cfg(feature = "ssr")]
mod admin {
    use crate::error::AppError;
    use crate::model::{Role, Username};
    use crate::server::access::Door;
    use crate::server::auth::accounts::AccountStoreError;
    use crate::server::http::server_fn::asking;
    use crate::server::http::state::AppState;

    /// The state and the admin's name, or `NotAllowed`.
    pub fn admin() -> Result<(AppState, String), AppError> {
        let (state, who) = asking(Door::Page)?;
        if who.viewer.user.role != Role::Admin {
            return Err(AppError::NotAllowed);
        }
        Ok((state, who.viewer.user.username.to_string()))
    }

    pub fn username(raw: &str) -> Result<Username, AppError> {
        Username::parse(raw).map_err(|e| AppError::Invalid(e.to_string()))
    }

    pub fn store_error(e: AccountStoreError) -> AppError {
        match e {
            AccountStoreError::Exists(_) | AccountStoreError::NoSuchAccount(_) => {
                AppError::Invalid(e.to_string())
            }
            other => {
                tracing::error!(error = %other, "account store");
                AppError::Unavailable
            }
        }
    }
}

#[server(prefix = "/api", endpoint = "accounts")]
pub async fn list_accounts() -> Result<Vec<AccountSummary>, AppError> {
    let (state, _) = admin::admin()?;
    let accounts = state
        .auth
        .store()
        .accounts()
        .await
        .map_err(admin::store_error)?;
    Ok(accounts.iter().map(|a| a.summary()).collect())
}

/// Adds an account with a fresh random password, returned once to show.
/// `agent_id` defaults to the username.
#[server(prefix = "/api", endpoint = "accounts/add")]
pub async fn add_account(
    username: String,
    role: String,
    agent_id: String,
) -> Result<String, AppError> {
    use crate::server::auth::accounts::Account;
    use crate::server::auth::{audit, now_ms, password};
    let (state, by) = admin::admin()?;
    let username = admin::username(&username)?;
    let role =
        crate::model::Role::parse(&role).ok_or_else(|| AppError::Invalid("Pick a role.".into()))?;
    let agent_id = match agent_id.trim() {
        "" => username.to_string(),
        id => id.chars().take(128).collect(),
    };
    let chosen = password::random_password();
    let hash = password::hash_blocking(chosen.clone())
        .await
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    state
        .auth
        .store()
        .create(Account {
            username: username.clone(),
            role,
            password_hash: hash,
            agent_id,
            disabled: false,
            created_ms: now_ms(),
        })
        .await
        .map_err(admin::store_error)?;
    audit::account_changed(&by, &username, &format!("added as {role}"));
    Ok(chosen)
}

#[server(prefix = "/api", endpoint = "accounts/disable")]
pub async fn set_account_disabled(username: String, disabled: bool) -> Result<(), AppError> {
    use crate::server::auth::accounts::AccountChange;
    use crate::server::auth::audit;
    let (state, by) = admin::admin()?;
    let username = admin::username(&username)?;
    if username.as_str() == by && disabled {
        return Err(AppError::Invalid(
            "You cannot disable your own account.".into(),
        ));
    }
    state
        .auth
        .store()
        .change(&username, AccountChange::Disabled(disabled))
        .await
        .map_err(admin::store_error)?;
    audit::account_changed(
        &by,
        &username,
        if disabled { "disabled" } else { "enabled" },
    );
    Ok(())
}

/// Gives an account a fresh random password, returned once to show.
#[server(prefix = "/api", endpoint = "accounts/reset")]
pub async fn reset_password(username: String) -> Result<String, AppError> {
    use crate::server::auth::accounts::AccountChange;
    use crate::server::auth::{audit, password};
    let (state, by) = admin::admin()?;
    let username = admin::username(&username)?;
    let chosen = password::random_password();
    let hash = password::hash_blocking(chosen.clone())
        .await
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    state
        .auth
        .store()
        .change(&username, AccountChange::PasswordHash(hash))
        .await
        .map_err(admin::store_error)?;
    audit::account_changed(&by, &username, "password reset");
    Ok(chosen)
}
