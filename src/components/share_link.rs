//! For supervisors and admins: a signed link to the call on screen, which
//! an agent can open until it expires.

use leptos::prelude::*;

use crate::api::share_call;
use crate::components::call_card::format_local;
use crate::context::Me;
use crate::model::CallId;

#[component]
pub fn ShareLink(id: CallId) -> impl IntoView {
    let me = expect_context::<Me>().0;
    let may_share = move || {
        me.get()
            .and_then(Result::ok)
            .flatten()
            .is_some_and(|u| u.role.sees_every_call())
    };
    let share = Action::new(move |id: &CallId| share_call(id.clone()));
    let link = move || {
        share.value().get().map(|result| match result {
            Ok((path, expires_ms)) => {
                let origin = window().location().origin().unwrap_or_default();
                let until = format_local(expires_ms);
                view! {
                    <label class="share-output">
                        <span>"Link for an agent, valid until " {until} ":"</span>
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
            <div class="share">
                <button
                    type="button"
                    data-testid="share-call"
                    on:click={
                        let id = id.clone();
                        move |_| {
                            share.dispatch(id.clone());
                        }
                    }
                >
                    "Share with an agent"
                </button>
                {link}
            </div>
        </Show>
    }
}
