//! A call's transcript as a log of changes: each segment in its latest
//! state, and the position of that state, so "everything after N" is one
//! range read. Shared by every store.

use std::collections::{BTreeMap, HashMap};

use crate::model::{Segment, SegmentKey, Seq};

use super::{SegmentPage, SegmentWrite};

#[derive(Debug, Default)]
pub struct SegmentLog {
    segments: HashMap<SegmentKey, Segment>,
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
}
