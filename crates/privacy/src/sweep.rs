//! The retention sweep: deletes every recording whose expiry day has passed, by paging through
//! each tenant's expiry markers in day order and stopping at today, so that its requests
//! follow the expired recordings, not the bucket.

use std::collections::BTreeMap;

use callscore_pipeline::audit::{AuditAction, AuditCounts, AuditLog, AuditOrigin, AuditRecord};
use callscore_pipeline::layout::{Marker, MarkerKind, Place};
use callscore_pipeline::{AudioStore, ObjectKey, class_name};
use callscore_survey::RetentionClass;
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

use crate::{PrivacyError, delete_recording};

/// Expiry markers read per request.
const PAGE: usize = 500;

/// What a sweep deleted (or, in a dry run, would delete) in one tenant and class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Swept {
    /// Recordings.
    pub recordings: u64,
    /// Objects (audio, records).
    pub objects: u64,
    /// Stored versions removed.
    pub versions: u64,
    /// Versions an Object Lock kept.
    pub locked: u64,
}

impl From<Swept> for AuditCounts {
    fn from(s: Swept) -> AuditCounts {
        AuditCounts {
            recordings: s.recordings,
            objects: s.objects,
            versions: s.versions,
            locked: s.locked,
        }
    }
}

/// A sweep's report: per tenant and class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Recordings whose expiry day is before this day were deleted.
    pub expired_before: Option<Date>,
    /// Whether nothing was deleted (a dry run).
    pub dry_run: bool,
    /// Per tenant, per class (by name).
    pub tenants: BTreeMap<String, BTreeMap<&'static str, Swept>>,
    /// Expiry markers among those due that this version cannot read (a class it does not
    /// know, a malformed day): their recordings were not swept, and need looking at.
    pub unreadable_markers: Vec<String>,
}

impl SweepReport {
    /// Everything swept.
    pub fn total(&self) -> Swept {
        let mut total = Swept::default();
        for classes in self.tenants.values() {
            for s in classes.values() {
                total.recordings += s.recordings;
                total.objects += s.objects;
                total.versions += s.versions;
                total.locked += s.locked;
            }
        }
        total
    }
}

/// Deletes, in `tenants`, every recording whose expiry day is before `today` (in a dry run,
/// only counts them), and records one audit record per tenant and class it deleted from,
/// plus one per tenant when nothing was due (the evidence that the sweep ran).
pub async fn sweep(
    store: &impl AudioStore,
    audit: &impl AuditLog,
    origin: &AuditOrigin,
    tenants: &[String],
    today: Date,
) -> Result<SweepReport, PrivacyError> {
    let mut report = SweepReport {
        expired_before: Some(today),
        dry_run: origin.dry_run,
        tenants: BTreeMap::new(),
        unreadable_markers: Vec::new(),
    };
    for tenant in tenants {
        let (swept, unreadable) = sweep_tenant(store, tenant, today, origin.dry_run).await?;
        report
            .unreadable_markers
            .extend(unreadable.iter().map(ToString::to_string));
        if !origin.dry_run {
            // exports asked for by message are kept in the store for a few days, finished
            // erasures' journals for a month
            crate::sweep_exports(store, tenant, today).await?;
            crate::erase::sweep_journals(store, tenant, today).await?;
        }
        let now = Timestamp::now();
        let reason = format!("expiry day before {today}");
        if swept.is_empty() {
            let record = AuditRecord::new(
                AuditAction::RetentionSweep,
                Some(tenant),
                None,
                format!("{reason}: nothing due"),
                None,
                AuditCounts::default(),
                origin,
                now,
            );
            audit.record(&record).await?;
        }
        for (class, counts) in &swept {
            let record = AuditRecord::new(
                AuditAction::RetentionSweep,
                Some(tenant),
                Some(*class),
                reason.clone(),
                None,
                (*counts).into(),
                origin,
                now,
            );
            audit.record(&record).await?;
        }
        report.tenants.insert(
            tenant.clone(),
            swept
                .into_iter()
                .map(|(class, counts)| (class_name(class), counts))
                .collect(),
        );
    }
    Ok(report)
}

/// One tenant's expired recordings, deleted, by class, and the markers among them that could
/// not be read.
async fn sweep_tenant(
    store: &impl AudioStore,
    tenant: &str,
    today: Date,
    dry_run: bool,
) -> Result<(BTreeMap<RetentionClass, Swept>, Vec<ObjectKey>), PrivacyError> {
    let mut swept: BTreeMap<RetentionClass, Swept> = BTreeMap::new();
    let mut unreadable = Vec::new();
    let prefix = Marker::expiries(tenant);
    let mut after: Option<ObjectKey> = None;
    'pages: loop {
        let page = store.list_after(&prefix, after.as_ref(), PAGE).await?;
        let Some(last) = page.last().cloned() else {
            break;
        };
        for key in page {
            let expiry = Marker::parse(&key).and_then(|marker| match marker.kind {
                MarkerKind::Expiry(day) => Some((day, marker)),
                _ => None,
            });
            let Some((day, marker)) = expiry else {
                unreadable.push(key);
                continue;
            };
            // markers are in day order: from here on nothing has expired
            if day >= today {
                break 'pages;
            }
            let counts = swept.entry(marker.place.class).or_default();
            counts.recordings += 1;
            let deleted = if dry_run {
                let objects = store.list(&marker.place.prefix()).await?;
                crate::Removed {
                    objects: objects.len() as u64,
                    ..crate::Removed::default()
                }
            } else {
                delete_recording(store, &marker.place, &marker.call_id, Some(day)).await?
            };
            counts.objects += deleted.objects;
            counts.versions += deleted.versions;
            counts.locked += deleted.locked;
        }
        after = Some(last);
    }
    Ok((swept, unreadable))
}

/// The tenants a store holds recordings of, from its markers.
pub async fn stored_tenants(store: &impl AudioStore) -> Result<Vec<String>, PrivacyError> {
    let mut tenants = store.children(&Marker::expiry_tenants()).await?;
    tenants.extend(store.children(&Marker::recording_tenants()).await?);
    tenants.sort();
    tenants.dedup();
    Ok(tenants)
}

/// Whether `place`'s objects can still be found: for tests and reports.
pub async fn exists(store: &impl AudioStore, place: &Place) -> Result<bool, PrivacyError> {
    Ok(!store.list(&place.prefix()).await?.is_empty())
}
