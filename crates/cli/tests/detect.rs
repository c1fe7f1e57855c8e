//! `callscore detect` as a user runs it: the committed fixtures, every option, bad input.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use callscore_audio::{Encoding, write_wav};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn manifest() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("manifest.json")).expect("manifest");
    match serde_json::from_str(&text).expect("manifest is JSON") {
        Value::Array(entries) => entries,
        other => panic!("manifest is not a list: {other}"),
    }
}

fn callscore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_callscore"))
        .args(args)
        .current_dir(fixtures())
        .output()
        .expect("callscore runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

fn field<'a>(value: &'a Value, name: &str) -> &'a Value {
    value
        .get(name)
        .unwrap_or_else(|| panic!("no {name:?} in {value}"))
}

#[test]
fn every_fixture_gives_its_digits_or_its_error() {
    let entries = manifest();
    assert!(entries.len() >= 8);
    for entry in &entries {
        let file = field(entry, "file").as_str().expect("file name");
        let out = callscore(&["detect", file]);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
        match field(entry, "digits").as_str() {
            Some(digits) => {
                assert!(out.status.success(), "{file}: {stderr}");
                assert_eq!(stdout, format!("{digits}\n"), "{file}");
            }
            None => {
                assert_eq!(out.status.code(), Some(1), "{file}");
                assert_eq!(stdout, "", "{file}");
                let phrase = field(entry, "error_contains")
                    .as_str()
                    .expect("error phrase");
                assert!(
                    stderr.contains(file) && stderr.contains(phrase),
                    "{file}: {stderr}"
                );
            }
        }
        match field(entry, "warning_contains").as_str() {
            Some(phrase) => assert!(stderr.contains(phrase), "{file}: {stderr}"),
            None if out.status.success() => assert_eq!(stderr, "", "{file}"),
            None => {}
        }
    }
}

#[test]
fn json_reports_every_key_within_5_ms_of_the_truth() {
    let entries = manifest();
    let files: Vec<&str> = entries
        .iter()
        .map(|e| field(e, "file").as_str().expect("file"))
        .collect();
    let mut args = vec!["detect", "--json"];
    args.extend(&files);
    let out = callscore(&args);
    assert_eq!(out.status.code(), Some(1), "two fixtures are refused");
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    assert_eq!(
        lines.len(),
        entries.len(),
        "one object per file, failures included"
    );
    for (entry, report) in entries.iter().zip(&lines) {
        let file = field(entry, "file");
        assert_eq!(field(report, "file"), file);
        if field(entry, "digits").is_null() {
            assert!(field(report, "error").as_str().is_some(), "{report}");
            continue;
        }
        assert_eq!(field(report, "digits"), field(entry, "digits"), "{file}");
        let truth = field(entry, "keys").as_array().expect("keys");
        let events = field(report, "events").as_array().expect("events");
        assert_eq!(events.len(), truth.len(), "{file}");
        for (event, key) in events.iter().zip(truth) {
            assert_eq!(field(event, "key"), field(key, "key"));
            assert_eq!(field(event, "channel"), field(key, "channel"));
            for edge in ["start_seconds", "end_seconds"] {
                let found = field(event, edge).as_f64().expect("time");
                let expected = field(key, edge).as_f64().expect("time");
                assert!(
                    (found - expected).abs() <= 0.005,
                    "{file} {event}: {edge} {expected}"
                );
            }
            let low = field(event, "low_dbm0").as_f64().expect("level");
            let twist = field(event, "twist_db").as_f64().expect("twist");
            let quality = field(event, "quality").as_f64().expect("quality");
            assert!((-25.0..0.0).contains(&low), "{event}");
            assert!(twist.abs() < 6.0, "{event}");
            assert!((0.0..=1.0).contains(&quality), "{event}");
        }
    }
}

#[test]
fn several_files_give_one_line_each_in_order() {
    let out = callscore(&[
        "detect",
        "survey-stereo-alaw.wav",
        "no-keys-progress-tones.wav",
        "not-a-recording.wav",
        "barge-in-ulaw.wav",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "9#\n\n73\n",
        "the refused file has no line"
    );
}

#[test]
fn a_recording_can_come_on_standard_input() {
    let bytes = std::fs::read(fixtures().join("barge-in-ulaw.wav")).expect("fixture");
    let mut child = Command::new(env!("CARGO_BIN_EXE_callscore"))
        .args(["detect", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("callscore runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&bytes)
        .expect("writes");
    let out = child.wait_with_output().expect("finishes");
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "73\n");
}

#[test]
fn channel_picks_one_side_of_a_stereo_call() {
    let ivr = callscore(&["detect", "--channel", "0", "survey-stereo-alaw.wav"]);
    assert_eq!(text(&ivr.stdout), "\n");
    let caller = callscore(&["detect", "--channel", "1", "survey-stereo-alaw.wav"]);
    assert_eq!(text(&caller.stdout), "9#\n");
    let missing = callscore(&["detect", "--channel", "2", "survey-stereo-alaw.wav"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("has no channel 2 (it has 2"));
}

#[test]
fn extended_keys_can_be_ignored() {
    let out = callscore(&["detect", "--no-extended", "all-keys-pcm16.wav"]);
    assert_eq!(text(&out.stdout), "0123456789*#\n");
}

#[test]
fn bad_command_lines_and_missing_files_have_their_own_exit_codes() {
    let usage = callscore(&["detect"]);
    assert_eq!(usage.status.code(), Some(2));
    let missing = callscore(&["detect", "no-such-file.wav"]);
    assert_eq!(missing.status.code(), Some(1));
    let stderr = text(&missing.stderr);
    assert!(stderr.contains("no-such-file.wav: cannot open"), "{stderr}");
    let directory = callscore(&["detect", "."]);
    assert_eq!(directory.status.code(), Some(1));
    assert!(text(&directory.stderr).contains("cannot read"));
}

#[test]
fn hostile_files_are_refused_without_a_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = callscore_synth::Rng::new(7);
    let mut paths = Vec::new();
    for i in 0..20 {
        // a valid header followed by garbage, or garbage behind a RIFF/WAVE signature
        let mut bytes = Vec::new();
        write_wav(
            &mut bytes,
            8000,
            Encoding::Pcm { bits: 16 },
            &[vec![0.0; 100]],
        )
        .expect("wav");
        let from = if i % 2 == 0 { 12 } else { 44 };
        for byte in &mut bytes[from..] {
            *byte = rng.below(0, 256) as u8;
        }
        let path = dir.path().join(format!("hostile-{i}.wav"));
        std::fs::write(&path, &bytes).expect("writes");
        paths.push(path);
    }
    let mut slow = Vec::new();
    write_wav(
        &mut slow,
        4000,
        Encoding::Pcm { bits: 16 },
        &[vec![0.0; 100]],
    )
    .expect("wav");
    let slow_path = dir.path().join("4khz.wav");
    std::fs::write(&slow_path, &slow).expect("writes");
    paths.push(slow_path);

    let mut args = vec!["detect".to_string()];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = callscore(&args);
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("4khz.wav: unsupported recording: a sample rate of 4000 Hz"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(1));
    // every file is either refused on stderr or has its line on stdout
    let lines = text(&out.stdout).lines().count();
    let refused = stderr.lines().filter(|l| !l.contains("warning")).count();
    assert_eq!(lines + refused, paths.len(), "{stderr}");
}

/// The names `schemas/detect.v1.schema.json` requires of one of its definitions, and all the
/// names it declares (it allows no others).
fn schema_fields(schema: &Value, definition: &str) -> (Vec<String>, Vec<String>) {
    let def = field(field(schema, "$defs"), definition);
    let mut required: Vec<String> = field(def, "required")
        .as_array()
        .expect("required list")
        .iter()
        .map(|name| name.as_str().expect("name").to_string())
        .collect();
    let mut declared: Vec<String> = field(def, "properties")
        .as_object()
        .expect("properties")
        .keys()
        .cloned()
        .collect();
    required.sort();
    declared.sort();
    assert!(
        required.iter().all(|name| declared.contains(name)),
        "{definition}: a required property is not declared"
    );
    (required, declared)
}

/// Checks that `value` has every required field and no undeclared one.
fn conforms(value: &Value, (required, declared): &(Vec<String>, Vec<String>)) {
    let present = names(value);
    for name in required {
        assert!(present.contains(name), "{name} missing from {value}");
    }
    for name in &present {
        assert!(declared.contains(name), "{name} is not in the schema");
    }
}

fn names(value: &Value) -> Vec<String> {
    let mut names: Vec<String> = value.as_object().expect("object").keys().cloned().collect();
    names.sort();
    names
}

#[test]
fn json_output_has_exactly_the_fields_of_its_schema() {
    let path = fixtures().join("../schemas/detect.v1.schema.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("schema")).expect("JSON");
    let (report, event, failure) = (
        schema_fields(&schema, "report"),
        schema_fields(&schema, "event"),
        schema_fields(&schema, "failure"),
    );
    let out = callscore(&[
        "detect",
        "--json",
        "all-keys-pcm16.wav",
        "cut-off-pcm16.wav",
        "g729.wav",
    ]);
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .collect();
    assert_eq!(lines.len(), 3);
    for line in &lines[..2] {
        conforms(line, &report);
        let events = field(line, "events").as_array().expect("events");
        assert!(!events.is_empty());
        for e in events {
            conforms(e, &event);
        }
    }
    assert_eq!(
        field(&lines[1], "warnings").as_array().map(Vec::len),
        Some(1)
    );
    conforms(&lines[2], &failure);
    assert_eq!(names(&lines[2]), failure.0);
}
