//! The audit trail: every deletion callscore makes (a retention sweep, a hold release, a key
//! destroyed, an erasure) and every request it answers (an export, a withdrawn consent)
//! leaves an [`AuditRecord`]: what, why, how much, when, by which command and configuration.
//! Records go to an [`AuditLog`]: an NDJSON file with `callscore process`, the audit topic
//! with `callscore serve`. They name counts, classes, tenants and selectors, never a phone
//! number.

use std::future::Future;
use std::io::Write;
use std::sync::Mutex;

use callscore_survey::RetentionClass;
use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ports::{Retry, SinkError};

/// The audit record schema version this build writes.
pub const AUDIT_VERSION: u32 = 1;
/// File name of the audit record schema under `schemas/`.
pub const AUDIT_SCHEMA_FILE: &str = "audit-record.v1.schema.json";

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// Recordings past their expiry day were deleted.
    RetentionSweep,
    /// A legal hold was released; the recording moved to its normal class.
    HoldRelease,
    /// A pseudonymisation key was created.
    KeyCreated,
    /// A pseudonymisation key was destroyed: its pseudonyms can no longer be linked to a
    /// number.
    KeyDestroyed,
    /// Lifecycle rules were installed on the store.
    LifecycleInstalled,
    /// A subject's data was erased on request.
    Erasure,
    /// A subject's data was exported on request.
    Export,
    /// A caller withdrew their consent to be contacted.
    ConsentWithdrawn,
}

impl AuditAction {
    /// The name in records and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::RetentionSweep => "retention_sweep",
            AuditAction::HoldRelease => "hold_release",
            AuditAction::KeyCreated => "key_created",
            AuditAction::KeyDestroyed => "key_destroyed",
            AuditAction::LifecycleInstalled => "lifecycle_installed",
            AuditAction::Erasure => "erasure",
            AuditAction::Export => "export",
            AuditAction::ConsentWithdrawn => "consent_withdrawn",
        }
    }
}

/// One audited action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "callscore audit record, schema version 1")]
pub struct AuditRecord {
    /// Always 1 in this schema.
    pub schema_version: u32,
    /// Deterministic from the record's content: the same action recorded twice (a retried
    /// write) has the same id.
    pub audit_id: String,
    /// What was done.
    pub action: AuditAction,
    /// The tenant it concerned; `null` when it concerned the whole store.
    pub tenant: Option<String>,
    /// The retention class it concerned, when one.
    pub class: Option<RetentionClass>,
    /// Why, in words: the rule or the request.
    pub reason: String,
    /// What it concerned: a selector (`recording rec-1`, `caller ps-k1-…`, `key k20261201`),
    /// never a phone number.
    pub subject: Option<String>,
    /// Recordings concerned.
    pub recordings: u64,
    /// Objects deleted (or, for an export, written), markers not counted.
    pub objects: u64,
    /// Stored versions removed (more than the objects on a versioned bucket).
    pub versions: u64,
    /// Versions the store refused to delete (an Object Lock): they remain, and say so here.
    pub locked: u64,
    /// Whether it was a dry run: nothing was changed.
    pub dry_run: bool,
    /// When it was recorded.
    pub at: Timestamp,
    /// The command that did it (`callscore retention sweep`, `callscore serve`).
    pub command: String,
    /// Which configuration: the configuration file (or store directory) and the SHA-256 of
    /// the configuration's text.
    pub configuration: String,
}

impl AuditRecord {
    /// A record with its id computed from its content.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        action: AuditAction,
        tenant: Option<&str>,
        class: Option<RetentionClass>,
        reason: impl Into<String>,
        subject: Option<String>,
        counts: AuditCounts,
        origin: &AuditOrigin,
        at: Timestamp,
    ) -> AuditRecord {
        let mut record = AuditRecord {
            schema_version: AUDIT_VERSION,
            audit_id: String::new(),
            action,
            tenant: tenant.map(str::to_string),
            class,
            reason: reason.into(),
            subject,
            recordings: counts.recordings,
            objects: counts.objects,
            versions: counts.versions,
            locked: counts.locked,
            dry_run: origin.dry_run,
            at,
            command: origin.command.clone(),
            configuration: origin.configuration.clone(),
        };
        let content = serde_json::to_vec(&record).unwrap_or_default();
        record.audit_id = crate::hex(&Sha256::digest(&content))[..32].to_string();
        record
    }
}

/// How much an action touched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCounts {
    /// Recordings.
    pub recordings: u64,
    /// Objects.
    pub objects: u64,
    /// Versions.
    pub versions: u64,
    /// Locked versions.
    pub locked: u64,
}

impl std::ops::AddAssign for AuditCounts {
    fn add_assign(&mut self, other: AuditCounts) {
        self.recordings += other.recordings;
        self.objects += other.objects;
        self.versions += other.versions;
        self.locked += other.locked;
    }
}

/// Who records: the command and its configuration, and whether it is a dry run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOrigin {
    /// The command.
    pub command: String,
    /// The configuration, as [`AuditRecord::configuration`] says it.
    pub configuration: String,
    /// Whether nothing is changed.
    pub dry_run: bool,
}

impl AuditOrigin {
    /// The origin of `command` run with the configuration at `path` whose text is `text`.
    pub fn new(command: &str, path: &str, text: &[u8], dry_run: bool) -> AuditOrigin {
        AuditOrigin {
            command: command.to_string(),
            configuration: format!("{path} (sha256 {})", crate::hex(&Sha256::digest(text))),
            dry_run,
        }
    }
}

/// Where audit records go.
///
/// Contract: `record` is durable when it returns; a failure may be retried (records carry a
/// deterministic id, so a reader deduplicates).
pub trait AuditLog: Send + Sync {
    /// Records one action.
    fn record(&self, record: &AuditRecord) -> impl Future<Output = Result<(), SinkError>> + Send;
}

/// An audit log in an NDJSON file (or any writer), one record per line, flushed per record.
#[derive(Debug)]
pub struct NdjsonAudit<W> {
    out: Mutex<W>,
}

impl<W: Write + Send> NdjsonAudit<W> {
    /// A log writing to `out`.
    pub fn new(out: W) -> NdjsonAudit<W> {
        NdjsonAudit {
            out: Mutex::new(out),
        }
    }
}

impl<W: Write + Send> AuditLog for NdjsonAudit<W> {
    async fn record(&self, record: &AuditRecord) -> Result<(), SinkError> {
        let mut line = serde_json::to_vec(record).map_err(|e| SinkError {
            what: "audit record",
            retry: Retry::Permanent,
            message: e.to_string(),
        })?;
        line.push(b'\n');
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        out.write_all(&line)
            .and_then(|()| out.flush())
            .map_err(|e| SinkError {
                what: "audit record",
                retry: Retry::Transient,
                message: e.to_string(),
            })
    }
}

/// An audit log that keeps records in memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryAudit {
    records: Mutex<Vec<AuditRecord>>,
}

impl MemoryAudit {
    /// Every record, in order.
    pub fn records(&self) -> Vec<AuditRecord> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl AuditLog for MemoryAudit {
    async fn record(&self, record: &AuditRecord) -> Result<(), SinkError> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record.clone());
        Ok(())
    }
}

impl<A: AuditLog + ?Sized> AuditLog for std::sync::Arc<A> {
    fn record(&self, record: &AuditRecord) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).record(record)
    }
}
