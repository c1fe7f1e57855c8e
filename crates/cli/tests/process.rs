//! `callscore process` end to end over the committed survey recordings
//! (`fixtures/recordings`, with their expected answers in `expected.json`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// One run over the fixture recordings into `dir` (store, events, dead letters).
fn process(dir: &Path, extra: &[&str]) -> (Output, Vec<Value>, Vec<Value>) {
    let events = dir.join("events.ndjson");
    let out = Command::new(env!("CARGO_BIN_EXE_callscore"))
        .arg("process")
        .arg(fixtures().join("recordings"))
        .arg(fixtures().join("recordings/rejected"))
        .arg("--survey")
        .arg(fixtures().join("surveys/nps-csat.toml"))
        .arg("--pseudonym-key-file")
        .arg(fixtures().join("demo-pseudonym.key"))
        .arg("--store")
        .arg(dir.join("store"))
        .arg("--out")
        .arg(&events)
        .args(extra)
        .output()
        .expect("callscore runs");
    let letters = dir.join("store/dead-letters.ndjson");
    (out, lines(&events), lines(&letters))
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

fn expected() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("recordings/expected.json"))
        .expect("expected.json");
    serde_json::from_str::<Value>(&text)
        .expect("JSON")
        .as_array()
        .expect("a list")
        .clone()
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

#[test]
fn the_fixture_recordings_give_the_expected_answers_and_dead_letters() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (out, events, letters) = process(dir.path(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "some fixtures must fail: {stderr}"
    );
    assert!(
        stderr.contains("processed") && stderr.contains("failures:"),
        "{stderr}"
    );

    let mut scores: BTreeMap<(String, String), &Value> = BTreeMap::new();
    let mut responses = BTreeSet::new();
    for event in &events {
        let recording = text(&event["recording_id"]).to_string();
        match text(&event["event_type"]) {
            "score" => {
                let question = text(&event["question_id"]).to_string();
                assert!(
                    scores.insert((recording, question), event).is_none(),
                    "one per fact"
                );
            }
            "response" => assert!(responses.insert(recording), "one response per recording"),
            other => panic!("unknown event type {other:?}"),
        }
    }
    let mut dead = BTreeMap::new();
    let recordings = fixtures().join("recordings").display().to_string();
    for letter in &letters {
        let input = text(&letter["input"]);
        let file = input.strip_prefix(&recordings).unwrap_or(input);
        dead.insert(
            file.trim_start_matches('/').to_string(),
            text(&letter["reason"]).to_string(),
        );
    }
    let expected = expected();
    let mut processed = 0;
    for entry in &expected {
        let file = text(&entry["file"]);
        if let Some(reason) = entry.get("dead_letter") {
            assert_eq!(
                dead.get(file).map(String::as_str),
                Some(text(reason)),
                "{file}"
            );
            continue;
        }
        processed += 1;
        let recording = text(&entry["recording_id"]);
        assert!(responses.contains(recording), "{file}: no response event");
        for (question, answer) in entry["answers"].as_object().expect("answers") {
            let event = scores
                .get(&(recording.to_string(), question.clone()))
                .unwrap_or_else(|| panic!("{file}: no score event for {question}"));
            assert_eq!(event["status"], answer["status"], "{file} {question}");
            assert_eq!(
                event["value"],
                answer.get("value").cloned().unwrap_or(Value::Null),
                "{file} {question}"
            );
            if let Some(attempts) = answer.get("attempts") {
                assert_eq!(&event["attempts"], attempts, "{file} {question}");
            }
        }
    }
    assert_eq!(responses.len(), processed);
    assert_eq!(dead.len(), expected.len() - processed, "{letters:?}");
}

/// Events with what changes from run to run (clock, store location) taken out.
fn stable(events: &[Value], store: &Path) -> Vec<String> {
    let root = store
        .canonicalize()
        .expect("store exists")
        .display()
        .to_string();
    let mut stable: Vec<String> = events
        .iter()
        .map(|event| {
            let mut event = event.clone();
            let object = event.as_object_mut().expect("object");
            object.remove("received_at");
            object.remove("processed_at");
            serde_json::to_string(&event)
                .expect("serializes")
                .replace(&root, "STORE")
        })
        .collect();
    stable.sort();
    stable
}

#[test]
fn events_match_the_committed_golden_file() {
    // CALLSCORE_BLESS=1 rewrites fixtures/recordings/events.golden.ndjson after an intended
    // change (a data engineer reads that file as the example of the contract)
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, events, _) = process(dir.path(), &[]);
    let lines = stable(&events, &dir.path().join("store"));
    let golden = fixtures().join("recordings/events.golden.ndjson");
    let text = lines.join("\n") + "\n";
    if std::env::var_os("CALLSCORE_BLESS").is_some() {
        std::fs::write(&golden, &text).expect("writes");
    }
    let committed = std::fs::read_to_string(&golden).unwrap_or_default();
    assert!(committed == text, "events differ from {}", golden.display());
}

#[test]
fn processing_again_stores_nothing_twice_and_repeats_every_event_id() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, first, _) = process(dir.path(), &[]);
    let (out, second, _) = process(dir.path(), &["--jobs", "1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("(8 already stored)"), "{stderr}");
    let ids = |events: &[Value]| -> BTreeSet<String> {
        events
            .iter()
            .map(|e| text(&e["event_id"]).to_string())
            .collect()
    };
    assert_eq!(ids(&first), ids(&second));
    assert_eq!(
        ids(&first).len(),
        first.len(),
        "event ids are unique per fact"
    );
    assert_eq!(
        stable(&first, &dir.path().join("store")),
        stable(&second, &dir.path().join("store"))
    );
}

/// Every file under `dir`, its path and contents, as text.
fn everything(dir: &Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).expect("reads") {
        let path = entry.expect("entry").path();
        out.push_str(&path.display().to_string());
        out.push('\n');
        if path.is_dir() {
            everything(&path, out);
        } else {
            out.push_str(&String::from_utf8_lossy(
                &std::fs::read(&path).expect("reads"),
            ));
        }
    }
}

#[test]
fn no_phone_number_reaches_any_output() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (out, _, _) = process(dir.path(), &[]);
    let mut outputs = String::from_utf8_lossy(&out.stdout).into_owned();
    outputs.push_str(&String::from_utf8_lossy(&out.stderr));
    everything(dir.path(), &mut outputs);
    let mut numbers = BTreeSet::new();
    let sidecars = ["recordings", "recordings/rejected"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(fixtures().join(dir)).expect("reads"))
        .map(|entry| entry.expect("entry").path());
    for path in sidecars {
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).expect("reads");
            if let Ok(meta) = serde_json::from_str::<Value>(&text) {
                for field in ["caller_number", "called_number"] {
                    if let Some(number) = meta[field].as_str() {
                        numbers.insert(number.to_string());
                    }
                }
            }
        }
    }
    assert!(
        numbers.len() >= 8,
        "the fixtures carry numbers: {numbers:?}"
    );
    for number in numbers {
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        assert!(!outputs.contains(&number), "{number} found in the outputs");
        assert!(
            !outputs.contains(&digits),
            "the digits of {number} found in the outputs"
        );
    }
}

#[test]
fn recordings_without_metadata_take_their_ids_from_the_file_and_the_rest_from_flags() {
    let dir = tempfile::tempdir().expect("temp dir");
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).expect("mkdir");
    std::fs::copy(
        fixtures().join("recordings/nps9-csat4.wav"),
        inbox.join("call 42.wav"),
    )
    .expect("copies");
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_callscore"))
            .arg("process")
            .arg(&inbox)
            .arg("--survey")
            .arg(fixtures().join("surveys/nps-csat.toml"))
            .arg("--store")
            .arg(dir.path().join("store"))
            .args(extra)
            .env("CALLSCORE_PSEUDONYM_KEY", "00".repeat(32))
            .output()
            .expect("callscore runs")
    };
    let without_tenant = run(&[]);
    assert_eq!(without_tenant.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&without_tenant.stderr).contains("(--tenant)"));

    let out = run(&["--tenant", "acme"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(events.len(), 3);
    assert!(
        events
            .iter()
            .all(|e| e["recording_id"] == "call_42" && e["tenant"] == "acme")
    );
    assert!(events.iter().all(|e| e["caller_pseudonym"].is_null()));
}

#[test]
fn a_missing_key_or_survey_is_a_configuration_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_callscore"))
        .arg("process")
        .arg(fixtures().join("recordings"))
        .arg("--survey")
        .arg(fixtures().join("surveys/nps-csat.toml"))
        .env_remove("CALLSCORE_PSEUDONYM_KEY")
        .output()
        .expect("callscore runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no pseudonymisation key"));
    let out = Command::new(env!("CARGO_BIN_EXE_callscore"))
        .args(["process", "."])
        .output()
        .expect("callscore runs");
    assert_eq!(out.status.code(), Some(2), "--survey is required");
}

#[test]
fn a_tenants_retention_policy_sets_the_expiry_of_its_audio_and_facts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = dir.path().join("retention.toml");
    std::fs::write(
        &policy,
        "[tenants.acme]\nrespondent = \"6 months\"\nnon_respondent = \"30 days\"\n\
         consented_contact = \"1 year\"\n",
    )
    .expect("writes");
    let (out, events, _) = process(
        dir.path(),
        &["--retention", policy.to_str().expect("UTF-8")],
    );
    assert!(
        out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expiry = |recording: &str| {
        events
            .iter()
            .find(|e| e["recording_id"] == recording)
            .map(|e| e["retention"].clone())
            .expect("events of the recording")
    };
    // calls of 2026-11-02
    assert_eq!(expiry("rec-0001")["expires_on"], "2027-05-02");
    assert_eq!(expiry("rec-0003")["class"], "non_respondent");
    assert_eq!(expiry("rec-0003")["expires_on"], "2026-12-02");
    assert_eq!(expiry("rec-0007")["class"], "legal_hold");
    assert!(expiry("rec-0007")["expires_on"].is_null());
    // the stored object carries the same
    let meta = dir
        .path()
        .join("store/acme/non_respondent")
        .read_dir()
        .expect("class directory")
        .map(|caller| {
            caller
                .expect("entry")
                .path()
                .join("rec-0003/audio.wav.meta.json")
        })
        .find(|p| p.exists())
        .expect("metadata beside the object");
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(meta).expect("reads")).expect("JSON");
    assert_eq!(meta["expires_on"], "2026-12-02");
    assert_eq!(meta["retention_class"], "non_respondent");
    assert_eq!(meta["tenant"], "acme");
}
