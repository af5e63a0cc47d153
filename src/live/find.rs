//! Find in a transcript: every place the words occur, in conversation
//! order, found in the transcript's data (not in the page), so it works
//! however much of the transcript is drawn.

use crate::model::{Segment, SegmentKey};

/// The most hits counted (a one-letter search in a long call).
pub const MAX_HITS: usize = 5_000;

/// One occurrence: the line and the byte range in its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub line: SegmentKey,
    pub from: usize,
    pub to: usize,
}

/// Every occurrence of `query` (ignoring case, at least two characters,
/// spaces trimmed) in the lines, in conversation order.
pub fn find(segments: &[Segment], query: &str) -> Vec<Hit> {
    let query = query.trim();
    if query.chars().count() < 2 {
        return Vec::new();
    }
    let needle = fold(query);
    let mut hits = Vec::new();
    for seg in segments {
        for (from, to) in occurrences(&seg.text, &needle) {
            hits.push(Hit {
                line: seg.key(),
                from,
                to,
            });
            if hits.len() >= MAX_HITS {
                return hits;
            }
        }
    }
    hits
}

/// Lower case, character by character (keeps a char per char, so byte
/// positions can be mapped back).
fn fold(s: &str) -> Vec<char> {
    s.chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect()
}

/// Byte ranges in `text` where `needle` (folded) occurs, not overlapping.
fn occurrences(text: &str, needle: &[char]) -> Vec<(usize, usize)> {
    let chars: Vec<(usize, char)> = text
        .char_indices()
        .map(|(i, c)| (i, c.to_lowercase().next().unwrap_or(c)))
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i + needle.len() <= chars.len() {
        if chars[i..i + needle.len()]
            .iter()
            .zip(needle)
            .all(|((_, c), n)| c == n)
        {
            let from = chars[i].0;
            let to = chars
                .get(i + needle.len())
                .map_or(text.len(), |(at, _)| *at);
            out.push((from, to));
            i += needle.len();
        } else {
            i += 1;
        }
    }
    out
}

/// Cuts `part` (the text at byte `at` of its line) where the found
/// ranges `found` (byte ranges of the line, in order) begin and end: each
/// piece with the index in `found` of the range covering it.
pub fn cut<'a>(
    part: &'a str,
    at: usize,
    found: &[(usize, usize)],
) -> Vec<(&'a str, Option<usize>)> {
    let end = at + part.len();
    let mut pieces = Vec::new();
    let mut pos = at;
    for (i, &(from, to)) in found.iter().enumerate() {
        let (from, to) = (from.max(pos), to.min(end));
        if from >= to {
            continue;
        }
        let (Some(before), Some(inside)) =
            (part.get(pos - at..from - at), part.get(from - at..to - at))
        else {
            // Not on a character boundary: leave the rest unmarked.
            break;
        };
        if !before.is_empty() {
            pieces.push((before, None));
        }
        pieces.push((inside, Some(i)));
        pos = to;
    }
    if let Some(rest) = part.get(pos - at..) {
        if !rest.is_empty() {
            pieces.push((rest, None));
        }
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::transcript::tests::seg;
    use crate::model::Speaker;

    #[test]
    fn finds_every_occurrence_in_conversation_order_ignoring_case() {
        let lines = [
            seg(1, Speaker::Agent, 0, "Your BOOKING is booked.", false),
            seg(
                2,
                Speaker::Customer,
                900,
                "Thanks for the booking; Élan booking.",
                false,
            ),
        ];
        let hits = find(&lines, " book");
        let texts: Vec<&str> = hits
            .iter()
            .map(|h| {
                let line = lines.iter().find(|s| s.key() == h.line).unwrap();
                &line.text[h.from..h.to]
            })
            .collect();
        assert_eq!(texts, ["BOOK", "book", "book", "book"]);
        // Byte positions after a two-byte character are right.
        let elan = find(&lines, "élan");
        assert_eq!(elan.len(), 1);
        assert_eq!(&lines[1].text[elan[0].from..elan[0].to], "Élan");
    }

    #[test]
    fn cutting_a_part_marks_the_found_ranges_inside_it() {
        // The line "say refund now", its part "refund now" at byte 4.
        let found = [(0, 3), (4, 10), (11, 14)];
        assert_eq!(
            cut("refund now", 4, &found),
            [("refund", Some(1)), (" ", None), ("now", Some(2))]
        );
        // A range across the part's start is cut to it.
        assert_eq!(cut("und", 7, &[(4, 10)]), [("und", Some(0))]);
        assert_eq!(cut("plain", 0, &[]), [("plain", None)]);
    }

    #[test]
    fn a_query_too_short_finds_nothing_and_hits_are_capped() {
        let lines = [seg(1, Speaker::Agent, 0, &"ab".repeat(MAX_HITS), false)];
        assert!(find(&lines, "a").is_empty());
        assert!(find(&lines, "  ").is_empty());
        assert_eq!(find(&lines, "ab").len(), MAX_HITS);
        // A hostile query is just text.
        assert!(find(&lines, "<script>").is_empty());
    }
}
