//! The committed JSON Schemas match the code, and schema version 1 stays backward compatible.

use std::path::{Path, PathBuf};

use callscore_survey::schema;
use serde_json::Value;

fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

/// Fails when `schemas/` and the Rust types differ. After a deliberate change to the event or
/// survey types, rewrite the committed files with
/// `CALLSCORE_BLESS=1 cargo test -p callscore-survey --test schemas` and review the diff.
#[test]
fn committed_schemas_match_the_code() {
    let stale = schema::check_committed(&schemas_dir(), schema::all());
    assert!(
        stale.is_empty(),
        "{} differ from the Rust types. If the change is intended, run \
         `CALLSCORE_BLESS=1 cargo test -p callscore-survey --test schemas` and commit the result \
         (the backward-compatibility test still has to pass)",
        stale.join(", ")
    );
}

/// The baselines in `tests/baseline/` are the v1 schemas as first published. They are never
/// rewritten: a change that breaks this test needs a new schema version, not a new baseline.
#[test]
fn schema_v1_stays_backward_compatible() {
    let baseline_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/baseline");
    for (file, current) in schema::all() {
        let text = std::fs::read_to_string(baseline_dir.join(file)).expect("baseline exists");
        let baseline: Value = serde_json::from_str(&text).expect("baseline is JSON");
        let problems = schema::incompatibilities(&baseline, &current);
        assert!(
            problems.is_empty(),
            "{file} is no longer backward compatible with version 1 (new fields must be \
             optional, nothing may be removed or narrowed):\n{}",
            problems.join("\n")
        );
    }
}

/// The check above is only worth something if it can fail on the real schemas too.
#[test]
fn dropping_a_field_from_the_real_schema_is_caught() {
    let baseline = schema::score_event();
    let mut current = baseline.clone();
    current["properties"]
        .as_object_mut()
        .expect("properties")
        .remove("raw_keys");
    current["required"]
        .as_array_mut()
        .expect("required")
        .push(Value::from("caller_pseudonym"));
    let problems = schema::incompatibilities(&baseline, &current);
    assert_eq!(
        problems,
        [
            "#/properties/raw_keys: property removed",
            "#: property caller_pseudonym is newly required"
        ]
    );
}
