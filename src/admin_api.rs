//! Server functions behind the admin page: list, add, disable, reset and
//! change the role of accounts. Admins only; every change goes to the audit log.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::AccountSummary;

#[cfg(feature = "ssr")]
mod admin {
    use crate::error::AppError;
    use crate::model::{Role, Username};
    use crate::server::access::Door;
    use crate::server::auth::accounts::AccountStoreError;
    use crate::server::auth::ops::{AccountOpError, AccountOps};
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

    pub fn role(raw: &str) -> Result<Role, AppError> {
        Role::parse(raw).ok_or_else(|| AppError::Invalid("Pick a role.".into()))
    }

    pub fn ops<'a>(state: &'a AppState, by: &'a str) -> AccountOps<'a> {
        state.auth.ops(by)
    }

    pub fn op_error(e: AccountOpError) -> AppError {
        match e {
            AccountOpError::Store(e) => store_error(e),
            AccountOpError::Password(e) => AppError::Invalid(e.to_string()),
            e @ AccountOpError::LastAdmin(_) => AppError::Invalid(e.to_string()),
        }
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
    crate::server::http::server_fn::answer(
        async move {
            let (state, _) = admin::admin()?;
            let accounts = state
                .auth
                .store()
                .accounts()
                .await
                .map_err(admin::store_error)?;
            Ok(accounts.iter().map(|a| a.summary()).collect())
        }
        .await,
    )
}

/// Adds an account with a fresh random password, returned once to show.
/// `agent_id` defaults to the username.
#[server(prefix = "/api", endpoint = "accounts/add")]
pub async fn add_account(
    username: String,
    role: String,
    agent_id: String,
) -> Result<String, AppError> {
    crate::server::http::server_fn::answer(
        async move {
            use crate::server::auth::ops::Write;
            let (state, by) = admin::admin()?;
            let username = admin::username(&username)?;
            let role = admin::role(&role)?;
            admin::ops(&state, &by)
                .add(&username, role, Some(&agent_id), None, Write::New)
                .await
                .map_err(admin::op_error)
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "accounts/disable")]
pub async fn set_account_disabled(username: String, disabled: bool) -> Result<(), AppError> {
    crate::server::http::server_fn::answer(
        async move {
            let (state, by) = admin::admin()?;
            let username = admin::username(&username)?;
            if username.as_str() == by && disabled {
                return Err(AppError::Invalid(
                    "You cannot disable your own account.".into(),
                ));
            }
            admin::ops(&state, &by)
                .set_disabled(&username, disabled)
                .await
                .map_err(admin::op_error)
        }
        .await,
    )
}

/// Gives an account a fresh random password, returned once to show.
#[server(prefix = "/api", endpoint = "accounts/reset")]
pub async fn reset_password(username: String) -> Result<String, AppError> {
    crate::server::http::server_fn::answer(
        async move {
            let (state, by) = admin::admin()?;
            let username = admin::username(&username)?;
            admin::ops(&state, &by)
                .reset_password(&username, None)
                .await
                .map_err(admin::op_error)
        }
        .await,
    )
}

/// Gives an account another role; its sessions end (on every instance).
/// The last enabled admin keeps their role.
#[server(prefix = "/api", endpoint = "accounts/role")]
pub async fn set_account_role(username: String, role: String) -> Result<(), AppError> {
    crate::server::http::server_fn::answer(
        async move {
            let (state, by) = admin::admin()?;
            let username = admin::username(&username)?;
            let role = admin::role(&role)?;
            admin::ops(&state, &by)
                .set_role(&username, role)
                .await
                .map_err(admin::op_error)
        }
        .await,
    )
}
