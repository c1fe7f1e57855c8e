//! callscore's audio store on AWS S3 and S3-compatible stores (garage, MinIO, Ceph RGW, …):
//! [`S3Store`] implements the pipeline's [`AudioStore`](callscore_pipeline::AudioStore) port
//! and keeps its contract (checked against real stores by this crate's tests).
//!
//! # Layout
//!
//! An object's name is the configured prefix and the pipeline's
//! [`ObjectKey`](callscore_pipeline::ObjectKey) (see [`callscore_pipeline::layout`]):
//! `PREFIX/TENANT/CLASS/CALLER/RECORDING/audio.EXT` and `.../record.json` beside it, with empty
//! markers under `PREFIX/TENANT/_index/` that find a recording by expiry day, id or call
//! without listing the bucket. Everything of one caller sits under four prefixes (one per
//! retention class), and a store that can only expire by prefix still expires each class on
//! its own schedule. Every
//! object carries its retention data as user metadata (`x-amz-meta-tenant`, `-recording-id`,
//! `-retention-class`, `-expires-on` (a day, or `none` under a legal hold), `-sha256`,
//! `-size`), and, where the store keeps tags, as tags (`retention-class`, `expires-on`,
//! `tenant`) sent with the write itself, so no object is ever seen untagged.
//!
//! # Capability probe
//!
//! [`S3Store::connect`] writes a probe object under `PREFIX_callscore/probe/` with every
//! header a put sends (so a store that refuses one fails at start-up, not on every
//! recording), then deletes it. With `tagging = "auto"` (the default) it reads the probe's
//! tags back: stores that drop tags (garage accepts `x-amz-tagging`, forgets it, and answers
//! `GetObjectTagging` with 501) are written without tags. It also writes the probe again with
//! `If-None-Match: *`: a 412 shows that conditional writes work; garage accepts the header
//! and overwrites. [`S3Store::capabilities`] holds the findings and [`S3Store::limitations`]
//! says what they cost, for the start-up log and the readiness detail. callscore never
//! installs lifecycle rules here.
//!
//! # Idempotency and integrity
//!
//! Keys are deterministic, so a redelivered recording is put again under the same key. On a
//! store that ignores `If-None-Match` (garage), a put first asks for the object (HeadObject):
//! the same SHA-256 in its metadata means
//! [`PutOutcome::AlreadyStored`](callscore_pipeline::PutOutcome) and nothing is written;
//! another means a permanent conflict, never an overwrite. Where the store honours
//! `If-None-Match: *`, the put writes with it and asks only when refused (412), so that a
//! writer that got there first is judged the same way. Every write carries
//! `x-amz-checksum-sha256`, the digest the pipeline computed, so that a verifying store (AWS,
//! garage; not moto) refuses bytes damaged since they were hashed.
//!
//! The credentials need `s3:ListBucket` on the bucket (without it, asking for a missing
//! object is answered 403 instead of 404), `s3:ListBucketVersions` (the start-up probe asks
//! whether the bucket keeps versions), `s3:GetObject`, `s3:PutObject`, `s3:DeleteObject`,
//! `s3:DeleteObjectVersion` (on a versioned bucket a deletion removes every version),
//! `s3:GetBucketObjectLockConfiguration` (on a versioned bucket the probe asks whether it has
//! Object Lock: only then is a refused delete of a version a lock, reported, and otherwise an
//! error), and
//! `s3:GetObjectTagging` with `tagging = "auto"`; the lifecycle commands also need
//! `s3:GetLifecycleConfiguration` and `s3:PutLifecycleConfiguration`; plus `s3:GetObject` on the staging
//! buckets, which the [`StagedAudio`](callscore_pipeline::StagedAudio) port reads: only
//! buckets named in `staging_buckets` (never the audio bucket), and with
//! `staging_tenant_prefix` only keys under the message's tenant.
//!
//! Failures are [`StoreError`](callscore_pipeline::StoreError)s whose
//! [`Retry`](callscore_pipeline::Retry) says what to do: timeouts, outages, 5xx, 408, 429 and
//! `SlowDown` are transient; a refused deployment (403, expired or wrong credentials, a
//! skewed clock, a missing bucket) blocks until an operator fixes it; other refusals are
//! permanent. An operation that moves an object's bytes may take the base timeout plus the
//! bytes at `min_throughput_bytes_per_s`.
//!
//! # Example
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use callscore_s3::{S3Config, S3Store};
//!
//! let config: S3Config = toml::from_str(
//!     r#"bucket = "callscore-audio"
//!        endpoint_url = "http://127.0.0.1:3900"
//!        region = "garage"
//!        force_path_style = true"#,
//! )?;
//! // credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the rest of the chain
//! let store = S3Store::connect(&config).await?;
//! for limitation in store.limitations() {
//!     tracing::warn!("{limitation}");
//! }
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod config;
mod error;
mod fetch;
pub mod lifecycle;
mod object;
mod probe;
mod store;

pub use config::{S3Config, Sse, TaggingMode};
pub use error::S3Error;
pub use fetch::staged_object;
pub use store::{Capabilities, S3Store};
