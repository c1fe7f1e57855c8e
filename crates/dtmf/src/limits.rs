//! The detector's decision limits, each tied to the requirement it serves.
//!
//! ITU-T Q.24 (AT&T column) sets what a receiver must accept and what it must reject; every
//! limit below sits between the two, with the margin chosen from measurements on the
//! project's conformance, talk-off and barge-in suites (see the crate's tests and
//! `callscore-corpus`).

/// Level of a full-scale sine in dBm0 (G.711 convention).
pub const FULL_SCALE_SINE_DBM0: f64 = 3.14;

/// Analysis block length in seconds. Short enough to time key edges to a fraction of a block,
/// long enough that the DFT per block stays cheap.
pub(crate) const BLOCK_SECONDS: f64 = 0.005;

/// Blocks in the screening window (20 ms): shorter than the 40 ms every digit must last, so a
/// valid digit always fills at least one window completely.
pub(crate) const SCREEN_BLOCKS: usize = 4;

/// Screening needs a stable phase progression in both groups; a loose bound, the segment
/// checks below decide.
pub(crate) const SCREEN_MIN_COHERENCE: f64 = 0.8;

/// A screening contender must carry at least this share of the power of its group's loudest
/// bin: weaker bins only see leakage, and their phase says nothing.
pub(crate) const SCREEN_MIN_SHARE_OF_LOUDEST: f64 = 0.1;

/// Screening accepts frequencies within this relative distance of a DTMF frequency.
pub(crate) const SCREEN_MAX_DEVIATION: f64 = 0.04;

/// Screening floor per tone in dBm0, below the final limit so that slow edges are caught.
pub(crate) const SCREEN_MIN_LEVEL_DBM0: f64 = -44.0;

/// Q.24: accept 0 to -25 dBm0 per tone, reject below -55 dBm0.
pub(crate) const MIN_LEVEL_DBM0: f64 = -36.0;

/// Q.24: twist up to 8 dB with the low group louder must be accepted.
pub(crate) const MAX_NORMAL_TWIST_DB: f64 = 9.5;

/// Q.24: twist up to 4 dB with the high group louder must be accepted.
pub(crate) const MAX_REVERSE_TWIST_DB: f64 = 5.5;

/// Q.24: accept a frequency error of 1.5 % + 2 Hz, reject from 3.5 %. The limit is the
/// midpoint of the two, `0.025 f + 1 Hz`.
pub(crate) fn max_deviation_hz(nominal_hz: f64) -> f64 {
    0.025 * nominal_hz + 1.0
}

/// Q.24: tones of 40 ms must be detected, tones of 23 ms or less never; the limit sits in the
/// middle so that timing errors of several milliseconds either way are tolerated.
pub(crate) const MIN_DURATION_SECONDS: f64 = 0.0315;

/// Q.24: a break of 10 ms or less inside a tone is bridged, a pause of 40 ms separates digits.
/// Breaks shorter than this many seconds are bridged.
pub(crate) const MAX_BRIDGE_SECONDS: f64 = 0.025;

/// Within one key press the phase of each tone must advance steadily from block to block:
/// speech harmonics glide, DTMF tones do not.
pub(crate) const MIN_PURITY: f64 = 0.90;

/// Share of the signal's power that the two tones must carry during the key press. Loose on
/// purpose: callers key over prompts (barge-in), so other sound is allowed alongside.
pub(crate) const MIN_TONE_SHARE: f64 = 0.15;

/// Energy at twice a tone's frequency relative to the tone. DTMF generators make almost no
/// second harmonic, voices and instruments always do.
pub(crate) const MAX_SECOND_HARMONIC: f64 = 0.1;
