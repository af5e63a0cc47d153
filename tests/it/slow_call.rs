//! One call's slow reads never hold up another call's lines: the real
//! server on DynamoDB tables without streams (each watched call read by its
//! own `Query` polls), its DynamoDB endpoint behind a proxy in front of
//! moto. Two calls, A and B, each watched. B's lines are timed from the
//! write to the frame on B's socket, first with nothing delayed, then with
//! every Query for A held 2 s at the proxy. B's lines must all arrive, in
//! order, once each, and A's line must still arrive (late is fine).

use std::time::{Duration, Instant};

use crate::common::dynamo::{in_turn, line, moto, start_call, unique_prefix, writer};
use crate::common::fault_proxy::FaultProxy;
use crate::common::{backlog, eventually, pump, spawn_dynamo_app, until, Frames};
use travoiq_monitor::model::{CallId, Segment};
use travoiq_monitor::protocol::ServerMsg;
use travoiq_monitor::server::config::WriterFormat;
use travoiq_monitor::server::store::dynamo::writer::DynamoWriter;
use travoiq_monitor::server::store::{CallSink, SegmentWrite};

/// How long the proxy holds every Query for call A in phase 2.
const A_DELAY: Duration = Duration::from_secs(2);
/// Lines written to B per phase.
const LINES: i64 = 10;
/// Generous bound on any one line's arrival, far above any delay here:
/// only there so a lost line fails the test instead of hanging it.
const ARRIVAL: Duration = Duration::from_secs(30);

/// Final line `n`: customer and agent in turn (the two tables, two Queries).
fn nth_line(n: i64, text: &str) -> SegmentWrite {
    line(in_turn(n), n * 1000, text)
}

/// Reads `rx` until the final line `text` arrives, keeping every
/// transcript frame in `frames`; when it did.
async fn until_line(rx: &mut Frames, text: &str, frames: &mut Vec<Segment>) -> Instant {
    until(rx, &format!("line {text:?}"), ARRIVAL, |msg| match msg {
        ServerMsg::Transcript(seg) => {
            let done = seg.text == text && !seg.partial;
            frames.push(seg);
            done.then(Instant::now)
        }
        _ => None,
    })
    .await
}

/// Writes B's lines `range` one at a time, each read back on B's socket
/// before the next is written; each line's latency from its write having
/// returned (the item is in the table) to its frame.
async fn write_and_time(
    writer: &DynamoWriter,
    b: &CallId,
    rx: &mut Frames,
    range: std::ops::Range<i64>,
    frames: &mut Vec<Segment>,
) -> Vec<Duration> {
    let mut latencies = Vec::new();
    for n in range {
        let text = format!("B line {n}");
        writer.write_segment(b, nth_line(n, &text)).await.unwrap();
        let written = Instant::now();
        let arrived = until_line(rx, &text, frames).await;
        latencies.push(arrived - written);
    }
    latencies
}

/// (p50, max); the p50 of an even count is the upper middle value.
fn figures(latencies: &[Duration]) -> (Duration, Duration) {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    (sorted[sorted.len() / 2], sorted[sorted.len() - 1])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_call_never_holds_up_another_calls_lines() {
    let prefix = unique_prefix("slowcall");
    // The writer goes straight to moto; only the server goes through the proxy.
    let writer = writer(&prefix, WriterFormat::ConnectRt, false).await;
    let proxy = FaultProxy::start(&moto().endpoint).await;
    let through_proxy = proxy.endpoint();
    let app = spawn_dynamo_app(
        &prefix,
        &[
            ("dynamodb_endpoint", through_proxy.as_str()),
            ("dynamodb_poll_ms", "200"),
            // The SDK gives each attempt a third of this (client.rs): 3 s, so
            // A's held Queries (2 s) are slow but answered. At 5000 each
            // attempt would be cut at 1.67 s and A's reads would only fail.
            ("dynamodb_timeout_ms", "9000"),
            ("latest_poll_secs", "1"),
        ],
    )
    .await;

    let a = start_call(&writer, true).await;
    let b = start_call(&writer, true).await;
    let mut ws_a = pump(app.connect(&format!("/ws/{a}")).await);
    let mut ws_b = pump(app.connect(&format!("/ws/{b}")).await);
    backlog(&mut ws_a).await;
    backlog(&mut ws_b).await;
    let mut frames_a = Vec::new();
    let mut frames_b = Vec::new();

    // Phase 1: nothing delayed. A has a line too, so both calls are alike.
    writer
        .write_segment(&a, nth_line(0, "A line 0"))
        .await
        .unwrap();
    until_line(&mut ws_a, "A line 0", &mut frames_a).await;
    let before = write_and_time(&writer, &b, &mut ws_b, 0..LINES, &mut frames_b).await;

    // Phase 2: every Query for A (its key in the body as the SDK writes
    // it) held A_DELAY at the proxy. A's feed reads its two tables one
    // after the other, so A's reads are in flight nearly all the time.
    let a_queries = format!(r#"":id":{{"S":"{a}"}}"#);
    proxy.delay_matching(&a_queries, A_DELAY);
    let slow_since = Instant::now();
    // Start measuring once a held Query of A has been answered: from here
    // on A's feed is always waiting on one.
    eventually(ARRIVAL, || async {
        proxy
            .log()
            .iter()
            .any(|l| l.operation == "Query" && l.delayed >= A_DELAY)
            .then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("no Query for A was held: is {a_queries} what the SDK sends?"));
    writer
        .write_segment(&a, nth_line(1, "A line 1"))
        .await
        .unwrap();
    let a_written = Instant::now();
    let during = write_and_time(&writer, &b, &mut ws_b, LINES..2 * LINES, &mut frames_b).await;
    let a_arrived = until_line(&mut ws_a, "A line 1", &mut frames_a).await;
    let a_latency = a_arrived - a_written;
    let log = proxy.log();
    let held = log
        .iter()
        .filter(|l| l.at >= slow_since && l.delayed >= A_DELAY)
        .count();
    let held_other = log
        .iter()
        .filter(|l| l.delayed >= A_DELAY && l.operation != "Query")
        .count();
    let queries = log
        .iter()
        .filter(|l| l.at >= slow_since && l.operation == "Query")
        .count();
    proxy.delay_matching(&a_queries, Duration::ZERO);

    // A second more of B's polls, so a line sent twice would show here.
    let settle = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Ok(Some(msg)) = tokio::time::timeout_at(settle, ws_b.recv()).await {
        if let ServerMsg::Transcript(seg) = msg {
            frames_b.push(seg);
        }
    }

    let (p50_before, max_before) = figures(&before);
    let (p50_during, max_during) = figures(&during);
    println!(
        "B write→frame, A not delayed: p50 {:.0} ms, max {:.0} ms ({:?})",
        ms(p50_before),
        ms(max_before),
        before.iter().map(|d| ms(*d).round()).collect::<Vec<_>>()
    );
    println!(
        "B write→frame, every Query of A held {A_DELAY:?}: p50 {:.0} ms, max {:.0} ms ({:?})",
        ms(p50_during),
        ms(max_during),
        during.iter().map(|d| ms(*d).round()).collect::<Vec<_>>()
    );
    println!(
        "ratio delayed/undelayed: p50 {:.2}, max {:.2}; A's line arrived {:.0} ms after its write; \
         {held} requests held while A was slow ({queries} Queries in all), {held_other} held that were not Queries",
        p50_during.as_secs_f64() / p50_before.as_secs_f64(),
        max_during.as_secs_f64() / max_before.as_secs_f64(),
        ms(a_latency),
    );

    // Behaviour: every line of B, in the order written, each shown once.
    let finals: Vec<&str> = frames_b
        .iter()
        .filter(|s| !s.partial)
        .map(|s| s.text.as_str())
        .collect();
    let expected: Vec<String> = (0..2 * LINES).map(|n| format!("B line {n}")).collect();
    assert_eq!(finals, expected, "B's lines, in order, each once");
    assert!(
        frames_b.iter().all(|s| s.text.starts_with("B line")),
        "only B's lines on B's socket"
    );
    assert!(
        frames_a.iter().all(|s| s.text.starts_with("A line")),
        "only A's lines on A's socket"
    );
    assert!(held > 0, "A's Queries were held");
    assert_eq!(held_other, 0, "only Queries carry A's key as `:id`");

    // The one time bound. B's lines are read by B's own feed every 200 ms,
    // so their latency is a poll plus a Query or two. Were A's slow read to
    // hold up B (a lock held across A's request in the hub, the store, or
    // a shared reader), every line of B would wait for A's request to be
    // answered: at least A_DELAY each, as A's reads are in flight nearly
    // all the time. So a median below A_DELAY means B was not held up; it
    // leaves a wide margin for a slow machine.
    assert!(
        p50_during < A_DELAY,
        "B's median latency {p50_during:?} while A's reads are held {A_DELAY:?}: \
         B is waiting for A"
    );
}
