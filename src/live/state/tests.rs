use super::*;
use crate::live::transcript::tests::seg;
use crate::model::Speaker;

const CALL: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
const OTHER: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

fn details(id: &str, ended: bool) -> CallDetails {
    CallDetails {
        call_id: CallId::parse(id).unwrap(),
        customer_phone: Some("+15550100".into()),
        started_at_ms: Some(1_000),
        ended_at_ms: ended.then_some(9_000),
        audio_stream: None,
        attributes: Default::default(),
    }
}

/// A call page loaded at position 2 of epoch 7, with one final line.
fn watching() -> LiveState {
    LiveState::call(
        CallSnapshot {
            details: details(CALL, false),
            segments: vec![seg(2, Speaker::Customer, 0, "Hello?", false)],
            last_seq: Seq(2),
            epoch: 7,
            alerts: Vec::new(),
        },
        None,
    )
}

fn feed(state: &LiveState) -> &CallFeed {
    match &state.showing {
        Showing::Call(feed) => feed,
        Showing::Lobby(reason) => panic!("in the lobby: {reason:?}"),
    }
}

fn texts(state: &LiveState) -> Vec<String> {
    let t = state.transcript().expect("a call");
    t.segments().iter().map(|s| s.text.clone()).collect()
}

fn hello(after: u64, epoch: u64) -> ServerMsg {
    ServerMsg::Hello {
        call: details(CALL, false),
        after: Seq(after),
        epoch,
        alerts: Vec::new(),
    }
}

fn error(code: ErrorCode) -> ServerMsg {
    ServerMsg::Error {
        code,
        message: "something".into(),
    }
}

#[test]
fn a_partial_and_its_final_make_one_bubble() {
    let mut s = watching();
    let r = s.apply(
        ServerMsg::Transcript(seg(3, Speaker::Agent, 900, "How", true)),
        true,
    );
    assert!(r.redraw);
    s.apply(
        ServerMsg::Transcript(seg(4, Speaker::Agent, 900, "How can I", true)),
        true,
    );
    s.apply(
        ServerMsg::Transcript(seg(5, Speaker::Agent, 900, "How can I help?", false)),
        true,
    );
    assert_eq!(texts(&s), ["Hello?", "How can I help?"]);
    assert!(!feed(&s).transcript.segments()[1].partial);
    assert_eq!(feed(&s).last_seq, Seq(5));
}

#[test]
fn a_late_partial_never_replaces_a_final() {
    let mut s = watching();
    s.apply(
        ServerMsg::Transcript(seg(6, Speaker::Agent, 900, "How can I help?", false)),
        true,
    );
    let r = s.apply(
        ServerMsg::Transcript(seg(4, Speaker::Agent, 900, "How can", true)),
        true,
    );
    assert!(!r.redraw);
    assert_eq!(texts(&s), ["Hello?", "How can I help?"]);
    assert_eq!(feed(&s).last_seq, Seq(6), "the position never goes back");
}

#[test]
fn lines_starting_out_of_order_are_shown_in_conversation_order() {
    let mut s = watching();
    for frame in [
        seg(3, Speaker::Agent, 5000, "later", false),
        seg(4, Speaker::Customer, 3000, "earlier", true),
        seg(5, Speaker::Agent, 3000, "same start, agent second", false),
    ] {
        s.apply(ServerMsg::Transcript(frame), false);
    }
    assert_eq!(
        texts(&s),
        ["Hello?", "earlier", "same start, agent second", "later"]
    );
}

#[test]
fn hello_at_our_position_keeps_the_transcript() {
    let mut s = watching();
    let r = s.apply(hello(2, 7), true);
    assert_eq!(r.flow, Flow::Continue);
    assert_eq!(texts(&s), ["Hello?"]);
    assert_eq!(feed(&s).transcript.revision(), 0);
}

#[test]
fn hello_with_a_new_epoch_clears_and_the_replay_fills_in() {
    let mut s = watching();
    s.apply(
        ServerMsg::Transcript(seg(3, Speaker::Agent, 900, "old numbering", false)),
        true,
    );
    // The server restarted: positions start again, the call is replayed.
    s.apply(hello(0, 8), true);
    assert_eq!(feed(&s).transcript.len(), 0);
    assert_eq!((feed(&s).last_seq, feed(&s).epoch), (Seq(0), 8));
    // Replayed lines carry lower positions than before and still show.
    s.apply(
        ServerMsg::Transcript(seg(1, Speaker::Customer, 0, "Hello?", false)),
        true,
    );
    s.apply(
        ServerMsg::Transcript(seg(2, Speaker::Agent, 900, "Hi, how can I help?", false)),
        true,
    );
    assert_eq!(texts(&s), ["Hello?", "Hi, how can I help?"]);
    assert!(s.socket_path(None).contains("after=2&epoch=8"));
}

#[test]
fn hello_at_another_position_of_the_same_epoch_also_replays() {
    let mut s = watching();
    s.apply(hello(0, 7), true);
    assert!(texts(&s).is_empty());
}

#[test]
fn reconnects_resume_after_the_last_position_received() {
    let mut s = watching();
    assert_eq!(s.socket_path(None), format!("/ws/{CALL}?after=2&epoch=7"));
    s.apply(
        ServerMsg::Transcript(seg(4, Speaker::Agent, 900, "Hi", true)),
        true,
    );
    let r = s.apply(ServerMsg::CaughtUp { seq: Seq(9) }, true);
    assert!(!r.redraw, "nothing shown changed");
    s.apply(ServerMsg::CaughtUp { seq: Seq(3) }, true);
    let known = CallId::parse(OTHER).unwrap();
    assert_eq!(
        s.socket_path(Some(&known)),
        format!("/ws/{CALL}?after=9&epoch=7&known={OTHER}")
    );
    let shared = LiveState::call(
        CallSnapshot {
            details: details(CALL, false),
            segments: vec![],
            last_seq: Seq(0),
            epoch: 1,
            alerts: Vec::new(),
        },
        Some("12.abc_-".into()),
    );
    assert!(shared.socket_path(None).ends_with("&grant=12.abc_-"));
    assert_eq!(
        LiveState::lobby(LobbyReason::Waiting).socket_path(Some(&known)),
        LOBBY_SOCKET_PATH
    );
}

#[test]
fn heartbeats_and_latest_change_nothing_on_a_call() {
    let mut s = watching();
    s.set_link(Link::Live);
    let before = s.clone();
    for msg in [
        ServerMsg::Heartbeat,
        ServerMsg::Latest {
            call: Some(details(OTHER, false)),
        },
    ] {
        assert_eq!(s.apply(msg, true), Reaction::default());
    }
    assert_eq!(s, before);
}

#[test]
fn the_data_source_going_and_coming_back_shows_in_the_status() {
    let mut s = watching();
    s.set_link(Link::Live);
    assert_eq!(s.status(), Status::Live);
    assert!(
        s.apply(ServerMsg::SourceStatus { available: false }, true)
            .redraw
    );
    assert_eq!(s.status(), Status::Unavailable);
    s.apply(ServerMsg::SourceStatus { available: true }, true);
    assert_eq!(s.status(), Status::Live);
    let r = s.apply(error(ErrorCode::Unavailable), true);
    assert_eq!((r.flow, s.status()), (Flow::Continue, Status::Unavailable));
}

#[test]
fn a_signed_out_error_stops_listening() {
    for mut s in [watching(), LiveState::lobby(LobbyReason::Waiting)] {
        let r = s.apply(error(ErrorCode::SignedOut), true);
        assert_eq!(r.flow, Flow::Stop);
        assert_eq!(s.status(), Status::SignedOut);
    }
}

#[test]
fn a_call_whose_access_ended_keeps_its_transcript_and_says_so() {
    let mut s = watching();
    s.set_link(Link::Live);
    let before = s.call_details().cloned();
    let r = s.apply(error(ErrorCode::UnknownCall), true);
    assert_eq!(r.flow, Flow::Stop);
    assert!(r.redraw);
    assert_eq!(s.status(), Status::AccessEnded);
    assert_eq!(s.status().key(), "access-ended");
    assert_eq!(s.call_details().cloned(), before, "still shown");
}

#[test]
fn other_errors_are_logged_on_a_call_and_change_nothing() {
    let mut s = watching();
    let before = s.clone();
    let r = s.apply(error(ErrorCode::BadFrame), true);
    assert_eq!(r.warn.as_deref(), Some("something"));
    assert_eq!(r.flow, Flow::Continue);
    assert_eq!(s, before);
    let mut lobby = LiveState::lobby(LobbyReason::Waiting);
    assert_eq!(
        lobby.apply(error(ErrorCode::BadFrame), true),
        Reaction::default()
    );
}

#[test]
fn an_ended_call_says_so_while_the_link_is_fine() {
    let mut s = watching();
    assert_eq!(s.status(), Status::Connecting);
    s.apply(
        ServerMsg::CallUpdated {
            call: details(CALL, true),
        },
        true,
    );
    assert_eq!(s.status(), Status::Ended);
    s.set_link(Link::Live);
    assert_eq!(s.status(), Status::Ended);
    s.set_link(Link::Reconnecting);
    assert_eq!(s.status(), Status::Reconnecting);
}

#[test]
fn a_new_call_is_opened_when_following() {
    let mut s = watching();
    let r = s.apply(
        ServerMsg::NewCall {
            call: details(OTHER, false),
        },
        true,
    );
    let other = CallId::parse(OTHER).unwrap();
    assert_eq!(r.open.as_ref(), Some(&other));
    assert_eq!(r.heard_of.as_ref(), Some(&other));
    assert_eq!(r.flow, Flow::Continue, "listen until the view is replaced");
    assert_eq!(s.notice, None);
}

#[test]
fn a_new_call_is_announced_when_not_following() {
    let mut s = watching();
    let r = s.apply(
        ServerMsg::NewCall {
            call: details(OTHER, false),
        },
        false,
    );
    assert_eq!(r.open, None);
    assert_eq!(r.heard_of, CallId::parse(OTHER).ok());
    assert!(r.redraw);
    assert_eq!(s.notice, Some(details(OTHER, false)));
    assert!(s.dismiss_notice());
    assert!(!s.dismiss_notice());
}

#[test]
fn the_waiting_lobby_takes_a_call_that_started_while_it_loaded() {
    let mut s = LiveState::lobby(LobbyReason::Waiting);
    let r = s.apply(
        ServerMsg::Latest {
            call: Some(details(CALL, false)),
        },
        true,
    );
    assert_eq!(r.open, CallId::parse(CALL).ok());
    assert_eq!(
        s.apply(ServerMsg::Latest { call: None }, true),
        Reaction::default()
    );
    // A lobby showing an unknown call does not jump to the newest one.
    let mut unknown = LiveState::lobby(LobbyReason::Unknown(CallId::parse(OTHER).unwrap()));
    let r = unknown.apply(
        ServerMsg::Latest {
            call: Some(details(CALL, false)),
        },
        true,
    );
    assert_eq!(r, Reaction::default());
    let r = unknown.apply(
        ServerMsg::NewCall {
            call: details(CALL, false),
        },
        true,
    );
    assert_eq!(r.open, CallId::parse(CALL).ok());
}

#[test]
fn the_lobby_status_is_its_reason_or_the_link() {
    let mut waiting = LiveState::lobby(LobbyReason::Waiting);
    assert_eq!(waiting.status(), Status::Connecting);
    waiting.set_link(Link::Live);
    assert_eq!(waiting.status(), Status::Waiting);
    // The lobby has no data source of its own: only an error says so.
    waiting.apply(ServerMsg::SourceStatus { available: false }, true);
    assert_eq!(waiting.status(), Status::Waiting);
    waiting.apply(error(ErrorCode::Unavailable), true);
    assert_eq!(waiting.status(), Status::Unavailable);
    let failed = LiveState::lobby(LobbyReason::Failed("down".into()));
    assert_eq!(failed.status(), Status::Error("down".into()));
    let invalid = LiveState::lobby(LobbyReason::Invalid("bad".into()));
    assert_eq!(invalid.status(), Status::InvalidCall);
}

#[test]
fn frames_for_a_call_are_ignored_in_the_lobby() {
    let mut s = LiveState::lobby(LobbyReason::Waiting);
    let before = s.clone();
    for msg in [
        hello(3, 1),
        ServerMsg::Transcript(seg(1, Speaker::Agent, 0, "hi", false)),
        ServerMsg::CaughtUp { seq: Seq(4) },
        ServerMsg::CallUpdated {
            call: details(CALL, true),
        },
        ServerMsg::Heartbeat,
    ] {
        assert_eq!(s.apply(msg, true), Reaction::default());
    }
    assert_eq!(s, before);
    assert!(s.transcript().is_none() && s.call_details().is_none());
}

#[test]
fn alerts_come_with_the_hello_one_at_a_time_and_whole_after_a_resync() {
    use crate::model::{Alert, RuleId, Severity};
    let alert = |rule: &str, start_ms: i64| Alert {
        rule_id: RuleId::parse(rule).unwrap(),
        label: rule.into(),
        severity: Severity::Warning,
        speaker: Speaker::Customer,
        start_ms,
        hits: vec![(0, 1)],
        raised_at_ms: 0,
    };
    let mut s = watching();
    let mut h = hello(2, 7);
    if let ServerMsg::Hello { alerts, .. } = &mut h {
        alerts.push(alert("refund", 0));
    }
    s.apply(h, true);
    assert_eq!(s.alerts().unwrap().len(), 1);
    let r = s.apply(
        ServerMsg::Alert {
            alert: alert("cancel", 0),
        },
        true,
    );
    assert!(r.redraw);
    let r = s.apply(
        ServerMsg::Alert {
            alert: alert("cancel", 0),
        },
        true,
    );
    assert!(!r.redraw, "the same alert again changes nothing");
    assert_eq!(s.alerts().unwrap().counts().len(), 2);
    s.apply(
        ServerMsg::Alerts {
            alerts: vec![alert("refund", 0)],
        },
        true,
    );
    assert_eq!(s.alerts().unwrap().len(), 1, "a resync replaces the set");
    // A reconnect's hello brings the set as the server has it.
    s.apply(hello(2, 7), true);
    assert!(s.alerts().unwrap().is_empty());
}
