//! Access and portability: one subject's data as a bundle a person can read and a machine can
//! load. Every recording's audio, its metadata without phone numbers, its answers and events,
//! and its retention, with a manifest (`manifest.json`, and `README.txt` in words). The same
//! data always gives the same bundle: no clock is in it, everything is in a fixed order.

use std::path::{Path, PathBuf};

use callscore_pipeline::audit::{AuditAction, AuditCounts, AuditLog, AuditOrigin, AuditRecord};
use callscore_pipeline::layout::Place;
use callscore_pipeline::{AudioStore, ObjectKey, ObjectMeta, Pseudonyms, class_name, hex};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::PrivacyError;
use crate::subject::{Subject, resolve};

/// Where a bundle is written.
pub trait Bundle: Send + Sync {
    /// Writes `bytes` as the bundle's file `path` (`/`-separated, relative).
    fn write(
        &self,
        path: &str,
        bytes: &[u8],
    ) -> impl std::future::Future<Output = Result<(), PrivacyError>> + Send;

    /// Where the bundle is, for reports.
    fn location(&self) -> String;

    /// Makes the bundle empty before it is written: a bundle written before under the same
    /// name (a request delivered again) may hold recordings erased since.
    fn clear(&self) -> impl std::future::Future<Output = Result<(), PrivacyError>> + Send;
}

/// A bundle in a directory.
#[derive(Debug, Clone)]
pub struct DirectoryBundle {
    dir: PathBuf,
}

impl DirectoryBundle {
    /// A bundle in `dir`, created if missing.
    pub fn new(dir: &Path) -> DirectoryBundle {
        DirectoryBundle {
            dir: dir.to_path_buf(),
        }
    }
}

impl Bundle for DirectoryBundle {
    async fn write(&self, path: &str, bytes: &[u8]) -> Result<(), PrivacyError> {
        let file = self.dir.join(path);
        let failed = |e: std::io::Error| {
            PrivacyError::Damaged(format!("cannot write {}: {e}", file.display()))
        };
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        std::fs::write(&file, bytes).map_err(failed)
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }

    /// A directory is the person's who named it: nothing in it is deleted (the manifest says
    /// what the bundle is).
    async fn clear(&self) -> Result<(), PrivacyError> {
        Ok(())
    }
}

/// A bundle in the store itself, under `_exports/TENANT/ID/`, for exports asked for by
/// message: kept `days` days (the sweep deletes it then).
#[derive(Debug)]
pub struct StoreBundle<'s, S> {
    store: &'s S,
    prefix: String,
    meta: ObjectMeta,
}

/// The prefix of exports kept in the store.
pub const EXPORTS: &str = "_exports/";

impl<'s, S: AudioStore> StoreBundle<'s, S> {
    /// A bundle of `tenant`'s export `id` in `store`, kept until `expires_on`.
    pub fn new(store: &'s S, tenant: &str, id: &str, expires_on: Date) -> StoreBundle<'s, S> {
        StoreBundle {
            store,
            prefix: format!("{EXPORTS}{tenant}/{id}/"),
            meta: ObjectMeta {
                tenant: tenant.to_string(),
                recording_id: id.to_string(),
                retention_class: callscore_survey::RetentionClass::NonRespondent,
                expires_on: Some(expires_on),
                sha256: String::new(),
                content_type: "application/octet-stream".into(),
                size: 0,
            },
        }
    }
}

impl<S: AudioStore> Bundle for StoreBundle<'_, S> {
    async fn write(&self, path: &str, bytes: &[u8]) -> Result<(), PrivacyError> {
        let key = ObjectKey::parse(&format!("{}{path}", self.prefix))
            .ok_or_else(|| PrivacyError::Damaged(format!("{path} is not a key")))?;
        let meta = ObjectMeta {
            sha256: hex(&Sha256::digest(bytes)),
            size: bytes.len() as u64,
            ..self.meta.clone()
        };
        self.store.replace(&key, bytes, &meta).await?;
        Ok(())
    }

    async fn clear(&self) -> Result<(), PrivacyError> {
        for key in self.store.list(&self.prefix).await? {
            self.store.delete(&key).await?;
        }
        Ok(())
    }

    fn location(&self) -> String {
        self.store.uri(
            &ObjectKey::parse(&self.prefix)
                .unwrap_or_else(|| ObjectKey::parse("_exports").expect("a valid key")),
        )
    }
}

/// Deletes the exports kept in the store that hold a copy of any of `recordings` (ids), every
/// file of each (its manifest and README name them too), or every export of the tenant when
/// `recordings` is `None`: what an erasure takes with it. Its requests follow the tenant's
/// live exports (a week's), not the store. The number of files deleted.
pub(crate) async fn erase_exports(
    store: &impl AudioStore,
    tenant: &str,
    recordings: Option<&std::collections::BTreeSet<&str>>,
) -> Result<u64, PrivacyError> {
    let root = format!("{EXPORTS}{tenant}/");
    let keys = store.list(&root).await?;
    // each key as its bundle and its file in the bundle (`recordings/RECORDING_ID/…`)
    let files: Vec<(&str, &str, &ObjectKey)> = keys
        .iter()
        .filter_map(|key| {
            let (bundle, file) = key.as_str().strip_prefix(&root)?.split_once('/')?;
            Some((bundle, file, key))
        })
        .collect();
    let copies = |file: &str| match recordings {
        None => true,
        Some(ids) => file
            .strip_prefix("recordings/")
            .and_then(|f| f.split_once('/'))
            .is_some_and(|(recording, _)| ids.contains(recording)),
    };
    let bundles: std::collections::BTreeSet<&str> = files
        .iter()
        .filter(|(_, file, _)| copies(file))
        .map(|(bundle, ..)| *bundle)
        .collect();
    let mut deleted = 0;
    for (bundle, _, key) in &files {
        if bundles.contains(bundle) {
            store.delete(key).await?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Deletes the exports kept in the store whose day has passed. Every file of a bundle carries
/// the bundle's expiry, so an export still being written (its manifest comes last) is judged
/// by its first file and kept; a file without an expiry is not callscore's, and goes.
pub async fn sweep_exports(
    store: &impl AudioStore,
    tenant: &str,
    today: Date,
) -> Result<u64, PrivacyError> {
    let mut deleted = 0;
    for id in store.children(&format!("{EXPORTS}{tenant}/")).await? {
        let keys = store.list(&format!("{EXPORTS}{tenant}/{id}/")).await?;
        let Some(first) = keys.first() else {
            continue;
        };
        let expired = store
            .head(first)
            .await?
            .and_then(|m| m.expires_on)
            .is_none_or(|day| day < today);
        if expired {
            for key in keys {
                store.delete(&key).await?;
                deleted += 1;
            }
        }
    }
    Ok(deleted)
}

/// One file of a bundle, in its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleFile {
    /// Its path in the bundle.
    pub path: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Its length.
    pub size: u64,
}

/// One recording of a bundle, in its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleRecording {
    /// The recording.
    pub recording_id: String,
    /// Its call.
    pub call_id: String,
    /// Its retention class.
    pub retention_class: &'static str,
    /// The last day it is kept; `null` under a legal hold.
    pub expires_on: Option<jiff::civil::Date>,
    /// Its files.
    pub files: Vec<BundleFile>,
}

/// A bundle's manifest, `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    /// Always 1.
    pub schema_version: u32,
    /// The tenant.
    pub tenant: String,
    /// What was asked for.
    pub subject: String,
    /// Every recording.
    pub recordings: Vec<BundleRecording>,
}

/// What an export did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportReport {
    /// Where the bundle is.
    pub location: String,
    /// Recordings in it.
    pub recordings: u64,
    /// Files in it, the manifest's included.
    pub files: u64,
    /// Whether nothing was written (a dry run).
    pub dry_run: bool,
}

/// Writes `subject`'s data to `bundle`.
pub async fn export(
    store: &impl AudioStore,
    bundle: &impl Bundle,
    audit: &impl AuditLog,
    origin: &AuditOrigin,
    pseudonyms: &Pseudonyms,
    subject: &Subject,
) -> Result<ExportReport, PrivacyError> {
    let found = resolve(store, pseudonyms, subject).await?;
    let mut manifest = Manifest {
        schema_version: 1,
        tenant: subject.tenant.clone(),
        subject: subject.describe(pseudonyms),
        recordings: Vec::new(),
    };
    if !origin.dry_run {
        bundle.clear().await?;
    }
    let mut files = 0;
    for f in &found {
        let mut entry = BundleRecording {
            recording_id: f.place.recording_id.clone(),
            call_id: f.call_id.clone(),
            retention_class: class_name(f.place.class),
            expires_on: f.record.as_ref().and_then(|r| r.retention.expires_on),
            files: Vec::new(),
        };
        let dir = format!("recordings/{}", f.place.recording_id);
        let mut put = |name: &str, bytes: Vec<u8>| {
            entry.files.push(BundleFile {
                path: format!("{dir}/{name}"),
                sha256: hex(&Sha256::digest(&bytes)),
                size: bytes.len() as u64,
            });
            (format!("{dir}/{name}"), bytes)
        };
        let mut writes = Vec::new();
        for key in store.list(&f.place.prefix()).await? {
            let Some((_, file)) = Place::of_key(&key) else {
                continue;
            };
            if file == callscore_pipeline::layout::RECORD_FILE {
                continue;
            }
            if let Some(bytes) = store.get(&key).await? {
                writes.push(put(file, bytes));
            }
        }
        if let Some(record) = &f.record {
            writes.push(put("metadata.json", pretty(&record.metadata)));
            writes.push(put("events.json", pretty(&record.events)));
            writes.push(put("retention.json", pretty(&record.retention)));
        }
        if !origin.dry_run {
            for (path, bytes) in &writes {
                bundle.write(path, bytes).await?;
            }
        }
        files += writes.len() as u64;
        manifest.recordings.push(entry);
    }
    let text = readme(&manifest);
    let manifest_bytes =
        serde_json::to_vec_pretty(&manifest).map_err(|e| PrivacyError::Damaged(e.to_string()))?;
    if !origin.dry_run {
        bundle.write("manifest.json", &manifest_bytes).await?;
        bundle.write("README.txt", text.as_bytes()).await?;
    }
    let report = ExportReport {
        location: bundle.location(),
        recordings: found.len() as u64,
        files: files + 2,
        dry_run: origin.dry_run,
    };
    let record = AuditRecord::new(
        AuditAction::Export,
        Some(&subject.tenant),
        None,
        "access and portability request".to_string(),
        Some(subject.describe(pseudonyms)),
        AuditCounts {
            recordings: report.recordings,
            objects: report.files,
            ..AuditCounts::default()
        },
        origin,
        Timestamp::now(),
    );
    audit.record(&record).await?;
    Ok(report)
}

/// The manifest in words.
fn readme(manifest: &Manifest) -> String {
    let mut text = format!(
        "What {} keeps of {}\n\n{} recordings. For each, in recordings/RECORDING_ID/:\n\
         - audio.*: the recording as it was stored\n\
         - comment-*: the comments you spoke, clipped from the recording, and what a\n  \
         transcriber heard in them (comment-*.transcript.json)\n\
         - metadata.json: what the telephone system said about the call (without phone numbers)\n\
         - events.json: the answers read from the recording, as they were published\n\
         - retention.json: why it is kept and until when\n\n",
        manifest.tenant,
        manifest.subject,
        manifest.recordings.len()
    );
    for r in &manifest.recordings {
        let until = r
            .expires_on
            .map_or_else(|| "a legal hold is lifted".to_string(), |d| d.to_string());
        text.push_str(&format!(
            "{} (call {}): kept as {} until {}\n",
            r.recording_id, r.call_id, r.retention_class, until
        ));
    }
    text
}

/// Indented JSON, as a person reads it.
fn pretty(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec_pretty(value).unwrap_or_default()
}
