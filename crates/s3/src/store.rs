//! [`S3Store`]: the audio store on S3 or an S3-compatible store.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{Builder, Region};
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use callscore_pipeline::{AudioStore, ObjectKey, ObjectMeta, PutOutcome, Retry, StoreError};

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
}

impl AudioStore for S3Store {
    async fn put(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<PutOutcome, StoreError> {
        if let Some(outcome) = self.existing(key, meta).await? {
            return Ok(outcome);
        }
        let Capabilities {
            tagging,
            conditional_writes,
        } = self.capabilities;
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

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        self.delete_object(&self.name(key))
            .await
            .map_err(|failure| failure.into_store_error("delete", key.as_str()))
    }

    fn uri(&self, key: &ObjectKey) -> String {
        format!("s3://{}/{}", self.config.bucket, self.name(key))
    }
}
