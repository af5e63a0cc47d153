//! WebSocket endpoints: `/ws/{call_id}` streams one call, `/ws/calls` (the
//! lobby) pushes new calls, `/ws/floor` keeps the floor view's table. The handshake is checked here (origin, the
//! per-address limit); what the socket then does is [`conn::Conn`]'s.

pub mod conn;

use std::net::IpAddr;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use futures::stream::{SplitSink, SplitStream};
use futures::StreamExt;
use serde::Deserialize;
use tracing::Instrument;

use crate::error::AppError;
use crate::model::CallId;
use crate::protocol::{close, ErrorCode, MAX_CLIENT_FRAME};
use crate::server::access::{Asking, Door};
use crate::server::auth::limit::client_group;
use crate::server::auth::Viewer;
use crate::server::security::{origin_allowed, SocketPermit};

use super::extract::{Client, SignedIn};
use super::state::AppState;
use conn::{Conn, Ctx, End, Resume};

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

/// Refuses a handshake from another site's page (403) or from an address
/// with too many sockets open (429), before upgrading.
fn admit(state: &AppState, peer: IpAddr, headers: &HeaderMap) -> Result<SocketPermit, AppError> {
    if !origin_allowed(headers, &state.allowed_origins) {
        tracing::warn!(%peer, origin = ?headers.get(header::ORIGIN), "socket refused: foreign origin");
        return Err(AppError::CrossSite);
    }
    state
        .sockets
        .acquire(client_group(peer), state.settings.max_sockets_per_client)
        .ok_or_else(|| {
            tracing::warn!(%peer, "socket refused: too many from this address");
            AppError::TooManyConnections
        })
}

fn ctx(state: &AppState) -> Ctx {
    Ctx {
        access: state.access.clone(),
        auth: state.auth.clone(),
        shutdown: state.shutdown.clone(),
        heartbeat: Duration::from_secs(state.settings.heartbeat_secs),
        session_recheck: Duration::from_secs(state.settings.session_recheck_secs),
        send_timeout: Duration::from_secs(state.settings.ws_send_timeout_secs),
    }
}

/// The socket's limits and buffers. Clients send only small frames (at
/// most `MAX_CLIENT_FRAME`, 1 KiB), so larger ones are refused, and the
/// read buffer, allocated whole for each connection for as long as it is
/// open, is `socket_read_buffer_bytes` (4 KiB) rather than the library's
/// 128 KiB: that buffer was nearly all of an idle socket's cost.
///
/// On the write side, frames are gathered up to `write_buffer` bytes
/// (`socket_write_buffer_bytes`, 16 KiB) before they are written: a new
/// viewer's backlog is fed without a flush a line and flushed once a page
/// (see `Conn::catch_up`), so it goes out in writes of that size, not one
/// write a line. Every other send flushes at once. The buffer grows to that
/// size only on a socket that was sent a backlog, and stays (the library's
/// default, 128 KiB, would have kept that much per such socket). Nor does
/// `max_write_buffer_size` need a bound: a client that stops reading is cut
/// off by `ws_send_timeout_secs`.
fn upgrade(ws: WebSocketUpgrade, read_buffer: usize, write_buffer: usize) -> WebSocketUpgrade {
    ws.max_message_size(MAX_CLIENT_FRAME)
        .max_frame_size(MAX_CLIENT_FRAME)
        .read_buffer_size(read_buffer)
        .write_buffer_size(write_buffer)
}

/// `GET /ws/{call_id}`: one call's transcript, live.
pub async fn call(
    ws: WebSocketUpgrade,
    Path(raw_id): Path<String>,
    Query(resume): Query<ResumeQuery>,
    State(state): State<AppState>,
    Client(addr): Client,
    SignedIn(viewer): SignedIn,
    headers: HeaderMap,
) -> Response {
    let peer = client(addr);
    let who = asking(viewer, peer, Door::Socket).with_grant(resume.grant);
    let parsed = CallId::parse(&raw_id);
    let resume = Resume {
        after: resume.after,
        epoch: resume.epoch,
        known: resume.known.as_deref().and_then(|k| CallId::parse(k).ok()),
    };
    let span = tracing::info_span!("ws", call_id = %raw_id.chars().take(64).collect::<String>());
    serve(ws, &state, peer, &headers, who, span, |conn| async move {
        match parsed {
            Ok(id) => conn.call(id, resume).await,
            Err(e) => {
                let end = End::Close(close::MALFORMED_CALL_ID, "malformed call id");
                conn.refuse(ErrorCode::MalformedCallId, e.to_string(), end)
                    .await
            }
        }
    })
}

/// `GET /ws/calls`: new calls this viewer may see, as they start.
pub async fn lobby(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    Client(addr): Client,
    SignedIn(viewer): SignedIn,
    headers: HeaderMap,
) -> Response {
    let peer = client(addr);
    let who = asking(viewer, peer, Door::Lobby);
    let span = tracing::info_span!("ws_lobby");
    serve(ws, &state, peer, &headers, who, span, |conn| conn.lobby())
}

/// `GET /ws/floor`: the floor view's table of calls, live.
pub async fn floor(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    Client(addr): Client,
    SignedIn(viewer): SignedIn,
    headers: HeaderMap,
) -> Response {
    let peer = client(addr);
    let who = asking(viewer, peer, Door::Floor);
    let span = tracing::info_span!("ws_floor");
    serve(ws, &state, peer, &headers, who, span, |conn| conn.floor())
}

type WsConn = Conn<SplitSink<WebSocket, Message>, SplitStream<WebSocket>>;

/// Admits the handshake, upgrades, and runs `run` on the connection while
/// holding the address's socket permit.
fn serve<F, Fut>(
    ws: WebSocketUpgrade,
    state: &AppState,
    peer: IpAddr,
    headers: &HeaderMap,
    who: Asking,
    span: tracing::Span,
    run: F,
) -> Response
where
    F: FnOnce(WsConn) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let permit = match admit(state, peer, headers) {
        Ok(permit) => permit,
        Err(refused) => return refused.into_response(),
    };
    let ctx = ctx(state);
    let settings = &state.settings;
    let ws = upgrade(
        ws,
        settings.socket_read_buffer_bytes,
        settings.socket_write_buffer_bytes,
    );
    ws.on_upgrade(move |socket| {
        async move {
            let _permit: SocketPermit = permit;
            let (tx, rx) = socket.split();
            run(Conn::new(tx, rx, ctx, who)).await
        }
        .instrument(span)
    })
}

fn asking(viewer: Viewer, peer: IpAddr, door: Door) -> Asking {
    Asking::new(viewer, Some(peer), door)
}

/// The client's address as the gate found it (it always does).
fn client(addr: Option<IpAddr>) -> IpAddr {
    addr.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}
