//! The state shared by every handler and server function.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use tokio::sync::watch;

use super::config::Settings;
use super::hub::Hub;
use super::store::CallSink;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub settings: Arc<Settings>,
    pub hub: Arc<Hub>,
    /// Where the simulator and the developer API write (embedded store only).
    pub sink: Option<Arc<dyn CallSink>>,
    /// Turns true when the server starts shutting down.
    pub shutdown: watch::Receiver<bool>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
