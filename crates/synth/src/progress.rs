//! Call-progress and fax tones: the non-DTMF tones a call recording is most likely to contain.
//!
//! Frequencies and cadences follow the North American precise tone plan, the common European
//! 425 Hz plan, the UK plan, ITU-T E.180 special information tones and ITU-T T.30 fax tones.

use crate::{Rng, add_sine, amplitude};

/// A call-progress or fax tone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// North American dial tone: 350 + 440 Hz, continuous.
    Dial,
    /// European dial tone: 425 Hz, continuous.
    DialEurope,
    /// North American ringback: 440 + 480 Hz, 2 s on, 4 s off.
    Ringback,
    /// UK ringback: 400 + 450 Hz, 0.4 on, 0.2 off, 0.4 on, 2 s off.
    RingbackUk,
    /// North American busy: 480 + 620 Hz, 0.5 s on, 0.5 s off.
    Busy,
    /// European busy: 425 Hz, 0.5 s on, 0.5 s off.
    BusyEurope,
    /// Reorder (fast busy): 480 + 620 Hz, 0.25 s on, 0.25 s off.
    Reorder,
    /// Special information tone: 913.8, 1370.6 and 1776.7 Hz in sequence, then silence.
    Sit,
    /// Fax calling tone (T.30 CNG): 1100 Hz, 0.5 s on, 3 s off.
    Cng,
    /// Fax answer tone (T.30 CED / V.25 ANS): 2100 Hz continuous, optionally with phase
    /// reversals every 450 ms (V.25 ANSam-like).
    Ced,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 10] = [
        Kind::Dial,
        Kind::DialEurope,
        Kind::Ringback,
        Kind::RingbackUk,
        Kind::Busy,
        Kind::BusyEurope,
        Kind::Reorder,
        Kind::Sit,
        Kind::Cng,
        Kind::Ced,
    ];

    /// A short lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Dial => "dial",
            Kind::DialEurope => "dial-eu",
            Kind::Ringback => "ringback",
            Kind::RingbackUk => "ringback-uk",
            Kind::Busy => "busy",
            Kind::BusyEurope => "busy-eu",
            Kind::Reorder => "reorder",
            Kind::Sit => "sit",
            Kind::Cng => "cng",
            Kind::Ced => "ced",
        }
    }
}

/// `seconds` of the tone at 8 kHz with random level (-30 to -8 dBm0 per component), random
/// phase and a random starting point in its cadence.
pub fn generate(kind: Kind, seconds: f64, rng: &mut Rng) -> Vec<f32> {
    const RATE: u32 = 8000;
    let len = (seconds * f64::from(RATE)) as usize;
    let mut out = vec![0.0f32; len];
    let ms = |m: f64| (m * f64::from(RATE) / 1000.0) as usize;
    let level = rng.uniform(-30.0, -8.0);
    let amp = amplitude(level);
    // (frequencies, on/off pattern in ms); an empty pattern is continuous
    let (freqs, cadence): (&[f64], &[f64]) = match kind {
        Kind::Dial => (&[350.0, 440.0], &[]),
        Kind::DialEurope => (&[425.0], &[]),
        Kind::Ringback => (&[440.0, 480.0], &[2000.0, 4000.0]),
        Kind::RingbackUk => (&[400.0, 450.0], &[400.0, 200.0, 400.0, 2000.0]),
        Kind::Busy => (&[480.0, 620.0], &[500.0, 500.0]),
        Kind::BusyEurope => (&[425.0], &[500.0, 500.0]),
        Kind::Reorder => (&[480.0, 620.0], &[250.0, 250.0]),
        Kind::Cng => (&[1100.0], &[500.0, 3000.0]),
        Kind::Sit => {
            sit(&mut out, amp, rng);
            return out;
        }
        Kind::Ced => {
            ced(&mut out, amp, rng.chance(0.5), rng);
            return out;
        }
    };
    if cadence.is_empty() {
        for &f in freqs {
            add_sine(&mut out, RATE, 0, len, f, amp, rng.phase());
        }
        return out;
    }
    let period: f64 = cadence.iter().sum();
    let mut t = -rng.uniform(0.0, period);
    let mut step = 0;
    while t < seconds * 1000.0 {
        let dur = cadence[step % cadence.len()];
        if step % 2 == 0 {
            let start = t.max(0.0);
            let end = t + dur;
            if end > 0.0 {
                for &f in freqs {
                    add_sine(
                        &mut out,
                        RATE,
                        ms(start),
                        ms(end - start),
                        f,
                        amp,
                        rng.phase(),
                    );
                }
            }
        }
        t += dur;
        step += 1;
    }
    out
}

fn sit(out: &mut [f32], amp: f32, rng: &mut Rng) {
    // E.180: three segments of 274 or 380 ms, then silence; repeated
    let segments = [913.8, 1370.6, 1776.7];
    let mut pos = rng.below(0, 8000);
    while pos < out.len() {
        for f in segments {
            let len = if rng.chance(0.5) { 2192 } else { 3040 };
            add_sine(out, 8000, pos, len, f, amp, rng.phase());
            pos += len;
        }
        pos += 8000 * 2;
    }
}

fn ced(out: &mut [f32], amp: f32, reversals: bool, rng: &mut Rng) {
    let step = std::f64::consts::TAU * 2100.0 / 8000.0;
    let mut phase = rng.phase();
    for (i, x) in out.iter_mut().enumerate() {
        if reversals && i > 0 && i % 3600 == 0 {
            phase += std::f64::consts::PI;
        }
        *x += amp * (phase + step * i as f64).sin() as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mean_square;

    #[test]
    fn every_kind_makes_sound_of_the_asked_length() {
        let mut rng = Rng::new(5);
        for kind in Kind::ALL {
            let s = generate(kind, 10.0, &mut rng);
            assert_eq!(s.len(), 80_000, "{}", kind.name());
            assert!(mean_square(&s) > 0.0, "{}", kind.name());
        }
    }
}
