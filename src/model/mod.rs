//! Domain types shared by the server and the browser: calls, speakers and
//! transcript segments, users. Everything that crosses the wire is defined
//! here once.

mod alert;
mod call;
mod floor;
mod link;
mod segment;
mod user;

pub use alert::{
    mark_hits, Alert, AlertCount, AlertSet, PatternKind, Rule, RuleId, Severity, Watches,
    MAX_LABEL, MAX_PATTERN,
};
pub use call::{
    CallDetails, CallId, CallIdError, CallSnapshot, CallStatus, ATTR_AUDIO_FROM_CUSTOMER,
    ATTR_AUDIO_TO_CUSTOMER, ATTR_COMBINED_AUDIO, ATTR_CONTACT_ID, ATTR_DATE, ATTR_PHONE,
    ATTR_PHONE_ALT, ATTR_TIMESTAMP, MAX_CALL_ID_INPUT,
};
pub use floor::{FloorRow, LastLine, LAST_LINE_CHARS};
pub use link::{LinkId, LinkIdError, LinkState, LinkSummary, LINK_ID_LEN};
pub use segment::{conversation_order, format_offset, Segment, SegmentKey, Seq, Speaker};
pub use user::{AccountSummary, Role, SignInHint, User, Username, UsernameError, MAX_USERNAME};
