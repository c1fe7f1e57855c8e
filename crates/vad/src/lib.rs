//! Voice-activity detection for callscore: samples in, speech segments out.
//!
//! [`find_speech`] finds where a caller speaks in a stretch of one channel (8 kHz mono, full
//! scale 1.0) and returns the [`Speech`]: its [`Segment`]s, how much of the audio they cover
//! and the active speech level. The crate is pure DSP: no I/O, no logging; the
//! [`diagnostics`] module exposes what was measured per frame.
//!
//! ```
//! use callscore_vad::{Settings, find_speech};
//! use std::f64::consts::{PI, TAU};
//!
//! // from 1 s to 3 s of 4 s, a voice-like sound: harmonics of a pitch gliding around 140 Hz
//! // through a moving formant, four syllables a second
//! let voice: Vec<f32> = (0..32_000)
//!     .map(|n| {
//!         let t = n as f64 / 8000.0;
//!         if !(1.0..3.0).contains(&t) {
//!             return 0.0;
//!         }
//!         let pitch = 140.0 * (1.0 + 0.15 * (2.7 * t).cos());
//!         let phase = TAU * 140.0 * (t + 0.15 / 2.7 * (2.7 * t).sin());
//!         let formant = 700.0 + 400.0 * (TAU * 3.1 * t).sin();
//!         let syllable = (PI * 4.0 * t).sin().abs();
//!         let sound: f64 = (1..30)
//!             .map(|h| {
//!                 let gain = 1.0 / (1.0 + ((h as f64 * pitch - formant) / 150.0).powi(2));
//!                 gain * (f64::from(h) * phase).sin()
//!             })
//!             .sum();
//!         (0.02 * syllable * sound) as f32
//!     })
//!     .collect();
//!
//! let speech = find_speech(&voice, &[], &Settings::default());
//! let (start, end) = (speech.start_ms(), speech.end_ms());
//! assert!(start.is_some_and(|s| s.abs_diff(1000) <= 100), "{speech:?}");
//! assert!(end.is_some_and(|e| e.abs_diff(3000) <= 100), "{speech:?}");
//! assert!(speech.speech_ms() >= 1800 && speech.level_dbm0.is_some());
//! ```
//!
//! # How it works
//!
//! 1. *Spectra.* 10 ms frames, each seen through a 32 ms Hann window, give the level over the
//!    telephone band (250-3500 Hz) and three measures of what kind of sound it is: the share
//!    of the power in the two strongest spectral peaks (*tone share*: 1 for DTMF or any one or
//!    two pure tones), the spectral similarity with the frames 40 ms before or after,
//!    averaged over 200 ms (*steadiness*: a held note keeps its partials where they are, a
//!    voice moves its pitch and formants from syllable to syllable), and the band-limited
//!    autocorrelation at the best pitch lag, 60-400 Hz (*periodicity*) with the *pitch*, the
//!    shortest period that comes close to the best.
//! 2. *Background.* The floor is a low percentile of the frame levels (minimum statistics),
//!    over the samples and the optional noise context. Frames near clearly loud ones are set
//!    aside and the rest give the background's median level and its *spread* (median minus
//!    floor): a fraction of a dB for line or pink noise, several dB for babble.
//! 3. *Frames.* A frame is voice-like unless it is tonal, next to a tone, or steady. Three levels, each a
//!    number of dB or of spreads above the background (whichever is larger), make a
//!    hysteresis: stretches of voice-like frames above the continuation level that hold at
//!    least one frame above the onset level are candidates.
//! 4. *Segments.* Pauses up to [`Settings::max_gap_ms`] between candidates are bridged, and
//!    a bridged stretch is speech if it holds 50 ms of frames above the onset level. A syllable that
//!    barely rises out of babble so counts when it belongs to a stretch of talk, while a
//!    lone burst does not. The edges then grow over voice-like frames above the edge level
//!    and within [`Settings::range_db`] of the segment's own speech level (the ITU-T P.56
//!    activity margin: the boundaries are those of active speech, not of its faint tails,
//!    nor of the notes of music around it). Where the background hides the faintest of that
//!    active speech, the edges then move out by as long as speech takes to fade by the hidden
//!    decibels, over voice-like frames. Segments shorter than
//!    [`Settings::min_segment_ms`] are dropped, and so are those under 500 ms whose pitch
//!    track is held (a note): a talker's pitch glides from frame to frame. The level is the
//!    mean over the segments.
//!
//! DTMF keys are tonal in every frame, and the frames whose window straddles a key's start
//! or end (where the abrupt onset smears its spectrum) are taken as part of it, so a key
//! never starts or grows a segment. Steady noise stays within its spread; babble reaches the
//! onset level only in rare frames, and music is steady.
//!
//! The thresholds are set on the tuning seeds (1-3 by default) of `callscore-corpus comments`
//! only; seeds from 1001 on are held out, for reporting. The detector does not know which leg
//! carries the prompt: on a mono recording, the caller analyses only audio after the
//! prompt.

#![deny(missing_docs)]

mod analysis;
pub mod diagnostics;
mod fft;
mod segments;

/// Sample rate the detector works at (callscore decodes everything to 8 kHz).
pub const SAMPLE_RATE: u32 = 8000;

/// How far below its active level speech is still active, in dB: the margin between the
/// active level and the activity threshold of ITU-T P.56 (method B).
pub const ACTIVITY_MARGIN_DB: f32 = 15.9;

/// Milliseconds in one frame (see [`diagnostics::Frame`]).
pub(crate) const FRAME_MS: u32 = (analysis::HOP as u32) * 1000 / SAMPLE_RATE;

/// Tuning knobs of the detector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// A segment starts only with frames at least this far above the background level, in dB,
    /// and further for a fluctuating background (default 6)…
    pub threshold_db: f32,
    /// … but never more than this far above the noise floor, in dB (default 15).
    pub max_threshold_db: f32,
    /// A segment goes on over voice-like frames at least this far above the background, in
    /// dB (default 4).
    pub continue_db: f32,
    /// Its edges grow over frames at least this far above the background, in dB, so that
    /// weak onsets and trailing sounds count (default 2)…
    pub edge_db: f32,
    /// … but not over frames this far below the segment's own speech level, in dB (default
    /// [`ACTIVITY_MARGIN_DB`], what ITU-T P.56 counts as active speech).
    pub range_db: f32,
    /// … by at most this much on either side, in ms (default 300).
    pub max_edge_ms: u32,
    /// Frames whose two strongest spectral peaks carry more than this share of the power are
    /// tones (DTMF, call progress), never speech (default 0.98).
    pub max_tone_share: f32,
    /// Frames whose spectrum stays more similar than this over 40 ms, on average over 200 ms,
    /// are held notes or steady tones, not speech (default 0.94).
    pub max_steadiness: f32,
    /// Pauses up to this long, in ms, are bridged: a segment is a stretch of talk, not a
    /// syllable (default 300).
    pub max_gap_ms: u32,
    /// Segments shorter than this, in ms, are dropped as clicks or blips (default 100).
    pub min_segment_ms: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            threshold_db: 6.0,
            max_threshold_db: 15.0,
            continue_db: 4.0,
            edge_db: 2.0,
            range_db: ACTIVITY_MARGIN_DB,
            max_edge_ms: 300,
            max_tone_share: 0.98,
            max_steadiness: 0.94,
            max_gap_ms: 300,
            min_segment_ms: 100,
        }
    }
}

/// One stretch of speech, as offsets from the start of the samples given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Start in ms.
    pub start_ms: u32,
    /// End in ms (exclusive).
    pub end_ms: u32,
}

impl Segment {
    /// Length in ms.
    pub fn duration_ms(&self) -> u32 {
        self.end_ms.saturating_sub(self.start_ms)
    }
}

/// The speech found in a stretch of audio.
#[derive(Debug, Clone, PartialEq)]
pub struct Speech {
    /// The segments, sorted and non-overlapping.
    pub segments: Vec<Segment>,
    /// Length of the audio analysed in ms.
    pub analysed_ms: u32,
    /// Active speech level over the segments in dBm0 (a full-scale sine is +3.14 dBm0);
    /// `None` without speech.
    pub level_dbm0: Option<f32>,
}

impl Speech {
    /// Total length of the segments in ms.
    pub fn speech_ms(&self) -> u32 {
        self.segments.iter().map(Segment::duration_ms).sum()
    }

    /// Share of the audio that is speech, 0 when nothing was analysed.
    pub fn ratio(&self) -> f32 {
        if self.analysed_ms == 0 {
            return 0.0;
        }
        self.speech_ms() as f32 / self.analysed_ms as f32
    }

    /// Start of the first segment in ms.
    pub fn start_ms(&self) -> Option<u32> {
        self.segments.first().map(|s| s.start_ms)
    }

    /// End of the last segment in ms.
    pub fn end_ms(&self) -> Option<u32> {
        self.segments.last().map(|s| s.end_ms)
    }
}

/// Finds speech in `samples` (8 kHz mono, full scale 1.0). `noise_context` optionally gives
/// more audio of the same channel (e.g. the whole caller leg) from which to estimate the noise
/// floor; pass `&[]` when none.
pub fn find_speech(samples: &[f32], noise_context: &[f32], settings: &Settings) -> Speech {
    let analysis = diagnostics::analyse(samples, noise_context, settings);
    let analysed_ms = ms_of(samples.len());
    let segments: Vec<Segment> = segments::find(&analysis, settings)
        .into_iter()
        .map(|(start, end)| Segment {
            start_ms: start as u32 * FRAME_MS,
            end_ms: (end as u32 * FRAME_MS).min(analysed_ms),
        })
        .collect();
    let level_dbm0 = level(samples, &segments);
    Speech {
        segments,
        analysed_ms,
        level_dbm0,
    }
}

fn ms_of(samples: usize) -> u32 {
    u32::try_from(samples as u64 * 1000 / u64::from(SAMPLE_RATE)).unwrap_or(u32::MAX)
}

/// Mean level over the segments in dBm0, `None` without any.
fn level(samples: &[f32], segments: &[Segment]) -> Option<f32> {
    let sample_of = |ms: u32| (ms as usize * SAMPLE_RATE as usize / 1000).min(samples.len());
    let (mut energy, mut count) = (0.0f64, 0usize);
    for s in segments {
        for &x in &samples[sample_of(s.start_ms)..sample_of(s.end_ms)] {
            energy += f64::from(x) * f64::from(x);
            count += 1;
        }
    }
    (count > 0).then(|| analysis::dbm0((energy / count as f64) as f32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use callscore_synth::{Digit, Rng, add_digit, noise, set_active_level};

    const RATE: usize = SAMPLE_RATE as usize;

    /// A voice-like sound from `start` to `end` seconds: harmonics of a pitch gliding around
    /// `pitch_hz`, a formant that moves, and syllables four times a second.
    fn voice(len_s: f64, start: f64, end: f64, pitch_hz: f64, dbm0: f64) -> Vec<f32> {
        let mut out: Vec<f32> = (0..(len_s * RATE as f64) as usize)
            .map(|n| {
                let t = n as f64 / RATE as f64;
                if !(start..end).contains(&t) {
                    return 0.0;
                }
                let phase = std::f64::consts::TAU
                    * (pitch_hz * t + 0.15 * pitch_hz / 2.7 * (2.7 * t).sin());
                let formant = 700.0 + 400.0 * (std::f64::consts::TAU * 3.1 * t).sin();
                let syllable = (std::f64::consts::PI * 4.0 * (t - start)).sin().abs();
                let f0 = pitch_hz * (1.0 + 0.15 * (2.7 * t).cos());
                let tone: f64 = (1..30)
                    .map(|h| {
                        let f = f64::from(h) * f0;
                        let gain = 1.0 / (1.0 + ((f - formant) / 150.0).powi(2));
                        gain * (f64::from(h) * phase).sin()
                    })
                    .sum();
                (syllable * tone) as f32
            })
            .collect();
        set_active_level(&mut out, SAMPLE_RATE, dbm0);
        out
    }

    fn line_noise(signal: &mut [f32], seed: u64) {
        noise::white(signal, -65.0, &mut Rng::new(seed));
    }

    #[test]
    fn silence_has_no_speech() {
        for samples in [vec![0.0f32; 5 * RATE], Vec::new()] {
            let speech = find_speech(&samples, &[], &Settings::default());
            assert!(speech.segments.is_empty(), "{speech:?}");
            assert_eq!(speech.level_dbm0, None);
            assert_eq!(speech.ratio(), 0.0);
        }
        let mut hiss = vec![0.0f32; 5 * RATE];
        line_noise(&mut hiss, 1);
        assert!(
            find_speech(&hiss, &[], &Settings::default())
                .segments
                .is_empty()
        );
    }

    #[test]
    fn dtmf_keys_are_never_speech() {
        for (i, key) in ['1', '5', '9', '#', 'D'].into_iter().enumerate() {
            let mut samples = vec![0.0f32; 4 * RATE];
            for (start, len) in [(RATE / 2, RATE / 10), (RATE, RATE / 2), (2 * RATE, RATE)] {
                let level = -4.0 - 4.0 * i as f64;
                add_digit(
                    &mut samples,
                    SAMPLE_RATE,
                    &Digit::new(key, start, len).levels(level, level),
                );
            }
            line_noise(&mut samples, i as u64);
            let speech = find_speech(&samples, &[], &Settings::default());
            assert!(speech.segments.is_empty(), "key {key}: {speech:?}");
        }
    }

    #[test]
    fn steady_noise_is_not_speech() {
        for (seed, dbm0) in [(1, -50.0), (2, -30.0), (3, -15.0)] {
            let mut white = vec![0.0f32; 6 * RATE];
            noise::white(&mut white, dbm0, &mut Rng::new(seed));
            let mut pink = vec![0.0f32; 6 * RATE];
            noise::pink(&mut pink, dbm0, &mut Rng::new(seed));
            for samples in [white, pink] {
                let speech = find_speech(&samples, &[], &Settings::default());
                assert!(speech.speech_ms() < 200, "{dbm0} dBm0: {speech:?}");
            }
        }
    }

    #[test]
    fn a_voice_is_found_with_its_boundaries_and_level() {
        for (pitch, dbm0) in [(110.0, -30.0), (220.0, -20.0), (160.0, -10.0)] {
            let mut samples = voice(6.0, 1.5, 4.0, pitch, dbm0);
            line_noise(&mut samples, 7);
            let speech = find_speech(&samples, &[], &Settings::default());
            let (start, end) = (speech.start_ms(), speech.end_ms());
            assert!(
                start.is_some_and(|s| s.abs_diff(1500) <= 100),
                "{pitch} Hz: {speech:?}"
            );
            assert!(
                end.is_some_and(|e| e.abs_diff(4000) <= 100),
                "{pitch} Hz: {speech:?}"
            );
            let level = speech.level_dbm0.expect("speech has a level");
            assert!((level - dbm0 as f32).abs() < 3.0, "{level} vs {dbm0}");
            assert_eq!(speech.analysed_ms, 6000);
            assert!((speech.ratio() - speech.speech_ms() as f32 / 6000.0).abs() < 1e-6);
        }
    }

    #[test]
    fn a_voice_over_pink_noise_is_found() {
        let mut samples = voice(8.0, 2.0, 5.0, 140.0, -20.0);
        noise::pink(&mut samples, -30.0, &mut Rng::new(5));
        let speech = find_speech(&samples, &[], &Settings::default());
        assert!(speech.speech_ms() >= 2500, "{speech:?}");
        assert!(
            speech
                .segments
                .iter()
                .all(|s| s.start_ms >= 1900 && s.end_ms <= 5100),
            "{speech:?}"
        );
    }

    #[test]
    fn the_noise_context_sets_the_floor() {
        // a window that is nearly all speech: its own quiet frames are few
        let mut samples = voice(3.0, 0.2, 2.9, 150.0, -20.0);
        line_noise(&mut samples, 3);
        let mut context = vec![0.0f32; 20 * RATE];
        line_noise(&mut context, 4);
        let alone = diagnostics::analyse(&samples, &[], &Settings::default());
        let with = diagnostics::analyse(&samples, &context, &Settings::default());
        assert!(
            with.floor_dbm0 <= alone.floor_dbm0,
            "{} vs {}",
            with.floor_dbm0,
            alone.floor_dbm0
        );
        assert!((with.floor_dbm0 + 65.0).abs() < 6.0, "{}", with.floor_dbm0);
        assert!(find_speech(&samples, &context, &Settings::default()).speech_ms() >= 2000);
    }

    #[test]
    fn segments_are_sorted_and_apart() {
        let mut samples = voice(10.0, 1.0, 3.0, 130.0, -18.0);
        let second = voice(10.0, 5.0, 7.5, 200.0, -22.0);
        samples.iter_mut().zip(&second).for_each(|(a, b)| *a += b);
        line_noise(&mut samples, 9);
        let speech = find_speech(&samples, &[], &Settings::default());
        assert_eq!(speech.segments.len(), 2, "{speech:?}");
        for pair in speech.segments.windows(2) {
            assert!(pair[0].end_ms + Settings::default().max_gap_ms < pair[1].start_ms);
        }
    }
}
