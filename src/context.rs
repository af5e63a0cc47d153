//! The contexts the pages share, in one place: what each holds, and who
//! provides it. The app provides the app-wide ones through
//! [`provide_app_contexts`]; the dashboard provides its own.

use leptos::prelude::*;

use crate::api::current_user;
use crate::error::AppError;
use crate::model::{CallId, User};

/// The signed-in user, loaded once per page. App-wide.
#[derive(Clone, Copy)]
pub struct Me(pub Resource<Result<Option<User>, AppError>>);

/// Whether the dashboard switches to each new call by itself. App-wide, so
/// the switch keeps its position from one call to the next. On only for a
/// dashboard opened at `/` (as the browser last left the switch there): a
/// page opened on a call's address stays on that call.
#[derive(Clone, Copy)]
pub struct Follow(pub RwSignal<bool>);

/// Wall-clock time, ticking once a second in the browser. `None` on the
/// server and until the page has hydrated, so both render the same HTML.
/// App-wide.
#[derive(Clone, Copy)]
pub struct Clock(pub ReadSignal<Option<i64>>);

/// The call on screen, if any. Provided by the dashboard.
#[derive(Clone, Copy)]
pub struct Shown(pub RwSignal<Option<CallId>>);

/// The newest call the dashboard has heard of (from pushes); a call
/// socket names it, so the server announces any newer one. Provided by
/// the dashboard.
#[derive(Clone, Copy)]
pub struct Newest(pub RwSignal<Option<CallId>>);

/// The reader has scrolled up from the newest line of the transcript on
/// screen: a new call is then announced rather than followed, so their
/// place is kept. Provided by the dashboard, set by the transcript.
#[derive(Clone, Copy)]
pub struct ReadingBack(pub RwSignal<bool>);

/// Whether the dashboard's menu (the call id box and the follow switch) is
/// open; it is a menu on phones only. Provided by the dashboard.
#[derive(Clone, Copy)]
pub struct MenuOpen(pub RwSignal<bool>);

/// Provides [`Me`], [`Follow`] and [`Clock`]; returns the clock's setter,
/// for the app to tick in the browser.
pub fn provide_app_contexts() -> WriteSignal<Option<i64>> {
    provide_context(Follow(RwSignal::new(false)));
    let (now, set_now) = signal(None::<i64>);
    provide_context(Clock(now));
    provide_context(Me(Resource::new_blocking(|| (), |_| current_user())));
    set_now
}
