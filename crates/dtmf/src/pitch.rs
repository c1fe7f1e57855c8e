//! The pitch of the sound under a candidate's tones, and whether the tones sit on its
//! harmonics.
//!
//! A voice taken for a key is two of its own harmonics: with the two tones removed, what is
//! left is the rest of the same voice, periodic at a pitch of which both tones are whole
//! multiples. A key pressed over a prompt is two tones the prompt's pitch knows nothing
//! about: they fall anywhere between its harmonics.

use crate::complex::Complex;
use crate::design::solve;

/// Pitches looked for: a deep voice's to a child's.
const MIN_PITCH_HZ: f64 = 65.0;
const MAX_PITCH_HZ: f64 = 420.0;
/// The first dip of the normalised difference below this is the period: the lags of two and
/// three periods dip as deep, and the first is the pitch.
const DIP: f64 = 0.3;
/// Fewest samples compared at every lag for a pitch to be looked for.
const MIN_COMPARED: usize = 80;
/// The band below the tones a voice must be heard in: below 500 Hz, which holds the
/// fundamental of every voice looked for, and 200 Hz under the lowest DTMF tone.
const LOW_BAND_HZ: f64 = 500.0;
/// Share of the whole power that must lie in that band, the tones taken out, for the pitch
/// under the tones to mean anything (20 dB under the whole).
const MIN_SHARE_UNDER: f64 = 0.01;

/// The pitch of a stretch of sound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pitch {
    pub(crate) hz: f64,
    /// The normalised difference at the period: 0 for a perfectly periodic sound, near 1
    /// for noise.
    pub(crate) aperiodicity: f64,
}

/// Highest harmonic of the pitch a tone may be for its place on the comb to mean anything. A
/// voice's pitch glides by a few per cent over the 100 ms it is measured on, and at the 20th
/// harmonic 2.5 % smears the comb by half a harmonic. Under a low pitch (a bass note under a
/// chord in the talk-off music, 65 Hz, its comb 25 harmonics up at 1.6 kHz) the tones would
/// lie on it or off it by chance. No key on seeds 1-10 of the barge-in sets had a tone
/// beyond this count whose place on the comb decided it.
const MAX_HARMONIC: f64 = 20.0;

/// How far from a whole harmonic of `pitch` the farther of the two tones at `freqs` is, in
/// harmonics: 0 when both sit on the voice's comb, up to 0.5 halfway between two harmonics.
/// `None` when a tone lies beyond the `MAX_HARMONIC`th harmonic, where the comb is too
/// dense to tell.
pub(crate) fn harmonic_deviation(freqs: [f64; 2], pitch: &Pitch) -> Option<f64> {
    let harmonics = freqs.map(|f| f / pitch.hz);
    if harmonics.iter().any(|&n| n > MAX_HARMONIC) {
        return None;
    }
    Some(
        harmonics
            .iter()
            .map(|n| (n - n.round()).abs())
            .fold(0.0, f64::max),
    )
}

/// The pitch of the sound under two tones at `freqs` (in Hz) in `samples`, which it
/// overwrites with that sound: the tones are taken out. `None` when the stretch is too short
/// for a pitch (see `pitch`), or when the sound under the tones has too little power below
/// them, where a voice's fundamental and first harmonics lie: what is left of a key over
/// quiet noise is the tones' own remains, or a codec's distortion of them, which repeats at
/// some common period of the two tones and would pass for a voice whose harmonics they are.
pub(crate) fn pitch_under_tones(samples: &mut [f32], freqs: [f64; 2], rate: f64) -> Option<Pitch> {
    if samples.len() < shortest_stretch(rate) {
        return None;
    }
    let power = |x: &[f32]| x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
    let before = power(samples);
    remove_tones(samples, freqs, rate);
    let mut low = samples.to_vec();
    low_pass(&mut low, LOW_BAND_HZ, rate);
    if power(&low) < MIN_SHARE_UNDER * before {
        return None;
    }
    pitch(samples, rate)
}

/// Takes the two tones at `freqs` (in Hz) out of `samples`: the least-squares fit of two
/// sinusoids of constant amplitude and phase is subtracted. Each real tone is a pair of
/// complex exponentials, at its frequency and its negative; fitted together, their amplitudes
/// come out conjugate and their sum real.
fn remove_tones(samples: &mut [f32], freqs: [f64; 2], rate: f64) {
    let steps = [freqs[0], -freqs[0], freqs[1], -freqs[1]]
        .map(|f| Complex::unit(std::f64::consts::TAU * f / rate));
    let advance = |phasors: &mut [Complex; 4]| {
        for (p, step) in phasors.iter_mut().zip(steps) {
            *p = *p * step;
        }
    };
    let mut gram = vec![vec![Complex::default(); 4]; 4];
    let mut projection = vec![Complex::default(); 4];
    let mut phasors = [Complex::new(1.0, 0.0); 4];
    for &x in samples.iter() {
        for ((row, p), bj) in gram.iter_mut().zip(&mut projection).zip(phasors) {
            *p = *p + bj.conj().scale(f64::from(x));
            for (g, &bk) in row.iter_mut().zip(&phasors) {
                *g = *g + bj.conj() * bk;
            }
        }
        advance(&mut phasors);
    }
    // four distinct frequencies over a pitch's worth of samples: the Gram matrix is well
    // conditioned (`pitch_under_tones` never passes fewer)
    let amplitudes = solve(gram, projection);
    let mut phasors = [Complex::new(1.0, 0.0); 4];
    for x in samples.iter_mut() {
        let tones = amplitudes
            .iter()
            .zip(phasors)
            .fold(0.0, |sum, (&a, b)| sum + (a * b).re);
        *x -= tones as f32;
        advance(&mut phasors);
    }
}

/// Filters `samples` in place with a 4th-order Butterworth low-pass at `cutoff` Hz (two
/// biquad sections).
fn low_pass(samples: &mut [f32], cutoff: f64, rate: f64) {
    let w = std::f64::consts::TAU * cutoff / rate;
    // the two sections' quality factors: 1 / (2 cos(pi/8)) and 1 / (2 cos(3 pi/8))
    for q in [0.541_196_100_146_197, 1.306_562_964_876_376_6] {
        let alpha = w.sin() / (2.0 * q);
        let a0 = 1.0 + alpha;
        let b1 = (1.0 - w.cos()) / a0;
        let b0 = b1 / 2.0;
        let (a1, a2) = (-2.0 * w.cos() / a0, (1.0 - alpha) / a0);
        let (mut x1, mut x2, mut y1, mut y2) = (0.0f64, 0.0, 0.0, 0.0);
        for v in samples.iter_mut() {
            let x = f64::from(*v);
            let y = b0 * x + b1 * x1 + b0 * x2 - a1 * y1 - a2 * y2;
            (x2, x1, y2, y1) = (x1, x, y1, y);
            *v = y as f32;
        }
    }
}

/// The pitch of `samples`, from the cumulative-mean-normalised difference of the signal with
/// itself at every lag (the YIN method): the period is the first lag at which the signal
/// nearly repeats, refined between samples. `None` when the stretch is too short to compare
/// a whole period of the lowest pitch, or silent.
fn pitch(samples: &[f32], rate: f64) -> Option<Pitch> {
    if samples.len() < shortest_stretch(rate) {
        return None;
    }
    let longest = longest_lag(rate);
    let shortest = ((rate / MAX_PITCH_HZ) as usize).max(2);
    let compared = samples.len() - longest;
    // difference[lag]: the energy of the signal less itself `lag` samples on
    let mut difference = vec![0.0f64; longest + 1];
    let head = &samples[..compared];
    for (lag, d) in difference.iter_mut().enumerate().skip(1) {
        *d = squared_difference(head, &samples[lag..lag + compared]);
    }
    // normalised by the mean difference over the shorter lags: 1 for noise, near 0 at a
    // period
    let mut normalised = vec![1.0f64; longest + 1];
    let mut running = 0.0;
    for lag in 1..=longest {
        running += difference[lag];
        normalised[lag] = if running > 0.0 {
            difference[lag] * lag as f64 / running
        } else {
            1.0
        };
    }
    if running <= 0.0 {
        return None;
    }
    let dips = shortest..longest;
    let period = dips
        .clone()
        .find(|&lag| {
            normalised[lag] < DIP
                && normalised[lag] <= normalised[lag - 1]
                && normalised[lag] <= normalised[lag + 1]
        })
        .or_else(|| dips.min_by(|&a, &b| normalised[a].total_cmp(&normalised[b])))?;
    // the parabola through the dip and its neighbours
    let (before, at, after) = (
        normalised[period - 1],
        normalised[period],
        normalised[period + 1],
    );
    let curvature = before - 2.0 * at + after;
    let offset = if curvature > 0.0 {
        (0.5 * (before - after) / curvature).clamp(-0.5, 0.5)
    } else {
        0.0
    };
    Some(Pitch {
        hz: rate / (period as f64 + offset),
        aperiodicity: at,
    })
}

/// The longest lag compared: a period of the lowest pitch, and one more for refining a dip
/// at it.
fn longest_lag(rate: f64) -> usize {
    (rate / MIN_PITCH_HZ) as usize + 2
}

/// The fewest samples a pitch is looked for in: every lag compared over `MIN_COMPARED`.
fn shortest_stretch(rate: f64) -> usize {
    longest_lag(rate) + MIN_COMPARED
}

/// The sum of squared differences of two equally long slices, in lanes the compiler can
/// vectorise.
fn squared_difference(a: &[f32], b: &[f32]) -> f64 {
    const LANES: usize = 8;
    let mut lanes = [0.0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for ((l, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *l += (x - y) * (x - y);
        }
    }
    f64::from(lanes.iter().sum::<f32>() + tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: f64 = 8000.0;

    fn tone(f: f64, amplitude: f64, phase: f64, n: usize) -> impl Iterator<Item = f64> {
        (0..n).map(move |i| amplitude * (std::f64::consts::TAU * f * i as f64 / RATE + phase).sin())
    }

    /// A voice-like sound: harmonics 1 to 15 of `f0`, falling 3 dB per harmonic.
    fn voice(f0: f64, n: usize) -> Vec<f64> {
        let mut x = vec![0.0; n];
        for h in 1..=15 {
            let f = f0 * f64::from(h);
            if f >= RATE / 2.0 {
                break;
            }
            let amplitude = 0.1 * 10f64.powf(-0.15 * f64::from(h - 1));
            for (x, t) in x.iter_mut().zip(tone(f, amplitude, 0.3 * f64::from(h), n)) {
                *x += t;
            }
        }
        x
    }

    /// A key's two tones at `freqs` (0.3 and 0.25 of full scale) over `under`.
    fn keyed(freqs: [f64; 2], under: &[f64]) -> Vec<f32> {
        let n = under.len();
        tone(freqs[0], 0.3, 1.0, n)
            .zip(tone(freqs[1], 0.25, 2.0, n))
            .zip(under)
            .map(|((a, b), v)| (a + b + v) as f32)
            .collect()
    }

    #[test]
    fn finds_the_pitch_of_a_harmonic_sound_and_not_its_octave() {
        for f0 in [80.0, 123.4, 210.0, 380.0] {
            let x: Vec<f32> = voice(f0, 800).iter().map(|&v| v as f32).collect();
            let p = pitch(&x, RATE).expect("long enough");
            assert!((p.hz - f0).abs() < 0.01 * f0, "{f0} Hz measured {}", p.hz);
            assert!(
                p.aperiodicity < 0.1,
                "{f0} Hz: aperiodicity {}",
                p.aperiodicity
            );
        }
    }

    #[test]
    fn too_short_or_silent_has_no_pitch() {
        assert_eq!(pitch(&[0.1; 150], RATE), None);
        assert_eq!(pitch(&[0.0; 800], RATE), None);
        assert_eq!(
            pitch_under_tones(&mut [0.1; 150], [852.0, 1209.0], RATE),
            None
        );
    }

    #[test]
    fn the_tones_come_out_and_the_rest_stays() {
        let n = 800;
        let under = voice(130.0, n);
        let mut residual = keyed([852.0, 1209.0], &under);
        remove_tones(&mut residual, [852.0, 1209.0], RATE);
        // the voice has harmonics near both tones, which a fit over 100 ms barely touches
        let error: f64 = residual
            .iter()
            .zip(&under)
            .map(|(&r, &v)| (f64::from(r) - v).powi(2))
            .sum();
        let power: f64 = under.iter().map(|v| v * v).sum();
        assert!(
            error < 0.01 * power,
            "left {:.4} of the voice's power",
            error / power
        );
        // a clean key leaves next to nothing
        let mut clean = keyed([852.0, 1209.0], &vec![0.0; n]);
        assert_eq!(pitch_under_tones(&mut clean, [852.0, 1209.0], RATE), None);
    }

    #[test]
    fn a_key_over_a_voice_is_off_its_comb_and_the_voice_s_own_harmonics_are_on_it() {
        let n = 800;
        let under = voice(118.0, n);
        let mut residual = keyed([852.0, 1336.0], &under);
        let p = pitch_under_tones(&mut residual, [852.0, 1336.0], RATE).expect("a voice under");
        // 852 / 118 = 7.22 and 1336 / 118 = 11.32 harmonics
        let off = harmonic_deviation([852.0, 1336.0], &p).expect("11 harmonics up at most");
        assert!((off - 0.32).abs() < 0.03, "{off}");
        // the voice's 7th and 11th harmonics taken for a key's tones
        let mut own: Vec<f32> = under.iter().map(|&v| v as f32).collect();
        let harmonics = [7.0 * 118.0, 11.0 * 118.0];
        let p = pitch_under_tones(&mut own, harmonics, RATE).expect("the rest of the voice");
        assert!(harmonic_deviation(harmonics, &p).is_some_and(|off| off < 0.03));
        // a bass note's comb, 25 harmonics up at 1633 Hz, is too dense to place a tone on
        let bass = Pitch {
            hz: 65.3,
            aperiodicity: 0.2,
        };
        assert_eq!(harmonic_deviation([927.7, 1656.6], &bass), None);
        assert!(harmonic_deviation([927.7, 1209.0], &bass).is_some());
    }
}
