//! The retention promises kept by `callscore` itself with the embedded default (a local store,
//! NDJSON): recordings of two tenants and every class processed with rotating keys, swept at
//! later dates, a hold released, keys destroyed; then the store is listed and the audit trail
//! read to see that exactly the right data is gone and the trail says so. A spoken comment's
//! clip, transcription request and transcript are exported and erased with their recording
//! (the transcript from `callscore transcribe` when built with the `pocketsphinx` feature).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn callscore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_callscore"))
        .args(args)
        .env_remove("CALLSCORE_PSEUDONYM_KEY")
        .output()
        .expect("callscore runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

/// The recordings' folders in the store: `TENANT/CLASS/CALLER/RECORDING`.
fn stored(store: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for tenant in std::fs::read_dir(store).expect("the store") {
        let tenant = tenant.expect("an entry").path();
        let name = tenant
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        if !tenant.is_dir() || name.starts_with('_') {
            continue;
        }
        for class in std::fs::read_dir(&tenant).expect("a tenant") {
            let class = class.expect("an entry").path();
            for caller in std::fs::read_dir(&class).expect("a class") {
                for recording in
                    std::fs::read_dir(caller.expect("an entry").path()).expect("a caller")
                {
                    let recording = recording.expect("an entry").path();
                    let relative = recording.strip_prefix(store).expect("inside");
                    found.insert(relative.display().to_string());
                }
            }
        }
    }
    found
}

/// `recording-id` -> its class, from the stored folders.
fn classes(store: &Path) -> std::collections::BTreeMap<String, String> {
    stored(store)
        .iter()
        .map(|path| {
            let parts: Vec<&str> = path.split('/').collect();
            (format!("{}/{}", parts[0], parts[3]), parts[1].to_string())
        })
        .collect()
}

/// The fixture recordings as tenant `acme`, and again as tenant `globex` (new ids).
fn inbox(dir: &Path) -> PathBuf {
    let inbox = dir.join("inbox");
    std::fs::create_dir_all(&inbox).expect("mkdir");
    for entry in std::fs::read_dir(fixtures().join("recordings")).expect("fixtures") {
        let path = entry.expect("an entry").path();
        if path.extension().is_none_or(|e| e != "wav") {
            continue;
        }
        let stem = path
            .file_stem()
            .expect("a stem")
            .to_string_lossy()
            .into_owned();
        let metadata: Value = serde_json::from_str(
            &std::fs::read_to_string(path.with_extension("json")).expect("metadata"),
        )
        .expect("JSON");
        for tenant in ["acme", "globex"] {
            let mut metadata = metadata.clone();
            metadata["tenant"] = tenant.into();
            let name = format!("{tenant}-{stem}");
            std::fs::copy(&path, inbox.join(format!("{name}.wav"))).expect("copies");
            std::fs::write(inbox.join(format!("{name}.json")), metadata.to_string())
                .expect("writes");
        }
    }
    inbox
}

#[test]
fn retention_is_enforced_holds_released_and_keys_destroyed_with_an_audit_trail() {
    let dir = tempfile::tempdir().expect("a directory");
    let store = dir.path().join("store");
    let keyring = dir.path().join("keyring");
    std::fs::create_dir_all(&store).expect("mkdir");
    let retention = dir.path().join("retention.toml");
    // acme keeps respondents 6 months, non-respondents 30 days; globex the defaults (12, 2)
    std::fs::write(
        &retention,
        "[tenants.acme]\nrespondent = \"6 months\"\nnon_respondent = \"30 days\"\n\
         consented_contact = \"1 year\"\n",
    )
    .expect("writes");
    let local = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "--store",
            store.to_str().expect("UTF-8"),
            "--keyring",
            keyring.to_str().expect("UTF-8"),
            "--retention",
            retention.to_str().expect("UTF-8"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let run = |command: &[&str], extra: &[&str]| -> Output {
        let mut args: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        args.extend(local(extra));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        callscore(&refs)
    };

    // keys for both tenants, current from the first of last month
    let rotated = run(
        &["keys", "rotate"],
        &[
            "--tenant",
            "acme",
            "--tenant",
            "globex",
            "--today",
            "2026-11-01",
        ],
    );
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    assert!(keyring.join("acme/k20261101.key").exists());

    let inbox = inbox(dir.path());
    let events = dir.path().join("events.ndjson");
    let processed = callscore(&[
        "process",
        inbox.to_str().expect("UTF-8"),
        "--survey",
        fixtures()
            .join("surveys/nps-csat.toml")
            .to_str()
            .expect("UTF-8"),
        "--survey",
        fixtures()
            .join("surveys/nps-comment.toml")
            .to_str()
            .expect("UTF-8"),
        "--keyring",
        keyring.to_str().expect("UTF-8"),
        "--retention",
        retention.to_str().expect("UTF-8"),
        "--store",
        store.to_str().expect("UTF-8"),
        "--out",
        events.to_str().expect("UTF-8"),
    ]);
    assert!(processed.status.success(), "{}", text(&processed.stderr));
    let before = classes(&store);
    assert_eq!(before.len(), 20, "10 recordings of 2 tenants: {before:?}");
    // a spoken comment's clip lies beside its recording, under the same class and caller
    let clips = |store: &Path| -> Vec<String> {
        stored(store)
            .iter()
            .flat_map(|dir| std::fs::read_dir(store.join(dir)).expect("a recording"))
            .map(|f| f.expect("an entry").path())
            .filter(|f| {
                f.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    n.starts_with("comment-") && !n.ends_with(".meta.json")
                })
            })
            .map(|f| f.strip_prefix(store).expect("inside").display().to_string())
            .collect()
    };
    let clipped = clips(&store);
    assert_eq!(
        clipped.len(),
        2,
        "acme's and globex's rec-0011: {clipped:?}"
    );
    assert!(
        clipped.iter().all(|c| c.contains("/respondent/")),
        "{clipped:?}"
    );
    let pseudonyms: BTreeSet<String> = lines(&events)
        .iter()
        .filter_map(|e| e["caller_pseudonym"].as_str().map(str::to_string))
        .collect();
    assert!(
        pseudonyms.iter().all(|p| p.starts_with("ps-k20261101-")),
        "{pseudonyms:?}"
    );

    // bad input is refused with exit 2, and nothing is touched
    for bad in [
        vec!["retention", "sweep", "--tenant", "nobody"],
        vec!["retention", "sweep", "--today", "2026-13-01"],
    ] {
        let refused = run(&bad, &[]);
        assert_eq!(
            refused.status.code(),
            Some(2),
            "{bad:?}: {}",
            text(&refused.stderr)
        );
        assert_eq!(classes(&store), before, "{bad:?} touched the store");
    }
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[default]\nrespondent = \"soon\"\n").expect("writes");
    let refused = callscore(&[
        "retention",
        "sweep",
        "--store",
        store.to_str().expect("UTF-8"),
        "--retention",
        broken.to_str().expect("UTF-8"),
    ]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));

    // calls of 2026-11-02: acme's non-respondents (30 days) are due on 2026-12-03
    let dry = run(
        &["retention", "sweep"],
        &["--today", "2026-12-03", "--dry-run", "--json"],
    );
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let report: Value = serde_json::from_slice(&dry.stdout).expect("a JSON report");
    assert_eq!(report["sweep"]["dry_run"], true);
    assert_eq!(
        report["sweep"]["tenants"]["acme"]["non_respondent"]["recordings"],
        1
    );
    assert_eq!(classes(&store), before, "a dry run deletes nothing");

    let swept = run(&["retention", "sweep"], &["--today", "2026-12-03"]);
    assert!(swept.status.success(), "{}", text(&swept.stderr));
    assert!(
        text(&swept.stdout).contains("acme non_respondent: 1 recordings"),
        "{}",
        text(&swept.stdout)
    );
    let after = classes(&store);
    let gone: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    assert_eq!(gone, vec!["acme/rec-0003"], "exactly acme's non-respondent");

    // the hold of acme's withheld call is released: back to its class, swept when due
    let held = after["acme/rec-0007"].clone();
    assert_eq!(held, "legal_hold");
    let released = run(
        &["hold", "release"],
        &[
            "--tenant",
            "acme",
            "--recording",
            "rec-0007",
            "--today",
            "2026-12-03",
        ],
    );
    assert!(released.status.success(), "{}", text(&released.stderr));
    assert_eq!(classes(&store)["acme/rec-0007"], "respondent");
    let republished = lines(&store.join("events.republished.ndjson"));
    assert_eq!(
        republished.len(),
        3,
        "its events again, with the new retention"
    );
    assert!(
        republished
            .iter()
            .all(|e| e["retention"]["class"] == "respondent")
    );
    let unknown = run(
        &["hold", "release"],
        &["--tenant", "acme", "--recording", "rec-9999"],
    );
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown.stderr));

    // six months on, acme's respondents are due (its consented contact, kept a year, is
    // not); globex's non-respondent (2 months) too
    let swept = run(&["retention", "sweep"], &["--today", "2027-05-03"]);
    assert!(swept.status.success(), "{}", text(&swept.stderr));
    let left = classes(&store);
    let acme: Vec<&String> = left.keys().filter(|k| k.starts_with("acme/")).collect();
    assert_eq!(acme, vec!["acme/rec-0006"], "{left:?}");
    assert!(
        !clips(&store).iter().any(|c| c.starts_with("acme/")),
        "the comment clip went with its recording"
    );
    assert_eq!(left["acme/rec-0006"], "consented_contact");
    assert!(!left.contains_key("globex/rec-0003"));
    assert_eq!(left["globex/rec-0007"], "legal_hold", "globex's hold stays");

    // a new key from December; the November keys are destroyed once all data under them may
    // be gone (globex's held call was withheld: no pseudonym under the key holds it back)
    let rotated = run(
        &["keys", "rotate"],
        &[
            "--tenant",
            "acme",
            "--tenant",
            "globex",
            "--today",
            "2026-12-01",
        ],
    );
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    let swept = run(
        &["retention", "sweep"],
        &["--today", "2028-12-01", "--json"],
    );
    assert!(swept.status.success(), "{}", text(&swept.stderr));
    let report: Value = serde_json::from_slice(&swept.stdout).expect("a JSON report");
    assert_eq!(
        report["keys"]["destroyed"],
        serde_json::json!(["acme/k20261101", "globex/k20261101"])
    );
    assert!(!keyring.join("acme/k20261101.key").exists());
    assert!(!keyring.join("globex/k20261101.key").exists());
    assert!(
        keyring.join("globex/k20261201.key").exists(),
        "the current key stays"
    );
    let left = classes(&store);
    assert_eq!(
        left.keys().collect::<Vec<_>>(),
        vec!["globex/rec-0007"],
        "only the hold is left"
    );

    // the audit trail says all of it
    let audit = lines(&store.join("audit.ndjson"));
    let count = |action: &str| {
        audit
            .iter()
            .filter(|r| r["action"] == action && r["dry_run"] == false)
            .count()
    };
    assert!(count("retention_sweep") >= 4, "{audit:?}");
    assert_eq!(count("hold_release"), 1);
    assert_eq!(count("key_destroyed"), 2);
    assert_eq!(count("key_created"), 4);
    let deleted: u64 = audit
        .iter()
        .filter(|r| r["action"] == "retention_sweep" && r["dry_run"] == false)
        .map(|r| r["recordings"].as_u64().expect("a count"))
        .sum();
    assert_eq!(
        deleted, 19,
        "every recording but globex's hold, each audited once"
    );
    for record in &audit {
        assert!(
            record["configuration"]
                .as_str()
                .expect("a configuration")
                .contains("sha256")
        );
        assert!(
            record["command"]
                .as_str()
                .expect("a command")
                .starts_with("callscore ")
        );
    }
}

/// The demo pseudonymisation key, from the root of the clone's fixtures.
const DEMO_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/demo-pseudonym.key"
);

/// `callscore process` over the fixture recordings, with both of their surveys and the demo
/// key, into `store` (events in `store/events.ndjson`).
fn process_fixtures(store: &Path) {
    let surveys = fixtures().join("surveys");
    let processed = callscore(&[
        "process",
        fixtures().join("recordings").to_str().expect("UTF-8"),
        "--survey",
        surveys.join("nps-csat.toml").to_str().expect("UTF-8"),
        "--survey",
        surveys.join("nps-comment.toml").to_str().expect("UTF-8"),
        "--pseudonym-key-file",
        DEMO_KEY,
        "--store",
        store.to_str().expect("UTF-8"),
        "--out",
        store.join("events.ndjson").to_str().expect("UTF-8"),
    ]);
    assert!(processed.status.success(), "{}", text(&processed.stderr));
}

/// A spoken comment is the caller's data like the rest: its clip is in their export, and an
/// erasure takes the clip, retracts its transcription request and the transcript a
/// transcriber wrote back (both keyed by the request's id), and names the request.
#[test]
fn a_spoken_comment_is_exported_and_erased_with_its_transcript() {
    let dir = tempfile::tempdir().expect("a directory");
    let store = dir.path().join("store");
    let key = DEMO_KEY;
    process_fixtures(&store);
    let requests = lines(&store.join("transcription-requests.ndjson"));
    assert_eq!(requests.len(), 1, "one spoken comment: {requests:?}");
    let request_id = requests[0]["request_id"]
        .as_str()
        .expect("an id")
        .to_string();
    assert_eq!(requests[0]["recording_id"], "rec-0011");
    // what a transcriber writes back, and another recording's transcript that must stay
    let transcript = |id: &str| {
        serde_json::json!({"schema_version": 1, "event_type": "transcript", "request_id": id,
            "tenant": "acme", "recording_id": "rec-0011", "question_id": "why",
            "language": "en", "text": "the agent was very patient", "confidence": 0.8,
            "words": [], "engine": "test", "retention": requests[0]["retention"],
            "transcribed_at": "2026-11-02T10:00:00Z"})
    };
    let other = "0".repeat(32);
    let transcripts = store.join("transcripts.ndjson");
    std::fs::write(
        &transcripts,
        format!("{}\n{}\n", transcript(&request_id), transcript(&other)),
    )
    .expect("writes");
    let events_file = store.join("events.ndjson");
    let local = |command: &[&str], selector: &[&str]| {
        let mut args = command.to_vec();
        args.extend([
            "--store",
            store.to_str().expect("UTF-8"),
            "--pseudonym-key-file",
            key,
            "--events",
            events_file.to_str().expect("UTF-8"),
            "--tenant",
            "acme",
            "--json",
        ]);
        args.extend(selector);
        callscore(&args)
    };

    let bundle = dir.path().join("bundle");
    let exported = local(
        &["export", "--out", bundle.to_str().expect("UTF-8")],
        &["--recording", "rec-0011"],
    );
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    let clip = bundle.join("recordings/rec-0011/comment-why.opus");
    let clip = if clip.exists() {
        clip
    } else {
        clip.with_extension("wav")
    };
    let bytes = std::fs::read(&clip).expect("the clip is in the bundle");
    let events: Value = serde_json::from_slice(
        &std::fs::read(bundle.join("recordings/rec-0011/events.json")).expect("events"),
    )
    .expect("JSON");
    let comment = events
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["question_id"] == "why")
        .expect("the comment's event");
    use sha2::Digest;
    let digest: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(comment["comment"]["clip"]["sha256"], digest.as_str());

    let erased = local(&["erase"], &["--recording", "rec-0011"]);
    assert!(erased.status.success(), "{}", text(&erased.stderr));
    let report: Value = serde_json::from_slice(&erased.stdout).expect("a JSON report");
    assert_eq!(report["transcriptions"], 1, "{report}");
    assert!(
        !stored(&store).iter().any(|r| r.ends_with("/rec-0011")),
        "the recording and its clip are gone"
    );
    assert!(lines(&store.join("transcription-requests.ndjson")).is_empty());
    let left = lines(&transcripts);
    assert_eq!(
        left.len(),
        1,
        "only the other recording's transcript: {left:?}"
    );
    assert_eq!(left[0]["request_id"], other.as_str());
    let announced = lines(&store.join("events.ndjson"))
        .into_iter()
        .find(|e| e["event_type"] == "erasure")
        .expect("an erasure event");
    assert_eq!(
        announced["transcription_request_ids"],
        serde_json::json!([request_id])
    );
}

#[cfg(feature = "pocketsphinx")]
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// `callscore transcribe` (the reference transcriber, with the `pocketsphinx` feature): every
/// comment's request gets a transcript, written back under the request's key and stored
/// beside the clip, so that export carries it and erasure takes it.
#[cfg(feature = "pocketsphinx")]
#[test]
fn each_comment_is_transcribed_once_and_its_transcript_goes_with_the_recording() {
    let dir = tempfile::tempdir().expect("a directory");
    let store = dir.path().join("store");
    let store_arg = store.to_str().expect("UTF-8");
    let key = DEMO_KEY;
    process_fixtures(&store);
    let requests = lines(&store.join("transcription-requests.ndjson"));
    assert_eq!(requests.len(), 1);

    let first = callscore(&["transcribe", "--store", store_arg]);
    let said = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(
        first.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        said.starts_with("1 transcribed, 0 already were, 0 failed"),
        "{said}"
    );
    let transcripts = lines(&store.join("transcripts.ndjson"));
    assert_eq!(transcripts.len(), 1);
    let transcript = &transcripts[0];
    assert_eq!(transcript["request_id"], requests[0]["request_id"]);
    assert_eq!(transcript["event_type"], "transcript");
    assert_eq!(transcript["retention"], requests[0]["retention"]);
    assert!(
        transcript["engine"]
            .as_str()
            .is_some_and(|e| e.starts_with("pocketsphinx")),
        "{transcript}"
    );
    // the transcript lies beside the clip, as stored
    let mut stored = Vec::new();
    files(&store, &mut stored);
    let beside: Vec<&PathBuf> = stored
        .iter()
        .filter(|p| {
            p.to_string_lossy()
                .ends_with("/rec-0011/comment-why.transcript.json")
        })
        .collect();
    assert_eq!(beside.len(), 1, "{stored:?}");
    let kept: Value =
        serde_json::from_slice(&std::fs::read(beside[0]).expect("readable")).expect("JSON");
    assert_eq!(kept["text"], transcript["text"]);

    let again = callscore(&["transcribe", "--store", store_arg]);
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(said.starts_with("0 transcribed, 1 already were"), "{said}");
    assert_eq!(lines(&store.join("transcripts.ndjson")).len(), 1);

    let local = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--store", store_arg, "--pseudonym-key-file", key]);
        all.extend(["--tenant", "acme", "--recording", "rec-0011"]);
        callscore(&all)
    };
    let bundle = dir.path().join("bundle");
    let exported = local(&["export", "--out", bundle.to_str().expect("UTF-8")]);
    assert!(exported.status.success());
    assert!(
        bundle
            .join("recordings/rec-0011/comment-why.transcript.json")
            .exists(),
        "the caller's export holds the transcript"
    );
    let erased = local(&["erase"]);
    assert!(erased.status.success());
    assert!(lines(&store.join("transcripts.ndjson")).is_empty());
    assert!(!beside[0].exists(), "the stored transcript is erased");
}

#[test]
fn a_keyring_that_cannot_be_read_stops_a_privacy_command_before_it_touches_anything() {
    // a sweep from the configuration with its keyring unreadable must not run on without the
    // keys (it would keep every key whose time had come, and say nothing)
    let dir = tempfile::tempdir().expect("a directory");
    let keyring = dir.path().join("keyring");
    std::fs::create_dir_all(keyring.join("acme")).expect("made");
    std::fs::write(keyring.join("acme/k2026-bad.key"), "00").expect("written");
    let survey = fixtures().join("surveys/nps-csat.toml");
    let config = dir.path().join("callscore.toml");
    std::fs::write(
        &config,
        format!(
            r#"[kafka]
recordings_topic = "recordings"
scores_topic = "scores"
dead_letter_topic = "recordings-dlq"
audit_topic = "audit"
contact_topic = "contact"

[kafka.common]
"bootstrap.servers" = "127.0.0.1:1"

[kafka.consumer]
"group.id" = "callscore-test"

[s3]
bucket = "audio"
endpoint_url = "http://127.0.0.1:1"
region = "test"
force_path_style = true

[surveys]
files = [{survey:?}]

[pseudonym]
keyring = {keyring:?}
"#,
            survey = survey.to_str().expect("UTF-8"),
            keyring = keyring.to_str().expect("UTF-8"),
        ),
    )
    .expect("written");
    let out = callscore(&[
        "retention",
        "sweep",
        "--config",
        config.to_str().expect("UTF-8"),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("k2026-bad.key"), "{stderr}");
}

/// One caller whose IVR wrote their number three ways: with the tenant's country code
/// (`--country-code 31`) the two recordings processed with it share one pseudonym, and an
/// erasure by the number in yet another form finds those and the one processed before the
/// plan was set, under the form it was written in then.
#[test]
fn every_form_of_a_callers_number_is_one_caller_for_pseudonyms_and_erasure() {
    let dir = tempfile::tempdir().expect("a directory");
    let store = dir.path().join("store");
    let surveys = fixtures().join("surveys");
    let process = |id: &str, number: &str, plan: &[&str]| {
        let inbox = dir.path().join(id);
        std::fs::create_dir_all(&inbox).expect("mkdir");
        std::fs::copy(
            fixtures().join("recordings/nps9-csat4.wav"),
            inbox.join(format!("{id}.wav")),
        )
        .expect("copies");
        let mut metadata: Value = serde_json::from_str(
            &std::fs::read_to_string(fixtures().join("recordings/nps9-csat4.json"))
                .expect("metadata"),
        )
        .expect("JSON");
        metadata["recording_id"] = id.into();
        metadata["call_id"] = format!("call-{id}").into();
        metadata["caller_number"] = number.into();
        std::fs::write(inbox.join(format!("{id}.json")), metadata.to_string()).expect("writes");
        let survey = surveys.join("nps-csat.toml");
        let mut args = vec![
            "process",
            inbox.to_str().expect("UTF-8"),
            "--survey",
            survey.to_str().expect("UTF-8"),
            "--pseudonym-key-file",
            DEMO_KEY,
            "--store",
            store.to_str().expect("UTF-8"),
        ];
        args.extend(plan);
        let processed = callscore(&args);
        assert!(processed.status.success(), "{}", text(&processed.stderr));
        let events: Vec<Value> = text(&processed.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("an event"))
            .collect();
        events[0]["caller_pseudonym"]
            .as_str()
            .expect("a pseudonym")
            .to_string()
    };
    let before = process("r-before", "0031 20 555 0001", &[]);
    let national = process("r-national", "020-555 0001", &["--country-code", "31"]);
    let international = process("r-plus", "+31 20 555 0001", &["--country-code", "31"]);
    assert_eq!(national, international, "one caller, one pseudonym");
    assert_ne!(before, national, "taken as written before the plan");

    let erase = |number: &str| {
        callscore(&[
            "erase",
            "--store",
            store.to_str().expect("UTF-8"),
            "--pseudonym-key-file",
            DEMO_KEY,
            "--country-code",
            "31",
            "--tenant",
            "acme",
            "--json",
            "--caller",
            number,
        ])
    };
    // bare digits say no country: refused, not answered with an empty erasure
    let bare = erase("205550001");
    assert_eq!(bare.status.code(), Some(2), "{}", text(&bare.stderr));
    assert!(!text(&bare.stderr).contains("5550001"), "never the number");
    assert_eq!(stored(&store).len(), 3);

    let erased = erase("(020) 5550001");
    assert!(erased.status.success(), "{}", text(&erased.stderr));
    let report: Value = serde_json::from_slice(&erased.stdout).expect("a JSON report");
    assert_eq!(report["recordings"], 3, "{report}");
    assert!(
        !stored(&store).iter().any(|r| r.contains("/r-")),
        "{:?}",
        stored(&store)
    );
    assert!(
        !text(&erased.stdout).contains("5550001"),
        "never the number"
    );
    // the audit trail says which plan the look-up used
    let configuration = |audit: &[Value]| {
        audit
            .last()
            .map(|r| r["configuration"].clone())
            .expect("an audit record")
    };
    let with_plan = configuration(&lines(&store.join("audit.ndjson")));
    let without = callscore(&[
        "erase",
        "--store",
        store.to_str().expect("UTF-8"),
        "--pseudonym-key-file",
        DEMO_KEY,
        "--tenant",
        "acme",
        "--dry-run",
        "--caller",
        "+31205550001",
    ]);
    assert!(without.status.success(), "{}", text(&without.stderr));
    assert_ne!(
        with_plan,
        configuration(&lines(&store.join("audit.ndjson")))
    );
}

/// A contact request carries the caller's number for its consumer until its expiry day (the
/// call's day and `contact_requests`, 30 days): the local sweep takes it out of the contacts
/// file the day after, with an audit record, and not a day before; a dry run only counts.
#[test]
fn the_sweep_takes_expired_contact_requests_and_their_numbers_out_of_the_local_file() {
    let dir = tempfile::tempdir().expect("a directory");
    let store = dir.path().join("store");
    process_fixtures(&store);
    let contacts = store.join("contact-requests.ndjson");
    let requests = lines(&contacts);
    assert!(!requests.is_empty(), "the fixtures have consenting callers");
    let last_day = requests
        .iter()
        .map(|r| r["expires_on"].as_str().expect("a day").to_string())
        .max()
        .expect("a day");
    let after = last_day
        .parse::<jiff::civil::Date>()
        .expect("a date")
        .tomorrow()
        .expect("a day after")
        .to_string();
    let sweep = |today: &str, dry_run: bool| {
        let mut args = vec![
            "retention",
            "sweep",
            "--store",
            store.to_str().expect("UTF-8"),
            "--today",
            today,
            "--json",
        ];
        if dry_run {
            args.push("--dry-run");
        }
        let swept = callscore(&args);
        assert!(swept.status.success(), "{}", text(&swept.stderr));
        serde_json::from_slice::<Value>(&swept.stdout).expect("a JSON report")
    };

    let report = sweep(&last_day, false);
    assert_eq!(lines(&contacts), requests, "not before their day: {report}");
    let report = sweep(&after, true);
    assert_eq!(
        report["contact_requests"]["expired"]["acme"],
        requests.len(),
        "{report}"
    );
    assert_eq!(lines(&contacts), requests, "a dry run changes nothing");

    let report = sweep(&after, false);
    assert_eq!(
        report["contact_requests"]["expired"]["acme"],
        requests.len(),
        "{report}"
    );
    let left = std::fs::read_to_string(&contacts).expect("the file");
    assert!(left.trim().is_empty(), "{left}");
    let audited = lines(&store.join("audit.ndjson"))
        .into_iter()
        .filter(|r| r["subject"] == "contact requests" && r["dry_run"] == false)
        .collect::<Vec<_>>();
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0]["class"], "consented_contact");
    assert_eq!(audited[0]["objects"], requests.len());
}

/// `process --out` adds to the events file, as it does to the dead letters and the contact
/// requests: a second batch keeps the first batch's events, and the erasure event an erasure
/// appended between them, which downstream needs to delete its copies.
#[test]
fn a_second_batch_keeps_the_events_and_the_erasure_event_already_in_the_file() {
    let dir = tempfile::tempdir().expect("a directory");
    let store = dir.path().join("store");
    process_fixtures(&store);
    let events_file = store.join("events.ndjson");
    let first = lines(&events_file);
    assert!(!first.is_empty());
    let erased = callscore(&[
        "erase",
        "--store",
        store.to_str().expect("UTF-8"),
        "--pseudonym-key-file",
        DEMO_KEY,
        "--events",
        events_file.to_str().expect("UTF-8"),
        "--tenant",
        "acme",
        "--recording",
        "rec-0001",
    ]);
    assert!(erased.status.success(), "{}", text(&erased.stderr));
    let before = lines(&events_file);
    assert!(before.iter().any(|e| e["event_type"] == "erasure"));

    process_fixtures(&store);
    let after = lines(&events_file);
    for event in &before {
        assert!(after.contains(event), "kept: {event}");
    }
    assert!(
        after.len() > before.len(),
        "the second batch's events are added"
    );
}
