//! callscore's delivery core: what happens to each recording, in every mode.
//!
//! [`Worker`] takes inputs from a [`RecordingSource`](callscore_pipeline::RecordingSource),
//! fetches staged audio through [`StagedAudio`](callscore_pipeline::StagedAudio), runs the
//! [`Pipeline`](callscore_pipeline::Pipeline) (analysis on the blocking pool), stores and
//! publishes through the [`AudioStore`](callscore_pipeline::AudioStore) and
//! [`EventSink`](callscore_pipeline::EventSink) ports, and acknowledges each input once it is
//! delivered or dead-lettered, in the order its lane took it. Its rules:
//!
//! - **Bounded.** At most [`Policy::max_in_flight`] inputs and
//!   [`Policy::max_in_flight_bytes`] bytes (inline audio, and staged audio once its size is
//!   known) are in flight; at most [`Policy::workers`] analyses run at once.
//! - **Retried.** A [`Retry::Transient`](callscore_pipeline::Retry) failure is tried again
//!   with capped, jittered exponential backoff ([`RetryPolicy`]), for ever in a service, a few
//!   times in a batch. A [`Retry::Blocked`](callscore_pipeline::Retry) one (credentials,
//!   permissions, a missing bucket) is retried the same way, never dead-lettered, and pauses
//!   intake until an attempt passes.
//! - **Dead-lettered.** A permanent failure becomes a dead letter, recorded through the source
//!   (with the input's original and without a phone number), itself retried until stored; then
//!   the input is acknowledged, so a poison input never stalls its lane.
//! - **In order.** An input is acknowledged only when everything taken before it in its lane
//!   is finished ([`Sequencer`]).
//! - **Cancellable.** One [`CancellationToken`](tokio_util::sync::CancellationToken) stops
//!   intake; work in flight gets [`Policy::drain`] to finish and is then abandoned,
//!   unacknowledged. A revoked input's work is abandoned at once. A
//!   [`Retry::Fatal`](callscore_pipeline::Retry) failure stops the run and is returned in its
//!   [`Report`], so the service can exit non-zero.
//! - **Observed.** Everything noteworthy is a typed event on an [`Observer`]; the
//!   [`Counted`] wrapper reports store requests.
//!
//! ```no_run
//! # async fn run(
//! #     pipeline: callscore_pipeline::Pipeline,
//! #     files: callscore_pipeline::FileSource,
//! #     store: callscore_pipeline::LocalStore,
//! #     sink: callscore_pipeline::NdjsonSink<std::io::Stdout>,
//! # ) {
//! use std::num::NonZeroUsize;
//! use callscore_worker::{Policy, Silent, Worker};
//! use callscore_pipeline::NoStaging;
//!
//! let policy = Policy::batch(NonZeroUsize::new(2).expect("two"));
//! let worker = Worker::new(pipeline, files, store, sink, NoStaging, Silent, policy);
//! let report = worker.run(tokio_util::sync::CancellationToken::new()).await;
//! assert!(report.fatal.is_none());
//! # }
//! ```

#![deny(missing_docs)]

mod counting;
mod delivery;
mod observer;
mod policy;
mod sequence;
#[cfg(feature = "testsuite")]
pub mod testing;

pub use counting::Counted;
pub use delivery::{Report, Worker};
pub use observer::{
    Abandon, Finished, Observer, Outcome, Silent, Step, StoreOperation, StoreResult,
};
pub use policy::{Policy, RetryPolicy};
pub use sequence::{Sequencer, Ticket};
pub use tokio_util::sync::CancellationToken;
