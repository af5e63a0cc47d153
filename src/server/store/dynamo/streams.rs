//! Following a table's DynamoDB stream: one reader per table per server,
//! whatever the number of viewers. Handles shard splits (children are read
//! from their start) and expired iterators (the stream is described again).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use aws_sdk_dynamodbstreams::types::{AttributeValue, OperationType, Record, ShardIteratorType};
use aws_sdk_dynamodbstreams::Client;

/// A change seen on the stream: its kind, the item's key, and its new
/// image as scalar strings (lists, maps and binary are left out).
#[derive(Clone, Debug)]
pub struct Change {
    pub kind: ChangeKind,
    pub keys: BTreeMap<String, String>,
    pub new_image: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Insert,
    Modify,
    Remove,
}

fn scalars(map: Option<&HashMap<String, AttributeValue>>) -> BTreeMap<String, String> {
    map.into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let v = match v {
                AttributeValue::S(s) => s.clone(),
                AttributeValue::N(n) => n.clone(),
                AttributeValue::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k.clone(), v))
        })
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
    })
}

const POLL: Duration = Duration::from_millis(500);
const DESCRIBE_EVERY: Duration = Duration::from_secs(15);

/// Reads the stream until `on_change` returns false (or forever).
pub async fn follow(
    client: Client,
    table: String,
    arn: String,
    requests: std::sync::Arc<std::sync::atomic::AtomicU64>,
    mut on_change: impl FnMut(Change) -> bool + Send,
) {
    let mut iterators: HashMap<String, String> = HashMap::new();
    let mut known: HashSet<String> = HashSet::new();
    let mut first_look = true;
    let mut described_at: Option<tokio::time::Instant> = None;
    let mut backoff = Duration::from_millis(500);
    tracing::info!(table, "following the table's stream");
    loop {
        let due = described_at.is_none_or(|t| t.elapsed() >= DESCRIBE_EVERY);
        if due || iterators.is_empty() {
            match open_shards(&client, &arn, &mut known, first_look).await {
                Ok(opened) => {
                    iterators.extend(opened);
                    first_look = false;
                    described_at = Some(tokio::time::Instant::now());
                    backoff = Duration::from_millis(500);
                }
                Err(e) => {
                    tracing::warn!(table, error = %e, retry_in = ?backoff, "stream not readable");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            }
        }
        let mut got_any = false;
        let shards: Vec<(String, String)> = iterators.drain().collect();
        for (shard, iterator) in shards {
            requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match client
                .get_records()
                .shard_iterator(iterator)
                .limit(1000)
                .send()
                .await
            {
                Ok(out) => {
                    for record in out.records() {
                        if let Some(change) = change_of(record) {
                            got_any = true;
                            if !on_change(change) {
                                return;
                            }
                        }
                    }
                    match out.next_shard_iterator() {
                        Some(next) => {
                            iterators.insert(shard, next.to_string());
                        }
                        None => tracing::debug!(table, shard, "shard closed"),
                    }
                }
                Err(e) => {
                    // Expired or trimmed iterator, or the service is down: the
                    // next describe re-opens the shard from its start.
                    tracing::warn!(
                        table, shard,
                        error = %aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e),
                        "stream read failed"
                    );
                    known.remove(&shard);
                    described_at = None;
                }
            }
        }
        if !got_any {
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Describes the stream and opens an iterator on each shard not seen
/// before: at the newest record on the first look (history is read from
/// the table itself), at the oldest for shards that appear later (the
/// children of a split, whose records are all new).
async fn open_shards(
    client: &Client,
    arn: &str,
    known: &mut HashSet<String>,
    first_look: bool,
) -> Result<Vec<(String, String)>, String> {
    let mut opened = Vec::new();
    let mut start_after: Option<String> = None;
    loop {
        let out = client
            .describe_stream()
            .stream_arn(arn)
            .set_exclusive_start_shard_id(start_after.clone())
            .send()
            .await
            .map_err(|e| aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e).to_string())?;
        let Some(description) = out.stream_description() else {
            return Ok(opened);
        };
        for shard in description.shards() {
            let Some(id) = shard.shard_id() else { continue };
            if known.contains(id) {
                continue;
            }
            let closed = shard
                .sequence_number_range()
                .and_then(|r| r.ending_sequence_number())
                .is_some();
            known.insert(id.to_string());
            if first_look && closed {
                continue;
            }
            let kind = if first_look {
                ShardIteratorType::Latest
            } else {
                ShardIteratorType::TrimHorizon
            };
            let iterator = client
                .get_shard_iterator()
                .stream_arn(arn)
                .shard_id(id)
                .shard_iterator_type(kind)
                .send()
                .await
                .map_err(|e| aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e).to_string())?;
            if let Some(it) = iterator.shard_iterator() {
                opened.push((id.to_string(), it.to_string()));
            }
        }
        start_after = description.last_evaluated_shard_id().map(str::to_string);
        if start_after.is_none() {
            return Ok(opened);
        }
    }
}
