//! The Kafka adapters against a real Kafka-protocol broker (nisshi, started on loopback by
//! callscore-testkit).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use callscore_kafka::{
    Consumed, ConsumerEvents, Intake, IntakeConfig, KafkaSink, Messages, SinkConfig,
};
use callscore_pipeline::DeadLetter;
use callscore_testkit::service::Services;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

#[derive(Default)]
struct Counts {
    assigned: AtomicUsize,
}

impl ConsumerEvents for Counts {
    fn rebalanced(&self, kind: &'static str, _partitions: usize) {
        if kind == "assign" {
            self.assigned.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn lag(&self, _topic: &str, _partition: i32, _lag: i64) {}
    fn committed(&self, _ok: bool) {}
    fn client_error(&self, _message: &str) {}
}

/// The next message from the intake, waiting up to a minute.
async fn next_message(messages: &mut Messages) -> Consumed {
    tokio::time::timeout(Duration::from_secs(60), messages.recv())
        .await
        .expect("a message within a minute")
        .expect("the intake is open")
}

/// Whether no message arrives for two seconds.
async fn nothing_arrives(messages: &mut Messages) -> bool {
    tokio::time::timeout(Duration::from_secs(2), messages.recv())
        .await
        .is_err()
}

/// Produces `count` messages `PREFIX0`, `PREFIX1`, … to `topic` with a plain producer.
async fn produce(services: &Services, topic: &str, prefix: &str, count: usize) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", services.bootstrap())
        .create()
        .expect("a producer");
    for i in 0..count {
        producer
            .send(
                FutureRecord::<str, str>::to(topic).payload(&format!("{prefix}{i}")),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("produced");
    }
}

fn committed(bootstrap: &str, group: &str, topic: &str) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .expect("a consumer");
    let mut list = TopicPartitionList::new();
    list.add_partition(topic, 0);
    let offsets = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .expect("committed offsets");
    match offsets.elements()[0].offset() {
        Offset::Offset(o) => o,
        _ => -1,
    }
}

/// Work finishing out of order commits only up to the lowest unfinished offset, and the
/// bound on work in flight holds.
#[tokio::test(flavor = "multi_thread")]
async fn commits_never_pass_unfinished_work() {
    let services = Services::start(1).await;
    services.create_topic("work", 1).await;
    produce(&services, "work", "m", 20).await;
    let events = Arc::new(Counts::default());
    let config = IntakeConfig {
        topic: "work".into(),
        properties: BTreeMap::from([
            ("bootstrap.servers".to_string(), services.bootstrap()),
            ("group.id".to_string(), "ordered".to_string()),
        ]),
        max_in_flight: 8,
        max_in_flight_bytes: 1 << 20,
    };
    let (intake, mut messages) = Intake::start(&config, events.clone()).expect("started");
    let mut taken = Vec::new();
    while taken.len() < 8 {
        let consumed = next_message(&mut messages).await;
        taken.push(consumed);
    }
    // the bound: nothing more arrives while 8 are in flight
    assert!(
        nothing_arrives(&mut messages).await,
        "a ninth message while eight are in flight"
    );
    assert_eq!(intake.in_flight(), 8);

    // finish 7..1 in reverse, leaving offset 0 unfinished: nothing is committable
    for consumed in taken.iter().skip(1).rev() {
        intake.finish(&consumed.receipt);
    }
    // finishing frees room: the rest arrive, and are finished, all but offset 0
    let mut rest = 0;
    while rest < 12 {
        let consumed = next_message(&mut messages).await;
        intake.finish(&consumed.receipt);
        rest += 1;
    }
    intake.close().expect("closed");
    drop((intake, messages));
    assert_eq!(
        committed(&services.bootstrap(), "ordered", "work"),
        -1,
        "offset 0 never finished: nothing may be committed"
    );
    assert!(events.assigned.load(Ordering::SeqCst) >= 1);

    // a new member starts from the unfinished message, then everything finishes
    let (intake, mut messages) = Intake::start(&config, events).expect("started");
    let first = next_message(&mut messages).await;
    assert_eq!(
        first.receipt.offset, 0,
        "redelivery starts at the unfinished message"
    );
    intake.finish(&first.receipt);
    let mut last = 0;
    while last < 19 {
        let consumed = next_message(&mut messages).await;
        last = consumed.receipt.offset;
        intake.finish(&consumed.receipt);
    }
    intake.close().expect("closed");
    assert_eq!(committed(&services.bootstrap(), "ordered", "work"), 20);
}

/// The sink keeps the event-sink contract on a real broker, reading back with a plain
/// consumer.
#[tokio::test(flavor = "multi_thread")]
async fn the_sink_keeps_the_event_sink_contract() {
    let services = Services::start(1).await;
    // one partition each, so that reading back sees the publishing order
    services.create_topic("events-1p", 1).await;
    services.create_topic("letters-1p", 1).await;
    let sink = KafkaSink::new(SinkConfig {
        scores_topic: "events-1p".into(),
        dead_letter_topic: "letters-1p".into(),
        properties: BTreeMap::from([("bootstrap.servers".to_string(), services.bootstrap())]),
        source: "/callscore-test".into(),
    })
    .expect("a sink");
    sink.ping(Duration::from_secs(10))
        .expect("a broker answers");
    callscore_pipeline::contract::event_sink(&sink, |_| {
        let events = services
            .read("events-1p", 3, Duration::from_secs(30))
            .iter()
            .map(|m| m.json())
            .collect();
        let letters = services
            .read("letters-1p", 1, Duration::from_secs(30))
            .iter()
            .map(|m| serde_json::from_slice::<DeadLetter>(&m.payload).expect("a dead letter"))
            .collect();
        (events, letters)
    })
    .await;
}

/// The byte bound holds like the count bound: with room for 6 bytes, three 2-byte messages
/// are taken and the fourth waits until one is finished.
#[tokio::test(flavor = "multi_thread")]
async fn bytes_in_flight_are_bounded() {
    let services = Services::start(1).await;
    services.create_topic("sized", 1).await;
    produce(&services, "sized", "b", 6).await;
    let config = IntakeConfig {
        topic: "sized".into(),
        properties: BTreeMap::from([
            ("bootstrap.servers".to_string(), services.bootstrap()),
            ("group.id".to_string(), "sized".to_string()),
        ]),
        max_in_flight: 100,
        max_in_flight_bytes: 6,
    };
    let (intake, mut messages) =
        Intake::start(&config, Arc::new(Counts::default())).expect("started");
    let mut taken = Vec::new();
    for _ in 0..3 {
        let consumed = next_message(&mut messages).await;
        taken.push(consumed);
    }
    assert!(
        nothing_arrives(&mut messages).await,
        "a fourth message with 6 bytes in flight"
    );
    intake.finish(&taken[0].receipt);
    let next = next_message(&mut messages).await;
    assert_eq!(next.receipt.offset, 3);
    intake.close().expect("closed");
}
