//! Parsing of `callTimestamp` values as the upstream writers store them.
//!
//! The contact-details writer stores JavaScript's `Date.toString()`, e.g.
//! `Thu Jan 05 2023 12:28:53 GMT-0500 (Eastern Standard Time)`, which does
//! not sort as a string. Others store ISO-8601 or epoch numbers.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Milliseconds since the Unix epoch, or `None` when the value is not a
/// timestamp in any form we know.
pub fn parse_call_timestamp(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 128 {
        return None;
    }
    parse_js_date_string(raw)
        .or_else(|| OffsetDateTime::parse(raw, &Rfc3339).ok())
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .or_else(|| parse_epoch(raw))
}

/// `Thu Jan 05 2023 12:28:53 GMT-0500 (Eastern Standard Time)`; the zone
/// name in brackets is optional and ignored (the offset is authoritative).
fn parse_js_date_string(raw: &str) -> Option<OffsetDateTime> {
    let main = raw.split(" (").next()?;
    let (local, offset) = main.rsplit_once(" GMT")?;
    let local = PrimitiveDateTime::parse(
        local,
        format_description!(
            "[weekday repr:short] [month repr:short] [day] [year] [hour]:[minute]:[second]"
        ),
    )
    .ok()?;
    let offset = UtcOffset::parse(
        offset,
        format_description!("[offset_hour sign:mandatory][offset_minute]"),
    )
    .ok()?;
    Some(local.assume_offset(offset))
}

/// Epoch seconds or milliseconds (told apart by magnitude: 1e11 seconds is
/// the year 5138, 1e11 milliseconds is 1973).
fn parse_epoch(raw: &str) -> Option<i64> {
    let n: f64 = raw.parse().ok()?;
    if !n.is_finite() || n <= 0.0 {
        return None;
    }
    let ms = if n < 1e11 { n * 1000.0 } else { n };
    (ms < 1e15).then_some(ms as i64)
}

/// Formats an instant the way the upstream writer stores `callTimestamp`.
pub fn format_js_date_string(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let body = t
        .format(format_description!(
            "[weekday repr:short] [month repr:short] [day] [year] [hour]:[minute]:[second]"
        ))
        .unwrap_or_default();
    format!("{body} GMT+0000 (Coordinated Universal Time)")
}

/// `callDate` as upstream writes it: `1/5/2023` (month/day/year, no padding).
pub fn format_call_date(t: OffsetDateTime) -> String {
    format!("{}/{}/{}", u8::from(t.month()), t.day(), t.year())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn javascript_date_strings_parse_with_their_offset() {
        // 12:28:53 at UTC-5 is 17:28:53 UTC.
        let ms = parse_call_timestamp("Thu Jan 05 2023 12:28:53 GMT-0500 (Eastern Standard Time)");
        assert_eq!(ms, Some(1_672_939_733_000));
        let ms = parse_call_timestamp("Thu Jan 05 2023 17:28:53 GMT+0000");
        assert_eq!(ms, Some(1_672_939_733_000));
    }

    #[test]
    fn string_order_is_not_time_order_but_parsed_order_is() {
        let a = "Wed Feb 01 2023 09:00:00 GMT+0000 (Coordinated Universal Time)";
        let b = "Thu Jan 05 2023 12:28:53 GMT-0500 (Eastern Standard Time)";
        // As strings "Wed..." > "Thu...", yet a is the later call.
        assert!(a > b);
        assert!(parse_call_timestamp(a).unwrap() > parse_call_timestamp(b).unwrap());
        let c = "Fri Jan 06 2023 00:00:00 GMT+0000";
        assert!(c < b, "as strings");
        assert!(parse_call_timestamp(c).unwrap() > parse_call_timestamp(b).unwrap());
    }

    #[test]
    fn iso_and_epoch_forms_parse() {
        assert_eq!(
            parse_call_timestamp("2023-01-05T17:28:53Z"),
            Some(1_672_939_733_000)
        );
        assert_eq!(
            parse_call_timestamp("2023-01-05T17:28:53.250+00:00"),
            Some(1_672_939_733_250)
        );
        assert_eq!(parse_call_timestamp("1672939733"), Some(1_672_939_733_000));
        assert_eq!(
            parse_call_timestamp("1672939733250"),
            Some(1_672_939_733_250)
        );
    }

    #[test]
    fn junk_is_none() {
        for junk in [
            "",
            "yesterday",
            "Thu Jan 45 2023 12:28:53 GMT-0500",
            "-5",
            "NaN",
            "1e400",
        ] {
            assert_eq!(parse_call_timestamp(junk), None, "{junk}");
        }
    }

    #[test]
    fn our_own_format_round_trips() {
        let t = OffsetDateTime::from_unix_timestamp(1_672_939_733).unwrap();
        let s = format_js_date_string(t);
        assert_eq!(
            s,
            "Thu Jan 05 2023 17:28:53 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(parse_call_timestamp(&s), Some(1_672_939_733_000));
        assert_eq!(format_call_date(t), "1/5/2023");
    }
}
