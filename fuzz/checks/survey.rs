//! Fuzzes the survey file and answer extraction over it: any text parses to a survey or fails
//! with a typed error; over a parsed survey, any presses give one answer per question, and an
//! answered question's value is one the question accepts.
//!
//! Input: the survey's TOML, a NUL byte, then presses of four bytes each (source and key, start
//! in 10 ms steps, length in 10 ms steps, question offset selector).
//!
//! The fuzz target runs [`check`]; so do the tests, over every input kept in
//! `fuzz/regressions/survey` and `fuzz/seeds/survey`.

use std::time::Duration;

use callscore_survey::{Key, KeyInput, KeyPress, QuestionOffset, Status, Survey, extract};

/// Panics when `data` breaks a property above.
pub(crate) fn check(data: &[u8]) {
    let (text, presses) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Ok(survey) = Survey::from_toml(text) else {
        return;
    };
    let (mut in_band, mut out_of_band, mut offsets) = (Vec::new(), Vec::new(), Vec::new());
    for chunk in presses.chunks_exact(4) {
        let key = Key::ALL[usize::from(chunk[0] & 0x0f)];
        let start = Duration::from_millis(10 * u64::from(chunk[1]) * u64::from(chunk[3] / 64 + 1));
        let end = start + Duration::from_millis(10 * u64::from(chunk[2]));
        let press = KeyPress::new(key, start, end);
        if chunk[0] & 0x10 != 0 {
            out_of_band.push(press);
        } else {
            in_band.push(press);
        }
        if chunk[0] & 0x20 != 0 && !survey.questions().is_empty() {
            let question = &survey.questions()[usize::from(chunk[3]) % survey.questions().len()];
            offsets.push(QuestionOffset {
                question_id: question.id.clone(),
                offset: start,
            });
        }
    }
    let end = in_band
        .iter()
        .chain(&out_of_band)
        .map(|p| p.end)
        .max()
        .unwrap_or_default();
    let input = KeyInput {
        duration: end + Duration::from_secs(1),
        in_band: Some(in_band),
        out_of_band: (!out_of_band.is_empty()).then_some(out_of_band),
        question_offsets: offsets,
    };
    if let Ok(answers) = extract(&survey, &input) {
        assert_eq!(answers.questions.len(), survey.questions().len());
        for (answer, question) in answers.questions.iter().zip(survey.questions()) {
            assert_eq!(answer.question_id, question.id);
            if answer.status == Status::Answered {
                let value = answer.value.expect("an answered question has a value");
                assert!(
                    question.accepts(value),
                    "a value the question does not accept"
                );
            } else {
                assert_eq!(answer.value, None, "a value without an answer");
            }
        }
    }
}
