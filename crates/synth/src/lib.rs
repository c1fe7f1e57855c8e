//! Deterministic test signals for callscore.
//!
//! Every signal here is made from a seed, so a test, a benchmark or a corpus built from it is
//! the same on every machine. Levels follow the G.711 convention that telephony uses: a sine at
//! digital full scale (amplitude 1.0 here, 32767 as 16-bit PCM) is +3.14 dBm0.
//!
//! This crate is deliberately independent of `callscore-dtmf`: it carries its own DTMF
//! frequency table, so the detector's tests compare it against a separate statement of the
//! standard rather than against itself.
//!
//! ```
//! use callscore_synth::{Digit, Rng, add_digit, noise};
//!
//! let mut rng = Rng::new(7);
//! let mut signal = vec![0.0f32; 8000];
//! add_digit(&mut signal, 8000, &Digit::new('5', 800, 400).levels(-10.0, -10.0));
//! noise::white(&mut signal, -30.0, &mut rng);
//! assert_eq!(signal.len(), 8000);
//! ```

pub mod g711;
pub mod music;
pub mod noise;
pub mod progress;
pub mod voice;

use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Level of a full-scale sine in dBm0 (ITU-T G.711 convention, as spandsp uses it).
#[allow(clippy::approx_constant)] // the G.711 figure, not an approximation of pi
pub const FULL_SCALE_SINE_DBM0: f64 = 3.14;

/// DTMF row (low group) frequencies in Hz, ITU-T Q.23.
pub const ROW_HZ: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
/// DTMF column (high group) frequencies in Hz, ITU-T Q.23.
pub const COL_HZ: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

const KEYPAD: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Every DTMF key, in keypad order.
pub const KEYS: [char; 16] = [
    '1', '2', '3', 'A', '4', '5', '6', 'B', '7', '8', '9', 'C', '*', '0', '#', 'D',
];

/// The (row, column) frequencies of a key, or `None` for a character that is not a DTMF key.
pub fn key_frequencies(key: char) -> Option<(f64, f64)> {
    KEYPAD.iter().enumerate().find_map(|(row, keys)| {
        keys.iter()
            .position(|&k| k == key)
            .map(|col| (ROW_HZ[row], COL_HZ[col]))
    })
}

/// Peak amplitude of a sine at `dbm0` (full scale is 1.0).
pub fn amplitude(dbm0: f64) -> f32 {
    10f64.powf((dbm0 - FULL_SCALE_SINE_DBM0) / 20.0) as f32
}

/// The level in dBm0 of a signal with the given mean square (full scale is 1.0).
pub fn dbm0_from_mean_square(mean_square: f64) -> f64 {
    // a sine of amplitude 1 has mean square 0.5
    10.0 * (mean_square / 0.5).log10() + FULL_SCALE_SINE_DBM0
}

/// Mean square of a signal (0 for an empty one).
pub fn mean_square(signal: &[f32]) -> f64 {
    if signal.is_empty() {
        return 0.0;
    }
    signal
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        / signal.len() as f64
}

/// Scales a signal so that its mean square corresponds to `dbm0`; silence stays silent.
pub fn set_level(signal: &mut [f32], dbm0: f64) {
    let current = mean_square(signal);
    if current <= 0.0 {
        return;
    }
    let target = 0.5 * 10f64.powf((dbm0 - FULL_SCALE_SINE_DBM0) / 10.0);
    let gain = (target / current).sqrt() as f32;
    signal.iter_mut().for_each(|x| *x *= gain);
}

/// Active speech level in dBm0 after ITU-T P.56 method B: the level over the samples where
/// the speech envelope (30 ms time constant, 200 ms hangover) is above a threshold set 15.9 dB
/// below that level. Pauses do not pull it down, so it is how speech levels are stated.
/// `None` for a signal with no activity.
pub fn active_level(signal: &[f32], sample_rate: u32) -> Option<f64> {
    const MARGIN_DB: f64 = 15.9;
    let rate = f64::from(sample_rate);
    let g = (-1.0 / (0.03 * rate)).exp();
    let hangover = (0.2 * rate) as usize;
    // two-stage exponential envelope of the magnitude
    let (mut p, mut q) = (0.0f64, 0.0f64);
    let envelope: Vec<f64> = signal
        .iter()
        .map(|&x| {
            p = g * p + (1.0 - g) * f64::from(x).abs();
            q = g * q + (1.0 - g) * p;
            q
        })
        .collect();
    let energy: f64 = signal.iter().map(|&x| f64::from(x).powi(2)).sum();
    if energy <= 0.0 {
        return None;
    }
    // thresholds a factor of two apart, from full scale down
    let mut previous: Option<(f64, f64)> = None;
    for j in 0..16 {
        let threshold = 2f64.powi(-j);
        let mut active = 0usize;
        let mut hold = 0usize;
        for &e in &envelope {
            if e >= threshold {
                hold = hangover;
                active += 1;
            } else if hold > 0 {
                hold -= 1;
                active += 1;
            }
        }
        if active == 0 {
            continue;
        }
        let level = 10.0 * (energy / active as f64).log10();
        let difference = level - 20.0 * threshold.log10();
        // the difference grows as the threshold falls: stop where it crosses the margin
        if difference >= MARGIN_DB {
            let level = match previous {
                Some((prev_level, prev_diff)) if difference > prev_diff => {
                    let t = (MARGIN_DB - prev_diff) / (difference - prev_diff);
                    prev_level + t * (level - prev_level)
                }
                _ => level,
            };
            // mean square in dB over full scale, to dBm0 (a full-scale sine is 0.5)
            return Some(level - 10.0 * 0.5f64.log10() + FULL_SCALE_SINE_DBM0);
        }
        previous = Some((level, difference));
    }
    None
}

/// Scales speech so that its active level (see [`active_level`]) is `dbm0`. The thresholds
/// are fixed, so the measure is not exactly proportional to gain: a second pass corrects the
/// rest.
pub fn set_active_level(signal: &mut [f32], sample_rate: u32, dbm0: f64) {
    for _ in 0..2 {
        if let Some(level) = active_level(signal, sample_rate) {
            let gain = 10f64.powf((dbm0 - level) / 20.0) as f32;
            signal.iter_mut().for_each(|x| *x *= gain);
        }
    }
}

/// Adds `source * gain` into `target`, starting at `offset` and cut off at the end of `target`.
pub fn mix(target: &mut [f32], offset: usize, source: &[f32], gain: f32) {
    if offset >= target.len() {
        return;
    }
    for (t, s) in target[offset..].iter_mut().zip(source) {
        *t += s * gain;
    }
}

/// Hard-clips a signal to digital full scale, as a 16-bit converter would.
pub fn clip(signal: &mut [f32]) {
    signal.iter_mut().for_each(|x| *x = x.clamp(-1.0, 1.0));
}

/// Converts to 16-bit PCM with rounding and clipping.
pub fn to_i16(signal: &[f32]) -> Vec<i16> {
    signal
        .iter()
        .map(|&x| (x * 32767.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// A seeded random source; the same seed always gives the same signals.
#[derive(Debug, Clone)]
pub struct Rng(ChaCha8Rng);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(ChaCha8Rng::seed_from_u64(seed))
    }

    /// A uniform value in `[low, high)`; `low` when the range is empty.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        if high <= low {
            return low;
        }
        self.0.random_range(low..high)
    }

    /// A uniform integer in `[low, high)`; `low` when the range is empty.
    pub fn below(&mut self, low: usize, high: usize) -> usize {
        if high <= low {
            return low;
        }
        self.0.random_range(low..high)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform(0.0, 1.0) < p
    }

    /// A random phase in `[0, 2π)`.
    pub fn phase(&mut self) -> f64 {
        self.uniform(0.0, std::f64::consts::TAU)
    }

    /// A standard normal value (Box-Muller).
    pub fn gaussian(&mut self) -> f64 {
        let u1 = self.uniform(f64::MIN_POSITIVE, 1.0);
        let u2 = self.uniform(0.0, 1.0);
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(0, items.len())]
    }
}

/// Adds a sine of peak amplitude `amp` to `signal[start..start + len]` (clipped to the signal).
pub fn add_sine(
    signal: &mut [f32],
    sample_rate: u32,
    start: usize,
    len: usize,
    freq_hz: f64,
    amp: f32,
    phase: f64,
) {
    let end = (start + len).min(signal.len());
    if start >= end {
        return;
    }
    let step = std::f64::consts::TAU * freq_hz / f64::from(sample_rate);
    for (i, x) in signal[start..end].iter_mut().enumerate() {
        *x += amp * (phase + step * i as f64).sin() as f32;
    }
}

/// One DTMF key press to synthesize.
#[derive(Debug, Clone, PartialEq)]
pub struct Digit {
    /// The key (`0`-`9`, `*`, `#`, `A`-`D`).
    pub key: char,
    /// First sample of the tone.
    pub start: usize,
    /// Length of the tone in samples.
    pub len: usize,
    /// Level of the row (low group) tone in dBm0.
    pub low_dbm0: f64,
    /// Level of the column (high group) tone in dBm0.
    pub high_dbm0: f64,
    /// Relative frequency error of the row tone (0.015 is +1.5 %).
    pub low_deviation: f64,
    /// Relative frequency error of the column tone.
    pub high_deviation: f64,
    /// Additive frequency error of both tones in Hz (Q.24 states limits as "1.5 % + 2 Hz").
    pub offset_hz: f64,
    /// Starting phase of the row tone in radians.
    pub low_phase: f64,
    /// Starting phase of the column tone in radians.
    pub high_phase: f64,
}

impl Digit {
    /// A key press at -10 dBm0 per tone, nominal frequencies and zero phase.
    pub fn new(key: char, start: usize, len: usize) -> Self {
        Digit {
            key,
            start,
            len,
            low_dbm0: -10.0,
            high_dbm0: -10.0,
            low_deviation: 0.0,
            high_deviation: 0.0,
            offset_hz: 0.0,
            low_phase: 0.0,
            high_phase: 0.0,
        }
    }

    /// Sets the levels of the row and column tones in dBm0.
    pub fn levels(mut self, low_dbm0: f64, high_dbm0: f64) -> Self {
        self.low_dbm0 = low_dbm0;
        self.high_dbm0 = high_dbm0;
        self
    }

    /// Sets the relative frequency errors of the row and column tones.
    pub fn deviations(mut self, low: f64, high: f64) -> Self {
        self.low_deviation = low;
        self.high_deviation = high;
        self
    }

    /// Sets the starting phases of the two tones.
    pub fn phases(mut self, low: f64, high: f64) -> Self {
        self.low_phase = low;
        self.high_phase = high;
        self
    }

    /// Random phases for both tones.
    pub fn random_phases(self, rng: &mut Rng) -> Self {
        let (low, high) = (rng.phase(), rng.phase());
        self.phases(low, high)
    }

    /// The actual (row, column) frequencies after the deviations.
    ///
    /// # Panics
    /// If `key` is not a DTMF key: a test bug, not a runtime condition.
    pub fn frequencies(&self) -> (f64, f64) {
        let (low, high) = key_frequencies(self.key).expect("Digit::key must be a DTMF key");
        (
            low * (1.0 + self.low_deviation) + self.offset_hz,
            high * (1.0 + self.high_deviation) + self.offset_hz,
        )
    }
}

/// Adds a DTMF key press to `signal`.
pub fn add_digit(signal: &mut [f32], sample_rate: u32, digit: &Digit) {
    let (low, high) = digit.frequencies();
    add_sine(
        signal,
        sample_rate,
        digit.start,
        digit.len,
        low,
        amplitude(digit.low_dbm0),
        digit.low_phase,
    );
    add_sine(
        signal,
        sample_rate,
        digit.start,
        digit.len,
        high,
        amplitude(digit.high_dbm0),
        digit.high_phase,
    );
}

/// A raised-cosine fade applied to the first and last `ramp` samples of a sound.
pub fn fade(signal: &mut [f32], ramp: usize) {
    let ramp = ramp.min(signal.len() / 2);
    let n = signal.len();
    for i in 0..ramp {
        let g = 0.5 - 0.5 * (std::f64::consts::PI * i as f64 / ramp as f64).cos();
        signal[i] *= g as f32;
        signal[n - 1 - i] *= g as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::approx_constant)] // the G.711 figure
    fn full_scale_sine_is_3_14_dbm0() {
        let mut s = vec![0.0f32; 8000];
        add_sine(&mut s, 8000, 0, 8000, 1000.0, amplitude(3.14), 0.3);
        let level = dbm0_from_mean_square(mean_square(&s));
        assert!((level - 3.14).abs() < 0.01, "{level}");
        assert!((amplitude(3.14) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn keypad_matches_q23() {
        assert_eq!(key_frequencies('1'), Some((697.0, 1209.0)));
        assert_eq!(key_frequencies('0'), Some((941.0, 1336.0)));
        assert_eq!(key_frequencies('#'), Some((941.0, 1477.0)));
        assert_eq!(key_frequencies('D'), Some((941.0, 1633.0)));
        assert_eq!(key_frequencies('x'), None);
        assert_eq!(KEYS.iter().filter_map(|&k| key_frequencies(k)).count(), 16);
    }

    #[test]
    fn set_level_hits_target() {
        let mut rng = Rng::new(1);
        let mut s = vec![0.0f32; 16000];
        noise::white(&mut s, -20.0, &mut rng);
        set_level(&mut s, -18.0);
        assert!((dbm0_from_mean_square(mean_square(&s)) + 18.0).abs() < 0.01);
    }

    #[test]
    fn active_level_ignores_pauses() {
        // two 0.5 s noise bursts in 2 s: the long-term level is 3 dB below the bursts, the
        // active level (bursts plus hangover) within about 2 dB of them
        let mut rng = Rng::new(8);
        let mut s = vec![0.0f32; 16000];
        for start in [0, 8000] {
            let mut burst = vec![0.0f32; 4000];
            noise::pink(&mut burst, -20.0, &mut rng);
            mix(&mut s, start, &burst, 1.0);
        }
        assert!((dbm0_from_mean_square(mean_square(&s)) + 23.0).abs() < 0.1);
        let active = active_level(&s, 8000).expect("there is sound");
        assert!((-22.5..=-19.5).contains(&active), "{active}");
        for gain in [0.3f32, 2.0, 5.0] {
            let louder: Vec<f32> = s.iter().map(|x| x * gain).collect();
            let level = active_level(&louder, 8000).expect("there is sound");
            let want = active + 20.0 * f64::from(gain).log10();
            assert!((level - want).abs() < 0.5, "gain {gain}: {level} vs {want}");
        }
        set_active_level(&mut s, 8000, -18.0);
        let level = active_level(&s, 8000).expect("there is sound");
        assert!((level + 18.0).abs() < 0.3, "{level}");
        assert_eq!(active_level(&[0.0; 100], 8000), None);
    }

    #[test]
    fn same_seed_same_signal() {
        let mut a = vec![0.0f32; 1000];
        let mut b = vec![0.0f32; 1000];
        noise::pink(&mut a, -20.0, &mut Rng::new(9));
        noise::pink(&mut b, -20.0, &mut Rng::new(9));
        assert_eq!(a, b);
    }
}
