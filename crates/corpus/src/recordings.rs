//! Survey calls with metadata sidecars, committed under `fixtures/recordings/`: the input of
//! `callscore process`, with the answers a correct pipeline extracts from each.
//!
//! Every call but the last two answers `fixtures/surveys/nps-csat.toml` (recommend: NPS
//! 0-10, then satisfied: CSAT 1-5); those two answer `fixtures/surveys/nps-comment.toml`
//! (recommend, then a spoken comment). The IVR's prompts are synthetic music at -18 dBm0
//! standing in for speech: espeak-ng's output differs between its versions, and these bytes
//! are committed and compared.
//! The caller keys DTMF at -6 to -12 dBm0 per tone, 80-150 ms long with gaps of at least
//! 150 ms, over line noise at -55 dBm0. Each recording comes from its own seed, so changing one
//! leaves the others byte for byte the same.
//!
//! [`files`] gives everything written under `fixtures/recordings/`: each recording, its sidecar
//! `NAME.json`, `expected.json` (the [`Expected`] outcome of each) and a `README.md` generated
//! from the same data, so the table a person reads cannot drift from the one the tests check.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use callscore_audio::Encoding;
use callscore_synth::voice::{self, Voice};
use callscore_synth::{Rng, fade, g711, mix, music, noise, set_level};
use serde::Serialize;

use crate::fixtures::{Press, TrueKey, press, wav};
use crate::seeded;
use AnswerStatus::{Answered, NoInput};

/// The folder under `fixtures/` that holds the recordings.
pub const DIR: &str = "recordings";

/// The survey every recording answers, under `fixtures/`.
pub const SURVEY: &str = "surveys/nps-csat.toml";

/// Seed of the recordings; each takes its own stream from it.
const SEED: u64 = 20_261_102;
/// Level of the prompts' stand-in: a usual level of IVR speech.
const PROMPT_DBM0: f64 = -18.0;
/// Level of the line noise.
const NOISE_DBM0: f64 = -55.0;
/// Gain of the prompt echoed onto the caller's channel of a stereo call (30 dB down).
const ECHO_GAIN: f32 = 0.031_622_775;
/// Fade at both ends of a prompt, so that it does not start or stop with a click.
const PROMPT_FADE_SECONDS: f64 = 0.02;
/// Rate of the prompts' stand-in, [`music::generate`]'s.
const PROMPT_RATE: u32 = 8000;

/// One survey call: its audio, its metadata sidecar and what a correct pipeline makes of it.
#[derive(Debug, Clone)]
pub struct SurveyRecording {
    /// File name of the audio under `fixtures/recordings/`.
    pub file: String,
    /// What the recording is.
    pub description: String,
    /// The metadata written beside it.
    pub sidecar: Sidecar,
    /// What a correct pipeline extracts, or why it dead-letters the recording.
    pub expected: Expected,
    /// The audio file's bytes.
    pub bytes: Vec<u8>,
}

impl SurveyRecording {
    /// File name of the sidecar: the audio's, with `.json` for its extension.
    pub fn sidecar_file(&self) -> String {
        let stem = self
            .file
            .rsplit_once('.')
            .map_or(&*self.file, |(stem, _)| stem);
        format!("{stem}.json")
    }
}

/// The metadata sidecar `NAME.json` beside `NAME.wav`, as the IVR writes it. The field names
/// are the contract with `callscore process`. Strings are not validated here: a fixture may
/// carry a deliberately invalid value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sidecar {
    /// Version of this format; 1.
    pub schema_version: u32,
    /// Identifies the recording: `[A-Za-z0-9._-]`, at most 128 characters.
    pub recording_id: String,
    /// Identifies the call.
    pub call_id: String,
    /// The tenant the call belongs to.
    pub tenant: String,
    /// Id of the survey the caller answered.
    pub survey_id: String,
    /// The caller's number in E.164; `null` when withheld.
    pub caller_number: Option<String>,
    /// The number called; `null` when unknown.
    pub called_number: Option<String>,
    /// The agent who handled the call; omitted when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The queue the call came through; omitted when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// The campaign; omitted when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// When the call started, RFC 3339.
    pub call_started_at: String,
    /// The caller's channel, 0 first, in a file with more than one; `null` for mono.
    pub caller_channel: Option<u16>,
    /// Codec of headerless audio, e.g. `gsm`; `null` when the file says.
    pub codec: Option<String>,
    /// The keys the IVR received as RFC 4733 events; `null` when it reports none.
    pub out_of_band_keys: Option<Vec<OutOfBandKey>>,
    /// When each question's prompt started; empty when the IVR reports none.
    pub question_offsets: Vec<QuestionOffset>,
    /// What the caller agreed to.
    pub consent: Consent,
}

/// A key the IVR received out of band, in milliseconds from the start of the recording.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutOfBandKey {
    /// The key: `0`-`9`, `*`, `#`, `A`-`D`.
    pub key: char,
    /// Start of the event.
    pub start_ms: u64,
    /// End of the event.
    pub end_ms: u64,
}

/// When a question's prompt started, in milliseconds from the start of the recording.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionOffset {
    /// The question's id in the survey.
    pub question_id: String,
    /// Start of its prompt.
    pub offset_ms: u64,
}

/// What the caller agreed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Consent {
    /// The caller may be contacted about their answers.
    pub contact: bool,
    /// The recording is under legal hold: kept whatever the retention policy says.
    pub legal_hold: bool,
}

/// What a correct pipeline makes of one recording: an entry of `expected.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expected {
    /// File name of the audio.
    pub file: String,
    /// The sidecar's recording id.
    pub recording_id: String,
    /// The in-band keys on all channels in the order keyed; `null` when the audio cannot be
    /// decoded.
    pub digits: Option<String>,
    /// The answer per question id; absent when the recording is dead-lettered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answers: Option<BTreeMap<String, ExpectedAnswer>>,
    /// Why the recording is dead-lettered; absent when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<DeadLetter>,
    /// A phrase a decoding warning contains; absent when the audio decodes cleanly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning_contains: Option<String>,
    /// Where the caller's spoken comment is, for a survey with a comment question; absent
    /// for the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<ExpectedComment>,
}

/// The truth about a comment question: where the caller spoke, if they did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectedComment {
    /// The comment question.
    pub question_id: String,
    /// Where the speech starts, in ms from the start of the recording; `null` without one.
    pub speech_start_ms: Option<u64>,
    /// Where it ends.
    pub speech_end_ms: Option<u64>,
}

/// The outcome of one question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExpectedAnswer {
    /// What came of the question, as `callscore-survey` names it.
    pub status: AnswerStatus,
    /// The value when answered, else `null`.
    pub value: Option<u32>,
    /// Entries the caller made for the question.
    pub attempts: u32,
}

/// The statuses of `callscore-survey`'s `Status`, by the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerStatus {
    /// A valid value was keyed.
    Answered,
    /// The last entry was out of range.
    Invalid,
    /// No entry at all.
    NoInput,
    /// The last entry ended with the cancel key.
    Cancelled,
    /// The caller hung up mid-entry.
    Partial,
}

/// Why a recording goes to the dead-letter topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetter {
    /// The audio cannot be decoded.
    UndecodableAudio,
    /// The sidecar is not valid metadata.
    InvalidMetadata,
}

/// The audio of one call as laid out in time, in seconds.
struct Call {
    /// Length of the recording.
    seconds: f64,
    /// Start and length of each prompt the IVR plays, re-prompts included.
    prompts: &'static [(f64, f64)],
    /// The caller's keys.
    presses: &'static [Press],
}

impl Call {
    /// The IVR's side at 8 kHz: the prompts, silent between them.
    fn prompts(&self, rng: &mut Rng) -> Vec<f32> {
        let rate = f64::from(PROMPT_RATE);
        let mut track = vec![0.0f32; (self.seconds * rate).round() as usize];
        for &(start, seconds) in self.prompts {
            let mut prompt = music::generate(seconds, rng);
            set_level(&mut prompt, PROMPT_DBM0);
            fade(&mut prompt, (PROMPT_FADE_SECONDS * rate) as usize);
            mix(&mut track, (start * rate).round() as usize, &prompt, 1.0);
        }
        track
    }

    /// A mono mix at 8 kHz: prompts, the caller's keys and line noise.
    fn mono(&self, rng: &mut Rng) -> (Vec<f32>, Vec<TrueKey>) {
        let mut line = self.prompts(rng);
        noise::white(&mut line, NOISE_DBM0, rng);
        let keys = press(&mut line, PROMPT_RATE, 0, self.presses, rng);
        (line, keys)
    }

    /// The IVR's offset of each question, given as the index of the prompt that asks it.
    fn offsets(&self, questions: &[(&str, usize)]) -> Vec<QuestionOffset> {
        questions
            .iter()
            .map(|&(id, prompt)| QuestionOffset {
                question_id: id.into(),
                offset_ms: (self.prompts[prompt].0 * 1000.0).round() as u64,
            })
            .collect()
    }
}

/// Doubles the rate of a signal by linear interpolation. The images it leaves lie above the
/// 8 kHz signal's band, where resampling to 8 kHz removes them.
fn upsample2(signal: &[f32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(2 * signal.len());
    for (i, &x) in signal.iter().enumerate() {
        let next = signal.get(i + 1).copied().unwrap_or(x);
        out.extend([x, 0.5 * (x + next)]);
    }
    out
}

/// Metadata as most recordings carry it: numbered ids, the caller's number, offsets given.
pub(crate) fn sidecar(n: u64, offsets: Vec<QuestionOffset>) -> Sidecar {
    Sidecar {
        schema_version: 1,
        recording_id: format!("rec-{n:04}"),
        call_id: format!("call-{n:04}"),
        tenant: "acme".into(),
        survey_id: "nps-csat".into(),
        caller_number: Some(format!("+3120555{n:04}")),
        called_number: Some("+31800123456".into()),
        agent: Some(format!("agent-{}", 10 + n)),
        queue: Some(
            if n.is_multiple_of(2) {
                "support"
            } else {
                "billing"
            }
            .into(),
        ),
        campaign: None,
        call_started_at: format!("2026-11-02T{:02}:{:02}:00Z", 9 + 5 * n / 60, 5 * n % 60),
        caller_channel: None,
        codec: None,
        out_of_band_keys: None,
        question_offsets: offsets,
        consent: Consent {
            contact: false,
            legal_hold: false,
        },
    }
}

/// Answers in survey order: question id, status, value, attempts.
type Answers = [(&'static str, AnswerStatus, Option<u32>, u32)];

fn answers(list: &Answers) -> Option<BTreeMap<String, ExpectedAnswer>> {
    let map = list
        .iter()
        .map(|&(id, status, value, attempts)| {
            let answer = ExpectedAnswer {
                status,
                value,
                attempts,
            };
            (id.to_string(), answer)
        })
        .collect();
    Some(map)
}

fn digits(keys: &[TrueKey]) -> Option<String> {
    let mut keys = keys.to_vec();
    keys.sort_by(|a, b| a.start_seconds.total_cmp(&b.start_seconds));
    Some(keys.iter().map(|k| k.key).collect())
}

impl SurveyRecording {
    /// A recording a correct pipeline scores with these answers.
    fn scored(
        file: &str,
        description: &str,
        sidecar: Sidecar,
        keys: &[TrueKey],
        list: &Answers,
        bytes: Vec<u8>,
    ) -> SurveyRecording {
        SurveyRecording {
            file: file.into(),
            description: description.into(),
            expected: Expected {
                file: file.into(),
                recording_id: sidecar.recording_id.clone(),
                digits: digits(keys),
                answers: answers(list),
                dead_letter: None,
                warning_contains: None,
                comment: None,
            },
            sidecar,
            bytes,
        }
    }

    /// A recording a correct pipeline dead-letters for `reason`.
    fn dead(
        file: &str,
        description: &str,
        sidecar: Sidecar,
        digits: Option<String>,
        reason: DeadLetter,
        bytes: Vec<u8>,
    ) -> SurveyRecording {
        SurveyRecording {
            file: file.into(),
            description: description.into(),
            expected: Expected {
                file: file.into(),
                recording_id: sidecar.recording_id.clone(),
                digits,
                answers: None,
                dead_letter: Some(reason),
                warning_contains: None,
                comment: None,
            },
            sidecar,
            bytes,
        }
    }
}

/// Every recording, generated from fixed seeds.
pub fn generate() -> Vec<SurveyRecording> {
    vec![
        clean(),
        barge_in_ulaw(),
        non_respondent(),
        stereo(),
        invalid_then_retry(),
        out_of_band(),
        withheld(),
        cut_off(),
        corrupt(),
        bad_metadata(),
        commented(),
        not_commented(),
    ]
}

/// The survey of the calls with a comment question, under `fixtures/`.
pub const COMMENT_SURVEY: &str = "surveys/nps-comment.toml";
/// Id of that survey.
const COMMENT_SURVEY_ID: &str = "nps-comment";

impl SurveyRecording {
    /// The call answers the comment survey; the caller spoke from `start` for `samples` at
    /// 8 kHz, or not at all.
    fn with_comment(mut self, speech: Option<(f64, usize)>) -> SurveyRecording {
        self.sidecar.survey_id = COMMENT_SURVEY_ID.into();
        let ms = |seconds: f64| (seconds * 1000.0).round() as u64;
        self.expected.comment = Some(ExpectedComment {
            question_id: "why".into(),
            speech_start_ms: speech.map(|(start, _)| ms(start)),
            speech_end_ms: speech.map(|(start, len)| ms(start + len as f64 / 8000.0)),
        });
        self
    }
}

fn commented() -> SurveyRecording {
    let mut rng = seeded(SEED, 0, 11);
    let call = Call {
        seconds: 14.0,
        prompts: &[(0.3, 3.0), (4.8, 2.4)],
        presses: &[
            ('8', 3.70, 0.11, -8.0, -9.0, 0.0),
            ('#', 4.10, 0.10, -9.0, -10.0, 0.002),
        ],
    };
    let (mut line, keys) = call.mono(&mut rng);
    let speech = voice::talk(Voice { pitch_hz: 105.0 }, 3.6, -24.0, &mut rng);
    let start = 8.2;
    mix(&mut line, (start * 8000.0) as usize, &speech, 1.0);
    SurveyRecording::scored(
        "nps8-comment.wav",
        "8 kHz 16-bit PCM mono: the caller keys 8 #, hears the comment prompt and speaks for \
         about 3.6 s from 8.2 s (a formant voice at -24 dBm0), then hangs up; the survey listens \
         2.5 s after the prompt starts, past the prompt",
        sidecar(11, call.offsets(&[("recommend", 0), ("why", 1)])),
        &keys,
        &[
            ("recommend", Answered, Some(8), 1),
            ("why", Answered, None, 0),
        ],
        wav(PROMPT_RATE, Encoding::Pcm { bits: 16 }, &[line]),
    )
    .with_comment(Some((start, speech.len())))
}

fn not_commented() -> SurveyRecording {
    let mut rng = seeded(SEED, 0, 12);
    let call = Call {
        seconds: 13.0,
        prompts: &[(0.2, 3.1), (4.9, 2.3), (7.4, 5.4)],
        presses: &[
            ('3', 3.80, 0.10, -9.0, -10.0, 0.0),
            ('#', 4.20, 0.10, -8.0, -9.0, -0.003),
        ],
    };
    // the IVR plays hold music while it records (its third "prompt"); the caller says nothing
    let mut ivr = call.prompts(&mut rng);
    let mut caller = vec![0.0f32; ivr.len()];
    mix(&mut caller, 0, &ivr, ECHO_GAIN);
    noise::white(&mut ivr, NOISE_DBM0, &mut rng);
    noise::pink(&mut caller, NOISE_DBM0, &mut rng);
    let keys = press(&mut caller, PROMPT_RATE, 1, call.presses, &mut rng);
    SurveyRecording::scored(
        "nps3-no-comment-stereo.wav",
        "8 kHz 16-bit PCM stereo, the caller on channel 1: 3 #, then the comment prompt and \
         music while the IVR records, echoed 30 dB down onto the caller's channel, and no word",
        Sidecar {
            caller_channel: Some(1),
            ..sidecar(12, call.offsets(&[("recommend", 0), ("why", 1)]))
        },
        &keys,
        &[
            ("recommend", Answered, Some(3), 1),
            ("why", NoInput, None, 0),
        ],
        wav(PROMPT_RATE, Encoding::Pcm { bits: 16 }, &[ivr, caller]),
    )
    .with_comment(None)
}

fn clean() -> SurveyRecording {
    let mut rng = seeded(SEED, 0, 1);
    let call = Call {
        seconds: 9.0,
        prompts: &[(0.3, 3.0), (4.9, 2.6)],
        presses: &[
            ('9', 3.75, 0.12, -7.0, -9.0, 0.0),
            ('#', 4.15, 0.10, -8.0, -10.0, 0.003),
            ('4', 7.95, 0.11, -9.0, -11.0, -0.004),
        ],
    };
    let (line, keys) = call.mono(&mut rng);
    let sidecar = sidecar(1, call.offsets(&[("recommend", 0), ("satisfied", 1)]));
    SurveyRecording::scored(
        "nps9-csat4.wav",
        "8 kHz 16-bit PCM mono: after each prompt the caller keys 9 # and then 4; question \
         offsets given",
        sidecar,
        &keys,
        &[
            ("recommend", Answered, Some(9), 1),
            ("satisfied", Answered, Some(4), 1),
        ],
        wav(PROMPT_RATE, Encoding::Pcm { bits: 16 }, &[line]),
    )
}

fn barge_in_ulaw() -> SurveyRecording {
    let mut rng = seeded(SEED, 0, 2);
    let call = Call {
        seconds: 9.0,
        prompts: &[(0.2, 3.4), (4.1, 2.9)],
        presses: &[
            ('1', 2.70, 0.10, -8.0, -10.0, 0.002),
            ('0', 3.00, 0.09, -9.0, -8.0, -0.003),
            ('#', 3.30, 0.12, -7.0, -9.0, 0.0),
            ('5', 6.30, 0.13, -8.0, -10.0, 0.004),
        ],
    };
    let (mut line, keys) = call.mono(&mut rng);
    g711::channel(&mut line, g711::Law::Ulaw);
    SurveyRecording::scored(
        "nps10-csat5-ulaw.wav",
        "8 kHz G.711 µ-law mono: 1 0 # and then 5, every key over a prompt (barge-in); no \
         question offsets, so the terminator and the maximum digits divide the entries",
        sidecar(2, Vec::new()),
        &keys,
        &[
            ("recommend", Answered, Some(10), 1),
            ("satisfied", Answered, Some(5), 1),
        ],
        wav(PROMPT_RATE, Encoding::Ulaw, &[line]),
    )
}

fn non_respondent() -> SurveyRecording {
    let mut rng = seeded(SEED, 0, 3);
    let call = Call {
        seconds: 10.0,
        prompts: &[(0.3, 3.0), (5.5, 2.5)],
        presses: &[],
    };
    let (mut line, keys) = call.mono(&mut rng);
    g711::channel(&mut line, g711::Law::Alaw);
    SurveyRecording::scored(
        "non-respondent-alaw.wav",
        "8 kHz G.711 A-law mono: both prompts, no key at all (a non-respondent)",
        sidecar(3, call.offsets(&[("recommend", 0), ("satisfied", 1)])),
        &keys,
        &[
            ("recommend", NoInput, None, 0),
            ("satisfied", NoInput, None, 0),
        ],
        wav(PROMPT_RATE, Encoding::Alaw, &[line]),
    )
}

fn stereo() -> SurveyRecording {
    const RATE: u32 = 16_000;
    let mut rng = seeded(SEED, 0, 4);
    let call = Call {
        seconds: 7.0,
        prompts: &[(0.2, 2.6), (3.8, 2.2)],
        presses: &[
            ('7', 3.00, 0.10, -8.0, -10.0, 0.0),
            ('#', 3.35, 0.09, -10.0, -9.0, 0.002),
            ('3', 6.20, 0.12, -7.0, -8.0, -0.002),
        ],
    };
    let mut ivr = upsample2(&call.prompts(&mut rng));
    let mut caller = vec![0.0f32; ivr.len()];
    mix(&mut caller, 0, &ivr, ECHO_GAIN);
    noise::white(&mut ivr, NOISE_DBM0, &mut rng);
    noise::pink(&mut caller, NOISE_DBM0, &mut rng);
    let keys = press(&mut caller, RATE, 1, call.presses, &mut rng);
    SurveyRecording::scored(
        "stereo-caller-right.wav",
        "16 kHz 16-bit PCM stereo: the prompts on channel 0, the caller keying 7 # and then 3 \
         on channel 1 with the prompts echoed 30 dB down; `caller_channel` 1",
        Sidecar {
            caller_channel: Some(1),
            ..sidecar(4, call.offsets(&[("recommend", 0), ("satisfied", 1)]))
        },
        &keys,
        &[
            ("recommend", Answered, Some(7), 1),
            ("satisfied", Answered, Some(3), 1),
        ],
        wav(RATE, Encoding::Pcm { bits: 16 }, &[ivr, caller]),
    )
}

fn invalid_then_retry() -> SurveyRecording {
    let mut rng = seeded(SEED, 0, 5);
    let call = Call {
        seconds: 11.5,
        // the question, the IVR's re-prompt after the invalid 12, the next question
        prompts: &[(0.3, 2.7), (4.6, 2.0), (7.9, 2.2)],
        presses: &[
            ('1', 3.40, 0.10, -8.0, -10.0, 0.0),
            ('2', 3.70, 0.10, -9.0, -9.0, 0.002),
            ('#', 4.00, 0.10, -7.0, -9.0, 0.0),
            ('8', 6.95, 0.12, -8.0, -11.0, -0.003),
            ('#', 7.30, 0.10, -9.0, -10.0, 0.0),
            ('2', 10.45, 0.11, -10.0, -12.0, 0.003),
        ],
    };
    let (line, keys) = call.mono(&mut rng);
    SurveyRecording::scored(
        "invalid-then-retry.wav",
        "8 kHz 16-bit PCM mono: 1 2 # (12, out of range), the IVR asks again, 8 #, then 2",
        sidecar(5, call.offsets(&[("recommend", 0), ("satisfied", 2)])),
        &keys,
        &[
            ("recommend", Answered, Some(8), 2),
            ("satisfied", Answered, Some(2), 1),
        ],
        wav(PROMPT_RATE, Encoding::Pcm { bits: 16 }, &[line]),
    )
}

fn out_of_band() -> SurveyRecording {
    let mut rng = seeded(SEED, 0, 6);
    let call = Call {
        seconds: 8.5,
        prompts: &[(0.3, 2.8), (4.5, 2.4)],
        presses: &[
            ('6', 3.50, 0.10, -8.0, -10.0, 0.0),
            ('#', 3.85, 0.10, -7.0, -8.0, -0.002),
            ('3', 7.20, 0.12, -9.0, -11.0, 0.002),
        ],
    };
    let (line, keys) = call.mono(&mut rng);
    let ms = |seconds: f64| (seconds * 1000.0).round() as u64;
    let events = keys
        .iter()
        .map(|k| OutOfBandKey {
            key: k.key,
            start_ms: ms(k.start_seconds),
            end_ms: ms(k.end_seconds),
        })
        .collect();
    SurveyRecording::scored(
        "out-of-band.wav",
        "8 kHz 16-bit PCM mono: 6 # and then 3, in band and as RFC 4733 events in the \
         sidecar with the same times; the caller agreed to be contacted",
        Sidecar {
            campaign: Some("winter-2026".into()),
            out_of_band_keys: Some(events),
            consent: Consent {
                contact: true,
                legal_hold: false,
            },
            ..sidecar(6, call.offsets(&[("recommend", 0), ("satisfied", 1)]))
        },
        &keys,
        &[
            ("recommend", Answered, Some(6), 1),
            ("satisfied", Answered, Some(3), 1),
        ],
        wav(PROMPT_RATE, Encoding::Pcm { bits: 16 }, &[line]),
    )
}

fn withheld() -> SurveyRecording {
    let mut rng = seeded(SEED, 0, 7);
    let call = Call {
        seconds: 8.0,
        prompts: &[(0.3, 2.6), (4.2, 2.3)],
        presses: &[
            ('0', 3.30, 0.11, -8.0, -10.0, 0.0),
            ('#', 3.62, 0.09, -9.0, -8.0, 0.003),
            ('1', 6.85, 0.10, -7.0, -9.0, -0.002),
        ],
    };
    let (line, keys) = call.mono(&mut rng);
    SurveyRecording::scored(
        "withheld-legal-hold.wav",
        "8 kHz 16-bit PCM mono: 0 # and then 1 from a withheld number (`caller_number` null), \
         under legal hold",
        Sidecar {
            caller_number: None,
            consent: Consent {
                contact: false,
                legal_hold: true,
            },
            ..sidecar(7, call.offsets(&[("recommend", 0), ("satisfied", 1)]))
        },
        &keys,
        &[
            ("recommend", Answered, Some(0), 1),
            ("satisfied", Answered, Some(1), 1),
        ],
        wav(PROMPT_RATE, Encoding::Pcm { bits: 16 }, &[line]),
    )
}

fn cut_off() -> SurveyRecording {
    /// Where the recorder died.
    const CUT_SECONDS: f64 = 5.6;
    let mut rng = seeded(SEED, 0, 8);
    let call = Call {
        seconds: 9.0,
        prompts: &[(0.3, 2.9), (4.6, 2.6)],
        presses: &[
            ('5', 3.55, 0.10, -8.0, -10.0, 0.0),
            ('#', 3.90, 0.10, -9.0, -9.0, -0.002),
            // keyed after the cut: not in the file
            ('2', 7.60, 0.10, -8.0, -10.0, 0.0),
        ],
    };
    let (line, keys) = call.mono(&mut rng);
    let mut bytes = wav(PROMPT_RATE, Encoding::Pcm { bits: 16 }, &[line]);
    // a 44-byte header, then 2 bytes per sample
    bytes.truncate(44 + 2 * (CUT_SECONDS * f64::from(PROMPT_RATE)) as usize);
    let kept: Vec<TrueKey> = keys
        .into_iter()
        .filter(|k| k.end_seconds <= CUT_SECONDS)
        .collect();
    let mut recording = SurveyRecording::scored(
        "cut-off.wav",
        "8 kHz 16-bit PCM mono whose header announces 9 s and whose data stops at 5.6 s, \
         after the first answer 5 # and into the second prompt: decodes with a warning",
        sidecar(8, call.offsets(&[("recommend", 0), ("satisfied", 1)])),
        &kept,
        &[
            ("recommend", Answered, Some(5), 1),
            ("satisfied", NoInput, None, 0),
        ],
        bytes,
    );
    recording.expected.warning_contains = Some("cut off".into());
    recording
}

fn corrupt() -> SurveyRecording {
    let mut rng = seeded(SEED, 0, 9);
    let mut bytes = b"fLaC".to_vec();
    bytes.extend((0..508).map(|_| rng.below(0, 256) as u8));
    SurveyRecording::dead(
        "rejected/corrupt.flac",
        "`fLaC` followed by random bytes, with a valid sidecar",
        sidecar(9, Vec::new()),
        None,
        DeadLetter::UndecodableAudio,
        bytes,
    )
}

fn bad_metadata() -> SurveyRecording {
    let mut rng = seeded(SEED, 0, 10);
    let call = Call {
        seconds: 6.0,
        prompts: &[(0.2, 2.2), (3.4, 1.8)],
        presses: &[
            ('8', 2.65, 0.10, -8.0, -10.0, 0.0),
            ('#', 2.95, 0.10, -7.0, -9.0, 0.002),
            ('4', 5.40, 0.10, -9.0, -10.0, 0.0),
        ],
    };
    let (line, keys) = call.mono(&mut rng);
    SurveyRecording::dead(
        "rejected/bad-metadata.wav",
        "8 kHz 16-bit PCM mono, 8 # and then 4, whose sidecar gives `call_started_at` as \
         \"yesterday\"",
        Sidecar {
            call_started_at: "yesterday".into(),
            ..sidecar(10, call.offsets(&[("recommend", 0), ("satisfied", 1)]))
        },
        digits(&keys),
        DeadLetter::InvalidMetadata,
        wav(PROMPT_RATE, Encoding::Pcm { bits: 16 }, &[line]),
    )
}

pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // plain data with string keys always serializes
    let mut json = serde_json::to_string_pretty(value).expect("fixture data serializes");
    json.push('\n');
    json.into_bytes()
}

/// Every file under `fixtures/recordings/`, by name: each recording and its sidecar,
/// `expected.json` and `README.md`.
pub fn files(recordings: &[SurveyRecording]) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::with_capacity(2 * recordings.len() + 2);
    for recording in recordings {
        files.push((recording.file.clone(), recording.bytes.clone()));
        files.push((recording.sidecar_file(), json(&recording.sidecar)));
    }
    let expected: Vec<&Expected> = recordings.iter().map(|r| &r.expected).collect();
    files.push(("expected.json".into(), json(&expected)));
    files.push(("README.md".into(), readme(recordings).into_bytes()));
    files
}

const README_HEAD: &str = "\
# Survey recordings

Post-call survey calls with their metadata, for `callscore process` and its tests. They are
generated, from fixed seeds and without external tools, by

```sh
cargo run -p callscore-corpus -- fixtures fixtures/
```

(`crates/corpus/src/recordings.rs`), and the test `committed_fixtures_are_what_the_generator_writes`
fails if a file here differs from what that code writes, or if a file here is not one it writes.
No recording of a real person is included: the IVR's prompts are synthetic music at -18 dBm0
standing in for speech, the caller's keys are DTMF at -6 to -12 dBm0 per tone, 80-150 ms long,
over line noise at -55 dBm0.

Every call but the last two answers `fixtures/surveys/nps-csat.toml`: `recommend` (NPS 0-10,
up to 2 digits, `#` ends an entry) and then `satisfied` (CSAT 1-5, one digit), every setting at
its default. The last two answer `fixtures/surveys/nps-comment.toml`: `recommend`, then `why`,
a spoken comment listened for from 2.5 s after its prompt starts; their `comment` entry in
`expected.json` gives where the caller spoke (a formant voice from `callscore-synth`, so that
the bytes do not depend on a speech engine's version).
Beside each recording `NAME.wav` is its metadata `NAME.json`: `schema_version`, `recording_id`,
`call_id`, `tenant`, `survey_id`, `caller_number` (null when withheld), `called_number`, the
optional `agent`, `queue` and `campaign`, `call_started_at`, `caller_channel` (null for mono),
`codec` (null when the file says), `out_of_band_keys` (null when the IVR reports none),
`question_offsets` (empty when the IVR reports none) and `consent`.

`expected.json` states what a correct pipeline makes of each recording: the in-band keys on all
channels (`digits`), and either the `answers` per question (status, value, attempts) or the
reason it is dead-lettered (`dead_letter`), plus a phrase of the decoding warning where there
is one. `crates/corpus/tests/recordings.rs` decodes each recording, runs the detector on the
caller's channel and the survey extraction with the sidecar's out-of-band keys and question
offsets, and holds them to it.

| file | what it is | keys | a correct pipeline gives |
|---|---|---|---|
";

fn readme(recordings: &[SurveyRecording]) -> String {
    let mut text = README_HEAD.to_string();
    for recording in recordings {
        let expected = &recording.expected;
        let keys = expected
            .digits
            .as_deref()
            .map_or("undecodable".to_string(), |d| {
                if d.is_empty() {
                    "none".to_string()
                } else {
                    format!("`{d}`")
                }
            });
        let outcome = match (&expected.answers, expected.dead_letter) {
            (_, Some(reason)) => format!("dead letter: `{}`", name(&reason)),
            (Some(answers), None) => answers
                .iter()
                .map(|(id, a)| {
                    let mut text = format!("{id} {}", name(&a.status));
                    if let Some(value) = a.value {
                        write!(text, " {value}").expect("writing to a String");
                    }
                    if a.attempts > 1 {
                        write!(text, " ({} attempts)", a.attempts).expect("writing to a String");
                    }
                    text
                })
                .collect::<Vec<_>>()
                .join("; "),
            (None, None) => String::new(),
        };
        let warning = expected
            .warning_contains
            .as_deref()
            .map_or(String::new(), |w| format!("; a warning that it is {w}"));
        writeln!(
            text,
            "| `{}` | {} | {keys} | {outcome}{warning} |",
            recording.file, recording.description
        )
        .expect("writing to a String");
    }
    text
}

/// The JSON name of a unit enum variant, e.g. `no_input`.
fn name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}
