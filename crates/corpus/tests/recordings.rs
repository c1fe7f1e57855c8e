//! The survey recordings under `fixtures/recordings/` say what `expected.json` says they do:
//! each is decoded, the detector runs on every channel, and the survey extraction runs on the
//! caller's keys with the sidecar's out-of-band keys and question offsets. The files are read
//! from disk and the sidecars parsed against the contract's field names, independently of the
//! generator's types.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use callscore_audio::{DecodeOptions, OUTPUT_RATE, Recording};
use callscore_dtmf::{Detector, DetectorConfig, KeyEvent};
use callscore_survey::{Key, KeyInput, KeyPress, QuestionOffset, Status, Survey, extract};
use serde::Deserialize;

/// The sidecar contract, field for field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // every field is parsed to hold the file to the contract
struct Metadata {
    schema_version: u32,
    recording_id: String,
    call_id: String,
    tenant: String,
    survey_id: String,
    caller_number: Option<String>,
    called_number: Option<String>,
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    queue: Option<String>,
    #[serde(default)]
    campaign: Option<String>,
    call_started_at: String,
    caller_channel: Option<u16>,
    codec: Option<String>,
    out_of_band_keys: Option<Vec<OutOfBandKey>>,
    question_offsets: Vec<Offset>,
    consent: Consent,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutOfBandKey {
    key: char,
    start_ms: u64,
    end_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Offset {
    question_id: String,
    offset_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // parsed to hold the file to the contract
struct Consent {
    contact: bool,
    legal_hold: bool,
}

impl Metadata {
    /// What makes the sidecar invalid, by the contract's rules; empty when it is valid.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let id_ok = |id: &str| {
            !id.is_empty()
                && id.len() <= 128
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        };
        if self.schema_version != 1 {
            problems.push(format!("schema_version {}", self.schema_version));
        }
        if !id_ok(&self.recording_id) {
            problems.push(format!("recording_id {:?}", self.recording_id));
        }
        if self.call_started_at.parse::<jiff::Timestamp>().is_err() {
            problems.push(format!("call_started_at {:?}", self.call_started_at));
        }
        problems
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    file: String,
    recording_id: String,
    digits: Option<String>,
    #[serde(default)]
    comment: Option<ExpectedComment>,
    answers: Option<BTreeMap<String, ExpectedAnswer>>,
    dead_letter: Option<String>,
    warning_contains: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedComment {
    question_id: String,
    speech_start_ms: Option<u64>,
    speech_end_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedAnswer {
    status: Status,
    value: Option<u32>,
    attempts: u32,
}

/// What the audio held: the keys of each channel, its length and the decoder's warnings.
struct Decoded {
    channels: Vec<Vec<KeyEvent>>,
    duration: Duration,
    warnings: Vec<String>,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/recordings")
}

fn decode(path: &Path) -> Result<Decoded, callscore_audio::DecodeError> {
    let mut recording = Recording::open_path(path, &DecodeOptions::default())?;
    let config = DetectorConfig {
        sample_rate: OUTPUT_RATE,
        ..DetectorConfig::default()
    };
    let mut detectors: Vec<Detector> = (0..recording.output_channels())
        .map(|_| Detector::new(&config).expect("the default configuration is valid"))
        .collect();
    let mut channels = vec![Vec::new(); detectors.len()];
    while let Some(block) = recording.next_block()? {
        for ((detector, events), samples) in detectors.iter_mut().zip(&mut channels).zip(block) {
            detector.push(samples, events);
        }
    }
    for (detector, events) in detectors.iter_mut().zip(&mut channels) {
        detector.finish(events);
    }
    let stats = recording.stats();
    Ok(Decoded {
        channels,
        duration: Duration::from_secs_f64(stats.output_frames as f64 / f64::from(OUTPUT_RATE)),
        warnings: stats.warnings(),
    })
}

fn key_input(decoded: &Decoded, metadata: &Metadata) -> KeyInput {
    let ms = Duration::from_millis;
    let in_band: Vec<KeyPress> = match metadata.caller_channel {
        Some(channel) => decoded.channels[usize::from(channel)]
            .iter()
            .map(KeyPress::from_event)
            .collect(),
        None => decoded
            .channels
            .iter()
            .flatten()
            .map(KeyPress::from_event)
            .collect(),
    };
    let out_of_band = metadata.out_of_band_keys.as_ref().map(|keys| {
        keys.iter()
            .map(|k| {
                let key = Key::from_char(k.key).expect("sidecar keys are DTMF keys");
                KeyPress::new(key, ms(k.start_ms), ms(k.end_ms))
            })
            .collect()
    });
    KeyInput {
        duration: decoded.duration,
        in_band: Some(in_band),
        out_of_band,
        question_offsets: metadata
            .question_offsets
            .iter()
            .map(|o| QuestionOffset {
                question_id: o.question_id.clone(),
                offset: ms(o.offset_ms),
            })
            .collect(),
    }
}

fn sidecar_path(file: &str) -> PathBuf {
    dir().join(Path::new(file).with_extension("json"))
}

#[test]
fn every_recording_gives_the_expected_answers_or_dead_letter() {
    let survey_of = |id: &str| {
        let text = std::fs::read_to_string(dir().join(format!("../surveys/{id}.toml")))
            .unwrap_or_else(|e| panic!("fixtures/surveys/{id}.toml: {e}"));
        Survey::from_toml(&text).unwrap_or_else(|e| panic!("{id} is not a valid survey: {e}"))
    };
    let expected: Vec<Expected> =
        serde_json::from_slice(&std::fs::read(dir().join("expected.json")).expect("expected.json"))
            .expect("expected.json parses");
    assert_eq!(expected.len(), 12);

    for entry in &expected {
        let file = &entry.file;
        let metadata: Metadata = serde_json::from_slice(
            &std::fs::read(sidecar_path(file)).expect("every recording has a sidecar"),
        )
        .unwrap_or_else(|e| panic!("{file}: the sidecar does not follow the contract: {e}"));
        assert_eq!(metadata.recording_id, entry.recording_id, "{file}");
        let survey = survey_of(&metadata.survey_id);
        let problems = metadata.problems();
        let dead_letter = entry.dead_letter.as_deref();
        assert_eq!(
            problems.is_empty(),
            dead_letter != Some("invalid_metadata"),
            "{file}: metadata problems {problems:?}"
        );
        assert_eq!(entry.answers.is_none(), dead_letter.is_some(), "{file}");

        let decoded = match decode(&dir().join(file)) {
            Ok(decoded) => decoded,
            Err(e) => {
                assert_eq!(dead_letter, Some("undecodable_audio"), "{file}: {e}");
                assert_eq!(entry.digits, None, "{file}");
                continue;
            }
        };
        assert_ne!(
            dead_letter,
            Some("undecodable_audio"),
            "{file} decodes, with {} channels",
            decoded.channels.len()
        );

        let mut heard: Vec<&KeyEvent> = decoded.channels.iter().flatten().collect();
        heard.sort_by_key(|e| e.start);
        let digits: String = heard.iter().map(|e| e.key.as_char()).collect();
        assert_eq!(Some(&digits), entry.digits.as_ref(), "{file}: digits");

        match &entry.warning_contains {
            Some(phrase) => assert!(
                decoded.warnings.iter().any(|w| w.contains(phrase.as_str())),
                "{file}: warnings {:?}",
                decoded.warnings
            ),
            None => assert!(
                decoded.warnings.is_empty(),
                "{file}: {:?}",
                decoded.warnings
            ),
        }

        let Some(answers) = &entry.answers else {
            continue;
        };
        let input = key_input(&decoded, &metadata);
        let got = extract(&survey, &input).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(got.questions.len(), answers.len(), "{file}");
        for answer in &got.questions {
            let want = &answers[&answer.question_id];
            if let Some(comment) = &answer.comment {
                // extraction only opens the window; the voice-activity detector (the
                // pipeline's, tested with these files in callscore's process tests) answers it
                let truth = entry.comment.as_ref().expect("a comment survey's truth");
                assert_eq!(truth.question_id, answer.question_id, "{file}");
                let ms = |ms: u64| Duration::from_millis(ms);
                let inside = |at: Option<u64>| {
                    at.is_none_or(|at| {
                        (comment.window.start..=comment.window.end).contains(&ms(at))
                    })
                };
                assert!(
                    inside(truth.speech_start_ms) && inside(truth.speech_end_ms),
                    "{file}: the speech {truth:?} lies outside the window {:?}",
                    comment.window
                );
                assert_eq!(
                    (want.value, want.attempts),
                    (None, 0),
                    "{file}: {}",
                    answer.question_id
                );
                continue;
            }
            assert_eq!(
                (answer.status, answer.value, answer.attempts),
                (want.status, want.value, want.attempts),
                "{file}: question {} (keys {:?})",
                answer.question_id,
                answer.raw_keys()
            );
        }
        assert!(
            got.unassigned.is_empty(),
            "{file}: keys no question took: {:?}",
            got.unassigned
        );
        assert_eq!(
            got.sources.disagreements(),
            0,
            "{file}: the detector and the out-of-band keys disagree: {:?}",
            got.sources
        );
        if metadata.out_of_band_keys.is_some() {
            assert_eq!(
                usize::try_from(got.sources.matched).expect("small"),
                digits.len(),
                "{file}: every in-band key matches its out-of-band event"
            );
        }
    }
}
