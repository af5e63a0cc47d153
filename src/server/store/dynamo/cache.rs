//! Each watched call's cache: its details, reused for a moment, and its
//! transcript, brought up to date by reading what is due of the call's two
//! tables (`calls` decides what is due). A call nobody asked for in a while
//! is forgotten.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;

use crate::model::{
    CallDetails, CallId, Speaker, ATTR_AUDIO_FROM_CUSTOMER, ATTR_AUDIO_TO_CUSTOMER,
    ATTR_COMBINED_AUDIO, ATTR_CONTACT_ID,
};
use crate::server::store::sources::TableRole;
use crate::server::store::{now_ms, StoreError, StoreNotice};

use super::calls::{CallReader, CallState, Timing};
use super::counts::Counters;
use super::errors::classify;
use super::items::{self, Item};
use super::DynamoStore;

/// Attributes the recording pipeline adds once a call is over.
const ENDED_MARKERS: [&str; 3] = [
    ATTR_COMBINED_AUDIO,
    ATTR_AUDIO_FROM_CUSTOMER,
    ATTR_AUDIO_TO_CUSTOMER,
];
/// How long call details are reused before being read again (while the
/// contact stream is read, a change clears the copy at once).
const DETAILS_TTL: Duration = Duration::from_secs(2);
const DETAILS_TTL_STREAMED: Duration = Duration::from_secs(30);
/// After a call ended, its tail is read this often, for this long.
const ENDED_READ_EVERY: Duration = Duration::from_secs(30);
const ENDED_READ_FOR: Duration = Duration::from_secs(300);
/// A call's cache is dropped when nobody asked for it for this long.
const CACHE_IDLE: Duration = Duration::from_secs(600);

impl DynamoStore {
    /// The call's reader, if the call is watched.
    pub(super) fn existing_reader(&self, id: &CallId) -> Option<Arc<CallReader>> {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    /// The call's reader (made on first use); calls nobody asked for in a
    /// while are forgotten.
    pub(super) fn reader(&self, id: &CallId) -> Arc<CallReader> {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        calls.retain(|_, r| {
            r.state
                .try_lock()
                .map(|s| s.used_at.elapsed() < CACHE_IDLE)
                .unwrap_or(true)
        });
        let reader = calls.entry(id.clone()).or_default().clone();
        reader.state().used_at = Instant::now();
        reader
    }

    /// The call's details: the copy, while fresh, else a GetItem.
    pub(super) async fn read_details(
        &self,
        id: &CallId,
        reader: &CallReader,
    ) -> Result<Option<CallDetails>, StoreError> {
        // With the contact stream read, a change clears the copy at once.
        let ttl = if self.sources.is_streamed(TableRole::Contact) {
            DETAILS_TTL_STREAMED
        } else {
            DETAILS_TTL
        };
        {
            let mut state = reader.state();
            if let Some((details, at)) = state.details.clone() {
                if at.elapsed() < ttl {
                    return Ok(Some(self.with_end(details, &mut state)));
                }
            }
        }
        let table = &self.settings.tables.contact;
        Counters::count(&self.counters.get_item);
        let out = self
            .client
            .get_item()
            .table_name(table)
            .key(ATTR_CONTACT_ID, AttributeValue::S(id.to_string()))
            .send()
            .await
            .map_err(|e| classify("GetItem", table, e))?;
        let mut state = reader.state();
        let Some(item) = out.item() else {
            state.details = None;
            return Ok(None);
        };
        match items::contact_details(item, self.settings.audio_stream_prefix.as_deref()) {
            Ok(details) => {
                state.details = Some((details.clone(), Instant::now()));
                Ok(Some(self.with_end(details, &mut state)))
            }
            Err(e) => {
                tracing::warn!(table, call_id = %id, error = %e, "contact item unreadable");
                Ok(None)
            }
        }
    }

    /// contactDetails has no end marker until recordings are merged: a call
    /// is over when they are, or when its transcript has been still for
    /// `idle_end`.
    fn with_end(&self, mut details: CallDetails, state: &mut CallState) -> CallDetails {
        let recorded = ENDED_MARKERS
            .iter()
            .any(|k| details.attributes.contains_key(*k));
        let idle = state
            .last_write_ms
            .filter(|last| now_ms() - last > self.settings.idle_end.as_millis() as i64);
        if recorded || idle.is_some() {
            details.ended_at_ms = idle.or(state.last_write_ms).or(details.started_at_ms);
            state.ended_at.get_or_insert_with(Instant::now);
        } else {
            state.ended_at = None;
        }
        details
    }

    /// Reads what is due of the call's two tables (see `calls`), one read
    /// at a time per call and no lock held across a request.
    pub(super) async fn refresh(&self, id: &CallId, reader: &CallReader) -> Result<(), StoreError> {
        let _one = reader.reading.lock().await;
        let now = Instant::now();
        let streamed = self.transcripts_streamed();
        let (plan, tails) = {
            let state = reader.state();
            let plan = state.plan(now, streamed, state.ended_at.is_some(), &self.timing());
            (plan, state.tails(now, self.settings.partial_bound))
        };
        if !plan.full && !plan.tail {
            return Ok(());
        }
        let tables = [
            (&self.settings.tables.customer, Speaker::Customer),
            (&self.settings.tables.agent, Speaker::Agent),
        ];
        let mut read = Vec::new();
        for (i, (table, speaker)) in tables.into_iter().enumerate() {
            let from = if plan.full { None } else { tails[i].as_deref() };
            read.push((table, speaker, self.query_call(table, id, from).await?));
        }
        let mut state = reader.state();
        for (table, speaker, items) in read {
            state.absorb_all(speaker, table, items);
        }
        state.read_done(plan.full, now);
        Ok(())
    }

    fn timing(&self) -> Timing {
        Timing {
            poll: self.settings.poll,
            full_read_every: self.settings.full_read_every,
            ended_every: ENDED_READ_EVERY,
            ended_for: ENDED_READ_FOR,
        }
    }

    /// Every item of the call in one table, or those from the sort key
    /// `from` on; all pages.
    async fn query_call(
        &self,
        table: &str,
        id: &CallId,
        from: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(table)
            .set_limit(self.settings.page_limit)
            .expression_attribute_names("#c", items::TRANSCRIPT_CONTACT_ID)
            .expression_attribute_values(":id", AttributeValue::S(id.to_string()));
        query = match from {
            Some(from) => query
                .key_condition_expression("#c = :id AND #s >= :from")
                .expression_attribute_names("#s", items::START_TIME)
                .expression_attribute_values(":from", AttributeValue::N(from.to_string())),
            None => query.key_condition_expression("#c = :id"),
        };
        let mut pages = query.into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            Counters::count(&self.counters.query);
            let page = page.map_err(|e| classify("Query", table, e))?;
            Counters::add(
                &self.counters.items_read,
                page.scanned_count().max(0) as u64,
            );
            found.extend(page.items().iter().cloned());
        }
        Ok(found)
    }

    /// Every watched call is to be read whole (changes may have been missed).
    pub(super) fn resync_calls(&self) {
        for reader in self
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            reader.state().mark_needs_full();
        }
        self.notify(StoreNotice::Resync);
    }
}
