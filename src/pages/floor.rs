//! The floor: every live and recent call the user may see, one row each,
//! kept live by one socket (`/ws/floor`). Search, filter and sort live in
//! the address, so a view can be bookmarked.

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
use crate::live::floor::{duration_ms, FloorQuery, FloorState, Sort};
use crate::live::status::{Link, Status};
use crate::model::{format_offset, CallStatus, FloorRow};

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
    // Sorting by duration follows the clock; the other views need not.
    let shown = Memo::new(move |_| {
        let q = query.get();
        let at = if q.sort == Sort::Longest { now() } else { None };
        state.with(|s| s.view(&q, at))
    });
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
            <label class="switch">
                <input
                    type="checkbox"
                    role="switch"
                    data-testid="floor-live-only"
                    prop:checked=move || query.with(|q| q.live_only)
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        set_query.with_value(|set| set(&|q| q.live_only = on));
                    }
                />
                <span class="track" aria-hidden="true"></span>
                <span>"Live only"</span>
            </label>
            <label class="switch">
                <input
                    type="checkbox"
                    role="switch"
                    data-testid="floor-with-alerts"
                    prop:checked=move || query.with(|q| q.with_alerts)
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        set_query.with_value(|set| set(&|q| q.with_alerts = on));
                    }
                />
                <span class="track" aria-hidden="true"></span>
                <span>"With alerts"</span>
            </label>
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
                <tbody>
                    <For
                        each=move || shown.get()
                        key=|row| {
                            (
                                row.call.call_id.clone(),
                                row.call.ended_at_ms,
                                row.last_line.clone(),
                                row.alerts.iter().map(|c| (c.label.clone(), c.count)).collect::<Vec<_>>(),
                            )
                        }
                        let:row
                    >
                        <Row row now=Signal::derive(now) />
                    </For>
                </tbody>
            </table>
        </Show>
        </Show>
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
    view! {
        <tr data-testid="call-row" data-call-id=id.clone() class:ended=!live>
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
