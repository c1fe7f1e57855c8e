//! Survey-like calls in which callers key their answers, often over the prompt.
//!
//! Each call plays one to four survey prompts (synthetic speech, ITU-T P.56 active level).
//! The caller answers each with one to three keys, each tone up to ±1 % off frequency, each
//! 45-400 ms long with gaps of at least 50 ms. Some answers start while the prompt is still
//! talking, some callers speak as well, and every call has background noise and goes through
//! a telephone codec. How loud the prompts and keys are, where a key may fall in a prompt and
//! how the IVR stored its prompts is the call set's [`Breadth`].

use callscore_prompts::Prompt;
use callscore_synth::{Digit, add_digit, mix, noise, set_active_level};

use crate::score::Press;
use crate::speech::{PromptFile, Speaker, SpeechError, stored_as, trim};
use crate::talkoff::telephone_channel;
use crate::{RATE, seeded};

/// How far the calls' levels, timings and prompt files range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Breadth {
    /// The first round's ranges, which the detector was tuned on: prompts at -20 to -16 dBm0
    /// played as synthesised, both tones of a key at -16 to -4 dBm0 and up to 4 dB apart
    /// either way, a key keyed over a prompt in its second half.
    #[default]
    FirstRound,
    /// The second round's, where the first round's held-out misses pointed, and what the
    /// held-out evaluation uses: prompts at -20 to -12 dBm0, stored by the IVR as 16-bit,
    /// A-law, GSM 6.10 or MP3 files and played from them; both tones at -20 to -4 dBm0, up
    /// to 6 dB apart with the low group louder and up to 4 dB with the high group louder (a
    /// receiver must accept 8 and 4, ITU-T Q.24); a key keyed at any point of a prompt.
    Wide,
}

/// The ranges of one [`Breadth`].
struct Ranges {
    prompt_dbm0: (f64, f64),
    /// The weaker tone's level; the stronger one is up to the twist above it (by which group
    /// is louder: low, high), within the range.
    key_dbm0: (f64, f64),
    twist_db: (f64, f64),
    /// Where in a prompt a key keyed over it may start, as a share of the prompt.
    barge_from: f64,
    /// Whether the IVR stores its prompts in a coded file.
    stored: bool,
}

impl Breadth {
    fn ranges(self) -> Ranges {
        match self {
            Breadth::FirstRound => Ranges {
                prompt_dbm0: (-20.0, -16.0),
                key_dbm0: (-16.0, -4.0),
                twist_db: (4.0, 4.0),
                barge_from: 0.5,
                stored: false,
            },
            Breadth::Wide => Ranges {
                prompt_dbm0: (-20.0, -12.0),
                key_dbm0: (-20.0, -4.0),
                twist_db: (6.0, 4.0),
                barge_from: 0.0,
                stored: true,
            },
        }
    }
}

/// The keys a caller answers with.
const ANSWER_KEYS: [char; 12] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#'];

/// One generated call.
#[derive(Debug, Clone)]
pub struct Call {
    /// Its index.
    pub index: usize,
    /// What is in it.
    pub description: String,
    /// 8 kHz samples, full scale 1.0.
    pub samples: Vec<f32>,
    /// The keys pressed, in order.
    pub presses: Vec<Press>,
    /// The prompts as the IVR holds them (before the level and the line), in the order played.
    pub prompts: Vec<Prompt>,
}

fn seconds(s: f64) -> usize {
    (s * f64::from(RATE)) as usize
}

/// Generates call number `index` of the set of `seed`.
pub fn call(index: usize, seed: u64, breadth: Breadth) -> Result<Call, SpeechError> {
    let ranges = breadth.ranges();
    let mut rng = seeded(seed, 100, index as u64);
    let ivr = Speaker {
        speed: rng.below(140, 190) as u32,
        ..Speaker::random(&mut rng)
    };
    let caller = Speaker::random(&mut rng);
    let questions = rng.below(1, 5);
    // (samples, position) of each sound, and the digits
    let mut sounds: Vec<(Vec<f32>, usize)> = Vec::new();
    let mut digits: Vec<Digit> = Vec::new();
    let mut prompts = Vec::new();
    let mut t = rng.uniform(0.3, 1.0);
    let mut barged = 0;
    let mut spoke = 0;
    let file = ranges.stored.then(|| *rng.pick(&PromptFile::ALL));
    for _ in 0..questions {
        let mut prompt = trim(&ivr.speak(&ivr.utterance(&mut rng))?).to_vec();
        if let Some(file) = file {
            // the IVR's file at a usual level, as its decoder plays it
            set_active_level(&mut prompt, RATE, -20.0);
            prompt = stored_as(&prompt, file)?;
        }
        // a prompt too short for the canceller is one the IVR does not declare
        prompts.extend(Prompt::new(prompt.clone()).ok());
        let (quiet, loud) = ranges.prompt_dbm0;
        set_active_level(&mut prompt, RATE, rng.uniform(quiet, loud));
        let prompt_len = prompt.len() as f64 / f64::from(RATE);
        let prompt_start = t;
        sounds.push((prompt, seconds(t)));
        let prompt_end = prompt_start + prompt_len;

        let barge = rng.chance(0.4);
        let mut key_time = if barge {
            barged += 1;
            rng.uniform(
                prompt_start + ranges.barge_from * prompt_len,
                (prompt_end - 0.1).max(prompt_start),
            )
        } else {
            prompt_end + rng.uniform(0.2, 2.0)
        };
        let keys = rng.below(1, 4);
        for _ in 0..keys {
            let len = rng.uniform(0.045, 0.400);
            // both tones within the range, up to the twist apart either way
            let weaker = rng.uniform(ranges.key_dbm0.0, ranges.key_dbm0.1);
            let twist = rng.uniform(0.0, 1.0);
            let (low, high) = if rng.chance(0.5) {
                let stronger = weaker + twist * ranges.twist_db.0;
                (stronger.min(ranges.key_dbm0.1), weaker)
            } else {
                let stronger = weaker + twist * ranges.twist_db.1;
                (weaker, stronger.min(ranges.key_dbm0.1))
            };
            let digit = Digit {
                start: seconds(key_time),
                ..Digit::new(*rng.pick(&ANSWER_KEYS), 0, seconds(len))
                    .levels(low, high)
                    .deviations(rng.uniform(-0.01, 0.01), rng.uniform(-0.01, 0.01))
                    .random_phases(&mut rng)
            };
            digits.push(digit);
            key_time += len + rng.uniform(0.050, 0.600);
        }
        t = prompt_end.max(key_time) + rng.uniform(0.5, 1.5);

        if rng.chance(0.3) {
            spoke += 1;
            let mut said = trim(&caller.speak(&caller.utterance(&mut rng))?).to_vec();
            set_active_level(&mut said, RATE, rng.uniform(-26.0, -16.0));
            let at = rng.uniform(prompt_start, t);
            t = t.max(at + said.len() as f64 / f64::from(RATE) + 0.3);
            sounds.push((said, seconds(at)));
        }
    }
    let len = seconds(t + 0.5);
    let mut samples = vec![0.0f32; len];
    for (sound, at) in &sounds {
        mix(&mut samples, *at, sound, 1.0);
    }
    for d in &digits {
        add_digit(&mut samples, RATE, d);
    }
    let background = rng.below(0, 3);
    let mut floor = vec![0.0f32; len];
    match background {
        0 => noise::pink(&mut floor, rng.uniform(-55.0, -38.0), &mut rng),
        1 => noise::brown(&mut floor, rng.uniform(-55.0, -38.0), &mut rng),
        _ => noise::white(&mut floor, rng.uniform(-55.0, -40.0), &mut rng),
    }
    mix(&mut samples, 0, &floor, 1.0);
    let channel = telephone_channel(&mut samples, &mut rng);
    let presses = digits
        .iter()
        .map(|d| Press {
            key: d.key,
            start: d.start as f64 / f64::from(RATE),
            end: (d.start + d.len) as f64 / f64::from(RATE),
        })
        .collect();
    Ok(Call {
        index,
        description: format!(
            "{questions} questions by {} ({} prompts), {barged} keyed over the prompt, caller {} spoke {spoke} times; {channel}",
            ivr.describe(),
            file.map_or("synthesised", PromptFile::name),
            caller.describe()
        ),
        samples,
        presses,
        prompts,
    })
}
