//! Alerts on screen: badges with counts (a call's head, a floor row) and
//! a line's text with the words that raised an alert marked. Text is
//! always text: the marks are elements around text nodes, never HTML.

use leptos::prelude::*;

use crate::live::find::cut;
use crate::model::{mark_hits, Alert, AlertCount};

/// One badge per label, the most severe first: "Escalation 2".
#[component]
pub fn AlertBadges(#[prop(into)] counts: Signal<Vec<AlertCount>>) -> impl IntoView {
    view! {
        <Show when=move || !counts.with(Vec::is_empty)>
            <ul class="alert-badges" aria-label="Alerts">
                <For
                    each=move || counts.get()
                    key=|c| (c.label.clone(), c.severity, c.count)
                    let:c
                >
                    <li
                        class=format!("alert-badge {}", c.severity.as_str())
                        data-testid="alert-badge"
                        data-label=c.label.clone()
                        data-severity=c.severity.as_str()
                        data-count=c.count
                        title=format!("{} alert: {}", c.severity.as_str(), c.label)
                    >
                        <span class="label">{c.label.clone()}</span>
                        <span class="count">{c.count}</span>
                    </li>
                </For>
            </ul>
        </Show>
    }
}

/// A line's text with each part a rule matched marked (the most severe
/// rule's, where they overlap), and the words found by the transcript
/// search marked inside (`found`: byte ranges of the line; `current`: the
/// one stepped to, as an index into `found`).
pub fn marked_text(
    text: &str,
    alerts: &[Alert],
    found: &[(usize, usize)],
    current: Option<usize>,
) -> impl IntoView {
    if alerts.is_empty() && found.is_empty() {
        return text.to_string().into_any();
    }
    let mut at = 0;
    mark_hits(text, alerts)
        .into_iter()
        .map(|(part, by)| {
            let inner = found_marks(&part, at, found, current);
            at += part.len();
            match by {
                Some(alert) => view! {
                    <mark
                        class=alert.severity.as_str()
                        data-testid="alert-hit"
                        data-label=alert.label.clone()
                        title=alert.label.clone()
                    >
                        {inner}
                    </mark>
                }
                .into_any(),
                None => inner,
            }
        })
        .collect_view()
        .into_any()
}

/// A part of a line (at byte `at`) with the search's finds marked.
fn found_marks(part: &str, at: usize, found: &[(usize, usize)], current: Option<usize>) -> AnyView {
    if found.is_empty() {
        return part.to_string().into_any();
    }
    cut(part, at, found)
        .into_iter()
        .map(|(piece, hit)| match hit {
            Some(i) => view! {
                <mark class="find" class:current=current == Some(i) data-testid="find-hit">
                    {piece.to_string()}
                </mark>
            }
            .into_any(),
            None => piece.to_string().into_any(),
        })
        .collect_view()
        .into_any()
}
