//! A caller withdraws their consent to be contacted: their contact requests are retracted
//! (tombstones, or the lines taken out of the file), and their recordings move from
//! `consented_contact` to the class they have without the consent (`respondent`), with that
//! class's expiry or the one they had, whichever comes first (withdrawing a consent never
//! keeps a recording longer), their events published again with the new retention under the
//! same ids; audited.

use callscore_pipeline::audit::{AuditAction, AuditCounts, AuditLog, AuditOrigin, AuditRecord};
use callscore_pipeline::{AudioStore, EventSink, Pseudonyms, RetentionConfig, Stream};
use callscore_survey::RetentionClass;
use jiff::Timestamp;
use serde::Serialize;

use crate::PrivacyError;
use crate::hold::{encode_record, move_recording};
use crate::subject::{Subject, resolve};
use callscore_pipeline::{AfterHold, ObjectKey, RecordingRecord};

/// What a withdrawal did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WithdrawalReport {
    /// Recordings moved out of `consented_contact`, and held recordings that would have
    /// returned to it at their release.
    pub recordings: u64,
    /// Contact requests retracted.
    pub contact_requests: u64,
    /// Whether nothing was changed (a dry run).
    pub dry_run: bool,
}

/// Withdraws `subject`'s consent to be contacted.
#[allow(clippy::too_many_arguments)]
pub async fn withdraw_consent(
    store: &impl AudioStore,
    sink: &impl EventSink,
    audit: &impl AuditLog,
    origin: &AuditOrigin,
    pseudonyms: &Pseudonyms,
    retention: &RetentionConfig,
    subject: &Subject,
) -> Result<WithdrawalReport, PrivacyError> {
    let found = resolve(store, pseudonyms, subject).await?;
    let consented: Vec<_> = found
        .iter()
        .filter(|f| f.place.class == RetentionClass::ConsentedContact)
        .collect();
    // held recordings stay where they are; what they become at release changes
    let held: Vec<_> = found
        .iter()
        .filter(|f| {
            f.record
                .as_ref()
                .and_then(|r| r.retention.after_hold)
                .is_some_and(|after| after.class == RetentionClass::ConsentedContact)
        })
        .collect();
    let contacts: Vec<String> = found
        .iter()
        .filter_map(|f| f.record.as_ref()?.contact_request_id.clone())
        .collect();
    let report = WithdrawalReport {
        recordings: (consented.len() + held.len()) as u64,
        contact_requests: contacts.len() as u64,
        dry_run: origin.dry_run,
    };
    if !origin.dry_run {
        if !contacts.is_empty() {
            sink.retract(Stream::Contacts, &contacts).await?;
        }
        let policy = retention.policy(&subject.tenant);
        for f in consented {
            let Some(record) = &f.record else {
                continue;
            };
            // a respondent's period, but never longer than the consent kept it
            let respondent =
                policy.expiry(RetentionClass::Respondent, record.metadata.call_started_at);
            let expires_on = record
                .retention
                .expires_on
                .map_or(respondent, |consented| consented.min(respondent));
            let (_, events) = move_recording(
                store,
                &f.place,
                &f.call_id,
                record.retention.expires_on,
                RetentionClass::Respondent,
                Some(expires_on),
            )
            .await?;
            crate::hold::republish(sink, &events).await?;
        }
        for f in held {
            let Some(record) = &f.record else {
                continue;
            };
            let mut record = record.clone();
            let respondent =
                policy.expiry(RetentionClass::Respondent, record.metadata.call_started_at);
            record.retention.after_hold = record.retention.after_hold.map(|after| AfterHold {
                class: RetentionClass::Respondent,
                expires_on: after.expires_on.min(respondent),
            });
            rewrite_record(store, &f.place.record(), &record).await?;
        }
    }
    let record = AuditRecord::new(
        AuditAction::ConsentWithdrawn,
        Some(&subject.tenant),
        Some(RetentionClass::Respondent),
        "consent to be contacted withdrawn: contact requests retracted, recordings kept as \
         respondents"
            .to_string(),
        Some(subject.describe(pseudonyms)),
        AuditCounts {
            recordings: report.recordings,
            objects: report.contact_requests,
            ..AuditCounts::default()
        },
        origin,
        Timestamp::now(),
    );
    audit.record(&record).await?;
    Ok(report)
}

/// Writes `record` over the record at `key`, keeping its object's retention data.
async fn rewrite_record(
    store: &impl AudioStore,
    key: &ObjectKey,
    record: &RecordingRecord,
) -> Result<(), PrivacyError> {
    let Some(meta) = store.head(key).await? else {
        return Err(PrivacyError::Damaged(format!(
            "{key}: the record went away"
        )));
    };
    let (bytes, meta) = encode_record(record, meta)?;
    store.replace(key, &bytes, &meta).await?;
    Ok(())
}
