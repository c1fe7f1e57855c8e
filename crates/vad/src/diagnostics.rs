//! What the detector measured in every frame, for explaining a decision and for tuning.

use crate::Settings;
use crate::analysis::{self, Spectrogram};

/// Share of the frames below the noise floor estimate: a low percentile, so that speech
/// taking up most of the audio still leaves enough pauses to measure the floor from.
const FLOOR_PERCENTILE: f32 = 0.10;
/// Share of the background frames below the background level: their median.
const BACKGROUND_PERCENTILE: f32 = 0.5;
/// Frames on either side (200 ms) of a clearly loud frame that are left out of the
/// background: a syllable's onset and decay.
const MASK_SPAN: usize = 20;
/// Lag in frames (40 ms) between the spectra compared for steadiness: longer than the window,
/// so that noise frames share no samples, and shorter than a held note.
const STEADY_LAG: usize = 4;
/// Frames on either side (100 ms) over which steadiness is averaged: a syllable or two, so
/// that a voice's moments of steady vowel average out with its transitions, while a held
/// note stays steady throughout.
const STEADY_SPAN: usize = 10;
/// Spreads of the background (its median level minus its floor) above the background at
/// which a frame may start a segment: babble, the most fluctuating background, reaches 1.4
/// spreads above its median in one frame in a thousand.
const ONSET_SPREADS: f32 = 1.6;
/// Spreads above the background at which a segment goes on: babble's frames reach it in
/// about one frame in a hundred.
const CONTINUE_SPREADS: f32 = 1.0;
/// Spreads above the background over which a segment's edges grow: babble's frames reach it
/// in about one frame in ten.
const EDGE_SPREADS: f32 = 0.6;
/// Consecutive tonal frames that make a tone: 40 ms, the shortest DTMF key a receiver must
/// accept (ITU-T Q.24).
const MIN_TONE_FRAMES: usize = 4;
/// Frames on either side of a tone whose analysis window (32 ms, centred on the frame)
/// straddles its start or end.
const TONE_EDGE_FRAMES: usize = 2;
/// Frames quieter than this (dBm0) are never speech: a caller at the quietest level of the
/// ITU-T P.56 range callscore expects (-30 dBm0 active) has speech sounds well above it.
const MIN_LEVEL_DBM0: f32 = -60.0;

/// The measures of one 10 ms frame.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Frame {
    /// In-band (250-3500 Hz) level in dBm0.
    pub level_dbm0: f32,
    /// Level above the noise floor in dB.
    pub snr_db: f32,
    /// Share of the power in the two strongest spectral peaks (1 for one or two pure tones).
    pub tone_share: f32,
    /// Spectral similarity with the frames 40 ms before or after, averaged over 200 ms (1 for
    /// a held note).
    pub steadiness: f32,
    /// Normalised autocorrelation at the best pitch lag, 80-400 Hz (1 for a periodic sound,
    /// near 0 for noise).
    pub periodicity: f32,
    /// Pitch in Hz, from the shortest period within reach of the best (0 without power).
    pub pitch_hz: f32,
    /// Neither a tone nor a held note, and not below the quietest speech level.
    pub voice_like: bool,
    /// Voice-like and at or above the onset threshold: a frame that can start a segment.
    pub speech: bool,
}

/// The noise floor and the frames of `samples`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Analysis {
    /// Noise floor estimate in dBm0, from `samples` and the noise context.
    pub floor_dbm0: f32,
    /// Median level of the background (the frames away from clearly loud ones), in dBm0.
    pub background_dbm0: f32,
    /// Level a frame must reach to start a segment, in dBm0: [`Settings::threshold_db`] above
    /// the background level, but never more than [`Settings::max_threshold_db`] above the
    /// floor (when the caller talks most of the time, the background percentile is speech).
    pub threshold_dbm0: f32,
    /// Level a frame must keep to continue a segment, in dBm0.
    pub continue_dbm0: f32,
    /// Level down to which a segment's edges grow, in dBm0.
    pub edge_dbm0: f32,
    /// One per 10 ms of `samples` (the last one may be partial).
    pub frames: Vec<Frame>,
}

/// Measures every frame of `samples`; see [`crate::find_speech`] for the arguments.
pub fn analyse(samples: &[f32], noise_context: &[f32], settings: &Settings) -> Analysis {
    let spectra = analysis::spectrogram(samples);
    let context = analysis::levels(noise_context);
    let mut all: Vec<f32> = spectra.level_dbm0.iter().chain(&context).copied().collect();
    let clear_dbm0 = percentile(&mut all, FLOOR_PERCENTILE) + settings.max_threshold_db;
    let mut background: Vec<f32> = unmasked(&spectra.level_dbm0, clear_dbm0)
        .chain(unmasked(&context, clear_dbm0))
        .collect();
    if background.len() * 10 < all.len() {
        background = all;
    }
    let floor_dbm0 = percentile(&mut background, FLOOR_PERCENTILE);
    let background_dbm0 = percentile(&mut background, BACKGROUND_PERCENTILE);
    let spread = background_dbm0 - floor_dbm0;
    let above = |db: f32, spreads: f32| background_dbm0 + db.max(spreads * spread);
    let threshold_dbm0 = above(settings.threshold_db, ONSET_SPREADS)
        .min(floor_dbm0 + settings.max_threshold_db)
        .max(MIN_LEVEL_DBM0);
    let continue_dbm0 = above(settings.continue_db, CONTINUE_SPREADS).min(threshold_dbm0);
    let edge_dbm0 = above(settings.edge_db, EDGE_SPREADS).min(continue_dbm0);
    let steadiness = smoothed_steadiness(&spectra);
    let mut frames: Vec<Frame> = (0..spectra.power.len())
        .map(|k| frame(&spectra, k, steadiness[k], threshold_dbm0, settings))
        .map(|mut f| {
            f.snr_db = f.level_dbm0 - floor_dbm0;
            f
        })
        .collect();
    mute_tone_edges(&mut frames, settings);
    Analysis {
        floor_dbm0,
        background_dbm0,
        threshold_dbm0,
        continue_dbm0,
        edge_dbm0,
        frames,
    }
}

/// The levels more than [`MASK_SPAN`] frames away from any at or above `clear_dbm0`: the
/// background, with the caller's clearly loud speech and what surrounds it left out.
fn unmasked(levels: &[f32], clear_dbm0: f32) -> impl Iterator<Item = f32> + '_ {
    // loud[k] counts the clearly loud frames before frame k
    let mut loud = vec![0usize; levels.len() + 1];
    for (k, &level) in levels.iter().enumerate() {
        loud[k + 1] = loud[k] + usize::from(level >= clear_dbm0);
    }
    (0..levels.len()).filter_map(move |k| {
        let (first, last) = (
            k.saturating_sub(MASK_SPAN),
            (k + MASK_SPAN + 1).min(levels.len()),
        );
        (loud[last] == loud[first]).then_some(levels[k])
    })
}

/// Per frame, the spectral similarity with the frames [`STEADY_LAG`] before and after (the
/// more similar), averaged over [`STEADY_SPAN`] frames on either side.
fn smoothed_steadiness(spectra: &Spectrogram) -> Vec<f32> {
    let magnitudes: Vec<analysis::Magnitudes> = spectra
        .power
        .iter()
        .map(|power| analysis::Magnitudes::of(power))
        .collect();
    // pair[k]: frame k against frame k + STEADY_LAG, which is also that frame's "before"
    let pair: Vec<f32> = magnitudes
        .iter()
        .zip(magnitudes.iter().skip(STEADY_LAG))
        .map(|(a, b)| analysis::similarity(a, b))
        .collect();
    let raw: Vec<f32> = (0..magnitudes.len())
        .map(|k| {
            let before = k.checked_sub(STEADY_LAG).map(|j| pair[j]);
            let after = pair.get(k).copied();
            [before, after].into_iter().flatten().fold(0.0f32, f32::max)
        })
        .collect();
    (0..raw.len())
        .map(|k| {
            let span = &raw[k.saturating_sub(STEADY_SPAN)..(k + STEADY_SPAN + 1).min(raw.len())];
            span.iter().sum::<f32>() / span.len() as f32
        })
        .collect()
}

fn frame(
    spectra: &Spectrogram,
    k: usize,
    steadiness: f32,
    threshold_dbm0: f32,
    settings: &Settings,
) -> Frame {
    let level_dbm0 = spectra.level_dbm0[k];
    let tone_share = analysis::tone_share(&spectra.power[k]);
    let voice_like = level_dbm0 >= MIN_LEVEL_DBM0
        && tone_share <= settings.max_tone_share
        && steadiness <= settings.max_steadiness;
    Frame {
        level_dbm0,
        snr_db: 0.0,
        tone_share,
        steadiness,
        periodicity: spectra.periodicity[k],
        pitch_hz: match spectra.pitch_lag[k] {
            lag if lag > 0.0 => crate::SAMPLE_RATE as f32 / lag,
            _ => 0.0,
        },
        voice_like,
        speech: voice_like && level_dbm0 >= threshold_dbm0,
    }
}

/// Takes the frames whose window straddles the start or end of a tone of at least
/// [`MIN_TONE_FRAMES`] as part of the tone: there, its abrupt onset or end spreads its power
/// over the band, and the frame looks like anything but a tone.
fn mute_tone_edges(frames: &mut [Frame], settings: &Settings) {
    let tonal: Vec<bool> = frames
        .iter()
        .map(|f| f.tone_share > settings.max_tone_share)
        .collect();
    let mut k = 0;
    while k < tonal.len() {
        if !tonal[k] {
            k += 1;
            continue;
        }
        let start = k;
        while k < tonal.len() && tonal[k] {
            k += 1;
        }
        if k - start >= MIN_TONE_FRAMES {
            let edges = start.saturating_sub(TONE_EDGE_FRAMES)..start;
            for j in edges.chain(k..(k + TONE_EDGE_FRAMES).min(tonal.len())) {
                frames[j].voice_like = false;
                frames[j].speech = false;
            }
        }
    }
}

/// The value below which `share` of `values` lie (the values are reordered); the silence
/// level for none.
fn percentile(values: &mut [f32], share: f32) -> f32 {
    if values.is_empty() {
        return analysis::dbm0(0.0);
    }
    let at = ((values.len() - 1) as f32 * share).round() as usize;
    let (_, value, _) = values.select_nth_unstable_by(at, f32::total_cmp);
    *value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_picks_the_low_end() {
        let mut values: Vec<f32> = (0..=100).rev().map(|v| v as f32).collect();
        assert_eq!(percentile(&mut values, 0.10), 10.0);
        assert_eq!(percentile(&mut [], 0.10), analysis::dbm0(0.0));
    }
}
