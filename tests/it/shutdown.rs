//! Graceful shutdown: viewers are told to reconnect elsewhere (close 1001),
//! the server finishes, and a viewer that reconnects to the next server
//! with its last position ends with the whole call: nothing lost, nothing
//! doubled. On DynamoDB (moto), so the call outlives the server.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::dynamo::{segment, start_call_at, unique_prefix, writer};
use crate::common::{close_code, next_msg, spawn_app, spawn_dynamo_app, Ws};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use travoiq_monitor::model::{Seq, Speaker};
use travoiq_monitor::protocol::ServerMsg;
use travoiq_monitor::server::config::WriterFormat;
use travoiq_monitor::server::store::{CallSink, SegmentWrite};

/// A line 500 ms long.
fn say(speaker: Speaker, start_ms: i64, text: &str, partial: bool) -> SegmentWrite {
    segment(speaker, start_ms, 500, text, partial)
}

/// What a page would show: each utterance's latest text, in order.
type Shown = BTreeMap<(i64, Speaker), String>;

/// What one connection received: the position its hello resumed from, the
/// last position and epoch, and the text of every transcript frame in the
/// order it came.
struct Followed {
    resumed_from: Seq,
    last: Seq,
    epoch: u64,
    frames: Vec<String>,
}

/// Reads a call socket until caught up (and `want` lines are shown),
/// applying frames as the page does.
async fn follow(ws: &mut Ws, shown: &mut Shown, want: usize) -> Followed {
    let mut last = Seq::ZERO;
    let mut resumed_from = Seq::ZERO;
    let mut epoch = 0;
    let mut frames = Vec::new();
    let mut caught_up = false;
    while !(caught_up && shown.len() >= want) {
        match next_msg(ws).await {
            ServerMsg::Hello {
                after, epoch: e, ..
            } => {
                if after == Seq::ZERO {
                    // A replay from the start: the page starts afresh.
                    shown.clear();
                }
                epoch = e;
                last = after;
                resumed_from = after;
            }
            ServerMsg::Transcript(seg) => {
                assert!(seg.seq > last, "positions only grow");
                last = seg.seq;
                frames.push(seg.text.clone());
                shown.insert((seg.start_ms, seg.speaker), seg.text);
            }
            ServerMsg::CaughtUp { .. } => caught_up = true,
            _ => {}
        }
    }
    Followed {
        resumed_from,
        last,
        epoch,
        frames,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_server_sends_viewers_elsewhere_and_the_next_one_replays_what_they_missed() {
    let prefix = unique_prefix("stop");
    let writer = writer(&prefix, WriterFormat::ConnectRt, true).await;
    let settings = [("dynamodb_poll_ms", "100")];
    let id = start_call_at(&writer, None).await;
    for (i, (speaker, text)) in [
        (Speaker::Agent, "Thanks for calling"),
        (Speaker::Customer, "My bag is lost"),
        (Speaker::Agent, "Let me look"),
    ]
    .into_iter()
    .enumerate()
    {
        writer
            .write_segment(&id, say(speaker, i as i64 * 1000, text, false))
            .await
            .unwrap();
    }

    let first = spawn_dynamo_app(&prefix, &settings).await;
    let mut ws = first.connect(&format!("/ws/{id}")).await;
    let mut shown = Shown::new();
    let Followed { last, epoch, .. } = follow(&mut ws, &mut shown, 3).await;

    assert!(
        first.stop(Duration::from_secs(5)).await,
        "the server finishes"
    );
    assert_eq!(
        close_code(&mut ws).await,
        Some(CloseCode::Away),
        "told to reconnect"
    );
    assert!(
        reqwest::get(format!("{}/healthz", first.base))
            .await
            .is_err(),
        "a stopped server takes no one"
    );

    // Written while no server was up: a partial growing into a final, and
    // a new line.
    writer
        .write_segment(&id, say(Speaker::Customer, 3000, "It was", true))
        .await
        .unwrap();
    writer
        .write_segment(&id, say(Speaker::Customer, 3000, "It was blue", false))
        .await
        .unwrap();
    writer
        .write_segment(&id, say(Speaker::Agent, 4000, "Found it", false))
        .await
        .unwrap();

    // The next server (sessions live in DynamoDB: the same cookie works).
    let second = spawn_dynamo_app(&prefix, &settings).await;
    let mut ws = second
        .connect_as(
            &format!("/ws/{id}?after={last}&epoch={epoch}"),
            Some(&first.cookie),
        )
        .await
        .expect("the old session is valid on the new server");
    let resumed = follow(&mut ws, &mut shown, 5).await;
    let whole = [
        "Thanks for calling",
        "My bag is lost",
        "Let me look",
        "It was blue",
        "Found it",
    ];
    // Exactly what it missed, each line once (in the order the server saw
    // the changes; the page orders by start): the two written while no
    // server was up when the new server can honour the old position, or
    // (a new process numbers the call afresh, under a new epoch) a replay
    // of the whole call from the start, which the page shows afresh.
    let mut frames = resumed.frames.clone();
    frames.sort();
    if resumed.resumed_from == Seq::ZERO {
        assert_ne!(resumed.epoch, epoch, "a replay comes with a new epoch");
        let mut all = whole.map(String::from).to_vec();
        all.sort();
        assert_eq!(frames, all, "the whole call, each line once");
    } else {
        assert_eq!(resumed.resumed_from, last, "resumed where it left off");
        assert_eq!(frames, ["Found it", "It was blue"]);
    }
    let lines: Vec<&str> = shown.values().map(String::as_str).collect();
    assert_eq!(lines, whole);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lobby_is_told_to_reconnect_too_and_the_server_stops_promptly() {
    let app = spawn_app().await;
    let mut lobby = app.connect("/ws/calls").await;
    assert!(matches!(
        next_msg(&mut lobby).await,
        ServerMsg::Latest { .. }
    ));
    let started = std::time::Instant::now();
    assert!(app.stop(Duration::from_secs(5)).await);
    assert_eq!(close_code(&mut lobby).await, Some(CloseCode::Away));
    assert!(started.elapsed() < Duration::from_secs(5));
}
