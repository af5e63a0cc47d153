//! Following one call: the handshake (access, position, backlog) and the
//! call's feed once caught up.

use futures::{Sink, Stream};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use axum::extract::ws::Message;

use crate::error::AppError;
use crate::model::{CallDetails, CallId, Seq};
use crate::protocol::{close, ErrorCode, ServerMsg};
use crate::server::hub::{FeedEvent, PAGE};
use crate::server::metrics::{Dropped, Resync};

use super::{Conn, End, Resume};

/// The call a socket follows.
pub(super) struct Watch {
    pub(super) id: CallId,
    /// Its details as last seen, to decide access again.
    pub(super) call: CallDetails,
    pub(super) after: Seq,
    pub(super) live: broadcast::Receiver<FeedEvent>,
    /// When access ends by itself (a shared link's expiry).
    pub(super) ends: Option<tokio::time::Instant>,
}

impl<Tx, Rx> Conn<Tx, Rx>
where
    Tx: Sink<Message> + Unpin,
    Rx: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    pub(super) async fn stream_call(&mut self, id: CallId, resume: Resume) -> End {
        let access = self.ctx.access.clone();
        let hub = access.hub().clone();
        // Unknown calls, and calls this viewer may not see (told apart from
        // nothing), get no feed. The decision is the one every door makes.
        if let Err(e) = access.open_id(&self.who, &id).await {
            return match e {
                AppError::UnknownCall(_) | AppError::LinkExpired | AppError::LinkNotValid => {
                    let end = End::Close(close::UNKNOWN_CALL, "unknown call");
                    self.fail(ErrorCode::UnknownCall, e.to_string(), end).await
                }
                _ => self.unavailable(e).await,
            };
        }
        // Subscribe first, then read: the read overlaps what the feed sends.
        let live = match hub.subscribe(&id).await {
            Ok(rx) => rx,
            Err(e) => return self.unavailable(e).await,
        };
        let new_calls = hub.new_calls();
        let call = match hub.store().call_details(&id).await {
            Ok(Some(call)) => call,
            Ok(None) => return End::Close(close::UNKNOWN_CALL, "unknown call"),
            Err(e) => return self.unavailable(e).await,
        };
        let epoch = match hub.store().epoch(&id).await {
            Ok(epoch) => epoch,
            Err(e) => return self.unavailable(e).await,
        };
        // A position from another epoch means nothing: replay the call.
        let after = match resume {
            Resume {
                after: Some(after),
                epoch: Some(theirs),
                ..
            } if theirs == epoch => Seq(after),
            Resume { after: Some(_), .. } => {
                tracing::info!("position from another epoch; replaying the whole call");
                Seq::ZERO
            }
            Resume { after: None, .. } => Seq::ZERO,
        };
        tracing::info!(after = %after, "viewer connected");
        let ends = self.ends_at(&call);
        let mut watch = Watch {
            id,
            call,
            after,
            live,
            ends,
        };
        let shown = access.redact(&self.who.viewer, watch.call.clone());
        // Read after subscribing: an alert raised since comes on the feed.
        let alerts = access.alerts_of(&watch.id).await;
        let hello = ServerMsg::Hello {
            call: shown,
            after,
            epoch,
            alerts,
        };
        if let Err(end) = self.send(&hello).await {
            return end;
        }
        if let Err(end) = self.catch_up(&mut watch).await {
            return end;
        }
        if let Err(end) = self.send(&ServerMsg::CaughtUp { seq: watch.after }).await {
            return end;
        }

        // A call that started while the page was between sockets.
        if let Some(known) = resume.known {
            if let Ok(Some(newest)) = access.latest(&self.who).await {
                if newest.call_id != known && newest.call_id != watch.id {
                    if let Err(end) = self.send(&ServerMsg::NewCall { call: newest }).await {
                        return end;
                    }
                }
            }
        }
        let end = self.serve(new_calls, Some(&mut watch), None).await;
        tracing::info!(?end, last = %watch.after, "viewer disconnected");
        end
    }

    pub(super) async fn on_feed(
        &mut self,
        watch: &mut Watch,
        event: Result<FeedEvent, RecvError>,
    ) -> Result<(), End> {
        match event {
            Ok(FeedEvent::Segment(live)) if live.segment.seq > watch.after => {
                watch.after = live.segment.seq;
                match &live.frame {
                    Some(frame) => self.send_text(frame.clone()).await,
                    None => {
                        let seg = live.segment.clone();
                        self.send(&ServerMsg::Transcript(seg)).await
                    }
                }
            }
            Ok(FeedEvent::Segment(_)) => Ok(()),
            Ok(FeedEvent::Details(call)) => {
                // The call changed (say, its agent): decide again.
                watch.call = call.clone();
                self.decide_again(watch).await?;
                let call = self.ctx.access.redact(&self.who.viewer, call);
                self.send(&ServerMsg::CallUpdated { call }).await
            }
            Ok(FeedEvent::Alert(alert)) => self.send(&ServerMsg::Alert { alert }).await,
            Ok(FeedEvent::Source(available)) => {
                // Back: whatever the feed missed, this viewer reads itself.
                if available {
                    self.ctx.access.hub().metrics().resync(Resync::SourceBack);
                    self.catch_up(watch).await?;
                    self.send_alerts(&watch.id).await?;
                }
                self.send(&ServerMsg::SourceStatus { available }).await
            }
            Err(RecvError::Lagged(missed)) => {
                tracing::info!(missed, "viewer lagged; re-reading from the store");
                let metrics = self.ctx.access.hub().metrics();
                metrics.frames_dropped(Dropped::Lagged, missed);
                metrics.resync(Resync::ViewerLagged);
                self.catch_up(watch).await?;
                self.send_alerts(&watch.id).await
            }
            Err(RecvError::Closed) => Err(End::Close(close::GOING_AWAY, "feed closed")),
        }
    }

    /// Sends the call's alerts so far.
    async fn send_alerts(&mut self, id: &CallId) -> Result<(), End> {
        let alerts = self.ctx.access.alerts_of(id).await;
        self.send(&ServerMsg::Alerts { alerts }).await
    }

    /// Sends every change after the watch's position, in pages (each in
    /// a few large writes), advancing it.
    async fn catch_up(&mut self, watch: &mut Watch) -> Result<(), End> {
        let store = self.ctx.access.hub().store().clone();
        loop {
            let page = match store.segments_after(&watch.id, watch.after, PAGE).await {
                Ok(page) => page,
                Err(e) => return Err(self.unavailable(e).await),
            };
            // Fed, not flushed a line: the page goes out in writes of up to
            // `socket_write_buffer_bytes`.
            for seg in page.segments {
                watch.after = seg.seq;
                self.feed(&ServerMsg::Transcript(seg)).await?;
            }
            self.flush().await?;
            if !page.more {
                return Ok(());
            }
        }
    }
}

/// The next event of the watched call's feed; never, when not watching.
pub(super) async fn next_event(watch: &mut Option<&mut Watch>) -> Result<FeedEvent, RecvError> {
    match watch {
        Some(watch) => watch.live.recv().await,
        None => std::future::pending().await,
    }
}

/// The next update of the floor; never, when not on the floor.
pub(super) async fn next_row(
    floor: &mut Option<&mut crate::server::access::FloorUpdates>,
) -> Result<crate::server::floor::FloorChange, RecvError> {
    match floor {
        Some(updates) => updates.recv().await,
        None => std::future::pending().await,
    }
}

/// Waits until `ends` (when access to the watched call ends by itself);
/// forever when there is no such time.
pub(super) async fn expiry(ends: Option<tokio::time::Instant>) {
    match ends {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
