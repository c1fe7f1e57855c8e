//! The service loop: take a message, run the shared pipeline on it off the async runtime,
//! store and publish with retries, dead-letter what can never succeed, then let its offset
//! be committed.
//!
//! Delivery guarantee: at least once, with deterministic results. An offset is stored only
//! after the recording's audio is durably stored and its events acknowledged by the broker
//! (or its dead letter is), so a crash loses nothing; a recording whose offset was not yet
//! committed is processed again after a restart, which writes no second object (same key,
//! same bytes: the put is skipped) and publishes events with the same ids (deduplicate by
//! `event_id`, or let compaction do it).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use callscore_audio::DecodeOptions;
use callscore_kafka::wire::{self, Audio};
use callscore_kafka::{
    Consumed, ConsumerEvents, Headers, Intake, IntakeConfig, KafkaSink, Message, OwnedMessage,
    SinkConfig,
};
use callscore_pipeline::{
    Analysis, AudioStore, DeadLetter, Failure, Incoming, ObjectKey, ObjectMeta, Pipeline,
    PseudonymKey, PutOutcome, RecordingMetadata, Retry, Settings, Stage, StoreError,
};
use callscore_s3::S3Store;
use callscore_telemetry::{Health, Metrics, Outcome, StoreResult};
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

use super::config::Config;

/// How often readiness is checked.
const PROBE_INTERVAL: Duration = Duration::from_secs(5);
/// How long a readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the producer may take to deliver what is queued at shutdown.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// The pipeline's settings from the configuration: surveys, keys, retention, limits.
pub(super) fn settings(config: &Config) -> anyhow::Result<Settings> {
    let surveys = crate::settings::load_surveys(&config.surveys.files)?;
    let pseudonym = &config.pseudonym;
    let secret = crate::settings::read_secret(
        pseudonym.key_file.as_deref(),
        &pseudonym.key_env,
        "pseudonymisation key",
    )?;
    let pseudonym_key = PseudonymKey::new(&pseudonym.key_id, secret)?;
    let mut tenant_keys = HashMap::new();
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
        tenant_keys.insert(tenant.clone(), PseudonymKey::new(&key.key_id, secret)?);
    }
    Ok(Settings {
        surveys,
        pseudonym_key,
        tenant_keys,
        retention: config.retention.default.clone(),
        tenant_retention: config.retention.tenants.clone(),
        decode: DecodeOptions {
            limits: config.limits.limits(),
            ..DecodeOptions::default()
        },
        extended_keys: config.service.extended_keys,
        pipeline_version: format!("callscore {}", env!("CARGO_PKG_VERSION")),
    })
}

/// Everything a recording's task needs.
struct Shared {
    pipeline: Pipeline,
    store: Counted,
    sink: KafkaSink,
    intake: Intake,
    metrics: Arc<Metrics>,
    /// Bounds decode and detect to the worker count.
    cpu: Semaphore,
    retry_initial: Duration,
    retry_max: Duration,
    max_input_bytes: u64,
    /// Set when the shutdown deadline passed: retry loops give up and nothing more is
    /// acknowledged.
    abandon: AtomicBool,
    abandoned: Notify,
}

/// Runs until SIGTERM or SIGINT.
pub(super) async fn run(config: Config, settings: Settings) -> anyhow::Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    let metrics = Arc::new(Metrics::new(version));
    let health = Arc::new(Health::new());
    let stop_http = Arc::new(Notify::new());
    let listener = tokio::net::TcpListener::bind(config.service.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.service.listen))?;
    tracing::info!(address = %listener.local_addr()?, version, "serving /metrics /healthz /readyz");
    let http = tokio::spawn({
        let stop = Arc::clone(&stop_http);
        callscore_telemetry::serve(
            listener,
            Arc::clone(&metrics),
            Arc::clone(&health),
            async move { stop.notified().await },
        )
    });

    let store = connect_store(&config, &health).await?;
    let properties = config.properties();
    let sink = KafkaSink::new(SinkConfig {
        scores_topic: config.kafka.scores_topic.clone(),
        dead_letter_topic: config.kafka.dead_letter_topic.clone(),
        properties: properties["producer"].clone(),
        source: config.kafka.event_source.clone(),
    })
    .context("cannot create the Kafka producer")?;
    let events = Arc::new(Telemetry {
        metrics: Arc::clone(&metrics),
        health: Arc::clone(&health),
    });
    health.set("group", false, "joining");
    let (intake, mut messages) = Intake::start(
        &IntakeConfig {
            topic: config.kafka.recordings_topic.clone(),
            properties: properties["consumer"].clone(),
            max_in_flight: config.service.max_in_flight,
            max_in_flight_bytes: config.service.max_in_flight_bytes,
        },
        events,
    )
    .context("cannot create the Kafka consumer")?;

    let workers = config
        .service
        .workers
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1)
        .max(1);
    let shared = Arc::new(Shared {
        pipeline: Pipeline::new(settings),
        store: Counted {
            store,
            metrics: Arc::clone(&metrics),
        },
        sink,
        intake,
        metrics: Arc::clone(&metrics),
        cpu: Semaphore::new(workers),
        retry_initial: Duration::from_millis(config.service.retry_initial_ms),
        retry_max: Duration::from_millis(config.service.retry_max_ms),
        max_input_bytes: config.limits.max_input_bytes,
        abandon: AtomicBool::new(false),
        abandoned: Notify::new(),
    });
    let probes = tokio::spawn(probe(Arc::clone(&shared), Arc::clone(&health)));
    tracing::info!(
        topic = %config.kafka.recordings_topic,
        max_in_flight = config.service.max_in_flight,
        workers,
        "consuming"
    );

    let mut tasks = JoinSet::new();
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            consumed = messages.recv() => match consumed {
                Some(consumed) => {
                    tasks.spawn(handle(Arc::clone(&shared), consumed));
                }
                None => break,
            },
            // reap finished tasks so the set stays small
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(error) = joined {
                    tracing::error!(%error, "a recording's task failed");
                }
            }
        }
    }

    tracing::info!(in_flight = tasks.len(), "stopping: intake closed, draining");
    health.stopping();
    shared.intake.stop();
    drop(messages);
    let deadline = Duration::from_millis(config.service.shutdown_timeout_ms);
    let drained = tokio::time::timeout(deadline, async {
        while let Some(joined) = tasks.join_next().await {
            if let Err(error) = joined {
                tracing::error!(%error, "a recording's task failed");
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            unfinished = tasks.len(),
            "shutdown deadline passed: unfinished recordings stay uncommitted and are \
             processed again after the restart"
        );
        shared.abandon.store(true, Ordering::SeqCst);
        shared.abandoned.notify_waiters();
        tasks.shutdown().await;
    }
    probes.abort();
    let closing = Arc::clone(&shared);
    tokio::task::spawn_blocking(move || closing.intake.close())
        .await
        .context("closing the consumer")?
        .context("committing offsets at shutdown")?;
    let flushing = Arc::clone(&shared);
    tokio::task::spawn_blocking(move || flushing.sink.flush(FLUSH_TIMEOUT))
        .await
        .context("flushing the producer")?
        .context("flushing the producer at shutdown")?;
    stop_http.notify_waiters();
    // the server stops with its listener; an error there no longer matters
    let _ = http.await;
    tracing::info!("stopped");
    Ok(())
}

/// Connects to the store, retrying while it is unreachable (the service is not ready
/// meanwhile), and reports what it cannot do.
async fn connect_store(config: &Config, health: &Health) -> anyhow::Result<S3Store> {
    let mut wait = Duration::from_millis(config.service.retry_initial_ms);
    let max = Duration::from_millis(config.service.retry_max_ms);
    let store = loop {
        match S3Store::connect(&config.s3).await {
            Ok(store) => break store,
            Err(error) => {
                health.set("store", false, error.to_string());
                tracing::warn!(%error, retry_in_ms = wait.as_millis() as u64, "connecting to the store");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = shutdown_signal() => anyhow::bail!("stopped before the store was reachable"),
                }
                wait = (wait * 2).min(max);
            }
        }
    };
    for limitation in store.limitations() {
        tracing::warn!(limitation = %limitation, "store limitation");
        health.limitation(limitation);
    }
    health.set("store", true, "reachable");
    Ok(store)
}

/// Keeps the readiness checks of the store and the producer current.
async fn probe(shared: Arc<Shared>, health: Arc<Health>) {
    loop {
        let store = tokio::time::timeout(PROBE_TIMEOUT, shared.store.store.ping()).await;
        match store {
            Ok(Ok(())) => health.set("store", true, "reachable"),
            Ok(Err(error)) => health.set("store", false, error.to_string()),
            Err(_) => health.set("store", false, "no answer within the probe timeout"),
        }
        let pinging = Arc::clone(&shared);
        let producer = tokio::task::spawn_blocking(move || pinging.sink.ping(PROBE_TIMEOUT)).await;
        match producer {
            Ok(Ok(())) => health.set("producer", true, "a broker answers"),
            Ok(Err(error)) => health.set("producer", false, error.to_string()),
            Err(error) => health.set("producer", false, error.to_string()),
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

/// Handles one message from intake to acknowledgement.
async fn handle(shared: Arc<Shared>, consumed: Consumed) {
    let Consumed { message, receipt } = consumed;
    let size = message.payload().map_or(0, |p| p.len() as u64);
    let metrics = &shared.metrics;
    metrics.received.inc();
    metrics.in_flight.inc();
    metrics.in_flight_bytes.add(size as i64);
    let span = tracing::info_span!(
        "recording",
        topic = message.topic(),
        partition = message.partition(),
        offset = message.offset(),
        recording_id = tracing::field::Empty,
        tenant = tracing::field::Empty,
    );
    let outcome = process(&shared, &message).instrument(span.clone()).await;
    metrics.in_flight.dec();
    metrics.in_flight_bytes.sub(size as i64);
    let Some(outcome) = outcome else {
        // abandoned at shutdown: not acknowledged, so processed again after the restart
        return;
    };
    shared.intake.finish(&receipt);
    metrics.finished(outcome);
    if let Some(sent) = message.timestamp().to_millis() {
        let now = Timestamp::now().as_millisecond();
        metrics
            .end_to_end_seconds
            .observe((now - sent).max(0) as f64 / 1000.0);
    }
    let _entered = span.enter();
    tracing::info!(outcome = ?outcome, "finished");
}

/// Processes one message; `None` when abandoned at shutdown.
async fn process(shared: &Shared, message: &OwnedMessage) -> Option<Outcome> {
    let input = format!(
        "{}/{}/{}",
        message.topic(),
        message.partition(),
        message.offset()
    );
    let headers: Vec<(&str, &[u8])> = message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| (h.key, h.value.unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let read = match wire::read(&headers, message.payload().unwrap_or_default()) {
        Ok(read) => read,
        Err(unreadable) => {
            let metadata = unreadable.metadata.as_deref();
            return dead_letter(shared, message, &input, metadata, &unreadable.failure).await;
        }
    };
    let span = tracing::Span::current();
    span.record("recording_id", read.metadata.recording_id.as_str());
    span.record("tenant", read.metadata.tenant.as_str());
    let metadata = read.metadata;

    let audio = match read.audio {
        Audio::Inline(audio) => audio,
        Audio::Reference(reference) => {
            let started = Instant::now();
            let fetched = retry(shared, || fetch(shared, &reference)).await;
            shared
                .metrics
                .stage_seconds
                .with_label_values(&["fetch"])
                .observe(started.elapsed().as_secs_f64());
            match fetched {
                Ok(audio) => audio,
                Err(Some(failure)) => {
                    return dead_letter(shared, message, &input, Some(&metadata), &failure).await;
                }
                Err(None) => return None,
            }
        }
    };
    let incoming = Incoming {
        input: input.clone(),
        metadata: metadata.clone(),
        audio,
        extension: read.extension,
        received_at: Timestamp::now(),
    };
    let analysis = match retry(shared, || analyse(shared, incoming.clone())).await {
        Ok(analysis) => analysis,
        Err(Some(failure)) => {
            return dead_letter(shared, message, &input, Some(&metadata), &failure).await;
        }
        Err(None) => return None,
    };
    observe_analysis(shared, &analysis);
    let delivered = retry(shared, || {
        shared.pipeline.deliver(
            analysis.clone(),
            &shared.store,
            &shared.sink,
            Timestamp::now(),
        )
    })
    .await;
    match delivered {
        Ok(delivered) => {
            let stages = &shared.metrics.stage_seconds;
            let timings = delivered.analysis.timings;
            stages
                .with_label_values(&["store"])
                .observe(timings.store.as_secs_f64());
            stages
                .with_label_values(&["publish"])
                .observe(timings.publish.as_secs_f64());
            Some(if delivered.put == PutOutcome::AlreadyStored {
                Outcome::Redelivered
            } else {
                Outcome::Processed
            })
        }
        Err(Some(failure)) => dead_letter(shared, message, &input, Some(&metadata), &failure).await,
        Err(None) => None,
    }
}

/// Decodes, detects and scores on a blocking thread, at most `workers` at once.
async fn analyse(shared: &Shared, incoming: Incoming) -> Result<Analysis, Failure> {
    let _permit = shared
        .cpu
        .acquire()
        .await
        .expect("the semaphore is never closed");
    let pipeline = shared.pipeline.clone();
    tokio::task::spawn_blocking(move || pipeline.analyse(incoming))
        .await
        .unwrap_or_else(|error| {
            Err(Failure::permanent(
                Stage::Decode,
                callscore_pipeline::Reason::UndecodableAudio,
                format!("the analysis failed: {error}"),
            ))
        })
}

fn observe_analysis(shared: &Shared, analysis: &Analysis) {
    let metrics = &shared.metrics;
    let timings = analysis.timings;
    for (stage, time) in [
        ("decode", timings.decode),
        ("detect", timings.detect),
        ("score", timings.score),
    ] {
        metrics
            .stage_seconds
            .with_label_values(&[stage])
            .observe(time.as_secs_f64());
    }
    metrics.key_presses.inc_by(analysis.keys_in_band as u64);
    metrics.audio_seconds.inc_by(analysis.audio_seconds);
    let survey = shared
        .pipeline
        .settings()
        .surveys
        .get(&analysis.metadata().survey_id);
    for answer in &analysis.answers.questions {
        let kind = survey
            .and_then(|s| s.question(&answer.question_id))
            .map_or("unknown", |q| q.kind.name());
        metrics
            .answers
            .with_label_values(&[answer.status.name(), kind])
            .inc();
    }
    for warning in &analysis.warnings {
        tracing::warn!(%warning, "decoding");
    }
}

/// Fetches referenced audio from its staging bucket and checks its digest.
async fn fetch(shared: &Shared, reference: &wire::AudioReference) -> Result<Arc<[u8]>, Failure> {
    let bytes = shared
        .store
        .store
        .fetch(&reference.uri, shared.max_input_bytes)
        .await
        .map_err(|e| wire::fetch_failure(e.retry, e.to_string()))?;
    if let Some(expected) = &reference.sha256 {
        let actual = callscore_pipeline::hex(&Sha256::digest(&bytes));
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(wire::fetch_failure(
                Retry::Permanent,
                format!(
                    "{}: SHA-256 {actual} differs from the reference's {expected}",
                    reference.uri
                ),
            ));
        }
    }
    Ok(Arc::from(bytes))
}

/// Retries `attempt` on transient failures with capped exponential backoff. `Err(None)` when
/// abandoned at shutdown.
async fn retry<T, F, Fut>(shared: &Shared, mut attempt: F) -> Result<T, Option<Failure>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut wait = shared.retry_initial;
    loop {
        if shared.abandon.load(Ordering::SeqCst) {
            return Err(None);
        }
        let failure = match attempt().await {
            Ok(value) => return Ok(value),
            Err(failure) if failure.is_permanent() => return Err(Some(failure)),
            Err(failure) => failure,
        };
        let metrics = &shared.metrics;
        metrics
            .errors
            .with_label_values(&[failure.stage.as_str(), failure.reason.as_str(), "transient"])
            .inc();
        metrics
            .retries
            .with_label_values(&[failure.stage.as_str()])
            .inc();
        tracing::warn!(
            stage = failure.stage.as_str(),
            reason = failure.reason.as_str(),
            error = %failure.message,
            retry_in_ms = wait.as_millis() as u64,
            "transient failure"
        );
        tokio::select! {
            () = tokio::time::sleep(jitter(wait)) => {}
            () = shared.abandoned.notified() => return Err(None),
        }
        wait = (wait * 2).min(shared.retry_max);
    }
}

/// Up to a quarter less than `wait`, so that retries after an outage do not arrive together.
fn jitter(wait: Duration) -> Duration {
    let nanos = Timestamp::now().subsec_nanosecond().unsigned_abs();
    let fraction = f64::from(nanos % 1000) / 4000.0;
    wait.mul_f64(1.0 - fraction)
}

/// Sends the original message to the dead-letter topic, retrying until it is there: a
/// recording is acknowledged only once its dead letter is durable.
async fn dead_letter(
    shared: &Shared,
    message: &OwnedMessage,
    input: &str,
    metadata: Option<&RecordingMetadata>,
    failure: &Failure,
) -> Option<Outcome> {
    let metrics = &shared.metrics;
    let (stage, reason) = (failure.stage.as_str(), failure.reason.as_str());
    metrics
        .errors
        .with_label_values(&[stage, reason, "permanent"])
        .inc();
    tracing::warn!(stage, reason, error = %failure.message, "dead-lettering");
    let letter = DeadLetter::new(input, metadata, failure, Timestamp::now());
    let sent = retry(shared, || async {
        shared
            .sink
            .dead_letter_original(message, &letter)
            .await
            // a dead letter that cannot be written is never dropped: keep trying
            .map_err(|e| Failure {
                stage: Stage::Publish,
                reason: callscore_pipeline::Reason::PublishFailed,
                retry: Retry::Transient,
                message: e.to_string(),
            })
    })
    .await;
    match sent {
        Ok(()) => {
            metrics
                .dead_letters
                .with_label_values(&[stage, reason])
                .inc();
            Some(Outcome::DeadLettered)
        }
        Err(_) => None,
    }
}

/// SIGTERM or SIGINT.
async fn shutdown_signal() {
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
}

/// The consumer's reports, as metrics and readiness.
struct Telemetry {
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

impl ConsumerEvents for Telemetry {
    fn rebalanced(&self, kind: &'static str, partitions: usize) {
        self.metrics.rebalances.with_label_values(&[kind]).inc();
        if kind == "assign" {
            self.health.set(
                "group",
                true,
                format!("joined; {partitions} partitions assigned"),
            );
        }
        tracing::info!(kind, partitions, "rebalance");
    }

    fn lag(&self, topic: &str, partition: i32, lag: i64) {
        self.metrics
            .consumer_lag
            .with_label_values(&[topic, &partition.to_string()])
            .set(lag);
    }

    fn committed(&self, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.metrics.commits.with_label_values(&[result]).inc();
    }

    fn client_error(&self, message: &str) {
        tracing::warn!(error = message, "consumer");
    }
}

/// The store, counting its requests by result.
struct Counted {
    store: S3Store,
    metrics: Arc<Metrics>,
}

impl Counted {
    fn count<T>(&self, operation: &str, result: &Result<T, StoreError>, already: bool) {
        let label = match result {
            Ok(_) if already => StoreResult::AlreadyStored,
            Ok(_) => StoreResult::Ok,
            Err(e) if e.retry == Retry::Transient => StoreResult::TransientError,
            Err(_) => StoreResult::PermanentError,
        };
        self.metrics.store_request(operation, label);
    }
}

impl AudioStore for Counted {
    async fn put(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<PutOutcome, StoreError> {
        let result = self.store.put(key, bytes, meta).await;
        let already = matches!(result, Ok(PutOutcome::AlreadyStored));
        self.count("put", &result, already);
        result
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StoreError> {
        let result = self.store.head(key).await;
        self.count("head", &result, false);
        result
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StoreError> {
        let result = self.store.list(prefix).await;
        self.count("list", &result, false);
        result
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        let result = self.store.delete(key).await;
        self.count("delete", &result, false);
        result
    }

    fn uri(&self, key: &ObjectKey) -> String {
        self.store.uri(key)
    }
}
