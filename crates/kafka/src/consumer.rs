//! [`KafkaSource`]: the recordings topic as the pipeline's
//! [`RecordingSource`](callscore_pipeline::RecordingSource), a consumer group member whose
//! offsets only ever move past finished work.
//!
//! A thread of its own polls librdkafka (so the group never sees a late poll while recordings
//! wait on a store or a broker) and hands messages over a channel of one. The delivery core
//! takes them when it has room and acknowledges them in the order of each partition; an
//! acknowledgement stores the offset after the message (`enable.auto.offset.store=false`),
//! which librdkafka's auto-commit, a revocation and [`KafkaSource::close`] commit.
//!
//! When the core takes nothing (its in-flight bound is reached, or a store refuses access),
//! the poller waits without polling, so librdkafka keeps what it prefetched; only when that
//! lasts [`PAUSE_AFTER`] (or a third of `max.poll.interval.ms`, if shorter) is the
//! assignment paused and polling resumed, so `max.poll.interval.ms` is never breached.
//! (Pausing drops librdkafka's prefetched messages, and resuming fetches them again: doing that
//! at every full moment cost 95 % of the throughput.)
//!
//! Every assignment of a partition is a new generation with its own lane and lease: a
//! revocation cancels the lease, so the core abandons the partition's work in flight at once
//! (its new owner does it again) and that work stops counting toward the in-flight bound, and
//! an acknowledgement from an older generation moves nothing.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use callscore_pipeline::{
    DeadLetter, Payload, Receipt, Received, RecordingMetadata, RecordingSource, Rejected, Retry,
    SourceError, Taken,
};
use jiff::Timestamp;
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{Headers, Message};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::producer::KafkaSink;
use crate::wire::{self, Audio};

/// How long one poll waits for a message.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// How long the core may take nothing before the assignment is paused and polling resumes; a
/// third of `max.poll.interval.ms` when that is shorter.
pub const PAUSE_AFTER: Duration = Duration::from_secs(10);
/// librdkafka's default `max.poll.interval.ms`.
const DEFAULT_MAX_POLL_INTERVAL_MS: u64 = 300_000;
/// How long the poller waits for the core to take a message before looking again.
const ROOM_WAIT: Duration = Duration::from_millis(50);

/// A partition of a topic.
pub type Partition = (String, i32);

/// What a rebalance did to this consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupChange {
    /// Partitions were assigned to it.
    Assign,
    /// Partitions were taken from it.
    Revoke,
    /// The rebalance failed.
    Error,
}

impl GroupChange {
    /// The name used in metric labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupChange::Assign => "assign",
            GroupChange::Revoke => "revoke",
            GroupChange::Error => "error",
        }
    }
}

/// What the consumer reports to the service's telemetry.
pub trait ConsumerEvents: Send + Sync + 'static {
    /// A rebalance assigned or revoked `partitions` partitions, or failed.
    fn rebalanced(&self, change: GroupChange, partitions: usize);
    /// Partitions are no longer this consumer's: their per-partition figures go.
    fn released(&self, _partitions: &[Partition]) {}
    /// The lag of an assigned partition, from librdkafka's statistics.
    fn lag(&self, topic: &str, partition: i32, lag: i64);
    /// An offset commit finished.
    fn committed(&self, ok: bool);
    /// librdkafka reported an error (a broker down, say); it keeps retrying by itself.
    fn client_error(&self, message: &str);
}

/// The consumer's settings.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// The recordings topic.
    pub topic: String,
    /// librdkafka properties, verbatim (`bootstrap.servers`, `group.id`, …).
    pub properties: BTreeMap<String, String>,
    /// librdkafka's prefetch queue bound, in bytes (`queued.max.messages.kbytes` unless the
    /// properties set it).
    pub prefetch_bytes: u64,
}

/// The original of a taken message, kept for its dead letter: key, headers, value.
#[derive(Debug)]
pub(crate) struct Original {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) key: Option<Vec<u8>>,
    pub(crate) headers: Vec<(String, Option<Vec<u8>>)>,
    pub(crate) payload: Arc<[u8]>,
    pub(crate) timestamp: Option<i64>,
}

impl Original {
    pub(crate) fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_deref())
    }

    fn input(&self) -> String {
        format!("{}/{}/{}", self.topic, self.partition, self.offset)
    }
}

/// What acknowledges one message: its partition, offset and generation, and its original.
#[derive(Debug, Clone)]
pub struct KafkaReceipt {
    original: Arc<Original>,
    generation: u64,
    lease: CancellationToken,
}

impl KafkaReceipt {
    /// `topic/partition/offset`.
    pub fn input(&self) -> String {
        self.original.input()
    }
}

impl Receipt for KafkaReceipt {
    fn lane(&self) -> u64 {
        // a new lane per assignment of the partition: an older generation's unfinished work
        // never holds back the new one's acknowledgements
        (self.generation << 20) | u64::from(self.original.partition.unsigned_abs() & 0xF_FFFF)
    }

    fn bytes(&self) -> u64 {
        self.original.payload.len() as u64
    }

    async fn revoked(&self) {
        self.lease.cancelled().await;
    }
}

#[derive(Debug)]
struct Assignment {
    generation: u64,
    lease: CancellationToken,
}

#[derive(Debug, Default)]
struct State {
    assigned: HashMap<Partition, Assignment>,
    generation: u64,
    /// The committable position of each partition, as last stored.
    stored: HashMap<Partition, i64>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Signalled when the core takes a message, for a poller waiting for room.
    room: Condvar,
    room_lock: Mutex<()>,
    paused: AtomicBool,
    stop: AtomicBool,
    joined: AtomicBool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Context {
    shared: Arc<Shared>,
    events: Arc<dyn ConsumerEvents>,
}

fn partitions(list: &TopicPartitionList) -> Vec<Partition> {
    list.elements()
        .iter()
        .map(|e| (e.topic().to_string(), e.partition()))
        .collect()
}

impl ClientContext for Context {
    fn stats(&self, statistics: Statistics) {
        let state = self.shared.state();
        for (name, topic) in &statistics.topics {
            for (id, partition) in &topic.partitions {
                let ours = state.assigned.contains_key(&(name.clone(), *id));
                // -1 is librdkafka's internal unassigned partition
                if ours && partition.consumer_lag >= 0 {
                    self.events.lag(name, *id, partition.consumer_lag);
                }
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.events.client_error(&format!("{error}: {reason}"));
    }
}

impl ConsumerContext for Context {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            let revoked = partitions(list);
            self.events.rebalanced(GroupChange::Revoke, revoked.len());
            let mut state = self.shared.state();
            for partition in &revoked {
                if let Some(assignment) = state.assigned.remove(partition) {
                    assignment.lease.cancel();
                }
                state.stored.remove(partition);
            }
            drop(state);
            self.events.released(&revoked);
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(list) => {
                let mut state = self.shared.state();
                for partition in partitions(list) {
                    state.generation += 1;
                    let generation = state.generation;
                    state.assigned.insert(
                        partition,
                        Assignment {
                            generation,
                            lease: CancellationToken::new(),
                        },
                    );
                }
                drop(state);
                self.shared.joined.store(true, Ordering::Relaxed);
                self.events.rebalanced(GroupChange::Assign, list.count());
                if self.shared.paused.load(Ordering::Relaxed) {
                    // new partitions arrive resumed; hold them like the rest
                    if let Err(error) = consumer.pause(list) {
                        tracing::warn!(%error, "pausing newly assigned partitions");
                    }
                }
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(error) => {
                self.events.rebalanced(GroupChange::Error, 0);
                tracing::warn!(%error, "rebalance failed");
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(error) = &result {
            // "no offset to commit" is not a failure
            if !matches!(
                error.rdkafka_error_code(),
                Some(rdkafka::types::RDKafkaErrorCode::NoOffset)
            ) {
                tracing::warn!(%error, "offset commit failed");
                self.events.committed(false);
                return;
            }
        }
        self.events.committed(true);
    }
}

/// One message polled, with its receipt.
struct Polled {
    original: Arc<Original>,
    receipt: KafkaReceipt,
}

/// The recordings topic as a [`RecordingSource`]. Dead letters go to the dead-letter topic
/// through `dead_letters`, with the original key, value and headers (its metadata with the
/// caller's pseudonym in place of the number).
pub struct KafkaSource {
    consumer: Arc<BaseConsumer<Context>>,
    shared: Arc<Shared>,
    messages: tokio::sync::Mutex<mpsc::Receiver<Polled>>,
    poller: Mutex<Option<JoinHandle<()>>>,
    dead_letters: Arc<KafkaSink>,
}

impl std::fmt::Debug for KafkaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSource").finish_non_exhaustive()
    }
}

/// Properties callscore sets itself: the offset discipline depends on them.
const FIXED: [(&str, &str); 2] = [
    ("enable.auto.offset.store", "false"),
    ("enable.auto.commit", "true"),
];

impl KafkaSource {
    /// Joins the group and starts polling. Fails on a property librdkafka refuses (the error
    /// names the property, never its value).
    pub fn start(
        config: &SourceConfig,
        events: Arc<dyn ConsumerEvents>,
        dead_letters: Arc<KafkaSink>,
    ) -> Result<KafkaSource, crate::ConfigError> {
        let mut client = ClientConfig::new();
        client
            .set("statistics.interval.ms", "5000")
            .set(
                "queued.max.messages.kbytes",
                (config.prefetch_bytes / 1024).max(1024).to_string(),
            )
            .set("auto.offset.reset", "earliest");
        for (key, value) in &config.properties {
            client.set(key, value);
        }
        for (key, value) in FIXED {
            client.set(key, value);
        }
        let shared = Arc::new(Shared::default());
        let context = Context {
            shared: Arc::clone(&shared),
            events,
        };
        let refused = |e: KafkaError| crate::ConfigError::of(&e, &config.properties);
        let consumer: BaseConsumer<Context> =
            client.create_with_context(context).map_err(refused)?;
        consumer.subscribe(&[&config.topic]).map_err(refused)?;
        let consumer = Arc::new(consumer);
        let (sender, messages) = mpsc::channel(1);
        let max_poll_interval = config
            .properties
            .get("max.poll.interval.ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_MAX_POLL_INTERVAL_MS);
        let pause_after = PAUSE_AFTER.min(Duration::from_millis(max_poll_interval / 3));
        let poller = {
            let consumer = Arc::clone(&consumer);
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("kafka-poll".into())
                .spawn(move || poll(&consumer, &shared, &sender, pause_after))
                .map_err(|e| crate::ConfigError::Thread(e.to_string()))?
        };
        Ok(KafkaSource {
            consumer,
            shared,
            messages: tokio::sync::Mutex::new(messages),
            poller: Mutex::new(Some(poller)),
            dead_letters,
        })
    }

    /// Whether the consumer has joined its group (had an assignment, possibly empty).
    pub fn joined(&self) -> bool {
        self.shared.joined.load(Ordering::Relaxed)
    }

    /// Stops taking messages: `next` returns `None` once what was polled is taken.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.room.notify_all();
    }

    /// Stops polling and commits every stored position synchronously. The consumer leaves
    /// its group when the source is dropped.
    pub fn close(&self) -> KafkaResult<()> {
        self.stop();
        let poller = self.poller.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(poller) = poller {
            // the thread only polls; a panic in it has been reported already
            let _ = poller.join();
        }
        let mut list = TopicPartitionList::new();
        for ((topic, partition), position) in &self.shared.state().stored {
            list.add_partition_offset(topic, *partition, Offset::Offset(*position))?;
        }
        if list.count() > 0 {
            match self.consumer.commit(&list, CommitMode::Sync) {
                Ok(()) => {}
                // the group is rebalancing (an instance joined or died): the partitions' new
                // owners do the uncommitted recordings again, which at-least-once allows
                Err(error)
                    if matches!(
                        error.rdkafka_error_code(),
                        Some(
                            RDKafkaErrorCode::IllegalGeneration
                                | RDKafkaErrorCode::RebalanceInProgress
                                | RDKafkaErrorCode::UnknownMemberId
                        )
                    ) =>
                {
                    tracing::warn!(
                        %error,
                        "offsets not committed at shutdown: the group is rebalancing; the \
                         partitions' next owners process those recordings again"
                    );
                }
                Err(error) => return Err(error),
            }
        }
        self.consumer.unsubscribe();
        Ok(())
    }

    /// The message's original as a dead letter keeps it: the metadata header with the
    /// caller's pseudonym in place of the number, or, when it cannot be read, with every
    /// number-like digit group masked.
    fn kept_metadata(original: &Original, caller_pseudonym: Option<&str>) -> Option<Vec<u8>> {
        let raw = original.header(wire::METADATA_HEADER)?;
        Some(match RecordingMetadata::from_json(raw) {
            Ok(metadata) => {
                let kept = metadata.without_numbers(caller_pseudonym);
                serde_json::to_vec(&kept).unwrap_or_default()
            }
            Err(_) => callscore_pipeline::redact::redact_raw(&String::from_utf8_lossy(raw))
                .into_owned()
                .into_bytes(),
        })
    }
}

/// A message as the source took it, for consumers of other topics than recordings (the
/// privacy requests): its value and headers, and its receipt for [`RecordingSource::ack`] and
/// [`RecordingSource::reject`].
#[derive(Debug)]
pub struct Raw {
    /// What acknowledges it.
    pub receipt: KafkaReceipt,
    /// Its value.
    pub value: Arc<[u8]>,
}

impl KafkaSource {
    /// The next message, as it came; `None` once the source is stopped.
    pub async fn next_raw(&self) -> Option<Raw> {
        let polled = self.next_polled().await?;
        Some(Raw {
            value: Arc::clone(&polled.original.payload),
            receipt: polled.receipt,
        })
    }

    async fn next_polled(&self) -> Option<Polled> {
        let mut messages = self.messages.lock().await;
        loop {
            let polled = messages.recv().await?;
            self.shared.room.notify_all();
            if polled.receipt.lease.is_cancelled() {
                // revoked while it waited: its new owner takes it
                continue;
            }
            return Some(polled);
        }
    }
}

impl RecordingSource for KafkaSource {
    type Receipt = KafkaReceipt;

    async fn next(&self) -> Option<Taken<KafkaReceipt>> {
        {
            let polled = self.next_polled().await?;
            let original = &polled.original;
            let headers: Vec<(&str, &[u8])> = original
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_deref().unwrap_or_default()))
                .collect();
            let input = original.input();
            let item = match wire::read(&headers, &original.payload) {
                Ok(message) => Ok(Received {
                    input,
                    metadata: message.metadata,
                    payload: match message.audio {
                        Audio::Inline => Payload::Inline(Arc::clone(&original.payload)),
                        Audio::Reference(reference) => Payload::Staged(reference),
                    },
                    extension: message.extension,
                    received_at: Timestamp::now(),
                    sent_at: original
                        .timestamp
                        .and_then(|ms| Timestamp::from_millisecond(ms).ok()),
                }),
                Err(unreadable) => Err(Rejected {
                    input,
                    metadata: unreadable.metadata,
                    failure: unreadable.failure,
                }),
            };
            Some(Taken {
                receipt: polled.receipt,
                item,
            })
        }
    }

    async fn ack(&self, receipt: KafkaReceipt) -> Result<(), SourceError> {
        let original = &receipt.original;
        let partition = (original.topic.clone(), original.partition);
        let position = original.offset + 1;
        let mut state = self.shared.state();
        let current = state
            .assigned
            .get(&partition)
            .is_some_and(|a| a.generation == receipt.generation);
        if !current {
            // revoked meanwhile: the new owner processes it again
            return Ok(());
        }
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(
            &original.topic,
            original.partition,
            Offset::Offset(position),
        )
        .and_then(|()| self.consumer.store_offsets(&list))
        .map_err(|e| SourceError {
            operation: "acknowledging",
            input: original.input(),
            retry: Retry::Transient,
            message: e.to_string(),
        })?;
        state.stored.insert(partition, position);
        Ok(())
    }

    async fn reject(
        &self,
        receipt: &KafkaReceipt,
        letter: &DeadLetter,
        caller_pseudonym: Option<&str>,
    ) -> Result<(), SourceError> {
        let original = &receipt.original;
        let metadata = KafkaSource::kept_metadata(original, caller_pseudonym);
        self.dead_letters
            .dead_letter_original(original, metadata.as_deref(), letter)
            .await
            .map_err(|e| SourceError {
                operation: "dead-lettering",
                input: original.input(),
                retry: e.retry,
                message: e.message,
            })
    }
}

/// The poll loop: polls while the core takes what it polled; when the core takes nothing for
/// `pause_after`, pauses the assignment and polls only for the group's sake.
fn poll(
    consumer: &BaseConsumer<Context>,
    shared: &Shared,
    sender: &mpsc::Sender<Polled>,
    pause_after: Duration,
) {
    let mut pending: VecDeque<Polled> = VecDeque::new();
    let mut waiting_since: Option<Instant> = None;
    while !shared.stop.load(Ordering::Relaxed) {
        while let Some(polled) = pending.pop_front() {
            if polled.receipt.lease.is_cancelled() {
                continue;
            }
            match sender.try_send(polled) {
                Ok(()) => waiting_since = None,
                Err(mpsc::error::TrySendError::Full(polled)) => {
                    pending.push_front(polled);
                    break;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        }
        let full = !pending.is_empty();
        if full {
            let since = *waiting_since.get_or_insert_with(Instant::now);
            if since.elapsed() < pause_after {
                // keep librdkafka's prefetched messages: wait for the core without polling
                let guard = shared.room_lock.lock().unwrap_or_else(|p| p.into_inner());
                let _woken = shared.room.wait_timeout(guard, ROOM_WAIT);
                continue;
            }
        }
        if full != shared.paused.load(Ordering::Relaxed) {
            shared.paused.store(full, Ordering::Relaxed);
            let switched = consumer.assignment().and_then(|assignment| {
                if full {
                    consumer.pause(&assignment)
                } else {
                    consumer.resume(&assignment)
                }
            });
            if let Err(error) = switched {
                tracing::warn!(%error, paused = full, "pausing or resuming the assignment");
            }
        }
        let message = match consumer.poll(POLL_TIMEOUT) {
            None => continue,
            Some(Err(error)) => {
                tracing::warn!(%error, "consuming");
                continue;
            }
            Some(Ok(message)) => message,
        };
        let partition = (message.topic().to_string(), message.partition());
        let lease = {
            let state = shared.state();
            state
                .assigned
                .get(&partition)
                .map(|a| (a.generation, a.lease.clone()))
        };
        // a message fetched before its partition was revoked is the new owner's
        let Some((generation, lease)) = lease else {
            continue;
        };
        let headers = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        let original = Arc::new(Original {
            topic: partition.0,
            partition: partition.1,
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            headers,
            payload: Arc::from(message.payload().unwrap_or_default()),
            timestamp: message.timestamp().to_millis(),
        });
        let receipt = KafkaReceipt {
            original: Arc::clone(&original),
            generation,
            lease,
        };
        pending.push_back(Polled { original, receipt });
    }
}
