//! `callscore transcribe` (the reference transcriber, with the `pocketsphinx` feature): every
//! comment's request gets a transcript, written back under the request's key and stored
//! beside the clip, so that export carries it and erasure takes it.
#![cfg(feature = "pocketsphinx")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn callscore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_callscore"))
        .args(args)
        .output()
        .expect("callscore runs")
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

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

#[test]
fn each_comment_is_transcribed_once_and_its_transcript_goes_with_the_recording() {
    let dir = tempfile::tempdir().expect("a directory");
    let store = dir.path().join("store");
    let store_arg = store.to_str().expect("UTF-8");
    let key = fixtures().join("demo-pseudonym.key");
    let key = key.to_str().expect("UTF-8");
    let surveys = fixtures().join("surveys");
    let processed = callscore(&[
        "process",
        fixtures().join("recordings").to_str().expect("UTF-8"),
        "--survey",
        surveys.join("nps-csat.toml").to_str().expect("UTF-8"),
        "--survey",
        surveys.join("nps-comment.toml").to_str().expect("UTF-8"),
        "--pseudonym-key-file",
        key,
        "--store",
        store_arg,
        "--out",
        store.join("events.ndjson").to_str().expect("UTF-8"),
    ]);
    assert!(processed.status.success());
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
