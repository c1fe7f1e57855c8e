//! The Kafka adapters against a real Kafka-protocol broker (nisshi, started on loopback by
//! callscore-testkit), run by the delivery core; the fatal producer error against librdkafka's
//! mock cluster, the only broker that can be made to break a producer's sequence.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use callscore_kafka::{
    ConsumerEvents, GroupChange, KafkaSink, KafkaSource, SinkConfig, SourceConfig,
};
use callscore_pipeline::{
    EventSink, MemorySink, MemoryStore, NoStaging, Pipeline, PseudonymKey, Pseudonyms, Retry,
    Settings, Stream,
};
use callscore_testkit::service::{self, DEAD_LETTERS, RECORDINGS, SCORES, Services};
use callscore_worker::testing::{Fault, Faulty};
use callscore_worker::{CancellationToken, Finished, Observer, Policy, Report, Worker};
use rdkafka::message::{Header, OwnedHeaders};

#[derive(Default)]
struct Counts {
    assigned: AtomicUsize,
    finished: AtomicUsize,
}

impl ConsumerEvents for Counts {
    fn rebalanced(&self, change: GroupChange, _partitions: usize) {
        if change == GroupChange::Assign {
            self.assigned.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn lag(&self, _topic: &str, _partition: i32, _lag: i64) {}
    fn committed(&self, _ok: bool) {}
    fn client_error(&self, _message: &str) {}
}

impl Observer for Counts {
    fn finished(&self, _finished: &Finished<'_>) {
        self.finished.fetch_add(1, Ordering::SeqCst);
    }
}

/// The pipeline with every survey the fixture recordings answer.
fn pipeline() -> Pipeline {
    let surveys = ["nps-csat", "nps-comment"]
        .map(|name| {
            let path = service::root().join(format!("fixtures/surveys/{name}.toml"));
            let text = std::fs::read_to_string(path).expect("survey");
            let survey = callscore_survey::Survey::from_toml(&text).expect("a valid survey");
            (survey.id().to_string(), survey)
        })
        .into();
    Pipeline::new(Settings {
        surveys,
        pseudonyms: Pseudonyms::fixed(PseudonymKey::new("k1", vec![7; 32]).expect("a key")),
        retention: Default::default(),
        decode: Default::default(),
        extended_keys: true,
        pipeline_version: "test".into(),
        prompts: Default::default(),
    })
}

fn sink(services: &Services, extra: &[(&str, &str)]) -> Arc<KafkaSink> {
    let mut properties = BTreeMap::from([("bootstrap.servers".to_string(), services.bootstrap())]);
    for (k, v) in extra {
        properties.insert((*k).to_string(), (*v).to_string());
    }
    Arc::new(
        KafkaSink::new(SinkConfig {
            scores_topic: SCORES.into(),
            dead_letter_topic: DEAD_LETTERS.into(),
            audit_topic: None,
            contact_topic: None,
            transcription_topic: None,
            transcripts_topic: None,
            properties,
            source: "/callscore-test".into(),
        })
        .expect("a sink"),
    )
}

fn source(
    services: &Services,
    group: &str,
    counts: &Arc<Counts>,
    sink: &Arc<KafkaSink>,
) -> Arc<KafkaSource> {
    let config = SourceConfig {
        topic: RECORDINGS.into(),
        properties: BTreeMap::from([
            ("bootstrap.servers".to_string(), services.bootstrap()),
            ("group.id".to_string(), group.to_string()),
            ("auto.commit.interval.ms".to_string(), "100".to_string()),
        ]),
        prefetch_bytes: 8 << 20,
    };
    Arc::new(
        KafkaSource::start(
            &config,
            Arc::clone(counts) as Arc<dyn ConsumerEvents>,
            Arc::clone(sink),
        )
        .expect("started"),
    )
}

/// Waits until `counts` saw `finished` inputs finish, up to two minutes.
async fn until_finished(counts: &Counts, finished: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while counts.finished.load(Ordering::SeqCst) < finished {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} finished",
            counts.finished.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn policy() -> Policy {
    let mut policy = Policy::batch(std::num::NonZeroUsize::new(2).expect("two"));
    policy.retry.attempts = None;
    policy.max_in_flight = std::num::NonZeroUsize::new(8).expect("eight");
    policy
}

/// The core over the Kafka source: a slow first recording holds every commit of its
/// partition back while the recordings after it finish, and they wait with it within the
/// in-flight bound (its slot and theirs are given back only when they are acknowledged);
/// then everything commits.
#[tokio::test(flavor = "multi_thread")]
async fn commits_never_pass_unfinished_work() {
    let services = Services::start(1).await;
    let recordings = service::recordings(1);
    services.produce(&recordings).await;
    let counts = Arc::new(Counts::default());
    let sink = sink(&services, &[]);
    let source = source(&services, "ordered", &counts, &sink);
    let store = Arc::new(Faulty::new(MemoryStore::default()));
    let first = recordings[0].recording_id().to_string();
    store.script_for(&first, [Fault::Delay(Duration::from_secs(8))]);
    let cancel = CancellationToken::new();
    let worker = Worker::new(
        pipeline(),
        Arc::clone(&source),
        Arc::clone(&store),
        MemorySink::default(),
        NoStaging,
        Arc::clone(&counts),
        policy(),
    );
    let run = tokio::spawn(worker.run(cancel.clone()));
    let bound = policy().max_in_flight.get();
    assert!(recordings.len() > bound, "more recordings than the bound");
    until_finished(&counts, bound - 1).await;
    // auto-commit runs every 100 ms: give it time to commit what it may
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        services.committed("ordered", 1),
        vec![-1],
        "offset 0 is unfinished: nothing may be committed"
    );
    assert_eq!(
        counts.finished.load(Ordering::SeqCst),
        bound - 1,
        "no more is taken while the bound's worth waits to be acknowledged"
    );
    until_finished(&counts, recordings.len()).await;
    cancel.cancel();
    let report: Report = run.await.expect("the run ends");
    assert_eq!(report.delivered, recordings.len());
    let closing = Arc::clone(&source);
    tokio::task::spawn_blocking(move || closing.close())
        .await
        .expect("joined")
        .expect("committed");
    assert_eq!(
        services.committed("ordered", 1),
        vec![recordings.len() as i64]
    );
    assert!(counts.assigned.load(Ordering::SeqCst) >= 1);
}

/// The sink keeps the event-sink contract on a real broker, reading back with a plain
/// consumer: every event, in order, under its event id.
#[tokio::test(flavor = "multi_thread")]
async fn the_sink_keeps_the_event_sink_contract() {
    let services = Services::start(1).await;
    // one partition, so that reading back sees the publishing order
    services.create_topic("events-1p", 1).await;
    let sink = KafkaSink::new(SinkConfig {
        scores_topic: "events-1p".into(),
        dead_letter_topic: DEAD_LETTERS.into(),
        audit_topic: None,
        contact_topic: None,
        transcription_topic: None,
        transcripts_topic: None,
        properties: BTreeMap::from([("bootstrap.servers".to_string(), services.bootstrap())]),
        source: "/callscore-test".into(),
    })
    .expect("a sink");
    sink.ping(Duration::from_secs(10))
        .expect("a broker answers");
    callscore_pipeline::contract::event_sink(&sink, |_| {
        services
            .read("events-1p", 3, Duration::from_secs(30))
            .into_iter()
            .map(|m| (m.key.clone(), m.json()))
            .collect()
    })
    .await;
}

/// Transcription requests go to their topic under their id; retracting one tombstones it
/// there and on the transcripts topic, where a transcriber wrote its transcript under the
/// same id.
#[tokio::test(flavor = "multi_thread")]
async fn a_retracted_transcription_is_tombstoned_with_its_transcript() {
    let services = Services::start(1).await;
    services.create_topic("transcriptions", 1).await;
    services.create_topic("transcripts", 1).await;
    let sink = KafkaSink::new(SinkConfig {
        scores_topic: "scores-t".into(),
        dead_letter_topic: DEAD_LETTERS.into(),
        audit_topic: None,
        contact_topic: None,
        transcription_topic: Some("transcriptions".into()),
        transcripts_topic: Some("transcripts".into()),
        properties: BTreeMap::from([("bootstrap.servers".to_string(), services.bootstrap())]),
        source: "/callscore-test".into(),
    })
    .expect("a sink");
    let request = serde_json::json!({"schema_version": 1, "request_id": "tr-1"});
    sink.transcription(std::slice::from_ref(&request))
        .await
        .expect("published");
    sink.publish_to(
        "transcripts",
        &[serde_json::json!({"request_id": "tr-1", "text": "fine"})],
        "request_id",
        "com.callscore.transcript.v1",
    )
    .await
    .expect("a transcriber's transcript");
    sink.retract(Stream::Transcriptions, &["tr-1".to_string()])
        .await
        .expect("retracted");
    let wait = Duration::from_secs(30);
    let requests = services.read("transcriptions", 2, wait);
    assert_eq!(requests[0].key.as_deref(), Some("tr-1"));
    assert_eq!(requests[0].json(), request);
    assert_eq!(
        requests[0].headers["ce_type"],
        "com.callscore.transcription-request.v1"
    );
    for topic in ["transcriptions", "transcripts"] {
        let read = services.read(topic, 2, wait);
        assert_eq!(read.len(), 2, "{topic}");
        assert_eq!(read[1].key.as_deref(), Some("tr-1"), "{topic}");
        assert!(read[1].payload.is_empty(), "{topic}: a tombstone");
    }
}

/// Every phone number in a message's headers and value, as text.
fn everything(read: &service::Read) -> String {
    let mut text = String::from_utf8_lossy(&read.payload).into_owned();
    for (k, v) in &read.headers {
        text.push_str(k);
        text.push_str(v);
    }
    text
}

/// Dead letters keep the original (key, value, headers) and stay replayable, but carry the
/// caller's pseudonym instead of the number; an unreadable metadata header keeps its shape
/// with its digit groups masked.
#[tokio::test(flavor = "multi_thread")]
async fn dead_letters_keep_the_original_without_the_number() {
    let services = Services::start(1).await;
    let mut broken = service::recordings(1).remove(0);
    broken.metadata["caller_number"] = "+31 20 555 0199".into();
    broken.audio = b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk".to_vec();
    services.produce(std::slice::from_ref(&broken)).await;
    let raw = r#"{"schema_version": 1, "caller_number": 31205550177, "#;
    services
        .send(
            &services.producer(),
            "bad",
            b"RIFF",
            OwnedHeaders::new().insert(Header {
                key: "callscore_metadata",
                value: Some(raw),
            }),
        )
        .await;
    let counts = Arc::new(Counts::default());
    let sink = sink(&services, &[]);
    let source = source(&services, "letters", &counts, &sink);
    let cancel = CancellationToken::new();
    let worker = Worker::new(
        pipeline(),
        Arc::clone(&source),
        MemoryStore::default(),
        MemorySink::default(),
        NoStaging,
        Arc::clone(&counts),
        policy(),
    );
    let run = tokio::spawn(worker.run(cancel.clone()));
    until_finished(&counts, 2).await;
    cancel.cancel();
    let report = run.await.expect("the run ends");
    assert_eq!(report.dead_lettered, 2);

    let mut letters = services.read(DEAD_LETTERS, 2, Duration::from_secs(60));
    letters.sort_by_key(|l| l.headers["callscore_dlq_source_offset"].clone());
    let decode = &letters[0];
    assert_eq!(decode.payload, broken.audio, "the original value");
    assert_eq!(
        decode.key.as_deref(),
        Some(broken.call_id()),
        "the original key"
    );
    assert_eq!(
        decode.headers["content-type"], "audio/wav",
        "the original headers"
    );
    let kept: serde_json::Value =
        serde_json::from_str(&decode.headers["callscore_metadata"]).expect("metadata JSON");
    assert!(kept["caller_number"].is_null(), "{kept}");
    let pseudonym = kept["caller_pseudonym"]
        .as_str()
        .expect("the pseudonym instead");
    assert!(callscore_pipeline::is_pseudonym(pseudonym), "{pseudonym}");
    // replaying the letter's metadata gives the recording the same pseudonym
    let replayed = callscore_pipeline::RecordingMetadata::from_json(
        decode.headers["callscore_metadata"].as_bytes(),
    )
    .expect("the kept metadata is valid");
    assert_eq!(
        pipeline()
            .caller_pseudonym(&replayed)
            .expect("a key")
            .as_deref(),
        Some(pseudonym)
    );
    for letter in &letters {
        let text = everything(letter);
        for digits in ["5550199", "5550177", "31205550177"] {
            assert!(!text.contains(digits), "{digits} in a dead letter: {text}");
        }
    }
    assert!(letters[1].headers["callscore_metadata"].contains("schema_version"));
}

/// A dead letter larger than the producer's message size is still delivered: everything but
/// the value, which becomes a note of its size and SHA-256.
#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_dead_letter_is_delivered_without_its_value() {
    let services = Services::start(1).await;
    let mut large = service::recordings(1).remove(0);
    large.audio = vec![0xA5; 300_000];
    services.produce(std::slice::from_ref(&large)).await;
    let counts = Arc::new(Counts::default());
    let sink = sink(&services, &[("message.max.bytes", "100000")]);
    let source = source(&services, "oversized", &counts, &sink);
    let cancel = CancellationToken::new();
    let worker = Worker::new(
        pipeline(),
        Arc::clone(&source),
        MemoryStore::default(),
        MemorySink::default(),
        NoStaging,
        Arc::clone(&counts),
        policy(),
    );
    let run = tokio::spawn(worker.run(cancel.clone()));
    until_finished(&counts, 1).await;
    cancel.cancel();
    assert_eq!(run.await.expect("the run ends").dead_lettered, 1);
    let letters = services.read(DEAD_LETTERS, 1, Duration::from_secs(60));
    let letter = &letters[0];
    assert_eq!(letter.headers["callscore_dlq_value_omitted"], "size");
    assert_eq!(letter.headers["callscore_dlq_stage"], "decode");
    let note = letter.json();
    assert_eq!(note["size"], 300_000);
    assert_eq!(
        note["sha256"],
        callscore_pipeline::hex(&<sha2::Sha256 as sha2::Digest>::digest(&large.audio))
    );
}

/// After a fatal producer error (a broken idempotence sequence), produces fail as fatal and
/// the sink says so, instead of failing for ever as if it could pass.
#[tokio::test(flavor = "multi_thread")]
async fn a_fatal_producer_error_is_reported_as_fatal() {
    use rdkafka::mocking::MockCluster;
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    let cluster = MockCluster::new(1).expect("a mock cluster");
    cluster
        .create_topic(SCORES, 1, 1)
        .expect("the scores topic");
    let sink = KafkaSink::new(SinkConfig {
        scores_topic: SCORES.into(),
        dead_letter_topic: DEAD_LETTERS.into(),
        audit_topic: None,
        contact_topic: None,
        transcription_topic: None,
        transcripts_topic: None,
        properties: BTreeMap::from([
            ("bootstrap.servers".to_string(), cluster.bootstrap_servers()),
            ("message.timeout.ms".to_string(), "10000".to_string()),
        ]),
        source: "/callscore-test".into(),
    })
    .expect("a sink");
    let event = serde_json::json!({"event_id": "e1", "event_type": "score", "schema_version": 1});
    sink.publish(std::slice::from_ref(&event))
        .await
        .expect("the first produce passes");
    assert!(sink.fatal().is_none());
    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER; 4],
    );
    let error = sink
        .publish(std::slice::from_ref(&event))
        .await
        .expect_err("the sequence is broken");
    assert_eq!(error.retry, Retry::Fatal, "{error}");
    assert!(sink.fatal().is_some(), "the sink knows it is broken");
    let again = sink
        .publish(std::slice::from_ref(&event))
        .await
        .expect_err("nothing passes any more");
    assert_eq!(again.retry, Retry::Fatal, "{again}");
}
