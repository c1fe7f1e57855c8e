//! The talk-off corpus: telephone-band audio with no DTMF in it, on which every detected key
//! is a false digit.
//!
//! The corpus is a list of 30-second items in five categories. Item `i` of a category is made
//! from the seed and `i` alone, so a shorter corpus is always the first items of a longer one:
//! a 10-minute slice is part of the 60-minute corpus.

use callscore_synth::{Rng, g711, mix, music, noise, progress, set_active_level, set_level};

use crate::speech::{Speaker, SpeechError, trim};
use crate::{RATE, seeded};

/// Length of one corpus item in seconds.
pub const ITEM_SECONDS: f64 = 30.0;

/// A category of non-DTMF audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// One or two synthetic speakers, eleven languages, many voices.
    Speech,
    /// Three to eight speakers at once.
    Babble,
    /// Melodies, chords, bass and percussion with harmonic timbres.
    Music,
    /// White, pink and brown noise, steady or swelling.
    Noise,
    /// Call-progress and fax tones: dial, ringback, busy, reorder, SIT, CNG, CED.
    Tones,
}

impl Category {
    /// Every category.
    pub const ALL: [Category; 5] = [
        Category::Speech,
        Category::Babble,
        Category::Music,
        Category::Noise,
        Category::Tones,
    ];

    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Category::Speech => "speech",
            Category::Babble => "babble",
            Category::Music => "music",
            Category::Noise => "noise",
            Category::Tones => "tones",
        }
    }

    /// Share of the corpus.
    fn share(self) -> f64 {
        match self {
            Category::Speech => 0.45,
            Category::Babble => 0.10,
            Category::Music => 0.20,
            Category::Noise => 0.10,
            Category::Tones => 0.15,
        }
    }

    fn tag(self) -> u64 {
        self as u64 + 1
    }
}

/// One item of the corpus.
#[derive(Debug, Clone)]
pub struct Item {
    /// Its category.
    pub category: Category,
    /// Its index within the category.
    pub index: usize,
    /// What is in it.
    pub description: String,
    /// 8 kHz samples, full scale 1.0.
    pub samples: Vec<f32>,
}

/// The items of a corpus of about `minutes` minutes: at least one of each category.
pub fn plan(minutes: f64) -> Vec<(Category, usize)> {
    Category::ALL
        .iter()
        .flat_map(|&c| {
            let n = ((minutes * 60.0 * c.share() / ITEM_SECONDS).round() as usize).max(1);
            (0..n).map(move |i| (c, i))
        })
        .collect()
}

/// Generates one item.
pub fn item(category: Category, index: usize, seed: u64) -> Result<Item, SpeechError> {
    let mut rng = seeded(seed, category.tag(), index as u64);
    let len = (ITEM_SECONDS * f64::from(RATE)) as usize;
    let (mut samples, description) = match category {
        Category::Speech => speech(len, &mut rng)?,
        Category::Babble => babble(len, &mut rng)?,
        Category::Music => (music::generate(ITEM_SECONDS, &mut rng), "music".to_owned()),
        Category::Noise => noise_item(len, &mut rng),
        Category::Tones => tones(len, &mut rng),
    };
    samples.resize(len, 0.0);
    let channel = telephone_channel(&mut samples, &mut rng);
    Ok(Item {
        category,
        index,
        description: format!("{description}; {channel}"),
        samples,
    })
}

/// Adds a faint noise floor and passes the signal through G.711 (or a 16-bit path) as a
/// telephone recording would.
pub(crate) fn telephone_channel(samples: &mut [f32], rng: &mut Rng) -> &'static str {
    noise::white(samples, rng.uniform(-68.0, -58.0), rng);
    let r = rng.uniform(0.0, 1.0);
    if r < 0.5 {
        g711::channel(samples, g711::Law::Ulaw);
        "mu-law"
    } else if r < 0.75 {
        g711::channel(samples, g711::Law::Alaw);
        "a-law"
    } else {
        callscore_synth::clip(samples);
        "linear"
    }
}

/// Speech from one speaker, or a dialogue of two, with pauses.
fn speech(len: usize, rng: &mut Rng) -> Result<(Vec<f32>, String), SpeechError> {
    let speakers: Vec<Speaker> = (0..if rng.chance(0.3) { 2 } else { 1 })
        .map(|_| Speaker::random(rng))
        .collect();
    let mut out = vec![0.0f32; len];
    let mut pos = rng.below(0, 4000);
    let mut turn = 0;
    while pos < len {
        let speaker = &speakers[turn % speakers.len()];
        let mut said = trim(&speaker.speak(&speaker.utterance(rng))?).to_vec();
        set_active_level(&mut said, RATE, rng.uniform(-26.0, -8.0));
        mix(&mut out, pos, &said, 1.0);
        pos += said.len() + rng.below(800, 12_000);
        turn += 1;
    }
    let who: Vec<String> = speakers.iter().map(Speaker::describe).collect();
    Ok((out, format!("speech {}", who.join(" / "))))
}

/// Several speakers talking at once.
fn babble(len: usize, rng: &mut Rng) -> Result<(Vec<f32>, String), SpeechError> {
    let n = rng.below(3, 9);
    let mut out = vec![0.0f32; len];
    for _ in 0..n {
        let speaker = Speaker::random(rng);
        let mut pos = rng.below(0, 16_000);
        while pos < len {
            let said = speaker.speak(&speaker.utterance(rng))?;
            mix(&mut out, pos, trim(&said), 1.0);
            pos += said.len() + rng.below(400, 6000);
        }
    }
    set_level(&mut out, rng.uniform(-30.0, -12.0));
    Ok((out, format!("babble of {n}")))
}

/// One colour of noise, steady or slowly swelling.
fn noise_item(len: usize, rng: &mut Rng) -> (Vec<f32>, String) {
    let mut out = vec![0.0f32; len];
    let level = rng.uniform(-45.0, -10.0);
    let colour = rng.below(0, 3);
    match colour {
        0 => noise::white(&mut out, level, rng),
        1 => noise::pink(&mut out, level, rng),
        _ => noise::brown(&mut out, level, rng),
    }
    let swell = rng.chance(0.5);
    if swell {
        let rate = rng.uniform(0.2, 3.0);
        let phase = rng.phase();
        for (i, x) in out.iter_mut().enumerate() {
            let t = i as f64 / f64::from(RATE);
            *x *= (1.0 + 0.8 * (std::f64::consts::TAU * rate * t + phase).sin()) as f32;
        }
    }
    let name = ["white", "pink", "brown"][colour];
    (
        out,
        format!(
            "{name} noise {level:.0} dBm0{}",
            if swell { " swelling" } else { "" }
        ),
    )
}

/// Every call-progress and fax tone, three seconds each, in a random order.
fn tones(len: usize, rng: &mut Rng) -> (Vec<f32>, String) {
    let mut out = vec![0.0f32; len];
    let mut kinds = progress::Kind::ALL.to_vec();
    for i in (1..kinds.len()).rev() {
        kinds.swap(i, rng.below(0, i + 1));
    }
    let part = len / kinds.len();
    for (j, kind) in kinds.iter().enumerate() {
        let tone = progress::generate(*kind, part as f64 / f64::from(RATE), rng);
        mix(&mut out, j * part, &tone, 1.0);
    }
    let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    (out, format!("tones {}", names.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shorter_plan_is_a_prefix_of_a_longer_one() {
        let short = plan(10.0);
        let long = plan(60.0);
        for entry in &short {
            assert!(long.contains(entry));
        }
        let seconds = long.len() as f64 * ITEM_SECONDS;
        assert!((3500.0..=3700.0).contains(&seconds), "{seconds}");
        for c in Category::ALL {
            assert!(short.iter().any(|(k, _)| *k == c));
        }
    }
}
