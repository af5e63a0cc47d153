//! The dashboard: controls on top, then the call being watched (or an
//! empty state that says why there is none), kept live over a WebSocket.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use crate::api::{load_call, load_latest, share_call};
use crate::components::call_card::CallCard;
use crate::components::controls::{call_path, Controls};
use crate::components::status::StatusBadge;
use crate::components::top_bar::TopBar;
use crate::components::transcript::{Transcript, TranscriptView};
use crate::context::{Follow, Me, Newest, Shown};
use crate::error::AppError;
use crate::live::status::{Flow, Link, Status};
use crate::model::{CallDetails, CallId, CallSnapshot, CallStatus};
use crate::protocol::{call_socket_path, is_grant_shaped, ErrorCode, ServerMsg, LOBBY_SOCKET_PATH};

#[component]
pub fn Dashboard() -> impl IntoView {
    let location = use_location();
    let requested = Memo::new(move |_| {
        location
            .pathname
            .with(|p| p.strip_prefix("/calls/").map(str::to_string))
    });
    // The call on screen. When the address bar catches up with it (the
    // home page names the call it shows), there is nothing to load again.
    let shown = RwSignal::new(None::<CallId>);
    provide_context(Shown(shown));
    provide_context(Newest(RwSignal::new(None)));
    let wanted = Memo::new(move |previous: Option<&Option<String>>| {
        let requested = requested.get();
        let already_shown = requested
            .as_deref()
            .and_then(|raw| CallId::parse(raw).ok())
            .is_some_and(|id| shown.get_untracked().as_ref() == Some(&id));
        match previous {
            Some(previous) if already_shown => previous.clone(),
            _ => requested,
        }
    });
    // A shared link's grant travels with the call it opens.
    let query = use_query_map();
    let grant = move || {
        query
            .with_untracked(|q| q.get("grant"))
            .filter(|g| is_grant_shaped(g))
    };
    let snapshot = Resource::new(
        move || wanted.get(),
        move |requested| async move {
            match requested {
                Some(raw) => load_call(raw, grant()).await.map(Some),
                None => load_latest().await,
            }
        },
    );

    view! {
        <main class="page">
            <TopBar signed_in=true />
            <Controls />
            <Transition fallback=|| view! { <p class="empty" data-testid="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match snapshot.await {
                        Ok(Some(snap)) => view! { <CallView snap grant=grant() /> }.into_any(),
                        Err(AppError::SignInRequired) => view! { <SignedOut /> }.into_any(),
                        Ok(None) => view! { <Lobby reason=LobbyReason::Waiting /> }.into_any(),
                        Err(AppError::UnknownCall(id)) => {
                            view! { <Lobby reason=LobbyReason::Unknown(id) /> }.into_any()
                        }
                        Err(e @ AppError::InvalidCallId { .. }) => {
                            view! { <Lobby reason=LobbyReason::Invalid(e.to_string()) /> }.into_any()
                        }
                        Err(e) => {
                            view! { <Lobby reason=LobbyReason::Failed(e.to_string()) /> }.into_any()
                        }
                    }
                })}
            </Transition>
        </main>
    }
}

/// What a view needs to react to a new call.
#[derive(Clone, Copy)]
struct Followers {
    follow: RwSignal<bool>,
    notice: RwSignal<Option<CallDetails>>,
    newest: RwSignal<Option<CallId>>,
}

impl Followers {
    fn new(notice: RwSignal<Option<CallDetails>>) -> Self {
        Self {
            follow: expect_context::<Follow>().0,
            notice,
            newest: use_context::<Newest>()
                .map(|n| n.0)
                .unwrap_or_else(|| RwSignal::new(None)),
        }
    }
}

/// The session ended while the page was open.
#[component]
fn SignedOut() -> impl IntoView {
    view! {
        <StatusBadge status=Status::SignedOut />
        <section class="empty-state" data-testid="empty-state">
            <h2>"Your session ended"</h2>
            <p>"Sign in again to keep watching."</p>
        </section>
    }
}

/// A call and its live transcript. `grant` is a shared link's, if the call
/// was opened from one.
#[component]
fn CallView(snap: CallSnapshot, grant: Option<String>) -> impl IntoView {
    let navigate = use_navigate();
    let id = snap.details.call_id.clone();
    if let Some(Shown(shown)) = use_context::<Shown>() {
        shown.set(Some(id.clone()));
        let mine = id.clone();
        on_cleanup(move || {
            shown.try_update(|s| {
                if s.as_ref() == Some(&mine) {
                    *s = None;
                }
            });
        });
    }
    let call = RwSignal::new(snap.details);
    let transcript = Transcript::new(snap.segments);
    let last_seq = StoredValue::new(snap.last_seq);
    let epoch = StoredValue::new(snap.epoch);
    let link = RwSignal::new(Link::Connecting);
    let notice = RwSignal::new(None::<CallDetails>);
    let followers = Followers::new(notice);

    let status = Signal::derive(move || {
        let ended = call.with(|c| c.status() == CallStatus::Ended);
        match link.get() {
            // An ended call stays "ended" while the link is fine.
            Link::Live | Link::Connecting if ended => Status::Ended,
            other => other.into(),
        }
    });

    // The address bar names the call shown (and keeps a shared link's
    // grant, so a reload still opens it).
    let here = match &grant {
        Some(g) => format!("{}?grant={g}", call_path(&id)),
        None => call_path(&id),
    };
    let here_path = call_path(&id);
    let location = use_location();
    let replace = navigate.clone();
    Effect::new(move |_| {
        if location.pathname.get_untracked() != here_path {
            replace(
                &here,
                NavigateOptions {
                    replace: true,
                    scroll: false,
                    ..Default::default()
                },
            );
        }
    });

    let on_msg = {
        let navigate = navigate.clone();
        move |msg: ServerMsg| {
            // Frames already buffered may arrive after this view is gone
            // (following a new call disposes it): stop, touch nothing.
            if link.is_disposed() {
                return Flow::Stop;
            }
            match msg {
                ServerMsg::Hello {
                    call: c,
                    after,
                    epoch: theirs,
                } => {
                    // The server could not resume where we were (it restarted,
                    // or renumbered the call): it replays the call in full.
                    if theirs != epoch.get_value() || after != last_seq.get_value() {
                        transcript.clear();
                        epoch.set_value(theirs);
                        last_seq.set_value(after);
                    }
                    call.set(c)
                }
                ServerMsg::CallUpdated { call: c } => call.set(c),
                ServerMsg::Transcript(seg) => {
                    last_seq.update_value(|s| *s = (*s).max(seg.seq));
                    transcript.upsert(seg);
                }
                ServerMsg::CaughtUp { seq } => last_seq.update_value(|s| *s = (*s).max(seq)),
                ServerMsg::NewCall { call: c } => return on_new_call(c, followers, &navigate),
                ServerMsg::Error {
                    code: ErrorCode::Unavailable,
                    ..
                }
                | ServerMsg::SourceStatus { available: false } => link.set(Link::Unavailable),
                ServerMsg::SourceStatus { available: true } => link.set(Link::Live),
                ServerMsg::Error {
                    code: ErrorCode::SignedOut,
                    ..
                } => {
                    link.set(Link::SignedOut);
                    return Flow::Stop;
                }
                ServerMsg::Error { message, .. } => {
                    leptos::logging::warn!("server: {message}");
                }
                ServerMsg::Latest { .. } | ServerMsg::Heartbeat => {}
            }
            Flow::Continue
        }
    };
    let path_id = id.clone();
    live_socket(
        move || {
            call_socket_path(
                &path_id,
                last_seq.try_get_value().unwrap_or_default(),
                epoch.try_get_value().unwrap_or_default(),
                followers.newest.try_get_untracked().flatten().as_ref(),
                grant.as_deref(),
            )
        },
        on_msg,
        link,
    );

    let share_id = id.clone();
    view! {
        <StatusBadge status />
        <NewCallNotice notice />
        <CallCard call />
        <ShareLink id=share_id />
        <TranscriptView transcript />
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum LobbyReason {
    /// No call has started yet.
    Waiting,
    Unknown(CallId),
    Invalid(String),
    /// The server could not answer; the message says why.
    Failed(String),
}

/// No call to show: says why, and listens for new calls.
#[component]
fn Lobby(reason: LobbyReason) -> impl IntoView {
    let navigate = use_navigate();
    let link = RwSignal::new(Link::Connecting);
    let notice = RwSignal::new(None::<CallDetails>);
    let followers = Followers::new(notice);

    let fixed = match &reason {
        LobbyReason::Waiting => None,
        LobbyReason::Unknown(_) => Some(Status::UnknownCall),
        LobbyReason::Invalid(_) => Some(Status::InvalidCall),
        LobbyReason::Failed(why) => Some(Status::Error(why.clone())),
    };
    let status = Signal::derive(move || match (&fixed, link.get()) {
        (Some(status), _) => status.clone(),
        (None, Link::Live) => Status::Waiting,
        (None, other) => other.into(),
    });
    let (title, detail) = match &reason {
        LobbyReason::Waiting => (
            "Waiting for the first call".to_string(),
            "The transcript appears here as soon as a call starts.".to_string(),
        ),
        LobbyReason::Unknown(id) => (
            format!("No call with id {id}"),
            "Check the id, or wait: new calls appear here when they start.".to_string(),
        ),
        LobbyReason::Invalid(message) => (
            message.clone(),
            "A call id looks like 0f8fad5b-d9cb-469f-a165-70867728950e.".to_string(),
        ),
        LobbyReason::Failed(message) => {
            (message.clone(), "Reload the page to try again.".to_string())
        }
    };
    let waiting = reason == LobbyReason::Waiting;

    let on_msg = {
        let navigate = navigate.clone();
        move |msg: ServerMsg| {
            if link.is_disposed() {
                return Flow::Stop;
            }
            match msg {
                // A call that started while the page loaded.
                ServerMsg::Latest { call: Some(c) } if waiting => {
                    on_new_call(c, followers, &navigate)
                }
                ServerMsg::NewCall { call: c } => on_new_call(c, followers, &navigate),
                ServerMsg::Error {
                    code: ErrorCode::Unavailable,
                    ..
                } => {
                    link.set(Link::Unavailable);
                    Flow::Continue
                }
                ServerMsg::Error {
                    code: ErrorCode::SignedOut,
                    ..
                } => {
                    link.set(Link::SignedOut);
                    Flow::Stop
                }
                _ => Flow::Continue,
            }
        }
    };
    live_socket(|| LOBBY_SOCKET_PATH.to_string(), on_msg, link);

    view! {
        <StatusBadge status />
        <NewCallNotice notice />
        <section class="empty-state" data-testid="empty-state">
            <h2>{title}</h2>
            <p>{detail}</p>
        </section>
    }
}

/// Follows a new call (this view then goes away: its socket stops) or
/// announces it.
/// Follows a new call or announces it. The socket carries on until this
/// view is replaced, so a call that starts while the next one loads is
/// not missed.
fn on_new_call(
    call: CallDetails,
    ctx: Followers,
    navigate: &impl Fn(&str, NavigateOptions),
) -> Flow {
    let Followers {
        follow,
        notice,
        newest,
    } = ctx;
    newest.try_set(Some(call.call_id.clone()));
    if follow.get_untracked() {
        navigate(&call_path(&call.call_id), NavigateOptions::default());
    } else {
        notice.set(Some(call));
    }
    Flow::Continue
}

/// For supervisors and admins: makes a signed link to this call that an
/// agent can open until it expires.
#[component]
fn ShareLink(id: CallId) -> impl IntoView {
    let me = expect_context::<Me>().0;
    let may_share = move || {
        me.get()
            .and_then(Result::ok)
            .flatten()
            .is_some_and(|u| u.role.sees_every_call())
    };
    let share = Action::new(move |id: &CallId| share_call(id.clone()));
    let link = move || {
        share.value().get().map(|result| match result {
            Ok((path, expires_ms)) => {
                let origin = window().location().origin().unwrap_or_default();
                let until = crate::components::call_card::format_local(expires_ms);
                view! {
                    <label class="share-output">
                        <span>"Link for an agent, valid until " {until} ":"</span>
                        <input
                            type="text"
                            readonly
                            data-testid="share-url"
                            prop:value=format!("{origin}{path}")
                        />
                    </label>
                }
                .into_any()
            }
            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
        })
    };
    view! {
        <Show when=may_share>
            <div class="share">
                <button
                    type="button"
                    data-testid="share-call"
                    on:click={
                        let id = id.clone();
                        move |_| {
                            share.dispatch(id.clone());
                        }
                    }
                >
                    "Share with an agent"
                </button>
                {link}
            </div>
        </Show>
    }
}

/// "A new call started" with a button to open it; shown when not following.
#[component]
fn NewCallNotice(notice: RwSignal<Option<CallDetails>>) -> impl IntoView {
    let navigate = use_navigate();
    view! {
        {move || {
            notice
                .get()
                .map(|call| {
                    let who = call
                        .customer_phone
                        .clone()
                        .unwrap_or_else(|| call.call_id.to_string());
                    let path = call_path(&call.call_id);
                    let navigate = navigate.clone();
                    view! {
                        <aside class="notice" role="status" data-testid="new-call-notice">
                            <span>"A new call started: " <strong>{who}</strong></span>
                            <button
                                type="button"
                                data-testid="open-new-call"
                                on:click=move |_| {
                                    notice.set(None);
                                    navigate(&path, NavigateOptions::default());
                                }
                            >
                                "Open"
                            </button>
                            <button
                                type="button"
                                class="quiet"
                                aria-label="Dismiss"
                                on:click=move |_| notice.set(None)
                            >
                                "✕"
                            </button>
                        </aside>
                    }
                })
        }}
    }
}

/// Keeps a socket open for as long as the calling component lives (in the
/// browser; on the server it does nothing).
#[cfg(feature = "hydrate")]
fn live_socket(
    path: impl Fn() -> String + 'static,
    on_msg: impl FnMut(ServerMsg) -> Flow + 'static,
    link: RwSignal<Link>,
) {
    use crate::client::socket;
    let wake = socket::wake_events();
    let set_link = move |l| {
        let _ = link.try_set(l);
    };
    let (task, handle) = futures::future::abortable(socket::run(path, on_msg, set_link, wake));
    leptos::task::spawn_local(async move {
        let _ = task.await;
    });
    on_cleanup(move || handle.abort());
}

#[cfg(not(feature = "hydrate"))]
fn live_socket(
    _path: impl Fn() -> String + 'static,
    _on_msg: impl FnMut(ServerMsg) -> Flow + 'static,
    _link: RwSignal<Link>,
) {
}
