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
/// Idle calls are looked for at most this often (not on every read).
const SWEEP_EVERY: Duration = Duration::from_secs(10);
/// At most this many calls are cached; beyond it the least recently used
/// go first.
const MAX_CACHED_CALLS: usize = 5_000;

/// The watched calls' readers: only calls that exist, at most
/// [`MAX_CACHED_CALLS`], idle ones swept now and then.
#[derive(Default)]
pub(super) struct Readers {
    calls: std::collections::HashMap<CallId, Arc<CallReader>>,
    swept: Option<Instant>,
}

impl Readers {
    pub(super) fn get(&self, id: &CallId) -> Option<Arc<CallReader>> {
        self.calls.get(id).cloned()
    }

    pub(super) fn len(&self) -> usize {
        self.calls.len()
    }

    pub(super) fn clear(&mut self) {
        self.calls.clear();
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &Arc<CallReader>> {
        self.calls.values()
    }

    /// The call's reader, made if there is none (`made` when a read found
    /// the call, to keep what it read).
    fn get_or_insert(&mut self, id: &CallId, made: Option<Arc<CallReader>>) -> Arc<CallReader> {
        self.sweep();
        let reader = self
            .calls
            .entry(id.clone())
            .or_insert_with(|| made.unwrap_or_default())
            .clone();
        reader.state().used_at = Instant::now();
        reader
    }

    fn sweep(&mut self) {
        let due = self.swept.is_none_or(|at| at.elapsed() >= SWEEP_EVERY);
        if !due && self.calls.len() < MAX_CACHED_CALLS {
            return;
        }
        self.swept = Some(Instant::now());
        let used_at = |r: &CallReader| r.state.try_lock().map(|s| s.used_at).ok();
        self.calls
            .retain(|_, r| used_at(r).is_none_or(|at| at.elapsed() < CACHE_IDLE));
        if self.calls.len() >= MAX_CACHED_CALLS {
            let mut by_use: Vec<_> = self
                .calls
                .iter()
                .map(|(id, r)| (used_at(r), id.clone()))
                .collect();
            // Oldest first; a reader busy right now (None) counts as new.
            let now = Instant::now();
            by_use.sort_by_key(|(at, _)| at.unwrap_or(now));
            let excess = self.calls.len() + 1 - MAX_CACHED_CALLS;
            for (_, id) in by_use.into_iter().take(excess) {
                self.calls.remove(&id);
            }
        }
    }
}

impl DynamoStore {
    fn readers(&self) -> std::sync::MutexGuard<'_, Readers> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The call's reader, if the call is watched.
    pub(super) fn existing_reader(&self, id: &CallId) -> Option<Arc<CallReader>> {
        self.readers().get(id)
    }

    /// How many calls are cached.
    pub fn cached_calls(&self) -> usize {
        self.readers().len()
    }

    /// The call's reader (made on first use); calls nobody asked for in a
    /// while are forgotten.
    pub(super) fn reader(&self, id: &CallId) -> Arc<CallReader> {
        self.readers().get_or_insert(id, None)
    }

    /// The call's details. A call not cached is read into a reader of its
    /// own, kept only if the call exists: asking for ids that name no call
    /// caches nothing.
    pub(super) async fn details_of(&self, id: &CallId) -> Result<Option<CallDetails>, StoreError> {
        if let Some(reader) = self.existing_reader(id) {
            reader.state().used_at = Instant::now();
            return self.read_details(id, &reader).await;
        }
        let reader = Arc::new(CallReader::default());
        let details = self.read_details(id, &reader).await?;
        if details.is_some() {
            self.readers().get_or_insert(id, Some(reader));
        }
        Ok(details)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: usize) -> CallId {
        CallId::parse(&format!("00000000-0000-4000-8000-{n:012}")).unwrap()
    }

    #[test]
    fn the_cache_keeps_at_most_its_cap_dropping_the_least_recently_used() {
        let mut readers = Readers::default();
        for n in 0..MAX_CACHED_CALLS + 50 {
            readers.get_or_insert(&id(n), None);
        }
        assert!(readers.len() <= MAX_CACHED_CALLS, "{}", readers.len());
        // The newest are kept, the oldest went.
        assert!(readers.get(&id(MAX_CACHED_CALLS + 49)).is_some());
        assert!(readers.get(&id(0)).is_none());
        // Using an old one again keeps it through the next eviction.
        let kept = id(MAX_CACHED_CALLS);
        readers.get_or_insert(&kept, None);
        for n in 0..100 {
            readers.get_or_insert(&id(MAX_CACHED_CALLS + 1_000 + n), None);
        }
        assert!(readers.get(&kept).is_some());
    }
}
