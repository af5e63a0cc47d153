//! Building and running the server: bind, serve, shut down gracefully.

use axum::serve::ListenerExt;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use leptos::config::LeptosOptions;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::access::CallAccess;
use super::alerts::book::{AlertBook, LocalBook};
use super::alerts::dynamo::DynamoBook;
use super::alerts::Alerts;
use super::auth::accounts::AccountStore;
use super::auth::dynamo_store::DynamoAccounts;
use super::auth::file_store::FileAccounts;
use super::auth::Auth;
use super::config::{Settings, StoreKind};
use super::dev_target::{DevApi, DevTarget};
use super::http::state::AppState;
use super::hub::Hub;
use super::metrics::Metrics;
use super::security::SocketLimiter;
use super::simulator;
use super::store::dynamo::writer::DynamoWriter;
use super::store::dynamo::{DynamoSettings, DynamoStore};
use super::store::memory::MemoryStore;
use super::store::{CallSink, CallStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Serve(#[from] std::io::Error),
    #[error("data source: {0}")]
    Store(#[from] StoreError),
    #[error("accounts: {0}")]
    Accounts(String),
    /// The developer API writes without a session; on DynamoDB that would
    /// be the monitor writing the real tables, so it exists only with the
    /// embedded store. Tests on DynamoDB write through the writer server.
    #[error(
        "the developer API (TRAVOIQ_DEV_API=on) works only with the embedded store \
         (TRAVOIQ_STORE=memory); on DynamoDB, write calls with \
         `travoiq-monitor writer serve` instead"
    )]
    DevApiNeedsEmbeddedStore,
    #[error("{0}")]
    DevApi(#[from] super::dev_target::NotLoopback),
}

type Opened = (
    Arc<dyn CallStore>,
    Option<Arc<dyn CallSink>>,
    Option<Arc<dyn DevTarget>>,
    Arc<dyn AccountStore>,
);

/// Opens the configured backend, and what writes into it: the simulator's
/// sink, if it may write, and on the embedded store the developer API's
/// target (on DynamoDB the monitor only reads calls).
async fn open_store(settings: &Settings) -> Result<Opened, StartupError> {
    Ok(match settings.store {
        StoreKind::Memory => {
            let memory = Arc::new(
                MemoryStore::new(settings.retain_calls)
                    .with_audio_stream_prefix(settings.kinesis_stream_prefix.clone())
                    .with_owner_attribute(settings.agent_attribute.clone()),
            );
            (
                memory.clone(),
                Some(memory.clone()),
                Some(memory as Arc<dyn DevTarget>),
                Arc::new(FileAccounts::new(&settings.accounts_file)),
            )
        }
        StoreKind::Dynamodb => {
            let store = DynamoStore::connect(dynamo_settings(settings)).await?;
            let writer = settings.simulator_format.map(|format| {
                Arc::new(DynamoWriter::new(
                    store.client().clone(),
                    settings.table_names(),
                    format,
                ))
            });
            let accounts = DynamoAccounts::from_settings(settings, store.client().clone());
            accounts.check_tables().await.map_err(|e| {
                StartupError::Accounts(format!(
                    "{e}; create the tables with `travoiq-monitor accounts create-tables`"
                ))
            })?;
            (
                store,
                writer.map(|w| w as Arc<dyn CallSink>),
                None,
                Arc::new(accounts),
            )
        }
    })
}

/// The rules and the alerts raised: in a file and in memory on the
/// embedded store, in two tables on DynamoDB (made if missing). `None`,
/// said in the log, when the tables can't be made or reached: calls are
/// still shown, without alerts.
async fn open_alerts(settings: &Settings, store: &Arc<dyn CallStore>) -> Option<Alerts> {
    let book: Arc<dyn AlertBook> = match settings.store {
        StoreKind::Memory => Arc::new(LocalBook::new(&settings.rules_file)),
        StoreKind::Dynamodb => {
            let dynamo = DynamoStore::downcast(store)?;
            let (rules, alerts) = settings.alert_tables();
            let book = DynamoBook::new(dynamo.client().clone(), rules.clone(), alerts.clone());
            if let Err(e) = book.create_tables().await {
                tracing::error!(error = %e, rules, alerts, "alerts off: their tables could not be made");
                return None;
            }
            Arc::new(book)
        }
    };
    let alerts = Alerts::new(book);
    match alerts.rules().await {
        Ok(rules) => tracing::info!(rules = rules.len(), "alert rules read"),
        Err(e) => {
            tracing::warn!(error = %e, "alert rules not read yet; trying again at each final line")
        }
    }
    Some(alerts)
}

/// Makes the demo accounts when configured, and says how to sign in.
async fn demo_users(auth: &Auth, settings: &Settings) -> Result<(), StartupError> {
    if !settings.demo_users_enabled() {
        return Ok(());
    }
    let given = Some(settings.demo_password.as_str()).filter(|p| !p.is_empty());
    let made = auth
        .ensure_demo_users(given)
        .await
        .map_err(StartupError::Accounts)?;
    for (name, password) in made {
        if given.is_some() {
            tracing::warn!("demo account {name}: password from TRAVOIQ_DEMO_PASSWORD");
        } else {
            tracing::warn!("demo account {name}: password {password}");
        }
    }
    Ok(())
}

pub fn dynamo_settings(settings: &Settings) -> DynamoSettings {
    DynamoSettings {
        tables: settings.table_names(),
        poll: Duration::from_millis(settings.dynamodb_poll_ms),
        latest_poll: Duration::from_secs(settings.latest_poll_secs),
        timeout: Duration::from_millis(settings.dynamodb_timeout_ms),
        idle_end: Duration::from_secs(settings.call_idle_end_secs),
        audio_stream_prefix: settings.kinesis_stream_prefix.clone(),
        page_limit: None,
        endpoint: settings.endpoints().0.map(str::to_string),
        streams_endpoint: settings.endpoints().1.map(str::to_string),
        stream_pace: super::store::dynamo::Pace {
            min_interval: Duration::from_millis(settings.stream_poll_ms),
            describe_every: Duration::from_secs(settings.stream_describe_secs),
        },
        full_read_every: Duration::from_secs(settings.dynamodb_full_read_secs),
        partial_bound: Duration::from_secs(settings.partial_timeout_secs),
        owner_attribute: settings.agent_attribute.clone(),
    }
}

pub fn simulator_settings(
    settings: &Settings,
    max_calls: Option<usize>,
) -> simulator::SimulatorSettings {
    simulator::SimulatorSettings {
        pace: settings.simulator_pace,
        call_every: Duration::from_secs_f64(settings.simulator_call_every_secs),
        max_calls,
        agent_attribute: settings.agent_attribute.clone(),
        faults: simulator::UpstreamFaults::default(),
    }
}

pub struct Application {
    hub: Arc<Hub>,
    auth: Arc<Auth>,
    sockets: SocketLimiter,
    listener: TcpListener,
    router: Router,
    /// `/metrics` on its own listener, when `metrics_addr` is set.
    metrics: Option<(TcpListener, Router)>,
    shutdown: watch::Sender<bool>,
}

impl Application {
    /// Builds the app and binds its listener (port 0 picks a free port).
    pub async fn build(
        settings: Settings,
        leptos_options: LeptosOptions,
    ) -> Result<Self, StartupError> {
        if settings.dev_api && settings.store == StoreKind::Dynamodb {
            return Err(StartupError::DevApiNeedsEmbeddedStore);
        }
        let addr = leptos_options.site_addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        let (shutdown, shutdown_rx) = watch::channel(false);

        let (store, sink, dev, accounts) = open_store(&settings).await?;
        let auth = Arc::new(Auth::new(accounts, &settings));
        demo_users(&auth, &settings).await?;
        if let Some(sso) = auth.sso() {
            tracing::info!(issuer = %sso.issuer(), "single sign-on on");
            let auth = auth.clone();
            tokio::spawn(async move {
                if let Some(sso) = auth.sso() {
                    sso.warm().await;
                }
            });
        }
        let metrics = match settings.metrics_addr() {
            Some(addr) => {
                let listener = TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartupError::Bind { addr, source })?;
                let bound = listener.local_addr().unwrap_or(addr);
                tracing::info!(
                    addr = %bound,
                    token = settings.metrics_token().is_some(),
                    "metrics served at /metrics"
                );
                Some((listener, bound))
            }
            None => None,
        };
        let counts = Arc::new(Metrics::new());
        let hub = Hub::start_metered(
            store,
            Duration::from_secs(settings.feed_linger_secs),
            counts.clone(),
        );
        if let Some(alerts) = open_alerts(&settings, hub.store()).await {
            hub.set_alerts(Arc::new(alerts));
        }
        let metrics = metrics.map(|(listener, bound)| {
            let routes = super::http::metrics::routes(counts, settings.metrics_token(), bound);
            (listener, routes)
        });

        if settings.simulator {
            match &sink {
                Some(sink) => {
                    simulator::spawn(
                        sink.clone(),
                        simulator_settings(&settings, None),
                        shutdown_rx.clone(),
                    );
                }
                None => tracing::info!(
                    "simulator off: on DynamoDB it writes only with TRAVOIQ_SIMULATOR_FORMAT set"
                ),
            }
        }

        let bound = listener.local_addr().unwrap_or(addr);
        let dev = match dev {
            Some(target) if settings.dev_api => {
                match DevApi::new(target, &settings.dev_api_token, bound) {
                    Ok(dev) => Some(dev),
                    Err(e) => {
                        tracing::error!("developer API refused: {e}");
                        None
                    }
                }
            }
            _ => None,
        };
        let allowed_origins = Arc::new(settings.allowed_origins());
        let access = Arc::new(CallAccess::new(hub.clone(), auth.clone(), &settings));
        // Running from the start, the floor keeps every live call's feed
        // open: every final line is judged for alerts, watched or not.
        tokio::spawn(access.shared_floor().clone().keep_running());
        let state = AppState {
            trusted_proxies: Arc::new(settings.trusted_proxies()),
            hosts: Arc::new(super::http::hosts::Hosts::new(
                listener.local_addr().unwrap_or(addr),
                &settings.allowed_hosts,
            )),
            requests: Arc::new(super::http::requests::RequestLimiter::new(
                settings.requests_per_minute,
            )),
            access,
            sockets: SocketLimiter::default(),
            allowed_origins,
            leptos_options: leptos_options.clone(),
            settings: Arc::new(settings),
            hub,
            auth,
            dev,
            shutdown: shutdown_rx,
        };
        let hub = state.hub.clone();
        let auth = state.auth.clone();
        let sockets = state.sockets.clone();
        let router = super::http::router(state);
        Ok(Self {
            hub,
            auth,
            sockets,
            listener,
            router,
            metrics,
            shutdown,
        })
    }

    pub fn hub(&self) -> Arc<Hub> {
        self.hub.clone()
    }

    /// Accounts and sessions (for the command line and tests).
    pub fn auth(&self) -> Arc<Auth> {
        self.auth.clone()
    }

    /// Open live sockets, for tests and metrics.
    pub fn sockets(&self) -> SocketLimiter {
        self.sockets.clone()
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Where `/metrics` is served, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// Serves until Ctrl-C or SIGTERM; see [`Application::run_until`].
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        self.run_until(stop_signal()).await
    }

    /// Serves until `stop` completes, then stops gracefully: live sockets
    /// are told to reconnect elsewhere (close 1001), new connections are
    /// refused, and requests in flight get [`GRACE`] to finish.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let shutdown = self.shutdown;
        if let Some((listener, routes)) = self.metrics {
            let mut stopping = shutdown.subscribe();
            tokio::spawn(async move {
                let stop = async move {
                    let _ = stopping.wait_for(|stop| *stop).await;
                };
                let served = axum::serve(listener, routes)
                    .with_graceful_shutdown(stop)
                    .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            });
        }
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        // Frames go out as they are written, not held back until the
        // client acknowledges the last (Nagle's algorithm with the client's
        // delayed ACK held a new viewer's backlog up to 40 ms at a time).
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY not set");
            }
        });
        let server = axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            stop.await;
            tracing::info!("shutting down: closing live sockets");
            let _ = shutdown.send(true);
            let _ = stopping.send(());
        })
        .into_future();
        let grace = async {
            if stopped.await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(GRACE).await;
        };
        tokio::select! {
            served = server => served?,
            _ = grace => tracing::warn!("shutdown grace period over; stopping anyway"),
        }
        Ok(())
    }
}

/// How long requests in flight may take once shutdown has begun.
pub const GRACE: Duration = Duration::from_secs(10);

/// Ctrl-C or SIGTERM.
pub async fn stop_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
