//! Writing calls into the real tables, as the upstream pipeline does: for
//! local work against a DynamoDB-compatible server (`travoiq-monitor
//! writer`), for the simulator on the DynamoDB backend, for the writer
//! server (`writer serve`, the developer API's writes on DynamoDB), and
//! for tests.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ScalarAttributeType};
use aws_sdk_dynamodb::Client;

use crate::model::{CallId, Speaker, ATTR_AUDIO_FROM_CUSTOMER, ATTR_AUDIO_TO_CUSTOMER};
use crate::server::config::TableNames;
use crate::server::contact::ATTR_CONTACT_ID;
use crate::server::store::{now_ms, CallSink, NewContact, SegmentWrite, StoreError};

use super::errors::classify;
use super::items::{self, WriterFormat};
use super::tables;

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
        let contact = (ATTR_CONTACT_ID, ScalarAttributeType::S);
        tables::create_if_missing(&self.client, &self.tables.contact, contact, None, streams)
            .await?;
        for table in [&self.tables.customer, &self.tables.agent] {
            let transcript = (items::TRANSCRIPT_CONTACT_ID, ScalarAttributeType::S);
            let start = (items::START_TIME, ScalarAttributeType::N);
            tables::create_if_missing(&self.client, table, transcript, Some(start), streams)
                .await?;
        }
        Ok(())
    }

    /// Deletes every item of the three tables (the writer server's reset).
    pub async fn clear(&self) -> Result<(), StoreError> {
        let transcript_keys = [items::TRANSCRIPT_CONTACT_ID, items::START_TIME];
        for (table, keys) in [
            (&self.tables.contact, &[ATTR_CONTACT_ID][..]),
            (&self.tables.customer, &transcript_keys[..]),
            (&self.tables.agent, &transcript_keys[..]),
        ] {
            let mut pages = self.client.scan().table_name(table).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| classify("Scan", table, e))?;
                for item in page.items() {
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
            .expression_attribute_names("#f", ATTR_AUDIO_FROM_CUSTOMER)
            .expression_attribute_names("#t", ATTR_AUDIO_TO_CUSTOMER)
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
