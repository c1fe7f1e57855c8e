//! The recordings consumer: a consumer group member whose offsets only ever move past
//! finished work.
//!
//! A thread of its own polls librdkafka (so the group never sees a late poll while recordings
//! wait on a store or a broker) and hands messages over a channel. Offsets are stored with
//! `enable.auto.offset.store=false` and committed by librdkafka's auto-commit, on revocation
//! and on [`Intake::close`]; the stored position of a partition is the lowest offset still in
//! flight ([`OffsetTracker`]). When the work in flight reaches its count or byte bound, the
//! poller waits for a finish without polling, so librdkafka keeps what it prefetched; only
//! when the bound holds for [`PAUSE_AFTER`] (or a third of `max.poll.interval.ms`, if that is
//! shorter: a store outage, say) is the assignment paused and
//! polling resumed, so `max.poll.interval.ms` is never breached. (Pausing drops librdkafka's
//! prefetched messages, and resuming fetches them again: doing that at every full moment
//! cost 95 % of the throughput.)

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaResult;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::sync::mpsc;

use crate::offsets::{OffsetTracker, Partition, Receipt};

/// How long one poll waits for a message.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// How long the in-flight bound may hold before the assignment is paused and polling resumes;
/// a third of `max.poll.interval.ms` when that is shorter.
pub const PAUSE_AFTER: Duration = Duration::from_secs(10);
/// librdkafka's default `max.poll.interval.ms`.
const DEFAULT_MAX_POLL_INTERVAL_MS: u64 = 300_000;
/// How long the poller waits for a finish while the bound holds.
const FULL_WAIT: Duration = Duration::from_millis(50);

/// What the consumer reports to the service's telemetry.
pub trait ConsumerEvents: Send + Sync + 'static {
    /// Partitions were assigned (`assign`) or revoked (`revoke`), or a rebalance failed
    /// (`error`).
    fn rebalanced(&self, kind: &'static str, partitions: usize);
    /// The lag of a partition, from librdkafka's statistics.
    fn lag(&self, topic: &str, partition: i32, lag: i64);
    /// An offset commit finished.
    fn committed(&self, ok: bool);
    /// librdkafka reported an error (a broker down, say); it keeps retrying by itself.
    fn client_error(&self, message: &str);
}

/// The consumer's settings.
#[derive(Debug, Clone)]
pub struct IntakeConfig {
    /// The recordings topic.
    pub topic: String,
    /// librdkafka properties, verbatim (`bootstrap.servers`, `group.id`, …).
    pub properties: BTreeMap<String, String>,
    /// Most recordings in flight at once.
    pub max_in_flight: usize,
    /// Most bytes of recordings in flight at once; librdkafka's prefetch queue is bounded to
    /// the same size unless `queued.max.messages.kbytes` is given.
    pub max_in_flight_bytes: u64,
}

/// One message taken from the topic, with what acknowledges it.
#[derive(Debug)]
pub struct Consumed {
    /// The message.
    pub message: OwnedMessage,
    /// Hand it back to [`Intake::finish`] once the message is fully handled.
    pub receipt: Receipt,
}

#[derive(Debug, Default)]
struct Shared {
    tracker: Mutex<OffsetTracker>,
    /// Signalled at every finish, for a poller waiting at the bound.
    finished: Condvar,
    /// The committable position of each partition, as last stored.
    stored: Mutex<HashMap<Partition, i64>>,
    bytes: AtomicU64,
    paused: AtomicBool,
    stop: AtomicBool,
    joined: AtomicBool,
}

impl Shared {
    fn tracker(&self) -> MutexGuard<'_, OffsetTracker> {
        self.tracker.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stored(&self) -> MutexGuard<'_, HashMap<Partition, i64>> {
        self.stored.lock().unwrap_or_else(|p| p.into_inner())
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
        for (name, topic) in &statistics.topics {
            for (id, partition) in &topic.partitions {
                // -1 is librdkafka's internal unassigned partition
                if *id >= 0 && partition.desired && partition.consumer_lag >= 0 {
                    self.events.lag(name, *id, partition.consumer_lag);
                }
            }
        }
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.events.client_error(&format!("{error}: {reason}"));
    }
}

impl ConsumerContext for Context {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            let revoked = partitions(list);
            self.events.rebalanced("revoke", revoked.len());
            let mut stored = self.shared.stored();
            for partition in &revoked {
                stored.remove(partition);
            }
            self.shared.tracker().revoke(revoked);
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(list) => {
                self.shared.tracker().assign(partitions(list));
                self.shared.joined.store(true, Ordering::Relaxed);
                self.events.rebalanced("assign", list.count());
                if self.shared.paused.load(Ordering::Relaxed) {
                    // new partitions arrive resumed; hold them like the rest
                    if let Err(error) = consumer.pause(list) {
                        tracing::warn!(%error, "pausing newly assigned partitions");
                    }
                }
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(error) => {
                self.events.rebalanced("error", 0);
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

/// The recordings consumer.
pub struct Intake {
    consumer: Arc<BaseConsumer<Context>>,
    shared: Arc<Shared>,
    poller: Mutex<Option<JoinHandle<()>>>,
}

/// The messages an [`Intake`] takes, in partition order; closed once intake stops.
pub type Messages = mpsc::Receiver<Consumed>;

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake").finish_non_exhaustive()
    }
}

/// Properties callscore sets itself: the offset discipline depends on them.
const FIXED: [(&str, &str); 2] = [
    ("enable.auto.offset.store", "false"),
    ("enable.auto.commit", "true"),
];

impl Intake {
    /// Joins the group and starts polling. Fails on a property librdkafka refuses.
    pub fn start(
        config: &IntakeConfig,
        events: Arc<dyn ConsumerEvents>,
    ) -> KafkaResult<(Intake, Messages)> {
        let mut client = ClientConfig::new();
        client
            .set("statistics.interval.ms", "5000")
            .set(
                "queued.max.messages.kbytes",
                (config.max_in_flight_bytes / 1024).max(1024).to_string(),
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
        let consumer: BaseConsumer<Context> = client.create_with_context(context)?;
        consumer.subscribe(&[&config.topic])?;
        let consumer = Arc::new(consumer);
        let (sender, messages) = mpsc::channel(config.max_in_flight.max(1));
        let poller = {
            let consumer = Arc::clone(&consumer);
            let shared = Arc::clone(&shared);
            let max_poll_interval = config
                .properties
                .get("max.poll.interval.ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(DEFAULT_MAX_POLL_INTERVAL_MS);
            let bound = Bound {
                count: config.max_in_flight.max(1),
                bytes: config.max_in_flight_bytes.max(1),
                pause_after: PAUSE_AFTER.min(Duration::from_millis(max_poll_interval / 3)),
            };
            std::thread::Builder::new()
                .name("kafka-poll".into())
                .spawn(move || poll(&consumer, &shared, &sender, bound))
                .map_err(|e| {
                    rdkafka::error::KafkaError::ClientCreation(format!("poll thread: {e}"))
                })?
        };
        let intake = Intake {
            consumer,
            shared,
            poller: Mutex::new(Some(poller)),
        };
        Ok((intake, messages))
    }

    /// Whether the consumer has joined its group (had an assignment, possibly empty).
    pub fn joined(&self) -> bool {
        self.shared.joined.load(Ordering::Relaxed)
    }

    /// A message is fully handled (its audio stored and events published, or dead-lettered):
    /// its partition's position may move past it.
    pub fn finish(&self, receipt: &Receipt) {
        self.shared
            .bytes
            .fetch_sub(receipt.bytes, Ordering::Relaxed);
        let position = self.shared.tracker().finish(receipt);
        if let Some(position) = position {
            let mut list = TopicPartitionList::new();
            let stored = list
                .add_partition_offset(&receipt.topic, receipt.partition, Offset::Offset(position))
                .and_then(|()| self.consumer.store_offsets(&list));
            match stored {
                Ok(()) => {
                    self.shared
                        .stored()
                        .insert((receipt.topic.clone(), receipt.partition), position);
                }
                // revoked meanwhile: the new owner processes it again
                Err(error) => tracing::debug!(%error, "storing an offset"),
            }
        }
    }

    /// Recordings in flight.
    pub fn in_flight(&self) -> usize {
        self.shared.tracker().in_flight()
    }

    /// Stops taking messages; those already taken can still finish.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }

    /// Stops polling and commits every stored position synchronously. The consumer leaves
    /// its group when the `Intake` is dropped.
    pub fn close(&self) -> KafkaResult<()> {
        self.stop();
        let poller = self.poller.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(poller) = poller {
            // the thread only polls; a panic in it has been reported already
            let _ = poller.join();
        }
        let mut list = TopicPartitionList::new();
        for ((topic, partition), position) in self.shared.stored().iter() {
            list.add_partition_offset(topic, *partition, Offset::Offset(*position))?;
        }
        if list.count() > 0 {
            self.consumer.commit(&list, CommitMode::Sync)?;
        }
        self.consumer.unsubscribe();
        Ok(())
    }
}

/// The in-flight bound of the poll loop.
#[derive(Debug, Clone, Copy)]
struct Bound {
    count: usize,
    bytes: u64,
    pause_after: Duration,
}

/// The poll loop: takes messages while under the bound, pauses the assignment at it.
fn poll(
    consumer: &BaseConsumer<Context>,
    shared: &Shared,
    sender: &mpsc::Sender<Consumed>,
    bound: Bound,
) {
    let mut full_since: Option<Instant> = None;
    while !shared.stop.load(Ordering::Relaxed) {
        let tracker = shared.tracker();
        let full = tracker.in_flight() >= bound.count
            || shared.bytes.load(Ordering::Relaxed) >= bound.bytes;
        if full {
            let since = *full_since.get_or_insert_with(Instant::now);
            if since.elapsed() < bound.pause_after {
                // keep librdkafka's prefetched messages: wait for room without polling
                let _woken = shared.finished.wait_timeout(tracker, FULL_WAIT);
                continue;
            }
        } else {
            full_since = None;
        }
        drop(tracker);
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
            Some(Ok(message)) => message.detach(),
        };
        let size = message.payload().map_or(0, |p| p.len() as u64);
        let receipt =
            shared
                .tracker()
                .take(message.topic(), message.partition(), message.offset(), size);
        // a message fetched before its partition was revoked is the new owner's
        let Some(receipt) = receipt else { continue };
        shared.bytes.fetch_add(size, Ordering::Relaxed);
        if sender.blocking_send(Consumed { message, receipt }).is_err() {
            break;
        }
    }
}
