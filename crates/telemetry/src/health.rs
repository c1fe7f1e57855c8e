//! Liveness and readiness: typed checks the service keeps up to date, plus the limitations it
//! runs with (a store without tagging, say), reported in `/readyz`. A check's detail comes from
//! a fixed vocabulary ([`Status`]): internal error texts go to the log, never to `/readyz`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

/// A readiness check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The consumer has joined its group.
    Group,
    /// A broker answers the producer, and the producer has not failed for good.
    Producer,
    /// The audio store answers.
    Store,
    /// Delivery is not blocked by a refused deployment (credentials, permissions, a missing
    /// bucket).
    Delivery,
}

impl Check {
    /// The name used in `/readyz` and in the `check` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Group => "group",
            Check::Producer => "producer",
            Check::Store => "store",
            Check::Delivery => "delivery",
        }
    }

    /// Every check.
    pub const ALL: [Check; 4] = [Check::Group, Check::Producer, Check::Store, Check::Delivery];
}

/// The state of a check, in words an operator reads (details are in the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not known yet.
    Starting,
    /// Joining the consumer group.
    Joining,
    /// Joined, with partitions or without.
    Joined,
    /// It answers.
    Reachable,
    /// It does not answer, or answers with errors.
    Unreachable,
    /// It answers but refuses: credentials, permissions, a missing bucket or topic.
    Refused,
    /// No answer within the probe's time.
    NoAnswer,
    /// Broken for good: the service stops and is restarted.
    Failed,
    /// Working.
    Flowing,
}

#[derive(Debug, Clone, Serialize)]
struct CheckState {
    ok: bool,
    status: Status,
}

/// What a check is after [`Health::set`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kept {
    /// Whether it passes.
    pub passes: bool,
    /// Its status.
    pub status: Status,
    /// Whether this set changed it.
    pub changed: bool,
}

/// The service's readiness checks, shared between the service and the HTTP server.
#[derive(Debug, Default)]
pub struct Health {
    state: Mutex<State>,
}

#[derive(Debug, Default, Clone)]
struct State {
    checks: BTreeMap<Check, CheckState>,
    limitations: Vec<String>,
    /// Limitations a repeated check keeps up to date, by the check's name.
    kept_up: BTreeMap<&'static str, Vec<String>>,
    stopping: bool,
}

/// What `/readyz` answers.
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    /// Whether every check passes and the service is not stopping.
    pub ready: bool,
    /// Each check by name, with its status.
    pub checks: BTreeMap<&'static str, serde_json::Value>,
    /// The names of the checks that fail.
    pub failing: Vec<&'static str>,
    /// What the service cannot do on this deployment, in words.
    pub limitations: Vec<String>,
    /// Whether a shutdown is under way.
    pub stopping: bool,
}

impl Health {
    /// Health with no checks yet.
    pub fn new() -> Health {
        Health::default()
    }

    /// Sets `check` and says what it is now. A check that [`Status::Failed`] stays failed: the
    /// service stops and is restarted, and a probe that started before the failure must not
    /// report it healthy again.
    pub fn set(&self, check: Check, ok: bool, status: Status) -> Kept {
        let mut state = self.lock();
        let before = state.checks.get(&check).cloned();
        let kept = state
            .checks
            .entry(check)
            .or_insert(CheckState { ok, status });
        if kept.status != Status::Failed {
            *kept = CheckState { ok, status };
        }
        Kept {
            passes: kept.ok,
            status: kept.status,
            changed: before.is_none_or(|b| b.ok != kept.ok || b.status != kept.status),
        }
    }

    /// Whether `check` passes now (`None` before it is first set).
    pub fn passes(&self, check: Check) -> Option<bool> {
        self.lock().checks.get(&check).map(|c| c.ok)
    }

    /// Records a limitation of this deployment.
    pub fn limitation(&self, text: impl Into<String>) {
        self.lock().limitations.push(text.into());
    }

    /// Replaces the limitations `source` (a repeated check) reported last with `texts`.
    pub fn limitations_from(&self, source: &'static str, texts: Vec<String>) {
        self.lock().kept_up.insert(source, texts);
    }

    /// Marks the service as stopping: it is no longer ready.
    pub fn stopping(&self) {
        self.lock().stopping = true;
    }

    /// The current readiness. With no checks registered the service is not ready yet.
    pub fn readiness(&self) -> Readiness {
        let state = self.lock().clone();
        let failing: Vec<&'static str> = state
            .checks
            .iter()
            .filter(|(_, c)| !c.ok)
            .map(|(check, _)| check.as_str())
            .collect();
        let ready = !state.stopping && !state.checks.is_empty() && failing.is_empty();
        Readiness {
            ready,
            checks: state
                .checks
                .iter()
                .map(|(check, c)| (check.as_str(), serde_json::to_value(c).unwrap_or_default()))
                .collect(),
            failing,
            limitations: state
                .limitations
                .into_iter()
                .chain(state.kept_up.into_values().flatten())
                .collect(),
            stopping: state.stopping,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // a panic while holding the lock leaves plain data behind: keep serving it
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_check_passes_and_failing_ones_are_named() {
        let health = Health::new();
        assert!(!health.readiness().ready, "no checks yet");
        health.set(Check::Store, true, Status::Reachable);
        health.set(Check::Group, false, Status::Joining);
        let readiness = health.readiness();
        assert!(!readiness.ready);
        assert_eq!(readiness.failing, vec!["group"]);
        health.set(Check::Group, true, Status::Joined);
        health.limitation("no tagging");
        let readiness = health.readiness();
        assert!(readiness.ready);
        assert_eq!(readiness.limitations, vec!["no tagging".to_string()]);
        // a repeated check's limitations replace its last ones; the others stay
        health.limitations_from("topics", vec!["a".into(), "b".into()]);
        health.limitations_from("topics", vec!["b".into()]);
        assert_eq!(health.readiness().limitations, ["no tagging", "b"]);
        health.limitations_from("topics", Vec::new());
        assert_eq!(health.readiness().limitations, ["no tagging"]);
        let body = serde_json::to_string(&readiness).expect("JSON");
        assert!(
            body.contains("\"store\":{\"ok\":true,\"status\":\"reachable\"}"),
            "{body}"
        );
        health.stopping();
        assert!(
            !health.readiness().ready,
            "a stopping service takes no traffic"
        );
    }

    #[test]
    fn a_failed_check_stays_failed_whatever_a_late_probe_says() {
        // a probe that started before the producer failed for good may answer after it
        let health = Health::new();
        health.set(Check::Producer, true, Status::Reachable);
        health.set(Check::Producer, false, Status::Failed);
        health.set(Check::Producer, true, Status::Reachable);
        let readiness = health.readiness();
        assert!(!readiness.ready);
        assert_eq!(readiness.failing, vec!["producer"]);
        assert_eq!(health.passes(Check::Producer), Some(false));
        let kept = health.set(Check::Producer, true, Status::Reachable);
        assert!(!kept.passes && !kept.changed && kept.status == Status::Failed);
    }
}
