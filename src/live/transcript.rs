//! The conversation as the page shows it: one entry per utterance, in
//! conversation order, each holding the newest state heard of it.

use crate::model::{conversation_order, Segment, SegmentKey};

/// The transcript shown on the page, plus a revision bumped on every change
/// (the view scrolls, or offers to, when it moves).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transcript {
    /// Sorted by [`conversation_order`], one per [`SegmentKey`].
    segments: Vec<Segment>,
    revision: u64,
}

impl Transcript {
    /// A transcript from a snapshot's segments, in any order.
    pub fn new(mut segments: Vec<Segment>) -> Self {
        segments.sort_by(conversation_order);
        segments.dedup_by_key(|s| s.key());
        Self {
            segments,
            revision: 0,
        }
    }

    /// Shows a segment: replaces the entry with its key, unless that entry
    /// is already at the same or a later position (a stale frame), or adds
    /// it in conversation order. Returns whether anything changed.
    pub fn upsert(&mut self, seg: Segment) -> bool {
        let key = seg.key();
        match self.segments.binary_search_by(|s| s.key().cmp(&key)) {
            Ok(i) if self.segments[i].seq >= seg.seq => return false,
            Ok(i) => self.segments[i] = seg,
            Err(i) => self.segments.insert(i, seg),
        }
        self.revision += 1;
        true
    }

    /// Forgets every line (the server is replaying the call from the start).
    pub fn clear(&mut self) {
        self.segments.clear();
        self.revision += 1;
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn get(&self, key: SegmentKey) -> Option<&Segment> {
        self.segments
            .binary_search_by(|s| s.key().cmp(&key))
            .ok()
            .map(|i| &self.segments[i])
    }

    /// How many entries come before `key` in conversation order (its index
    /// when it is present).
    pub fn position(&self, key: SegmentKey) -> usize {
        self.segments.partition_point(|s| s.key() < key)
    }

    /// The key of the entry at `index`, in conversation order.
    pub fn key_at(&self, index: usize) -> Option<SegmentKey> {
        self.segments.get(index).map(Segment::key)
    }

    /// Counts the changes since the transcript was made.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn len(&self) -> usize {
        self.segments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{Seq, Speaker};

    /// A segment written at `seq`, starting at `start_ms`.
    pub(crate) fn seg(
        seq: u64,
        speaker: Speaker,
        start_ms: i64,
        text: &str,
        partial: bool,
    ) -> Segment {
        Segment {
            seq: Seq(seq),
            segment_id: format!("{speaker:?}-{start_ms}"),
            speaker,
            start_ms,
            end_ms: start_ms + 500,
            text: text.into(),
            partial,
        }
    }

    fn texts(t: &Transcript) -> Vec<&str> {
        t.segments().iter().map(|s| s.text.as_str()).collect()
    }

    #[test]
    fn a_snapshot_is_put_in_conversation_order_once_per_utterance() {
        let t = Transcript::new(vec![
            seg(3, Speaker::Agent, 2000, "agent later", false),
            seg(1, Speaker::Agent, 500, "first", false),
            seg(2, Speaker::Customer, 2000, "customer later", false),
            seg(4, Speaker::Agent, 500, "first, again", false),
        ]);
        assert_eq!(texts(&t), ["first", "customer later", "agent later"]);
        assert_eq!(t.revision(), 0);
    }

    #[test]
    fn a_partial_grows_in_place_and_its_final_replaces_it() {
        let mut t = Transcript::default();
        assert!(t.upsert(seg(1, Speaker::Customer, 1000, "I need", true)));
        assert!(t.upsert(seg(2, Speaker::Customer, 1000, "I need to change", true)));
        assert!(t.upsert(seg(
            3,
            Speaker::Customer,
            1000,
            "I need to change my flight.",
            false
        )));
        assert_eq!(t.len(), 1, "one bubble for one utterance");
        let shown = t
            .get(seg(0, Speaker::Customer, 1000, "", false).key())
            .unwrap();
        assert_eq!(shown.text, "I need to change my flight.");
        assert!(!shown.partial);
        assert_eq!(t.revision(), 3);
    }

    #[test]
    fn a_late_partial_does_not_replace_the_final() {
        let mut t = Transcript::default();
        t.upsert(seg(5, Speaker::Agent, 1000, "How can I help?", false));
        let before = t.clone();
        assert!(!t.upsert(seg(4, Speaker::Agent, 1000, "How can", true)));
        assert!(
            !t.upsert(seg(5, Speaker::Agent, 1000, "How can", true)),
            "same position"
        );
        assert_eq!(t, before, "nothing changed, not even the revision");
        assert!(!t.segments()[0].partial);
    }

    #[test]
    fn segments_arriving_out_of_order_are_shown_in_conversation_order() {
        let mut t = Transcript::default();
        t.upsert(seg(1, Speaker::Agent, 3000, "third", false));
        t.upsert(seg(2, Speaker::Customer, 1000, "first", false));
        t.upsert(seg(3, Speaker::Agent, 2000, "second", true));
        // Same start: the customer comes first.
        t.upsert(seg(4, Speaker::Customer, 3000, "customer at three", false));
        assert_eq!(texts(&t), ["first", "second", "customer at three", "third"]);
        let keys: Vec<_> = t
            .segments()
            .iter()
            .map(|s| (s.start_ms, s.speaker))
            .collect();
        assert_eq!(
            keys,
            [
                (1000, Speaker::Customer),
                (2000, Speaker::Agent),
                (3000, Speaker::Customer),
                (3000, Speaker::Agent)
            ]
        );
    }

    #[test]
    fn clearing_empties_and_counts_as_a_change() {
        let mut t = Transcript::new(vec![seg(1, Speaker::Agent, 0, "hi", false)]);
        t.clear();
        assert!(t.is_empty());
        assert_eq!(t.revision(), 1);
        // A segment seen before the clear is taken again.
        assert!(t.upsert(seg(1, Speaker::Agent, 0, "hi", false)));
    }
}
