//! The key-sequence notation of the README's examples, and the fixtures' locations.
//!
//! Tokens, separated by spaces:
//!
//! * `9` a key. It lasts 100 ms and starts 200 ms after the previous key ended (the first at
//!   1 s). `9@2.5s` (or `9@2500ms`) starts it at that time instead.
//! * `9~0.2` gives the key that detector confidence (default 0.9); `@` and `~` combine.
//! * `+4s` makes the next key start that long after the previous key ended.
//! * `hangup` ends the recording 500 ms after the last key (otherwise it lasts until 10 s
//!   after the last key).

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use callscore_survey::{Key, KeyPress, QuestionOffset, Status, Survey};

const KEY_LENGTH: Duration = Duration::from_millis(100);
const DEFAULT_GAP: Duration = Duration::from_millis(200);
const FIRST_KEY: Duration = Duration::from_secs(1);
const DEFAULT_CONFIDENCE: f32 = 0.9;

/// A parsed key sequence: the presses and the recording's length.
pub struct Keys {
    pub presses: Vec<KeyPress>,
    pub duration: Duration,
}

pub fn parse_time(text: &str) -> Duration {
    if let Some(ms) = text.strip_suffix("ms") {
        Duration::from_millis(ms.parse().unwrap_or_else(|_| panic!("bad time {text:?}")))
    } else if let Some(s) = text.strip_suffix('s') {
        Duration::from_secs_f64(s.parse().unwrap_or_else(|_| panic!("bad time {text:?}")))
    } else {
        panic!("time {text:?} needs a unit, s or ms")
    }
}

pub fn parse_keys(spec: &str) -> Keys {
    let mut presses: Vec<KeyPress> = Vec::new();
    let mut gap = DEFAULT_GAP;
    let mut hangup = false;
    for token in spec.split_whitespace() {
        if token == "hangup" {
            hangup = true;
        } else if let Some(pause) = token.strip_prefix('+') {
            gap = parse_time(pause);
        } else {
            let (rest, confidence) = match token.split_once('~') {
                Some((rest, c)) => (rest, c.parse().expect("confidence")),
                None => (token, DEFAULT_CONFIDENCE),
            };
            let (key, at) = match rest.split_once('@') {
                Some((key, at)) => (key, Some(parse_time(at))),
                None => (rest, None),
            };
            let mut chars = key.chars();
            let key = match (chars.next().and_then(Key::from_char), chars.next()) {
                (Some(key), None) => key,
                _ => panic!("{token:?} is not a key token"),
            };
            let start = at.unwrap_or_else(|| presses.last().map_or(FIRST_KEY, |p| p.end + gap));
            presses.push(KeyPress {
                key,
                start,
                end: start + KEY_LENGTH,
                confidence: Some(confidence),
            });
            gap = DEFAULT_GAP;
        }
    }
    let last_end = presses.last().map_or(Duration::ZERO, |p| p.end);
    let duration = last_end
        + if hangup {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(10)
        };
    Keys { presses, duration }
}

/// `recommend@0s satisfied@6s`, or `—` for none.
pub fn parse_offsets(spec: &str) -> Vec<QuestionOffset> {
    if is_none(spec) {
        return Vec::new();
    }
    spec.split_whitespace()
        .map(|token| {
            let (id, at) = token.split_once('@').expect("question@time");
            QuestionOffset {
                question_id: id.to_string(),
                offset: parse_time(at),
            }
        })
        .collect()
}

pub fn is_none(cell: &str) -> bool {
    matches!(cell.trim(), "—" | "-" | "")
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn survey_fixture(name: &str) -> Survey {
    let path = repo_root().join("fixtures/surveys").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    Survey::from_toml(&text).unwrap_or_else(|e| panic!("{path:?}: {e:?}"))
}

/// An expected answer: a value, or a status word (`invalid`, `no_input`, `cancelled`,
/// `partial`), and the attempts; when not given, the obvious count (1, or 0 for no_input).
pub fn answer(word: &str, attempts: Option<u32>) -> (Status, Option<u32>, u32) {
    let (status, value) = match word {
        "invalid" => (Status::Invalid, None),
        "no_input" => (Status::NoInput, None),
        "cancelled" => (Status::Cancelled, None),
        "partial" => (Status::Partial, None),
        number => (
            Status::Answered,
            Some(
                number
                    .parse()
                    .unwrap_or_else(|_| panic!("{word:?} is no value or status")),
            ),
        ),
    };
    let obvious = u32::from(status != Status::NoInput);
    (status, value, attempts.unwrap_or(obvious))
}
