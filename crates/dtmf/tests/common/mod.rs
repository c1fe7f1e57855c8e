//! Helpers shared by the detector's conformance tests: run the detector on synthesized
//! signals and score its output against the truth.

#![allow(dead_code, unreachable_pub)]

use callscore_dtmf::{Detector, DetectorConfig, KeyEvent};
use callscore_synth::{Digit, Rng, add_digit};

pub const RATE: u32 = 8000;

pub fn ms(m: f64) -> usize {
    (m * f64::from(RATE) / 1000.0).round() as usize
}

/// Runs a fresh detector over `signal` in one push.
pub fn detect(signal: &[f32]) -> Vec<KeyEvent> {
    let mut detector = Detector::new(&DetectorConfig::default()).expect("8 kHz is supported");
    let mut events = Vec::new();
    detector.push(signal, &mut events);
    detector.finish(&mut events);
    events
}

/// The detected keys as a string.
pub fn keys(events: &[KeyEvent]) -> String {
    events.iter().map(|e| e.key.as_char()).collect()
}

/// How a detector did on a set of known digits.
#[derive(Debug, Default, Clone)]
pub struct Score {
    pub digits: usize,
    pub found: usize,
    pub missed: Vec<String>,
    pub inserted: Vec<String>,
    /// Largest start or end error of a found digit, in seconds.
    pub worst_timing: f64,
}

impl Score {
    pub fn add(&mut self, other: &Score) {
        self.digits += other.digits;
        self.found += other.found;
        self.missed.extend(other.missed.iter().cloned());
        self.inserted.extend(other.inserted.iter().cloned());
        self.worst_timing = self.worst_timing.max(other.worst_timing);
    }

    pub fn detection_rate(&self) -> f64 {
        if self.digits == 0 {
            1.0
        } else {
            self.found as f64 / self.digits as f64
        }
    }
}

/// Matches events to the truth: an event matches a digit when the keys agree and the two
/// overlap in time; every unmatched event is an insertion.
pub fn score(truth: &[Digit], events: &[KeyEvent]) -> Score {
    let mut used = vec![false; events.len()];
    let mut s = Score {
        digits: truth.len(),
        ..Score::default()
    };
    for d in truth {
        let (t0, t1) = (
            d.start as f64 / f64::from(RATE),
            (d.start + d.len) as f64 / f64::from(RATE),
        );
        let hit = events.iter().enumerate().position(|(i, e)| {
            !used[i] && e.key.as_char() == d.key && e.start_seconds() < t1 && e.end_seconds() > t0
        });
        match hit {
            Some(i) => {
                used[i] = true;
                s.found += 1;
                let e = &events[i];
                s.worst_timing = s
                    .worst_timing
                    .max((e.start_seconds() - t0).abs())
                    .max((e.end_seconds() - t1).abs());
            }
            None => s.missed.push(format!("{} at {:.3}s {:?}", d.key, t0, d)),
        }
    }
    for (i, e) in events.iter().enumerate() {
        if !used[i] {
            s.inserted.push(format!(
                "{} at {:.3}-{:.3}s {:?}",
                e.key,
                e.start_seconds(),
                e.end_seconds(),
                e
            ));
        }
    }
    s
}

/// Places `digits` in a silent signal one after another, each after a random lead-in of
/// `gap_ms` plus up to one block, so that tones fall at every alignment to the analysis
/// blocks. Returns the signal and the digits as placed.
pub fn sequence(digits: Vec<Digit>, gap_ms: f64, rng: &mut Rng) -> (Vec<f32>, Vec<Digit>) {
    let mut pos = 0;
    let mut placed = Vec::with_capacity(digits.len());
    for mut d in digits {
        pos += ms(gap_ms) + rng.below(0, ms(5.0) + 1);
        d.start = pos;
        pos += d.len;
        placed.push(d);
    }
    let mut signal = vec![0.0f32; pos + ms(gap_ms) + ms(50.0)];
    for d in &placed {
        add_digit(&mut signal, RATE, d);
    }
    (signal, placed)
}
