//! What the detector's integration tests share.

use callscore_dtmf::{Candidate, Detector, DetectorConfig, KeyEvent};

/// The key events in an 8 kHz signal, and every candidate measured, reported or not.
pub(crate) fn detect_with_candidates(signal: &[f32]) -> (Vec<KeyEvent>, Vec<Candidate>) {
    let mut detector = Detector::new(&DetectorConfig {
        record_candidates: true,
        ..DetectorConfig::default()
    })
    .expect("8 kHz");
    let mut events = Vec::new();
    detector.push(signal, &mut events);
    detector.finish(&mut events);
    (events, detector.take_candidates())
}
