//! [`Telemetry`]: the delivery core's and the consumer's events as metrics, readiness and log
//! lines, each event in one place.

use std::sync::Arc;
use std::time::Duration;

use callscore_kafka::{ConsumerEvents, GroupChange, Partition};
use callscore_pipeline::{Analysis, DeadLetter, Failure};
use callscore_worker::{Abandon, Finished, Observer, Outcome, Step, StoreOperation, StoreResult};

use crate::health::{Check, Health, Status};
use crate::metrics::Metrics;

/// Metrics, readiness and logs of a running service.
#[derive(Debug, Clone)]
pub struct Telemetry {
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

impl Telemetry {
    /// Telemetry writing to `metrics` and `health`.
    pub fn new(metrics: Arc<Metrics>, health: Arc<Health>) -> Telemetry {
        Telemetry { metrics, health }
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The readiness checks.
    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    /// Sets a readiness check and its gauge.
    pub fn check(&self, check: Check, ok: bool, status: Status) {
        let kept = self.health.set(check, ok, status);
        self.metrics
            .ready
            .with_label_values(&[check.as_str()])
            .set(i64::from(kept.passes));
        if kept.changed {
            tracing::info!(
                check = check.as_str(),
                passes = kept.passes,
                status = ?kept.status,
                "readiness check changed"
            );
        }
    }

    fn error(&self, failure: &Failure) {
        self.metrics
            .errors
            .with_label_values(&[
                failure.stage.as_str(),
                failure.reason.as_str(),
                failure.retry.as_str(),
            ])
            .inc();
    }
}

impl Observer for Telemetry {
    fn taken(&self, _input: &str, _bytes: u64) {
        self.metrics.received.inc();
    }

    fn in_flight(&self, recordings: usize, bytes: u64) {
        self.metrics
            .in_flight
            .set(i64::try_from(recordings).unwrap_or(i64::MAX));
        self.metrics
            .in_flight_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    fn step(&self, step: Step, took: Duration) {
        self.metrics
            .stage_seconds
            .with_label_values(&[step.as_str()])
            .observe(took.as_secs_f64());
    }

    fn analysed(&self, analysis: &Analysis) {
        let metrics = &self.metrics;
        metrics.key_presses.inc_by(analysis.keys_in_band as u64);
        metrics.audio_seconds.inc_by(analysis.audio_seconds);
        for answer in &analysis.answers.questions {
            let kind = analysis
                .survey()
                .question(&answer.question_id)
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

    fn retrying(&self, failure: &Failure, attempt: u32, wait: Duration) {
        self.error(failure);
        self.metrics
            .retries
            .with_label_values(&[failure.stage.as_str()])
            .inc();
        tracing::warn!(
            stage = failure.stage.as_str(),
            reason = failure.reason.as_str(),
            retry = failure.retry.as_str(),
            error = failure.message(),
            attempt,
            retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "retrying"
        );
    }

    fn blocked(&self, failure: &Failure) {
        self.metrics.blocked.set(1);
        self.check(Check::Delivery, false, Status::Refused);
        tracing::error!(
            stage = failure.stage.as_str(),
            reason = failure.reason.as_str(),
            error = failure.message(),
            "delivery blocked: the deployment refuses access (credentials, permissions or a \
             missing bucket or topic); intake is paused until it passes"
        );
    }

    fn unblocked(&self) {
        self.metrics.blocked.set(0);
        self.check(Check::Delivery, true, Status::Flowing);
        tracing::info!("delivery unblocked: intake resumes");
    }

    fn dead_lettered(&self, letter: &DeadLetter) {
        let (stage, reason) = (letter.stage.as_str(), letter.reason.as_str());
        self.metrics
            .errors
            .with_label_values(&[stage, reason, "permanent"])
            .inc();
        self.metrics
            .dead_letters
            .with_label_values(&[stage, reason])
            .inc();
        tracing::warn!(stage, reason, error = %letter.message, "dead-lettered");
    }

    fn finished(&self, finished: &Finished<'_>) {
        self.metrics
            .processed
            .with_label_values(&[finished.outcome.as_str()])
            .inc();
        if let Some(latency) = finished.end_to_end {
            self.metrics
                .end_to_end_seconds
                .observe(latency.as_secs_f64());
        }
        if finished.outcome != Outcome::DeadLettered {
            tracing::info!(outcome = finished.outcome.as_str(), "finished");
        }
    }

    fn abandoned(&self, _input: &str, why: Abandon) {
        tracing::info!(
            why = ?why,
            "left unfinished and unacknowledged: it is processed again by the partition's next \
             owner"
        );
    }

    fn fatal(&self, failure: &Failure) {
        self.error(failure);
        self.check(Check::Producer, false, Status::Failed);
        tracing::error!(
            stage = failure.stage.as_str(),
            error = failure.message(),
            "fatal: nothing more can be delivered; stopping so that the service is restarted"
        );
    }

    fn store_request(&self, operation: StoreOperation, result: StoreResult) {
        self.metrics
            .store_requests
            .with_label_values(&[operation.as_str(), result.as_str()])
            .inc();
    }
}

impl ConsumerEvents for Telemetry {
    fn rebalanced(&self, change: GroupChange, partitions: usize) {
        let kind = change.as_str();
        self.metrics.rebalances.with_label_values(&[kind]).inc();
        if change == GroupChange::Assign {
            self.check(Check::Group, true, Status::Joined);
        }
        tracing::info!(kind, partitions, "rebalance");
    }

    fn released(&self, partitions: &[Partition]) {
        for (topic, partition) in partitions {
            // another instance reports these now; a stale gauge would double the lag
            let _ = self
                .metrics
                .consumer_lag
                .remove_label_values(&[topic, &partition.to_string()]);
        }
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
        tracing::warn!(
            error = %callscore_pipeline::redact::redact(message),
            "consumer"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_released_partition_has_no_lag_gauge_left() {
        let telemetry = Telemetry::new(Arc::new(Metrics::new("t")), Arc::new(Health::new()));
        telemetry.lag("recordings", 0, 5);
        telemetry.lag("recordings", 1, 7);
        telemetry.released(&[("recordings".to_string(), 0)]);
        let text = telemetry.metrics.render();
        assert!(!text.contains("partition=\"0\""), "{text}");
        assert!(text.contains("partition=\"1\""), "{text}");
    }

    #[test]
    fn blocking_shows_in_the_gauge_and_readiness() {
        let telemetry = Telemetry::new(Arc::new(Metrics::new("t")), Arc::new(Health::new()));
        let failure = Failure::new(
            callscore_pipeline::Stage::Store,
            callscore_pipeline::Reason::StoreFailed,
            callscore_pipeline::Retry::Blocked,
            "AccessDenied (HTTP 403)",
        );
        telemetry.blocked(&failure);
        assert_eq!(telemetry.metrics.blocked.get(), 1);
        let readiness = telemetry.health.readiness();
        assert_eq!(readiness.failing, vec!["delivery"]);
        let body = serde_json::to_string(&readiness).expect("JSON");
        assert!(
            !body.contains("AccessDenied"),
            "no internal error text: {body}"
        );
        telemetry.unblocked();
        assert_eq!(telemetry.metrics.blocked.get(), 0);
        assert!(telemetry.health.readiness().failing.is_empty());
    }
}
