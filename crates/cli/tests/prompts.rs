//! Known prompts, as a user declares them: `callscore detect --prompt` and a survey's
//! `prompt_audio` in `callscore process`, on the committed example `fixtures/prompted/` (a mono
//! call whose keys are keyed over a loud prompt, quietly enough that the plain detector loses
//! one; see its README).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use callscore_audio::{Encoding, write_wav};
use serde_json::Value;

const RATE: u32 = 8_000;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn callscore(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_callscore"))
        .args(args)
        .current_dir(dir)
        .env("CALLSCORE_PSEUDONYM_KEY", "00".repeat(32))
        .output()
        .expect("callscore runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("UTF-8")
}

const CALL: &str = "prompted/keyed-over-prompt.wav";
const PROMPT: &str = "prompted/prompts/recommend.wav";

#[test]
fn detect_with_the_prompt_finds_the_keys_keyed_over_it() {
    let dir = fixtures();
    let plain = stdout(&callscore(&dir, &["detect", CALL]));
    assert_ne!(plain, "9#\n", "the plain detector must lose a key here");
    let knowing = stdout(&callscore(&dir, &["detect", "--prompt", PROMPT, CALL]));
    assert_eq!(knowing, "9#\n");

    let json = stdout(&callscore(
        &dir,
        &["detect", "--json", "--prompt", PROMPT, CALL],
    ));
    let report: Value = serde_json::from_str(&json).expect("JSON");
    let prompts = report["prompts"].as_array().expect("prompts found");
    assert_eq!(prompts.len(), 1, "{report}");
    assert_eq!(prompts[0]["prompt"], PROMPT);
    assert_eq!(prompts[0]["start_seconds"], 2.0);
    assert!(prompts[0]["cancelled_db"].as_f64() > Some(15.0), "{report}");
    // exactly the fields its schema declares, every one required
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/detect.v1.schema.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema).expect("schema")).expect("JSON");
    let declared = &schema["$defs"]["prompt"]["required"];
    let mut fields: Vec<&str> = prompts[0]
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    let mut required: Vec<&str> = declared
        .as_array()
        .expect("required fields")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    required.sort_unstable();
    assert_eq!(fields, required);
    assert!(schema["$defs"]["report"]["properties"]["prompts"].is_object());
    // without --prompt the field is not there
    let json = stdout(&callscore(&dir, &["detect", "--json", CALL]));
    let report: Value = serde_json::from_str(&json).expect("JSON");
    assert!(report.get("prompts").is_none(), "{report}");
}

#[test]
fn a_missing_or_silent_prompt_is_a_command_line_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let call = fixtures().join(CALL).display().to_string();
    let out = callscore(dir.path(), &["detect", "--prompt", "nope.wav", &call]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.wav"));
    let mut file = std::fs::File::create(dir.path().join("silence.wav")).expect("creates");
    write_wav(
        &mut file,
        RATE,
        Encoding::Pcm { bits: 16 },
        &[vec![0.0f32; 8_000]],
    )
    .expect("writes");
    let out = callscore(dir.path(), &["detect", "--prompt", "silence.wav", &call]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the prompt is silent"));
}

/// The answer to `recommend` when the call is processed with `survey` (a path under
/// `fixtures/`, or absolute).
fn answer(store: &Path, survey: &str) -> Value {
    let out = callscore(
        &fixtures(),
        &[
            "process",
            "prompted",
            "--survey",
            survey,
            "--store",
            &store.display().to_string(),
        ],
    );
    let events: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    events
        .into_iter()
        .find(|e| e["question_id"] == "recommend")
        .expect("a score event for the question")
}

#[test]
fn process_subtracts_the_prompts_a_survey_names_and_reads_the_answer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let knowing = answer(&dir.path().join("knowing"), "surveys/nps-prompted.toml");
    assert_eq!(knowing["status"], "answered", "{knowing}");
    assert_eq!(knowing["value"], 9, "{knowing}");

    // the same survey without its prompt audio
    let fixture =
        std::fs::read_to_string(fixtures().join("surveys/nps-prompted.toml")).expect("the survey");
    let without: String = fixture
        .lines()
        .filter(|line| !line.contains("prompt_audio"))
        .map(|line| format!("{line}\n"))
        .collect();
    let plain_survey = dir.path().join("plain.toml");
    std::fs::write(&plain_survey, without).expect("writes");
    let plain = answer(
        &dir.path().join("plain"),
        &plain_survey.display().to_string(),
    );
    assert_ne!(
        plain["value"], 9,
        "the plain detector must lose the answer: {plain}"
    );

    // a prompt the survey names but nobody can read stops the run before any recording
    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        fixture.replace("../prompted/prompts/recommend.wav", "missing.wav"),
    )
    .expect("writes");
    let out = callscore(
        &fixtures(),
        &[
            "process",
            "prompted",
            "--survey",
            &broken.display().to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("prompt audio \"missing.wav\""), "{stderr}");
}
