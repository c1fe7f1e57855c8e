//! The streaming contract: chunking never changes the result, every supported rate is
//! analysed, and each event carries what it promises (times, levels, twist, quality).
//! Conformance to ITU-T Q.24 is checked by the project's generated suite in
//! `callscore-corpus` (tests/q24.rs), which runs this detector through every limit.

use callscore_dtmf::{ConfigError, Detector, DetectorConfig, Key, KeyEvent};
use callscore_synth::{Digit, KEYS, Rng, add_digit, mix, noise, to_i16};
use proptest::prelude::*;

fn ms(rate: u32, ms: f64) -> usize {
    (ms * f64::from(rate) / 1000.0).round() as usize
}

/// A few digits of random keys, levels, lengths (some near the shortest accepted) and gaps
/// (some bridgeable), over noise and, sometimes, a stretch of a tone chord near DTMF
/// frequencies that must not count.
fn busy_signal(seed: u64, rate: u32) -> (Vec<f32>, Vec<Digit>) {
    let mut rng = Rng::new(seed);
    let mut digits = Vec::new();
    let mut at = ms(rate, rng.uniform(0.0, 60.0));
    for _ in 0..rng.below(1, 6) {
        let len = ms(rate, rng.uniform(20.0, 160.0));
        let level = rng.uniform(-30.0, 0.0);
        digits.push(Digit {
            start: at,
            ..Digit::new(*rng.pick(&KEYS), 0, len)
                .levels(level, level - rng.uniform(-4.0, 8.0))
                .deviations(rng.uniform(-0.015, 0.015), rng.uniform(-0.015, 0.015))
                .random_phases(&mut rng)
        });
        at += len + ms(rate, rng.uniform(2.0, 120.0));
    }
    let mut signal = vec![0.0f32; at + ms(rate, rng.uniform(0.0, 80.0))];
    for d in &digits {
        add_digit(&mut signal, rate, d);
    }
    let mut floor = vec![0.0f32; signal.len()];
    noise::white(&mut floor, rng.uniform(-70.0, -35.0), &mut rng);
    mix(&mut signal, 0, &floor, 1.0);
    (signal, digits)
}

fn detector(rate: u32) -> Detector {
    Detector::new(&DetectorConfig {
        sample_rate: rate,
        ..DetectorConfig::default()
    })
    .expect("a supported rate")
}

fn whole(rate: u32, signal: &[f32]) -> Vec<KeyEvent> {
    let mut d = detector(rate);
    let mut events = Vec::new();
    d.push(signal, &mut events);
    d.finish(&mut events);
    events
}

fn chunked(rate: u32, signal: &[f32], sizes: &[usize]) -> Vec<KeyEvent> {
    let mut d = detector(rate);
    let mut events = Vec::new();
    let mut rest = signal;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        d.push(chunk, &mut events);
        rest = tail;
    }
    d.finish(&mut events);
    events
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Identical events, down to the last bit of every measured figure, whatever the chunks.
    #[test]
    fn chunking_never_changes_the_events(
        seed in any::<u64>(),
        sizes in prop::collection::vec(prop_oneof![1usize..8, 8usize..200, 200usize..3000], 1..12),
    ) {
        let (signal, _) = busy_signal(seed, 8000);
        prop_assert_eq!(whole(8000, &signal), chunked(8000, &signal, &sizes));
    }

    #[test]
    fn chunking_never_changes_the_events_at_other_rates(
        seed in any::<u64>(),
        rate in prop::sample::select(vec![11_025u32, 16_000, 44_100]),
        sizes in prop::collection::vec(1usize..2000, 1..8),
    ) {
        let (signal, _) = busy_signal(seed, rate);
        prop_assert_eq!(whole(rate, &signal), chunked(rate, &signal, &sizes));
    }
}

#[test]
fn sixteen_bit_input_gives_the_same_events_as_its_float_equivalent() {
    for seed in 0..20 {
        let (signal, _) = busy_signal(seed, 8000);
        let pcm = to_i16(&signal);
        let float: Vec<f32> = pcm.iter().map(|&s| f32::from(s) / 32768.0).collect();
        let mut d = detector(8000);
        let mut events = Vec::new();
        for chunk in pcm.chunks(333) {
            d.push_i16(chunk, &mut events);
        }
        d.finish(&mut events);
        assert_eq!(events, whole(8000, &float), "seed {seed}");
    }
}

#[test]
fn a_finished_detector_starts_over_as_new() {
    let (signal, _) = busy_signal(7, 8000);
    let mut d = detector(8000);
    let mut first = Vec::new();
    d.push(&signal[..signal.len() / 3], &mut first);
    d.finish(&mut first);
    let mut second = Vec::new();
    d.push(&signal, &mut second);
    d.finish(&mut second);
    assert_eq!(second, whole(8000, &signal));
}

/// Every key at every supported kind of rate, timed to 5 ms, with its levels, twist and
/// frequencies measured.
#[test]
fn events_are_timed_and_measured_at_every_common_rate() {
    for rate in [8000, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000, 96_000] {
        let mut rng = Rng::new(u64::from(rate));
        let mut signal = vec![0.0f32; ms(rate, 60.0 + 16.0 * 140.0)];
        let digits: Vec<Digit> = KEYS
            .iter()
            .enumerate()
            .map(|(i, &key)| {
                let low = rng.uniform(-20.0, -5.0);
                Digit {
                    start: ms(rate, 40.0 + 140.0 * i as f64) + rng.below(0, 40),
                    ..Digit::new(key, 0, ms(rate, rng.uniform(45.0, 90.0)))
                        .levels(low, low - rng.uniform(-3.0, 6.0))
                        .deviations(rng.uniform(-0.01, 0.01), rng.uniform(-0.01, 0.01))
                        .random_phases(&mut rng)
                }
            })
            .collect();
        for d in &digits {
            add_digit(&mut signal, rate, d);
        }
        let events = whole(rate, &signal);
        let found: String = events.iter().map(|e| e.key.as_char()).collect();
        assert_eq!(events.len(), digits.len(), "{rate} Hz: {found}");
        for (e, d) in events.iter().zip(&digits) {
            let what = format!("{rate} Hz, {}: {e:?}", d.key);
            assert_eq!(e.key.as_char(), d.key, "{what}");
            assert_eq!(e.sample_rate, rate);
            let seconds = |n: usize| n as f64 / f64::from(rate);
            assert!(
                (e.start_seconds() - seconds(d.start)).abs() <= 0.005,
                "{what}"
            );
            assert!(
                (e.end_seconds() - seconds(d.start + d.len)).abs() <= 0.005,
                "{what}"
            );
            let (low_hz, high_hz) = d.frequencies();
            assert!((f64::from(e.low_hz) - low_hz).abs() < 2.0, "{what}");
            assert!((f64::from(e.high_hz) - high_hz).abs() < 2.0, "{what}");
            assert!((f64::from(e.low_dbm0) - d.low_dbm0).abs() < 1.0, "{what}");
            assert!((f64::from(e.high_dbm0) - d.high_dbm0).abs() < 1.0, "{what}");
            let twist = d.low_dbm0 - d.high_dbm0;
            assert!((f64::from(e.twist_db) - twist).abs() < 1.5, "{what}");
            assert!(e.quality > 0.9 && e.quality <= 1.0, "{what}");
        }
    }
}

#[test]
fn quality_is_lower_for_a_key_pressed_over_noise() {
    let clean = Digit::new('5', 800, 800).levels(-20.0, -20.0);
    let mut signal = vec![0.0f32; 2400];
    add_digit(&mut signal, 8000, &clean);
    let quiet = whole(8000, &signal);
    // noise 9 dB below the two tones together: about an eighth of the power
    noise::white(&mut signal, -26.0, &mut Rng::new(3));
    let noisy = whole(8000, &signal);
    assert_eq!((quiet.len(), noisy.len()), (1, 1));
    assert!(quiet[0].quality > 0.99, "{quiet:?}");
    assert!(noisy[0].quality < 0.95, "{noisy:?}");
}

#[test]
fn disabled_extended_keys_are_neither_reported_nor_mistaken_for_others() {
    let mut signal = vec![0.0f32; 8000];
    for (i, key) in ['A', '1', 'B', 'C', 'D', '#'].into_iter().enumerate() {
        add_digit(&mut signal, 8000, &Digit::new(key, 400 + i * 1200, 600));
    }
    let mut d = Detector::new(&DetectorConfig {
        extended_keys: false,
        ..DetectorConfig::default()
    })
    .expect("8 kHz is supported");
    let mut events = Vec::new();
    d.push(&signal, &mut events);
    d.finish(&mut events);
    let keys: Vec<Key> = events.iter().map(|e| e.key).collect();
    assert_eq!(keys, [Key::D1, Key::Hash]);
    assert_eq!(d.stats().rejected.disabled, 4);
    assert_eq!(whole(8000, &signal).len(), 6);
}

#[test]
fn unsupported_rates_are_refused() {
    for rate in [0, 4000, 7999, 192_001] {
        let err = Detector::new(&DetectorConfig {
            sample_rate: rate,
            ..DetectorConfig::default()
        })
        .expect_err("an unsupported rate");
        assert_eq!(err, ConfigError::SampleRate(rate));
        assert!(err.to_string().contains("not supported"));
    }
}

#[test]
fn statistics_count_what_was_seen() {
    let (signal, digits) = busy_signal(11, 8000);
    let mut d = detector(8000);
    let mut events = Vec::new();
    d.push(&signal, &mut events);
    d.finish(&mut events);
    let stats = d.stats();
    assert_eq!(stats.samples, signal.len() as u64);
    assert_eq!(stats.blocks, (signal.len() as u64).div_ceil(40));
    assert_eq!(stats.keys, events.len() as u64);
    assert!(stats.segments >= stats.keys && stats.screened >= stats.segments);
    assert!(!digits.is_empty());
}
