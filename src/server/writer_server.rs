//! The writer server (`travoiq-monitor writer serve`): the developer API's
//! write routes in a process of their own, writing the real DynamoDB
//! tables as the upstream pipeline does (in either of its formats), so
//! tests against a monitor on DynamoDB can play exact calls without the
//! monitor ever writing them. It serves writes only: nothing here reads or
//! shows call data. Loopback only, every write with its token.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use super::config::{Settings, WriterFormat};
use super::dev_target::{DevApi, NotLoopback, TableTarget};
use super::http::dev_api;
use super::http::hosts::Hosts;
use super::startup::{self, StartupError};
use super::store::dynamo::client::table_client;
use super::store::dynamo::writer::DynamoWriter;

/// What the writer server is told at start (`writer serve`'s options).
#[derive(Clone, Debug, clap::Args)]
pub struct WriterServerOptions {
    /// Where to listen: a loopback address (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:3001")]
    pub listen: SocketAddr,
    /// The upstream writer to imitate.
    #[arg(long, value_enum, default_value = "connect-rt")]
    pub format: WriterFormat,
    /// Create the three tables (with streams) if they do not exist.
    #[arg(long)]
    pub create_tables: bool,
}

pub struct WriterServer {
    listener: TcpListener,
    router: Router,
}

impl WriterServer {
    /// Connects to the tables the settings name, and binds its listener.
    /// Refused on any address but loopback.
    pub async fn build(
        settings: &Settings,
        options: WriterServerOptions,
    ) -> Result<Self, StartupError> {
        let addr = options.listen;
        if !addr.ip().is_loopback() {
            return Err(NotLoopback { bound: addr }.into());
        }
        let dynamo = startup::dynamo_settings(settings);
        let client = table_client(dynamo.timeout, dynamo.endpoint.as_deref()).await?;
        let writer = DynamoWriter::new(client, dynamo.tables.clone(), options.format);
        if options.create_tables {
            writer.create_tables().await?;
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        let bound = listener.local_addr().unwrap_or(addr);
        let dev = DevApi::new(
            Arc::new(TableTarget::new(writer)),
            &settings.dev_api_token,
            bound,
        )?;
        tracing::info!(format = ?options.format, tables = ?dynamo.tables, "writer server: writes calls into the tables");
        let hosts = Arc::new(Hosts::new(bound, ""));
        let router = Router::new()
            .route("/healthz", get(move || healthz(options.format)))
            .merge(dev_api::routes(dev))
            .layer(SetResponseHeaderLayer::overriding(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            ))
            .layer(from_fn_with_state(hosts, known_host))
            .layer(
                TraceLayer::new_for_http().on_response(DefaultOnResponse::new().level(Level::INFO)),
            );
        Ok(Self { listener, router })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves until Ctrl-C or SIGTERM.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        self.run_until(startup::stop_signal()).await
    }

    /// Serves until `stop` completes; writes in flight finish first.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(stop)
            .into_future()
            .await?;
        Ok(())
    }
}

/// Up, and in which format it writes; nothing about any call.
async fn healthz(format: WriterFormat) -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "writes": format }))
}

/// Only this machine's own names (a page on another name that resolves to
/// loopback gets nothing: DNS rebinding).
async fn known_host(State(hosts): State<Arc<Hosts>>, req: Request, next: Next) -> Response {
    match hosts.check(req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}
