//! Keys under interference: what a prompt or a voice over a key does to the detector. Each
//! test is one of the ways the barge-in corpus (`callscore-corpus barge-in`) found a key lost
//! or split, reduced to a signal that shows it alone.

mod common;

use callscore_dtmf::{Candidate, Key, KeyEvent};
use callscore_synth::{Digit, Rng, add_digit, add_sine, amplitude, mix, noise, set_level};
use common::detect_with_candidates;

const RATE: u32 = 8000;

fn ms(ms: f64) -> usize {
    (ms * f64::from(RATE) / 1000.0).round() as usize
}

fn detect(signal: &[f32]) -> Vec<KeyEvent> {
    detect_with_candidates(signal).0
}

/// The glide measured on each candidate that met the Q.24 limits.
fn glides(candidates: &[Candidate]) -> impl Iterator<Item = f32> + '_ {
    candidates
        .iter()
        .filter_map(|c| Some(c.shape.as_ref()?.chirp_hz))
}

fn keyed(signal: &mut [f32], key: char, from_ms: f64, to_ms: f64, dbm0: f64) {
    let digit = Digit {
        start: ms(from_ms),
        ..Digit::new(key, 0, ms(to_ms - from_ms)).levels(dbm0, dbm0)
    };
    add_digit(signal, RATE, &digit);
}

fn keys(events: &[KeyEvent]) -> Vec<Key> {
    events.iter().map(|e| e.key).collect()
}

fn summary(events: &[KeyEvent]) -> Vec<(Key, f64, f64)> {
    events
        .iter()
        .map(|e| (e.key, e.start_seconds() * 1000.0, e.end_seconds() * 1000.0))
        .collect()
}

/// Checks that `events` are the one key `key`, from `from_ms` to `to_ms` within 5 ms;
/// `context` names the case in the message.
fn assert_one_key(events: &[KeyEvent], key: Key, from_ms: f64, to_ms: f64, context: &str) {
    let found = summary(events);
    assert_eq!(keys(events), [key], "{context}{found:?}");
    assert!(
        (found[0].1 - from_ms).abs() < 5.0 && (found[0].2 - to_ms).abs() < 5.0,
        "{context}{found:?}"
    );
}

/// A key whose tones sit next to the previous key's (697 Hz beside 770 Hz, 1477 Hz beside
/// 1336 Hz) fills the previous key's bins with its own leakage: loud, but turning at the wrong
/// rate. The previous key must end there, not go on following the leakage and hold the new key
/// off.
#[test]
fn a_key_straight_after_another_is_not_held_off_by_its_leakage() {
    let mut signal = vec![0.0f32; ms(400.0)];
    keyed(&mut signal, '5', 50.0, 170.0, -20.0);
    keyed(&mut signal, '3', 170.0, 320.0, -12.0);
    let events = detect(&signal);
    let found = summary(&events);
    assert_eq!(keys(&events), [Key::D5, Key::D3], "{found:?}");
    assert!((found[1].1 - 170.0).abs() < 10.0, "{found:?}");
}

/// A loud sound over a key for 45 ms (as loud as the key at both of its frequencies) masks
/// the key without pausing it: the bins stay loud throughout. It is one key press, not two;
/// a pause of as long is quiet at the key's frequencies and does separate two (Q.24, checked
/// in the conformance suite).
#[test]
fn a_key_masked_for_45_ms_by_a_louder_sound_stays_one_key() {
    for seed in 0..20 {
        let mut signal = vec![0.0f32; ms(450.0)];
        keyed(&mut signal, '8', 50.0, 350.0, -14.0);
        let mut burst = vec![0.0f32; ms(45.0)];
        noise::white(&mut burst, 9.0, &mut Rng::new(seed));
        mix(&mut signal, ms(160.0), &burst, 1.0);
        let context = format!("seed {seed}: ");
        assert_one_key(&detect(&signal), Key::D8, 50.0, 350.0, &context);
    }
}

/// A voice's harmonic about 200 Hz below a key's row tone (736 Hz beside 941 Hz) is, seen
/// in 5 ms blocks, an alias of it: either could explain the bins. While both sound, the key's
/// tone is still there, and the key is still `0`, not `5` (the key whose row the harmonic is
/// nearest).
#[test]
fn a_harmonic_one_block_rate_from_a_tone_does_not_change_the_key() {
    let mut signal = vec![0.0f32; ms(400.0)];
    keyed(&mut signal, '0', 50.0, 250.0, -12.0);
    add_sine(
        &mut signal,
        RATE,
        ms(20.0),
        ms(190.0),
        736.0,
        amplitude(-9.0),
        0.0,
    );
    let events = detect(&signal);
    let found = summary(&events);
    assert_eq!(keys(&events), [Key::D0], "{found:?}");
}

/// A voice's harmonic louder than a key's row tone and near another row's (a wobble around
/// 856 Hz over the `5`'s 770 Hz) takes the key's second half over: with the key's column tone
/// it makes an `8`. A keypad pauses between digits, so a key that keeps
/// one of the previous key's tones and follows it without a pause is the same press: one
/// key, the cleaner measured `5`.
#[test]
fn a_louder_harmonic_taking_over_one_tone_does_not_add_a_key() {
    let mut signal = vec![0.0f32; ms(400.0)];
    keyed(&mut signal, '5', 50.0, 300.0, -14.0);
    // 853 to 859 Hz and back, its level swelling and fading by 3 dB, 5 times a second
    let amp = f64::from(amplitude(-8.0));
    let mut phase = 0.0f64;
    for (n, x) in signal[ms(170.0)..ms(300.0)].iter_mut().enumerate() {
        let t = n as f64 / f64::from(RATE);
        let wobble = (std::f64::consts::TAU * 5.0 * t).sin();
        phase += std::f64::consts::TAU * (856.0 + 3.0 * wobble) / f64::from(RATE);
        *x += (amp * (1.0 + 0.3 * wobble) * phase.sin()) as f32;
    }
    assert_one_key(&detect(&signal), Key::D5, 50.0, 300.0, "");
}

/// A codec that settles over its first frames (GSM 06.10) lets a key's tone start weak and
/// then come up by 10 dB, its phase running on unbroken. The louder stretch is the key itself,
/// not another sound masking it: one key, timed from the weak start and measured at the level
/// it settles at.
#[test]
fn a_tone_that_comes_up_after_the_onset_is_still_the_key() {
    let mut signal = vec![0.0f32; ms(300.0)];
    noise::white(&mut signal, -45.0, &mut Rng::new(7));
    let (row, column) = (852.0, 1477.0);
    add_sine(
        &mut signal,
        RATE,
        ms(50.0),
        ms(120.0),
        row,
        amplitude(-18.0),
        0.3,
    );
    // the column tone: 35 ms at -28 dBm0, then at -18 dBm0 with its phase running on
    let weak = ms(35.0);
    add_sine(
        &mut signal,
        RATE,
        ms(50.0),
        weak,
        column,
        amplitude(-28.0),
        1.1,
    );
    let phase = 1.1 + std::f64::consts::TAU * column * weak as f64 / f64::from(RATE);
    add_sine(
        &mut signal,
        RATE,
        ms(50.0) + weak,
        ms(120.0) - weak,
        column,
        amplitude(-18.0),
        phase,
    );
    let events = detect(&signal);
    assert_one_key(&events, Key::D9, 50.0, 170.0, "");
    assert!((events[0].high_dbm0 + 18.0).abs() < 2.0, "{:?}", events[0]);
}

/// The talk-off score counts a change of frequency along a candidate against it (voices
/// glide), but a short key under loud sound measures its frequency on a few noisy blocks: the
/// change is counted only beyond its standard error. A 47 ms key with noise 4 dB under its
/// tones in the band measured glides of 9 Hz (median) before; a real glide of two clean
/// tones is still measured in full.
#[test]
fn a_short_key_in_noise_is_not_taken_for_a_glide_and_a_real_glide_still_is() {
    let mut chirps = Vec::new();
    for seed in 0..40 {
        let mut signal = vec![0.0f32; ms(400.0)];
        noise::white(&mut signal, -20.0, &mut Rng::new(seed));
        keyed(&mut signal, '0', 150.0, 197.0, -16.0);
        let (events, candidates) = detect_with_candidates(&signal);
        assert_eq!(keys(&events), [Key::D0], "seed {seed}");
        chirps.extend(glides(&candidates));
    }
    chirps.sort_by(f32::total_cmp);
    let median = chirps[chirps.len() / 2];
    assert!(median < 4.0, "median glide {median} Hz: {chirps:?}");

    // both tones rising by 30 Hz over 120 ms: the first third and the last are 20 Hz apart
    let mut signal = vec![0.0f32; ms(300.0)];
    let (start, len) = (ms(80.0), ms(120.0));
    for (tone, phase) in [(852.0, 0.4), (1336.0, 2.0)] {
        let mut phase: f64 = phase;
        for (n, x) in signal[start..start + len].iter_mut().enumerate() {
            let hz = tone + 30.0 * n as f64 / len as f64;
            phase += std::f64::consts::TAU * hz / f64::from(RATE);
            *x += amplitude(-12.0) * phase.sin() as f32;
        }
    }
    let (_, candidates) = detect_with_candidates(&signal);
    let measured: Vec<f32> = glides(&candidates).collect();
    assert!(
        measured.len() == 1 && (measured[0] - 20.0).abs() < 4.0,
        "{measured:?}"
    );
}

/// A steady vowel: harmonics of `f0` up to 3.4 kHz under a falling envelope, `boosted`
/// harmonics 12 dB up, the whole at `dbm0`.
fn vowel(signal: &mut [f32], f0: f64, boosted: &[u32], dbm0: f64) {
    let mut v = vec![0.0f32; signal.len()];
    let mut h = 1;
    while f64::from(h) * f0 < 3400.0 {
        let gain = if boosted.contains(&h) { 4.0 } else { 1.0 } / f64::from(h).sqrt();
        let len = v.len();
        add_sine(
            &mut v,
            RATE,
            0,
            len,
            f64::from(h) * f0,
            gain as f32,
            0.7 * f64::from(h),
        );
        h += 1;
    }
    set_level(&mut v, dbm0);
    mix(signal, 0, &v, 1.0);
}

/// Under a key pressed over a prompt's vowel lies the vowel, periodic at its pitch, and the
/// key's tones fall between its harmonics. A vowel taken for a key is two of its own
/// harmonics, on its comb. The detector measures this where it decides a close call.
#[test]
fn a_key_over_a_vowel_is_off_its_comb_and_a_vowel_s_own_harmonics_are_on_it() {
    let pitched = |candidates: &[Candidate]| -> Vec<(Key, f32, f32)> {
        candidates
            .iter()
            .filter_map(|c| {
                let s = c.shape.as_ref()?;
                Some((c.key, s.pitch_hz, s.harmonic_deviation))
            })
            .collect()
    };
    // an `8` (852 and 1336 Hz) over a vowel at 118 Hz: 7.2 and 11.3 of its harmonics. The
    // 36 ms press is too short for the blocks the tones fill to give a pitch: its edge blocks
    // count too.
    for end_ms in [170.0, 136.0] {
        let mut signal = vec![0.0f32; ms(400.0)];
        vowel(&mut signal, 118.0, &[], -18.0);
        keyed(&mut signal, '8', 100.0, end_ms, -16.0);
        let (events, candidates) = detect_with_candidates(&signal);
        let context = format!("pressed until {end_ms} ms: ");
        assert_one_key(&events, Key::D8, 100.0, end_ms, &context);
        let measured = pitched(&candidates);
        assert!(
            matches!(measured[..], [(Key::D8, hz, off)] if (hz - 118.0).abs() < 1.0 && off > 0.3),
            "{context}{measured:?}"
        );
    }
    // a louder vowel at 121.7 Hz whose 7th and 11th harmonics (852 and 1339 Hz) stand out
    let mut signal = vec![0.0f32; ms(400.0)];
    vowel(&mut signal, 121.7, &[7, 11], -14.0);
    let (events, candidates) = detect_with_candidates(&signal);
    assert_eq!(summary(&events), [], "{candidates:?}");
    let measured = pitched(&candidates);
    assert!(
        matches!(measured[..], [(Key::D8, hz, off)] if (hz - 121.7).abs() < 1.0 && off < 0.05),
        "{measured:?}"
    );
}
