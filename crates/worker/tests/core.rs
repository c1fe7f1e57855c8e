//! The delivery core under paused tokio time, with memory adapters and injected faults: every
//! rule of the core, one test each.

use std::collections::HashMap;
use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use callscore_pipeline::{
    AudioReference, MemorySink, MemoryStore, Payload, Pipeline, PseudonymKey, Pseudonyms, Reason,
    Received, RecordingMetadata, Rejected, Retry, Settings, Stage,
};
use callscore_worker::testing::{Fault, Faulty, MemoryInput, MemorySource, MemoryStaging};
use callscore_worker::{
    Abandon, CancellationToken, Finished, Observer, Outcome, Policy, Report, RetryPolicy, Worker,
};
use jiff::Timestamp;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn pipeline() -> Pipeline {
    let text = std::fs::read_to_string(fixtures().join("surveys/nps-csat.toml")).expect("survey");
    let survey = callscore_survey::Survey::from_toml(&text).expect("a valid survey");
    Pipeline::new(Settings {
        surveys: HashMap::from([(survey.id().to_string(), survey)]),
        pseudonyms: Pseudonyms::fixed(PseudonymKey::new("k1", vec![7; 32]).expect("a key")),
        retention: Default::default(),
        decode: Default::default(),
        extended_keys: true,
        pipeline_version: "test".into(),
        prompts: Default::default(),
    })
}

/// The fixture call `nps9-csat4` as recording `id`.
fn metadata(id: &str) -> RecordingMetadata {
    let bytes = std::fs::read(fixtures().join("recordings/nps9-csat4.json")).expect("metadata");
    let mut metadata = RecordingMetadata::from_json(&bytes).expect("valid metadata");
    metadata.recording_id = id.to_string();
    metadata.call_id = format!("call-{id}");
    metadata
}

fn audio() -> Arc<[u8]> {
    Arc::from(std::fs::read(fixtures().join("recordings/nps9-csat4.wav")).expect("audio"))
}

fn recording(id: &str, lane: u64) -> MemoryInput {
    MemoryInput {
        item: Ok(Received {
            input: format!("memory/{id}"),
            metadata: metadata(id),
            payload: Payload::Inline(audio()),
            extension: Some("wav".into()),
            received_at: Timestamp::UNIX_EPOCH,
            sent_at: None,
        }),
        lane,
    }
}

fn policy(in_flight: usize) -> Policy {
    let retry = RetryPolicy {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(2),
        jitter: 0.0,
        attempts: None,
        blocked_attempts: None,
    };
    Policy {
        workers: NonZeroUsize::new(2).expect("two"),
        max_in_flight: NonZeroUsize::new(in_flight).expect("positive"),
        max_in_flight_bytes: NonZeroU64::new(64 << 20).expect("positive"),
        max_input_bytes: 16 << 20,
        retry,
        dead_letter_retry: retry,
        drain: Duration::from_secs(5),
    }
}

/// What the core reported, for the assertions.
#[derive(Default)]
struct Seen {
    retries: Mutex<Vec<(Stage, Retry, Duration)>>,
    blocked: Mutex<Vec<bool>>,
    finished: Mutex<Vec<(String, Outcome)>>,
    abandoned: Mutex<Vec<(String, Abandon)>>,
    fatal: Mutex<usize>,
    max_bytes: Mutex<u64>,
    max_recordings: Mutex<usize>,
    /// The latest in-flight totals: recordings and bytes.
    now: Mutex<(usize, u64)>,
    taken: Mutex<usize>,
    taken_at_unblock: Mutex<Option<usize>>,
}

impl Observer for Seen {
    fn retrying(&self, failure: &callscore_pipeline::Failure, _attempt: u32, wait: Duration) {
        self.retries
            .lock()
            .expect("not poisoned")
            .push((failure.stage, failure.retry, wait));
    }
    fn blocked(&self, _failure: &callscore_pipeline::Failure) {
        self.blocked.lock().expect("not poisoned").push(true);
    }
    fn unblocked(&self) {
        self.blocked.lock().expect("not poisoned").push(false);
        let taken = *self.taken.lock().expect("not poisoned");
        self.taken_at_unblock
            .lock()
            .expect("not poisoned")
            .get_or_insert(taken);
    }
    fn taken(&self, _input: &str, _bytes: u64) {
        *self.taken.lock().expect("not poisoned") += 1;
    }
    fn finished(&self, finished: &Finished<'_>) {
        self.finished
            .lock()
            .expect("not poisoned")
            .push((finished.input.to_string(), finished.outcome));
    }
    fn abandoned(&self, input: &str, why: Abandon) {
        self.abandoned
            .lock()
            .expect("not poisoned")
            .push((input.to_string(), why));
    }
    fn fatal(&self, _failure: &callscore_pipeline::Failure) {
        *self.fatal.lock().expect("not poisoned") += 1;
    }
    fn in_flight(&self, recordings: usize, bytes: u64) {
        let mut max = self.max_bytes.lock().expect("not poisoned");
        *max = (*max).max(bytes);
        let mut most = self.max_recordings.lock().expect("not poisoned");
        *most = (*most).max(recordings);
        *self.now.lock().expect("not poisoned") = (recordings, bytes);
    }
}

type TestWorker = Worker<
    Arc<MemorySource>,
    Arc<Faulty<MemoryStore>>,
    Arc<Faulty<MemorySink>>,
    Arc<Faulty<MemoryStaging>>,
    Arc<Seen>,
>;

struct Harness {
    source: Arc<MemorySource>,
    store: Arc<Faulty<MemoryStore>>,
    sink: Arc<Faulty<MemorySink>>,
    staging: Arc<Faulty<MemoryStaging>>,
    seen: Arc<Seen>,
}

impl Harness {
    fn new(inputs: Vec<MemoryInput>) -> Harness {
        Harness {
            source: Arc::new(MemorySource::new(inputs)),
            store: Arc::new(Faulty::new(MemoryStore::default())),
            sink: Arc::new(Faulty::new(MemorySink::default())),
            staging: Arc::new(Faulty::new(MemoryStaging::default())),
            seen: Arc::new(Seen::default()),
        }
    }

    fn worker(&self, policy: Policy) -> TestWorker {
        Worker::new(
            pipeline(),
            Arc::clone(&self.source),
            Arc::clone(&self.store),
            Arc::clone(&self.sink),
            Arc::clone(&self.staging),
            Arc::clone(&self.seen),
            policy,
        )
    }

    async fn run(&self, policy: Policy) -> Report {
        self.worker(policy).run(CancellationToken::new()).await
    }

    fn events(&self) -> Vec<(String, serde_json::Value)> {
        self.sink.inner().events()
    }
}

#[tokio::test(start_paused = true)]
async fn transient_faults_are_retried_with_backoff_then_delivered() {
    let h = Harness::new(vec![recording("r1", 0)]);
    h.store.script([Fault::Fail(Retry::Transient); 3]);
    h.sink.script([Fault::Fail(Retry::Transient)]);
    let report = h.run(policy(4)).await;
    assert_eq!((report.delivered, report.dead_lettered), (1, 0));
    assert_eq!(h.source.acknowledged(), vec![0]);
    let retries = h.seen.retries.lock().expect("not poisoned").clone();
    let waits: Vec<(Stage, Duration)> = retries.iter().map(|(s, _, w)| (*s, *w)).collect();
    assert_eq!(
        waits,
        vec![
            (Stage::Store, Duration::from_millis(100)),
            (Stage::Store, Duration::from_millis(200)),
            (Stage::Store, Duration::from_millis(400)),
            (Stage::Publish, Duration::from_millis(800)),
        ],
        "one exponential backoff over the delivery, whichever step failed"
    );
    // the retried delivery stores again, and finds the audio already there
    assert_eq!(h.store.calls(), 5);
    // 2 scores + 1 response for the two-question survey, each keyed by its id
    let events = h.events();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|(key, e)| e["event_id"] == key.as_str()));
}

#[tokio::test(start_paused = true)]
async fn a_bounded_policy_gives_up_and_dead_letters() {
    let h = Harness::new(vec![recording("r1", 0)]);
    h.store.script([Fault::Fail(Retry::Transient); 10]);
    let mut policy = policy(4);
    policy.retry.attempts = NonZeroU32::new(3);
    let report = h.run(policy).await;
    assert_eq!((report.delivered, report.dead_lettered), (0, 1));
    let letters = h.source.dead_letters();
    assert_eq!(letters[0].1.stage, Stage::Store);
    assert!(letters[0].1.message.contains("gave up after 3 attempts"));
    assert_eq!(h.source.acknowledged(), vec![0]);
}

#[tokio::test(start_paused = true)]
async fn permanent_failures_are_dead_lettered_and_acknowledged_with_the_pseudonym() {
    let mut broken = recording("broken", 0);
    if let Ok(received) = &mut broken.item {
        received.payload = Payload::Inline(Arc::from(&b"RIFF\x10\x00\x00\x00WAVEjunk"[..]));
    }
    let rejected = MemoryInput {
        item: Err(Rejected {
            input: "memory/unreadable".into(),
            metadata: None,
            failure: callscore_pipeline::Failure::permanent(
                Stage::Intake,
                Reason::InvalidMetadata,
                "no metadata",
            ),
        }),
        lane: 0,
    };
    let h = Harness::new(vec![rejected, broken, recording("good", 0)]);
    let report = h.run(policy(4)).await;
    assert_eq!((report.delivered, report.dead_lettered), (1, 2));
    let letters = h.source.dead_letters();
    let reasons: Vec<(usize, Reason)> = letters.iter().map(|(i, l, _)| (*i, l.reason)).collect();
    assert!(reasons.contains(&(0, Reason::InvalidMetadata)));
    assert!(reasons.contains(&(1, Reason::UndecodableAudio)));
    let (_, _, pseudonym) = letters
        .iter()
        .find(|(i, ..)| *i == 1)
        .expect("the decode letter");
    let pseudonym = pseudonym
        .as_deref()
        .expect("the caller's pseudonym is kept");
    assert!(callscore_pipeline::is_pseudonym(pseudonym), "{pseudonym}");
    assert_eq!(
        h.source.acknowledged(),
        vec![0, 1, 2],
        "everything, in order"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dead_letter_that_fails_is_retried_until_stored() {
    let mut broken = recording("broken", 0);
    if let Ok(received) = &mut broken.item {
        received.payload = Payload::Inline(Arc::from(&b"not audio at all"[..]));
    }
    let h = Harness::new(vec![broken]);
    h.source
        .fail_rejects([Retry::Transient, Retry::Permanent, Retry::Blocked]);
    let report = h.run(policy(4)).await;
    assert_eq!(report.dead_lettered, 1);
    assert_eq!(h.source.dead_letters().len(), 1, "stored once");
    assert_eq!(h.source.acknowledged(), vec![0]);
    let retries = h.seen.retries.lock().expect("not poisoned").len();
    assert_eq!(
        retries, 3,
        "even a permanent refusal of a dead letter is retried"
    );
}

#[tokio::test(start_paused = true)]
async fn out_of_order_completion_never_acknowledges_past_unfinished_work() {
    let inputs = vec![
        recording("slow", 0),
        recording("fast-1", 0),
        recording("fast-2", 0),
        recording("other-lane", 1),
    ];
    let h = Harness::new(inputs);
    h.store
        .script_for("slow", [Fault::Delay(Duration::from_secs(3))]);
    let report = h.run(policy(8)).await;
    assert_eq!(report.delivered, 4);
    let finished: Vec<String> = h
        .seen
        .finished
        .lock()
        .expect("not poisoned")
        .iter()
        .map(|(input, _)| input.clone())
        .collect();
    assert_eq!(
        finished.last().map(String::as_str),
        Some("memory/slow"),
        "finished last"
    );
    let acknowledged = h.source.acknowledged();
    let position = |i: usize| acknowledged.iter().position(|&a| a == i).expect("acked");
    assert!(
        position(0) < position(1) && position(1) < position(2),
        "{acknowledged:?}"
    );
    assert!(
        position(3) < position(0),
        "another lane is not held back: {acknowledged:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn cancellation_drains_within_the_deadline_and_abandons_the_rest() {
    let inputs = vec![
        recording("quick", 0),
        recording("stuck", 1),
        recording("later", 2),
    ];
    let h = Harness::new(inputs);
    h.store
        .script_for("quick", [Fault::Delay(Duration::from_secs(2))]);
    h.store
        .script_for("stuck", [Fault::Delay(Duration::from_secs(600))]);
    let mut policy = policy(2);
    policy.drain = Duration::from_secs(5);
    let cancel = CancellationToken::new();
    let worker = h.worker(policy);
    let run = tokio::spawn(worker.run(cancel.clone()));
    // both in the store by now (analysis is quick), the third waiting for a slot
    while h.store.calls() < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = tokio::time::Instant::now();
    cancel.cancel();
    let report = run.await.expect("the run ends");
    let took = started.elapsed();
    assert!(
        took <= Duration::from_secs(5) + Duration::from_millis(50),
        "{took:?}"
    );
    assert!(
        took >= Duration::from_secs(5),
        "waited for the drain: {took:?}"
    );
    assert_eq!(
        report.delivered, 1,
        "the quick one finished within the drain"
    );
    assert_eq!(report.abandoned, 1, "the stuck one was abandoned");
    assert_eq!(h.source.acknowledged(), vec![0]);
    assert_eq!(
        h.source.taken(),
        vec![0, 1],
        "nothing taken after cancellation"
    );
    let abandoned = h.seen.abandoned.lock().expect("not poisoned").clone();
    assert_eq!(
        abandoned,
        vec![("memory/stuck".to_string(), Abandon::Shutdown)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_blocked_store_pauses_intake_then_delivers_without_dead_letters() {
    let inputs = (0..6).map(|i| recording(&format!("r{i}"), i)).collect();
    let h = Harness::new(inputs);
    // access denied to r0's put five times; r1 passes after a second and frees its slot
    h.store.script_for("r0", [Fault::Fail(Retry::Blocked); 5]);
    h.store
        .script_for("r1", [Fault::Delay(Duration::from_secs(1))]);
    let report = h.run(policy(2)).await;
    assert_eq!((report.delivered, report.dead_lettered), (6, 0));
    let blocked = h.seen.blocked.lock().expect("not poisoned").clone();
    assert_eq!(blocked, vec![true, false], "blocked once, then unblocked");
    let taken = *h.seen.taken_at_unblock.lock().expect("not poisoned");
    assert_eq!(taken, Some(2), "nothing new was taken while blocked");
    let retries = h.seen.retries.lock().expect("not poisoned").clone();
    assert_eq!(retries.len(), 5);
    assert!(
        retries
            .iter()
            .all(|(stage, retry, _)| *stage == Stage::Store && *retry == Retry::Blocked)
    );
}

#[tokio::test(start_paused = true)]
async fn a_batch_stops_on_a_block_that_outlasts_its_attempts_and_dead_letters_nothing() {
    let inputs = (0..3).map(|i| recording(&format!("r{i}"), 0)).collect();
    let h = Harness::new(inputs);
    // access is refused for good, as with a tenant whose keyring has no current key
    h.store.script([Fault::Fail(Retry::Blocked); 100]);
    let mut policy = policy(1);
    policy.retry.blocked_attempts = NonZeroU32::new(4);
    let report = h.run(policy).await;
    let fatal = report
        .fatal
        .expect("the run stops with the blocked failure");
    assert_eq!((fatal.stage, fatal.retry), (Stage::Store, Retry::Fatal));
    assert!(
        fatal.message().contains("still refused after 4 attempts"),
        "{fatal:?}"
    );
    assert_eq!((report.delivered, report.dead_lettered), (0, 0));
    assert!(
        h.source.dead_letters().is_empty(),
        "nothing is wrong with the recording"
    );
    assert!(h.source.acknowledged().is_empty(), "nothing acknowledged");
    assert_eq!(h.store.calls(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_fatal_failure_stops_intake_and_ends_the_run_with_it() {
    let inputs = (0..5).map(|i| recording(&format!("r{i}"), 0)).collect();
    let h = Harness::new(inputs);
    h.sink.script([Fault::Fail(Retry::Fatal)]);
    let report = h.run(policy(1)).await;
    let fatal = report.fatal.expect("the run reports the fatal failure");
    assert_eq!(fatal.stage, Stage::Publish);
    assert_eq!(report.delivered, 0);
    assert!(h.source.acknowledged().is_empty(), "nothing acknowledged");
    assert_eq!(h.source.taken(), vec![0], "nothing more taken");
    assert_eq!(*h.seen.fatal.lock().expect("not poisoned"), 1);
}

#[tokio::test(start_paused = true)]
async fn revoked_work_is_abandoned_at_once_and_frees_its_slot() {
    let h = Harness::new(vec![recording("revoked", 3), recording("next", 4)]);
    h.store
        .script_for("revoked", [Fault::Delay(Duration::from_secs(600))]);
    let worker = h.worker(policy(1));
    let run = tokio::spawn(worker.run(CancellationToken::new()));
    while h.store.calls() < 1 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    h.source.revoke(3);
    let report = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("not stuck on the revoked work")
        .expect("the run ends");
    assert_eq!((report.delivered, report.abandoned), (1, 1));
    assert_eq!(h.source.acknowledged(), vec![1]);
    let abandoned = h.seen.abandoned.lock().expect("not poisoned").clone();
    assert_eq!(
        abandoned,
        vec![("memory/revoked".to_string(), Abandon::Revoked)]
    );
}

#[tokio::test(start_paused = true)]
async fn work_revoked_while_it_waits_out_a_refusal_does_not_keep_intake_paused() {
    // the store refuses the first recording (blocked: intake pauses while it waits), and a
    // rebalance takes its partition away meanwhile: the refusal it was waiting out must not
    // keep intake paused for the recordings that follow
    let h = Harness::new(vec![recording("revoked", 3), recording("next", 4)]);
    h.store
        .script_for("revoked", [Fault::Fail(Retry::Blocked); 1000]);
    // one in flight: the next recording is taken only once the revoked one is let go
    let worker = h.worker(policy(1));
    let run = tokio::spawn(worker.run(CancellationToken::new()));
    while h.store.calls() < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    h.source.revoke(3);
    let report = tokio::time::timeout(Duration::from_secs(3600), run)
        .await
        .expect("intake goes on after the refused work is revoked")
        .expect("the run ends");
    assert_eq!((report.delivered, report.abandoned), (1, 1));
    assert_eq!(h.source.acknowledged(), vec![1]);
}

#[tokio::test(start_paused = true)]
async fn finished_work_waiting_for_a_slow_first_in_its_lane_counts_toward_the_bound() {
    // the first recording of a partition takes long; those after it finish at once but may
    // be acknowledged only after it, and each holds its input (its audio) until then: no
    // more than the bound may be taken and not yet acknowledged
    let mut inputs = vec![recording("slow", 0)];
    inputs.extend((1..8).map(|i| recording(&format!("r{i}"), 0)));
    let h = Harness::new(inputs);
    h.store
        .script_for("slow", [Fault::Delay(Duration::from_secs(600))]);
    let worker = h.worker(policy(2));
    let run = tokio::spawn(worker.run(CancellationToken::new()));
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(h.source.acknowledged(), Vec::<usize>::new());
    assert!(
        h.source.taken().len() <= 2,
        "taken and not acknowledged: {:?}",
        h.source.taken()
    );
    let now = *h.seen.now.lock().expect("not poisoned");
    assert_eq!(
        now,
        (2, 2 * audio().len() as u64),
        "the one waiting for the slow one is still in flight, with its audio"
    );
    let report = tokio::time::timeout(Duration::from_secs(3600), run)
        .await
        .expect("the slow one finishes")
        .expect("the run ends");
    assert_eq!(report.delivered, 8);
    assert_eq!(h.source.acknowledged(), (0..8).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn finished_work_behind_revoked_work_in_its_lane_is_let_go() {
    // revoked in the middle of the slow first recording, the partition's later ones can
    // never be acknowledged here: they must not keep their slots (the bound) for good
    let mut inputs = vec![recording("slow", 0), recording("r1", 0)];
    inputs.extend((2..6).map(|i| recording(&format!("r{i}"), 1)));
    let h = Harness::new(inputs);
    h.store
        .script_for("slow", [Fault::Delay(Duration::from_secs(600))]);
    let worker = h.worker(policy(2));
    let run = tokio::spawn(worker.run(CancellationToken::new()));
    while h.source.taken().len() < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    h.source.revoke(0);
    let report = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the other partition goes on")
        .expect("the run ends");
    assert_eq!(report.abandoned, 1);
    assert_eq!(h.source.acknowledged(), vec![2, 3, 4, 5]);
}

#[tokio::test(start_paused = true)]
async fn work_revoked_while_it_waits_for_the_byte_bound_is_let_go_at_once() {
    // the first recording holds the whole byte bound for long; the second waits for room,
    // and its partition is revoked meanwhile: it goes at once, not when room comes
    let h = Harness::new(vec![
        recording("first", 0),
        recording("waiting", 1),
        recording("third", 2),
    ]);
    h.store
        .script_for("first", [Fault::Delay(Duration::from_secs(600))]);
    let mut policy = policy(3);
    policy.max_in_flight_bytes = NonZeroU64::new(audio().len() as u64).expect("positive");
    let worker = h.worker(policy);
    let run = tokio::spawn(worker.run(CancellationToken::new()));
    while h.source.taken().len() < 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    h.source.revoke(1);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let abandoned = h.seen.abandoned.lock().expect("not poisoned").clone();
    assert_eq!(
        abandoned,
        vec![("memory/waiting".to_string(), Abandon::Revoked)],
        "let go while the first still holds the bytes"
    );
    let report = tokio::time::timeout(Duration::from_secs(3600), run)
        .await
        .expect("the first finishes")
        .expect("the run ends");
    assert_eq!((report.delivered, report.abandoned), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn staged_audio_counts_toward_the_byte_bound() {
    let wav = audio();
    let mut inputs = Vec::new();
    for i in 0..4 {
        let uri = format!("s3://staging/acme/r{i}.wav");
        let mut input = recording(&format!("r{i}"), i);
        if let Ok(received) = &mut input.item {
            received.payload = Payload::Staged(AudioReference {
                uri: uri.clone(),
                sha256: None,
            });
        }
        inputs.push((uri, input));
    }
    let h = Harness::new(inputs.iter().map(|(_, input)| input.clone()).collect());
    for (uri, _) in &inputs {
        h.staging.inner().insert(uri, &wav);
    }
    // every put waits, so that all four would be in flight at once without the byte bound
    h.store.script([Fault::Delay(Duration::from_secs(1)); 4]);
    let mut policy = policy(4);
    let bound = wav.len() as u64 * 2;
    policy.max_in_flight_bytes = NonZeroU64::new(bound).expect("positive");
    let report = h.run(policy).await;
    assert_eq!(report.delivered, 4);
    let peak = *h.seen.max_bytes.lock().expect("not poisoned");
    assert!(peak > 0, "staged bytes are counted");
    assert!(
        peak <= bound,
        "{peak} bytes in flight, over the bound of {bound}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_staged_reference_with_the_wrong_checksum_is_dead_lettered() {
    let uri = "s3://staging/acme/r1.wav";
    let mut input = recording("r1", 0);
    if let Ok(received) = &mut input.item {
        received.payload = Payload::Staged(AudioReference {
            uri: uri.into(),
            sha256: Some("0".repeat(64)),
        });
    }
    let h = Harness::new(vec![input]);
    h.staging.inner().insert(uri, &audio());
    let report = h.run(policy(1)).await;
    assert_eq!(report.dead_lettered, 1);
    assert_eq!(
        h.source.dead_letters()[0].1.reason,
        Reason::InvalidReference
    );
}
