//! Synthetic music: melodies, chords and bass lines on equal-tempered scales, rendered with
//! harmonic instrument timbres, plus percussion. Hold music and prompts with music beds are a
//! classic source of DTMF talk-off, because notes are stable tones and some equal-tempered
//! notes fall within a few percent of DTMF frequencies (F5 is 698.5 Hz, F#6 is 1480 Hz).

use crate::{Rng, fade, mix, set_level};

const RATE: f64 = 8000.0;
const NYQUIST_MARGIN_HZ: f64 = 3800.0;

/// An instrument timbre.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instrument {
    /// Sustained, all harmonics falling as 1/k.
    Organ,
    /// Odd harmonics, breathy, slow vibrato.
    Clarinet,
    /// Nearly pure: fundamental, second harmonic about 8 dB down, third about 18 dB down.
    Flute,
    /// Bowed strings: sawtooth-like spectrum with vibrato.
    Strings,
    /// Struck: harmonics decaying, the higher ones faster, slightly inharmonic.
    Piano,
    /// Plucked: bright attack, fast decay.
    Guitar,
    /// Brass: strong middle harmonics.
    Brass,
    /// Inharmonic partials of a bell.
    Bell,
}

impl Instrument {
    const ALL: [Instrument; 8] = [
        Instrument::Organ,
        Instrument::Clarinet,
        Instrument::Flute,
        Instrument::Strings,
        Instrument::Piano,
        Instrument::Guitar,
        Instrument::Brass,
        Instrument::Bell,
    ];

    /// (partial ratio, relative amplitude, decay per second) of each partial.
    fn partials(self) -> Vec<(f64, f64, f64)> {
        let harmonic = |n: usize, amp: &dyn Fn(f64) -> f64, decay: &dyn Fn(f64) -> f64| {
            (1..=n)
                .map(|k| {
                    let k = k as f64;
                    (k, amp(k), decay(k))
                })
                .collect::<Vec<_>>()
        };
        match self {
            Instrument::Organ => harmonic(10, &|k| 1.0 / k, &|_| 0.0),
            Instrument::Clarinet => harmonic(
                11,
                &|k| {
                    if k as usize % 2 == 1 {
                        1.0 / k
                    } else {
                        0.05 / k
                    }
                },
                &|_| 0.0,
            ),
            Instrument::Flute => vec![(1.0, 1.0, 0.0), (2.0, 0.4, 0.0), (3.0, 0.12, 0.0)],
            Instrument::Strings => harmonic(14, &|k| 1.0 / k, &|_| 0.0),
            Instrument::Piano => harmonic(12, &|k| 1.0 / k.powf(1.3), &|k| 1.5 + 0.8 * k)
                .into_iter()
                .map(|(k, a, d)| (k * (1.0 + 0.0004 * k * k).sqrt(), a, d))
                .collect(),
            Instrument::Guitar => harmonic(12, &|k| 1.0 / k, &|k| 3.0 + 1.5 * k),
            Instrument::Brass => harmonic(12, &|k| (-(k - 3.0).powi(2) / 8.0).exp(), &|_| 0.0),
            Instrument::Bell => vec![
                (0.56, 0.6, 1.0),
                (1.0, 1.0, 1.5),
                (2.76, 0.5, 2.0),
                (5.40, 0.3, 3.0),
                (8.93, 0.2, 4.0),
            ],
        }
    }

    fn vibrato(self) -> f64 {
        match self {
            Instrument::Clarinet | Instrument::Flute => 0.003,
            Instrument::Strings => 0.006,
            _ => 0.0,
        }
    }
}

/// A note to render.
#[derive(Debug, Clone, Copy)]
struct Note {
    freq: f64,
    start: usize,
    len: usize,
    amp: f64,
}

fn render(out: &mut [f32], instrument: Instrument, note: Note, rng: &mut Rng) {
    let end = (note.start + note.len).min(out.len());
    if note.start >= end {
        return;
    }
    let mut buf = vec![0.0f32; end - note.start];
    let vibrato = instrument.vibrato();
    let vib_rate = rng.uniform(4.5, 6.5);
    let vib_phase = rng.phase();
    for (ratio, amp, decay) in instrument.partials() {
        let f = note.freq * ratio;
        if f > NYQUIST_MARGIN_HZ {
            continue;
        }
        let mut phase = rng.phase();
        for (i, x) in buf.iter_mut().enumerate() {
            let t = i as f64 / RATE;
            let inst =
                f * (1.0 + vibrato * (std::f64::consts::TAU * vib_rate * t + vib_phase).sin());
            phase += std::f64::consts::TAU * inst / RATE;
            *x += (amp * (-decay * t).exp() * phase.sin()) as f32;
        }
    }
    fade(&mut buf, 80);
    mix(out, note.start, &buf, note.amp as f32);
}

fn percussion(out: &mut [f32], beat: usize, rng: &mut Rng) {
    let mut pos = 0;
    while pos < out.len() {
        let len = rng.below(400, 1600);
        let kick = rng.chance(0.5);
        let mut hit = vec![0.0f32; len];
        let mut lp = 0.0f64;
        for (i, x) in hit.iter_mut().enumerate() {
            let env = (-(i as f64) / (len as f64 / 5.0)).exp();
            if kick {
                // pitch-dropping sine
                let f = 60.0 + 120.0 * (-(i as f64) / 300.0).exp();
                *x = (env * (std::f64::consts::TAU * f * i as f64 / RATE).sin()) as f32;
            } else {
                lp = 0.6 * lp + 0.4 * rng.gaussian();
                *x = (env * (rng.gaussian() - lp) * 0.5) as f32;
            }
        }
        mix(out, pos, &hit, 0.6);
        pos += beat;
    }
}

/// `seconds` of a random piece of music at 8 kHz, at a random level from -24 to -12 dBm0.
pub fn generate(seconds: f64, rng: &mut Rng) -> Vec<f32> {
    let len = (seconds * RATE) as usize;
    let mut out = vec![0.0f32; len];
    let scales: [&[i32]; 4] = [
        &[0, 2, 4, 5, 7, 9, 11],
        &[0, 2, 3, 5, 7, 8, 10],
        &[0, 2, 4, 7, 9],
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    ];
    let scale = *rng.pick(&scales);
    let a4 = 440.0 * 2f64.powf(rng.uniform(-20.0, 20.0) / 1200.0);
    let root = rng.below(0, 12) as i32;
    let beat = (RATE * 60.0 / rng.uniform(60.0, 180.0)) as usize;
    let pitch = |degree: i32, octave: i32| {
        let n = scale.len() as i32;
        let semis = scale[degree.rem_euclid(n) as usize] + 12 * (octave + degree.div_euclid(n));
        // semitones from A4
        a4 * 2f64.powf(f64::from(root + semis - 9) / 12.0)
    };

    // melody, one to two octaves above middle C
    let melody = *rng.pick(&Instrument::ALL);
    let mut pos = 0;
    let mut degree = rng.below(0, 7) as i32;
    while pos < len {
        let beats = *rng.pick(&[1usize, 1, 1, 2, 2, 3, 4]);
        let dur = beats * beat / 2;
        degree += rng.below(0, 5) as i32 - 2;
        let octave = 1 + rng.below(0, 2) as i32;
        let note = Note {
            freq: pitch(degree, octave),
            start: pos,
            len: dur,
            amp: rng.uniform(0.6, 1.0),
        };
        render(&mut out, melody, note, rng);
        pos += dur;
    }
    // chords and bass
    let pad = *rng.pick(&Instrument::ALL);
    let mut pos = 0;
    while pos < len {
        let dur = beat * *rng.pick(&[2usize, 4, 4, 8]);
        let chord_root = rng.below(0, 7) as i32;
        for step in [0, 2, 4] {
            let note = Note {
                freq: pitch(chord_root + step, 0),
                start: pos,
                len: dur,
                amp: 0.35,
            };
            render(&mut out, pad, note, rng);
        }
        let bass = Note {
            freq: pitch(chord_root, -2),
            start: pos,
            len: dur,
            amp: 0.5,
        };
        render(&mut out, Instrument::Guitar, bass, rng);
        pos += dur;
    }
    if rng.chance(0.5) {
        percussion(&mut out, beat, rng);
    }
    set_level(&mut out, rng.uniform(-24.0, -12.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{dbm0_from_mean_square, mean_square};

    #[test]
    fn music_is_deterministic_and_at_a_telephone_level() {
        let a = generate(3.0, &mut Rng::new(11));
        let b = generate(3.0, &mut Rng::new(11));
        assert_eq!(a, b);
        let level = dbm0_from_mean_square(mean_square(&a));
        assert!((-24.5..=-11.5).contains(&level), "{level}");
    }
}
