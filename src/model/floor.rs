//! The supervisors' floor: one row per live or recent call, as the floor
//! view shows it and the server pushes it.

use serde::{Deserialize, Serialize};

use super::{AlertCount, CallDetails, Segment, Speaker};

/// The most a row carries of the last line said (characters); the page
/// shortens it further to fit.
pub const LAST_LINE_CHARS: usize = 160;

/// One call on the floor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FloorRow {
    pub call: CallDetails,
    /// The agent on the call (its agent attribute), filled in at the door.
    #[serde(default)]
    pub agent: Option<String>,
    /// The last final line said (partials never: they would flicker).
    pub last_line: Option<LastLine>,
    /// The call's alerts, counted per label.
    #[serde(default)]
    pub alerts: Vec<AlertCount>,
}

impl FloorRow {
    /// All the call's alerts.
    pub fn alert_total(&self) -> u32 {
        self.alerts.iter().map(|c| c.count).sum()
    }
}

/// A final line, shortened to [`LAST_LINE_CHARS`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastLine {
    pub speaker: Speaker,
    pub start_ms: i64,
    pub text: String,
}

impl LastLine {
    /// The line `seg` says, if it is final.
    pub fn of(seg: &Segment) -> Option<Self> {
        if seg.partial {
            return None;
        }
        let mut text: String = seg.text.chars().take(LAST_LINE_CHARS).collect();
        if text.len() < seg.text.len() {
            text.push('…');
        }
        Some(Self {
            speaker: seg.speaker,
            start_ms: seg.start_ms,
            text,
        })
    }

    /// Whether this line was said after `other` (or is its newer state).
    pub fn supersedes(&self, other: Option<&LastLine>) -> bool {
        other.is_none_or(|o| {
            (self.start_ms, self.speaker == Speaker::Agent)
                >= (o.start_ms, o.speaker == Speaker::Agent)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(speaker: Speaker, start_ms: i64, text: &str, partial: bool) -> Segment {
        Segment {
            seq: crate::model::Seq(1),
            segment_id: "s".into(),
            speaker,
            start_ms,
            end_ms: start_ms + 1000,
            text: text.into(),
            partial,
        }
    }

    #[test]
    fn a_partial_is_never_a_last_line_and_a_long_line_is_shortened_on_a_char_boundary() {
        assert!(LastLine::of(&seg(Speaker::Customer, 0, "Hel", true)).is_none());
        let long = "é".repeat(LAST_LINE_CHARS + 10);
        let line = LastLine::of(&seg(Speaker::Customer, 0, &long, false)).unwrap();
        assert_eq!(line.text.chars().count(), LAST_LINE_CHARS + 1);
        assert!(line.text.ends_with('…'));
        let short = LastLine::of(&seg(Speaker::Agent, 0, "Hi", false)).unwrap();
        assert_eq!(short.text, "Hi");
    }

    #[test]
    fn a_later_line_supersedes_an_earlier_one_and_not_the_other_way() {
        let early = LastLine::of(&seg(Speaker::Customer, 1000, "a", false)).unwrap();
        let late = LastLine::of(&seg(Speaker::Agent, 2000, "b", false)).unwrap();
        assert!(late.supersedes(Some(&early)));
        assert!(!early.supersedes(Some(&late)));
        assert!(early.supersedes(None));
        // The same line again (a corrected final) replaces itself.
        assert!(early.supersedes(Some(&early)));
    }
}
