use callscore_dtmf::{DetectorConfig, KeyEvent};
use callscore_synth::voice::{Voice, talk};
use callscore_synth::{Digit, Rng, add_digit, g711, mix, noise};

use super::*;

fn voice(pitch_hz: f64, seconds: f64, dbm0: f64, seed: u64) -> Vec<f32> {
    talk(Voice { pitch_hz }, seconds, dbm0, &mut Rng::new(seed))
}

fn keys(samples: &[f32]) -> Vec<KeyEvent> {
    let mut detector = callscore_dtmf::Detector::new(&DetectorConfig {
        sample_rate: RATE,
        ..DetectorConfig::default()
    })
    .expect("8 kHz");
    let mut events = Vec::new();
    detector.push(samples, &mut events);
    detector.finish(&mut events);
    events
}

fn key_string(samples: &[f32]) -> String {
    keys(samples).iter().map(|e| e.key.as_char()).collect()
}

/// A mono call: line noise, the prompt at `at` with `gain`, keys `digits` over it, through
/// µ-law.
fn call(prompt: &[f32], at: usize, gain: f32, digits: &[Digit], seconds: f64) -> Vec<f32> {
    let mut line = vec![0.0f32; (seconds * f64::from(RATE)) as usize];
    noise::pink(&mut line, -55.0, &mut Rng::new(7));
    mix(&mut line, at, prompt, gain);
    for digit in digits {
        add_digit(&mut line, RATE, digit);
    }
    g711::channel(&mut line, g711::Law::Ulaw);
    line
}

#[test]
fn a_prompt_keyed_over_is_found_taken_out_and_the_keys_are_left() {
    let prompt = voice(105.0, 4.0, -12.0, 1);
    // weak keys under a loud prompt, the case that loses keys on mono recordings
    let digits: Vec<Digit> = ['7', '3']
        .iter()
        .enumerate()
        .map(|(i, &key)| Digit {
            start: 16_000 + 6_000 * i + 4_000,
            ..Digit::new(key, 0, 480).levels(-24.0, -22.0)
        })
        .collect();
    let mut channel = call(&prompt, 16_000, 0.7, &digits, 8.0);
    let before = key_string(&channel);
    let found = cancel(&mut channel, &[Prompt::new(prompt).expect("a prompt")]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].start, 16_000);
    assert!(
        (found[0].gain_db - 20.0 * 0.7f64.log10()).abs() < 0.5,
        "{found:?}"
    );
    assert!(found[0].cancelled_db > 20.0, "{found:?}");
    assert_eq!(
        key_string(&channel),
        "73",
        "the keys were {before:?} before"
    );
    assert_ne!(
        before, "73",
        "the plain detector must have lost a key for this to show anything"
    );
}

#[test]
fn a_channel_without_the_prompt_is_left_exactly_as_it_was() {
    let prompt = voice(110.0, 3.0, -16.0, 2);
    // another voice saying other things, at a similar pitch, and a key
    let other = voice(112.0, 3.0, -16.0, 3);
    let digits = [Digit {
        start: 30_000,
        ..Digit::new('5', 0, 800)
    }];
    let channel = call(&other, 8_000, 1.0, &digits, 6.0);
    let mut cancelled = channel.clone();
    let found = cancel(&mut cancelled, &[Prompt::new(prompt).expect("a prompt")]);
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(cancelled, channel);
}

#[test]
fn a_prompt_cut_by_the_recording_and_a_repeated_one_are_each_found() {
    let prompt = voice(180.0, 2.0, -16.0, 4);
    let mut channel = vec![0.0f32; 8 * RATE as usize];
    noise::white(&mut channel, -60.0, &mut Rng::new(5));
    // the recording starts half a second into the prompt, which is then played twice more
    mix(&mut channel, 0, &prompt[4_000..], 1.0);
    mix(&mut channel, 20_000, &prompt, 0.5);
    mix(&mut channel, 44_000, &prompt, 0.5);
    let found = cancel(&mut channel, &[Prompt::new(prompt).expect("a prompt")]);
    let starts: Vec<i64> = found.iter().map(|f| f.start).collect();
    assert_eq!(starts, vec![-4_000, 20_000, 44_000]);
    let left = channel.iter().map(|s| s.abs()).fold(0.0f32, f32::max);
    assert!(left < 0.01, "{left}");
}

#[test]
fn the_fit_follows_a_line_that_colours_and_delays_the_prompt() {
    let prompt = voice(220.0, 3.0, -16.0, 6);
    // a band-limiting line with a half-sample delay
    let line = [0.05f32, 0.3, 0.45, 0.3, 0.05, -0.1];
    let mut filtered = vec![0.0f32; prompt.len() + line.len()];
    for (n, &p) in prompt.iter().enumerate() {
        for (k, &h) in line.iter().enumerate() {
            filtered[n + k] += h * p;
        }
    }
    let mut channel = vec![0.0f32; 6 * RATE as usize];
    mix(&mut channel, 9_000, &filtered, 1.0);
    g711::channel(&mut channel, g711::Law::Alaw);
    let power = |s: &[f32]| s.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>();
    let before = power(&channel);
    let found = cancel(&mut channel, &[Prompt::new(prompt).expect("a prompt")]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!((found[0].start - 9_002).abs() <= 2, "{found:?}");
    let taken = 10.0 * (before / power(&channel)).log10();
    assert!(taken > 25.0, "{taken} dB");
}

#[test]
fn the_correlation_by_blocks_of_ffts_is_the_direct_sum() {
    let prompt = voice(150.0, 0.5, -16.0, 8);
    let mut channel = vec![0.0f32; 40_000];
    noise::pink(&mut channel, -30.0, &mut Rng::new(9));
    mix(&mut channel, 25_000, &prompt, 0.3);
    let prompt = Prompt::new(prompt).expect("a prompt");
    let direct = |start: i64| -> f64 {
        let mut dot = 0.0;
        let mut window = 0.0;
        for (i, &p) in prompt.samples.iter().enumerate() {
            let x = usize::try_from(start + i as i64)
                .ok()
                .and_then(|n| channel.get(n))
                .map_or(0.0, |&x| f64::from(x));
            dot += x * f64::from(p);
            window += x * x;
        }
        dot / (prompt.energy * window).sqrt()
    };
    let found = candidates(&channel, &prompt, &mut RealFftPlanner::new());
    assert_eq!(found[0].0, 25_000, "{found:?}");
    // the block size is 16384 samples: candidates in several blocks are checked
    assert!(found.len() > 3, "{found:?}");
    for &(start, correlation) in &found {
        assert!((correlation - direct(start)).abs() < 1e-3, "{start}");
    }
}

#[test]
fn prompts_too_short_too_long_or_silent_are_refused() {
    assert!(matches!(
        Prompt::new(vec![0.1; 100]),
        Err(PromptError::Length { .. })
    ));
    assert!(matches!(
        Prompt::new(vec![0.1; 121 * RATE as usize]),
        Err(PromptError::Length { .. })
    ));
    assert_eq!(Prompt::new(vec![0.0; 8_000]), Err(PromptError::Silent));
    let error = Prompt::new(vec![0.1; 100]).expect_err("short");
    assert_eq!(
        error.to_string(),
        "the prompt is 0.01 s long; a prompt must be 0.25-120 s"
    );
}

#[test]
fn hostile_channels_end_without_a_panic_or_an_infinity() {
    let prompt = Prompt::new(voice(120.0, 1.0, -16.0, 10)).expect("a prompt");
    for mut channel in [
        Vec::new(),
        vec![0.0; 10],
        vec![1.0; 30_000],
        vec![f32::MAX; 20_000],
        (0..20_000)
            .map(|n| if n % 2 == 0 { 1.0 } else { -1.0 })
            .collect(),
    ] {
        let before = channel.clone();
        let found = cancel(&mut channel, std::slice::from_ref(&prompt));
        // what was taken out is finite; a channel of full-scale DC may lose a prompt-shaped part
        // of itself, the stored recording does not
        for (after, before) in channel.iter().zip(&before) {
            assert!(after.is_finite() || !before.is_finite(), "{found:?}");
        }
    }
}
