//! The state of the live link and the status the page shows for it.

/// Whether a socket handler wants more frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// The state of the live link, as the socket and the server's frames
/// report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Live,
    Reconnecting,
    /// Connected to the server, but its data source is down.
    Unavailable,
    /// The session ended: nothing more will come until the user signs in.
    SignedOut,
    /// Access to the call ended (a shared link expired or was revoked, the
    /// call moved to another agent): nothing more will come.
    AccessEnded,
}

impl From<Link> for Status {
    fn from(link: Link) -> Self {
        match link {
            Link::Connecting => Status::Connecting,
            Link::Live => Status::Live,
            Link::Reconnecting => Status::Reconnecting,
            Link::Unavailable => Status::Unavailable,
            Link::SignedOut => Status::SignedOut,
            Link::AccessEnded => Status::AccessEnded,
        }
    }
}

/// What the status badge says: the link's state, or what the page shows
/// when that says more (an ended call, a lobby's reason).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Live,
    Reconnecting,
    /// The server is up but its data source is not.
    Unavailable,
    SignedOut,
    AccessEnded,
    Ended,
    Waiting,
    UnknownCall,
    InvalidCall,
    /// The shared link the page was opened with opens nothing.
    LinkRefused,
    Error(String),
}

impl Status {
    pub fn label(&self) -> String {
        match self {
            Status::Connecting => "Connecting…".into(),
            Status::Live => "Connected".into(),
            Status::Reconnecting => "Connection lost, reconnecting…".into(),
            Status::Unavailable => "Data source unavailable, retrying…".into(),
            Status::SignedOut => "Signed out".into(),
            Status::AccessEnded => "Access to this call ended".into(),
            Status::Ended => "Call ended".into(),
            // The page's heading says what it waits for; this is the link.
            Status::Waiting => "Listening for new calls".into(),
            Status::UnknownCall => "Unknown call".into(),
            Status::InvalidCall => "Invalid call id".into(),
            Status::LinkRefused => "Link not usable".into(),
            Status::Error(reason) => format!("Error: {reason}"),
        }
    }

    /// Nothing more will come from the server until the user acts (signs
    /// in again, or is given access again).
    pub fn is_final(&self) -> bool {
        matches!(self, Status::SignedOut | Status::AccessEnded)
    }

    /// A stable name for styling and tests.
    pub fn key(&self) -> &'static str {
        match self {
            Status::Connecting => "connecting",
            Status::Live => "live",
            Status::Reconnecting => "reconnecting",
            Status::Unavailable => "unavailable",
            Status::SignedOut => "signed-out",
            Status::AccessEnded => "access-ended",
            Status::Ended => "ended",
            Status::Waiting => "waiting",
            Status::UnknownCall => "unknown",
            Status::InvalidCall => "invalid",
            Status::LinkRefused => "link-refused",
            Status::Error(_) => "error",
        }
    }
}
