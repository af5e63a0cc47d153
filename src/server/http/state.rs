//! The state shared by every handler and server function.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use tokio::sync::watch;

use crate::server::access::CallAccess;
use crate::server::auth::Auth;
use crate::server::config::Settings;
use crate::server::hub::Hub;
use crate::server::security::SocketLimiter;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub settings: Arc<Settings>,
    pub hub: Arc<Hub>,
    /// Accounts and sessions: who is signed in.
    pub auth: Arc<Auth>,
    /// The one path to a call: who may see which call, and how.
    pub access: Arc<CallAccess>,
    /// The developer API, when it is on.
    pub dev: Option<crate::server::dev_target::DevApi>,
    /// Open sockets per client address.
    pub sockets: SocketLimiter,
    /// The `Host` names this server answers for.
    pub hosts: Arc<super::hosts::Hosts>,
    /// Each signed-in user's request budget.
    pub requests: Arc<super::requests::RequestLimiter>,
    /// Proxies whose forwarding headers name the client.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
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
