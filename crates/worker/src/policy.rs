//! How the core runs: how much at once, how it retries, how long it drains.

use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};
use std::time::Duration;

/// When and how often a failure that may pass is tried again.
///
/// The wait before attempt `n + 1` is `initial * 2^(n-1)`, capped at `max`, less a random
/// fraction of up to `jitter` of it, so that work failed by one outage does not come back
/// all at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// The first wait.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
    /// The largest fraction (0 to 1) taken off a wait at random.
    pub jitter: f64,
    /// Attempts after which a transient failure counts as permanent (dead-lettered); `None`
    /// retries for ever (a service must not drop a recording because a store was down for an
    /// hour). Blocked failures are never dead-lettered: nothing about the recording is wrong.
    pub attempts: Option<NonZeroU32>,
    /// Attempts after which a blocked failure (credentials, permissions, a missing key) ends
    /// the run as fatal, nothing acknowledged or dead-lettered; `None` waits for ever. A
    /// service pauses and alerts until a person fixes access; a batch has no one watching, so
    /// it stops and says why.
    pub blocked_attempts: Option<NonZeroU32>,
}

impl RetryPolicy {
    /// The wait after `attempt` failed attempts (1 for the first), with `random` in [0, 1)
    /// choosing the jitter.
    pub fn wait(&self, attempt: u32, random: f64) -> Duration {
        let doublings = attempt.saturating_sub(1).min(32);
        let base = self
            .initial
            .saturating_mul(1u32 << doublings.min(31))
            .min(self.max);
        let cut = (self.jitter.clamp(0.0, 1.0) * random.clamp(0.0, 1.0)).min(1.0);
        base.mul_f64(1.0 - cut)
    }

    /// Whether a blocked failure ends the run after `attempt` failed attempts.
    pub fn stops_blocked(&self, attempt: u32) -> bool {
        self.blocked_attempts.is_some_and(|n| attempt >= n.get())
    }

    /// Whether a transient failure is given up on after `attempt` failed attempts.
    pub fn gives_up(&self, attempt: u32) -> bool {
        self.attempts.is_some_and(|n| attempt >= n.get())
    }
}

/// Everything that shapes a run of the core. `process` and `serve` differ only in this and in
/// their adapters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Analyses (decode, detect, score) at once, on the blocking pool: the cores to use.
    pub workers: NonZeroUsize,
    /// Inputs taken and not yet acknowledged, at most.
    pub max_in_flight: NonZeroUsize,
    /// Bytes of audio held by inputs in flight, at most: inline audio from the moment it is
    /// taken, staged audio from the moment its size is known, until the input is acknowledged
    /// (a finished input waits for those taken before it in its partition). An input larger
    /// than the bound runs alone.
    pub max_in_flight_bytes: NonZeroU64,
    /// Largest audio fetched from a staging bucket.
    pub max_input_bytes: u64,
    /// Retries of transient and blocked failures.
    pub retry: RetryPolicy,
    /// Retries of storing a dead letter: never given up on (a dead letter is never dropped),
    /// so only the waits of this policy count.
    pub dead_letter_retry: RetryPolicy,
    /// How long work in flight may go on once the run is cancelled; then it is abandoned
    /// unacknowledged (and done again by whoever takes the input next).
    pub drain: Duration,
}

impl Policy {
    /// A batch over files (`callscore process`): transient failures are tried five times and
    /// then dead-lettered, so that a run always ends.
    pub fn batch(workers: NonZeroUsize) -> Policy {
        let retry = RetryPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
            jitter: 0.25,
            attempts: NonZeroU32::new(5),
            blocked_attempts: NonZeroU32::new(5),
        };
        Policy {
            workers,
            max_in_flight: workers.saturating_mul(NonZeroUsize::MIN.saturating_add(1)),
            max_in_flight_bytes: NonZeroU64::new(1 << 30).unwrap_or(NonZeroU64::MIN),
            max_input_bytes: 256 << 20,
            retry,
            dead_letter_retry: RetryPolicy {
                attempts: None,
                ..retry
            },
            drain: Duration::from_secs(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(attempts: Option<u32>) -> RetryPolicy {
        RetryPolicy {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(5),
            jitter: 0.25,
            attempts: attempts.and_then(NonZeroU32::new),
            blocked_attempts: None,
        }
    }

    #[test]
    fn waits_double_up_to_the_cap_less_the_jitter() {
        let p = policy(None);
        assert_eq!(p.wait(1, 0.0), Duration::from_millis(200));
        assert_eq!(p.wait(2, 0.0), Duration::from_millis(400));
        assert_eq!(p.wait(5, 0.0), Duration::from_millis(3200));
        assert_eq!(p.wait(6, 0.0), Duration::from_secs(5));
        assert_eq!(p.wait(60, 0.0), Duration::from_secs(5), "no overflow");
        assert_eq!(
            p.wait(1, 1.0),
            Duration::from_millis(150),
            "at most a quarter off"
        );
        assert!(p.wait(1, 0.5) < Duration::from_millis(200));
    }

    #[test]
    fn only_a_bounded_policy_gives_up() {
        assert!(!policy(None).gives_up(1_000_000));
        assert!(!policy(Some(3)).gives_up(2));
        assert!(policy(Some(3)).gives_up(3));
    }
}
