//! The conversation as chat bubbles, in start-time order, each keyed by its
//! segment so a growing partial updates in place and a final replaces it.

use leptos::html::Div;
use leptos::prelude::*;

use crate::model::{format_offset, Segment, SegmentKey, Speaker};

#[derive(Clone, Copy, Debug)]
struct Row {
    key: SegmentKey,
    seg: RwSignal<Segment>,
}

/// The transcript shown on the page: a sorted list of rows, each with its
/// own signal, plus a counter bumped on every change (for scrolling).
#[derive(Clone, Copy)]
pub struct Transcript {
    rows: RwSignal<Vec<Row>>,
    changes: RwSignal<u64>,
}

impl Transcript {
    pub fn new(segments: Vec<Segment>) -> Self {
        let mut rows: Vec<Row> = segments
            .into_iter()
            .map(|seg| Row {
                key: seg.key(),
                seg: RwSignal::new(seg),
            })
            .collect();
        rows.sort_by_key(|r| r.key);
        rows.dedup_by_key(|r| r.key);
        Self {
            rows: RwSignal::new(rows),
            changes: RwSignal::new(0),
        }
    }

    /// Shows a segment: updates its bubble if it has one (unless this is an
    /// older state than the one shown), otherwise adds one in order.
    pub fn upsert(&self, seg: Segment) {
        let key = seg.key();
        let found = self
            .rows
            .with_untracked(|rows| rows.binary_search_by(|r| r.key.cmp(&key)));
        match found {
            Ok(i) => {
                let row = self.rows.with_untracked(|rows| rows[i]);
                if row.seg.with_untracked(|old| old.seq >= seg.seq) {
                    return;
                }
                row.seg.set(seg);
            }
            Err(i) => self.rows.update(|rows| {
                rows.insert(
                    i,
                    Row {
                        key,
                        seg: RwSignal::new(seg),
                    },
                )
            }),
        }
        self.changes.update(|n| *n += 1);
    }

    /// Forgets every line (the server is replaying the call from the start).
    pub fn clear(&self) {
        self.rows.set(Vec::new());
        self.changes.update(|n| *n += 1);
    }

    pub fn len(&self) -> usize {
        self.rows.with(Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Pixels from the bottom within which the reader counts as "at the end".
const STICK_SLACK: i32 = 48;

#[component]
pub fn TranscriptView(transcript: Transcript) -> impl IntoView {
    let scroller = NodeRef::<Div>::new();
    // Follow the newest line until the reader scrolls up.
    let stick = RwSignal::new(true);
    let unseen = RwSignal::new(false);

    // Runs a frame later, maybe after this view is gone: try, don't assume.
    // Scrolling past the end lands at the end, without first reading the
    // height (a forced layout of every bubble).
    let to_bottom = move || {
        if let Some(el) = scroller.try_get_untracked().flatten() {
            el.set_scroll_top(i32::MAX);
        }
    };
    Effect::new(move |_| {
        transcript.changes.track();
        if stick.get_untracked() {
            request_animation_frame(to_bottom);
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
            <div class="transcript" node_ref=scroller on:scroll=on_scroll data-testid="transcript" role="log">
                <Show when=move || transcript.is_empty()>
                    <p class="empty" data-testid="transcript-empty">"No one has spoken yet."</p>
                </Show>
                <ol class="bubbles">
                    <For each=move || transcript.rows.get() key=|row| row.key let:row>
                        <Bubble seg=row.seg />
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

#[component]
fn Bubble(seg: RwSignal<Segment>) -> impl IntoView {
    let (speaker, start_ms) = seg.with_untracked(|s| (s.speaker, s.start_ms));
    let side = match speaker {
        Speaker::Customer => "bubble customer",
        Speaker::Agent => "bubble agent",
    };
    view! {
        <li
            class=side
            class:partial=move || seg.with(|s| s.partial)
            data-testid="bubble"
            data-speaker=speaker.label()
            data-start=start_ms
            data-partial=move || seg.with(|s| s.partial.to_string())
        >
            <div class="meta">
                <span class="who">{speaker.label()}</span>
                <span class="at">{format_offset(start_ms)}</span>
                <Show when=move || seg.with(|s| s.partial)>
                    <span class="typing" aria-label="still speaking">"…"</span>
                </Show>
            </div>
            <p class="text" data-testid="bubble-text">{move || seg.with(|s| s.text.clone())}</p>
        </li>
    }
}
