//! callscore's telemetry: the Prometheus metrics of the service ([`Metrics`], names in
//! [`names`]), the delivery core's and the consumer's events as metrics, readiness and logs
//! ([`Telemetry`]), the `/metrics`, `/healthz` and `/readyz` endpoints ([`router`], [`serve`]),
//! and the tracing set-up.
//!
//! Metric names follow Prometheus conventions: the `callscore_` prefix, base units (seconds,
//! bytes), `_total` on counters. Labels come from bounded, typed sets only (stages, reasons,
//! statuses, outcomes, operations, checks, topic partitions): never an id, a number or an
//! error string.

#![deny(missing_docs)]

mod health;
mod metrics;
mod observe;
mod server;

pub use health::{Check, Health, Kept, Readiness, Status};
pub use metrics::{Metrics, names};
pub use observe::Telemetry;
pub use server::{Limits, router, serve};

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One JSON object per line, for log pipelines.
    #[default]
    Json,
    /// Human-readable lines, for a terminal.
    Text,
}

/// Sets up tracing on standard error. The filter comes from `RUST_LOG` when set, else
/// `default_filter` (e.g. `info`). Call once.
pub fn init_logs(format: LogFormat, default_filter: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // a second call (tests) keeps the first subscriber
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
