//! Calls: their ids, their details as `contactDetails` holds them, and
//! what a page needs to draw one.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::segment::{Segment, Seq};

/// Longest input we even try to parse as a call id; anything longer is
/// rejected before any other work is done.
pub const MAX_CALL_ID_INPUT: usize = 64;

/// An Amazon Connect contact id: a UUID, kept in its canonical lower-case,
/// hyphenated form. The only way to get one is [`CallId::parse`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CallId(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum CallIdError {
    #[error("a call id is required")]
    Empty,
    #[error("a call id is at most {MAX_CALL_ID_INPUT} characters")]
    TooLong,
    #[error("a call id looks like 0f8fad5b-d9cb-469f-a165-70867728950e")]
    Malformed,
}

impl CallId {
    /// Parses user or table input. Surrounding white space is ignored and
    /// upper-case hex digits are accepted; the stored form is lower case.
    pub fn parse(raw: &str) -> Result<Self, CallIdError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(CallIdError::Empty);
        }
        if raw.len() > MAX_CALL_ID_INPUT {
            return Err(CallIdError::TooLong);
        }
        // Only the hyphenated 8-4-4-4-12 form, as Amazon Connect writes it.
        if raw.len() != 36 {
            return Err(CallIdError::Malformed);
        }
        let uuid = uuid::Uuid::try_parse(raw).map_err(|_| CallIdError::Malformed)?;
        Ok(Self(uuid.hyphenated().to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CallId {
    type Error = CallIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CallId> for String {
    fn from(value: CallId) -> Self {
        value.0
    }
}

/// The `contactDetails` attributes the monitor reads or writes, under
/// their table names. The transcript tables' attributes are the DynamoDB
/// store's own (`server::store::dynamo::items`).
pub const ATTR_CONTACT_ID: &str = "contactId";
pub const ATTR_PHONE: &str = "customerPhoneNumber";
/// Written by the original app's own incoming-call webhook instead of the above.
pub const ATTR_PHONE_ALT: &str = "phoneNumber";
pub const ATTR_TIMESTAMP: &str = "callTimestamp";
pub const ATTR_DATE: &str = "callDate";
/// Added by the recording pipeline once a call is over.
pub const ATTR_COMBINED_AUDIO: &str = "combinedAudio";
pub const ATTR_AUDIO_FROM_CUSTOMER: &str = "audioFromCustomer";
pub const ATTR_AUDIO_TO_CUSTOMER: &str = "audioToCustomer";

/// Whether a call is still going on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CallStatus {
    Live,
    Ended,
}

/// One row of `contactDetails`, parsed, with every attribute kept as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallDetails {
    pub call_id: CallId,
    pub customer_phone: Option<String>,
    /// Call start, milliseconds since the Unix epoch, parsed from
    /// `callTimestamp` (absent when the table's value could not be parsed).
    pub started_at_ms: Option<i64>,
    pub ended_at_ms: Option<i64>,
    /// The call's audio stream (`KINESIS_STREAM_PREFIX` + contact id), when
    /// a prefix is configured.
    #[serde(default)]
    pub audio_stream: Option<String>,
    /// Every attribute of the item under its table name (`contactId`,
    /// `customerPhoneNumber`, `callTimestamp`, and whatever else it has).
    pub attributes: BTreeMap<String, String>,
}

impl CallDetails {
    pub fn status(&self) -> CallStatus {
        if self.ended_at_ms.is_some() {
            CallStatus::Ended
        } else {
            CallStatus::Live
        }
    }

    /// Attributes other than the ones shown in their own right on the card,
    /// with a label for people: the known ones named in words, others by
    /// their attribute name.
    pub fn labelled_extras(&self) -> impl Iterator<Item = (&str, &String, &String)> {
        self.extra_attributes()
            .map(|(k, v)| (attribute_label(k).unwrap_or(k.as_str()), k, v))
    }

    /// Attributes other than the ones shown in their own right on the card.
    pub fn extra_attributes(&self) -> impl Iterator<Item = (&String, &String)> {
        const SHOWN: [&str; 4] = [ATTR_CONTACT_ID, ATTR_PHONE, ATTR_TIMESTAMP, ATTR_DATE];
        self.attributes
            .iter()
            .filter(|(k, _)| !SHOWN.contains(&k.as_str()))
    }
}

/// Words for the contact attributes the upstream writers and Amazon
/// Connect are known to add (see the table schemas); `None` for others.
pub fn attribute_label(key: &str) -> Option<&'static str> {
    Some(match key {
        "agentUsername" | "agentId" | "agent" => "Agent",
        ATTR_PHONE_ALT => "Phone number (from the call's webhook)",
        "contactTranscriptFromCustomer" => "Customer's transcript file",
        "contactTranscriptToCustomer" => "Agent's transcript file",
        ATTR_AUDIO_FROM_CUSTOMER => "Customer's recording",
        ATTR_AUDIO_TO_CUSTOMER => "Agent's recording",
        ATTR_COMBINED_AUDIO => "Combined recording",
        "mergeStatus" => "Recording merge",
        "queue" | "queueName" => "Queue",
        "channel" => "Channel",
        "initiationMethod" => "Started by",
        _ => return None,
    })
}

/// What the page needs to draw a call: its details and the transcript so
/// far, with the position to resume the live stream from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallSnapshot {
    pub details: CallDetails,
    pub segments: Vec<Segment>,
    pub last_seq: Seq,
    /// The numbering `last_seq` belongs to (see [`CallStore::epoch`] on the
    /// server): positions from another epoch mean nothing.
    pub epoch: u64,
    /// The alerts its lines raised so far.
    #[serde(default)]
    pub alerts: Vec<super::Alert>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_extra_attributes_are_named_in_words_and_others_by_their_key() {
        let call = CallDetails {
            call_id: CallId::parse("0f8fad5b-d9cb-469f-a165-70867728950e").unwrap(),
            customer_phone: None,
            started_at_ms: None,
            ended_at_ms: None,
            audio_stream: None,
            attributes: BTreeMap::from([
                (ATTR_CONTACT_ID.to_string(), "x".to_string()),
                ("agentUsername".to_string(), "alice".to_string()),
                ("mergeStatus".to_string(), "DONE".to_string()),
                ("vipTier".to_string(), "gold".to_string()),
            ]),
        };
        let labels: Vec<_> = call
            .labelled_extras()
            .map(|(l, k, _)| (l, k.as_str()))
            .collect();
        assert_eq!(
            labels,
            [
                ("Agent", "agentUsername"),
                ("Recording merge", "mergeStatus"),
                ("vipTier", "vipTier")
            ]
        );
    }

    #[test]
    fn call_id_accepts_connect_uuids_and_normalises_case() {
        let id = CallId::parse(" 0F8FAD5B-D9CB-469F-A165-70867728950E ").unwrap();
        assert_eq!(id.as_str(), "0f8fad5b-d9cb-469f-a165-70867728950e");
    }

    #[test]
    fn call_id_rejects_everything_else() {
        assert_eq!(CallId::parse(""), Err(CallIdError::Empty));
        assert_eq!(CallId::parse("   "), Err(CallIdError::Empty));
        assert_eq!(CallId::parse(&"a".repeat(65)), Err(CallIdError::TooLong));
        for bad in [
            "abc",
            "0f8fad5bd9cb469fa16570867728950e", // simple form: not what Connect writes
            "{0f8fad5b-d9cb-469f-a165-70867728950e}",
            "0f8fad5b-d9cb-469f-a165-70867728950g",
            "0f8fad5b-d9cb-469f-a165-70867728950é",
            "<script>alert(1)</script>-aaaa-bbbb-cccc",
            "../../etc/passwd",
        ] {
            assert!(CallId::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn call_id_deserialisation_validates() {
        let ok: Result<CallId, _> =
            serde_json::from_str("\"0f8fad5b-d9cb-469f-a165-70867728950e\"");
        assert!(ok.is_ok());
        let bad: Result<CallId, _> = serde_json::from_str("\"nope\"");
        assert!(bad.is_err());
    }
}
