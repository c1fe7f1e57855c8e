//! The service's metrics, in one registry of its own. Every name is a constant of [`names`],
//! every label value comes from a typed, bounded set (stages, reasons, outcomes, operations,
//! classes, checks, partitions): never an id, a number or an error text.

use prometheus::{
    Counter, Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Metric names, the contract with dashboards and alert rules (`deploy/`).
pub mod names {
    /// Always 1; the `version` label names the running build.
    pub const BUILD_INFO: &str = "callscore_build_info";
    /// Messages taken from the recordings topic.
    pub const RECEIVED: &str = "callscore_recordings_received_total";
    /// Recordings finished, by `outcome`.
    pub const PROCESSED: &str = "callscore_recordings_processed_total";
    /// Failures by `stage`, `reason` and `retry`.
    pub const ERRORS: &str = "callscore_errors_total";
    /// Time per `stage`.
    pub const STAGE_SECONDS: &str = "callscore_stage_duration_seconds";
    /// From the message's timestamp to its acknowledgement.
    pub const END_TO_END_SECONDS: &str = "callscore_end_to_end_duration_seconds";
    /// Key presses found in the audio.
    pub const KEY_PRESSES: &str = "callscore_key_presses_total";
    /// Answers by `status` and `kind`.
    pub const ANSWERS: &str = "callscore_answers_total";
    /// Audio analysed, in seconds.
    pub const AUDIO_SECONDS: &str = "callscore_audio_processed_seconds_total";
    /// Store requests by `operation` and `result`.
    pub const STORE_REQUESTS: &str = "callscore_store_requests_total";
    /// Dead letters by `stage` and `reason`.
    pub const DEAD_LETTERS: &str = "callscore_dead_letters_total";
    /// Retries by `stage`.
    pub const RETRIES: &str = "callscore_retries_total";
    /// Recordings in flight.
    pub const IN_FLIGHT: &str = "callscore_in_flight_recordings";
    /// Bytes of the recordings in flight.
    pub const IN_FLIGHT_BYTES: &str = "callscore_in_flight_bytes";
    /// Consumer lag per `topic` and `partition`, for the partitions this instance owns.
    pub const CONSUMER_LAG: &str = "callscore_consumer_lag_messages";
    /// Rebalances by `kind`.
    pub const REBALANCES: &str = "callscore_rebalances_total";
    /// Offset commits by `result`.
    pub const COMMITS: &str = "callscore_offset_commits_total";
    /// 1 when the readiness `check` passes, else 0.
    pub const READY: &str = "callscore_ready";
    /// 1 while delivery is paused because the store or broker refuses access.
    pub const BLOCKED: &str = "callscore_blocked";
    /// Objects deleted by the retention sweep, by `class`.
    pub const RETENTION_DELETED: &str = "callscore_retention_deleted_objects_total";
    /// When the retention sweep last finished without error, in seconds since the epoch.
    pub const RETENTION_LAST_SUCCESS: &str =
        "callscore_retention_sweep_last_success_timestamp_seconds";
    /// Problems the last look at the topics found, by `problem`.
    pub const TOPIC_PROBLEMS: &str = "callscore_topic_problems";
    /// 1 while this instance leads the sweeper's election, else 0.
    pub const SWEEPER_LEADER: &str = "callscore_sweeper_leader";
    /// Assignments the sweeper's election gave this instance (its join and every rebalance).
    pub const SWEEPER_ASSIGNMENTS: &str = "callscore_sweeper_election_assignments_total";
}

/// Latency buckets from 1 ms to 2 minutes, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Every metric of `callscore serve`.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Messages taken from the recordings topic.
    pub received: IntCounter,
    /// Recordings finished, by `outcome`.
    pub processed: IntCounterVec,
    /// Failures by `stage`, `reason` and `retry` (`transient`, `blocked`, `permanent`,
    /// `fatal`); a retried failure counts once per attempt.
    pub errors: IntCounterVec,
    /// Time per `stage` (`fetch`, `decode`, `detect`, `score`, `store`, `publish`).
    pub stage_seconds: HistogramVec,
    /// From the message's broker timestamp to its acknowledgement.
    pub end_to_end_seconds: Histogram,
    /// Key presses found in-band.
    pub key_presses: IntCounter,
    /// Answers by `status` and question `kind`.
    pub answers: IntCounterVec,
    /// Audio analysed, in seconds.
    pub audio_seconds: Counter,
    /// Store requests by `operation` and `result`.
    pub store_requests: IntCounterVec,
    /// Dead letters by `stage` and `reason`.
    pub dead_letters: IntCounterVec,
    /// Retries of transient and blocked failures by `stage`.
    pub retries: IntCounterVec,
    /// Recordings taken in and not yet acknowledged.
    pub in_flight: IntGauge,
    /// Bytes of the recordings in flight.
    pub in_flight_bytes: IntGauge,
    /// Consumer lag per `topic` and `partition`, from librdkafka's statistics.
    pub consumer_lag: IntGaugeVec,
    /// Rebalances by `kind` (`assign`, `revoke`, `error`).
    pub rebalances: IntCounterVec,
    /// Offset commits by `result` (`ok`, `error`).
    pub commits: IntCounterVec,
    /// Readiness per `check`.
    pub ready: IntGaugeVec,
    /// Whether delivery is blocked.
    pub blocked: IntGauge,
    /// Objects deleted by the retention sweep, by `class`.
    pub retention_deleted: IntCounterVec,
    /// When the sweep last succeeded.
    pub retention_last_success: prometheus::Gauge,
    /// Problems of the topics by `problem` (`keeps_too_long`, `unchecked`, `not_compacted`).
    pub topic_problems: IntGaugeVec,
    /// Whether this instance leads the sweeper's election.
    pub sweeper_leader: IntGauge,
    /// Assignments of the sweeper's election to this instance.
    pub sweeper_assignments: IntCounter,
}

impl Metrics {
    /// The metrics, registered, with `callscore_build_info` set for `version`.
    pub fn new(version: &str) -> Metrics {
        let registry = Registry::new();
        let register = |metric: Box<dyn prometheus::core::Collector>| {
            registry
                .register(metric)
                .expect("each metric registers once, under a valid name");
        };
        let counter = |name: &str, help: &str| {
            let metric = IntCounter::new(name, help).expect("a valid metric");
            register(Box::new(metric.clone()));
            metric
        };
        let counters = |name: &str, help: &str, labels: &[&str]| {
            let metric = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric");
            register(Box::new(metric.clone()));
            metric
        };
        let gauge = |name: &str, help: &str| {
            let metric = IntGauge::new(name, help).expect("a valid metric");
            register(Box::new(metric.clone()));
            metric
        };
        let gauges = |name: &str, help: &str, labels: &[&str]| {
            let metric = IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid metric");
            register(Box::new(metric.clone()));
            metric
        };
        let build = gauges(
            names::BUILD_INFO,
            "Always 1; the labels name the running build.",
            &["version"],
        );
        build.with_label_values(&[version]).set(1);
        let stage_seconds = HistogramVec::new(
            HistogramOpts::new(names::STAGE_SECONDS, "Time spent per processing stage.")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["stage"],
        )
        .expect("a valid metric");
        register(Box::new(stage_seconds.clone()));
        let end_to_end_seconds = Histogram::with_opts(
            HistogramOpts::new(
                names::END_TO_END_SECONDS,
                "From a recording's message timestamp to its acknowledgement.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )
        .expect("a valid metric");
        register(Box::new(end_to_end_seconds.clone()));
        let audio_seconds = Counter::new(names::AUDIO_SECONDS, "Audio analysed, in seconds.")
            .expect("a valid metric");
        register(Box::new(audio_seconds.clone()));
        let retention_last_success = prometheus::Gauge::new(
            names::RETENTION_LAST_SUCCESS,
            "When the retention sweep last finished without error (Unix time).",
        )
        .expect("a valid metric");
        register(Box::new(retention_last_success.clone()));

        Metrics {
            received: counter(names::RECEIVED, "Messages taken from the recordings topic."),
            processed: counters(
                names::PROCESSED,
                "Recordings finished, by outcome.",
                &["outcome"],
            ),
            errors: counters(
                names::ERRORS,
                "Failures by stage, reason and what they mean (transient, blocked, permanent, \
                 fatal).",
                &["stage", "reason", "retry"],
            ),
            stage_seconds,
            end_to_end_seconds,
            key_presses: counter(names::KEY_PRESSES, "Key presses found in the audio."),
            answers: counters(
                names::ANSWERS,
                "Answers by status and question kind.",
                &["status", "kind"],
            ),
            audio_seconds,
            store_requests: counters(
                names::STORE_REQUESTS,
                "Audio store requests by operation and result.",
                &["operation", "result"],
            ),
            dead_letters: counters(
                names::DEAD_LETTERS,
                "Recordings recorded as dead letters, by stage and reason.",
                &["stage", "reason"],
            ),
            retries: counters(
                names::RETRIES,
                "Retries of transient and blocked failures, by stage.",
                &["stage"],
            ),
            in_flight: gauge(
                names::IN_FLIGHT,
                "Recordings taken in and not yet acknowledged.",
            ),
            in_flight_bytes: gauge(names::IN_FLIGHT_BYTES, "Bytes of the recordings in flight."),
            consumer_lag: gauges(
                names::CONSUMER_LAG,
                "Messages between the committed position and the end of each partition this \
                 instance owns.",
                &["topic", "partition"],
            ),
            rebalances: counters(
                names::REBALANCES,
                "Consumer group rebalances, by kind.",
                &["kind"],
            ),
            commits: counters(names::COMMITS, "Offset commits, by result.", &["result"]),
            ready: gauges(
                names::READY,
                "1 when the readiness check passes, else 0.",
                &["check"],
            ),
            blocked: gauge(
                names::BLOCKED,
                "1 while delivery is paused because the store or broker refuses access.",
            ),
            retention_deleted: counters(
                names::RETENTION_DELETED,
                "Objects deleted by the retention sweep, by retention class.",
                &["class"],
            ),
            retention_last_success,
            topic_problems: gauges(
                names::TOPIC_PROBLEMS,
                "Topics found keeping callers' data longer than the retention promises \
                 (keeps_too_long), not described by the broker (unchecked), or tombstoned and not \
                 compacted (not_compacted), at the last look.",
                &["problem"],
            ),
            sweeper_leader: gauge(
                names::SWEEPER_LEADER,
                "1 while this instance leads the sweeper's election (it runs the scheduled \
                 sweeps), else 0.",
            ),
            sweeper_assignments: counter(
                names::SWEEPER_ASSIGNMENTS,
                "Assignments the sweeper's election gave this instance: its join and every \
                 rebalance.",
            ),
            registry,
        }
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        // encoding gathered families into memory cannot fail
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8_lossy(&buffer).into_owned()
    }

    /// The registry, for tests that inspect every family.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        let metrics = Metrics::new("0.0.0-test");
        metrics.processed.with_label_values(&["processed"]).inc();
        metrics
            .stage_seconds
            .with_label_values(&["decode"])
            .observe(0.01);
        metrics
            .errors
            .with_label_values(&["store", "store_failed", "transient"])
            .inc();
        metrics.end_to_end_seconds.observe(0.2);
        metrics.ready.with_label_values(&["store"]).set(1);
        metrics
            .retention_deleted
            .with_label_values(&["respondent"])
            .inc();
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
    }
}
