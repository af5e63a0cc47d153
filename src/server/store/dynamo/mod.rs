//! The DynamoDB backend on the real Amazon Connect tables.
//!
//! Reads both upstream writer formats (see `items`). Per watched call it
//! keeps the transcript in memory and re-reads only the tail of each table
//! (from the earliest utterance still partial, or the newest one), so a
//! long call costs the same per poll as a short one. Positions (`Seq`) are
//! given to changes as they are seen. New calls are found by one shared
//! watcher: the contactDetails stream when the table has one, otherwise a
//! periodic Scan. Transcript streams, when present, wake the call's feed at
//! once.

pub(crate) mod errors;
pub mod items;
mod streams;
pub mod writer;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use tokio::sync::broadcast;

use crate::model::{CallDetails, CallId, SegmentKey, Seq, Speaker};
use crate::server::config::TableNames;
use crate::server::contact::{details_from_attributes, ATTR_CONTACT_ID};
use crate::server::timestamp::parse_call_timestamp;

use super::log::SegmentLog;
use super::{CallStore, SegmentPage, SegmentWrite, StoreError, StoreNotice};
use errors::classify;
use items::Item;

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
    /// An endpoint for this store only; otherwise aws-config's own
    /// (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL`, or AWS).
    pub endpoint: Option<String>,
    /// The contactDetails attribute naming a call's agent.
    pub owner_attribute: String,
}

/// The SDK configuration: the standard credential chain, a region from
/// `AWS_REGION_NAME` (the original app's name) or the standard chain, an
/// endpoint from `AWS_ENDPOINT_URL_DYNAMODB`/`AWS_ENDPOINT_URL`, and
/// operation and attempt timeouts on every call.
pub async fn sdk_config(
    timeout: Duration,
    endpoint: Option<&str>,
) -> Result<SdkConfig, StoreError> {
    let seed_region = std::env::var("AWS_REGION_NAME")
        .ok()
        .map(|r| r.trim().trim_matches('"').to_string())
        .filter(|r| !r.is_empty())
        .map(Region::new);
    let region = RegionProviderChain::first_try(seed_region).or_default_provider();
    let timeouts = TimeoutConfig::builder()
        .operation_timeout(timeout)
        .operation_attempt_timeout(timeout / 3)
        .connect_timeout((timeout / 3).min(Duration::from_secs(2)))
        .read_timeout(timeout / 3)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    let config = loader
        .region(region)
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .load()
        .await;
    if config.region().is_none() {
        return Err(StoreError::Misconfigured(
            "no AWS region: set AWS_REGION or AWS_REGION_NAME".into(),
        ));
    }
    Ok(config)
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
}

fn count(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

pub struct DynamoStore {
    counters: Counters,
    client: Client,
    settings: DynamoSettings,
    calls: std::sync::Mutex<HashMap<CallId, Arc<tokio::sync::Mutex<CallCache>>>>,
    latest: tokio::sync::Mutex<Latest>,
    notices: broadcast::Sender<StoreNotice>,
    /// How often a watched call is re-read: `settings.poll`, or five times
    /// that when both transcript tables have streams.
    poll: Duration,
}

#[derive(Default)]
struct Latest {
    details: Option<CallDetails>,
    /// The newest call of each agent (by the owner attribute).
    by_owner: HashMap<String, CallDetails>,
    scanned: bool,
    warned: HashSet<String>,
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
        let sdk = sdk_config(settings.timeout, settings.endpoint.as_deref()).await?;
        let client = Client::new(&sdk);
        let streams = aws_sdk_dynamodbstreams::Client::new(&sdk);
        let arns = check_tables(&client, &settings.tables).await;
        let poll = if arns.customer.is_some() && arns.agent.is_some() {
            settings.poll * 5
        } else {
            settings.poll
        };
        let (notices, _) = broadcast::channel(1024);
        let store = Arc::new(Self {
            counters: Counters::default(),
            client,
            settings,
            calls: std::sync::Mutex::new(HashMap::new()),
            latest: tokio::sync::Mutex::new(Latest::default()),
            notices,
            poll,
        });
        store.start_watchers(streams, arns);
        Ok(store)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Drops everything cached (after the tables were emptied by hand).
    pub async fn forget_all(&self) {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clear();
        *self.latest.lock().await = Latest::default();
    }

    fn notify(&self, notice: StoreNotice) {
        let _ = self.notices.send(notice);
    }

    fn start_watchers(
        self: &Arc<Self>,
        streams: aws_sdk_dynamodbstreams::Client,
        arns: StreamArns,
    ) {
        let tables = self.settings.tables.clone();
        match arns.contact {
            Some(arn) => {
                // One consumer, in stream order: a later event wins a tie.
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let weak = Arc::downgrade(self);
                tokio::spawn(async move {
                    while let Some(change) = rx.recv().await {
                        let Some(store) = weak.upgrade() else { return };
                        store.on_contact_change(change).await;
                    }
                });
                tokio::spawn(streams::follow(
                    streams.clone(),
                    tables.contact.clone(),
                    arn,
                    self.counters.get_records.clone(),
                    move |change| tx.send(change).is_ok(),
                ));
            }
            None => {
                tracing::info!(
                    table = %tables.contact,
                    every = ?self.settings.latest_poll,
                    "no stream on the contact table: looking for new calls with a periodic Scan"
                );
                tokio::spawn(poll_latest(Arc::downgrade(self), self.settings.latest_poll));
            }
        }
        for arn_table in [(arns.customer, tables.customer), (arns.agent, tables.agent)] {
            if let (Some(arn), table) = arn_table {
                let weak = Arc::downgrade(self);
                tokio::spawn(streams::follow(
                    streams.clone(),
                    table,
                    arn,
                    self.counters.get_records.clone(),
                    move |change| {
                        let Some(store) = weak.upgrade() else {
                            return false;
                        };
                        if let Some(id) = change
                            .keys
                            .get(items::CONTACT_ID)
                            .and_then(|raw| CallId::parse(raw).ok())
                        {
                            store.notify(StoreNotice::SegmentsChanged(id));
                        }
                        true
                    },
                ));
            }
        }
    }

    async fn on_contact_change(&self, change: streams::Change) {
        if change.kind == streams::ChangeKind::Remove {
            // If a newest call (overall or an agent's) went away, look
            // again on the next ask.
            let gone = change.keys.get(ATTR_CONTACT_ID).cloned();
            let is_gone = |d: &CallDetails| Some(d.call_id.to_string()) == gone;
            let mut latest = self.latest.lock().await;
            if latest.details.as_ref().is_some_and(is_gone) || latest.by_owner.values().any(is_gone)
            {
                latest.details = None;
                latest.by_owner.clear();
                latest.scanned = false;
            }
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
        let newer = {
            let mut latest = self.latest.lock().await;
            // On the stream, a later event wins a tie (timestamps have
            // one-second resolution).
            if let Some(owner) = details.attributes.get(&self.settings.owner_attribute) {
                if is_newer(&details, latest.by_owner.get(owner), true) {
                    latest.by_owner.insert(owner.clone(), details.clone());
                }
            }
            let newer = is_newer(&details, latest.details.as_ref(), true);
            if newer {
                latest.details = Some(details);
            }
            newer
        };
        if change.kind == streams::ChangeKind::Insert && newer {
            self.notify(StoreNotice::CallStarted(id));
        } else {
            self.notify(StoreNotice::DetailsChanged(id));
        }
    }

    /// Scans contactDetails for the newest call (by parsed timestamp).
    async fn scan_latest(&self, latest: &mut Latest) -> Result<(), StoreError> {
        let table = &self.settings.tables.contact;
        let mut newest: Option<CallDetails> = None;
        let mut by_owner: HashMap<String, CallDetails> = HashMap::new();
        let mut start: Option<Item> = None;
        loop {
            count(&self.counters.scan);
            let out = self
                .client
                .scan()
                .table_name(table)
                .set_limit(self.settings.page_limit)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("Scan", table, e))?;
            for item in out.items() {
                let attributes = items::contact_attributes(item);
                let key = attributes.get(ATTR_CONTACT_ID).cloned().unwrap_or_default();
                match details_from_attributes(
                    attributes,
                    None,
                    self.settings.audio_stream_prefix.as_deref(),
                ) {
                    Ok(d) => {
                        if let Some(owner) = d.attributes.get(&self.settings.owner_attribute) {
                            if is_newer(&d, by_owner.get(owner), false) {
                                by_owner.insert(owner.clone(), d.clone());
                            }
                        }
                        if is_newer(&d, newest.as_ref(), false) {
                            newest = Some(d);
                        }
                    }
                    Err(e) => {
                        if latest.warned.insert(key.clone()) {
                            tracing::warn!(table, contact_id = %key.chars().take(64).collect::<String>(), error = %e, "contact item skipped");
                        }
                    }
                }
            }
            start = out.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        latest.details = newest;
        latest.by_owner = by_owner;
        latest.scanned = true;
        Ok(())
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

fn is_newer(candidate: &CallDetails, current: Option<&CallDetails>, tie_wins: bool) -> bool {
    let Some(current) = current else { return true };
    let (a, b) = (
        candidate.started_at_ms.unwrap_or(i64::MIN),
        current.started_at_ms.unwrap_or(i64::MIN),
    );
    candidate.call_id == current.call_id || a > b || (tie_wins && a == b)
}

async fn poll_latest(store: Weak<DynamoStore>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(store) = store.upgrade() else { return };
        let mut latest = store.latest.lock().await;
        let before = latest.details.as_ref().map(|d| d.call_id.clone());
        match store.scan_latest(&mut latest).await {
            Ok(()) => {
                let after = latest.details.as_ref().map(|d| d.call_id.clone());
                drop(latest);
                if let Some(id) = after.filter(|a| Some(a) != before.as_ref()) {
                    store.notify(StoreNotice::CallStarted(id));
                }
            }
            Err(e) => tracing::warn!(error = %e, "looking for new calls failed"),
        }
    }
}

#[derive(Default)]
struct StreamArns {
    contact: Option<String>,
    customer: Option<String>,
    agent: Option<String>,
}

/// Describes each table, says clearly what is missing or not allowed, and
/// returns the stream of each table that has one.
async fn check_tables(client: &Client, tables: &TableNames) -> StreamArns {
    let mut arns = StreamArns::default();
    for (name, slot) in [
        (&tables.contact, &mut arns.contact),
        (&tables.customer, &mut arns.customer),
        (&tables.agent, &mut arns.agent),
    ] {
        match client.describe_table().table_name(name).send().await {
            Ok(out) => {
                let table = out.table();
                let stream = table
                    .filter(|t| t.stream_specification().is_some_and(|s| s.stream_enabled()))
                    .and_then(|t| t.latest_stream_arn())
                    .map(str::to_string);
                tracing::info!(table = %name, stream = stream.is_some(), "table found");
                *slot = stream;
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
    arns
}

#[async_trait]
impl CallStore for DynamoStore {
    async fn latest_call(&self) -> Result<Option<CallDetails>, StoreError> {
        let mut latest = self.latest.lock().await;
        if !latest.scanned {
            self.scan_latest(&mut latest).await?;
        }
        Ok(latest.details.clone())
    }

    async fn latest_call_of(&self, owner: &str) -> Result<Option<CallDetails>, StoreError> {
        let mut latest = self.latest.lock().await;
        if !latest.scanned {
            self.scan_latest(&mut latest).await?;
        }
        Ok(latest.by_owner.get(owner).cloned())
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

    fn poll_interval(&self) -> Option<Duration> {
        Some(self.poll)
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
