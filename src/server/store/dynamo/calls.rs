//! One watched call's transcript, kept in memory and brought up to date
//! without ever losing a line, whatever the upstream writer's times do.
//!
//! - **Stream images** are applied as they come (`absorb`), so with a
//!   readable stream nothing is re-read at all but a slow safety net.
//! - **Without a stream** each table's tail is re-read every poll, and the
//!   whole call every `full_read_every` while it is live: a restarted
//!   transcription session writes its lines *below* the tail (its times
//!   start again near zero), and only a full read can see those.
//! - **A restarted session** (start times going back while `LoggedOn` moves
//!   forward) is detected per table and its lines are moved after the
//!   lines before it, so the spoken order is kept (`sessions`).
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
use crate::server::store::now_ms;
use crate::server::store::SegmentWrite;
use crate::server::timestamp::parse_call_timestamp;

use super::items::{self, Item};
use super::sessions::Sessions;

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
                    let contact = match item.get(items::TRANSCRIPT_CONTACT_ID) {
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
mod tests;
