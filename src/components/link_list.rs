//! For supervisors and admins, under the share form: the shared links to
//! the call on screen (for whom, made by whom, until when, where they
//! stand), with a Revoke button on those the viewer may revoke. Loaded in
//! the browser only (times are shown in the viewer's zone).

use leptos::prelude::*;

use crate::api::{call_links, RevokeLink};
use crate::components::call_card::format_local;
use crate::model::{CallId, LinkState, LinkSummary};

/// `made` changes whenever a link is made here, so the list reloads.
#[component]
pub fn LinkList(id: CallId, #[prop(into)] made: Signal<usize>) -> impl IntoView {
    let revoke = ServerAction::<RevokeLink>::new();
    let links = {
        let id = id.clone();
        LocalResource::new(move || {
            let (_, _) = (made.get(), revoke.version().get());
            call_links(id.clone())
        })
    };
    let revoke_error = move || {
        revoke
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })
    };
    view! {
        <section class="links" aria-label="Shared links">
            <Transition fallback=|| ()>
                {move || {
                    let id = id.clone();
                    Suspend::new(async move {
                        match links.await {
                            Ok(list) if list.is_empty() => ().into_any(),
                            Ok(list) => view! { <LinkTable id list revoke /> }.into_any(),
                            Err(e) => {
                                view! { <p class="form-error">{e.to_string()}</p> }.into_any()
                            }
                        }
                    })
                }}
            </Transition>
            {revoke_error}
        </section>
    }
}

#[component]
fn LinkTable(
    id: CallId,
    list: Vec<LinkSummary>,
    revoke: ServerAction<RevokeLink>,
) -> impl IntoView {
    view! {
        <table class="links-table" data-testid="links">
            <thead>
                <tr>
                    <th>"Agent"</th>
                    <th>"Made by"</th>
                    <th>"Expires"</th>
                    <th>"State"</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>
                {list
                    .into_iter()
                    .map(|link| view! { <LinkRow id=id.clone() link revoke /> })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn LinkRow(id: CallId, link: LinkSummary, revoke: ServerAction<RevokeLink>) -> impl IntoView {
    let state = link.state.as_str();
    let detail = match &link.state {
        LinkState::Revoked { by, at_ms } => format!("by {by}, {}", format_local(*at_ms)),
        LinkState::Active | LinkState::Expired => String::new(),
    };
    let button = link.may_revoke.then(|| {
        let link_id = link.id.clone();
        view! {
            <button
                type="button"
                data-testid="link-revoke"
                on:click=move |_| {
                    revoke.dispatch(RevokeLink {
                        id: id.clone(),
                        link: link_id.clone(),
                    });
                }
            >
                "Revoke"
            </button>
        }
    });
    view! {
        <tr data-testid="link-row" data-agent=link.agent.to_string() data-state=state>
            <td>{link.agent.to_string()}</td>
            <td>{link.made_by.to_string()}</td>
            <td>{format_local(link.expires_ms)}</td>
            <td>
                <span data-testid="link-state">{state}</span>
                {(!detail.is_empty()).then(|| view! { <span class="link-detail">" " {detail}</span> })}
            </td>
            <td class="row-actions">{button}</td>
        </tr>
    }
}
