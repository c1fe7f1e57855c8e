//! The service's metrics, in one registry of its own.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Latency buckets from 1 ms to 2 minutes, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// How one recording ended, as the `outcome` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored and published.
    Processed,
    /// Stored and published before (a redelivery): nothing new written.
    Redelivered,
    /// Sent to the dead-letter topic.
    DeadLettered,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Processed => "processed",
            Outcome::Redelivered => "redelivered",
            Outcome::DeadLettered => "dead_lettered",
        }
    }
}

/// What a store request came to, as the `result` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreResult {
    /// Written, read or deleted.
    Ok,
    /// A put found the same bytes already stored.
    AlreadyStored,
    /// A failure worth retrying (timeout, 5xx, connection).
    TransientError,
    /// A refusal.
    PermanentError,
}

impl StoreResult {
    fn as_str(self) -> &'static str {
        match self {
            StoreResult::Ok => "ok",
            StoreResult::AlreadyStored => "already_stored",
            StoreResult::TransientError => "transient_error",
            StoreResult::PermanentError => "permanent_error",
        }
    }
}

/// Every metric of `callscore serve`.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Messages taken from the recordings topic.
    pub received: IntCounter,
    /// Recordings finished, by `outcome`.
    pub processed: IntCounterVec,
    /// Failures by `stage`, `reason` and `retry` (`transient` or `permanent`); a transient
    /// failure counts once per attempt.
    pub errors: IntCounterVec,
    /// Time per `stage` (`fetch`, `decode`, `detect`, `score`, `store`, `publish`, `commit`).
    pub stage_seconds: HistogramVec,
    /// From the message's broker timestamp to its offset being stored.
    pub end_to_end_seconds: Histogram,
    /// Key presses found in-band.
    pub key_presses: IntCounter,
    /// Answers by `status` and question `kind`.
    pub answers: IntCounterVec,
    /// Audio analysed, in seconds.
    pub audio_seconds: prometheus::Counter,
    /// Store requests by `operation` and `result`.
    pub store_requests: IntCounterVec,
    /// Dead letters by `stage` and `reason`.
    pub dead_letters: IntCounterVec,
    /// Retries of transient failures by `stage`.
    pub retries: IntCounterVec,
    /// Recordings taken in and not yet finished.
    pub in_flight: IntGauge,
    /// Bytes of the recordings in flight.
    pub in_flight_bytes: IntGauge,
    /// Consumer lag per `topic` and `partition`, from librdkafka's statistics.
    pub consumer_lag: IntGaugeVec,
    /// Rebalances by `kind` (`assign`, `revoke`, `error`).
    pub rebalances: IntCounterVec,
    /// Offset commits by `result` (`ok`, `error`).
    pub commits: IntCounterVec,
}

impl Metrics {
    /// The metrics, registered, with `callscore_build_info` set for `version`.
    pub fn new(version: &str) -> Metrics {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| {
            let metric = IntCounter::new(name, help).expect("a valid metric");
            registry
                .register(Box::new(metric.clone()))
                .expect("each metric registers once");
            metric
        };
        let counters = |name: &str, help: &str, labels: &[&str]| {
            let metric = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric");
            registry
                .register(Box::new(metric.clone()))
                .expect("each metric registers once");
            metric
        };
        let gauge = |name: &str, help: &str| {
            let metric = IntGauge::new(name, help).expect("a valid metric");
            registry
                .register(Box::new(metric.clone()))
                .expect("each metric registers once");
            metric
        };

        let build = IntGaugeVec::new(
            Opts::new(
                "callscore_build_info",
                "Always 1; the labels name the running build.",
            ),
            &["version"],
        )
        .expect("a valid metric");
        registry
            .register(Box::new(build.clone()))
            .expect("each metric registers once");
        build.with_label_values(&[version]).set(1);

        let stage_seconds = HistogramVec::new(
            HistogramOpts::new(
                "callscore_stage_duration_seconds",
                "Time spent per processing stage.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["stage"],
        )
        .expect("a valid metric");
        registry
            .register(Box::new(stage_seconds.clone()))
            .expect("each metric registers once");
        let end_to_end_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "callscore_end_to_end_duration_seconds",
                "From a recording's message timestamp to its offset being stored.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )
        .expect("a valid metric");
        registry
            .register(Box::new(end_to_end_seconds.clone()))
            .expect("each metric registers once");
        let audio_seconds = prometheus::Counter::new(
            "callscore_audio_processed_seconds_total",
            "Audio analysed, in seconds.",
        )
        .expect("a valid metric");
        registry
            .register(Box::new(audio_seconds.clone()))
            .expect("each metric registers once");
        let consumer_lag = IntGaugeVec::new(
            Opts::new(
                "callscore_consumer_lag_messages",
                "Messages between the committed position and the end of each assigned partition.",
            ),
            &["topic", "partition"],
        )
        .expect("a valid metric");
        registry
            .register(Box::new(consumer_lag.clone()))
            .expect("each metric registers once");

        Metrics {
            received: counter(
                "callscore_recordings_received_total",
                "Messages taken from the recordings topic.",
            ),
            processed: counters(
                "callscore_recordings_processed_total",
                "Recordings finished, by outcome.",
                &["outcome"],
            ),
            errors: counters(
                "callscore_errors_total",
                "Failures by stage, reason and whether they are retried.",
                &["stage", "reason", "retry"],
            ),
            stage_seconds,
            end_to_end_seconds,
            key_presses: counter(
                "callscore_key_presses_total",
                "Key presses found in the audio.",
            ),
            answers: counters(
                "callscore_answers_total",
                "Answers by status and question kind.",
                &["status", "kind"],
            ),
            audio_seconds,
            store_requests: counters(
                "callscore_store_requests_total",
                "Audio store requests by operation and result.",
                &["operation", "result"],
            ),
            dead_letters: counters(
                "callscore_dead_letters_total",
                "Recordings sent to the dead-letter topic, by stage and reason.",
                &["stage", "reason"],
            ),
            retries: counters(
                "callscore_retries_total",
                "Retries of transient failures, by stage.",
                &["stage"],
            ),
            in_flight: gauge(
                "callscore_in_flight_recordings",
                "Recordings taken in and not yet finished.",
            ),
            in_flight_bytes: gauge(
                "callscore_in_flight_bytes",
                "Bytes of the recordings in flight.",
            ),
            consumer_lag,
            rebalances: counters(
                "callscore_rebalances_total",
                "Consumer group rebalances, by kind.",
                &["kind"],
            ),
            commits: counters(
                "callscore_offset_commits_total",
                "Offset commits, by result.",
                &["result"],
            ),
            registry,
        }
    }

    /// Counts a finished recording.
    pub fn finished(&self, outcome: Outcome) {
        self.processed.with_label_values(&[outcome.as_str()]).inc();
    }

    /// Counts a store request.
    pub fn store_request(&self, operation: &str, result: StoreResult) {
        self.store_requests
            .with_label_values(&[operation, result.as_str()])
            .inc();
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        // encoding gathered families into memory cannot fail
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        let metrics = Metrics::new("0.0.0-test");
        metrics.finished(Outcome::Processed);
        metrics.store_request("put", StoreResult::Ok);
        metrics
            .stage_seconds
            .with_label_values(&["decode"])
            .observe(0.01);
        metrics
            .errors
            .with_label_values(&["store", "store_failed", "transient"])
            .inc();
        metrics.end_to_end_seconds.observe(0.2);
        let text = metrics.render();
        for family in metrics.registry.gather() {
            let name = family.name();
            assert!(name.starts_with("callscore_"), "{name}");
            let counter = family.get_field_type() == prometheus::proto::MetricType::COUNTER;
            assert_eq!(counter, name.ends_with("_total"), "{name}");
            if family.get_field_type() == prometheus::proto::MetricType::HISTOGRAM {
                assert!(name.ends_with("_seconds"), "{name}: base units");
            }
        }
        assert!(text.contains("callscore_build_info{version=\"0.0.0-test\"} 1"));
        assert!(text.contains("callscore_recordings_processed_total{outcome=\"processed\"} 1"));
        assert!(text.contains("callscore_store_requests_total{operation=\"put\",result=\"ok\"} 1"));
    }
}
