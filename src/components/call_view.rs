//! A call and its live transcript, with the status, the new-call notice,
//! the download links and the share link around them.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_location, use_navigate};
use leptos_router::NavigateOptions;

use crate::components::alerts::AlertBadges;
use crate::components::call_card::CallCard;
use crate::components::controls::call_path;
use crate::components::downloads::Downloads;
use crate::components::find::{FindBox, Finding};
use crate::components::new_call_notice::NewCallNotice;
use crate::components::notify::CriticalNotify;
use crate::components::share_link::ShareLink;
use crate::components::status::StatusBadge;
use crate::components::talk::TalkChart;
use crate::components::transcript::TranscriptView;
use crate::context::Shown;
use crate::hooks::live::use_live;
use crate::hooks::wake_lock::use_wake_lock;
use crate::live::state::LiveState;
use crate::live::status::Status;
use crate::model::{CallDetails, CallId, CallSnapshot, Severity};

/// A call and its live transcript. `grant` is a shared link's, if the call
/// was opened from one.
#[component]
pub fn CallView(snap: CallSnapshot, grant: Option<String>) -> impl IntoView {
    let id = snap.details.call_id.clone();
    mark_shown(&id);
    name_in_address_bar(&id, grant.as_deref());

    let downloads = view! { <Downloads id=id.clone() grant=grant.clone() /> };
    let loaded: CallDetails = snap.details.clone();
    let live = use_live(LiveState::call(snap, grant));
    // A call view's state always holds its call; `loaded` only satisfies
    // the types.
    let call = Memo::new(move |_| {
        live.with(|s| s.call_details().cloned())
            .unwrap_or_else(|| loaded.clone())
    });
    let status = Memo::new(move |_| live.with(LiveState::status));
    let finding = Finding::new(live.into());
    let critical = Memo::new(move |_| {
        live.with(|s| {
            s.alerts()
                .map(|a| {
                    a.iter()
                        .filter(|a| a.severity == Severity::Critical)
                        .count() as u32
                })
                .unwrap_or(0)
        })
    });
    let call_words = format!(
        "call {}",
        id.to_string().split('-').next().unwrap_or_default()
    );
    provide_context(finding);
    let alert_counts =
        Memo::new(move |_| live.with(|s| s.alerts().map(|a| a.counts()).unwrap_or_default()));
    // The page still hears from the server: not once the session or the
    // access to this call has ended (what it shows may be out of date).
    let current = Memo::new(move |_| status.with(|s| !s.is_final()));
    // A phone's screen stays on while the call is live and heard.
    let cant_stay_awake =
        use_wake_lock(Signal::derive(move || status.with(|s| *s == Status::Live)));

    // The tab names the call (its id's first group, enough to tell tabs
    // apart).
    // A phone shows the card's head line until asked for the rest.
    let details_open = RwSignal::new(false);

    let tab = format!(
        "Call {} · TravoIQ Monitor",
        id.to_string().split('-').next().unwrap_or_default()
    );

    view! {
        <Title text=tab />
        // The header keeps its natural height when there is room; on a short
        // window it scrolls by itself, so the conversation keeps its space.
        <div class="call-head" class:details-open=move || details_open.get()>
            <CallCard call current details_open>
                <StatusBadge status />
            </CallCard>
            <AlertBadges counts=alert_counts />
            <TalkChart live />
            <Show when=move || cant_stay_awake.get()>
                <p class="wake-note" role="status" data-testid="wake-lock-refused">
                    "This browser can't keep the screen on: it may sleep during the call."
                </p>
            </Show>
            // One row of tools under the card: downloads, and sharing
            // folded up until it is wanted.
            <div class="call-tools">
                <FindBox finding />
                {downloads}
                <ShareLink id current />
                <CriticalNotify critical what=call_words />
            </div>
        </div>
        <NewCallNotice live />
        <TranscriptView live />
    }
}

/// Tells the dashboard which call is on screen, until this view goes.
fn mark_shown(id: &CallId) {
    let Some(Shown(shown)) = use_context::<Shown>() else {
        return;
    };
    shown.set(Some(id.clone()));
    let mine = id.clone();
    on_cleanup(move || {
        shown.try_update(|s| {
            if s.as_ref() == Some(&mine) {
                *s = None;
            }
        });
    });
}

/// The address bar names the call shown (and keeps a shared link's grant,
/// so a reload still opens it).
fn name_in_address_bar(id: &CallId, grant: Option<&str>) {
    let here_path = call_path(id);
    let here = match grant {
        Some(g) => format!("{here_path}?grant={g}"),
        None => here_path.clone(),
    };
    let location = use_location();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if location.pathname.get_untracked() != here_path {
            navigate(
                &here,
                NavigateOptions {
                    replace: true,
                    scroll: false,
                    ..Default::default()
                },
            );
        }
    });
}
