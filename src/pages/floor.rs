//! The floor: every live and recent call the user may see, one row each
//! (or one row per agent, their calls beneath), kept live by one socket
//! (`/ws/floor`). Search, filters, sort and grouping live in the address,
//! so a view can be bookmarked. Calls picked here open on the wall.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use crate::api::load_floor;
use crate::components::alerts::AlertBadges;
use crate::components::call_card::{format_local, format_rfc3339, format_utc};
use crate::components::controls::call_path;
use crate::components::notify::CriticalNotify;
use crate::components::status::StatusBadge;
use crate::components::top_bar::TopBar;
use crate::context::Clock;
use crate::error::AppError;
use crate::hooks::socket::use_socket;
use crate::live::floor::{
    duration_ms, group_by_agent, AgentGroup, FloorQuery, FloorState, Now, Since, Sort,
};
use crate::live::status::{Link, Status};
use crate::live::wall::{wall_path, MAX_TILES};
use crate::model::{format_offset, CallId, CallStatus, FloorRow};

/// The calls picked for the wall, in the order picked.
#[derive(Clone, Copy)]
struct Picked(RwSignal<Vec<CallId>>);

#[component]
pub fn Floor() -> impl IntoView {
    let rows = Resource::new(|| (), |_| load_floor());
    view! {
        <Title text="Calls · TravoIQ Monitor" />
        <main class="page floor">
            <TopBar links_home=true signed_in=true />
            <Transition fallback=|| view! { <p class="empty" data-testid="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match rows.await {
                        Ok(rows) => view! { <FloorTable rows /> }.into_any(),
                        Err(AppError::SignInRequired) => {
                            view! { <StatusBadge status=Status::SignedOut /> }.into_any()
                        }
                        Err(e) => view! {
                            <section class="empty-state" data-testid="floor-error">
                                <h2>{e.to_string()}</h2>
                                <p>"Reload the page to try again."</p>
                            </section>
                        }
                        .into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn FloorTable(rows: Vec<FloorRow>) -> impl IntoView {
    let state = RwSignal::new(FloorState::new(rows));
    use_socket(
        || "/ws/floor".to_string(),
        move |msg| {
            state
                .try_update(|s| s.apply(msg))
                .unwrap_or(crate::live::status::Flow::Stop)
        },
        move |link: Link| {
            state.try_update(|s| s.link = link);
        },
    );
    let status = Memo::new(move |_| state.with(|s| Status::from(s.link)));

    let params = use_query_map();
    let query = Memo::new(move |_| params.with(|p| FloorQuery::from_params(|k| p.get_str(k))));
    let navigate = use_navigate();
    let set_query = move |change: &dyn Fn(&mut FloorQuery)| {
        let mut q = query.get_untracked();
        change(&mut q);
        navigate(
            &format!("/calls{}", q.to_query_string()),
            NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            },
        );
    };
    let set_query = StoredValue::new(set_query);
    let clock = use_context::<Clock>().map(|c| c.0);
    let now = move || clock.and_then(|c| c.get());
    // Sorting by duration and the time ranges follow the clock; the other
    // views need not.
    let shown = Memo::new(move |_| {
        let q = query.get();
        let at = if q.sort == Sort::Longest || q.since != Since::All {
            Now {
                ms: now(),
                today_ms: now().and_then(local_midnight_ms),
            }
        } else {
            Now::default()
        };
        state.with(|s| s.view_at(&q, at))
    });
    let grouped = Memo::new(move |_| query.with(|q| q.by_agent));
    let groups = Memo::new(move |_| {
        if grouped.get() {
            group_by_agent(shown.get())
        } else {
            Vec::new()
        }
    });
    // Groups opened to show their calls (by agent).
    let open_groups = RwSignal::new(Vec::<Option<String>>::new());
    let picked = Picked(RwSignal::new(Vec::new()));
    provide_context(picked);
    let wall_href = move || picked.0.with(|ids| wall_path(ids));
    let total = Memo::new(move |_| state.with(FloorState::len));
    let critical = Memo::new(move |_| state.with(FloorState::critical_alerts));
    // The rows are drawn in the browser, from its own copy of the table:
    // rows change by the moment, and a page hydrating over rows the server
    // drew a moment earlier would keep the old ones' text under the new
    // ones' keys. Until the page runs it says it is loading (the data
    // comes with the page).
    let running = RwSignal::new(false);
    Effect::new(move |_| running.set(true));
    let agents = Memo::new(move |_| state.with(FloorState::agents));

    view! {
        <div class="floor-head">
            <h2>"Calls"</h2>
            <StatusBadge status />
            <a href="/" class="to-dashboard" data-testid="to-dashboard">"Follow the newest call"</a>
            <RulesLink />
            <CriticalNotify critical=critical what="the floor".to_string() />
            <a href=wall_href class="to-wall" data-testid="open-wall">
                {move || match picked.0.with(Vec::len) {
                    0 => "Wall of the newest calls".to_string(),
                    n => format!("Open wall ({n} of {MAX_TILES})"),
                }}
            </a>
        </div>
        <form class="floor-tools" role="search" on:submit=|ev| ev.prevent_default()>
            <label class="tool">
                <span>"Search"</span>
                <input
                    type="search"
                    data-testid="floor-search"
                    placeholder="Contact id or phone number"
                    autocomplete="off"
                    prop:value=move || query.with(|q| q.search.clone())
                    on:input=move |ev| {
                        let text = event_target_value(&ev);
                        set_query.with_value(|set| set(&|q| q.search = text.clone()));
                    }
                />
            </label>
            <label class="tool">
                <span>"Agent"</span>
                <select
                    data-testid="floor-agent"
                    prop:value=move || query.with(|q| q.agent.clone().unwrap_or_default())
                    on:change=move |ev| {
                        let agent = event_target_value(&ev);
                        set_query.with_value(|set| {
                            set(&|q| q.agent = (!agent.is_empty()).then(|| agent.clone()))
                        });
                    }
                >
                    <option value="">"Every agent"</option>
                    <For each=move || agents.get() key=|a| a.clone() let:agent>
                        <option value=agent.clone()>{agent.clone()}</option>
                    </For>
                </select>
            </label>
            <label class="tool">
                <span>"Sort"</span>
                <select
                    data-testid="floor-sort"
                    prop:value=move || query.with(|q| q.sort.as_str())
                    on:change=move |ev| {
                        let sort = Sort::parse(&event_target_value(&ev));
                        set_query.with_value(|set| set(&|q| q.sort = sort));
                    }
                >
                    <option value="newest">"Newest first"</option>
                    <option value="longest">"Longest first"</option>
                    <option value="alerts">"Most alerts"</option>
                </select>
            </label>
            <label class="tool">
                <span>"Started"</span>
                <select
                    data-testid="floor-since"
                    prop:value=move || query.with(|q| q.since.as_str())
                    on:change=move |ev| {
                        let since = Since::parse(&event_target_value(&ev)).unwrap_or_default();
                        set_query.with_value(|set| set(&|q| q.since = since));
                    }
                >
                    {Since::ALL
                        .into_iter()
                        .map(|s| view! { <option value=s.as_str()>{s.label()}</option> })
                        .collect_view()}
                </select>
            </label>
            <FilterSwitch
                label="Group by agent"
                testid="floor-group"
                checked=Signal::derive(move || query.with(|q| q.by_agent))
                set=move |on| set_query.with_value(|set| set(&|q| q.by_agent = on))
            />
            <FilterSwitch
                label="Live only"
                testid="floor-live-only"
                checked=Signal::derive(move || query.with(|q| q.live_only))
                set=move |on| set_query.with_value(|set| set(&|q| q.live_only = on))
            />
            <FilterSwitch
                label="With alerts"
                testid="floor-with-alerts"
                checked=Signal::derive(move || query.with(|q| q.with_alerts))
                set=move |on| set_query.with_value(|set| set(&|q| q.with_alerts = on))
            />
        </form>
        <Show
            when=move || running.get()
            fallback=|| view! { <p class="empty" data-testid="floor-loading">"Loading calls…"</p> }
        >
        <p class="floor-count" data-testid="floor-count" aria-live="polite">
            {move || {
                let (n, of) = (shown.with(Vec::len), total.get());
                if n == of { format!("{n} calls") } else { format!("{n} of {of} calls") }
            }}
        </p>
        <Show
            when=move || !shown.with(Vec::is_empty)
            fallback=move || view! {
                <section class="empty-state" data-testid="floor-empty">
                    <h2>{move || if total.get() == 0 { "No calls yet" } else { "No call matches" }}</h2>
                    <p>"New calls appear here as they start."</p>
                </section>
            }
        >
            <table class="floor-table" data-testid="floor-table">
                <thead>
                    <tr>
                        <th scope="col">"Wall"</th>
                        <th scope="col">"Call"</th>
                        <th scope="col">"Customer"</th>
                        <th scope="col">"Agent"</th>
                        <th scope="col">"Started"</th>
                        <th scope="col">"Duration"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Alerts"</th>
                        <th scope="col">"Last said"</th>
                    </tr>
                </thead>
                <Show
                    when=move || grouped.get()
                    fallback=move || view! {
                        <tbody>
                            <For each=move || shown.get() key=row_key let:row>
                                <Row row now=Signal::derive(now) />
                            </For>
                        </tbody>
                    }
                >
                    <For
                        each=move || groups.get()
                        key=|g| (g.agent.clone(), g.calls.iter().map(row_key).collect::<Vec<_>>())
                        let:group
                    >
                        <Group group open_groups now=Signal::derive(now) />
                    </For>
                </Show>
            </table>
        </Show>
        </Show>
    }
}

/// A row's key: it is drawn again when its call ends, says a new line or
/// raises an alert.
type RowKey = (
    CallId,
    Option<i64>,
    Option<crate::model::LastLine>,
    Vec<(String, u32)>,
);

fn row_key(row: &FloorRow) -> RowKey {
    (
        row.call.call_id.clone(),
        row.call.ended_at_ms,
        row.last_line.clone(),
        row.alerts
            .iter()
            .map(|c| (c.label.clone(), c.count))
            .collect(),
    )
}

/// When today began in the viewer's zone, for a time `ms` (browser only).
fn local_midnight_ms(ms: i64) -> Option<i64> {
    #[cfg(feature = "hydrate")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
        date.set_hours(0);
        date.set_minutes(0);
        date.set_seconds(0);
        date.set_milliseconds(0);
        Some(date.get_time() as i64)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ms;
        None
    }
}

/// One agent's row (their call now, how many calls), and their calls
/// beneath once opened.
#[component]
fn Group(
    group: AgentGroup,
    open_groups: RwSignal<Vec<Option<String>>>,
    #[prop(into)] now: Signal<Option<i64>>,
) -> impl IntoView {
    let AgentGroup {
        agent,
        current,
        calls,
    } = group;
    let name = agent.clone().unwrap_or_else(|| "Unassigned".into());
    let count = match calls.len() {
        1 => "1 call".to_string(),
        n => format!("{n} calls"),
    };
    let is_open = {
        let agent = agent.clone();
        Memo::new(move |_| open_groups.with(|o| o.contains(&agent)))
    };
    let toggle = {
        let agent = agent.clone();
        move |_| {
            open_groups.update(|o| match o.iter().position(|a| *a == agent) {
                Some(i) => {
                    o.remove(i);
                }
                None => o.push(agent.clone()),
            })
        }
    };
    let current_id = current.call.call_id.to_string();
    let current_short = current_id.split('-').next().unwrap_or_default().to_string();
    let live = current.call.status() == CallStatus::Live;
    let said = current
        .last_line
        .as_ref()
        .map(|l| format!("{}: {}", l.speaker.label(), l.text))
        .unwrap_or_default();
    let calls = StoredValue::new(calls);
    let rows = move || {
        calls
            .get_value()
            .into_iter()
            .map(|row| view! { <Row row now /> })
            .collect_view()
    };
    view! {
        <tbody class="agent-group" class:open=move || is_open.get()>
            <tr class="agent-row" data-testid="agent-row" data-agent=agent.clone().unwrap_or_default()>
                <th scope="rowgroup" colspan="9">
                    <div class="agent-head">
                        <button
                            type="button"
                            class="agent-toggle"
                            data-testid="agent-toggle"
                            aria-expanded=move || is_open.get().to_string()
                            on:click=toggle
                        >
                            <span aria-hidden="true">{move || if is_open.get() { "▾" } else { "▸" }}</span>
                            <span class="agent-name" data-testid="agent-name">{name.clone()}</span>
                        </button>
                        <span class="agent-count" data-testid="agent-count">{count}</span>
                        <span class="agent-current">
                            <a
                                href=call_path(&current.call.call_id)
                                class="mono"
                                title=current_id.clone()
                                data-testid="agent-current"
                                data-call-id=current_id.clone()
                            >
                                {current_short}
                            </a>
                            " "
                            <span class="pill" class:ended=!live data-testid="agent-current-state">
                                {if live { "Live" } else { "Ended" }}
                            </span>
                        </span>
                        <span class="agent-said">{said}</span>
                    </div>
                </th>
            </tr>
            <Show when=move || is_open.get()>{rows}</Show>
        </tbody>
    }
}

#[component]
fn Row(row: FloorRow, #[prop(into)] now: Signal<Option<i64>>) -> impl IntoView {
    let id = row.call.call_id.to_string();
    let short = id.split('-').next().unwrap_or_default().to_string();
    let path = call_path(&row.call.call_id);
    let live = row.call.status() == CallStatus::Live;
    let started_ms = row.call.started_at_ms;
    let started = move || match started_ms {
        Some(ms) if now.get().is_some() => format_local(ms),
        Some(ms) => format_utc(ms),
        None => "unknown".into(),
    };
    let start_iso = started_ms.and_then(format_rfc3339);
    let duration = {
        let row = row.clone();
        move || match row.call.started_at_ms {
            Some(_) => format_offset(duration_ms(&row, now.get())),
            None => "—".into(),
        }
    };
    // The same elements with or without a line (the page may hydrate
    // rows a moment newer than the server drew them).
    let alerts = row.alerts.clone();
    let (speaker, said) = match &row.last_line {
        Some(line) => (format!("{}: ", line.speaker.label()), line.text.clone()),
        None => (String::new(), String::new()),
    };
    let picked = expect_context::<Picked>().0;
    let call_id = row.call.call_id.clone();
    let is_picked = {
        let call_id = call_id.clone();
        Memo::new(move |_| picked.with(|p| p.contains(&call_id)))
    };
    let full = Memo::new(move |_| picked.with(Vec::len) >= MAX_TILES);
    let on_pick = move |ev| {
        let on = event_target_checked(&ev);
        picked.update(|p| {
            p.retain(|c| *c != call_id);
            if on && p.len() < MAX_TILES {
                p.push(call_id.clone());
            }
        });
    };
    let pick_label = format!("Show call {short} on the wall");
    view! {
        <tr data-testid="call-row" data-call-id=id.clone() class:ended=!live>
            <td data-label="Wall" class="pick">
                <input
                    type="checkbox"
                    data-testid="wall-pick"
                    aria-label=pick_label
                    prop:checked=move || is_picked.get()
                    disabled=move || full.get() && !is_picked.get()
                    on:change=on_pick
                />
            </td>
            <td data-label="Call">
                <a href=path class="mono" title=id.clone() data-testid="call-link">{short}</a>
            </td>
            <td data-label="Customer" data-testid="row-phone">
                {row.call.customer_phone.clone().unwrap_or_else(|| "unknown".into())}
            </td>
            <td data-label="Agent" data-testid="row-agent">{row.agent.clone().unwrap_or_else(|| "—".into())}</td>
            <td data-label="Started">
                <time data-local datetime=start_iso>{started}</time>
            </td>
            <td data-label="Duration" class="mono" data-testid="row-duration">{duration}</td>
            <td data-label="State">
                <span class="pill" class:ended=!live data-testid="row-state">
                    {if live { "Live" } else { "Ended" }}
                </span>
            </td>
            <td data-label="Alerts" class="row-alerts" data-testid="row-alerts">
                <AlertBadges counts=alerts />
            </td>
            <td data-label="Last said" class="last-line" data-testid="row-last-line">
                <strong>{speaker}</strong>
                <span>{said}</span>
            </td>
        </tr>
    }
}

/// A link to the alert rules, for those who may edit them.
#[component]
fn RulesLink() -> impl IntoView {
    let me = use_context::<crate::context::Me>().map(|m| m.0);
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                let user = match me {
                    Some(me) => me.await.ok().flatten(),
                    None => None,
                };
                user.filter(|u| u.role != crate::model::Role::Agent).map(|_| {
                    view! { <a href="/rules" class="to-rules" data-testid="rules-link">"Alert rules"</a> }
                })
            })}
        </Suspense>
    }
}

/// One of the floor's on/off filters (kept in the address by `set`).
#[component]
fn FilterSwitch(
    label: &'static str,
    testid: &'static str,
    #[prop(into)] checked: Signal<bool>,
    set: impl Fn(bool) + 'static,
) -> impl IntoView {
    view! {
        <label class="switch">
            <input
                type="checkbox"
                role="switch"
                data-testid=testid
                prop:checked=move || checked.get()
                on:change=move |ev| set(event_target_checked(&ev))
            />
            <span class="track" aria-hidden="true"></span>
            <span>{label}</span>
        </label>
    }
}
