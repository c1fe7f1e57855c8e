//! The survey file as written (TOML), and its validation into a [`Survey`].
//!
//! Parsing happens in two stages: serde reads the file into these raw types, refusing unknown
//! keys (toml reports those with the line), then [`SurveyFile::validate`] checks the meaning and
//! names the key path of every problem. Durations and keys stay strings until then so that a
//! bad one is reported by path with the rule it breaks, rather than as a serde type error.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use callscore_dtmf::Key;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::definition::{
    DEFAULT_COMMENT_MAX_DURATION, DEFAULT_COMMENT_MIN_SPEECH, DEFAULT_INTER_DIGIT_TIMEOUT,
    DEFAULT_MAX_ATTEMPTS, MAX_COMMENT_DURATION, MAX_DIGITS, MAX_QUESTIONS,
};
use crate::{CommentSettings, Error, Kind, QualitySettings, Question, Scale, Survey, Window};

/// Longest id accepted for a survey or a question; ids become part of event ids and object
/// keys downstream, so they are short and plain.
const MAX_ID_LEN: usize = 64;
/// The largest value that fits in [`MAX_DIGITS`] keys.
const LARGEST_VALUE: u32 = 10_u32.pow(MAX_DIGITS as u32) - 1;
/// Longest inter-digit timeout accepted; a longer one is a unit mistake ("3000s" for "3000ms").
const MAX_TIMEOUT: Duration = Duration::from_secs(60);
/// Most entries per question accepted; IVRs give up after a few.
const MAX_ATTEMPTS: u32 = 10;
/// Largest match tolerance accepted: beyond it, separate key presses would be paired.
const MAX_MATCH_TOLERANCE: Duration = Duration::from_secs(2);

/// A callscore survey definition (TOML). Durations are strings such as "3s", "1500ms" or
/// "2.5s"; keys are one character of `*`, `#`, `A`-`D`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "callscore survey definition, version 1")]
pub(crate) struct SurveyFile {
    /// Identifies the survey in every event: 1-64 characters of `a-z`, `0-9`, `-`, `_`, `.`.
    id: String,
    /// Version of this definition, from 1. Raise it when a question or a scale changes: it is
    /// part of every event and every event id.
    version: u32,
    /// A name for people; not used in processing.
    #[serde(default)]
    title: Option<String>,
    /// Settings for every question that does not set its own.
    #[serde(default)]
    defaults: DefaultsFile,
    /// Thresholds of the quality checks.
    #[serde(default)]
    quality: QualityFile,
    /// The questions, in the order the IVR asks them.
    questions: Vec<QuestionFile>,
    /// Audio files of the other prompts the IVR plays during the survey (the introduction, the
    /// thanks, a re-prompt after a wrong key), relative to this file: on a recording where the
    /// prompts are mixed with the caller they are found and subtracted before keys are
    /// detected.
    #[serde(default)]
    other_prompt_audio: Vec<String>,
}

/// Settings that apply to every question unless the question sets its own.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Defaults")]
struct DefaultsFile {
    /// Key that ends an entry early (default "#").
    #[serde(default)]
    terminator: Option<String>,
    /// Key that throws the entry away to start again (default "*").
    #[serde(default)]
    cancel: Option<String>,
    /// An entry ends when no key follows for this long (default "3s").
    #[serde(default)]
    inter_digit_timeout: Option<String>,
    /// Entries the IVR accepts for a question before moving on (default 3).
    #[serde(default)]
    max_attempts: Option<u32>,
}

/// Thresholds of the quality checks.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Quality")]
struct QualityFile {
    /// A first key sooner than this after the prompt starts is flagged fast_keying
    /// (default "500ms").
    #[serde(default)]
    min_response: Option<String>,
    /// In-band keys with a detector quality below this are flagged low_confidence
    /// (default 0.3).
    #[serde(default)]
    min_confidence: Option<f64>,
    /// In-band and out-of-band presses starting at most this far apart are the same press
    /// (default "120ms").
    #[serde(default)]
    match_tolerance: Option<String>,
}

/// One question.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Question")]
struct QuestionFile {
    /// Identifies the question in events; unique within the survey. Same characters as the
    /// survey id.
    id: String,
    /// The kind, which fixes the scale of nps (0-10), csat (1-5), ces (1-7) and yes_no
    /// (1 yes, 2 no).
    kind: Kind,
    /// What the IVR asks; for people reading the file.
    #[serde(default)]
    prompt: Option<String>,
    /// Valid values of a `range` question; not allowed for other kinds.
    #[serde(default)]
    scale: Option<ScaleFile>,
    /// Options of a `choice` question: number keyed -> label, e.g. { 1 = "billing" }.
    #[serde(default)]
    choices: Option<BTreeMap<String, String>>,
    /// An entry ends after this many keys (default: the digits of the largest valid value).
    #[serde(default)]
    max_digits: Option<u32>,
    // The four overrides repeat the fields of DefaultsFile rather than flatten a shared
    // struct: serde cannot combine `flatten` with `deny_unknown_fields`.
    /// Overrides defaults.terminator.
    #[serde(default)]
    terminator: Option<String>,
    /// Overrides defaults.cancel.
    #[serde(default)]
    cancel: Option<String>,
    /// Overrides defaults.inter_digit_timeout.
    #[serde(default)]
    inter_digit_timeout: Option<String>,
    /// Overrides defaults.max_attempts.
    #[serde(default)]
    max_attempts: Option<u32>,
    /// When the IVR asks this question, from the start of the recording; used only when the
    /// IVR does not report question start offsets.
    #[serde(default)]
    window: Option<WindowFile>,
    /// How a `comment` question listens; not allowed for other kinds.
    #[serde(default)]
    comment: Option<CommentFile>,
    /// The audio file the IVR plays to ask this question, relative to the survey file: on a
    /// recording where the prompts are mixed with the caller it is found and subtracted before
    /// keys are detected.
    #[serde(default)]
    prompt_audio: Option<String>,
}

/// How a spoken comment is listened for. The window opens `listen_after` the question starts
/// and closes at the first of: `max_duration` later, the question's terminator key, the next
/// question's start, the end of the recording.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Comment")]
struct CommentFile {
    /// Speech is looked for from this long after the question starts (default "0s"). On a
    /// recording where the prompt is mixed with the caller, the prompt's length, tone included.
    #[serde(default)]
    listen_after: Option<String>,
    /// The IVR records at most this long (default "60s", at most "10m").
    #[serde(default)]
    max_duration: Option<String>,
    /// Less speech than this is no_input (default "1s"; at most max_duration).
    #[serde(default)]
    min_speech: Option<String>,
    /// The language the caller is asked to speak in, a BCP 47 tag such as "nl" or "en-GB";
    /// handed to the transcriber.
    #[serde(default)]
    language: Option<String>,
}

/// Valid values, both included.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Scale")]
struct ScaleFile {
    /// Smallest valid value.
    min: i64,
    /// Largest valid value.
    max: i64,
}

/// A fixed time window, from the start of the recording.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Window")]
struct WindowFile {
    /// When the prompt starts (default "0s").
    #[serde(default)]
    start: Option<String>,
    /// When the IVR stops listening (default: the end of the recording).
    #[serde(default)]
    end: Option<String>,
}

/// Collects problems by key path, so that one pass reports all of them.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, path: &str, message: impl std::fmt::Display) {
        self.0.push(format!("{path}: {message}"));
    }

    /// Runs a check that yields a value; records its problem and returns `None` on failure.
    fn check<T>(&mut self, path: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.add(path, message);
                None
            }
        }
    }
}

impl SurveyFile {
    pub(crate) fn validate(self) -> Result<Survey, Error> {
        let mut problems = Problems::default();

        problems.check("id", check_id(&self.id));
        if self.version == 0 {
            problems.add("version", "must be at least 1");
        }

        let defaults = Defaults::validate(&self.defaults, &mut problems);
        let quality = validate_quality(&self.quality, &mut problems);

        if self.questions.is_empty() {
            problems.add("questions", "at least one question is required");
        }
        if self.questions.len() > MAX_QUESTIONS {
            problems.add(
                "questions",
                format!(
                    "{} questions, more than the limit of {MAX_QUESTIONS}",
                    self.questions.len()
                ),
            );
        }

        for (index, file) in self.other_prompt_audio.iter().enumerate() {
            problems.check(
                &format!("other_prompt_audio[{index}]"),
                check_audio_path(file),
            );
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut questions = Vec::with_capacity(self.questions.len());
        for (index, raw) in self.questions.iter().enumerate() {
            let path = format!("questions[{index}]");
            if let Some(first) = seen.insert(&raw.id, index) {
                problems.add(
                    &format!("{path}.id"),
                    format!("\"{}\" is already the id of questions[{first}]", raw.id),
                );
            }
            if let Some(question) = raw.validate(&path, &defaults, &mut problems) {
                questions.push(question);
            }
        }

        if !problems.0.is_empty() {
            return Err(Error::Definition {
                problems: problems.0,
            });
        }
        Ok(Survey {
            id: self.id,
            version: self.version,
            title: self.title,
            questions,
            quality: quality.unwrap_or_default(),
            other_prompt_audio: self.other_prompt_audio,
        })
    }
}

/// The `[defaults]` table with the built-in defaults filled in. A bad value is reported once,
/// here, and replaced by the built-in default so that questions are still checked.
struct Defaults {
    terminator: Key,
    cancel: Key,
    inter_digit_timeout: Duration,
    max_attempts: u32,
}

impl Defaults {
    fn validate(raw: &DefaultsFile, problems: &mut Problems) -> Defaults {
        let key = |problems: &mut Problems, name: &str, value: &Option<String>, fallback| {
            value
                .as_deref()
                .and_then(|text| problems.check(&format!("defaults.{name}"), parse_key(text)))
                .unwrap_or(fallback)
        };
        let terminator = key(problems, "terminator", &raw.terminator, Key::Hash);
        let cancel = key(problems, "cancel", &raw.cancel, Key::Star);
        if terminator == cancel {
            problems.add(
                "defaults.cancel",
                format!("must differ from the terminator \"{terminator}\""),
            );
        }
        let inter_digit_timeout = raw
            .inter_digit_timeout
            .as_deref()
            .and_then(|text| problems.check("defaults.inter_digit_timeout", parse_timeout(text)))
            .unwrap_or(DEFAULT_INTER_DIGIT_TIMEOUT);
        let max_attempts = raw
            .max_attempts
            .and_then(|n| problems.check("defaults.max_attempts", check_attempts(n)))
            .unwrap_or(DEFAULT_MAX_ATTEMPTS);
        Defaults {
            terminator,
            cancel,
            inter_digit_timeout,
            max_attempts,
        }
    }
}

fn validate_quality(raw: &QualityFile, problems: &mut Problems) -> Option<QualitySettings> {
    let before = problems.0.len();
    let mut settings = QualitySettings::default();
    let mut bounded = |path: &str, text: &Option<String>, max: Duration, target: &mut Duration| {
        let Some(d) = text
            .as_deref()
            .and_then(|t| problems.check(path, parse_duration(t)))
        else {
            return;
        };
        if d <= max {
            *target = d;
        } else {
            problems.add(path, format!("must be at most {}s", max.as_secs()));
        }
    };
    bounded(
        "quality.min_response",
        &raw.min_response,
        MAX_TIMEOUT,
        &mut settings.min_response,
    );
    bounded(
        "quality.match_tolerance",
        &raw.match_tolerance,
        MAX_MATCH_TOLERANCE,
        &mut settings.match_tolerance,
    );
    if let Some(value) = raw.min_confidence {
        if (0.0..=1.0).contains(&value) {
            // Detector qualities are f32; the threshold needs no more precision than they have.
            settings.min_confidence = value as f32;
        } else {
            problems.add("quality.min_confidence", "must be between 0 and 1");
        }
    }
    (problems.0.len() == before).then_some(settings)
}

impl QuestionFile {
    fn validate(
        &self,
        path: &str,
        defaults: &Defaults,
        problems: &mut Problems,
    ) -> Option<Question> {
        let before = problems.0.len();
        let at = |field: &str| format!("{path}.{field}");

        problems.check(&at("id"), check_id(&self.id));

        let (scale, choices) = self.scale_and_choices(path, problems);

        let terminator = match &self.terminator {
            Some(text) => problems.check(&at("terminator"), parse_key(text)),
            None => Some(defaults.terminator),
        };
        let cancel = match &self.cancel {
            Some(text) => problems.check(&at("cancel"), parse_key(text)),
            None => Some(defaults.cancel),
        };
        if let (Some(t), Some(c)) = (terminator, cancel)
            && t == c
            && (self.terminator.is_some() || self.cancel.is_some())
        {
            let field = if self.cancel.is_some() {
                "cancel"
            } else {
                "terminator"
            };
            problems.add(
                &at(field),
                format!("\"{c}\" is both the terminator and the cancel key"),
            );
        }

        let inter_digit_timeout = match &self.inter_digit_timeout {
            Some(text) => problems.check(&at("inter_digit_timeout"), parse_timeout(text)),
            None => Some(defaults.inter_digit_timeout),
        };
        let max_attempts = match self.max_attempts {
            Some(n) => problems.check(&at("max_attempts"), check_attempts(n)),
            None => Some(defaults.max_attempts),
        };

        let max_digits = scale.and_then(|scale| {
            let needed = digits(scale.max);
            match self.max_digits {
                None => Some(needed),
                Some(n) => {
                    let n = usize::try_from(n).unwrap_or(usize::MAX);
                    if n > MAX_DIGITS {
                        problems.add(&at("max_digits"), format!("must be at most {MAX_DIGITS}"));
                        None
                    } else if n < needed {
                        problems.add(
                            &at("max_digits"),
                            format!(
                                "must be at least {needed} to key the largest value {}",
                                scale.max
                            ),
                        );
                        None
                    } else {
                        Some(n)
                    }
                }
            }
        });

        let window = match &self.window {
            None => Some(None),
            Some(raw) => raw.validate(&at("window"), problems).map(Some),
        };
        let comment = self.comment_settings(path, problems);
        if let Some(file) = &self.prompt_audio {
            problems.check(&at("prompt_audio"), check_audio_path(file));
        }

        if problems.0.len() != before {
            return None;
        }
        Some(Question {
            id: self.id.clone(),
            prompt: self.prompt.clone(),
            kind: self.kind,
            scale: scale?,
            choices,
            max_digits: max_digits?,
            terminator: terminator?,
            cancel: cancel?,
            inter_digit_timeout: inter_digit_timeout?,
            max_attempts: max_attempts?,
            window: window?,
            comment,
            prompt_audio: self.prompt_audio.clone(),
        })
    }

    /// The comment settings of a `comment` question; refuses the table on other kinds and the
    /// keyed-entry settings on a comment, which has no entries.
    fn comment_settings(&self, path: &str, problems: &mut Problems) -> Option<CommentSettings> {
        if self.kind != Kind::Comment {
            if self.comment.is_some() {
                let kind = self.kind.name();
                problems.add(
                    &format!("{path}.comment"),
                    format!("not allowed for kind {kind}"),
                );
            }
            return None;
        }
        let keyed = [
            ("max_digits", self.max_digits.is_some()),
            ("cancel", self.cancel.is_some()),
            ("inter_digit_timeout", self.inter_digit_timeout.is_some()),
            ("max_attempts", self.max_attempts.is_some()),
        ];
        for (field, _) in keyed.iter().filter(|(_, given)| *given) {
            problems.add(
                &format!("{path}.{field}"),
                "not allowed for kind comment, which has no keyed entry",
            );
        }
        let default = CommentFile::default();
        let raw = self.comment.as_ref().unwrap_or(&default);
        raw.validate(&format!("{path}.comment"), problems)
    }

    /// The scale (fixed by the kind, given, or spanned by the choices) and the choice labels.
    fn scale_and_choices(
        &self,
        path: &str,
        problems: &mut Problems,
    ) -> (Option<Scale>, BTreeMap<u32, String>) {
        let kind = self.kind.name();
        if self.kind != Kind::Choice && self.choices.is_some() {
            problems.add(
                &format!("{path}.choices"),
                format!("not allowed for kind {kind}"),
            );
        }
        if let Some(fixed) = self.kind.fixed_scale() {
            if self.scale.is_some() {
                problems.add(
                    &format!("{path}.scale"),
                    format!(
                        "not allowed for kind {kind}, whose scale is fixed at {}-{}",
                        fixed.min, fixed.max
                    ),
                );
            }
            return (Some(fixed), BTreeMap::new());
        }
        match self.kind {
            Kind::Range => {
                if let Some(raw) = &self.scale {
                    (
                        raw.validate(&format!("{path}.scale"), problems),
                        BTreeMap::new(),
                    )
                } else {
                    problems.add(
                        &format!("{path}.scale"),
                        "required for kind range, e.g. scale = { min = 1, max = 10 }",
                    );
                    (None, BTreeMap::new())
                }
            }
            _ => {
                if self.scale.is_some() {
                    problems.add(
                        &format!("{path}.scale"),
                        "not allowed for kind choice, whose scale comes from its choices",
                    );
                }
                validate_choices(self.choices.as_ref(), &format!("{path}.choices"), problems)
            }
        }
    }
}

impl ScaleFile {
    fn validate(&self, path: &str, problems: &mut Problems) -> Option<Scale> {
        let min = if self.min < 0 {
            problems.add(
                &format!("{path}.min"),
                "must not be negative: answers are keyed as digits",
            );
            None
        } else {
            u32::try_from(self.min).ok()
        };
        let max = if self.max > i64::from(LARGEST_VALUE) {
            problems.add(
                &format!("{path}.max"),
                format!("must be at most {LARGEST_VALUE}"),
            );
            None
        } else if self.max < self.min {
            problems.add(
                &format!("{path}.max"),
                format!("must be at least scale.min ({})", self.min),
            );
            None
        } else {
            u32::try_from(self.max).ok()
        };
        Some(Scale {
            min: min?,
            max: max?,
        })
    }
}

impl CommentFile {
    fn validate(&self, path: &str, problems: &mut Problems) -> Option<CommentSettings> {
        let before = problems.0.len();
        let mut duration = |field: &str, text: &Option<String>, default: Duration| {
            text.as_deref()
                .and_then(|t| problems.check(&format!("{path}.{field}"), parse_duration(t)))
                .unwrap_or(default)
        };
        let listen_after = duration("listen_after", &self.listen_after, Duration::ZERO);
        let max_duration = duration(
            "max_duration",
            &self.max_duration,
            DEFAULT_COMMENT_MAX_DURATION,
        );
        let min_speech = duration("min_speech", &self.min_speech, DEFAULT_COMMENT_MIN_SPEECH);
        if max_duration.is_zero() || max_duration > MAX_COMMENT_DURATION {
            problems.add(
                &format!("{path}.max_duration"),
                format!(
                    "must be more than 0s and at most {}s",
                    MAX_COMMENT_DURATION.as_secs()
                ),
            );
        } else if min_speech.is_zero() || min_speech > max_duration {
            problems.add(
                &format!("{path}.min_speech"),
                "must be more than 0s and at most max_duration",
            );
        }
        if listen_after > MAX_COMMENT_DURATION {
            problems.add(
                &format!("{path}.listen_after"),
                format!("must be at most {}s", MAX_COMMENT_DURATION.as_secs()),
            );
        }
        let language = self
            .language
            .as_deref()
            .and_then(|tag| problems.check(&format!("{path}.language"), check_language(tag)));
        (problems.0.len() == before).then_some(CommentSettings {
            listen_after,
            max_duration,
            min_speech,
            language,
        })
    }
}

/// A BCP 47 tag in the common shape: a 2-3 letter language, then subtags of 2-8 letters or
/// digits (`nl`, `en-GB`, `sr-Latn-RS`).
fn check_language(tag: &str) -> Result<String, String> {
    let mut parts = tag.split('-');
    let language = parts.next().unwrap_or_default();
    let fine = (2..=3).contains(&language.len())
        && language.chars().all(|c| c.is_ascii_alphabetic())
        && parts
            .all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if fine {
        Ok(tag.to_string())
    } else {
        Err(format!(
            "\"{tag}\" is not a language tag; write e.g. \"nl\" or \"en-GB\""
        ))
    }
}

impl WindowFile {
    fn validate(&self, path: &str, problems: &mut Problems) -> Option<Window> {
        let start = match &self.start {
            Some(text) => problems.check(&format!("{path}.start"), parse_duration(text)),
            None => Some(Duration::ZERO),
        };
        let end = match &self.end {
            Some(text) => problems
                .check(&format!("{path}.end"), parse_duration(text))
                .map(Some),
            None => Some(None),
        };
        let (start, end) = (start?, end?);
        if end.is_some_and(|end| end <= start) {
            problems.add(&format!("{path}.end"), "must be later than window.start");
            return None;
        }
        Some(Window { start, end })
    }
}

fn validate_choices(
    raw: Option<&BTreeMap<String, String>>,
    path: &str,
    problems: &mut Problems,
) -> (Option<Scale>, BTreeMap<u32, String>) {
    let Some(raw) = raw.filter(|map| !map.is_empty()) else {
        problems.add(
            path,
            "required for kind choice, e.g. choices = { 1 = \"billing\", 2 = \"other\" }",
        );
        return (None, BTreeMap::new());
    };
    let mut choices = BTreeMap::new();
    for (code, label) in raw {
        let at = format!("{path}.\"{code}\"");
        // Only canonical numbers, so that "01" and "1" cannot both name an option.
        match code.parse::<u32>() {
            Ok(n) if n.to_string() == *code && digits(n) <= MAX_DIGITS => {
                if label.trim().is_empty() {
                    problems.add(&at, "the label must not be empty");
                } else {
                    choices.insert(n, label.clone());
                }
            }
            _ => problems.add(
                &at,
                format!("must be a number of at most {MAX_DIGITS} digits without leading zeros, e.g. \"1\""),
            ),
        }
    }
    let scale = match (choices.keys().next(), choices.keys().next_back()) {
        (Some(&min), Some(&max)) => Some(Scale { min, max }),
        _ => None,
    };
    (scale, choices)
}

/// Number of decimal digits needed to key `value`.
fn digits(value: u32) -> usize {
    value.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// Longest audio file path accepted.
const MAX_AUDIO_PATH_LEN: usize = 1024;

fn check_id(id: &str) -> Result<(), String> {
    let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c);
    if id.is_empty() || id.len() > MAX_ID_LEN || !id.chars().all(plain) {
        return Err(format!(
            "\"{id}\" is not an id: use 1-{MAX_ID_LEN} characters of a-z, 0-9, \"-\", \"_\", \".\""
        ));
    }
    Ok(())
}

/// A prompt's audio file: a path, not a URL, and not empty. Whether it exists and decodes is
/// checked where the file is read, at start-up.
fn check_audio_path(path: &str) -> Result<(), String> {
    if path.trim().is_empty() {
        return Err("must name an audio file".to_string());
    }
    if path.contains('\0') || path.contains("://") || path.len() > MAX_AUDIO_PATH_LEN {
        return Err(format!(
            "\"{path}\" is not a file path (at most {MAX_AUDIO_PATH_LEN} bytes, relative to the survey file)"
        ));
    }
    Ok(())
}

fn check_attempts(n: u32) -> Result<u32, String> {
    if (1..=MAX_ATTEMPTS).contains(&n) {
        Ok(n)
    } else {
        Err(format!("must be between 1 and {MAX_ATTEMPTS}"))
    }
}

/// A terminator or cancel key: one non-digit key, so that it can never be part of a value.
fn parse_key(text: &str) -> Result<Key, String> {
    let mut chars = text.chars();
    match (chars.next().and_then(Key::from_char), chars.next()) {
        (Some(key), None) if !key.as_char().is_ascii_digit() => Ok(key),
        (Some(_), None) => Err(format!(
            "\"{text}\" is a digit, which would make it part of answers; use one of * # A B C D"
        )),
        _ => Err(format!("\"{text}\" is not one key; use one of * # A B C D")),
    }
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let timeout = parse_duration(text)?;
    if timeout.is_zero() || timeout > MAX_TIMEOUT {
        return Err("must be more than 0s and at most 60s".to_string());
    }
    Ok(timeout)
}

/// Durations are written as jiff's "friendly" format ("3s", "1500ms", "2.5s", "1m 30s") or
/// ISO 8601 ("PT3S"), so the file reads naturally and needs no second parser.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let parsed: jiff::SignedDuration = text.parse().map_err(|_| {
        format!("\"{text}\" is not a duration; write e.g. \"3s\", \"1500ms\" or \"2.5s\"")
    })?;
    Duration::try_from(parsed).map_err(|_| format!("\"{text}\" must not be negative"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(toml: &str) -> Vec<String> {
        match Survey::from_toml(toml) {
            Err(Error::Definition { problems }) => problems,
            other => panic!("expected a definition error, got {other:?}"),
        }
    }

    const HEAD: &str = "id = \"s\"\nversion = 1\n";

    #[test]
    fn minimal_survey_gets_every_default() {
        let survey = Survey::from_toml(&format!(
            "{HEAD}[[questions]]\nid = \"nps\"\nkind = \"nps\"\n"
        ))
        .expect("valid");
        let q = &survey.questions()[0];
        assert_eq!(q.scale, Scale { min: 0, max: 10 });
        assert_eq!(q.max_digits, 2);
        assert_eq!(q.terminator, Key::Hash);
        assert_eq!(q.cancel, Key::Star);
        assert_eq!(q.inter_digit_timeout, DEFAULT_INTER_DIGIT_TIMEOUT);
        assert_eq!(q.max_attempts, DEFAULT_MAX_ATTEMPTS);
        assert_eq!(q.window, None);
        assert_eq!(*survey.quality(), QualitySettings::default());
    }

    #[test]
    fn defaults_table_and_overrides_apply_in_that_order() {
        let survey = Survey::from_toml(&format!(
            "{HEAD}[defaults]\nterminator = \"A\"\ninter_digit_timeout = \"1500ms\"\n\
             max_attempts = 1\n\
             [[questions]]\nid = \"a\"\nkind = \"csat\"\n\
             [[questions]]\nid = \"b\"\nkind = \"csat\"\nterminator = \"#\"\n\
             inter_digit_timeout = \"2.5s\"\nmax_attempts = 2\n"
        ))
        .expect("valid");
        let [a, b] = survey.questions() else {
            panic!("two questions")
        };
        assert_eq!(
            (a.terminator, a.inter_digit_timeout, a.max_attempts),
            (Key::A, Duration::from_millis(1500), 1)
        );
        assert_eq!(
            (b.terminator, b.inter_digit_timeout, b.max_attempts),
            (Key::Hash, Duration::from_millis(2500), 2)
        );
    }

    #[test]
    fn max_digits_defaults_to_the_digits_of_the_largest_value() {
        let survey = Survey::from_toml(&format!(
            "{HEAD}[[questions]]\nid = \"r\"\nkind = \"range\"\nscale = {{ min = 1, max = 100 }}\n\
             [[questions]]\nid = \"c\"\nkind = \"choice\"\nchoices = {{ 1 = \"a\", 12 = \"b\" }}\n\
             [[questions]]\nid = \"y\"\nkind = \"yes_no\"\n"
        ))
        .expect("valid");
        let q = survey.questions();
        assert_eq!(
            (q[0].max_digits, q[0].scale),
            (3, Scale { min: 1, max: 100 })
        );
        assert_eq!(
            (q[1].max_digits, q[1].scale),
            (2, Scale { min: 1, max: 12 })
        );
        assert_eq!(q[1].label(12), Some("b"));
        assert!(!q[1].accepts(5), "a choice accepts only its codes");
        assert_eq!(
            (q[2].label(1), q[2].label(2), q[2].label(3)),
            (Some("yes"), Some("no"), None)
        );
    }

    /// Each bad file, and the problem that must name its key path.
    #[test]
    fn problems_name_the_offending_key_path() {
        let cases: &[(&str, &str)] = &[
            (
                "id = \"Bad Id\"\nversion = 1\n[[questions]]\nid = \"a\"\nkind = \"nps\"\n",
                "id: \"Bad Id\" is not an id",
            ),
            (
                "id = \"s\"\nversion = 0\n[[questions]]\nid = \"a\"\nkind = \"nps\"\n",
                "version: must be at least 1",
            ),
            (
                "id = \"s\"\nversion = 1\nquestions = []\n",
                "questions: at least one question is required",
            ),
            (
                "[[questions]]\nid = \"a\"\nkind = \"nps\"\n[[questions]]\nid = \"a\"\nkind = \"csat\"\n",
                "questions[1].id: \"a\" is already the id of questions[0]",
            ),
            (
                "[[questions]]\nid = \"a\"\nkind = \"nps\"\n[[questions]]\nid = \"b\"\nkind = \"csat\"\n[[questions]]\nid = \"c\"\nkind = \"range\"\nscale = { min = 5, max = 3 }\n",
                "questions[2].scale.max: must be at least scale.min (5)",
            ),
            (
                "[[questions]]\nid = \"a\"\nkind = \"range\"\nscale = { min = -1, max = 3 }\n",
                "questions[0].scale.min: must not be negative",
            ),
            (
                "[[questions]]\nid = \"a\"\nkind = \"range\"\nscale = { min = 0, max = 10000000 }\n",
                "questions[0].scale.max: must be at most 999999",
            ),
            (
                "[[questions]]\nid = \"a\"\nkind = \"range\"\n",
                "questions[0].scale: required for kind range",
            ),
            (
                "[[questions]]\nid = \"a\"\nkind = \"nps\"\nscale = { min = 0, max = 5 }\n",
                "questions[0].scale: not allowed for kind nps, whose scale is fixed at 0-10",
            ),
            (
                "[[questions]]\nid = \"a\"\nkind = \"choice\"\n",
                "questions[0].choices: required for kind choice",
            ),
            (
                "[[questions]]\nid = \"a\"\nkind = \"choice\"\nchoices = { \"01\" = \"x\" }\n",
                "questions[0].choices.\"01\": must be a number",
            ),
            (
                "[[questions]]\nid = \"a\"\nkind = \"choice\"\nchoices = { 1 = \" \" }\n",
                "questions[0].choices.\"1\": the label must not be empty",
            ),
            (
                "[[questions]]\nid = \"a\"\nkind = \"csat\"\nchoices = { 1 = \"x\" }\n",
                "questions[0].choices: not allowed for kind csat",
            ),
            (
                "[[questions]]\nid = \"a\"\nkind = \"nps\"\nmax_digits = 1\n",
                "questions[0].max_digits: must be at least 2 to key the largest value 10",
            ),
            (
                "[[questions]]\nid = \"a\"\nkind = \"nps\"\nmax_digits = 7\n",
                "questions[0].max_digits: must be at most 6",
            ),
            (
                "[[questions]]\nid = \"a\"\nkind = \"nps\"\nterminator = \"5\"\n",
                "questions[0].terminator: \"5\" is a digit",
            ),
            (
                "[[questions]]\nid = \"a\"\nkind = \"nps\"\nterminator = \"##\"\n",
                "questions[0].terminator: \"##\" is not one key",
            ),
            (
                "[[questions]]\nid = \"a\"\nkind = \"nps\"\ncancel = \"#\"\n",
                "questions[0].cancel: \"#\" is both the terminator and the cancel key",
            ),
            (
                "[defaults]\ncancel = \"#\"\n[[questions]]\nid = \"a\"\nkind = \"nps\"\n",
                "defaults.cancel: must differ from the terminator \"#\"",
            ),
            (
                "[[questions]]\nid = \"a\"\nkind = \"nps\"\ninter_digit_timeout = \"3 parsecs\"\n",
                "questions[0].inter_digit_timeout: \"3 parsecs\" is not a duration",
            ),
            (
                "[[questions]]\nid = \"a\"\nkind = \"nps\"\ninter_digit_timeout = \"0s\"\n",
                "questions[0].inter_digit_timeout: must be more than 0s",
            ),
            (
                "[defaults]\ninter_digit_timeout = \"3000s\"\n[[questions]]\nid = \"a\"\nkind = \"nps\"\n",
                "defaults.inter_digit_timeout: must be more than 0s and at most 60s",
            ),
            (
                "[[questions]]\nid = \"a\"\nkind = \"nps\"\nmax_attempts = 0\n",
                "questions[0].max_attempts: must be between 1 and 10",
            ),
            (
                "[[questions]]\nid = \"a\"\nkind = \"nps\"\nwindow = { start = \"5s\", end = \"2s\" }\n",
                "questions[0].window.end: must be later than window.start",
            ),
            (
                "[[questions]]\nid = \"a\"\nkind = \"nps\"\nwindow = { start = \"-5s\" }\n",
                "questions[0].window.start: \"-5s\" must not be negative",
            ),
            (
                "[quality]\nmin_confidence = 1.5\n[[questions]]\nid = \"a\"\nkind = \"nps\"\n",
                "quality.min_confidence: must be between 0 and 1",
            ),
            (
                "[quality]\nmatch_tolerance = \"5s\"\n[[questions]]\nid = \"a\"\nkind = \"nps\"\n",
                "quality.match_tolerance: must be at most 2s",
            ),
        ];
        for (body, expected) in cases {
            let text = if body.starts_with("id =") {
                body.to_string()
            } else {
                format!("{HEAD}{body}")
            };
            let found = problems(&text);
            assert!(
                found.iter().any(|p| p.starts_with(expected)),
                "for\n{text}\nexpected a problem starting with {expected:?}, got {found:?}"
            );
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let found = problems(
            "id = \"\"\nversion = 0\n[[questions]]\nid = \"a\"\nkind = \"range\"\n\
             [[questions]]\nid = \"b\"\nkind = \"nps\"\nmax_attempts = 99\n",
        );
        assert_eq!(found.len(), 4, "{found:?}");
    }

    #[test]
    fn syntax_errors_and_unknown_keys_point_at_the_line() {
        for (text, needle) in [
            (
                format!("{HEAD}[[questions]]\nid = \"a\"\nkind = \"nps\"\nsclae = 3\n"),
                "sclae",
            ),
            (
                format!("{HEAD}[[questions]]\nid = \"a\"\nkind = \"nsp\"\n"),
                "nsp",
            ),
            (format!("{HEAD}[[questions]\n"), "line 3"),
        ] {
            let Err(Error::Syntax(source)) = Survey::from_toml(&text) else {
                panic!("expected a syntax error for {text}")
            };
            let message = source.to_string();
            assert!(message.contains(needle), "{message}");
            assert!(message.contains("line"), "{message}");
        }
    }

    #[test]
    fn durations_accept_the_documented_spellings() {
        for (text, ms) in [
            ("3s", 3000),
            ("1500ms", 1500),
            ("2.5s", 2500),
            ("1m 30s", 90_000),
            ("PT3S", 3000),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
        assert!(parse_duration("3").is_err(), "a bare number has no unit");
    }

    #[test]
    fn digits_counts_decimal_places() {
        assert_eq!([0, 9, 10, 99, 100, 999_999].map(digits), [1, 1, 2, 2, 3, 6]);
    }
}
