//! Any address the router does not know: a 404 with a way back.

use leptos::prelude::*;

use crate::components::top_bar::TopBar;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <main class="page">
            <TopBar links_home=true />
            <section class="empty-state" data-testid="not-found">
                <h2>"Page not found"</h2>
                <p><a href="/">"Back to the dashboard"</a></p>
            </section>
        </main>
    }
}
