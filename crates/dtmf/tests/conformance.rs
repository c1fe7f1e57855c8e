//! ITU-T Q.24 (AT&T column) conformance, on deterministic generated signals with random tone
//! phases and random alignment of tones to the detector's analysis blocks.
//!
//! Each test states the limit it checks. Levels follow G.711: a full-scale sine is +3.14 dBm0.

mod common;

use callscore_synth::{COL_HZ, Digit, KEYS, ROW_HZ, Rng, clip, key_frequencies, noise};
use common::{Score, detect, ms, score, sequence};

/// Start and end of every detected key must be within this of the truth.
const MAX_TIMING_ERROR: f64 = 0.005;

fn keys_with_tone(freq: f64) -> Vec<char> {
    KEYS.iter()
        .copied()
        .filter(|&k| {
            let (r, c) = key_frequencies(k).expect("KEYS are DTMF keys");
            r == freq || c == freq
        })
        .collect()
}

/// A digit with one tone off by `deviation` (relative) plus `offset_hz`.
fn off_frequency(key: char, tone: f64, deviation: f64, offset_hz: f64, rng: &mut Rng) -> Digit {
    let (row, _) = key_frequencies(key).expect("a DTMF key");
    let mut d = Digit::new(key, 0, ms(60.0))
        .levels(-10.0, -10.0)
        .random_phases(rng);
    let shift = tone * deviation + offset_hz;
    if row == tone {
        d.low_deviation = shift / tone;
    } else {
        d.high_deviation = shift / tone;
    }
    d
}

fn assert_clean(name: &str, s: &Score) {
    assert!(
        s.missed.is_empty() && s.inserted.is_empty(),
        "{name}: {} of {} found\nmissed: {:#?}\ninserted: {:#?}",
        s.found,
        s.digits,
        s.missed,
        s.inserted
    );
    assert!(
        s.worst_timing <= MAX_TIMING_ERROR,
        "{name}: timing error {:.4}s",
        s.worst_timing
    );
}

#[test]
fn every_tone_is_accepted_within_1_5_percent_plus_2_hz() {
    let mut rng = Rng::new(101);
    let mut total = Score::default();
    for &tone in ROW_HZ.iter().chain(&COL_HZ) {
        // 21 points across the whole accepted band, both ends included
        for step in -10..=10 {
            let fraction = f64::from(step) / 10.0;
            for key in keys_with_tone(tone) {
                let d = off_frequency(key, tone, 0.015 * fraction, 2.0 * fraction, &mut rng);
                let (signal, placed) = sequence(vec![d], 60.0, &mut rng);
                total.add(&score(&placed, &detect(&signal)));
            }
        }
    }
    assert_clean("frequency acceptance", &total);
}

#[test]
fn every_tone_is_rejected_from_3_5_percent() {
    let mut rng = Rng::new(102);
    for &tone in ROW_HZ.iter().chain(&COL_HZ) {
        let group: &[f64] = if ROW_HZ.contains(&tone) {
            &ROW_HZ
        } else {
            &COL_HZ
        };
        // from 3.5 % outwards, on both sides, until the tone nears another DTMF frequency
        for step in 0..=40 {
            for sign in [-1.0, 1.0] {
                let deviation = sign * (0.035 + 0.0025 * f64::from(step));
                let shifted = tone * (1.0 + deviation);
                if group.iter().any(|&g| (shifted - g).abs() < 0.035 * g) {
                    continue;
                }
                for key in keys_with_tone(tone) {
                    let d = off_frequency(key, tone, deviation, 0.0, &mut rng);
                    let (signal, _) = sequence(vec![d], 60.0, &mut rng);
                    let events = detect(&signal);
                    assert!(
                        events.is_empty(),
                        "{tone} Hz at {:+.2} % in key {key}: detected {:?}",
                        deviation * 100.0,
                        events
                    );
                }
            }
        }
    }
}

#[test]
fn twist_is_accepted_up_to_8_db_normal_and_4_db_reverse() {
    let mut rng = Rng::new(103);
    let mut total = Score::default();
    for key in KEYS {
        for strong in [0.0, -10.0, -17.0] {
            // normal twist: low group louder by up to 8 dB
            for tenth in 0..=80 {
                let twist = f64::from(tenth) / 10.0;
                if tenth % 5 != 0 && tenth != 79 {
                    continue;
                }
                let d = Digit::new(key, 0, ms(50.0))
                    .levels(strong, strong - twist)
                    .random_phases(&mut rng);
                let (signal, placed) = sequence(vec![d], 60.0, &mut rng);
                total.add(&score(&placed, &detect(&signal)));
            }
            // reverse twist: high group louder by up to 4 dB
            for tenth in (0..=40).step_by(5) {
                let twist = f64::from(tenth) / 10.0;
                let d = Digit::new(key, 0, ms(50.0))
                    .levels(strong - twist, strong)
                    .random_phases(&mut rng);
                let (signal, placed) = sequence(vec![d], 60.0, &mut rng);
                total.add(&score(&placed, &detect(&signal)));
            }
        }
    }
    assert_clean("twist", &total);
}

#[test]
fn every_tone_of_40_ms_or_longer_is_detected() {
    let mut rng = Rng::new(104);
    let mut total = Score::default();
    for len in [
        40.0, 40.5, 41.0, 42.0, 45.0, 50.0, 70.0, 100.0, 250.0, 1000.0,
    ] {
        for key in KEYS {
            for level in [0.0, -10.0, -25.0] {
                for _ in 0..3 {
                    let d = Digit::new(key, 0, ms(len))
                        .levels(level, level)
                        .random_phases(&mut rng);
                    let (signal, placed) = sequence(vec![d], 60.0, &mut rng);
                    total.add(&score(&placed, &detect(&signal)));
                }
            }
        }
    }
    assert_clean("durations of 40 ms and more", &total);
}

#[test]
fn no_tone_of_23_ms_or_shorter_is_ever_detected() {
    let mut rng = Rng::new(105);
    for len in [23.0, 22.5, 22.0, 20.0, 17.0, 15.0, 12.0, 10.0, 5.0, 2.0] {
        for key in KEYS {
            for level in [3.0, 0.0, -10.0, -25.0] {
                for _ in 0..4 {
                    let d = Digit::new(key, 0, ms(len))
                        .levels(level, level)
                        .random_phases(&mut rng);
                    let (mut signal, _) = sequence(vec![d], 60.0, &mut rng);
                    clip(&mut signal);
                    let events = detect(&signal);
                    assert!(
                        events.is_empty(),
                        "{len} ms {key} at {level} dBm0: {events:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_40_ms_pause_separates_two_identical_digits() {
    let mut rng = Rng::new(106);
    let mut total = Score::default();
    for key in KEYS {
        for len in [40.0, 50.0, 100.0] {
            for pause in [40.0, 41.0, 45.0, 60.0] {
                for _ in 0..3 {
                    let a = Digit::new(key, 0, ms(len)).random_phases(&mut rng);
                    let b = Digit::new(key, 0, ms(len)).random_phases(&mut rng);
                    let (signal, placed) = sequence(vec![a, b], pause, &mut rng);
                    total.add(&score(&placed, &detect(&signal)));
                }
            }
        }
    }
    assert_clean("40 ms pause", &total);
}

#[test]
fn an_interruption_of_10_ms_or_less_is_bridged() {
    let mut rng = Rng::new(107);
    for key in KEYS {
        for gap in [1.0, 2.0, 5.0, 8.0, 10.0] {
            for _ in 0..4 {
                // two halves of one key press; the second resumes with a new phase
                let first = ms(rng.uniform(40.0, 80.0));
                let second = ms(rng.uniform(40.0, 80.0));
                let start = ms(60.0) + rng.below(0, ms(5.0));
                let mut signal = vec![0.0f32; start + first + ms(gap) + second + ms(80.0)];
                let a = Digit {
                    start,
                    ..Digit::new(key, 0, first).random_phases(&mut rng)
                };
                let b = Digit {
                    start: start + first + ms(gap),
                    ..Digit::new(key, 0, second).random_phases(&mut rng)
                };
                callscore_synth::add_digit(&mut signal, 8000, &a);
                callscore_synth::add_digit(&mut signal, 8000, &b);
                let events = detect(&signal);
                assert_eq!(
                    common::keys(&events),
                    key.to_string(),
                    "{gap} ms break in {key}: {events:?}"
                );
            }
        }
    }
}

#[test]
fn levels_from_plus_3_to_minus_25_dbm0_are_accepted_with_clipping() {
    let mut rng = Rng::new(108);
    let mut total = Score::default();
    for level in (-25..=3).map(f64::from) {
        for key in KEYS {
            let d = Digit::new(key, 0, ms(50.0))
                .levels(level, level)
                .random_phases(&mut rng);
            let (mut signal, placed) = sequence(vec![d], 60.0, &mut rng);
            // the sum of two tones at +3 dBm0 peaks at twice full scale: a 16-bit path clips it
            clip(&mut signal);
            total.add(&score(&placed, &detect(&signal)));
        }
    }
    assert_clean("levels", &total);
}

#[test]
fn nothing_is_detected_below_minus_55_dbm0() {
    let mut rng = Rng::new(109);
    for level in [-55.0, -58.0, -65.0, -80.0] {
        for key in KEYS {
            let d = Digit::new(key, 0, ms(500.0))
                .levels(level, level)
                .random_phases(&mut rng);
            let (signal, _) = sequence(vec![d], 60.0, &mut rng);
            let events = detect(&signal);
            assert!(events.is_empty(), "{key} at {level} dBm0: {events:?}");
        }
    }
}

/// Runs digit sequences in white noise at `snr_db` (one tone's power over the noise power in
/// 0-4 kHz).
fn noise_run(snr_db: f64, level: f64, digits: usize, seed: u64) -> Score {
    let mut rng = Rng::new(seed);
    let list: Vec<Digit> = (0..digits)
        .map(|_| {
            Digit::new(*rng.pick(&KEYS), 0, ms(rng.uniform(40.0, 100.0)))
                .levels(level, level)
                .random_phases(&mut rng)
        })
        .collect();
    let (mut signal, placed) = sequence(list, 60.0, &mut rng);
    noise::white(&mut signal, level - snr_db, &mut rng);
    score(&placed, &detect(&signal))
}

#[test]
fn at_15_db_snr_in_white_noise_99_percent_are_found_with_no_insertions() {
    let mut total = Score::default();
    for (i, level) in [-5.0, -15.0, -25.0].into_iter().enumerate() {
        total.add(&noise_run(15.0, level, 400, 110 + i as u64));
    }
    assert!(
        total.detection_rate() >= 0.99,
        "found {} of {}: missed {:#?}",
        total.found,
        total.digits,
        total.missed
    );
    assert!(total.inserted.is_empty(), "inserted {:#?}", total.inserted);
}
