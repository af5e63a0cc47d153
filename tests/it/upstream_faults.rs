//! The DynamoDB reader as the real upstream writers behave (moto on
//! loopback, the real server, its sockets): a transcription session that
//! restarts mid-call, a partial whose final never comes, a contact item
//! completed by an update. Each with the tables' streams read, and without.

use std::time::{Duration, Instant};

use crate::common::dynamo::{
    contact, in_turn, now_rfc3339, segment, start_call, unique_prefix, writer,
};
use crate::common::{announced, backlog, eventually, pump, recv_within, spawn_dynamo_app, TestApp};
use serde_json::Value;
use travoiq_monitor::model::{Segment, Speaker};
use travoiq_monitor::protocol::ServerMsg;
use travoiq_monitor::server::config::WriterFormat;
use travoiq_monitor::server::store::dynamo::writer::DynamoWriter;
use travoiq_monitor::server::store::dynamo::DynamoStore;
use travoiq_monitor::server::store::{CallSink, SegmentWrite};

struct Setup {
    app: TestApp,
    writer: DynamoWriter,
}

/// Tables (with or without streams), a writer in `format`, and the server.
async fn setup(format: WriterFormat, streams: bool, extra: &[(&str, &str)]) -> Setup {
    let prefix = unique_prefix("upstream");
    let writer = writer(&prefix, format, streams).await;
    let mut settings = vec![
        ("dynamodb_poll_ms", "200"),
        ("latest_poll_secs", "1"),
        ("dynamodb_full_read_secs", "2"),
    ];
    settings.extend_from_slice(extra);
    let app = spawn_dynamo_app(&prefix, &settings).await;
    Setup { app, writer }
}

/// A line as written here: 500 ms long, partial or final.
fn write(speaker: Speaker, start_ms: i64, text: &str, partial: bool) -> SegmentWrite {
    segment(speaker, start_ms, 500, text, partial)
}

/// What the page shows: each line's latest state, ordered as the page
/// orders them (by start, then speaker).
fn shown(frames: &[Segment]) -> Vec<(String, bool)> {
    let mut latest = std::collections::BTreeMap::new();
    for seg in frames {
        latest.insert((seg.start_ms, seg.speaker), (seg.text.clone(), seg.partial));
    }
    latest.into_values().collect()
}

/// A call of 17 lines, customer and agent in turn, written in real time
/// (700 ms apart): the transcription session restarts after line 9, so
/// lines 10 to 16 start again near zero. Every line must be shown once, in
/// the order spoken.
async fn a_restarted_session_keeps_every_line_in_spoken_order(format: WriterFormat, streams: bool) {
    let s = setup(format, streams, &[]).await;
    let id = start_call(&s.writer, true).await;
    let mut ws = pump(s.app.connect(&format!("/ws/{id}")).await);
    let mut frames = Vec::new();
    let expected: Vec<String> = (0..17).map(|i| format!("line {i}")).collect();
    for (i, text) in expected.iter().enumerate() {
        let i = i as i64;
        let speaker = in_turn(i);
        // Session time: 700 ms a line; the second session began just
        // before line 9 was said.
        let start = if i < 9 { i * 700 } else { 300 + (i - 9) * 700 };
        s.writer
            .write_segment(&id, write(speaker, start, &text[..4], true))
            .await
            .unwrap();
        s.writer
            .write_segment(&id, write(speaker, start, text, false))
            .await
            .unwrap();
        if i == 8 {
            // Pacing the writer: the failed session is noticed and a new
            // one started, a pause in the writes as upstream makes it.
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        while let Some(msg) = recv_within(&mut ws, Duration::from_millis(700)).await {
            if let ServerMsg::Transcript(seg) = msg {
                frames.push(seg);
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while shown(&frames)
        .iter()
        .filter(|(_, partial)| !partial)
        .count()
        < 17
        && Instant::now() < deadline
    {
        if let Some(ServerMsg::Transcript(seg)) =
            recv_within(&mut ws, Duration::from_millis(500)).await
        {
            frames.push(seg);
        }
    }
    let texts: Vec<String> = shown(&frames).into_iter().map(|(t, _)| t).collect();
    assert_eq!(texts, expected, "{format:?}, streams {streams}");
    let finals: Vec<&Segment> = frames.iter().filter(|f| !f.partial).collect();
    assert_eq!(
        finals.len(),
        17,
        "each final once: {format:?}, streams {streams}"
    );

    // A page opened now shows the same.
    let mut fresh = pump(s.app.connect(&format!("/ws/{id}")).await);
    let texts: Vec<String> = shown(&backlog(&mut fresh).await)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(texts, expected, "backlog, {format:?}, streams {streams}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_session_connect_rt_with_streams() {
    a_restarted_session_keeps_every_line_in_spoken_order(WriterFormat::ConnectRt, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_session_kvs_ms_with_streams() {
    a_restarted_session_keeps_every_line_in_spoken_order(WriterFormat::KvsMs, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_session_connect_rt_without_streams() {
    a_restarted_session_keeps_every_line_in_spoken_order(WriterFormat::ConnectRt, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_session_kvs_ms_without_streams() {
    a_restarted_session_keeps_every_line_in_spoken_order(WriterFormat::KvsMs, false).await;
}

/// Transcript items read per second over `window`, while the call is watched.
async fn items_read_per_second(app: &TestApp, window: Duration) -> f64 {
    let before = DynamoStore::downcast(app.hub.store())
        .unwrap()
        .request_counts()
        .items_read;
    // The window measured over.
    tokio::time::sleep(window).await;
    let after = DynamoStore::downcast(app.hub.store())
        .unwrap()
        .request_counts()
        .items_read;
    (after - before) as f64 / window.as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_that_never_finishes_stops_costing_reads_and_stays_unfinished() {
    // Polled (no streams), whole reads rare, partials abandoned after 2 s.
    let s = setup(
        WriterFormat::ConnectRt,
        false,
        &[
            ("dynamodb_full_read_secs", "600"),
            ("partial_timeout_secs", "2"),
        ],
    )
    .await;
    let id = start_call(&s.writer, true).await;
    s.writer
        .write_segment(
            &id,
            write(Speaker::Customer, 0, "I was calling about", true),
        )
        .await
        .unwrap();
    // Its final is dropped; thirty lines follow.
    for i in 1..=30 {
        s.writer
            .write_segment(
                &id,
                write(Speaker::Customer, i * 1000, &format!("line {i}"), false),
            )
            .await
            .unwrap();
    }
    let mut ws = pump(s.app.connect(&format!("/ws/{id}")).await);
    let backlog = backlog(&mut ws).await;
    let pinned = items_read_per_second(&s.app, Duration::from_millis(1500)).await;
    // The partial is given up once 2 s old, and the reads fall: wait for
    // that, then see that they stay down.
    let fell = Instant::now();
    eventually(Duration::from_secs(15), || async {
        let now = items_read_per_second(&s.app, Duration::from_millis(500)).await;
        (now * 5.0 < pinned).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("the abandoned partial still pins the reads ({pinned:.1} items/s)"));
    let fell = fell.elapsed();
    let released = items_read_per_second(&s.app, Duration::from_millis(1500)).await;
    println!(
        "items read per second while the partial holds the tail: {pinned:.1}, \
         after the bound: {released:.1} (fell {fell:?} after the first measure)"
    );
    assert!(
        released * 5.0 < pinned,
        "the abandoned partial still pins the reads: {pinned:.1} then {released:.1} items/s"
    );
    let stuck = backlog
        .iter()
        .find(|seg| seg.start_ms == 0)
        .expect("the unfinished line is shown");
    assert!(stuck.partial, "shown as unfinished");
    assert_eq!(backlog.iter().filter(|s| !s.partial).count(), 30);
}

async fn a_contact_completed_by_an_update_is_announced(streams: bool) {
    let s = setup(WriterFormat::KvsMs, streams, &[]).await;
    let mut lobby = pump(s.app.connect("/ws/calls").await);
    assert!(matches!(
        recv_within(&mut lobby, Duration::from_secs(5)).await,
        Some(ServerMsg::Latest { .. })
    ));
    // An earlier call, so the new one must beat it on its time.
    let earlier = start_call(&s.writer, true).await;
    announced(&mut lobby, &earlier).await;
    // Pacing the writer, as upstream writes: the next call a second later,
    // written without its time and completed a second after that (a
    // second PutItem).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let id = start_call(&s.writer, false).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    s.writer
        .start_call(contact(&id, Some(now_rfc3339())))
        .await
        .unwrap();
    announced(&mut lobby, &id).await;
    let latest: Value = s.app.get("/latest-call").await.json().await.unwrap();
    assert_eq!(latest["contactId"], id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_completed_by_an_update_is_announced_from_the_stream() {
    a_contact_completed_by_an_update_is_announced(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_completed_by_an_update_is_announced_without_a_stream() {
    a_contact_completed_by_an_update_is_announced(false).await;
}
