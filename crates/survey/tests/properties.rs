//! Properties of answer extraction that must hold for any input.

mod support;

use std::time::Duration;

use callscore_survey::{
    AudioRef, EventContext, Key, KeyInput, KeyPress, QualityFlag, QuestionOffset, Retention,
    RetentionClass, ScoreEvent, Status, Survey, events, extract,
};
use proptest::prelude::*;
use support::survey_fixture;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Raw random choices for one question's answer, mapped onto the survey by [`key_answers`].
#[derive(Debug, Clone)]
struct Choice {
    pick: u32,
    terminator: bool,
    /// Per mille of the inter-digit timeout, for the gaps inside the entry.
    gaps: Vec<u64>,
    /// Extra pause before the next question's first key, in ms.
    pause: u64,
    /// Length of every key of the entry, in ms.
    length: u64,
}

fn choice() -> impl Strategy<Value = Choice> {
    (
        any::<u32>(),
        any::<bool>(),
        prop::collection::vec(0u64..=1000, 7),
        0u64..10_000,
        40u64..=200,
    )
        .prop_map(|(pick, terminator, gaps, pause, length)| Choice {
            pick,
            terminator,
            gaps,
            pause,
            length,
        })
}

/// A caller who answers every question validly, keyed the way the IVR expects: digits
/// within the timeout, then a terminator, or the last digit, or a pause longer than the
/// timeout. Returns the presses, the values, and when each question's prompt could start.
fn key_answers(survey: &Survey, choices: &[Choice]) -> (Vec<KeyPress>, Vec<u32>, Vec<Duration>) {
    let mut presses = Vec::new();
    let mut values = Vec::new();
    let mut prompts = Vec::new();
    let mut next_start = ms(1000);
    let mut previous_close = ms(500);
    for (question, c) in survey.questions().iter().zip(choices) {
        let valid: Vec<u32> = (question.scale.min..=question.scale.max)
            .filter(|&v| question.accepts(v))
            .collect();
        let value = valid[c.pick as usize % valid.len()];
        values.push(value);
        // The prompt starts halfway between the previous entry's close and the first key.
        prompts.push(previous_close + (next_start - previous_close) / 2);

        let timeout = u64::try_from(question.inter_digit_timeout.as_millis()).expect("small");
        let gap = |i: usize| ms(40 + c.gaps[i] * (timeout - 40) / 1000);
        let digits: Vec<char> = value.to_string().chars().collect();
        let mut start = next_start;
        for (i, d) in digits.iter().enumerate() {
            if i > 0 {
                start = presses.last().map(|p: &KeyPress| p.end).expect("a key") + gap(i);
            }
            let key = Key::from_char(*d).expect("digit");
            presses.push(KeyPress::new(key, start, start + ms(c.length)));
        }
        let last_end = presses.last().map(|p| p.end).expect("a key");
        let complete = digits.len() == question.max_digits;
        let (close, min_pause) = if c.terminator {
            let start = last_end + gap(6);
            presses.push(KeyPress::new(
                question.terminator,
                start,
                start + ms(c.length),
            ));
            (start + ms(c.length), ms(300))
        } else if complete {
            (last_end, ms(300))
        } else {
            // Only the timeout ends this entry, so the next key must wait longer than it.
            (
                last_end + question.inter_digit_timeout,
                question.inter_digit_timeout + ms(1),
            )
        };
        let end = presses.last().map(|p| p.end).expect("a key");
        next_start = end + min_pause + ms(c.pause);
        previous_close = close;
    }
    (presses, values, prompts)
}

fn survey_and_answers() -> impl Strategy<Value = (Vec<Choice>, u64)> {
    (prop::collection::vec(choice(), 6), 0u64..=50)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any valid answers, keyed as the IVR expects, come back as exactly those answers:
    /// from either source or both, with or without question offsets.
    #[test]
    fn valid_answers_round_trip((choices, rtp_offset) in survey_and_answers()) {
        let survey = survey_fixture("post-call.toml");
        let (presses, values, prompts) = key_answers(&survey, &choices);
        let duration = presses.last().map(|p| p.end).expect("keys") + ms(10_000);
        // The out-of-band clock may run a little behind the audio, by the same amount for
        // every event; confidence is the detector's alone.
        let shifted: Vec<KeyPress> = presses
            .iter()
            .map(|p| KeyPress { start: p.start + ms(rtp_offset), end: p.end + ms(rtp_offset), confidence: None, ..*p })
            .collect();
        let detected: Vec<KeyPress> =
            presses.iter().map(|p| KeyPress { confidence: Some(0.9), ..*p }).collect();
        let offsets: Vec<QuestionOffset> = survey
            .questions()
            .iter()
            .zip(&prompts)
            .map(|(q, &offset)| QuestionOffset { question_id: q.id.clone(), offset })
            .collect();

        for (in_band, out_of_band) in [
            (Some(detected.clone()), None),
            (None, Some(shifted.clone())),
            (Some(detected), Some(shifted)),
        ] {
            for question_offsets in [Vec::new(), offsets.clone()] {
                let input = KeyInput {
                    duration,
                    in_band: in_band.clone(),
                    out_of_band: out_of_band.clone(),
                    question_offsets,
                };
                let answers = extract(&survey, &input).expect("valid input");
                let got: Vec<_> = answers.questions.iter().map(|a| (a.status, a.value, a.attempts)).collect();
                let want: Vec<_> = values.iter().map(|&v| (Status::Answered, Some(v), 1)).collect();
                prop_assert_eq!(got, want);
                prop_assert!(answers.unassigned.is_empty());
                prop_assert_eq!(answers.sources.disagreements(), 0);
                prop_assert!(!answers.flags.contains(&QualityFlag::SourceDisagreement));
                prop_assert!(!answers.flags.contains(&QualityFlag::TypeAhead));
            }
        }
    }
}

fn arbitrary_presses() -> impl Strategy<Value = Vec<KeyPress>> {
    prop::collection::vec((0usize..16, 0u64..40_000, 20u64..300, 0.0f32..=1.0), 0..40).prop_map(
        |raw| {
            raw.into_iter()
                .map(|(k, start, length, confidence)| KeyPress {
                    key: Key::ALL[k],
                    start: ms(start),
                    end: ms(start + length),
                    confidence: Some(confidence),
                })
                .collect()
        },
    )
}

fn arbitrary_offsets() -> impl Strategy<Value = Vec<Option<u64>>> {
    prop::collection::vec(prop::option::of(0u64..40_000), 6)
}

fn context(class: RetentionClass) -> EventContext {
    let at = jiff::Timestamp::UNIX_EPOCH;
    EventContext {
        tenant: "t".into(),
        recording_id: "r".into(),
        call_id: "c".into(),
        caller_pseudonym: None,
        audio: AudioRef {
            uri: "file:///r.wav".into(),
            sha256: "0".repeat(64),
        },
        retention: Retention {
            class,
            expires_on: Some(jiff::civil::date(2030, 1, 1)),
        },
        call_started_at: at,
        received_at: at,
        processed_at: at,
        pipeline_version: "test".into(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever is keyed, extraction does not fail, every press ends up in exactly one place
    /// (a question or the unassigned list), statuses agree with values and limits, and the
    /// events describe it without loss.
    #[test]
    fn every_press_is_accounted_for(
        presses in arbitrary_presses(),
        offsets in arbitrary_offsets(),
        extra in 0u64..5000,
    ) {
        let survey = survey_fixture("post-call.toml");
        let duration = presses.iter().map(|p| p.end).max().unwrap_or_default() + ms(extra);
        let question_offsets = survey
            .questions()
            .iter()
            .zip(&offsets)
            .filter_map(|(q, o)| o.map(|o| QuestionOffset { question_id: q.id.clone(), offset: ms(o) }))
            .collect();
        let input = KeyInput { duration, in_band: Some(presses.clone()), out_of_band: None, question_offsets };
        let answers = extract(&survey, &input).expect("any key presses are valid input");

        let mut seen: Vec<(Duration, char)> = answers
            .questions
            .iter()
            .flat_map(|a| a.presses.iter())
            .chain(&answers.unassigned)
            .map(|p| (p.start, p.key.as_char()))
            .collect();
        let mut given: Vec<(Duration, char)> = presses.iter().map(|p| (p.start, p.key.as_char())).collect();
        seen.sort();
        given.sort();
        prop_assert_eq!(seen, given);

        for (question, answer) in survey.questions().iter().zip(&answers.questions) {
            prop_assert_eq!(answer.status == Status::Answered, answer.value.is_some());
            if let Some(v) = answer.value {
                prop_assert!(question.accepts(v));
            }
            prop_assert!(answer.attempts <= question.max_attempts);
            prop_assert_eq!(answer.attempts == 0, answer.presses.is_empty());
            prop_assert!(answer.presses.windows(2).all(|w| w[0].start <= w[1].start));
        }

        let ctx = context(RetentionClass::for_answers(&answers));
        let built = events(&survey, &answers, &ctx).expect("a consistent context");
        prop_assert_eq!(built.scores.len(), survey.questions().len());
        let mut ids: Vec<&str> = built.scores.iter().map(|s| s.event_id.as_str()).collect();
        ids.push(&built.response.event_id);
        ids.sort_unstable();
        ids.dedup();
        prop_assert_eq!(ids.len(), survey.questions().len() + 1);
        for score in &built.scores {
            let text = serde_json::to_string(score).expect("serialises");
            let back: ScoreEvent = serde_json::from_str(&text).expect("reads back");
            prop_assert_eq!(&back, score);
        }
        let raw: usize = built.scores.iter().map(|s| s.raw_keys.len()).sum::<usize>()
            + built.response.unassigned_keys.len();
        prop_assert_eq!(raw, presses.len());
    }

    /// Leaving k presses out of the out-of-band list costs exactly k disagreements, all of them
    /// in-band-only presses: never a pairing with a neighbour's key.
    #[test]
    fn each_missing_out_of_band_press_is_one_disagreement(
        presses in arbitrary_presses(),
        keep in prop::collection::vec(any::<bool>(), 40),
    ) {
        let survey = survey_fixture("post-call.toml");
        let out_of_band: Vec<KeyPress> = presses
            .iter()
            .zip(&keep)
            .filter(|(_, keep)| **keep)
            .map(|(p, _)| KeyPress { confidence: None, ..*p })
            .collect();
        let missing = presses.len() - out_of_band.len();
        let input = KeyInput {
            duration: ms(60_000),
            in_band: Some(presses.clone()),
            out_of_band: Some(out_of_band),
            question_offsets: Vec::new(),
        };
        let s = extract(&survey, &input).expect("valid input").sources;
        prop_assert_eq!(s.in_band_only as usize, missing);
        prop_assert_eq!(s.matched as usize, presses.len() - missing);
        prop_assert_eq!((s.different_key, s.out_of_band_only), (0, 0));
    }
}
