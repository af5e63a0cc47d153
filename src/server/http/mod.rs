//! Everything that answers HTTP: the router, where each route's access is
//! declared; the gate every request passes; the REST, sign-in, socket and
//! developer endpoints; and what server functions use to find their
//! viewer. Call data is asked of [`crate::server::access`], always.

pub mod client;
pub mod dev_api;
pub mod export;
pub mod extract;
pub mod gate;
pub mod hosts;
pub mod metrics;
pub mod requests;
pub mod rest;
pub mod server_fn;
pub mod sign_in;
pub mod socket;
pub mod sso;
pub mod state;

use axum::http::{header, HeaderValue};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use axum::Router;
use leptos_axum::{generate_route_list, render_app_to_stream_with_context, LeptosRoutes};
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::app::{shell, App};

use super::security;
use state::AppState;

/// Pages anyone may open.
const OPEN_PAGES: &[&str] = &["/signin"];

pub fn router(state: AppState) -> Router {
    let (open_pages, member_pages): (Vec<_>, Vec<_>) = generate_route_list(App)
        .into_iter()
        .partition(|route| OPEN_PAGES.contains(&route.path()));
    let options = state.leptos_options.clone();

    // The sign-in page (and, as leptos_axum adds them here, the server
    // functions): someone already signed in is sent on from the page.
    let open = Router::new()
        .leptos_routes_with_context(&state, open_pages, || {}, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .route_layer(from_fn(gate::signed_in_goes_on));

    // Open to anyone: sign-in, health, and the server functions (each
    // asks for its viewer; `/api/me` answers "nobody" without one).
    let public = Router::new()
        .route("/healthz", get(rest::healthz))
        .route("/signin", post(sign_in::sign_in))
        .route("/signout", post(sign_in::sign_out))
        .route("/signin/sso", get(sso::begin))
        .route(
            crate::server::config::sso::CALLBACK_PATH,
            get(sso::callback),
        )
        .merge(open);

    // Signed-in pages: a browser without a session is sent to sign in.
    let page = render_app_to_stream_with_context(
        {
            let state = state.clone();
            move || leptos::prelude::provide_context(state.clone())
        },
        {
            let options = options.clone();
            move || shell(options.clone())
        },
    );
    let pages = member_pages
        .iter()
        .fold(Router::new(), |router, route| {
            router.route(route.path(), get(page.clone()))
        })
        .route_layer(from_fn_with_state(state.clone(), gate::require_viewer_page));

    // Signed-in data: 401 without a session.
    let data = Router::new()
        .route("/details/{call_id}", get(rest::details))
        .route("/latest-call", get(rest::latest_call))
        // A transcript download: `/calls/{call_id}/transcript.{txt,csv,json}`.
        .route("/calls/{call_id}/{file}", get(export::download))
        .route("/ws/calls", get(socket::lobby))
        .route("/ws/floor", get(socket::floor))
        .route("/ws/{call_id}", get(socket::call))
        .route_layer(from_fn(gate::require_viewer));

    let mut router = public.merge(pages).merge(data);
    if let Some(dev) = &state.dev {
        tracing::warn!("developer API enabled at /api/dev: never in production");
        router = router.merge(dev_api::routes(dev.clone()));
    }
    // Every route above may answer with call data: no cache keeps a copy.
    // Static files (the fallback) may be cached.
    router
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(from_fn_with_state(state.clone(), gate::gate))
        // Pages, answers and the bundle go out gzip- or brotli-compressed
        // when the browser accepts it (the wasm shrinks about 2.6 times).
        .layer(CompressionLayer::new())
        .layer(security::header_layers())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
}

/// A request's log span: its method and path, never its query string (a
/// shared link's grant is a bearer secret and must not reach the log).
fn request_span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        version = ?req.version(),
    )
}
