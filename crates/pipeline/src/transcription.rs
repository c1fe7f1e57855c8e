//! Spoken comments handed on for transcription, and the contract of what comes back.
//!
//! For every answered comment, callscore stores the clip next to the recording and makes one
//! [`TranscriptionRequest`] (on the transcription topic, or `transcription-requests.ndjson` in
//! `process`). Any speech-to-text service reads the clip at `clip.uri`, transcribes it and
//! writes a [`TranscriptEvent`] under the same key, the request's `request_id`, to the
//! transcripts topic. Both streams are keyed by that one id, so an erasure that tombstones it
//! removes the request and the transcript alike; the erasure event names it for every other
//! copy. Neither message carries the caller's number or pseudonym: the transcriber needs the
//! clip, not the person.

use callscore_survey::{ClipFacts, Retention, ScoreEvent};
use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The schema version of both messages.
pub const TRANSCRIPTION_VERSION: u32 = 1;
/// File name of the transcription request schema under `schemas/`.
pub const TRANSCRIPTION_REQUEST_SCHEMA_FILE: &str = "transcription-request.v1.schema.json";
/// File name of the transcript event schema under `schemas/`.
pub const TRANSCRIPT_SCHEMA_FILE: &str = "transcript-event.v1.schema.json";

/// A comment clip to transcribe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "callscore transcription request, schema version 1")]
pub struct TranscriptionRequest {
    /// Always 1 in this schema.
    pub schema_version: u32,
    /// Always `transcription_request`.
    pub event_type: String,
    /// Deterministic from the tenant, recording and question: the key of the request and of
    /// its transcript.
    pub request_id: String,
    /// The tenant.
    pub tenant: String,
    /// The recording the comment is in.
    pub recording_id: String,
    /// The survey.
    pub survey_id: String,
    /// The survey's version.
    pub survey_version: u32,
    /// The comment question.
    pub question_id: String,
    /// The score event of the comment, which the transcript explains.
    pub score_event_id: String,
    /// The language the caller was asked to speak in (BCP 47), when the survey names one.
    pub language: Option<String>,
    /// The clip to transcribe.
    pub clip: ClipFacts,
    /// The clip's retention: a transcript may not be kept past `expires_on` either.
    pub retention: Retention,
    /// When callscore made the request.
    pub requested_at: Timestamp,
}

impl TranscriptionRequest {
    /// The request for a score event's stored comment clip, with the event's retention;
    /// `None` for an event without one.
    pub fn of(score: &ScoreEvent, requested_at: Timestamp) -> Option<TranscriptionRequest> {
        let comment = score.comment.as_ref()?;
        Some(TranscriptionRequest {
            schema_version: TRANSCRIPTION_VERSION,
            event_type: "transcription_request".into(),
            request_id: comment.transcription_request_id.clone()?,
            tenant: score.context.tenant.clone(),
            recording_id: score.context.recording_id.clone(),
            survey_id: score.survey_id.clone(),
            survey_version: score.survey_version,
            question_id: score.question_id.clone(),
            score_event_id: score.event_id.clone(),
            language: comment.language.clone(),
            clip: comment.clip.clone()?,
            retention: score.context.retention,
            requested_at,
        })
    }

    /// The request id of a comment: 32 hex digits of SHA-256 over the tenant, the recording
    /// and the question.
    pub fn id(tenant: &str, recording_id: &str, question_id: &str) -> String {
        let mut hash = Sha256::new();
        for part in ["transcription", tenant, recording_id, question_id] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        crate::hex(&hash.finalize())[..32].to_string()
    }
}

/// What a transcriber writes back for a request, keyed by the request's `request_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "callscore transcript event, schema version 1")]
pub struct TranscriptEvent {
    /// Always 1 in this schema.
    pub schema_version: u32,
    /// Always `transcript`.
    pub event_type: String,
    /// The request's id; the key of this event.
    pub request_id: String,
    /// The tenant.
    pub tenant: String,
    /// The recording.
    pub recording_id: String,
    /// The comment question.
    pub question_id: String,
    /// The language transcribed (BCP 47).
    pub language: Option<String>,
    /// The text.
    pub text: String,
    /// The recogniser's confidence in the whole text, 0-1, when it gives one.
    pub confidence: Option<f32>,
    /// The words with their times in the clip, when the recogniser gives them.
    #[serde(default)]
    pub words: Vec<TranscriptWord>,
    /// The recogniser and its model, e.g. `pocketsphinx 5 en-us`.
    pub engine: String,
    /// Copied from the request: the transcript is deleted by then too.
    pub retention: Retention,
    /// When the transcript was made.
    pub transcribed_at: Timestamp,
}

/// One recognised word.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TranscriptWord {
    /// The word.
    pub text: String,
    /// Its start in the clip, in milliseconds.
    pub start_ms: u64,
    /// Its end in the clip, in milliseconds.
    pub end_ms: u64,
}
