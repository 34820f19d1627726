//! Logs and the tracing events metrics are made from, set up once per process.

use std::io::IsTerminal;

use swift_core::Config;
use swift_core::config::LogFormat;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::{SubscriberInitExt, TryInitError};
use tracing_subscriber::{EnvFilter, Layer};

use crate::metrics::PoolWaits;

/// Logs as `LOG_FORMAT` and `RUST_LOG` say, plus the pool-wait metric (which has its own
/// filter, so it counts whatever the logs show). Fails when the process has a logger
/// already: tests start several apps in one process, and the first one's logger serves all.
pub fn init(config: &Config) -> Result<(), TryInitError> {
    let filter = EnvFilter::try_new(&config.rust_log).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal; log collectors get plain text.
    let fmt = tracing_subscriber::fmt::layer().with_ansi(std::io::stdout().is_terminal());
    let fmt = match config.log_format {
        // The request's span once (`span`), not again in the list of all spans (`spans`).
        LogFormat::Json => fmt
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        LogFormat::Pretty => fmt.boxed(),
    };
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(PoolWaits.with_filter(PoolWaits::filter()))
        .try_init()
}
