//! Talk time beside the call's details: each side's share of the call so
//! far, the silence, and the longest silence, as a small live bar.

use leptos::prelude::*;

use crate::live::state::LiveState;
use crate::live::talk::TalkTime;
use crate::model::format_offset;

#[component]
pub fn TalkChart(#[prop(into)] live: Signal<LiveState>) -> impl IntoView {
    let talk = Memo::new(move |_| {
        live.with(|s| {
            s.transcript()
                .map(|t| TalkTime::of(t.segments()))
                .unwrap_or_default()
        })
    });
    let width = move |ms: fn(&TalkTime) -> i64| {
        move || talk.with(|t| format!("width: {}%", t.percent(ms(t))))
    };
    let said = move |ms: fn(&TalkTime) -> i64| {
        move || talk.with(|t| format!("{} ({}%)", format_offset(ms(t)), t.percent(ms(t))))
    };
    view! {
        <Show when=move || talk.with(|t| t.span_ms > 0)>
            <figure class="talk" data-testid="talk-time" aria-label="Talk time">
                <div class="talk-bar" aria-hidden="true">
                    <span class="customer" style=width(|t| t.customer_ms)></span>
                    <span class="agent" style=width(|t| t.agent_ms)></span>
                </div>
                <figcaption>
                    <span class="key customer">"Customer "<span data-testid="talk-customer">{said(|t| t.customer_ms)}</span></span>
                    <span class="key agent">"Agent "<span data-testid="talk-agent">{said(|t| t.agent_ms)}</span></span>
                    <span class="key silence">"Silence "<span data-testid="talk-silence">{move || talk.with(|t| format!("{}%", t.percent(t.silence_ms)))}</span></span>
                    <span class="key">"Longest silence "<span data-testid="talk-longest">{move || talk.with(|t| format_offset(t.longest_silence_ms))}</span></span>
                </figcaption>
            </figure>
        </Show>
    }
}
