//! The wall: up to six calls side by side, each a compact live transcript
//! with its own details and its own socket (`/wall?calls=id1,id2,…`), or,
//! with no calls named, the newest live calls, new ones joining as they
//! start.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{load_call, load_floor};
use crate::components::alerts::AlertBadges;
use crate::components::call_card::{format_local, format_rfc3339, format_utc};
use crate::components::controls::call_path;
use crate::components::status::StatusBadge;
use crate::components::top_bar::TopBar;
use crate::components::transcript::TranscriptView;
use crate::context::Clock;
use crate::error::AppError;
use crate::hooks::live::use_call_feed;
use crate::hooks::socket::use_socket;
use crate::live::floor::FloorState;
use crate::live::state::LiveState;
use crate::live::status::{Flow, Link, Status};
use crate::live::wall::{follow, parse_calls, Tile, WallRequest, MAX_TILES};
use crate::model::{CallDetails, CallId, CallSnapshot, CallStatus};

#[component]
pub fn Wall() -> impl IntoView {
    let params = use_query_map();
    let request = Memo::new(move |_| params.with(|p| parse_calls(p.get_str("calls"))));
    view! {
        <Title text="Wall · TravoIQ Monitor" />
        <main class="page wall">
            <TopBar links_home=true signed_in=true />
            <div class="floor-head">
                <h2>"Wall"</h2>
                <p class="wall-what" data-testid="wall-what">
                    {move || match request.get() {
                        WallRequest::Following => {
                            format!("The newest live calls, up to {MAX_TILES}; new calls join as they start.")
                        }
                        _ => "The calls you picked.".to_string(),
                    }}
                </p>
                <a href="/calls" class="to-dashboard" data-testid="to-floor">"All calls"</a>
            </div>
            {move || match request.get() {
                WallRequest::Following => view! { <FollowingWall /> }.into_any(),
                // The chosen calls come with the page, each loaded as the
                // viewer may see it.
                WallRequest::Chosen(tiles) => view! {
                    <div class="wall-grid" data-testid="wall-grid">
                        {tiles.into_iter().map(|tile| view! { <WallTile tile /> }).collect_view()}
                    </div>
                }
                .into_any(),
                WallRequest::TooMany(n) => view! {
                    <section class="empty-state" data-testid="wall-refused" role="alert">
                        <h2>{format!("A wall shows at most {MAX_TILES} calls; this address names {n}.")}</h2>
                        <p>
                            "Pick up to " {MAX_TILES} " calls on "
                            <a href="/calls">"the floor"</a>
                            "."
                        </p>
                    </section>
                }
                .into_any(),
            }}
        </main>
    }
}

/// The newest live calls the viewer may see, from the floor's table kept
/// live over `/ws/floor`.
#[component]
fn FollowingWall() -> impl IntoView {
    // The floor's calls change by the moment: the tiles are chosen and
    // drawn in the browser (as the floor draws its rows), from the
    // floor's table and socket.
    let running = RwSignal::new(false);
    Effect::new(move |_| running.set(true));
    view! {
        <Show
            when=move || running.get()
            fallback=|| view! { <p class="empty" data-testid="wall-loading">"Loading calls…"</p> }
        >
            <FollowingLoad />
        </Show>
    }
}

#[component]
fn FollowingLoad() -> impl IntoView {
    let rows = LocalResource::new(load_floor);
    view! {
        <Suspense fallback=|| view! { <p class="empty" data-testid="wall-loading">"Loading calls…"</p> }>
            {move || Suspend::new(async move {
                match rows.await {
                    Ok(rows) => {
                        let state = RwSignal::new(FloorState::new(rows));
                        view! { <FollowingTiles state /> }.into_any()
                    }
                    Err(AppError::SignInRequired) => {
                        view! { <StatusBadge status=Status::SignedOut /> }.into_any()
                    }
                    Err(e) => view! {
                        <section class="empty-state" data-testid="wall-error">
                            <h2>{e.to_string()}</h2>
                            <p>"Reload the page to try again."</p>
                        </section>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn FollowingTiles(state: RwSignal<FloorState>) -> impl IntoView {
    use_socket(
        || "/ws/floor".to_string(),
        move |msg| state.try_update(|s| s.apply(msg)).unwrap_or(Flow::Stop),
        move |link: Link| {
            state.try_update(|s| s.link = link);
        },
    );
    let status = Memo::new(move |_| state.with(|s| Status::from(s.link)));
    let tiles = Memo::new(move |previous: Option<&Vec<CallId>>| {
        let current = previous.map(Vec::as_slice).unwrap_or_default();
        state.with(|s| follow(current, s.rows()))
    });
    view! {
        <div class="wall-follow-status">
            <span>"New calls:"</span>
            <StatusBadge status />
        </div>
        <Show
            when=move || !tiles.with(Vec::is_empty)
            fallback=|| view! {
                <section class="empty-state" data-testid="wall-empty">
                    <h2>"No live calls"</h2>
                    <p>"New calls appear here as they start."</p>
                </section>
            }
        >
            <div class="wall-grid" data-testid="wall-grid">
                <For each=move || tiles.get() key=|id| id.clone() let:id>
                    <WallTile tile=Tile::Call(id) />
                </For>
            </div>
        </Show>
    }
}

/// One tile: a call, or why the address's entry shows none.
#[component]
fn WallTile(tile: Tile) -> impl IntoView {
    match tile {
        Tile::Malformed { input, message } => {
            view! { <TileMessage shown=input message /> }.into_any()
        }
        Tile::Call(id) => view! { <CallTile id /> }.into_any(),
    }
}

/// A tile that shows no call, and says why.
#[component]
fn TileMessage(shown: String, message: String) -> impl IntoView {
    view! {
        <article class="tile tile-message" data-testid="wall-tile" data-call-id=shown>
            <p data-testid="tile-message">{message}</p>
        </article>
    }
}

/// Loads one call (as the viewer may see it: another agent's call is no
/// call at all) and keeps it live.
#[component]
fn CallTile(id: CallId) -> impl IntoView {
    let asked = id.to_string();
    let snapshot = Resource::new(|| (), {
        let asked = asked.clone();
        move |_| load_call(asked.clone(), None)
    });
    view! {
        <Suspense fallback={
            let asked = asked.clone();
            move || view! {
                <article class="tile tile-message" data-testid="wall-tile" data-call-id=asked.clone()>
                    <p>"Loading…"</p>
                </article>
            }
        }>
            {
                let asked = asked.clone();
                move || {
                    let asked = asked.clone();
                    Suspend::new(async move {
                        match snapshot.await {
                            Ok(snap) => view! { <LiveTile snap /> }.into_any(),
                            Err(e) => view! { <TileMessage shown=asked message=e.to_string() /> }
                                .into_any(),
                        }
                    })
                }
            }
        </Suspense>
    }
}

#[component]
fn LiveTile(snap: CallSnapshot) -> impl IntoView {
    let id = snap.details.call_id.clone();
    let loaded: CallDetails = snap.details.clone();
    let live = use_call_feed(LiveState::call(snap, None));
    let call = Memo::new(move |_| {
        live.with(|s| s.call_details().cloned())
            .unwrap_or_else(|| loaded.clone())
    });
    let status = Memo::new(move |_| live.with(LiveState::status));
    let alert_counts =
        Memo::new(move |_| live.with(|s| s.alerts().map(|a| a.counts()).unwrap_or_default()));
    let clock = use_context::<Clock>().map(|c| c.0);
    let started = move || {
        let ms = call.with(|c| c.started_at_ms);
        match ms {
            Some(ms) if clock.and_then(|c| c.get()).is_some() => format_local(ms),
            Some(ms) => format_utc(ms),
            None => "unknown".into(),
        }
    };
    let start_iso = move || call.with(|c| c.started_at_ms.and_then(format_rfc3339));
    let is_live = move || call.with(|c| c.status() == CallStatus::Live);
    let full = id.to_string();
    let short = full.split('-').next().unwrap_or_default().to_string();
    view! {
        <article
            class="tile"
            data-testid="wall-tile"
            data-call-id=full.clone()
            aria-label=format!("Call {short}")
        >
            <header class="tile-head">
                <a
                    href=call_path(&id)
                    class="mono tile-id"
                    title=format!("Open call {full}")
                    data-testid="tile-call-id"
                >
                    {full.clone()}
                </a>
                <StatusBadge status />
                <p class="tile-facts">
                    <span class="pill" class:ended=move || !is_live() data-testid="tile-state">
                        {move || if is_live() { "Live" } else { "Ended" }}
                    </span>
                    <span data-testid="tile-phone">
                        {move || call.with(|c| c.customer_phone.clone().unwrap_or_else(|| "unknown".into()))}
                    </span>
                    <time data-local datetime=start_iso data-testid="tile-start">{started}</time>
                </p>
                <AlertBadges counts=alert_counts />
            </header>
            <TranscriptView live />
        </article>
    }
}
