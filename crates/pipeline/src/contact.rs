//! [`ContactRequest`]: what callscore hands the people who follow up on a survey (a detractor
//! who asked to be called back), for callers who agreed to be contacted, and for them only. It
//! is the one message that carries the caller's number, on a stream of its own (the contact
//! topic, or a file of its own), with a short retention of its own (`expires_on`), so that the
//! scores stay pseudonymous. `callscore consent withdraw` retracts it.

use callscore_survey::Answers;
use jiff::Timestamp;
use jiff::civil::Date;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The contact request schema version this build writes.
pub const CONTACT_VERSION: u32 = 1;
/// File name of the contact request schema under `schemas/`.
pub const CONTACT_SCHEMA_FILE: &str = "contact-request.v1.schema.json";

/// A caller's request to be contacted about their answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "callscore contact request, schema version 1")]
pub struct ContactRequest {
    /// Always 1 in this schema.
    pub schema_version: u32,
    /// Deterministic from the tenant and recording: the key on the contact topic.
    pub request_id: String,
    /// The tenant.
    pub tenant: String,
    /// The recording the answers come from.
    pub recording_id: String,
    /// The call.
    pub call_id: String,
    /// The number to call back, as the IVR gave it. The one place it goes.
    pub caller_number: String,
    /// The caller's pseudonym in the scores, to find the facts the request is about.
    pub caller_pseudonym: Option<String>,
    /// The survey.
    pub survey_id: String,
    /// The answers that prompted it.
    pub answers: Vec<ContactAnswer>,
    /// When the call started.
    pub call_started_at: Timestamp,
    /// The last day the request may be kept (its own, short retention): a consumer deletes it
    /// then, and the contact topic's retention should not be longer.
    pub expires_on: Date,
}

/// One answer, as the person calling back needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContactAnswer {
    /// The question.
    pub question_id: String,
    /// Its status (`answered`, `no_input`, …).
    pub status: String,
    /// The value, when answered.
    pub value: Option<u32>,
}

impl ContactRequest {
    /// The request id of a recording: 32 hex digits of SHA-256 over the tenant and the
    /// recording id.
    pub fn id(tenant: &str, recording_id: &str) -> String {
        let mut hash = Sha256::new();
        for part in ["contact", tenant, recording_id] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        crate::hex(&hash.finalize())[..32].to_string()
    }

    /// The answers in a request's terms.
    pub fn answers(answers: &Answers) -> Vec<ContactAnswer> {
        answers
            .questions
            .iter()
            .map(|a| ContactAnswer {
                question_id: a.question_id.clone(),
                status: a.status.name().to_string(),
                value: a
                    .value
                    .filter(|_| a.status == callscore_survey::Status::Answered),
            })
            .collect()
    }
}
