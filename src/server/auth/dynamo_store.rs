//! Accounts and sessions in two DynamoDB tables, so every server instance
//! sees the same accounts and a sign-out on one ends the session on all;
//! shared links' records in a third ([`super::dynamo_links`]). Sessions
//! carry `expiresAt` (epoch seconds) for DynamoDB's TTL sweep.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ScalarAttributeType};
use aws_sdk_dynamodb::Client;

use crate::model::{CallId, LinkId, Role, Username};
use crate::server::config::AuthTables;
use crate::server::store::dynamo::errors::classify;
use crate::server::store::dynamo::tables::create_if_missing;

use super::accounts::{
    Account, AccountChange, AccountStore, AccountStoreError, SessionKey, SessionRecord,
};
use super::dynamo_items::{
    condition_failed, get_n, get_s, n, s, turn_on_ttl, unavailable, Item, EXPIRES_AT,
};
use super::dynamo_links::DynamoLinks;
use super::links::LinkRecord;

const USERNAME: &str = "username";
const SESSION_KEY: &str = "sessionKey";

pub struct DynamoAccounts {
    client: Client,
    tables: AuthTables,
    links: DynamoLinks,
    /// Sessions older than this are gone (the TTL attribute).
    max_age_secs: i64,
}

/// The account's credentials version, on account and session items
/// (absent on items written before it existed: version 0).
const CREDENTIALS_VERSION: &str = "credentialsVersion";

fn version(item: &Item) -> u64 {
    get_n(item, CREDENTIALS_VERSION)
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(0)
}

/// A company account's issuer and subject (absent on local accounts).
const SSO_SUBJECT: &str = "ssoSubject";

fn account_item(a: &Account) -> Item {
    let mut item = HashMap::from([
        (USERNAME.to_string(), s(a.username.as_str())),
        ("role".to_string(), s(a.role.as_str())),
        ("passwordHash".to_string(), s(&a.password_hash)),
        ("agentId".to_string(), s(&a.agent_id)),
        ("disabled".to_string(), AttributeValue::Bool(a.disabled)),
        ("createdMs".to_string(), n(a.created_ms)),
        (
            CREDENTIALS_VERSION.to_string(),
            n(a.credentials_version as i64),
        ),
    ]);
    if let Some(subject) = &a.sso_subject {
        item.insert(SSO_SUBJECT.to_string(), s(subject));
    }
    item
}

fn account_from(item: &Item) -> Result<Account, AccountStoreError> {
    let bad =
        |what: &str| AccountStoreError::Corrupt(format!("account item without a valid {what}"));
    Ok(Account {
        username: get_s(item, USERNAME)
            .and_then(|u| Username::parse(u).ok())
            .ok_or_else(|| bad("username"))?,
        role: get_s(item, "role")
            .and_then(Role::parse)
            .ok_or_else(|| bad("role"))?,
        password_hash: get_s(item, "passwordHash")
            .ok_or_else(|| bad("passwordHash"))?
            .to_string(),
        agent_id: get_s(item, "agentId").unwrap_or_default().to_string(),
        disabled: item
            .get("disabled")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        created_ms: get_n(item, "createdMs").unwrap_or(0),
        credentials_version: version(item),
        sso_subject: get_s(item, SSO_SUBJECT).map(str::to_string),
    })
}

impl DynamoAccounts {
    /// The account store these settings name.
    pub fn from_settings(settings: &crate::server::config::Settings, client: Client) -> Self {
        Self::new(
            client,
            settings.auth_tables(),
            settings.session_max_hours.saturating_mul(3600) as i64,
        )
    }

    pub fn new(client: Client, tables: AuthTables, max_age_secs: i64) -> Self {
        Self {
            links: DynamoLinks::new(client.clone(), tables.links.clone()),
            client,
            tables,
            max_age_secs,
        }
    }

    /// Creates the three tables if missing, and turns on TTL for sessions
    /// and links.
    pub async fn create_tables(&self) -> Result<(), AccountStoreError> {
        for (table, key) in [
            (&self.tables.accounts, USERNAME),
            (&self.tables.sessions, SESSION_KEY),
        ] {
            create_if_missing(
                &self.client,
                table,
                (key, ScalarAttributeType::S),
                None,
                false,
            )
            .await
            .map_err(unavailable)?;
        }
        turn_on_ttl(&self.client, &self.tables.sessions).await?;
        self.links.create_table().await
    }

    /// Checks the tables exist, naming what is missing.
    pub async fn check_tables(&self) -> Result<(), AccountStoreError> {
        for table in [
            &self.tables.accounts,
            &self.tables.sessions,
            &self.tables.links,
        ] {
            self.client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .map_err(|e| unavailable(classify("DescribeTable", table, e)))?;
        }
        Ok(())
    }
}

#[async_trait]
impl AccountStore for DynamoAccounts {
    async fn account(&self, name: &Username) -> Result<Option<Account>, AccountStoreError> {
        let table = &self.tables.accounts;
        let out = self
            .client
            .get_item()
            .table_name(table)
            .key(USERNAME, s(name.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(classify("GetItem", table, e)))?;
        out.item().map(account_from).transpose()
    }

    async fn accounts(&self) -> Result<Vec<Account>, AccountStoreError> {
        let table = &self.tables.accounts;
        let mut all = Vec::new();
        let mut pages = self.client.scan().table_name(table).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| unavailable(classify("Scan", table, e)))?;
            for item in page.items() {
                match account_from(item) {
                    Ok(a) => all.push(a),
                    Err(e) => tracing::warn!(table = %table, error = %e, "account item skipped"),
                }
            }
        }
        all.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(all)
    }

    async fn create(&self, account: Account) -> Result<(), AccountStoreError> {
        let table = &self.tables.accounts;
        let out = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(account_item(&account)))
            .condition_expression("attribute_not_exists(username)")
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e, PutItemError::is_conditional_check_failed_exception) => {
                Err(AccountStoreError::Exists(account.username))
            }
            Err(e) => Err(unavailable(classify("PutItem", table, e))),
        }
    }

    async fn put(&self, account: Account) -> Result<(), AccountStoreError> {
        let table = &self.tables.accounts;
        self.client
            .put_item()
            .table_name(table)
            .set_item(Some(account_item(&account)))
            .send()
            .await
            .map_err(|e| unavailable(classify("PutItem", table, e)))?;
        Ok(())
    }

    async fn change(
        &self,
        name: &Username,
        change: AccountChange,
    ) -> Result<Account, AccountStoreError> {
        let table = &self.tables.accounts;
        let (expression, values, names) = match change {
            AccountChange::Disabled(d) => (
                "SET disabled = :v",
                HashMap::from([(":v".to_string(), AttributeValue::Bool(d))]),
                None,
            ),
            AccountChange::PasswordHash(h) => (
                "SET passwordHash = :v ADD credentialsVersion :one",
                HashMap::from([(":v".to_string(), s(&h)), (":one".to_string(), n(1))]),
                None,
            ),
            // `role` is a reserved word in DynamoDB expressions.
            AccountChange::Role(role) => (
                "SET #role = :v ADD credentialsVersion :one",
                HashMap::from([
                    (":v".to_string(), s(role.as_str())),
                    (":one".to_string(), n(1)),
                ]),
                Some(HashMap::from([("#role".to_string(), "role".to_string())])),
            ),
        };
        let out = self
            .client
            .update_item()
            .table_name(table)
            .key(USERNAME, s(name.as_str()))
            .update_expression(expression)
            .set_expression_attribute_values(Some(values))
            .set_expression_attribute_names(names)
            .condition_expression("attribute_exists(username)")
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match out {
            Ok(out) => out
                .attributes()
                .map(account_from)
                .transpose()?
                .ok_or_else(|| AccountStoreError::NoSuchAccount(name.clone())),
            Err(e)
                if condition_failed(&e, UpdateItemError::is_conditional_check_failed_exception) =>
            {
                Err(AccountStoreError::NoSuchAccount(name.clone()))
            }
            Err(e) => Err(unavailable(classify("UpdateItem", table, e))),
        }
    }

    async fn create_session(&self, session: &SessionRecord) -> Result<(), AccountStoreError> {
        let table = &self.tables.sessions;
        let item = HashMap::from([
            (SESSION_KEY.to_string(), s(&session.key.0)),
            (USERNAME.to_string(), s(session.username.as_str())),
            ("createdMs".to_string(), n(session.created_ms)),
            ("lastSeenMs".to_string(), n(session.last_seen_ms)),
            (
                CREDENTIALS_VERSION.to_string(),
                n(session.credentials_version as i64),
            ),
            (
                EXPIRES_AT.to_string(),
                n(session.created_ms / 1000 + self.max_age_secs),
            ),
        ]);
        self.client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| unavailable(classify("PutItem", table, e)))?;
        Ok(())
    }

    async fn session(&self, key: &SessionKey) -> Result<Option<SessionRecord>, AccountStoreError> {
        let table = &self.tables.sessions;
        let out = self
            .client
            .get_item()
            .table_name(table)
            .key(SESSION_KEY, s(&key.0))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(classify("GetItem", table, e)))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let username = get_s(item, USERNAME).and_then(|u| Username::parse(u).ok());
        let (Some(username), Some(created_ms), Some(last_seen_ms)) = (
            username,
            get_n(item, "createdMs"),
            get_n(item, "lastSeenMs"),
        ) else {
            tracing::warn!(table = %table, "malformed session item ignored");
            return Ok(None);
        };
        Ok(Some(SessionRecord {
            key: key.clone(),
            username,
            created_ms,
            last_seen_ms,
            credentials_version: version(item),
        }))
    }

    async fn touch_session(&self, key: &SessionKey, now_ms: i64) -> Result<(), AccountStoreError> {
        let table = &self.tables.sessions;
        let out = self
            .client
            .update_item()
            .table_name(table)
            .key(SESSION_KEY, s(&key.0))
            .update_expression("SET lastSeenMs = :now")
            .expression_attribute_values(":now", n(now_ms))
            .condition_expression("attribute_exists(sessionKey)")
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            // Signed out meanwhile: nothing to touch.
            Err(e)
                if condition_failed(&e, UpdateItemError::is_conditional_check_failed_exception) =>
            {
                Ok(())
            }
            Err(e) => Err(unavailable(classify("UpdateItem", table, e))),
        }
    }

    async fn delete_session(&self, key: &SessionKey) -> Result<(), AccountStoreError> {
        let table = &self.tables.sessions;
        self.client
            .delete_item()
            .table_name(table)
            .key(SESSION_KEY, s(&key.0))
            .send()
            .await
            .map_err(|e| unavailable(classify("DeleteItem", table, e)))?;
        Ok(())
    }

    async fn create_link(&self, link: &LinkRecord) -> Result<(), AccountStoreError> {
        self.links.create(link).await
    }

    async fn link(
        &self,
        call: &CallId,
        id: &LinkId,
    ) -> Result<Option<LinkRecord>, AccountStoreError> {
        self.links.get(call, id).await
    }

    async fn links_of(&self, call: &CallId) -> Result<Vec<LinkRecord>, AccountStoreError> {
        self.links.of_call(call).await
    }

    async fn revoke_link(
        &self,
        call: &CallId,
        id: &LinkId,
        by: &Username,
        at_ms: i64,
    ) -> Result<Option<LinkRecord>, AccountStoreError> {
        self.links.revoke(call, id, by, at_ms).await
    }
}
