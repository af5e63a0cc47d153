use std::process::ExitCode;

use leptos::config::get_configuration;
use travoiq_monitor::server::config::Settings;
use travoiq_monitor::server::startup::Application;
use travoiq_monitor::server::telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    // A .env file is optional (the seed used one); real env vars win.
    let dotenv = dotenvy::dotenv();
    telemetry::init();
    if let Err(e) = &dotenv {
        if !e.not_found() {
            tracing::warn!(error = %e, ".env file ignored");
        }
    }
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let leptos_options = match get_configuration(None) {
        Ok(conf) => conf.leptos_options,
        Err(e) => {
            tracing::error!(error = %e, "invalid LEPTOS_* settings");
            return ExitCode::FAILURE;
        }
    };
    let app = match Application::build(settings, leptos_options).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(addr) = app.local_addr() {
        tracing::info!("TravoIQ Monitor listening on http://{addr}");
    }
    match app.run_until_stopped().await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
