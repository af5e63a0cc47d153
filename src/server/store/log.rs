//! A call's transcript as a log of changes: each segment in its latest
//! state, and the position of that state, so "everything after N" is one
//! range read. Segments are kept in conversation order, so "the next lines
//! after this one" is one range read too (for exports). Shared by every
//! store.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::model::{Segment, SegmentKey, Seq};

use super::{SegmentPage, SegmentWrite};

#[derive(Debug, Default)]
pub struct SegmentLog {
    /// In conversation order (a key orders by start, customer first).
    segments: BTreeMap<SegmentKey, Segment>,
    /// The position of each segment's latest write.
    by_seq: BTreeMap<Seq, SegmentKey>,
    last: Seq,
}

impl SegmentLog {
    /// Records a write under the next position; returns it.
    pub fn record(&mut self, write: SegmentWrite) -> Seq {
        let seq = self.last.next();
        self.last = seq;
        let segment = Segment {
            seq,
            segment_id: write.segment_id,
            speaker: write.speaker,
            start_ms: write.start_ms,
            end_ms: write.end_ms,
            text: write.text,
            partial: write.partial,
        };
        let key = segment.key();
        if let Some(previous) = self.segments.insert(key, segment) {
            self.by_seq.remove(&previous.seq);
        }
        self.by_seq.insert(seq, key);
        seq
    }

    pub fn get(&self, key: &SegmentKey) -> Option<&Segment> {
        self.segments.get(key)
    }

    pub fn segments(&self) -> impl Iterator<Item = &Segment> {
        self.segments.values()
    }

    pub fn last(&self) -> Seq {
        self.last
    }

    /// Each segment changed after `after`, oldest change first, at most `limit`.
    pub fn page_after(&self, after: Seq, limit: usize) -> SegmentPage {
        let mut changed = self.by_seq.range(after.next()..);
        let segments = changed
            .by_ref()
            .take(limit)
            .filter_map(|(_, key)| self.segments.get(key).cloned())
            .collect();
        SegmentPage {
            segments,
            more: changed.next().is_some(),
        }
    }

    /// Segments in conversation order, each in its latest state, starting
    /// after `after` (from the first when `None`), at most `limit`.
    pub fn page_in_order(&self, after: Option<SegmentKey>, limit: usize) -> SegmentPage {
        let from = match after {
            Some(key) => Bound::Excluded(key),
            None => Bound::Unbounded,
        };
        let mut lines = self.segments.range((from, Bound::Unbounded));
        let segments = lines.by_ref().take(limit).map(|(_, s)| s.clone()).collect();
        SegmentPage {
            segments,
            more: lines.next().is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Speaker;

    fn write(speaker: Speaker, start_ms: i64, text: &str, partial: bool) -> SegmentWrite {
        SegmentWrite {
            speaker,
            segment_id: format!("{start_ms}"),
            start_ms,
            end_ms: start_ms + 500,
            text: text.into(),
            partial,
        }
    }

    #[test]
    fn pages_in_order_follow_the_conversation_not_the_writes() {
        let mut log = SegmentLog::default();
        // Written out of order; the agent's line at 2 s finishes before the
        // customer's at 1 s, which is revised in place.
        log.record(write(Speaker::Agent, 2000, "a2", false));
        log.record(write(Speaker::Customer, 1000, "c1 partial", true));
        log.record(write(Speaker::Agent, 0, "a0", false));
        log.record(write(Speaker::Customer, 2000, "c2", false));
        log.record(write(Speaker::Customer, 1000, "c1", false));

        let text = |page: &SegmentPage| -> Vec<String> {
            page.segments.iter().map(|s| s.text.clone()).collect()
        };
        let first = log.page_in_order(None, 2);
        assert_eq!(text(&first), ["a0", "c1"]);
        assert!(first.more);
        let next = log.page_in_order(Some(first.segments[1].key()), 2);
        // Customer first on a tie.
        assert_eq!(text(&next), ["c2", "a2"]);
        assert!(!next.more);
        let past = log.page_in_order(Some(next.segments[1].key()), 2);
        assert!(past.segments.is_empty() && !past.more);
    }
}
