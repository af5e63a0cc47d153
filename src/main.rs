use std::process::ExitCode;

use clap::{Parser, Subcommand};
use travoiq_monitor::server::auth::cli::{self as accounts, AccountsCommand};
use travoiq_monitor::server::config::{site, Settings, WriterFormat};
use travoiq_monitor::server::startup::{self, Application};
use travoiq_monitor::server::store::dynamo;
use travoiq_monitor::server::store::dynamo::writer::DynamoWriter;
use travoiq_monitor::server::writer_server::{WriterServer, WriterServerOptions};
use travoiq_monitor::server::{simulator, telemetry};

/// TravoIQ Monitor: live call monitoring for Amazon Connect.
///
/// Settings come from Leptos.toml (compiled in) and TRAVOIQ_* variables;
/// see the README.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the dashboard (the default).
    Serve,
    /// Play simulated calls into the DynamoDB tables, as the upstream
    /// pipeline writes them, for local work against a DynamoDB-compatible
    /// server (AWS_ENDPOINT_URL_DYNAMODB). Pace and frequency come from
    /// TRAVOIQ_SIMULATOR_PACE and TRAVOIQ_SIMULATOR_CALL_EVERY_SECS.
    /// `writer serve` writes exact calls sent over HTTP instead.
    #[command(args_conflicts_with_subcommands = true)]
    Writer {
        #[command(subcommand)]
        serve: Option<WriterCommand>,
        #[command(flatten)]
        play: PlayArgs,
    },
    /// Work on the three Amazon Connect tables.
    Tables {
        #[command(subcommand)]
        action: TablesCommand,
    },
    /// Manage sign-in accounts in the configured store.
    Accounts {
        #[command(subcommand)]
        action: AccountsCommand,
    },
}

#[derive(clap::Args)]
struct PlayArgs {
    /// The upstream writer to imitate.
    #[arg(long, value_enum, default_value = "connect-rt")]
    format: WriterFormat,
    /// Create the three tables (with streams) if they do not exist.
    #[arg(long)]
    create_tables: bool,
    /// Stop after this many calls (default: until Ctrl-C).
    #[arg(long)]
    calls: Option<usize>,
    /// As the real writer does when Amazon Transcribe fails: restart
    /// the transcription session before line N (later lines' times
    /// start again near zero).
    #[arg(long, value_name = "N")]
    restart_session_after: Option<usize>,
    /// Drop every K-th line's final write (a throttled write given up
    /// on): the line stays partial.
    #[arg(long, value_name = "K")]
    drop_final_every: Option<usize>,
    /// Write each contact item without callTimestamp first and complete
    /// it a second later.
    #[arg(long)]
    late_timestamp: bool,
}

#[derive(Subcommand)]
enum WriterCommand {
    /// Write exact calls sent over HTTP (the developer API's write
    /// requests, /api/dev/...) into the DynamoDB tables, as the upstream
    /// pipeline writes them: what tests against a monitor on DynamoDB
    /// write through. Loopback only; every request carries the token
    /// (x-dev-token: TRAVOIQ_DEV_API_TOKEN, or a random one printed at
    /// start). It writes calls and shows none.
    Serve(WriterServerOptions),
}

#[derive(Subcommand)]
enum TablesCommand {
    /// Turn on each table's DynamoDB stream (new and old images) where it
    /// is off, so the monitor follows new calls and lines within a second
    /// instead of scanning and polling. Needs dynamodb:UpdateTable.
    EnableStreams,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // A .env file is optional (the original app used one); real env vars win.
    let dotenv = dotenvy::dotenv();
    let settings = Settings::load();
    let audit = match &settings {
        Ok(s) => telemetry::AuditSink::open(&s.audit_log),
        Err(_) => Ok(telemetry::AuditSink::Stdout),
    };
    match audit {
        Ok(audit) => telemetry::init(audit),
        Err(e) => {
            telemetry::init(telemetry::AuditSink::Stdout);
            tracing::error!(error = %e, "cannot open the audit log (TRAVOIQ_AUDIT_LOG)");
            return ExitCode::FAILURE;
        }
    }
    if let Err(e) = &dotenv {
        if !e.not_found() {
            tracing::warn!(error = %e, ".env file ignored");
        }
    }
    let settings = match settings {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Writer {
            serve: Some(WriterCommand::Serve(options)),
            ..
        } => serve_writes(settings, options).await,
        Command::Writer { serve: None, play } => {
            let faults = simulator::UpstreamFaults {
                restart_after: play.restart_session_after,
                drop_final_every: play.drop_final_every,
                late_timestamp: play.late_timestamp,
            };
            write_calls(
                settings,
                play.format,
                play.create_tables,
                play.calls,
                faults,
            )
            .await
        }
        Command::Tables {
            action: TablesCommand::EnableStreams,
        } => enable_streams(settings).await,
        Command::Accounts { action } => accounts::run(&settings, action).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> Result<(), String> {
    let leptos_options = site::leptos_options().map_err(|e| e.to_string())?;
    let bundle = site::bundle_script(&leptos_options);
    if !bundle.is_file() {
        tracing::warn!(
            "{} is missing: pages will not come alive in the browser; build the site with \
             `cargo leptos build --release` (or set LEPTOS_SITE_ROOT)",
            bundle.display()
        );
    }
    let app = Application::build(settings, leptos_options)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(addr) = app.local_addr() {
        tracing::info!("TravoIQ Monitor listening on http://{addr}");
    }
    app.run_until_stopped().await.map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(())
}

async fn serve_writes(settings: Settings, options: WriterServerOptions) -> Result<(), String> {
    let server = WriterServer::build(&settings, options)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(addr) = server.local_addr() {
        tracing::info!("TravoIQ writer server listening on http://{addr}");
    }
    server
        .run_until_stopped()
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(())
}

async fn write_calls(
    settings: Settings,
    format: WriterFormat,
    create_tables: bool,
    calls: Option<usize>,
    faults: simulator::UpstreamFaults,
) -> Result<(), String> {
    let dynamo = startup::dynamo_settings(&settings);
    let client = dynamo_client(&dynamo).await?;
    let writer = DynamoWriter::new(client, dynamo.tables.clone(), format);
    if create_tables {
        writer.create_tables().await.map_err(|e| e.to_string())?;
        let t = &dynamo.tables;
        println!(
            "tables ready (ACTIVE): {}, {}, {}",
            t.contact, t.customer, t.agent
        );
    }
    if calls == Some(0) {
        return Ok(());
    }
    tracing::info!(?format, tables = ?dynamo.tables, "writing simulated calls");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let player = simulator::spawn(
        std::sync::Arc::new(writer),
        simulator::SimulatorSettings {
            faults,
            ..startup::simulator_settings(&settings, calls)
        },
        stopped,
    );
    tokio::select! {
        _ = player => Ok(()),
        _ = tokio::signal::ctrl_c() => {
            let _ = stop.send(true);
            Ok(())
        }
    }
}

async fn dynamo_client(
    dynamo: &dynamo::DynamoSettings,
) -> Result<aws_sdk_dynamodb::Client, String> {
    dynamo::client::table_client(dynamo.timeout, dynamo.endpoint.as_deref())
        .await
        .map_err(|e| e.to_string())
}

async fn enable_streams(settings: Settings) -> Result<(), String> {
    let dynamo = startup::dynamo_settings(&settings);
    let client = dynamo_client(&dynamo).await?;
    let done = dynamo::tables::enable_streams(&client, &dynamo.tables)
        .await
        .map_err(|e| e.to_string())?;
    for (table, change) in done {
        match change {
            dynamo::tables::StreamChange::TurnedOn => {
                println!("{table}: stream turned on (NEW_AND_OLD_IMAGES)")
            }
            dynamo::tables::StreamChange::AlreadyOn(view) => {
                println!("{table}: stream already on ({view})")
            }
        }
    }
    println!("Running monitors pick the streams up within TRAVOIQ_STREAM_DESCRIBE_SECS (60 s by default).");
    Ok(())
}
