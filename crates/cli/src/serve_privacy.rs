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
use callscore_worker::{CancellationToken, Observer, RetryPolicy};
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
    telemetry: Telemetry,
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
    crate::serve::hold_topics(
        &config,
        &telemetry,
        crate::serve::Checker::ServePrivacy,
        &shutdown,
    )
    .await?;
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
        telemetry: telemetry.clone(),
    };
    tracing::info!(topic = %requests, "consuming privacy requests");
    let mut fatal = None;
    loop {
        let raw = tokio::select! {
            () = shutdown.cancelled() => break,
            raw = source.next_raw() => match raw {
                Some(raw) => raw,
                None => break,
            },
        };
        match service.handle(raw, &shutdown).await {
            Handled::Next => {}
            Handled::Stopped => break,
            Handled::Fatal(why) => {
                telemetry.check(Check::Delivery, false, Status::Failed);
                fatal = Some(why);
                break;
            }
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
    match fatal {
        Some(why) => Err(anyhow::anyhow!(why).context("an adapter failed for good")),
        None => Ok(()),
    }
}

/// How handling a request ended.
#[derive(Debug, PartialEq, Eq)]
enum Handled {
    /// Answered (or dead-lettered) and acknowledged: on to the next.
    Next,
    /// Stopped (SIGTERM) before: it is delivered again.
    Stopped,
    /// An adapter broke for good: the service stops with an error, and is restarted.
    Fatal(String),
}

/// A request's execution: its report, and what a legal hold or an Object Lock kept.
struct Executed {
    report: serde_json::Value,
    kept: Option<String>,
}

/// What an execution comes to: an answer to publish, or a failure to wait out (transient,
/// blocked) or to stop on (fatal). A refusal that will not change (permanent) is answered
/// `failed`: waiting would block every later request behind it.
fn judge(
    executed: Result<Executed, PrivacyError>,
) -> Result<(ResultStatus, String, serde_json::Value), Failure> {
    let failed = |why: String| Ok((ResultStatus::Failed, why, serde_json::Value::Null));
    let failure = match executed {
        Ok(Executed { report, kept: None }) => {
            return Ok((ResultStatus::Done, "done".into(), report));
        }
        Ok(Executed {
            report,
            kept: Some(why),
        }) => return Ok((ResultStatus::Partial, why, report)),
        Err(PrivacyError::Refused(why)) => {
            return Ok((ResultStatus::Refused, why, serde_json::Value::Null));
        }
        Err(PrivacyError::Damaged(why)) => return failed(why),
        Err(PrivacyError::Store(e)) => {
            Failure::new(Stage::Store, Reason::StoreFailed, e.retry, e.to_string())
        }
        Err(PrivacyError::Log(e)) => publish_failure(e.retry, &e),
        // the keyring is the deployment's (a mount, a key file): it waits for an operator
        Err(PrivacyError::Keyring(e)) => Failure::new(
            Stage::Score,
            Reason::InvalidMetadata,
            Retry::Blocked,
            e.to_string(),
        ),
    };
    if failure.retry == Retry::Permanent {
        return failed(format!(
            "{failure}; an operator has to look (sending the request again carries on where \
             it stopped)"
        ));
    }
    Err(failure)
}

/// A failure to publish (a result, a dead letter, the audit or an event).
fn publish_failure(retry: Retry, error: &impl std::fmt::Display) -> Failure {
    Failure::new(
        Stage::Publish,
        Reason::PublishFailed,
        retry,
        error.to_string(),
    )
}

impl Service {
    /// Handles one request to its acknowledgement.
    async fn handle(&self, raw: Raw, shutdown: &CancellationToken) -> Handled {
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
                            .map_err(|e| publish_failure(e.retry, &e))
                    })
                    .await;
                if let Err(stop) = stored {
                    return stop;
                }
                return self.ack(raw).await;
            }
        };
        let answer = self
            .retrying(shutdown, || async { judge(self.execute(&request).await) })
            .await;
        let (status, message, report) = match answer {
            Ok(answer) => answer,
            Err(stop) => return stop,
        };
        let result = self.result(&request, status, &message, report);
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
                    .map_err(|e| publish_failure(e.retry, &e))
            })
            .await;
        if let Err(stop) = published {
            return stop;
        }
        if result.status == ResultStatus::Failed {
            tracing::error!(
                request = %request.request_id,
                action = ?request.action,
                error = %result.message,
                "a privacy request failed: an operator has to look"
            );
        } else {
            tracing::info!(
                request = %request.request_id,
                action = ?request.action,
                status = ?result.status,
                "privacy request answered"
            );
        }
        self.ack(raw).await
    }

    async fn ack(&self, raw: Raw) -> Handled {
        if let Err(error) = self.source.ack(raw.receipt).await {
            tracing::warn!(%error, "acknowledging");
        }
        Handled::Next
    }

    /// Runs the request as the command would.
    async fn execute(&self, request: &PrivacyRequest) -> Result<Executed, PrivacyError> {
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
        let mut kept = None;
        let report = match request.action {
            Action::Erase => {
                let report = callscore_privacy::erase(
                    store,
                    sink,
                    sink,
                    &origin,
                    &self.pseudonyms,
                    &subject,
                    Some(&request.request_id),
                )
                .await?;
                kept = crate::rights::kept(&report);
                serde_json::to_value(report)
            }
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
        let report = report.map_err(|e| PrivacyError::Damaged(e.to_string()))?;
        Ok(Executed { report, kept })
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

    /// Runs `attempt` until it succeeds, waiting out failures with backoff (a blocked one
    /// marks the service not ready until it passes); a fatal one stops.
    async fn retrying<T, F, Fut>(
        &self,
        shutdown: &CancellationToken,
        mut attempt: F,
    ) -> Result<T, Handled>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        let mut failures = 0u32;
        let mut blocked = false;
        loop {
            let failure = match attempt().await {
                Ok(value) => {
                    if blocked {
                        self.telemetry.unblocked();
                    }
                    return Ok(value);
                }
                Err(failure) => failure,
            };
            if failure.retry == Retry::Fatal {
                return Err(Handled::Fatal(failure.to_string()));
            }
            failures += 1;
            let wait = self.retry.wait(failures, 0.5);
            if failure.retry != Retry::Transient && !blocked {
                blocked = true;
                self.telemetry.blocked(&failure);
            }
            self.telemetry.retrying(&failure, failures, wait);
            tokio::select! {
                () = shutdown.cancelled() => return Err(Handled::Stopped),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callscore_pipeline::{SinkError, StoreError};

    fn store_error(retry: Retry) -> PrivacyError {
        PrivacyError::Store(StoreError {
            operation: "delete",
            key: "acme/respondent/x".into(),
            retry,
            message: "refused".into(),
        })
    }

    #[test]
    fn a_refusal_that_will_not_change_is_answered_failed_instead_of_blocking_the_requests_behind_it()
     {
        let (status, message, _) = judge(Err(store_error(Retry::Permanent))).expect("answered");
        assert_eq!(status, ResultStatus::Failed);
        assert!(message.contains("an operator has to look"), "{message}");
        let published = PrivacyError::Log(SinkError {
            what: "events",
            retry: Retry::Permanent,
            message: "too large".into(),
        });
        assert_eq!(
            judge(Err(published)).expect("answered").0,
            ResultStatus::Failed
        );
    }

    #[test]
    fn outages_and_refused_access_are_waited_out_and_a_broken_adapter_stops_the_service() {
        for retry in [Retry::Transient, Retry::Blocked, Retry::Fatal] {
            let failure = judge(Err(store_error(retry))).expect_err("not an answer");
            assert_eq!(failure.retry, retry);
        }
        let keyring = PrivacyError::Keyring(callscore_pipeline::KeyringError::Io {
            path: "keys/acme".into(),
            source: std::io::Error::other("unmounted"),
        });
        assert_eq!(
            judge(Err(keyring)).expect_err("waited out").retry,
            Retry::Blocked
        );
    }

    #[test]
    fn an_erasure_that_had_to_keep_something_is_answered_partial_saying_what() {
        let report = callscore_privacy::ErasureReport {
            erasure_id: "e".into(),
            tenant: "acme".into(),
            selector: "caller".into(),
            recordings: 2,
            objects: 4,
            versions: 0,
            locked: 1,
            held: vec!["a3".into()],
            events: 4,
            contacts: 0,
            transcriptions: 0,
            export_files: 0,
            keys_destroyed: Vec::new(),
            dry_run: false,
            finished_before: None,
        };
        let kept = crate::rights::kept(&report);
        let (status, message, _) = judge(Ok(Executed {
            report: serde_json::Value::Null,
            kept,
        }))
        .expect("answered");
        assert_eq!(status, ResultStatus::Partial);
        assert!(
            message.contains("legal hold (a3)") && message.contains("1 stored versions"),
            "{message}"
        );
        let everything = callscore_privacy::ErasureReport {
            locked: 0,
            held: Vec::new(),
            ..report
        };
        assert_eq!(crate::rights::kept(&everything), None);
    }
}
