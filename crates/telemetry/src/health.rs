//! Liveness and readiness: named checks the service keeps up to date, plus the limitations it
//! runs with (a store without tagging, say), reported in `/readyz`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

/// The service's readiness checks, shared between the service and the HTTP server.
#[derive(Debug, Default)]
pub struct Health {
    state: Mutex<State>,
}

#[derive(Debug, Default, Clone, Serialize)]
struct State {
    checks: BTreeMap<String, Check>,
    limitations: Vec<String>,
    stopping: bool,
}

#[derive(Debug, Clone, Serialize)]
struct Check {
    ok: bool,
    detail: String,
}

/// What `/readyz` answers.
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    /// Whether every check passes and the service is not stopping.
    pub ready: bool,
    /// Each check by name.
    pub checks: serde_json::Value,
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

    /// Sets the check `name`.
    pub fn set(&self, name: &str, ok: bool, detail: impl Into<String>) {
        let mut state = self.lock();
        state.checks.insert(
            name.to_string(),
            Check {
                ok,
                detail: detail.into(),
            },
        );
    }

    /// Records a limitation of this deployment.
    pub fn limitation(&self, text: impl Into<String>) {
        self.lock().limitations.push(text.into());
    }

    /// Marks the service as stopping: it is no longer ready.
    pub fn stopping(&self) {
        self.lock().stopping = true;
    }

    /// The current readiness. With no checks registered the service is not ready yet.
    pub fn readiness(&self) -> Readiness {
        let state = self.lock().clone();
        let ready =
            !state.stopping && !state.checks.is_empty() && state.checks.values().all(|c| c.ok);
        Readiness {
            ready,
            checks: serde_json::to_value(&state.checks).unwrap_or_default(),
            limitations: state.limitations,
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
    fn ready_only_when_every_check_passes() {
        let health = Health::new();
        assert!(!health.readiness().ready, "no checks yet");
        health.set("store", true, "reachable");
        health.set("group", false, "joining");
        assert!(!health.readiness().ready);
        health.set("group", true, "2 partitions");
        health.limitation("no tagging");
        let readiness = health.readiness();
        assert!(readiness.ready);
        assert_eq!(readiness.limitations, vec!["no tagging".to_string()]);
        health.stopping();
        assert!(
            !health.readiness().ready,
            "a stopping service takes no traffic"
        );
    }
}
