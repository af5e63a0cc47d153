use super::*;

fn item(start_s: f64, text: &str, partial: bool, logged_ms: i64) -> Item {
    let mut i = Item::new();
    i.insert(
        items::TRANSCRIPT_CONTACT_ID.into(),
        AttributeValue::S("c".into()),
    );
    i.insert(
        items::START_TIME.into(),
        AttributeValue::N(format!("{start_s}")),
    );
    i.insert(
        items::END_TIME.into(),
        AttributeValue::N(format!("{}", start_s + 1.0)),
    );
    i.insert(
        items::SEGMENT_ID_CONNECT_RT.into(),
        AttributeValue::S(format!("s{start_s}")),
    );
    i.insert(items::TRANSCRIPT.into(), AttributeValue::S(text.into()));
    i.insert(items::IS_PARTIAL.into(), AttributeValue::Bool(partial));
    let iso = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(logged_ms) * 1_000_000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    i.insert(items::LOGGED_ON.into(), AttributeValue::S(iso));
    i
}

const T0: i64 = 1_700_000_000_000;

/// What a page shows: texts in start order.
fn shown(state: &CallState) -> Vec<String> {
    let mut segs: Vec<_> = state.transcript.segments().cloned().collect();
    segs.sort_by_key(|s| (s.start_ms, s.speaker));
    segs.into_iter().map(|s| s.text).collect()
}

#[test]
fn a_restarted_session_comes_after_the_lines_before_it() {
    let mut state = CallState::new();
    // Session one: lines at 0, 5, 10 s, each written a second after it ends.
    for (i, start) in [0.0, 5.0, 10.0].iter().enumerate() {
        let logged = T0 + (*start as i64 + 2) * 1000;
        assert!(state.absorb(
            Speaker::Customer,
            "t",
            &item(*start, &format!("one {i}"), false, logged)
        ));
    }
    // The session restarts 30 s into the call: times start again at 0.
    for (i, start) in [0.5, 4.0].iter().enumerate() {
        let logged = T0 + 30_000 + (*start as i64 + 2) * 1000;
        assert!(state.absorb(
            Speaker::Customer,
            "t",
            &item(*start, &format!("two {i}"), false, logged)
        ));
    }
    assert_eq!(shown(&state), ["one 0", "one 1", "one 2", "two 0", "two 1"]);
    // The restarted session's next line is read from its own tail.
    let tails = state.tails(Instant::now(), Duration::from_secs(30));
    assert_eq!(tails[0].as_deref(), Some("4"));
}

#[test]
fn a_full_read_in_key_order_still_finds_the_restart() {
    let mut state = CallState::new();
    let mut all = Vec::new();
    for (i, start) in [0.0, 5.0, 10.0].iter().enumerate() {
        all.push(item(
            *start,
            &format!("one {i}"),
            false,
            T0 + (*start as i64 + 2) * 1000,
        ));
    }
    for (i, start) in [0.5, 4.0].iter().enumerate() {
        all.push(item(
            *start,
            &format!("two {i}"),
            false,
            T0 + 30_000 + (*start as i64 + 2) * 1000,
        ));
    }
    // As a Query returns them: by StartTime.
    all.sort_by(|a, b| {
        items::raw_start(a)
            .unwrap()
            .parse::<f64>()
            .unwrap()
            .total_cmp(&items::raw_start(b).unwrap().parse::<f64>().unwrap())
    });
    assert_eq!(state.absorb_all(Speaker::Customer, "t", all), 5);
    assert_eq!(shown(&state), ["one 0", "one 1", "one 2", "two 0", "two 1"]);
}

#[test]
fn late_writes_of_one_session_are_not_a_restart() {
    let mut state = CallState::new();
    state.absorb(Speaker::Agent, "t", &item(0.0, "a", false, T0 + 2_000));
    state.absorb(Speaker::Agent, "t", &item(10.0, "c", false, T0 + 12_000));
    // Written 3 s late (a retried write), with a start before the newest.
    state.absorb(Speaker::Agent, "t", &item(5.0, "b", false, T0 + 9_000));
    assert_eq!(shown(&state), ["a", "b", "c"]);
}

#[test]
fn lines_written_out_of_order_at_once_are_one_session() {
    let mut state = CallState::new();
    // Written within milliseconds, latest start first (a bulk load).
    state.absorb(Speaker::Agent, "t", &item(12.0, "c", false, T0));
    state.absorb(Speaker::Agent, "t", &item(5.0, "b", false, T0 + 3));
    state.absorb(Speaker::Agent, "t", &item(0.0, "a", false, T0 + 5));
    assert_eq!(shown(&state), ["a", "b", "c"]);
}

/// One write of the customer's line at 1 s, logged `logged` ms after
/// T0; whether it changed what is shown.
fn say(state: &mut CallState, text: &str, partial: bool, logged: i64) -> bool {
    state.absorb(
        Speaker::Customer,
        "t",
        &item(1.0, text, partial, T0 + logged),
    )
}

#[test]
fn stale_reads_never_take_a_line_back() {
    let mut state = CallState::new();
    let last_words = "I want to change my flight.";
    assert!(say(&mut state, "I want to", true, 1_000));
    assert!(say(&mut state, "I want to change", true, 1_500));
    // An older partial (eventually consistent read) is ignored.
    assert!(!say(&mut state, "I want to", true, 1_000));
    assert!(say(&mut state, last_words, false, 2_000));
    // A partial after the final is ignored, even if written later.
    assert!(!say(&mut state, "I want", true, 3_000));
    assert_eq!(shown(&state), [last_words]);
    // The same state again changes nothing (no new position).
    let last = state.transcript.last();
    assert!(!say(&mut state, last_words, false, 2_000));
    assert_eq!(state.transcript.last(), last);
}

#[test]
fn an_abandoned_partial_stops_holding_the_tail_back() {
    let mut state = CallState::new();
    state.absorb(
        Speaker::Customer,
        "t",
        &item(1.0, "never finished", true, T0 + 1_000),
    );
    state.absorb(
        Speaker::Customer,
        "t",
        &item(5.0, "later", false, T0 + 6_000),
    );
    let now = Instant::now();
    assert_eq!(
        state.tails(now, Duration::from_secs(30))[0].as_deref(),
        Some("1")
    );
    assert_eq!(
        state.tails(now + Duration::from_secs(31), Duration::from_secs(30))[0].as_deref(),
        Some("5")
    );
    // Still shown as unfinished.
    assert!(state
        .transcript
        .segments()
        .any(|s| s.text == "never finished" && s.partial));
}

fn timing() -> Timing {
    Timing {
        poll: Duration::from_millis(500),
        full_read_every: Duration::from_secs(10),
        ended_every: Duration::from_secs(30),
        ended_for: Duration::from_secs(300),
    }
}

#[test]
fn reads_are_planned_by_source_and_state() {
    let t = timing();
    let mut state = CallState::new();
    let now = Instant::now();
    let full = Plan {
        full: true,
        tail: false,
    };
    let tail = Plan {
        full: false,
        tail: true,
    };
    let none = Plan::default();
    assert_eq!(
        state.plan(now, true, false, &t),
        full,
        "first read is whole"
    );
    state.read_done(true, now);
    // Streamed: only a safety-net tail read every 2.5 s, or when told.
    assert_eq!(
        state.plan(now + Duration::from_secs(1), true, false, &t),
        none
    );
    assert_eq!(
        state.plan(now + Duration::from_secs(3), true, false, &t),
        tail
    );
    state.mark_dirty();
    assert_eq!(state.plan(now, true, false, &t), tail);
    state.read_done(false, now);
    // Polled: the tail every poll, the whole call every 10 s.
    assert_eq!(
        state.plan(now + Duration::from_millis(300), false, false, &t),
        tail
    );
    assert_eq!(
        state.plan(now + Duration::from_secs(11), false, false, &t),
        full
    );
    // Missed changes: a whole read, whatever the source.
    state.mark_needs_full();
    assert_eq!(state.plan(now, true, false, &t), full);
    state.read_done(true, now);
    // Ended: rarely for five minutes, then never.
    state.ended_at = Some(now);
    assert_eq!(
        state.plan(now + Duration::from_secs(10), false, true, &t),
        none
    );
    assert_eq!(
        state.plan(now + Duration::from_secs(31), false, true, &t),
        tail
    );
    assert_eq!(
        state.plan(now + Duration::from_secs(301), false, true, &t),
        none
    );
}
