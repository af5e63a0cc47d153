//! Logging. Two sinks:
//! - the log: human-readable lines on stdout, filtered by `RUST_LOG`
//!   (default: info for this crate and HTTP traces, warnings for the rest);
//! - the audit trail: every audit event (target `audit`: sign-ins, failures,
//!   limits, sign-outs, expiries, account changes, calls opened or refused,
//!   links made) as one JSON object per line, to stdout or a file
//!   (`audit_log`), whatever `RUST_LOG` says. Its schema is in the README.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use tracing::Subscriber;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer, Registry};

/// The log's filter when `RUST_LOG` is not set.
pub const DEFAULT_FILTER: &str = "warn,travoiq_monitor=info,tower_http=info";

/// Where audit events go.
#[derive(Clone)]
pub enum AuditSink {
    Stdout,
    /// Appended to this file.
    File(Arc<Mutex<File>>),
    /// Any writer (tests).
    Writer(Arc<Mutex<dyn Write + Send>>),
    Off,
}

impl AuditSink {
    /// From the `audit_log` setting: `stdout`, `off`, or a file path.
    pub fn open(setting: &str) -> io::Result<Self> {
        match setting.trim() {
            "" | "stdout" => Ok(Self::Stdout),
            "off" => Ok(Self::Off),
            path => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(Path::new(path))?;
                Ok(Self::File(Arc::new(Mutex::new(file))))
            }
        }
    }
}

/// One audit line's writer.
pub struct AuditWriter(AuditSink);

impl Write for AuditWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &self.0 {
            AuditSink::Stdout => io::stdout().lock().write(buf),
            AuditSink::File(file) => file.lock().unwrap_or_else(|e| e.into_inner()).write(buf),
            AuditSink::Writer(w) => w.lock().unwrap_or_else(|e| e.into_inner()).write(buf),
            AuditSink::Off => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &self.0 {
            AuditSink::Stdout => io::stdout().lock().flush(),
            AuditSink::File(file) => file.lock().unwrap_or_else(|e| e.into_inner()).flush(),
            AuditSink::Writer(w) => w.lock().unwrap_or_else(|e| e.into_inner()).flush(),
            AuditSink::Off => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for AuditSink {
    type Writer = AuditWriter;

    fn make_writer(&'a self) -> AuditWriter {
        AuditWriter(self.clone())
    }
}

/// The production subscriber: the log (filtered by `filter`, audit events
/// left out) on `log`, and the audit trail on `audit`.
pub fn subscriber<W>(filter: EnvFilter, log: W, audit: AuditSink) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    // `audit=off` wins over any RUST_LOG: the trail has a sink of its own.
    let filter = filter.add_directive(
        "audit=off"
            .parse()
            .unwrap_or_else(|_| LevelFilter::OFF.into()),
    );
    let log = fmt::layer()
        .with_writer(log)
        .with_target(false)
        .with_filter(filter);
    let audit_level = match audit {
        AuditSink::Off => LevelFilter::OFF,
        _ => LevelFilter::INFO,
    };
    let audit = fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_writer(audit)
        .with_filter(Targets::new().with_target("audit", audit_level));
    Registry::default().with(log).with(audit)
}

/// Logs to stdout, audit events to `audit`. A second init (tests) is
/// harmless.
pub fn init(audit: AuditSink) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let _ = subscriber(filter, io::stdout, audit).try_init();
}
