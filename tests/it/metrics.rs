//! `/metrics`: served on its own listener with a bearer token, refused
//! without it, absent from the main port; and the counters move as a
//! viewer opens a call and the lobby, reads the call, and leaves.

use std::time::Duration;

use travoiq_monitor::protocol::ServerMsg;

use crate::common::{
    eventually, next_frame, next_msg, plain_client, pump, spawn_app_with, TestApp,
};

const TOKEN: &str = "test-metrics-token-0123456789";

/// The value of one series (`name{labels}` exactly as the text writes it).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (name, value) = l.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok()).flatten()
    })
}

async fn scrape(app: &TestApp) -> String {
    let base = app.metrics_base.as_deref().expect("metrics are served");
    let res = plain_client()
        .get(format!("{base}/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("scrape");
    assert_eq!(res.status(), 200);
    let kind = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    res.text().await.expect("text")
}

async fn series(app: &TestApp, name: &str) -> f64 {
    let text = scrape(app).await;
    value(&text, name).unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

const CALL_SOCKETS: &str = "travoiq_sockets{kind=\"call\"}";
const LOBBY_SOCKETS: &str = "travoiq_sockets{kind=\"lobby\"}";
const FEEDS: &str = "travoiq_feeds";
const FRAMES: &str = "travoiq_frames_sent_total";
const READS_OK: &str = "travoiq_store_requests_total{operation=\"segments_after\",outcome=\"ok\"}";
const READ_TIMES: &str =
    "travoiq_store_request_duration_seconds_count{operation=\"segments_after\"}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_token_and_count_sockets_feeds_frames_and_store_reads() {
    let app = spawn_app_with(&[("metrics_addr", "127.0.0.1:0"), ("metrics_token", TOKEN)]).await;
    let base = app.metrics_base.clone().expect("metrics are served");

    // Refused without the token, or with another; not on the main port.
    let bare = plain_client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(bare.status(), 401);
    assert!(!bare.text().await.expect("body").contains("travoiq_"));
    let wrong = plain_client()
        .get(format!("{base}/metrics"))
        .bearer_auth("not-the-metrics-token-at-all")
        .send()
        .await
        .expect("scrape");
    assert_eq!(wrong.status(), 401);
    // A page that rebinds its own name to loopback reads nothing either.
    let rebound = plain_client()
        .get(format!("{base}/metrics"))
        .bearer_auth(TOKEN)
        .header("host", "attacker.example")
        .send()
        .await
        .expect("scrape");
    assert_eq!(rebound.status(), 421);
    let main = app.get("/metrics").await;
    assert_eq!(main.status(), 404, "the main port does not serve /metrics");
    assert!(!main.text().await.expect("body").contains(FRAMES));

    let before = scrape(&app).await;
    println!("metrics before:\n{before}");
    assert_eq!(value(&before, CALL_SOCKETS), Some(0.0));
    assert_eq!(value(&before, FEEDS), Some(0.0));
    let frames_before = value(&before, FRAMES).expect("frames sent");
    let reads_before = value(&before, READS_OK).expect("store reads");

    let id = app.create_call("+14155550123").await;
    for n in 0..3 {
        app.say(&id, "Customer", n * 1000, &format!("line {n}"), false)
            .await;
    }
    // Read directly (not pumped), so the test can close it.
    let mut call = app.connect(&format!("/ws/{id}")).await;
    assert!(matches!(next_msg(&mut call).await, ServerMsg::Hello { .. }));
    let mut lines = 0;
    while let ServerMsg::Transcript(_) = next_msg(&mut call).await {
        lines += 1;
    }
    assert_eq!(lines, 3, "the backlog, then CaughtUp");
    let mut lobby = pump(app.connect("/ws/calls").await);
    assert!(matches!(
        next_frame(&mut lobby).await,
        ServerMsg::Latest { .. }
    ));

    let during = scrape(&app).await;
    println!("metrics with a call and a lobby socket open:\n{during}");
    assert_eq!(value(&during, CALL_SOCKETS), Some(1.0));
    assert_eq!(value(&during, LOBBY_SOCKETS), Some(1.0));
    assert_eq!(value(&during, FEEDS), Some(1.0));
    // Hello, three lines, CaughtUp and the lobby's Latest at least.
    let frames = value(&during, FRAMES).expect("frames sent");
    assert!(frames >= frames_before + 6.0, "{frames_before} -> {frames}");
    let reads = value(&during, READS_OK).expect("store reads");
    assert!(reads > reads_before, "{reads_before} -> {reads}");
    assert!(value(&during, READ_TIMES).is_some_and(|n| n >= reads));

    // A live line is one more frame.
    app.say(&id, "Agent", 4000, "a live line", false).await;
    assert!(matches!(
        next_msg(&mut call).await,
        ServerMsg::Transcript(_)
    ));
    assert!(series(&app, FRAMES).await > frames);

    // The viewer leaves: its socket is no longer counted. The call ends
    // (while live the floor follows it, for alerts): then its feed stops
    // (feed_linger_secs is 1 in tests).
    call.close(None).await.expect("close");
    app.end(&id).await;
    let closed = eventually(Duration::from_secs(15), || async {
        (series(&app, CALL_SOCKETS).await == 0.0).then_some(())
    })
    .await;
    assert!(closed.is_some(), "the closed socket is still counted");
    let stopped = eventually(Duration::from_secs(15), || async {
        (series(&app, FEEDS).await == 0.0).then_some(())
    })
    .await;
    assert!(stopped.is_some(), "the idle feed is still counted");
    assert_eq!(series(&app, LOBBY_SOCKETS).await, 1.0);
    drop(lobby);
}
