//! [`RecordingRecord`]: what callscore keeps of a recording beside its audio (`record.json`),
//! under the same retention: its metadata without phone numbers, where its audio is, its
//! retention (and what applies once a legal hold is released), and every event published
//! for it. Erasure reads the event ids to tombstone from it, export the events to hand over,
//! hold release the class to move to; none of them has to read a topic.

use callscore_survey::RetentionClass;
use jiff::Timestamp;
use jiff::civil::Date;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::RecordingMetadata;

/// The record schema version this build reads and writes.
pub const RECORD_VERSION: u32 = 1;

/// A recording's record, `record.json` beside its audio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "callscore recording record, schema version 1")]
pub struct RecordingRecord {
    /// Always 1 in this schema.
    pub schema_version: u32,
    /// The tenant.
    pub tenant: String,
    /// The recording's id.
    pub recording_id: String,
    /// The call's id.
    pub call_id: String,
    /// The caller's pseudonym, `null` when the number was withheld.
    pub caller_pseudonym: Option<String>,
    /// The recording's metadata as the IVR sent it, without phone numbers (the pseudonym in
    /// place of the caller's).
    pub metadata: RecordingMetadata,
    /// The stored audio.
    pub audio: StoredAudio,
    /// How long it is kept.
    pub retention: RecordRetention,
    /// Every event published for the recording, as published.
    pub events: Vec<serde_json::Value>,
    /// The contact request published for the recording (the caller agreed to be contacted),
    /// by its `request_id`; `null` when there is none.
    #[serde(default)]
    pub contact_request_id: Option<String>,
    /// The transcription requests made for the recording's comment clips, by `request_id`.
    #[serde(default)]
    pub transcription_request_ids: Vec<String>,
    /// When the record was written.
    pub stored_at: Timestamp,
}

/// Where a recording's audio is, and what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StoredAudio {
    /// Its key in the store.
    pub key: String,
    /// Its URI in the events.
    pub uri: String,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
    /// Length in bytes.
    pub size: u64,
    /// The media type.
    pub content_type: String,
}

/// A recording's retention, and what applies once its legal hold is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordRetention {
    /// The class.
    pub class: RetentionClass,
    /// The last day it may be kept; `null` under a legal hold.
    pub expires_on: Option<Date>,
    /// Under a legal hold: the class and expiry the recording has once the hold is released.
    pub after_hold: Option<AfterHold>,
}

/// What applies to a held recording once its hold is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AfterHold {
    /// The class.
    pub class: RetentionClass,
    /// The last day it may be kept.
    pub expires_on: Date,
}
