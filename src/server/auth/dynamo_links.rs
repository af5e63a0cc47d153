//! Shared links' records in their own DynamoDB table, keyed by call then
//! link id (a call's links are one query). Each carries `expiresAt`
//! (epoch seconds, a day after the link expires) for DynamoDB's TTL sweep.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ScalarAttributeType};
use aws_sdk_dynamodb::Client;

use crate::model::{CallId, LinkId, Username};
use crate::server::store::dynamo::errors::classify;
use crate::server::store::dynamo::tables::create_if_missing;

use super::accounts::AccountStoreError;
use super::dynamo_items::{
    condition_failed, get_n, get_s, n, s, turn_on_ttl, unavailable, Item, EXPIRES_AT,
};
use super::links::{LinkRecord, Revoked, KEEP_EXPIRED_MS};

const CALL_ID: &str = "callId";
const LINK_ID: &str = "linkId";

pub struct DynamoLinks {
    client: Client,
    table: String,
}

fn link_item(l: &LinkRecord) -> Item {
    let mut item = HashMap::from([
        (CALL_ID.to_string(), s(l.call.to_string())),
        (LINK_ID.to_string(), s(l.id.as_str())),
        ("agent".to_string(), s(l.agent.as_str())),
        ("madeBy".to_string(), s(l.made_by.as_str())),
        ("madeMs".to_string(), n(l.made_ms)),
        ("expiresMs".to_string(), n(l.expires_ms)),
        (
            EXPIRES_AT.to_string(),
            n(l.expires_ms.saturating_add(KEEP_EXPIRED_MS) / 1000),
        ),
    ]);
    if let Some(r) = &l.revoked {
        item.insert("revokedBy".to_string(), s(r.by.as_str()));
        item.insert("revokedMs".to_string(), n(r.at_ms));
    }
    item
}

fn link_from(item: &Item) -> Result<LinkRecord, AccountStoreError> {
    let bad = |what: &str| AccountStoreError::Corrupt(format!("link item without a valid {what}"));
    let name = |key: &str| get_s(item, key).and_then(|u| Username::parse(u).ok());
    let revoked = match (name("revokedBy"), get_n(item, "revokedMs")) {
        (Some(by), Some(at_ms)) => Some(Revoked { by, at_ms }),
        _ => None,
    };
    Ok(LinkRecord {
        id: get_s(item, LINK_ID)
            .and_then(|id| LinkId::parse(id).ok())
            .ok_or_else(|| bad(LINK_ID))?,
        call: get_s(item, CALL_ID)
            .and_then(|id| CallId::parse(id).ok())
            .ok_or_else(|| bad(CALL_ID))?,
        agent: name("agent").ok_or_else(|| bad("agent"))?,
        made_by: name("madeBy").ok_or_else(|| bad("madeBy"))?,
        made_ms: get_n(item, "madeMs").unwrap_or(0),
        expires_ms: get_n(item, "expiresMs").ok_or_else(|| bad("expiresMs"))?,
        revoked,
    })
}

impl DynamoLinks {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table if missing, and turns on its TTL sweep.
    pub async fn create_table(&self) -> Result<(), AccountStoreError> {
        create_if_missing(
            &self.client,
            &self.table,
            (CALL_ID, ScalarAttributeType::S),
            Some((LINK_ID, ScalarAttributeType::S)),
            false,
        )
        .await
        .map_err(unavailable)?;
        turn_on_ttl(&self.client, &self.table).await
    }

    pub async fn create(&self, link: &LinkRecord) -> Result<(), AccountStoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(link_item(link)))
            .send()
            .await
            .map_err(|e| unavailable(classify("PutItem", &self.table, e)))?;
        Ok(())
    }

    pub async fn get(
        &self,
        call: &CallId,
        id: &LinkId,
    ) -> Result<Option<LinkRecord>, AccountStoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(CALL_ID, s(call.to_string()))
            .key(LINK_ID, s(id.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(classify("GetItem", &self.table, e)))?;
        out.item().map(link_from).transpose()
    }

    pub async fn of_call(&self, call: &CallId) -> Result<Vec<LinkRecord>, AccountStoreError> {
        let mut links = Vec::new();
        let mut items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("callId = :c")
            .expression_attribute_values(":c", s(call.to_string()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = items.next().await {
            let item = item.map_err(|e| unavailable(classify("Query", &self.table, e)))?;
            match link_from(&item) {
                Ok(link) => links.push(link),
                Err(e) => tracing::warn!(table = %self.table, error = %e, "link item skipped"),
            }
        }
        links.sort_by_key(|l| l.made_ms);
        Ok(links)
    }

    pub async fn revoke(
        &self,
        call: &CallId,
        id: &LinkId,
        by: &Username,
        at_ms: i64,
    ) -> Result<Option<LinkRecord>, AccountStoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(CALL_ID, s(call.to_string()))
            .key(LINK_ID, s(id.as_str()))
            // The first revocation's who and when stay.
            .update_expression(
                "SET revokedBy = if_not_exists(revokedBy, :by), revokedMs = if_not_exists(revokedMs, :at)",
            )
            .expression_attribute_values(":by", s(by.as_str()))
            .expression_attribute_values(":at", n(at_ms))
            .condition_expression("attribute_exists(linkId)")
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match out {
            Ok(out) => out.attributes().map(link_from).transpose(),
            Err(e)
                if condition_failed(&e, UpdateItemError::is_conditional_check_failed_exception) =>
            {
                Ok(None)
            }
            Err(e) => Err(unavailable(classify("UpdateItem", &self.table, e))),
        }
    }
}
