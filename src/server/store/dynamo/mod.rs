//! The DynamoDB backend on the real Amazon Connect tables.
//!
//! Reads both upstream writer formats (see `items`). Per watched call it
//! keeps the transcript in memory and re-reads only the tail of each table
//! (from the earliest utterance still partial, or the newest one), so a
//! long call costs the same per poll as a short one. Positions (`Seq`) are
//! given to changes as they are seen.
//!
//! Each table is followed through its DynamoDB stream while the stream can
//! be read (`streams`), and polled otherwise (`sources` says which, and
//! why): new calls by a periodic Scan of contactDetails (`latest`), a
//! watched call's transcript by re-reading it every `poll`.

mod attrs;
mod calls;
pub mod client;
mod counts;
pub(crate) mod errors;
pub mod items;
mod latest;
pub mod streams;
pub mod tables;
pub mod writer;

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use tokio::sync::{broadcast, mpsc};

use crate::model::{CallDetails, CallId, Seq, Speaker};
use crate::server::config::TableNames;
use crate::server::contact::{details_from_attributes, ATTR_CONTACT_ID};

use super::sources::{Sources, TableRole, TableSource};
use super::{CallStore, SegmentPage, StoreError, StoreNotice};
use calls::{CallReader, CallState, Timing};
pub use client::{sdk_config, Endpoints};
use counts::Counters;
pub use counts::{RequestCounts, ShardCounts};
use errors::classify;
use items::Item;
use latest::LatestTracker;
pub use streams::Pace;

/// Attributes the recording pipeline adds once a call is over.
const ENDED_MARKERS: [&str; 3] = ["combinedAudio", "audioFromCustomer", "audioToCustomer"];
/// How long call details are reused before being read again (while the
/// contact stream is read, a change clears the copy at once).
const DETAILS_TTL: Duration = Duration::from_secs(2);
const DETAILS_TTL_STREAMED: Duration = Duration::from_secs(30);
/// After a call ended, its tail is read this often, for this long.
const ENDED_READ_EVERY: Duration = Duration::from_secs(30);
const ENDED_READ_FOR: Duration = Duration::from_secs(300);
/// A call's cache is dropped when nobody asked for it for this long.
const CACHE_IDLE: Duration = Duration::from_secs(600);

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
    calls: std::sync::Mutex<HashMap<CallId, Arc<CallReader>>>,
    latest: LatestTracker,
    sources: Sources,
    notices: broadcast::Sender<StoreNotice>,
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
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
            calls: std::sync::Mutex::new(HashMap::new()),
            sources,
            notices,
        });
        store.start_watchers(streams);
        Ok(store)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The DynamoDB store behind `store`, if that is one (benchmarks and
    /// tests reach its counts this way).
    pub fn downcast(store: &Arc<dyn CallStore>) -> Option<Arc<Self>> {
        let any: Arc<dyn std::any::Any + Send + Sync> = store.clone();
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

    /// One stream reader per table, each with a consumer that applies its
    /// events in stream order; and the poller that looks for new calls
    /// while contactDetails can't be followed on its stream.
    fn start_watchers(self: &Arc<Self>, streams: aws_sdk_dynamodbstreams::Client) {
        for role in TableRole::ALL {
            let (tx, mut rx) = mpsc::channel(256);
            let follower = streams::Follower {
                tables: self.client.clone(),
                streams: streams.clone(),
                table: self.table(role).to_string(),
                pace: self.settings.stream_pace,
                requests: self.counters.get_records.clone(),
                per_shard: self.counters.per_shard.clone(),
            };
            tokio::spawn(follower.run(tx));
            let weak = Arc::downgrade(self);
            tokio::spawn(async move {
                while let Some(event) = rx.recv().await {
                    let Some(store) = weak.upgrade() else { return };
                    store.on_stream_event(role, event).await;
                }
            });
        }
        tokio::spawn(poll_latest(Arc::downgrade(self), self.settings.latest_poll));
    }

    async fn on_stream_event(&self, role: TableRole, event: streams::Event) {
        let poll_ms = match role {
            TableRole::Contact => self.settings.latest_poll,
            _ => self.settings.poll,
        }
        .as_millis() as u64;
        match event {
            streams::Event::Change(change) => match role {
                TableRole::Contact => self.on_contact_change(change).await,
                TableRole::Customer | TableRole::Agent => self.on_transcript_change(role, change),
            },
            streams::Event::Readable => {
                self.sources.set_stream(role);
                // Catch up on what changed while the stream was not read.
                match role {
                    TableRole::Contact => self.look_for_new_calls().await,
                    TableRole::Customer | TableRole::Agent => self.resync_calls(),
                }
            }
            streams::Event::Unreadable(why) => {
                if self
                    .sources
                    .set_polling(role, format!("stream unreadable: {why}"), poll_ms)
                    && role != TableRole::Contact
                {
                    self.resync_calls();
                }
            }
            streams::Event::NoStream => {
                if self
                    .sources
                    .set_polling(role, "no stream on this table".into(), poll_ms)
                    && role != TableRole::Contact
                {
                    self.resync_calls();
                }
            }
        }
    }

    async fn on_contact_change(&self, change: streams::Change) {
        if change.kind == streams::ChangeKind::Remove {
            self.latest
                .on_remove(change.keys.get(ATTR_CONTACT_ID).map(String::as_str));
            return;
        }
        let details = match details_from_attributes(
            change.new_image,
            None,
            self.settings.audio_stream_prefix.as_deref(),
        ) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "contact item on the stream skipped");
                return;
            }
        };
        let id = details.call_id.clone();
        if let Some(reader) = self.existing_reader(&id) {
            reader.state().details = None;
        }
        // Inserted or completed by an update: a call that becomes the
        // newest is announced either way.
        if self.latest.on_change(details) {
            self.notify(StoreNotice::CallStarted(id));
        } else {
            self.notify(StoreNotice::DetailsChanged(id));
        }
    }

    /// Scans contactDetails for the newest call (by parsed timestamp).
    async fn scan_latest(&self) -> Result<Option<CallId>, StoreError> {
        self.latest
            .scan(
                &self.client,
                &self.settings.tables.contact,
                self.settings.page_limit,
                self.settings.audio_stream_prefix.as_deref(),
                || Counters::count(&self.counters.scan),
            )
            .await
    }

    /// One Scan, announcing the newest call if it changed.
    async fn look_for_new_calls(&self) {
        match self.scan_latest().await {
            Ok(Some(id)) => self.notify(StoreNotice::CallStarted(id)),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "looking for new calls failed"),
        }
    }

    fn existing_reader(&self, id: &CallId) -> Option<Arc<CallReader>> {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    /// The call's reader (made on first use); calls nobody asked for in a
    /// while are forgotten.
    fn reader(&self, id: &CallId) -> Arc<CallReader> {
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

    /// Both transcript tables are followed on their streams.
    fn transcripts_streamed(&self) -> bool {
        self.sources.is_streamed(TableRole::Customer) && self.sources.is_streamed(TableRole::Agent)
    }

    async fn read_details(
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
        match details_from_attributes(
            items::contact_attributes(item),
            None,
            self.settings.audio_stream_prefix.as_deref(),
        ) {
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
    async fn refresh(&self, id: &CallId, reader: &CallReader) -> Result<(), StoreError> {
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
            .expression_attribute_names("#c", items::CONTACT_ID)
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

    /// A transcript table's change: applied from its image when the stream
    /// carries images and the call is watched; otherwise the call's next
    /// read is told to look.
    fn on_transcript_change(&self, role: TableRole, change: streams::Change) {
        let Some(id) = change
            .keys
            .get(items::CONTACT_ID)
            .and_then(|raw| CallId::parse(raw).ok())
        else {
            return;
        };
        let speaker = match role {
            TableRole::Agent => Speaker::Agent,
            _ => Speaker::Customer,
        };
        if let Some(reader) = self.existing_reader(&id) {
            let mut state = reader.state();
            match (&change.kind, &change.raw_image) {
                (streams::ChangeKind::Remove, _) => return,
                (_, Some(image)) => {
                    if !state.absorb(speaker, self.table(role), image) {
                        return;
                    }
                }
                (_, None) => state.mark_dirty(),
            }
        }
        self.notify(StoreNotice::SegmentsChanged(id));
    }

    /// Every watched call is to be read whole (changes may have been missed).
    fn resync_calls(&self) {
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

/// While contactDetails can't be followed on its stream, looks for new
/// calls every `every`.
async fn poll_latest(store: Weak<DynamoStore>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(store) = store.upgrade() else { return };
        if !store.sources.is_streamed(TableRole::Contact) {
            store.look_for_new_calls().await;
        }
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

    async fn call_details(&self, id: &CallId) -> Result<Option<CallDetails>, StoreError> {
        let reader = self.reader(id);
        self.read_details(id, &reader).await
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
