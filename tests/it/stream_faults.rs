//! The DynamoDB stream reader (`Follower`) against moto, with faults
//! injected by an HTTP proxy in front of moto's Streams API: throttled
//! reads keep the iterator (nothing replayed), an expired iterator resumes
//! after the last record read (nothing lost, nothing repeated) or, when no
//! record was read yet, is reported Unreadable then Readable (the consumer's
//! cue to read the table), a trimmed one goes back to the oldest record
//! (nothing lost), and a shard is never read more than five times a second
//! nor twice within the reader's pace (250 ms), busy or failing.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::dynamo::{moto, moto_client, tables, unique_prefix};
use crate::common::eventually;
use crate::common::fault_proxy::FaultProxy;
use aws_sdk_dynamodb::types::AttributeValue;
use tokio::sync::mpsc;
use travoiq_monitor::server::config::WriterFormat;
use travoiq_monitor::server::store::dynamo::sdk_config;
use travoiq_monitor::server::store::dynamo::streams::{Event, Follower, Pace, ShardCounts};
use travoiq_monitor::server::store::dynamo::writer::DynamoWriter;

/// The pace under test: the reader's default (four reads a second per
/// shard), with the stream described again every two seconds.
const PACE: Pace = Pace {
    min_interval: Duration::from_millis(250),
    describe_every: Duration::from_secs(2),
};

/// What the reader reported, as it arrived.
#[derive(Default)]
struct Seen {
    /// Changes per item id (`contactId`).
    changes: HashMap<String, u32>,
    /// "readable", "unreadable: why", "no stream", with when.
    readability: Vec<(Instant, String)>,
}

/// One table on moto followed by a `Follower` whose Streams client goes
/// through a fault proxy (its DynamoDB client goes straight to moto).
struct Rig {
    proxy: FaultProxy,
    client: aws_sdk_dynamodb::Client,
    table: String,
    seen: Arc<Mutex<Seen>>,
    requests: Arc<AtomicU64>,
    per_shard: Arc<ShardCounts>,
}

impl Rig {
    /// Tables created with streams, the reader started, and its first
    /// `Readable` seen (its iterator obtained: writes from here are on
    /// what it reads).
    async fn start(name: &str) -> Rig {
        let endpoint = moto().endpoint.clone();
        let prefix = unique_prefix(name);
        let names = tables(&prefix);
        let client = moto_client().await;
        DynamoWriter::new(client.clone(), names.clone(), WriterFormat::ConnectRt)
            .create_tables()
            .await
            .expect("tables created");
        let proxy = FaultProxy::start(&endpoint).await;
        // The SDK configuration the server uses (timeouts, retries).
        let sdk = sdk_config(Duration::from_secs(10), None)
            .await
            .expect("sdk config");
        let streams = aws_sdk_dynamodbstreams::Client::from_conf(
            aws_sdk_dynamodbstreams::config::Builder::from(&sdk)
                .endpoint_url(proxy.endpoint())
                .build(),
        );
        let requests = Arc::new(AtomicU64::new(0));
        let per_shard = Arc::new(ShardCounts::default());
        let follower = Follower {
            tables: client.clone(),
            streams,
            table: names.contact.clone(),
            pace: PACE,
            requests: requests.clone(),
            per_shard: per_shard.clone(),
        };
        let (tx, mut rx) = mpsc::channel(1024);
        tokio::spawn(follower.run(tx));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let into = seen.clone();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                let mut seen = into.lock().unwrap();
                let now = Instant::now();
                match event {
                    Event::Change(change) => {
                        let id = change.keys.get("contactId").cloned().unwrap_or_default();
                        *seen.changes.entry(id).or_default() += 1;
                    }
                    Event::Readable => seen.readability.push((now, "readable".into())),
                    Event::Unreadable(why) => {
                        seen.readability.push((now, format!("unreadable: {why}")))
                    }
                    Event::NoStream => seen.readability.push((now, "no stream".into())),
                }
            }
        });
        let rig = Rig {
            proxy,
            client,
            table: names.contact,
            seen,
            requests,
            per_shard,
        };
        rig.wait("the first Readable", Duration::from_secs(15), |s| {
            s.readability.iter().any(|(_, r)| r == "readable")
        })
        .await;
        rig
    }

    /// Polls until `done` holds on what was reported, at most `within`.
    async fn wait(&self, what: &str, within: Duration, done: impl Fn(&Seen) -> bool) {
        let seen = || self.seen.lock().unwrap();
        if eventually(within, || async { done(&seen()).then_some(()) })
            .await
            .is_none()
        {
            let seen = seen();
            panic!(
                "no {what} within {within:?}: {} items seen, readability {:?}",
                seen.changes.len(),
                seen.readability
                    .iter()
                    .map(|(_, r)| r.as_str())
                    .collect::<Vec<_>>()
            );
        }
    }

    /// Polls until the proxy's state satisfies `done`, at most `within`.
    async fn wait_proxy(&self, what: &str, within: Duration, done: impl Fn(&FaultProxy) -> bool) {
        let proxy = &self.proxy;
        assert!(
            eventually(within, || async { done(proxy).then_some(()) })
                .await
                .is_some(),
            "no {what} within {within:?}; proxy saw {} GetRecords, {} faults pending",
            proxy.count("GetRecords"),
            proxy.pending_faults()
        );
    }

    /// Writes items `{tag}-{from}`..`{tag}-{to - 1}` (one PutItem each).
    async fn write(&self, tag: &str, range: std::ops::Range<usize>) -> Vec<String> {
        let mut ids = Vec::new();
        for n in range {
            let id = format!("{tag}-{n:04}");
            self.client
                .put_item()
                .table_name(&self.table)
                .item("contactId", AttributeValue::S(id.clone()))
                .item("n", AttributeValue::N(n.to_string()))
                .send()
                .await
                .expect("PutItem");
            ids.push(id);
        }
        ids
    }

    /// Waits until every one of `ids` has arrived at least once.
    async fn all_arrive(&self, ids: &[String], within: Duration) {
        let what = format!("change for each of {} items", ids.len());
        self.wait(&what, within, |s| {
            ids.iter().all(|id| s.changes.contains_key(id))
        })
        .await;
    }

    /// Waits until the proxy has answered `n` more GetRecords than now
    /// (so a replay, if the reader were to make one, would have arrived).
    async fn more_reads(&self, n: usize) {
        let now = self.proxy.count("GetRecords");
        self.wait_proxy(
            &format!("{n} more GetRecords"),
            Duration::from_secs(20),
            |p| p.count("GetRecords") >= now + n,
        )
        .await;
    }

    /// How many times each of `ids` arrived.
    fn arrivals(&self, ids: &[String]) -> Vec<u32> {
        let seen = self.seen.lock().unwrap();
        ids.iter()
            .map(|id| seen.changes.get(id).copied().unwrap_or(0))
            .collect()
    }

    fn readability_since(&self, since: Instant) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.readability
            .iter()
            .filter(|(at, _)| *at >= since)
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// Asserts the shard was never read more than five times in any one
    /// second (AWS's limit); prints the figures; returns the max.
    fn assert_within_limit(&self, label: &str) -> usize {
        let by_shard = self.proxy.get_records_by_shard();
        assert!(!by_shard.is_empty(), "{label}: no GetRecords at all");
        let mut worst = 0;
        for (shard, times) in &by_shard {
            let figures = rate(times);
            println!(
                "{label}: shard {shard}: {} GetRecords at the proxy ({} counted by the reader) over {:.1} s; \
                 per second p50 {} max {}; max in any 1-s window {}; smallest gap {:?}",
                times.len(),
                self.per_shard.snapshot().get(shard).copied().unwrap_or(0),
                figures.span.as_secs_f64(),
                figures.p50,
                figures.max_per_second,
                figures.max_window,
                figures.min_gap,
            );
            assert!(
                figures.max_window <= 5,
                "{label}: shard {shard} read {} times within one second (AWS allows 5)",
                figures.max_window
            );
            // Arrival times at the proxy jitter by a few milliseconds.
            assert!(
                figures.min_gap >= PACE.min_interval * 4 / 5,
                "{label}: shard {shard} read twice {:?} apart (the pace is {:?})",
                figures.min_gap,
                PACE.min_interval
            );
            worst = worst.max(figures.max_window);
        }
        worst
    }
}

struct Rate {
    span: Duration,
    /// Median and max of the counts per whole second since the first read.
    p50: usize,
    max_per_second: usize,
    /// Most reads in any window of one second (sliding).
    max_window: usize,
    min_gap: Duration,
}

/// The request-rate figures of sorted arrival times.
fn rate(times: &[Instant]) -> Rate {
    let first = times[0];
    let span = times[times.len() - 1] - first;
    let mut per_second = vec![0usize; span.as_secs() as usize + 1];
    for t in times {
        per_second[(*t - first).as_secs() as usize] += 1;
    }
    // The last second is partial: leave it out of the median when possible.
    let mut whole = per_second[..per_second.len().saturating_sub(1).max(1)].to_vec();
    whole.sort();
    let max_window = (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| **t - times[i] < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0);
    let min_gap = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .min()
        .unwrap_or(Duration::MAX);
    Rate {
        span,
        p50: whole[whole.len() / 2],
        max_per_second: per_second.iter().copied().max().unwrap_or(0),
        max_window,
        min_gap,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_reads_keep_their_iterator_and_replay_nothing() {
    let rig = Rig::start("throttled").await;
    let since = Instant::now();
    const FAULTS: usize = 6;
    rig.proxy.fail_get_records("LimitExceededException", FAULTS);

    // Items written before, while and after the reads are throttled.
    let mut ids = rig.write("thr", 0..10).await;
    rig.wait_proxy("first throttled read", Duration::from_secs(10), |p| {
        p.pending_faults() < FAULTS
    })
    .await;
    ids.extend(rig.write("thr", 10..20).await);
    rig.wait_proxy("every throttled read", Duration::from_secs(30), |p| {
        p.pending_faults() == 0
    })
    .await;
    let throttled_until = Instant::now();
    ids.extend(rig.write("thr", 20..30).await);

    rig.all_arrive(&ids, Duration::from_secs(30)).await;
    let all_in = since.elapsed();
    let after_throttling = throttled_until.elapsed();
    rig.more_reads(4).await;
    let arrivals = rig.arrivals(&ids);
    assert!(
        arrivals.iter().all(|n| *n == 1),
        "each change exactly once, got {arrivals:?}"
    );

    let reports = rig.readability_since(since);
    let unreadable = reports
        .iter()
        .position(|r| r.starts_with("unreadable: LimitExceededException"))
        .unwrap_or_else(|| panic!("no Unreadable while throttled: {reports:?}"));
    assert!(
        reports[unreadable..].iter().any(|r| r == "readable"),
        "Readable again after the throttling: {reports:?}"
    );
    // Throttling keeps the iterator: the only GetShardIterator is the first.
    assert_eq!(
        rig.proxy.count("GetShardIterator"),
        1,
        "a throttled shard keeps its iterator"
    );
    let log = rig.proxy.log();
    let injected = log.iter().filter(|l| l.injected.is_some()).count();
    println!(
        "throttling: {injected} GetRecords answered LimitExceededException, reports {reports:?}; \
         30 items each arrived once, all within {all_in:?} ({:?} after the last throttled read); \
         GetRecords: {} at the proxy, {} made by the reader (the rest are the SDK's retries)",
        after_throttling,
        rig.proxy.count("GetRecords"),
        rig.requests.load(std::sync::atomic::Ordering::Relaxed),
    );
    rig.assert_within_limit("throttling");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_iterator_resumes_after_the_last_record_read() {
    let started = Instant::now();
    let rig = Rig::start("expired").await;
    let first = rig.write("exp", 0..10).await;
    rig.all_arrive(&first, Duration::from_secs(15)).await;

    // The next read is held for a second and then answered "expired";
    // items written meanwhile come after the last record read, so only
    // an iterator AFTER_SEQUENCE_NUMBER of that record finds them all.
    rig.proxy.set_delay(Duration::from_secs(1));
    rig.proxy.fail_get_records("ExpiredIteratorException", 1);
    rig.wait_proxy("the read that expires", Duration::from_secs(10), |p| {
        p.pending_faults() == 0
    })
    .await;
    let during = rig.write("exp", 10..20).await;
    rig.proxy.set_delay(Duration::ZERO);
    let after = rig.write("exp", 20..30).await;

    let mut ids: Vec<String> = [first, during, after].concat();
    let since = Instant::now();
    rig.all_arrive(&ids, Duration::from_secs(20)).await;
    let resumed_in = since.elapsed();

    // Once more without the delay: the new iterator comes at the usual pace.
    rig.proxy.fail_get_records("ExpiredIteratorException", 1);
    rig.wait_proxy(
        "the second read that expires",
        Duration::from_secs(10),
        |p| p.pending_faults() == 0,
    )
    .await;
    ids.extend(rig.write("exp", 30..40).await);
    rig.all_arrive(&ids, Duration::from_secs(20)).await;
    rig.more_reads(4).await;
    let arrivals = rig.arrivals(&ids);
    assert!(
        arrivals.iter().all(|n| *n == 1),
        "each change exactly once, got {arrivals:?}"
    );
    let asked: Vec<String> = rig
        .proxy
        .log()
        .iter()
        .filter(|l| l.operation == "GetShardIterator")
        .map(|l| l.iterator_type.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        asked,
        ["LATEST", "AFTER_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"],
        "a new iterator after each expiry, after the last record read"
    );
    let reports = rig.readability_since(started);
    assert_eq!(
        reports,
        ["readable"],
        "resuming after the last record leaves nothing to catch up"
    );
    println!(
        "expired iterator (twice): iterators asked {asked:?}; 40 items each arrived once \
         (the first 30 within {resumed_in:?} of their writes)"
    );
    rig.assert_within_limit("expired iterator");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iterator_that_expires_before_any_record_is_read_says_so() {
    let rig = Rig::start("expired-empty").await;
    // No record read yet: the reader has no position to resume after, and
    // its new (LATEST) iterator skips what was written meanwhile.
    rig.proxy.set_delay(Duration::from_secs(1));
    rig.proxy.fail_get_records("ExpiredIteratorException", 1);
    rig.wait_proxy("the read that expires", Duration::from_secs(10), |p| {
        p.pending_faults() == 0
    })
    .await;
    let since = Instant::now();
    let during = rig.write("expe", 0..10).await;
    rig.proxy.set_delay(Duration::ZERO);
    rig.wait_proxy("a new iterator", Duration::from_secs(10), |p| {
        p.count("GetShardIterator") == 2
    })
    .await;
    let after = rig.write("expe", 10..20).await;
    rig.all_arrive(&after, Duration::from_secs(20)).await;
    rig.more_reads(4).await;

    let arrivals = rig.arrivals(&[during.clone(), after.clone()].concat());
    assert!(
        arrivals.iter().all(|n| *n <= 1),
        "no change twice, got {arrivals:?}"
    );
    let missed = rig.arrivals(&during).iter().filter(|n| **n == 0).count();
    let reports = rig.readability_since(since);
    println!(
        "iterator expired before any record was read: {missed} of the 10 changes made \
         meanwhile not read; the 10 after all read once; reports {reports:?}"
    );
    // What the stream may have skipped is announced: Unreadable, then
    // Readable, the consumer's cue to read the table.
    let unreadable = reports
        .iter()
        .position(|r| r.starts_with("unreadable: ExpiredIteratorException"))
        .unwrap_or_else(|| panic!("{missed} changes skipped and no Unreadable: {reports:?}"));
    assert!(
        reports[unreadable..].iter().any(|r| r == "readable"),
        "Readable again (the consumer's cue to catch up): {reports:?}"
    );
    rig.assert_within_limit("expired before any record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_shard_is_read_at_most_five_times_a_second() {
    let rig = Rig::start("busy").await;
    let started = Instant::now();
    let mut ids = Vec::new();
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(20) {
        ids.extend(rig.write("busy", n..n + 5).await);
        n += 5;
        // Pacing the writer: five items every 20 ms or so, for 20 s.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let wrote_for = started.elapsed();
    rig.all_arrive(&ids, Duration::from_secs(30)).await;
    let arrivals = rig.arrivals(&ids);
    assert!(
        arrivals.iter().all(|n| *n == 1),
        "each change exactly once ({} items)",
        ids.len()
    );
    println!(
        "busy: {} items written over {wrote_for:?}, each arrived once",
        ids.len()
    );
    let max = rig.assert_within_limit("busy");
    assert!(max >= 3, "the shard was read steadily (max {max} in 1 s)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trimmed_iterator_reads_again_from_the_oldest_record() {
    let rig = Rig::start("trimmed").await;
    let first = rig.write("trim", 0..10).await;
    rig.all_arrive(&first, Duration::from_secs(15)).await;

    let since = Instant::now();
    rig.proxy.fail_get_records("TrimmedDataAccessException", 1);
    rig.wait_proxy("the trimmed read", Duration::from_secs(10), |p| {
        p.pending_faults() == 0
    })
    .await;
    let then = rig.write("trim", 10..20).await;
    let ids: Vec<String> = [first.clone(), then].concat();
    rig.all_arrive(&ids, Duration::from_secs(20)).await;

    let log = rig.proxy.log();
    let trimmed_at = log
        .iter()
        .find(|l| l.injected.as_deref() == Some("TrimmedDataAccessException"))
        .expect("the fault was answered")
        .at;
    let after: Vec<String> = log
        .iter()
        .filter(|l| l.operation == "GetShardIterator" && l.at > trimmed_at)
        .map(|l| l.iterator_type.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        after.first().map(String::as_str),
        Some("TRIM_HORIZON"),
        "the next iterator starts at the oldest record: {after:?}"
    );
    let arrivals = rig.arrivals(&ids);
    assert!(
        arrivals.iter().all(|n| *n >= 1),
        "nothing lost: {arrivals:?}"
    );
    let repeated = arrivals.iter().filter(|n| **n > 1).count();
    let reports = rig.readability_since(since);
    let unreadable = reports
        .iter()
        .position(|r| r.starts_with("unreadable: TrimmedDataAccessException"))
        .unwrap_or_else(|| panic!("the trimmed read is not reported: {reports:?}"));
    assert!(
        reports[unreadable..].iter().any(|r| r == "readable"),
        "Readable again: {reports:?}"
    );
    println!(
        "trimmed: iterators asked after the fault {after:?}; 20 items all arrived, \
         {repeated} of them twice (read again from the oldest record); reports {reports:?}"
    );
    rig.assert_within_limit("trimmed");
}
