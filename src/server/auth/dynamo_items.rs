//! What the DynamoDB account, session and link stores share: reading and
//! writing attribute values, the TTL attribute, and telling a refused
//! conditional write from a failed one.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveSpecification};
use aws_sdk_dynamodb::Client;

use crate::server::store::dynamo::errors::classify;

use super::accounts::AccountStoreError;

/// Epoch seconds after which DynamoDB's TTL sweep may delete an item.
pub const EXPIRES_AT: &str = "expiresAt";

pub type Item = HashMap<String, AttributeValue>;

pub fn unavailable(e: impl std::fmt::Display) -> AccountStoreError {
    AccountStoreError::Unavailable(e.to_string())
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn get_s<'a>(item: &'a Item, key: &str) -> Option<&'a str> {
    item.get(key)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub fn get_n(item: &Item, key: &str) -> Option<i64> {
    item.get(key)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// Turns on DynamoDB's TTL sweep of `table` on `expiresAt`.
pub async fn turn_on_ttl(client: &Client, table: &str) -> Result<(), AccountStoreError> {
    let ttl = client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(EXPIRES_AT)
                .build()
                .map_err(unavailable)?,
        )
        .send()
        .await;
    if let Err(e) = ttl {
        // Already on, or not supported by a local server: expiry is
        // checked on every read anyway.
        tracing::info!(error = %classify("UpdateTimeToLive", table, e), "TTL not changed");
    }
    Ok(())
}

/// Whether a conditional write was refused by its condition (the item
/// exists, or doesn't), rather than failed.
pub fn condition_failed<E, R>(e: &SdkError<E, R>, refused: impl Fn(&E) -> bool) -> bool {
    e.as_service_error().is_some_and(refused)
}
