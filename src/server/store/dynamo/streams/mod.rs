//! Following a table's DynamoDB stream: one reader per table per server,
//! whatever the number of viewers, within the service's rules.
//!
//! - Each shard is read at most once per `min_interval` (DynamoDB Streams
//!   allows five GetRecords per second per shard; the default is four).
//! - Throttling backs the shard off and keeps its iterator; an expired
//!   iterator resumes after the last sequence number read; only a
//!   `TrimmedDataAccessException` goes back to the oldest record.
//! - A shard counts as unreadable until its first read succeeds; parents
//!   are read to their end before their children.
//! - The table is described again after errors and every `describe_every`,
//!   so a stream that is enabled, disabled or re-enabled (a new ARN) is
//!   picked up without a restart.
//!
//! The reader reports whether the stream is readable ([`Event::Readable`],
//! [`Event::Unreadable`], [`Event::NoStream`]) besides its changes, so the
//! store can read the table another way while it is not.

mod reader;
mod records;
mod shards;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

pub use super::counts::ShardCounts;
use shards::Shard;

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

/// One table's stream reader.
pub struct Follower {
    pub tables: aws_sdk_dynamodb::Client,
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub table: String,
    pub pace: Pace,
    /// GetRecords made, in all and per shard (the store's counts).
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
    /// Reads until the receiving end of `out` is dropped.
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
}
