//! DTMF key detection for callscore: samples in, key events out.
//!
//! [`Detector`] is a streaming detector: push samples in chunks of any size and collect
//! [`KeyEvent`]s, each with the key, its start and end, the level and frequency of both tones,
//! the twist and a quality figure. Results do not depend on how the input is chunked. The crate
//! is pure DSP: no I/O, no allocation per sample, no logging; [`Detector::stats`] tells the
//! caller what the detector saw so that it can report it.
//!
//! Its rules, thresholds and limits are set on the tuning seeds (1-10) of the corpora of
//! `callscore-corpus` only; seeds from 1001 on are held out, for reporting
//! (`callscore-corpus seeds` prints both groups).
//!
//! ```
//! use callscore_dtmf::{Detector, DetectorConfig, Key};
//!
//! // 100 ms of the key `5` at -10 dBm0 per tone, 8 kHz
//! let rate = 8000.0;
//! let amp = 10f64.powf((-10.0 - 3.14) / 20.0);
//! let tone: Vec<f32> = (0..1600)
//!     .map(|n| {
//!         let t = n as f64 / rate;
//!         let on = (400..1200).contains(&n) as u8 as f64;
//!         (on * amp * ((std::f64::consts::TAU * 770.0 * t).sin()
//!             + (std::f64::consts::TAU * 1336.0 * t).sin())) as f32
//!     })
//!     .collect();
//!
//! let mut detector = Detector::new(&DetectorConfig::default()).unwrap();
//! let mut events = Vec::new();
//! detector.push(&tone, &mut events);
//! detector.finish(&mut events);
//! assert_eq!(events.len(), 1);
//! assert_eq!(events[0].key, Key::D5);
//! assert!((events[0].start_seconds() - 0.05).abs() < 0.005);
//! ```
//!
//! # How it works
//!
//! The signal is cut into 5 ms blocks. Per block, one DFT at the eight DTMF frequencies (a
//! SIMD matrix product; the analysis filters are symmetric about the block's centre, so with
//! AVX-512 the block is folded in half first and the product does half the multiply-adds) and
//! the block energy are the only per-sample work. Everything else runs once per block:
//!
//! 1. *Screening.* In each group, the strongest bin's phase advance over four blocks gives
//!    the frequency of the dominant component near it, and its steadiness tells a tone from
//!    noise. Both groups must show a tone near a DTMF frequency.
//! 2. *Tracking.* A screened key opens a segment that follows the two tones block by block,
//!    bridges short breaks and closes after a pause.
//! 3. *Validation.* The closed segment is measured as a whole: the frequency of each tone
//!    from its phase progression (to about a hertz), the per-block amplitude of each tone with
//!    the leakage of the other tone removed, start and end to a fraction of a block from the
//!    amplitude of the edge blocks, level, twist, purity, the tones' share of the power and
//!    their second harmonics. Only then is a key reported.
//!
//! The limits, and the ITU-T Q.24 requirements they serve, are in the `limits` module.

mod complex;
mod design;
mod detector;
pub mod diagnostics;
mod kernel;
mod key;
mod limits;
mod pitch;
mod segment;

pub use detector::{Detector, DetectorConfig, DetectorStats, Rejections};
pub use limits::{Rejection, TALK_OFF_BIAS, TALK_OFF_MEASURES, TALK_OFF_WEIGHTS};

pub use key::{COL_HZ, Key, ROW_HZ};
pub use limits::FULL_SCALE_SINE_DBM0;

/// A detected key press.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyEvent {
    /// The key.
    pub key: Key,
    /// First sample of the key press, counted from the start of the stream.
    pub start: u64,
    /// One past the last sample of the key press.
    pub end: u64,
    /// Sample rate the positions count in.
    pub sample_rate: u32,
    /// Measured frequency of the row (low group) tone in Hz.
    pub low_hz: f32,
    /// Measured frequency of the column (high group) tone in Hz.
    pub high_hz: f32,
    /// Level of the row tone in dBm0.
    pub low_dbm0: f32,
    /// Level of the column tone in dBm0.
    pub high_dbm0: f32,
    /// Row level minus column level in dB: positive is "normal" twist (low group louder).
    pub twist_db: f32,
    /// How clean the key press was, from 0 to 1: the share of the signal's power carried by
    /// the two tones, times the steadiness of their phase. A key alone on a quiet line is
    /// close to 1; a key pressed over a prompt is lower.
    pub quality: f32,
}

impl KeyEvent {
    /// Start in seconds from the start of the stream.
    pub fn start_seconds(&self) -> f64 {
        self.start as f64 / f64::from(self.sample_rate)
    }

    /// End in seconds from the start of the stream.
    pub fn end_seconds(&self) -> f64 {
        self.end as f64 / f64::from(self.sample_rate)
    }

    /// Duration in seconds.
    pub fn duration_seconds(&self) -> f64 {
        self.end.saturating_sub(self.start) as f64 / f64::from(self.sample_rate)
    }
}

/// A candidate key press as measured, reported or not: what the detector saw and why it
/// decided as it did. Kept only when [`DetectorConfig::record_candidates`] is set; for
/// explaining a missed or an unexpected key.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The key the two tones make.
    pub key: Key,
    /// First sample of the key press.
    pub start: u64,
    /// One past its last sample.
    pub end: u64,
    /// Sample rate the positions count in.
    pub sample_rate: u32,
    /// Measured row tone frequency in Hz.
    pub low_hz: f32,
    /// Measured column tone frequency in Hz.
    pub high_hz: f32,
    /// Row tone level in dBm0.
    pub low_dbm0: f32,
    /// Column tone level in dBm0.
    pub high_dbm0: f32,
    /// The signal touched full scale during the key press.
    pub clipped: bool,
    /// What tells a key press from a voice or an instrument; measured only for candidates
    /// that meet the Q.24 limits (duration, level, twist, frequency).
    pub shape: Option<Shape>,
    /// Why it was not reported, or `None` if it was.
    pub rejection: Option<Rejection>,
}

impl Candidate {
    /// Row level minus column level in dB.
    pub fn twist_db(&self) -> f32 {
        self.low_dbm0 - self.high_dbm0
    }

    /// Duration in seconds.
    pub fn duration_seconds(&self) -> f64 {
        self.end.saturating_sub(self.start) as f64 / f64::from(self.sample_rate)
    }

    fn event(&self) -> KeyEvent {
        let quality = self.shape.as_ref().map_or(0.0, |s| {
            s.whole.tone_share * s.whole.purity.min(s.whole.fit)
        });
        KeyEvent {
            key: self.key,
            start: self.start,
            end: self.end,
            sample_rate: self.sample_rate,
            low_hz: self.low_hz,
            high_hz: self.high_hz,
            low_dbm0: self.low_dbm0,
            high_dbm0: self.high_dbm0,
            twist_db: self.twist_db(),
            quality,
        }
    }
}

/// The measures that tell a key press from a voice or an instrument.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// Features over the whole key press.
    pub whole: Features,
    /// Features over its clearest 20 ms: the stretch with the least sound around the tones.
    pub cleanest: Features,
    /// Largest change of a tone's level from the first third of the key press to the last, in
    /// dB.
    pub drift_db: f32,
    /// Largest change of a tone's frequency from the first third to the last, in Hz: voices
    /// glide, keys do not.
    pub chirp_hz: f32,
    /// Power at each tone's frequency in the 15 ms before and after the key press, relative to
    /// the tone, in dB (the worse tone): keys start and stop abruptly.
    pub edge_db: f32,
    /// Blocks around the start and the end (the worse of the two, and of the two tones) in
    /// which a tone is only partly there: 1 for a key, more for a voice that swells and fades.
    pub ramp_blocks: u32,
    /// How far a tone's level falls along a straight line (in dB) over the measured part of
    /// the key press, where a line explains the level well; 0 otherwise. Struck and plucked
    /// instruments decay, keys do not.
    pub decay_db: f32,
    /// The pitch of the sound under the tones (the tones taken out) in Hz. Measured only where
    /// it could change the verdict; 0 when not measured or none was found.
    pub pitch_hz: f32,
    /// How far that sound is from periodic: 0 for a sustained vowel, near 1 for noise (1 when
    /// not measured or no pitch was found).
    pub aperiodicity: f32,
    /// How far from a whole harmonic of that pitch the farther tone is, in harmonics (0 to
    /// 0.5; 0.25, which counts neither way, when not measured, when no pitch was found, or
    /// when a tone lies beyond its 20th harmonic, where the comb is too dense to tell): a
    /// voice taken for a key is two of its own harmonics, a key's tones fall anywhere.
    pub harmonic_deviation: f32,
}

/// How much a stretch of a candidate looks like DTMF rather than a voice or an instrument.
/// Every ratio is of the weaker-looking tone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Features {
    /// How well the four bins of each group match one pure tone (1 is perfect).
    pub fit: f32,
    /// How steadily each tone's phase advances from block to block (1 is perfect).
    pub purity: f32,
    /// Share of the signal power the two tones carry.
    pub tone_share: f32,
    /// Power within 200 Hz either side of a tone, tone excluded, relative to the tone, in dB.
    pub neighbours_db: f32,
}

/// A detector configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The sample rate is outside the supported range.
    #[error(
        "sample rate {0} Hz is not supported (supported: {min}-{max} Hz)",
        min = Detector::MIN_SAMPLE_RATE,
        max = Detector::MAX_SAMPLE_RATE
    )]
    SampleRate(u32),
}

/// Detects every key in `samples` (full scale 1.0) in one call.
///
/// ```
/// let events = callscore_dtmf::detect(&[0.0; 8000], 8000).unwrap();
/// assert!(events.is_empty());
/// ```
pub fn detect(samples: &[f32], sample_rate: u32) -> Result<Vec<KeyEvent>, ConfigError> {
    let mut detector = Detector::new(&DetectorConfig {
        sample_rate,
        ..DetectorConfig::default()
    })?;
    let mut events = Vec::new();
    detector.push(samples, &mut events);
    detector.finish(&mut events);
    Ok(events)
}
