//! The example surveys in `fixtures/surveys/` load, and behave as their comments say.

mod support;

use std::time::Duration;

use callscore_survey::{Key, KeyInput, Kind, Status, Survey, extract};
use support::{answer, is_none, parse_keys, parse_offsets, repo_root, survey_fixture};

#[test]
fn every_example_survey_loads() {
    let dir = repo_root().join("fixtures/surveys");
    let mut loaded = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures/surveys exists") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).expect("readable");
            if let Err(e) = Survey::from_toml(&text) {
                panic!("{}: {e:?}", path.display());
            }
            loaded += 1;
        }
    }
    assert!(
        loaded >= 3,
        "found only {loaded} surveys in {}",
        dir.display()
    );
}

#[test]
fn post_call_survey_has_its_documented_settings() {
    let survey = survey_fixture("post-call.toml");
    assert_eq!((survey.id(), survey.version()), ("post-call", 3));
    let kinds: Vec<Kind> = survey.questions().iter().map(|q| q.kind).collect();
    assert_eq!(
        kinds,
        [
            Kind::Nps,
            Kind::Csat,
            Kind::Ces,
            Kind::YesNo,
            Kind::Range,
            Kind::Choice
        ]
    );
    let q = |id| survey.question(id).expect("question");
    assert_eq!(q("recommend").max_digits, 2);
    assert_eq!(q("resolved").max_attempts, 2);
    assert_eq!(q("agent").inter_digit_timeout, Duration::from_secs(2));
    assert_eq!(q("agent").max_digits, 2);
    assert_eq!(q("reason").max_digits, 1);
    assert_eq!(q("reason").label(3), Some("moving"));
    assert_eq!(q("satisfied").terminator, Key::Hash);
}

/// (survey, keys, offsets, expected answers per question, expected unassigned keys). An answer
/// is a value, or a status, with `/N` for N attempts when it is not the obvious 1 (0 for
/// no_input).
const CASES: &[(&str, &str, &str, &str, &str)] = &[
    // Every kind answered, in order, each after the previous entry closed.
    (
        "post-call.toml",
        "9 # +2s 4 +2s 6 +2s 1 +2s 8 # +2s 2",
        "—",
        "9 4 6 1 8 2",
        "—",
    ),
    // resolved allows two attempts; "10" on agent is complete at max_digits.
    (
        "post-call.toml",
        "1 0 +2s 5 +2s 7 +2s 3 +2s 3 +2s 1 0 +2s 9",
        "—",
        "10 5 7 invalid/2 10 9",
        "—",
    ),
    // agent's 2 s timeout splits "1", 2.5 s, "0": 0 is no code of reason.
    (
        "post-call.toml",
        "9 # +2s 4 +2s 6 +2s 1 +2s 1 +2.5s 0",
        "—",
        "9 4 6 1 1 invalid",
        "—",
    ),
    // A choice accepts only its codes; a cancelled entry then a valid one.
    (
        "post-call.toml",
        "9 # +2s 4 +2s 6 +2s 1 +2s 8 # +2s 5 +2s * +1s 3",
        "—",
        "9 4 6 1 8 3/3",
        "—",
    ),
    // With offsets, the agent question was never reached.
    (
        "post-call.toml",
        "9@3s # 4@9s",
        "recommend@1s satisfied@8s",
        "9 4 no_input no_input no_input no_input",
        "—",
    ),
    // Fixed windows stand in for offsets.
    ("fixed-timing.toml", "9@5s # 1@17s", "—", "9 1", "—"),
    ("fixed-timing.toml", "5@1s 9@5s # 1@17s", "—", "9 1", "5"),
    // max_attempts 1: an invalid entry moves straight on.
    (
        "fixed-timing.toml",
        "1@5s 2@5.3s # 2@17s",
        "—",
        "invalid 2",
        "—",
    ),
    // The window's end closes the entry although the next key is within the timeout.
    ("fixed-timing.toml", "1@15s 1@16.1s", "—", "1 1", "—"),
    // Offsets, when given, replace the windows.
    (
        "fixed-timing.toml",
        "9@2s # 1@3s",
        "recommend@1s resolved@2.8s",
        "9 1",
        "—",
    ),
    // Keys after the last window are for no question.
    ("fixed-timing.toml", "9@5s # 1@17s 2@27s", "—", "9 1", "2"),
];

fn expected(token: &str) -> (Status, Option<u32>, u32) {
    match token.split_once('/') {
        Some((word, n)) => answer(word, Some(n.parse().expect("attempts"))),
        None => answer(token, None),
    }
}

#[test]
fn fixture_surveys_read_keys_as_documented() {
    for &(file, keys, offsets, answers, unassigned) in CASES {
        let survey = survey_fixture(file);
        let parsed = parse_keys(keys);
        let input = KeyInput {
            duration: parsed.duration,
            in_band: Some(parsed.presses),
            out_of_band: None,
            question_offsets: parse_offsets(offsets),
        };
        let got = extract(&survey, &input).expect("valid input");
        let got_answers: Vec<_> = got
            .questions
            .iter()
            .map(|a| (a.status, a.value, a.attempts))
            .collect();
        let want: Vec<_> = answers.split_whitespace().map(expected).collect();
        assert_eq!(got_answers, want, "{file}: {keys} with offsets {offsets}");
        let got_unassigned: String = got.unassigned.iter().map(|p| p.key.as_char()).collect();
        let want_unassigned = if is_none(unassigned) { "" } else { unassigned };
        assert_eq!(got_unassigned, want_unassigned, "{file}: {keys} unassigned");
    }
}
