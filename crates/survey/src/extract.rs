//! Timed key presses to answers: segmentation, entries and statuses.
//!
//! The rules mirror how an IVR collects digits, so that callscore reads an entry the way the
//! IVR did:
//!
//! * An *entry* is the keys between two boundaries. It ends at the question's terminator
//!   (which is not part of it), at its cancel key (which throws it away), when it has
//!   `max_digits` keys (a terminator right after that, within the timeout, still belongs to
//!   it), when the next key starts more than `inter_digit_timeout` after the previous key ended,
//!   or when the question's time is up.
//! * Each entry is one *attempt*. A valid one answers the question and the IVR moves on; after
//!   `max_attempts` entries without a valid one it moves on too; keys after that belong to the
//!   next question.
//! * With question start offsets from the IVR, a question's entries cannot take a key that
//!   starts at or after the next question's offset, and keys before the first question's
//!   offset belong to no question. Keys left over from a question that was already answered,
//!   but keyed before the next question's offset, are type-ahead for the next question. Without
//!   offsets, optional fixed windows play the same role; without either, the questions simply
//!   take the entries in order.

use std::time::Duration;

use callscore_dtmf::Key;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::comment::{Comment, CommentEnd, CommentWindow};
use crate::press::{KeyInput, Press, SourceReport, reconcile};
use crate::quality::{QualityFlag, question_flags, response_flags};
use crate::{CommentSettings, Error, Question, Survey};

/// What came of one question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A valid value was keyed.
    Answered,
    /// The last entry was out of range (or held a key that is not a digit).
    Invalid,
    /// No entry at all, or only empty ones (the terminator alone).
    NoInput,
    /// The last entry ended with the cancel key.
    Cancelled,
    /// The caller hung up in the middle of an entry, before the IVR could accept it.
    Partial,
}

impl Status {
    /// The name used in events and metrics, e.g. `no_input`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Answered => "answered",
            Status::Invalid => "invalid",
            Status::NoInput => "no_input",
            Status::Cancelled => "cancelled",
            Status::Partial => "partial",
        }
    }
}

/// How the presses were divided between the questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Segmentation {
    /// By the question start offsets the IVR reported.
    QuestionOffsets,
    /// In question order, by terminators, timeouts, maximum digits and any fixed windows.
    Sequential,
}

/// The outcome for one question.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The question's id.
    pub question_id: String,
    /// What came of it.
    pub status: Status,
    /// The value, when [`Status::Answered`].
    pub value: Option<u32>,
    /// Entries the caller made for this question, including cancelled and empty ones.
    pub attempts: u32,
    /// Every press attributed to this question, terminators and cancel keys included.
    pub presses: Vec<Press>,
    /// When the question's prompt started, if known: the IVR's offset, the fixed window's
    /// start, or (in sequential order) when the previous entry closed, the earliest the IVR
    /// could have started it. `None` also means "not asked" when offsets were given.
    pub prompt_start: Option<Duration>,
    /// Quality flags of this question, sorted.
    pub flags: Vec<QualityFlag>,
    /// For a comment question: its window, and what was heard there.
    pub comment: Option<Comment>,
}

impl Answer {
    /// The keys attributed to the question as typed, e.g. `12#8#`.
    pub fn raw_keys(&self) -> String {
        self.presses.iter().map(|p| p.key.as_char()).collect()
    }
}

/// The outcome for one recording: one [`Answer`] per question, in survey order, and what is
/// known about the recording as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Answers {
    /// Id of the survey the answers are for.
    pub survey_id: String,
    /// Version of that survey.
    pub survey_version: u32,
    /// One answer per question, in the survey's order.
    pub questions: Vec<Answer>,
    /// Presses attributed to no question: before the first question, or after the last one
    /// was done. Reported, never dropped.
    pub unassigned: Vec<Press>,
    /// How the presses were divided.
    pub segmentation: Segmentation,
    /// How the in-band and out-of-band sources compared.
    pub sources: SourceReport,
    /// Flags of the recording as a whole: every question's flags, `straight_lining`, and
    /// `source_disagreement` when any press at all was disputed.
    pub flags: Vec<QualityFlag>,
    /// Length of the recording.
    pub duration: Duration,
}

impl Answers {
    /// True when at least one question has a valid answer; a recording without one is a
    /// non-respondent.
    pub fn is_respondent(&self) -> bool {
        self.count(Status::Answered) > 0
    }

    /// Questions with this status.
    pub fn count(&self, status: Status) -> usize {
        self.questions.iter().filter(|a| a.status == status).count()
    }
}

/// Turns a recording's key presses into answers to `survey`.
///
/// Errors only for input that cannot belong to this survey or cannot be key presses: an
/// offset for a question the survey does not have, a press that ends before it starts, a
/// confidence outside 0-1, more than [`MAX_PRESSES`](crate::MAX_PRESSES) presses. A recording
/// without keys is not an error; every question is `no_input`.
pub fn extract(survey: &Survey, input: &KeyInput) -> Result<Answers, Error> {
    let quality = survey.quality();
    let (presses, sources) = reconcile(
        input.in_band.as_deref(),
        input.out_of_band.as_deref(),
        quality.match_tolerance,
    )?;
    let (turns, segmentation) = turns(survey, input)?;

    let mut answers: Vec<Answer> = survey
        .questions()
        .iter()
        .map(|q| Answer {
            question_id: q.id.clone(),
            status: Status::NoInput,
            value: None,
            attempts: 0,
            presses: Vec::new(),
            prompt_start: None,
            flags: Vec::new(),
            comment: None,
        })
        .collect();

    let mut cursor = 0;
    let mut unassigned = Vec::new();
    if let Some(first) = turns.first().and_then(|t| t.start) {
        while presses.get(cursor).is_some_and(|p| p.start < first) {
            unassigned.push(presses[cursor]);
            cursor += 1;
        }
    }

    // In sequential order, the close of the previous entry is the earliest the IVR can have
    // started the next prompt.
    let mut previous_close: Option<Duration> = None;
    for turn in &turns {
        let question = &survey.questions()[turn.question];
        let prompt_start = match segmentation {
            Segmentation::QuestionOffsets => turn.start,
            Segmentation::Sequential => turn.start.or(previous_close),
        };
        if let Some(settings) = &question.comment {
            let (window, next) = listen(
                &presses,
                cursor,
                question.terminator,
                settings,
                prompt_start.unwrap_or_default(),
                turn.end,
                input.duration,
            );
            let answer = &mut answers[turn.question];
            answer.prompt_start = prompt_start;
            answer.presses = presses[cursor..next].to_vec();
            answer.comment = Some(Comment {
                window,
                spoken: None,
                clip: None,
                language: settings.language.clone(),
                transcription_request_id: None,
            });
            cursor = next;
            previous_close = Some(window.end);
            continue;
        }
        let from = cursor;
        let mut attempts = 0;
        let mut last = None;
        while attempts < question.max_attempts {
            let Some(attempt) = next_attempt(&presses, cursor, question, turn.end, input.duration)
            else {
                break;
            };
            attempts += 1;
            cursor = attempt.next;
            previous_close = Some(attempt.close);
            let outcome = attempt.outcome(question);
            last = Some(outcome);
            if matches!(outcome, Outcome::Valid(_) | Outcome::Partial) {
                break;
            }
        }
        if attempts == 0 {
            previous_close = turn.end.or(previous_close);
        }
        let answer = &mut answers[turn.question];
        answer.attempts = attempts;
        answer.prompt_start = prompt_start;
        answer.presses = presses[from..cursor].to_vec();
        (answer.status, answer.value) = match last {
            Some(Outcome::Valid(v)) => (Status::Answered, Some(v)),
            Some(Outcome::Invalid) => (Status::Invalid, None),
            Some(Outcome::Cancelled) => (Status::Cancelled, None),
            Some(Outcome::Partial) => (Status::Partial, None),
            Some(Outcome::Empty) | None => (Status::NoInput, None),
        };
        answer.flags = question_flags(&answer.presses, prompt_start, quality);
    }
    unassigned.extend_from_slice(&presses[cursor..]);

    let flags = response_flags(&answers, &sources);
    Ok(Answers {
        survey_id: survey.id().to_string(),
        survey_version: survey.version(),
        questions: answers,
        unassigned,
        segmentation,
        sources,
        flags,
        duration: input.duration,
    })
}

/// A comment question's window, and the index of the first press after it. The presses in the
/// window (up to the terminator that closes it) belong to the question.
fn listen(
    presses: &[Press],
    from: usize,
    terminator: Key,
    settings: &CommentSettings,
    prompt_start: Duration,
    turn_end: Option<Duration>,
    duration: Duration,
) -> (CommentWindow, usize) {
    let start = prompt_start
        .saturating_add(settings.listen_after)
        .min(duration);
    let mut closes = vec![(
        start.saturating_add(settings.max_duration),
        CommentEnd::MaxDuration,
    )];
    closes.extend(turn_end.map(|end| (end.max(start), CommentEnd::NextQuestion)));
    closes.push((duration, CommentEnd::HangUp));
    let (mut end, mut ended_by) = closes
        .into_iter()
        .min_by_key(|&(at, _)| at)
        .expect("the recording's end is always a close");
    let mut next = from;
    while let Some(press) = presses.get(next).filter(|p| p.start < end) {
        next += 1;
        if press.key == terminator && press.start >= start {
            (end, ended_by) = (press.start, CommentEnd::Terminator);
            break;
        }
    }
    (
        CommentWindow {
            start,
            end,
            ended_by,
        },
        next,
    )
}

/// One question's turn: which question, and the time it has.
struct Turn {
    question: usize,
    /// When its prompt starts, if known.
    start: Option<Duration>,
    /// Its entries take no key that starts at or after this.
    end: Option<Duration>,
}

fn turns(survey: &Survey, input: &KeyInput) -> Result<(Vec<Turn>, Segmentation), Error> {
    if input.question_offsets.is_empty() {
        let turns = survey
            .questions()
            .iter()
            .enumerate()
            .map(|(question, q)| Turn {
                question,
                start: q.window.map(|w| w.start),
                end: q.window.and_then(|w| w.end),
            })
            .collect();
        return Ok((turns, Segmentation::Sequential));
    }
    let mut starts: Vec<(Duration, usize)> = Vec::with_capacity(input.question_offsets.len());
    for (i, offset) in input.question_offsets.iter().enumerate() {
        let path = format!("question_offsets[{i}]");
        let Some(question) = survey
            .questions()
            .iter()
            .position(|q| q.id == offset.question_id)
        else {
            return Err(Error::input(
                path,
                format!(
                    "survey {} version {} has no question \"{}\"",
                    survey.id(),
                    survey.version(),
                    offset.question_id
                ),
            ));
        };
        if starts.iter().any(|&(_, q)| q == question) {
            return Err(Error::input(
                path,
                format!("question \"{}\" is given twice", offset.question_id),
            ));
        }
        starts.push((offset.offset, question));
    }
    starts.sort();
    let turns = starts
        .iter()
        .enumerate()
        .map(|(i, &(start, question))| Turn {
            question,
            start: Some(start),
            end: starts.get(i + 1).map(|&(next, _)| next),
        })
        .collect();
    Ok((turns, Segmentation::QuestionOffsets))
}

/// What one entry amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Valid(u32),
    Invalid,
    Empty,
    Cancelled,
    Partial,
}

/// How an entry ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Terminator,
    Cancel,
    Complete,
    HungUp,
}

struct Attempt {
    /// The keys of the entry, terminator and cancel key excluded.
    keys: Vec<Key>,
    end: End,
    /// Index of the first press after the entry.
    next: usize,
    /// When the IVR closed the entry.
    close: Duration,
}

impl Attempt {
    fn outcome(&self, question: &Question) -> Outcome {
        match self.end {
            End::Cancel => return Outcome::Cancelled,
            End::HungUp => return Outcome::Partial,
            End::Terminator | End::Complete if self.keys.is_empty() => return Outcome::Empty,
            End::Terminator | End::Complete => {}
        }
        // At most MAX_DIGITS keys, so the value fits; leading zeros read as the IVR reads them.
        let mut value: u32 = 0;
        for key in &self.keys {
            let Some(digit) = key.as_char().to_digit(10) else {
                return Outcome::Invalid;
            };
            value = value.saturating_mul(10).saturating_add(digit);
        }
        if question.accepts(value) {
            Outcome::Valid(value)
        } else {
            Outcome::Invalid
        }
    }
}

/// The entry that starts at `presses[from]`, if there is one within the question's time.
fn next_attempt(
    presses: &[Press],
    from: usize,
    question: &Question,
    end: Option<Duration>,
    duration: Duration,
) -> Option<Attempt> {
    let in_time = |p: &Press| end.is_none_or(|end| p.start < end);
    let timeout = question.inter_digit_timeout;
    presses.get(from).filter(|p| in_time(p))?;

    let mut keys = Vec::new();
    let mut i = from;
    loop {
        let press = &presses[i];
        if press.key == question.cancel || press.key == question.terminator {
            let end = if press.key == question.cancel {
                End::Cancel
            } else {
                End::Terminator
            };
            return Some(Attempt {
                keys,
                end,
                next: i + 1,
                close: press.end,
            });
        }
        keys.push(press.key);
        let following = presses.get(i + 1).filter(|p| in_time(p));
        if keys.len() == question.max_digits {
            // "10#" on a two-digit question: the terminator confirms the full entry rather
            // than starting an empty one for the next question.
            let confirm = following.filter(|p| {
                p.key == question.terminator && p.start.saturating_sub(press.end) <= timeout
            });
            let (next, close) = match confirm {
                Some(t) => (i + 2, t.end),
                None => (i + 1, press.end),
            };
            return Some(Attempt {
                keys,
                end: End::Complete,
                next,
                close,
            });
        }
        match following {
            Some(p) if p.start.saturating_sub(press.end) <= timeout => i += 1,
            _ => {
                // The caller stopped keying. The IVR accepts the entry when its timeout runs
                // out or its time for the question is up; if the recording ends first, the
                // caller hung up on an unfinished entry.
                let accepted_at = press.end.saturating_add(timeout);
                let hung_up = following.is_none()
                    && presses.get(i + 1).is_none()
                    && end.is_none()
                    && duration < accepted_at;
                return Some(Attempt {
                    keys,
                    end: if hung_up { End::HungUp } else { End::Complete },
                    next: i + 1,
                    close: end.map_or(accepted_at, |end| end.min(accepted_at)),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::press::{KeyPress, QuestionOffset};

    fn survey() -> Survey {
        Survey::from_toml(
            "id = \"t\"\nversion = 1\n\
             [[questions]]\nid = \"nps\"\nkind = \"nps\"\n\
             [[questions]]\nid = \"csat\"\nkind = \"csat\"\n",
        )
        .expect("valid")
    }

    fn input(keys: &[(char, u64)]) -> KeyInput {
        let presses = keys
            .iter()
            .map(|&(c, ms)| {
                KeyPress::new(
                    Key::from_char(c).expect("key"),
                    Duration::from_millis(ms),
                    Duration::from_millis(ms + 100),
                )
            })
            .collect();
        KeyInput {
            duration: Duration::from_secs(60),
            out_of_band: Some(presses),
            ..KeyInput::default()
        }
    }

    fn outcome(answers: &Answers) -> Vec<(Status, Option<u32>, u32)> {
        answers
            .questions
            .iter()
            .map(|a| (a.status, a.value, a.attempts))
            .collect()
    }

    #[test]
    fn a_gap_at_exactly_the_timeout_keeps_the_entry_together() {
        // Key "1" ends at 1.1 s; "0" starts exactly 3 s later.
        let answers = extract(&survey(), &input(&[('1', 1000), ('0', 4100)])).expect("valid");
        assert_eq!(answers.questions[0].value, Some(10));
        let answers = extract(&survey(), &input(&[('1', 1000), ('0', 4101)])).expect("valid");
        assert_eq!(
            outcome(&answers),
            [(Status::Answered, Some(1), 1), (Status::Invalid, None, 1)]
        );
    }

    #[test]
    fn max_attempts_moves_on_to_the_next_question() {
        let survey = Survey::from_toml(
            "id = \"t\"\nversion = 1\n[defaults]\nmax_attempts = 1\n\
             [[questions]]\nid = \"nps\"\nkind = \"nps\"\n\
             [[questions]]\nid = \"csat\"\nkind = \"csat\"\n",
        )
        .expect("valid");
        let keys = [('1', 1000), ('2', 1200), ('#', 1400), ('4', 3000)];
        let answers = extract(&survey, &input(&keys)).expect("valid");
        assert_eq!(
            outcome(&answers),
            [(Status::Invalid, None, 1), (Status::Answered, Some(4), 1)]
        );
        // With the default of three attempts the 4 is the first question's second try.
        let answers = extract(&self::survey(), &input(&keys)).expect("valid");
        assert_eq!(
            outcome(&answers),
            [(Status::Answered, Some(4), 2), (Status::NoInput, None, 0)]
        );
    }

    #[test]
    fn a_question_without_an_offset_was_not_asked() {
        let mut keys = input(&[('9', 2000), ('#', 2300)]);
        keys.question_offsets = vec![QuestionOffset {
            question_id: "csat".into(),
            offset: Duration::from_secs(1),
        }];
        let answers = extract(&survey(), &keys).expect("valid");
        // The 9 goes to csat, the only question asked: out of range there.
        assert_eq!(
            outcome(&answers),
            [(Status::NoInput, None, 0), (Status::Invalid, None, 1)]
        );
        assert_eq!(answers.questions[0].prompt_start, None);
        assert_eq!(answers.segmentation, Segmentation::QuestionOffsets);
    }

    #[test]
    fn offsets_naming_unknown_or_repeated_questions_are_refused() {
        let mut keys = input(&[]);
        keys.question_offsets = vec![QuestionOffset {
            question_id: "nope".into(),
            offset: Duration::ZERO,
        }];
        let err = extract(&survey(), &keys).expect_err("unknown question");
        assert_eq!(
            err.to_string(),
            "key input question_offsets[0]: survey t version 1 has no question \"nope\""
        );
        keys.question_offsets = vec![
            QuestionOffset {
                question_id: "nps".into(),
                offset: Duration::ZERO,
            },
            QuestionOffset {
                question_id: "nps".into(),
                offset: Duration::from_secs(5),
            },
        ];
        assert!(extract(&survey(), &keys).is_err());
    }

    #[test]
    fn fixed_windows_bound_the_questions_without_offsets() {
        let survey = Survey::from_toml(
            "id = \"t\"\nversion = 1\n\
             [[questions]]\nid = \"nps\"\nkind = \"nps\"\nwindow = { start = \"2s\", end = \"10s\" }\n\
             [[questions]]\nid = \"csat\"\nkind = \"csat\"\nwindow = { start = \"10s\" }\n",
        )
        .expect("valid");
        // A key before the survey, a 1 whose entry the window closes, and the csat answer.
        let answers =
            extract(&survey, &input(&[('5', 500), ('1', 9000), ('0', 10_500)])).expect("valid");
        assert_eq!(
            outcome(&answers),
            [(Status::Answered, Some(1), 1), (Status::Invalid, None, 1)]
        );
        assert_eq!(answers.unassigned.len(), 1);
        assert_eq!(
            answers.questions[1].prompt_start,
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn keys_other_than_digits_make_an_entry_invalid() {
        let answers = extract(&survey(), &input(&[('A', 1000), ('#', 1200)])).expect("valid");
        assert_eq!(answers.questions[0].status, Status::Invalid);
        assert_eq!(answers.questions[0].raw_keys(), "A#");
    }

    #[test]
    fn no_keys_is_a_non_respondent_not_an_error() {
        let answers = extract(&survey(), &input(&[])).expect("valid");
        assert!(!answers.is_respondent());
        assert_eq!(answers.count(Status::NoInput), 2);
    }
}
