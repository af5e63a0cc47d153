//! Talk time: how long each side has spoken, how much of the call so far
//! was silence, and the longest silence, from the lines' start and end
//! offsets. Overlapping lines of one speaker (a partial's revisions, a
//! restarted session) count once; both speaking at once counts for each
//! and is not silence.

use crate::model::{Segment, Speaker};

/// Talk time so far, in milliseconds of the transcription session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TalkTime {
    pub customer_ms: i64,
    pub agent_ms: i64,
    /// From the first line's start to the last line's end.
    pub span_ms: i64,
    /// Time in the span when nobody spoke.
    pub silence_ms: i64,
    pub longest_silence_ms: i64,
}

impl TalkTime {
    pub fn of(segments: &[Segment]) -> Self {
        let spans = |who: Option<Speaker>| {
            merge(
                segments
                    .iter()
                    .filter(|s| who.is_none_or(|w| s.speaker == w))
                    .map(|s| (s.start_ms.max(0), s.end_ms.max(s.start_ms.max(0))))
                    .collect(),
            )
        };
        let anyone = spans(None);
        let (Some(first), Some(last)) = (anyone.first(), anyone.last()) else {
            return Self::default();
        };
        let span_ms = last.1 - first.0;
        let spoken: i64 = anyone.iter().map(|(a, b)| b - a).sum();
        let longest_silence_ms = anyone
            .windows(2)
            .map(|w| w[1].0 - w[0].1)
            .max()
            .unwrap_or(0);
        let total = |v: Vec<(i64, i64)>| v.iter().map(|(a, b)| b - a).sum();
        Self {
            customer_ms: total(spans(Some(Speaker::Customer))),
            agent_ms: total(spans(Some(Speaker::Agent))),
            span_ms,
            silence_ms: span_ms - spoken,
            longest_silence_ms,
        }
    }

    /// A part of the span, in whole percent (0 for an empty span).
    pub fn percent(&self, ms: i64) -> u32 {
        if self.span_ms <= 0 {
            return 0;
        }
        ((ms as f64 * 100.0 / self.span_ms as f64).round() as i64).clamp(0, 100) as u32
    }
}

/// Sorted, non-overlapping intervals covering the same time.
fn merge(mut spans: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    spans.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
    for (a, b) in spans {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Seq;

    fn line(speaker: Speaker, start_ms: i64, end_ms: i64) -> Segment {
        Segment {
            seq: Seq(1),
            segment_id: String::new(),
            speaker,
            start_ms,
            end_ms,
            text: "x".into(),
            partial: false,
        }
    }

    #[test]
    fn talk_silence_and_the_longest_gap() {
        use Speaker::*;
        let t = TalkTime::of(&[
            line(Agent, 1_000, 4_000),
            line(Customer, 6_000, 10_000),
            // Both at once: counts for each, and is not silence.
            line(Agent, 9_000, 12_000),
            // A revision overlapping its own speaker's line counts once.
            line(Agent, 11_000, 12_000),
            line(Customer, 20_000, 21_000),
        ]);
        assert_eq!(t.agent_ms, 3_000 + 3_000);
        assert_eq!(t.customer_ms, 4_000 + 1_000);
        assert_eq!(t.span_ms, 20_000);
        // Gaps: 4–6 s and 12–20 s.
        assert_eq!(t.silence_ms, 2_000 + 8_000);
        assert_eq!(t.longest_silence_ms, 8_000);
        assert_eq!(t.percent(t.silence_ms), 50);
    }

    #[test]
    fn nothing_said_is_all_zero_and_odd_offsets_do_no_harm() {
        assert_eq!(TalkTime::of(&[]), TalkTime::default());
        assert_eq!(TalkTime::default().percent(5), 0);
        // An end before its start, a negative start: clamped, not negative.
        let t = TalkTime::of(&[
            line(Speaker::Agent, -50, -100),
            line(Speaker::Agent, 500, 100),
        ]);
        assert!(
            t.agent_ms >= 0 && t.silence_ms >= 0 && t.span_ms >= 0,
            "{t:?}"
        );
    }
}
