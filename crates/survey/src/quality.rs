//! Quality flags: signs that an answer may not reflect what the caller meant.
//!
//! Flags never change an answer or a status; they let the data engineer decide what to
//! count. They follow the reliability checks of survey research: respondents who answer
//! before they can have heard the question ("speeders"), who give the same answer to every
//! question ("straight-lining"), and measurement doubts (a weak tone, two sources that
//! disagree).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::press::{Press, SourceReport};
use crate::{Answer, QualitySettings, Status};

/// A quality flag on a question or a recording.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum QualityFlag {
    /// The first key came less than `quality.min_response` (default 500 ms) after the
    /// question's prompt started: keyed over the prompt's first words, too soon to have heard
    /// the question. Allowed, and flagged.
    FastKeying,
    /// The first key came before the question's prompt started: keyed ahead, while the
    /// previous question was still being handled (the IVR buffers such keys). Allowed, and
    /// flagged.
    TypeAhead,
    /// A key was heard by the in-band detector with a quality below `quality.min_confidence`.
    LowConfidence,
    /// The in-band detector and the out-of-band events disagree about a key: one source
    /// missed it, or they heard different keys.
    SourceDisagreement,
    /// At least two questions were answered, all with the same value. Recording-level only.
    StraightLining,
}

/// Flags of one question, from its presses and its prompt start. Sorted and unique.
pub(crate) fn question_flags(
    presses: &[Press],
    prompt_start: Option<Duration>,
    settings: &QualitySettings,
) -> Vec<QualityFlag> {
    let mut flags = Vec::new();
    if let (Some(first), Some(prompt)) = (presses.first(), prompt_start) {
        if first.start < prompt {
            flags.push(QualityFlag::TypeAhead);
        } else if first.start - prompt < settings.min_response {
            flags.push(QualityFlag::FastKeying);
        }
    }
    if presses
        .iter()
        .any(|p| p.confidence.is_some_and(|c| c < settings.min_confidence))
    {
        flags.push(QualityFlag::LowConfidence);
    }
    if presses.iter().any(|p| p.disputed) {
        flags.push(QualityFlag::SourceDisagreement);
    }
    flags.sort();
    flags
}

/// Flags of the recording: the union of the questions' flags, straight-lining, and source
/// disagreement anywhere in the recording (also among presses no question took).
pub(crate) fn response_flags(answers: &[Answer], sources: &SourceReport) -> Vec<QualityFlag> {
    let mut flags: Vec<QualityFlag> = answers.iter().flat_map(|a| a.flags.clone()).collect();
    let mut values = answers
        .iter()
        .filter(|a| a.status == Status::Answered)
        .filter_map(|a| a.value);
    if let Some(first) = values.next() {
        let mut count = 1;
        let mut same = true;
        for value in values {
            count += 1;
            same &= value == first;
        }
        if same && count >= 2 {
            flags.push(QualityFlag::StraightLining);
        }
    }
    if sources.disagreements() > 0 {
        flags.push(QualityFlag::SourceDisagreement);
    }
    flags.sort();
    flags.dedup();
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::press::Source;
    use callscore_dtmf::Key;

    fn press(start_ms: u64, confidence: Option<f32>, disputed: bool) -> Press {
        Press {
            key: Key::D5,
            start: Duration::from_millis(start_ms),
            end: Duration::from_millis(start_ms + 80),
            source: Source::InBand,
            confidence,
            disputed,
        }
    }

    #[test]
    fn timing_flags_compare_the_first_key_with_the_prompt_start() {
        let settings = QualitySettings::default();
        let at = |ms| Some(Duration::from_millis(ms));
        let first = |start| [press(start, None, false)];
        assert_eq!(
            question_flags(&first(900), at(1000), &settings),
            [QualityFlag::TypeAhead]
        );
        assert_eq!(
            question_flags(&first(1000), at(1000), &settings),
            [QualityFlag::FastKeying]
        );
        assert_eq!(
            question_flags(&first(1499), at(1000), &settings),
            [QualityFlag::FastKeying]
        );
        assert_eq!(question_flags(&first(1500), at(1000), &settings), []);
        assert_eq!(
            question_flags(&first(100), None, &settings),
            [],
            "no prompt start, no flag"
        );
    }

    #[test]
    fn measurement_flags_look_at_every_press() {
        let settings = QualitySettings::default();
        let presses = [press(5000, Some(0.9), false), press(5300, Some(0.1), true)];
        assert_eq!(
            question_flags(&presses, None, &settings),
            [QualityFlag::LowConfidence, QualityFlag::SourceDisagreement]
        );
        // Out-of-band presses carry no confidence and are never low-confidence.
        assert_eq!(
            question_flags(&[press(5000, None, false)], None, &settings),
            []
        );
    }

    fn answered(value: Option<u32>) -> Answer {
        Answer {
            question_id: "q".into(),
            status: if value.is_some() {
                Status::Answered
            } else {
                Status::NoInput
            },
            value,
            attempts: u32::from(value.is_some()),
            presses: Vec::new(),
            prompt_start: None,
            flags: Vec::new(),
            comment: None,
        }
    }

    #[test]
    fn straight_lining_needs_two_equal_answers_and_no_different_one() {
        let report = SourceReport::default();
        let flags = |values: &[Option<u32>]| {
            let answers: Vec<Answer> = values.iter().map(|&v| answered(v)).collect();
            response_flags(&answers, &report).contains(&QualityFlag::StraightLining)
        };
        assert!(flags(&[Some(5), Some(5)]));
        assert!(flags(&[Some(5), None, Some(5)]));
        assert!(!flags(&[Some(5), None]), "one answer is not a line");
        assert!(!flags(&[Some(5), Some(5), Some(4)]));
    }

    #[test]
    fn disputed_presses_outside_questions_still_flag_the_recording() {
        let report = SourceReport {
            in_band_only: 1,
            ..SourceReport::default()
        };
        assert_eq!(
            response_flags(&[answered(None)], &report),
            [QualityFlag::SourceDisagreement]
        );
    }
}
