//! `callscore serve`: the Kafka consumer service. Recordings in from a topic, audio to S3,
//! score events out to a topic, offsets committed only after both.

pub(crate) use callscore_cli::config;
mod service;
mod sweeper;
mod topics;

pub(crate) use topics::{Checker, hold as hold_topics};

pub(crate) use service::{connect_store, on_signal, pseudonyms};

use std::path::PathBuf;
use std::process::ExitCode;

use config::Config;

/// Run the service: consume recordings from Kafka, store their audio in S3 with retention
/// data, publish score events to Kafka, serve /metrics, /healthz and /readyz.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The configuration is one TOML file (examples in deploy/); any value can be overridden from the
environment as CALLSCORE__SECTION__KEY=value, e.g. CALLSCORE__SERVICE__MAX_IN_FLIGHT=64 or
CALLSCORE__KAFKA__COMMON__SASL_PASSWORD=... (under kafka.common, kafka.consumer and
kafka.producer, underscores of the last level become dots). Secrets never go in the file: S3
credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, instance roles,
...), the pseudonymisation key from a file or CALLSCORE_PSEUDONYM_KEY.

SIGTERM or SIGINT stops intake, lets recordings in flight finish (up to
service.shutdown_timeout_ms), commits, flushes the producer and exits 0.

Exit status: 0 after a clean stop; 1 when the service failed; 2 for a wrong command line or
configuration.")]
pub(crate) struct Args {
    /// The configuration file.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,

    /// Check the configuration (file, overrides, surveys, keys) and exit.
    #[arg(long)]
    check: bool,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    let prepared = Config::load(&args.config).and_then(|config| {
        let settings = service::settings(&config)?;
        Ok((config, settings))
    });
    let (config, settings) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => {
            crate::complain(&format!("{error:#}"));
            return ExitCode::from(2);
        }
    };
    if args.check {
        crate::complain(&format!(
            "{}: the configuration is valid",
            args.config.display()
        ));
        return ExitCode::SUCCESS;
    }
    callscore_telemetry::init_logs(config.service.log_format, &config.service.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("callscore-io")
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            crate::complain(&format!("cannot start the runtime: {error}"));
            return ExitCode::FAILURE;
        }
    };
    let text = std::fs::read(&args.config).unwrap_or_default();
    let origin = callscore_pipeline::audit::AuditOrigin::new(
        "callscore serve",
        &args.config.display().to_string(),
        &text,
        false,
    );
    match runtime.block_on(service::run(config, settings, origin)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "the service failed");
            ExitCode::FAILURE
        }
    }
}
