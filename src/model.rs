//! Domain types shared by the server and the browser: calls, speakers and
//! transcript segments. Everything that crosses the wire is defined here once.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

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

/// Who said a line. The two transcript tables map one-to-one onto these:
/// `contactTranscriptSegments` is the customer, `...ToCustomer` the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Speaker {
    Customer,
    Agent,
}

impl Speaker {
    pub fn label(self) -> &'static str {
        match self {
            Speaker::Customer => "Customer",
            Speaker::Agent => "Agent",
        }
    }
}

/// A per-call position in the stream of transcript changes. Every write to a
/// call's transcript (a new segment, a partial growing, a final) gets the
/// next one, so "everything after N" is exactly what a viewer has not seen.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Seq(pub u64);

impl Seq {
    pub const ZERO: Seq = Seq(0);
    pub fn next(self) -> Seq {
        Seq(self.0 + 1)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The stable identity of one utterance: the table it lives in (speaker) and
/// its sort key. Partials of an utterance overwrite the same key, so a bubble
/// keyed by it is updated in place rather than duplicated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SegmentKey {
    pub start_ms: i64,
    pub speaker: Speaker,
}

/// One utterance as it stands after its latest write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Segment {
    /// Position of the write that produced this state of the segment.
    pub seq: Seq,
    /// The upstream segment id (the seed's only identity; informative only).
    pub segment_id: String,
    pub speaker: Speaker,
    /// Milliseconds from the start of the transcription session.
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
    /// True while the transcriber may still revise the text.
    pub partial: bool,
}

impl Segment {
    pub fn key(&self) -> SegmentKey {
        SegmentKey {
            start_ms: self.start_ms,
            speaker: self.speaker,
        }
    }
}

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

    /// Attributes other than the ones shown in their own right on the card.
    pub fn extra_attributes(&self) -> impl Iterator<Item = (&String, &String)> {
        const SHOWN: [&str; 4] = [
            "contactId",
            "customerPhoneNumber",
            "callTimestamp",
            "callDate",
        ];
        self.attributes
            .iter()
            .filter(|(k, _)| !SHOWN.contains(&k.as_str()))
    }
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
}

/// What a signed-in user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees every call.
    Supervisor,
    /// Sees the calls that are theirs, and calls shared with them.
    Agent,
    /// A supervisor who also manages accounts.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Supervisor, Role::Agent, Role::Admin];

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.to_ascii_lowercase().as_str() {
            "supervisor" => Some(Self::Supervisor),
            "agent" => Some(Self::Agent),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Supervisor => "supervisor",
            Self::Agent => "agent",
            Self::Admin => "admin",
        }
    }

    /// Supervisors and admins see every call.
    pub fn sees_every_call(self) -> bool {
        matches!(self, Self::Supervisor | Self::Admin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Longest username accepted.
pub const MAX_USERNAME: usize = 64;

/// An account's name: 1 to 64 of lower-case letters, digits, `.`, `_`, `-`
/// and `@`, starting with a letter or digit. Input is lower-cased first.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("a username is 1 to {MAX_USERNAME} characters")]
    Length,
    #[error("a username may hold only letters, digits, '.', '_', '-' and '@', and starts with a letter or digit")]
    Characters,
}

impl Username {
    pub fn parse(raw: &str) -> Result<Self, UsernameError> {
        let name = raw.trim().to_lowercase();
        if name.is_empty() || name.chars().count() > MAX_USERNAME {
            return Err(UsernameError::Length);
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_@".contains(c);
        let starts_well = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !starts_well || !name.chars().all(allowed) {
            return Err(UsernameError::Characters);
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl TryFrom<String> for Username {
    type Error = UsernameError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Username> for String {
    fn from(name: Username) -> Self {
        name.0
    }
}

/// The signed-in user, as the page shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub username: Username,
    pub role: Role,
}

/// An account as the admin page lists it (never its password hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountSummary {
    pub username: Username,
    pub role: Role,
    /// The value of the agent attribute that marks this user's calls.
    pub agent_id: String,
    pub disabled: bool,
}

/// Orders segments as a conversation: by start time, customer first on a tie.
pub fn conversation_order(a: &Segment, b: &Segment) -> std::cmp::Ordering {
    a.key().cmp(&b.key())
}

/// Formats a millisecond offset as `m:ss` (or `h:mm:ss` past an hour).
pub fn format_offset(ms: i64) -> String {
    let total = ms.max(0) / 1000;
    let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn speaker_serialises_as_the_seed_did() {
        assert_eq!(
            serde_json::to_string(&Speaker::Customer).unwrap(),
            "\"Customer\""
        );
        assert_eq!(serde_json::to_string(&Speaker::Agent).unwrap(), "\"Agent\"");
        assert!(serde_json::from_str::<Speaker>("\"Supervisor\"").is_err());
    }

    #[test]
    fn conversation_order_is_by_start_then_customer_first() {
        let seg = |speaker, start_ms| Segment {
            seq: Seq(1),
            segment_id: String::new(),
            speaker,
            start_ms,
            end_ms: start_ms,
            text: String::new(),
            partial: false,
        };
        let mut v = [
            seg(Speaker::Agent, 2000),
            seg(Speaker::Agent, 500),
            seg(Speaker::Customer, 2000),
        ];
        v.sort_by(conversation_order);
        let keys: Vec<_> = v.iter().map(|s| (s.speaker, s.start_ms)).collect();
        assert_eq!(
            keys,
            [
                (Speaker::Agent, 500),
                (Speaker::Customer, 2000),
                (Speaker::Agent, 2000)
            ]
        );
    }

    #[test]
    fn offsets_format_as_clock_time() {
        assert_eq!(format_offset(0), "0:00");
        assert_eq!(format_offset(61_500), "1:01");
        assert_eq!(format_offset(3_725_000), "1:02:05");
        assert_eq!(format_offset(-5), "0:00");
    }
}
