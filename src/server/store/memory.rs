//! The embedded in-process store: the default for local runs and tests.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::model::{CallDetails, CallId, SegmentKey, Seq};
use crate::server::contact::details_from_attributes;

use super::log::SegmentLog;
use super::{CallSink, CallStore, NewContact, SegmentPage, SegmentWrite, StoreError, StoreNotice};

/// Capacity of the notice channel; a reader that falls further behind is
/// told it lagged and re-reads (no change is lost, only notices merge).
const NOTICE_CAPACITY: usize = 1024;

pub struct MemoryStore {
    inner: Mutex<Inner>,
    /// Positions are numbered afresh by every process.
    epoch: u64,
    audio_stream_prefix: Option<String>,
    /// The attribute naming a call's agent.
    owner_attribute: String,
    notices: broadcast::Sender<StoreNotice>,
    retain: usize,
}

#[derive(Default)]
struct Inner {
    calls: HashMap<CallId, CallRecord>,
    /// Insertion counter, to break ties between calls with equal start times.
    inserted: u64,
}

struct CallRecord {
    details: CallDetails,
    inserted: u64,
    transcript: SegmentLog,
}

impl CallRecord {
    /// Newest-first order key: start time, then arrival.
    fn recency(&self) -> (i64, u64) {
        (
            self.details.started_at_ms.unwrap_or(i64::MIN),
            self.inserted,
        )
    }
}

impl MemoryStore {
    /// A store keeping at most `retain` calls (the oldest ended ones are
    /// dropped first; a live call is dropped only if every call is live).
    pub fn new(retain: usize) -> Self {
        let (notices, _) = broadcast::channel(NOTICE_CAPACITY);
        Self {
            inner: Mutex::new(Inner::default()),
            epoch: u64::from(rand::random::<u32>()),
            audio_stream_prefix: None,
            owner_attribute: String::new(),
            notices,
            retain: retain.max(1),
        }
    }

    /// Names each call's audio stream with this prefix (as the Kinesis
    /// stream the pipeline reads would be named).
    pub fn with_audio_stream_prefix(mut self, prefix: Option<String>) -> Self {
        self.audio_stream_prefix = prefix;
        self
    }

    /// Names the attribute that says whose call it is (see
    /// [`CallStore::latest_call_of`]).
    pub fn with_owner_attribute(mut self, attribute: impl Into<String>) -> Self {
        self.owner_attribute = attribute.into();
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every
        // mutation is a single insert/remove), so poisoning is not fatal.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn notify(&self, notice: StoreNotice) {
        // No receiver is not an error: nobody is watching yet.
        let _ = self.notices.send(notice);
    }

    /// Forgets every call (developer API only).
    pub fn clear(&self) {
        self.lock().calls.clear();
        self.notify(StoreNotice::Resync);
    }

    pub fn call_count(&self) -> usize {
        self.lock().calls.len()
    }
}

impl Inner {
    /// Forgets the oldest calls beyond `retain` (ended ones first); the
    /// ones forgotten.
    fn evict_beyond(&mut self, retain: usize) -> Vec<CallId> {
        let mut evicted = Vec::new();
        while self.calls.len() > retain {
            let victim = self
                .calls
                .iter()
                .min_by_key(|(_, c)| (c.details.ended_at_ms.is_none(), c.recency()))
                .map(|(id, _)| id.clone());
            match victim {
                Some(id) => {
                    self.calls.remove(&id);
                    tracing::debug!(call_id = %id, "evicted from the embedded store");
                    evicted.push(id);
                }
                None => break,
            }
        }
        evicted
    }
}

#[async_trait]
impl CallStore for MemoryStore {
    async fn latest_call(&self) -> Result<Option<CallDetails>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .calls
            .values()
            .max_by_key(|c| c.recency())
            .map(|c| c.details.clone()))
    }

    async fn latest_call_of(&self, owner: &str) -> Result<Option<CallDetails>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .calls
            .values()
            .filter(|c| {
                c.details
                    .attributes
                    .get(&self.owner_attribute)
                    .map(String::as_str)
                    == Some(owner)
            })
            .max_by_key(|c| c.recency())
            .map(|c| c.details.clone()))
    }

    async fn recent_calls(&self, limit: usize) -> Result<Vec<CallDetails>, StoreError> {
        let inner = self.lock();
        let mut calls: Vec<_> = inner.calls.values().collect();
        calls.sort_by_key(|c| std::cmp::Reverse(c.recency()));
        Ok(calls
            .into_iter()
            .take(limit)
            .map(|c| c.details.clone())
            .collect())
    }

    async fn call_details(&self, id: &CallId) -> Result<Option<CallDetails>, StoreError> {
        Ok(self.lock().calls.get(id).map(|c| c.details.clone()))
    }

    async fn segments_after(
        &self,
        id: &CallId,
        after: Seq,
        limit: usize,
    ) -> Result<SegmentPage, StoreError> {
        let inner = self.lock();
        let Some(call) = inner.calls.get(id) else {
            return Ok(SegmentPage::default());
        };
        Ok(call.transcript.page_after(after, limit))
    }

    async fn segments_in_order(
        &self,
        id: &CallId,
        after: Option<SegmentKey>,
        limit: usize,
    ) -> Result<SegmentPage, StoreError> {
        let inner = self.lock();
        let Some(call) = inner.calls.get(id) else {
            return Ok(SegmentPage::default());
        };
        Ok(call.transcript.page_in_order(after, limit))
    }

    fn notices(&self) -> broadcast::Receiver<StoreNotice> {
        self.notices.subscribe()
    }

    async fn epoch(&self, _id: &CallId) -> Result<u64, StoreError> {
        Ok(self.epoch)
    }

    async fn last_seq(&self, id: &CallId) -> Result<Seq, StoreError> {
        Ok(self
            .lock()
            .calls
            .get(id)
            .map(|c| c.transcript.last())
            .unwrap_or_default())
    }
}

#[async_trait]
impl CallSink for MemoryStore {
    async fn start_call(&self, contact: NewContact) -> Result<(), StoreError> {
        let details = details_from_attributes(
            contact.attributes,
            None,
            self.audio_stream_prefix.as_deref(),
        )
        .map_err(|e| StoreError::Misconfigured(e.to_string()))?;
        let id = details.call_id.clone();
        let evicted = {
            let mut inner = self.lock();
            inner.inserted += 1;
            let inserted = inner.inserted;
            match inner.calls.get_mut(&id) {
                // A re-written contact row updates the details only.
                Some(existing) => existing.details = details,
                None => {
                    inner.calls.insert(
                        id.clone(),
                        CallRecord {
                            details,
                            inserted,
                            transcript: SegmentLog::default(),
                        },
                    );
                }
            }
            inner.evict_beyond(self.retain)
        };
        for gone in evicted {
            self.notify(StoreNotice::CallRemoved(gone));
        }
        self.notify(StoreNotice::CallStarted(id));
        Ok(())
    }

    async fn write_segment(&self, id: &CallId, write: SegmentWrite) -> Result<(), StoreError> {
        {
            let mut inner = self.lock();
            let Some(call) = inner.calls.get_mut(id) else {
                // The pipeline can write transcript items before the contact
                // row exists; the embedded store needs the row first.
                return Err(StoreError::Misconfigured(format!(
                    "transcript for unknown call {id}"
                )));
            };
            call.transcript.record(write);
        }
        self.notify(StoreNotice::SegmentsChanged(id.clone()));
        Ok(())
    }

    async fn end_call(&self, id: &CallId, ended_at_ms: i64) -> Result<(), StoreError> {
        {
            let mut inner = self.lock();
            let Some(call) = inner.calls.get_mut(id) else {
                return Err(StoreError::Misconfigured(format!(
                    "end of unknown call {id}"
                )));
            };
            call.details.ended_at_ms = Some(ended_at_ms);
        }
        self.notify(StoreNotice::DetailsChanged(id.clone()));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
