//! Why a key was found, missed or invented: every candidate the detector measured, with its
//! measures and verdict. `callscore inspect` draws and lists them, and the corpus tools'
//! `explain` prints them as a table.
//!
//! ```
//! use callscore_dtmf::diagnostics::{diagnose, explain};
//!
//! let diagnosis = diagnose(&[0.0; 8000], 8000, true).unwrap();
//! assert!(diagnosis.keys.is_empty() && diagnosis.candidates.is_empty());
//! assert!(explain(&diagnosis.candidates).starts_with("key "));
//! ```

use std::fmt::Write as _;

use crate::{Candidate, ConfigError, Detector, DetectorConfig, KeyEvent};

/// What the detector reported in a signal and every candidate it measured there.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    /// The key presses reported, as [`crate::detect`] gives them.
    pub keys: Vec<KeyEvent>,
    /// Every candidate, reported or not, in the order measured, each with its verdict
    /// ([`Candidate::verdict`]).
    pub candidates: Vec<Candidate>,
}

/// Runs the detector over `samples` (full scale 1.0), keeping every candidate.
pub fn diagnose(
    samples: &[f32],
    sample_rate: u32,
    extended_keys: bool,
) -> Result<Diagnosis, ConfigError> {
    let mut detector = Detector::new(&DetectorConfig {
        sample_rate,
        extended_keys,
        record_candidates: true,
    })?;
    let mut keys = Vec::new();
    detector.push(samples, &mut keys);
    detector.finish(&mut keys);
    Ok(Diagnosis {
        keys,
        candidates: detector.take_candidates(),
    })
}

impl Candidate {
    /// `key` when it was reported, else the name of the first check it failed
    /// ([`crate::Rejection::as_str`]).
    pub fn verdict(&self) -> &'static str {
        self.rejection.map_or("key", |r| r.as_str())
    }

    /// The measures the talk-off score weighed ([`crate::TALK_OFF_MEASURES`]), for a
    /// candidate that reached the score: within the Q.24 limits and past the checks before
    /// it. `None` for the others. The score is [`crate::TALK_OFF_BIAS`] plus the measures
    /// weighted by [`crate::TALK_OFF_WEIGHTS`]; the candidate is a key unless it is negative.
    pub fn talk_off_measures(&self) -> Option<[f32; crate::TALK_OFF_MEASURES.len()]> {
        crate::limits::scored_measures(self)
    }
}

/// One line per candidate with its times, levels, frequency errors, the measures that tell a
/// key from a voice (for candidates within the Q.24 limits) and the verdict, under a header.
pub fn explain(candidates: &[Candidate]) -> String {
    let mut out = String::from(
        "key   start    ms   low  high  dev-lo dev-hi  fit  pur share neigh drift chirp  edge ramp decay pitch  off  verdict\n",
    );
    for c in candidates {
        let (low, high) = c.key.frequencies();
        let _ = write!(
            out,
            "{}  {:7.3} {:5.1} {:5.1} {:5.1} {:6.1} {:6.1}",
            c.key,
            c.start as f64 / f64::from(c.sample_rate),
            c.duration_seconds() * 1000.0,
            c.low_dbm0,
            c.high_dbm0,
            f64::from(c.low_hz) - low,
            f64::from(c.high_hz) - high,
        );
        if let Some(s) = &c.shape {
            let _ = write!(
                out,
                " {:4.2} {:4.2} {:5.2} {:5.1} {:5.1} {:5.1} {:5.1} {:4} {:5.1} {:5.0} {:4.2}",
                s.whole.fit.min(s.cleanest.fit),
                s.whole.purity,
                s.whole.tone_share,
                s.cleanest.neighbours_db,
                s.drift_db,
                s.chirp_hz,
                s.edge_db,
                s.ramp_blocks,
                s.decay_db,
                s.pitch_hz,
                s.harmonic_deviation
            );
        }
        let _ = writeln!(out, "  {}", c.verdict());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use callscore_synth::{Digit, add_digit};

    #[test]
    fn a_key_and_a_too_short_tone_are_both_explained() {
        let mut samples = vec![0.0f32; 8000];
        add_digit(&mut samples, 8000, &Digit::new('5', 800, 640));
        add_digit(&mut samples, 8000, &Digit::new('9', 4000, 120));
        let diagnosis = diagnose(&samples, 8000, true).expect("8 kHz");
        assert_eq!(diagnosis.keys.len(), 1);
        let found = diagnosis.candidates;
        let verdicts: Vec<(char, &str)> = found
            .iter()
            .map(|c| (c.key.as_char(), c.verdict()))
            .collect();
        assert_eq!(verdicts, vec![('5', "key"), ('9', "too_short")]);
        let table = explain(&found);
        assert_eq!(table.lines().count(), 3, "{table}");
        assert!(
            table
                .lines()
                .nth(1)
                .is_some_and(|l| l.starts_with("5    0.100  80.0")),
            "{table}"
        );
        assert!(table.ends_with("too_short\n"), "{table}");
    }
}
