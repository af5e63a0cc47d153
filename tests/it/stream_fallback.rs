//! A DynamoDB stream that can't be read never stops the monitor: with the
//! Streams endpoint down (a proxy in front of moto that refuses
//! connections) the tables are polled, new calls are still found and every
//! line still arrives; when the endpoint comes back the monitor returns to
//! the streams, and `/healthz` says which source each table is read from.

use std::time::{Duration, Instant};

use crate::common::dynamo::{
    in_turn, line, moto, moto_client, start_call, tables, unique_prefix, writer, Proxy,
};
use crate::common::{
    announced, backlog, eventually, next_frame, pump, spawn_dynamo_app, Frames, TestApp,
};
use serde_json::Value;
use travoiq_monitor::model::CallId;
use travoiq_monitor::protocol::ServerMsg;
use travoiq_monitor::server::config::WriterFormat;
use travoiq_monitor::server::store::dynamo::tables::{enable_streams, StreamChange};
use travoiq_monitor::server::store::dynamo::writer::DynamoWriter;
use travoiq_monitor::server::store::dynamo::DynamoStore;
use travoiq_monitor::server::store::CallSink;

/// The server, its Streams endpoint `streams_endpoint` ("": the DynamoDB
/// one, moto).
async fn app(prefix: &str, streams_endpoint: &str) -> TestApp {
    spawn_dynamo_app(
        prefix,
        &[
            ("dynamodb_streams_endpoint", streams_endpoint),
            ("dynamodb_poll_ms", "200"),
            ("latest_poll_secs", "1"),
            ("stream_describe_secs", "1"),
            ("dynamodb_timeout_ms", "3000"),
        ],
    )
    .await
}

/// Each table's `readFrom` on `/healthz`, with the contact table's reason.
async fn sources(app: &TestApp) -> (Vec<String>, String) {
    let v: Value = app.get("/healthz").await.json().await.unwrap();
    let tables = v["tables"].as_array().cloned().unwrap_or_default();
    let from = tables
        .iter()
        .map(|t| t["readFrom"].as_str().unwrap_or_default().to_string())
        .collect();
    let reason = tables
        .first()
        .and_then(|t| t["reason"].as_str())
        .unwrap_or_default()
        .to_string();
    (from, reason)
}

/// Waits (at most `within`) until every table is read from `want`, the
/// contact table's reason (if any) starting with `because`.
async fn wait_for_sources(
    app: &TestApp,
    want: &str,
    because: &str,
    within: Duration,
) -> (Vec<String>, String) {
    let found = eventually(within, || async {
        let now = sources(app).await;
        (now.0.len() == 3 && now.0.iter().all(|f| f == want) && now.1.starts_with(because))
            .then_some(now)
    })
    .await;
    match found {
        Some(now) => now,
        None => panic!("still {:?}, wanted {want}", sources(app).await),
    }
}

/// Reads the lobby until `id` is announced; how long that took.
async fn announced_after(lobby: &mut Frames, id: &CallId, since: Instant) -> Duration {
    announced(lobby, id).await;
    since.elapsed()
}

/// Writes `n` lines one by one, each read back on `ws` before the next;
/// the time each took from write to frame.
async fn lines_arrive(
    writer: &DynamoWriter,
    ws: &mut Frames,
    id: &CallId,
    from: i64,
    n: i64,
) -> Vec<Duration> {
    let mut took = Vec::new();
    for i in from..from + n {
        let text = format!("line {i}");
        let written = Instant::now();
        writer
            .write_segment(id, line(in_turn(i), i * 1000, &text))
            .await
            .unwrap();
        loop {
            match next_frame(ws).await {
                ServerMsg::Transcript(seg) if seg.text == text => break,
                ServerMsg::Transcript(seg) => {
                    assert!(seg.start_ms < i * 1000, "out of order: {seg:?}")
                }
                _ => {}
            }
        }
        took.push(written.elapsed());
    }
    took
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_stream_falls_back_to_polling_and_back_to_the_stream() {
    let prefix = unique_prefix("fallback");
    let writer = writer(&prefix, WriterFormat::ConnectRt, true).await;
    let proxy = Proxy::start(&moto().endpoint).await;
    proxy.cut();
    let app = app(&prefix, &proxy.endpoint()).await;

    // Streams on the tables, but their endpoint refuses: polled, and why.
    wait_for_sources(
        &app,
        "polling",
        "stream unreadable",
        Duration::from_secs(10),
    )
    .await;

    let mut lobby = pump(app.connect("/ws/calls").await);
    assert!(matches!(
        next_frame(&mut lobby).await,
        ServerMsg::Latest { .. }
    ));
    let since = Instant::now();
    let id = start_call(&writer, true).await;
    let found = announced_after(&mut lobby, &id, since).await;
    println!("new call found while polling (Scan every 1 s): {found:?}");

    let mut ws = pump(app.connect(&format!("/ws/{id}")).await);
    backlog(&mut ws).await;
    let polled = lines_arrive(&writer, &mut ws, &id, 0, 6).await;
    println!(
        "write to frame while polling every 200 ms: median {:?}",
        median(polled)
    );

    // The endpoint comes back: every table is read from its stream again,
    // and the contact table is no longer scanned.
    proxy.restore();
    wait_for_sources(&app, "stream", "", Duration::from_secs(20)).await;
    let since = Instant::now();
    let second = start_call(&writer, true).await;
    let found = announced_after(&mut lobby, &second, since).await;
    println!("new call found from the stream: {found:?}");
    let streamed = lines_arrive(&writer, &mut ws, &id, 6, 6).await;
    println!(
        "write to frame from the stream: median {:?}",
        median(streamed)
    );
    // Proving none comes: over more than two Scan intervals, no Scan (the
    // sockets are read meanwhile). Counted from here, well after the
    // switch, so a Scan of the polling days still finishing is not one.
    let scans = || {
        DynamoStore::downcast(app.hub.store())
            .unwrap()
            .request_counts()
            .scan
    };
    let before = scans();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(scans(), before, "no Scan while the contact stream is read");

    // Down again: back to polling, and nothing is missed.
    proxy.cut();
    wait_for_sources(
        &app,
        "polling",
        "stream unreadable",
        Duration::from_secs(20),
    )
    .await;
    let third = start_call(&writer, true).await;
    announced(&mut lobby, &third).await;
    lines_arrive(&writer, &mut ws, &id, 12, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_without_streams_are_polled_until_the_streams_are_turned_on() {
    let prefix = unique_prefix("nostream");
    let writer = writer(&prefix, WriterFormat::ConnectRt, false).await;
    let app = app(&prefix, "").await;
    let v: Value = app.get("/healthz").await.json().await.unwrap();
    assert_eq!(v["status"], "ok");
    wait_for_sources(
        &app,
        "polling",
        "no stream on this table",
        Duration::from_secs(10),
    )
    .await;

    let mut lobby = pump(app.connect("/ws/calls").await);
    assert!(matches!(
        next_frame(&mut lobby).await,
        ServerMsg::Latest { .. }
    ));
    let id = start_call(&writer, true).await;
    announced(&mut lobby, &id).await;

    // The command turns every stream on; the running server picks them up.
    let client = moto_client().await;
    let done = enable_streams(&client, &tables(&prefix)).await.unwrap();
    assert!(
        done.iter().all(|(_, c)| *c == StreamChange::TurnedOn),
        "{done:?}"
    );
    let again = enable_streams(&client, &tables(&prefix)).await.unwrap();
    assert!(
        again
            .iter()
            .all(|(_, c)| matches!(c, StreamChange::AlreadyOn(_))),
        "{again:?}"
    );
    wait_for_sources(&app, "stream", "", Duration::from_secs(20)).await;
    let since = Instant::now();
    let second = start_call(&writer, true).await;
    let found = announced_after(&mut lobby, &second, since).await;
    println!("new call found after enable-streams: {found:?}");
    let mut ws = pump(app.connect(&format!("/ws/{second}")).await);
    backlog(&mut ws).await;
    lines_arrive(&writer, &mut ws, &second, 0, 3).await;
}
