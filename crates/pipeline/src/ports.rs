//! The pipeline's ports: where audio is stored and where events go. Every implementation keeps
//! the contracts written here, and runs the suite in [`crate::contract`] to show it.
//!
//! The methods are `async` so that network adapters (S3, Kafka) need no thread of their own;
//! the pipeline itself depends on no runtime, and file-backed adapters just return ready
//! futures.

use std::fmt;
use std::future::Future;

use callscore_survey::RetentionClass;
use jiff::civil::Date;
use serde::Serialize;

/// Where an object lives in a store: `TENANT/CLASS/CALLER/RECORDING.EXT`.
///
/// The layout serves the privacy officer: everything of one caller sits under
/// `TENANT/CLASS/CALLER/` for each of the four classes, so erasure lists four prefixes instead
/// of the bucket, and a store that can only expire by prefix (no tags) still expires each class
/// on its own schedule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

/// The caller segment of keys for calls whose number was withheld.
pub const WITHHELD: &str = "withheld";

impl ObjectKey {
    /// The key of a recording's audio. The parts are validated ids and pseudonyms, so the key
    /// is safe as a path.
    pub fn for_recording(
        tenant: &str,
        class: RetentionClass,
        caller: Option<&str>,
        recording_id: &str,
        extension: &str,
    ) -> ObjectKey {
        ObjectKey(format!(
            "{tenant}/{}/{}/{recording_id}.{extension}",
            class_name(class),
            caller.unwrap_or(WITHHELD)
        ))
    }

    /// The prefixes holding everything of one caller in a tenant, one per class.
    pub fn caller_prefixes(tenant: &str, caller: &str) -> Vec<String> {
        [
            RetentionClass::Respondent,
            RetentionClass::NonRespondent,
            RetentionClass::ConsentedContact,
            RetentionClass::LegalHold,
        ]
        .into_iter()
        .map(|class| format!("{tenant}/{}/{caller}/", class_name(class)))
        .collect()
    }

    /// A key as a store lists it back. Refuses keys with empty, `.` or `..` segments.
    pub fn parse(text: &str) -> Option<ObjectKey> {
        let sane = !text.is_empty()
            && text
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..");
        sane.then(|| ObjectKey(text.to_string()))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The retention class as it appears in keys, tags and events.
pub fn class_name(class: RetentionClass) -> &'static str {
    match class {
        RetentionClass::Respondent => "respondent",
        RetentionClass::NonRespondent => "non_respondent",
        RetentionClass::ConsentedContact => "consented_contact",
        RetentionClass::LegalHold => "legal_hold",
    }
}

/// What is stored with every object (as tags where the store has them, and as metadata), so
/// that retention stays enforceable from the object alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectMeta {
    /// The tenant.
    pub tenant: String,
    /// The recording's id.
    pub recording_id: String,
    /// The retention class.
    pub retention_class: &'static str,
    /// The last day the object may be kept; `None` under a legal hold.
    pub expires_on: Option<Date>,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
    /// The media type, e.g. `audio/wav`.
    pub content_type: String,
    /// Length in bytes.
    pub size: u64,
}

/// What a put did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The object was written.
    Created,
    /// The same bytes were already stored under the key (a redelivery): nothing written.
    AlreadyStored,
}

/// Whether retrying can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// A timeout, an outage, a 5xx: the same call may succeed later.
    Transient,
    /// A refusal that will not change: retrying is pointless.
    Permanent,
}

/// A store failure.
#[derive(Debug, thiserror::Error)]
#[error("{operation} {key}: {message}")]
pub struct StoreError {
    /// What was attempted: `put`, `head`, `delete`, `list`.
    pub operation: &'static str,
    /// The key or prefix.
    pub key: String,
    /// Whether to retry.
    pub retry: Retry,
    /// What went wrong.
    pub message: String,
}

impl StoreError {
    /// Other bytes are already stored under `key`: keys are deterministic, so this is a bug
    /// or a collision, never something to retry or overwrite.
    pub fn conflict(key: &ObjectKey) -> StoreError {
        StoreError {
            operation: "put",
            key: key.to_string(),
            retry: Retry::Permanent,
            message: "other bytes are already stored under this key".into(),
        }
    }
}

/// An event sink failure.
#[derive(Debug, thiserror::Error)]
#[error("publishing {what}: {message}")]
pub struct SinkError {
    /// What was published: `events` or `dead letter`.
    pub what: &'static str,
    /// Whether to retry.
    pub retry: Retry,
    /// What went wrong.
    pub message: String,
}

/// Storage for recordings' audio.
///
/// Contract (checked by [`crate::contract::audio_store`]):
/// - `put` is atomic and durable when it returns: a reader sees the whole object with its
///   metadata, or nothing;
/// - `put` is idempotent: the same bytes under the same key again return
///   [`PutOutcome::AlreadyStored`] and write nothing; other bytes under an existing key are a
///   permanent error, never an overwrite (keys are deterministic, so this means a bug or a
///   collision worth a dead letter);
/// - `head` returns the metadata stored with `put`, or `None`;
/// - `list` returns every key under a prefix, in key order;
/// - `delete` removes an object and its metadata; deleting what is not there succeeds.
pub trait AudioStore: Send + Sync {
    /// Stores `bytes` under `key` with `meta`.
    fn put(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> impl Future<Output = Result<PutOutcome, StoreError>> + Send;

    /// The metadata of the object under `key`.
    fn head(
        &self,
        key: &ObjectKey,
    ) -> impl Future<Output = Result<Option<ObjectMeta>, StoreError>> + Send;

    /// Every key under `prefix`.
    fn list(&self, prefix: &str)
    -> impl Future<Output = Result<Vec<ObjectKey>, StoreError>> + Send;

    /// Removes the object under `key`.
    fn delete(&self, key: &ObjectKey) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The URI events use to refer to an object.
    fn uri(&self, key: &ObjectKey) -> String;
}

/// An input that failed before the pipeline could start on it (unreadable, bad metadata): the
/// caller dead-letters it like any other failure.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// Where it came from.
    pub input: String,
    /// Its metadata, when that was readable.
    pub metadata: Option<Box<crate::RecordingMetadata>>,
    /// Why.
    pub failure: crate::Failure,
}

/// A source failure (acknowledging, say).
#[derive(Debug, thiserror::Error)]
#[error("acknowledging {input}: {message}")]
pub struct SourceError {
    /// The input concerned.
    pub input: String,
    /// Whether to retry.
    pub retry: Retry,
    /// What went wrong.
    pub message: String,
}

/// Where recordings come from: files, a Kafka topic.
///
/// Contract (checked by [`crate::contract::recording_source`]):
/// - every input is handed out exactly once (to one of any number of concurrent callers), as a
///   recording or, when it cannot even be read, as [`Rejected`]: never skipped in silence;
/// - after the last, `next` returns `None`, and keeps doing so;
/// - `ack` is called only after the recording's audio is stored and its events published
///   (the caller's side of the contract); a source may then forget the input (commit the
///   offset, move the file).
pub trait RecordingSource: Send + Sync {
    /// What `ack` needs to acknowledge one recording.
    type Receipt: Send;

    /// The next recording, `None` when there are no more.
    fn next(
        &self,
    ) -> impl Future<Output = Option<Result<(crate::Incoming, Self::Receipt), Rejected>>> + Send;

    /// Acknowledges a recording that was fully delivered.
    fn ack(&self, receipt: Self::Receipt) -> impl Future<Output = Result<(), SourceError>> + Send;
}

/// Where score events and dead letters go.
///
/// Contract (checked by [`crate::contract::event_sink`]):
/// - `publish` is durable when it returns: every event of the batch is delivered, in order;
///   a failure may have delivered some of them, so consumers deduplicate by event id (which
///   is deterministic: a redelivered recording produces the same ids);
/// - `dead_letter` is durable when it returns.
pub trait EventSink: Send + Sync {
    /// Publishes one recording's events, each a JSON object with an `event_id`.
    fn publish(
        &self,
        key: &str,
        events: &[serde_json::Value],
    ) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Records a recording that cannot be processed.
    fn dead_letter(
        &self,
        letter: &crate::DeadLetter,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;
}
