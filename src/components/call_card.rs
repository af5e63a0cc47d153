//! The call details card: who, when, how long, live or ended.

use leptos::prelude::*;

use crate::context::Clock;
use crate::model::{CallDetails, CallStatus};

/// A start time in UTC: rendered on the server and during hydration.
pub fn format_utc(ms: i64) -> String {
    use time::macros::format_description;
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| "unknown".into())
}

/// A time as `<time datetime>` wants it: RFC 3339, UTC.
pub fn format_rfc3339(ms: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// A time in the viewer's own time zone and locale, naming the zone
/// ("30/11/2026, 10:04:05 CET").
#[cfg(feature = "hydrate")]
pub fn format_local(ms: i64) -> String {
    use wasm_bindgen::JsValue;
    let date = js_sys::Date::new(&JsValue::from_f64(ms as f64));
    let options = js_sys::Object::new();
    // Setting a property on a fresh plain object cannot fail.
    let _ = js_sys::Reflect::set(
        &options,
        &JsValue::from_str("timeZoneName"),
        &JsValue::from_str("short"),
    );
    String::from(date.to_locale_string("default", &options))
}

#[cfg(not(feature = "hydrate"))]
pub fn format_local(ms: i64) -> String {
    format_utc(ms)
}

/// A number for a phone's head line: a masked run of digits said with two
/// dots ("+••0123"), so the digits that tell calls apart fit.
fn compact_phone(phone: &str) -> String {
    let mut out = String::with_capacity(phone.len());
    let mut run = 0;
    for c in phone.chars() {
        if c == '•' {
            run += 1;
            if run <= 2 {
                out.push(c);
            }
        } else {
            run = 0;
            out.push(c);
        }
    }
    out
}

/// `current`: the page still hears from the server. Once it does not (the
/// session ended), the card stops claiming the call is live and its
/// duration stops where the page last knew it.
/// `children` go at the end of the card's head line (the connection
/// status).
/// `details_open`: on a phone the card is its head line alone (state,
/// duration, number, connection) until its "Details" button opens the
/// rest; a desktop shows everything and no button.
#[component]
pub fn CallCard(
    #[prop(into)] call: Signal<CallDetails>,
    #[prop(into)] current: Signal<bool>,
    details_open: RwSignal<bool>,
    children: Children,
) -> impl IntoView {
    let clock = use_context::<Clock>().map(|c| c.0);
    let now = Memo::new(move |last: Option<&Option<i64>>| {
        if current.get() {
            clock.and_then(|c| c.get())
        } else {
            last.copied().flatten()
        }
    });
    let now = move || now.get();
    let started = move || {
        call.with(|c| match c.started_at_ms {
            Some(ms) if now().is_some() => format_local(ms),
            Some(ms) => format_utc(ms),
            None => c
                .attributes
                .get("callTimestamp")
                .cloned()
                .unwrap_or_else(|| "unknown".into()),
        })
    };
    let duration = move || {
        call.with(|c| {
            let start = c.started_at_ms?;
            let end = c.ended_at_ms.or_else(now)?;
            Some(crate::model::format_offset(end - start))
        })
        .unwrap_or_else(|| "—".into())
    };
    let phone = move || call.with(|c| c.customer_phone.clone().unwrap_or_else(|| "unknown".into()));
    let short_phone = move || compact_phone(&phone());
    let ended = move || call.with(|c| c.status() == CallStatus::Ended);
    let state = move || match (ended(), current.get()) {
        (true, _) => "Ended",
        (false, true) => "Live",
        (false, false) => "Not updating",
    };
    let start_iso = move || call.with(|c| c.started_at_ms.and_then(format_rfc3339));
    let extras = move || {
        call.with(|c| {
            c.labelled_extras()
                .map(|(label, k, v)| (label.to_string(), k.clone(), v.clone()))
                .collect::<Vec<_>>()
        })
    };

    view! {
        <section class="card" data-testid="call-card" aria-label="Call details">
            <div class="card-head">
                <h2>"Call details"</h2>
                <span
                    class="pill"
                    class:ended=ended
                    class:stale=move || !current.get()
                    data-testid="call-state"
                >
                    {state}
                </span>
                // A phone's head line: how long, and with whom.
                <span class="head-facts">
                    <span class="mono" data-testid="head-duration">{duration}</span>
                    <span class="head-phone" data-testid="head-phone">
                        <span>{short_phone}</span>
                    </span>
                </span>
                {children()}
                <button
                    type="button"
                    class="details-toggle"
                    data-testid="details-toggle"
                    aria-controls="call-facts"
                    aria-expanded=move || details_open.get().to_string()
                    on:click=move |_| details_open.update(|open| *open = !*open)
                >
                    <span class="word">"Details"</span>
                    <span aria-hidden="true" class="chevron"></span>
                </button>
            </div>
            <dl class="facts" id="call-facts">
                <div>
                    <dt>"Contact ID"</dt>
                    <dd class="mono" data-testid="call-id">{move || call.with(|c| c.call_id.to_string())}</dd>
                </div>
                <div>
                    <dt>"Customer phone"</dt>
                    <dd data-testid="customer-phone">{phone}</dd>
                </div>
                <div>
                    <dt>"Started"</dt>
                    <dd>
                        <time data-testid="call-start" data-local datetime=start_iso>{started}</time>
                    </dd>
                </div>
                <div>
                    <dt>"Duration"</dt>
                    <dd class="mono" data-testid="call-duration">{duration}</dd>
                </div>
            </dl>
            {move || {
                call.with(|c| c.audio_stream.clone())
                    .map(|stream| {
                        view! {
                            <p class="stream">
                                "Audio stream: "
                                <span class="mono" data-testid="audio-stream">{stream}</span>
                            </p>
                        }
                    })
            }}
            <Show when=move || !extras().is_empty()>
                <details class="extra">
                    <summary>"More details"</summary>
                    <dl>
                        <For each=extras key=|(_, k, v)| (k.clone(), v.clone()) let:item>
                            {
                                let (label, key, value) = item;
                                let title = key.clone();
                                view! {
                                    <div data-attribute=key>
                                        <dt title=title>{label}</dt>
                                        <dd>{value}</dd>
                                    </div>
                                }
                            }
                        </For>
                    </dl>
                </details>
            </Show>
        </section>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_masked_number_is_shortened_for_the_head_line_and_a_plain_one_kept() {
        assert_eq!(super::compact_phone("+•••••••0123"), "+••0123");
        assert_eq!(super::compact_phone("+14155550123"), "+14155550123");
        assert_eq!(super::compact_phone("unknown"), "unknown");
        assert_eq!(super::compact_phone("••12••••34"), "••12••34");
    }

    #[test]
    fn machine_times_are_rfc3339_and_shown_ones_name_their_zone() {
        assert_eq!(
            super::format_rfc3339(1_764_496_800_000).as_deref(),
            Some("2025-11-30T10:00:00Z")
        );
        assert_eq!(
            super::format_utc(1_764_496_800_000),
            "2025-11-30 10:00:00 UTC"
        );
    }
}
