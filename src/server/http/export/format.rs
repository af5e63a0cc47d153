//! A transcript as a file: the head, one piece per segment, and the tail,
//! in plain text, CSV or JSON. Pure: the handler streams what these return.
//!
//! Text and CSV hold the final lines only; JSON holds every line, a
//! still-growing one marked `"partial": true` (the transcriber may still
//! revise it). Offsets are seconds from the start of the call's
//! transcription, to the hundredth (`12.34`); text shows them as
//! `mm:ss.s` as well. Each line carries the labels of the alerts it raised.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Serialize;
use time::OffsetDateTime;

use crate::model::{CallDetails, Segment};

/// What Excel needs to read a CSV file as UTF-8.
pub const BOM: &str = "\u{FEFF}";

/// A download's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Txt,
    Csv,
    Json,
}

impl Format {
    /// The format a download's file name asks for: `transcript.{ext}`.
    pub fn from_file_name(file: &str) -> Option<Self> {
        match file.strip_prefix("transcript.")? {
            "txt" => Some(Format::Txt),
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    /// The file extension, also the audit log's name for the format.
    pub fn ext(self) -> &'static str {
        match self {
            Format::Txt => "txt",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Txt => "text/plain; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
        }
    }

    /// Whether a segment goes in the file: final ones always, a partial
    /// one in JSON only (marked).
    pub fn includes(self, segment: &Segment) -> bool {
        !segment.partial || self == Format::Json
    }
}

/// `transcript-{contactId}-{YYYY-MM-DD}.{ext}`, dated by the call's start
/// (UTC), or by `now_ms` if the start is unknown. The id is a parsed UUID,
/// so the name needs no quoting.
pub fn file_name(call: &CallDetails, format: Format, now_ms: i64) -> String {
    let day = utc(call.started_at_ms.unwrap_or(now_ms)).date();
    format!(
        "transcript-{}-{:04}-{:02}-{:02}.{}",
        call.call_id,
        day.year(),
        u8::from(day.month()),
        day.day(),
        format.ext()
    )
}

fn utc(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Hundredths of a second, rounded (negative offsets count as zero).
fn centis(ms: i64) -> i64 {
    (ms.max(0) + 5) / 10
}

/// Seconds to the hundredth: `12340` → `12.34`.
pub fn seconds(ms: i64) -> String {
    let c = centis(ms);
    format!("{}.{:02}", c / 100, c % 100)
}

/// Minutes, seconds and tenths: `72_340` → `01:12.3` (minutes go past 59).
pub fn clock(ms: i64) -> String {
    let tenths = (ms.max(0) + 50) / 100;
    format!(
        "{:02}:{:02}.{}",
        tenths / 600,
        (tenths % 600) / 10,
        tenths % 10
    )
}

/// Writes one format's file piece by piece; remembers whether a JSON
/// element needs a comma before it.
#[derive(Debug)]
pub struct Writer {
    format: Format,
    rows: usize,
}

impl Writer {
    pub fn new(format: Format) -> Self {
        Self { format, rows: 0 }
    }

    /// How many segments were written.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// What comes before the first segment: a title (text), the BOM and
    /// the header row (CSV), the call and the opening of the list (JSON).
    pub fn head(&self, call: &CallDetails) -> String {
        match self.format {
            Format::Txt => {
                let started = call
                    .started_at_ms
                    .map(|ms| {
                        let t = utc(ms);
                        format!(
                            "{} {:02}:{:02}:{:02} UTC",
                            t.date(),
                            t.hour(),
                            t.minute(),
                            t.second()
                        )
                    })
                    .unwrap_or_else(|| "unknown".to_string());
                format!(
                    "Transcript of call {}\nStarted: {started}\n\n",
                    call.call_id
                )
            }
            Format::Csv => format!("{BOM}speaker,start,end,text,alerts\r\n"),
            Format::Json => {
                // A CallDetails always serialises (string keys and values).
                let call = serde_json::to_string(call).unwrap_or_else(|_| "null".into());
                format!("{{\"call\":{call},\"segments\":[")
            }
        }
    }

    /// Appends one segment to `out` (nothing if the format leaves it out).
    pub fn segment(&mut self, segment: &Segment, alerts: &[String], out: &mut String) {
        if !self.format.includes(segment) {
            return;
        }
        match self.format {
            Format::Txt => {
                let _ = write!(
                    out,
                    "[{} - {}] {}: {}",
                    clock(segment.start_ms),
                    clock(segment.end_ms),
                    segment.speaker.label(),
                    one_line(&segment.text)
                );
                if !alerts.is_empty() {
                    let _ = write!(out, " [alerts: {}]", one_line(&alerts.join(", ")));
                }
                out.push('\n');
            }
            Format::Csv => {
                let _ = write!(
                    out,
                    "{},{},{},{},{}\r\n",
                    segment.speaker.label(),
                    seconds(segment.start_ms),
                    seconds(segment.end_ms),
                    csv_cell(&segment.text),
                    csv_cell(&alerts.join("; "))
                );
            }
            Format::Json => {
                if self.rows > 0 {
                    out.push(',');
                }
                let row = JsonRow {
                    speaker: segment.speaker.label(),
                    start: centis(segment.start_ms) as f64 / 100.0,
                    end: centis(segment.end_ms) as f64 / 100.0,
                    start_ms: segment.start_ms,
                    end_ms: segment.end_ms,
                    text: &segment.text,
                    alerts,
                    partial: segment.partial,
                };
                // Strings and numbers only: serialising cannot fail.
                let _ = serde_json::to_writer(StringSink(out), &row);
            }
        }
        self.rows += 1;
    }

    /// What comes after the last segment.
    pub fn tail(&self) -> &'static str {
        match self.format {
            Format::Txt | Format::Csv => "",
            Format::Json => "]}",
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonRow<'a> {
    speaker: &'static str,
    start: f64,
    end: f64,
    start_ms: i64,
    end_ms: i64,
    text: &'a str,
    alerts: &'a [String],
    partial: bool,
}

/// Lets serde_json write straight into a `String` (it writes UTF-8 only).
struct StringSink<'a>(&'a mut String);

impl std::io::Write for StringSink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let s = std::str::from_utf8(buf).map_err(std::io::Error::other)?;
        self.0.push_str(s);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A text line never breaks: line breaks, tabs and other control
/// characters (and Unicode's line and paragraph separators) become spaces,
/// so a transcript line cannot forge another.
fn one_line(text: &str) -> Cow<'_, str> {
    let breaks = |c: char| c.is_control() || c == '\u{2028}' || c == '\u{2029}';
    if text.contains(breaks) {
        Cow::Owned(text.replace(breaks, " "))
    } else {
        Cow::Borrowed(text)
    }
}

/// One CSV cell (RFC 4180): a cell a spreadsheet would run as a formula
/// (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a
/// leading apostrophe; a cell with a quote, comma or line break is quoted,
/// its quotes doubled.
pub fn csv_cell(text: &str) -> Cow<'_, str> {
    let guarded: Cow<'_, str> = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    };
    if guarded.contains(['"', ',', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", guarded.replace('"', "\"\"")))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_transcript_file_name_names_a_format() {
        assert_eq!(Format::from_file_name("transcript.csv"), Some(Format::Csv));
        assert_eq!(Format::from_file_name("transcript.txt"), Some(Format::Txt));
        assert_eq!(
            Format::from_file_name("transcript.json"),
            Some(Format::Json)
        );
        for other in [
            "transcript.xlsx",
            "transcript",
            "audio.csv",
            "",
            "transcript.csv.exe",
        ] {
            assert_eq!(Format::from_file_name(other), None, "{other}");
        }
    }
    use crate::model::{CallId, Seq, Speaker};
    use std::collections::BTreeMap;

    const ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

    fn call(started_at_ms: Option<i64>) -> CallDetails {
        CallDetails {
            call_id: CallId::parse(ID).unwrap(),
            customer_phone: Some("+• •••-•••-4567".into()),
            started_at_ms,
            ended_at_ms: None,
            audio_stream: None,
            attributes: BTreeMap::from([("contactId".to_string(), ID.to_string())]),
        }
    }

    fn seg(speaker: Speaker, start_ms: i64, end_ms: i64, text: &str, partial: bool) -> Segment {
        Segment {
            seq: Seq(1),
            segment_id: "s".into(),
            speaker,
            start_ms,
            end_ms,
            text: text.into(),
            partial,
        }
    }

    fn whole(format: Format, segments: &[Segment]) -> String {
        let mut w = Writer::new(format);
        let mut out = w.head(&call(Some(1_700_000_000_000)));
        for s in segments {
            w.segment(s, &[], &mut out);
        }
        out.push_str(w.tail());
        out
    }

    /// A small RFC 4180 reader, to read back what the writer wrote.
    fn parse_csv(text: &str) -> Vec<Vec<String>> {
        let mut rows = vec![];
        let mut row = vec![];
        let mut cell = String::new();
        let mut quoted = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => cell.push(c),
                (false, '"') if cell.is_empty() => quoted = true,
                (false, ',') => row.push(std::mem::take(&mut cell)),
                (false, '\r') if chars.peek() == Some(&'\n') => {}
                (false, '\n') => {
                    row.push(std::mem::take(&mut cell));
                    rows.push(std::mem::take(&mut row));
                }
                (false, c) => cell.push(c),
            }
        }
        assert!(!quoted && cell.is_empty() && row.is_empty(), "ends a row");
        rows
    }

    #[test]
    fn offsets_are_hundredths_of_seconds_and_clock_time() {
        assert_eq!(seconds(12_340), "12.34");
        assert_eq!(seconds(12_345), "12.35");
        assert_eq!(seconds(0), "0.00");
        assert_eq!(seconds(-40), "0.00");
        assert_eq!(seconds(5), "0.01");
        assert_eq!(seconds(3_600_000), "3600.00");
        assert_eq!(clock(0), "00:00.0");
        assert_eq!(clock(72_340), "01:12.3");
        assert_eq!(clock(59_960), "01:00.0");
        assert_eq!(clock(3_725_000), "62:05.0");
    }

    #[test]
    fn the_file_is_named_by_contact_and_the_calls_utc_day() {
        // 2023-11-14T22:13:20Z, late in the day: the UTC date, not a local one.
        let c = call(Some(1_700_000_000_000));
        assert_eq!(
            file_name(&c, Format::Csv, 0),
            format!("transcript-{ID}-2023-11-14.csv")
        );
        assert_eq!(
            file_name(&call(None), Format::Json, 86_400_000),
            format!("transcript-{ID}-1970-01-02.json")
        );
    }

    #[test]
    fn csv_cells_are_quoted_per_rfc_4180() {
        assert_eq!(csv_cell("plain words"), "plain words");
        assert_eq!(csv_cell("a, b"), "\"a, b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_cell("cr\rhere"), "\"cr\rhere\"");
        assert_eq!(csv_cell(""), "");
        assert_eq!(csv_cell("ünïcödé ✓ 日本"), "ünïcödé ✓ 日本");
    }

    #[test]
    fn csv_cells_a_spreadsheet_would_run_are_defused() {
        for hostile in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            let cell = csv_cell(hostile);
            let cell = cell.trim_start_matches('"');
            assert!(cell.starts_with('\''), "{hostile:?} → {cell:?}");
        }
        assert_eq!(
            csv_cell("=HYPERLINK(\"http://x\",\"a\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"a\"\")\""
        );
        // Only at the start.
        assert_eq!(csv_cell("1+1=2"), "1+1=2");
    }

    #[test]
    fn csv_starts_with_a_bom_and_a_header_and_reads_back_as_written() {
        let hostile = [
            seg(
                Speaker::Customer,
                1_230,
                2_500,
                "He said \"no\", then left",
                false,
            ),
            seg(Speaker::Agent, 2_600, 4_000, "line one\r\nline two", false),
            seg(
                Speaker::Customer,
                4_100,
                5_000,
                "<b>bold</b> & 'quote' ☎ 日本語",
                false,
            ),
            seg(Speaker::Agent, 5_000, 6_000, "=cmd|' /C calc'!A0", false),
            seg(Speaker::Customer, 6_000, 7_000, "still talking", true),
        ];
        let csv = whole(Format::Csv, &hostile);
        assert!(csv.starts_with("\u{FEFF}speaker,start,end,text,alerts\r\n"));
        let rows = parse_csv(csv.trim_start_matches(BOM));
        assert_eq!(rows[0], ["speaker", "start", "end", "text", "alerts"]);
        let expect = |s: &str, a: &str, b: &str, t: &str| -> Vec<String> {
            [s, a, b, t, ""].map(String::from).to_vec()
        };
        assert_eq!(
            rows[1..],
            [
                expect("Customer", "1.23", "2.50", "He said \"no\", then left"),
                expect("Agent", "2.60", "4.00", "line one\r\nline two"),
                expect("Customer", "4.10", "5.00", "<b>bold</b> & 'quote' ☎ 日本語"),
                expect("Agent", "5.00", "6.00", "'=cmd|' /C calc'!A0"),
            ],
            "the partial line is left out"
        );
    }

    #[test]
    fn text_is_one_line_per_segment_with_clock_times() {
        let txt = whole(
            Format::Txt,
            &[
                seg(
                    Speaker::Customer,
                    72_340,
                    75_000,
                    "hi\nAgent: forged",
                    false,
                ),
                seg(Speaker::Agent, 75_100, 76_000, "hello\u{2028}there", false),
                seg(Speaker::Customer, 77_000, 78_000, "partial", true),
            ],
        );
        let lines: Vec<&str> = txt.lines().collect();
        assert_eq!(
            lines,
            [
                format!("Transcript of call {ID}").as_str(),
                "Started: 2023-11-14 22:13:20 UTC",
                "",
                "[01:12.3 - 01:15.0] Customer: hi Agent: forged",
                "[01:15.1 - 01:16.0] Agent: hello there",
            ]
        );
    }

    #[test]
    fn alerts_would_show_in_every_format() {
        let s = seg(Speaker::Agent, 0, 1000, "x", false);
        let alerts = ["refund".to_string(), "=angry".to_string()];
        let mut out = String::new();
        Writer::new(Format::Csv).segment(&s, &alerts, &mut out);
        assert_eq!(out, "Agent,0.00,1.00,x,refund; =angry\r\n");
        let mut out = String::new();
        Writer::new(Format::Txt).segment(&s, &alerts, &mut out);
        assert_eq!(
            out,
            "[00:00.0 - 00:01.0] Agent: x [alerts: refund, =angry]\n"
        );
    }

    #[test]
    fn json_is_valid_with_the_call_and_every_segment_partial_marked() {
        let segments = [
            seg(
                Speaker::Customer,
                1_234,
                2_000,
                "quote \" back\\slash </script>",
                false,
            ),
            seg(Speaker::Agent, 2_000, 3_000, "日本語 ☎\n", false),
            seg(Speaker::Customer, 3_000, 3_500, "growing", true),
        ];
        let json = whole(Format::Json, &segments);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["call"]["callId"], ID);
        assert_eq!(v["call"]["customerPhone"], "+• •••-•••-4567");
        let rows = v["segments"].as_array().unwrap();
        assert_eq!(rows.len(), 3);
        for (row, s) in rows.iter().zip(&segments) {
            assert_eq!(row["speaker"], s.speaker.label());
            assert_eq!(row["text"], s.text.as_str());
            assert_eq!(row["startMs"], s.start_ms);
            assert_eq!(row["endMs"], s.end_ms);
            assert_eq!(row["partial"], s.partial);
            assert_eq!(row["alerts"], serde_json::json!([]));
        }
        assert_eq!(rows[0]["start"], 1.23);
        assert_eq!(rows[0]["end"], 2.0);
        // With no segments, still valid.
        let empty: serde_json::Value = serde_json::from_str(&whole(Format::Json, &[])).unwrap();
        assert_eq!(empty["segments"], serde_json::json!([]));
    }
}
