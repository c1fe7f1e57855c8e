//! Releasing a legal hold: the recording moves to the class and expiry it had without the
//! hold (kept in its record), its events are published again with the new retention and
//! location under the same ids (a compacted topic keeps the corrected fact), and the
//! release is audited. When its normal expiry has already passed, the next sweep deletes it.

use callscore_pipeline::TranscriptionRequest;
use callscore_pipeline::audit::{AuditAction, AuditCounts, AuditLog, AuditOrigin, AuditRecord};
use callscore_pipeline::layout::{Marker, Place};
use callscore_pipeline::{AudioStore, EventSink, ObjectMeta, RecordingRecord, class_name, hex};
use callscore_survey::{RetentionClass, ScoreEvent};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{PrivacyError, delete_recording};

/// What releasing a hold did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HoldReport {
    /// The tenant.
    pub tenant: String,
    /// The recording.
    pub recording_id: String,
    /// The class it moved to.
    pub class: &'static str,
    /// Its expiry day from now on.
    pub expires_on: Date,
    /// Whether that day has passed: the next sweep deletes it.
    pub expired: bool,
    /// Objects moved.
    pub objects: u64,
    /// Events published again.
    pub events: usize,
    /// Whether nothing was changed (a dry run).
    pub dry_run: bool,
}

/// Releases the legal hold of `recording_id` in `tenant`. Refused when no such recording is
/// stored, or when it is not held.
pub async fn release_hold(
    store: &impl AudioStore,
    audit: &impl AuditLog,
    sink: &impl EventSink,
    origin: &AuditOrigin,
    tenant: &str,
    recording_id: &str,
    today: Date,
) -> Result<HoldReport, PrivacyError> {
    let markers = store.list(&Marker::recording(tenant, recording_id)).await?;
    let found: Vec<Marker> = markers.iter().filter_map(Marker::parse).collect();
    let Some(held) = found
        .iter()
        .find(|m| m.place.class == RetentionClass::LegalHold)
    else {
        return Err(PrivacyError::Refused(if found.is_empty() {
            format!("tenant {tenant} has no stored recording {recording_id}")
        } else {
            format!("recording {recording_id} of tenant {tenant} is not under a legal hold")
        }));
    };
    let record = read_record(store, &held.place).await?;
    let after = record.retention.after_hold.ok_or_else(|| {
        PrivacyError::Damaged(format!(
            "the record of {recording_id} does not say what applies after its hold"
        ))
    })?;
    let objects = store.list(&held.place.prefix()).await?.len() as u64;
    let mut report = HoldReport {
        tenant: tenant.to_string(),
        recording_id: recording_id.to_string(),
        class: class_name(after.class),
        expires_on: after.expires_on,
        expired: after.expires_on < today,
        objects,
        events: record.events.len(),
        dry_run: origin.dry_run,
    };
    if !origin.dry_run {
        let (_, events) = move_recording(
            store,
            &held.place,
            &held.call_id,
            None,
            after.class,
            Some(after.expires_on),
        )
        .await?;
        republish(sink, &events).await?;
        report.events = events.len();
    }
    let record = AuditRecord::new(
        AuditAction::HoldRelease,
        Some(tenant),
        Some(after.class),
        format!(
            "legal hold released; kept until {} as {}",
            after.expires_on,
            class_name(after.class)
        ),
        Some(format!("recording {recording_id}")),
        AuditCounts {
            recordings: 1,
            objects,
            ..AuditCounts::default()
        },
        origin,
        Timestamp::now(),
    );
    audit.record(&record).await?;
    Ok(report)
}

/// The record of the recording at `place`.
pub(crate) async fn read_record(
    store: &impl AudioStore,
    place: &Place,
) -> Result<RecordingRecord, PrivacyError> {
    find_record(store, place)
        .await?
        .ok_or_else(|| PrivacyError::Damaged(format!("{} has no record", place.prefix())))
}

/// The record of the recording at `place`, `None` when there is none (a recording whose
/// storing stopped before its record was written: no event names it yet). A store failure or
/// a record that cannot be read is an error, never taken for a missing record: the record is
/// what names the recording's events, which erasure and consent withdrawal must retract.
pub(crate) async fn find_record(
    store: &impl AudioStore,
    place: &Place,
) -> Result<Option<RecordingRecord>, PrivacyError> {
    let Some(bytes) = store.get(&place.record()).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| PrivacyError::Damaged(format!("{}: unreadable record: {e}", place.prefix())))
}

/// Moves the recording at `from` (whose expiry was `old_expiry`) to `class` with expiry
/// `expires_on`: the new markers first, then every object rewritten with its new retention
/// (the record's retention, audio location and events updated), then the old objects and
/// markers deleted. Returns the new place and the recording's events as they now read.
pub async fn move_recording(
    store: &impl AudioStore,
    from: &Place,
    call_id: &str,
    old_expiry: Option<Date>,
    class: RetentionClass,
    expires_on: Option<Date>,
) -> Result<(Place, Vec<serde_json::Value>), PrivacyError> {
    let to = from.in_class(class);
    for marker in Marker::of(&to, call_id, expires_on) {
        store.mark(&marker.key()).await?;
    }
    let mut events = Vec::new();
    let keys = store.list(&from.prefix()).await?;
    for key in &keys {
        let Some((_, file)) = Place::of_key(key) else {
            continue;
        };
        let (Some(bytes), Some(meta)) = (store.get(key).await?, store.head(key).await?) else {
            continue;
        };
        let new_key = to.file(file);
        let mut meta = ObjectMeta {
            retention_class: class,
            expires_on,
            ..meta
        };
        let bytes = if new_key == to.record() {
            let mut record: RecordingRecord = serde_json::from_slice(&bytes).map_err(|e| {
                PrivacyError::Damaged(format!("{}: unreadable record: {e}", from.prefix()))
            })?;
            let audio_key = record
                .audio
                .key
                .rsplit('/')
                .next()
                .map(|file| to.file(file))
                .unwrap_or_else(|| to.file("audio"));
            record.audio.key = audio_key.to_string();
            record.audio.uri = store.uri(&audio_key);
            record.retention.class = class;
            record.retention.expires_on = expires_on;
            record.retention.after_hold = None;
            for event in &mut record.events {
                event["retention"]["class"] = serde_json::json!(class_name(class));
                event["retention"]["expires_on"] = serde_json::json!(expires_on);
                event["audio"]["uri"] = serde_json::json!(record.audio.uri);
                // a comment's clip is stored beside the audio, and moves with it
                if let Some(clip) = event.pointer_mut("/comment/clip/uri") {
                    let moved = clip
                        .as_str()
                        .and_then(|uri| uri.rsplit('/').next())
                        .map(|file| store.uri(&to.file(file)));
                    if let Some(uri) = moved {
                        *clip = serde_json::json!(uri);
                    }
                }
            }
            events = record.events.clone();
            let (bytes, record_meta) = encode_record(&record, meta)?;
            meta = record_meta;
            bytes
        } else {
            bytes
        };
        store.replace(&new_key, &bytes, &meta).await?;
    }
    delete_recording(store, from, call_id, old_expiry).await?;
    Ok((to, events))
}

/// Publishes a moved recording's events again (under the same ids), and its comments'
/// transcription requests with the retention they now have: a transcriber keeps a transcript
/// no longer than its request says.
pub(crate) async fn republish(
    sink: &impl EventSink,
    events: &[serde_json::Value],
) -> Result<(), PrivacyError> {
    sink.publish(events).await?;
    let now = Timestamp::now();
    let requests: Vec<serde_json::Value> = events
        .iter()
        .filter_map(|event| serde_json::from_value::<ScoreEvent>(event.clone()).ok())
        .filter_map(|score| TranscriptionRequest::of(&score, now))
        .filter_map(|request| serde_json::to_value(request).ok())
        .collect();
    if !requests.is_empty() {
        sink.transcription(&requests).await?;
    }
    Ok(())
}

/// A record as stored: its JSON, and `meta` with that JSON's checksum and size.
pub(crate) fn encode_record(
    record: &RecordingRecord,
    meta: ObjectMeta,
) -> Result<(Vec<u8>, ObjectMeta), PrivacyError> {
    let bytes =
        serde_json::to_vec_pretty(record).map_err(|e| PrivacyError::Damaged(e.to_string()))?;
    let meta = ObjectMeta {
        sha256: hex(&Sha256::digest(&bytes)),
        size: bytes.len() as u64,
        ..meta
    };
    Ok((bytes, meta))
}
