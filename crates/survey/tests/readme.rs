//! Every example in the "Surveys and score events" section of `docs/ivr-engineer.md` is checked
//! here, so the documentation and the code cannot drift apart.

mod support;

use std::time::Duration;

use callscore_survey::{
    AudioRef, EventContext, KeyInput, KeyPress, QualityFlag, ResponseEvent, Retention,
    RetentionClass, ScoreEvent, Status, events, extract,
};
use serde_json::Value;
use support::{answer, is_none, parse_keys, parse_offsets, repo_root, survey_fixture};

/// The document that holds the section, from the root of the clone.
const DOCUMENT: &str = "docs/ivr-engineer.md";
const SECTION: &str = "## Surveys and score events";

fn section() -> String {
    let readme = std::fs::read_to_string(repo_root().join(DOCUMENT)).expect(DOCUMENT);
    let start = readme
        .find(SECTION)
        .expect("the document has the survey section");
    let rest = &readme[start + SECTION.len()..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    rest[..end].to_string()
}

/// The body rows of the table whose header row starts with `header`, as trimmed cells.
fn table(section: &str, header: &str) -> Vec<Vec<String>> {
    let mut lines = section.lines().skip_while(|l| !l.starts_with(header));
    assert!(lines.next().is_some(), "no table starting {header:?}");
    lines
        .skip(1) // the |---| row
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().trim_matches('`').to_string())
                .collect()
        })
        .collect()
}

/// The contents of the fenced blocks of one language.
fn code_blocks(section: &str, language: &str) -> Vec<String> {
    let fence = format!("```{language}\n");
    section
        .match_indices(&fence)
        .map(|(at, _)| {
            let body = &section[at + fence.len()..];
            body[..body.find("```").expect("closed fence")].to_string()
        })
        .collect()
}

/// `10`, `8 (2 attempts)`, `no_input`, `no_input (1 attempt)`, `invalid`, …
fn expected_answer(cell: &str) -> (Status, Option<u32>, u32) {
    match cell.split_once(" (") {
        Some((word, rest)) => {
            let n = rest.split_whitespace().next().expect("attempt count");
            answer(word, Some(n.parse().expect("attempt count")))
        }
        None => answer(cell, None),
    }
}

fn flags(cell: &str) -> Vec<QualityFlag> {
    if is_none(cell) {
        return Vec::new();
    }
    let mut flags: Vec<QualityFlag> = cell
        .split(',')
        .map(|f| serde_json::from_value(Value::from(f.trim())).expect("a flag name"))
        .collect();
    flags.sort();
    flags
}

fn in_band(spec: &str) -> (Vec<KeyPress>, Duration) {
    let keys = parse_keys(spec);
    (keys.presses, keys.duration)
}

#[test]
fn segmentation_examples_hold() {
    let survey = survey_fixture("nps-csat.toml");
    let rows = table(&section(), "| keys | offsets |");
    assert!(
        rows.len() >= 20,
        "the examples table is there ({} rows)",
        rows.len()
    );
    let mut failures = Vec::new();
    for row in &rows {
        let [
            keys,
            offsets,
            recommend,
            satisfied,
            unassigned,
            flag_cell,
            _why,
        ] = &row[..]
        else {
            panic!("row {row:?} does not have 7 cells")
        };
        let (presses, duration) = in_band(keys);
        let input = KeyInput {
            duration,
            in_band: Some(presses),
            out_of_band: None,
            question_offsets: parse_offsets(offsets),
        };
        let answers = extract(&survey, &input).expect("valid input");
        let got: Vec<_> = answers
            .questions
            .iter()
            .map(|a| (a.status, a.value, a.attempts))
            .collect();
        let want = vec![expected_answer(recommend), expected_answer(satisfied)];
        let got_unassigned: String = answers.unassigned.iter().map(|p| p.key.as_char()).collect();
        let want_unassigned = if is_none(unassigned) {
            ""
        } else {
            unassigned.as_str()
        };
        if got != want || got_unassigned != want_unassigned || answers.flags != flags(flag_cell) {
            failures.push(format!(
                "`{keys}` with offsets {offsets}: README says {want:?}, unassigned {want_unassigned:?}, \
                 flags {:?}; the code gives {got:?}, unassigned {got_unassigned:?}, flags {:?}",
                flags(flag_cell),
                answers.flags
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn reconciliation_examples_hold() {
    let survey = survey_fixture("nps-csat.toml");
    let rows = table(&section(), "| in-band | out-of-band |");
    assert!(rows.len() >= 5);
    for row in &rows {
        let [a, b, used, counts @ ..] = &row[..] else {
            panic!("row {row:?} is too short")
        };
        let side = |spec: &str| (!is_none(spec)).then(|| in_band(spec).0);
        let mut out_of_band = side(b);
        // RFC 4733 events carry no detector confidence.
        for p in out_of_band.iter_mut().flatten() {
            p.confidence = None;
        }
        let input = KeyInput {
            duration: Duration::from_secs(30),
            in_band: side(a),
            out_of_band,
            question_offsets: Vec::new(),
        };
        let answers = extract(&survey, &input).expect("valid input");
        let mut presses: Vec<_> = answers
            .questions
            .iter()
            .flat_map(|q| q.presses.clone())
            .chain(answers.unassigned.clone())
            .collect();
        presses.sort_by_key(|p| p.start);
        let keys: String = presses.iter().map(|p| p.key.as_char()).collect();
        assert_eq!(keys, *used, "keys used for {a} / {b}");
        let s = answers.sources;
        let got = [
            s.matched,
            s.different_key,
            s.in_band_only,
            s.out_of_band_only,
        ];
        let want: Vec<u32> = counts.iter().map(|c| c.parse().expect("a count")).collect();
        assert_eq!(got.to_vec(), want, "counts for {a} / {b}");
    }
}

#[test]
fn survey_files_shown_are_the_fixtures() {
    let blocks = code_blocks(&section(), "toml");
    assert!(blocks.len() >= 2);
    for block in blocks {
        let name = block
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# "))
            .and_then(|l| l.split(':').next())
            .expect("a TOML example starts with a comment naming its fixture");
        let fixture = std::fs::read_to_string(repo_root().join(name)).expect("the fixture exists");
        assert_eq!(
            block, fixture,
            "the README's copy of {name} differs from the file"
        );
    }
}

/// The scenario of the README's example events: all six questions of post-call.toml answered,
/// question offsets and RFC 4733 events reported, and the detector missed the `#` after the
/// agent rating.
fn example_events() -> (ScoreEvent, ResponseEvent) {
    let survey = survey_fixture("post-call.toml");
    let in_band_keys = "9@4.1s~0.93 #@4.4s~0.95 4@11.2s~0.91 6@17s~0.88 1@23.5s~0.9 \
                        8@29.8s~0.92 2@36.4s~0.89";
    let out_of_band_keys = "9@4.12s #@4.42s 4@11.22s 6@17.02s 1@23.52s 8@29.82s #@30.2s 2@36.42s";
    let mut out_of_band = parse_keys(out_of_band_keys).presses;
    for p in &mut out_of_band {
        p.confidence = None;
    }
    let input = KeyInput {
        duration: Duration::from_secs(41),
        in_band: Some(parse_keys(in_band_keys).presses),
        out_of_band: Some(out_of_band),
        question_offsets: parse_offsets(
            "recommend@2s satisfied@9s effort@15s resolved@21s agent@27s reason@34s",
        ),
    };
    let answers = extract(&survey, &input).expect("valid input");
    let ctx = EventContext {
        tenant: "acme".into(),
        recording_id: "rec-20250301-000123".into(),
        call_id: "call-7f3a9c".into(),
        caller_pseudonym: Some("ps-k1-86ee09da7b567db1c7f7b2600c23215e0c000b0732afab54c4ee08f3bd4d2c63".into()),
        audio: AudioRef {
            uri: "s3://callscore-audio/acme/respondent/ps-k1-86ee09da7b567db1c7f7b2600c23215e0c000b0732afab54c4ee08f3bd4d2c63/rec-20250301-000123/audio.wav".into(),
            sha256: "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b".into(),
        },
        retention: Retention {
            class: RetentionClass::for_answers(&answers),
            expires_on: Some(jiff::civil::date(2025, 8, 28)),
        },
        call_started_at: "2025-03-01T09:14:05Z".parse().expect("timestamp"),
        received_at: "2025-03-01T09:21:40Z".parse().expect("timestamp"),
        processed_at: "2025-03-01T09:21:41.25Z".parse().expect("timestamp"),
        pipeline_version: "0.1.0".into(),
    };
    let events = events(&survey, &answers, &ctx).expect("valid context");
    let first = events.scores.into_iter().next().expect("a score event");
    (first, events.response)
}

/// The README's JSON for an event must be the code's event as written (an f32 such as a
/// confidence appears in its shortest form, 0.93), and it must read back into the Rust type.
fn check_shown<T>(shown: &str, event: &T, what: &str)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let generated = serde_json::to_string_pretty(event).expect("serialises");
    // Struct fields serialise in declaration order, so the text itself is stable.
    assert_eq!(
        shown.trim_end(),
        generated,
        "the README's {what} event differs from the code's; the code gives:\n{generated}"
    );
    let value: Value = serde_json::from_str(shown).expect("the README's JSON parses");
    assert_eq!(
        value,
        serde_json::from_str::<Value>(&generated).expect("parses")
    );
    let parsed: T = serde_json::from_str(shown).expect("reads as the Rust type");
    assert_eq!(&parsed, event);
}

#[test]
fn example_events_are_what_the_code_produces() {
    let (score, response) = example_events();
    let blocks = code_blocks(&section(), "json");
    let block = |event_type: &str| {
        blocks
            .iter()
            .find(|b| b.contains(&format!("\"event_type\": \"{event_type}\"")))
            .unwrap_or_else(|| panic!("the README shows a {event_type} event"))
    };
    check_shown(block("score"), &score, "score");
    check_shown(block("response"), &response, "response");
}
