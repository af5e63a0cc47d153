//! Write → frame latency on the DynamoDB backend with streams, at several
//! shard-read intervals (`stream_poll_ms`), side by side in one run, and
//! what each interval costs in requests.
//!
//!     cargo bench --features ssr --bench stream_latency
//!
//! For each interval: the real server (`Application`) on fresh tables with
//! streams on (as upstream creates them, moto on loopback), one live call
//! written by the upstream writer (`DynamoWriter`, connect-rt format), and
//! WebSocket viewers signed in on `/ws/{call}`. The writer writes lines as
//! a call does (each line one to four growing partials, then its final),
//! one write every 80–420 ms at random (about four a second), so writes
//! fall at random points of the shard-read period.
//!
//! **Latency**, per write and viewer: from the moment the writer's PutItem
//! returned (DynamoDB acknowledged the write; wall clock, microseconds) to
//! the moment the viewer's socket handed over the first `transcript` frame
//! showing that write or a later revision of the same line (a partial
//! overtaken by the next one within a single shard read is shown by the
//! newer text, which is what the viewer sees). Each text starts with its
//! tag (`L{line}.{revision}`) and the time just before the write was sent;
//! the writer keeps the acknowledgement times, and latencies are computed
//! once all frames are in, so nothing races.
//!
//! Also measured, per interval: GetRecords and all DynamoDB requests per
//! second (the store's `RequestCounts`) while the call is written and
//! watched, and before any call or viewer (an idle server); the PutItem
//! round trip; the GetRecords round trip on this moto (a reader of its own,
//! after the run); and the latency left once the mean wait for the next
//! shard read (half the measured read period) is taken away. Per shard is
//! the GetRecords total divided by the shards the three streams describe:
//! moto names every stream's shard alike, so the store's per-shard counts
//! can't tell them apart there.
//!
//! Knobs: `STREAM_LATENCY_LINES` (writes per interval, 150),
//! `STREAM_LATENCY_INTERVALS` (ms, `200,250,350,500`),
//! `STREAM_LATENCY_VIEWERS` (2), `STREAM_LATENCY_IDLE_SECS` (5). The test
//! command runs a short version in the debug build, as
//! `cargo test --features ssr --bench stream_latency` with few writes and
//! one interval, to prove it still runs.

#[path = "../tests/it/common/dynamo.rs"]
mod dynamo;

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use rand::Rng;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use travoiq_monitor::model::{CallId, Speaker};
use travoiq_monitor::protocol::ServerMsg;
use travoiq_monitor::server::config::{TableNames, WriterFormat};
use travoiq_monitor::server::simulator::random_call_id_string;
use travoiq_monitor::server::store::dynamo::writer::DynamoWriter;
use travoiq_monitor::server::store::dynamo::{sdk_config, DynamoStore, RequestCounts};
use travoiq_monitor::server::store::{CallSink, SegmentWrite};

/// What one run measures, and how much of it.
struct Knobs {
    writes: usize,
    intervals_ms: Vec<u64>,
    viewers: usize,
    idle: Duration,
}

fn knobs() -> Knobs {
    fn var<T: std::str::FromStr>(name: &str) -> Option<T> {
        std::env::var(name).ok().and_then(|s| s.trim().parse().ok())
    }
    let intervals_ms = std::env::var("STREAM_LATENCY_INTERVALS")
        .ok()
        .map(|s| {
            s.split(',')
                .map(|ms| {
                    ms.trim()
                        .parse()
                        .expect("STREAM_LATENCY_INTERVALS: ms,ms,…")
                })
                .collect()
        })
        .unwrap_or_else(|| vec![200, 250, 350, 500]);
    Knobs {
        writes: var("STREAM_LATENCY_LINES").unwrap_or(150),
        intervals_ms,
        viewers: var("STREAM_LATENCY_VIEWERS").unwrap_or(2).max(1),
        idle: Duration::from_secs(var("STREAM_LATENCY_IDLE_SECS").unwrap_or(5)),
    }
}

/// Wall-clock microseconds since the epoch.
fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// A write as the writer made it.
struct Written {
    line: u32,
    rev: u32,
    sent_us: i64,
    acked_us: i64,
}

/// First receipt of each tag (line, revision), per viewer.
type Seen = Arc<Mutex<HashMap<(u32, u32), i64>>>;

/// What one interval measured.
struct Outcome {
    interval_ms: u64,
    writes: usize,
    /// Write → frame, one per write and viewer, in ms.
    latency_ms: Vec<f64>,
    /// Writes a viewer saw only through a later revision.
    overtaken: usize,
    missing: usize,
    shards: usize,
    active: Rates,
    idle: Rates,
    put_rtt_ms: Vec<f64>,
    get_records_rtt_ms: Vec<f64>,
}

/// Requests per second over a window.
struct Rates {
    get_records: f64,
    total: f64,
}

impl Rates {
    fn of(c: RequestCounts, over: Duration) -> Rates {
        let s = over.as_secs_f64();
        Rates {
            get_records: c.get_records as f64 / s,
            total: (c.query + c.get_item + c.scan + c.get_records) as f64 / s,
        }
    }
}

#[tokio::main]
async fn main() {
    dynamo::moto();
    let knobs = knobs();
    println!(
        "Write → frame on DynamoDB with streams (moto on loopback): {} writes per interval, {} viewer(s)",
        knobs.writes, knobs.viewers
    );
    let mut outcomes = Vec::new();
    for &ms in &knobs.intervals_ms {
        let o = run(ms, &knobs).await;
        println!(
            "  stream_poll_ms {ms}: {} writes, {} latencies, {} shown first by a later revision, {} missing",
            o.writes,
            o.latency_ms.len(),
            o.overtaken,
            o.missing
        );
        outcomes.push(o);
    }

    println!();
    println!("write → frame (ms), and DynamoDB requests per second while one call is written and watched");
    println!(
        "{:>9} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} | {:>10} {:>10} {:>8} | {:>10} {:>8}",
        "interval",
        "n",
        "p50",
        "p90",
        "p95",
        "p99",
        "max",
        "mean",
        "GetRec/s",
        "GetRec/s",
        "all/s",
        "idle",
        "idle"
    );
    println!(
        "{:>9} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} | {:>10} {:>10} {:>8} | {:>10} {:>8}",
        "ms", "", "", "", "", "", "", "", "per shard", "total", "server", "GetRec/s", "all/s"
    );
    for o in &outcomes {
        let mut l = o.latency_ms.clone();
        l.sort_by(f64::total_cmp);
        println!(
            "{:>9} {:>6} {:>6.0} {:>6.0} {:>6.0} {:>6.0} {:>6.0} {:>6.0} | {:>10.2} {:>10.2} {:>8.2} | {:>10.2} {:>8.2}",
            o.interval_ms,
            l.len(),
            pct(&l, 50.0),
            pct(&l, 90.0),
            pct(&l, 95.0),
            pct(&l, 99.0),
            l.last().copied().unwrap_or(f64::NAN),
            mean(&l),
            o.active.get_records / o.shards as f64,
            o.active.get_records,
            o.active.total,
            o.idle.get_records,
            o.idle.total,
        );
    }

    println!();
    println!("what the latency is made of (ms)");
    println!(
        "{:>9} {:>11} {:>14} {:>14} {:>8} {:>12} {:>16}",
        "interval",
        "read period",
        "PutItem p50/95",
        "GetRec p50/95",
        "min",
        "mean",
        "mean - period/2"
    );
    for o in &outcomes {
        let mut l = o.latency_ms.clone();
        l.sort_by(f64::total_cmp);
        let mut put = o.put_rtt_ms.clone();
        put.sort_by(f64::total_cmp);
        let mut get = o.get_records_rtt_ms.clone();
        get.sort_by(f64::total_cmp);
        // The measured time between two reads of one shard.
        let period = 1000.0 * o.shards as f64 / o.active.get_records;
        println!(
            "{:>9} {:>11.1} {:>7.1}/{:<6.1} {:>7.1}/{:<6.1} {:>8.1} {:>12.1} {:>16.1}",
            o.interval_ms,
            period,
            pct(&put, 50.0),
            pct(&put, 95.0),
            pct(&get, 50.0),
            pct(&get, 95.0),
            l.first().copied().unwrap_or(f64::NAN),
            mean(&l),
            mean(&l) - period / 2.0,
        );
    }

    println!();
    for o in &outcomes {
        let mut l = o.latency_ms.clone();
        l.sort_by(f64::total_cmp);
        let p95 = pct(&l, 95.0);
        println!(
            "stream_poll_ms {:>4}: p95 {:>4.0} ms {} 250 ms; {:.2} GetRecords/s per shard ({} the limit of 5; two readers per shard make {:.2})",
            o.interval_ms,
            p95,
            if p95 <= 250.0 { "<=" } else { "> " },
            o.active.get_records / o.shards as f64,
            if o.active.get_records / o.shards as f64 <= 5.0 { "within" } else { "over" },
            2.0 * o.active.get_records / o.shards as f64,
        );
    }
    let missing: usize = outcomes.iter().map(|o| o.missing).sum();
    assert_eq!(missing, 0, "writes no viewer was shown");
}

/// Nearest-rank percentile of sorted values.
fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

async fn run(interval_ms: u64, knobs: &Knobs) -> Outcome {
    let prefix = dynamo::unique_prefix("latency");
    let tables = dynamo::tables(&prefix);
    let sdk = sdk_config(Duration::from_secs(5), None).await.expect("sdk");
    let writer = Arc::new(DynamoWriter::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        tables.clone(),
        WriterFormat::ConnectRt,
    ));
    writer.create_tables_with(true).await.expect("tables");

    let poll = interval_ms.to_string();
    let settings = common::dynamo_settings(&prefix, &sdk, &[("stream_poll_ms", &poll)]).await;
    let app = common::loopback_app(settings).await;
    let port = app.port();
    let hub = app.hub();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let store = DynamoStore::downcast(hub.store()).expect("the DynamoDB store");
    let shards = shard_count(&sdk, &tables).await;

    // An idle server: no call, no viewer.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = store.request_counts();
    tokio::time::sleep(knobs.idle).await;
    let idle = Rates::of(store.request_counts().since(&before), knobs.idle);

    // One live call, watched.
    let cookie = common::sign_in(&format!("http://127.0.0.1:{port}")).await;
    let id = CallId::parse(&random_call_id_string()).expect("id");
    common::start_call(writer.as_ref(), &id).await;
    let mut viewers = Vec::new();
    let mut seen = Vec::new();
    for _ in 0..knobs.viewers {
        let (task, map, caught_up) = viewer(port, &id, &cookie).await;
        tokio::time::timeout(Duration::from_secs(10), caught_up)
            .await
            .expect("the viewer caught up within 10 s")
            .expect("caught up");
        viewers.push(task);
        seen.push(map);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    let before = store.request_counts();
    let begun = Instant::now();
    let written = write_lines(&writer, &id, knobs.writes).await;
    // Until every viewer has the last write (10 s at most).
    let last = written.last().map(|w| (w.line, w.rev)).expect("writes");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline
        && !seen
            .iter()
            .all(|s| s.lock().expect("seen").contains_key(&last))
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let active = Rates::of(store.request_counts().since(&before), begun.elapsed());
    let get_records_rtt_ms = get_records_rtt(&sdk, &tables.customer).await;

    for v in viewers {
        v.abort();
    }
    let _ = stop.send(());
    let _ = server.await;
    drop(store);
    drop(hub);
    // The stream readers of a stopped server stop once their tables are
    // gone: they would otherwise keep reading moto in the next runs.
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    for table in [&tables.contact, &tables.customer, &tables.agent] {
        let _ = client.delete_table().table_name(table).send().await;
    }

    let mut latency_ms = Vec::new();
    let (mut overtaken, mut missing) = (0, 0);
    for s in &seen {
        let s = s.lock().expect("seen");
        for w in &written {
            let first = s
                .iter()
                .filter(|((line, rev), _)| *line == w.line && *rev >= w.rev)
                .min_by_key(|(_, at)| **at);
            match first {
                Some(((_, rev), at)) => {
                    if *rev != w.rev {
                        overtaken += 1;
                    }
                    latency_ms.push((*at - w.acked_us) as f64 / 1000.0);
                }
                None => missing += 1,
            }
        }
    }
    Outcome {
        interval_ms,
        writes: written.len(),
        latency_ms,
        overtaken,
        missing,
        shards,
        active,
        idle,
        put_rtt_ms: written
            .iter()
            .map(|w| (w.acked_us - w.sent_us) as f64 / 1000.0)
            .collect(),
        get_records_rtt_ms,
    }
}

/// Words the lines are made of.
const WORDS: [&str; 16] = [
    "thanks", "for", "calling", "how", "can", "I", "help", "you", "today", "with", "your",
    "booking", "to", "Lisbon", "next", "week",
];

/// Writes lines as a call does, `writes` writes in all (the last line is
/// finished): each line one to four growing partials then its final, the
/// speakers in turn, one write every 80–420 ms at random.
async fn write_lines(writer: &DynamoWriter, id: &CallId, writes: usize) -> Vec<Written> {
    let mut written = Vec::with_capacity(writes + 5);
    let mut line = 0u32;
    while written.len() < writes {
        let (partials, words, segment_id) = {
            let mut rng = rand::rng();
            (
                rng.random_range(1..=4u32),
                rng.random_range(6..=WORDS.len()),
                random_call_id_string(),
            )
        };
        let speaker = if line.is_multiple_of(2) {
            Speaker::Customer
        } else {
            Speaker::Agent
        };
        let start_ms = 1_000 + i64::from(line) * 5_000;
        for rev in 0..=partials {
            let pause = rand::rng().random_range(80..=420);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            let partial = rev < partials;
            let said = if partial {
                (words * (rev as usize + 1) / (partials as usize + 1)).max(1)
            } else {
                words
            };
            let sent_us = now_us();
            let write = SegmentWrite {
                speaker,
                segment_id: segment_id.clone(),
                start_ms,
                end_ms: start_ms + 300 * said as i64,
                text: format!("L{line}.{rev} @{sent_us} {}", WORDS[..said].join(" ")),
                partial,
            };
            writer.write_segment(id, write).await.expect("write");
            written.push(Written {
                line,
                rev,
                sent_us,
                acked_us: now_us(),
            });
        }
        line += 1;
    }
    written
}

/// The line and revision a text was written with (`L{line}.{rev} …`).
fn tag(text: &str) -> Option<(u32, u32)> {
    let (line, rev) = text
        .split_whitespace()
        .next()?
        .strip_prefix('L')?
        .split_once('.')?;
    Some((line.parse().ok()?, rev.parse().ok()?))
}

/// A viewer on `/ws/{id}`: its task, what it saw, and word of its
/// `caughtUp` frame.
async fn viewer(
    port: u16,
    id: &CallId,
    cookie: &str,
) -> (
    tokio::task::JoinHandle<()>,
    Seen,
    tokio::sync::oneshot::Receiver<()>,
) {
    let mut request = format!("ws://127.0.0.1:{port}/ws/{id}")
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("cookie", cookie.parse().expect("cookie"));
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("socket");
    let seen: Seen = Arc::default();
    let (caught_up, caught_up_rx) = tokio::sync::oneshot::channel();
    let map = seen.clone();
    let task = tokio::spawn(async move {
        let mut caught_up = Some(caught_up);
        while let Some(Ok(frame)) = ws.next().await {
            let at = now_us();
            let Ok(text) = frame.to_text() else { continue };
            match serde_json::from_str::<ServerMsg>(text) {
                Ok(ServerMsg::Transcript(segment)) => {
                    if let Some(tag) = tag(&segment.text) {
                        map.lock().expect("seen").entry(tag).or_insert(at);
                    }
                }
                Ok(ServerMsg::CaughtUp { .. }) => {
                    if let Some(tx) = caught_up.take() {
                        let _ = tx.send(());
                    }
                }
                _ => {}
            }
        }
    });
    (task, seen, caught_up_rx)
}

/// The shards of the three tables' streams.
async fn shard_count(sdk: &aws_config::SdkConfig, tables: &TableNames) -> usize {
    let mut n = 0;
    for table in [&tables.contact, &tables.customer, &tables.agent] {
        if let Some(arn) = stream_arn(sdk, table).await {
            n += aws_sdk_dynamodbstreams::Client::new(sdk)
                .describe_stream()
                .stream_arn(arn)
                .send()
                .await
                .ok()
                .and_then(|d| d.stream_description)
                .map(|d| d.shards().len())
                .unwrap_or(0);
        }
    }
    n.max(1)
}

async fn stream_arn(sdk: &aws_config::SdkConfig, table: &str) -> Option<String> {
    aws_sdk_dynamodb::Client::new(sdk)
        .describe_table()
        .table_name(table)
        .send()
        .await
        .ok()?
        .table?
        .latest_stream_arn
}

/// GetRecords round trips on `table`'s first shard (ms): a reader of its
/// own, 40 reads 25 ms apart from the newest record on.
async fn get_records_rtt(sdk: &aws_config::SdkConfig, table: &str) -> Vec<f64> {
    let streams = aws_sdk_dynamodbstreams::Client::new(sdk);
    let Some(arn) = stream_arn(sdk, table).await else {
        return Vec::new();
    };
    let Some(shard) = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .ok()
        .and_then(|d| d.stream_description)
        .and_then(|d| d.shards().first().and_then(|s| s.shard_id.clone()))
    else {
        return Vec::new();
    };
    let mut iterator = streams
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(shard)
        .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::Latest)
        .send()
        .await
        .ok()
        .and_then(|o| o.shard_iterator);
    let mut rtt = Vec::new();
    for _ in 0..40 {
        let Some(it) = iterator.take() else { break };
        let t = Instant::now();
        let Ok(out) = streams
            .get_records()
            .shard_iterator(it)
            .limit(1000)
            .send()
            .await
        else {
            break;
        };
        rtt.push(t.elapsed().as_secs_f64() * 1000.0);
        iterator = out.next_shard_iterator;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    rtt
}
