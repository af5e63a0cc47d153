//! Transcription sessions of one table. A restarted session (its start
//! times going back while `LoggedOn` moves forward) is told apart from late
//! lines of the same session, and its lines are moved after the lines
//! before it, so the spoken order is kept.

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
