//! The whole server on the DynamoDB backend (moto on loopback, behind a
//! proxy that can be cut): HTTP answers and the live socket through an
//! outage of the data source.

use std::time::Duration;

use crate::common::dynamo::{
    moto, new_call_id, segment, start_call_at, unique_prefix, writer, Proxy,
};
use crate::common::{eventually, next_msg, spawn_dynamo_app, TestApp};
use travoiq_monitor::model::Speaker;
use travoiq_monitor::protocol::ServerMsg;
use travoiq_monitor::server::config::WriterFormat;
use travoiq_monitor::server::store::dynamo::writer::DynamoWriter;
use travoiq_monitor::server::store::{CallSink, SegmentWrite};

/// As the contact flow writes `callTimestamp`.
const CALL_TIMESTAMP: &str = "Thu Jan 05 2023 12:28:53 GMT-0500 (Eastern Standard Time)";

struct Setup {
    app: TestApp,
    proxy: Proxy,
    writer: DynamoWriter,
}

/// Tables with streams, written straight to moto; the server reads them
/// through the proxy.
async fn setup(format: WriterFormat) -> Setup {
    let prefix = unique_prefix("app");
    let writer = writer(&prefix, format, true).await;
    let proxy = Proxy::start(&moto().endpoint).await;
    let endpoint = proxy.endpoint();
    let app = spawn_dynamo_app(
        &prefix,
        &[
            // Both clients through the proxy: cutting it cuts the source.
            ("dynamodb_endpoint", &endpoint),
            ("dynamodb_streams_endpoint", &endpoint),
            ("dynamodb_poll_ms", "100"),
            ("dynamodb_timeout_ms", "900"),
        ],
    )
    .await;
    Setup { app, proxy, writer }
}

/// A line 500 ms long.
fn say(speaker: Speaker, start_ms: i64, text: &str, partial: bool) -> SegmentWrite {
    segment(speaker, start_ms, 500, text, partial)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn details_and_latest_come_from_the_tables_and_outages_are_503() {
    let s = setup(WriterFormat::ConnectRt).await;
    let id = start_call_at(&s.writer, Some(CALL_TIMESTAMP.into())).await;
    let res = s.app.get(&format!("/details/{id}")).await;
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["customerPhoneNumber"], "+14155550123");
    assert!(v["callTimestamp"]
        .as_str()
        .unwrap()
        .starts_with("Thu Jan 05 2023"));
    let v: serde_json::Value = s.app.get("/latest-call").await.json().await.unwrap();
    assert_eq!(v["contactId"], id.as_str());

    s.proxy.cut();
    let res = s.app.get(&format!("/details/{}", new_call_id())).await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "5");
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["error"],
        "unavailable"
    );
    s.proxy.restore();
    assert_eq!(s.app.get(&format!("/details/{id}")).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_table_is_a_404_with_its_own_code() {
    let app = spawn_dynamo_app("absent-", &[]).await;
    let res = app.get(&format!("/details/{}", new_call_id())).await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["error"],
        "missing_table"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_are_told_of_an_outage_and_resume_with_nothing_lost_or_doubled() {
    let s = setup(WriterFormat::KvsMs).await;
    let id = start_call_at(&s.writer, Some(CALL_TIMESTAMP.into())).await;
    s.writer
        .write_segment(&id, say(Speaker::Agent, 0, "Hello", false))
        .await
        .unwrap();

    let mut ws = s.app.connect(&format!("/ws/{id}")).await;
    assert!(matches!(next_msg(&mut ws).await, ServerMsg::Hello { .. }));
    let first = match next_msg(&mut ws).await {
        ServerMsg::Transcript(seg) => seg,
        other => panic!("{other:?}"),
    };
    assert_eq!(first.text, "Hello");
    assert!(matches!(
        next_msg(&mut ws).await,
        ServerMsg::CaughtUp { .. }
    ));

    s.proxy.cut();
    assert_eq!(
        next_msg(&mut ws).await,
        ServerMsg::SourceStatus { available: false }
    );
    // Written while the monitor cannot read.
    s.writer
        .write_segment(&id, say(Speaker::Customer, 1000, "I lost", true))
        .await
        .unwrap();
    s.writer
        .write_segment(&id, say(Speaker::Customer, 1000, "I lost my bag", false))
        .await
        .unwrap();
    s.writer
        .write_segment(&id, say(Speaker::Agent, 2500, "Sorry to hear", false))
        .await
        .unwrap();
    // The server tries (and fails) to read them before the source is back.
    let refused = s.proxy.refused();
    eventually(Duration::from_secs(10), || async {
        (s.proxy.refused() > refused).then_some(())
    })
    .await
    .expect("a read attempt while the source is down");
    s.proxy.restore();

    let mut texts = Vec::new();
    let mut back = false;
    while !(back && texts.len() >= 2) {
        match next_msg(&mut ws).await {
            ServerMsg::Transcript(seg) => texts.push((seg.speaker, seg.text, seg.partial)),
            ServerMsg::SourceStatus { available: true } => back = true,
            // The call's alerts, read again with what was missed.
            ServerMsg::Alerts { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    // The two tables are read (or streamed) apart: either may come first.
    let mut finals: Vec<_> = texts.iter().filter(|t| !t.2).cloned().collect();
    finals.sort();
    assert_eq!(
        finals,
        [
            (Speaker::Customer, "I lost my bag".to_string(), false),
            (Speaker::Agent, "Sorry to hear".to_string(), false)
        ]
    );
    assert_eq!(texts.len(), 2, "nothing doubled: {texts:?}");
}
