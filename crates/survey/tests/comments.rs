//! Comment questions: validated like every other setting, windowed by the question offsets,
//! the terminator, the maximum length and the hang-up, answered by the speech heard.

use std::time::Duration;

use callscore_survey::{
    AudioRef, ClipRef, CommentEnd, EventContext, Key, KeyInput, KeyPress, QuestionOffset,
    Retention, RetentionClass, Spoken, Status, Survey, events, extract,
};

const SURVEY: &str = r#"
id = "post-call"
version = 1
[[questions]]
id = "recommend"
kind = "nps"
[[questions]]
id = "why"
kind = "comment"
comment = { listen_after = "3s", max_duration = "20s", min_speech = "1s", language = "nl" }
[[questions]]
id = "resolved"
kind = "yes_no"
"#;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn press(key: Key, at: u64) -> KeyPress {
    KeyPress::new(key, ms(at), ms(at + 90))
}

fn offsets(list: &[(&str, u64)]) -> Vec<QuestionOffset> {
    list.iter()
        .map(|&(id, at)| QuestionOffset {
            question_id: id.into(),
            offset: ms(at),
        })
        .collect()
}

fn problems(toml: &str) -> Vec<String> {
    match Survey::from_toml(toml) {
        Err(callscore_survey::Error::Definition { problems }) => problems,
        other => panic!("expected definition problems, got {other:?}"),
    }
}

#[test]
fn a_comment_question_is_validated_like_every_other_setting() {
    let survey = Survey::from_toml(SURVEY).expect("valid");
    let settings = survey.questions()[1].comment.clone().expect("settings");
    assert_eq!(settings.listen_after, ms(3000));
    assert_eq!(settings.max_duration, ms(20_000));
    assert_eq!(settings.language.as_deref(), Some("nl"));

    let head = "id = \"s\"\nversion = 1\n[[questions]]\nid = \"q\"\n";
    assert_eq!(
        problems(&format!(
            "{head}kind = \"comment\"\nmax_attempts = 2\ncomment = {{ min_speech = \"90s\", language = \"dutch!\" }}\n"
        )),
        [
            "questions[0].max_attempts: not allowed for kind comment, which has no keyed entry",
            "questions[0].comment.min_speech: must be more than 0s and at most max_duration",
            "questions[0].comment.language: \"dutch!\" is not a language tag; write e.g. \"nl\" or \"en-GB\"",
        ]
    );
    assert_eq!(
        problems(&format!(
            "{head}kind = \"nps\"\ncomment = {{ max_duration = \"30s\" }}\n"
        )),
        ["questions[0].comment: not allowed for kind nps"]
    );
    assert_eq!(
        problems(&format!(
            "{head}kind = \"comment\"\ncomment = {{ max_duration = \"2h\" }}\n"
        )),
        ["questions[0].comment.max_duration: must be more than 0s and at most 600s"]
    );
    // the defaults: listen from the question's start, for at most a minute, a second of speech
    let plain = Survey::from_toml(&format!("{head}kind = \"comment\"\n")).expect("valid");
    let settings = plain.questions()[0].comment.clone().expect("settings");
    assert_eq!(
        (
            settings.listen_after,
            settings.max_duration,
            settings.min_speech
        ),
        (Duration::ZERO, ms(60_000), ms(1000))
    );
}

#[test]
fn the_window_closes_at_the_terminator_the_next_question_the_limit_or_the_hang_up() {
    let survey = Survey::from_toml(SURVEY).expect("valid");
    let window = |keys: Vec<KeyPress>, offsets: Vec<QuestionOffset>, duration: u64| {
        let input = KeyInput {
            duration: ms(duration),
            out_of_band: Some(keys),
            question_offsets: offsets,
            ..KeyInput::default()
        };
        let answers = extract(&survey, &input).expect("answers");
        let (index, window) = answers.comment_windows()[0];
        assert_eq!(index, 1);
        assert_eq!(answers.questions[1].status, Status::NoInput);
        (answers, window)
    };
    let asked = offsets(&[("recommend", 1000), ("why", 6000), ("resolved", 40_000)]);

    // "#" closes the comment; the "1" after it answers the next question
    let (answers, w) = window(
        vec![
            press(Key::D9, 3000),
            press(Key::Hash, 15_000),
            press(Key::D1, 42_000),
        ],
        asked.clone(),
        50_000,
    );
    assert_eq!(
        (w.start, w.end, w.ended_by),
        (ms(9000), ms(15_000), CommentEnd::Terminator)
    );
    assert_eq!(answers.questions[1].raw_keys(), "#");
    assert_eq!(answers.questions[2].value, Some(1));

    // no key: the IVR's limit of 20 s
    let (_, w) = window(vec![press(Key::D9, 3000)], asked.clone(), 50_000);
    assert_eq!(
        (w.start, w.end, w.ended_by),
        (ms(9000), ms(29_000), CommentEnd::MaxDuration)
    );

    // the next question starts before the limit
    let close = offsets(&[("recommend", 1000), ("why", 6000), ("resolved", 20_000)]);
    let (_, w) = window(vec![press(Key::D9, 3000)], close, 50_000);
    assert_eq!((w.end, w.ended_by), (ms(20_000), CommentEnd::NextQuestion));

    // the caller hangs up while speaking
    let (_, w) = window(vec![press(Key::D9, 3000)], asked, 12_000);
    assert_eq!((w.end, w.ended_by), (ms(12_000), CommentEnd::HangUp));

    // without offsets, the comment follows the previous entry (closed by its timeout)
    let (_, w) = window(vec![press(Key::D9, 3000)], Vec::new(), 60_000);
    assert_eq!(w.start, ms(3090 + 3000 + 3000));
}

#[test]
fn speech_answers_the_comment_and_reaches_its_events() {
    let survey = Survey::from_toml(SURVEY).expect("valid");
    let input = KeyInput {
        duration: ms(40_000),
        out_of_band: Some(vec![press(Key::D9, 3000)]),
        question_offsets: offsets(&[("recommend", 1000), ("why", 6000)]),
        ..KeyInput::default()
    };
    let mut answers = extract(&survey, &input).expect("answers");
    let heard = |start: u64, end: u64, speech: u64| Spoken {
        start: ms(start),
        end: ms(end),
        speech: ms(speech),
        ratio: 0.3,
        level_dbm0: Some(-21.5),
    };

    // a cough is no comment
    answers
        .hear(&survey, 1, Some(heard(9500, 10_100, 600)))
        .expect("heard");
    assert_eq!(answers.questions[1].status, Status::NoInput);
    // speech outside the window is refused, and so is a question that is no comment
    assert!(
        answers
            .hear(&survey, 1, Some(heard(8000, 12_000, 3000)))
            .is_err()
    );
    assert!(answers.hear(&survey, 0, None).is_err());

    answers
        .hear(&survey, 1, Some(heard(9500, 14_000, 3800)))
        .expect("heard");
    assert_eq!(answers.questions[1].status, Status::Answered);
    assert_eq!(answers.comments(), 1);
    let comment = answers.questions[1].comment.as_mut().expect("comment");
    comment.clip = Some(ClipRef {
        uri: "file:///store/why.opus".into(),
        sha256: "cd".repeat(32),
        content_type: "audio/ogg; codecs=opus".into(),
        start: ms(9250),
        end: ms(14_250),
    });

    let at = "2025-03-01T09:00:00Z".parse().expect("timestamp");
    let context = EventContext {
        tenant: "acme".into(),
        recording_id: "rec-1".into(),
        call_id: "call-1".into(),
        caller_pseudonym: None,
        audio: AudioRef {
            uri: "file:///store/audio.wav".into(),
            sha256: "ab".repeat(32),
        },
        retention: Retention {
            class: RetentionClass::Respondent,
            expires_on: Some(jiff::civil::date(2025, 6, 1)),
        },
        call_started_at: at,
        received_at: at,
        processed_at: at,
        pipeline_version: "test".into(),
    };
    let built = events(&survey, &answers, &context).expect("events");
    let facts = built.scores[1].comment.clone().expect("comment facts");
    assert_eq!(built.scores[1].status, Status::Answered);
    assert_eq!(built.scores[1].value, None);
    assert_eq!((facts.window_start_ms, facts.window_end_ms), (9000, 29_000));
    assert_eq!(
        (facts.speech_start_ms, facts.speech_end_ms),
        (Some(9500), Some(14_000))
    );
    assert_eq!(facts.speech_ms, 3800);
    assert_eq!(facts.language.as_deref(), Some("nl"));
    let clip = facts.clip.expect("clip");
    assert_eq!(
        (clip.start_ms, clip.end_ms, clip.duration_ms),
        (9250, 14_250, 5000)
    );
    assert!(built.scores[0].comment.is_none());
    assert_eq!(built.response.comments, 1);
    assert_eq!(built.response.status_counts.answered, 2);
    // every field is always written: `null` for a question that is no comment
    let plain = serde_json::to_value(&built.scores[0]).expect("json");
    assert_eq!(plain.get("comment"), Some(&serde_json::Value::Null));
}
