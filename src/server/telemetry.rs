//! Logging: `tracing` to stdout, filtered by `RUST_LOG` (default: info for
//! this crate and HTTP traces, warnings for everything else).

use tracing_subscriber::{fmt, EnvFilter};

pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,travoiq_monitor=info,tower_http=info"));
    // A second init (tests) is harmless.
    let _ = fmt().with_env_filter(filter).with_target(false).try_init();
}
