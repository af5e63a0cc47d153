//! The stream's shards: finding the table's current stream and its shards,
//! each shard's place and pace, and what a failed request said.

use std::time::Duration;

use aws_sdk_dynamodbstreams::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use tokio::time::Instant;

use super::{Follower, Reported, State};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Start {
    Latest,
    TrimHorizon,
    After(String),
}

pub(super) struct Shard {
    pub(super) parent: Option<String>,
    pub(super) iterator: Option<String>,
    pub(super) start: Start,
    pub(super) next_read: Instant,
    pub(super) backoff: Duration,
    /// Closed and read to its end.
    pub(super) done: bool,
    /// The last attempt on this shard failed, and why.
    pub(super) failing: Option<String>,
}

impl Shard {
    pub(super) fn new(parent: Option<String>, start: Start) -> Self {
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

    pub(super) fn back_off(&mut self, why: String) {
        self.backoff =
            (self.backoff * 2).clamp(Duration::from_millis(500), Duration::from_secs(10));
        self.next_read = Instant::now() + self.backoff;
        self.failing = Some(why);
    }
}

/// What went wrong, in a line: the service's code and message, else the
/// whole error.
pub(super) fn error_text<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.code() {
        Some(code) => format!("{code}: {}", err.message().unwrap_or_default()),
        None => DisplayErrorContext(err).to_string(),
    }
}

impl Follower {
    fn describe_failed(&self, state: &mut State, why: String) {
        state.describe_backoff =
            (state.describe_backoff * 2).clamp(Duration::from_millis(500), Duration::from_secs(30));
        state.describe_at = Instant::now() + state.describe_backoff;
        state.describe_failing = Some(why);
    }

    /// Finds the table's current stream and its shards.
    pub(super) async fn describe(&self, state: &mut State) {
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
            Err(e) => return self.describe_failed(state, error_text(&e)),
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
                .map_err(|e| error_text(&e))?;
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
