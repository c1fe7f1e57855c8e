//! Erasure on request: every stored object of a subject (every version), its facts retracted
//! from the scores and contact streams (tombstones for their exact keys), one erasure event
//! that names what was erased so that downstream copies can go too, and an audit record.
//!
//! Resumable: what is to be erased is written first to a journal (`_erasures/TENANT/ID.json`),
//! merged with what an earlier run left; the facts are retracted, the objects deleted (with
//! the exports kept in the store that copy them), the erasure event published from the
//! journal, and the journal marked finished last. A rerun after a crash at any point ends in
//! the same state. The finished journal is kept [`FINISHED_ERASURE_DAYS`] days (the sweep
//! deletes it then): the same erasure run again in that time (a request delivered again) is
//! answered with its report, and announces nothing over its event; recordings of the subject
//! stored since are erased, and the event, under the same id, names them with the first ones.
//! Recordings under a legal hold are kept and reported; versions an Object Lock protects are
//! counted and reported.

use std::collections::BTreeSet;

use callscore_pipeline::audit::{AuditAction, AuditCounts, AuditLog, AuditOrigin, AuditRecord};
use callscore_pipeline::layout::Marker;
use callscore_pipeline::{
    AudioStore, EventSink, Keyring, ObjectKey, ObjectMeta, Pseudonyms, Stream, hex,
};
use callscore_survey::RetentionClass;
use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::subject::{Found, Selector, Subject, resolve};
use crate::{PrivacyError, delete_recording};

/// The erasure event schema version.
pub const ERASURE_VERSION: u32 = 1;
/// File name of the erasure event schema under `schemas/`.
pub const ERASURE_SCHEMA_FILE: &str = "erasure-event.v1.schema.json";

/// What an erasure erased, published on the scores topic (CloudEvents type
/// `com.callscore.erasure.v1`, keyed by `event_id`) so that every consumer can erase its copies
/// of the same facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "callscore erasure event, schema version 1")]
pub struct ErasureEvent {
    /// Always 1 in this schema.
    pub schema_version: u32,
    /// Always `erasure`.
    pub event_type: String,
    /// The erasure's id: the same for the same request, however often it is run.
    pub event_id: String,
    /// The tenant.
    pub tenant: String,
    /// What was asked: `caller`, `pseudonym`, `call`, `recording` or `tenant`.
    pub selector: String,
    /// The caller's pseudonyms the erasure covered (never the number).
    pub caller_pseudonyms: Vec<String>,
    /// The recordings erased.
    pub recording_ids: Vec<String>,
    /// The calls they belonged to.
    pub call_ids: Vec<String>,
    /// The score and response events retracted: erase every copy of them.
    pub event_ids: Vec<String>,
    /// The contact requests retracted.
    pub contact_request_ids: Vec<String>,
    /// The transcription requests of comment clips retracted, with their transcripts (both
    /// keyed by the request's id): erase every copy of either.
    #[serde(default)]
    pub transcription_request_ids: Vec<String>,
    /// Recordings kept because they are under a legal hold.
    pub held_recording_ids: Vec<String>,
    /// Stored versions an Object Lock kept.
    pub locked_versions: u64,
    /// When the erasure finished.
    pub erased_at: Timestamp,
}

/// How many days the journal of a finished erasure is kept: a request delivered again (or an
/// erasure run again) in that time is answered as it was, instead of announcing an empty
/// erasure over the first one.
pub const FINISHED_ERASURE_DAYS: i64 = 31;

/// The journal of an erasure: what it has to erase, and, once it has, its report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Journal {
    pseudonyms: BTreeSet<String>,
    recordings: BTreeSet<(String, String, String)>,
    events: BTreeSet<String>,
    contacts: BTreeSet<String>,
    #[serde(default)]
    transcriptions: BTreeSet<String>,
    /// When it finished, and what it reported then.
    #[serde(default)]
    finished: Option<(Timestamp, ErasureReport)>,
}

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureReport {
    /// The erasure's id.
    pub erasure_id: String,
    /// The tenant.
    pub tenant: String,
    /// What was asked.
    pub selector: String,
    /// Recordings erased (in a dry run: found).
    pub recordings: u64,
    /// Objects deleted.
    pub objects: u64,
    /// Versions removed.
    pub versions: u64,
    /// Versions an Object Lock kept.
    pub locked: u64,
    /// Recordings kept under a legal hold.
    pub held: Vec<String>,
    /// Events retracted.
    pub events: u64,
    /// Contact requests retracted.
    pub contacts: u64,
    /// Transcription requests (and their transcripts) retracted.
    pub transcriptions: u64,
    /// Files of exports kept in the store (`_exports/`) deleted because they copied what was
    /// erased.
    #[serde(default)]
    pub export_files: u64,
    /// Keys destroyed (a whole tenant).
    pub keys_destroyed: Vec<String>,
    /// Whether nothing was changed (a dry run).
    pub dry_run: bool,
    /// When this erasure (the same id) had already finished, with nothing new found since:
    /// the report is that run's, and nothing was announced again.
    #[serde(default)]
    pub finished_before: Option<Timestamp>,
}

fn journal_key(tenant: &str, id: &str) -> Option<ObjectKey> {
    ObjectKey::parse(&format!("_erasures/{tenant}/{id}.json"))
}

/// Erases `subject`'s data; `request_id` (a request message's) makes its id.
#[allow(clippy::too_many_arguments)]
pub async fn erase(
    store: &impl AudioStore,
    sink: &impl EventSink,
    audit: &impl AuditLog,
    origin: &AuditOrigin,
    pseudonyms: &Pseudonyms,
    subject: &Subject,
    request_id: Option<&str>,
) -> Result<ErasureReport, PrivacyError> {
    let found = resolve(store, pseudonyms, subject).await?;
    let id = subject.id(request_id, pseudonyms, "erasure");
    let (erasable, held): (Vec<Found>, Vec<Found>) = found
        .into_iter()
        .partition(|f| f.place.class != RetentionClass::LegalHold);
    let journal_at = journal_key(&subject.tenant, &id)
        .ok_or_else(|| PrivacyError::Refused("the tenant is not a valid id".into()))?;
    let mut journal = Journal::read(store, &journal_at).await?;
    if let Some((at, report)) = &journal.finished
        && erasable.is_empty()
    {
        // delivered again, or run again, with nothing new stored since: answered as before
        let report = ErasureReport {
            finished_before: Some(*at),
            dry_run: origin.dry_run,
            ..report.clone()
        };
        record_audit(audit, origin, subject, pseudonyms, &report).await?;
        return Ok(report);
    }
    journal.finished = None;
    journal.pseudonyms.extend(subject.pseudonyms(pseudonyms));
    for f in &erasable {
        journal.add(f);
    }
    let mut report = ErasureReport {
        erasure_id: id.clone(),
        tenant: subject.tenant.clone(),
        selector: subject.selector.kind().to_string(),
        recordings: journal.recordings.len() as u64,
        objects: 0,
        versions: 0,
        locked: 0,
        held: held.iter().map(|f| f.place.recording_id.clone()).collect(),
        events: journal.events.len() as u64,
        contacts: journal.contacts.len() as u64,
        transcriptions: journal.transcriptions.len() as u64,
        export_files: 0,
        keys_destroyed: Vec::new(),
        dry_run: origin.dry_run,
        finished_before: None,
    };
    if origin.dry_run || journal.recordings.is_empty() && subject.selector != Selector::Tenant {
        // nothing stored (never, or erased before): nothing to announce
        record_audit(audit, origin, subject, pseudonyms, &report).await?;
        return Ok(report);
    }
    journal
        .write(store, &journal_at, &subject.tenant, &id, None)
        .await?;
    journal.retract(sink).await?;
    for f in &erasable {
        let expiry = f.record.as_ref().and_then(|r| r.retention.expires_on);
        let removed = delete_recording(store, &f.place, &f.call_id, expiry).await?;
        report.objects += removed.objects;
        report.versions += removed.versions;
        report.locked += removed.locked;
    }
    let erased: BTreeSet<&str> = journal
        .recordings
        .iter()
        .map(|(r, ..)| r.as_str())
        .collect();
    let whole = subject.selector == Selector::Tenant;
    report.export_files =
        crate::export::erase_exports(store, &subject.tenant, (!whole).then_some(&erased)).await?;
    if whole {
        report.objects += erase_leftovers(store, &subject.tenant, &held).await?;
        if let Some(ring) = pseudonyms.keyring() {
            report.keys_destroyed = destroy_tenant_keys(ring, &subject.tenant, &held)?;
        }
    }
    let event = ErasureEvent::new(id.clone(), subject, &journal, &report);
    let value = serde_json::to_value(&event).map_err(|e| PrivacyError::Damaged(e.to_string()))?;
    sink.publish(&[value]).await?;
    record_audit(audit, origin, subject, pseudonyms, &report).await?;
    let now = Timestamp::now();
    journal.finished = Some((now, report.clone()));
    let keep = now
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .checked_add(jiff::Span::new().days(FINISHED_ERASURE_DAYS))
        .ok();
    journal
        .write(store, &journal_at, &subject.tenant, &id, keep)
        .await?;
    Ok(report)
}

/// Deletes the journals of `tenant`'s finished erasures whose day has passed (a journal
/// still in progress has none, and stays). The number deleted.
pub(crate) async fn sweep_journals(
    store: &impl AudioStore,
    tenant: &str,
    today: jiff::civil::Date,
) -> Result<u64, PrivacyError> {
    let mut deleted = 0;
    for key in store.list(&format!("_erasures/{tenant}/")).await? {
        let expired = store
            .head(&key)
            .await?
            .and_then(|meta| meta.expires_on)
            .is_some_and(|day| day < today);
        if expired {
            store.delete(&key).await?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

impl Journal {
    /// The journal an interrupted run of the same erasure left, or an empty one. A journal
    /// that cannot be read stops the erasure: it may be all that still names the events of
    /// recordings already deleted, which must be retracted.
    async fn read(store: &impl AudioStore, at: &ObjectKey) -> Result<Journal, PrivacyError> {
        let Some(bytes) = store.get(at).await? else {
            return Ok(Journal::default());
        };
        // the position only: the error's own text may quote the journal's contents
        serde_json::from_slice(&bytes).map_err(|e| {
            PrivacyError::Damaged(format!(
                "the erasure journal {at} cannot be read (a {:?} error at line {}, column {}): \
                 it names what an interrupted run of this erasure still has to retract; \
                 repair it, or delete it to erase only what is still stored",
                e.classify(),
                e.line(),
                e.column()
            ))
        })
    }

    /// Adds a recording found for erasure, with the events and requests its record names.
    fn add(&mut self, found: &Found) {
        self.recordings.insert((
            found.place.recording_id.clone(),
            found.call_id.clone(),
            found.place.prefix(),
        ));
        if let Some(record) = &found.record {
            self.events.extend(
                record
                    .events
                    .iter()
                    .filter_map(|e| e["event_id"].as_str().map(str::to_string)),
            );
            self.contacts.extend(record.contact_request_id.clone());
            self.transcriptions
                .extend(record.transcription_request_ids.iter().cloned());
        }
    }

    /// Stores the journal under `at`: before anything is deleted (kept until the erasure
    /// finishes, `expires_on` `None`), so that a run interrupted after the deletes began still
    /// knows what to retract; and finished, kept until `expires_on`.
    async fn write(
        &self,
        store: &impl AudioStore,
        at: &ObjectKey,
        tenant: &str,
        id: &str,
        expires_on: Option<jiff::civil::Date>,
    ) -> Result<(), PrivacyError> {
        let bytes = serde_json::to_vec(self).map_err(|e| PrivacyError::Damaged(e.to_string()))?;
        let meta = ObjectMeta {
            tenant: tenant.to_string(),
            recording_id: id.to_string(),
            retention_class: RetentionClass::NonRespondent,
            expires_on,
            sha256: hex(&Sha256::digest(&bytes)),
            content_type: "application/json".into(),
            size: bytes.len() as u64,
        };
        store.replace(at, &bytes, &meta).await?;
        Ok(())
    }

    /// Retracts the score and response events, the contact requests and the transcription
    /// requests the journal names.
    async fn retract(&self, sink: &impl EventSink) -> Result<(), PrivacyError> {
        let events: Vec<String> = self.events.iter().cloned().collect();
        sink.retract(Stream::Scores, &events).await?;
        for (stream, ids) in [
            (Stream::Contacts, &self.contacts),
            (Stream::Transcriptions, &self.transcriptions),
        ] {
            if !ids.is_empty() {
                let ids: Vec<String> = ids.iter().cloned().collect();
                sink.retract(stream, &ids).await?;
            }
        }
        Ok(())
    }
}

impl ErasureEvent {
    /// The event that announces erasure `id` of what `journal` names.
    fn new(
        id: String,
        subject: &Subject,
        journal: &Journal,
        report: &ErasureReport,
    ) -> ErasureEvent {
        ErasureEvent {
            schema_version: ERASURE_VERSION,
            event_type: "erasure".into(),
            event_id: id,
            tenant: subject.tenant.clone(),
            selector: subject.selector.kind().into(),
            caller_pseudonyms: journal.pseudonyms.iter().cloned().collect(),
            recording_ids: journal
                .recordings
                .iter()
                .map(|(r, _, _)| r.clone())
                .collect(),
            call_ids: journal
                .recordings
                .iter()
                .map(|(_, c, _)| c.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            event_ids: journal.events.iter().cloned().collect(),
            contact_request_ids: journal.contacts.iter().cloned().collect(),
            transcription_request_ids: journal.transcriptions.iter().cloned().collect(),
            held_recording_ids: report.held.clone(),
            locked_versions: report.locked,
            erased_at: Timestamp::now(),
        }
    }
}

async fn record_audit(
    audit: &impl AuditLog,
    origin: &AuditOrigin,
    subject: &Subject,
    pseudonyms: &Pseudonyms,
    report: &ErasureReport,
) -> Result<(), PrivacyError> {
    if let Some(at) = report.finished_before {
        let record = AuditRecord::new(
            AuditAction::Erasure,
            Some(&subject.tenant),
            None,
            format!(
                "erasure requested again (erasure {}): finished at {at}, nothing new stored \
                 since; nothing deleted",
                report.erasure_id
            ),
            Some(subject.describe(pseudonyms)),
            AuditCounts::default(),
            origin,
            Timestamp::now(),
        );
        audit.record(&record).await?;
        return Ok(());
    }
    let mut reason = format!("erasure requested (erasure {})", report.erasure_id);
    if !report.held.is_empty() {
        reason.push_str(&format!(
            "; {} recordings kept under a legal hold",
            report.held.len()
        ));
    }
    if report.locked > 0 {
        reason.push_str(&format!(
            "; {} versions kept by an Object Lock",
            report.locked
        ));
    }
    let record = AuditRecord::new(
        AuditAction::Erasure,
        Some(&subject.tenant),
        None,
        reason,
        Some(subject.describe(pseudonyms)),
        AuditCounts {
            recordings: report.recordings,
            objects: report.objects,
            versions: report.versions,
            locked: report.locked,
        },
        origin,
        Timestamp::now(),
    );
    audit.record(&record).await?;
    Ok(())
}

/// A whole tenant: whatever is left under its prefixes and markers (records without audio,
/// markers without recordings), but the held recordings'.
async fn erase_leftovers(
    store: &impl AudioStore,
    tenant: &str,
    held: &[Found],
) -> Result<u64, PrivacyError> {
    let keep: BTreeSet<String> = held.iter().map(|f| f.place.recording_id.clone()).collect();
    let mut deleted = 0;
    let mut prefixes = vec![format!("{tenant}/")];
    prefixes.extend(Marker::of_tenant(tenant));
    for prefix in prefixes {
        for key in store.list(&prefix).await? {
            let owner = callscore_pipeline::layout::Place::of_key(&key)
                .map(|(place, _)| place.recording_id)
                .or_else(|| Marker::parse(&key).map(|m| m.place.recording_id));
            if owner.is_some_and(|r| keep.contains(&r)) {
                continue;
            }
            store.delete(&key).await?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// A whole tenant: its pseudonymisation keys, but those under which a recording is held.
fn destroy_tenant_keys(
    ring: &Keyring,
    tenant: &str,
    held: &[Found],
) -> Result<Vec<String>, PrivacyError> {
    let mut destroyed = Vec::new();
    for key in ring.held(tenant) {
        let id = key.key.id().to_string();
        let marker = format!("ps-{id}-");
        if held.iter().any(|f| f.place.caller.starts_with(&marker)) {
            continue;
        }
        ring.destroy(tenant, &id)?;
        destroyed.push(format!("{tenant}/{id}"));
    }
    Ok(destroyed)
}
