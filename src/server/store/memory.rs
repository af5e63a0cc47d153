//! The embedded in-process store: the default for local runs and tests.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::model::{CallDetails, CallId, Seq};
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
    }

    pub fn call_count(&self) -> usize {
        self.lock().calls.len()
    }
}

impl Inner {
    fn evict_beyond(&mut self, retain: usize) {
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
                }
                None => break,
            }
        }
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
        {
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
            inner.evict_beyond(self.retain);
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
mod tests {
    use super::*;
    use crate::model::Speaker;
    use std::collections::BTreeMap;

    fn id(n: u8) -> CallId {
        CallId::parse(&format!("00000000-0000-4000-8000-0000000000{n:02x}")).unwrap()
    }

    fn contact(n: u8, ts: &str) -> NewContact {
        let mut attributes = BTreeMap::new();
        attributes.insert("contactId".to_string(), id(n).to_string());
        attributes.insert("callTimestamp".to_string(), ts.to_string());
        NewContact {
            call_id: id(n),
            attributes,
        }
    }

    fn write(speaker: Speaker, start_ms: i64, text: &str, partial: bool) -> SegmentWrite {
        SegmentWrite {
            speaker,
            segment_id: format!("seg-{start_ms}"),
            start_ms,
            end_ms: start_ms + 500,
            text: text.into(),
            partial,
        }
    }

    #[tokio::test]
    async fn partials_update_in_place_and_changes_after_a_position_are_exact() {
        let store = MemoryStore::new(10);
        store
            .start_call(contact(1, "2023-01-05T17:28:53Z"))
            .await
            .unwrap();
        let c = id(1);
        store
            .write_segment(&c, write(Speaker::Customer, 0, "Hi", true))
            .await
            .unwrap();
        store
            .write_segment(&c, write(Speaker::Customer, 0, "Hi there", true))
            .await
            .unwrap();
        store
            .write_segment(&c, write(Speaker::Agent, 900, "Hello", false))
            .await
            .unwrap();
        store
            .write_segment(&c, write(Speaker::Customer, 0, "Hi there!", false))
            .await
            .unwrap();

        let all = store.segments_after(&c, Seq::ZERO, 100).await.unwrap();
        let texts: Vec<_> = all
            .segments
            .iter()
            .map(|s| (s.seq.0, s.text.as_str(), s.partial))
            .collect();
        assert_eq!(texts, [(3, "Hello", false), (4, "Hi there!", false)]);

        // A viewer that saw up to 2 gets both segments in their latest state.
        let after2 = store.segments_after(&c, Seq(2), 100).await.unwrap();
        assert_eq!(after2.segments.len(), 2);
        let after3 = store.segments_after(&c, Seq(3), 100).await.unwrap();
        assert_eq!(after3.segments.len(), 1);
        assert_eq!(after3.segments[0].text, "Hi there!");
        assert!(store
            .segments_after(&c, Seq(4), 100)
            .await
            .unwrap()
            .segments
            .is_empty());
        assert_eq!(store.last_seq(&c).await.unwrap(), Seq(4));
    }

    #[tokio::test]
    async fn pages_say_when_more_follow() {
        let store = MemoryStore::new(10);
        store
            .start_call(contact(1, "2023-01-05T17:28:53Z"))
            .await
            .unwrap();
        for i in 0..5 {
            store
                .write_segment(&id(1), write(Speaker::Agent, i * 1000, "x", false))
                .await
                .unwrap();
        }
        let p = store.segments_after(&id(1), Seq::ZERO, 2).await.unwrap();
        assert_eq!(p.segments.len(), 2);
        assert!(p.more);
        let p = store.segments_after(&id(1), Seq(4), 2).await.unwrap();
        assert_eq!(p.segments.len(), 1);
        assert!(!p.more);
    }

    #[tokio::test]
    async fn latest_is_by_parsed_time_not_insertion_or_string_order() {
        let store = MemoryStore::new(10);
        store
            .start_call(contact(1, "Wed Feb 01 2023 09:00:00 GMT+0000"))
            .await
            .unwrap();
        store
            .start_call(contact(2, "Thu Jan 05 2023 12:28:53 GMT-0500"))
            .await
            .unwrap();
        assert_eq!(store.latest_call().await.unwrap().unwrap().call_id, id(1));
    }

    #[tokio::test]
    async fn retention_drops_the_oldest_ended_call_first() {
        let store = MemoryStore::new(2);
        store
            .start_call(contact(1, "2023-01-01T00:00:00Z"))
            .await
            .unwrap();
        store
            .start_call(contact(2, "2023-01-02T00:00:00Z"))
            .await
            .unwrap();
        store.end_call(&id(2), 1).await.unwrap();
        store
            .start_call(contact(3, "2023-01-03T00:00:00Z"))
            .await
            .unwrap();
        assert_eq!(store.call_count(), 2);
        assert!(store.call_details(&id(2)).await.unwrap().is_none());
        assert!(store.call_details(&id(1)).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn writes_announce_themselves() {
        let store = MemoryStore::new(10);
        let mut rx = store.notices();
        store
            .start_call(contact(1, "2023-01-01T00:00:00Z"))
            .await
            .unwrap();
        store
            .write_segment(&id(1), write(Speaker::Agent, 0, "x", true))
            .await
            .unwrap();
        store.end_call(&id(1), 5).await.unwrap();
        assert_eq!(rx.recv().await.unwrap(), StoreNotice::CallStarted(id(1)));
        assert_eq!(
            rx.recv().await.unwrap(),
            StoreNotice::SegmentsChanged(id(1))
        );
        assert_eq!(rx.recv().await.unwrap(), StoreNotice::DetailsChanged(id(1)));
    }

    #[tokio::test]
    async fn transcript_for_an_unknown_call_is_refused_not_stored() {
        let store = MemoryStore::new(10);
        let err = store
            .write_segment(&id(9), write(Speaker::Agent, 0, "x", true))
            .await;
        assert!(err.is_err());
        assert_eq!(store.call_count(), 0);
    }
}
