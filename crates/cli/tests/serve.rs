//! `callscore serve` end to end, against a real Kafka-protocol broker (nisshi) and a real
//! S3-compatible store (Garage), both started on loopback by `callscore-testkit`. Recordings
//! are produced and results read back by independent clients (plain rdkafka and aws-sdk-s3).
//!
//! The tests take turns: each starts its own broker, store and service, and two cores do
//! not run several of those well at once.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use callscore_testkit::service::{
    self, DEAD_LETTERS, RECORDINGS, Recording, SCORES, Services, TRANSCRIPTIONS, answers_of,
    event_count, expected_answers, recordings,
};
use rdkafka::message::{Header, OwnedHeaders};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

mod common;

use common::start;

static TURN: Mutex<()> = Mutex::const_new(());

const READY: Duration = Duration::from_secs(60);
const DONE: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread")]
async fn recordings_become_the_expected_events_and_objects() {
    let _turn = TURN.lock().await;
    let services = Services::start(3).await;
    let dir = tempfile::tempdir().expect("a directory");
    let (config, port) = services.config(dir.path(), "e2e", "");
    let service = start(&services, &config, port, &dir.path().join("serve.log"));
    service.wait_ready(READY);

    let mut recordings = recordings(3);
    // its answer is read only with the prompt its survey names subtracted
    recordings.push(callscore_testkit::service::prompted_recording());
    services.produce(&recordings).await;
    let events = services.read(SCORES, event_count(&recordings), DONE);
    assert_eq!(answers_of(&events), expected_answers(&recordings));
    assert_eq!(
        events.len(),
        event_count(&recordings),
        "no duplicates without failures"
    );

    for event in &events {
        let value = event.json();
        assert_eq!(
            event.key.as_deref(),
            value["event_id"].as_str(),
            "keyed by event id: one key per fact"
        );
        let h = &event.headers;
        assert_eq!(h["ce_specversion"], "1.0");
        assert_eq!(h["ce_id"], value["event_id"].as_str().expect("an id"));
        assert_eq!(
            h["ce_type"],
            format!(
                "com.callscore.{}.v1",
                value["event_type"].as_str().expect("a type")
            )
        );
        assert_eq!(h["ce_source"], "/callscore/acme");
        assert_eq!(h["content-type"], "application/json");
        assert!(
            !String::from_utf8_lossy(&event.payload).contains("+3120555"),
            "no numbers"
        );
    }

    // one object per recording, under TENANT/CLASS/CALLER/ID.wav, with its retention data
    let objects = services.objects().await;
    assert_eq!(objects.len(), recordings.len());
    let responses: Vec<serde_json::Value> = events
        .iter()
        .map(|e| e.json())
        .filter(|v| v["event_type"] == "response")
        .collect();
    for response in &responses {
        let uri = response["audio"]["uri"].as_str().expect("a URI");
        let key = uri
            .strip_prefix("s3://audio/")
            .expect("in the audio bucket");
        let meta = &objects[key].meta;
        let retention = &response["retention"];
        assert_eq!(
            meta["retention-class"],
            retention["class"].as_str().expect("a class")
        );
        assert!(key.starts_with(&format!(
            "acme/{}/",
            retention["class"].as_str().expect("a class")
        )));
        let expires = retention["expires_on"].as_str().unwrap_or("none");
        assert_eq!(meta["expires-on"], expires);
        assert_eq!(
            meta["sha256"],
            response["audio"]["sha256"].as_str().expect("a digest")
        );
    }

    // each spoken comment: its clip beside the recording, and a transcription request for it
    let clipped = events
        .iter()
        .filter(|e| e.json()["comment"]["clip"].is_object())
        .count();
    let spoken = recordings
        .iter()
        .filter(|r| {
            r.answers
                .get("why")
                .is_some_and(|(status, _)| status == "answered")
        })
        .count();
    assert!(spoken > 0, "the fixtures hold a spoken comment");
    assert_eq!(clipped, spoken);
    let requests = services.read(TRANSCRIPTIONS, spoken, DONE);
    assert_eq!(requests.len(), spoken);
    let keys = services.keys("audio").await;
    for request in &requests {
        let value = request.json();
        assert_eq!(request.key.as_deref(), value["request_id"].as_str());
        assert_eq!(
            request.headers["ce_type"],
            "com.callscore.transcription-request.v1"
        );
        let uri = value["clip"]["uri"].as_str().expect("a clip URI");
        let key = uri
            .strip_prefix("s3://audio/")
            .expect("in the audio bucket");
        assert!(key.ends_with("/comment-why.opus"), "{key}");
        assert!(keys.iter().any(|k| k == key), "the clip is stored: {key}");
        let score = events
            .iter()
            .map(|e| e.json())
            .find(|e| e["event_id"] == value["score_event_id"])
            .expect("the comment's score event");
        assert_eq!(score["comment"]["clip"], value["clip"]);
        assert!(!String::from_utf8_lossy(&request.payload).contains("+3120555"));
    }

    let metrics = service.metrics();
    let processed = service::metric(
        &metrics,
        "callscore_recordings_processed_total",
        &["outcome=\"processed\""],
    );
    assert_eq!(processed, recordings.len() as f64);
    assert!(service::metric(&metrics, "callscore_key_presses_total", &[]) > 0.0);
    assert!(
        service::metric(
            &metrics,
            "callscore_answers_total",
            &["status=\"answered\"", "kind=\"nps\""]
        ) > 0.0
    );
    assert!(
        service::metric(
            &metrics,
            "callscore_store_requests_total",
            &["operation=\"put\"", "result=\"ok\""]
        ) > 0.0
    );
    assert!(metrics.contains("callscore_end_to_end_duration_seconds_bucket"));
    let (status, body) = service.readyz().expect("readyz answers");
    assert_eq!(status, 200);
    assert!(
        body.contains("tagging"),
        "the store's limitation is reported: {body}"
    );
    assert!(
        !service.log_text().contains("+3120555"),
        "no phone number in the logs"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn referenced_audio_is_fetched_from_the_staging_bucket() {
    let _turn = TURN.lock().await;
    let services = Services::start(1).await;
    let dir = tempfile::tempdir().expect("a directory");
    let (config, port) = services.config(dir.path(), "staging", "");
    let service = start(&services, &config, port, &dir.path().join("serve.log"));
    service.wait_ready(READY);

    let good: Vec<_> = recordings(1).into_iter().take(2).collect();
    let s3 = services.s3();
    let producer = services.producer();
    let reference = |recording: &service::Recording, uri: &str, sha256: &str| {
        let headers = recording.headers("application/vnd.callscore.audio-ref.v1+json");
        let value = serde_json::json!({ "uri": uri, "sha256": sha256 }).to_string();
        (headers, value)
    };
    for recording in &good {
        let key = format!("incoming/{}.wav", recording.recording_id());
        s3.put_object()
            .bucket("staging")
            .key(&key)
            .body(recording.audio.clone().into())
            .send()
            .await
            .expect("uploaded");
        let digest = callscore_pipeline::hex(&Sha256::digest(&recording.audio));
        let (headers, value) = reference(recording, &format!("s3://staging/{key}"), &digest);
        services
            .send(&producer, recording.call_id(), value.as_bytes(), headers)
            .await;
    }
    // a reference to nothing, and one whose digest does not match
    let (headers, value) = reference(&good[0], "s3://staging/incoming/missing.wav", "00");
    services
        .send(&producer, "missing", value.as_bytes(), headers)
        .await;
    let key = format!("s3://staging/incoming/{}.wav", good[1].recording_id());
    let (headers, value) = reference(&good[1], &key, &"0".repeat(64));
    services
        .send(&producer, "tampered", value.as_bytes(), headers)
        .await;

    let events = services.read(SCORES, event_count(&good), DONE);
    assert_eq!(answers_of(&events), expected_answers(&good));
    let letters = services.read(DEAD_LETTERS, 2, DONE);
    let errors: Vec<&str> = letters
        .iter()
        .map(|l| l.headers["callscore_dlq_error"].as_str())
        .collect();
    // the two references have different keys, so different partitions: their letters come
    // in either order
    let missing = errors.iter().filter(|e| e.contains("missing.wav")).count();
    let tampered = errors.iter().filter(|e| e.contains("SHA-256")).count();
    assert_eq!((missing, tampered), (1, 1), "{errors:?}");
    assert!(
        letters
            .iter()
            .all(|l| l.headers["callscore_dlq_stage"] == "intake")
    );
    // every fetch that read bytes is timed: the two good ones and the tampered one
    assert!(
        service.metric(
            "callscore_stage_duration_seconds_count",
            &["stage=\"fetch\""]
        ) >= 3.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn poison_messages_go_to_the_dead_letter_topic_and_the_partition_carries_on() {
    let _turn = TURN.lock().await;
    let services = Services::start(1).await;
    let dir = tempfile::tempdir().expect("a directory");
    let (config, port) = services.config(dir.path(), "poison", "");
    let service = start(&services, &config, port, &dir.path().join("serve.log"));
    service.wait_ready(READY);

    let good = recordings(1);
    let producer = services.producer();
    // broken metadata, then undecodable audio with valid metadata, then good recordings,
    // all in the one partition
    services
        .send(
            &producer,
            "bad-1",
            b"RIFF not really",
            OwnedHeaders::new().insert(Header {
                key: "callscore_metadata",
                value: Some("{\"schema_version\": 1"),
            }),
        )
        .await;
    let mut corrupt = good[0].clone();
    corrupt.metadata["recording_id"] = "rec-corrupt".into();
    corrupt.audio = b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk".to_vec();
    services.produce(&[corrupt]).await;
    services.produce(&good).await;

    let mut letters = services.read(DEAD_LETTERS, 2, DONE);
    assert_eq!(letters.len(), 2);
    // two stages (intake and decode) write these letters concurrently, so the dead-letter
    // topic may hold them in either order: take them in the order of their source offsets
    letters.sort_by_key(|l| {
        l.headers["callscore_dlq_source_offset"]
            .parse::<i64>()
            .expect("the source offset is a number")
    });
    let h = &letters[0].headers;
    assert_eq!(h["callscore_dlq_source_topic"], RECORDINGS);
    assert_eq!(h["callscore_dlq_source_partition"], "0");
    assert_eq!(h["callscore_dlq_source_offset"], "0");
    assert_eq!(h["callscore_dlq_stage"], "intake");
    assert_eq!(h["callscore_dlq_reason"], "invalid_metadata");
    assert_eq!(letters[0].payload, b"RIFF not really", "the original bytes");
    assert_eq!(letters[0].key.as_deref(), Some("bad-1"));
    let h = &letters[1].headers;
    assert_eq!(h["callscore_dlq_source_offset"], "1");
    assert_eq!(h["callscore_dlq_stage"], "decode");
    assert!(
        h.contains_key("callscore_metadata"),
        "original headers kept"
    );

    let events = services.read(SCORES, event_count(&good), DONE);
    assert_eq!(
        answers_of(&events),
        expected_answers(&good),
        "the partition carried on"
    );
    service.wait_metric(
        "callscore_dead_letters_total",
        &["stage=\"intake\"", "reason=\"invalid_metadata\""],
        1.0,
        DONE,
    );
    // every offset, the poison ones included, is committed
    let end = (good.len() + 2) as i64;
    let deadline = Instant::now() + DONE;
    while services.committed("poison", 1) != vec![end] {
        assert!(
            Instant::now() < deadline,
            "offsets not committed: {:?}",
            services.committed("poison", 1)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_stream_loses_nothing_and_duplicates_no_object() {
    let _turn = TURN.lock().await;
    let mut services = Services::start(3).await;
    let dir = tempfile::tempdir().expect("a directory");
    let (config, port) = services.config(dir.path(), "crash", "");
    let recordings = recordings(8);
    services.produce(&recordings).await;

    let mut first = start(&services, &config, port, &dir.path().join("first.log"));
    first.wait_metric("callscore_recordings_processed_total", &[], 10.0, DONE);
    // hold a full load of recordings in flight (the store is away), for several auto-commit
    // intervals, then kill: none of them may have been committed
    services.garage.kill();
    first.wait_metric("callscore_in_flight_recordings", &[], 8.0, DONE);
    std::thread::sleep(Duration::from_secs(3));
    first.kill();
    services.garage.resume();
    let stored_before = services.objects().await;
    let before = services
        .read(SCORES, usize::MAX, Duration::from_secs(3))
        .len();
    assert!(
        before < event_count(&recordings),
        "killed mid-stream ({before} events)"
    );

    let second = start(&services, &config, port, &dir.path().join("second.log"));
    second.wait_ready(READY);
    let distinct = || {
        let events = services.read(SCORES, usize::MAX, Duration::from_secs(3));
        let ids: BTreeSet<String> = events
            .iter()
            .map(|e| e.json()["event_id"].as_str().expect("an id").to_string())
            .collect();
        (events, ids.len())
    };
    let deadline = Instant::now() + DONE;
    let events = loop {
        let (events, ids) = distinct();
        if ids >= event_count(&recordings) || Instant::now() > deadline {
            break events;
        }
    };
    assert_eq!(
        answers_of(&events),
        expected_answers(&recordings),
        "nothing lost"
    );
    let objects = services.objects().await;
    assert_eq!(objects.len(), recordings.len(), "one object per recording");
    // objects stored before the crash were never written again
    for (key, stored) in &stored_before {
        assert_eq!(&objects[key], stored, "{key} was rewritten");
    }
    let ids: Vec<String> = events
        .iter()
        .map(|e| e.json()["event_id"].as_str().expect("an id").to_string())
        .collect();
    let unique: BTreeSet<&String> = ids.iter().collect();
    // at least once: events of recordings finished but not yet committed at the kill come
    // again, with the same ids
    assert_eq!(unique.len(), event_count(&recordings), "one id per fact");
    // the scores topic is compacted: what compaction keeps is every fact, once
    let kept = service::compacted(&events);
    assert_eq!(
        kept.len(),
        event_count(&recordings),
        "compaction keeps every fact once"
    );
    assert_eq!(answers_of(&kept), expected_answers(&recordings));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_commits_and_exits_zero() {
    let _turn = TURN.lock().await;
    let services = Services::start(2).await;
    let dir = tempfile::tempdir().expect("a directory");
    let (config, port) = services.config(dir.path(), "term", "");
    let recordings = recordings(4);
    services.produce(&recordings).await;
    let mut service = start(&services, &config, port, &dir.path().join("serve.log"));
    service.wait_metric("callscore_recordings_processed_total", &[], 4.0, DONE);
    let status = service.terminate(Duration::from_secs(60));
    assert_eq!(status.code(), Some(0), "log:\n{}", service.log_text());
    let log = service.log_text();
    assert!(log.contains("stopped"), "{log}");

    // whatever was committed is finished: a restart picks up from there and ends complete
    let again = start(&services, &config, port, &dir.path().join("again.log"));
    again.wait_ready(READY);
    let events = services.read(SCORES, usize::MAX, Duration::from_secs(3));
    let deadline = Instant::now() + DONE;
    let mut events = events;
    while answers_of(&events).len() < expected_answers(&recordings).len()
        && Instant::now() < deadline
    {
        events = services.read(SCORES, usize::MAX, Duration::from_secs(3));
    }
    assert_eq!(answers_of(&events), expected_answers(&recordings));
    let committed: i64 = services.committed("term", 2).iter().sum();
    assert_eq!(
        committed,
        recordings.len() as i64,
        "every offset committed in the end"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_outage_of_30_seconds_loses_nothing_and_recovers_without_a_restart() {
    let _turn = TURN.lock().await;
    let mut services = Services::start(2).await;
    let dir = tempfile::tempdir().expect("a directory");
    let (config, port) = services.config(dir.path(), "outage", "");
    // an outage longer than max.poll.interval.ms must not cost the group membership
    let text = std::fs::read_to_string(&config).expect("the configuration");
    let text = text.replace(
        "\"auto.commit.interval.ms\" = 500",
        "\"auto.commit.interval.ms\" = 500\n\"max.poll.interval.ms\" = 12000",
    );
    std::fs::write(&config, text).expect("written");
    let service = start(&services, &config, port, &dir.path().join("serve.log"));
    service.wait_ready(READY);

    services.garage.kill();
    let recordings = recordings(2);
    services.produce(&recordings).await;
    std::thread::sleep(Duration::from_secs(30));
    let metrics = service.metrics();
    assert!(
        service::metric(
            &metrics,
            "callscore_store_requests_total",
            &["result=\"transient_error\""]
        ) > 0.0,
        "{metrics}"
    );
    assert!(service::metric(&metrics, "callscore_retries_total", &["stage=\"store\""]) > 0.0);
    assert!(
        service::metric(
            &metrics,
            "callscore_errors_total",
            &["stage=\"store\"", "retry=\"transient\""]
        ) > 0.0
    );
    assert_eq!(
        service::metric(&metrics, "callscore_recordings_processed_total", &[]),
        0.0,
        "nothing finishes while the store is down"
    );
    let (status, body) = service.readyz().expect("readyz answers");
    assert_eq!(status, 503, "not ready while the store is down: {body}");

    services.garage.resume();
    let events = services.read(SCORES, event_count(&recordings), DONE);
    assert_eq!(answers_of(&events), expected_answers(&recordings));
    assert_eq!(services.objects().await.len(), recordings.len());
    service.wait_ready(READY);
    assert_eq!(
        service.metric("callscore_rebalances_total", &["kind=\"revoke\""]),
        0.0,
        "30 s of retrying never breached the 12 s max.poll.interval.ms"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_restart_is_ridden_out() {
    let _turn = TURN.lock().await;
    let mut services = Services::start(2).await;
    let dir = tempfile::tempdir().expect("a directory");
    let (config, port) = services.config(dir.path(), "restart", "");
    let service = start(&services, &config, port, &dir.path().join("serve.log"));
    service.wait_ready(READY);

    let all = recordings(2);
    let (before, after) = all.split_at(all.len() / 2);
    services.produce(before).await;
    service.wait_metric(
        "callscore_recordings_processed_total",
        &[],
        before.len() as f64,
        DONE,
    );

    services.broker.kill();
    std::thread::sleep(Duration::from_secs(5));
    services.broker.resume();
    services.produce(after).await;
    let deadline = Instant::now() + DONE;
    let mut events = Vec::new();
    while answers_of(&events).len() < expected_answers(&all).len() && Instant::now() < deadline {
        events = services.read(SCORES, usize::MAX, Duration::from_secs(3));
    }
    assert_eq!(
        answers_of(&events),
        expected_answers(&all),
        "both halves processed"
    );
    assert_eq!(services.objects().await.len(), all.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_refuses_topics_that_keep_callers_data_longer_than_the_retention_promises() {
    let _turn = TURN.lock().await;
    let services = Services::start(1).await;
    let day = 24 * 3600 * 1000u64;
    // the recordings kept for ever, the dead letters 60 days and a day: longer than the
    // 30 days non-respondents are kept
    services
        .create_topic_with("recordings-for-ever", 1, &[("retention.ms", "-1")])
        .await;
    // and privacy requests, some with a caller's number, kept for ever too
    services
        .create_topic_with("privacy-requests-for-ever", 1, &[("retention.ms", "-1")])
        .await;
    let (sixty, one) = ((60 * day).to_string(), day.to_string());
    services
        .create_topic_with(
            "dead-letters-for-two-months",
            1,
            &[("retention.ms", &sixty), ("segment.ms", &one)],
        )
        .await;
    let dir = tempfile::tempdir().expect("a directory");
    let (config, port) = services.config_with(
        dir.path(),
        &service::Setup {
            group: "topics",
            retention: "[retention.default]\nrespondent = \"6 months\"\n\
                        non_respondent = \"30 days\"\nconsented_contact = \"1 year\"\n",
            ..service::Setup::default()
        },
    );
    let mut refused = common::start_with_env(
        &services,
        &config,
        port,
        &dir.path().join("refused.log"),
        &[
            ("CALLSCORE__KAFKA__RECORDINGS_TOPIC", "recordings-for-ever"),
            (
                "CALLSCORE__KAFKA__DEAD_LETTER_TOPIC",
                "dead-letters-for-two-months",
            ),
            (
                "CALLSCORE__KAFKA__PRIVACY_REQUESTS_TOPIC",
                "privacy-requests-for-ever",
            ),
        ],
    );
    let status = refused.wait_exit(DONE);
    let log = refused.log_text();
    assert_eq!(status.code(), Some(1), "log:\n{log}");
    for problem in [
        "kafka.recordings_topic never deletes its messages",
        "kafka.dead_letter_topic keeps a message up to 61.0 days",
        "retention.default.non_respondent keeps 30 days at the least",
    ] {
        assert!(log.contains(problem), "{problem:?} missing from:\n{log}");
    }
    assert!(
        !log.contains("recordings-for-ever") && !log.contains("dead-letters-for-two-months"),
        "a topic's name is a configuration value, not quoted:\n{log}"
    );
    assert!(
        !log.contains("kafka.contact_topic keeps"),
        "the contact topic keeps Kafka's default 7 + 7 days, within its 30:\n{log}"
    );
    assert!(
        !log.contains("kafka.privacy_requests_topic"),
        "serve does not use the privacy requests topic: serve-privacy holds it:\n{log}"
    );

    // serve-privacy on the same topics runs (refusing would hold up callers' erasures) and
    // names the breaches on /readyz once it has asked the broker
    let privacy_port = callscore_testkit::free_port();
    let privacy_log = dir.path().join("serve-privacy.log");
    let mut privacy = services
        .command(std::path::Path::new(env!("CARGO_BIN_EXE_callscore")), None)
        .args(["serve-privacy", "--config"])
        .arg(&config)
        .env(
            "CALLSCORE__SERVICE__LISTEN",
            format!("127.0.0.1:{privacy_port}"),
        )
        .env("CALLSCORE__KAFKA__RECORDINGS_TOPIC", "recordings-for-ever")
        .env(
            "CALLSCORE__KAFKA__DEAD_LETTER_TOPIC",
            "dead-letters-for-two-months",
        )
        .env(
            "CALLSCORE__KAFKA__PRIVACY_REQUESTS_TOPIC",
            "privacy-requests-for-ever",
        )
        .stderr(std::fs::File::create(&privacy_log).expect("a log"))
        .spawn()
        .expect("serve-privacy starts");
    let deadline = Instant::now() + READY;
    let mut readyz = None;
    while Instant::now() < deadline {
        readyz = callscore_testkit::http_request(privacy_port, "GET", "/readyz");
        if readyz.as_ref().is_some_and(|(status, body)| {
            *status == 200 && body.contains("kafka.privacy_requests_topic")
        }) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = privacy.kill();
    let _ = privacy.wait();
    let privacy_log = std::fs::read_to_string(&privacy_log).unwrap_or_default();
    let (status, body) = readyz.unwrap_or_default();
    assert_eq!(status, 200, "{body}\nlog:\n{privacy_log}");
    for breach in [
        "kafka.recordings_topic never deletes its messages",
        "kafka.dead_letter_topic keeps a message up to 61.0 days",
        "kafka.privacy_requests_topic never deletes its messages",
        "retention.privacy_requests keeps 30 days at the least",
    ] {
        assert!(body.contains(breach), "{breach:?} missing from {body}");
    }
    assert!(
        !body.contains("privacy-requests-for-ever"),
        "a topic's name is not quoted: {body}"
    );

    // the same service on the test's topics (Kafka's defaults: 7 days and a segment of 7)
    // starts and says it checked them; a transcripts topic that is not compacted is named
    // as a limitation: an erasure's tombstones would not remove transcripts from it
    services.create_topic("transcripts-not-compacted", 1).await;
    let (config, port) = services.config(dir.path(), "topics", "");
    let service = common::start_with_env(
        &services,
        &config,
        port,
        &dir.path().join("serve.log"),
        &[(
            "CALLSCORE__KAFKA__TRANSCRIPTS_TOPIC",
            "transcripts-not-compacted",
        )],
    );
    service.wait_ready(READY);
    assert!(
        service
            .log_text()
            .contains("every topic that carries callers' data keeps it no longer than"),
        "log:\n{}",
        service.log_text()
    );
    let (_, readyz) = service.readyz().expect("/readyz answers");
    assert!(
        readyz.contains("kafka.transcripts_topic is not compacted"),
        "{readyz}"
    );
    assert_eq!(readyz.matches("is not compacted").count(), 1, "{readyz}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_topic_altered_while_the_service_runs_is_found_at_the_next_look() {
    let _turn = TURN.lock().await;
    let services = Services::start(1).await;
    let topic = "dead-letters-altered";
    let day = (24 * 3600 * 1000u64).to_string();
    let within = [("retention.ms", day.as_str()), ("segment.ms", day.as_str())];
    services.create_topic_with(topic, 1, &within).await;
    let dir = tempfile::tempdir().expect("a directory");
    let (config, port) = services.config(dir.path(), "altered", "");
    let service = common::start_with_env(
        &services,
        &config,
        port,
        &dir.path().join("serve.log"),
        &[
            ("CALLSCORE__KAFKA__DEAD_LETTER_TOPIC", topic),
            ("CALLSCORE__SERVICE__TOPIC_CHECK_INTERVAL_S", "1"),
        ],
    );
    service.wait_ready(READY);
    let too_long = |s: &service::Service| {
        s.metric("callscore_topic_problems", &["problem=\"keeps_too_long\""])
    };
    let breach = "kafka.dead_letter_topic never deletes its messages";
    let listed = |s: &service::Service| s.readyz().is_some_and(|(_, body)| body.contains(breach));
    assert_eq!(too_long(&service), 0.0, "{}", service.metrics());
    assert!(!listed(&service));

    // an operator makes the dead-letter topic keep its messages for ever (the test broker
    // alters a topic's configuration only incrementally, which the client lacks: the topic
    // is made again): the next look finds it; the running service reports it and runs on
    services.delete_topic(topic).await;
    services
        .create_topic_with(topic, 1, &[("retention.ms", "-1")])
        .await;
    assert!(
        callscore_testkit::wait_for(DONE, || too_long(&service) == 1.0 && listed(&service)),
        "the breach is found while the service runs; log:\n{}",
        service.log_text()
    );
    let (status, _) = service.readyz().expect("/readyz answers");
    assert_eq!(status, 200, "a breach found while running is a limitation");

    // put right: a later look clears it
    services.delete_topic(topic).await;
    services.create_topic_with(topic, 1, &within).await;
    assert!(
        callscore_testkit::wait_for(DONE, || too_long(&service) == 0.0 && !listed(&service)),
        "the breach is cleared at a later look; log:\n{}",
        service.log_text()
    );
    let log = service.log_text();
    assert_eq!(
        log.matches(breach).count(),
        1,
        "logged when found, not at every look:\n{log}"
    );
    assert_eq!(
        log.matches("every topic that carries callers' data keeps it no longer than")
            .count(),
        2,
        "at start-up, and when the breach ended:\n{log}"
    );
}

#[test]
fn a_wrong_configuration_is_refused_at_start_up_with_every_problem_named() {
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        r#"
[kafka]
recordings_topic = "recordings"
scores_topic = "recordings"
dead_letter_topic = "dlq"
[kafka.common]
"bootstrap.servers" = "127.0.0.1:9"
[s3]
bucket = "audio"
[surveys]
files = []
[pseudonym]
key_id = "k1"
"#,
    )
    .expect("written");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_callscore"))
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for problem in ["the topics must differ", "group.id", "surveys.files"] {
        assert!(stderr.contains(problem), "{problem} missing from: {stderr}");
    }
}

#[test]
fn a_survey_with_comments_needs_the_topic_transcripts_come_back_on() {
    // an erasure tombstones a comment's transcript where the transcriber wrote it: without
    // the topic named, erased callers' transcripts would stay
    let dir = tempfile::tempdir().expect("a directory");
    let survey = service::root().join("fixtures/surveys/nps-comment.toml");
    let check = |transcripts: &str| {
        let path = dir.path().join("callscore.toml");
        std::fs::write(
            &path,
            format!(
                r#"[kafka]
recordings_topic = "recordings"
scores_topic = "scores"
dead_letter_topic = "dlq"
contact_topic = "contact"
transcription_topic = "transcription-requests"
{transcripts}
[kafka.common]
"bootstrap.servers" = "127.0.0.1:9"
[kafka.consumer]
"group.id" = "callscore-test"
[s3]
bucket = "audio"
[surveys]
files = [{survey:?}]
[pseudonym]
key_id = "k1"
"#,
                survey = survey.to_str().expect("UTF-8"),
            ),
        )
        .expect("written");
        std::process::Command::new(env!("CARGO_BIN_EXE_callscore"))
            .args(["serve", "--check", "--config"])
            .arg(&path)
            .env("CALLSCORE_PSEUDONYM_KEY", "ab".repeat(32))
            .output()
            .expect("runs")
    };
    let named = check(r#"transcripts_topic = "transcripts""#);
    assert_eq!(
        named.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&named.stderr)
    );
    let missing = check("");
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("kafka.transcripts_topic"), "{stderr}");
}

#[test]
fn the_local_example_configuration_checks_with_its_key_from_the_environment() {
    let config = service::root().join("deploy/config/local.toml");
    let run = |key: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_callscore"));
        command
            .args(["serve", "--check", "--config"])
            .arg(&config)
            .env_remove("CALLSCORE_PSEUDONYM_KEY");
        if let Some(key) = key {
            command.env("CALLSCORE_PSEUDONYM_KEY", key);
        }
        command.output().expect("runs")
    };
    let out = run(Some(&"ab".repeat(32)));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CALLSCORE_PSEUDONYM_KEY"));
}

/// Every way a number can come in a message, and every output of the service: the scores,
/// dead-letter and audit topics (keys, headers, values), the store (keys and objects), the log
/// and `/metrics`. No number, as text or digits, anywhere.
#[tokio::test(flavor = "multi_thread")]
async fn no_phone_number_reaches_any_output_of_the_service() {
    let _turn = TURN.lock().await;
    let services = Services::start(1).await;
    let dir = tempfile::tempdir().expect("a directory");
    let (config, port) = services.config(dir.path(), "numbers", "");
    let service = start(&services, &config, port, &dir.path().join("serve.log"));
    service.wait_ready(READY);
    let base = recordings(1).remove(0);
    let producer = services.producer();
    let mut numbers = vec![
        base.metadata["caller_number"]
            .as_str()
            .expect("a number")
            .to_string(),
    ];
    let send =
        |id: &str, key: &str, metadata: serde_json::Value, value: &[u8], content_type: &str| {
            let mut recording = base.clone();
            recording.metadata = metadata;
            recording.metadata["recording_id"] = id.into();
            let headers = recording.headers(content_type);
            (key.to_string(), value.to_vec(), headers)
        };
    let mut messages = Vec::new();
    let with = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut m = base.metadata.clone();
        edit(&mut m);
        m
    };
    // a valid call with the number as bare digits, and one formatted, keyed by the number
    messages.push(send(
        "n-bare",
        "31205550301",
        with(&|m| m["caller_number"] = "31205550301".into()),
        &base.audio,
        "audio/wav",
    ));
    messages.push(send(
        "n-formatted",
        "+31 20 555 0302",
        with(&|m| m["caller_number"] = "+31 20 555 0302".into()),
        &base.audio,
        "audio/wav",
    ));
    // undecodable audio: a dead letter that keeps the caller as a pseudonym
    messages.push(send(
        "n-undecodable",
        "call",
        with(&|m| m["caller_number"] = "+31205550303".into()),
        b"RIFF\x10\x00\x00\x00WAVEjunk",
        "audio/wav",
    ));
    // the number as a JSON number: invalid metadata
    messages.push(send(
        "n-json",
        "call",
        with(&|m| m["caller_number"] = serde_json::json!(31205550304_u64)),
        &base.audio,
        "audio/wav",
    ));
    // a staging reference named after the caller, to nothing
    let reference = serde_json::json!({"uri": "s3://staging/+31205550305.wav"}).to_string();
    messages.push(send(
        "n-staged",
        "call",
        base.metadata.clone(),
        reference.as_bytes(),
        "application/vnd.callscore.audio-ref.v1+json",
    ));
    // a spoken comment from a number: its clip, its transcription request
    let commented = recordings(1)
        .into_iter()
        .find(|r| r.answers.get("why").is_some_and(|(s, _)| s == "answered"))
        .expect("a fixture with a spoken comment");
    let mut comment_metadata = commented.metadata.clone();
    comment_metadata["caller_number"] = "+31205550307".into();
    comment_metadata["recording_id"] = "n-comment".into();
    messages.push((
        "call".to_string(),
        commented.audio.clone(),
        Recording {
            metadata: comment_metadata,
            ..commented.clone()
        }
        .headers("audio/wav"),
    ));
    numbers.extend(
        [
            "31205550301",
            "+31 20 555 0302",
            "+31205550303",
            "31205550304",
            "+31205550305",
            "+31205550307",
        ]
        .map(str::to_string),
    );
    for (key, value, headers) in &messages {
        services.send(&producer, key, value, headers.clone()).await;
    }
    // metadata that cannot be read, holding a number
    let broken = "{\"schema_version\": 1, \"caller_number\": \"+31205550306\", ";
    numbers.push("+31205550306".to_string());
    services
        .send(
            &producer,
            "0612345678",
            b"RIFF",
            OwnedHeaders::new().insert(Header {
                key: "callscore_metadata",
                value: Some(broken),
            }),
        )
        .await;
    numbers.push("0612345678".to_string());
    service.wait_metric(
        "callscore_recordings_processed_total",
        &[],
        (messages.len() + 1) as f64,
        DONE,
    );

    let mut outputs = String::new();
    // every topic but the contact requests, the one meant to carry the numbers of callers who
    // agreed to be contacted (none of these did)
    assert!(
        services
            .read(service::CONTACTS, usize::MAX, Duration::from_secs(3))
            .is_empty()
    );
    assert_eq!(
        services
            .read(TRANSCRIPTIONS, usize::MAX, Duration::from_secs(3))
            .len(),
        1,
        "the spoken comment's transcription request"
    );
    for topic in [SCORES, DEAD_LETTERS, service::AUDIT, TRANSCRIPTIONS] {
        for message in services.read(topic, usize::MAX, Duration::from_secs(3)) {
            outputs.push_str(message.key.as_deref().unwrap_or_default());
            for (k, v) in &message.headers {
                outputs.push_str(k);
                outputs.push_str(v);
            }
            outputs.push_str(&String::from_utf8_lossy(&message.payload));
        }
    }
    let s3 = services.s3();
    for key in services.keys("audio").await {
        outputs.push_str(&key);
        let object = s3
            .get_object()
            .bucket("audio")
            .key(&key)
            .send()
            .await
            .expect("an object");
        let bytes = object.body.collect().await.expect("a body").to_vec();
        outputs.push_str(&String::from_utf8_lossy(&bytes));
    }
    outputs.push_str(&service.metrics());
    outputs.push_str(&service.log_text());
    assert_eq!(
        service.metric("callscore_dead_letters_total", &[]),
        4.0,
        "the undecodable, the JSON number, the staged and the broken message"
    );
    for number in &numbers {
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        assert!(
            !outputs.contains(number.as_str()),
            "{number} found in an output"
        );
        assert!(
            !outputs.contains(&digits),
            "the digits of {number} found in an output"
        );
    }
}
