//! A second look at a close call: are the candidate's two tones a key pressed over a voice, or
//! two harmonics of the voice itself?
//!
//! The block analysis sees 5 ms at a time, where a voice's harmonic and a key's tone 30 Hz
//! apart look the same. Over the whole candidate the resolution is a few hertz, and a voice
//! gives itself away: once the two tones are taken out, what is left is still voiced, and the
//! two tones sit on its harmonics. A key's tones fall anywhere between them.

use std::f64::consts::TAU;

use crate::complex::Complex;

/// The look runs at the input's rate divided by a whole number, at or just above this.
const LOOK_RATE: f64 = 8000.0;
/// Lowest and highest voice pitch looked for, in Hz.
const MIN_PITCH_HZ: f64 = 65.0;
const MAX_PITCH_HZ: f64 = 420.0;
/// Shortest comparison window of the pitch search, in seconds: shorter candidates are not
/// judged.
const MIN_PITCH_WINDOW_SECONDS: f64 = 0.010;
/// The pitch search takes the first lag whose normalised difference falls below this.
const PITCH_THRESHOLD: f64 = 0.3;
/// How far a tone's spectral peak may lie from the measured frequency, in Hz.
const PEAK_SEARCH_HZ: f64 = 15.0;
/// The band either side of each tone searched for a rival peak, in Hz: beyond a key's own
/// main lobe, within a voice's nearest harmonics.
const RIVAL_BAND_HZ: (f64, f64) = (25.0, 150.0);

/// Below this share of the signal's energy, what the tones leave is not judged (40 dB down).
const RESIDUAL_FLOOR: f64 = 1e-4;

/// What the second look found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoiceLook {
    /// How periodic the signal is once the two tones are taken out, from 0 (noise, silence)
    /// to 1 (a sustained vowel).
    pub voicing: f32,
    /// How far the tones lie from the nearest harmonics of that signal's pitch, in harmonic
    /// spacings (the worse tone): 0 on a harmonic, 0.5 midway between two.
    pub harmonic_offset: f32,
    /// The strongest peak of that signal within 25-150 Hz of a tone, relative to the tone, in
    /// dB: a tone among louder neighbours is one of many partials.
    pub rival_db: f32,
}

/// Looks at `samples` at `rate` Hz for tones at `freqs`.
pub(crate) fn look(samples: &[f32], rate: f64, freqs: [f64; 2]) -> VoiceLook {
    // at higher rates, the mean of each run of samples brings the look down to about 8 kHz:
    // everything it needs is below 2 kHz, and its cost grows with the square of the rate
    let factor = ((rate / LOOK_RATE).floor() as usize).max(1);
    let rate = rate / factor as f64;
    let x: Vec<f64> = samples
        .chunks_exact(factor)
        .map(|run| run.iter().map(|&s| f64::from(s)).sum::<f64>() / factor as f64)
        .collect();
    let residual = without_tones(&x, rate, freqs);
    let energy: f64 = x.iter().map(|s| s * s).sum();
    let left: f64 = residual.iter().map(|s| s * s).sum();
    let window = hann(x.len());
    let windowed: Vec<f64> = x.iter().zip(&window).map(|(x, w)| x * w).collect();
    let windowed_residual: Vec<f64> = residual.iter().zip(&window).map(|(x, w)| x * w).collect();

    let mut rival_db = f64::NEG_INFINITY;
    for f in freqs {
        let tone = magnitude(&windowed, rate, f);
        // half the analysis resolution: a Hann window's main lobe is four times as wide
        let step = rate / x.len().max(1) as f64 / 2.0;
        for side in [-1.0, 1.0] {
            let mut d = RIVAL_BAND_HZ.0;
            while d <= RIVAL_BAND_HZ.1 {
                let rival = magnitude(&windowed_residual, rate, f + side * d);
                if tone > 0.0 && rival > 0.0 {
                    rival_db = rival_db.max(20.0 * (rival / tone).log10());
                }
                d += step;
            }
        }
    }

    // tones with almost nothing beside them have no voice to belong to
    let pitch = if left > RESIDUAL_FLOOR * energy {
        pitch(&residual, rate)
    } else {
        None
    };
    let (voicing, harmonic_offset) = match pitch {
        Some((pitch_hz, aperiodicity)) => {
            let offset = freqs
                .map(|f| peak(&windowed, rate, f))
                .iter()
                .map(|f| {
                    let h = f / pitch_hz;
                    (h - h.round()).abs()
                })
                .fold(0.0, f64::max);
            ((1.0 - aperiodicity).clamp(0.0, 1.0), offset)
        }
        None => (0.0, 0.5),
    };
    VoiceLook {
        voicing: voicing as f32,
        harmonic_offset: harmonic_offset as f32,
        rival_db: if rival_db.is_finite() {
            rival_db as f32
        } else {
            -100.0
        },
    }
}

/// `x` less its least-squares fit of two sinusoids at `freqs`.
fn without_tones(x: &[f64], rate: f64, freqs: [f64; 2]) -> Vec<f64> {
    // the cosine and sine of each tone at every sample, by rotating a phasor
    let steps = freqs.map(|f| Complex::unit(TAU * f / rate));
    let mut phasors = [Complex::new(1.0, 0.0); 2];
    let basis: Vec<[f64; 4]> = x
        .iter()
        .map(|_| {
            let b = [phasors[0].re, phasors[0].im, phasors[1].re, phasors[1].im];
            for (p, s) in phasors.iter_mut().zip(steps) {
                *p = *p * s;
            }
            b
        })
        .collect();
    let mut gram = [[0.0f64; 4]; 4];
    let mut rhs = [0.0f64; 4];
    for (b, &s) in basis.iter().zip(x) {
        for i in 0..4 {
            rhs[i] += b[i] * s;
            for j in 0..4 {
                gram[i][j] += b[i] * b[j];
            }
        }
    }
    let Some(c) = solve(gram, rhs) else {
        return x.to_vec();
    };
    basis
        .iter()
        .zip(x)
        .map(|(b, &s)| s - b.iter().zip(c).map(|(b, c)| b * c).sum::<f64>())
        .collect()
}

/// Solves a 4x4 system by Gaussian elimination with partial pivoting; `None` if singular.
fn solve(mut a: [[f64; 4]; 4], mut b: [f64; 4]) -> Option<[f64; 4]> {
    let scale = (0..4).map(|i| a[i][i].abs()).fold(0.0, f64::max);
    for col in 0..4 {
        let pivot = (col..4).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() <= 1e-9 * scale {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let top = a[col];
        for row in col + 1..4 {
            let k = a[row][col] / top[col];
            for (x, t) in a[row].iter_mut().zip(top).skip(col) {
                *x -= k * t;
            }
            b[row] -= k * b[col];
        }
    }
    let mut x = [0.0; 4];
    for row in (0..4).rev() {
        let tail: f64 = (row + 1..4).map(|j| a[row][j] * x[j]).sum();
        x[row] = (b[row] - tail) / a[row][row];
    }
    Some(x)
}

/// A Hann window of `n` samples.
fn hann(n: usize) -> Vec<f64> {
    let m = n.max(2) as f64 - 1.0;
    (0..n)
        .map(|i| 0.5 - 0.5 * (TAU * i as f64 / m).cos())
        .collect()
}

/// Magnitude of the DTFT of `x` at `freq`, by Goertzel's recursion.
fn magnitude(x: &[f64], rate: f64, freq: f64) -> f64 {
    let w = TAU * freq / rate;
    let coefficient = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s0 = v + coefficient * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coefficient * s1 * s2).max(0.0).sqrt()
}

/// The frequency of the strongest spectral peak of windowed `x` within `PEAK_SEARCH_HZ` of
/// `freq`: on a grid of a quarter of the analysis resolution, refined by a parabola through
/// the best point and its neighbours in dB.
fn peak(x: &[f64], rate: f64, freq: f64) -> f64 {
    let step = rate / x.len().max(1) as f64 / 4.0;
    let steps = (PEAK_SEARCH_HZ / step).ceil() as i32;
    let db = |f: f64| 20.0 * magnitude(x, rate, f).max(1e-300).log10();
    let Some((best, level)) = (-steps..=steps)
        .map(|i| freq + f64::from(i) * step)
        .map(|f| (f, db(f)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return freq;
    };
    let (below, above) = (db(best - step), db(best + step));
    let curvature = below - 2.0 * level + above;
    if curvature < 0.0 {
        best + step * (0.5 * (below - above) / curvature).clamp(-1.0, 1.0)
    } else {
        best
    }
}

/// The pitch of `x` in Hz and its aperiodicity (0 for a perfectly periodic signal, about 1
/// for noise), by the cumulative mean normalised difference (de Cheveigné and Kawahara's YIN):
/// the first lag in the pitch range whose normalised difference dips below
/// `PITCH_THRESHOLD`, else the lowest. `None` when `x` is too short or silent.
fn pitch(x: &[f64], rate: f64) -> Option<(f64, f64)> {
    let min_lag = (rate / MAX_PITCH_HZ) as usize;
    let max_lag = (rate / MIN_PITCH_HZ) as usize + 2;
    let window = x.len().checked_sub(max_lag)?;
    if (window as f64) < MIN_PITCH_WINDOW_SECONDS * rate {
        return None;
    }
    let energy: f64 = x[..window].iter().map(|s| s * s).sum();
    if energy <= 0.0 {
        return None;
    }
    let difference: Vec<f64> = (0..=max_lag)
        .map(|lag| {
            x[..window]
                .iter()
                .zip(&x[lag..lag + window])
                .map(|(a, b)| (a - b) * (a - b))
                .sum()
        })
        .collect();
    let mut normalised = vec![1.0; difference.len()];
    let mut running = 0.0;
    for lag in 1..difference.len() {
        running += difference[lag];
        normalised[lag] = if running > 0.0 {
            difference[lag] * lag as f64 / running
        } else {
            1.0
        };
    }
    let dip = (min_lag.max(1)..max_lag).find(|&lag| {
        normalised[lag] < PITCH_THRESHOLD
            && normalised[lag] <= normalised[lag - 1]
            && normalised[lag] <= normalised[lag + 1]
    });
    let lag = dip.or_else(|| {
        (min_lag.max(1)..max_lag).min_by(|&a, &b| normalised[a].total_cmp(&normalised[b]))
    })?;
    let (a, b, c) = (normalised[lag - 1], normalised[lag], normalised[lag + 1]);
    if !b.is_finite() {
        return None;
    }
    let curvature = a - 2.0 * b + c;
    let offset = if curvature != 0.0 {
        (0.5 * (a - c) / curvature).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    Some((rate / (lag as f64 + offset), b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: f64 = 8000.0;

    /// A vowel-like comb: every harmonic of `pitch` from 200 Hz to 3 kHz, equal in level,
    /// phases spread so that the waveform is not a pulse train.
    fn comb(pitch: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| {
                let t = i as f64 / RATE;
                (1..)
                    .map(|k| f64::from(k) * pitch)
                    .take_while(|&f| f < 3000.0)
                    .filter(|&f| f >= 200.0)
                    .enumerate()
                    .map(|(k, f)| 0.05 * (TAU * f * t + k as f64 * k as f64 * 0.7).sin())
                    .sum()
            })
            .collect()
    }

    fn tone(freq: f64, amp: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| amp * (TAU * freq * i as f64 / RATE + 0.3).sin())
            .collect()
    }

    fn mix(parts: &[Vec<f64>]) -> Vec<f32> {
        (0..parts[0].len())
            .map(|i| parts.iter().map(|p| p[i]).sum::<f64>() as f32)
            .collect()
    }

    /// The key `5` (770 and 1336 Hz) over a voice at 140 Hz, whose harmonics it falls between
    /// (770 / 140 = 5.5 and 1336 / 140 = 9.54).
    fn key_between_harmonics(n: usize) -> Vec<f32> {
        mix(&[comb(140.0, n), tone(770.0, 0.2, n), tone(1336.0, 0.2, n)])
    }

    #[test]
    fn two_harmonics_of_a_voice_sit_on_its_comb() {
        // pitch 110 Hz: the 7th harmonic is 770 Hz, the 12th lies 1.2 % below 1336 Hz
        let n = 480;
        let voice = comb(110.0, n);
        let loud = mix(&[voice, tone(770.0, 0.2, n), tone(1320.0, 0.2, n)]);
        let look = look(&loud, RATE, [770.0, 1320.0]);
        assert!(look.voicing > 0.8, "{look:?}");
        assert!(look.harmonic_offset < 0.05, "{look:?}");
    }

    #[test]
    fn a_key_between_a_voices_harmonics_is_off_its_comb() {
        let look = look(&key_between_harmonics(480), RATE, [770.0, 1336.0]);
        assert!(look.voicing > 0.8, "{look:?}");
        assert!(look.harmonic_offset > 0.4, "{look:?}");
        assert!(look.rival_db < -6.0, "{look:?}");
    }

    #[test]
    fn a_higher_rate_is_looked_at_as_8_khz() {
        // the voice and key of the test above at 48 kHz, each sample held six times
        let keyed = key_between_harmonics(480);
        let held: Vec<f32> = keyed.iter().flat_map(|&s| [s; 6]).collect();
        let look = look(&held, 6.0 * RATE, [770.0, 1336.0]);
        assert!(look.voicing > 0.8, "{look:?}");
        assert!(look.harmonic_offset > 0.4, "{look:?}");
    }

    #[test]
    fn a_key_alone_leaves_nothing_voiced() {
        let n = 400;
        let key = mix(&[tone(852.0, 0.2, n), tone(1477.0, 0.2, n)]);
        let look = look(&key, RATE, [852.0, 1477.0]);
        assert!(look.voicing < 0.2, "{look:?}");
    }

    #[test]
    fn a_tone_among_louder_partials_has_a_rival() {
        // partials 30 Hz apart, the middle one weaker than its neighbours
        let n = 600;
        let partials: Vec<Vec<f64>> = [822.0, 852.0, 882.0, 1306.0, 1336.0, 1366.0]
            .iter()
            .enumerate()
            .map(|(i, &f)| tone(f, if i % 3 == 1 { 0.1 } else { 0.2 }, n))
            .collect();
        let look = look(&mix(&partials), RATE, [852.0, 1336.0]);
        assert!(look.rival_db > 3.0, "{look:?}");
    }

    #[test]
    fn short_or_silent_input_is_not_judged_voiced() {
        assert_eq!(look(&[0.0; 400], RATE, [697.0, 1209.0]).voicing, 0.0);
        assert_eq!(look(&[0.1; 50], RATE, [697.0, 1209.0]).voicing, 0.0);
        assert_eq!(look(&[], RATE, [697.0, 1209.0]).voicing, 0.0);
        // broken input gives a neutral look, never a NaN that would slip past the score
        let broken = look(&[f32::NAN; 400], RATE, [697.0, 1209.0]);
        assert_eq!(broken.voicing, 0.0);
        assert!(broken.rival_db.is_finite() && broken.harmonic_offset.is_finite());
    }
}
