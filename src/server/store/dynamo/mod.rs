//! The DynamoDB backend on the real Amazon Connect tables.
//!
//! Reads both upstream writer formats (see `items`). Per watched call it
//! keeps the transcript in memory and re-reads only the tail of each table
//! (from the earliest utterance still partial, or the newest one), so a
//! long call costs the same per poll as a short one. Positions (`Seq`) are
//! given to changes as they are seen.
//!
//! Each table is followed through its DynamoDB stream while the stream can
//! be read (`streams`, applied by `watch`), and polled otherwise (`sources`
//! says which, and why): new calls by a periodic Scan of contactDetails
//! (`latest`), a watched call's transcript by re-reading it every `poll`
//! (`cache`, planned by `calls`, restarts told apart by `sessions`).
//!
//! This file is the glue: the store's settings, its parts, and the
//! [`CallStore`] answers. The clients are made in `client`, the tables
//! checked and created in `tables`, the requests counted in `counts`;
//! `writer` writes calls as the upstream pipeline does.

mod attrs;
mod cache;
mod calls;
pub mod client;
mod counts;
pub(crate) mod errors;
pub mod items;
mod latest;
mod sessions;
pub mod streams;
pub mod tables;
mod watch;
pub mod writer;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use tokio::sync::broadcast;

use crate::model::{CallDetails, CallId, SegmentKey, Seq};
use crate::server::config::TableNames;

use super::sources::{Sources, TableRole, TableSource};
use super::{CallStore, SegmentPage, StoreError, StoreNotice};
pub use client::{sdk_config, Endpoints};
use counts::Counters;
pub use counts::{RequestCounts, ShardCounts};
use latest::LatestTracker;
pub use streams::Pace;

#[derive(Clone, Debug)]
pub struct DynamoSettings {
    pub tables: TableNames,
    pub poll: Duration,
    pub latest_poll: Duration,
    pub timeout: Duration,
    pub idle_end: Duration,
    pub audio_stream_prefix: Option<String>,
    /// Items per Query/Scan page (`None`: DynamoDB's 1 MB pages). Tests set
    /// it small to exercise pagination.
    pub page_limit: Option<i32>,
    /// Endpoints for this server only (see [`client::resolve_endpoints`]).
    pub endpoint: Option<String>,
    pub streams_endpoint: Option<String>,
    /// How the stream readers pace themselves.
    pub stream_pace: Pace,
    /// Without streams: how often a live call is read whole (to see lines a
    /// restarted transcription session wrote below what was read).
    pub full_read_every: Duration,
    /// A partial older than this no longer holds back where reads start.
    pub partial_bound: Duration,
    /// The contactDetails attribute naming a call's agent.
    pub owner_attribute: String,
}

pub struct DynamoStore {
    counters: Counters,
    client: Client,
    settings: DynamoSettings,
    calls: std::sync::Mutex<cache::Readers>,
    latest: LatestTracker,
    sources: Sources,
    notices: broadcast::Sender<StoreNotice>,
}

impl DynamoStore {
    /// Connects, checks the tables, and starts the shared watchers.
    pub async fn connect(settings: DynamoSettings) -> Result<Arc<Self>, StoreError> {
        let sdk = sdk_config(settings.timeout, None).await?;
        let endpoints = Endpoints::from_env(
            settings.endpoint.as_deref(),
            settings.streams_endpoint.as_deref(),
        );
        endpoints.log();
        let client = endpoints.dynamodb_client(&sdk);
        let streams = endpoints.streams_client(&sdk);
        tables::check(&client, &settings.tables, settings.latest_poll).await;
        let (notices, _) = broadcast::channel(1024);
        let t = &settings.tables;
        let poll_ms = settings.poll.as_millis() as u64;
        let sources = Sources::new(
            [t.contact.clone(), t.customer.clone(), t.agent.clone()],
            [settings.latest_poll.as_millis() as u64, poll_ms, poll_ms],
        );
        let store = Arc::new(Self {
            counters: Counters::default(),
            client,
            latest: LatestTracker::new(settings.owner_attribute.clone()),
            settings,
            calls: std::sync::Mutex::new(cache::Readers::default()),
            sources,
            notices,
        });
        store.start_watchers(streams);
        Ok(store)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The DynamoDB store behind `store` (itself, or inside a metered
    /// store), if that is one (benchmarks and tests reach its counts this way).
    pub fn downcast(store: &Arc<dyn CallStore>) -> Option<Arc<Self>> {
        let any: Arc<dyn std::any::Any + Send + Sync> = super::metered::backend(store);
        any.downcast().ok()
    }

    /// DynamoDB requests made so far, by kind.
    pub fn request_counts(&self) -> RequestCounts {
        self.counters.snapshot()
    }

    /// GetRecords made so far on each stream shard.
    pub fn shard_counts(&self) -> HashMap<String, u64> {
        self.counters.per_shard.snapshot()
    }

    /// Drops everything cached (after the tables were emptied by hand).
    pub async fn forget_all(&self) {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.latest.forget();
    }

    fn notify(&self, notice: StoreNotice) {
        let _ = self.notices.send(notice);
    }

    fn table(&self, role: TableRole) -> &str {
        let t = &self.settings.tables;
        match role {
            TableRole::Contact => &t.contact,
            TableRole::Customer => &t.customer,
            TableRole::Agent => &t.agent,
        }
    }

    /// Both transcript tables are followed on their streams.
    fn transcripts_streamed(&self) -> bool {
        self.sources.is_streamed(TableRole::Customer) && self.sources.is_streamed(TableRole::Agent)
    }
}

#[async_trait]
impl CallStore for DynamoStore {
    async fn latest_call(&self) -> Result<Option<CallDetails>, StoreError> {
        // No call at all: the table is empty or the newest call has not
        // come off the stream yet; a Scan of an empty table costs nothing.
        if self
            .latest
            .needs_scan(self.latest.current().is_some(), Duration::ZERO)
        {
            self.scan_latest().await?;
        }
        Ok(self.latest.current())
    }

    async fn latest_call_of(&self, owner: &str) -> Result<Option<CallDetails>, StoreError> {
        if owner.is_empty() {
            return Ok(None);
        }
        // An agent without calls in a full table: not a Scan per ask.
        if self
            .latest
            .needs_scan(self.latest.of(owner).is_some(), self.settings.latest_poll)
        {
            self.scan_latest().await?;
        }
        Ok(self.latest.of(owner))
    }

    async fn recent_calls(&self, limit: usize) -> Result<Vec<CallDetails>, StoreError> {
        // Kept from the contactDetails stream (or the Scans that stand in
        // for it): a Scan only before the first.
        if self.latest.needs_scan(true, Duration::ZERO) {
            self.scan_latest().await?;
        }
        Ok(self.latest.recent(limit))
    }

    async fn call_details(&self, id: &CallId) -> Result<Option<CallDetails>, StoreError> {
        self.details_of(id).await
    }

    async fn segments_after(
        &self,
        id: &CallId,
        after: Seq,
        limit: usize,
    ) -> Result<SegmentPage, StoreError> {
        let reader = self.reader(id);
        self.refresh(id, &reader).await?;
        let page = reader.state().transcript.page_after(after, limit);
        Ok(page)
    }

    async fn segments_in_order(
        &self,
        id: &CallId,
        after: Option<SegmentKey>,
        limit: usize,
    ) -> Result<SegmentPage, StoreError> {
        let reader = self.reader(id);
        self.refresh(id, &reader).await?;
        let page = reader.state().transcript.page_in_order(after, limit);
        Ok(page)
    }

    fn notices(&self) -> broadcast::Receiver<StoreNotice> {
        self.notices.subscribe()
    }

    /// The poll interval, or five times it (a safety net) while both
    /// transcript tables are followed on their streams.
    fn poll_interval(&self) -> Option<Duration> {
        Some(if self.transcripts_streamed() {
            self.settings.poll * 5
        } else {
            self.settings.poll
        })
    }

    fn sources(&self) -> Vec<TableSource> {
        self.sources.snapshot()
    }

    async fn epoch(&self, id: &CallId) -> Result<u64, StoreError> {
        Ok(self.reader(id).state().epoch)
    }

    async fn last_seq(&self, id: &CallId) -> Result<Seq, StoreError> {
        let reader = self.reader(id);
        self.refresh(id, &reader).await?;
        let last = reader.state().transcript.last();
        Ok(last)
    }
}
