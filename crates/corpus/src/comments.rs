//! Spoken comments on a caller's leg, for the voice-activity detector (`callscore-vad`).
//!
//! Each window (6-15 s) holds one caller comment (one or two sentences of espeak-ng speech, a
//! pause between them, any language and voice of the corpus) at an active level of -30 to
//! -10 dBm0 (ITU-T P.56), placed at a random offset. The same scene is heard in every
//! [`Condition`]: clean (line noise only), under pink noise, babble or music at a given SNR
//! (speech active level over the background's mean level in the window), and, without the
//! comment, as silence, pink noise, babble, hold music or DTMF keys alone. Every window has
//! white line noise at -68 to -62 dBm0 and goes through G.711 µ-law.
//!
//! Three definitions follow how callscore uses the detector and the literature, not the
//! detector's convenience:
//!
//! - *Noise context.* callscore hands the detector the caller's channel before the comment
//!   window as its noise context (`callscore-pipeline`, 10 s). The caller's background is
//!   there before the comment too, so each window comes with [`CONTEXT_SECONDS`] of the same
//!   scene without the comment: the same babble and music streams continued, pink noise at
//!   the same level, line noise alone for the clean, silence and DTMF windows.
//! - *Truth.* A comment's active speech is what ITU-T P.56 counts as active: the 10 ms frames
//!   of the clean comment no quieter than [`ACTIVITY_MARGIN_DB`] below its active level (the
//!   P.56 threshold). An utterance's truth runs from its first to its last active frame, a
//!   comment's from the start of its first utterance to the end of its last.
//! - *Babble.* Multi-talker babble in the hearing-research sense has eight or more talkers
//!   (the 8-talker babble of the SPIN test, Kalikow, Stevens and Elliott 1977; the
//!   multi-talker babble of the QuickSIN, Killion et al. 2004): with fewer, single voices
//!   stand out and the babble is a competing talker instead. It is [`BABBLE_TALKERS`] espeak-ng
//!   talkers at the same active level, each starting on a different sentence at a random
//!   point of it.
//!
//! Window `i` of a seed is made from the seed and `i` alone. Seeds 1-10 are for tuning,
//! from 1001 on held out (as for the DTMF detector, see [`crate::seeds`]).

use std::fmt::Write as _;

use callscore_synth::{
    Digit, Rng, add_digit, dbm0_from_mean_square, g711, mean_square, mix, music, noise,
    set_active_level, set_level,
};
use callscore_vad::{Settings, Speech, find_speech};

use crate::seeds::FIRST_HELD_OUT_SEED;
use crate::speech::{Speaker, SpeechError, trim};
use crate::{RATE, parallel, seeded};

/// Frames of an utterance quieter than its comment's active level by more than this (dB)
/// are not active speech: the margin between the active level and the activity threshold of
/// ITU-T P.56 (method B).
pub const ACTIVITY_MARGIN_DB: f64 = 15.9;
/// Talkers in the babble (see the module docs: eight or more make babble).
pub const BABBLE_TALKERS: usize = 8;
/// Shortest and longest noise context before a window, in seconds (callscore passes up to
/// 10 s: less when the comment window opens early in the call).
pub const CONTEXT_SECONDS: (f64, f64) = (5.0, 10.0);
/// How far a boundary may be off, in ms (issue 24: 100 ms).
pub const BOUNDARY_TOLERANCE_MS: u32 = 100;
/// Detected speech that makes a comment count as answered (the survey's minimum speech).
pub const MIN_COMMENT_MS: u32 = 1000;
/// The held-out target: share of comments with both boundaries within the tolerance, in
/// every clean or SNR ≥ 10 dB condition.
pub const TARGET_BOUNDARIES: f64 = 0.95;

/// Tag of the scene generators (see [`crate::seeded`]).
const SCENE_TAG: u64 = 200;
/// Tag of the per-condition generators.
const RENDER_TAG: u64 = 201;
/// Samples in a 10 ms frame.
const FRAME: usize = (RATE / 100) as usize;

/// What a window holds besides line noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// The comment on a quiet line.
    Clean,
    /// The comment over pink noise at this SNR in dB.
    Pink(u8),
    /// The comment over babble of [`BABBLE_TALKERS`] other talkers at this SNR in dB.
    Babble(u8),
    /// The comment over music at this SNR in dB.
    Music(u8),
    /// Line noise alone.
    Silence,
    /// Pink noise alone, -55 to -25 dBm0.
    PinkOnly,
    /// Babble alone, -45 to -25 dBm0.
    BabbleOnly,
    /// Hold music alone, -30 to -20 dBm0.
    MusicOnly,
    /// One to four DTMF keys, -20 to -4 dBm0 per tone.
    DtmfOnly,
}

impl Condition {
    /// Every condition, in report order.
    pub const ALL: [Condition; 14] = [
        Condition::Clean,
        Condition::Pink(20),
        Condition::Pink(10),
        Condition::Pink(5),
        Condition::Babble(20),
        Condition::Babble(10),
        Condition::Babble(5),
        Condition::Music(20),
        Condition::Music(10),
        Condition::Silence,
        Condition::PinkOnly,
        Condition::BabbleOnly,
        Condition::MusicOnly,
        Condition::DtmfOnly,
    ];

    /// A short name such as `pink 10 dB`.
    pub fn name(self) -> String {
        match self {
            Condition::Clean => "clean".into(),
            Condition::Pink(snr) => format!("pink {snr} dB"),
            Condition::Babble(snr) => format!("babble {snr} dB"),
            Condition::Music(snr) => format!("music {snr} dB"),
            Condition::Silence => "silence".into(),
            Condition::PinkOnly => "pink only".into(),
            Condition::BabbleOnly => "babble only".into(),
            Condition::MusicOnly => "music only".into(),
            Condition::DtmfOnly => "dtmf only".into(),
        }
    }

    /// Whether the window holds a comment.
    pub fn has_comment(self) -> bool {
        matches!(
            self,
            Condition::Clean | Condition::Pink(_) | Condition::Babble(_) | Condition::Music(_)
        )
    }

    /// Whether the held-out target applies to its boundaries (clean, or SNR ≥ 10 dB).
    pub fn boundaries_targeted(self) -> bool {
        match self {
            Condition::Clean => true,
            Condition::Pink(snr) | Condition::Babble(snr) | Condition::Music(snr) => snr >= 10,
            _ => false,
        }
    }
}

/// One generated scene: a comment and the backgrounds it can be heard over.
#[derive(Debug, Clone)]
pub struct Scene {
    /// Window length in samples.
    pub len: usize,
    /// Length of the noise context before the window, in samples.
    pub context: usize,
    /// The comment, placed in a window of `len` samples.
    pub comment: Vec<f32>,
    /// Truth of each utterance, `(start, end)` in samples.
    pub utterances: Vec<(usize, usize)>,
    /// The comment's active level in dBm0.
    pub level_dbm0: f64,
    /// Babble of other talkers, `context + len` samples, at an arbitrary level.
    pub babble: Vec<f32>,
    /// Music, `context + len` samples, at an arbitrary level.
    pub music: Vec<f32>,
    /// Who speaks, for explaining a failure.
    pub description: String,
}

fn seconds(s: f64) -> usize {
    (s * f64::from(RATE)) as usize
}

/// Generates scene `index` of `seed`.
pub fn scene(index: usize, seed: u64) -> Result<Scene, SpeechError> {
    let mut rng = seeded(seed, SCENE_TAG, index as u64);
    let caller = Speaker::random(&mut rng);
    let sentences = rng.below(1, 3);
    let mut said = Vec::new();
    for _ in 0..sentences {
        let text = *rng.pick(caller.language.sentences);
        said.push(trim(&caller.speak(text)?).to_vec());
    }
    let pause = seconds(rng.uniform(0.4, 1.5));
    let spoken: usize = said.iter().map(Vec::len).sum::<usize>() + pause * (sentences - 1);
    let len = seconds(rng.uniform(6.0, 15.0)).max(spoken + seconds(1.0));
    let offset = rng.below(seconds(0.3), len - spoken - seconds(0.3) + 1);
    let mut comment = vec![0.0f32; len];
    let mut at = offset;
    let mut placed = Vec::new();
    for s in &said {
        mix(&mut comment, at, s, 1.0);
        placed.push((at, at + s.len()));
        at += s.len() + pause;
    }
    let level_dbm0 = rng.uniform(-30.0, -10.0);
    set_active_level(&mut comment, RATE, level_dbm0);
    let utterances = placed
        .iter()
        .filter_map(|&(a, b)| {
            active_bounds(&comment[a..b], level_dbm0).map(|(s, e)| (a + s, a + e))
        })
        .collect();
    let context = seconds(rng.uniform(CONTEXT_SECONDS.0, CONTEXT_SECONDS.1));
    let babble = babble(context + len, &caller, &mut rng)?;
    let music = music::generate((context + len) as f64 / f64::from(RATE), &mut rng);
    Ok(Scene {
        len,
        context,
        comment,
        utterances,
        level_dbm0,
        babble,
        music,
        description: format!(
            "caller {} at {level_dbm0:.1} dBm0, {sentences} sentences",
            caller.describe()
        ),
    })
}

/// First and last sample of the 10 ms frames within [`ACTIVITY_MARGIN_DB`] of `level_dbm0`.
fn active_bounds(utterance: &[f32], level_dbm0: f64) -> Option<(usize, usize)> {
    let loud = |frame: &[f32]| {
        dbm0_from_mean_square(mean_square(frame)) >= level_dbm0 - ACTIVITY_MARGIN_DB
    };
    let frames: Vec<&[f32]> = utterance.chunks(FRAME).collect();
    let first = frames.iter().position(|f| loud(f))?;
    let last = frames.iter().rposition(|f| loud(f))?;
    Some((
        first * FRAME,
        (last * FRAME + frames[last].len()).min(utterance.len()),
    ))
}

/// [`BABBLE_TALKERS`] other talkers for `len` samples, equally loud, each talking on from a
/// random point of a sentence no other talker starts with.
fn babble(len: usize, caller: &Speaker, rng: &mut Rng) -> Result<Vec<f32>, SpeechError> {
    let mut out = vec![0.0f32; len];
    let mut first_sentences: Vec<&str> = Vec::new();
    for _ in 0..BABBLE_TALKERS {
        let talker = loop {
            let s = Speaker::random(rng);
            if s.variant != caller.variant || s.language.voice != caller.language.voice {
                break s;
            }
        };
        let sentences = talker.language.sentences;
        let first = (0..sentences.len())
            .map(|i| sentences[(rng.below(0, sentences.len()) + i) % sentences.len()])
            .find(|s| !first_sentences.contains(s))
            .unwrap_or(sentences[0]);
        first_sentences.push(first);
        // a few sentences per espeak-ng run, each run's speech after the last one's
        let mut said: Vec<f32> = Vec::new();
        let mut text = first.to_owned();
        while said.len() < len + seconds(2.0) {
            for _ in 0..3 {
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(rng.pick::<&str>(sentences));
            }
            said.extend_from_slice(trim(&talker.speak(&text)?));
            said.resize(said.len() + seconds(rng.uniform(0.1, 0.6)), 0.0);
            text.clear();
        }
        set_active_level(&mut said, RATE, -20.0);
        // start part-way into the first sentence, so that nobody starts with the window
        let skip = rng.below(0, seconds(2.0).min(said.len() - len));
        mix(&mut out, 0, &said[skip..skip + len], 1.0);
    }
    Ok(out)
}

/// What the detector is given for one window.
#[derive(Debug, Clone)]
pub struct Window {
    /// The caller's channel before the window: the same background, no comment.
    pub context: Vec<f32>,
    /// The window itself.
    pub samples: Vec<f32>,
}

/// The window of `scene` in `condition` and its noise context, through a µ-law telephone
/// channel.
pub fn render(scene: &Scene, condition: Condition, index: usize, seed: u64) -> Window {
    let position = Condition::ALL
        .iter()
        .position(|&c| c == condition)
        .unwrap_or(0);
    let mut rng = seeded(
        seed,
        RENDER_TAG,
        (index * Condition::ALL.len() + position) as u64,
    );
    let at = scene.context;
    let mut out = vec![0.0f32; at + scene.len];
    if condition.has_comment() {
        mix(&mut out, at, &scene.comment, 1.0);
    }
    let under = |snr: u8| scene.level_dbm0 - f64::from(snr);
    match condition {
        Condition::Clean | Condition::Silence => {}
        Condition::Pink(snr) => noise::pink(&mut out, under(snr), &mut rng),
        Condition::Babble(snr) => add_at(&mut out, &scene.babble, under(snr), at),
        Condition::Music(snr) => add_at(&mut out, &scene.music, under(snr), at),
        Condition::PinkOnly => noise::pink(&mut out, rng.uniform(-55.0, -25.0), &mut rng),
        Condition::BabbleOnly => add_at(&mut out, &scene.babble, rng.uniform(-45.0, -25.0), at),
        Condition::MusicOnly => add_at(&mut out, &scene.music, rng.uniform(-30.0, -20.0), at),
        Condition::DtmfOnly => keys(&mut out[at..], &mut rng),
    }
    noise::white(&mut out, rng.uniform(-68.0, -62.0), &mut rng);
    g711::channel(&mut out, g711::Law::Ulaw);
    let samples = out.split_off(at);
    Window {
        context: out,
        samples,
    }
}

/// Adds `background` to `out`, scaled so that its mean level from sample `window` on (the
/// window, not the context) is `dbm0`.
fn add_at(out: &mut [f32], background: &[f32], dbm0: f64, window: usize) {
    let mut scaled = background[window..].to_vec();
    let before = mean_square(&scaled);
    set_level(&mut scaled, dbm0);
    let gain = if before > 0.0 {
        (mean_square(&scaled) / before).sqrt() as f32
    } else {
        0.0
    };
    mix(out, 0, background, gain);
}

/// One to four keys of 50-400 ms, both tones at -20 to -4 dBm0 and up to 4 dB apart.
fn keys(out: &mut [f32], rng: &mut Rng) {
    let mut at = rng.below(0, seconds(3.0));
    for _ in 0..rng.below(1, 5) {
        let len = seconds(rng.uniform(0.05, 0.4));
        let low = rng.uniform(-20.0, -4.0);
        let high = (low + rng.uniform(-4.0, 4.0)).clamp(-20.0, -4.0);
        let key = *rng.pick(&callscore_synth::KEYS);
        let digit = Digit {
            start: at,
            ..Digit::new(key, 0, len).levels(low, high).random_phases(rng)
        };
        add_digit(out, RATE, &digit);
        at += len + seconds(rng.uniform(0.1, 1.0));
    }
}

/// What the detector found in one window, against the truth.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Score {
    /// Utterances in the window.
    pub utterances: usize,
    /// Utterances overlapped by a detected segment.
    pub found: usize,
    /// Detected speech in ms.
    pub detected_ms: u64,
    /// Detected speech within the comment's truth widened by the tolerance, in ms.
    pub inside_ms: u64,
    /// Both comment boundaries within the tolerance.
    pub boundaries_ok: bool,
    /// No comment, yet at least [`MIN_COMMENT_MS`] of speech detected.
    pub false_comment: bool,
}

/// Scores `speech` against the utterances of a window (none for a window without a comment).
pub fn score(speech: &Speech, utterances: &[(usize, usize)]) -> Score {
    let ms = |sample: usize| (sample as u64 * 1000 / u64::from(RATE)) as u32;
    let truth: Vec<(u32, u32)> = utterances.iter().map(|&(s, e)| (ms(s), ms(e))).collect();
    let overlap =
        |a: (u32, u32), b: (u32, u32)| u64::from(a.1.min(b.1).saturating_sub(a.0.max(b.0)));
    let detected: Vec<(u32, u32)> = speech
        .segments
        .iter()
        .map(|s| (s.start_ms, s.end_ms))
        .collect();
    let comment = truth.first().zip(truth.last()).map(|(f, l)| (f.0, l.1));
    let widened = comment.map(|(s, e)| {
        (
            s.saturating_sub(BOUNDARY_TOLERANCE_MS),
            e + BOUNDARY_TOLERANCE_MS,
        )
    });
    let near = |a: Option<u32>, b: u32| a.is_some_and(|a| a.abs_diff(b) <= BOUNDARY_TOLERANCE_MS);
    Score {
        utterances: truth.len(),
        found: truth
            .iter()
            .filter(|&&t| detected.iter().any(|&d| overlap(t, d) > 0))
            .count(),
        detected_ms: u64::from(speech.speech_ms()),
        inside_ms: widened.map_or(0, |w| detected.iter().map(|&d| overlap(w, d)).sum()),
        boundaries_ok: comment
            .is_some_and(|(s, e)| near(speech.start_ms(), s) && near(speech.end_ms(), e)),
        false_comment: comment.is_none() && speech.speech_ms() >= MIN_COMMENT_MS,
    }
}

/// The scores of one condition over a group of seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Tally {
    /// The condition.
    pub condition: Condition,
    /// Held-out seeds (else tuning seeds).
    pub held_out: bool,
    /// Windows scored.
    pub windows: usize,
    /// Their scores summed.
    pub utterances: usize,
    /// Utterances found.
    pub found: usize,
    /// Detected speech in ms.
    pub detected_ms: u64,
    /// Detected speech within the widened truth in ms.
    pub inside_ms: u64,
    /// Windows with both boundaries within the tolerance.
    pub boundaries_ok: usize,
    /// Windows with a false comment.
    pub false_comments: usize,
    /// Each failing window: seed, index and what went wrong.
    pub failures: Vec<String>,
}

impl Tally {
    fn new(condition: Condition, held_out: bool) -> Self {
        Tally {
            condition,
            held_out,
            windows: 0,
            utterances: 0,
            found: 0,
            detected_ms: 0,
            inside_ms: 0,
            boundaries_ok: 0,
            false_comments: 0,
            failures: Vec::new(),
        }
    }

    fn add(&mut self, s: &Score) {
        self.windows += 1;
        self.utterances += s.utterances;
        self.found += s.found;
        self.detected_ms += s.detected_ms;
        self.inside_ms += s.inside_ms;
        self.boundaries_ok += usize::from(s.boundaries_ok);
        self.false_comments += usize::from(s.false_comment);
    }

    /// Share of the comments with both boundaries within the tolerance.
    pub fn boundary_share(&self) -> f64 {
        self.boundaries_ok as f64 / self.windows.max(1) as f64
    }

    /// Whether this tally meets the target.
    pub fn meets_target(&self) -> bool {
        (!self.condition.boundaries_targeted() || self.boundary_share() >= TARGET_BOUNDARIES)
            && self.false_comments == 0
    }
}

/// One window's outcome.
#[derive(Debug, Clone)]
struct Outcome {
    seed: u64,
    index: usize,
    condition: Condition,
    score: Score,
    speech: Speech,
    truth: Vec<(usize, usize)>,
    description: String,
}

/// Runs `windows` scenes of every seed in every condition through the detector, one tally per
/// condition and group.
pub fn evaluate(seeds: &[u64], windows: usize, settings: &Settings) -> anyhow::Result<Vec<Tally>> {
    let jobs: Vec<(u64, usize)> = seeds
        .iter()
        .flat_map(|&s| (0..windows).map(move |i| (s, i)))
        .collect();
    let results = parallel(jobs.len(), |j| -> Result<Vec<Outcome>, SpeechError> {
        let (seed, index) = jobs[j];
        let scene = scene(index, seed)?;
        Ok(Condition::ALL
            .iter()
            .map(|&condition| {
                let window = render(&scene, condition, index, seed);
                let speech = find_speech(&window.samples, &window.context, settings);
                let truth = if condition.has_comment() {
                    scene.utterances.clone()
                } else {
                    Vec::new()
                };
                Outcome {
                    seed,
                    index,
                    condition,
                    score: score(&speech, &truth),
                    speech,
                    truth,
                    description: scene.description.clone(),
                }
            })
            .collect())
    });
    let mut tallies: Vec<Tally> = [false, true]
        .iter()
        .flat_map(|&h| Condition::ALL.iter().map(move |&c| Tally::new(c, h)))
        .collect();
    for result in results {
        for o in result? {
            let held_out = o.seed >= FIRST_HELD_OUT_SEED;
            let Some(t) = tallies
                .iter_mut()
                .find(|t| t.condition == o.condition && t.held_out == held_out)
            else {
                continue;
            };
            t.add(&o.score);
            let failed = if o.condition.has_comment() {
                !o.score.boundaries_ok
            } else {
                o.score.false_comment
            };
            if failed {
                t.failures.push(describe(&o));
            }
        }
    }
    tallies.retain(|t| t.windows > 0);
    Ok(tallies)
}

fn describe(o: &Outcome) -> String {
    let ms = |s: usize| s * 1000 / RATE as usize;
    let truth: Vec<String> = o
        .truth
        .iter()
        .map(|&(s, e)| format!("{}-{}", ms(s), ms(e)))
        .collect();
    let found: Vec<String> = o
        .speech
        .segments
        .iter()
        .map(|s| format!("{}-{}", s.start_ms, s.end_ms))
        .collect();
    format!(
        "seed {} window {} {}: truth [{}] found [{}] ({})",
        o.seed,
        o.index,
        o.condition.name(),
        truth.join(" "),
        found.join(" "),
        o.description
    )
}

/// Whether every held-out tally meets the target (and there is one).
pub fn held_out_meets_target(tallies: &[Tally]) -> bool {
    let held: Vec<&Tally> = tallies.iter().filter(|t| t.held_out).collect();
    !held.is_empty() && held.iter().all(|t| t.meets_target())
}

/// One line per condition and group.
pub fn render_table(tallies: &[Tally]) -> String {
    let mut out = format!(
        "{:<12} {:<9} {:>7} {:>8} {:>9} {:>9} {:>6} {:>8}\n",
        "condition", "group", "windows", "recall", "precision", "bounds", "false", "speech s"
    );
    let pct = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.1} %", 100.0 * a / b)
        } else {
            "-".into()
        }
    };
    for condition in Condition::ALL {
        for t in tallies.iter().filter(|t| t.condition == condition) {
            let comment = condition.has_comment();
            let _ = writeln!(
                out,
                "{:<12} {:<9} {:>7} {:>8} {:>9} {:>9} {:>6} {:>8.1}",
                condition.name(),
                if t.held_out { "held-out" } else { "tuning" },
                t.windows,
                pct(t.found as f64, t.utterances as f64),
                if comment {
                    pct(t.inside_ms as f64, t.detected_ms as f64)
                } else {
                    "-".into()
                },
                if comment {
                    pct(t.boundaries_ok as f64, t.windows as f64)
                } else {
                    "-".into()
                },
                if comment {
                    "-".into()
                } else {
                    t.false_comments.to_string()
                },
                t.detected_ms as f64 / 1000.0
            );
        }
    }
    out
}

/// Every frame the detector measured in `windows` scenes of each tuning seed in every
/// condition, as CSV, labelled `1` inside an utterance's truth: for setting the detector's
/// thresholds. Held-out seeds are refused.
pub fn frame_table(seeds: &[u64], windows: usize, settings: &Settings) -> anyhow::Result<String> {
    if let Some(seed) = seeds.iter().find(|&&s| s >= FIRST_HELD_OUT_SEED) {
        anyhow::bail!("seed {seed} is held out: frames are for tuning seeds only");
    }
    let jobs: Vec<(u64, usize)> = seeds
        .iter()
        .flat_map(|&s| (0..windows).map(move |i| (s, i)))
        .collect();
    let parts = parallel(jobs.len(), |j| -> Result<String, SpeechError> {
        let (seed, index) = jobs[j];
        let scene = scene(index, seed)?;
        let mut rows = String::new();
        for condition in Condition::ALL {
            let window = render(&scene, condition, index, seed);
            let analysis =
                callscore_vad::diagnostics::analyse(&window.samples, &window.context, settings);
            for (k, f) in analysis.frames.iter().enumerate() {
                let centre = k * FRAME + FRAME / 2;
                let truth = condition.has_comment()
                    && scene
                        .utterances
                        .iter()
                        .any(|&(s, e)| (s..e).contains(&centre));
                let _ = writeln!(
                    rows,
                    "{seed},{index},{},{k},{},{:.2},{:.2},{:.2},{:.3},{:.3},{:.3},{:.1},{}",
                    condition.name(),
                    u8::from(truth),
                    f.level_dbm0,
                    f.snr_db,
                    analysis.background_dbm0,
                    f.tone_share,
                    f.steadiness,
                    f.periodicity,
                    f.pitch_hz,
                    u8::from(f.speech)
                );
            }
        }
        Ok(rows)
    });
    let mut out = String::from(
        "seed,window,condition,frame,truth,level_dbm0,snr_db,background_dbm0,tone_share,steadiness,periodicity,pitch_hz,speech\n",
    );
    for part in results_in_order(parts)? {
        out.push_str(&part);
    }
    Ok(out)
}

fn results_in_order<T>(parts: Vec<Result<T, SpeechError>>) -> Result<Vec<T>, SpeechError> {
    parts.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use callscore_vad::Segment;

    fn speech(segments: &[(u32, u32)]) -> Speech {
        Speech {
            segments: segments
                .iter()
                .map(|&(start_ms, end_ms)| Segment { start_ms, end_ms })
                .collect(),
            analysed_ms: 10_000,
            level_dbm0: Some(-20.0),
        }
    }

    #[test]
    fn a_comment_is_scored_at_its_first_start_and_last_end() {
        // utterances 1.0-3.0 s and 4.0-6.0 s, in samples
        let truth = [(8000, 24_000), (32_000, 48_000)];
        let good = score(&speech(&[(950, 3100), (3990, 6080)]), &truth);
        assert_eq!((good.utterances, good.found), (2, 2));
        assert!(good.boundaries_ok && !good.false_comment);
        assert_eq!(good.inside_ms, good.detected_ms);
        // a blip 1 s before the comment spoils its start and a tenth of the speech found
        let blip = score(&speech(&[(0, 300), (1000, 3000), (4000, 6000)]), &truth);
        assert!(!blip.boundaries_ok);
        assert_eq!((blip.detected_ms, blip.inside_ms), (4300, 4000));
        let missed = score(&speech(&[(4000, 6000)]), &truth);
        assert_eq!(missed.found, 1);
    }

    #[test]
    fn active_speech_reaches_down_to_the_p56_margin() {
        // 100 ms at the active level, 100 ms 15 dB under, 100 ms 17 dB under, all at 1 kHz
        let tone = |db: f64| -> Vec<f32> {
            (0..800)
                .map(|n| {
                    let x = (std::f64::consts::TAU * 1000.0 * f64::from(n) / 8000.0).sin();
                    (x * 10f64.powf(db / 20.0) * 0.1) as f32
                })
                .collect()
        };
        let mut utterance = tone(0.0);
        utterance.extend(tone(-15.0));
        utterance.extend(tone(-17.0));
        let level = dbm0_from_mean_square(mean_square(&utterance[..800]));
        assert_eq!(active_bounds(&utterance, level), Some((0, 1600)));
        assert_eq!(active_bounds(&[0.0; 800], level), None);
    }

    #[test]
    fn the_context_holds_the_background_but_not_the_comment() -> anyhow::Result<()> {
        let scene = scene(0, 1)?;
        for condition in [
            Condition::Clean,
            Condition::Babble(10),
            Condition::MusicOnly,
        ] {
            let window = render(&scene, condition, 0, 1);
            assert_eq!(window.samples.len(), scene.len);
            assert_eq!(window.context.len(), scene.context);
            let context_dbm0 = dbm0_from_mean_square(mean_square(&window.context));
            if condition == Condition::Clean {
                assert!(context_dbm0 < -60.0, "{context_dbm0}");
            } else {
                // the same background, at the window's level within a few dB
                let window_dbm0 = dbm0_from_mean_square(mean_square(&window.samples));
                assert!(context_dbm0 > -50.0, "{context_dbm0}");
                if condition == Condition::MusicOnly {
                    assert!((context_dbm0 - window_dbm0).abs() < 6.0);
                }
            }
        }
        Ok(())
    }

    #[test]
    fn a_second_of_speech_without_a_comment_is_a_false_comment() {
        assert!(score(&speech(&[(0, 600), (2000, 2400)]), &[]).false_comment);
        assert!(!score(&speech(&[(0, 990)]), &[]).false_comment);
    }
}
