//! The fuzz targets' checks of the recording metadata, the audio reference, the survey file
//! and the service configuration (in `fuzz/checks/`), run over every input the fuzzers were
//! seeded with and every input they found a fault with (`fuzz/seeds/TARGET`,
//! `fuzz/regressions/TARGET`), so a fault once found stays fixed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

#[path = "../../../fuzz/checks/config.rs"]
mod config;
#[path = "../../../fuzz/checks/metadata.rs"]
mod metadata;
#[path = "../../../fuzz/checks/reference.rs"]
mod reference;
#[path = "../../../fuzz/checks/survey.rs"]
mod survey;

/// Runs `check` over the target's seeds and regressions; fails naming every input that
/// breaks it.
fn every_input(target: &str, check: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut inputs = 0;
    let mut failed = Vec::new();
    for folder in ["seeds", "regressions"] {
        let dir = fuzz.join(folder).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            let data = std::fs::read(&path).expect("a readable input");
            inputs += 1;
            if catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
                failed.push(format!("{folder}/{target}/{}", entry_name(&path)));
            }
        }
    }
    assert!(inputs > 0, "fuzz/seeds/{target} holds inputs");
    assert!(
        failed.is_empty(),
        "inputs that break the checks: {failed:?}"
    );
}

#[test]
fn metadata_inputs_round_trip_and_quote_no_number() {
    every_input("metadata", metadata::check);
}

#[test]
fn reference_inputs_stay_inside_the_staging_allow_list() {
    every_input("reference", reference::check);
}

#[test]
fn survey_inputs_give_one_accepted_answer_per_question() {
    every_input("survey", survey::check);
}

#[test]
fn configuration_inputs_never_quote_an_override() {
    every_input("config", config::check);
}

fn entry_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
