//! The dashboard's live state, held in a signal and kept up to date by a
//! socket: every frame goes through [`LiveState::apply`], and this hook
//! carries out what it answers.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;

use crate::components::controls::call_path;
use crate::context::{Follow, Newest, ReadingBack};
use crate::hooks::socket::use_socket;
use crate::live::state::LiveState;
use crate::live::status::{Flow, Link};
use crate::protocol::ServerMsg;

/// Starts from `initial` and listens on its socket while the calling
/// component lives. New calls are followed or announced as the follow
/// switch says (announced while the reader is scrolled up in the
/// transcript), and recorded in [`Newest`] when the dashboard provides it.
pub fn use_live(initial: LiveState) -> RwSignal<LiveState> {
    let live = RwSignal::new(initial);
    let follow = expect_context::<Follow>().0;
    let newest = use_context::<Newest>()
        .map(|n| n.0)
        .unwrap_or_else(|| RwSignal::new(None));
    let reading_back = use_context::<ReadingBack>().map(|r| r.0);
    let navigate = use_navigate();

    let on_msg = move |msg: ServerMsg| {
        // A reader scrolled up in the transcript keeps their place: the
        // new call is announced instead of followed.
        let reading_back = reading_back.and_then(|r| r.try_get_untracked()) == Some(true);
        let follow = follow.try_get_untracked().unwrap_or(false) && !reading_back;
        // Frames already buffered may arrive after the view is gone
        // (following a new call disposes it): stop, touch nothing.
        let Some(then) = live.try_maybe_update(|state| {
            let then = state.apply(msg, follow);
            (then.redraw, then)
        }) else {
            return Flow::Stop;
        };
        if let Some(message) = &then.warn {
            leptos::logging::warn!("server: {message}");
        }
        if let Some(id) = then.heard_of {
            newest.try_set(Some(id));
        }
        if let Some(id) = then.open {
            // Following replaces the history entry: Back leaves the
            // dashboard instead of stepping through every call followed.
            navigate(
                &call_path(&id),
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
        then.flow
    };
    let on_link = move |link: Link| {
        live.try_maybe_update(|state| (state.set_link(link), ()));
    };
    let path = move || {
        let known = newest.try_get_untracked().flatten();
        live.try_with_untracked(|state| state.socket_path(known.as_ref()))
            .unwrap_or_default()
    };
    use_socket(path, on_msg, on_link);
    live
}

/// One call among several on a page (a wall tile), kept live on its own
/// socket from `initial`: it reconnects and resumes by itself, and never
/// follows or announces new calls.
pub fn use_call_feed(initial: LiveState) -> RwSignal<LiveState> {
    let live = RwSignal::new(initial);
    let on_msg = move |msg: ServerMsg| {
        if matches!(msg, ServerMsg::NewCall { .. }) {
            return Flow::Continue;
        }
        let Some(then) = live.try_maybe_update(|state| {
            let then = state.apply(msg, false);
            (then.redraw, then)
        }) else {
            return Flow::Stop;
        };
        if let Some(message) = &then.warn {
            leptos::logging::warn!("server: {message}");
        }
        then.flow
    };
    let on_link = move |link: Link| {
        live.try_maybe_update(|state| (state.set_link(link), ()));
    };
    let path = move || {
        live.try_with_untracked(|state| state.socket_path(None))
            .unwrap_or_default()
    };
    use_socket(path, on_msg, on_link);
    live
}
