//! The Rules page: the alert rules every final line is judged against.
//! Supervisors and admins add, edit and delete them; a change applies to
//! the next final line on every server. A rule that can't work (an invalid
//! regular expression, one too large, one matching every line) is refused
//! with the reason.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::top_bar::TopBar;
use crate::error::AppError;
use crate::model::{PatternKind, Rule, Severity, Watches, MAX_LABEL, MAX_PATTERN};
use crate::pages::confirm;
use crate::rules_api::{list_rules, DeleteRule, SaveRule};

#[component]
pub fn Rules() -> impl IntoView {
    let save = ServerAction::<SaveRule>::new();
    let delete = ServerAction::<DeleteRule>::new();
    let rules = Resource::new(
        move || (save.version().get(), delete.version().get()),
        |_| list_rules(),
    );
    // The rule being edited (none: the form adds one).
    let editing = RwSignal::new(None::<Rule>);
    let message = RwSignal::new(None::<Result<String, String>>);
    Effect::new(move |_| match save.value().get() {
        Some(Ok(rule)) => {
            editing.set(None);
            message.set(Some(Ok(format!(
                "Rule \u{201c}{}\u{201d} saved.",
                rule.label
            ))));
        }
        Some(Err(e)) => message.set(Some(Err(e.to_string()))),
        None => {}
    });
    Effect::new(move |_| match delete.value().get() {
        Some(Ok(())) => message.set(Some(Ok("Rule deleted.".into()))),
        Some(Err(e)) => message.set(Some(Err(e.to_string()))),
        None => {}
    });

    view! {
        <Title text="Alert rules · TravoIQ Monitor" />
        <main class="page rules-page">
            <TopBar links_home=true signed_in=true />
            <h2>"Alert rules"</h2>
            <p class="hint">
                "Every final line is checked against these rules; a match raises an alert on the call, the floor and every open view. Partial lines never do."
            </p>
            {move || {
                message.get().map(|m| match m {
                    Ok(text) => view! { <p class="form-ok" role="status" data-testid="rules-message">{text}</p> }.into_any(),
                    Err(text) => view! { <p class="form-error" role="alert" data-testid="rules-error">{text}</p> }.into_any(),
                })
            }}
            <Transition fallback=|| view! { <p class="empty">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match rules.await {
                        Ok(list) => view! {
                            <RuleTable list editing delete />
                            <RuleForm save editing />
                        }
                        .into_any(),
                        Err(AppError::NotAllowed) => view! {
                            <p class="empty" data-testid="rules-refused">"Only supervisors and admins can see and change the alert rules."</p>
                        }
                        .into_any(),
                        Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

fn watches_words(w: Watches) -> &'static str {
    match w {
        Watches::Customer => "Customer",
        Watches::Agent => "Agent",
        Watches::Either => "Either",
    }
}

#[component]
fn RuleTable(
    list: Vec<Rule>,
    editing: RwSignal<Option<Rule>>,
    delete: ServerAction<DeleteRule>,
) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="empty" data-testid="rules-empty">"No rules: no alerts are raised."</p> }
            .into_any();
    }
    let rows = list
        .into_iter()
        .map(|rule| {
            let id = rule.id.to_string();
            let for_edit = rule.clone();
            let label = rule.label.clone();
            let on_delete = move |_| {
                if confirm(&format!("Delete the rule \u{201c}{label}\u{201d}?")) {
                    delete.dispatch(DeleteRule { id: id.clone() });
                }
            };
            view! {
                <tr data-testid="rule-row" data-rule-id=rule.id.to_string()>
                    <td data-label="Label">
                        <span class=format!("alert-badge {}", rule.severity.as_str())>{rule.label.clone()}</span>
                    </td>
                    <td data-label="Matches">
                        <code data-testid="rule-pattern">{rule.pattern.clone()}</code>
                        <span class="muted">
                            {match rule.kind {
                                PatternKind::Phrase => " (phrase)",
                                PatternKind::Regex => " (regular expression)",
                            }}
                        </span>
                    </td>
                    <td data-label="Speaker">{watches_words(rule.speaker)}</td>
                    <td data-label="Severity">{rule.severity.as_str()}</td>
                    <td class="actions">
                        <button type="button" data-testid="rule-edit" on:click=move |_| editing.set(Some(for_edit.clone()))>
                            "Edit"
                        </button>
                        <button type="button" class="danger" data-testid="rule-delete" on:click=on_delete>
                            "Delete"
                        </button>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="accounts rules-table" data-testid="rules-table">
            <thead>
                <tr>
                    <th scope="col">"Label"</th>
                    <th scope="col">"Matches"</th>
                    <th scope="col">"Speaker"</th>
                    <th scope="col">"Severity"</th>
                    <th scope="col"><span class="sr-only">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn RuleForm(save: ServerAction<SaveRule>, editing: RwSignal<Option<Rule>>) -> impl IntoView {
    let kind = RwSignal::new("phrase".to_string());
    let pattern = RwSignal::new(String::new());
    let speaker = RwSignal::new("customer".to_string());
    let severity = RwSignal::new("warning".to_string());
    let label = RwSignal::new(String::new());
    // Editing fills the form; saving or cancelling empties it.
    Effect::new(move |_| match editing.get() {
        Some(rule) => {
            kind.set(rule.kind.as_str().into());
            pattern.set(rule.pattern);
            speaker.set(rule.speaker.as_str().into());
            severity.set(rule.severity.as_str().into());
            label.set(rule.label);
        }
        None => {
            pattern.set(String::new());
            label.set(String::new());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        save.dispatch(SaveRule {
            id: editing
                .get_untracked()
                .map(|r| r.id.to_string())
                .unwrap_or_default(),
            kind: kind.get_untracked(),
            pattern: pattern.get_untracked(),
            speaker: speaker.get_untracked(),
            severity: severity.get_untracked(),
            label: label.get_untracked(),
        });
    };
    let option = |value: &'static str, words: &'static str, current: RwSignal<String>| {
        view! { <option value=value selected=move || current.get() == value>{words}</option> }
    };
    view! {
        <form class="add-account rule-form" data-testid="rule-form" on:submit=submit>
            <h3>{move || if editing.with(Option::is_some) { "Edit the rule" } else { "Add a rule" }}</h3>
            <label for="rule-label">"Label"</label>
            <input id="rule-label" data-testid="rule-label" required maxlength=MAX_LABEL autocomplete="off" bind:value=label />
            <label for="rule-kind">"Match"</label>
            <select id="rule-kind" data-testid="rule-kind" prop:value=move || kind.get() on:change=move |ev| kind.set(event_target_value(&ev))>
                {option("phrase", "These words", kind)}
                {option("regex", "A regular expression", kind)}
            </select>
            <label for="rule-pattern">"Words or expression (case is ignored)"</label>
            <input id="rule-pattern" data-testid="rule-pattern-input" required maxlength=MAX_PATTERN autocomplete="off" spellcheck="false" bind:value=pattern />
            <label for="rule-speaker">"When said by"</label>
            <select id="rule-speaker" data-testid="rule-speaker" prop:value=move || speaker.get() on:change=move |ev| speaker.set(event_target_value(&ev))>
                {Watches::ALL.map(|w| option(w.as_str(), watches_words(w), speaker)).collect_view()}
            </select>
            <label for="rule-severity">"Severity"</label>
            <select id="rule-severity" data-testid="rule-severity" prop:value=move || severity.get() on:change=move |ev| severity.set(event_target_value(&ev))>
                {Severity::ALL.map(|s| option(s.as_str(), s.as_str(), severity)).collect_view()}
            </select>
            <div class="form-actions">
                <button type="submit" class="primary" data-testid="rule-save">
                    {move || if editing.with(Option::is_some) { "Save rule" } else { "Add rule" }}
                </button>
                <Show when=move || editing.with(Option::is_some)>
                    <button type="button" data-testid="rule-cancel" on:click=move |_| editing.set(None)>"Cancel"</button>
                </Show>
            </div>
        </form>
    }
}
