//! Alerts on screen: badges with counts (a call's head, a floor row) and
//! a line's text with the words that raised an alert marked. Text is
//! always text: the marks are elements around text nodes, never HTML.

use leptos::prelude::*;

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
/// rule's, where they overlap).
pub fn marked_text(text: &str, alerts: &[Alert]) -> impl IntoView {
    if alerts.is_empty() {
        return text.to_string().into_any();
    }
    mark_hits(text, alerts)
        .into_iter()
        .map(|(part, by)| match by {
            Some(alert) => view! {
                <mark
                    class=alert.severity.as_str()
                    data-testid="alert-hit"
                    data-label=alert.label.clone()
                    title=alert.label.clone()
                >
                    {part}
                </mark>
            }
            .into_any(),
            None => part.into_any(),
        })
        .collect_view()
        .into_any()
}
