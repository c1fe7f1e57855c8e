//! `callscore inspect` on the committed fixtures: a picture per channel of the expected size
//! that shows the audio and the keys, and JSON that names every key, every candidate's verdict,
//! the prompts found and, with a survey, the answers.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn inspect(out: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_callscore"))
        .arg("inspect")
        .args(args)
        .arg("--out")
        .arg(out)
        .current_dir(fixtures())
        .output()
        .expect("callscore runs")
}

fn json(out: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let output = inspect(out, &all);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

/// Width, height and RGB pixels of a PNG, decoded.
fn decode(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let file = std::fs::File::open(path).expect("the picture exists");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("a PNG");
    let mut data = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut data).expect("a frame");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let pixels = data[..info.buffer_size()]
        .chunks_exact(3)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, pixels)
}

/// The green of a key found, the red of a rejected candidate.
const KEY: [u8; 3] = [20, 170, 60];
const REJECTED: [u8; 3] = [215, 40, 40];

#[test]
fn every_channel_gets_a_picture_of_its_length_that_shows_the_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (file, channels) in [("all-keys-pcm16.wav", 1), ("survey-stereo-alaw.wav", 2)] {
        let report = json(dir.path(), &[file]);
        let pictures = report["pictures"].as_array().expect("pictures");
        assert_eq!(pictures.len(), channels, "{report}");
        let seconds = report["duration_seconds"].as_f64().expect("a duration");
        for picture in pictures {
            let (width, height, pixels) = decode(Path::new(picture.as_str().expect("a path")));
            // 100 pixels a second, at least 400
            let expected = (seconds * 100.0).ceil().max(400.0) as u32;
            assert_eq!(width, expected, "{picture}");
            assert_eq!(height, 420, "{picture}");
            let colours: BTreeSet<[u8; 3]> = pixels.iter().copied().collect();
            assert!(
                colours.len() > 100,
                "{picture}: only {} colours",
                colours.len()
            );
        }
        // the channel with keys shows them in green
        let keyed = pictures.last().and_then(Value::as_str).expect("a picture");
        let (_, _, pixels) = decode(Path::new(keyed));
        assert!(pixels.contains(&KEY), "{keyed}");
    }
}

#[test]
fn the_json_names_every_key_and_every_candidate_s_verdict() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = json(dir.path(), &["all-keys-pcm16.wav"]);
    assert_eq!(report["digits"], "0123456789*#ABCD");
    let channel = &report["analysis"][0];
    let keys: String = channel["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["key"].as_str().expect("a key").to_string())
        .collect();
    assert_eq!(keys, "0123456789*#ABCD");
    let candidates = channel["candidates"].as_array().expect("candidates");
    assert!(
        candidates.iter().all(|c| c["verdict"] == "key"),
        "{channel}"
    );
    assert!(
        candidates
            .iter()
            .all(|c| c["shape"]["fit"].as_f64() > Some(0.9))
    );
    // the picture names follow the file
    assert!(
        report["pictures"][0]
            .as_str()
            .is_some_and(|p| p.ends_with("all-keys-pcm16.ch0.png"))
    );
}

#[test]
fn a_survey_adds_its_windows_and_answers() {
    let dir = tempfile::tempdir().expect("temp dir");
    // the metadata beside the recording is found by its name
    let report = json(
        dir.path(),
        &[
            "recordings/nps9-csat4.wav",
            "--survey",
            "surveys/nps-csat.toml",
        ],
    );
    let questions = report["survey"]["questions"].as_array().expect("answers");
    let answers: Vec<(&str, &str, Option<u64>)> = questions
        .iter()
        .map(|q| {
            (
                q["question_id"].as_str().unwrap_or_default(),
                q["status"].as_str().unwrap_or_default(),
                q["value"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        answers,
        vec![
            ("recommend", "answered", Some(9)),
            ("satisfied", "answered", Some(4))
        ]
    );
    // the sidecar's offsets: recommend from 0.3 s until satisfied's prompt at 4.6 s
    assert_eq!(questions[0]["window_start_seconds"], 0.3);
    assert_eq!(
        questions[0]["window_end_seconds"],
        questions[1]["window_start_seconds"]
    );
}

#[test]
fn the_prompt_example_shows_the_lost_key_rejected_and_then_found() {
    let dir = tempfile::tempdir().expect("temp dir");
    let call = "prompted/keyed-over-prompt.wav";
    let plain = json(dir.path(), &[call]);
    let verdicts: Vec<(String, String)> = plain["analysis"][0]["candidates"]
        .as_array()
        .expect("candidates")
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap_or_default().into(),
                c["verdict"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    assert!(
        verdicts.iter().any(|(k, v)| k == "9" && v != "key"),
        "the 9 is a rejected candidate: {verdicts:?}"
    );
    let (_, _, pixels) = decode(Path::new(plain["pictures"][0].as_str().expect("a picture")));
    assert!(pixels.contains(&REJECTED));

    let knowing = json(dir.path(), &[call, "--survey", "surveys/nps-prompted.toml"]);
    assert_eq!(knowing["digits"], "9#");
    assert_eq!(knowing["survey"]["questions"][0]["value"], 9);
    let prompts = knowing["analysis"][0]["prompts"]
        .as_array()
        .expect("prompts");
    let starts: Vec<f64> = prompts
        .iter()
        .filter_map(|p| p["start_seconds"].as_f64())
        .collect();
    assert_eq!(starts, vec![0.3, 2.0]);
}

#[test]
fn unreadable_input_is_an_error_without_a_picture_or_a_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    for file in ["not-a-recording.wav", "g729.wav", "missing.wav"] {
        let out = inspect(dir.path(), &[file]);
        assert_eq!(out.status.code(), Some(1), "{file}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
        assert!(stderr.contains(file), "{file}: {stderr}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path())
            .expect("the directory")
            .count(),
        0
    );
}
