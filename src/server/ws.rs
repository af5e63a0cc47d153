//! WebSocket endpoints: `/ws/{call_id}` streams one call, `/ws/calls` (the
//! lobby) pushes new calls. Both send heartbeats, detect dead peers, cap
//! what they accept and close with a code that says why.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tracing::Instrument;

use crate::model::{CallDetails, CallId, Seq};
use crate::protocol::{close, ClientMsg, ErrorCode, ServerMsg, MAX_CLIENT_FRAME};

use super::auth::accounts::SessionKey;
use super::auth::{Auth, Viewer};
use super::hub::{FeedEvent, Hub, PAGE};
use super::security::{origin_allowed, SocketPermit};
use super::state::AppState;
use super::store::StoreError;

#[derive(Debug, Deserialize)]
pub struct ResumeQuery {
    /// The last position the client has; the stream resumes after it.
    #[serde(default)]
    after: Option<u64>,
    /// The epoch `after` belongs to.
    #[serde(default)]
    epoch: Option<u64>,
    /// The newest call the client has heard of.
    #[serde(default)]
    known: Option<String>,
    /// A shared link's grant for this call.
    #[serde(default)]
    grant: Option<String>,
}

/// How often a live socket re-checks its session in the store (sign-outs
/// on this instance close sockets at once; this catches other instances,
/// expiry and disabled accounts).
const SESSION_RECHECK: Duration = Duration::from_secs(60);

/// Refuses a handshake from another site's page (403) or from an address
/// with too many sockets open (429), before upgrading.
fn admit(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    viewer: &Option<Extension<Viewer>>,
) -> Result<SocketPermit, (StatusCode, &'static str)> {
    if viewer.is_none() {
        return Err((StatusCode::UNAUTHORIZED, "sign in to continue"));
    }
    if !origin_allowed(headers, &state.allowed_origins) {
        tracing::warn!(%peer, origin = ?headers.get(header::ORIGIN), "socket refused: foreign origin");
        return Err((StatusCode::FORBIDDEN, "origin not allowed"));
    }
    state
        .sockets
        .acquire(peer.ip(), state.settings.max_sockets_per_client)
        .ok_or_else(|| {
            tracing::warn!(%peer, "socket refused: too many from this address");
            (
                StatusCode::TOO_MANY_REQUESTS,
                "too many live connections from this address",
            )
        })
}

pub async fn call_socket(
    ws: WebSocketUpgrade,
    Path(raw_id): Path<String>,
    Query(resume): Query<ResumeQuery>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    viewer: Option<Extension<Viewer>>,
    headers: HeaderMap,
) -> Response {
    let permit = match admit(&state, peer, &headers, &viewer) {
        Ok(permit) => permit,
        Err(refused) => return refused.into_response(),
    };
    let Some(Extension(viewer)) = viewer else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let parsed = CallId::parse(&raw_id);
    let span = tracing::info_span!("ws", call_id = %raw_id.chars().take(64).collect::<String>());
    limit(ws).on_upgrade(move |socket| {
        async move {
            let _permit = permit;
            let mut conn = Conn::new(socket, state.clone(), viewer, peer);
            match parsed {
                Ok(id) => {
                    let reason = conn.stream_call(&id, resume).await;
                    conn.finish(reason).await;
                }
                Err(e) => {
                    let msg = ServerMsg::Error {
                        code: ErrorCode::MalformedCallId,
                        message: e.to_string(),
                    };
                    let _ = conn.send(&msg).await;
                    conn.finish(End::Close(close::MALFORMED_CALL_ID, "malformed call id"))
                        .await;
                }
            }
        }
        .instrument(span)
    })
}

pub async fn lobby_socket(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    viewer: Option<Extension<Viewer>>,
    headers: HeaderMap,
) -> Response {
    let permit = match admit(&state, peer, &headers, &viewer) {
        Ok(permit) => permit,
        Err(refused) => return refused.into_response(),
    };
    let Some(Extension(viewer)) = viewer else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    limit(ws).on_upgrade(move |socket| {
        async move {
            let _permit = permit;
            let mut conn = Conn::new(socket, state, viewer, peer);
            let reason = conn.stream_lobby().await;
            conn.finish(reason).await;
        }
        .instrument(tracing::info_span!("ws_lobby"))
    })
}

fn limit(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.max_message_size(MAX_CLIENT_FRAME)
        .max_frame_size(MAX_CLIENT_FRAME)
}

/// How a socket ends.
#[derive(Debug)]
enum End {
    /// Send a close frame with this code and reason.
    Close(u16, &'static str),
    /// The peer is gone or closed first: nothing more to send.
    Gone,
}

struct Conn {
    tx: SplitSink<WebSocket, Message>,
    rx: SplitStream<WebSocket>,
    hub: Arc<Hub>,
    auth: Arc<Auth>,
    viewer: Viewer,
    peer: SocketAddr,
    signed_out: tokio::sync::broadcast::Receiver<SessionKey>,
    session_checked: tokio::time::Instant,
    shutdown: tokio::sync::watch::Receiver<bool>,
    heartbeat: Duration,
    /// A send that takes longer than this means the client is not reading:
    /// the socket is closed rather than left to hold resources.
    send_timeout: Duration,
    /// Heartbeats sent since the peer last said anything.
    unanswered: u32,
}

/// What happened on the client's half of the socket.
enum Inbound {
    Fine,
    End(End),
}

impl Conn {
    fn new(socket: WebSocket, state: AppState, viewer: Viewer, peer: SocketAddr) -> Self {
        let (tx, rx) = socket.split();
        Self {
            tx,
            rx,
            hub: state.hub.clone(),
            signed_out: state.auth.signed_out(),
            auth: state.auth.clone(),
            viewer,
            peer,
            session_checked: tokio::time::Instant::now(),
            shutdown: state.shutdown.clone(),
            heartbeat: Duration::from_secs(state.settings.heartbeat_secs),
            send_timeout: Duration::from_secs(state.settings.ws_send_timeout_secs),
            unanswered: 0,
        }
    }

    async fn send(&mut self, msg: &ServerMsg) -> Result<(), End> {
        let text = serde_json::to_string(msg).map_err(|e| {
            tracing::error!(error = %e, "could not encode a frame");
            End::Close(1011, "internal error")
        })?;
        match tokio::time::timeout(self.send_timeout, self.tx.send(Message::Text(text.into())))
            .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Gone),
            Err(_) => {
                tracing::info!("client not reading; closing");
                Err(End::Close(close::POLICY, "client too slow"))
            }
        }
    }

    async fn finish(mut self, end: End) {
        if let End::Close(code, reason) = end {
            tracing::debug!(code, reason, "closing socket");
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            };
            let _ = tokio::time::timeout(
                Duration::from_secs(2),
                self.tx.send(Message::Close(Some(frame))),
            )
            .await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), self.tx.close()).await;
    }

    fn on_inbound(&mut self, frame: Option<Result<Message, axum::Error>>) -> Inbound {
        self.unanswered = 0;
        match frame {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => Inbound::End(End::Gone),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Inbound::Fine,
            Some(Ok(Message::Text(text))) => match serde_json::from_str::<ClientMsg>(&text) {
                Ok(ClientMsg::Ping) => Inbound::Fine,
                Err(_) => {
                    tracing::info!("malformed frame from client");
                    Inbound::End(End::Close(close::POLICY, "malformed frame"))
                }
            },
            Some(Ok(Message::Binary(_))) => {
                Inbound::End(End::Close(close::POLICY, "binary frames are not accepted"))
            }
        }
    }

    /// A heartbeat: a JSON frame the browser can see, and a ping the
    /// protocol answers. Ends the socket when the peer has been silent for
    /// three heartbeats.
    async fn beat(&mut self) -> Result<(), End> {
        self.unanswered += 1;
        if self.unanswered > 3 {
            tracing::info!("peer silent; closing");
            return Err(End::Close(close::GOING_AWAY, "no heartbeat answer"));
        }
        if self.session_checked.elapsed() >= SESSION_RECHECK {
            self.session_checked = tokio::time::Instant::now();
            match self.auth.session(&self.viewer.session).await {
                Ok(Some(_)) => {}
                Ok(None) => return Err(self.signed_out_end().await),
                // The account store is down: keep serving what was allowed.
                Err(e) => tracing::warn!(error = %e, "session re-check failed"),
            }
        }
        self.send(&ServerMsg::Heartbeat).await?;
        self.tx
            .send(Message::Ping(Default::default()))
            .await
            .map_err(|_| End::Gone)
    }

    /// Tells the page its session ended, then closes.
    async fn signed_out_end(&mut self) -> End {
        tracing::info!(user = %self.viewer.user.username, "session ended; closing socket");
        let msg = ServerMsg::Error {
            code: ErrorCode::SignedOut,
            message: "You have been signed out.".into(),
        };
        match self.send(&msg).await {
            Ok(()) => End::Close(close::SIGNED_OUT, "signed out"),
            Err(end) => end,
        }
    }

    /// A sign-out on this instance: ends this socket if it was the session.
    async fn on_signed_out(&mut self, key: Result<SessionKey, RecvError>) -> Result<(), End> {
        let ours = match key {
            Ok(key) => key == self.viewer.session,
            // Missed some: check our own session now.
            Err(RecvError::Lagged(_)) => {
                !matches!(self.auth.session(&self.viewer.session).await, Ok(Some(_)))
            }
            Err(RecvError::Closed) => false,
        };
        if ours {
            Err(self.signed_out_end().await)
        } else {
            Ok(())
        }
    }

    /// The newest call this viewer may see.
    async fn latest_for_viewer(&self) -> Result<Option<CallDetails>, StoreError> {
        let latest = match self.auth.owner_filter(&self.viewer) {
            None => self.hub.store().latest_call().await?,
            Some(owner) => self.hub.store().latest_call_of(owner).await?,
        };
        Ok(latest.map(|call| self.auth.present(&self.viewer, call)))
    }

    async fn stream_call(&mut self, id: &CallId, resume: ResumeQuery) -> End {
        // Unknown calls, and calls this viewer may not see (told apart from
        // nothing), get no feed.
        let allowed = match self.hub.store().call_details(id).await {
            Ok(Some(call)) => self
                .auth
                .admit_call(
                    &self.viewer,
                    call,
                    resume.grant.as_deref(),
                    Some(self.peer.ip()),
                    "socket",
                )
                .is_ok(),
            Ok(None) => false,
            Err(e) => return self.unavailable(e).await,
        };
        if !allowed {
            let msg = ServerMsg::Error {
                code: ErrorCode::UnknownCall,
                message: format!("No call with id {id}"),
            };
            return self
                .send(&msg)
                .await
                .err()
                .unwrap_or(End::Close(close::UNKNOWN_CALL, "unknown call"));
        }
        // Subscribe first, then read: the read overlaps what the feed sends.
        let mut live = match self.hub.subscribe(id).await {
            Ok(rx) => rx,
            Err(e) => return self.unavailable(e).await,
        };
        let mut new_calls = self.hub.new_calls();
        let call = match self.hub.store().call_details(id).await {
            Ok(Some(call)) => self.auth.present(&self.viewer, call),
            Ok(None) => return End::Close(close::UNKNOWN_CALL, "unknown call"),
            Err(e) => return self.unavailable(e).await,
        };
        let epoch = match self.hub.store().epoch(id).await {
            Ok(epoch) => epoch,
            Err(e) => return self.unavailable(e).await,
        };
        // A position from another epoch means nothing: replay the call.
        let mut after = match resume {
            ResumeQuery {
                after: Some(after),
                epoch: Some(theirs),
                ..
            } if theirs == epoch => Seq(after),
            ResumeQuery { after: Some(_), .. } => {
                tracing::info!("position from another epoch; replaying the whole call");
                Seq::ZERO
            }
            ResumeQuery { after: None, .. } => Seq::ZERO,
        };
        let known = resume.known.as_deref().and_then(|k| CallId::parse(k).ok());
        tracing::info!(after = %after, "viewer connected");
        if let Err(end) = self.send(&ServerMsg::Hello { call, after, epoch }).await {
            return end;
        }
        if let Err(end) = self.catch_up(id, &mut after).await {
            return end;
        }
        if let Err(end) = self.send(&ServerMsg::CaughtUp { seq: after }).await {
            return end;
        }
        // A call that started while the page was between sockets.
        if let Some(known) = known {
            if let Ok(Some(newest)) = self.latest_for_viewer().await {
                if newest.call_id != known && newest.call_id != *id {
                    if let Err(end) = self.send(&ServerMsg::NewCall { call: newest }).await {
                        return end;
                    }
                }
            }
        }

        let mut heartbeat = tokio::time::interval(self.heartbeat);
        heartbeat.reset();
        loop {
            let step = tokio::select! {
                event = live.recv() => match event {
                    Ok(FeedEvent::Segment(seg)) if seg.seq > after => {
                        after = seg.seq;
                        self.send(&ServerMsg::Transcript(seg)).await
                    }
                    Ok(FeedEvent::Segment(_)) => Ok(()),
                    Ok(FeedEvent::Details(call)) => {
                        let call = self.auth.present(&self.viewer, call);
                        self.send(&ServerMsg::CallUpdated { call }).await
                    }
                    Ok(FeedEvent::Source(available)) => {
                        // Back: whatever the feed missed, this viewer reads itself.
                        let caught_up = if available {
                            self.catch_up(id, &mut after).await
                        } else {
                            Ok(())
                        };
                        match caught_up {
                            Ok(()) => self.send(&ServerMsg::SourceStatus { available }).await,
                            Err(end) => Err(end),
                        }
                    }
                    Err(RecvError::Lagged(missed)) => {
                        tracing::info!(missed, "viewer lagged; re-reading from the store");
                        self.catch_up(id, &mut after).await
                    }
                    Err(RecvError::Closed) => Err(End::Close(close::GOING_AWAY, "feed closed")),
                },
                call = new_calls.recv() => self.announce(call, Some(id)).await,
                key = self.signed_out.recv() => self.on_signed_out(key).await,
                frame = self.rx.next() => match self.on_inbound(frame) {
                    Inbound::Fine => Ok(()),
                    Inbound::End(end) => Err(end),
                },
                _ = heartbeat.tick() => self.beat().await,
                _ = self.shutdown.changed() => Err(End::Close(close::GOING_AWAY, "server restarting")),
            };
            if let Err(end) = step {
                tracing::info!(?end, last = %after, "viewer disconnected");
                return end;
            }
        }
    }

    async fn stream_lobby(&mut self) -> End {
        let mut new_calls = self.hub.new_calls();
        let latest = match self.latest_for_viewer().await {
            Ok(latest) => latest,
            Err(e) => return self.unavailable(e).await,
        };
        if let Err(end) = self.send(&ServerMsg::Latest { call: latest }).await {
            return end;
        }
        let mut heartbeat = tokio::time::interval(self.heartbeat);
        heartbeat.reset();
        loop {
            let step = tokio::select! {
                call = new_calls.recv() => self.announce(call, None).await,
                key = self.signed_out.recv() => self.on_signed_out(key).await,
                frame = self.rx.next() => match self.on_inbound(frame) {
                    Inbound::Fine => Ok(()),
                    Inbound::End(end) => Err(end),
                },
                _ = heartbeat.tick() => self.beat().await,
                _ = self.shutdown.changed() => Err(End::Close(close::GOING_AWAY, "server restarting")),
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// Forwards a new call, unless it is the one being watched. A lagged
    /// receiver sends the newest call instead of the ones it missed.
    async fn announce(
        &mut self,
        call: Result<CallDetails, RecvError>,
        watching: Option<&CallId>,
    ) -> Result<(), End> {
        let call = match call {
            Ok(call) if self.auth.may_view(&self.viewer, &call, None) => {
                self.auth.present(&self.viewer, call)
            }
            // Not this viewer's call: they never hear of it.
            Ok(_) => return Ok(()),
            Err(RecvError::Lagged(_)) => match self.latest_for_viewer().await {
                Ok(Some(call)) => call,
                Ok(None) | Err(_) => return Ok(()),
            },
            Err(RecvError::Closed) => {
                return Err(End::Close(close::GOING_AWAY, "server restarting"))
            }
        };
        if Some(&call.call_id) == watching {
            return Ok(());
        }
        self.send(&ServerMsg::NewCall { call }).await
    }

    /// Sends every change after `after`, in pages, advancing `after`.
    async fn catch_up(&mut self, id: &CallId, after: &mut Seq) -> Result<(), End> {
        loop {
            let page = match self.hub.store().segments_after(id, *after, PAGE).await {
                Ok(page) => page,
                Err(e) => return Err(self.unavailable(e).await),
            };
            for seg in page.segments {
                *after = seg.seq;
                self.send(&ServerMsg::Transcript(seg)).await?;
            }
            if !page.more {
                return Ok(());
            }
        }
    }

    async fn unavailable(&mut self, e: StoreError) -> End {
        tracing::warn!(error = %e, "store unavailable for a socket");
        let msg = ServerMsg::Error {
            code: ErrorCode::Unavailable,
            message: "The data source is unavailable; retrying.".into(),
        };
        match self.send(&msg).await {
            Ok(()) => End::Close(close::UNAVAILABLE, "data source unavailable"),
            Err(end) => end,
        }
    }
}
