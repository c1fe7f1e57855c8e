//! `callscore serve`'s wiring: the Kafka source and sink, the S3 store (also the staging
//! port), the telemetry, and the delivery core that runs them under the service's policy. The
//! rules of what happens to each recording are the core's (`callscore-worker`); the delivery
//! guarantee is in its documentation and docs/data-engineer.md.

use std::collections::HashMap;
use std::num::{NonZeroU64, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use callscore_audio::DecodeOptions;
use callscore_kafka::{Election, KafkaSink, KafkaSource, SourceConfig};
use callscore_pipeline::audit::AuditOrigin;
use callscore_pipeline::{Keyring, Pipeline, PseudonymKey, Pseudonyms, Settings};
use callscore_s3::S3Store;
use callscore_telemetry::{Check, Health, Limits, Metrics, Status, Telemetry};
use callscore_worker::{CancellationToken, Counted, Policy, RetryPolicy, Worker};

use super::config::Config;
use super::sweeper::{Sweeper, elected};

/// How often readiness is checked.
const PROBE_INTERVAL: Duration = Duration::from_secs(5);
/// How long a readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the producer may take to deliver what is queued at shutdown.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest fraction of a retry wait taken off at random.
const RETRY_JITTER: f64 = 0.25;

/// The pipeline's settings from the configuration: surveys, keys, retention, limits.
pub(super) fn settings(config: &Config) -> anyhow::Result<Settings> {
    let crate::settings::Surveys { surveys, prompts } =
        crate::settings::load_surveys(&config.surveys.files)?;
    let commented = surveys
        .values()
        .find(|s| s.questions().iter().any(|q| q.comment.is_some()));
    if let Some(survey) = commented {
        let kafka = &config.kafka;
        if kafka.transcription_topic.is_none() {
            anyhow::bail!(
                "survey {} has a comment question, so kafka.transcription_topic is required: \
                 its clips' transcription requests go there",
                survey.id()
            );
        }
        if kafka.transcripts_topic.is_none() {
            anyhow::bail!(
                "survey {} has a comment question, so kafka.transcripts_topic is required: \
                 the transcriber writes the transcripts there, and an erasure tombstones them \
                 there too (name it even before a transcriber runs)",
                survey.id()
            );
        }
    }
    Ok(Settings {
        surveys,
        pseudonyms: pseudonyms(config)?,
        retention: config.retention.clone(),
        decode: DecodeOptions {
            limits: config.limits.limits(),
            ..DecodeOptions::default()
        },
        extended_keys: config.service.extended_keys,
        pipeline_version: format!("callscore {}", env!("CARGO_PKG_VERSION")),
        prompts,
    })
}

/// The pseudonymisation keys the configuration names: its keyring, or fixed keys.
pub(crate) fn pseudonyms(config: &Config) -> anyhow::Result<Pseudonyms> {
    let pseudonym = &config.pseudonym;
    let numbering = config.numbers.numbering()?;
    if let Some(dir) = &pseudonym.keyring {
        let keyring = Keyring::open(dir)?;
        return Ok(Pseudonyms::ring(keyring).with_numbering(numbering));
    }
    let key_id = pseudonym
        .key_id
        .as_deref()
        .context("pseudonym: no keyring and no key_id")?;
    let secret = crate::settings::read_secret(
        pseudonym.key_file.as_deref(),
        &pseudonym.key_env,
        "pseudonymisation key",
    )?;
    let default = PseudonymKey::new(key_id, secret)?;
    let mut tenants = HashMap::new();
    for (tenant, key) in &pseudonym.tenants {
        let env = key.key_env.clone().unwrap_or_else(|| {
            format!(
                "CALLSCORE_PSEUDONYM_KEY_{}",
                tenant.to_ascii_uppercase().replace(['-', '.'], "_")
            )
        });
        let secret = crate::settings::read_secret(
            key.key_file.as_deref(),
            &env,
            &format!("pseudonymisation key of tenant {tenant}"),
        )?;
        tenants.insert(tenant.clone(), PseudonymKey::new(&key.key_id, secret)?);
    }
    Ok(Pseudonyms::fixed_per_tenant(default, tenants).with_numbering(numbering))
}

/// The service's policy: retries for ever (a store down for an hour must not cost a
/// recording), the configured bounds, the shutdown timeout as the drain.
fn policy(config: &Config) -> Policy {
    let service = &config.service;
    let workers = service
        .workers
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .and_then(NonZeroUsize::new)
        .unwrap_or(NonZeroUsize::MIN);
    let retry = RetryPolicy {
        initial: Duration::from_millis(service.retry_initial_ms),
        max: Duration::from_millis(service.retry_max_ms),
        jitter: RETRY_JITTER,
        attempts: None,
        blocked_attempts: None,
    };
    Policy {
        workers,
        max_in_flight: NonZeroUsize::new(service.max_in_flight).unwrap_or(NonZeroUsize::MIN),
        max_in_flight_bytes: NonZeroU64::new(service.max_in_flight_bytes)
            .unwrap_or(NonZeroU64::MIN),
        max_input_bytes: config.limits.max_input_bytes,
        retry,
        dead_letter_retry: retry,
        drain: Duration::from_millis(service.shutdown_timeout_ms),
    }
}

/// Runs until SIGTERM or SIGINT (then drains, commits, flushes and returns `Ok`), or until a
/// fatal failure (then drains what it can and returns the failure, so the process exits
/// non-zero and its supervisor restarts it).
pub(super) async fn run(
    config: Config,
    settings: Settings,
    origin: AuditOrigin,
) -> anyhow::Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    let metrics = Arc::new(Metrics::new(version));
    let health = Arc::new(Health::new());
    let telemetry = Telemetry::new(Arc::clone(&metrics), Arc::clone(&health));
    for check in Check::ALL {
        telemetry.check(check, false, Status::Starting);
    }
    telemetry.check(Check::Delivery, true, Status::Flowing);
    let shutdown = CancellationToken::new();
    tokio::spawn(on_signal(shutdown.clone(), Arc::clone(&health)));

    let listener = tokio::net::TcpListener::bind(config.service.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.service.listen))?;
    tracing::info!(address = %listener.local_addr()?, version, "serving /metrics /healthz /readyz");
    let stop_http = CancellationToken::new();
    let http = tokio::spawn(callscore_telemetry::serve(
        listener,
        callscore_telemetry::router(Arc::clone(&metrics), Arc::clone(&health)),
        Limits::default(),
        stop_http.clone(),
    ));

    let Some(store) = connect_store(&config, &telemetry, &shutdown).await else {
        tracing::info!("stopped before the store was reachable");
        return Ok(());
    };
    let store = Arc::new(store);
    super::topics::hold(
        &config,
        &telemetry,
        super::topics::Checker::Serve,
        &shutdown,
    )
    .await?;
    let properties = config.properties();
    let sink = Arc::new(crate::privacy::sink(&config)?);
    telemetry.check(Check::Group, false, Status::Joining);
    let source = Arc::new(
        KafkaSource::start(
            &SourceConfig {
                topic: config.kafka.recordings_topic.clone(),
                properties: properties["consumer"].clone(),
                prefetch_bytes: config.service.max_in_flight_bytes,
            },
            Arc::new(telemetry.clone()),
            Arc::clone(&sink),
        )
        .context("cannot create the Kafka consumer")?,
    );
    let probes = tokio::spawn(probe(
        Arc::clone(&store),
        Arc::clone(&sink),
        telemetry.clone(),
    ));
    let keyring = settings.pseudonyms.keyring().cloned();
    let election = match (&config.kafka.audit_topic, config.sweeper.enabled) {
        (Some(topic), true) => {
            let group = properties["consumer"]
                .get("group.id")
                .cloned()
                .unwrap_or_default();
            Some(
                Election::join(
                    &properties["consumer"],
                    &format!("{group}.sweeper"),
                    topic,
                    elected(&telemetry),
                )
                .context("cannot join the sweeper's election")?,
            )
        }
        _ => None,
    };
    let stop_sweeper = CancellationToken::new();
    let sweeper = tokio::spawn(
        Sweeper {
            store: Arc::clone(&store),
            sink: Arc::clone(&sink),
            keyring,
            retention: config.retention.clone(),
            rotation: config.pseudonym.rotation,
            election,
            interval: Duration::from_secs(config.sweeper.interval_s),
            origin,
            telemetry: telemetry.clone(),
        }
        .run(stop_sweeper.clone()),
    );
    let policy = policy(&config);
    tracing::info!(
        topic = %config.kafka.recordings_topic,
        max_in_flight = policy.max_in_flight.get(),
        workers = policy.workers.get(),
        "consuming"
    );
    let worker = Worker::new(
        Pipeline::new(settings),
        Arc::clone(&source),
        Counted::new(Arc::clone(&store), telemetry.clone()),
        Arc::clone(&sink),
        Counted::new(Arc::clone(&store), telemetry.clone()),
        telemetry.clone(),
        policy,
    );
    let report = worker.run(shutdown.clone()).await;
    health.stopping();
    probes.abort();
    stop_sweeper.cancel();
    // a sweep under way finishes: it is audited per tenant and class
    let _ = sweeper.await;
    tracing::info!(
        taken = report.taken,
        delivered = report.delivered,
        dead_lettered = report.dead_lettered,
        abandoned = report.abandoned,
        "stopped taking recordings; committing"
    );
    let closing = Arc::clone(&source);
    tokio::task::spawn_blocking(move || closing.close())
        .await
        .context("closing the consumer")?
        .context("committing offsets at shutdown")?;
    let flushing = Arc::clone(&sink);
    let flushed = tokio::task::spawn_blocking(move || flushing.flush(FLUSH_TIMEOUT))
        .await
        .context("flushing the producer")?;
    stop_http.cancel();
    // the server stops with its listener; an error there no longer matters
    let _ = http.await;
    if let Some(fatal) = report.fatal {
        anyhow::bail!("stopped by a fatal failure: {fatal}");
    }
    flushed.context("flushing the producer at shutdown")?;
    tracing::info!("stopped");
    Ok(())
}

/// Connects to the store, retrying while it is unreachable (the service is not ready
/// meanwhile), and reports what it cannot do; `None` when stopped first.
pub(crate) async fn connect_store(
    config: &Config,
    telemetry: &Telemetry,
    shutdown: &CancellationToken,
) -> Option<S3Store> {
    let mut wait = Duration::from_millis(config.service.retry_initial_ms);
    let max = Duration::from_millis(config.service.retry_max_ms);
    let store = loop {
        match S3Store::connect(&config.s3).await {
            Ok(store) => break store,
            Err(error) => {
                telemetry.check(Check::Store, false, Status::Unreachable);
                tracing::warn!(%error, retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "connecting to the store");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = shutdown.cancelled() => return None,
                }
                wait = (wait * 2).min(max);
            }
        }
    };
    for limitation in store.limitations() {
        tracing::warn!(limitation = %limitation, "store limitation");
        telemetry.health().limitation(limitation);
    }
    telemetry.check(Check::Store, true, Status::Reachable);
    Some(store)
}

/// Keeps the readiness checks of the store and the producer current. The details go to the
/// log; readiness says only which check fails and how.
async fn probe(store: Arc<S3Store>, sink: Arc<KafkaSink>, telemetry: Telemetry) {
    loop {
        match tokio::time::timeout(PROBE_TIMEOUT, store.ping()).await {
            Ok(Ok(())) => telemetry.check(Check::Store, true, Status::Reachable),
            Ok(Err(error)) => {
                let status = if error.retry == callscore_pipeline::Retry::Blocked {
                    Status::Refused
                } else {
                    Status::Unreachable
                };
                tracing::warn!(%error, "the store's readiness probe failed");
                telemetry.check(Check::Store, false, status);
            }
            Err(_) => telemetry.check(Check::Store, false, Status::NoAnswer),
        }
        if let Some(fatal) = sink.fatal() {
            tracing::error!(error = %fatal, "the producer failed for good");
            telemetry.check(Check::Producer, false, Status::Failed);
        } else {
            let pinging = Arc::clone(&sink);
            let producer = tokio::task::spawn_blocking(move || pinging.ping(PROBE_TIMEOUT)).await;
            match producer {
                Ok(Ok(())) => telemetry.check(Check::Producer, true, Status::Reachable),
                Ok(Err(error)) => {
                    tracing::warn!(%error, "the producer's readiness probe failed");
                    telemetry.check(Check::Producer, false, Status::Unreachable);
                }
                Err(_) => telemetry.check(Check::Producer, false, Status::NoAnswer),
            }
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

/// Cancels `shutdown` at SIGTERM or SIGINT, and marks the service as stopping.
pub(crate) async fn on_signal(shutdown: CancellationToken, health: Arc<Health>) {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(error) => {
            tracing::warn!(%error, "cannot watch SIGTERM; only SIGINT stops the service");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("stopping: intake closed, draining");
    health.stopping();
    shutdown.cancel();
}
