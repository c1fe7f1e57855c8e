//! The pipeline's ports: where audio is stored and where events go. Every implementation keeps
//! the contracts written here, and runs the suite in [`crate::contract`] to show it.
//!
//! The methods are `async` so that network adapters (S3, Kafka) need no thread of their own;
//! the pipeline itself depends on no runtime, and file-backed adapters just return ready
//! futures.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use callscore_survey::RetentionClass;
use jiff::Timestamp;
use jiff::civil::Date;
use schemars::JsonSchema;
use serde::Serialize;

/// Where an object lives in a store; laid out by [`crate::layout`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

/// The caller segment of keys for calls whose number was withheld.
pub const WITHHELD: &str = "withheld";

impl ObjectKey {
    /// A key built by the layout from validated parts.
    pub(crate) fn from_layout(key: String) -> ObjectKey {
        ObjectKey(key)
    }

    /// A key as a store lists it back. Refuses keys with empty, `.` or `..` segments.
    pub fn parse(text: &str) -> Option<ObjectKey> {
        let sane = !text.is_empty()
            && text
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..");
        sane.then(|| ObjectKey(text.to_string()))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The retention class as it appears in keys, tags and events.
pub fn class_name(class: RetentionClass) -> &'static str {
    match class {
        RetentionClass::Respondent => "respondent",
        RetentionClass::NonRespondent => "non_respondent",
        RetentionClass::ConsentedContact => "consented_contact",
        RetentionClass::LegalHold => "legal_hold",
    }
}

/// What is stored with every object (as tags where the store has them, and as metadata), so
/// that retention stays enforceable from the object alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ObjectMeta {
    /// The tenant.
    pub tenant: String,
    /// The recording's id.
    pub recording_id: String,
    /// The retention class.
    pub retention_class: RetentionClass,
    /// The last day the object may be kept; `None` under a legal hold.
    pub expires_on: Option<Date>,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
    /// The media type, e.g. `audio/wav`.
    pub content_type: String,
    /// Length in bytes.
    pub size: u64,
}

/// What a put did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The object was written.
    Created,
    /// The same bytes were already stored under the key (a redelivery): nothing written.
    AlreadyStored,
}

/// What a failure means for the recording, and for the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retry {
    /// A timeout, an outage, a 5xx: the same call may succeed later. Retried with backoff.
    Transient,
    /// The deployment refuses: credentials expired or wrong, a permission missing, the bucket
    /// or topic gone, the clock skewed. Nothing about the recording is wrong, and nothing gets
    /// better by itself: intake pauses, the service says so (metric, readiness, log) and
    /// retries with backoff until an operator fixes it. Never a dead letter.
    Blocked,
    /// A refusal that will not change: retrying is pointless; the recording is dead-lettered.
    Permanent,
    /// The adapter itself is broken for good (a fatal producer error): nothing more can be
    /// delivered by this process. The service drains what it can and exits non-zero so that
    /// its supervisor restarts it.
    Fatal,
}

impl Retry {
    /// The name used in metric labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Retry::Transient => "transient",
            Retry::Blocked => "blocked",
            Retry::Permanent => "permanent",
            Retry::Fatal => "fatal",
        }
    }

    /// Whether waiting and trying again can help (transient or blocked).
    pub fn retries(self) -> bool {
        matches!(self, Retry::Transient | Retry::Blocked)
    }
}

impl fmt::Display for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A store failure.
#[derive(Debug, thiserror::Error)]
#[error("{operation} {key}: {message}")]
pub struct StoreError {
    /// What was attempted: `put`, `head`, `delete`, `list`.
    pub operation: &'static str,
    /// The key or prefix.
    pub key: String,
    /// Whether to retry.
    pub retry: Retry,
    /// What went wrong.
    pub message: String,
}

impl StoreError {
    /// Other bytes are already stored under `key`: keys are deterministic, so this is a bug
    /// or a collision, never something to retry or overwrite.
    pub fn conflict(key: &ObjectKey) -> StoreError {
        StoreError {
            operation: "put",
            key: key.to_string(),
            retry: Retry::Permanent,
            message: "other bytes are already stored under this key".into(),
        }
    }
}

/// An event sink failure.
#[derive(Debug, thiserror::Error)]
#[error("publishing {what}: {message}")]
pub struct SinkError {
    /// What was published: `events` or `dead letter`.
    pub what: &'static str,
    /// Whether to retry.
    pub retry: Retry,
    /// What went wrong.
    pub message: String,
}

/// What a delete removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deleted {
    /// Versions (and delete markers) removed; 1 for an unversioned object, 0 when nothing was
    /// there.
    pub versions: u32,
    /// Versions the store refused to remove because an Object Lock or a legal hold of the
    /// store's own protects them: reported, never skipped in silence.
    pub locked: u32,
}

impl std::ops::AddAssign for Deleted {
    fn add_assign(&mut self, other: Deleted) {
        self.versions += other.versions;
        self.locked += other.locked;
    }
}

/// Storage for recordings' audio and what callscore knows of them.
///
/// Contract (checked by [`crate::contract::audio_store`]):
/// - `put` is atomic and durable when it returns: a reader sees the whole object with its
///   metadata, or nothing;
/// - `put` is idempotent: the same bytes under the same key again return
///   [`PutOutcome::AlreadyStored`] and write nothing; other bytes under an existing key are a
///   permanent error, never an overwrite (keys are deterministic, so this means a bug or a
///   collision worth a dead letter);
/// - `replace` writes unconditionally (a record that is derived again, an object moved);
/// - `get` returns the bytes stored, `head` the metadata, or `None`;
/// - `mark` writes an empty marker object; marking again succeeds;
/// - `list` returns every key under a prefix, in key order; `list_after` one page of them,
///   at most `limit` keys after `after`, so that a caller can stop early; `children` the
///   distinct next segments below a prefix (`a/b/c` and `a/d` below `a/` are `b` and `d`);
/// - `delete` removes an object, every version of it on a versioned store, and its metadata;
///   deleting what is not there succeeds; versions the store protects are counted as locked.
pub trait AudioStore: Send + Sync {
    /// Stores `bytes` under `key` with `meta`, once.
    fn put(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> impl Future<Output = Result<PutOutcome, StoreError>> + Send;

    /// Stores `bytes` under `key` with `meta`, over whatever is there.
    fn replace(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The bytes of the object under `key`.
    fn get(
        &self,
        key: &ObjectKey,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// The metadata of the object under `key`.
    fn head(
        &self,
        key: &ObjectKey,
    ) -> impl Future<Output = Result<Option<ObjectMeta>, StoreError>> + Send;

    /// Writes an empty marker under `key`.
    fn mark(&self, key: &ObjectKey) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every key under `prefix`.
    fn list(&self, prefix: &str)
    -> impl Future<Output = Result<Vec<ObjectKey>, StoreError>> + Send;

    /// At most `limit` keys under `prefix` after `after`, in key order.
    fn list_after(
        &self,
        prefix: &str,
        after: Option<&ObjectKey>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ObjectKey>, StoreError>> + Send;

    /// The distinct next segments below `prefix` (which ends with `/`).
    fn children(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Removes the object under `key`, every version of it.
    fn delete(&self, key: &ObjectKey) -> impl Future<Output = Result<Deleted, StoreError>> + Send;

    /// The URI events use to refer to an object.
    fn uri(&self, key: &ObjectKey) -> String;
}

/// An input that failed before the pipeline could start on it (unreadable, bad metadata): the
/// delivery core dead-letters it like any other failure.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// Where it came from (redacted: see [`crate::redact`]).
    pub input: String,
    /// Its metadata, when that was readable.
    pub metadata: Option<Box<crate::RecordingMetadata>>,
    /// Why.
    pub failure: crate::Failure,
}

/// A source failure (acknowledging, writing a dead letter).
#[derive(Debug, thiserror::Error)]
#[error("{operation} {input}: {message}")]
pub struct SourceError {
    /// What was attempted: `acknowledging` or `dead-lettering`.
    pub operation: &'static str,
    /// The input concerned.
    pub input: String,
    /// Whether to retry.
    pub retry: Retry,
    /// What went wrong.
    pub message: String,
}

/// Where a recording's audio is: in the input itself, or in a staging bucket it refers to.
#[derive(Debug, Clone)]
pub enum Payload {
    /// The bytes.
    Inline(Arc<[u8]>),
    /// An object to fetch through the [`StagedAudio`] port.
    Staged(AudioReference),
}

impl Payload {
    /// Bytes held in memory now (a reference holds none until fetched).
    pub fn len(&self) -> u64 {
        match self {
            Payload::Inline(bytes) => bytes.len() as u64,
            Payload::Staged(_) => 0,
        }
    }

    /// Whether no bytes are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Audio uploaded to a staging bucket before the message that names it was sent (for
/// recordings over the broker's message size).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AudioReference {
    /// `s3://BUCKET/KEY`.
    pub uri: String,
    /// SHA-256 of the object, lowercase hex; checked after fetching when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// One recording as a source hands it out, before its audio is fetched.
#[derive(Debug, Clone)]
pub struct Received {
    /// Where it came from, for dead letters and logs: a path, or `topic/partition/offset`
    /// (redacted: see [`crate::redact`]).
    pub input: String,
    /// Its metadata, already validated.
    pub metadata: crate::RecordingMetadata,
    /// The audio, or where it is.
    pub payload: Payload,
    /// The file extension, when there is one.
    pub extension: Option<String>,
    /// When callscore received it.
    pub received_at: Timestamp,
    /// When its sender sent it (a Kafka message's timestamp), for end-to-end latency.
    pub sent_at: Option<Timestamp>,
}

/// An input taken from a [`RecordingSource`], with what acknowledges it.
#[derive(Debug)]
pub struct Taken<R> {
    /// Hands the input back: to [`RecordingSource::ack`] when it is done, to
    /// [`RecordingSource::reject`] when it is dead-lettered.
    pub receipt: R,
    /// The recording, or why it could not even be read.
    pub item: Result<Received, Rejected>,
}

/// What a source needs back to acknowledge one input, and what the delivery core needs to know
/// about it.
pub trait Receipt: Send + Sync + 'static {
    /// The input's lane: inputs of one lane are acknowledged in the order they were taken (a
    /// Kafka partition); inputs of different lanes independently.
    fn lane(&self) -> u64;

    /// Bytes the input holds in memory, counted against the in-flight byte bound.
    fn bytes(&self) -> u64;

    /// Completes when the input stops being this consumer's (its partition was revoked in a
    /// rebalance): its work is abandoned unacknowledged, and the new owner does it again.
    /// Never completes by default.
    fn revoked(&self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }
}

/// Where recordings come from: files, a Kafka topic.
///
/// Contract (checked by [`crate::contract::recording_source`]):
/// - every input is handed out exactly once (to one of any number of concurrent callers), as a
///   recording or, when it cannot even be read, as [`Rejected`]: never skipped in silence;
/// - after the last, `next` returns `None`, and keeps doing so (a topic never ends: its
///   source returns `None` only once it is closed);
/// - `ack` is called only after the recording's audio is stored and its events published, or
///   after `reject` stored its dead letter, and in the order inputs of one
///   [lane](Receipt::lane) were taken (the caller's side of the contract); a source may then
///   forget the input (commit the offset, count the file);
/// - `reject` durably records the input as a dead letter, with its original where the source
///   has one (a Kafka message's value and headers), and never with a phone number: the
///   metadata it keeps carries the caller's pseudonym instead (which callscore accepts on
///   replay), and its texts are redacted.
pub trait RecordingSource: Send + Sync {
    /// What `ack` needs to acknowledge one input.
    type Receipt: Receipt;

    /// The next input, `None` when there are no more.
    fn next(&self) -> impl Future<Output = Option<Taken<Self::Receipt>>> + Send;

    /// Acknowledges an input that was fully delivered or dead-lettered.
    fn ack(&self, receipt: Self::Receipt) -> impl Future<Output = Result<(), SourceError>> + Send;

    /// Records the input as a dead letter, with its original. `caller_pseudonym` replaces the
    /// caller's number in the kept metadata.
    fn reject(
        &self,
        receipt: &Self::Receipt,
        letter: &crate::DeadLetter,
        caller_pseudonym: Option<&str>,
    ) -> impl Future<Output = Result<(), SourceError>> + Send;
}

/// Where audio uploaded to a staging bucket is fetched from.
///
/// Contract: a reference outside the configured staging locations (another bucket, another
/// tenant's prefix, the audio store itself) is a permanent failure before anything is read;
/// `fetch` refuses an object over `max_bytes` before reading its body.
pub trait StagedAudio: Send + Sync {
    /// The size of the referenced object, once the reference is known to be allowed for
    /// `tenant`.
    fn size(
        &self,
        reference: &AudioReference,
        tenant: &str,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The referenced object's bytes, at most `max_bytes`.
    fn fetch(
        &self,
        reference: &AudioReference,
        tenant: &str,
        max_bytes: u64,
    ) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;
}

/// A deployment without staging buckets: every reference is refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoStaging;

impl StagedAudio for NoStaging {
    async fn size(&self, reference: &AudioReference, _tenant: &str) -> Result<u64, StoreError> {
        Err(no_staging(reference))
    }

    async fn fetch(
        &self,
        reference: &AudioReference,
        _tenant: &str,
        _max_bytes: u64,
    ) -> Result<Vec<u8>, StoreError> {
        Err(no_staging(reference))
    }
}

fn no_staging(reference: &AudioReference) -> StoreError {
    StoreError {
        operation: "fetch",
        key: crate::redact::redact(&reference.uri).into_owned(),
        retry: Retry::Permanent,
        message: "no staging bucket is configured: audio references are not accepted".into(),
    }
}

/// A stream of facts callscore publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Score, response and erasure events, keyed by `event_id`.
    Scores,
    /// Contact requests of callers who agreed to be contacted, keyed by `request_id`: the one
    /// stream that carries a phone number.
    Contacts,
    /// Transcription requests for comment clips and the transcripts written back, both keyed
    /// by the request's `request_id`: a retraction removes both.
    Transcriptions,
}

impl Stream {
    /// The name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Scores => "scores",
            Stream::Contacts => "contacts",
            Stream::Transcriptions => "transcriptions",
        }
    }
}

/// Where score events and contact requests go.
///
/// Contract (checked by [`crate::contract::event_sink`]):
/// - `publish` is durable when it returns: every event of the batch is delivered, in order,
///   keyed by its `event_id` (one key per fact, so a compacted topic keeps every fact and an
///   erasure can tombstone exactly the facts of one subject); a failure may have delivered
///   some of them, so consumers deduplicate by event id (which is deterministic: a
///   redelivered recording produces the same ids);
/// - `contact` delivers contact requests the same way, keyed by `request_id`, to the contact
///   stream only;
/// - `retract` removes the facts under `keys` from a stream: tombstones on a compacted topic,
///   the lines taken out of a file. Retracting what is not there succeeds.
pub trait EventSink: Send + Sync {
    /// Publishes one recording's events, each a JSON object with an `event_id`.
    fn publish(
        &self,
        events: &[serde_json::Value],
    ) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Publishes contact requests, each a JSON object with a `request_id`.
    fn contact(
        &self,
        requests: &[serde_json::Value],
    ) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Publishes transcription requests, each a JSON object with a `request_id`.
    fn transcription(
        &self,
        requests: &[serde_json::Value],
    ) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Removes the facts under `keys` from `stream`.
    fn retract(
        &self,
        stream: Stream,
        keys: &[String],
    ) -> impl Future<Output = Result<(), SinkError>> + Send;
}

impl<S: AudioStore + ?Sized> AudioStore for Arc<S> {
    fn put(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> impl Future<Output = Result<PutOutcome, StoreError>> + Send {
        (**self).put(key, bytes, meta)
    }

    fn replace(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).replace(key, bytes, meta)
    }

    fn get(
        &self,
        key: &ObjectKey,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send {
        (**self).get(key)
    }

    fn mark(&self, key: &ObjectKey) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).mark(key)
    }

    fn list_after(
        &self,
        prefix: &str,
        after: Option<&ObjectKey>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ObjectKey>, StoreError>> + Send {
        (**self).list_after(prefix, after, limit)
    }

    fn children(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send {
        (**self).children(prefix)
    }

    fn head(
        &self,
        key: &ObjectKey,
    ) -> impl Future<Output = Result<Option<ObjectMeta>, StoreError>> + Send {
        (**self).head(key)
    }

    fn list(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<ObjectKey>, StoreError>> + Send {
        (**self).list(prefix)
    }

    fn delete(&self, key: &ObjectKey) -> impl Future<Output = Result<Deleted, StoreError>> + Send {
        (**self).delete(key)
    }

    fn uri(&self, key: &ObjectKey) -> String {
        (**self).uri(key)
    }
}

impl<S: EventSink + ?Sized> EventSink for Arc<S> {
    fn publish(
        &self,
        events: &[serde_json::Value],
    ) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).publish(events)
    }

    fn contact(
        &self,
        requests: &[serde_json::Value],
    ) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).contact(requests)
    }

    fn transcription(
        &self,
        requests: &[serde_json::Value],
    ) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).transcription(requests)
    }

    fn retract(
        &self,
        stream: Stream,
        keys: &[String],
    ) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).retract(stream, keys)
    }
}

impl<S: StagedAudio + ?Sized> StagedAudio for Arc<S> {
    fn size(
        &self,
        reference: &AudioReference,
        tenant: &str,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        (**self).size(reference, tenant)
    }

    fn fetch(
        &self,
        reference: &AudioReference,
        tenant: &str,
        max_bytes: u64,
    ) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send {
        (**self).fetch(reference, tenant, max_bytes)
    }
}

impl<S: RecordingSource + ?Sized> RecordingSource for Arc<S> {
    type Receipt = S::Receipt;

    fn next(&self) -> impl Future<Output = Option<Taken<Self::Receipt>>> + Send {
        (**self).next()
    }

    fn ack(&self, receipt: Self::Receipt) -> impl Future<Output = Result<(), SourceError>> + Send {
        (**self).ack(receipt)
    }

    fn reject(
        &self,
        receipt: &Self::Receipt,
        letter: &crate::DeadLetter,
        caller_pseudonym: Option<&str>,
    ) -> impl Future<Output = Result<(), SourceError>> + Send {
        (**self).reject(receipt, letter, caller_pseudonym)
    }
}
