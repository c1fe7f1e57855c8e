//! Score events, schema version 1: the contract with the data engineers.
//!
//! One [`ScoreEvent`] per question (answered or not) and one [`ResponseEvent`] per recording.
//! Both carry everything a consumer needs to use the fact on its own; both have deterministic
//! ids, so reprocessing a recording yields the same ids and a consumer (or a compacted topic)
//! deduplicates them. Fields may be added in later minor changes of version 1, always
//! optional; nothing is removed or retyped without a new schema version.

use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::comment::{Comment, CommentEnd};
use crate::press::{Press, Source, SourceReport};
use crate::{Answer, Answers, Error, Kind, QualityFlag, Scale, Segmentation, Status, Survey};

/// The schema version every event of this crate carries.
pub const SCHEMA_VERSION: u32 = 1;

/// Where the recording's audio is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AudioRef {
    /// The stored object, e.g. `s3://bucket/tenant/…/recording.wav`.
    pub uri: String,
    /// SHA-256 of the stored bytes, lowercase hex.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
}

/// Why and how long the recording's data is kept.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RetentionClass {
    /// The caller answered at least one question.
    Respondent,
    /// The caller answered nothing; kept the shortest time.
    NonRespondent,
    /// The caller agreed to be contacted about their answers; kept longer.
    ConsentedContact,
    /// Kept until a legal hold is lifted, whatever the policy says.
    LegalHold,
}

impl RetentionClass {
    /// The class the answers alone imply: respondent or non-respondent. The pipeline chooses
    /// `consented_contact` or `legal_hold` from information this crate does not have.
    pub fn for_answers(answers: &Answers) -> RetentionClass {
        if answers.is_respondent() {
            RetentionClass::Respondent
        } else {
            RetentionClass::NonRespondent
        }
    }
}

/// The retention decision for a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Retention {
    /// The class.
    pub class: RetentionClass,
    /// The day the audio and these facts are to be deleted; `null` only under legal hold.
    pub expires_on: Option<Date>,
}

/// What the pipeline knows about a recording, beyond its keys, for its events. Every event of
/// the recording carries these fields at its top level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EventContext {
    /// The tenant (call centre) the recording belongs to.
    pub tenant: String,
    /// The recording's id, unique within the tenant.
    pub recording_id: String,
    /// The call's id in the IVR.
    pub call_id: String,
    /// The caller's pseudonym, `null` when the number was withheld. Never a phone number: a
    /// value of 6 to 15 digits alone (with `+`, spaces, dashes or brackets) is refused.
    pub caller_pseudonym: Option<String>,
    /// Where the audio is stored.
    pub audio: AudioRef,
    /// How long it is kept.
    pub retention: Retention,
    /// When the call started.
    pub call_started_at: Timestamp,
    /// When callscore received the recording.
    pub received_at: Timestamp,
    /// When callscore processed it. Not part of any event id.
    pub processed_at: Timestamp,
    /// The version of the pipeline that produced the events.
    pub pipeline_version: String,
}

/// Marks a score event in a stream that mixes event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScoreEventType {
    /// Always `score`.
    Score,
}

/// Marks a response event in a stream that mixes event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseEventType {
    /// Always `response`.
    Response,
}

/// Which sources saw a question's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DetectionSource {
    /// Every key only in band (the detector).
    InBand,
    /// Every key only out of band (RFC 4733 events).
    OutOfBand,
    /// Every key by both.
    Both,
    /// Some keys by one source, some by the other or both.
    Mixed,
}

/// Net Promoter category of an NPS answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NpsCategory {
    /// 9 or 10.
    Promoter,
    /// 7 or 8.
    Passive,
    /// 0 to 6.
    Detractor,
}

impl NpsCategory {
    /// The category of an NPS value.
    pub fn of(value: u32) -> NpsCategory {
        match value {
            9.. => NpsCategory::Promoter,
            7..=8 => NpsCategory::Passive,
            _ => NpsCategory::Detractor,
        }
    }
}

/// One key press of a question, with its timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KeyTiming {
    /// The key: `0`-`9`, `*`, `#`, `A`-`D`.
    #[schemars(regex(pattern = r"^[0-9*#A-D]$"))]
    pub key: String,
    /// Start, in milliseconds from the start of the recording.
    pub start_ms: u64,
    /// End, in milliseconds from the start of the recording.
    pub end_ms: u64,
    /// Which source saw it.
    pub source: Source,
    /// The detector's quality figure, 0-1; `null` when only the out-of-band events have it.
    pub confidence: Option<f32>,
    /// The two sources disagree about this press.
    pub disputed: bool,
}

/// One question's outcome in one recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "callscore score event, schema version 1")]
pub struct ScoreEvent {
    /// Always 1 in this schema.
    pub schema_version: u32,
    /// Always `score`.
    pub event_type: ScoreEventType,
    /// Deterministic: the same tenant, recording, survey id and version and question give the
    /// same id, however often the recording is processed. A UUID (version 8) from SHA-256.
    pub event_id: String,
    /// The recording, the caller, the stored audio and its retention, the times and the
    /// pipeline; the same in every event of the recording.
    #[serde(flatten)]
    pub context: EventContext,
    /// The survey definition's id.
    pub survey_id: String,
    /// The survey definition's version.
    pub survey_version: u32,
    /// The question.
    pub question_id: String,
    /// The question's position in the survey, from 0.
    pub question_index: u32,
    /// The kind of question.
    pub kind: Kind,
    /// Its valid values (for `choice`, the smallest and largest code).
    pub scale: Scale,
    /// What came of the question.
    pub status: Status,
    /// The answer, when `status` is `answered`.
    pub value: Option<u32>,
    /// The label of the answer: the choice's label, or `yes`/`no`.
    pub label: Option<String>,
    /// Entries the caller made for this question.
    pub attempts: u32,
    /// Every key attributed to the question, as typed (terminators and cancels included).
    #[schemars(regex(pattern = r"^[0-9*#A-D]*$"))]
    pub raw_keys: String,
    /// Those keys with their timing.
    pub keys: Vec<KeyTiming>,
    /// When the question's prompt started, in milliseconds from the start of the recording,
    /// if known.
    pub prompt_start_ms: Option<u64>,
    /// Which sources saw the keys; `null` without keys.
    pub detection_source: Option<DetectionSource>,
    /// The lowest detector confidence among the keys; `null` when the detector saw none.
    pub confidence: Option<f32>,
    /// Quality flags of this question.
    pub quality_flags: Vec<QualityFlag>,
    /// For an answered `nps` question.
    pub nps_category: Option<NpsCategory>,
    /// For an answered `csat` question: the answer is 4 or 5.
    pub csat_top2_box: Option<bool>,
    /// For an answered `ces` question: the answer is 5, 6 or 7 (CES 2.0: agrees that it was
    /// easy).
    pub ces_low_effort: Option<bool>,
    /// For a `comment` question: where it listened, the speech heard and its stored clip;
    /// `null` for every other kind.
    #[serde(default)]
    pub comment: Option<CommentFacts>,
}

/// A comment question's facts. Times are milliseconds from the start of the recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CommentFacts {
    /// When listening began.
    pub window_start_ms: u64,
    /// When it ended.
    pub window_end_ms: u64,
    /// What ended it.
    pub ended_by: CommentEnd,
    /// Start of the first stretch of speech; `null` without speech.
    pub speech_start_ms: Option<u64>,
    /// End of the last stretch of speech; `null` without speech.
    pub speech_end_ms: Option<u64>,
    /// Total speech, pauses excluded.
    pub speech_ms: u64,
    /// Speech as a share of the window, 0-1.
    pub speech_ratio: f32,
    /// Active speech level in dBm0; `null` without speech.
    pub level_dbm0: Option<f32>,
    /// The language the survey asked the comment in (BCP 47), if it names one.
    pub language: Option<String>,
    /// The stored clip of an answered comment; erased and expired with the recording.
    pub clip: Option<ClipFacts>,
    /// The transcription request made for the clip (its `request_id`).
    pub transcription_request_id: Option<String>,
}

/// A comment's stored clip: the speech with 250 ms around it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClipFacts {
    /// Where the clip is stored.
    pub uri: String,
    /// SHA-256 of the stored bytes, lowercase hex.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
    /// Its media type.
    pub content_type: String,
    /// Where it starts in the recording.
    pub start_ms: u64,
    /// Where it ends in the recording.
    pub end_ms: u64,
    /// Its length.
    pub duration_ms: u64,
}

impl CommentFacts {
    fn of(comment: &Comment) -> CommentFacts {
        let spoken = comment.spoken.as_ref();
        CommentFacts {
            window_start_ms: millis(comment.window.start),
            window_end_ms: millis(comment.window.end),
            ended_by: comment.window.ended_by,
            speech_start_ms: spoken.map(|s| millis(s.start)),
            speech_end_ms: spoken.map(|s| millis(s.end)),
            speech_ms: spoken.map_or(0, |s| millis(s.speech)),
            speech_ratio: spoken.map_or(0.0, |s| s.ratio),
            level_dbm0: spoken.and_then(|s| s.level_dbm0),
            language: comment.language.clone(),
            clip: comment.clip.as_ref().map(|clip| ClipFacts {
                uri: clip.uri.clone(),
                sha256: clip.sha256.clone(),
                content_type: clip.content_type.clone(),
                start_ms: millis(clip.start),
                end_ms: millis(clip.end),
                duration_ms: millis(clip.end.saturating_sub(clip.start)),
            }),
            transcription_request_id: comment.transcription_request_id.clone(),
        }
    }
}

/// Questions per status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct StatusCounts {
    /// Questions answered.
    pub answered: u32,
    /// Questions whose last entry was out of range.
    pub invalid: u32,
    /// Questions without an entry.
    pub no_input: u32,
    /// Questions whose last entry was cancelled.
    pub cancelled: u32,
    /// Questions the caller hung up on mid-entry.
    pub partial: u32,
}

/// One recording's outcome as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "callscore response event, schema version 1")]
pub struct ResponseEvent {
    /// Always 1 in this schema.
    pub schema_version: u32,
    /// Always `response`.
    pub event_type: ResponseEventType,
    /// Deterministic, like the score events' ids.
    pub event_id: String,
    /// The recording, the caller, the stored audio and its retention, the times and the
    /// pipeline; the same in every event of the recording.
    #[serde(flatten)]
    pub context: EventContext,
    /// The survey definition's id.
    pub survey_id: String,
    /// The survey definition's version.
    pub survey_version: u32,
    /// At least one question was answered. A non-respondent's data is kept for less time.
    pub respondent: bool,
    /// Questions in the survey (and score events for this recording).
    pub questions: u32,
    /// Questions per status.
    pub status_counts: StatusCounts,
    /// How the keys were divided between the questions.
    pub segmentation: Segmentation,
    /// Length of the recording in milliseconds.
    pub duration_ms: u64,
    /// Keys attributed to no question (before the survey, or after its last question).
    #[schemars(regex(pattern = r"^[0-9*#A-D]*$"))]
    pub unassigned_keys: String,
    /// How the in-band detector and the out-of-band events compared.
    pub key_sources: SourceReport,
    /// Quality flags of the recording: every question's, plus `straight_lining`.
    pub quality_flags: Vec<QualityFlag>,
    /// Comment questions answered with speech (each also counted in `status_counts`).
    #[serde(default)]
    pub comments: u32,
}

/// Every event of one recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Events {
    /// One per question, in survey order.
    pub scores: Vec<ScoreEvent>,
    /// The recording's response event.
    pub response: ResponseEvent,
}

/// Builds the events of one recording from its answers and the pipeline's context.
///
/// Refuses answers that belong to a different survey (or version), and a context that
/// contradicts itself or the answers: an empty id, a checksum that is not SHA-256 hex, a
/// caller "pseudonym" that is a phone number, a retention class of `respondent` for a
/// non-respondent or the reverse, a missing expiry date outside legal hold.
pub fn events(survey: &Survey, answers: &Answers, ctx: &EventContext) -> Result<Events, Error> {
    check_answers(survey, answers)?;
    check_context(ctx, answers)?;

    let scores = survey
        .questions()
        .iter()
        .zip(&answers.questions)
        .enumerate()
        .map(|(index, (question, answer))| {
            let value = answer.value.filter(|_| answer.status == Status::Answered);
            let is = |kind| question.kind == kind;
            ScoreEvent {
                schema_version: SCHEMA_VERSION,
                event_type: ScoreEventType::Score,
                event_id: event_id("score", survey, ctx, &question.id),
                context: ctx.clone(),
                survey_id: survey.id().to_string(),
                survey_version: survey.version(),
                question_id: question.id.clone(),
                question_index: u32::try_from(index).unwrap_or(u32::MAX),
                kind: question.kind,
                scale: question.scale,
                status: answer.status,
                value,
                label: value.and_then(|v| question.label(v)).map(str::to_string),
                attempts: answer.attempts,
                raw_keys: answer.raw_keys(),
                keys: answer.presses.iter().map(key_timing).collect(),
                prompt_start_ms: answer.prompt_start.map(millis),
                detection_source: detection_source(answer),
                confidence: answer
                    .presses
                    .iter()
                    .filter_map(|p| p.confidence)
                    .min_by(f32::total_cmp),
                quality_flags: answer.flags.clone(),
                nps_category: value.filter(|_| is(Kind::Nps)).map(NpsCategory::of),
                csat_top2_box: value.filter(|_| is(Kind::Csat)).map(|v| v >= 4),
                ces_low_effort: value.filter(|_| is(Kind::Ces)).map(|v| v >= 5),
                comment: answer.comment.as_ref().map(CommentFacts::of),
            }
        })
        .collect();

    let count = |status| u32::try_from(answers.count(status)).unwrap_or(u32::MAX);
    let response = ResponseEvent {
        schema_version: SCHEMA_VERSION,
        event_type: ResponseEventType::Response,
        event_id: event_id("response", survey, ctx, ""),
        context: ctx.clone(),
        survey_id: survey.id().to_string(),
        survey_version: survey.version(),
        respondent: answers.is_respondent(),
        questions: u32::try_from(answers.questions.len()).unwrap_or(u32::MAX),
        status_counts: StatusCounts {
            answered: count(Status::Answered),
            invalid: count(Status::Invalid),
            no_input: count(Status::NoInput),
            cancelled: count(Status::Cancelled),
            partial: count(Status::Partial),
        },
        segmentation: answers.segmentation,
        duration_ms: millis(answers.duration),
        unassigned_keys: answers.unassigned.iter().map(|p| p.key.as_char()).collect(),
        key_sources: answers.sources,
        quality_flags: answers.flags.clone(),
        comments: u32::try_from(answers.comments()).unwrap_or(u32::MAX),
    };
    Ok(Events { scores, response })
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn key_timing(p: &Press) -> KeyTiming {
    KeyTiming {
        key: p.key.as_char().to_string(),
        start_ms: millis(p.start),
        end_ms: millis(p.end),
        source: p.source,
        confidence: p.confidence,
        disputed: p.disputed,
    }
}

fn detection_source(answer: &Answer) -> Option<DetectionSource> {
    let first = answer.presses.first()?.source;
    if answer.presses.iter().any(|p| p.source != first) {
        return Some(DetectionSource::Mixed);
    }
    Some(match first {
        Source::InBand => DetectionSource::InBand,
        Source::OutOfBand => DetectionSource::OutOfBand,
        Source::Both => DetectionSource::Both,
    })
}

/// A UUID-formatted id from SHA-256 over what identifies the fact, each part prefixed with its
/// length so that no two different part lists hash the same bytes. Processing time is not
/// part of it: the same fact always has the same id.
fn event_id(event_type: &str, survey: &Survey, ctx: &EventContext, question_id: &str) -> String {
    let version = survey.version().to_string();
    let schema = SCHEMA_VERSION.to_string();
    let parts = [
        "callscore",
        event_type,
        &schema,
        &ctx.tenant,
        &ctx.recording_id,
        survey.id(),
        &version,
        question_id,
    ];
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    // RFC 9562: version 8 ("custom") in the high nibble of byte 6, variant 0b10 in byte 8.
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn check_answers(survey: &Survey, answers: &Answers) -> Result<(), Error> {
    let same_questions = answers.questions.len() == survey.questions().len()
        && answers
            .questions
            .iter()
            .zip(survey.questions())
            .all(|(a, q)| a.question_id == q.id);
    if answers.survey_id != survey.id()
        || answers.survey_version != survey.version()
        || !same_questions
    {
        return Err(Error::input(
            "answers",
            format!(
                "are for survey {} version {}, not survey {} version {}",
                answers.survey_id,
                answers.survey_version,
                survey.id(),
                survey.version()
            ),
        ));
    }
    Ok(())
}

fn check_context(ctx: &EventContext, answers: &Answers) -> Result<(), Error> {
    for (path, value) in [
        ("tenant", &ctx.tenant),
        ("recording_id", &ctx.recording_id),
        ("call_id", &ctx.call_id),
        ("pipeline_version", &ctx.pipeline_version),
        ("audio.uri", &ctx.audio.uri),
    ] {
        if value.trim().is_empty() {
            return Err(Error::context(path, "must not be empty"));
        }
    }
    let sha = &ctx.audio.sha256;
    if sha.len() != 64 || !sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(Error::context(
            "audio.sha256",
            "must be 64 lowercase hexadecimal digits",
        ));
    }
    if let Some(pseudonym) = &ctx.caller_pseudonym {
        if pseudonym.trim().is_empty() {
            return Err(Error::context(
                "caller_pseudonym",
                "must not be empty; use None",
            ));
        }
        if looks_like_phone_number(pseudonym) {
            return Err(Error::context(
                "caller_pseudonym",
                "looks like a phone number; events carry only pseudonyms",
            ));
        }
    }
    let respondent = answers.is_respondent();
    match ctx.retention.class {
        RetentionClass::Respondent if !respondent => {
            return Err(Error::context(
                "retention.class",
                "is respondent, but no question was answered",
            ));
        }
        RetentionClass::NonRespondent if respondent => {
            return Err(Error::context(
                "retention.class",
                "is non_respondent, but a question was answered",
            ));
        }
        _ => {}
    }
    if ctx.retention.expires_on.is_none() && ctx.retention.class != RetentionClass::LegalHold {
        return Err(Error::context(
            "retention.expires_on",
            "is required unless the class is legal_hold",
        ));
    }
    Ok(())
}

/// True for 6 to 15 digits (the E.164 maximum) with nothing but phone punctuation around them.
/// Pseudonyms are long hashes, so a short all-digit value is almost surely a number that
/// slipped through unpseudonymised.
fn looks_like_phone_number(value: &str) -> bool {
    let value = value
        .strip_prefix("tel:")
        .or_else(|| value.strip_prefix("sip:"))
        .unwrap_or(value);
    let digits = value.chars().filter(char::is_ascii_digit).count();
    value
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        && (6..=15).contains(&digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract;
    use crate::press::{KeyInput, KeyPress};
    use callscore_dtmf::Key;

    fn survey(version: u32) -> Survey {
        Survey::from_toml(&format!(
            "id = \"post-call\"\nversion = {version}\n\
             [[questions]]\nid = \"recommend\"\nkind = \"nps\"\n\
             [[questions]]\nid = \"satisfied\"\nkind = \"csat\"\n\
             [[questions]]\nid = \"effort\"\nkind = \"ces\"\n\
             [[questions]]\nid = \"resolved\"\nkind = \"yes_no\"\n"
        ))
        .expect("valid")
    }

    fn answers(survey: &Survey, keys: &str) -> Answers {
        // One key every 4 s, longer than the inter-digit timeout: each key is an answer.
        let presses = keys
            .chars()
            .enumerate()
            .map(|(i, c)| {
                let start = Duration::from_secs(4 * i as u64 + 1);
                KeyPress::new(
                    Key::from_char(c).expect("key"),
                    start,
                    start + Duration::from_millis(100),
                )
            })
            .collect();
        let input = KeyInput {
            duration: Duration::from_secs(60),
            out_of_band: Some(presses),
            ..KeyInput::default()
        };
        extract(survey, &input).expect("valid input")
    }

    fn context(class: RetentionClass) -> EventContext {
        let at: Timestamp = "2025-03-01T09:00:00Z".parse().expect("timestamp");
        EventContext {
            tenant: "acme".into(),
            recording_id: "rec-1".into(),
            call_id: "call-1".into(),
            caller_pseudonym: Some("c0ffee".repeat(10)),
            audio: AudioRef {
                uri: "s3://audio/acme/rec-1.wav".into(),
                sha256: "ab".repeat(32),
            },
            retention: Retention {
                class,
                expires_on: Some(Date::constant(2025, 6, 1)),
            },
            call_started_at: at,
            received_at: at,
            processed_at: at,
            pipeline_version: "0.1.0".into(),
        }
    }

    #[test]
    fn derived_fields_follow_the_kind() {
        let survey = survey(1);
        let first = events(
            &survey,
            &answers(&survey, "9471"),
            &context(RetentionClass::Respondent),
        )
        .expect("valid");
        let s = &first.scores;
        assert_eq!(s[0].nps_category, Some(NpsCategory::Promoter));
        assert_eq!((s[0].csat_top2_box, s[0].ces_low_effort), (None, None));
        assert_eq!(s[1].csat_top2_box, Some(true));
        assert_eq!(s[2].ces_low_effort, Some(true));
        assert_eq!(s[3].label.as_deref(), Some("yes"));
        assert_eq!(
            [7, 8, 6, 0, 10].map(NpsCategory::of),
            [
                NpsCategory::Passive,
                NpsCategory::Passive,
                NpsCategory::Detractor,
                NpsCategory::Detractor,
                NpsCategory::Promoter
            ]
        );
        let second = events(
            &survey,
            &answers(&survey, "632"),
            &context(RetentionClass::Respondent),
        )
        .expect("valid");
        let s = &second.scores;
        assert_eq!(s[0].nps_category, Some(NpsCategory::Detractor));
        assert_eq!(s[1].csat_top2_box, Some(false));
        assert_eq!(s[2].ces_low_effort, Some(false));
        assert_eq!(
            (s[3].status, s[3].value, s[3].nps_category),
            (Status::NoInput, None, None)
        );
    }

    #[test]
    fn event_ids_are_deterministic_and_distinct() {
        let survey1 = survey(1);
        let a = answers(&survey1, "94");
        let mut ctx = context(RetentionClass::Respondent);
        let first = events(&survey1, &a, &ctx).expect("valid");
        // Processing again later gives the same ids.
        ctx.processed_at = "2026-01-01T00:00:00Z".parse().expect("timestamp");
        let again = events(&survey1, &a, &ctx).expect("valid");
        let ids = |e: &Events| {
            let mut ids: Vec<String> = e.scores.iter().map(|s| s.event_id.clone()).collect();
            ids.push(e.response.event_id.clone());
            ids
        };
        assert_eq!(ids(&first), ids(&again));
        let mut unique = ids(&first);
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 5, "every event of a recording has its own id");
        // Another recording, tenant or survey version is another fact.
        ctx.recording_id = "rec-2".into();
        assert_ne!(
            ids(&events(&survey1, &a, &ctx).expect("valid"))[0],
            ids(&first)[0]
        );
        let survey2 = survey(2);
        let ctx = context(RetentionClass::Respondent);
        let other = events(&survey2, &answers(&survey2, "94"), &ctx).expect("valid");
        assert_ne!(ids(&other)[0], ids(&first)[0]);
        // UUID shape, version 8, RFC 9562 variant.
        let id = &ids(&first)[0];
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "8");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
    }

    #[test]
    fn length_prefixes_keep_shifted_parts_apart() {
        let survey = survey(1);
        let a = answers(&survey, "");
        let mut ctx = context(RetentionClass::NonRespondent);
        (ctx.tenant, ctx.recording_id) = ("ab".into(), "c".into());
        let one = events(&survey, &a, &ctx).expect("valid").response.event_id;
        (ctx.tenant, ctx.recording_id) = ("a".into(), "bc".into());
        let two = events(&survey, &a, &ctx).expect("valid").response.event_id;
        assert_ne!(one, two);
    }

    #[test]
    fn contradictory_contexts_are_refused() {
        let survey = survey(1);
        let answered = answers(&survey, "9");
        let silent = answers(&survey, "");
        let err = |a: &Answers, ctx: &EventContext| {
            events(&survey, a, ctx).expect_err("refused").to_string()
        };
        assert_eq!(
            err(&silent, &context(RetentionClass::Respondent)),
            "event context retention.class: is respondent, but no question was answered"
        );
        assert!(
            err(&answered, &context(RetentionClass::NonRespondent)).contains("retention.class")
        );
        let mut ctx = context(RetentionClass::ConsentedContact);
        ctx.retention.expires_on = None;
        assert!(err(&answered, &ctx).contains("retention.expires_on"));
        ctx.retention.class = RetentionClass::LegalHold;
        assert!(
            events(&survey, &answered, &ctx).is_ok(),
            "legal hold has no expiry"
        );
        for number in [
            "+31 20 123 4567",
            "0612345678",
            "tel:+442071234567",
            "(020) 123-4567",
        ] {
            let mut ctx = context(RetentionClass::Respondent);
            ctx.caller_pseudonym = Some(number.into());
            assert!(
                err(&answered, &ctx).contains("caller_pseudonym"),
                "{number}"
            );
        }
        let mut ctx = context(RetentionClass::Respondent);
        ctx.audio.sha256 = "AB".repeat(32);
        assert!(err(&answered, &ctx).contains("audio.sha256"));
        ctx = context(RetentionClass::Respondent);
        ctx.tenant = " ".into();
        assert!(err(&answered, &ctx).contains("tenant"));
        let other = self::survey(2);
        let err = events(&other, &answered, &context(RetentionClass::Respondent))
            .expect_err("answers of another version");
        assert!(
            err.to_string()
                .contains("are for survey post-call version 1"),
            "{err}"
        );
    }
}
