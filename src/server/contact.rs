//! Turning a `contactDetails` item (its attributes as strings) into
//! [`CallDetails`], shared by every store so all read the same way; and
//! making a new call's item as the contact flow writes it.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::model::{CallDetails, CallId};

use super::timestamp::{format_call_date, format_js_date_string, parse_call_timestamp};

pub use crate::model::{
    ATTR_AUDIO_FROM_CUSTOMER, ATTR_AUDIO_TO_CUSTOMER, ATTR_COMBINED_AUDIO, ATTR_CONTACT_ID,
    ATTR_DATE, ATTR_PHONE, ATTR_PHONE_ALT, ATTR_TIMESTAMP,
};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContactError {
    #[error("item has no contactId")]
    MissingId,
    #[error("item's contactId {0:?} is not a contact id")]
    BadId(String),
}

/// Parses an item. An unparsable timestamp is kept as an attribute and the
/// start time left unknown; only a missing or malformed id rejects the item.
pub fn details_from_attributes(
    attributes: BTreeMap<String, String>,
    ended_at_ms: Option<i64>,
    audio_stream_prefix: Option<&str>,
) -> Result<CallDetails, ContactError> {
    let raw_id = attributes
        .get(ATTR_CONTACT_ID)
        .ok_or(ContactError::MissingId)?;
    let call_id = CallId::parse(raw_id)
        .map_err(|_| ContactError::BadId(raw_id.chars().take(80).collect()))?;
    let customer_phone = attributes
        .get(ATTR_PHONE)
        .or_else(|| attributes.get(ATTR_PHONE_ALT))
        .filter(|p| !p.trim().is_empty())
        .cloned();
    let started_at_ms = attributes
        .get(ATTR_TIMESTAMP)
        .and_then(|t| parse_call_timestamp(t));
    let audio_stream = audio_stream_prefix.map(|prefix| format!("{prefix}{call_id}"));
    Ok(CallDetails {
        audio_stream,
        call_id,
        customer_phone,
        started_at_ms,
        ended_at_ms,
        attributes,
    })
}

/// A new call's attributes as the contact flow writes them: `attributes`
/// as given, with the call's id, the customer's number when known, and the
/// call's time `at` unless `attributes` already hold one.
pub fn new_contact_attributes(
    id: &CallId,
    at: OffsetDateTime,
    customer_phone: Option<String>,
    mut attributes: BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    attributes.insert(ATTR_CONTACT_ID.into(), id.to_string());
    attributes
        .entry(ATTR_TIMESTAMP.into())
        .or_insert_with(|| format_js_date_string(at));
    attributes
        .entry(ATTR_DATE.into())
        .or_insert_with(|| format_call_date(at));
    if let Some(phone) = customer_phone {
        attributes.insert(ATTR_PHONE.into(), phone);
    }
    attributes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_full_item_parses_and_keeps_unknown_attributes() {
        let d = details_from_attributes(
            attrs(&[
                ("contactId", "0f8fad5b-d9cb-469f-a165-70867728950e"),
                ("customerPhoneNumber", "+14155550123"),
                (
                    "callTimestamp",
                    "Thu Jan 05 2023 12:28:53 GMT-0500 (Eastern Standard Time)",
                ),
                ("mergeStatus", "done"),
            ]),
            None,
            None,
        )
        .unwrap();
        assert_eq!(d.customer_phone.as_deref(), Some("+14155550123"));
        assert_eq!(d.started_at_ms, Some(1_672_939_733_000));
        let extra: Vec<_> = d.extra_attributes().map(|(k, _)| k.as_str()).collect();
        assert_eq!(extra, ["mergeStatus"]);
        assert_eq!(d.audio_stream, None);
        let with_stream = details_from_attributes(
            attrs(&[("contactId", "0f8fad5b-d9cb-469f-a165-70867728950e")]),
            None,
            Some("live-audio-connect-travoiqbot-contact-"),
        )
        .unwrap();
        assert_eq!(
            with_stream.audio_stream.as_deref(),
            Some("live-audio-connect-travoiqbot-contact-0f8fad5b-d9cb-469f-a165-70867728950e")
        );
    }

    #[test]
    fn odd_items_are_rejected_or_degraded_not_fatal() {
        assert_eq!(
            details_from_attributes(attrs(&[("customerPhoneNumber", "+1")]), None, None),
            Err(ContactError::MissingId)
        );
        assert!(matches!(
            details_from_attributes(attrs(&[("contactId", "<img src=x>")]), None, None),
            Err(ContactError::BadId(_))
        ));
        let d = details_from_attributes(
            attrs(&[
                ("contactId", "0f8fad5b-d9cb-469f-a165-70867728950e"),
                ("callTimestamp", "soon"),
                ("phoneNumber", "+442071838750"),
            ]),
            None,
            None,
        )
        .unwrap();
        assert_eq!(d.started_at_ms, None);
        assert_eq!(d.customer_phone.as_deref(), Some("+442071838750"));
    }

    #[test]
    fn a_new_contact_reads_back_as_the_call_it_describes() {
        let id = CallId::parse("0f8fad5b-d9cb-469f-a165-70867728950e").unwrap();
        let at = time::macros::datetime!(2023-01-05 17:28:53 UTC);
        let attributes = new_contact_attributes(
            &id,
            at,
            Some("+14155550123".into()),
            attrs(&[("agentUsername", "amy")]),
        );
        let d = details_from_attributes(attributes, None, None).unwrap();
        assert_eq!(d.call_id, id);
        assert_eq!(d.customer_phone.as_deref(), Some("+14155550123"));
        assert_eq!(d.started_at_ms, Some(1_672_939_733_000));
        assert_eq!(d.attributes["agentUsername"], "amy");
        assert!(d.attributes.contains_key(ATTR_DATE));
        // A time already given is kept.
        let given = new_contact_attributes(&id, at, None, attrs(&[(ATTR_TIMESTAMP, "soon")]));
        assert_eq!(given[ATTR_TIMESTAMP], "soon");
        assert!(!given.contains_key(ATTR_PHONE));
    }
}
