//! Validated survey definitions: the types the rest of the crate trusts.
//!
//! They are built only by [`Survey::from_toml`], which checks everything the segmentation
//! relies on (scales that can be keyed, terminators that are not digits, …), so the code that
//! reads them never re-checks.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use callscore_dtmf::Key;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Error;

/// Inter-digit timeout when neither the question nor `[defaults]` sets one. IVRs commonly
/// close a digit entry after 3 to 5 seconds without a key; the survey file must mirror the
/// IVR's own setting, or "1", pause, "0" is read differently from how the IVR read it.
pub const DEFAULT_INTER_DIGIT_TIMEOUT: Duration = Duration::from_secs(3);

/// Entries the IVR accepts for one question (the first try and two retries) before moving on,
/// when the file does not say. Like the timeout, it must mirror the IVR.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// A first key sooner than this after the prompt started is flagged
/// [`fast_keying`](crate::QualityFlag::FastKeying): too soon to have heard the question.
pub const DEFAULT_MIN_RESPONSE: Duration = Duration::from_millis(500);

/// In-band keys whose detector quality is below this are flagged
/// [`low_confidence`](crate::QualityFlag::LowConfidence). The detector reports about 0.9 for a
/// key on a quiet line and less for a key pressed over a prompt.
pub const DEFAULT_MIN_CONFIDENCE: f32 = 0.3;

/// An in-band and an out-of-band key press are the same press when their starts are at most
/// this far apart. RFC 4733 events are timed by the sender's RTP clock and reach the recorder
/// in 20-50 ms packets through a jitter buffer, so their times differ from the tone's by tens
/// of milliseconds.
pub const DEFAULT_MATCH_TOLERANCE: Duration = Duration::from_millis(120);

/// Longest entry the crate accepts for one question. Six digits is far beyond any survey
/// scale and keeps every value inside a `u32`.
pub const MAX_DIGITS: usize = 6;

/// A survey with more questions is refused; no phone survey comes near it, and the limit
/// bounds the work per recording.
pub const MAX_QUESTIONS: usize = 100;

/// A validated survey definition: id, version, the questions in the order the IVR asks them,
/// and the thresholds of the quality checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Survey {
    pub(crate) id: String,
    pub(crate) version: u32,
    pub(crate) title: Option<String>,
    pub(crate) questions: Vec<Question>,
    pub(crate) quality: QualitySettings,
    pub(crate) other_prompt_audio: Vec<String>,
}

impl Survey {
    /// Parses and validates a survey definition written in TOML (the format is described in
    /// docs/ivr-engineer.md and by `schemas/survey.v1.schema.json`).
    ///
    /// A syntax error or an unknown key gives [`Error::Syntax`], whose source names the line;
    /// a survey that parses but cannot work gives [`Error::Definition`] with every problem
    /// found, each naming its key path.
    pub fn from_toml(text: &str) -> Result<Survey, Error> {
        let file: crate::file::SurveyFile =
            toml::from_str(text).map_err(|e| Error::Syntax(Box::new(e)))?;
        file.validate()
    }

    /// The survey id, as it appears in every event.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The definition's version, as it appears in every event.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The human-readable title, if the file gives one.
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// The questions, in the order the IVR asks them.
    pub fn questions(&self) -> &[Question] {
        &self.questions
    }

    /// The question with this id.
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }

    /// The thresholds of the quality checks.
    pub fn quality(&self) -> &QualitySettings {
        &self.quality
    }

    /// Every prompt audio file the survey names, as written (relative to the survey file):
    /// the questions' in their order, then the other prompts.
    pub fn prompt_audio(&self) -> Vec<&str> {
        self.questions
            .iter()
            .filter_map(|q| q.prompt_audio.as_deref())
            .chain(self.other_prompt_audio.iter().map(String::as_str))
            .collect()
    }
}

impl FromStr for Survey {
    type Err = Error;

    fn from_str(text: &str) -> Result<Survey, Error> {
        Survey::from_toml(text)
    }
}

/// One validated question, with every default filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// Identifies the question in events; unique within the survey.
    pub id: String,
    /// What the IVR asks, for people reading the definition; not used in processing.
    pub prompt: Option<String>,
    /// The kind of question.
    pub kind: Kind,
    /// The valid values. For [`Kind::Choice`], the smallest and largest code.
    pub scale: Scale,
    /// For [`Kind::Choice`], the label of each code; empty for every other kind.
    pub choices: BTreeMap<u32, String>,
    /// An entry ends when it has this many keys.
    pub max_digits: usize,
    /// Ends an entry early; never a digit.
    pub terminator: Key,
    /// Throws the entry away so the caller can start again; never a digit.
    pub cancel: Key,
    /// An entry ends when the next key starts longer than this after the previous one ended.
    pub inter_digit_timeout: Duration,
    /// Entries the IVR accepts for this question before it moves on (a valid entry always
    /// moves it on).
    pub max_attempts: u32,
    /// When the IVR asks this question, if its timing is fixed. Used only when the IVR does
    /// not report question start offsets.
    pub window: Option<Window>,
    /// For [`Kind::Comment`], how the comment is listened for; `None` for every other kind.
    pub comment: Option<CommentSettings>,
    /// The audio file the IVR plays to ask it, relative to the survey file.
    pub prompt_audio: Option<String>,
}

impl Question {
    /// True when `value` is a valid answer to this question.
    pub fn accepts(&self, value: u32) -> bool {
        match self.kind {
            Kind::Choice => self.choices.contains_key(&value),
            _ => (self.scale.min..=self.scale.max).contains(&value),
        }
    }

    /// The label of a value: the choice's label, or `yes`/`no` for a yes/no question.
    pub fn label(&self, value: u32) -> Option<&str> {
        match self.kind {
            Kind::Choice => self.choices.get(&value).map(String::as_str),
            Kind::YesNo => match value {
                YES => Some("yes"),
                NO => Some("no"),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Key for "yes" on a yes/no question.
pub const YES: u32 = 1;
/// Key for "no" on a yes/no question.
pub const NO: u32 = 2;

/// The kind of a question, which fixes its scale and its derived fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Net Promoter Score: 0-10; 9-10 promoter, 7-8 passive, 0-6 detractor.
    Nps,
    /// Customer satisfaction: 1-5; 4-5 is the "top-2 box".
    Csat,
    /// Customer effort score, CES 2.0 agreement scale: 1-7, where 7 is "strongly agree that it
    /// was easy"; 5-7 count as low effort.
    Ces,
    /// Yes or no: 1 is yes, 2 is no.
    YesNo,
    /// Any whole-number range given as `scale = { min, max }`.
    Range,
    /// A list of options, each keyed by a number: `choices = { 1 = "billing", 2 = "other" }`.
    Choice,
    /// A spoken comment ("tell us why after the tone"): nothing is keyed; it is answered when
    /// the caller speaks for at least `comment.min_speech`. Its scale is 0-0.
    Comment,
}

impl Kind {
    /// The scale every question of this kind has, or `None` when the file must give it.
    pub fn fixed_scale(self) -> Option<Scale> {
        match self {
            Kind::Nps => Some(Scale { min: 0, max: 10 }),
            Kind::Csat => Some(Scale { min: 1, max: 5 }),
            Kind::Ces => Some(Scale { min: 1, max: 7 }),
            Kind::YesNo => Some(Scale { min: YES, max: NO }),
            Kind::Comment => Some(Scale { min: 0, max: 0 }),
            Kind::Range | Kind::Choice => None,
        }
    }

    /// The name used in files and events, e.g. `yes_no`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Nps => "nps",
            Kind::Csat => "csat",
            Kind::Ces => "ces",
            Kind::YesNo => "yes_no",
            Kind::Range => "range",
            Kind::Choice => "choice",
            Kind::Comment => "comment",
        }
    }
}

/// How a [`Kind::Comment`] question listens (the `comment` table of the question).
///
/// The comment window opens `listen_after` the question starts and closes at the first of:
/// `max_duration` later, the question's terminator key, the next question's start, the end of
/// the recording (the caller hung up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentSettings {
    /// Speech is looked for from this long after the question starts. On a recording where the
    /// prompt is mixed with the caller (mono), set it to the prompt's length, tone included,
    /// so that the prompt is not taken for the caller.
    pub listen_after: Duration,
    /// The IVR records the comment for at most this long.
    pub max_duration: Duration,
    /// Less speech than this in the window is `no_input`: a cough or a "hm" is no comment.
    pub min_speech: Duration,
    /// The language the caller is asked to speak in (a BCP 47 tag such as `nl` or `en-GB`),
    /// handed to the transcriber.
    pub language: Option<String>,
}

/// See [`CommentSettings::max_duration`]. IVR comment boxes commonly allow 30 to 120 s.
pub const DEFAULT_COMMENT_MAX_DURATION: Duration = Duration::from_secs(60);
/// See [`CommentSettings::min_speech`]. One second is a short sentence: less is a cough, a
/// breath or a "hm".
pub const DEFAULT_COMMENT_MIN_SPEECH: Duration = Duration::from_secs(1);
/// Longest comment window accepted; a longer one is a unit mistake, and it bounds the audio
/// a clip holds.
pub const MAX_COMMENT_DURATION: Duration = Duration::from_secs(600);

/// The smallest and largest valid value of a question, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Scale {
    /// Smallest valid value.
    pub min: u32,
    /// Largest valid value.
    pub max: u32,
}

/// When the IVR asks a question, as offsets from the start of the recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// When the prompt starts.
    pub start: Duration,
    /// When the IVR stops listening for the answer; `None` for "until the recording ends".
    pub end: Option<Duration>,
}

/// Thresholds of the quality checks (the `[quality]` table).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualitySettings {
    /// See [`DEFAULT_MIN_RESPONSE`].
    pub min_response: Duration,
    /// See [`DEFAULT_MIN_CONFIDENCE`].
    pub min_confidence: f32,
    /// See [`DEFAULT_MATCH_TOLERANCE`].
    pub match_tolerance: Duration,
}

impl Default for QualitySettings {
    fn default() -> QualitySettings {
        QualitySettings {
            min_response: DEFAULT_MIN_RESPONSE,
            min_confidence: DEFAULT_MIN_CONFIDENCE,
            match_tolerance: DEFAULT_MATCH_TOLERANCE,
        }
    }
}
