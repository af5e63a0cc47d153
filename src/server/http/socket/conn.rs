//! One live socket after its handshake: what it sends, what it accepts,
//! and when it ends. Generic over the frame sink and stream, so the unit
//! tests drive it over channels (see `tests.rs`) as the server drives it
//! over a WebSocket.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use futures::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use crate::model::{CallDetails, CallId};
use crate::protocol::{close, ClientMsg, ErrorCode, ServerMsg};
use crate::server::access::{Asking, CallAccess, FloorUpdates};
use crate::server::auth::{AccessChange, Auth};
use crate::server::floor::FloorChange;
use crate::server::metrics::{Dropped, Metrics, SocketKind};
use crate::server::store::now_ms;

/// Heartbeats a peer may leave unanswered before the socket is closed.
const SILENT_BEATS: u32 = 3;

/// How a socket ends.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// Send a close frame with this code and reason.
    Close(u16, &'static str),
    /// The peer is gone or closed first: nothing more to send.
    Gone,
}

/// What a socket needs from the server, whatever carries its frames.
#[derive(Clone)]
pub struct Ctx {
    pub access: Arc<CallAccess>,
    pub auth: Arc<Auth>,
    pub shutdown: watch::Receiver<bool>,
    pub heartbeat: Duration,
    /// How often the session and its account are read again (changes made
    /// on this instance are announced at once; this catches the others).
    pub session_recheck: Duration,
    /// A send that takes longer than this means the client is not reading:
    /// the socket is closed rather than left to hold resources.
    pub send_timeout: Duration,
}

/// Where the client says it is, when it reconnects to a call.
#[derive(Clone, Debug, Default)]
pub struct Resume {
    /// The last position the client has; the stream resumes after it.
    pub after: Option<u64>,
    /// The epoch `after` belongs to.
    pub epoch: Option<u64>,
    /// The newest call the client has heard of.
    pub known: Option<CallId>,
}

pub struct Conn<Tx, Rx> {
    tx: Tx,
    rx: Rx,
    ctx: Ctx,
    who: Asking,
    changes: broadcast::Receiver<AccessChange>,
    /// Heartbeats sent since the peer last said anything.
    unanswered: u32,
}

impl<Tx, Rx> Conn<Tx, Rx>
where
    Tx: Sink<Message> + Unpin,
    Rx: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    pub fn new(tx: Tx, rx: Rx, ctx: Ctx, who: Asking) -> Self {
        Self {
            tx,
            rx,
            changes: ctx.auth.changes(),
            ctx,
            who,
            unanswered: 0,
        }
    }

    /// Streams one call until the socket ends, then closes it.
    pub async fn call(mut self, id: CallId, resume: Resume) {
        let _open = self.metrics().socket_open(SocketKind::Call);
        let end = self.stream_call(id, resume).await;
        self.finish(end).await;
    }

    /// Announces new calls until the socket ends, then closes it.
    pub async fn lobby(mut self) {
        let _open = self.metrics().socket_open(SocketKind::Lobby);
        let end = self.stream_lobby().await;
        self.finish(end).await;
    }

    /// Keeps the floor view's table live until the socket ends, then
    /// closes it.
    pub async fn floor(mut self) {
        let end = self.stream_floor().await;
        self.finish(end).await;
    }

    /// Tells the client why, then closes.
    pub async fn refuse(mut self, code: ErrorCode, message: String, end: End) {
        let end = match self.send(&ServerMsg::Error { code, message }).await {
            Ok(()) => end,
            Err(gone) => gone,
        };
        self.finish(end).await;
    }

    /// What the server counts (the hub's).
    fn metrics(&self) -> &Metrics {
        self.ctx.access.hub().metrics()
    }

    async fn send(&mut self, msg: &ServerMsg) -> Result<(), End> {
        let text = encode(msg)?;
        self.send_text(text).await
    }

    /// Sends a frame already encoded (a line's frame is encoded once for
    /// every viewer of its call).
    async fn send_text(&mut self, text: Utf8Bytes) -> Result<(), End> {
        let sent = self.tx.send(Message::Text(text));
        within(&self.ctx, sent, 1).await
    }

    /// Queues a frame, written out only once the socket's write buffer is
    /// full (`socket_write_buffer_bytes`) or at the next [`Self::flush`] or
    /// send: a backlog goes out in a few large writes.
    async fn feed(&mut self, msg: &ServerMsg) -> Result<(), End> {
        let text = encode(msg)?;
        let fed = self.tx.feed(Message::Text(text));
        within(&self.ctx, fed, 1).await
    }

    /// Writes out every frame queued.
    async fn flush(&mut self) -> Result<(), End> {
        let flushed = self.tx.flush();
        within(&self.ctx, flushed, 0).await
    }

    /// Sends an error frame, then ends with `end` (or as the send did).
    async fn fail(&mut self, code: ErrorCode, message: String, end: End) -> End {
        match self.send(&ServerMsg::Error { code, message }).await {
            Ok(()) => end,
            Err(gone) => gone,
        }
    }

    async fn finish(mut self, end: End) {
        if let End::Close(code, reason) = end {
            tracing::debug!(code, reason, "closing socket");
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            };
            let closing = self.tx.send(Message::Close(Some(frame)));
            let _ = tokio::time::timeout(Duration::from_secs(2), closing).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), self.tx.close()).await;
    }

    async fn on_inbound(&mut self, frame: Option<Result<Message, axum::Error>>) -> Result<(), End> {
        self.unanswered = 0;
        match frame {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => Err(End::Gone),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
            Some(Ok(Message::Text(text))) => match serde_json::from_str::<ClientMsg>(&text) {
                // A page asking whether the server is still there: one
                // answer per question, so no frame is sent unasked.
                Ok(ClientMsg::Ping) => self.send(&ServerMsg::Heartbeat).await,
                Err(_) => {
                    tracing::info!("malformed frame from client");
                    Err(End::Close(close::POLICY, "malformed frame"))
                }
            },
            Some(Ok(Message::Binary(_))) => {
                Err(End::Close(close::POLICY, "binary frames are not accepted"))
            }
        }
    }

    /// A heartbeat: a JSON frame the browser can see, and a ping the
    /// protocol answers. Ends the socket when the peer has been silent for
    /// three heartbeats.
    async fn beat(&mut self) -> Result<(), End> {
        self.unanswered += 1;
        if self.unanswered > SILENT_BEATS {
            tracing::info!("peer silent; closing");
            return Err(End::Close(close::GOING_AWAY, "no heartbeat answer"));
        }
        self.send(&ServerMsg::Heartbeat).await?;
        self.tx
            .send(Message::Ping(Default::default()))
            .await
            .map_err(|_| End::Gone)
    }

    /// Reads the session and its account again (other instances' changes,
    /// expiry, a change announced here): ends the socket if the session
    /// is over, and decides access to the watched call again with the
    /// account as it is now (its role or agent id may have changed).
    async fn recheck(&mut self, watch: Option<&mut Watch>) -> Result<(), End> {
        match self.ctx.auth.session(&self.who.viewer.session).await {
            Ok(Some(viewer)) => self.who.viewer = viewer,
            Ok(None) => return Err(self.signed_out_end().await),
            // The account store is down: keep serving what was allowed.
            Err(e) => {
                tracing::warn!(error = %e, "session re-check failed");
                return Ok(());
            }
        }
        match watch {
            Some(watch) => self.decide_again(watch).await,
            None => Ok(()),
        }
    }

    /// Decides access to the watched call again, and when it ends by itself.
    async fn decide_again(&mut self, watch: &mut Watch) -> Result<(), End> {
        self.still_admitted(&watch.call).await?;
        watch.ends = self.ends_at(&watch.call);
        Ok(())
    }

    /// When access to this call ends by itself (a shared link's expiry).
    fn ends_at(&self, call: &CallDetails) -> Option<tokio::time::Instant> {
        let ends_ms = self.ctx.access.ends_at(&self.who, call)?;
        let left = u64::try_from(ends_ms.saturating_sub(now_ms())).unwrap_or(0);
        Some(tokio::time::Instant::now() + Duration::from_millis(left))
    }

    /// Ends the socket, as for an unknown call, if the viewer may no
    /// longer see this call (a shared link's record is read again).
    async fn still_admitted(&mut self, call: &CallDetails) -> Result<(), End> {
        match self.ctx.access.admits(&self.who, call).await {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            // The account store is down: keep serving what was allowed.
            Err(e) => {
                tracing::warn!(error = %e, "access re-check failed");
                return Ok(());
            }
        }
        tracing::info!(user = %self.who.viewer.user.username, call = %call.call_id, "access to the call ended; closing");
        let end = End::Close(close::UNKNOWN_CALL, "unknown call");
        Err(self
            .fail(
                ErrorCode::UnknownCall,
                format!("No call with id {}", call.call_id),
                end,
            )
            .await)
    }

    /// Tells the page its session ended, then closes.
    async fn signed_out_end(&mut self) -> End {
        tracing::info!(user = %self.who.viewer.user.username, "session ended; closing socket");
        let end = End::Close(close::SIGNED_OUT, "signed out");
        self.fail(
            ErrorCode::SignedOut,
            "You have been signed out.".into(),
            end,
        )
        .await
    }

    /// A change on this instance: a sign-out ends this socket if it was
    /// the session; a change to this account checks it again; a revoked
    /// link decides again if the watched call was opened with it.
    async fn on_change(
        &mut self,
        change: Result<AccessChange, RecvError>,
        watch: Option<&mut Watch>,
    ) -> Result<(), End> {
        match change {
            Ok(AccessChange::SignedOut(key)) if key == self.who.viewer.session => {
                Err(self.signed_out_end().await)
            }
            Ok(AccessChange::Account(name)) if name == self.who.viewer.user.username => {
                self.recheck(watch).await
            }
            Ok(AccessChange::LinkRevoked(link)) => match watch {
                Some(watch) if self.ctx.access.link_of(&self.who, &watch.call) == Some(link) => {
                    self.decide_again(watch).await
                }
                _ => Ok(()),
            },
            Ok(_) | Err(RecvError::Closed) => Ok(()),
            // Missed some: check our own session now.
            Err(RecvError::Lagged(_)) => self.recheck(watch).await,
        }
    }

    async fn unavailable(&mut self, e: impl std::fmt::Display) -> End {
        tracing::warn!(error = %e, "store unavailable for a socket");
        let end = End::Close(close::UNAVAILABLE, "data source unavailable");
        let message = "The data source is unavailable; retrying.".into();
        self.fail(ErrorCode::Unavailable, message, end).await
    }

    async fn stream_lobby(&mut self) -> End {
        let new_calls = self.ctx.access.hub().new_calls();
        let latest = match self.ctx.access.latest(&self.who).await {
            Ok(latest) => latest,
            Err(e) => return self.unavailable(e).await,
        };
        if let Err(end) = self.send(&ServerMsg::Latest { call: latest }).await {
            return end;
        }
        self.serve(new_calls, None, None).await
    }

    async fn stream_floor(&mut self) -> End {
        let (rows, mut updates) = match self.ctx.access.floor(&self.who).await {
            Ok(floor) => floor,
            Err(e) => return self.unavailable(e).await,
        };
        if let Err(end) = self.send(&ServerMsg::Floor { rows }).await {
            return end;
        }
        // The floor's rows carry its new calls: no announcements (the
        // sender is kept, so the channel stays open and silent).
        let (_silent, quiet) = broadcast::channel(1);
        self.serve(quiet, None, Some(&mut updates)).await
    }

    /// Forwards a floor row this viewer may see. After calls left the
    /// floor, or when this socket fell behind, the whole table again.
    async fn on_floor_row(
        &mut self,
        change: Result<FloorChange, RecvError>,
        updates: &mut FloorUpdates,
    ) -> Result<(), End> {
        match change {
            Ok(FloorChange::Row(row)) => match self.ctx.access.floor_row(&self.who, *row) {
                Some(row) => {
                    let row = Box::new(row);
                    self.send(&ServerMsg::FloorRow { row }).await
                }
                None => Ok(()),
            },
            Ok(FloorChange::Table) | Err(RecvError::Lagged(_)) => {
                let (rows, fresh) = match self.ctx.access.floor(&self.who).await {
                    Ok(floor) => floor,
                    Err(e) => return Err(self.unavailable(e).await),
                };
                *updates = fresh;
                self.send(&ServerMsg::Floor { rows }).await
            }
            Err(RecvError::Closed) => Err(End::Close(close::GOING_AWAY, "server restarting")),
        }
    }

    /// The one loop of every socket: new calls, sign-outs, the client's
    /// frames, heartbeats and shutdown; and, when following a call, its
    /// feed; on the floor, its rows.
    async fn serve(
        &mut self,
        mut new_calls: broadcast::Receiver<CallDetails>,
        mut watch: Option<&mut Watch>,
        mut floor: Option<&mut FloorUpdates>,
    ) -> End {
        let mut heartbeat = tokio::time::interval(self.ctx.heartbeat);
        heartbeat.reset();
        let mut recheck = tokio::time::interval(self.ctx.session_recheck);
        recheck.reset();
        let mut shutdown = self.ctx.shutdown.clone();
        loop {
            let ends = watch.as_deref().and_then(|w| w.ends);
            let step = tokio::select! {
                event = next_event(&mut watch) => match watch.as_deref_mut() {
                    Some(watch) => self.on_feed(watch, event).await,
                    None => Ok(()),
                },
                row = next_row(&mut floor) => match floor.as_deref_mut() {
                    Some(updates) => self.on_floor_row(row, updates).await,
                    None => Ok(()),
                },
                call = new_calls.recv() => {
                    let watching = watch.as_deref().map(|w| w.id.clone());
                    self.announce(call, watching.as_ref()).await
                }
                change = self.changes.recv() => self.on_change(change, watch.as_deref_mut()).await,
                _ = expiry(ends) => match watch.as_deref_mut() {
                    Some(watch) => self.decide_again(watch).await,
                    None => Ok(()),
                },
                _ = recheck.tick() => self.recheck(watch.as_deref_mut()).await,
                frame = self.rx.next() => self.on_inbound(frame).await,
                _ = heartbeat.tick() => self.beat().await,
                _ = shutdown.changed() => Err(End::Close(close::GOING_AWAY, "server restarting")),
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// Forwards a new call this viewer may see, unless it is the one being
    /// watched. A lagged receiver sends the newest call instead of the
    /// ones it missed.
    async fn announce(
        &mut self,
        call: Result<CallDetails, RecvError>,
        watching: Option<&CallId>,
    ) -> Result<(), End> {
        let call = match call {
            Ok(call) => match self.ctx.access.visible(&self.who, call) {
                Some(call) => call,
                // Not this viewer's call: they never hear of it.
                None => return Ok(()),
            },
            Err(RecvError::Lagged(_)) => match self.ctx.access.latest(&self.who).await {
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
}

/// Waits for a send, feed or flush (`frames` frames) at most the send
/// timeout: a client that takes nothing for that long is not reading, and
/// its socket is closed rather than left to hold resources.
async fn within<E>(
    ctx: &Ctx,
    op: impl std::future::Future<Output = Result<(), E>>,
    frames: u64,
) -> Result<(), End> {
    let metrics = ctx.access.hub().metrics();
    match tokio::time::timeout(ctx.send_timeout, op).await {
        Ok(Ok(())) => {
            metrics.frames_sent(frames);
            Ok(())
        }
        Ok(Err(_)) => Err(End::Gone),
        Err(_) => {
            metrics.frames_dropped(Dropped::SlowClient, frames.max(1));
            tracing::info!("client not reading; closing");
            Err(End::Close(close::POLICY, "client too slow"))
        }
    }
}

/// A frame's text.
fn encode(msg: &ServerMsg) -> Result<Utf8Bytes, End> {
    match serde_json::to_string(msg) {
        Ok(text) => Ok(text.into()),
        Err(e) => {
            tracing::error!(error = %e, "could not encode a frame");
            Err(End::Close(1011, "internal error"))
        }
    }
}

mod follow;
#[cfg(test)]
mod tests;

use follow::{expiry, next_event, next_row, Watch};
