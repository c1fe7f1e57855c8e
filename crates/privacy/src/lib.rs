//! callscore's privacy lifecycle: what keeps the promises made to callers, over the pipeline's
//! ports, in every mode (a local directory and NDJSON, or S3 and Kafka).
//!
//! - [`sweep`]: deletes every recording whose expiry day has passed. Its requests follow the
//!   expired recordings (it pages through the expiry markers of
//!   [`callscore_pipeline::layout`] and stops at today), not the bucket.
//! - [`release_hold`]: a recording under legal hold returns to the class and expiry it had
//!   without the hold.
//! - [`destroy_keys`]: pseudonymisation keys whose every pseudonym may no longer be kept are
//!   destroyed, so what remains under them is anonymous.
//! - [`erase`], [`export`], [`withdraw_consent`]: a caller's (or a client's) rights, for a
//!   [`Subject`] found by number (under every key held), pseudonym, call, recording or
//!   tenant, at the cost of the subject's own data.
//!
//! Every one of them has a dry run (the same report, nothing changed) and leaves an
//! [`AuditRecord`](callscore_pipeline::audit::AuditRecord) per tenant and class it touched.
//! Their reports are data (`--json`) and sentences.

#![deny(missing_docs)]

mod consent;
mod erase;
mod export;
mod hold;
mod keys;
mod request;
mod subject;
mod sweep;

pub use consent::{WithdrawalReport, withdraw_consent};
pub use erase::{
    ERASURE_SCHEMA_FILE, ERASURE_VERSION, ErasureEvent, ErasureReport, FINISHED_ERASURE_DAYS, erase,
};
pub use export::{
    Bundle, BundleFile, BundleRecording, DirectoryBundle, EXPORTS, ExportReport, Manifest,
    StoreBundle, export, sweep_exports,
};
pub use hold::{HoldReport, move_recording, release_hold};
pub use keys::{KeysReport, destroy_keys, rotate_keys};
pub use request::{
    Action, PrivacyRequest, PrivacyResult, REQUEST_SCHEMA_FILE, REQUEST_VERSION,
    RESULT_SCHEMA_FILE, ResultStatus, SelectorFields,
};
pub use subject::{Found, Selector, Subject, resolve};
pub use sweep::{SweepReport, Swept, exists, stored_tenants, sweep};

use callscore_pipeline::layout::{Marker, Place};

/// The schemas this crate owns, with their file names under `schemas/`.
pub fn schemas() -> [(&'static str, serde_json::Value); 3] {
    [
        (
            ERASURE_SCHEMA_FILE,
            callscore_survey::schema::generate::<ErasureEvent>(ERASURE_SCHEMA_FILE),
        ),
        (
            REQUEST_SCHEMA_FILE,
            callscore_survey::schema::generate::<PrivacyRequest>(REQUEST_SCHEMA_FILE),
        ),
        (
            RESULT_SCHEMA_FILE,
            callscore_survey::schema::generate::<PrivacyResult>(RESULT_SCHEMA_FILE),
        ),
    ]
}
use callscore_pipeline::{AudioStore, KeyringError, SinkError, StoreError};
use jiff::civil::Date;

/// Why a privacy operation could not be done.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// The request itself is wrong (an unknown tenant or recording): nothing was touched.
    #[error("{0}")]
    Refused(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit log (or the event sink) failed.
    #[error(transparent)]
    Log(#[from] SinkError),
    /// The keyring failed.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// What the store holds is damaged (an unreadable record).
    #[error("{0}")]
    Damaged(String),
}

/// What deleting a recording removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    /// Objects.
    pub objects: u64,
    /// Stored versions.
    pub versions: u64,
    /// Versions an Object Lock kept.
    pub locked: u64,
}

/// Deletes every object of the recording at `place` (every version), then the markers that
/// find it, the expiry marker of `expires_on` last: a crash half-way leaves it findable, and a
/// rerun finishes the job.
pub async fn delete_recording(
    store: &impl AudioStore,
    place: &Place,
    call_id: &str,
    expires_on: Option<Date>,
) -> Result<Removed, PrivacyError> {
    let mut removed = Removed::default();
    for key in store.list(&place.prefix()).await? {
        let deleted = store.delete(&key).await?;
        removed.objects += 1;
        removed.versions += u64::from(deleted.versions);
        removed.locked += u64::from(deleted.locked);
    }
    let mut markers = Marker::of(place, call_id, expires_on);
    // the expiry marker (first when there is one) goes last
    markers.rotate_left(usize::from(expires_on.is_some()));
    for marker in markers {
        store.delete(&marker.key()).await?;
    }
    Ok(removed)
}
