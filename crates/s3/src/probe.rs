//! Finding out at start-up what a store supports, by writing a probe object the way a put
//! would and looking at what the store did with it.

use aws_sdk_s3::types::ObjectLockEnabled;
use callscore_pipeline::ObjectMeta;
use callscore_survey::RetentionClass;
use sha2::{Digest, Sha256};

use crate::config::TaggingMode;
use crate::error::{Failure, S3Error};
use crate::store::{Capabilities, S3Store};

/// Where probe objects are written, under the store's prefix: outside every tenant's keys.
const PROBE_PREFIX: &str = "_callscore/probe/";

/// The probe object's bytes.
const PROBE: &[u8] = b"callscore capability probe";

impl S3Store {
    /// Writes a probe object with every header a put sends (checksum, metadata, encryption,
    /// and tags unless tagging is off), so that a store refusing one of them fails here, at
    /// start-up, and not on every recording. Then:
    /// - with `tagging = "auto"`, reads the tags back: a store without tagging refuses
    ///   (garage: 501 `NotImplemented`) or returns none;
    /// - writes it again with `If-None-Match: *`: 412 means conditional writes work; success
    ///   means the header was ignored (garage); 501 means it is not implemented.
    ///
    /// The probe is deleted whatever happened.
    pub(crate) async fn probe(&self) -> Result<Capabilities, S3Error> {
        let now = jiff::Timestamp::now();
        let name = format!(
            "{}{PROBE_PREFIX}{}-{}",
            self.config.prefix(),
            now.as_nanosecond(),
            std::process::id()
        );
        let meta = ObjectMeta {
            tenant: "_callscore".into(),
            recording_id: "probe".into(),
            retention_class: RetentionClass::NonRespondent,
            // should the delete fail, the leftover expires with the shortest-kept class
            expires_on: Some(now.to_zoned(jiff::tz::TimeZone::UTC).date()),
            sha256: Sha256::digest(PROBE)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            content_type: "text/plain".into(),
            size: PROBE.len() as u64,
        };
        let failed = |e: Failure| S3Error::Probe(format!("{name}: {}", e.message));
        let tags = self.config.tagging != TaggingMode::Off;
        self.write(&name, PROBE, &meta, tags, false)
            .await
            .map_err(failed)?;
        let found = async {
            // tags first: the second write replaces the object
            let tagging = match self.config.tagging {
                TaggingMode::Auto => self.keeps_tags(&name).await.map_err(failed)?,
                mode => mode == TaggingMode::On,
            };
            let conditional_writes = match self.write(&name, PROBE, &meta, tags, true).await {
                Err(e) if e.status == Some(412) => true,
                Ok(()) => false,
                Err(e) if e.not_implemented() => false,
                Err(e) => return Err(failed(e)),
            };
            let versioning = self.keeps_versions(&name).await.map_err(failed)?;
            // Object Lock needs versioning
            let object_lock = versioning && self.has_object_lock().await.map_err(failed)?;
            Ok(Capabilities {
                tagging,
                conditional_writes,
                versioning,
                object_lock,
            })
        }
        .await;
        let versioned = matches!(&found, Ok(capabilities) if capabilities.versioning);
        let deleted = if versioned {
            self.delete_versions(&name).await.map(drop)
        } else {
            self.delete_object(&name).await
        };
        if let Err(e) = deleted {
            tracing::warn!(key = %name, error = %e.message, "the probe object was not deleted");
        }
        tracing::debug!(capabilities = ?found, "probed the store");
        found
    }

    /// Whether the bucket keeps versions: the probe object has a version id other than
    /// `null` (AWS and moto list it so on a versioned bucket; an unversioned one says `null`).
    /// A store without versioning (garage) does not implement the listing (501). Asked of
    /// the object rather than with GetBucketVersioning, whose answer some emulators word so
    /// that no SDK reads it.
    async fn keeps_versions(&self, name: &str) -> Result<bool, Failure> {
        match self
            .client
            .list_object_versions()
            .bucket(&self.config.bucket)
            .prefix(name)
            .send()
            .await
        {
            Ok(answer) => Ok(answer
                .versions()
                .iter()
                .filter(|v| v.key() == Some(name))
                .any(|v| v.version_id().is_some_and(|id| id != "null"))),
            Err(e) => {
                let failure = Failure::of(&e);
                if failure.not_implemented() {
                    Ok(false)
                } else {
                    Err(failure)
                }
            }
        }
    }

    /// Whether the bucket has Object Lock enabled. A bucket without it answers
    /// `ObjectLockConfigurationNotFoundError` (404), a store without the feature 501. Where
    /// the credentials may not ask (403) it cannot be told, and a lock is assumed possible, as
    /// the safer reading of a refused delete.
    async fn has_object_lock(&self) -> Result<bool, Failure> {
        match self
            .client
            .get_object_lock_configuration()
            .bucket(&self.config.bucket)
            .send()
            .await
        {
            Ok(answer) => Ok(answer
                .object_lock_configuration()
                .and_then(|c| c.object_lock_enabled())
                .is_some_and(|e| *e == ObjectLockEnabled::Enabled)),
            Err(e) => {
                let failure = Failure::of(&e);
                if failure.status == Some(403) {
                    tracing::warn!(
                        error = %failure.message,
                        "cannot ask whether the bucket has Object Lock: a refused delete of a \
                         version will be reported as locked"
                    );
                    Ok(true)
                } else if failure.status == Some(404)
                    || failure.code.as_deref() == Some("ObjectLockConfigurationNotFoundError")
                    || failure.not_implemented()
                {
                    Ok(false)
                } else {
                    Err(failure)
                }
            }
        }
    }

    /// Whether the object `name`, written with tags, has them.
    async fn keeps_tags(&self, name: &str) -> Result<bool, Failure> {
        let tags = self
            .client
            .get_object_tagging()
            .bucket(&self.config.bucket)
            .key(name)
            .send()
            .await;
        match tags {
            Ok(tags) => Ok(!tags.tag_set().is_empty()),
            Err(e) => {
                let failure = Failure::of(&e);
                if failure.not_implemented() {
                    Ok(false)
                } else {
                    Err(failure)
                }
            }
        }
    }
}
