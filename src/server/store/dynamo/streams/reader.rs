//! Reading a stream's shards: one GetRecords per ready shard, and what a
//! failed request means for the shard.

use std::sync::atomic::Ordering;
use std::time::Duration;

use aws_sdk_dynamodbstreams::config::retry::RetryConfig;
use aws_sdk_dynamodbstreams::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use tokio::time::Instant;

use super::records::change_of;
use super::shards::{error_text, Shard, Start};
use super::{Event, Follower, State};

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Failure {
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

impl Follower {
    pub(super) async fn read_ready_shards(&self, state: &mut State, events: &mut Vec<Event>) {
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
                        tracing::debug!(table = %self.table, shard = id, error = %error_text(&e), "no shard iterator");
                        shard.back_off(error_text(&e));
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
                let why = error_text(&e);
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
