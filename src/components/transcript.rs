//! The conversation as chat bubbles, in conversation order, each keyed by
//! its segment so a growing partial updates in place and a final replaces
//! it.

use leptos::html::Div;
use leptos::prelude::*;

use crate::components::alerts::marked_text;
use crate::components::find::{Finding, LineFinds};
use crate::context::ReadingBack;
use crate::live::state::LiveState;
use crate::model::{format_offset, Alert, Segment, SegmentKey, Speaker};

/// Pixels from the bottom within which the reader counts as "at the end".
const STICK_SLACK: i32 = 48;

/// The transcript of the call in `live`.
#[component]
pub fn TranscriptView(#[prop(into)] live: Signal<LiveState>) -> impl IntoView {
    // Each memo tells its readers only of its own changes: the scroll
    // follows the revision, the list its keys, each bubble its segment.
    let revision = Memo::new(move |_| live.with(|s| s.transcript().map_or(0, |t| t.revision())));
    let keys = Memo::new(move |_| {
        live.with(|s| {
            s.transcript()
                .map(|t| t.keys().collect::<Vec<_>>())
                .unwrap_or_default()
        })
    });
    // For screen readers: the newest finished line, said once (a growing
    // partial is not read out at every change).
    let newest_final = Memo::new(move |_| {
        live.with(|s| {
            s.transcript().and_then(|t| {
                t.segments()
                    .iter()
                    .rev()
                    .find(|seg| !seg.partial)
                    .map(|seg| format!("{}: {}", seg.speaker.label(), seg.text))
            })
        })
    });
    let finding = use_context::<Finding>();
    let scroller = NodeRef::<Div>::new();
    // Follow the newest line until the reader scrolls up.
    let stick = RwSignal::new(true);
    let unseen = RwSignal::new(false);
    // The dashboard hears whether the reader is scrolled up, so a new call
    // does not take their place away.
    if let Some(ReadingBack(reading_back)) = use_context::<ReadingBack>() {
        Effect::new(move |_| reading_back.set(!stick.get()));
        on_cleanup(move || {
            reading_back.try_set(false);
        });
    }

    // Runs a frame later, maybe after this view is gone: try, don't assume.
    // Scrolling past the end lands at the end, without first reading the
    // height (a forced layout of every bubble).
    let to_bottom = move || {
        if let Some(el) = scroller.try_get_untracked().flatten() {
            el.set_scroll_top(i32::MAX);
        }
    };
    // The list may take the change in a later turn than this effect: scroll
    // in the next frame, and once more in the one after, while following.
    let follow_down = move || {
        to_bottom();
        request_animation_frame(move || {
            if stick.try_get_untracked().unwrap_or(false) {
                to_bottom();
            }
        });
    };
    Effect::new(move |_| {
        revision.track();
        keys.track();
        if stick.get_untracked() {
            request_animation_frame(follow_down);
        } else {
            unseen.set(true);
        }
    });
    let on_scroll = move |_| {
        if let Some(el) = scroller.get_untracked() {
            let at_end = el.scroll_height() - el.scroll_top() - el.client_height() <= STICK_SLACK;
            stick.set(at_end);
            if at_end {
                unseen.set(false);
            }
        }
    };
    let jump = move |_| {
        stick.set(true);
        unseen.set(false);
        to_bottom();
    };

    view! {
        <section class="transcript-wrap" aria-label="Transcript">
            <p class="sr-only" aria-live="polite" data-testid="announcer">
                {move || newest_final.get().unwrap_or_default()}
            </p>
            // A log, but not a live region itself: every partial's change
            // would be read out. Focusable, so it scrolls from the keyboard.
            <div
                class="transcript"
                tabindex="0"
                node_ref=scroller
                on:scroll=on_scroll
                data-testid="transcript"
                role="log"
                aria-live="off"
            >
                <Show when=move || keys.with(Vec::is_empty)>
                    <p class="empty" data-testid="transcript-empty">"No one has spoken yet."</p>
                </Show>
                <ol class="bubbles">
                    <For each=move || keys.get() key=|k| *k let:k>
                        <Bubble
                            id=k
                            seg=segment(live, k)
                            alerts=alerts_on(live, k)
                            found=finding.map(|f| f.on(k))
                        />
                    </For>
                </ol>
            </div>
            <Show when=move || unseen.get()>
                <button class="jump" type="button" data-testid="new-messages" on:click=jump>
                    "New messages ↓"
                </button>
            </Show>
        </section>
    }
}

/// The segment with `key` as it now stands. It keeps its last state once
/// gone (the list drops its bubble right after).
fn segment(live: Signal<LiveState>, key: SegmentKey) -> Memo<Option<Segment>> {
    Memo::new(move |last: Option<&Option<Segment>>| {
        live.with(|s| s.transcript().and_then(|t| t.get(key)).cloned())
            .or_else(|| last.cloned().flatten())
    })
}

/// The alerts raised on the line with `key`.
fn alerts_on(live: Signal<LiveState>, key: SegmentKey) -> Memo<Vec<Alert>> {
    Memo::new(move |_| {
        live.with(|s| {
            s.alerts()
                .map(|a| a.on(key).cloned().collect())
                .unwrap_or_default()
        })
    })
}

/// One utterance; `id` says who and when they started.
#[component]
fn Bubble(
    id: SegmentKey,
    seg: Memo<Option<Segment>>,
    alerts: Memo<Vec<Alert>>,
    /// The transcript search's hits in this line (none: no search here).
    found: Option<Memo<LineFinds>>,
) -> impl IntoView {
    let SegmentKey { speaker, start_ms } = id;
    let partial = move || seg.with(|s| s.as_ref().is_some_and(|s| s.partial));
    let side = match speaker {
        Speaker::Customer => "bubble customer",
        Speaker::Agent => "bubble agent",
    };
    view! {
        <li
            class=side
            class:partial=partial
            class:alerted=move || alerts.with(|a| !a.is_empty())
            data-testid="bubble"
            data-speaker=speaker.label()
            data-start=start_ms
            data-partial=move || partial().to_string()
        >
            <div class="meta">
                <span class="who">{speaker.label()}</span>
                <span class="at">{format_offset(start_ms)}</span>
                <Show when=partial>
                    <span class="typing" aria-label="still speaking">"…"</span>
                </Show>
            </div>
            <p class="text" data-testid="bubble-text">
                {move || {
                    seg.with(|s| {
                        let text = s.as_ref().map(|s| s.text.as_str()).unwrap_or_default();
                        let finds = found.map(|f| f.get()).unwrap_or_default();
                        alerts.with(|alerts| marked_text(text, alerts, &finds.ranges, finds.current))
                    })
                }}
            </p>
        </li>
    }
}
