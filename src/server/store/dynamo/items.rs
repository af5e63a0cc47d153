//! Reading and writing the items of the real tables, in both upstream
//! writer formats:
//!
//! - `connect-rt` (the Amazon Connect real-time transcription Lambda):
//!   `SegmentId`, `StartTime`/`EndTime` in seconds (doubles), `LoggedOn` an
//!   ISO string, partials overwriting the same key;
//! - `kvs-ms` (a Java KVS transcriber fork): `segmentId` (lower case),
//!   times in integer milliseconds, `LoggedOn` epoch milliseconds.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::model::CallDetails;
use crate::server::contact::{details_from_attributes, ContactError};
use crate::server::store::SegmentWrite;

use super::attrs::scalar_strings;

pub type Item = HashMap<String, AttributeValue>;

// The transcript tables' attributes (contactDetails' are in `crate::model`).

/// The partition key: `ContactId` here, where contactDetails spells it
/// `contactId` ([`crate::model::ATTR_CONTACT_ID`]).
pub const TRANSCRIPT_CONTACT_ID: &str = "ContactId";
/// The sort key: when the line began, in the writer's unit.
pub const START_TIME: &str = "StartTime";
pub const END_TIME: &str = "EndTime";
/// The segment id, as each writer spells it.
pub const SEGMENT_ID_CONNECT_RT: &str = "SegmentId";
pub const SEGMENT_ID_KVS_MS: &str = "segmentId";
pub const TRANSCRIPT: &str = "Transcript";
pub const IS_PARTIAL: &str = "IsPartial";
pub const LOGGED_ON: &str = "LoggedOn";
pub const EXPIRES_AFTER: &str = "ExpiresAfter";

/// The two upstream writers' formats.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum WriterFormat {
    /// amazon-connect-realtime-transcription: seconds, `SegmentId`.
    ConnectRt,
    /// KVS transcriber fork: milliseconds, `segmentId`.
    KvsMs,
}

/// A transcript item, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedSegment {
    pub segment_id: String,
    /// Milliseconds from the start of the session, whatever unit was stored.
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
    pub partial: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ItemError {
    #[error("missing attribute {0}")]
    Missing(&'static str),
    #[error("attribute {0} has the wrong type or value")]
    Malformed(&'static str),
}

fn number(item: &Item, name: &'static str) -> Result<f64, ItemError> {
    let raw = match item.get(name) {
        Some(AttributeValue::N(n)) => n.as_str(),
        // Tolerate numbers stored as strings.
        Some(AttributeValue::S(s)) => s.as_str(),
        Some(_) => return Err(ItemError::Malformed(name)),
        None => return Err(ItemError::Missing(name)),
    };
    let n: f64 = raw.trim().parse().map_err(|_| ItemError::Malformed(name))?;
    if (0.0..1e13).contains(&n) {
        Ok(n)
    } else {
        Err(ItemError::Malformed(name))
    }
}

fn string<'a>(item: &'a Item, name: &'static str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// Which format an item was written in: `KvsMs` spells `segmentId` in
/// lower case and stores `LoggedOn` as a number; everything else is
/// `ConnectRt`.
pub fn format_of(item: &Item) -> WriterFormat {
    if item.contains_key(SEGMENT_ID_KVS_MS)
        || matches!(item.get(LOGGED_ON), Some(AttributeValue::N(_)))
    {
        WriterFormat::KvsMs
    } else {
        WriterFormat::ConnectRt
    }
}

/// The sort key as stored, for paging and resuming queries.
pub fn raw_start(item: &Item) -> Option<&str> {
    match item.get(START_TIME) {
        Some(AttributeValue::N(n)) => Some(n.as_str()),
        _ => None,
    }
}

pub fn parse_segment(item: &Item) -> Result<ParsedSegment, ItemError> {
    let format = format_of(item);
    let scale = match format {
        WriterFormat::ConnectRt => 1000.0,
        WriterFormat::KvsMs => 1.0,
    };
    let start = number(item, START_TIME)?;
    let end = match number(item, END_TIME) {
        Ok(end) => end,
        Err(ItemError::Missing(_)) => start,
        Err(e) => return Err(e),
    };
    let text = string(item, TRANSCRIPT).ok_or_else(|| match item.get(TRANSCRIPT) {
        Some(_) => ItemError::Malformed(TRANSCRIPT),
        None => ItemError::Missing(TRANSCRIPT),
    })?;
    let partial = match item.get(IS_PARTIAL) {
        Some(AttributeValue::Bool(b)) => *b,
        Some(AttributeValue::S(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(AttributeValue::S(s)) if s.eq_ignore_ascii_case("false") => false,
        Some(AttributeValue::N(n)) if n == "0" || n == "1" => n == "1",
        // A missing flag means the writer does not save partials.
        None => false,
        Some(_) => return Err(ItemError::Malformed(IS_PARTIAL)),
    };
    let segment_id = string(item, SEGMENT_ID_CONNECT_RT)
        .or_else(|| string(item, SEGMENT_ID_KVS_MS))
        .unwrap_or_default()
        .to_string();
    let start_ms = (start * scale).round() as i64;
    Ok(ParsedSegment {
        segment_id,
        start_ms,
        end_ms: ((end * scale).round() as i64).max(start_ms),
        text: text.to_string(),
        partial,
    })
}

/// A contactDetails item as call details: its scalar attributes as text
/// (lists, maps and binary are skipped), parsed as every store parses them.
pub fn contact_details(
    item: &Item,
    audio_stream_prefix: Option<&str>,
) -> Result<CallDetails, ContactError> {
    details_from_attributes(scalar_strings(item), None, audio_stream_prefix)
}

/// Builds a transcript item as the given writer would.
pub fn segment_item(format: WriterFormat, contact_id: &str, w: &SegmentWrite, now_ms: i64) -> Item {
    let mut item = Item::new();
    item.insert(
        TRANSCRIPT_CONTACT_ID.into(),
        AttributeValue::S(contact_id.into()),
    );
    item.insert(TRANSCRIPT.into(), AttributeValue::S(w.text.clone()));
    item.insert(IS_PARTIAL.into(), AttributeValue::Bool(w.partial));
    match format {
        WriterFormat::ConnectRt => {
            item.insert(START_TIME.into(), AttributeValue::N(seconds(w.start_ms)));
            item.insert(END_TIME.into(), AttributeValue::N(seconds(w.end_ms)));
            item.insert(
                SEGMENT_ID_CONNECT_RT.into(),
                AttributeValue::S(w.segment_id.clone()),
            );
            let logged =
                time::OffsetDateTime::from_unix_timestamp_nanos(now_ms as i128 * 1_000_000)
                    .ok()
                    .and_then(|t| {
                        t.format(&time::format_description::well_known::Rfc3339)
                            .ok()
                    })
                    .unwrap_or_default();
            item.insert(LOGGED_ON.into(), AttributeValue::S(logged));
            // Upstream writes TTL in milliseconds, ten minutes ahead.
            item.insert(
                EXPIRES_AFTER.into(),
                AttributeValue::N((now_ms + 600_000).to_string()),
            );
        }
        WriterFormat::KvsMs => {
            item.insert(START_TIME.into(), AttributeValue::N(w.start_ms.to_string()));
            item.insert(END_TIME.into(), AttributeValue::N(w.end_ms.to_string()));
            // KvsMs makes a new random id (a UUID) for every write.
            let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
            item.insert(
                SEGMENT_ID_KVS_MS.into(),
                AttributeValue::S(id.hyphenated().to_string()),
            );
            item.insert(LOGGED_ON.into(), AttributeValue::N(now_ms.to_string()));
        }
    }
    item
}

fn seconds(ms: i64) -> String {
    let s = format!("{:.3}", ms as f64 / 1000.0);
    // DynamoDB normalises numbers; so do we, to compare like with like.
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() {
        "0".into()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Speaker;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }
    fn n(v: &str) -> AttributeValue {
        AttributeValue::N(v.into())
    }

    fn item(pairs: Vec<(&str, AttributeValue)>) -> Item {
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    #[test]
    fn connect_rt_items_are_in_seconds() {
        let it = item(vec![
            ("ContactId", s("c")),
            ("StartTime", n("3.21")),
            ("EndTime", n("4.5")),
            ("SegmentId", s("seg-1")),
            ("Transcript", s("Hello")),
            ("IsPartial", AttributeValue::Bool(true)),
            ("LoggedOn", s("2023-01-05T17:28:53.000Z")),
            ("ExpiresAfter", n("1672940333000")),
        ]);
        assert_eq!(format_of(&it), WriterFormat::ConnectRt);
        let p = parse_segment(&it).unwrap();
        assert_eq!((p.start_ms, p.end_ms, p.partial), (3210, 4500, true));
        assert_eq!(p.segment_id, "seg-1");
        // DynamoDB may normalise 3.0 to 3: still seconds for ConnectRt.
        let it = item(vec![
            ("StartTime", n("3")),
            ("Transcript", s("x")),
            ("SegmentId", s("a")),
        ]);
        assert_eq!(parse_segment(&it).unwrap().start_ms, 3000);
    }

    #[test]
    fn kvs_ms_items_are_in_milliseconds() {
        let it = item(vec![
            ("ContactId", s("c")),
            ("StartTime", n("3210")),
            ("EndTime", n("4500")),
            ("segmentId", s("0b6c…")),
            ("Transcript", s("Hello")),
            ("IsPartial", AttributeValue::Bool(false)),
            ("LoggedOn", n("1672939733000")),
        ]);
        assert_eq!(format_of(&it), WriterFormat::KvsMs);
        let p = parse_segment(&it).unwrap();
        assert_eq!((p.start_ms, p.end_ms, p.partial), (3210, 4500, false));
    }

    #[test]
    fn odd_items_are_errors_not_panics() {
        let cases = vec![
            (
                item(vec![("Transcript", s("x"))]),
                ItemError::Missing("StartTime"),
            ),
            (
                item(vec![("StartTime", s("soon")), ("Transcript", s("x"))]),
                ItemError::Malformed("StartTime"),
            ),
            (
                item(vec![("StartTime", n("-1")), ("Transcript", s("x"))]),
                ItemError::Malformed("StartTime"),
            ),
            (
                item(vec![("StartTime", n("1"))]),
                ItemError::Missing("Transcript"),
            ),
            (
                item(vec![("StartTime", n("1")), ("Transcript", n("5"))]),
                ItemError::Malformed("Transcript"),
            ),
            (
                item(vec![
                    ("StartTime", n("1")),
                    ("Transcript", s("x")),
                    ("IsPartial", s("maybe")),
                ]),
                ItemError::Malformed("IsPartial"),
            ),
        ];
        for (it, want) in cases {
            assert_eq!(parse_segment(&it), Err(want));
        }
    }

    #[test]
    fn written_items_read_back_the_same_in_both_formats() {
        let w = SegmentWrite {
            speaker: Speaker::Agent,
            segment_id: "seg".into(),
            start_ms: 12_340,
            end_ms: 15_000,
            text: "Hello".into(),
            partial: true,
        };
        for format in [WriterFormat::ConnectRt, WriterFormat::KvsMs] {
            let it = segment_item(format, "id", &w, 1_700_000_000_000);
            assert_eq!(format_of(&it), format);
            let p = parse_segment(&it).unwrap();
            assert_eq!(
                (p.start_ms, p.end_ms, p.text.as_str(), p.partial),
                (12_340, 15_000, "Hello", true)
            );
        }
        assert_eq!(seconds(12_340), "12.34");
        assert_eq!(seconds(3_000), "3");
        assert_eq!(seconds(0), "0");
    }
}
