//! The dashboard: controls on top (a menu at the bottom on a phone), then
//! the call being watched (or an empty state that says why there is none),
//! kept live over a WebSocket.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_query_map};

use crate::api::{load_call, load_latest};
use crate::components::call_view::CallView;
use crate::components::controls::Controls;
use crate::components::lobby::{Lobby, SignedOut};
use crate::components::top_bar::TopBar;
use crate::context::{Follow, MenuOpen, Newest, ReadingBack, Shown};
use crate::error::AppError;
use crate::live::state::LobbyReason;
use crate::model::CallId;
use crate::protocol::is_grant_shaped;

#[component]
pub fn Dashboard() -> impl IntoView {
    let location = use_location();
    let requested = Memo::new(move |_| {
        location
            .pathname
            .with(|p| p.strip_prefix("/calls/").map(str::to_string))
    });
    // A mistyped address is the asker's mistake: the page says so with a
    // 400 (not a 200), and no server function is asked about it.
    #[cfg(feature = "ssr")]
    if let Some(Err(e)) = requested.get_untracked().map(|raw| malformed(&raw)) {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = axum::http::StatusCode::from_u16(e.status()) {
                response.set_status(status);
            }
        }
    }
    // The call on screen. When the address bar catches up with it (the
    // home page names the call it shows), there is nothing to load again.
    let shown = RwSignal::new(None::<CallId>);
    provide_context(Shown(shown));
    follow_only_at_home(location.pathname.get_untracked() == "/");
    provide_context(Newest(RwSignal::new(None)));
    provide_context(ReadingBack(RwSignal::new(false)));
    let menu = RwSignal::new(false);
    provide_context(MenuOpen(menu));
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
                Some(raw) => match malformed(&raw) {
                    Err(e) => Err(e),
                    Ok(()) => load_call(raw, grant()).await.map(Some),
                },
                None => load_latest().await,
            }
        },
    );

    view! {
        <main class="page dash" class:menu-open=move || menu.get()>
            <TopBar signed_in=true />
            // On a desktop the controls sit under the top bar; on a phone
            // they are a menu opened from the bar at the bottom, in thumb
            // reach, so the conversation has the screen.
            <div
                class="menu-sheet"
                id="dash-menu"
                data-testid="dash-menu"
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        menu.set(false);
                    }
                }
            >
                <Controls />
            </div>
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
                        Err(e @ (AppError::LinkExpired | AppError::LinkNotValid)) => {
                            view! { <Lobby reason=LobbyReason::Link(e.to_string()) /> }.into_any()
                        }
                        Err(e) => {
                            view! { <Lobby reason=LobbyReason::Failed(e.to_string()) /> }.into_any()
                        }
                    }
                })}
            </Transition>
            <nav class="bottom-bar" aria-label="Monitoring">
                <button
                    type="button"
                    class="menu-button"
                    data-testid="menu-button"
                    aria-controls="dash-menu"
                    aria-expanded=move || menu.get().to_string()
                    on:click=move |_| menu.update(|open| *open = !*open)
                >
                    <span aria-hidden="true">"☰"</span>
                    " Call ID and following"
                </button>
            </nav>
        </main>
    }
}

/// Whether `raw` (from the address bar) can be a call id at all; the
/// same error the server would answer, without asking it (a refused
/// request would be a console error in the browser).
fn malformed(raw: &str) -> Result<(), AppError> {
    CallId::parse(raw)
        .map(|_| ())
        .map_err(|reason| AppError::invalid_call_id(raw, reason))
}

/// Following is on only when the dashboard was opened at `/`, and there as
/// this browser last left the switch; a page opened on a call's address (a
/// bookmark, a pasted or shared link, a reload) stays on that call.
fn follow_only_at_home(at_home: bool) {
    let follow = expect_context::<Follow>().0;
    // The server renders the switch as most browsers will have it.
    follow.set(at_home);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if at_home {
            follow.set(crate::client::prefs::follows_new_calls());
        }
    });
}
