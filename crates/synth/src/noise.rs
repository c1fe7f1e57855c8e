//! Noise of a given colour, added to a signal at a given level over the whole 0-4 kHz band.

use crate::{Rng, mix, set_level};

/// Adds white Gaussian noise whose mean square corresponds to `dbm0`.
pub fn white(signal: &mut [f32], dbm0: f64, rng: &mut Rng) {
    let mut n: Vec<f32> = (0..signal.len()).map(|_| rng.gaussian() as f32).collect();
    set_level(&mut n, dbm0);
    mix(signal, 0, &n, 1.0);
}

/// Adds pink (1/f) noise at `dbm0`.
///
/// The 1/f slope comes from the sum of first-order low-pass filters with poles spread one per
/// octave or so, which is flat to about ±0.5 dB over the telephone band.
pub fn pink(signal: &mut [f32], dbm0: f64, rng: &mut Rng) {
    const POLES: [(f64, f64); 6] = [
        (0.99886, 0.0555179),
        (0.99332, 0.0750759),
        (0.96900, 0.1538520),
        (0.86650, 0.3104856),
        (0.55000, 0.5329522),
        (-0.7616, -0.0168980),
    ];
    let mut state = [0.0f64; 6];
    let mut n: Vec<f32> = (0..signal.len())
        .map(|_| {
            let w = rng.gaussian();
            let mut sum = w * 0.5362;
            for (s, (pole, gain)) in state.iter_mut().zip(POLES) {
                *s = pole * *s + w * gain;
                sum += *s;
            }
            sum as f32
        })
        .collect();
    set_level(&mut n, dbm0);
    mix(signal, 0, &n, 1.0);
}

/// Adds brown (1/f²) noise at `dbm0`: a leaky integral of white noise.
pub fn brown(signal: &mut [f32], dbm0: f64, rng: &mut Rng) {
    let mut state = 0.0f64;
    let mut n: Vec<f32> = (0..signal.len())
        .map(|_| {
            state = 0.995 * state + 0.1 * rng.gaussian();
            state as f32
        })
        .collect();
    set_level(&mut n, dbm0);
    mix(signal, 0, &n, 1.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{dbm0_from_mean_square, mean_square};

    #[test]
    fn every_colour_lands_at_its_level() {
        type Colour = fn(&mut [f32], f64, &mut Rng);
        let colours: [Colour; 3] = [white, pink, brown];
        for add in colours {
            let mut s = vec![0.0f32; 40_000];
            add(&mut s, -25.0, &mut Rng::new(3));
            assert!((dbm0_from_mean_square(mean_square(&s)) + 25.0).abs() < 0.01);
        }
    }

    #[test]
    fn brown_is_darker_than_white() {
        // first difference removes low frequencies: brown noise keeps far less of its energy
        let diff_ratio = |s: &[f32]| {
            let d: Vec<f32> = s.windows(2).map(|w| w[1] - w[0]).collect();
            mean_square(&d) / mean_square(s)
        };
        let mut w = vec![0.0f32; 40_000];
        let mut b = vec![0.0f32; 40_000];
        white(&mut w, -20.0, &mut Rng::new(4));
        brown(&mut b, -20.0, &mut Rng::new(4));
        assert!(diff_ratio(&b) < 0.1 * diff_ratio(&w));
    }
}
