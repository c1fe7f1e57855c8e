//! Rotating and destroying pseudonymisation keys on schedule (the scheme is in
//! [`callscore_pipeline::Keyring`]'s documentation), each change audited.

use callscore_pipeline::audit::{AuditAction, AuditCounts, AuditLog, AuditOrigin, AuditRecord};
use callscore_pipeline::layout::{CLASSES, Place};
use callscore_pipeline::{AudioStore, Keyring, RetentionConfig};
use callscore_survey::RetentionClass;
use jiff::civil::Date;
use jiff::{Span, Timestamp};
use serde::Serialize;

use crate::PrivacyError;

/// What a rotation or a destruction did, per key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KeysReport {
    /// Keys created: `TENANT/KEYID`.
    pub created: Vec<String>,
    /// Keys destroyed (in a dry run: due): `TENANT/KEYID`.
    pub destroyed: Vec<String>,
    /// Keys due but kept because recordings under them are held: `TENANT/KEYID`.
    pub kept_for_holds: Vec<String>,
    /// Keys due by the retention configured now but kept because recordings under them are
    /// still stored (kept longer by the retention they were stored with): destroying the key
    /// would leave them unfindable by the caller's number. They go once those recordings
    /// have: `TENANT/KEYID`.
    pub kept_for_recordings: Vec<String>,
    /// Whether nothing was changed (a dry run).
    pub dry_run: bool,
}

/// Creates the next key of every tenant in `tenants` whose current key has been current for
/// `rotation` (or who has none).
pub async fn rotate_keys(
    keyring: &Keyring,
    audit: &impl AuditLog,
    origin: &AuditOrigin,
    tenants: &[String],
    today: Date,
    rotation: Span,
) -> Result<KeysReport, PrivacyError> {
    let mut report = KeysReport {
        dry_run: origin.dry_run,
        ..KeysReport::default()
    };
    for tenant in tenants {
        if origin.dry_run {
            continue;
        }
        if let Some(id) = keyring.rotate(tenant, today, rotation)? {
            let record = AuditRecord::new(
                AuditAction::KeyCreated,
                Some(tenant),
                None,
                format!("rotation every {rotation}: current from {today}"),
                Some(format!("key {id}")),
                AuditCounts::default(),
                origin,
                Timestamp::now(),
            );
            audit.record(&record).await?;
            report.created.push(format!("{tenant}/{id}"));
        }
    }
    Ok(report)
}

/// Destroys every key whose pseudonyms may no longer be kept on `today`: retired, and the
/// tenant's longest retention (capped) past its retirement, unless a recording under it is
/// still held, or still stored at all (its expiry was set by the retention configured when it
/// arrived, which may have been longer).
pub async fn destroy_keys(
    store: &impl AudioStore,
    keyring: &Keyring,
    audit: &impl AuditLog,
    origin: &AuditOrigin,
    retention: &RetentionConfig,
    today: Date,
) -> Result<KeysReport, PrivacyError> {
    keyring.reload()?;
    let mut report = KeysReport {
        dry_run: origin.dry_run,
        ..KeysReport::default()
    };
    for tenant in keyring.tenants() {
        let longest = retention.policy(&tenant).longest();
        for due in keyring.due_for_destruction(&tenant, today, longest) {
            let id = due.key.id().to_string();
            // a held recording's caller segment is ps-KEYID-…: one listing finds them all
            let held_prefix = format!(
                "{}ps-{id}-",
                Place::class_prefix(&tenant, RetentionClass::LegalHold)
            );
            if !store.list(&held_prefix).await?.is_empty() {
                report.kept_for_holds.push(format!("{tenant}/{id}"));
                continue;
            }
            if stored_under(store, &tenant, &id).await? {
                report.kept_for_recordings.push(format!("{tenant}/{id}"));
                continue;
            }
            if !origin.dry_run {
                keyring.destroy(&tenant, &id)?;
            }
            let retired = due
                .retired_on
                .map_or_else(|| "?".to_string(), |d| d.to_string());
            let record = AuditRecord::new(
                AuditAction::KeyDestroyed,
                Some(&tenant),
                None,
                format!(
                    "retired on {retired}; the longest retention ({longest}) has passed: its \
                     pseudonyms can no longer be linked to a number"
                ),
                Some(format!("key {id}")),
                AuditCounts::default(),
                origin,
                Timestamp::now(),
            );
            audit.record(&record).await?;
            report.destroyed.push(format!("{tenant}/{id}"));
        }
    }
    Ok(report)
}

/// Whether any recording of `tenant` is stored under key `id`, in a class that expires: one
/// request per class (a caller's segment is `ps-KEYID-…`).
async fn stored_under(
    store: &impl AudioStore,
    tenant: &str,
    id: &str,
) -> Result<bool, PrivacyError> {
    for class in CLASSES {
        if class == RetentionClass::LegalHold {
            continue;
        }
        let prefix = format!("{}ps-{id}-", Place::class_prefix(tenant, class));
        if !store.list_after(&prefix, None, 1).await?.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}
