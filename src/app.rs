//! The HTML shell and the router.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;

use crate::context::provide_app_contexts;
use crate::pages::admin::Admin;
use crate::pages::dashboard::Dashboard;
use crate::pages::floor::Floor;
use crate::pages::not_found::NotFound;
use crate::pages::rules::Rules;
use crate::pages::sign_in::SignIn;
use crate::pages::wall::Wall;

pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The page's Content-Security-Policy names this response's nonce, which
    // Leptos puts on its hydration script.
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        if let Ok(value) =
            axum::http::HeaderValue::from_str(&crate::server::security::page_csp(&nonce))
        {
            response.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover" />
                // Light or dark as the system is set (night shifts).
                <meta name="color-scheme" content="light dark" />
                <meta name="theme-color" content="#0f766e" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <link rel="apple-touch-icon" href="/icons/icon-192.png" />
                // Installable: added to a phone's home screen, it opens
                // full-screen (the data still comes from the network).
                <link rel="manifest" href="/manifest.webmanifest" />
                // Times are rendered in UTC on the server and in the viewer's
                // zone once the page runs; until then they are hidden (no
                // flash of the wrong zone), unless scripts are off.
                <noscript>
                    <link rel="stylesheet" href="/noscript.css" />
                </noscript>
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let set_now = provide_app_contexts();

    // Browser only: mark the page as interactive (tests wait for it) and
    // start the clock that ticks call durations.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
        #[cfg(feature = "hydrate")]
        {
            let tick = move || set_now.set(Some(js_sys::Date::now() as i64));
            tick();
            let _ = set_interval_with_handle(tick, std::time::Duration::from_secs(1));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = set_now;
    });

    view! {
        <Stylesheet id="leptos" href="/pkg/travoiq-monitor.css" />
        <Title text="TravoIQ Monitor" />
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/signin") view=SignIn />
                <Route path=path!("/admin") view=Admin />
                <Route path=path!("/calls") view=Floor />
                <Route path=path!("/wall") view=Wall />
                <Route path=path!("/rules") view=Rules />
                // One dashboard for both addresses, so switching calls keeps
                // the page (and its controls) in place.
                <ParentRoute path=path!("") view=Dashboard>
                    <Route path=path!("/") view=|| () />
                    <Route path=path!("/calls/:id") view=|| () />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
