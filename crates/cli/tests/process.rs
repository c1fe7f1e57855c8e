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
    // `--out` adds to the file: this run's events are those after the earlier runs'
    let earlier = lines(&events).len();
    let out = Command::new(env!("CARGO_BIN_EXE_callscore"))
        .arg("process")
        .arg(fixtures().join("recordings"))
        .arg(fixtures().join("recordings/rejected"))
        .arg("--survey")
        .arg(fixtures().join("surveys/nps-csat.toml"))
        .arg("--survey")
        .arg(fixtures().join("surveys/nps-comment.toml"))
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
    (out, lines(&events).split_off(earlier), lines(&letters))
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

    let requests = lines(&dir.path().join("store/transcription-requests.ndjson"));
    let mut commented = 0;
    for entry in expected.iter().filter(|e| e.get("comment").is_some()) {
        let truth = &entry["comment"];
        let key = (
            text(&entry["recording_id"]).to_string(),
            text(&truth["question_id"]).to_string(),
        );
        let facts = &scores[&key]["comment"];
        let Some(start) = truth["speech_start_ms"].as_i64() else {
            // a blip of the echoed music may be heard, never a comment's worth
            assert_eq!(facts["clip"], Value::Null, "no speech, no clip: {facts}");
            assert!(facts["speech_ms"].as_u64() < Some(1000), "{facts}");
            continue;
        };
        commented += 1;
        let end = truth["speech_end_ms"].as_i64().expect("an end");
        let near = |got: &Value, want: i64| (got.as_i64().expect("a time") - want).abs() <= 100;
        assert!(
            near(&facts["speech_start_ms"], start),
            "{facts} against {truth}"
        );
        assert!(
            near(&facts["speech_end_ms"], end),
            "{facts} against {truth}"
        );
        let clip = &facts["clip"];
        let path = text(&clip["uri"])
            .strip_prefix("file://")
            .expect("a file URI");
        let bytes = std::fs::read(path).expect("the clip is stored");
        assert!(
            path.contains(&format!("/{}/comment-why.", key.0)),
            "beside its recording: {path}"
        );
        assert_eq!(clip["sha256"], sha256(&bytes), "{clip}");
        let request = requests
            .iter()
            .find(|r| r["request_id"] == facts["transcription_request_id"])
            .expect("a transcription request for the clip");
        assert_eq!(&request["clip"], clip);
        assert_eq!(request["language"], "en");
        assert_eq!(request["score_event_id"], scores[&key]["event_id"]);
    }
    assert_eq!((commented, requests.len()), (1, 1), "{requests:?}");
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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
            // libopus picks its code path by CPU at run time, so an Opus clip's bytes may
            // differ between machines; its place, type and times do not
            if let Some(clip) = object
                .get_mut("comment")
                .and_then(|c| c.get_mut("clip"))
                .and_then(Value::as_object_mut)
            {
                clip.insert("sha256".into(), "SHA256".into());
            }
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
    let committed: Vec<&str> = committed.lines().collect();
    assert_eq!(committed.len(), lines.len(), "{}", golden.display());
    for (made, kept) in lines.iter().zip(&committed) {
        let made: Value = serde_json::from_str(made).expect("JSON");
        let kept: Value = serde_json::from_str(kept).expect("JSON");
        assert!(
            same(&made, &kept),
            "events differ from {}:\n{made}\n{kept}",
            golden.display()
        );
    }
}

/// Equal, but for fractions (confidences, levels) that differ in the sixth significant digit
/// or later: the detector's kernel picks its code path by CPU at run time (AVX-512, or AVX2
/// with FMA), and the two round differently in the seventh.
fn same(made: &Value, kept: &Value) -> bool {
    match (made, kept) {
        (Value::Number(a), Value::Number(b)) if a.is_f64() || b.is_f64() => {
            let (a, b) = (
                a.as_f64().unwrap_or(f64::NAN),
                b.as_f64().unwrap_or(f64::NAN),
            );
            (a - b).abs() <= 1e-5 * a.abs().max(b.abs()).max(1.0)
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
        }
        _ => made == kept,
    }
}

#[test]
fn processing_again_stores_nothing_twice_and_repeats_every_event_id() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, first, _) = process(dir.path(), &[]);
    let (out, second, _) = process(dir.path(), &["--jobs", "1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("(10 already stored)"), "{stderr}");
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

/// Every file under `dir`, its path and contents, as text: but the contact requests, the one
/// output meant to carry the numbers of callers who agreed to be contacted.
fn everything(dir: &Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).expect("reads") {
        let path = entry.expect("entry").path();
        if path.ends_with("contact-requests.ndjson") {
            continue;
        }
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

/// Recordings whose numbers try every way into the outputs: in file names (with and without
/// `+`), as a JSON number, as bare digits, formatted, in a field of the wrong type, in an id,
/// in broken metadata. Returns the inbox and every number used.
fn hostile_inbox(dir: &Path) -> (PathBuf, BTreeSet<String>) {
    let inbox = dir.join("inbox");
    std::fs::create_dir_all(&inbox).expect("mkdir");
    let mut numbers = BTreeSet::new();
    for entry in std::fs::read_dir(fixtures().join("recordings")).expect("reads") {
        let path = entry.expect("entry").path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if path.is_file()
            && (name.ends_with(".wav") || name.ends_with(".json"))
            && name != "expected.json"
        {
            std::fs::copy(&path, inbox.join(name)).expect("copies");
        }
        if name.ends_with(".json") {
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
    let audio = fixtures().join("recordings/nps9-csat4.wav");
    let sidecar: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("recordings/nps9-csat4.json")).expect("reads"),
    )
    .expect("JSON");
    // named after the caller, no sidecar
    for name in ["+31205550201", "0205550202"] {
        std::fs::copy(&audio, inbox.join(format!("{name}.wav"))).expect("copies");
        numbers.insert(name.to_string());
    }
    let mut variant = |name: &str, edit: &dyn Fn(&mut Value), number: &str| {
        let mut meta = sidecar.clone();
        meta["recording_id"] = name.into();
        meta["call_id"] = format!("call-{name}").into();
        edit(&mut meta);
        std::fs::copy(&audio, inbox.join(format!("{name}.wav"))).expect("copies");
        std::fs::write(inbox.join(format!("{name}.json")), meta.to_string()).expect("writes");
        numbers.insert(number.to_string());
    };
    variant(
        "x-json-number",
        &|m| m["caller_number"] = serde_json::json!(31205550203_u64),
        "31205550203",
    );
    variant(
        "x-bare-digits",
        &|m| m["caller_number"] = "31205550204".into(),
        "31205550204",
    );
    variant(
        "x-formatted",
        &|m| m["caller_number"] = "+31 20 555 0205".into(),
        "+31 20 555 0205",
    );
    variant(
        "x-id",
        &|m| m["call_id"] = "31205550206".into(),
        "31205550206",
    );
    variant(
        "x-agent",
        &|m| m["agent"] = "0612345678".into(),
        "0612345678",
    );
    variant(
        "x-wrong-field",
        &|m| m["caller_channel"] = "+31205550208".into(),
        "+31205550208",
    );
    // broken metadata that still holds a number
    std::fs::copy(&audio, inbox.join("x-broken.wav")).expect("copies");
    std::fs::write(
        inbox.join("x-broken.json"),
        "{\"schema_version\": 1, \"caller_number\": \"+31205550209\", ",
    )
    .expect("writes");
    numbers.insert("+31205550209".to_string());
    (inbox, numbers)
}

#[test]
fn no_phone_number_reaches_any_output_of_any_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (inbox, numbers) = hostile_inbox(dir.path());
    let store = dir.path().join("store");
    let keyring = dir.path().join("keyring");
    std::fs::create_dir_all(&store).expect("mkdir");
    let path = |p: &Path| p.to_str().expect("UTF-8").to_string();
    let (store_arg, keyring_arg) = (path(&store), path(&keyring));
    let pictures = dir.path().join("pictures");
    std::fs::create_dir_all(&pictures).expect("mkdir");
    let runs: Vec<Vec<String>> = vec![
        vec![
            "keys".into(),
            "rotate".into(),
            "--store".into(),
            store_arg.clone(),
            "--keyring".into(),
            keyring_arg.clone(),
            "--tenant".into(),
            "acme".into(),
            "--today".into(),
            "2026-11-01".into(),
        ],
        vec![
            "process".into(),
            path(&inbox),
            "--tenant".into(),
            "acme".into(),
            "--survey".into(),
            path(&fixtures().join("surveys/nps-csat.toml")),
            "--survey".into(),
            path(&fixtures().join("surveys/nps-comment.toml")),
            "--keyring".into(),
            keyring_arg.clone(),
            "--store".into(),
            store_arg.clone(),
            "--out".into(),
            path(&dir.path().join("events.ndjson")),
        ],
        vec![
            "detect".into(),
            "--json".into(),
            path(&inbox.join("+31205550201.wav")),
            path(&inbox.join("0205550202.wav")),
        ],
        vec![
            "inspect".into(),
            "--json".into(),
            "--out".into(),
            path(&pictures),
            path(&inbox.join("+31205550201.wav")),
        ],
        vec![
            "hold".into(),
            "release".into(),
            "--store".into(),
            store_arg.clone(),
            "--keyring".into(),
            keyring_arg.clone(),
            "--tenant".into(),
            "acme".into(),
            "--recording".into(),
            "rec-0007".into(),
            "--json".into(),
        ],
        vec![
            "retention".into(),
            "sweep".into(),
            "--store".into(),
            store_arg.clone(),
            "--keyring".into(),
            keyring_arg.clone(),
            "--today".into(),
            "2026-12-03".into(),
            "--dry-run".into(),
            "--json".into(),
        ],
        vec![
            "retention".into(),
            "sweep".into(),
            "--store".into(),
            store_arg,
            "--keyring".into(),
            keyring_arg,
            "--today".into(),
            "2031-01-01".into(),
        ],
    ];
    let mut outputs = String::new();
    let mut letters = Vec::new();
    let mut contacts = Vec::new();
    for args in &runs {
        let out = Command::new(env!("CARGO_BIN_EXE_callscore"))
            .args(args)
            .output()
            .expect("callscore runs");
        outputs.push_str(&String::from_utf8_lossy(&out.stdout));
        outputs.push_str(&String::from_utf8_lossy(&out.stderr));
        if args[0] == "process" {
            letters = lines(&store.join("dead-letters.ndjson"));
            // before the sweep takes the expired contact request out
            contacts = lines(&store.join("contact-requests.ndjson"));
        }
    }
    for path in [
        store.as_path(),
        keyring.as_path(),
        dir.path().join("events.ndjson").as_path(),
    ] {
        if path.is_dir() {
            everything(path, &mut outputs);
        } else {
            outputs.push_str(&std::fs::read_to_string(path).unwrap_or_default());
        }
    }
    // the pictures' names (their pixels hold no text but keys and seconds)
    let drawn: Vec<String> = std::fs::read_dir(&pictures)
        .expect("reads")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(drawn.len(), 1, "{drawn:?}");
    outputs.push_str(&drawn.join("\n"));
    // the hostile inputs were refused, each with a dead letter
    assert_eq!(letters.len(), 7, "{letters:?}");
    // the number of the one caller who agreed to be contacted goes to the contact requests,
    // and only there
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    assert_eq!(contacts[0]["recording_id"], "rec-0006");
    let consenting = contacts[0]["caller_number"].as_str().expect("a number");
    assert!(
        numbers.contains(consenting),
        "the consenting caller's own number"
    );
    for number in &numbers {
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        assert!(
            !outputs.contains(number.as_str()),
            "{number} found in the outputs"
        );
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
