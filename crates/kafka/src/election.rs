//! [`Election`]: one instance of many does a job (the retention sweep), chosen by Kafka's own
//! group membership: every instance joins the group `GROUP.sweeper` on the audit topic, and
//! the one assigned partition 0 leads. When it stops or dies, the group gives the partition to
//! another within a session timeout; the assignment is sticky, so an instance that joins
//! leaves the lead where it is (on an audit topic of one partition; with more, partition 0
//! moves to an instance that joins, and the election warns of it). The members consume
//! nothing: their assignment is paused as it arrives.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};

/// How long one poll of the election waits.
const POLL: Duration = Duration::from_millis(500);
/// How often the same election error is logged again.
const ELECTION_WARNING_EVERY: Duration = Duration::from_secs(60);

/// What an election tells its owner as its membership changes: every assignment (a join or a
/// rebalance, with whether this member now leads) and every loss of the lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// The group gave this member its share; `leads` when that share holds partition 0.
    Assigned {
        /// Whether this member leads now.
        leads: bool,
    },
    /// A rebalance took partition 0 from this member: it no longer leads.
    Revoked,
}

/// How long the election waits for the topic's metadata when it joins.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// Warns when the election's topic has more than one partition: an instance that joins is then
/// given some, partition 0 among them, and takes the lead (and the sweeps) at each scale-out.
fn warn_of_partitions<C: ConsumerContext>(consumer: &BaseConsumer<C>, topic: &str) {
    let partitions = consumer
        .fetch_metadata(Some(topic), METADATA_TIMEOUT)
        .ok()
        .and_then(|m| {
            m.topics()
                .iter()
                .find(|t| t.name() == topic)
                .map(|t| t.partitions().len())
        });
    if let Some(partitions) = partitions.filter(|&n| n > 1) {
        tracing::warn!(
            partitions,
            "the sweeper's election: the audit topic has more than one partition, so the lead \
             moves to an instance that joins; give the topic one partition"
        );
    }
}

/// Called on the election's own thread at each change of membership; must not block.
pub type MembershipObserver = Box<dyn Fn(Membership) + Send + Sync>;

struct Context {
    topic: String,
    leading: Arc<AtomicBool>,
    observe: MembershipObserver,
}

impl ClientContext for Context {}

impl ConsumerContext for Context {
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance
            && let Err(error) = consumer.pause(list)
        {
            tracing::warn!(%error, "pausing the election's partitions");
        }
        let leads = consumer.assignment().is_ok_and(|assignment| {
            assignment
                .elements()
                .iter()
                .any(|e| e.topic() == self.topic && e.partition() == 0)
        });
        self.leading.store(leads, Ordering::SeqCst);
        if matches!(rebalance, Rebalance::Assign(_)) {
            (self.observe)(Membership::Assigned { leads });
        }
    }

    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance
            && list
                .elements()
                .iter()
                .any(|e| e.topic() == self.topic && e.partition() == 0)
        {
            self.leading.store(false, Ordering::SeqCst);
            (self.observe)(Membership::Revoked);
        }
    }
}

/// A membership in an election; leaves it when dropped.
pub struct Election {
    leading: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    poller: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Election {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Election")
            .field("leading", &self.leading())
            .finish_non_exhaustive()
    }
}

impl Election {
    /// Joins `group` on `topic` with the librdkafka `properties` (bootstrap servers, security;
    /// `group.id` is replaced by `group`); `observe` hears of each change of membership.
    pub fn join(
        properties: &BTreeMap<String, String>,
        group: &str,
        topic: &str,
        observe: MembershipObserver,
    ) -> Result<Election, crate::ConfigError> {
        let mut client = ClientConfig::new();
        for (key, value) in properties {
            client.set(key, value);
        }
        client
            .set("group.id", group)
            // sticky: an instance that joins (a scale-out) leaves the lead where it is, rather
            // than taking it half the time by the order of its random member id
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false");
        let leading = Arc::new(AtomicBool::new(false));
        let consumer: BaseConsumer<Context> = client
            .create_with_context(Context {
                topic: topic.to_string(),
                leading: Arc::clone(&leading),
                observe,
            })
            .map_err(|e| crate::ConfigError::of(&e, properties))?;
        consumer
            .subscribe(&[topic])
            .map_err(|e| crate::ConfigError::of(&e, properties))?;
        let stop = Arc::new(AtomicBool::new(false));
        let poller = {
            let stop = Arc::clone(&stop);
            let topic = topic.to_string();
            std::thread::Builder::new()
                .name("kafka-election".into())
                .spawn(move || {
                    warn_of_partitions(&consumer, &topic);
                    let mut said: Option<(String, std::time::Instant)> = None;
                    while !stop.load(Ordering::Relaxed) {
                        // serves the group; the paused partitions deliver nothing
                        if let Some(Err(error)) = consumer.poll(POLL) {
                            // an election that cannot join leaves the sweep to no one: said
                            // once a minute, not every poll
                            let text = error.to_string();
                            let again = said.as_ref().is_none_or(|(last, at)| {
                                *last != text || at.elapsed() >= ELECTION_WARNING_EVERY
                            });
                            if again {
                                tracing::warn!(
                                    %error,
                                    "the sweeper's election: this instance cannot take part \
                                     (another may lead; if none can, no sweep runs)"
                                );
                                said = Some((text, std::time::Instant::now()));
                            }
                        }
                    }
                    consumer.unsubscribe();
                })
                .map_err(|e| crate::ConfigError::Thread(e.to_string()))?
        };
        Ok(Election {
            leading,
            stop,
            poller: Some(poller),
        })
    }

    /// Whether this member leads now.
    pub fn leading(&self) -> bool {
        self.leading.load(Ordering::SeqCst)
    }
}

impl Drop for Election {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(poller) = self.poller.take() {
            // the thread only polls; a panic in it has been reported already
            let _ = poller.join();
        }
    }
}
