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
pub mod client;
pub(crate) mod errors;
pub mod items;
mod latest;
pub mod streams;
pub mod tables;
pub mod writer;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use tokio::sync::{broadcast, mpsc};

use crate::model::{CallDetails, CallId, SegmentKey, Seq, Speaker};
use crate::server::config::TableNames;
use crate::server::contact::{details_from_attributes, ATTR_CONTACT_ID};
use crate::server::timestamp::parse_call_timestamp;

use super::log::SegmentLog;
use super::sources::{Sources, TableRole, TableSource};
use super::{CallStore, SegmentPage, SegmentWrite, StoreError, StoreNotice};
pub use client::{sdk_config, Endpoints};
use errors::classify;
use items::Item;
use latest::LatestTracker;
pub use streams::{Pace, ShardCounts};

/// Attributes the recording pipeline adds once a call is over.
const ENDED_MARKERS: [&str; 3] = ["combinedAudio", "audioFromCustomer", "audioToCustomer"];
/// How long call details are reused before being read again.
const DETAILS_TTL: Duration = Duration::from_secs(2);
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
    /// The contactDetails attribute naming a call's agent.
    pub owner_attribute: String,
}

/// DynamoDB requests made so far, by kind (for benchmarks and logs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts {
    pub query: u64,
    pub get_item: u64,
    pub scan: u64,
    pub get_records: u64,
}

impl RequestCounts {
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        RequestCounts {
            query: self.query - earlier.query,
            get_item: self.get_item - earlier.get_item,
            scan: self.scan - earlier.scan,
            get_records: self.get_records - earlier.get_records,
        }
    }
}

#[derive(Default)]
struct Counters {
    query: AtomicU64,
    get_item: AtomicU64,
    scan: AtomicU64,
    get_records: Arc<AtomicU64>,
    per_shard: Arc<ShardCounts>,
}

fn count(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

pub struct DynamoStore {
    counters: Counters,
    client: Client,
    settings: DynamoSettings,
    calls: std::sync::Mutex<HashMap<CallId, Arc<tokio::sync::Mutex<CallCache>>>>,
    latest: LatestTracker,
    sources: Sources,
    notices: broadcast::Sender<StoreNotice>,
}

struct CallCache {
    /// Positions are given as changes are seen, so every new copy of a
    /// call numbers afresh.
    epoch: u64,
    transcript: SegmentLog,
    /// Each segment's sort key as stored, to resume queries from.
    raw_start: HashMap<SegmentKey, String>,
    /// Per table (customer, agent): the sort key to query from.
    tails: [Option<String>; 2],
    refreshed_at: Option<Instant>,
    details: Option<(CallDetails, Instant)>,
    /// Newest `LoggedOn` seen, or when a change was last seen.
    last_write_ms: Option<i64>,
    warned: HashSet<(Speaker, String)>,
    used_at: Instant,
}

impl CallCache {
    fn new() -> Self {
        Self {
            epoch: u64::from(rand::random::<u32>()),
            transcript: SegmentLog::default(),
            raw_start: HashMap::new(),
            tails: [None, None],
            refreshed_at: None,
            details: None,
            last_write_ms: None,
            warned: HashSet::new(),
            used_at: Instant::now(),
        }
    }
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
                TableRole::Customer | TableRole::Agent => {
                    if let Some(id) = change
                        .keys
                        .get(items::CONTACT_ID)
                        .and_then(|raw| CallId::parse(raw).ok())
                    {
                        self.notify(StoreNotice::SegmentsChanged(id));
                    }
                }
            },
            streams::Event::Readable => {
                self.sources.set_stream(role);
                // Catch up on what changed while the stream was not read.
                match role {
                    TableRole::Contact => self.look_for_new_calls().await,
                    TableRole::Customer | TableRole::Agent => self.notify(StoreNotice::Resync),
                }
            }
            streams::Event::Unreadable(why) => {
                if self
                    .sources
                    .set_polling(role, format!("stream unreadable: {why}"), poll_ms)
                {
                    self.notify(StoreNotice::Resync);
                }
            }
            streams::Event::NoStream => {
                if self
                    .sources
                    .set_polling(role, "no stream on this table".into(), poll_ms)
                {
                    self.notify(StoreNotice::Resync);
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
        if let Some(cache) = self.existing_cache(&id) {
            cache.lock().await.details = None;
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
                || count(&self.counters.scan),
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

    fn existing_cache(&self, id: &CallId) -> Option<Arc<tokio::sync::Mutex<CallCache>>> {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    fn cache(&self, id: &CallId) -> Arc<tokio::sync::Mutex<CallCache>> {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        // Forget calls nobody looked at for a while (try_lock: a busy one is in use).
        calls.retain(|_, c| {
            c.try_lock()
                .map(|c| c.used_at.elapsed() < CACHE_IDLE)
                .unwrap_or(true)
        });
        calls
            .entry(id.clone())
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(CallCache::new())))
            .clone()
    }

    async fn read_details(
        &self,
        id: &CallId,
        cache: &mut CallCache,
    ) -> Result<Option<CallDetails>, StoreError> {
        if let Some((details, at)) = &cache.details {
            if at.elapsed() < DETAILS_TTL {
                return Ok(Some(self.with_end(details.clone(), cache)));
            }
        }
        let table = &self.settings.tables.contact;
        count(&self.counters.get_item);
        let out = self
            .client
            .get_item()
            .table_name(table)
            .key(ATTR_CONTACT_ID, AttributeValue::S(id.to_string()))
            .send()
            .await
            .map_err(|e| classify("GetItem", table, e))?;
        let Some(item) = out.item() else {
            cache.details = None;
            return Ok(None);
        };
        match details_from_attributes(
            items::contact_attributes(item),
            None,
            self.settings.audio_stream_prefix.as_deref(),
        ) {
            Ok(details) => {
                cache.details = Some((details.clone(), Instant::now()));
                Ok(Some(self.with_end(details, cache)))
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
    fn with_end(&self, mut details: CallDetails, cache: &CallCache) -> CallDetails {
        let recorded = ENDED_MARKERS
            .iter()
            .any(|k| details.attributes.contains_key(*k));
        let idle = cache
            .last_write_ms
            .filter(|last| now_ms() - last > self.settings.idle_end.as_millis() as i64);
        if recorded || idle.is_some() {
            details.ended_at_ms = idle.or(cache.last_write_ms).or(details.started_at_ms);
        }
        details
    }

    /// Re-reads the tail of both transcript tables into the cache.
    async fn refresh(&self, id: &CallId, cache: &mut CallCache) -> Result<(), StoreError> {
        let fresh = cache.refreshed_at.is_some_and(|at| {
            at.elapsed() < (self.settings.poll / 2).max(Duration::from_millis(100))
        });
        if fresh {
            return Ok(());
        }
        let tables = [
            (0, &self.settings.tables.customer, Speaker::Customer),
            (1, &self.settings.tables.agent, Speaker::Agent),
        ];
        for (slot, table, speaker) in tables {
            let mut start: Option<Item> = None;
            loop {
                let mut query = self
                    .client
                    .query()
                    .table_name(table.as_str())
                    .set_limit(self.settings.page_limit)
                    .expression_attribute_names("#c", items::CONTACT_ID)
                    .expression_attribute_values(":id", AttributeValue::S(id.to_string()))
                    .set_exclusive_start_key(start.take());
                query = match &cache.tails[slot] {
                    Some(from) => query
                        .key_condition_expression("#c = :id AND #s >= :from")
                        .expression_attribute_names("#s", items::START_TIME)
                        .expression_attribute_values(":from", AttributeValue::N(from.clone())),
                    None => query.key_condition_expression("#c = :id"),
                };
                count(&self.counters.query);
                let out = query
                    .send()
                    .await
                    .map_err(|e| classify("Query", table, e))?;
                for item in out.items() {
                    absorb(cache, speaker, table, item);
                }
                start = out.last_evaluated_key().cloned();
                if start.is_none() {
                    break;
                }
            }
            cache.tails[slot] = tail_of(cache, speaker);
        }
        cache.refreshed_at = Some(Instant::now());
        Ok(())
    }
}

/// Takes one transcript item into the cache, giving it the next position
/// if it is new or changed.
fn absorb(cache: &mut CallCache, speaker: Speaker, table: &str, item: &Item) {
    let raw = items::raw_start(item).unwrap_or_default().to_string();
    let parsed = match items::parse_segment(item) {
        Ok(p) => p,
        Err(e) => {
            if cache.warned.insert((speaker, raw.clone())) {
                let contact = match item.get(items::CONTACT_ID) {
                    Some(AttributeValue::S(s)) => s.chars().take(64).collect::<String>(),
                    _ => String::new(),
                };
                tracing::warn!(table, contact_id = %contact, start_time = %raw, error = %e, "transcript item skipped");
            }
            return;
        }
    };
    let key = SegmentKey {
        start_ms: parsed.start_ms,
        speaker,
    };
    if let Some(old) = cache.transcript.get(&key) {
        if old.text == parsed.text && old.partial == parsed.partial && old.end_ms == parsed.end_ms {
            return;
        }
        // A final never goes back to partial (a stale read).
        if !old.partial && parsed.partial {
            return;
        }
    }
    let logged = match item.get(items::LOGGED_ON) {
        Some(AttributeValue::S(s) | AttributeValue::N(s)) => parse_call_timestamp(s),
        _ => None,
    }
    .unwrap_or_else(now_ms);
    cache.last_write_ms = Some(cache.last_write_ms.map_or(logged, |l| l.max(logged)));
    cache.transcript.record(SegmentWrite {
        speaker,
        segment_id: parsed.segment_id,
        start_ms: parsed.start_ms,
        end_ms: parsed.end_ms,
        text: parsed.text,
        partial: parsed.partial,
    });
    cache.raw_start.insert(key, raw);
}

/// Where the next read of a table starts: the earliest utterance still
/// partial (it may change), else the newest one (a new one may follow).
fn tail_of(cache: &CallCache, speaker: Speaker) -> Option<String> {
    let mine = || cache.transcript.segments().filter(|s| s.speaker == speaker);
    let from = mine()
        .filter(|s| s.partial)
        .min_by_key(|s| s.start_ms)
        .or_else(|| mine().max_by_key(|s| s.start_ms))?;
    cache.raw_start.get(&from.key()).cloned()
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
        let cache = self.cache(id);
        let mut cache = cache.lock().await;
        cache.used_at = Instant::now();
        self.read_details(id, &mut cache).await
    }

    async fn segments_after(
        &self,
        id: &CallId,
        after: Seq,
        limit: usize,
    ) -> Result<SegmentPage, StoreError> {
        let cache = self.cache(id);
        let mut cache = cache.lock().await;
        cache.used_at = Instant::now();
        self.refresh(id, &mut cache).await?;
        Ok(cache.transcript.page_after(after, limit))
    }

    fn notices(&self) -> broadcast::Receiver<StoreNotice> {
        self.notices.subscribe()
    }

    /// The poll interval, or five times it (a safety net) while both
    /// transcript tables are followed on their streams.
    fn poll_interval(&self) -> Option<Duration> {
        let streamed = self.sources.is_streamed(TableRole::Customer)
            && self.sources.is_streamed(TableRole::Agent);
        Some(if streamed {
            self.settings.poll * 5
        } else {
            self.settings.poll
        })
    }

    fn sources(&self) -> Vec<TableSource> {
        self.sources.snapshot()
    }

    async fn epoch(&self, id: &CallId) -> Result<u64, StoreError> {
        Ok(self.cache(id).lock().await.epoch)
    }

    fn request_counts(&self) -> Option<RequestCounts> {
        let c = &self.counters;
        Some(RequestCounts {
            query: c.query.load(Ordering::Relaxed),
            get_item: c.get_item.load(Ordering::Relaxed),
            scan: c.scan.load(Ordering::Relaxed),
            get_records: c.get_records.load(Ordering::Relaxed),
        })
    }

    async fn last_seq(&self, id: &CallId) -> Result<Seq, StoreError> {
        let cache = self.cache(id);
        let mut cache = cache.lock().await;
        self.refresh(id, &mut cache).await?;
        Ok(cache.transcript.last())
    }
}
