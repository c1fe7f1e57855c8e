//! Speech-like sound without a speech engine, byte for byte the same on every machine.
//!
//! A formant synthesiser in the manner of Klatt's cascade: a glottal pulse train with falling
//! intonation and jitter, through three resonators whose frequencies glide between vowel
//! targets (Peterson and Barney's averages), with unvoiced fricatives before some syllables,
//! in phrases separated by pauses. It is not intelligible, but it has what a voice-activity
//! detector listens for: voicing at 90-250 Hz, formant movement at the syllable rate (about
//! four to six a second), noise bursts and pauses. For committed fixtures and tests that must
//! not depend on espeak-ng's version; evaluations use espeak-ng's real voices.

use crate::{Rng, set_active_level};

const RATE: f64 = 8000.0;
/// F1, F2, F3 of five vowels (Hz), averages of adult speakers.
const VOWELS: [[f64; 3]; 5] = [
    [730.0, 1090.0, 2440.0], // a
    [530.0, 1840.0, 2480.0], // e
    [270.0, 2290.0, 3010.0], // i
    [570.0, 840.0, 2410.0],  // o
    [300.0, 870.0, 2240.0],  // u
];
/// Formant bandwidths (Hz).
const BANDWIDTHS: [f64; 3] = [70.0, 100.0, 150.0];

/// A speaker: the mean pitch of their voice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Voice {
    /// Mean fundamental frequency in Hz (about 90-130 for low voices, 180-250 for high ones).
    pub pitch_hz: f64,
}

/// `seconds` of talk by `voice` at an active level of `dbm0`: phrases of 0.8-2.2 s with pauses
/// of 250-550 ms between them. Sound starts at the first sample and ends at the last.
pub fn talk(voice: Voice, seconds: f64, dbm0: f64, rng: &mut Rng) -> Vec<f32> {
    let total = (seconds * RATE) as usize;
    let mut out = Vec::with_capacity(total);
    while out.len() < total {
        if !out.is_empty() {
            let pause = (rng.uniform(0.25, 0.55) * RATE) as usize;
            out.resize((out.len() + pause).min(total), 0.0);
        }
        let left = total - out.len();
        let phrase = ((rng.uniform(0.8, 2.2) * RATE) as usize).min(left);
        if phrase < (0.3 * RATE) as usize {
            break;
        }
        out.extend(self::phrase(voice, phrase, rng));
    }
    // end on sound, not on a pause
    while out.last().is_some_and(|&x| x == 0.0) {
        out.pop();
    }
    set_active_level(&mut out, RATE as u32, dbm0);
    out
}

/// One phrase of `len` samples: syllables with falling intonation.
fn phrase(voice: Voice, len: usize, rng: &mut Rng) -> Vec<f32> {
    let mut out = Vec::with_capacity(len);
    let mut formants = VOWELS[rng.below(0, VOWELS.len())];
    let mut state = Source::default();
    while out.len() < len {
        if rng.chance(0.4) {
            let fricative = (rng.uniform(0.06, 0.12) * RATE) as usize;
            out.extend(noise_burst(fricative.min(len - out.len()), rng));
        }
        let syllable = ((rng.uniform(0.14, 0.26) * RATE) as usize).min(len - out.len());
        if syllable == 0 {
            break;
        }
        let target = VOWELS[rng.below(0, VOWELS.len())];
        // intonation falls over the phrase (declination), with a rise on some syllables
        let progress = out.len() as f64 / len as f64;
        let pitch = voice.pitch_hz * (1.15 - 0.3 * progress) * rng.uniform(0.95, 1.1);
        out.extend(vowel(&mut state, formants, target, pitch, syllable, rng));
        formants = target;
    }
    out.truncate(len);
    out
}

/// The glottal source and the resonators' memory, carried from syllable to syllable.
#[derive(Default)]
struct Source {
    phase: f64,
    tilt: [f64; 2],
    memory: [[f64; 2]; 3],
}

/// A voiced syllable whose formants glide from `from` to `to`, with a smooth envelope.
fn vowel(
    state: &mut Source,
    from: [f64; 3],
    to: [f64; 3],
    pitch: f64,
    len: usize,
    rng: &mut Rng,
) -> Vec<f32> {
    let attack = (0.03 * RATE) as usize;
    let release = (0.05 * RATE) as usize;
    let mut out = Vec::with_capacity(len);
    for n in 0..len {
        let t = n as f64 / len.max(1) as f64;
        // a pulse per period, with 1 % jitter
        state.phase += pitch * (1.0 + 0.01 * rng.gaussian()) / RATE;
        let mut x = if state.phase >= 1.0 {
            state.phase -= 1.0;
            1.0
        } else {
            0.0
        };
        // two one-pole low-passes: the glottal spectrum's tilt of about -12 dB per octave
        for memory in &mut state.tilt {
            *memory = 0.9 * *memory + 0.1 * x;
            x = *memory;
        }
        for (k, memory) in state.memory.iter_mut().enumerate() {
            let frequency = from[k] + (to[k] - from[k]) * t.min(0.6) / 0.6;
            x = resonate(x, frequency, BANDWIDTHS[k], memory);
        }
        let envelope = (n as f64 / attack as f64)
            .min((len - n) as f64 / release as f64)
            .min(1.0);
        out.push((x * envelope) as f32);
    }
    out
}

/// One sample through a two-pole resonator (unity gain at 0 Hz).
fn resonate(x: f64, frequency: f64, bandwidth: f64, memory: &mut [f64; 2]) -> f64 {
    let c = -(-2.0 * std::f64::consts::PI * bandwidth / RATE).exp();
    let b = 2.0
        * (-std::f64::consts::PI * bandwidth / RATE).exp()
        * (2.0 * std::f64::consts::PI * frequency / RATE).cos();
    let a = 1.0 - b - c;
    let y = a * x + b * memory[0] + c * memory[1];
    memory[1] = memory[0];
    memory[0] = y;
    y
}

/// An unvoiced fricative: noise with its energy high in the band, rising and falling.
fn noise_burst(len: usize, rng: &mut Rng) -> Vec<f32> {
    let mut previous = 0.0;
    (0..len)
        .map(|n| {
            let white = rng.gaussian();
            // a first difference tilts the noise up, towards 2-4 kHz, like /s/ and /f/
            let hiss = white - previous;
            previous = white;
            let envelope = (std::f64::consts::PI * n as f64 / len as f64).sin();
            (0.05 * hiss * envelope) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn talk_is_repeatable_of_the_asked_level_and_ends_on_sound() {
        let voice = Voice { pitch_hz: 120.0 };
        let a = talk(voice, 4.0, -20.0, &mut Rng::new(3));
        let b = talk(voice, 4.0, -20.0, &mut Rng::new(3));
        assert_eq!(a, b);
        assert!(a.len() <= 32_000 && a.len() > 24_000, "{}", a.len());
        let level = crate::active_level(&a, 8000).expect("sound");
        assert!((level + 20.0).abs() < 0.5, "{level}");
        assert!(a[..80].iter().any(|&x| x != 0.0), "starts on sound");
        assert_ne!(*a.last().expect("samples"), 0.0);
        // pauses: some 100 ms stretch is silent
        assert!(a.chunks(800).any(|c| c.iter().all(|&x| x == 0.0)));
    }
}
