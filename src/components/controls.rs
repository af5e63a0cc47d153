//! The monitoring controls: a call id to open, and the follow switch.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::context::{Follow, MenuOpen, Newest, Shown};
use crate::error::AppError;
use crate::model::CallId;

/// The dashboard's address for a call.
pub fn call_path(id: &CallId) -> String {
    format!("/calls/{id}")
}

/// What was typed or pasted in the call id box: a call id, or a whole
/// link to a call (`…/calls/{id}`, with a shared link's grant kept).
fn typed_call(raw: &str) -> (&str, Option<&str>) {
    let raw = raw.trim();
    let Some((_, after)) = raw.rsplit_once("/calls/") else {
        return (raw, None);
    };
    let (id, query) = match after.split_once('?') {
        Some((id, query)) => (id, Some(query)),
        None => (after, None),
    };
    let id = id.split(['#', '/']).next().unwrap_or_default();
    let grant = query.and_then(|q| {
        q.split(['&', '#'])
            .find_map(|pair| pair.strip_prefix("grant="))
            .filter(|g| crate::protocol::is_grant_shaped(g))
    });
    (id, grant)
}

#[component]
pub fn Controls() -> impl IntoView {
    let follow = expect_context::<Follow>().0;
    let input = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let navigate = use_navigate();
    let menu = use_context::<MenuOpen>().map(|m| m.0);

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let raw = input.get_untracked();
        let (typed, grant) = typed_call(&raw);
        match CallId::parse(typed) {
            Ok(id) => {
                error.set(None);
                // The box is for the next call to open: it never holds a
                // stale id (after Back, say).
                input.set(String::new());
                // Watching a chosen call: stop jumping to new ones.
                follow.set(false);
                // On a phone the menu closes on the call it opened.
                if let Some(menu) = menu {
                    menu.set(false);
                }
                let path = match grant {
                    Some(grant) => format!("{}?grant={grant}", call_path(&id)),
                    None => call_path(&id),
                };
                navigate(&path, Default::default());
            }
            Err(reason) => error.set(Some(AppError::invalid_call_id(&raw, reason).to_string())),
        }
    };

    // Turned on: to the newest call heard of, at once (none heard of: the
    // one shown is the newest). Either way, remembered for the next time
    // this browser opens the dashboard at `/`.
    let to_newest = use_navigate();
    let newest = use_context::<Newest>().map(|n| n.0);
    let shown = use_context::<Shown>().map(|s| s.0);
    let switch_follow = move |ev: leptos::ev::Event| {
        let on = event_target_checked(&ev);
        follow.set(on);
        #[cfg(feature = "hydrate")]
        crate::client::prefs::remember_follow(on);
        let newest = newest.and_then(|n| n.get_untracked());
        let shown = shown.and_then(|s| s.get_untracked());
        if let Some(id) = newest.filter(|id| on && Some(id) != shown.as_ref()) {
            to_newest(&call_path(&id), Default::default());
        }
    };

    view! {
        <form class="controls" on:submit=submit novalidate>
            <div class="field">
                <label for="call-id">"Call ID"</label>
                <input
                    id="call-id"
                    name="call-id"
                    type="text"
                    data-testid="call-id-input"
                    autocomplete="off"
                    autocapitalize="off"
                    spellcheck="false"
                    placeholder="0f8fad5b-d9cb-469f-a165-70867728950e"
                    aria-invalid=move || error.with(Option::is_some).to_string()
                    bind:value=input
                />
            </div>
            <button type="submit" class="primary" data-testid="start-monitoring">
                "Start Monitoring"
            </button>
            <label class="switch" title="Follow new calls: show each new call as it starts">
                <input
                    type="checkbox"
                    role="switch"
                    data-testid="follow-switch"
                    checked=move || follow.get()
                    prop:checked=move || follow.get()
                    on:change=switch_follow
                />
                <span class="track" aria-hidden="true"></span>
                <span>"Follow new calls"</span>
            </label>
            <a href="/calls" class="floor-link" data-testid="floor-link">"All calls"</a>
            <a href="/wall" class="floor-link" data-testid="wall-link">"Wall"</a>
            <Show when=move || error.with(Option::is_some)>
                <p class="field-error" role="alert" data-testid="call-id-error">
                    {move || error.get()}
                </p>
            </Show>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::typed_call;

    #[test]
    fn a_pasted_link_opens_its_call_and_keeps_its_grant() {
        let id = "0f8fad5b-d9cb-469f-a165-70867728950e";
        assert_eq!(typed_call(&format!("  {id} ")), (id, None));
        assert_eq!(
            typed_call(&format!("https://monitor.example.com/calls/{id}")),
            (id, None)
        );
        assert_eq!(
            typed_call(&format!(
                "http://127.0.0.1:3000/calls/{id}?grant=1700000000000.abc_-9#x"
            )),
            (id, Some("1700000000000.abc_-9"))
        );
        assert_eq!(typed_call(&format!("/calls/{id}/")), (id, None));
        // A grant of the wrong shape is dropped; the id is still checked.
        assert_eq!(
            typed_call(&format!("/calls/{id}?grant=<script>")),
            (id, None)
        );
        assert_eq!(typed_call("not a link"), ("not a link", None));
    }
}
