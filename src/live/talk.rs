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
    /// Talk time of `segments`. In conversation order (by start, as the
    /// page keeps them) it is one pass with nothing allocated, so a long
    /// call costs little at every change; any other order is sorted first.
    pub fn of(segments: &[Segment]) -> Self {
        let span = |s: &Segment| {
            let start = s.start_ms.max(0);
            (s.speaker, start, s.end_ms.max(start))
        };
        if segments.is_sorted_by_key(|s| s.start_ms.max(0)) {
            Self::of_sorted(segments.iter().map(span))
        } else {
            let mut spans: Vec<_> = segments.iter().map(span).collect();
            spans.sort_unstable_by_key(|&(_, start, _)| start);
            Self::of_sorted(spans.into_iter())
        }
    }

    /// From (speaker, start, end) spans sorted by start.
    fn of_sorted(spans: impl Iterator<Item = (Speaker, i64, i64)>) -> Self {
        let (mut anyone, mut customer, mut agent) =
            (Merged::default(), Merged::default(), Merged::default());
        for (who, start, end) in spans {
            anyone.add(start, end);
            match who {
                Speaker::Customer => customer.add(start, end),
                Speaker::Agent => agent.add(start, end),
            }
        }
        let Some((first, last)) = anyone.bounds() else {
            return Self::default();
        };
        let span_ms = last - first;
        Self {
            customer_ms: customer.covered(),
            agent_ms: agent.covered(),
            span_ms,
            silence_ms: span_ms - anyone.covered(),
            longest_silence_ms: anyone.longest_gap,
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

/// Intervals taken in order of their start, overlapping ones merged as
/// they come: the time they cover and the longest gap between them.
#[derive(Default)]
struct Merged {
    first: Option<i64>,
    /// The interval being merged into.
    open: Option<(i64, i64)>,
    /// Time covered by the intervals before `open`.
    closed_ms: i64,
    longest_gap: i64,
}

impl Merged {
    fn add(&mut self, start: i64, end: i64) {
        self.first.get_or_insert(start);
        match &mut self.open {
            Some(open) if start <= open.1 => open.1 = open.1.max(end),
            Some(open) => {
                self.closed_ms += open.1 - open.0;
                self.longest_gap = self.longest_gap.max(start - open.1);
                *open = (start, end);
            }
            None => self.open = Some((start, end)),
        }
    }

    fn covered(&self) -> i64 {
        self.closed_ms + self.open.map_or(0, |(a, b)| b - a)
    }

    /// The first start and the last end.
    fn bounds(&self) -> Option<(i64, i64)> {
        Some((self.first?, self.open?.1))
    }
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
    fn lines_in_any_order_add_up_as_in_conversation_order() {
        use Speaker::*;
        let ordered = [
            line(Agent, 1_000, 4_000),
            line(Customer, 3_000, 5_000),
            line(Customer, 9_000, 10_000),
            line(Agent, 9_500, 9_800),
            line(Agent, 15_000, 16_000),
        ];
        let want = TalkTime::of(&ordered);
        assert_eq!(
            want,
            TalkTime {
                customer_ms: 3_000,
                agent_ms: 4_300,
                span_ms: 15_000,
                silence_ms: 4_000 + 5_000,
                longest_silence_ms: 5_000,
            }
        );
        let mut shuffled = ordered.to_vec();
        shuffled.reverse();
        shuffled.swap(1, 3);
        assert_eq!(TalkTime::of(&shuffled), want);
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
