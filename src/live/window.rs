//! Which lines of a long transcript the page draws. A two-hour call has
//! thousands of lines, and a page that draws them all is slow to show and
//! slow to update (see end2end/bench). The page draws a window of them:
//! the newest lines while the reader follows the call; once they scroll
//! back, the lines where they are, grown a step at a time at the edge they
//! scroll towards and trimmed at the other, so the page never holds more
//! than [`MOST`] bubbles however long the call.

use std::ops::Range;

use crate::live::transcript::Transcript;
use crate::model::{Segment, SegmentKey};

/// Lines drawn while following the call.
pub const NEWEST: usize = 200;
/// Lines added at an edge at a time.
pub const STEP: usize = 100;
/// The most lines drawn at once.
pub const MOST: usize = 400;

/// The lines drawn, as a place in the conversation rather than as indices,
/// so lines written meanwhile (at the end, or out of order inside) do not
/// move what the reader is looking at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Window {
    /// The newest [`NEWEST`] lines, whatever they are.
    #[default]
    Newest,
    /// The lines from `first` to `last`, both included.
    Span { first: SegmentKey, last: SegmentKey },
}

impl Window {
    /// The indices of the lines drawn. A span none of whose lines is left
    /// (the call was replayed from the start) draws the newest lines.
    pub fn range(self, t: &Transcript) -> Range<usize> {
        let len = t.len();
        let newest = len.saturating_sub(NEWEST)..len;
        match self {
            Window::Newest => newest,
            Window::Span { first, last } => {
                let start = t.position(first);
                let at_last = t.position(last);
                let end = at_last + usize::from(t.key_at(at_last) == Some(last));
                if start < end {
                    start..end
                } else {
                    newest
                }
            }
        }
    }

    /// The keys of the lines drawn, in conversation order.
    pub fn keys(self, t: &Transcript) -> Vec<SegmentKey> {
        t.segments()[self.range(t)]
            .iter()
            .map(Segment::key)
            .collect()
    }

    /// How many lines come before the first drawn, and after the last.
    pub fn hidden(self, t: &Transcript) -> (usize, usize) {
        let r = self.range(t);
        (r.start, t.len() - r.end)
    }

    /// The same lines, held in place: lines written from now on are not
    /// drawn until the reader comes down to them.
    pub fn held(self, t: &Transcript) -> Window {
        span(t, self.range(t))
    }

    /// [`STEP`] more lines before the first drawn; the last ones are let go
    /// beyond [`MOST`].
    pub fn earlier(self, t: &Transcript) -> Window {
        let r = self.range(t);
        let start = r.start.saturating_sub(STEP);
        span(t, start..r.end.min(start + MOST))
    }

    /// [`STEP`] more lines after the last drawn; the first ones are let go
    /// beyond [`MOST`].
    pub fn later(self, t: &Transcript) -> Window {
        let r = self.range(t);
        let end = (r.end + STEP).min(t.len());
        span(t, r.start.max(end.saturating_sub(MOST))..end)
    }

    /// Lines around `key` (a line far from those drawn, stepped to by a
    /// search), it in the middle.
    pub fn around(t: &Transcript, key: SegmentKey) -> Window {
        let len = t.len();
        let end = (t.position(key) + MOST / 2).min(len);
        span(t, end.saturating_sub(MOST)..end.max(MOST.min(len)))
    }
}

/// The window of the lines at `range`.
fn span(t: &Transcript, range: Range<usize>) -> Window {
    match (
        t.key_at(range.start),
        range.end.checked_sub(1).and_then(|i| t.key_at(i)),
    ) {
        (Some(first), Some(last)) if range.start < range.end => Window::Span { first, last },
        _ => Window::Newest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::transcript::tests::seg;
    use crate::model::Speaker;

    /// A call of `n` lines, one a second, sides taking turns.
    fn call(n: usize) -> Transcript {
        Transcript::new(
            (0..n)
                .map(|i| {
                    let speaker = if i % 2 == 0 {
                        Speaker::Customer
                    } else {
                        Speaker::Agent
                    };
                    seg(
                        i as u64 + 1,
                        speaker,
                        i as i64 * 1000,
                        &format!("line {i}"),
                        false,
                    )
                })
                .collect(),
        )
    }

    fn say(t: &mut Transcript, i: usize) {
        t.upsert(seg(
            100_000 + i as u64,
            Speaker::Agent,
            i as i64 * 1000,
            &format!("line {i}"),
            false,
        ));
    }

    #[test]
    fn following_draws_the_newest_lines_only() {
        let mut t = call(5_000);
        assert_eq!(Window::Newest.range(&t), 4_800..5_000);
        assert_eq!(Window::Newest.hidden(&t), (4_800, 0));
        say(&mut t, 5_000);
        assert_eq!(Window::Newest.range(&t), 4_801..5_001);
        let short = call(30);
        assert_eq!(Window::Newest.range(&short), 0..30);
        assert!(Window::Newest.keys(&Transcript::default()).is_empty());
    }

    #[test]
    fn a_held_window_keeps_its_lines_while_the_call_goes_on() {
        let mut t = call(1_000);
        let held = Window::Newest.held(&t);
        assert_eq!(held.range(&t), 800..1_000);
        for i in 1_000..1_050 {
            say(&mut t, i);
        }
        assert_eq!(held.range(&t), 800..1_000);
        assert_eq!(held.hidden(&t), (800, 50));
        // A line written out of order inside the window is drawn there.
        t.upsert(seg(200_000, Speaker::Agent, 900_500, "late", false));
        assert_eq!(held.range(&t), 800..1_001);
    }

    #[test]
    fn scrolling_back_grows_the_window_then_slides_it_never_past_most() {
        let t = call(1_000);
        let mut w = Window::Newest.held(&t);
        let mut seen = w.range(&t);
        while w.hidden(&t).0 > 0 {
            let next = w.earlier(&t);
            let r = next.range(&t);
            assert!(r.len() <= MOST, "{r:?}");
            assert_eq!(r.start, seen.start.saturating_sub(STEP));
            assert!(r.end > seen.start, "the lines the reader is at stay drawn");
            seen = r;
            w = next;
        }
        assert_eq!(w.range(&t), 0..MOST);
        // And back down to the end, a step at a time.
        while w.hidden(&t).1 > 0 {
            let next = w.later(&t);
            let r = next.range(&t);
            assert!(r.len() <= MOST);
            assert!(r.start < w.range(&t).end, "overlaps what was drawn");
            w = next;
        }
        assert_eq!(w.range(&t), 600..1_000);
    }

    #[test]
    fn a_line_far_away_is_drawn_in_the_middle_of_its_window() {
        let t = call(5_000);
        let key = t.key_at(2_500).unwrap();
        assert_eq!(Window::around(&t, key).range(&t), 2_300..2_700);
        assert_eq!(Window::around(&t, t.key_at(3).unwrap()).range(&t), 0..MOST);
        assert_eq!(
            Window::around(&t, t.key_at(4_990).unwrap()).range(&t),
            4_600..5_000
        );
        let short = call(10);
        assert_eq!(
            Window::around(&short, short.key_at(4).unwrap()).range(&short),
            0..10
        );
    }

    #[test]
    fn a_window_whose_lines_are_gone_draws_the_newest() {
        let mut t = call(500);
        let held = Window::Newest.earlier(&t);
        t.clear();
        assert_eq!(held.range(&t), 0..0);
        for i in 0..3 {
            say(&mut t, 10_000 + i);
        }
        assert_eq!(held.range(&t), 0..3);
    }
}
