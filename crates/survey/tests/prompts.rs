//! A survey names the audio of its prompts, so that they can be subtracted from recordings
//! where the caller is mixed with them.

use callscore_survey::{Error, Survey};

const SURVEY: &str = r#"
id = "nps-prompted"
version = 1
other_prompt_audio = ["prompts/welcome.wav", "prompts/thanks.wav"]

[[questions]]
id = "recommend"
kind = "nps"
prompt_audio = "prompts/recommend.wav"

[[questions]]
id = "satisfied"
kind = "csat"
"#;

#[test]
fn prompt_audio_is_listed_questions_first_then_the_other_prompts() {
    let survey = Survey::from_toml(SURVEY).expect("a valid survey");
    assert_eq!(
        survey.prompt_audio(),
        vec![
            "prompts/recommend.wav",
            "prompts/welcome.wav",
            "prompts/thanks.wav"
        ]
    );
    assert_eq!(
        survey
            .question("recommend")
            .and_then(|q| q.prompt_audio.as_deref()),
        Some("prompts/recommend.wav")
    );
    assert_eq!(
        survey
            .question("satisfied")
            .map(|q| q.prompt_audio.is_none()),
        Some(true)
    );
}

#[test]
fn an_empty_name_or_a_url_is_refused_by_key_path() {
    let bad = SURVEY.replace("\"prompts/thanks.wav\"", "\"\"").replace(
        "\"prompts/recommend.wav\"",
        "\"https://ivr.example/recommend.wav\"",
    );
    match Survey::from_toml(&bad) {
        Err(Error::Definition { problems }) => {
            assert_eq!(problems.len(), 2, "{problems:?}");
            assert!(
                problems[0].starts_with("other_prompt_audio[1]: must name an audio file"),
                "{problems:?}"
            );
            assert!(
                problems[1].starts_with("questions[0].prompt_audio: "),
                "{problems:?}"
            );
        }
        other => panic!("expected definition problems, got {other:?}"),
    }
}
