//! Comparing detected key presses with the truth.

use callscore_dtmf::{Detector, DetectorConfig};
use callscore_prompts::Prompt;

use crate::RATE;

/// A key press, known or detected, with times in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Press {
    /// The key.
    pub key: char,
    /// Start in seconds.
    pub start: f64,
    /// End in seconds.
    pub end: f64,
}

/// A DTMF detector under test.
pub trait KeyDetector: Sync {
    /// A short name for reports.
    fn name(&self) -> &str;
    /// Every key press in `samples` (8 kHz, full scale 1.0).
    fn detect(&self, samples: &[f32]) -> Vec<Press>;
    /// Every key press in `samples`, knowing the prompts the IVR played in them. Detectors
    /// that cannot use prompts ignore them.
    fn detect_knowing(&self, samples: &[f32], prompts: &[Prompt]) -> Vec<Press> {
        let _ = prompts;
        self.detect(samples)
    }
}

/// callscore's own detector, a fresh one per signal.
#[derive(Debug, Clone, Copy, Default)]
pub struct Callscore;

impl KeyDetector for Callscore {
    fn name(&self) -> &str {
        "callscore"
    }

    fn detect(&self, samples: &[f32]) -> Vec<Press> {
        let mut detector = Detector::new(&DetectorConfig {
            sample_rate: RATE,
            ..DetectorConfig::default()
        })
        .expect("8 kHz is a supported rate");
        let mut events = Vec::new();
        detector.push(samples, &mut events);
        detector.finish(&mut events);
        events
            .iter()
            .map(|e| Press {
                key: e.key.as_char(),
                start: e.start_seconds(),
                end: e.end_seconds(),
            })
            .collect()
    }
}

/// callscore's detector after the known prompts are found and subtracted
/// ([`callscore_prompts::cancel`]); without prompts, [`Callscore`].
#[derive(Debug, Clone, Copy, Default)]
pub struct KnownPrompts;

impl KeyDetector for KnownPrompts {
    fn name(&self) -> &str {
        "callscore, known prompts cancelled"
    }

    fn detect(&self, samples: &[f32]) -> Vec<Press> {
        Callscore.detect(samples)
    }

    fn detect_knowing(&self, samples: &[f32], prompts: &[Prompt]) -> Vec<Press> {
        let mut samples = samples.to_vec();
        callscore_prompts::cancel(&mut samples, prompts);
        Callscore.detect(&samples)
    }
}

/// How detections compare with the truth.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Key presses in the truth.
    pub expected: usize,
    /// Of those, how many were detected.
    pub found: usize,
    /// Truth presses not detected (or detected as another key).
    pub missed: Vec<Press>,
    /// Detections that match no truth press.
    pub inserted: Vec<Press>,
    /// Largest start or end error of a found press, in seconds.
    pub worst_timing: f64,
    /// Found presses whose start or end is more than [`TIMING_TOLERANCE`] off: (truth,
    /// detection).
    pub mistimed: Vec<(Press, Press)>,
}

/// How far a detected start or end may be from the truth, in seconds.
pub const TIMING_TOLERANCE: f64 = 0.005;

impl Outcome {
    /// Adds another outcome to this one.
    pub fn add(&mut self, other: Outcome) {
        self.expected += other.expected;
        self.found += other.found;
        self.missed.extend(other.missed);
        self.inserted.extend(other.inserted);
        self.worst_timing = self.worst_timing.max(other.worst_timing);
        self.mistimed.extend(other.mistimed);
    }
}

/// Matches detections to the truth: same key and overlapping in time, each used once.
pub fn compare(truth: &[Press], detected: &[Press]) -> Outcome {
    let mut used = vec![false; detected.len()];
    let mut outcome = Outcome {
        expected: truth.len(),
        ..Outcome::default()
    };
    for t in truth {
        let hit = detected
            .iter()
            .enumerate()
            .position(|(i, d)| !used[i] && d.key == t.key && d.start < t.end && d.end > t.start);
        match hit {
            Some(i) => {
                used[i] = true;
                outcome.found += 1;
                let d = &detected[i];
                let error = (d.start - t.start).abs().max((d.end - t.end).abs());
                outcome.worst_timing = outcome.worst_timing.max(error);
                if error > TIMING_TOLERANCE {
                    outcome.mistimed.push((t.clone(), d.clone()));
                }
            }
            None => outcome.missed.push(t.clone()),
        }
    }
    outcome.inserted = detected
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(d, _)| d.clone())
        .collect();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(key: char, start: f64, end: f64) -> Press {
        Press { key, start, end }
    }

    #[test]
    fn matching_counts_misses_substitutions_and_insertions() {
        let truth = [p('1', 0.0, 0.1), p('2', 0.5, 0.6), p('3', 1.0, 1.1)];
        let detected = [p('1', 0.002, 0.1), p('5', 0.5, 0.6), p('9', 2.0, 2.1)];
        let o = compare(&truth, &detected);
        assert_eq!((o.expected, o.found), (3, 1));
        assert_eq!(o.missed.len(), 2);
        assert_eq!(o.inserted.len(), 2);
        assert!((o.worst_timing - 0.002).abs() < 1e-9);
        assert!(o.mistimed.is_empty());
        let late = compare(&truth[..1], &[p('1', 0.0, 0.11)]);
        assert_eq!(late.mistimed.len(), 1);
    }
}
