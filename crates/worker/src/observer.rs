//! What the core reports, as typed events: the observer turns them into metrics, readiness and
//! log lines (`callscore-telemetry`), or a batch summary (`callscore process`). The core writes
//! no metric label and no log text of its own.

use std::time::Duration;

use callscore_pipeline::{Analysis, DeadLetter, Delivered, Failure};

/// A timed step of one recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Fetching staged audio.
    Fetch,
    /// Decoding and resampling.
    Decode,
    /// Key detection.
    Detect,
    /// Answers, retention, hashing.
    Score,
    /// Storing the audio.
    Store,
    /// Publishing the events.
    Publish,
}

impl Step {
    /// The name used in metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Fetch => "fetch",
            Step::Decode => "decode",
            Step::Detect => "detect",
            Step::Score => "score",
            Step::Store => "store",
            Step::Publish => "publish",
        }
    }
}

/// How one input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Stored and published.
    Processed,
    /// Stored and published before (a redelivery): nothing new written.
    Redelivered,
    /// Recorded as a dead letter.
    DeadLettered,
}

impl Outcome {
    /// The name used in metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Processed => "processed",
            Outcome::Redelivered => "redelivered",
            Outcome::DeadLettered => "dead_lettered",
        }
    }
}

/// Why work was left unfinished and unacknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abandon {
    /// The drain deadline passed after cancellation.
    Shutdown,
    /// The input's partition was revoked: its new owner does it again.
    Revoked,
    /// A fatal failure stopped the run.
    Fatal,
}

/// One finished input.
#[derive(Debug)]
pub struct Finished<'a> {
    /// Where it came from (redacted).
    pub input: &'a str,
    /// How it ended.
    pub outcome: Outcome,
    /// What was delivered, when it was.
    pub delivered: Option<&'a Delivered>,
    /// From its sender's timestamp to its acknowledgement, when the source knows the former.
    pub end_to_end: Option<Duration>,
}

/// A store request, as counted by [`crate::Counted`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreOperation {
    /// Writing an object.
    Put,
    /// Reading an object.
    Get,
    /// Reading an object's metadata.
    Head,
    /// Writing a marker.
    Mark,
    /// Listing keys.
    List,
    /// Deleting an object.
    Delete,
    /// Fetching staged audio.
    Fetch,
}

impl StoreOperation {
    /// The name used in metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreOperation::Put => "put",
            StoreOperation::Get => "get",
            StoreOperation::Head => "head",
            StoreOperation::Mark => "mark",
            StoreOperation::List => "list",
            StoreOperation::Delete => "delete",
            StoreOperation::Fetch => "fetch",
        }
    }
}

/// What a store request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreResult {
    /// Written, read or deleted.
    Ok,
    /// A put found the same bytes already stored.
    AlreadyStored,
    /// A failure worth retrying (timeout, 5xx, connection).
    TransientError,
    /// A refusal by the deployment (credentials, permissions, a missing bucket).
    BlockedError,
    /// A refusal of the request itself.
    PermanentError,
}

impl StoreResult {
    /// The name used in metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreResult::Ok => "ok",
            StoreResult::AlreadyStored => "already_stored",
            StoreResult::TransientError => "transient_error",
            StoreResult::BlockedError => "blocked_error",
            StoreResult::PermanentError => "permanent_error",
        }
    }
}

/// Receives the core's events. Every method has a default that ignores the event, so an
/// observer implements what it reports.
pub trait Observer: Send + Sync + 'static {
    /// An input was taken from the source.
    fn taken(&self, _input: &str, _bytes: u64) {}

    /// Work in flight changed: inputs taken and not finished, and the bytes they hold.
    fn in_flight(&self, _recordings: usize, _bytes: u64) {}

    /// A step of a recording took `took`.
    fn step(&self, _step: Step, _took: Duration) {}

    /// A recording was analysed (its keys, answers, warnings).
    fn analysed(&self, _analysis: &Analysis) {}

    /// A failure that may pass: the step is tried again after `wait`.
    fn retrying(&self, _failure: &Failure, _attempt: u32, _wait: Duration) {}

    /// The deployment refuses (credentials, permissions, a missing bucket): intake pauses
    /// until an attempt passes.
    fn blocked(&self, _failure: &Failure) {}

    /// An attempt passed again: intake resumes.
    fn unblocked(&self) {}

    /// An input was recorded as a dead letter.
    fn dead_lettered(&self, _letter: &DeadLetter) {}

    /// An input is finished and acknowledged.
    fn finished(&self, _finished: &Finished<'_>) {}

    /// An input is left unfinished and unacknowledged.
    fn abandoned(&self, _input: &str, _why: Abandon) {}

    /// An adapter failed for good: the run stops taking input and ends with this failure.
    fn fatal(&self, _failure: &Failure) {}

    /// A store request finished.
    fn store_request(&self, _operation: StoreOperation, _result: StoreResult) {}
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Observer for Silent {}

impl<O: Observer + ?Sized> Observer for std::sync::Arc<O> {
    fn taken(&self, input: &str, bytes: u64) {
        (**self).taken(input, bytes);
    }
    fn in_flight(&self, recordings: usize, bytes: u64) {
        (**self).in_flight(recordings, bytes);
    }
    fn step(&self, step: Step, took: Duration) {
        (**self).step(step, took);
    }
    fn analysed(&self, analysis: &Analysis) {
        (**self).analysed(analysis);
    }
    fn retrying(&self, failure: &Failure, attempt: u32, wait: Duration) {
        (**self).retrying(failure, attempt, wait);
    }
    fn blocked(&self, failure: &Failure) {
        (**self).blocked(failure);
    }
    fn unblocked(&self) {
        (**self).unblocked();
    }
    fn dead_lettered(&self, letter: &DeadLetter) {
        (**self).dead_lettered(letter);
    }
    fn finished(&self, finished: &Finished<'_>) {
        (**self).finished(finished);
    }
    fn abandoned(&self, input: &str, why: Abandon) {
        (**self).abandoned(input, why);
    }
    fn fatal(&self, failure: &Failure) {
        (**self).fatal(failure);
    }
    fn store_request(&self, operation: StoreOperation, result: StoreResult) {
        (**self).store_request(operation, result);
    }
}
