//! "A new call started", with a button to open it: shown when the page does
//! not follow new calls by itself.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;

use crate::components::controls::call_path;
use crate::live::state::LiveState;

#[component]
pub fn NewCallNotice(live: RwSignal<LiveState>) -> impl IntoView {
    let navigate = use_navigate();
    let notice = Memo::new(move |_| live.with(|s| s.notice.clone()));
    let dismiss = move || {
        live.maybe_update(LiveState::dismiss_notice);
    };
    view! {
        {move || {
            notice
                .get()
                .map(|call| {
                    let who = call
                        .customer_phone
                        .clone()
                        .unwrap_or_else(|| call.call_id.to_string());
                    let path = call_path(&call.call_id);
                    let navigate = navigate.clone();
                    view! {
                        <aside class="notice" role="status" data-testid="new-call-notice">
                            <span>"A new call started: " <strong>{who}</strong></span>
                            <button
                                type="button"
                                data-testid="open-new-call"
                                on:click=move |_| {
                                    dismiss();
                                    navigate(&path, NavigateOptions::default());
                                }
                            >
                                "Open"
                            </button>
                            <button
                                type="button"
                                class="quiet"
                                aria-label="Dismiss"
                                on:click=move |_| dismiss()
                            >
                                "✕"
                            </button>
                        </aside>
                    }
                })
        }}
    }
}
