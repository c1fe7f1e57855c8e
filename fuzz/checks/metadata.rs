//! Fuzzes the recording metadata (the `callscore_metadata` header and the JSON beside a file):
//! any bytes parse to metadata that survives a round trip, or fail with a message that holds
//! nothing that looks like a number (callscore's definition: [`redact`]); metadata without its numbers (as a dead letter keeps it) holds
//! nothing that looks like one.
//!
//! The fuzz target runs [`check`]; so do the tests, over every input kept in
//! `fuzz/regressions/metadata` and `fuzz/seeds/metadata`.

use callscore_pipeline::RecordingMetadata;
use callscore_pipeline::redact::{MIN_BARE_DIGITS, redact};

/// Panics when `data` breaks a property above.
pub(crate) fn check(data: &[u8]) {
    match RecordingMetadata::from_json(data) {
        Ok(metadata) => {
            let json = serde_json::to_vec(&metadata).expect("metadata serialises");
            let again = RecordingMetadata::from_json(&json).expect("written metadata reads back");
            assert_eq!(again, metadata, "a round trip changes nothing");
            // what a dead letter keeps: no string in it may look like a phone number (the
            // pseudonym is hex, and may hold a run of decimal digits by chance)
            let bare = serde_json::to_value(metadata.without_numbers(None)).expect("serialises");
            let mut strings = Vec::new();
            collect_strings(&bare, &mut strings);
            for text in strings {
                assert_eq!(redact(text), text, "a number is kept");
            }
        }
        Err(error) => {
            // the message may name fields, never quote a value that looks like a number
            let message = error.to_string();
            assert_eq!(redact(&message), message, "the error holds a number");
            for run in digit_runs(data) {
                assert!(
                    !message.contains(run),
                    "the error quotes {run} of the input"
                );
            }
        }
    }
}

/// Every string value in `value` but the caller's pseudonym.
fn collect_strings<'v>(value: &'v serde_json::Value, out: &mut Vec<&'v str>) {
    match value {
        serde_json::Value::String(text) => out.push(text),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        serde_json::Value::Object(fields) => fields
            .iter()
            .filter(|(name, _)| *name != "caller_pseudonym")
            .for_each(|(_, v)| collect_strings(v, out)),
        _ => {}
    }
}

/// Runs of digits in the input long enough to be a phone number without its `+`. Error
/// positions (line, column) have fewer digits while inputs are shorter than 10^10 bytes.
fn digit_runs(data: &[u8]) -> Vec<&str> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, b) in data
        .iter()
        .enumerate()
        .chain(std::iter::once((data.len(), &b' ')))
    {
        match (b.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if i - s >= MIN_BARE_DIGITS
                    && let Ok(run) = std::str::from_utf8(&data[s..i])
                {
                    runs.push(run);
                }
                start = None;
            }
            _ => {}
        }
    }
    runs
}
