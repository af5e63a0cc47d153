//! `travoiq-monitor accounts ...`: add, list, disable, enable and reset
//! accounts in the configured store (the accounts file on the embedded
//! backend, the DynamoDB tables otherwise), and create those tables.

use std::io::BufRead;
use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;

use crate::model::{Role, Username};
use crate::server::config::{Settings, StoreKind};
use crate::server::startup;
use crate::server::store::dynamo::client::table_client;

use super::accounts::{Account, AccountChange, AccountStore};
use super::file_store::FileAccounts;
use super::{now_ms, password};

#[derive(Subcommand)]
pub enum AccountsCommand {
    /// Add an account. Its password is read from standard input with
    /// --password-stdin, or made up and printed.
    Add {
        username: String,
        /// supervisor, agent or admin.
        #[arg(long)]
        role: String,
        /// The agent attribute value on this user's calls (default: the
        /// username).
        #[arg(long)]
        agent_id: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts (never their passwords).
    List,
    /// Stop an account from signing in; its sessions end.
    Disable { username: String },
    /// Let a disabled account sign in again.
    Enable { username: String },
    /// Give an account a new password (from standard input with
    /// --password-stdin, or made up and printed).
    Reset {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Create the DynamoDB tables for accounts and sessions (DynamoDB only).
    CreateTables,
}

async fn open(settings: &Settings) -> Result<Arc<dyn AccountStore>, String> {
    match settings.store {
        StoreKind::Memory => Ok(Arc::new(FileAccounts::new(&settings.accounts_file))),
        StoreKind::Dynamodb => {
            let client = dynamo_client(settings).await?;
            Ok(Arc::new(startup::dynamo_accounts(settings, client)))
        }
    }
}

async fn dynamo_client(settings: &Settings) -> Result<aws_sdk_dynamodb::Client, String> {
    table_client(
        Duration::from_millis(settings.dynamodb_timeout_ms),
        settings.endpoints().0,
    )
    .await
    .map_err(|e| e.to_string())
}

fn read_password() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("could not read the password: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// The password to set, and whether to print it (made up here).
fn choose_password(from_stdin: bool) -> Result<(String, bool), String> {
    if from_stdin {
        Ok((read_password()?, false))
    } else {
        Ok((password::random_password(), true))
    }
}

fn username(raw: &str) -> Result<Username, String> {
    Username::parse(raw).map_err(|e| format!("{raw:?}: {e}"))
}

pub async fn run(settings: &Settings, command: AccountsCommand) -> Result<(), String> {
    if let AccountsCommand::CreateTables = command {
        if settings.store != StoreKind::Dynamodb {
            return Err("create-tables is for TRAVOIQ_STORE=dynamodb; the embedded store keeps accounts in a file".into());
        }
        let client = dynamo_client(settings).await?;
        return startup::dynamo_accounts(settings, client)
            .create_tables()
            .await
            .map_err(|e| e.to_string());
    }
    let store = open(settings).await?;
    match command {
        AccountsCommand::Add {
            username: raw,
            role,
            agent_id,
            password_stdin,
        } => {
            let name = username(&raw)?;
            let role = Role::parse(&role)
                .ok_or_else(|| format!("{role:?} is not a role: supervisor, agent or admin"))?;
            let (chosen, print) = choose_password(password_stdin)?;
            let hash = password::hash_blocking(chosen.clone())
                .await
                .map_err(|e| e.to_string())?;
            store
                .create(Account {
                    agent_id: agent_id.unwrap_or_else(|| name.to_string()),
                    username: name.clone(),
                    role,
                    password_hash: hash,
                    disabled: false,
                    created_ms: now_ms(),
                })
                .await
                .map_err(|e| e.to_string())?;
            super::audit::account_changed("command line", &name, &format!("added as {role}"));
            println!("added {name} ({role})");
            if print {
                println!("password: {chosen}");
            }
        }
        AccountsCommand::List => {
            println!("{:<24} {:<11} {:<24} state", "username", "role", "agent id");
            for a in store.accounts().await.map_err(|e| e.to_string())? {
                let state = if a.disabled { "disabled" } else { "active" };
                println!(
                    "{:<24} {:<11} {:<24} {state}",
                    a.username, a.role, a.agent_id
                );
            }
        }
        AccountsCommand::Disable { username: raw } => {
            set_disabled(store.as_ref(), &raw, true).await?
        }
        AccountsCommand::Enable { username: raw } => {
            set_disabled(store.as_ref(), &raw, false).await?
        }
        AccountsCommand::Reset {
            username: raw,
            password_stdin,
        } => {
            let name = username(&raw)?;
            let (chosen, print) = choose_password(password_stdin)?;
            let hash = password::hash_blocking(chosen.clone())
                .await
                .map_err(|e| e.to_string())?;
            store
                .change(&name, AccountChange::PasswordHash(hash))
                .await
                .map_err(|e| e.to_string())?;
            super::audit::account_changed("command line", &name, "password reset");
            println!("password of {name} reset");
            if print {
                println!("password: {chosen}");
            }
        }
        AccountsCommand::CreateTables => {}
    }
    Ok(())
}

async fn set_disabled(store: &dyn AccountStore, raw: &str, disable: bool) -> Result<(), String> {
    let name = username(raw)?;
    store
        .change(&name, AccountChange::Disabled(disable))
        .await
        .map_err(|e| e.to_string())?;
    let what = if disable { "disabled" } else { "enabled" };
    super::audit::account_changed("command line", &name, what);
    println!("{name} {what}");
    Ok(())
}
