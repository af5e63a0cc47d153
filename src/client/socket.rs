//! A WebSocket that keeps itself alive: reconnects with exponential backoff
//! and jitter, wakes early when the network comes back or the tab becomes
//! visible, and asks a quiet server whether it is still there: one that
//! does not answer within seconds is treated as gone.

use futures::channel::mpsc;
use futures::future::{select, Either};
use futures::{FutureExt, SinkExt, StreamExt};
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, WebSocketError};
use gloo_timers::future::TimeoutFuture;

use crate::live::status::{Flow, Link};
use crate::protocol::{backoff_ms, close, ClientMsg, ServerMsg};

/// A socket that has not greeted us within this long is not coming up
/// (a server or proxy that accepted the connection and then froze).
const GREETING_MS: u32 = 10_000;
/// Quiet for this long, the page asks the server whether it is still
/// there ...
const QUIET_MS: u32 = 3_000;
/// ... and a server that has not answered this long after the question is
/// taken for gone, even if the browser has not noticed: a frozen server
/// shows within six seconds.
const ANSWER_MS: u32 = 3_000;

enum Outcome {
    Stop,
    Retry { unavailable: bool },
}

/// After this many failed connects in a row, ask whether the session is
/// still alive (a refused handshake looks like any dropped connection).
const CHECK_SESSION_AFTER: u32 = 2;

/// Runs until `on_msg` says stop, or until the future is dropped. `path`
/// is asked again before every connect, so it can carry the latest
/// position to resume after.
pub async fn run(
    path: impl Fn() -> String,
    mut on_msg: impl FnMut(ServerMsg) -> Flow,
    set_link: impl Fn(Link),
    mut wake: mpsc::UnboundedReceiver<()>,
) {
    let mut attempt: u32 = 0;
    loop {
        set_link(if attempt == 0 {
            Link::Connecting
        } else {
            Link::Reconnecting
        });
        let outcome = match WebSocket::open(&socket_url(&path())) {
            Ok(ws) => session(ws, &mut on_msg, &set_link, &mut attempt).await,
            Err(e) => {
                leptos::logging::warn!("socket could not open: {e}");
                Outcome::Retry { unavailable: false }
            }
        };
        let unavailable = match outcome {
            Outcome::Stop => return,
            Outcome::Retry { unavailable } => unavailable,
        };
        attempt = attempt.saturating_add(1);
        if attempt >= CHECK_SESSION_AFTER && !signed_in().await {
            set_link(Link::SignedOut);
            return;
        }
        set_link(if unavailable {
            Link::Unavailable
        } else {
            Link::Reconnecting
        });
        // Drain wake-ups that happened while connected.
        while wake.try_recv().is_ok() {}
        let delay = backoff_ms(attempt, js_sys::Math::random());
        let _ = select(TimeoutFuture::new(delay), wake.next()).await;
    }
}

async fn session(
    ws: WebSocket,
    on_msg: &mut impl FnMut(ServerMsg) -> Flow,
    set_link: &impl Fn(Link),
    attempt: &mut u32,
) -> Outcome {
    let (mut write, mut read) = ws.split();
    let mut greeted = false;
    let mut asked = false;
    loop {
        let wait = match (greeted, asked) {
            (false, _) => GREETING_MS,
            (true, false) => QUIET_MS,
            (true, true) => ANSWER_MS,
        };
        let frame = match select(read.next(), TimeoutFuture::new(wait)).await {
            Either::Left((frame, _)) => {
                asked = false;
                frame
            }
            Either::Right(_) if greeted && !asked => {
                // Open (it greeted us), so the send goes out at once.
                let ping = serde_json::to_string(&ClientMsg::Ping).unwrap_or_default();
                let _ = write.send(Message::Text(ping)).now_or_never();
                asked = true;
                continue;
            }
            Either::Right(_) => {
                leptos::logging::warn!("the server stopped answering; reconnecting");
                return Outcome::Retry { unavailable: false };
            }
        };
        match frame {
            Some(Ok(Message::Text(text))) => match serde_json::from_str::<ServerMsg>(&text) {
                Ok(msg) => {
                    // The link is up once the server has greeted us; later
                    // frames may say the data source is down (`on_msg`
                    // shows that).
                    if matches!(
                        msg,
                        ServerMsg::Hello { .. }
                            | ServerMsg::Latest { .. }
                            | ServerMsg::Floor { .. }
                    ) {
                        greeted = true;
                        *attempt = 0;
                        set_link(Link::Live);
                    }
                    if on_msg(msg) == Flow::Stop {
                        return Outcome::Stop;
                    }
                }
                Err(e) => leptos::logging::warn!("ignored an unreadable frame: {e}"),
            },
            Some(Ok(Message::Bytes(_))) => {}
            Some(Err(WebSocketError::ConnectionClose(ev))) => {
                return match ev.code {
                    // Access to the call ended (even if its error frame was
                    // lost on the way).
                    close::UNKNOWN_CALL => {
                        set_link(Link::AccessEnded);
                        Outcome::Stop
                    }
                    close::MALFORMED_CALL_ID => Outcome::Stop,
                    close::SIGNED_OUT => {
                        set_link(Link::SignedOut);
                        Outcome::Stop
                    }
                    close::UNAVAILABLE => Outcome::Retry { unavailable: true },
                    _ => Outcome::Retry { unavailable: false },
                };
            }
            Some(Err(_)) | None => return Outcome::Retry { unavailable: false },
        }
    }
}

/// Whether the session is alive; when the server cannot be asked (the
/// network is down), assume it is and keep trying.
async fn signed_in() -> bool {
    !matches!(crate::api::current_user().await, Ok(None))
}

fn socket_url(path: &str) -> String {
    let location = leptos::prelude::location();
    let scheme = match location.protocol().as_deref() {
        Ok("https:") => "wss:",
        _ => "ws:",
    };
    let host = location.host().unwrap_or_default();
    format!("{scheme}//{host}{path}")
}

/// Wake-ups for a reconnect wait: the network came back, or the tab became
/// visible again (a phone unlocked). Listeners are removed with the owner.
pub fn wake_events() -> mpsc::UnboundedReceiver<()> {
    use leptos::prelude::*;
    let (tx, rx) = mpsc::unbounded();
    let online_tx = tx.clone();
    let online = window_event_listener(leptos::ev::online, move |_| {
        let _ = online_tx.unbounded_send(());
    });
    let visible = window_event_listener(leptos::ev::visibilitychange, move |_| {
        if document().visibility_state() == web_sys::VisibilityState::Visible {
            let _ = tx.unbounded_send(());
        }
    });
    on_cleanup(move || {
        online.remove();
        visible.remove();
    });
    rx
}
