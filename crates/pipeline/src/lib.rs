//! callscore's one processing path: a recording in, stored audio and score events out.
//!
//! ```text
//! Incoming (audio + RecordingMetadata)
//!   -> Pipeline::analyse   decode (callscore-audio), detect (callscore-dtmf) on the caller's
//!                          channel(s), extract answers (callscore-survey), decide retention,
//!                          pseudonymise the caller            [CPU: keep off async runtimes]
//!   -> Pipeline::deliver   AudioStore::put (tagged, idempotent), then EventSink::publish
//!   -> the caller acknowledges the input (file done, Kafka offset stored)
//! ```
//!
//! Failures carry a [`Stage`], a bounded [`Reason`] and whether a retry can help; a permanent
//! one becomes a [`DeadLetter`], so nothing is dropped silently. The ports
//! ([`RecordingSource`], [`StagedAudio`], [`AudioStore`], [`EventSink`]) are traits with
//! written contracts, checked for every adapter by the suites in `contract` (with the
//! `testsuite` feature, beside the in-memory adapters). The delivery core
//! (`callscore-worker`) runs this path over the ports in every mode: `callscore process` with
//! [`FileSource`], [`LocalStore`] and [`NdjsonSink`], `callscore serve` with Kafka and S3
//! adapters.
//!
//! Privacy by construction: the caller's number is put in one form by the tenant's numbering
//! plan ([`Numbering`]) and turned into a keyed pseudonym ([`PseudonymKey`]) before anything is
//! stored or published; object keys are laid out per
//! tenant, retention class and caller so that erasure and expiry work by prefix
//! ([`ObjectKey`]).

#![deny(missing_docs)]

pub mod audit;
mod comments;
mod contact;
#[cfg(feature = "testsuite")]
pub mod contract;
mod failure;
mod files;
mod keyring;
mod keys;
pub mod layout;
mod local;
#[cfg(feature = "testsuite")]
mod memory;
mod metadata;
mod numbers;
mod ports;
mod process;
mod pseudonym;
mod record;
pub mod redact;
mod retention;
mod transcription;

pub use comments::{CLIP_MARGIN, Clip};
pub use contact::{CONTACT_SCHEMA_FILE, CONTACT_VERSION, ContactAnswer, ContactRequest};
pub use failure::{DeadLetter, Failure, Reason, Stage};
pub use files::{FileDefaults, FileReceipt, FileSource};
pub use keyring::{Keyring, KeyringError, RingKey, key_id};
pub use keys::{DetectError, Detected, Heard, PromptHeard, detect_keys, merge};
pub use local::{ExpiredContacts, LocalStore, NdjsonSink};
#[cfg(feature = "testsuite")]
pub use memory::{MemorySink, MemoryStore};
pub use metadata::{
    Consent, METADATA_VERSION, MetadataError, OutOfBandKey, QuestionStart, RecordingMetadata,
};
pub use numbers::{MAX_E164_DIGITS, NumberPlan, Numbering, PlanError};
pub use ports::{
    AudioReference, AudioStore, Deleted, EventSink, NoStaging, ObjectKey, ObjectMeta, Payload,
    PutOutcome, Receipt, Received, RecordingSource, Rejected, Retry, SinkError, SourceError,
    StagedAudio, StoreError, Stream, Taken, WITHHELD, class_name,
};
pub use process::{Analysis, Delivered, Incoming, Pipeline, Pseudonyms, Settings, Timings};
pub use pseudonym::{KeyError, MIN_SECRET_BYTES, PseudonymKey, hex, is_pseudonym};
pub use record::{AfterHold, RECORD_VERSION, RecordRetention, RecordingRecord, StoredAudio};
pub use retention::{
    RetentionConfig, RetentionDecision, RetentionPolicy, default_contact_requests, default_max,
    fewest_days,
};
pub use transcription::{
    TRANSCRIPT_SCHEMA_FILE, TRANSCRIPTION_REQUEST_SCHEMA_FILE, TRANSCRIPTION_VERSION,
    TranscriptEvent, TranscriptWord, TranscriptionRequest,
};

/// Extension of stored objects whose input had none usable.
const OUTPUT_EXTENSION_FALLBACK: &str = "bin";

/// File name of the recording metadata schema under `schemas/`.
pub const METADATA_SCHEMA_FILE: &str = "recording-metadata.v1.schema.json";
/// File name of the recording record schema under `schemas/`.
pub const RECORD_SCHEMA_FILE: &str = "recording-record.v1.schema.json";
/// File name of the audio reference schema under `schemas/`.
pub const REFERENCE_SCHEMA_FILE: &str = "audio-reference.v1.schema.json";
/// File name of the dead-letter schema under `schemas/`.
pub const DEAD_LETTER_SCHEMA_FILE: &str = "dead-letter.v1.schema.json";

/// The schemas this crate owns, with their file names under `schemas/`.
pub fn schemas() -> [(&'static str, serde_json::Value); 8] {
    [
        (
            TRANSCRIPTION_REQUEST_SCHEMA_FILE,
            callscore_survey::schema::generate::<TranscriptionRequest>(
                TRANSCRIPTION_REQUEST_SCHEMA_FILE,
            ),
        ),
        (
            TRANSCRIPT_SCHEMA_FILE,
            callscore_survey::schema::generate::<TranscriptEvent>(TRANSCRIPT_SCHEMA_FILE),
        ),
        (
            CONTACT_SCHEMA_FILE,
            callscore_survey::schema::generate::<ContactRequest>(CONTACT_SCHEMA_FILE),
        ),
        (
            audit::AUDIT_SCHEMA_FILE,
            callscore_survey::schema::generate::<audit::AuditRecord>(audit::AUDIT_SCHEMA_FILE),
        ),
        (
            RECORD_SCHEMA_FILE,
            callscore_survey::schema::generate::<RecordingRecord>(RECORD_SCHEMA_FILE),
        ),
        (
            REFERENCE_SCHEMA_FILE,
            callscore_survey::schema::generate::<AudioReference>(REFERENCE_SCHEMA_FILE),
        ),
        (
            METADATA_SCHEMA_FILE,
            callscore_survey::schema::generate::<RecordingMetadata>(METADATA_SCHEMA_FILE),
        ),
        (
            DEAD_LETTER_SCHEMA_FILE,
            callscore_survey::schema::generate::<DeadLetter>(DEAD_LETTER_SCHEMA_FILE),
        ),
    ]
}
