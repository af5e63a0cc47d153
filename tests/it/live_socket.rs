//! The live WebSocket path, over real sockets: backlog then live, partials
//! in place, resume from a position, fan-out, pushes and closes.

use std::time::Duration;

use crate::common::{
    close_code, eventually, next_json, next_msg, send_text, spawn_app, spawn_app_with,
};
use futures::future::join_all;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use travoiq_monitor::model::{CallStatus, Seq, Speaker};
use travoiq_monitor::protocol::{close, ErrorCode, ServerMsg};

fn transcript(msg: ServerMsg) -> travoiq_monitor::model::Segment {
    match msg {
        ServerMsg::Transcript(seg) => seg,
        other => panic!("expected a transcript frame, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_gets_hello_the_backlog_then_live_changes_in_order() {
    let app = spawn_app().await;
    let id = app.create_call("+14155550123").await;
    app.say(&id, "Agent", 0, "Thank you for calling", false)
        .await;
    app.say(&id, "Customer", 1500, "Hi", true).await;

    let mut ws = app.connect(&format!("/ws/{id}")).await;
    match next_msg(&mut ws).await {
        ServerMsg::Hello { call, after, .. } => {
            assert_eq!(call.call_id.as_str(), id);
            assert_eq!(call.customer_phone.as_deref(), Some("+14155550123"));
            assert_eq!(after, Seq::ZERO);
        }
        other => panic!("expected hello, got {other:?}"),
    }
    // The seed's two fields are at the top level of each transcript frame.
    let first = next_json(&mut ws).await;
    assert_eq!(first["type"], "transcript");
    assert_eq!(first["speaker"], "Agent");
    assert_eq!(first["text"], "Thank you for calling");
    let second = transcript(next_msg(&mut ws).await);
    assert_eq!(
        (second.speaker, second.text.as_str(), second.partial),
        (Speaker::Customer, "Hi", true)
    );
    assert_eq!(next_msg(&mut ws).await, ServerMsg::CaughtUp { seq: Seq(2) });

    // Live: the partial grows and becomes final on the same key.
    app.say(&id, "Customer", 1500, "Hi there", true).await;
    app.say(&id, "Customer", 1500, "Hi there, I need help", false)
        .await;
    let mut seen = Vec::new();
    while seen
        .last()
        .map(|s: &travoiq_monitor::model::Segment| s.partial)
        .unwrap_or(true)
    {
        seen.push(transcript(next_msg(&mut ws).await));
    }
    assert!(seen
        .iter()
        .all(|s| s.start_ms == 1500 && s.speaker == Speaker::Customer));
    assert!(seen.windows(2).all(|w| w[0].seq < w[1].seq), "in order");
    assert_eq!(seen.last().unwrap().text, "Hi there, I need help");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnecting_viewer_gets_exactly_what_it_missed() {
    let app = spawn_app().await;
    let id = app.create_call("+1").await;
    app.say(&id, "Agent", 0, "one", false).await; // 1
    app.say(&id, "Customer", 1000, "tw", true).await; // 2
    app.say(&id, "Agent", 2000, "three", false).await; // 3
    app.say(&id, "Customer", 1000, "two", false).await; // 4: replaces 2
    app.say(&id, "Agent", 3000, "four", false).await; // 5

    // The first connection tells the epoch its positions belong to.
    let mut first = app.connect(&format!("/ws/{id}")).await;
    let ServerMsg::Hello { epoch, .. } = next_msg(&mut first).await else {
        panic!("expected hello")
    };
    drop(first);

    let mut ws = app
        .connect(&format!("/ws/{id}?after=3&epoch={epoch}"))
        .await;
    assert!(matches!(
        next_msg(&mut ws).await,
        ServerMsg::Hello { after: Seq(3), .. }
    ));
    let a = transcript(next_msg(&mut ws).await);
    let b = transcript(next_msg(&mut ws).await);
    assert_eq!((a.seq, a.text.as_str()), (Seq(4), "two"));
    assert_eq!((b.seq, b.text.as_str()), (Seq(5), "four"));
    assert_eq!(next_msg(&mut ws).await, ServerMsg::CaughtUp { seq: Seq(5) });

    // A position from another epoch (a restarted server) replays the call.
    let mut ws = app
        .connect(&format!("/ws/{id}?after=3&epoch={}", epoch.wrapping_add(1)))
        .await;
    assert!(matches!(
        next_msg(&mut ws).await,
        ServerMsg::Hello { after: Seq(0), .. }
    ));
    let mut texts = Vec::new();
    loop {
        match next_msg(&mut ws).await {
            ServerMsg::Transcript(seg) => texts.push(seg.text),
            ServerMsg::CaughtUp { seq } => {
                assert_eq!(seq, Seq(5));
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(texts, ["one", "three", "two", "four"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_malformed_ids_are_told_and_closed_with_their_codes() {
    let app = spawn_app().await;
    let mut ws = app
        .connect("/ws/0f8fad5b-d9cb-469f-a165-70867728950e")
        .await;
    assert!(matches!(
        next_msg(&mut ws).await,
        ServerMsg::Error {
            code: ErrorCode::UnknownCall,
            ..
        }
    ));
    assert_eq!(
        close_code(&mut ws).await,
        Some(CloseCode::from(close::UNKNOWN_CALL))
    );

    let mut ws = app.connect("/ws/not-a-call").await;
    assert!(matches!(
        next_msg(&mut ws).await,
        ServerMsg::Error {
            code: ErrorCode::MalformedCallId,
            ..
        }
    ));
    assert_eq!(
        close_code(&mut ws).await,
        Some(CloseCode::from(close::MALFORMED_CALL_ID))
    );
    // No feed was started for either.
    assert_eq!(app.hub.active_feeds().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_calls_are_pushed_to_the_lobby_and_to_call_viewers() {
    let app = spawn_app().await;
    let mut lobby = app.connect("/ws/calls").await;
    assert_eq!(next_msg(&mut lobby).await, ServerMsg::Latest { call: None });

    let first = app.create_call("+1").await;
    match next_msg(&mut lobby).await {
        ServerMsg::NewCall { call } => assert_eq!(call.call_id.as_str(), first),
        other => panic!("{other:?}"),
    }

    let mut viewer = app.connect(&format!("/ws/{first}")).await;
    assert!(matches!(
        next_msg(&mut viewer).await,
        ServerMsg::Hello { .. }
    ));
    assert!(matches!(
        next_msg(&mut viewer).await,
        ServerMsg::CaughtUp { .. }
    ));
    let second = app.create_call("+2").await;
    match next_msg(&mut viewer).await {
        ServerMsg::NewCall { call } => assert_eq!(call.call_id.as_str(), second),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_end_of_a_call_reaches_its_viewers() {
    let app = spawn_app().await;
    let id = app.create_call("+1").await;
    let mut ws = app.connect(&format!("/ws/{id}")).await;
    assert!(matches!(next_msg(&mut ws).await, ServerMsg::Hello { .. }));
    assert!(matches!(
        next_msg(&mut ws).await,
        ServerMsg::CaughtUp { .. }
    ));
    app.end(&id).await;
    match next_msg(&mut ws).await {
        ServerMsg::CallUpdated { call } => assert_eq!(call.status(), CallStatus::Ended),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_viewers_share_one_feed_and_all_get_every_change() {
    // All fifty come from one address here: lift the per-address limit.
    let app = spawn_app_with(&[("max_sockets_per_client", "0")]).await;
    let id = app.create_call("+1").await;
    let path = format!("/ws/{id}");
    let mut viewers = join_all((0..50).map(|_| app.connect(&path))).await;
    for ws in viewers.iter_mut() {
        assert!(matches!(next_msg(ws).await, ServerMsg::Hello { .. }));
        assert!(matches!(next_msg(ws).await, ServerMsg::CaughtUp { .. }));
    }
    assert_eq!(app.hub.active_feeds().await, 1);

    app.say(&id, "Agent", 0, "Hello everyone", false).await;
    for ws in viewers.iter_mut() {
        assert_eq!(transcript(next_msg(ws).await).text, "Hello everyone");
    }

    // While the call is live the floor follows it (so its finals are
    // judged for alerts, watched or not): still one feed. Once the call
    // ended, the feed stops a while (feed_linger_secs = 1) after the last
    // viewer leaves.
    drop(viewers);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        app.hub.active_feeds().await,
        1,
        "the floor follows a live call"
    );
    app.end(&id).await;
    eventually(Duration::from_secs(4), || async {
        (app.hub.active_feeds().await == 0).then_some(())
    })
    .await
    .expect("the feed stops after its viewers left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_client_frames_close_the_socket_with_policy_and_harm_nothing() {
    let app = spawn_app().await;
    let id = app.create_call("+1").await;
    let mut ws = app.connect(&format!("/ws/{id}")).await;
    assert!(matches!(next_msg(&mut ws).await, ServerMsg::Hello { .. }));
    send_text(&mut ws, "{\"type\":\"rm -rf\"}").await;
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Policy));

    // A well-formed ping is fine.
    let mut ws = app.connect(&format!("/ws/{id}")).await;
    send_text(&mut ws, "{\"type\":\"ping\"}").await;
    assert!(matches!(next_msg(&mut ws).await, ServerMsg::Hello { .. }));

    // An oversized frame ends that socket; the server carries on.
    let mut big = app.connect(&format!("/ws/{id}")).await;
    send_text(&mut big, &"x".repeat(64 * 1024)).await;
    let _ = close_code(&mut big).await;
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_arrive_on_a_quiet_call() {
    let app = spawn_app().await; // heartbeat_secs = 1
    let id = app.create_call("+1").await;
    let mut ws = app.connect(&format!("/ws/{id}")).await;
    let mut beats = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(4);
    while tokio::time::Instant::now() < deadline && beats < 2 {
        use futures::StreamExt;
        if let Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))) =
            tokio::time::timeout(Duration::from_secs(2), ws.next()).await
        {
            if t.contains("\"heartbeat\"") {
                beats += 1;
            }
        }
    }
    assert!(beats >= 2, "saw {beats} heartbeats");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_started_between_sockets_is_announced_on_connect() {
    let app = spawn_app().await;
    let a = app.create_call("+1").await;
    let b = app.create_call("+2").await;

    // The page knew of `a` only: `b` started while it was switching.
    let mut ws = app.connect(&format!("/ws/{a}?known={a}")).await;
    assert!(matches!(next_msg(&mut ws).await, ServerMsg::Hello { .. }));
    assert!(matches!(
        next_msg(&mut ws).await,
        ServerMsg::CaughtUp { .. }
    ));
    match next_msg(&mut ws).await {
        ServerMsg::NewCall { call } => assert_eq!(call.call_id.as_str(), b),
        other => panic!("{other:?}"),
    }

    // A page that already knows the newest call is told nothing more.
    let mut ws = app.connect(&format!("/ws/{a}?known={b}")).await;
    assert!(matches!(next_msg(&mut ws).await, ServerMsg::Hello { .. }));
    assert!(matches!(
        next_msg(&mut ws).await,
        ServerMsg::CaughtUp { .. }
    ));
    let c = app.create_call("+3").await;
    match next_msg(&mut ws).await {
        ServerMsg::NewCall { call } => assert_eq!(call.call_id.as_str(), c, "only the live push"),
        other => panic!("{other:?}"),
    }
}
