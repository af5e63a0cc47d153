//! The tables themselves: checking the three at start, creating any table
//! the monitor or its tools need, and turning streams on.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType, TableStatus,
};
use aws_sdk_dynamodb::Client;

use crate::server::config::TableNames;
use crate::server::store::StoreError;

use super::errors::classify;

/// Read units one Scan of `bytes` of items costs (eventually consistent
/// reads: half a unit per 4 KB).
pub fn scan_read_units(bytes: u64) -> f64 {
    (bytes.div_ceil(4096) as f64) / 2.0
}

/// Describes each table and says clearly what is missing or not allowed.
/// When contactDetails has no stream, warns what finding new calls will
/// cost and how to make it faster.
pub async fn check(client: &Client, tables: &TableNames, latest_poll: Duration) {
    for name in [&tables.contact, &tables.customer, &tables.agent] {
        match client.describe_table().table_name(name).send().await {
            Ok(out) => {
                let Some(table) = out.table() else { continue };
                let stream = table
                    .stream_specification()
                    .is_some_and(|s| s.stream_enabled());
                tracing::info!(table = %name, stream, "table found");
                if name == &tables.contact && !stream {
                    let bytes = table.table_size_bytes().unwrap_or_default().max(0) as u64;
                    let units = scan_read_units(bytes);
                    let per_hour = units * 3600.0 / latest_poll.as_secs_f64();
                    tracing::warn!(
                        table = %name,
                        items = table.item_count().unwrap_or_default(),
                        bytes,
                        "no stream on the contact table: new calls are found by a Scan of the whole \
                         table every {} s (about {units:.0} read units each, {per_hour:.0} an hour), \
                         so a new call shows up to {} s late. Turn the table's stream on with \
                         `travoiq-monitor tables enable-streams` to follow new calls within a second.",
                        latest_poll.as_secs(),
                        latest_poll.as_secs(),
                    );
                }
            }
            Err(e) => match classify("DescribeTable", name, e) {
                StoreError::MissingTable(m) => {
                    tracing::error!("{m}: create it, or set TRAVOIQ_TABLE_PREFIX / the table names")
                }
                StoreError::AccessDenied(m) => tracing::error!("{m}"),
                other => {
                    tracing::error!(error = %other, table = %name, "table not checked; will retry on use")
                }
            },
        }
    }
}

/// A key attribute: its name and type.
pub type KeyAttribute<'a> = (&'a str, ScalarAttributeType);

fn build_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Misconfigured(e.to_string())
}

/// Creates `table` (on demand; with a stream of new and old images when
/// `stream`) unless it exists, and waits until it is ACTIVE (real DynamoDB
/// keeps a new table CREATING for a while, and the next command would find
/// no table). Whether it was created.
pub async fn create_if_missing(
    client: &Client,
    table: &str,
    hash: KeyAttribute<'_>,
    range: Option<KeyAttribute<'_>>,
    stream: bool,
) -> Result<bool, StoreError> {
    let mut create = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest);
    for (key, kind) in [
        Some((hash, KeyType::Hash)),
        range.map(|r| (r, KeyType::Range)),
    ]
    .into_iter()
    .flatten()
    {
        let ((name, scalar), kind) = (key, kind);
        create = create
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(scalar)
                    .build()
                    .map_err(build_err)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(kind)
                    .build()
                    .map_err(build_err)?,
            );
    }
    if stream {
        create = create.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .map_err(build_err)?,
        );
    }
    let created = match create.send().await {
        Ok(_) => true,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            false
        }
        Err(e) => return Err(classify("CreateTable", table, e)),
    };
    let waited = wait_until_active(client, table, ACTIVE_WITHIN).await?;
    if created {
        tracing::info!(
            table,
            "table created; waited {:.1} s until it was ACTIVE",
            waited.as_secs_f64()
        );
    } else {
        tracing::info!(table, "table already there, ACTIVE");
    }
    Ok(created)
}

/// How long a new table may stay CREATING before `create_if_missing`
/// gives up (real DynamoDB takes seconds, rarely a minute).
const ACTIVE_WITHIN: Duration = Duration::from_secs(300);

/// Waits until `table` is ACTIVE (reads and writes on a CREATING table
/// fail with "table does not exist"), describing it every half second at
/// first, then every second, for at most `limit`. How long it waited.
///
/// Not the SDK's `wait_until_table_exists`: its first retry comes after at
/// least 20 s (fixed in the model), so every new table cost 20 s even when
/// it was active after two.
pub async fn wait_until_active(
    client: &Client,
    table: &str,
    limit: Duration,
) -> Result<Duration, StoreError> {
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(250);
    loop {
        let status = match client.describe_table().table_name(table).send().await {
            Ok(out) => out.table().and_then(|t| t.table_status().cloned()),
            // Just created: DescribeTable may not see it yet.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                None
            }
            Err(e) => return Err(classify("DescribeTable", table, e)),
        };
        if status == Some(TableStatus::Active) {
            return Ok(started.elapsed());
        }
        if started.elapsed() >= limit {
            let status = status.map_or("not found".to_string(), |s| s.as_str().to_string());
            return Err(StoreError::Unavailable(format!(
                "table {table} still {status} after {} s; not ACTIVE",
                limit.as_secs()
            )));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// What `enable_streams` did to one table.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamChange {
    AlreadyOn(String),
    TurnedOn,
}

/// Turns on each table's stream (new and old images) where it is off.
/// Running servers pick the streams up on their own within a minute.
pub async fn enable_streams(
    client: &Client,
    tables: &TableNames,
) -> Result<Vec<(String, StreamChange)>, StoreError> {
    let mut done = Vec::new();
    for name in [&tables.contact, &tables.customer, &tables.agent] {
        let out = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| classify("DescribeTable", name, e))?;
        let current = out
            .table()
            .and_then(|t| t.stream_specification())
            .filter(|s| s.stream_enabled());
        if let Some(spec) = current {
            let view = spec
                .stream_view_type()
                .map(|v| v.as_str().to_string())
                .unwrap_or_default();
            done.push((name.clone(), StreamChange::AlreadyOn(view)));
            continue;
        }
        client
            .update_table()
            .table_name(name)
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
                    .map_err(|e| StoreError::Misconfigured(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| classify("UpdateTable", name, e))?;
        done.push((name.clone(), StreamChange::TurnedOn));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scan_costs_half_a_unit_per_4_kb() {
        assert_eq!(scan_read_units(0), 0.0);
        assert_eq!(scan_read_units(1), 0.5);
        assert_eq!(scan_read_units(4096), 0.5);
        assert_eq!(scan_read_units(4097), 1.0);
        assert_eq!(scan_read_units(30_000_000), 3662.5);
    }
}
