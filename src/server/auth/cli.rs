//! `travoiq-monitor accounts ...`: add, list, disable, enable, reset and
//! change the role of accounts in the configured store (the accounts file on the embedded
//! backend, the DynamoDB tables otherwise), and create those tables.

use std::io::BufRead;
use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;

use crate::model::{Role, Username};
use crate::server::config::{Settings, StoreKind};
use crate::server::store::dynamo::client::table_client;

use super::accounts::AccountStore;
use super::dynamo_store::DynamoAccounts;
use super::file_store::FileAccounts;
use super::ops::{AccountOps, Write};

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
    /// Give an account another role (supervisor, agent or admin); its
    /// sessions end. The last enabled admin keeps their role.
    Role { username: String, role: String },
    /// Create the DynamoDB tables for accounts, sessions and shared links
    /// (DynamoDB only).
    CreateTables,
}

async fn open(settings: &Settings) -> Result<Arc<dyn AccountStore>, String> {
    match settings.store {
        StoreKind::Memory => Ok(Arc::new(FileAccounts::new(&settings.accounts_file))),
        StoreKind::Dynamodb => {
            let client = dynamo_client(settings).await?;
            Ok(Arc::new(DynamoAccounts::from_settings(settings, client)))
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
/// The password read from stdin, or `None` for a fresh random one.
fn given_password(from_stdin: bool) -> Result<Option<String>, String> {
    from_stdin.then(read_password).transpose()
}

fn username(raw: &str) -> Result<Username, String> {
    Username::parse(raw).map_err(|e| format!("{raw:?}: {e}"))
}

fn parse_role(raw: &str) -> Result<Role, String> {
    Role::parse(raw).ok_or_else(|| format!("{raw:?} is not a role: supervisor, agent or admin"))
}

pub async fn run(settings: &Settings, command: AccountsCommand) -> Result<(), String> {
    if let AccountsCommand::CreateTables = command {
        if settings.store != StoreKind::Dynamodb {
            return Err("create-tables is for TRAVOIQ_STORE=dynamodb; the embedded store keeps accounts in a file".into());
        }
        let client = dynamo_client(settings).await?;
        DynamoAccounts::from_settings(settings, client)
            .create_tables()
            .await
            .map_err(|e| e.to_string())?;
        let tables = settings.auth_tables();
        println!(
            "tables ready (ACTIVE): {}, {}, {}",
            tables.accounts, tables.sessions, tables.links
        );
        return Ok(());
    }
    let store = open(settings).await?;
    let ops = AccountOps::new(store.as_ref(), "command line");
    match command {
        AccountsCommand::Add {
            username: raw,
            role,
            agent_id,
            password_stdin,
        } => {
            let name = username(&raw)?;
            let role = parse_role(&role)?;
            let given = given_password(password_stdin)?;
            let print = given.is_none();
            let chosen = ops
                .add(&name, role, agent_id.as_deref(), given, Write::New)
                .await
                .map_err(|e| e.to_string())?;
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
        AccountsCommand::Disable { username: raw } => set_disabled(&ops, &raw, true).await?,
        AccountsCommand::Enable { username: raw } => set_disabled(&ops, &raw, false).await?,
        AccountsCommand::Reset {
            username: raw,
            password_stdin,
        } => {
            let name = username(&raw)?;
            let given = given_password(password_stdin)?;
            let print = given.is_none();
            let chosen = ops
                .reset_password(&name, given)
                .await
                .map_err(|e| e.to_string())?;
            println!("password of {name} reset");
            if print {
                println!("password: {chosen}");
            }
        }
        AccountsCommand::Role {
            username: raw,
            role,
        } => {
            let name = username(&raw)?;
            let role = parse_role(&role)?;
            ops.set_role(&name, role).await.map_err(|e| e.to_string())?;
            println!("{name} is now {role}");
        }
        AccountsCommand::CreateTables => {}
    }
    Ok(())
}

async fn set_disabled(ops: &AccountOps<'_>, raw: &str, disable: bool) -> Result<(), String> {
    let name = username(raw)?;
    ops.set_disabled(&name, disable)
        .await
        .map_err(|e| e.to_string())?;
    println!("{name} {}", if disable { "disabled" } else { "enabled" });
    Ok(())
}
