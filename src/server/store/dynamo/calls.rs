//! One watched call's transcript, kept in memory and brought up to date
//! without ever losing a line, whatever the upstream writer's times do.
//!
//! - **Stream images** are applied as they come (`apply_image`), so with a
//!   readable stream nothing is re-read at all but a slow safety net.
//! - **Without a stream** each table's tail is re-read every poll, and the
//!   whole call every `full_read_every` while it is live: a restarted
//!   transcription session writes its lines *below* the tail (its times
//!   start again near zero), and only a full read can see those.
//! - **A restarted session** (start times going back while `LoggedOn` moves
//!   forward) is detected per table and its lines are moved after the
//!   lines before it, so the spoken order is kept (`Sessions`).
//! - **A partial that never becomes final** stops holding the tail back
//!   after `partial_bound`; it stays on screen as unfinished.
//! - **Stale reads** never take a line back: an older `LoggedOn` than the
//!   one shown is ignored, and a final never goes back to partial.
//! - **Ended calls** are re-read rarely for a while, then not at all.
//!
//! Locks: the state sits behind a plain mutex that is never held across a
//! request; one read at a time per call (`reading`).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;

use crate::model::{SegmentKey, Speaker};
use crate::server::store::log::SegmentLog;
use crate::server::store::SegmentWrite;
use crate::server::timestamp::parse_call_timestamp;

use super::items::{self, Item};
use super::now_ms;

/// Two lines of one session are written with `LoggedOn - EndTime` within
/// this of each other (the transcriber's and writer's latency).
const SAME_SESSION_MS: i64 = 5_000;
/// A new line this far before the session's latest start is a restart
/// (together with a `LoggedOn` that moved on).
const WENT_BACK_MS: i64 = 2_000;
/// A restarted session writes its first line at least this long after the
/// old session's last write (the pipeline notices the failure, starts a new
/// session, and someone speaks).
const RESTART_GAP_MS: i64 = 1_000;

/// How often reads are due.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Tail reads while polling (half of it: answers may be that old).
    pub poll: Duration,
    /// Whole-call reads while polling a live call.
    pub full_read_every: Duration,
    /// After a call ended: a tail read this often...
    pub ended_every: Duration,
    /// ...for this long, then none.
    pub ended_for: Duration,
}

/// What to read now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub full: bool,
    pub tail: bool,
}

/// One transcription session of one table: its lines' `LoggedOn - EndTime`
/// (when the session began, on the wall clock), how far its times are moved
/// to come after the sessions before it, and its latest start.
#[derive(Clone, Debug)]
struct Session {
    offset_ms: i64,
    shift_ms: i64,
    max_start_ms: i64,
    /// The latest `LoggedOn` of its lines.
    max_logged_ms: i64,
}

#[derive(Clone, Debug, Default)]
pub struct Sessions(Vec<Session>);

impl Sessions {
    /// The session a new line belongs to; returns (index, shift).
    pub fn assign(&mut self, start_ms: i64, end_ms: i64, logged_ms: Option<i64>) -> (usize, i64) {
        let Some(logged) = logged_ms else {
            // No write time: the latest session.
            let count = self.0.len();
            return match self.0.last_mut() {
                Some(last) => {
                    last.max_start_ms = last.max_start_ms.max(start_ms);
                    (count - 1, last.shift_ms)
                }
                None => self.open(0, start_ms, 0, i64::MIN),
            };
        };
        let offset = logged - end_ms;
        let Some(last) = self.0.last() else {
            return self.open(offset, start_ms, 0, logged);
        };
        let restarted = start_ms + WENT_BACK_MS < last.max_start_ms
            && offset > last.offset_ms + SAME_SESSION_MS
            && logged >= last.max_logged_ms + RESTART_GAP_MS;
        if restarted {
            // After everything said so far, at its place on the wall clock.
            let since_first = offset - self.0[0].offset_ms;
            let after_all = last.max_start_ms + last.shift_ms + 1 - start_ms;
            return self.open(offset, start_ms, since_first.max(after_all), logged);
        }
        // The session whose beginning is closest (a late line of an
        // earlier session stays with it).
        let (index, session) = self
            .0
            .iter_mut()
            .enumerate()
            .min_by_key(|(_, s)| (s.offset_ms - offset).abs())
            .expect("at least one session");
        session.max_start_ms = session.max_start_ms.max(start_ms);
        session.max_logged_ms = session.max_logged_ms.max(logged);
        (index, session.shift_ms)
    }

    fn open(
        &mut self,
        offset_ms: i64,
        start_ms: i64,
        shift_ms: i64,
        logged_ms: i64,
    ) -> (usize, i64) {
        self.0.push(Session {
            offset_ms,
            shift_ms,
            max_start_ms: start_ms,
            max_logged_ms: logged_ms,
        });
        (self.0.len() - 1, shift_ms)
    }

    pub fn latest(&self) -> Option<usize> {
        self.0.len().checked_sub(1)
    }
}

/// What is known of one stored item.
#[derive(Clone, Debug)]
struct Held {
    key: SegmentKey,
    session: usize,
    start_ms: i64,
    raw_start: String,
    logged_ms: Option<i64>,
    partial: bool,
    first_seen: Instant,
}

pub struct CallState {
    /// Positions are given as changes are seen, so every new copy of a
    /// call numbers afresh.
    pub epoch: u64,
    pub transcript: SegmentLog,
    /// Each stored item by (table, raw sort key).
    held: HashMap<(Speaker, String), Held>,
    /// Per table (customer, agent).
    sessions: [Sessions; 2],
    pub details: Option<(crate::model::CallDetails, Instant)>,
    /// Newest `LoggedOn` seen (or when a change was seen without one).
    pub last_write_ms: Option<i64>,
    warned: HashSet<(Speaker, String)>,
    pub used_at: Instant,
    full_read_at: Option<Instant>,
    tail_read_at: Option<Instant>,
    /// Changes may have been missed: read the whole call.
    needs_full: bool,
    /// Told of a change it has not read yet: read the tail.
    dirty: bool,
    /// When the call was first seen ended.
    pub ended_at: Option<Instant>,
}

fn slot(speaker: Speaker) -> usize {
    match speaker {
        Speaker::Customer => 0,
        Speaker::Agent => 1,
    }
}

fn logged_ms(item: &Item) -> Option<i64> {
    match item.get(items::LOGGED_ON) {
        Some(AttributeValue::S(s) | AttributeValue::N(s)) => parse_call_timestamp(s),
        _ => None,
    }
}

impl CallState {
    pub fn new() -> Self {
        Self {
            epoch: u64::from(rand::random::<u32>()),
            transcript: SegmentLog::default(),
            held: HashMap::new(),
            sessions: Default::default(),
            details: None,
            last_write_ms: None,
            warned: HashSet::new(),
            used_at: Instant::now(),
            full_read_at: None,
            tail_read_at: None,
            needs_full: false,
            dirty: false,
            ended_at: None,
        }
    }

    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    pub fn mark_needs_full(&mut self) {
        self.needs_full = true;
    }

    /// What to read now. `streamed`: both transcript tables are followed
    /// on their streams (images applied as they come).
    pub fn plan(&self, now: Instant, streamed: bool, ended: bool, t: &Timing) -> Plan {
        let older = |at: Option<Instant>, than: Duration| at.is_none_or(|at| now - at >= than);
        if self.full_read_at.is_none() || self.needs_full {
            return Plan {
                full: true,
                tail: false,
            };
        }
        if ended {
            let since = self.ended_at.map_or(Duration::ZERO, |at| now - at);
            return Plan {
                full: false,
                tail: (self.dirty || since < t.ended_for)
                    && older(self.tail_read_at, t.ended_every),
            };
        }
        if streamed {
            return Plan {
                full: false,
                tail: self.dirty || older(self.tail_read_at, t.poll * 5),
            };
        }
        if older(self.full_read_at, t.full_read_every) {
            return Plan {
                full: true,
                tail: false,
            };
        }
        Plan {
            full: false,
            tail: self.dirty
                || older(
                    self.tail_read_at,
                    (t.poll / 2).max(Duration::from_millis(100)),
                ),
        }
    }

    /// Where each table's tail read starts (its raw sort key): the earliest
    /// utterance of the latest session still partial and younger than
    /// `partial_bound`, else the latest session's newest one.
    pub fn tails(&self, now: Instant, partial_bound: Duration) -> [Option<String>; 2] {
        [Speaker::Customer, Speaker::Agent].map(|speaker| {
            let latest = self.sessions[slot(speaker)].latest()?;
            let mine = || {
                self.held
                    .iter()
                    .filter(move |((s, _), h)| *s == speaker && h.session == latest)
                    .map(|(_, h)| h)
            };
            mine()
                .filter(|h| h.partial && now - h.first_seen < partial_bound)
                .min_by_key(|h| h.start_ms)
                .or_else(|| mine().max_by_key(|h| h.start_ms))
                .map(|h| h.raw_start.clone())
        })
    }

    /// Records that a read happened (`full` or tail) at `at`.
    pub fn read_done(&mut self, full: bool, at: Instant) {
        if full {
            self.full_read_at = Some(at);
            self.needs_full = false;
        }
        self.tail_read_at = Some(at);
        self.dirty = false;
    }

    /// Takes items read from one table, oldest write first (so a restarted
    /// session is seen as one). Returns how many changed what is shown.
    pub fn absorb_all(&mut self, speaker: Speaker, table: &str, mut items: Vec<Item>) -> usize {
        items.sort_by_key(|item| logged_ms(item).unwrap_or(i64::MAX));
        items
            .iter()
            .filter(|item| self.absorb(speaker, table, item))
            .count()
    }

    /// Takes one item in, giving it the next position if it is new or
    /// changed. Whether it changed what is shown.
    pub fn absorb(&mut self, speaker: Speaker, table: &str, item: &Item) -> bool {
        let raw = items::raw_start(item).unwrap_or_default().to_string();
        let parsed = match items::parse_segment(item) {
            Ok(p) => p,
            Err(e) => {
                if self.warned.insert((speaker, raw.clone())) {
                    let contact = match item.get(items::CONTACT_ID) {
                        Some(AttributeValue::S(s)) => s.chars().take(64).collect::<String>(),
                        _ => String::new(),
                    };
                    tracing::warn!(table, contact_id = %contact, start_time = %raw, error = %e, "transcript item skipped");
                }
                return false;
            }
        };
        let logged = logged_ms(item);
        let id = (speaker, raw.clone());
        let (key, session) = match self.held.get(&id) {
            Some(held) => {
                // A stale read: older than what is shown.
                if let (Some(shown), Some(read)) = (held.logged_ms, logged) {
                    if read < shown {
                        return false;
                    }
                }
                // A final never goes back to partial.
                if !held.partial && parsed.partial {
                    return false;
                }
                (held.key, held.session)
            }
            None => {
                let (session, shift) =
                    self.sessions[slot(speaker)].assign(parsed.start_ms, parsed.end_ms, logged);
                let key = SegmentKey {
                    start_ms: parsed.start_ms + shift,
                    speaker,
                };
                (key, session)
            }
        };
        let shift = key.start_ms - parsed.start_ms;
        if let Some(shown) = self.transcript.get(&key) {
            if shown.text == parsed.text
                && shown.partial == parsed.partial
                && shown.end_ms == parsed.end_ms + shift
            {
                return false;
            }
        }
        let first_seen = self
            .held
            .get(&id)
            .map_or_else(Instant::now, |h| h.first_seen);
        let written = logged.unwrap_or_else(now_ms);
        self.last_write_ms = Some(self.last_write_ms.map_or(written, |l| l.max(written)));
        self.transcript.record(SegmentWrite {
            speaker,
            segment_id: parsed.segment_id,
            start_ms: key.start_ms,
            end_ms: parsed.end_ms + shift,
            text: parsed.text,
            partial: parsed.partial,
        });
        self.held.insert(
            id,
            Held {
                key,
                session,
                start_ms: parsed.start_ms,
                raw_start: raw,
                logged_ms: logged,
                partial: parsed.partial,
                first_seen,
            },
        );
        true
    }
}

impl Default for CallState {
    fn default() -> Self {
        Self::new()
    }
}

/// A call's state and its one-read-at-a-time lock.
pub struct CallReader {
    pub state: Mutex<CallState>,
    pub reading: tokio::sync::Mutex<()>,
}

impl CallReader {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(CallState::new()),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, CallState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for CallReader {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(start_s: f64, text: &str, partial: bool, logged_ms: i64) -> Item {
        let mut i = Item::new();
        i.insert(items::CONTACT_ID.into(), AttributeValue::S("c".into()));
        i.insert(
            items::START_TIME.into(),
            AttributeValue::N(format!("{start_s}")),
        );
        i.insert(
            items::END_TIME.into(),
            AttributeValue::N(format!("{}", start_s + 1.0)),
        );
        i.insert(
            items::SEGMENT_ID_A.into(),
            AttributeValue::S(format!("s{start_s}")),
        );
        i.insert(items::TRANSCRIPT.into(), AttributeValue::S(text.into()));
        i.insert(items::IS_PARTIAL.into(), AttributeValue::Bool(partial));
        let iso =
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(logged_ms) * 1_000_000)
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
}
