//! For supervisors and admins: a signed link to the call on screen, which
//! the one agent it names can open until it expires or is revoked; the
//! call's links are listed below the form.

use leptos::prelude::*;

use crate::api::share_call;
use crate::components::call_card::format_local;
use crate::components::link_list::LinkList;
use crate::context::Me;
use crate::model::CallId;

/// `current`: the page still hears from the server (after the session
/// ended, sharing would only fail).
#[component]
pub fn ShareLink(id: CallId, #[prop(into)] current: Signal<bool>) -> impl IntoView {
    let me = expect_context::<Me>().0;
    let may_share = move || {
        current.get()
            && me
                .get()
                .and_then(Result::ok)
                .flatten()
                .is_some_and(|u| u.role.sees_every_call())
    };
    let agent = RwSignal::new(String::new());
    let share =
        Action::new(move |(id, agent): &(CallId, String)| share_call(id.clone(), agent.clone()));
    let link = move || {
        share.value().get().map(|result| match result {
            Ok((path, expires_ms)) => {
                let origin = window().location().origin().unwrap_or_default();
                let until = format_local(expires_ms);
                view! {
                    <label class="share-output">
                        <span>"Link for " {agent.get_untracked()} ", valid until " {until} ":"</span>
                        <input
                            type="text"
                            readonly
                            data-testid="share-url"
                            prop:value=format!("{origin}{path}")
                        />
                    </label>
                }
                .into_any()
            }
            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
        })
    };
    view! {
        <Show when=may_share>
            <details class="share-box" data-testid="share-box">
            <summary>"Share this call with an agent"</summary>
            <form
                class="share"
                on:submit={
                    let id = id.clone();
                    move |ev: leptos::ev::SubmitEvent| {
                        ev.prevent_default();
                        share.dispatch((id.clone(), agent.get_untracked()));
                    }
                }
            >
                <label class="share-agent">
                    <span>"Agent's username"</span>
                    <input
                        type="text"
                        name="agent"
                        required
                        autocomplete="off"
                        data-testid="share-agent"
                        prop:value=move || agent.get()
                        on:input=move |ev| agent.set(event_target_value(&ev))
                    />
                </label>
                <button type="submit" data-testid="share-call">
                    "Share with this agent"
                </button>
                {link}
            </form>
            <LinkList id=id.clone() made=share.version() />
            </details>
        </Show>
    }
}
