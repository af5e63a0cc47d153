//! The WebSocket protocol, defined once for both ends.
//!
//! Every server frame is a JSON object with a `type` tag. Transcript frames
//! also carry the original app's two fields, `speaker` and `text`, at the top level,
//! so clients of the original FastAPI app keep working.

use serde::{Deserialize, Serialize};

use crate::model::{Alert, CallDetails, CallId, FloorRow, Segment, Seq};

/// Close codes the server uses; the browser shows a status for each.
pub mod close {
    /// The server is shutting down or restarting: reconnect.
    pub const GOING_AWAY: u16 = 1001;
    /// The client broke the protocol (a malformed frame, a bad origin).
    pub const POLICY: u16 = 1008;
    /// A frame from the client was larger than allowed.
    pub const TOO_BIG: u16 = 1009;
    /// The call id in the path is not a call id.
    pub const MALFORMED_CALL_ID: u16 = 4400;
    /// The session ended (signed out, expired, account disabled).
    pub const SIGNED_OUT: u16 = 4401;
    /// No such call (or none this user may see: the same answer).
    pub const UNKNOWN_CALL: u16 = 4404;
    /// The data source is unavailable; reconnect later.
    pub const UNAVAILABLE: u16 = 4503;
}

/// How long a client waits before its `attempt`-th reconnect (1, 2, …):
/// 400 ms doubling each time, at most 15 s, times a jitter in [0.5, 1)
/// taken from `random` (in [0, 1)), so a restarted server is not met by
/// every client at once.
pub fn backoff_ms(attempt: u32, random: f64) -> u32 {
    const BASE_MS: f64 = 400.0;
    const MAX_MS: f64 = 15_000.0;
    let exp = BASE_MS * 2f64.powi(attempt.saturating_sub(1).min(16) as i32);
    (exp.min(MAX_MS) * (0.5 + random.clamp(0.0, 1.0) * 0.5)) as u32
}

/// Frames sent by the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerMsg {
    /// First frame on a call socket: the call, the position the stream
    /// resumes after, and the epoch of the positions. When the client's
    /// epoch was not the server's (a restart, a rebuilt cache), `after` is 0
    /// and the whole call follows: the client starts its transcript afresh.
    #[serde(rename_all = "camelCase")]
    Hello {
        call: CallDetails,
        after: Seq,
        epoch: u64,
        /// Every alert the call's lines raised so far (those raised later
        /// come as `alert` frames).
        #[serde(default)]
        alerts: Vec<Alert>,
    },
    /// A segment as it now stands: new, grown (partial) or final. A segment
    /// already shown is replaced in place (same speaker and start time).
    Transcript(Segment),
    /// Everything written before the socket opened has been sent.
    #[serde(rename_all = "camelCase")]
    CaughtUp { seq: Seq },
    /// Every alert the call's lines raised so far, after the socket
    /// re-read what it missed: replaces the page's.
    Alerts { alerts: Vec<Alert> },
    /// A final line raised an alert.
    Alert { alert: Alert },
    /// The call's details changed (for example, it ended).
    CallUpdated { call: CallDetails },
    /// A new call started somewhere in the contact centre.
    NewCall { call: CallDetails },
    /// First frame on the lobby socket: the newest call, if any.
    Latest { call: Option<CallDetails> },
    /// The data source behind this call stopped (or resumed) answering;
    /// the stream continues from where it was once it is back.
    SourceStatus { available: bool },
    /// First frame on the floor socket: every call on the floor this
    /// viewer may see, newest first (sent again if the socket fell behind).
    Floor { rows: Vec<FloorRow> },
    /// One call's row as it now stands (new, a new last line, ended).
    /// (Boxed: a row is the largest frame, and most frames are small.)
    FloorRow { row: Box<FloorRow> },
    /// Sent when nothing else was for a while, so the browser can tell a
    /// quiet call from a dead connection.
    Heartbeat,
    /// Something went wrong; `code` is stable, `message` is for people.
    Error { code: ErrorCode, message: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    MalformedCallId,
    UnknownCall,
    Unavailable,
    BadFrame,
    SignedOut,
}

/// Frames the browser may send. Anything else closes the socket with
/// [`close::POLICY`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ClientMsg {
    /// Keeps the connection warm through proxies that drop idle sockets.
    Ping,
}

/// Largest frame the server accepts from a browser.
pub const MAX_CLIENT_FRAME: usize = 1024;

/// Path of the socket for one call, resuming after `after` of `epoch`.
/// `known` is the newest call the page has heard of: if a newer one
/// started while the page was between sockets, the server announces it.
/// `grant` is a signed link's grant, for a call shared with this user.
pub fn call_socket_path(
    id: &CallId,
    after: Seq,
    epoch: u64,
    known: Option<&CallId>,
    grant: Option<&str>,
) -> String {
    let mut path = format!("/ws/{id}?after={after}&epoch={epoch}");
    if let Some(known) = known {
        path.push_str(&format!("&known={known}"));
    }
    if let Some(grant) = grant.filter(|g| is_grant_shaped(g)) {
        path.push_str(&format!("&grant={grant}"));
    }
    path
}

/// A grant as the server issues them (digits, a dot, URL-safe base64):
/// anything else is not passed along.
pub fn is_grant_shaped(grant: &str) -> bool {
    !grant.is_empty()
        && grant.len() <= 128
        && grant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Path of the lobby socket: new-call pushes only.
pub const LOBBY_SOCKET_PATH: &str = "/ws/calls";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Speaker;

    #[test]
    fn reconnects_back_off_exponentially_with_jitter_up_to_a_cap() {
        // Without jitter's low half: 400, 800, 1600, … capped at 15 s.
        let top: Vec<u32> = (1..=8).map(|a| backoff_ms(a, 1.0)).collect();
        assert_eq!(top, [400, 800, 1600, 3200, 6400, 12_800, 15_000, 15_000]);
        assert_eq!(backoff_ms(u32::MAX, 1.0), 15_000, "no overflow");
        // Jitter spreads each wait over [half, whole).
        for attempt in 1..=10 {
            let whole = backoff_ms(attempt, 1.0);
            assert_eq!(backoff_ms(attempt, 0.0), whole / 2);
            let mid = backoff_ms(attempt, 0.5);
            assert!(whole / 2 < mid && mid < whole, "{attempt}: {mid}");
        }
        // Whatever the random source says.
        assert_eq!(backoff_ms(1, -3.0), 200);
        assert_eq!(backoff_ms(1, 7.0), 400);
    }

    #[test]
    fn transcript_frames_keep_the_seed_fields_at_top_level() {
        let msg = ServerMsg::Transcript(Segment {
            seq: Seq(7),
            segment_id: "abc".into(),
            speaker: Speaker::Agent,
            start_ms: 1200,
            end_ms: 2400,
            text: "Hello <b>there</b>".into(),
            partial: true,
        });
        let v: serde_json::Value = serde_json::to_value(&msg).unwrap();
        assert_eq!(v["type"], "transcript");
        assert_eq!(v["speaker"], "Agent");
        assert_eq!(v["text"], "Hello <b>there</b>");
        assert_eq!(v["seq"], 7);
        assert_eq!(v["segmentId"], "abc");
        assert_eq!(v["startMs"], 1200);
        assert_eq!(v["partial"], true);
        let back: ServerMsg = serde_json::from_value(v).unwrap();
        assert_eq!(back, msg);
    }

    #[test]
    fn client_frames_are_strict() {
        assert_eq!(
            serde_json::from_str::<ClientMsg>(r#"{"type":"ping"}"#).unwrap(),
            ClientMsg::Ping
        );
        assert!(serde_json::from_str::<ClientMsg>(r#"{"type":"drop"}"#).is_err());
        assert!(serde_json::from_str::<ClientMsg>("not json").is_err());
    }
}
