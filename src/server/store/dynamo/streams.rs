//! Following a table's DynamoDB stream: one reader per table per server,
//! whatever the number of viewers, within the service's rules.
//!
//! - Each shard is read at most once per `min_interval` (DynamoDB Streams
//!   allows five GetRecords per second per shard; the default is four).
//! - Throttling backs the shard off and keeps its iterator; an expired
//!   iterator resumes after the last sequence number read; only a
//!   `TrimmedDataAccessException` goes back to the oldest record.
//! - A shard counts as known once its iterator is obtained; parents are
//!   read to their end before their children.
//! - The table is described again after errors and every `describe_every`,
//!   so a stream that is enabled, disabled or re-enabled (a new ARN) is
//!   picked up without a restart.
//!
//! The reader reports whether the stream is readable ([`Event::Readable`],
//! [`Event::Unreadable`], [`Event::NoStream`]) besides its changes, so the
//! store can read the table another way while it is not.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodbstreams::config::retry::RetryConfig;
use aws_sdk_dynamodbstreams::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodbstreams::types::{AttributeValue, OperationType, Record, ShardIteratorType};
use tokio::time::Instant;

use super::attrs::scalar_string;
pub use super::counts::ShardCounts;

/// A change seen on the stream: its kind, the item's key, and its new
/// image as scalar strings (lists, maps and binary are left out).
#[derive(Clone, Debug)]
pub struct Change {
    pub kind: ChangeKind,
    pub keys: BTreeMap<String, String>,
    pub new_image: BTreeMap<String, String>,
    /// The new image as stored, when the stream carries images.
    pub raw_image: Option<HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Insert,
    Modify,
    Remove,
}

/// What the reader tells its consumer.
#[derive(Clone, Debug)]
pub enum Event {
    Change(Change),
    /// Every shard read fine: the stream can be relied on from here.
    /// Changes made while it was not readable may not be on it: read the
    /// table once to catch up.
    Readable,
    /// The stream could not be read (why): read the table another way.
    Unreadable(String),
    /// The table has no stream enabled (checked again periodically).
    NoStream,
}

/// How the reader paces itself.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// The shortest time between two GetRecords on one shard.
    pub min_interval: Duration,
    /// How often the table and its stream are described again.
    pub describe_every: Duration,
}

impl Default for Pace {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_millis(250),
            describe_every: Duration::from_secs(60),
        }
    }
}

fn image(
    map: Option<&HashMap<String, AttributeValue>>,
) -> Option<HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let map = map?;
    Some(
        map.iter()
            .filter_map(|(k, v)| Some((k.clone(), to_table_value(v)?)))
            .collect(),
    )
}

/// The Streams SDK's attribute value as the DynamoDB SDK's (scalars only:
/// the transcript and contact items hold nothing else that is read).
fn to_table_value(v: &AttributeValue) -> Option<aws_sdk_dynamodb::types::AttributeValue> {
    use aws_sdk_dynamodb::types::AttributeValue as T;
    Some(match v {
        AttributeValue::S(s) => T::S(s.clone()),
        AttributeValue::N(n) => T::N(n.clone()),
        AttributeValue::Bool(b) => T::Bool(*b),
        AttributeValue::Null(b) => T::Null(*b),
        _ => return None,
    })
}

fn scalars(map: Option<&HashMap<String, AttributeValue>>) -> BTreeMap<String, String> {
    map.into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), scalar_string(&to_table_value(v)?)?)))
        .collect()
}

fn change_of(record: &Record) -> Option<Change> {
    let kind = match record.event_name()? {
        OperationType::Insert => ChangeKind::Insert,
        OperationType::Modify => ChangeKind::Modify,
        OperationType::Remove => ChangeKind::Remove,
        _ => return None,
    };
    let data = record.dynamodb()?;
    Some(Change {
        kind,
        keys: scalars(data.keys()),
        new_image: scalars(data.new_image()),
        raw_image: image(data.new_image()),
    })
}

/// Where a shard's next iterator starts.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Start {
    Latest,
    TrimHorizon,
    After(String),
}

struct Shard {
    parent: Option<String>,
    iterator: Option<String>,
    start: Start,
    next_read: Instant,
    backoff: Duration,
    /// Closed and read to its end.
    done: bool,
    /// The last attempt on this shard failed, and why.
    failing: Option<String>,
}

impl Shard {
    fn new(parent: Option<String>, start: Start) -> Self {
        Self {
            parent,
            iterator: None,
            start,
            next_read: Instant::now(),
            backoff: Duration::ZERO,
            done: false,
            failing: Some("not opened yet".into()),
        }
    }

    fn back_off(&mut self, why: String) {
        self.backoff =
            (self.backoff * 2).clamp(Duration::from_millis(500), Duration::from_secs(10));
        self.next_read = Instant::now() + self.backoff;
        self.failing = Some(why);
    }
}

/// How a failed Streams request should be handled.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    /// The iterator is older than 15 minutes: get a new one after the last
    /// record read.
    Expired,
    /// The records after the iterator were trimmed (older than 24 h).
    Trimmed,
    /// Throttled: wait longer, keep the iterator.
    Throttled,
    /// The stream or shard is gone: describe the table again.
    Gone,
    /// Anything else (unreachable, refused): wait, keep the iterator.
    Other,
}

fn failure_of<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Failure {
    match err.code().unwrap_or_default() {
        "ExpiredIteratorException" => Failure::Expired,
        "TrimmedDataAccessException" => Failure::Trimmed,
        "LimitExceededException"
        | "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded" => Failure::Throttled,
        "ResourceNotFoundException" => Failure::Gone,
        _ => Failure::Other,
    }
}

fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.code() {
        Some(code) => format!("{code}: {}", err.message().unwrap_or_default()),
        None => DisplayErrorContext(err).to_string(),
    }
}

/// One table's stream reader.
pub struct Follower {
    pub tables: aws_sdk_dynamodb::Client,
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub table: String,
    pub pace: Pace,
    pub requests: Arc<AtomicU64>,
    pub per_shard: Arc<ShardCounts>,
}

/// The reader's view of the stream it follows.
struct State {
    arn: Option<String>,
    /// Shards of the current ARN, by id.
    shards: HashMap<String, Shard>,
    /// The first description of this ARN opens at the newest record
    /// (history is read from the table); later ones are new shards, read
    /// from their start.
    first_look: bool,
    /// When the table and stream are to be described next.
    describe_at: Instant,
    /// Why describing failed last time.
    describe_failing: Option<String>,
    describe_backoff: Duration,
    /// What was last reported, so each change is reported once.
    reported: Option<Reported>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Reported {
    Readable,
    Unreadable,
    NoStream,
}

impl Follower {
    /// Reads until the receiving end of `events` is dropped.
    pub async fn run(self, out: tokio::sync::mpsc::Sender<Event>) {
        let mut state = State {
            arn: None,
            shards: HashMap::new(),
            first_look: true,
            describe_at: Instant::now(),
            describe_failing: None,
            describe_backoff: Duration::ZERO,
            reported: None,
        };
        loop {
            if Instant::now() >= state.describe_at {
                self.describe(&mut state).await;
            }
            let mut events = Vec::new();
            if state.arn.is_some() && state.describe_failing.is_none() {
                self.read_ready_shards(&mut state, &mut events).await;
            }
            events.extend(self.report(&mut state));
            for event in events {
                if out.send(event).await.is_err() {
                    return;
                }
            }
            let wake = state
                .shards
                .values()
                .filter(|s| !s.done)
                .map(|s| s.next_read)
                .min()
                .unwrap_or(state.describe_at)
                .min(state.describe_at)
                .max(Instant::now() + Duration::from_millis(10));
            tokio::time::sleep_until(wake).await;
        }
    }

    /// The report due now, if the stream's readability changed.
    fn report(&self, state: &mut State) -> Option<Event> {
        let (now, event) = if state.arn.is_none() && state.describe_failing.is_none() {
            (Reported::NoStream, Event::NoStream)
        } else if let Some(why) = state.describe_failing.clone().or_else(|| {
            state
                .shards
                .values()
                .filter(|s| !s.done)
                .find_map(|s| s.failing.clone())
        }) {
            (Reported::Unreadable, Event::Unreadable(why))
        } else {
            (Reported::Readable, Event::Readable)
        };
        if state.reported.as_ref() == Some(&now) {
            return None;
        }
        state.reported = Some(now);
        Some(event)
    }

    fn describe_failed(&self, state: &mut State, why: String) {
        state.describe_backoff =
            (state.describe_backoff * 2).clamp(Duration::from_millis(500), Duration::from_secs(30));
        state.describe_at = Instant::now() + state.describe_backoff;
        state.describe_failing = Some(why);
    }

    /// Finds the table's current stream and its shards.
    async fn describe(&self, state: &mut State) {
        let arn = match self
            .tables
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(out) => out
                .table()
                .filter(|t| t.stream_specification().is_some_and(|s| s.stream_enabled()))
                .and_then(|t| t.latest_stream_arn())
                .map(str::to_string),
            Err(e) => return self.describe_failed(state, describe(&e)),
        };
        if arn != state.arn {
            if state.arn.is_some() || arn.is_none() {
                tracing::info!(table = %self.table, stream = ?arn, "the table's stream changed");
            }
            // A stream that appears while the server runs (after the table
            // was seen without one, or replacing another) holds only new
            // records: read it from its start. Otherwise start at its newest
            // record: history is read from the table itself.
            state.first_look = state.arn.is_none() && state.reported != Some(Reported::NoStream);
            state.arn = arn;
            state.shards.clear();
        }
        let Some(arn) = state.arn.clone() else {
            state.describe_failing = None;
            state.describe_backoff = Duration::ZERO;
            state.describe_at = Instant::now() + self.pace.describe_every;
            return;
        };
        match self.list_shards(&arn).await {
            Ok(listed) => {
                self.take_shards(state, listed);
                state.describe_failing = None;
                state.describe_backoff = Duration::ZERO;
                state.describe_at = Instant::now() + self.pace.describe_every;
            }
            Err(why) => self.describe_failed(state, why),
        }
    }

    /// Every shard of the stream: (id, parent, closed).
    async fn list_shards(&self, arn: &str) -> Result<Vec<(String, Option<String>, bool)>, String> {
        let mut listed = Vec::new();
        let mut start_after: Option<String> = None;
        loop {
            let out = self
                .streams
                .describe_stream()
                .stream_arn(arn)
                .set_exclusive_start_shard_id(start_after.take())
                .send()
                .await
                .map_err(|e| describe(&e))?;
            let Some(description) = out.stream_description() else {
                return Ok(listed);
            };
            for shard in description.shards() {
                let Some(id) = shard.shard_id() else { continue };
                let closed = shard
                    .sequence_number_range()
                    .and_then(|r| r.ending_sequence_number())
                    .is_some();
                listed.push((
                    id.to_string(),
                    shard.parent_shard_id().map(str::to_string),
                    closed,
                ));
            }
            start_after = description.last_evaluated_shard_id().map(str::to_string);
            if start_after.is_none() {
                return Ok(listed);
            }
        }
    }

    fn take_shards(&self, state: &mut State, listed: Vec<(String, Option<String>, bool)>) {
        let first_look = std::mem::replace(&mut state.first_look, false);
        for (id, parent, closed) in &listed {
            if state.shards.contains_key(id) {
                continue;
            }
            let mut shard = Shard::new(
                parent.clone(),
                if first_look {
                    Start::Latest
                } else {
                    Start::TrimHorizon
                },
            );
            // At the first look, closed shards hold only history.
            if first_look && *closed {
                shard.done = true;
                shard.failing = None;
            }
            state.shards.insert(id.clone(), shard);
        }
        // Shards trimmed from the stream (read to their end) are forgotten.
        state
            .shards
            .retain(|id, s| !s.done || listed.iter().any(|(l, _, _)| l == id));
    }

    async fn read_ready_shards(&self, state: &mut State, events: &mut Vec<Event>) {
        let Some(arn) = state.arn.clone() else { return };
        let now = Instant::now();
        let ready: Vec<String> = state
            .shards
            .iter()
            .filter(|(_, s)| !s.done && s.next_read <= now)
            .filter(|(_, s)| {
                // Parents first: a child waits while its parent has records left.
                s.parent
                    .as_ref()
                    .and_then(|p| state.shards.get(p))
                    .is_none_or(|p| p.done)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in ready {
            let Some(shard) = state.shards.get_mut(&id) else {
                continue;
            };
            if self.read_shard(&arn, &id, shard, events).await == Some(Failure::Gone) {
                // The stream went away or was replaced: look again now.
                state.describe_at = Instant::now();
                return;
            }
        }
    }

    /// One GetRecords on a shard (getting an iterator first if needed).
    async fn read_shard(
        &self,
        arn: &str,
        id: &str,
        shard: &mut Shard,
        events: &mut Vec<Event>,
    ) -> Option<Failure> {
        let iterator = match shard.iterator.clone() {
            Some(it) => it,
            None => {
                let (kind, after) = match &shard.start {
                    Start::Latest => (ShardIteratorType::Latest, None),
                    Start::TrimHorizon => (ShardIteratorType::TrimHorizon, None),
                    Start::After(seq) => {
                        (ShardIteratorType::AfterSequenceNumber, Some(seq.clone()))
                    }
                };
                match self
                    .streams
                    .get_shard_iterator()
                    .stream_arn(arn)
                    .shard_id(id)
                    .shard_iterator_type(kind)
                    .set_sequence_number(after)
                    .send()
                    .await
                {
                    Ok(out) => match out.shard_iterator() {
                        Some(it) => it.to_string(),
                        None => {
                            // A closed shard with nothing left.
                            shard.done = true;
                            shard.failing = None;
                            return None;
                        }
                    },
                    Err(e) => {
                        let failure = failure_of(&e);
                        if failure == Failure::Trimmed {
                            shard.start = Start::TrimHorizon;
                        }
                        tracing::debug!(table = %self.table, shard = id, error = %describe(&e), "no shard iterator");
                        shard.back_off(describe(&e));
                        return Some(failure);
                    }
                }
            }
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.per_shard.add(id);
        shard.next_read = Instant::now() + self.pace.min_interval;
        // The SDK's own retries (of throttling, timeouts) are reads of this
        // shard too: no sooner than `min_interval` apart (its default waits
        // a random 0-1 s, often a few milliseconds).
        let retries = self
            .streams
            .config()
            .retry_config()
            .cloned()
            .unwrap_or_else(RetryConfig::standard)
            .with_initial_backoff(self.pace.min_interval)
            .with_use_static_exponential_base(true);
        match self
            .streams
            .get_records()
            .shard_iterator(&iterator)
            .limit(1000)
            .customize()
            .config_override(aws_sdk_dynamodbstreams::config::Builder::new().retry_config(retries))
            .send()
            .await
        {
            Ok(out) => {
                for record in out.records() {
                    if let Some(seq) = record.dynamodb().and_then(|d| d.sequence_number()) {
                        shard.start = Start::After(seq.to_string());
                    }
                    if let Some(change) = change_of(record) {
                        events.push(Event::Change(change));
                    }
                }
                shard.failing = None;
                shard.backoff = Duration::ZERO;
                match out.next_shard_iterator() {
                    Some(next) => shard.iterator = Some(next.to_string()),
                    None => {
                        tracing::debug!(table = %self.table, shard = id, "shard closed and read");
                        shard.iterator = None;
                        shard.done = true;
                    }
                }
                None
            }
            Err(e) => {
                let failure = failure_of(&e);
                let why = describe(&e);
                match failure {
                    Failure::Expired => {
                        // Resume where the last record left off (or as
                        // first planned, if none was read yet), at the
                        // shard's usual pace.
                        shard.iterator = None;
                        if shard.start == Start::Latest {
                            // No record read yet, so no position to resume
                            // after: what was written since the last read
                            // may be skipped. Say so: the consumer reads the
                            // table once the stream is readable again.
                            shard.failing = Some(format!("{why} before any record was read"));
                        }
                        tracing::debug!(table = %self.table, shard = id, "iterator expired; resuming");
                        return Some(failure);
                    }
                    Failure::Trimmed => {
                        tracing::warn!(table = %self.table, shard = id, "stream records trimmed; reading the shard from its oldest record");
                        shard.iterator = None;
                        shard.start = Start::TrimHorizon;
                    }
                    Failure::Gone => shard.iterator = None,
                    Failure::Throttled | Failure::Other => {}
                }
                tracing::debug!(table = %self.table, shard = id, error = %why, "stream read failed");
                shard.back_off(why);
                Some(failure)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_backs_off_exponentially_up_to_ten_seconds() {
        let mut shard = Shard::new(None, Start::Latest);
        let mut waits = Vec::new();
        for _ in 0..8 {
            shard.back_off("x".into());
            waits.push(shard.backoff.as_millis());
        }
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
        assert_eq!(shard.failing.as_deref(), Some("x"));
    }
}
