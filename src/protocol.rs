//! The WebSocket protocol, defined once for both ends.
//!
//! Every server frame is a JSON object with a `type` tag. Transcript frames
//! also carry the seed's two fields, `speaker` and `text`, at the top level,
//! so clients of the original FastAPI app keep working.

use serde::{Deserialize, Serialize};

use crate::model::{CallDetails, CallId, Segment, Seq};

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
    },
    /// A segment as it now stands: new, grown (partial) or final. A segment
    /// already shown is replaced in place (same speaker and start time).
    Transcript(Segment),
    /// Everything written before the socket opened has been sent.
    #[serde(rename_all = "camelCase")]
    CaughtUp { seq: Seq },
    /// The call's details changed (for example, it ended).
    CallUpdated { call: CallDetails },
    /// A new call started somewhere in the contact centre.
    NewCall { call: CallDetails },
    /// First frame on the lobby socket: the newest call, if any.
    Latest { call: Option<CallDetails> },
    /// The data source behind this call stopped (or resumed) answering;
    /// the stream continues from where it was once it is back.
    SourceStatus { available: bool },
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
