//! The state shared by every handler and server function.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use tokio::sync::watch;

use super::auth::Auth;
use super::config::Settings;
use super::dev_api::DevTarget;
use super::hub::Hub;
use super::security::SocketLimiter;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub settings: Arc<Settings>,
    pub hub: Arc<Hub>,
    /// Accounts, sessions and who may see which call.
    pub auth: Arc<Auth>,
    /// Where the developer API writes, when it is on.
    pub dev: Option<DevTarget>,
    /// Open sockets per client address.
    pub sockets: SocketLimiter,
    /// Origins besides the server's own that may open sockets.
    pub allowed_origins: Arc<Vec<String>>,
    /// Turns true when the server starts shutting down.
    pub shutdown: watch::Receiver<bool>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
