//! Why a recording could not be processed, and the dead-letter record that keeps it.

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ports::Retry;

/// The step of the processing path that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Reading the input or its metadata.
    Intake,
    /// Decoding the audio.
    Decode,
    /// Turning key presses into answers and events.
    Score,
    /// Storing the audio.
    Store,
    /// Publishing the events.
    Publish,
}

impl Stage {
    /// The stage's name, for metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Intake => "intake",
            Stage::Decode => "decode",
            Stage::Score => "score",
            Stage::Store => "store",
            Stage::Publish => "publish",
        }
    }
}

/// A bounded set of failure reasons: safe as metric labels and stable for dead-letter readers.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The input could not be read (a transient I/O problem).
    Unreadable,
    /// The metadata is missing, malformed or invalid.
    InvalidMetadata,
    /// The metadata names a survey this deployment does not know.
    UnknownSurvey,
    /// The audio is in a format or codec callscore does not decode.
    UnsupportedAudio,
    /// The audio is broken.
    UndecodableAudio,
    /// The audio holds no samples.
    EmptyAudio,
    /// The input is over a configured limit.
    OverLimit,
    /// The metadata names a channel the recording does not have.
    NoSuchChannel,
    /// The audio reference names nothing this service may read: another bucket, another
    /// tenant's prefix, a missing object, or bytes whose checksum differs.
    InvalidReference,
    /// The answers could not be turned into events.
    InvalidScore,
    /// A privacy request (erasure, export, consent) is malformed.
    InvalidRequest,
    /// The store refused or failed.
    StoreFailed,
    /// The event sink refused or failed.
    PublishFailed,
}

impl Reason {
    /// The reason's name, as in dead letters and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unreadable => "unreadable",
            Reason::InvalidMetadata => "invalid_metadata",
            Reason::UnknownSurvey => "unknown_survey",
            Reason::UnsupportedAudio => "unsupported_audio",
            Reason::UndecodableAudio => "undecodable_audio",
            Reason::EmptyAudio => "empty_audio",
            Reason::OverLimit => "over_limit",
            Reason::NoSuchChannel => "no_such_channel",
            Reason::InvalidReference => "invalid_reference",
            Reason::InvalidScore => "invalid_score",
            Reason::InvalidRequest => "invalid_request",
            Reason::StoreFailed => "store_failed",
            Reason::PublishFailed => "publish_failed",
        }
    }
}

/// Why one recording failed.
///
/// The message is redacted when the failure is made ([`crate::redact`]): whatever an adapter
/// or a parser put in it, it never quotes a phone number, so it is safe for logs, dead letters
/// and their headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} failed ({}): {message}", stage.as_str(), reason.as_str())]
pub struct Failure {
    /// Where.
    pub stage: Stage,
    /// Why, from a bounded set.
    pub reason: Reason,
    /// Whether to retry, or to dead-letter.
    pub retry: Retry,
    message: String,
}

impl Failure {
    /// A failure, its message redacted.
    pub fn new(stage: Stage, reason: Reason, retry: Retry, message: impl AsRef<str>) -> Failure {
        Failure {
            stage,
            reason,
            retry,
            message: crate::redact::redact(message.as_ref()).into_owned(),
        }
    }

    /// A failure that will not go away by retrying.
    pub fn permanent(stage: Stage, reason: Reason, message: impl AsRef<str>) -> Failure {
        Failure::new(stage, reason, Retry::Permanent, message)
    }

    /// Whether the same input will fail again (so it goes to the dead letters).
    pub fn is_permanent(&self) -> bool {
        self.retry == Retry::Permanent
    }

    /// The details, for people. Never holds a phone number.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same failure with the given numbers (a recording's caller and called numbers)
    /// masked in its message in whatever formatting it quotes them.
    pub fn redacted(mut self, numbers: &[&str]) -> Failure {
        if !numbers.is_empty() {
            self.message = crate::redact::redact_known(&self.message, numbers).into_owned();
        }
        self
    }

    /// The same failure, now permanent: a retry policy gave up on it.
    pub fn given_up(mut self, attempts: u32) -> Failure {
        self.retry = Retry::Permanent;
        self.message = format!("{} (gave up after {attempts} attempts)", self.message);
        self
    }

    /// A blocked failure that ends the run after `attempts` (a batch with no one to restore
    /// access): fatal, its message saying so.
    pub fn stopped_after(mut self, attempts: u32) -> Failure {
        self.retry = Retry::Fatal;
        self.message = format!(
            "{} (still refused after {attempts} attempts: the run stops)",
            self.message
        );
        self
    }
}

/// The record of a recording that could not be processed: enough to find the original input
/// and to know what to fix. Dead letters are never dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeadLetter {
    /// Always `dead_letter`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where the input came from: a file path (a number in it masked), or
    /// `topic/partition/offset`.
    pub input: String,
    /// The recording's id, when the metadata was readable.
    pub recording_id: Option<String>,
    /// The tenant, when the metadata was readable.
    pub tenant: Option<String>,
    /// The failing stage.
    pub stage: Stage,
    /// Why, from a bounded set.
    pub reason: Reason,
    /// Details for people; never a phone number.
    pub message: String,
    /// When the failure happened.
    pub failed_at: Timestamp,
}

impl DeadLetter {
    /// The dead letter of `failure` for the input at `input`.
    pub fn new(
        input: &str,
        recording: Option<&crate::RecordingMetadata>,
        failure: &Failure,
        failed_at: Timestamp,
    ) -> DeadLetter {
        let numbers = recording.map(|m| m.numbers()).unwrap_or_default();
        DeadLetter {
            kind: "dead_letter".into(),
            input: crate::redact::redact_known(input, &numbers).into_owned(),
            recording_id: recording.map(|m| m.recording_id.clone()),
            tenant: recording.map(|m| m.tenant.clone()),
            stage: failure.stage,
            reason: failure.reason,
            message: crate::redact::redact_known(&failure.message, &numbers).into_owned(),
            failed_at,
        }
    }
}
