//! Find in the transcript: a search box, the count of hits, and stepping
//! from one to the next. Hits are found in the transcript's data (see
//! [`crate::live::find`]), so the count and the steps are right however
//! much of the transcript is drawn; the bubbles mark their own hits.

use leptos::prelude::*;

use crate::components::row_memo::row_memo;
use crate::live::find::{find, Hit};
use crate::live::state::LiveState;
use crate::model::SegmentKey;

/// One line's hits (byte ranges of its text), and which of them is the
/// one stepped to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineFinds {
    pub ranges: Vec<(usize, usize)>,
    pub current: Option<usize>,
}

/// The search of the transcript shown, provided by the call view for its
/// bubbles.
#[derive(Clone, Copy)]
pub struct Finding {
    pub query: RwSignal<String>,
    pub hits: Memo<Vec<Hit>>,
    /// The hit stepped to (an index into `hits`).
    pub current: RwSignal<usize>,
}

impl Finding {
    pub fn new(live: Signal<LiveState>) -> Self {
        let query = RwSignal::new(String::new());
        let hits = Memo::new(move |_| {
            let q = query.get();
            live.with(|s| {
                s.transcript()
                    .map(|t| find(t.segments(), &q))
                    .unwrap_or_default()
            })
        });
        Self {
            query,
            hits,
            current: RwSignal::new(0),
        }
    }

    /// One line's hits (byte ranges), and which of them is stepped to.
    pub fn on(self, line: SegmentKey) -> Memo<LineFinds> {
        row_memo(move |_| {
            let current = self.current.get();
            self.hits.with(|hits| {
                let mut mine = Vec::new();
                let mut stepped = None;
                for (i, hit) in hits.iter().enumerate().filter(|(_, h)| h.line == line) {
                    if i == current {
                        stepped = Some(mine.len());
                    }
                    mine.push((hit.from, hit.to));
                }
                LineFinds {
                    ranges: mine,
                    current: stepped,
                }
            })
        })
    }

    /// The line of the hit stepped to (none: no hits).
    pub fn current_line(self) -> Option<SegmentKey> {
        let current = self.current.get();
        self.query.track();
        self.hits.with_untracked(|h| h.get(current).map(|h| h.line))
    }

    fn step(self, by: isize) {
        let n = self.hits.with_untracked(Vec::len);
        if n == 0 {
            return;
        }
        self.current
            .update(|c| *c = (*c as isize + by).rem_euclid(n as isize) as usize);
    }
}

#[component]
pub fn FindBox(finding: Finding) -> impl IntoView {
    let Finding {
        query,
        hits,
        current,
    } = finding;
    let count = move || hits.with(Vec::len);
    // A new search starts at its first hit; a hit list that shrank keeps
    // the step inside it.
    Effect::new(move |_| {
        query.track();
        current.set(0);
    });
    Effect::new(move |_| {
        let n = count();
        if current.get_untracked() >= n && n > 0 {
            current.set(n - 1);
        }
    });
    // Brings the hit stepped to into view once its bubble has drawn it.
    // Only on a step or a new search: a new line does not move the reader.
    Effect::new(move |_| {
        current.track();
        query.track();
        if hits.with_untracked(Vec::is_empty) {
            return;
        }
        request_animation_frame(move || {
            if let Some(el) = document()
                .query_selector(".transcript mark.find.current")
                .ok()
                .flatten()
            {
                el.scroll_into_view_with_bool(false);
            }
        });
    });
    let said = move || match (query.with(|q| q.trim().chars().count()), count()) {
        (0, _) => String::new(),
        (1, _) => "Type one more letter".into(),
        (_, 0) => "No match".into(),
        (_, n) if n >= crate::live::find::MAX_HITS => format!("{} of {n}+", current.get() + 1),
        (_, n) => format!("{} of {n}", current.get() + 1),
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "Enter" => {
            ev.prevent_default();
            finding.step(if ev.shift_key() { -1 } else { 1 });
        }
        "Escape" => query.set(String::new()),
        _ => {}
    };
    view! {
        <div class="find" role="search" data-testid="find">
            <input
                type="search"
                data-testid="find-input"
                placeholder="Find in transcript"
                aria-label="Find in transcript"
                autocomplete="off"
                maxlength="100"
                prop:value=move || query.get()
                on:input=move |ev| query.set(event_target_value(&ev))
                on:keydown=on_key
            />
            <span class="find-count" data-testid="find-count" aria-live="polite">{said}</span>
            <button
                type="button"
                data-testid="find-prev"
                aria-label="Previous match"
                disabled=move || count() == 0
                on:click=move |_| finding.step(-1)
            >
                "↑"
            </button>
            <button
                type="button"
                data-testid="find-next"
                aria-label="Next match"
                disabled=move || count() == 0
                on:click=move |_| finding.step(1)
            >
                "↓"
            </button>
        </div>
    }
}
