//! [`Worker`]: the per-recording lifecycle over the pipeline's ports.
//!
//! ```text
//! intake loop: wait for a slot, wait while blocked, take the next input
//!   task per input (one tracing span each), until finished, revoked or abandoned:
//!     staged audio?  size -> reserve its bytes -> fetch -> check its SHA-256
//!     analyse        on the blocking pool, at most `workers` at once
//!     deliver        store the audio, publish the events
//!     any step       transient or blocked: retry with backoff (blocked: intake pauses);
//!                    permanent: dead letter through the source, itself retried until stored;
//!                    fatal: intake stops, the run ends with the failure
//!   acknowledge      in the order taken, per lane, once everything before is finished
//! cancel: intake stops; work in flight gets `drain` to finish, then is abandoned
//!         unacknowledged (the next owner of the input does it again)
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use callscore_pipeline::{
    Analysis, AudioReference, AudioStore, DeadLetter, Delivered, EventSink, Failure, Incoming,
    Payload, PutOutcome, Reason, Receipt, Received, RecordingMetadata, RecordingSource, Retry,
    Stage, StagedAudio, StoreError, Taken,
};
use callscore_pipeline::{Pipeline, Rejected};
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::observer::{Abandon, Finished, Observer, Outcome, Step};
use crate::policy::{Policy, RetryPolicy};
use crate::sequence::{Sequencer, Ticket};

/// Bytes per permit of the byte bound (a semaphore counts at most `u32` permits at a time).
const BYTES_PER_PERMIT: u64 = 1024;

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    /// Inputs taken.
    pub taken: usize,
    /// Inputs delivered and acknowledged.
    pub delivered: usize,
    /// Inputs dead-lettered and acknowledged.
    pub dead_lettered: usize,
    /// Inputs left unfinished and unacknowledged (shutdown, revocation, a fatal failure).
    pub abandoned: usize,
    /// The failure that stopped the run, if one did.
    pub fatal: Option<Failure>,
}

/// The delivery core: takes inputs from `source`, runs the pipeline on each, stores through
/// `store`, publishes through `sink`, fetches staged audio through `staged`, and reports to
/// `observer`, under `policy`.
#[derive(Debug)]
pub struct Worker<Src, St, Sk, Sg, Ob> {
    pipeline: Pipeline,
    source: Src,
    store: St,
    sink: Sk,
    staged: Sg,
    observer: Ob,
    policy: Policy,
}

/// Why a step stopped without a result.
enum Stop {
    /// Permanent (or given up on): the input is dead-lettered.
    Failed(Failure),
    /// Fatal, or cancelled past the drain deadline, or revoked: the input is left
    /// unacknowledged.
    Abandoned(Abandon),
}

/// What an input holds from being taken until it is acknowledged or let go, counted in the
/// in-flight totals: its in-flight slot and its share of the byte bound (its audio stays in
/// its receipt until then).
struct Held {
    _slot: OwnedSemaphorePermit,
    budget: Budget,
}

/// One task's place among those waiting out a refusal (intake pauses while there are any),
/// given up when the guard goes: at the end of the retry, and as well when the retry is
/// dropped in the middle of a wait because its work was revoked.
struct Waiting<'a, Ob: Observer> {
    blocked: &'a watch::Sender<usize>,
    observer: &'a Ob,
}

impl<'a, Ob: Observer> Waiting<'a, Ob> {
    fn start(blocked: &'a watch::Sender<usize>, observer: &'a Ob, failure: &Failure) -> Self {
        blocked.send_modify(|n| {
            *n += 1;
            if *n == 1 {
                observer.blocked(failure);
            }
        });
        Waiting { blocked, observer }
    }
}

impl<Ob: Observer> Drop for Waiting<'_, Ob> {
    fn drop(&mut self) {
        self.blocked.send_modify(|n| {
            *n -= 1;
            if *n == 0 {
                self.observer.unblocked();
            }
        });
    }
}

/// The state of one run, shared by its tasks.
struct Run<Src: RecordingSource, St, Sk, Sg, Ob> {
    worker: Worker<Src, St, Sk, Sg, Ob>,
    slots: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
    byte_permits: u32,
    cpu: Arc<Semaphore>,
    /// Each unfinished input's place, and each finished one's receipt with its in-flight
    /// slot: an input holds its slot (and its audio, in the receipt) until it is
    /// acknowledged, so that finished work waiting for a slow input ahead of it in its lane
    /// counts toward the bound.
    sequencer: Mutex<Sequencer<(Src::Receipt, Held)>>,
    /// Tasks retrying a blocked failure; intake waits while there are any.
    blocked: watch::Sender<usize>,
    /// Cancelled when intake must stop: the caller's cancellation, or a fatal failure.
    intake: CancellationToken,
    /// Cancelled when work in flight must stop: the drain deadline passed, or a fatal failure.
    abandon: CancellationToken,
    in_flight: AtomicUsize,
    in_flight_bytes: AtomicU64,
    delivered: AtomicUsize,
    dead_lettered: AtomicUsize,
    abandoned: AtomicUsize,
    fatal: std::sync::Mutex<Option<Failure>>,
    random: AtomicU64,
}

impl<Src, St, Sk, Sg, Ob> Worker<Src, St, Sk, Sg, Ob>
where
    Src: RecordingSource + 'static,
    St: AudioStore + 'static,
    Sk: EventSink + 'static,
    Sg: StagedAudio + 'static,
    Ob: Observer,
{
    /// A core over these ports.
    pub fn new(
        pipeline: Pipeline,
        source: Src,
        store: St,
        sink: Sk,
        staged: Sg,
        observer: Ob,
        policy: Policy,
    ) -> Self {
        Worker {
            pipeline,
            source,
            store,
            sink,
            staged,
            observer,
            policy,
        }
    }

    /// Runs until the source has no more inputs, or `cancel` is cancelled, or a fatal failure:
    /// then lets the work in flight finish within the policy's `drain`, abandons what is left,
    /// and reports. Must run inside a tokio runtime with a blocking pool.
    pub async fn run(self, cancel: CancellationToken) -> Report {
        let policy = self.policy;
        let byte_permits =
            u32::try_from(policy.max_in_flight_bytes.get().div_ceil(BYTES_PER_PERMIT))
                .unwrap_or(u32::MAX)
                .min(Semaphore::MAX_PERMITS as u32);
        let run = Arc::new(Run {
            slots: Arc::new(Semaphore::new(policy.max_in_flight.get())),
            bytes: Arc::new(Semaphore::new(byte_permits as usize)),
            byte_permits,
            cpu: Arc::new(Semaphore::new(policy.workers.get())),
            sequencer: Mutex::new(Sequencer::default()),
            blocked: watch::Sender::new(0),
            intake: cancel.child_token(),
            abandon: CancellationToken::new(),
            in_flight: AtomicUsize::new(0),
            in_flight_bytes: AtomicU64::new(0),
            delivered: AtomicUsize::new(0),
            dead_lettered: AtomicUsize::new(0),
            abandoned: AtomicUsize::new(0),
            fatal: std::sync::Mutex::new(None),
            random: AtomicU64::new(0x9E37_79B9_7F4A_7C15),
            worker: self,
        });
        let mut tasks = JoinSet::new();
        let mut taken = 0;
        while let Some((slot, taken_input)) = Arc::clone(&run).take().await {
            taken += 1;
            let ticket = run.sequencer.lock().await.begin(taken_input.receipt.lane());
            tasks.spawn(Arc::clone(&run).handle(taken_input, ticket, slot));
            // reap what finished, so the set stays small
            while let Some(joined) = tasks.try_join_next() {
                report_panic(joined);
            }
        }
        if !run.intake.is_cancelled() {
            // the source ran out: everything taken finishes, unless the run is cancelled
            loop {
                tokio::select! {
                    biased;
                    () = run.intake.cancelled() => break,
                    joined = tasks.join_next() => match joined {
                        Some(joined) => report_panic(joined),
                        None => break,
                    },
                }
            }
        }
        let drained = tokio::time::timeout(policy.drain, async {
            while let Some(joined) = tasks.join_next().await {
                report_panic(joined);
            }
        })
        .await;
        if drained.is_err() {
            run.abandon.cancel();
            while let Some(joined) = tasks.join_next().await {
                report_panic(joined);
            }
        }
        let fatal = run.fatal.lock().unwrap_or_else(|e| e.into_inner()).take();
        Report {
            taken,
            delivered: run.delivered.load(Ordering::Relaxed),
            dead_lettered: run.dead_lettered.load(Ordering::Relaxed),
            abandoned: run.abandoned.load(Ordering::Relaxed),
            fatal,
        }
    }
}

fn report_panic(joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined {
        // a task only panics on a bug; its input stays unacknowledged and comes again
        tracing::error!(%error, "a recording's task failed");
    }
}

impl<Src, St, Sk, Sg, Ob> Run<Src, St, Sk, Sg, Ob>
where
    Src: RecordingSource + 'static,
    St: AudioStore + 'static,
    Sk: EventSink + 'static,
    Sg: StagedAudio + 'static,
    Ob: Observer,
{
    fn observer(&self) -> &Ob {
        &self.worker.observer
    }

    /// The next input with its in-flight slot, once there is room and nothing is blocked;
    /// `None` when intake ends.
    async fn take(self: Arc<Self>) -> Option<(OwnedSemaphorePermit, Taken<Src::Receipt>)> {
        let slot = tokio::select! {
            biased;
            () = self.intake.cancelled() => return None,
            slot = Arc::clone(&self.slots).acquire_owned() => slot.ok()?,
        };
        let mut blocked = self.blocked.subscribe();
        tokio::select! {
            biased;
            () = self.intake.cancelled() => return None,
            open = blocked.wait_for(|n| *n == 0) => open.ok()?,
        };
        let taken = tokio::select! {
            biased;
            () = self.intake.cancelled() => return None,
            taken = self.worker.source.next() => taken?,
        };
        Some((slot, taken))
    }

    /// One input, from taking to acknowledging (or abandoning).
    async fn handle(
        self: Arc<Self>,
        taken: Taken<Src::Receipt>,
        ticket: Ticket,
        slot: OwnedSemaphorePermit,
    ) {
        let Taken { receipt, item } = taken;
        let input = match &item {
            Ok(received) => received.input.clone(),
            Err(rejected) => rejected.input.clone(),
        };
        let span = match &item {
            Ok(received) => tracing::info_span!(
                "recording",
                input = %input,
                recording_id = %received.metadata.recording_id,
                tenant = %received.metadata.tenant,
            ),
            Err(_) => tracing::info_span!("recording", input = %input),
        };
        async move {
            let held = receipt.bytes();
            let mut budget = Budget::new(&self);
            // a partition revoked while its input waits for room lets the input go at once
            let reserved = tokio::select! {
                reserved = budget.reserve(held, &self.abandon) => reserved,
                () = receipt.revoked() => Err(Abandon::Revoked),
            };
            self.observer().taken(&input, held);
            self.moved(1, if reserved.is_ok() { held as i64 } else { 0 });
            let outcome = match reserved {
                Ok(()) => {
                    tokio::select! {
                        outcome = self.process(&receipt, item, &mut budget) => outcome,
                        () = receipt.revoked() => Err(Abandon::Revoked),
                    }
                }
                Err(why) => Err(why),
            };
            let held = Held {
                _slot: slot,
                budget,
            };
            match outcome {
                Ok(done) => self.finish(ticket, (receipt, held), &input, done).await,
                Err(why) => {
                    let let_go = self.sequencer.lock().await.abandon(ticket);
                    self.release(held);
                    for (_, held) in let_go {
                        self.release(held);
                    }
                    self.abandoned.fetch_add(1, Ordering::Relaxed);
                    self.observer().abandoned(&input, why);
                }
            }
        }
        .instrument(span)
        .await;
    }

    /// Acknowledges what may now be acknowledged, in order, and reports the input finished.
    async fn finish(&self, ticket: Ticket, taken: (Src::Receipt, Held), input: &str, done: Done) {
        let Done {
            outcome,
            delivered,
            sent_at,
        } = done;
        {
            // held while acknowledging, so that acknowledgements of a lane keep their order
            let mut sequencer = self.sequencer.lock().await;
            match sequencer.finish(ticket, taken) {
                Ok(ready) => {
                    for (receipt, held) in ready {
                        if let Err(error) = self.worker.source.ack(receipt).await {
                            // a revoked partition's offset, say: its new owner does the input
                            // again
                            tracing::warn!(%error, "acknowledging");
                        }
                        self.release(held);
                    }
                }
                // behind abandoned work in its lane: never acknowledged here
                Err((_, held)) => self.release(held),
            }
        }
        match outcome {
            Outcome::DeadLettered => self.dead_lettered.fetch_add(1, Ordering::Relaxed),
            Outcome::Processed | Outcome::Redelivered => {
                self.delivered.fetch_add(1, Ordering::Relaxed)
            }
        };
        let end_to_end =
            sent_at.and_then(|sent| Duration::try_from(Timestamp::now().duration_since(sent)).ok());
        self.observer().finished(&Finished {
            input,
            outcome,
            delivered: delivered.as_ref(),
            end_to_end,
        });
    }

    /// Gives back what an input held, once it is acknowledged or let go.
    fn release(&self, held: Held) {
        let bytes = held.budget.held;
        drop(held);
        self.moved(-1, -(bytes as i64));
    }

    /// Counts `recordings` more (or fewer) in flight and reports the totals.
    fn moved(&self, recordings: isize, bytes: i64) {
        let count = if recordings >= 0 {
            self.in_flight
                .fetch_add(recordings.unsigned_abs(), Ordering::Relaxed)
                + recordings.unsigned_abs()
        } else {
            self.in_flight
                .fetch_sub(recordings.unsigned_abs(), Ordering::Relaxed)
                - recordings.unsigned_abs()
        };
        let total = if bytes >= 0 {
            self.in_flight_bytes
                .fetch_add(bytes.unsigned_abs(), Ordering::Relaxed)
                + bytes.unsigned_abs()
        } else {
            self.in_flight_bytes
                .fetch_sub(bytes.unsigned_abs(), Ordering::Relaxed)
                .saturating_sub(bytes.unsigned_abs())
        };
        self.observer().in_flight(count, total);
    }

    /// Delivers or dead-letters one input.
    async fn process(
        &self,
        receipt: &Src::Receipt,
        item: Result<Received, Rejected>,
        budget: &mut Budget,
    ) -> Result<Done, Abandon> {
        let received = match item {
            Ok(received) => received,
            Err(rejected) => {
                let metadata = rejected.metadata.as_deref();
                return self
                    .dead_letter(receipt, &rejected.input, metadata, rejected.failure)
                    .await;
            }
        };
        let sent_at = received.sent_at;
        match self.deliver(&received, budget).await {
            Ok(delivered) => {
                let outcome = if delivered.put == PutOutcome::AlreadyStored {
                    Outcome::Redelivered
                } else {
                    Outcome::Processed
                };
                Ok(Done {
                    outcome,
                    delivered: Some(delivered),
                    sent_at,
                })
            }
            Err(Stop::Failed(failure)) => {
                let mut done = self
                    .dead_letter(receipt, &received.input, Some(&received.metadata), failure)
                    .await?;
                done.sent_at = sent_at;
                Ok(done)
            }
            Err(Stop::Abandoned(why)) => Err(why),
        }
    }

    /// Fetches, analyses, stores and publishes one recording.
    async fn deliver(&self, received: &Received, budget: &mut Budget) -> Result<Delivered, Stop> {
        let metadata = &received.metadata;
        let audio = match &received.payload {
            Payload::Inline(bytes) => Arc::clone(bytes),
            Payload::Staged(reference) => self.fetch(reference, metadata, budget).await?,
        };
        let incoming = Incoming {
            input: received.input.clone(),
            metadata: metadata.clone(),
            audio,
            extension: received.extension.clone(),
            received_at: received.received_at,
        };
        let analysis = self
            .retry(&self.worker.policy.retry, || self.analyse(incoming.clone()))
            .await?;
        let timings = analysis.timings;
        for (step, took) in [
            (Step::Decode, timings.decode),
            (Step::Detect, timings.detect),
            (Step::Score, timings.score),
        ] {
            self.observer().step(step, took);
        }
        self.observer().analysed(&analysis);
        let worker = &self.worker;
        let delivered = self
            .retry(&worker.policy.retry, || {
                worker.pipeline.deliver(
                    analysis.clone(),
                    &worker.store,
                    &worker.sink,
                    Timestamp::now(),
                )
            })
            .await?;
        let timings = delivered.analysis.timings;
        self.observer().step(Step::Store, timings.store);
        self.observer().step(Step::Publish, timings.publish);
        Ok(delivered)
    }

    /// Decodes, detects and scores on the blocking pool, at most `workers` at once.
    async fn analyse(&self, incoming: Incoming) -> Result<Analysis, Failure> {
        let cpu = Arc::clone(&self.cpu)
            .acquire_owned()
            .await
            .map_err(|_| analysis_lost("the analysis pool is closed"))?;
        let pipeline = self.worker.pipeline.clone();
        // the permit goes with the analysis: work revoked while it runs is let go at once,
        // but its analysis still holds a core until it ends
        tokio::task::spawn_blocking(move || {
            let _cpu = cpu;
            pipeline.analyse(incoming)
        })
        .await
        .unwrap_or_else(|error| {
            // a panic while analysing is a bug this input triggers: dead-letter it, so it
            // cannot stall its partition
            Err(analysis_lost(&format!("the analysis failed: {error}")))
        })
    }

    /// Staged audio: its size reserved against the byte bound first, then its bytes, then
    /// its checksum.
    async fn fetch(
        &self,
        reference: &AudioReference,
        metadata: &RecordingMetadata,
        budget: &mut Budget,
    ) -> Result<Arc<[u8]>, Stop> {
        let staged = &self.worker.staged;
        let tenant = metadata.tenant.as_str();
        let retry = &self.worker.policy.retry;
        let max = self.worker.policy.max_input_bytes;
        let started = Instant::now();
        let size = self
            .retry(retry, || async {
                staged.size(reference, tenant).await.map_err(fetch_failure)
            })
            .await?;
        if size > max {
            return Err(Stop::Failed(Failure::permanent(
                Stage::Intake,
                Reason::OverLimit,
                format!("the staged audio is {size} bytes, over the limit of {max}"),
            )));
        }
        budget
            .reserve(size, &self.abandon)
            .await
            .map_err(Stop::Abandoned)?;
        self.moved(0, size as i64);
        let bytes = self
            .retry(retry, || async {
                staged
                    .fetch(reference, tenant, max)
                    .await
                    .map_err(fetch_failure)
            })
            .await?;
        self.observer().step(Step::Fetch, started.elapsed());
        if let Some(expected) = &reference.sha256 {
            let actual = callscore_pipeline::hex(&Sha256::digest(&bytes));
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(Stop::Failed(Failure::permanent(
                    Stage::Intake,
                    Reason::InvalidReference,
                    format!("the staged audio's SHA-256 {actual} differs from the reference's"),
                )));
            }
        }
        Ok(Arc::from(bytes))
    }

    /// Records the input as a dead letter through its source, trying until it is stored.
    async fn dead_letter(
        &self,
        receipt: &Src::Receipt,
        input: &str,
        metadata: Option<&RecordingMetadata>,
        failure: Failure,
    ) -> Result<Done, Abandon> {
        let numbers = metadata.map(RecordingMetadata::numbers).unwrap_or_default();
        let failure = failure.redacted(&numbers);
        let letter = DeadLetter::new(input, metadata, &failure, Timestamp::now());
        let source = &self.worker.source;
        let pipeline = &self.worker.pipeline;
        let stored = self
            .retry(&self.worker.policy.dead_letter_retry, || async {
                // the letter keeps the caller as a pseudonym: without a key to make one, it
                // waits (blocked) rather than lose the caller
                let pseudonym = match metadata {
                    Some(m) => pipeline.caller_pseudonym(m)?,
                    None => None,
                };
                source
                    .reject(receipt, &letter, pseudonym.as_deref())
                    .await
                    .map_err(|e| {
                        // a dead letter is never dropped: anything short of fatal is retried
                        let retry = if e.retry == Retry::Fatal {
                            Retry::Fatal
                        } else if e.retry == Retry::Blocked {
                            Retry::Blocked
                        } else {
                            Retry::Transient
                        };
                        Failure::new(Stage::Publish, Reason::PublishFailed, retry, e.to_string())
                    })
            })
            .await;
        match stored {
            Ok(()) => {
                self.observer().dead_lettered(&letter);
                Ok(Done {
                    outcome: Outcome::DeadLettered,
                    delivered: None,
                    sent_at: None,
                })
            }
            Err(Stop::Abandoned(why)) => Err(why),
            Err(Stop::Failed(_)) => Err(Abandon::Fatal),
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the run abandons it.
    async fn retry<T, F, Fut>(&self, policy: &RetryPolicy, mut attempt: F) -> Result<T, Stop>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        let mut failures = 0u32;
        // counted among the tasks waiting out a refusal from the first blocked failure until
        // this future ends or is dropped (its work revoked in the middle of a wait)
        let mut waiting: Option<Waiting<'_, Ob>> = None;
        loop {
            if self.abandon.is_cancelled() {
                break Err(Stop::Abandoned(self.why_abandoned()));
            }
            let failure = tokio::select! {
                biased;
                () = self.abandon.cancelled() => break Err(Stop::Abandoned(self.why_abandoned())),
                result = attempt() => match result {
                    Ok(value) => break Ok(value),
                    Err(failure) => failure,
                },
            };
            failures += 1;
            match failure.retry {
                Retry::Permanent => break Err(Stop::Failed(failure)),
                Retry::Fatal => {
                    self.fail(failure);
                    break Err(Stop::Abandoned(Abandon::Fatal));
                }
                Retry::Transient if policy.gives_up(failures) => {
                    break Err(Stop::Failed(failure.given_up(failures)));
                }
                Retry::Blocked if policy.stops_blocked(failures) => {
                    self.fail(failure.stopped_after(failures));
                    break Err(Stop::Abandoned(Abandon::Fatal));
                }
                Retry::Blocked if waiting.is_none() => {
                    waiting = Some(Waiting::start(&self.blocked, self.observer(), &failure));
                }
                Retry::Transient | Retry::Blocked => {}
            }
            let wait = policy.wait(failures, self.next_random());
            self.observer().retrying(&failure, failures, wait);
            tokio::select! {
                biased;
                () = self.abandon.cancelled() => break Err(Stop::Abandoned(self.why_abandoned())),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Ends the run for a fatal failure: no more intake, nothing more delivered.
    fn fail(&self, failure: Failure) {
        let mut fatal = self.fatal.lock().unwrap_or_else(|e| e.into_inner());
        if fatal.is_none() {
            self.observer().fatal(&failure);
            *fatal = Some(failure);
        }
        drop(fatal);
        self.intake.cancel();
        self.abandon.cancel();
    }

    fn why_abandoned(&self) -> Abandon {
        let fatal = self.fatal.lock().unwrap_or_else(|e| e.into_inner());
        if fatal.is_some() {
            Abandon::Fatal
        } else {
            Abandon::Shutdown
        }
    }

    /// A number in [0, 1) for jitter (xorshift: spreading retries needs no better).
    fn next_random(&self) -> f64 {
        let mut x = self.random.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.random.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What a finished input came to.
struct Done {
    outcome: Outcome,
    delivered: Option<Delivered>,
    sent_at: Option<Timestamp>,
}

/// The bytes an input holds against the in-flight byte bound, released when it is dropped.
struct Budget {
    bytes: Arc<Semaphore>,
    total: u32,
    permits: Vec<OwnedSemaphorePermit>,
    /// Bytes counted in the in-flight total (inline and staged), given back when the input is
    /// acknowledged or let go.
    held: u64,
}

impl Budget {
    fn new<Src: RecordingSource, St, Sk, Sg, Ob>(run: &Run<Src, St, Sk, Sg, Ob>) -> Budget {
        Budget {
            bytes: Arc::clone(&run.bytes),
            total: run.byte_permits,
            permits: Vec::new(),
            held: 0,
        }
    }

    /// Waits until `bytes` more fit the bound (an input larger than the bound waits until it
    /// is alone), unless the run abandons its work first.
    async fn reserve(&mut self, bytes: u64, abandon: &CancellationToken) -> Result<(), Abandon> {
        let mine: u32 = self
            .permits
            .iter()
            .map(|p| u32::try_from(p.num_permits()).unwrap_or(u32::MAX))
            .sum();
        let wanted = u32::try_from(bytes.div_ceil(BYTES_PER_PERMIT))
            .unwrap_or(u32::MAX)
            .min(self.total.saturating_sub(mine));
        if wanted > 0 {
            let permit = tokio::select! {
                biased;
                () = abandon.cancelled() => return Err(Abandon::Shutdown),
                permit = Arc::clone(&self.bytes).acquire_many_owned(wanted) => {
                    permit.map_err(|_| Abandon::Shutdown)?
                }
            };
            self.permits.push(permit);
        }
        self.held += bytes;
        Ok(())
    }
}

fn analysis_lost(message: &str) -> Failure {
    Failure::permanent(Stage::Decode, Reason::UndecodableAudio, message)
}

/// A staging store's failure in the pipeline's terms: missing or refused references are the
/// message's fault (permanent), outages pass, a refused deployment blocks.
fn fetch_failure(error: StoreError) -> Failure {
    let reason = match error.retry {
        Retry::Permanent => Reason::InvalidReference,
        _ => Reason::Unreadable,
    };
    Failure::new(Stage::Intake, reason, error.retry, error.to_string())
}
