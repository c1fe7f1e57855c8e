//! [`S3Store`]: the audio store on S3 or an S3-compatible store.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{Builder, Region};
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use callscore_pipeline::{
    AudioStore, Deleted, ObjectKey, ObjectMeta, PutOutcome, Retry, StoreError,
};

use crate::config::{S3Config, Sse};
use crate::error::{Failure, S3Error, found};
use crate::object;

/// Attempts per operation, the first included: one quick retry inside the SDK; the service
/// backs off and retries whole recordings itself.
const MAX_ATTEMPTS: u32 = 2;

/// What the store was found to support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Objects keep the tags they are written with.
    pub tagging: bool,
    /// Writes with `If-None-Match: *` are refused (412) when the object exists. garage
    /// accepts the header and overwrites anyway.
    pub conditional_writes: bool,
    /// The bucket keeps versions (versioning enabled or suspended): a delete removes every
    /// version and delete marker, or the data would stay.
    pub versioning: bool,
    /// The bucket has Object Lock enabled: a version may be kept by a retention period or a
    /// legal hold of the store's own, and a refused delete of a version is reported as locked.
    /// Without it nothing can keep a version, and a refused delete is an error (the
    /// credentials lack `s3:DeleteObjectVersion`).
    pub object_lock: bool,
}

/// The audio store on S3 or an S3-compatible store. See the [crate] documentation for the
/// layout and guarantees.
#[derive(Debug, Clone)]
pub struct S3Store {
    pub(crate) client: Client,
    pub(crate) config: S3Config,
    capabilities: Capabilities,
}

impl S3Store {
    /// Connects with credentials, and any setting the configuration leaves out, from the
    /// standard AWS chain; checks that the bucket answers and probes what the store supports.
    pub async fn connect(config: &S3Config) -> Result<S3Store, S3Error> {
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        S3Store::from_sdk_config(config, &sdk).await
    }

    /// Like [`S3Store::connect`], with credentials and defaults from `sdk` instead of the
    /// environment: for tests and for embedding services that load AWS settings themselves.
    /// The `[s3]` settings override `sdk`'s.
    pub async fn from_sdk_config(config: &S3Config, sdk: &SdkConfig) -> Result<S3Store, S3Error> {
        config.validate().map_err(S3Error::Config)?;
        let mut builder = Builder::from(sdk)
            .force_path_style(config.force_path_style)
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(config.timeout())
                    .build(),
            );
        if let Some(region) = &config.region {
            builder = builder.region(Region::new(region.clone()));
        }
        if let Some(url) = &config.endpoint_url {
            builder = builder.endpoint_url(url);
        }
        let mut store = S3Store {
            client: Client::from_conf(builder.build()),
            config: config.clone(),
            capabilities: Capabilities {
                tagging: false,
                conditional_writes: false,
                versioning: false,
                object_lock: false,
            },
        };
        store.ping().await.map_err(|e| S3Error::Unreachable {
            bucket: config.bucket.clone(),
            retry: e.retry,
            message: e.message,
        })?;
        store.capabilities = store.probe().await?;
        Ok(store)
    }

    /// What the store supports.
    pub fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    /// What callscore cannot do on this store, as sentences for the start-up log and the
    /// readiness detail; empty when nothing is missing.
    pub fn limitations(&self) -> Vec<String> {
        let mut limitations = Vec::new();
        if !self.capabilities.tagging {
            limitations.push(
                "the store does not support object tagging: retention is enforced by key \
                 prefix (TENANT/CLASS/...) and object metadata; install prefix lifecycle rules \
                 or run the sweeper"
                    .to_string(),
            );
        }
        if !self.capabilities.conditional_writes {
            limitations.push(
                "the store does not honour conditional writes (If-None-Match): a recording \
                 stored by two workers at the same moment is written twice (the same bytes, \
                 so nothing is lost), but of two different objects raced under one key the \
                 last silently wins"
                    .to_string(),
            );
        }
        limitations
    }

    /// Checks that the bucket answers (HeadBucket), for readiness. A bucket that is missing
    /// or refused blocks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .head_bucket()
            .bucket(&self.config.bucket)
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                let mut failure = Failure::of(&e);
                if failure.status == Some(404) {
                    failure.retry = Retry::Blocked;
                    failure.message = format!("NoSuchBucket ({})", failure.message);
                }
                failure.into_store_error("ping", &self.config.bucket)
            })
    }

    /// The object name of `key`: the store's prefix and the key.
    fn name(&self, key: &ObjectKey) -> String {
        format!("{}{key}", self.config.prefix())
    }

    /// What an existing object under `key` means for a put of `meta`: `None` when there is
    /// none, `AlreadyStored` when it holds the same bytes, a conflict otherwise.
    async fn existing(
        &self,
        key: &ObjectKey,
        meta: &ObjectMeta,
    ) -> Result<Option<PutOutcome>, StoreError> {
        let head = self
            .head_object(key)
            .await
            .map_err(|failure| failure.into_store_error("put", key.as_str()))?;
        let Some(head) = head else {
            return Ok(None);
        };
        let stored = head.metadata().and_then(|m| m.get(object::SHA256));
        if stored == Some(&meta.sha256) {
            Ok(Some(PutOutcome::AlreadyStored))
        } else {
            Err(StoreError::conflict(key))
        }
    }

    async fn head_object(&self, key: &ObjectKey) -> Result<Option<HeadObjectOutput>, Failure> {
        found(
            self.client
                .head_object()
                .bucket(&self.config.bucket)
                .key(self.name(key))
                .send()
                .await,
        )
    }

    /// Writes `bytes` as the object `name` with `meta` as its metadata, and as its tags when
    /// `tags`; with `If-None-Match: *` when `conditional`, so that an object that appeared
    /// since we looked is not overwritten (412 instead).
    pub(crate) async fn write(
        &self,
        name: &str,
        bytes: &[u8],
        meta: &ObjectMeta,
        tags: bool,
        conditional: bool,
    ) -> Result<(), Failure> {
        let checksum = object::checksum_sha256(&meta.sha256).ok_or_else(|| Failure {
            retry: Retry::Permanent,
            status: None,
            code: None,
            message: "the object's sha256 is not 64 hex digits".into(),
        })?;
        let mut request = self
            .client
            .put_object()
            .bucket(&self.config.bucket)
            .key(name)
            .body(ByteStream::from(bytes.to_vec()))
            .content_type(&meta.content_type)
            .content_length(i64::try_from(bytes.len()).expect("slice lengths fit in i64"))
            .checksum_sha256(checksum)
            .set_metadata(Some(object::user_metadata(meta)));
        // tags with the write itself, so that no object is ever seen untagged; and only where
        // they are kept, so that a store that drops them is not sent noise
        if tags {
            request = request.tagging(object::tagging(meta));
        }
        if conditional {
            request = request.if_none_match("*");
        }
        request = match self.config.server_side_encryption {
            None => request,
            Some(Sse::Aes256) => request.server_side_encryption(ServerSideEncryption::Aes256),
            Some(Sse::AwsKms) => request
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .set_ssekms_key_id(self.config.kms_key_id.clone()),
        };
        // one timeout for a 1 KiB and a 256 MiB upload would fail the large one for ever
        let timeout = self.config.timeout_for(bytes.len() as u64);
        request
            .customize()
            .config_override(
                Builder::default().timeout_config(
                    TimeoutConfig::builder()
                        .operation_timeout(timeout)
                        .operation_attempt_timeout(timeout)
                        .build(),
                ),
            )
            .send()
            .await
            .map(drop)
            .map_err(|e| Failure::of(&e))
    }

    /// A 404 to a HEAD does not say whether the object or the bucket is missing (a HEAD
    /// answer has no body): asks the bucket. A missing bucket blocks (an operator must fix
    /// it); it is never "no such object".
    async fn missing_object_or_bucket(&self, key: &ObjectKey) -> Result<(), StoreError> {
        match self.ping().await {
            Ok(()) => Ok(()),
            Err(error) if error.retry == Retry::Permanent => Err(StoreError {
                operation: "head",
                key: key.to_string(),
                retry: Retry::Blocked,
                message: format!("the bucket does not answer: {}", error.message),
            }),
            Err(error) => Err(StoreError {
                operation: "head",
                key: key.to_string(),
                ..error
            }),
        }
    }

    pub(crate) async fn delete_object(&self, name: &str) -> Result<(), Failure> {
        let deleted = self
            .client
            .delete_object()
            .bucket(&self.config.bucket)
            .key(name)
            .send()
            .await;
        // deleting what is not there succeeds
        found(deleted).map(drop)
    }

    /// Deletes every version and delete marker of `name`; versions protected by an Object
    /// Lock (retention or legal hold) are counted as locked, not failed.
    pub(crate) async fn delete_versions(&self, name: &str) -> Result<Deleted, Failure> {
        let mut deleted = Deleted::default();
        let mut versions = Vec::new();
        let (mut key_marker, mut version_marker) = (None, None);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.config.bucket)
                .prefix(name)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| Failure::of(&e))?;
            for version in page.versions() {
                if version.key() == Some(name) {
                    versions.push(version.version_id().map(str::to_string));
                }
            }
            for marker in page.delete_markers() {
                if marker.key() == Some(name) {
                    versions.push(marker.version_id().map(str::to_string));
                }
            }
            if !page.is_truncated().unwrap_or(false) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
            if key_marker.is_none() {
                break;
            }
        }
        for version in versions {
            let result = self
                .client
                .delete_object()
                .bucket(&self.config.bucket)
                .key(name)
                .set_version_id(version)
                .send()
                .await;
            match result {
                Ok(_) => deleted.versions += 1,
                Err(e) => match refused_version(Failure::of(&e), self.capabilities.object_lock) {
                    Refused::Locked => deleted.locked += 1,
                    Refused::Gone => {}
                    Refused::Failed(failure) => return Err(failure),
                },
            }
        }
        Ok(deleted)
    }

    /// One page of keys under the store prefix + `prefix`, after `after`.
    async fn list_page(
        &self,
        prefix: &str,
        after: Option<&ObjectKey>,
        limit: usize,
    ) -> Result<Vec<ObjectKey>, StoreError> {
        let store_prefix = self.config.prefix();
        let mut keys = Vec::new();
        let mut start_after = after.map(|k| format!("{store_prefix}{k}"));
        while keys.len() < limit {
            let want = i32::try_from((limit - keys.len()).min(1000)).unwrap_or(1000);
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.config.bucket)
                .prefix(format!("{store_prefix}{prefix}"))
                .set_start_after(start_after.clone())
                .max_keys(want)
                .send()
                .await
                .map_err(|e| Failure::of(&e).into_store_error("list", prefix))?;
            let names: Vec<&str> = page.contents().iter().filter_map(|o| o.key()).collect();
            for name in &names {
                if let Some(key) = name.strip_prefix(store_prefix).and_then(ObjectKey::parse) {
                    keys.push(key);
                }
            }
            start_after = names.last().map(|n| (*n).to_string());
            if !page.is_truncated().unwrap_or(false) || names.is_empty() {
                break;
            }
        }
        keys.truncate(limit);
        Ok(keys)
    }
}

/// What a refused delete of one version means.
#[derive(Debug)]
enum Refused {
    /// An Object Lock keeps the version: reported, not an error.
    Locked,
    /// The version is already gone.
    Gone,
    /// A failure to report.
    Failed(Failure),
}

/// Judges a refused delete of a version on a bucket with or without Object Lock. S3 answers a
/// locked version's delete with 403 AccessDenied (a retention period in governance or
/// compliance mode, or a legal hold), some stores with `ObjectLocked`. Without Object Lock on
/// the bucket nothing can keep a version, and a 403 is the credentials: the data would stay
/// while the report said "locked".
fn refused_version(failure: Failure, object_lock: bool) -> Refused {
    if failure.code.as_deref() == Some("ObjectLocked") {
        return Refused::Locked;
    }
    match failure.status {
        Some(403) if object_lock => Refused::Locked,
        Some(403) => Refused::Failed(Failure {
            message: format!(
                "{} (the bucket has no Object Lock, so no lock keeps this version: the \
                 credentials may lack s3:DeleteObjectVersion)",
                failure.message
            ),
            ..failure
        }),
        Some(404) => Refused::Gone,
        _ => Refused::Failed(failure),
    }
}

impl AudioStore for S3Store {
    async fn put(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<PutOutcome, StoreError> {
        let Capabilities {
            tagging,
            conditional_writes,
            ..
        } = self.capabilities;
        // a store that honours If-None-Match refuses to overwrite by itself (412, judged
        // below): no HEAD before every PUT, only after a refused one
        if !conditional_writes && let Some(outcome) = self.existing(key, meta).await? {
            return Ok(outcome);
        }
        let written = self
            .write(&self.name(key), bytes, meta, tagging, conditional_writes)
            .await;
        match written {
            Ok(()) => Ok(PutOutcome::Created),
            // a concurrent writer won the race: judge what it wrote
            Err(failure) if failure.status == Some(412) => {
                self.existing(key, meta).await?.ok_or_else(|| StoreError {
                    operation: "put",
                    key: key.to_string(),
                    retry: Retry::Transient,
                    message: "a concurrent write was reported but no object is there".into(),
                })
            }
            Err(failure) => Err(failure.into_store_error("put", key.as_str())),
        }
    }

    async fn replace(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<(), StoreError> {
        self.write(
            &self.name(key),
            bytes,
            meta,
            self.capabilities.tagging,
            false,
        )
        .await
        .map_err(|failure| failure.into_store_error("put", key.as_str()))
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, StoreError> {
        let object = found(
            self.client
                .get_object()
                .bucket(&self.config.bucket)
                .key(self.name(key))
                .send()
                .await,
        )
        .map_err(|failure| failure.into_store_error("get", key.as_str()))?;
        let Some(object) = object else {
            self.missing_object_or_bucket(key).await?;
            return Ok(None);
        };
        let length = object.content_length().and_then(|n| u64::try_from(n).ok());
        let timeout = self.config.timeout_for(length.unwrap_or(0));
        let body = tokio::time::timeout(timeout, object.body.collect())
            .await
            .map_err(|_| StoreError {
                operation: "get",
                key: key.to_string(),
                retry: Retry::Transient,
                message: format!("the body took longer than {timeout:?}"),
            })?
            .map_err(|e| StoreError {
                operation: "get",
                key: key.to_string(),
                retry: Retry::Transient,
                message: format!("reading the body: {e}"),
            })?;
        Ok(Some(body.to_vec()))
    }

    async fn mark(&self, key: &ObjectKey) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.config.bucket)
            .key(self.name(key))
            .content_length(0)
            .body(ByteStream::from_static(b""))
            .send()
            .await
            .map(drop)
            .map_err(|e| Failure::of(&e).into_store_error("mark", key.as_str()))
    }

    async fn list_after(
        &self,
        prefix: &str,
        after: Option<&ObjectKey>,
        limit: usize,
    ) -> Result<Vec<ObjectKey>, StoreError> {
        self.list_page(prefix, after, limit).await
    }

    async fn children(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let store_prefix = self.config.prefix();
        let full = format!("{store_prefix}{prefix}");
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.config.bucket)
            .prefix(&full)
            .delimiter("/")
            .into_paginator()
            .send();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Failure::of(&e).into_store_error("list", prefix))?;
            for common in page.common_prefixes() {
                if let Some(name) = common
                    .prefix()
                    .and_then(|p| p.strip_prefix(&full))
                    .map(|p| p.trim_end_matches('/'))
                {
                    names.push(name.to_string());
                }
            }
            for object in page.contents() {
                if let Some(name) = object.key().and_then(|k| k.strip_prefix(&full)) {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StoreError> {
        let head = self
            .head_object(key)
            .await
            .map_err(|failure| failure.into_store_error("head", key.as_str()))?;
        let Some(head) = head else {
            self.missing_object_or_bucket(key).await?;
            return Ok(None);
        };
        // metadata callscore cannot read is damage, not something a retry repairs
        object::read_meta(head.metadata(), head.content_type())
            .map(Some)
            .map_err(|message| StoreError {
                operation: "head",
                key: key.to_string(),
                retry: Retry::Permanent,
                message,
            })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StoreError> {
        let store_prefix = self.config.prefix();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.config.bucket)
            .prefix(format!("{store_prefix}{prefix}"))
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Failure::of(&e).into_store_error("list", prefix))?;
            for name in page.contents().iter().filter_map(|o| o.key()) {
                match name.strip_prefix(store_prefix).and_then(ObjectKey::parse) {
                    Some(key) => keys.push(key),
                    None => tracing::warn!(name, "skipping an object whose name is not a key"),
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<Deleted, StoreError> {
        let name = self.name(key);
        if self.capabilities.versioning {
            return self
                .delete_versions(&name)
                .await
                .map_err(|failure| failure.into_store_error("delete", key.as_str()));
        }
        self.delete_object(&name)
            .await
            .map_err(|failure| failure.into_store_error("delete", key.as_str()))?;
        // S3 does not say whether an unversioned object was there: callers delete what they
        // listed
        Ok(Deleted {
            versions: 1,
            locked: 0,
        })
    }

    fn uri(&self, key: &ObjectKey) -> String {
        format!("s3://{}/{}", self.config.bucket, self.name(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, code: &str) -> Failure {
        Failure {
            retry: Retry::Blocked,
            status: Some(status),
            code: Some(code.to_string()),
            message: format!("{code} ({status})"),
        }
    }

    #[test]
    fn a_refused_version_delete_is_a_lock_only_where_the_bucket_has_object_lock() {
        let denied = || refused(403, "AccessDenied");
        assert!(matches!(refused_version(denied(), true), Refused::Locked));
        match refused_version(denied(), false) {
            Refused::Failed(failure) => {
                assert_eq!(failure.retry, Retry::Blocked);
                assert!(
                    failure.message.contains("s3:DeleteObjectVersion"),
                    "{failure:?}"
                );
            }
            other => panic!("a refusal without Object Lock is the credentials: {other:?}"),
        }
        for object_lock in [true, false] {
            let locked = refused_version(refused(400, "ObjectLocked"), object_lock);
            assert!(matches!(locked, Refused::Locked));
            let gone = refused_version(refused(404, "NoSuchVersion"), object_lock);
            assert!(matches!(gone, Refused::Gone));
            let failed = refused_version(refused(503, "SlowDown"), object_lock);
            assert!(matches!(failed, Refused::Failed(_)));
        }
    }
}
