//! TravoIQ Monitor: a live call-monitoring dashboard for Amazon Connect.
#![recursion_limit = "256"]

pub mod admin_api;
pub mod api;
pub mod app;
#[cfg(feature = "hydrate")]
pub mod client;
pub mod components;
pub mod context;
pub mod error;
pub mod hooks;
pub mod live;
pub mod model;
pub mod pages;
pub mod protocol;
pub mod rules_api;
#[cfg(feature = "ssr")]
pub mod server;
pub mod url;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
