//! What the dashboard knows while it listens, and the one function that
//! changes it: [`LiveState::apply`] takes a server frame and says what the
//! page must do next (stop listening, open a call, log a warning).

use crate::live::status::{Flow, Link, Status};
use crate::live::transcript::Transcript;
use crate::model::{AlertSet, CallDetails, CallId, CallSnapshot, CallStatus, Seq};
use crate::protocol::{call_socket_path, ErrorCode, ServerMsg, LOBBY_SOCKET_PATH};

/// The dashboard's live state: what it shows, the state of the link and
/// the new call it announces, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveState {
    pub showing: Showing,
    pub link: Link,
    /// A call that started while not following ("a new call started").
    pub notice: Option<CallDetails>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Showing {
    /// A call, kept live on its own socket.
    Call(CallFeed),
    /// No call (and why), listening on the lobby socket for new ones.
    Lobby(LobbyReason),
}

/// A call on screen and where its stream stands.
#[derive(Clone, Debug, PartialEq)]
pub struct CallFeed {
    pub call: CallDetails,
    pub transcript: Transcript,
    /// The last position received: a reconnect resumes after it.
    pub last_seq: Seq,
    /// The numbering `last_seq` belongs to.
    pub epoch: u64,
    /// A shared link's grant, if the call was opened from one.
    pub grant: Option<String>,
    /// The alerts the call's lines raised.
    pub alerts: AlertSet,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LobbyReason {
    /// No call has started yet.
    Waiting,
    Unknown(CallId),
    Invalid(String),
    /// A shared link that opens nothing (expired, or not valid); the
    /// message says which.
    Link(String),
    /// The server could not answer; the message says why.
    Failed(String),
}

/// What the page must do after a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reaction {
    /// `Stop` when nothing more will come (the session ended).
    pub flow: Flow,
    /// Something on screen changed.
    pub redraw: bool,
    /// A new call started: the newest the page has heard of.
    pub heard_of: Option<CallId>,
    /// Go to this call (following new calls). The socket carries on until
    /// the view is replaced, so a call that starts meanwhile is not missed.
    pub open: Option<CallId>,
    /// A server error worth logging.
    pub warn: Option<String>,
}

impl Default for Reaction {
    fn default() -> Self {
        Self {
            flow: Flow::Continue,
            redraw: false,
            heard_of: None,
            open: None,
            warn: None,
        }
    }
}

impl LiveState {
    /// A call, from the snapshot the page loaded.
    pub fn call(snap: CallSnapshot, grant: Option<String>) -> Self {
        Self::new(Showing::Call(CallFeed {
            call: snap.details,
            transcript: Transcript::new(snap.segments),
            last_seq: snap.last_seq,
            epoch: snap.epoch,
            grant,
            alerts: AlertSet::new(snap.alerts),
        }))
    }

    pub fn lobby(reason: LobbyReason) -> Self {
        Self::new(Showing::Lobby(reason))
    }

    fn new(showing: Showing) -> Self {
        Self {
            showing,
            link: Link::Connecting,
            notice: None,
        }
    }

    /// Applies one server frame. `follow`: whether the page switches to
    /// each new call by itself (otherwise it announces it).
    pub fn apply(&mut self, msg: ServerMsg, follow: bool) -> Reaction {
        let mut then = Reaction::default();
        match (msg, &mut self.showing) {
            (
                ServerMsg::Hello {
                    call,
                    after,
                    epoch,
                    alerts,
                },
                Showing::Call(feed),
            ) => {
                feed.alerts = AlertSet::new(alerts);
                // The server could not resume where we were (it restarted,
                // or renumbered the call): it replays the call in full.
                if epoch != feed.epoch || after != feed.last_seq {
                    feed.transcript.clear();
                    feed.epoch = epoch;
                    feed.last_seq = after;
                }
                feed.call = call;
                then.redraw = true;
            }
            (ServerMsg::Alerts { alerts }, Showing::Call(feed)) => {
                let alerts = AlertSet::new(alerts);
                then.redraw = feed.alerts != alerts;
                feed.alerts = alerts;
            }
            (ServerMsg::Alert { alert }, Showing::Call(feed)) => {
                then.redraw = feed.alerts.add(alert);
            }
            (ServerMsg::CallUpdated { call }, Showing::Call(feed)) => {
                feed.call = call;
                then.redraw = true;
            }
            (ServerMsg::Transcript(seg), Showing::Call(feed)) => {
                feed.last_seq = feed.last_seq.max(seg.seq);
                then.redraw = feed.transcript.upsert(seg);
            }
            (ServerMsg::CaughtUp { seq }, Showing::Call(feed)) => {
                feed.last_seq = feed.last_seq.max(seq);
            }
            // A call that started while the page loaded.
            (ServerMsg::Latest { call: Some(call) }, Showing::Lobby(LobbyReason::Waiting))
            | (ServerMsg::NewCall { call }, _) => {
                then.heard_of = Some(call.call_id.clone());
                if follow {
                    then.open = Some(call.call_id.clone());
                } else {
                    self.notice = Some(call);
                    then.redraw = true;
                }
            }
            (
                ServerMsg::Error {
                    code: ErrorCode::Unavailable,
                    ..
                },
                _,
            )
            | (ServerMsg::SourceStatus { available: false }, Showing::Call(_)) => {
                then.redraw = self.set_link(Link::Unavailable);
            }
            (ServerMsg::SourceStatus { available: true }, Showing::Call(_)) => {
                then.redraw = self.set_link(Link::Live);
            }
            (
                ServerMsg::Error {
                    code: ErrorCode::SignedOut,
                    ..
                },
                _,
            ) => {
                then.redraw = self.set_link(Link::SignedOut);
                then.flow = Flow::Stop;
            }
            // Access to the call ended: the transcript so far stays, the
            // stream is over.
            (
                ServerMsg::Error {
                    code: ErrorCode::UnknownCall,
                    message,
                },
                Showing::Call(_),
            ) => {
                then.redraw = self.set_link(Link::AccessEnded);
                then.warn = Some(message);
                then.flow = Flow::Stop;
            }
            (ServerMsg::Error { message, .. }, Showing::Call(_)) => {
                then.warn = Some(message);
            }
            // Heartbeats only keep the socket from looking dead; the lobby
            // has no transcript and no data source of its own.
            _ => {}
        }
        then
    }

    /// The socket's own report of the link. Returns whether it changed.
    pub fn set_link(&mut self, link: Link) -> bool {
        std::mem::replace(&mut self.link, link) != link
    }

    /// Hides the new-call notice. Returns whether it was shown.
    pub fn dismiss_notice(&mut self) -> bool {
        self.notice.take().is_some()
    }

    /// What the status badge says.
    pub fn status(&self) -> Status {
        match &self.showing {
            Showing::Call(feed) => match self.link {
                // An ended call stays "ended" while the link is fine.
                Link::Live | Link::Connecting if feed.call.status() == CallStatus::Ended => {
                    Status::Ended
                }
                other => other.into(),
            },
            Showing::Lobby(reason) => match (reason, self.link) {
                (LobbyReason::Waiting, Link::Live) => Status::Waiting,
                (LobbyReason::Waiting, other) => other.into(),
                (LobbyReason::Unknown(_), _) => Status::UnknownCall,
                (LobbyReason::Invalid(_), _) => Status::InvalidCall,
                (LobbyReason::Link(_), _) => Status::LinkRefused,
                (LobbyReason::Failed(why), _) => Status::Error(why.clone()),
            },
        }
    }

    /// The socket to (re)connect to: a call's resumes after the last
    /// position received. `known` is the newest call the page has heard of.
    pub fn socket_path(&self, known: Option<&CallId>) -> String {
        match &self.showing {
            Showing::Call(feed) => call_socket_path(
                &feed.call.call_id,
                feed.last_seq,
                feed.epoch,
                known,
                feed.grant.as_deref(),
            ),
            Showing::Lobby(_) => LOBBY_SOCKET_PATH.to_string(),
        }
    }

    pub fn call_details(&self) -> Option<&CallDetails> {
        match &self.showing {
            Showing::Call(feed) => Some(&feed.call),
            Showing::Lobby(_) => None,
        }
    }

    /// The alerts of the call shown (none in the lobby).
    pub fn alerts(&self) -> Option<&AlertSet> {
        match &self.showing {
            Showing::Call(feed) => Some(&feed.alerts),
            Showing::Lobby(_) => None,
        }
    }

    /// The transcript shown (none in the lobby).
    pub fn transcript(&self) -> Option<&Transcript> {
        match &self.showing {
            Showing::Call(feed) => Some(&feed.transcript),
            Showing::Lobby(_) => None,
        }
    }
}

#[cfg(test)]
mod tests;
