//! Short-time spectra over the telephone band and the measures taken from them per frame.

use crate::fft::Fft;

/// Frame hop: 10 ms at 8 kHz, the resolution of every boundary.
pub(crate) const HOP: usize = 80;
/// Analysis window: 32 ms, so that its 31.25 Hz resolution separates the harmonics of voices
/// from about 100 Hz up, while a syllable (100-300 ms) still spans several windows.
const WINDOW: usize = 256;
/// Transform size: the window zero-padded to twice its length, so that the autocorrelation
/// computed from the power spectrum does not wrap around.
const FFT: usize = 2 * WINDOW;
/// First bin analysed (250 Hz): below it a telephone line carries hum, not speech.
const LOW_BIN: usize = 16;
/// Last bin analysed (3500 Hz), the top of the telephone band (ITU-T G.712).
const HIGH_BIN: usize = 224;
/// Half-width in bins of a pure tone's peak under the Hann window: its main lobe spans
/// ±2/WINDOW of the sample rate, ±4 bins of the zero-padded transform.
const PEAK_HALF_WIDTH: usize = 4;
/// Shortest and longest pitch period searched, in samples: 400 Hz down to 60 Hz, the range
/// of adult and child voices.
const PITCH_LAGS: std::ops::RangeInclusive<usize> = 20..=133;
/// A shorter lag than the best is the pitch if its autocorrelation comes this close to the
/// best: a periodic sound also repeats at two and three times its period, and the shortest
/// period is its pitch.
const OCTAVE_TOLERANCE: f32 = 0.85;
/// Level given to digital silence, in dBm0, far below any line noise.
const SILENCE_DBM0: f32 = -120.0;
/// Level of a full-scale sine in dBm0 (ITU-T G.711).
#[allow(clippy::approx_constant)] // the G.711 figure, not an approximation of pi
const FULL_SCALE_SINE_DBM0: f32 = 3.14;

/// The band power spectrum of each frame and its level.
#[derive(Debug, Clone, Default)]
pub(crate) struct Spectrogram {
    /// Per frame, the power of bins `LOW_BIN..=HIGH_BIN`.
    pub(crate) power: Vec<Vec<f32>>,
    /// Per frame, the in-band level in dBm0.
    pub(crate) level_dbm0: Vec<f32>,
    /// Per frame, the normalised autocorrelation at the best pitch lag (1 for a periodic
    /// sound).
    pub(crate) periodicity: Vec<f32>,
    /// Per frame, the pitch period in samples (fractional), 0 for silence.
    pub(crate) pitch_lag: Vec<f32>,
}

/// Number of frames for `len` samples: one per started hop.
pub(crate) fn frame_count(len: usize) -> usize {
    len.div_ceil(HOP)
}

/// The spectrogram of `samples`: frame `k` covers samples `k*HOP..(k+1)*HOP` and is analysed
/// through a Hann window centred on it.
pub(crate) fn spectrogram(samples: &[f32]) -> Spectrogram {
    frames(samples, true)
}

/// Only the in-band level of each frame of `samples`, as in [`spectrogram`]: all the noise
/// context is needed for.
pub(crate) fn levels(samples: &[f32]) -> Vec<f32> {
    frames(samples, false).level_dbm0
}

/// The spectrogram, without the spectra and periodicity unless `full`.
fn frames(samples: &[f32], full: bool) -> Spectrogram {
    let fft = Fft::new(FFT);
    let window: Vec<f32> = (0..WINDOW)
        .map(|i| {
            let x = std::f64::consts::TAU * (i as f64 + 0.5) / WINDOW as f64;
            (0.5 - 0.5 * x.cos()) as f32
        })
        .collect();
    // one-sided band power to mean square: Parseval, corrected for the window's energy
    let window_energy: f32 = window.iter().map(|w| w * w).sum();
    let scale = 2.0 / (FFT as f32 * window_energy);
    let window_ac = window_autocorrelation(&window);
    let frames = frame_count(samples.len());
    let mut out = Spectrogram::default();
    let (mut re, mut im) = (vec![0.0f32; FFT], vec![0.0f32; FFT]);
    for k in 0..frames {
        let centre = (k * HOP + HOP / 2) as isize;
        let first = centre - (WINDOW / 2) as isize;
        re.fill(0.0);
        for (i, (r, w)) in re.iter_mut().zip(&window).enumerate() {
            let at = first + i as isize;
            let x = usize::try_from(at)
                .ok()
                .and_then(|at| samples.get(at))
                .copied();
            *r = x.unwrap_or(0.0) * w;
        }
        im.fill(0.0);
        fft.transform(&mut re, &mut im);
        let power: Vec<f32> = (LOW_BIN..=HIGH_BIN)
            .map(|b| scale * (re[b] * re[b] + im[b] * im[b]))
            .collect();
        out.level_dbm0.push(dbm0(power.iter().sum()));
        if full {
            let pitch = pitch(&fft, &power, &window_ac, &mut re, &mut im);
            out.periodicity.push(pitch.periodicity);
            out.pitch_lag.push(pitch.lag);
            out.power.push(power);
        }
    }
    out
}

/// Autocorrelation of the window at every lag up to the longest pitch period.
fn window_autocorrelation(window: &[f32]) -> Vec<f32> {
    (0..=*PITCH_LAGS.end())
        .map(|lag| window.iter().zip(&window[lag..]).map(|(a, b)| a * b).sum())
        .collect()
}

/// The periodicity and pitch of one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pitch {
    /// Normalised autocorrelation at the best lag (1 for a periodic sound).
    pub(crate) periodicity: f32,
    /// Pitch period in samples, refined between lags; 0 without any power.
    pub(crate) lag: f32,
}

/// The band-limited autocorrelation (the transform of the band power spectrum), divided by
/// the window's own autocorrelation to undo its taper (Boersma 1993), relative to lag 0: its
/// best value over the pitch lags, and the pitch period, the shortest lag at a local peak
/// within [`OCTAVE_TOLERANCE`] of the best. `re` and `im` are scratch space of the
/// transform's size.
fn pitch(fft: &Fft, power: &[f32], window_ac: &[f32], re: &mut [f32], im: &mut [f32]) -> Pitch {
    let ac = normalised_autocorrelation(fft, power, window_ac, re, im);
    pitch_of(&ac)
}

/// The pitch of a normalised autocorrelation given at every lag up to the longest period.
pub(crate) fn pitch_of(ac: &[f32]) -> Pitch {
    let lags = *PITCH_LAGS.start()..ac.len().min(PITCH_LAGS.end() + 1);
    let best = lags.clone().map(|lag| ac[lag]).fold(0.0f32, f32::max);
    if best <= 0.0 {
        return Pitch {
            periodicity: 0.0,
            lag: 0.0,
        };
    }
    let peak = |lag: usize| {
        ac[lag] >= OCTAVE_TOLERANCE * best
            && ac[lag] >= ac[lag - 1]
            && ac.get(lag + 1).is_none_or(|&next| ac[lag] >= next)
    };
    let at = lags.clone().find(|&lag| peak(lag)).unwrap_or(lags.start);
    // a parabola through the peak and its neighbours places it between lags
    let b = ac[at];
    let (a, c) = (ac[at - 1], ac.get(at + 1).copied().unwrap_or(b));
    let curve = a - 2.0 * b + c;
    let shift = if curve < 0.0 {
        (0.5 * (a - c) / curve).clamp(-0.5, 0.5)
    } else {
        0.0
    };
    Pitch {
        periodicity: best,
        lag: at as f32 + shift,
    }
}

/// The normalised band-limited autocorrelation at every lag up to the longest pitch period.
fn normalised_autocorrelation(
    fft: &Fft,
    power: &[f32],
    window_ac: &[f32],
    re: &mut [f32],
    im: &mut [f32],
) -> Vec<f32> {
    re.fill(0.0);
    im.fill(0.0);
    for (i, &p) in power.iter().enumerate() {
        re[LOW_BIN + i] = p;
        re[FFT - LOW_BIN - i] = p;
    }
    // the power spectrum is real and even: the forward transform is the inverse, scaled
    fft.transform(re, im);
    if re[0] <= 0.0 {
        return vec![0.0; window_ac.len()];
    }
    let zero = re[0] / window_ac[0];
    (0..window_ac.len())
        .map(|lag| re[lag] / window_ac[lag] / zero)
        .collect()
}

/// Level in dBm0 of a mean square (full scale 1.0).
pub(crate) fn dbm0(mean_square: f32) -> f32 {
    if mean_square <= 0.0 {
        return SILENCE_DBM0;
    }
    (10.0 * (mean_square / 0.5).log10() + FULL_SCALE_SINE_DBM0).max(SILENCE_DBM0)
}

/// Share of a frame's band power in its two strongest peaks (each with its window main lobe):
/// near 1 for one or two pure tones (DTMF, dial tone, a flute), well below for a voice, whose
/// power spreads over many harmonics or, unvoiced, over the whole band.
pub(crate) fn tone_share(power: &[f32]) -> f32 {
    let total: f32 = power.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    let mut taken = vec![false; power.len()];
    let mut peaks = 0.0;
    for _ in 0..2 {
        let strongest = power
            .iter()
            .enumerate()
            .filter(|(i, _)| !taken[*i])
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i);
        let Some(at) = strongest else { break };
        let lobe = at.saturating_sub(PEAK_HALF_WIDTH)..(at + PEAK_HALF_WIDTH + 1).min(power.len());
        for i in lobe {
            if !taken[i] {
                taken[i] = true;
                peaks += power[i];
            }
        }
    }
    peaks / total
}

/// A frame's magnitude spectrum around its mean, and its energy around the mean: what
/// [`similarity`] compares, worked out once per frame.
#[derive(Debug, Clone)]
pub(crate) struct Magnitudes {
    centred: Vec<f32>,
    energy: f32,
}

impl Magnitudes {
    pub(crate) fn of(power: &[f32]) -> Magnitudes {
        let mut centred: Vec<f32> = power.iter().map(|p| p.sqrt()).collect();
        let mean = if centred.is_empty() {
            0.0
        } else {
            centred.iter().sum::<f32>() / centred.len() as f32
        };
        centred.iter_mut().for_each(|m| *m -= mean);
        let energy = centred.iter().fold(0.0f32, |sum, x| sum + x * x);
        Magnitudes { centred, energy }
    }
}

/// Correlation of two frames' magnitude spectra: near 1 when the same partials sound at the
/// same frequencies (a held note, a steady tone), lower when the voice's pitch and formants
/// move, near 0 for independent noise.
pub(crate) fn similarity(a: &Magnitudes, b: &Magnitudes) -> f32 {
    if a.centred.is_empty() || a.centred.len() != b.centred.len() {
        return 0.0;
    }
    let ab = a
        .centred
        .iter()
        .zip(&b.centred)
        .fold(0.0f32, |sum, (x, y)| sum + x * y);
    if a.energy <= 0.0 || b.energy <= 0.0 {
        return 0.0;
    }
    ab / (a.energy * b.energy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sum of `harmonics` equal harmonics of `pitch_hz`, 4000 samples.
    fn harmonic(pitch_hz: f64, harmonics: u32) -> Vec<f32> {
        (0..4000u32)
            .map(|n| {
                let t = f64::from(n) / 8000.0;
                let sum: f64 = (1..=harmonics)
                    .map(|h| (std::f64::consts::TAU * f64::from(h) * pitch_hz * t).sin())
                    .sum();
                (0.05 * sum) as f32
            })
            .collect()
    }

    #[test]
    fn the_pitch_of_a_harmonic_sound_is_its_fundamental() {
        for pitch_hz in [70.0, 110.0, 150.0, 230.0, 380.0] {
            let harmonics = (3500.0 / pitch_hz) as u32;
            let spectra = spectrogram(&harmonic(pitch_hz, harmonics));
            let found = 8000.0 / spectra.pitch_lag[20];
            assert!(
                (f64::from(found) / pitch_hz - 1.0).abs() < 0.02,
                "{pitch_hz} Hz: {found}"
            );
            assert!(spectra.periodicity[20] > 0.8, "{}", spectra.periodicity[20]);
        }
    }

    #[test]
    fn the_pitch_is_the_shortest_period_near_the_best() {
        // a naive reference: peaks at 40 (0.9) and 80 (1.0) samples; 40 is within reach
        let mut ac = vec![0.0f32; 134];
        for (lag, value) in [
            (39, 0.7),
            (40, 0.9),
            (41, 0.7),
            (79, 0.8),
            (80, 1.0),
            (81, 0.8),
        ] {
            ac[lag] = value;
        }
        let pitch = pitch_of(&ac);
        assert_eq!((pitch.periodicity, pitch.lag), (1.0, 40.0));
        // at 0.5 the shorter one is an octave error of the other way: 80 wins
        ac[40] = 0.5;
        assert_eq!(pitch_of(&ac).lag, 80.0);
        // a peak between lags is placed between them
        ac[81] = 1.0;
        let between = pitch_of(&ac).lag;
        assert!((between - 80.5).abs() < 0.01, "{between}");
        assert_eq!(pitch_of(&[0.0; 134]).lag, 0.0);
    }

    #[test]
    fn a_full_scale_sine_reads_3_14_dbm0() {
        let sine: Vec<f32> = (0..4000u32)
            .map(|n| (std::f64::consts::TAU * 1000.0 * f64::from(n) / 8000.0).sin() as f32)
            .collect();
        let spectra = spectrogram(&sine);
        let level = spectra.level_dbm0[20];
        assert!((level - FULL_SCALE_SINE_DBM0).abs() < 0.2, "{level}");
        assert!(tone_share(&spectra.power[20]) > 0.99);
        // 1000 Hz repeats every 8 samples, so at lags 24, 32, … as well
        assert!(
            spectra.periodicity[20] > 0.95,
            "{}",
            spectra.periodicity[20]
        );
    }

    #[test]
    fn the_levels_alone_are_those_of_the_spectrogram() {
        let chirp: Vec<f32> = (0..3000u32)
            .map(|n| {
                let t = f64::from(n) / 8000.0;
                (0.3 * (std::f64::consts::TAU * (300.0 + 2000.0 * t) * t).sin()) as f32
            })
            .collect();
        assert_eq!(levels(&chirp), spectrogram(&chirp).level_dbm0);
        assert!(levels(&[]).is_empty());
    }

    #[test]
    fn frames_cover_every_started_hop() {
        assert_eq!(frame_count(0), 0);
        assert_eq!(frame_count(1), 1);
        assert_eq!(frame_count(160), 2);
        assert_eq!(spectrogram(&[0.0; 161]).power.len(), 3);
    }
}
