//! The conversation as chat bubbles, in conversation order, each keyed by
//! its segment so a growing partial updates in place and a final replaces
//! it.

use leptos::html::Div;
use leptos::prelude::*;

use crate::components::alerts::marked_text;
use crate::components::find::{Finding, LineFinds};
use crate::components::row_memo::row_memo;
use crate::context::ReadingBack;
use crate::live::state::LiveState;
use crate::live::transcript::Transcript;
use crate::live::window::Window;
use crate::model::{format_offset, Alert, Segment, SegmentKey, Speaker};

/// Pixels from the bottom within which the reader counts as "at the end".
const STICK_SLACK: i32 = 48;

/// The transcript of the call in `live`. Only a window of it is drawn
/// (see [`Window`]): the newest lines while following, and the lines the
/// reader scrolls to, added a step at a time as they near an edge, without
/// moving what they are reading.
#[component]
pub fn TranscriptView(#[prop(into)] live: Signal<LiveState>) -> impl IntoView {
    let window = RwSignal::new(Window::Newest);
    // Each memo tells its readers only of its own changes: the scroll
    // follows the revision, the list the keys drawn, each bubble its
    // segment.
    let revision = Memo::new(move |_| live.with(|s| s.transcript().map_or(0, |t| t.revision())));
    let drawn = Memo::new(move |_| {
        let w = window.get();
        live.with(|s| s.transcript().map(|t| w.keys(t)).unwrap_or_default())
    });
    let hidden = Memo::new(move |_| {
        let w = window.get();
        live.with(|s| s.transcript().map_or((0, 0), |t| w.hidden(t)))
    });
    let empty = Memo::new(move |_| live.with(|s| s.transcript().is_none_or(|t| t.is_empty())));
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
    // A window change is being made up for in the scroll: scroll events
    // until then are its own.
    let shifting = StoredValue::new(false);
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
    // While following, every change scrolls to the end; while reading
    // back, a change to the call (not to what is drawn) is offered.
    Effect::new(move |last: Option<u64>| {
        let now = revision.get();
        drawn.track();
        if stick.get_untracked() {
            request_animation_frame(follow_down);
        } else if last.is_some_and(|last| last != now) {
            unseen.set(true);
        }
        now
    });
    // Moves the window keeping the line `anchor` (drawn before and after)
    // where it is on screen: the list is redrawn before the next frame,
    // and the scroll then moves by however far that line moved.
    let shift = move |to: Window, anchor: Option<SegmentKey>| {
        let before = scroller
            .get_untracked()
            .zip(anchor)
            .and_then(|(el, key)| line_top(&el, key));
        window.set(to);
        let (Some(before), Some(key)) = (before, anchor) else {
            return;
        };
        shifting.set_value(true);
        request_animation_frame(move || {
            if let Some(el) = scroller.try_get_untracked().flatten() {
                if let Some(after) = line_top(&el, key) {
                    el.set_scroll_top(el.scroll_top() + (after - before).round() as i32);
                }
            }
            shifting.try_set_value(false);
        });
    };
    let transcript_window = move |f: fn(Window, &Transcript) -> Window| {
        let w = window.get_untracked();
        live.with_untracked(|s| s.transcript().map(|t| f(w, t)))
            .unwrap_or_default()
    };
    let show_earlier = move || {
        shift(
            transcript_window(Window::earlier),
            drawn.with_untracked(|d| d.first().copied()),
        )
    };
    let on_scroll = move |_| {
        if shifting.get_value() {
            return;
        }
        let Some(el) = scroller.get_untracked() else {
            return;
        };
        let (top, view) = (el.scroll_top(), el.client_height());
        let from_end = el.scroll_height() - top - view;
        let (before, after) = hidden.get_untracked();
        if from_end <= STICK_SLACK && after == 0 {
            stick.set(true);
            unseen.set(false);
            if window.get_untracked() != Window::Newest {
                window.set(Window::Newest);
                request_animation_frame(follow_down);
            }
            return;
        }
        stick.set(false);
        if window.get_untracked() == Window::Newest {
            // The same lines, no longer moving with the call.
            window.set(transcript_window(Window::held));
        }
        // Within a screen of an edge with more beyond it: draw more there.
        if top < view && before > 0 {
            show_earlier();
        } else if from_end < view && after > 0 {
            shift(
                transcript_window(Window::later),
                drawn.with_untracked(|d| d.last().copied()),
            );
        }
    };
    let jump = move |_| {
        stick.set(true);
        unseen.set(false);
        window.set(Window::Newest);
        to_bottom();
        request_animation_frame(follow_down);
    };
    // A search stepping to a line not drawn draws the lines around it (the
    // search box then scrolls to it). Only on a step or a new search.
    if let Some(finding) = finding {
        Effect::new(move |_| {
            let Some(line) = finding.current_line() else {
                return;
            };
            if !drawn.with_untracked(|d| d.contains(&line)) {
                stick.set(false);
                let to = live.with_untracked(|s| s.transcript().map(|t| Window::around(t, line)));
                window.set(to.unwrap_or_default());
            }
        });
    }

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
                <Show when=move || empty.get()>
                    <p class="empty" data-testid="transcript-empty">"No one has spoken yet."</p>
                </Show>
                <Show when=move || { hidden.get().0 > 0 }>
                    <button
                        class="earlier"
                        type="button"
                        data-testid="earlier-lines"
                        on:click=move |_| show_earlier()
                    >
                        {move || format!("Show earlier lines ({} more)", hidden.get().0)}
                    </button>
                </Show>
                <ol class="bubbles">
                    <For each=move || drawn.get() key=|k| *k let:k>
                        <Bubble
                            id=k
                            seg=segment(live, k)
                            alerts=alerts_on(live, k)
                            found=finding.map(|f| f.on(k))
                        />
                    </For>
                </ol>
            </div>
            // Offered while reading back: the lines written since, or the
            // way back to the end of a long call.
            <Show when=move || unseen.get() || (!stick.get() && hidden.get().1 > 0)>
                <button class="jump" type="button" data-testid="new-messages" on:click=jump>
                    {move || if unseen.get() { "New messages ↓" } else { "Back to the newest ↓" }}
                </button>
            </Show>
        </section>
    }
}

/// Where the line with `key` is drawn, in pixels from the top of the
/// browser's window (none: not drawn).
#[cfg(feature = "hydrate")]
fn line_top(scroller: &leptos::web_sys::Element, key: SegmentKey) -> Option<f64> {
    let selector = format!(
        r#"[data-start="{}"][data-speaker="{}"]"#,
        key.start_ms,
        key.speaker.label()
    );
    let line = scroller.query_selector(&selector).ok().flatten()?;
    Some(line.get_bounding_client_rect().top())
}

/// Nothing is drawn on the server.
#[cfg(not(feature = "hydrate"))]
fn line_top(_: &leptos::web_sys::Element, _: SegmentKey) -> Option<f64> {
    None
}

/// The segment with `key` as it now stands. It keeps its last state once
/// gone (the list drops its bubble right after).
fn segment(live: Signal<LiveState>, key: SegmentKey) -> Memo<Option<Segment>> {
    row_memo(move |last: Option<&Option<Segment>>| {
        live.with(|s| s.transcript().and_then(|t| t.get(key)).cloned())
            .or_else(|| last.cloned().flatten())
    })
}

/// The alerts raised on the line with `key`.
fn alerts_on(live: Signal<LiveState>, key: SegmentKey) -> Memo<Vec<Alert>> {
    row_memo(move |_| {
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
