//! The store interface every backend implements (the embedded `memory`
//! store and the `dynamo` one), and the write interface calls are played
//! into (by the simulator, also behind the `writer` command, and by the
//! developer API, on DynamoDB only in the writer server).

pub mod dynamo;
pub mod log;
pub mod memory;
pub mod metered;
pub mod sources;

use std::any::Any;
use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::model::{CallDetails, CallId, Segment, SegmentKey, Seq, Speaker};

/// Why the store could not answer. Bad input never gets here: ids are
/// parsed before any store call.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or did not answer in time; worth
    /// retrying.
    #[error("data source unavailable: {0}")]
    Unavailable(String),
    /// A table the monitor needs does not exist.
    #[error("missing table: {0}")]
    MissingTable(String),
    /// The backend refused (no permission, bad credentials); retrying will
    /// not help until someone fixes the deployment.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// The data or the request is not what the store expects.
    #[error("data source misconfigured: {0}")]
    Misconfigured(String),
}

/// What changed in the store. Notices say *that* something changed; readers
/// then ask the store *what*, from their own position, so a missed or merged
/// notice never loses data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreNotice {
    CallStarted(CallId),
    SegmentsChanged(CallId),
    DetailsChanged(CallId),
    /// A call's contact item is gone (deleted, expired, evicted).
    CallRemoved(CallId),
    /// Changes may have been missed (a stream became readable again, or
    /// stopped being readable): every watched call should be read again.
    Resync,
}

/// One page of segments changed after a position, oldest change first.
#[derive(Debug, Default)]
pub struct SegmentPage {
    pub segments: Vec<Segment>,
    /// More changes follow; ask again after the last one.
    pub more: bool,
}

#[async_trait]
pub trait CallStore: Any + Send + Sync {
    /// The call that started last, by its parsed start time.
    async fn latest_call(&self) -> Result<Option<CallDetails>, StoreError>;

    /// The call that started last among those whose agent attribute (set
    /// when the store was built) equals `owner`.
    async fn latest_call_of(&self, owner: &str) -> Result<Option<CallDetails>, StoreError>;

    async fn call_details(&self, id: &CallId) -> Result<Option<CallDetails>, StoreError>;

    /// The calls that started last, newest first, at most `limit` (for the
    /// floor view, read once per server, not per viewer).
    async fn recent_calls(&self, limit: usize) -> Result<Vec<CallDetails>, StoreError>;

    /// Each segment whose latest write is after `after`, in its latest
    /// state, ordered by that write's position; at most `limit` of them.
    /// A backend may answer from a copy a moment old (half its poll
    /// interval, or a stream's delay); it sends a notice for every change
    /// not included yet, and the call's feed picks it up on its next read.
    async fn segments_after(
        &self,
        id: &CallId,
        after: Seq,
        limit: usize,
    ) -> Result<SegmentPage, StoreError>;

    /// The transcript in conversation order (start time, customer first on
    /// a tie), each segment in its latest state: at most `limit` of them,
    /// starting after `after` (from the first when `None`). For reading a
    /// whole transcript page by page (exports) without holding it all.
    async fn segments_in_order(
        &self,
        id: &CallId,
        after: Option<SegmentKey>,
        limit: usize,
    ) -> Result<SegmentPage, StoreError>;

    /// Notices of changes, for the hub's shared watcher.
    fn notices(&self) -> broadcast::Receiver<StoreNotice>;

    /// For backends whose notices may miss changes: how often a call being
    /// watched should be re-read anyway. `None` when notices are complete.
    fn poll_interval(&self) -> Option<Duration> {
        None
    }

    /// The numbering of a call's positions. Positions from one epoch mean
    /// nothing in another: a restarted server, or a call whose copy was
    /// rebuilt, numbers its changes afresh.
    async fn epoch(&self, id: &CallId) -> Result<u64, StoreError>;

    /// Where each table is read from right now (empty for the embedded
    /// store, which has no tables).
    fn sources(&self) -> Vec<sources::TableSource> {
        Vec::new()
    }

    /// Position of the latest write to a call's transcript.
    async fn last_seq(&self, id: &CallId) -> Result<Seq, StoreError>;
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// A new call as the contact-flow writes it into `contactDetails`.
#[derive(Clone, Debug)]
pub struct NewContact {
    pub call_id: CallId,
    /// The item's attributes under their table names.
    pub attributes: BTreeMap<String, String>,
}

/// One write of a transcript item, as the transcription pipeline makes it.
#[derive(Clone, Debug)]
pub struct SegmentWrite {
    pub speaker: Speaker,
    pub segment_id: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
    pub partial: bool,
}

/// Where simulated or replayed calls are written.
#[async_trait]
pub trait CallSink: Send + Sync + 'static {
    async fn start_call(&self, contact: NewContact) -> Result<(), StoreError>;
    async fn write_segment(&self, id: &CallId, write: SegmentWrite) -> Result<(), StoreError>;
    async fn end_call(&self, id: &CallId, ended_at_ms: i64) -> Result<(), StoreError>;
}
