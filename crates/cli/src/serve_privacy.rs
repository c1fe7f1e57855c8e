//! `callscore serve-privacy`: the privacy requests' consumer service, beside `serve`. Erasure,
//! export and consent requests arrive on `kafka.privacy_requests_topic` (from a client's CRM or
//! request tool); each is executed exactly as `callscore erase|export|consent withdraw` would,
//! its result published on `kafka.privacy_results_topic`. A malformed request is dead-lettered
//! (its numbers masked), never half-executed. It shares `serve`'s delivery code: the Kafka
//! source (group membership, offsets committed only past finished work, dead letters), the
//! producer, the retry policy, the store adapter, the telemetry and its endpoints.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use callscore_kafka::{KafkaSink, KafkaSource, Raw, SourceConfig};
use callscore_pipeline::audit::AuditOrigin;
use callscore_pipeline::{DeadLetter, Failure, Pseudonyms, Reason, RecordingSource, Retry, Stage};
use callscore_privacy::{
    Action, PrivacyError, PrivacyRequest, PrivacyResult, ResultStatus, StoreBundle,
};
use callscore_s3::S3Store;
use callscore_telemetry::{Check, Health, Limits, Metrics, Status, Telemetry};
use callscore_worker::{CancellationToken, RetryPolicy};
use jiff::Timestamp;

use crate::serve::config::Config;

/// How many days an export asked for by message stays in the store (`_exports/`).
const EXPORT_DAYS: i64 = 7;

/// Run the privacy requests' service: consume erasure, export and consent requests from
/// Kafka, execute them as the commands would, publish their results.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The configuration is `callscore serve`'s (kafka.privacy_requests_topic,
kafka.privacy_results_topic and kafka.audit_topic are needed); the consumer group is the
configured group.id with `.privacy` appended. Exports asked for by message are written to the
store under _exports/TENANT/REQUEST_ID/ and kept 7 days.

Exit status: 0 after a clean stop (SIGTERM or SIGINT); 1 when the service failed; 2 for a wrong
command line or configuration.")]
pub(crate) struct Args {
    /// The configuration file (`callscore serve`'s).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

/// What the service works with.
struct Service {
    store: Arc<S3Store>,
    sink: Arc<KafkaSink>,
    source: Arc<KafkaSource>,
    pseudonyms: Pseudonyms,
    retention: callscore_pipeline::RetentionConfig,
    results_topic: String,
    origin: AuditOrigin,
    retry: RetryPolicy,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    let prepared = Config::load(&args.config).and_then(|config| {
        let requests = config
            .kafka
            .privacy_requests_topic
            .clone()
            .context("kafka.privacy_requests_topic is needed")?;
        let results = config
            .kafka
            .privacy_results_topic
            .clone()
            .context("kafka.privacy_results_topic is needed")?;
        config
            .kafka
            .audit_topic
            .as_ref()
            .context("kafka.audit_topic is needed: every request leaves an audit record")?;
        let pseudonyms = crate::serve::pseudonyms(&config)?;
        Ok((config, requests, results, pseudonyms))
    });
    let (config, requests, results, pseudonyms) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => return crate::privacy::refused(&error),
    };
    callscore_telemetry::init_logs(config.service.log_format, &config.service.log_level);
    let text = std::fs::read(&args.config).unwrap_or_default();
    let origin = AuditOrigin::new(
        "callscore serve-privacy",
        &args.config.display().to_string(),
        &text,
        false,
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return crate::privacy::failed(&error.into()),
    };
    match runtime.block_on(serve(config, requests, results, pseudonyms, origin)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "the service failed");
            ExitCode::FAILURE
        }
    }
}

async fn serve(
    config: Config,
    requests: String,
    results: String,
    pseudonyms: Pseudonyms,
    origin: AuditOrigin,
) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::new(env!("CARGO_PKG_VERSION")));
    let health = Arc::new(Health::new());
    let telemetry = Telemetry::new(Arc::clone(&metrics), Arc::clone(&health));
    let shutdown = CancellationToken::new();
    tokio::spawn(crate::serve::on_signal(
        shutdown.clone(),
        Arc::clone(&health),
    ));
    let listener = tokio::net::TcpListener::bind(config.service.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.service.listen))?;
    let stop_http = CancellationToken::new();
    let http = tokio::spawn(callscore_telemetry::serve(
        listener,
        callscore_telemetry::router(Arc::clone(&metrics), Arc::clone(&health)),
        Limits::default(),
        stop_http.clone(),
    ));
    let Some(store) = crate::serve::connect_store(&config, &telemetry, &shutdown).await else {
        return Ok(());
    };
    let sink = Arc::new(crate::privacy::sink(&config)?);
    let mut properties = config.properties()["consumer"].clone();
    let group = properties.get("group.id").cloned().unwrap_or_default();
    properties.insert("group.id".into(), format!("{group}.privacy"));
    telemetry.check(Check::Group, false, Status::Joining);
    telemetry.check(Check::Producer, true, Status::Reachable);
    telemetry.check(Check::Delivery, true, Status::Flowing);
    let source = Arc::new(
        KafkaSource::start(
            &SourceConfig {
                topic: requests.clone(),
                properties,
                prefetch_bytes: 1 << 20,
            },
            Arc::new(telemetry.clone()),
            Arc::clone(&sink),
        )
        .context("cannot create the Kafka consumer")?,
    );
    let service = Service {
        store: Arc::new(store),
        sink,
        source: Arc::clone(&source),
        pseudonyms,
        retention: config.retention.clone(),
        results_topic: results,
        origin,
        retry: RetryPolicy {
            initial: Duration::from_millis(config.service.retry_initial_ms),
            max: Duration::from_millis(config.service.retry_max_ms),
            jitter: 0.25,
            attempts: None,
            blocked_attempts: None,
        },
    };
    tracing::info!(topic = %requests, "consuming privacy requests");
    loop {
        let raw = tokio::select! {
            () = shutdown.cancelled() => break,
            raw = source.next_raw() => match raw {
                Some(raw) => raw,
                None => break,
            },
        };
        if !service.handle(raw, &shutdown).await {
            break;
        }
    }
    health.stopping();
    let closing = Arc::clone(&source);
    tokio::task::spawn_blocking(move || closing.close())
        .await
        .context("closing the consumer")?
        .context("committing offsets at shutdown")?;
    stop_http.cancel();
    let _ = http.await;
    Ok(())
}

impl Service {
    /// Handles one request to its acknowledgement; `false` when stopped before.
    async fn handle(&self, raw: Raw, shutdown: &CancellationToken) -> bool {
        let input = raw.receipt.input();
        let request = match PrivacyRequest::parse(&raw.value) {
            Ok(request) => request,
            Err(why) => {
                let failure = Failure::permanent(Stage::Intake, Reason::InvalidRequest, why);
                tracing::warn!(
                    input,
                    error = failure.message(),
                    "dead-lettering a malformed request"
                );
                let letter = DeadLetter::new(&input, None, &failure, Timestamp::now());
                let stored = self
                    .retrying(shutdown, || async {
                        self.source
                            .reject(&raw.receipt, &letter, None)
                            .await
                            .map_err(|e| anyhow::anyhow!(e))
                    })
                    .await;
                if stored.is_none() {
                    return false;
                }
                return self.ack(raw).await;
            }
        };
        let result = self
            .retrying(shutdown, || async {
                match self.execute(&request).await {
                    Ok(report) => Ok(self.result(&request, ResultStatus::Done, "done", report)),
                    Err(PrivacyError::Refused(why)) => Ok(self.result(
                        &request,
                        ResultStatus::Refused,
                        &why,
                        serde_json::Value::Null,
                    )),
                    Err(PrivacyError::Damaged(why)) => Ok(self.result(
                        &request,
                        ResultStatus::Failed,
                        &why,
                        serde_json::Value::Null,
                    )),
                    Err(other) => Err(anyhow::anyhow!(other)),
                }
            })
            .await;
        let Some(result) = result else {
            return false;
        };
        let value = serde_json::to_value(&result).unwrap_or_default();
        let published = self
            .retrying(shutdown, || async {
                self.sink
                    .publish_to(
                        &self.results_topic,
                        std::slice::from_ref(&value),
                        "request_id",
                        "com.callscore.privacy-result.v1",
                    )
                    .await
                    .map_err(|e| anyhow::anyhow!(e))
            })
            .await;
        if published.is_none() {
            return false;
        }
        tracing::info!(
            request = %request.request_id,
            action = ?request.action,
            status = ?result.status,
            "privacy request answered"
        );
        self.ack(raw).await
    }

    async fn ack(&self, raw: Raw) -> bool {
        if let Err(error) = self.source.ack(raw.receipt).await {
            tracing::warn!(%error, "acknowledging");
        }
        true
    }

    /// Runs the request as the command would.
    async fn execute(&self, request: &PrivacyRequest) -> Result<serde_json::Value, PrivacyError> {
        let subject = request.subject().map_err(PrivacyError::Refused)?;
        let origin = callscore_pipeline::audit::AuditOrigin {
            dry_run: request.dry_run,
            command: format!(
                "{} ({:?} request {})",
                self.origin.command, request.action, request.request_id
            ),
            ..self.origin.clone()
        };
        let store = self.store.as_ref();
        let sink = self.sink.as_ref();
        let report = match request.action {
            Action::Erase => serde_json::to_value(
                callscore_privacy::erase(
                    store,
                    sink,
                    sink,
                    &origin,
                    &self.pseudonyms,
                    &subject,
                    Some(&request.request_id),
                )
                .await?,
            ),
            Action::Export => {
                let today = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
                let keep = today
                    .checked_add(jiff::Span::new().days(EXPORT_DAYS))
                    .unwrap_or(today);
                let bundle = StoreBundle::new(store, &request.tenant, &request.request_id, keep);
                serde_json::to_value(
                    callscore_privacy::export(
                        store,
                        &bundle,
                        sink,
                        &origin,
                        &self.pseudonyms,
                        &subject,
                    )
                    .await?,
                )
            }
            Action::WithdrawConsent => serde_json::to_value(
                callscore_privacy::withdraw_consent(
                    store,
                    sink,
                    sink,
                    &origin,
                    &self.pseudonyms,
                    &self.retention,
                    &subject,
                )
                .await?,
            ),
        };
        report.map_err(|e| PrivacyError::Damaged(e.to_string()))
    }

    fn result(
        &self,
        request: &PrivacyRequest,
        status: ResultStatus,
        message: &str,
        report: serde_json::Value,
    ) -> PrivacyResult {
        PrivacyResult {
            schema_version: 1,
            request_id: request.request_id.clone(),
            action: request.action,
            tenant: request.tenant.clone(),
            status,
            message: callscore_pipeline::redact::redact(message).into_owned(),
            report,
            finished_at: Timestamp::now(),
        }
    }

    /// Runs `attempt` until it succeeds, retrying failures with backoff; `None` when stopped.
    async fn retrying<T, F, Fut>(&self, shutdown: &CancellationToken, mut attempt: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<T>>,
    {
        let mut failures = 0u32;
        loop {
            match attempt().await {
                Ok(value) => return Some(value),
                Err(error) => {
                    failures += 1;
                    let wait = self.retry.wait(failures, 0.5);
                    tracing::warn!(
                        error = %callscore_pipeline::redact::redact(&format!("{error:#}")),
                        retry = Retry::Transient.as_str(),
                        retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        "retrying a privacy request"
                    );
                    tokio::select! {
                        () = shutdown.cancelled() => return None,
                        () = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }
}
