//! Transcript lines: who said them, where each sits in the conversation,
//! and the position of every change to them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Who said a line. The two transcript tables map one-to-one onto these:
/// `contactTranscriptSegments` is the customer, `...ToCustomer` the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Speaker {
    Customer,
    Agent,
}

impl Speaker {
    pub fn label(self) -> &'static str {
        match self {
            Speaker::Customer => "Customer",
            Speaker::Agent => "Agent",
        }
    }
}

/// A per-call position in the stream of transcript changes. Every write to a
/// call's transcript (a new segment, a partial growing, a final) gets the
/// next one, so "everything after N" is exactly what a viewer has not seen.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Seq(pub u64);

impl Seq {
    pub const ZERO: Seq = Seq(0);
    pub fn next(self) -> Seq {
        Seq(self.0 + 1)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The stable identity of one utterance: the table it lives in (speaker) and
/// its sort key. Partials of an utterance overwrite the same key, so a bubble
/// keyed by it is updated in place rather than duplicated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SegmentKey {
    pub start_ms: i64,
    pub speaker: Speaker,
}

/// One utterance as it stands after its latest write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Segment {
    /// Position of the write that produced this state of the segment.
    pub seq: Seq,
    /// The upstream segment id (the original app's only identity; informative only).
    pub segment_id: String,
    pub speaker: Speaker,
    /// Milliseconds from the start of the transcription session.
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
    /// True while the transcriber may still revise the text.
    pub partial: bool,
}

impl Segment {
    pub fn key(&self) -> SegmentKey {
        SegmentKey {
            start_ms: self.start_ms,
            speaker: self.speaker,
        }
    }
}

/// Orders segments as a conversation: by start time, customer first on a tie.
pub fn conversation_order(a: &Segment, b: &Segment) -> std::cmp::Ordering {
    a.key().cmp(&b.key())
}

/// Formats a millisecond offset as `m:ss` (or `h:mm:ss` past an hour).
pub fn format_offset(ms: i64) -> String {
    let total = ms.max(0) / 1000;
    let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speaker_serialises_as_the_seed_did() {
        assert_eq!(
            serde_json::to_string(&Speaker::Customer).unwrap(),
            "\"Customer\""
        );
        assert_eq!(serde_json::to_string(&Speaker::Agent).unwrap(), "\"Agent\"");
        assert!(serde_json::from_str::<Speaker>("\"Supervisor\"").is_err());
    }

    #[test]
    fn conversation_order_is_by_start_then_customer_first() {
        let seg = |speaker, start_ms| Segment {
            seq: Seq(1),
            segment_id: String::new(),
            speaker,
            start_ms,
            end_ms: start_ms,
            text: String::new(),
            partial: false,
        };
        let mut v = [
            seg(Speaker::Agent, 2000),
            seg(Speaker::Agent, 500),
            seg(Speaker::Customer, 2000),
        ];
        v.sort_by(conversation_order);
        let keys: Vec<_> = v.iter().map(|s| (s.speaker, s.start_ms)).collect();
        assert_eq!(
            keys,
            [
                (Speaker::Agent, 500),
                (Speaker::Customer, 2000),
                (Speaker::Agent, 2000)
            ]
        );
    }

    #[test]
    fn offsets_format_as_clock_time() {
        assert_eq!(format_offset(0), "0:00");
        assert_eq!(format_offset(61_500), "1:01");
        assert_eq!(format_offset(3_725_000), "1:02:05");
        assert_eq!(format_offset(-5), "0:00");
    }
}
