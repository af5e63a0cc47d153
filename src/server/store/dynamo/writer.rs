//! Writing calls into the real tables, as the upstream pipeline does: for
//! local work against a DynamoDB-compatible server (`travoiq-monitor
//! writer`), for the simulator on the DynamoDB backend, and for tests.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, StreamSpecification, StreamViewType,
};
use aws_sdk_dynamodb::Client;

use crate::model::{CallId, Speaker};
use crate::server::config::TableNames;
use crate::server::contact::ATTR_CONTACT_ID;
use crate::server::store::{CallSink, NewContact, SegmentWrite, StoreError};

use super::errors::classify;
use super::items::{self, WriterFormat};
use super::now_ms;

pub struct DynamoWriter {
    client: Client,
    tables: TableNames,
    format: WriterFormat,
}

impl DynamoWriter {
    pub fn new(client: Client, tables: TableNames, format: WriterFormat) -> Self {
        Self {
            client,
            tables,
            format,
        }
    }

    /// Creates any of the three tables that does not exist, with streams
    /// (NEW_AND_OLD_IMAGES) as upstream creates them.
    pub async fn create_tables(&self) -> Result<(), StoreError> {
        self.create_tables_with(true).await
    }

    /// Creates the tables, with or without streams.
    pub async fn create_tables_with(&self, streams: bool) -> Result<(), StoreError> {
        let contact_key = ("contactId", ScalarAttributeType::S, None);
        let transcript_key = (
            items::CONTACT_ID,
            ScalarAttributeType::S,
            Some((items::START_TIME, ScalarAttributeType::N)),
        );
        for (table, key) in [
            (&self.tables.contact, contact_key),
            (&self.tables.customer, transcript_key.clone()),
            (&self.tables.agent, transcript_key),
        ] {
            let (hash, hash_type, range) = key;
            let mut create = self
                .client
                .create_table()
                .table_name(table)
                .billing_mode(BillingMode::PayPerRequest)
                .attribute_definitions(attribute(hash, hash_type)?)
                .key_schema(key_element(hash, KeyType::Hash)?);
            if streams {
                create = create.stream_specification(
                    StreamSpecification::builder()
                        .stream_enabled(true)
                        .stream_view_type(StreamViewType::NewAndOldImages)
                        .build()
                        .map_err(|e| StoreError::Misconfigured(e.to_string()))?,
                );
            }
            if let Some((range, range_type)) = range {
                create = create
                    .attribute_definitions(attribute(range, range_type)?)
                    .key_schema(key_element(range, KeyType::Range)?);
            }
            match create.send().await {
                Ok(_) => tracing::info!(table = %table, "table created"),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_in_use_exception()) =>
                {
                    tracing::info!(table = %table, "table exists")
                }
                Err(e) => return Err(classify("CreateTable", table, e)),
            }
        }
        Ok(())
    }

    /// Deletes every item of the three tables (developer API reset).
    pub async fn clear(&self) -> Result<(), StoreError> {
        let transcript_keys = [items::CONTACT_ID, items::START_TIME];
        for (table, keys) in [
            (&self.tables.contact, &[ATTR_CONTACT_ID][..]),
            (&self.tables.customer, &transcript_keys[..]),
            (&self.tables.agent, &transcript_keys[..]),
        ] {
            let mut start = None;
            loop {
                let out = self
                    .client
                    .scan()
                    .table_name(table)
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(|e| classify("Scan", table, e))?;
                for item in out.items() {
                    let key: HashMap<String, AttributeValue> = keys
                        .iter()
                        .filter_map(|k| item.get(*k).map(|v| (k.to_string(), v.clone())))
                        .collect();
                    self.client
                        .delete_item()
                        .table_name(table)
                        .set_key(Some(key))
                        .send()
                        .await
                        .map_err(|e| classify("DeleteItem", table, e))?;
                }
                start = out.last_evaluated_key().cloned();
                if start.is_none() {
                    break;
                }
            }
        }
        Ok(())
    }

    async fn put(
        &self,
        table: &str,
        item: HashMap<String, AttributeValue>,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| classify("PutItem", table, e))?;
        Ok(())
    }
}

fn attribute(name: &str, kind: ScalarAttributeType) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(kind)
        .build()
        .map_err(|e| StoreError::Misconfigured(e.to_string()))
}

fn key_element(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(|e| StoreError::Misconfigured(e.to_string()))
}

#[async_trait]
impl CallSink for DynamoWriter {
    async fn start_call(&self, contact: NewContact) -> Result<(), StoreError> {
        let item = contact
            .attributes
            .into_iter()
            .map(|(k, v)| (k, AttributeValue::S(v)))
            .collect();
        self.put(&self.tables.contact, item).await
    }

    async fn write_segment(&self, id: &CallId, write: SegmentWrite) -> Result<(), StoreError> {
        let table = match write.speaker {
            Speaker::Customer => &self.tables.customer,
            Speaker::Agent => &self.tables.agent,
        };
        let item = items::segment_item(self.format, id.as_str(), &write, now_ms());
        self.put(table, item).await
    }

    /// The recording pipeline adds the recordings' addresses when a call is
    /// over; the monitor reads that as the end of the call.
    async fn end_call(&self, id: &CallId, _ended_at_ms: i64) -> Result<(), StoreError> {
        let table = &self.tables.contact;
        self.client
            .update_item()
            .table_name(table)
            .key(ATTR_CONTACT_ID, AttributeValue::S(id.to_string()))
            .update_expression("SET #f = :f, #t = :t")
            .expression_attribute_names("#f", "audioFromCustomer")
            .expression_attribute_names("#t", "audioToCustomer")
            .expression_attribute_values(
                ":f",
                AttributeValue::S(format!(
                    "s3://travoiq-local/recordings/{id}/from-customer.wav"
                )),
            )
            .expression_attribute_values(
                ":t",
                AttributeValue::S(format!(
                    "s3://travoiq-local/recordings/{id}/to-customer.wav"
                )),
            )
            .send()
            .await
            .map_err(|e| classify("UpdateItem", table, e))?;
        Ok(())
    }
}
