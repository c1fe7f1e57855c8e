//! The ITU-T Q.24 (AT&T column) conformance suite, for any [`KeyDetector`].
//!
//! Every check generates deterministic signals from its own seed: random tone phases, and
//! tones placed at random offsets so that they fall at every alignment to a detector's analysis
//! blocks. A check counts its trials and the ones the detector got right, and lists what went
//! wrong; a detector conforms when every check passes. Levels follow G.711: a full-scale sine
//! is +3.14 dBm0.
//!
//! | check | Q.24 requirement |
//! |---|---|
//! | [`frequency_accepted`] | every tone within 1.5 % + 2 Hz is accepted |
//! | [`frequency_rejected`] | every tone 3.5 % or more off is rejected |
//! | [`twist_accepted`] | twist up to 8 dB normal and 4 dB reverse is accepted |
//! | [`long_tones_detected`] | every tone of 40 ms or more is detected |
//! | [`short_tones_rejected`] | no tone of 23 ms or less is detected |
//! | [`pause_separates`] | a 40 ms pause separates two identical digits |
//! | [`interruption_bridged`] | a break of 10 ms or less inside a tone is bridged |
//! | [`levels_accepted`] | +3 (clipped on a 16-bit path) down to -25 dBm0 per tone is accepted |
//! | [`quiet_rejected`] | nothing below -55 dBm0 is detected |
//! | [`white_noise`] | at 15 dB SNR, at least 99 % detected and nothing inserted |
//!
//! Found keys must also be timed: start and end within [`TIMING_TOLERANCE`] of the truth.
//!
//! [`TIMING_TOLERANCE`]: crate::score::TIMING_TOLERANCE

use callscore_synth::{COL_HZ, Digit, KEYS, ROW_HZ, Rng, add_digit, clip, key_frequencies, noise};

use crate::RATE;
use crate::score::{KeyDetector, Press, compare};

/// The outcome of one conformance check for one detector.
#[derive(Debug, Clone)]
pub struct Check {
    /// Short name.
    pub name: &'static str,
    /// What Q.24 requires.
    pub requirement: &'static str,
    /// Signals (or digits) tried.
    pub trials: usize,
    /// Of those, how many the detector got right.
    pub correct: usize,
    /// Share of `trials` that must be right for the check to pass (1 for all but noise).
    pub required_rate: f64,
    /// Inserted keys: any is a failure.
    pub insertions: usize,
    /// Found keys timed more than [`TIMING_TOLERANCE`](crate::score::TIMING_TOLERANCE) off.
    pub mistimed: usize,
    /// Largest start or end error of a found key, in seconds.
    pub worst_timing: f64,
    /// What went wrong, described (at most [`Check::SHOWN`] of each kind).
    pub failures: Vec<String>,
}

impl Check {
    /// Failures kept per check for reporting.
    pub const SHOWN: usize = 20;

    fn new(name: &'static str, requirement: &'static str) -> Check {
        Check {
            name,
            requirement,
            trials: 0,
            correct: 0,
            required_rate: 1.0,
            insertions: 0,
            mistimed: 0,
            worst_timing: 0.0,
            failures: Vec::new(),
        }
    }

    /// Share of the trials the detector got right.
    pub fn rate(&self) -> f64 {
        if self.trials == 0 {
            1.0
        } else {
            self.correct as f64 / self.trials as f64
        }
    }

    /// Whether the detector found and rejected what it must, timing aside.
    pub fn detection_passed(&self) -> bool {
        self.trials > 0 && self.rate() >= self.required_rate && self.insertions == 0
    }

    /// Whether the detector met the requirement, with every found key timed to
    /// [`TIMING_TOLERANCE`].
    ///
    /// [`TIMING_TOLERANCE`]: crate::score::TIMING_TOLERANCE
    pub fn passed(&self) -> bool {
        self.detection_passed() && self.mistimed == 0
    }

    fn note(&mut self, failure: String) {
        if self.failures.len() < Self::SHOWN {
            self.failures.push(failure);
        }
    }

    /// A trial in which every digit must be found, on time, and nothing else.
    fn expect(&mut self, what: &str, truth: &[Press], detected: &[Press]) {
        let outcome = compare(truth, detected);
        self.trials += truth.len();
        self.correct += outcome.found;
        self.insertions += outcome.inserted.len();
        self.mistimed += outcome.mistimed.len();
        self.worst_timing = self.worst_timing.max(outcome.worst_timing);
        if !outcome.missed.is_empty() || !outcome.inserted.is_empty() {
            self.note(format!(
                "{what}: missed {}, inserted {}",
                keys(&outcome.missed),
                keys(&outcome.inserted)
            ));
        } else if !outcome.mistimed.is_empty() {
            self.note(format!(
                "{what}: timed {:.1} ms off",
                outcome.worst_timing * 1000.0
            ));
        }
    }

    /// A trial in which nothing may be detected.
    fn expect_nothing(&mut self, what: &str, detected: &[Press]) {
        self.trials += 1;
        if detected.is_empty() {
            self.correct += 1;
        } else {
            self.note(format!("{what}: detected {}", keys(detected)));
        }
    }
}

fn keys(presses: &[Press]) -> String {
    if presses.is_empty() {
        return "nothing".to_owned();
    }
    presses
        .iter()
        .map(|p| format!("{}@{:.3}-{:.3}", p.key, p.start, p.end))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Samples in `ms` milliseconds at 8 kHz.
pub fn ms(ms: f64) -> usize {
    (ms * f64::from(RATE) / 1000.0).round() as usize
}

fn press(d: &Digit) -> Press {
    Press {
        key: d.key,
        start: d.start as f64 / f64::from(RATE),
        end: (d.start + d.len) as f64 / f64::from(RATE),
    }
}

/// Places `digits` in a silent signal one after another, each after `gap_ms` plus up to one
/// 5 ms block, so that tones fall at every alignment to the analysis blocks. Returns the
/// signal and the digits as placed.
pub fn sequence(digits: Vec<Digit>, gap_ms: f64, rng: &mut Rng) -> (Vec<f32>, Vec<Press>) {
    let mut pos = 0;
    let mut placed = Vec::with_capacity(digits.len());
    for mut d in digits {
        pos += ms(gap_ms) + rng.below(0, ms(5.0) + 1);
        d.start = pos;
        pos += d.len;
        placed.push(d);
    }
    let mut signal = vec![0.0f32; pos + ms(gap_ms) + ms(50.0)];
    for d in &placed {
        add_digit(&mut signal, RATE, d);
    }
    (signal, placed.iter().map(press).collect())
}

fn keys_with_tone(freq: f64) -> impl Iterator<Item = char> {
    KEYS.into_iter().filter(move |&k| {
        let (r, c) = key_frequencies(k).expect("KEYS are DTMF keys");
        r == freq || c == freq
    })
}

fn all_tones() -> impl Iterator<Item = f64> {
    ROW_HZ.into_iter().chain(COL_HZ)
}

/// A 60 ms digit at -10 dBm0 per tone with the tone `tone` off by `deviation` (relative) plus
/// `offset_hz`.
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

/// Every tone, in every key it belongs to, at 21 points across -1.5 % - 2 Hz to +1.5 % + 2 Hz.
pub fn frequency_accepted(detector: &dyn KeyDetector) -> Check {
    let mut check = Check::new("frequency accepted", "within 1.5 % + 2 Hz: accepted");
    let mut rng = Rng::new(101);
    for tone in all_tones() {
        for step in -10..=10 {
            let fraction = f64::from(step) / 10.0;
            for key in keys_with_tone(tone) {
                let d = off_frequency(key, tone, 0.015 * fraction, 2.0 * fraction, &mut rng);
                let (signal, truth) = sequence(vec![d], 60.0, &mut rng);
                let what = format!(
                    "{key} with {tone} Hz at {:+.2} % {:+.1} Hz",
                    1.5 * fraction,
                    2.0 * fraction
                );
                check.expect(&what, &truth, &detector.detect(&signal));
            }
        }
    }
    check
}

/// Every tone, in every key it belongs to, from 3.5 % off outwards in 0.25 % steps on both
/// sides, until the shifted tone nears another frequency of its group.
pub fn frequency_rejected(detector: &dyn KeyDetector) -> Check {
    let mut check = Check::new("frequency rejected", "3.5 % off or more: rejected");
    let mut rng = Rng::new(102);
    for tone in all_tones() {
        let group = if ROW_HZ.contains(&tone) {
            ROW_HZ
        } else {
            COL_HZ
        };
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
                    let what = format!("{key} with {tone} Hz at {:+.2} %", deviation * 100.0);
                    check.expect_nothing(&what, &detector.detect(&signal));
                }
            }
        }
    }
    check
}

/// A 50 ms digit of `key` with the louder tone at `strong` dBm0 and `twist` dB between them
/// (positive: low group louder).
fn twisted(key: char, strong: f64, twist: f64, rng: &mut Rng) -> Digit {
    let (low, high) = if twist >= 0.0 {
        (strong, strong - twist)
    } else {
        (strong + twist, strong)
    };
    Digit::new(key, 0, ms(50.0))
        .levels(low, high)
        .random_phases(rng)
}

/// Every key at three levels with 0 to 8 dB normal and 0 to 4 dB reverse twist.
pub fn twist_accepted(detector: &dyn KeyDetector) -> Check {
    let mut check = Check::new(
        "twist accepted",
        "up to 8 dB low louder and 4 dB high louder: accepted",
    );
    let mut rng = Rng::new(103);
    let twists = (0..=16)
        .map(|i| f64::from(i) / 2.0)
        .chain([7.9])
        .chain((1..=8).map(|i| -f64::from(i) / 2.0));
    for twist in twists {
        for key in KEYS {
            for strong in [0.0, -10.0, -17.0] {
                let d = twisted(key, strong, twist, &mut rng);
                let (signal, truth) = sequence(vec![d], 60.0, &mut rng);
                let what = format!("{key} at {strong} dBm0 with {twist:+.1} dB twist");
                check.expect(&what, &truth, &detector.detect(&signal));
            }
        }
    }
    check
}

/// The largest normal and reverse twist (in 0.5 dB steps up to 12 dB) at which a detector
/// still finds every key at 0, -10 and -17 dBm0: how far beyond Q.24 it reaches.
pub fn twist_limits(detector: &dyn KeyDetector) -> (f64, f64) {
    let mut rng = Rng::new(113);
    let mut limit = |sign: f64| {
        let mut accepted = 0.0;
        for step in 1..=24 {
            let twist = f64::from(step) / 2.0;
            let all = KEYS.iter().all(|&key| {
                [0.0, -10.0, -17.0].iter().all(|&strong| {
                    let d = twisted(key, strong, sign * twist, &mut rng);
                    let (signal, truth) = sequence(vec![d], 60.0, &mut rng);
                    let outcome = compare(&truth, &detector.detect(&signal));
                    outcome.found == 1 && outcome.inserted.is_empty()
                })
            });
            if !all {
                break;
            }
            accepted = twist;
        }
        accepted
    };
    (limit(1.0), limit(-1.0))
}

/// Every key, 40 ms to 1 s long, at 0, -10 and -25 dBm0.
pub fn long_tones_detected(detector: &dyn KeyDetector) -> Check {
    let mut check = Check::new("40 ms detected", "every tone of 40 ms or more: detected");
    let mut rng = Rng::new(104);
    for len in [
        40.0, 40.5, 41.0, 42.0, 45.0, 50.0, 70.0, 100.0, 250.0, 1000.0,
    ] {
        for key in KEYS {
            for level in [0.0, -10.0, -25.0] {
                for _ in 0..3 {
                    let d = Digit::new(key, 0, ms(len))
                        .levels(level, level)
                        .random_phases(&mut rng);
                    let (signal, truth) = sequence(vec![d], 60.0, &mut rng);
                    let what = format!("{len} ms {key} at {level} dBm0");
                    check.expect(&what, &truth, &detector.detect(&signal));
                }
            }
        }
    }
    check
}

/// Every key, 2 to 23 ms long, at +3 (clipped) to -25 dBm0.
pub fn short_tones_rejected(detector: &dyn KeyDetector) -> Check {
    let mut check = Check::new("23 ms rejected", "no tone of 23 ms or less: detected");
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
                    let what = format!("{len} ms {key} at {level} dBm0");
                    check.expect_nothing(&what, &detector.detect(&signal));
                }
            }
        }
    }
    check
}

/// Two identical digits of 40 to 100 ms, 40 to 60 ms apart: two digits.
pub fn pause_separates(detector: &dyn KeyDetector) -> Check {
    let mut check = Check::new("40 ms pause", "a 40 ms pause separates identical digits");
    let mut rng = Rng::new(106);
    for key in KEYS {
        for len in [40.0, 50.0, 100.0] {
            for pause in [40.0, 41.0, 45.0, 60.0] {
                for _ in 0..3 {
                    let a = Digit::new(key, 0, ms(len)).random_phases(&mut rng);
                    let b = Digit::new(key, 0, ms(len)).random_phases(&mut rng);
                    let (signal, truth) = sequence(vec![a, b], pause, &mut rng);
                    let what = format!("two {len} ms {key} {pause} ms apart");
                    check.expect(&what, &truth, &detector.detect(&signal));
                }
            }
        }
    }
    check
}

/// One key press with a break of 1 to 10 ms in it (the tones resume with new phases): one
/// digit.
pub fn interruption_bridged(detector: &dyn KeyDetector) -> Check {
    let mut check = Check::new("10 ms break", "a break of 10 ms or less is bridged");
    let mut rng = Rng::new(107);
    for key in KEYS {
        for gap in [1.0, 2.0, 5.0, 8.0, 10.0] {
            for _ in 0..4 {
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
                add_digit(&mut signal, RATE, &a);
                add_digit(&mut signal, RATE, &b);
                let whole = Press {
                    end: (b.start + b.len) as f64 / f64::from(RATE),
                    ..press(&a)
                };
                let what = format!("{key} with a {gap} ms break");
                check.expect(&what, &[whole], &detector.detect(&signal));
            }
        }
    }
    check
}

/// Every key at every whole level from +3 to -25 dBm0 per tone, clipped to 16-bit full
/// scale (two tones at +3 dBm0 peak at twice full scale).
pub fn levels_accepted(detector: &dyn KeyDetector) -> Check {
    let mut check = Check::new("levels accepted", "+3 to -25 dBm0 per tone: accepted");
    let mut rng = Rng::new(108);
    for level in (-25..=3).map(f64::from) {
        for key in KEYS {
            let d = Digit::new(key, 0, ms(50.0))
                .levels(level, level)
                .random_phases(&mut rng);
            let (mut signal, truth) = sequence(vec![d], 60.0, &mut rng);
            clip(&mut signal);
            let what = format!("{key} at {level} dBm0");
            check.expect(&what, &truth, &detector.detect(&signal));
        }
    }
    check
}

/// Every key, 500 ms long, at -55 dBm0 and below.
pub fn quiet_rejected(detector: &dyn KeyDetector) -> Check {
    let mut check = Check::new("below -55 dBm0", "below -55 dBm0 per tone: never detected");
    let mut rng = Rng::new(109);
    for level in [-55.0, -58.0, -65.0, -80.0] {
        for key in KEYS {
            let d = Digit::new(key, 0, ms(500.0))
                .levels(level, level)
                .random_phases(&mut rng);
            let (signal, _) = sequence(vec![d], 60.0, &mut rng);
            let what = format!("{key} at {level} dBm0");
            check.expect_nothing(&what, &detector.detect(&signal));
        }
    }
    check
}

/// 1,200 random digits of 40-100 ms at -5, -15 and -25 dBm0 in white noise 15 dB below one
/// tone (noise power over 0-4 kHz).
pub fn white_noise(detector: &dyn KeyDetector) -> Check {
    let mut check = Check::new(
        "15 dB SNR",
        "white noise at 15 dB SNR: 99 % detected, none inserted",
    );
    check.required_rate = 0.99;
    for (i, level) in [-5.0, -15.0, -25.0].into_iter().enumerate() {
        let mut rng = Rng::new(110 + i as u64);
        let digits: Vec<Digit> = (0..400)
            .map(|_| {
                Digit::new(*rng.pick(&KEYS), 0, ms(rng.uniform(40.0, 100.0)))
                    .levels(level, level)
                    .random_phases(&mut rng)
            })
            .collect();
        let (mut signal, truth) = sequence(digits, 60.0, &mut rng);
        noise::white(&mut signal, level - 15.0, &mut rng);
        let what = format!("400 digits at {level} dBm0");
        check.expect(&what, &truth, &detector.detect(&signal));
    }
    check
}

/// Every check, in the order of the table above.
pub fn all(detector: &dyn KeyDetector) -> Vec<Check> {
    let checks: [fn(&dyn KeyDetector) -> Check; 10] = [
        frequency_accepted,
        frequency_rejected,
        twist_accepted,
        long_tones_detected,
        short_tones_rejected,
        pause_separates,
        interruption_bridged,
        levels_accepted,
        quiet_rejected,
        white_noise,
    ];
    crate::parallel(checks.len(), |i| checks[i](detector))
}

/// A side-by-side table of several detectors' results: per check, each detector's right
/// trials, the keys it inserted, and whether it met the requirement (timing aside); then how
/// many found keys each timed more than 5 ms off.
pub fn render(results: &[(String, Vec<Check>)]) -> String {
    use std::fmt::Write as _;
    let mut out = format!("{:<20}", "Q.24 check");
    for (name, _) in results {
        let _ = write!(out, " {name:>28}");
    }
    out.push_str("   requirement\n");
    let rows = results.first().map_or(0, |(_, checks)| checks.len());
    for row in 0..rows {
        let first = &results[0].1[row];
        let _ = write!(out, "{:<20}", first.name);
        for (_, checks) in results {
            let c = &checks[row];
            let inserted = if c.insertions > 0 {
                format!(" +{} ins", c.insertions)
            } else {
                String::new()
            };
            let cell = format!(
                "{}/{}{inserted} {}",
                c.correct,
                c.trials,
                if c.detection_passed() { "pass" } else { "FAIL" }
            );
            let _ = write!(out, " {cell:>28}");
        }
        let _ = writeln!(out, "   {}", first.requirement);
    }
    let _ = write!(out, "{:<20}", "timed > 5 ms off");
    for (_, checks) in results {
        let mistimed: usize = checks.iter().map(|c| c.mistimed).sum();
        let worst = checks.iter().map(|c| c.worst_timing).fold(0.0, f64::max);
        let cell = format!("{mistimed} (worst {:.1} ms)", worst * 1000.0);
        let _ = write!(out, " {cell:>28}");
    }
    out.push('\n');
    out
}
