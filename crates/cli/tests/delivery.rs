//! The delivery guarantee of `callscore serve` under the faults a careful read found, and
//! scale-out, against a real broker (nisshi) and store (Garage), and, for the one fault no
//! real broker can be made to cause (a broken idempotence sequence), librdkafka's mock
//! cluster as the producer's broker.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use callscore_testkit::service::{
    self, DEAD_LETTERS, SCORES, Service, Services, answers_of, event_count, expected_answers,
    recordings,
};
use tokio::sync::Mutex;

mod common;

use common::start;

static TURN: Mutex<()> = Mutex::const_new(());

const READY: Duration = Duration::from_secs(60);
const DONE: Duration = Duration::from_secs(180);

/// Reads the scores topic until it holds every fact of `recordings` (or the time is up).
fn all_events(services: &Services, recordings: &[service::Recording]) -> Vec<service::Read> {
    let deadline = Instant::now() + DONE;
    loop {
        let events = services.read(SCORES, usize::MAX, Duration::from_secs(3));
        let ids: BTreeSet<String> = events
            .iter()
            .map(|e| e.json()["event_id"].as_str().expect("an id").to_string())
            .collect();
        if ids.len() >= event_count(recordings) || Instant::now() > deadline {
            return events;
        }
    }
}

/// Waits until the group's committed offsets add up to `total`.
fn until_committed(services: &Services, group: &str, partitions: i32, total: i64) {
    let deadline = Instant::now() + DONE;
    loop {
        let committed: Vec<i64> = services.committed(group, partitions);
        if committed.iter().map(|&c| c.max(0)).sum::<i64>() == total {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "committed {committed:?}, expected {total} in all"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn store_access_denied_mid_stream_pauses_and_alerts_and_loses_nothing() {
    let _turn = TURN.lock().await;
    let services = Services::start(2).await;
    let dir = tempfile::tempdir().expect("a directory");
    let (config, port) = services.config(dir.path(), "denied", "");
    let service = start(&services, &config, port, &dir.path().join("serve.log"));
    service.wait_ready(READY);
    let recordings = recordings(4);
    let (before, after) = recordings.split_at(recordings.len() / 2);
    services.produce(before).await;
    service.wait_metric(
        "callscore_recordings_processed_total",
        &[],
        before.len() as f64,
        DONE,
    );

    // the key loses its permission on the bucket, as a revoked policy would
    services.garage.deny("audio");
    services.produce(after).await;
    service.wait_metric("callscore_blocked", &[], 1.0, DONE);
    let (status, body) = service.readyz().expect("readyz answers");
    assert_eq!(status, 503, "{body}");
    let readiness: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert!(
        readiness["failing"]
            .as_array()
            .expect("a list")
            .iter()
            .any(|c| c == "delivery"),
        "{body}"
    );
    assert!(
        !body.contains("AccessDenied"),
        "no internal error text: {body}"
    );
    assert!(
        service.metric("callscore_errors_total", &["retry=\"blocked\""]) > 0.0,
        "counted as blocked"
    );
    // a while of refusals: nothing is given up on
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(service.metric("callscore_dead_letters_total", &[]), 0.0);
    assert!(
        service
            .log_text()
            .contains("delivery blocked: the deployment refuses access"),
        "the log says why"
    );

    services.garage.allow("audio");
    let events = all_events(&services, &recordings);
    assert_eq!(
        answers_of(&events),
        expected_answers(&recordings),
        "nothing lost"
    );
    service.wait_metric(
        "callscore_recordings_processed_total",
        &[],
        recordings.len() as f64,
        DONE,
    );
    assert_eq!(service.metric("callscore_blocked", &[]), 0.0);
    assert_eq!(service.metric("callscore_dead_letters_total", &[]), 0.0);
    assert!(
        services
            .read(DEAD_LETTERS, 1, Duration::from_secs(3))
            .is_empty(),
        "no dead letter"
    );
    assert_eq!(services.objects().await.len(), recordings.len());
    let (status, _) = service.readyz().expect("readyz answers");
    assert_eq!(status, 200, "ready again");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fatal_producer_error_makes_the_service_unready_and_exit_non_zero() {
    use rdkafka::mocking::MockCluster;
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    let _turn = TURN.lock().await;
    let services = Services::start(1).await;
    // the consumer reads the real broker; the producer writes to a mock cluster, the only
    // broker that can be told to break a producer's idempotence sequence
    let cluster = MockCluster::new(1).expect("a mock cluster");
    cluster.create_topic(SCORES, 3, 1).expect("a topic");
    cluster.create_topic(DEAD_LETTERS, 1, 1).expect("a topic");
    let dir = tempfile::tempdir().expect("a directory");
    let extra = format!(
        "[kafka.producer]\n\"bootstrap.servers\" = \"{}\"\n",
        cluster.bootstrap_servers()
    );
    let (config, port) = services.config(dir.path(), "fatal", &extra);
    let mut service = start(&services, &config, port, &dir.path().join("serve.log"));
    service.wait_ready(READY);
    let recordings = recordings(1);
    services.produce(&recordings[..1]).await;
    service.wait_metric("callscore_recordings_processed_total", &[], 1.0, DONE);

    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER; 64],
    );
    services.produce(&recordings[1..]).await;
    // readyz is polled while it stops; the window between the failure and the exit can be
    // shorter than a poll, so the service's own record of the change is what is asserted
    let deadline = Instant::now() + DONE;
    let mut answers = Vec::new();
    while !service.exited() && Instant::now() < deadline {
        answers.extend(service.readyz());
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = service.wait_exit(Duration::from_secs(60));
    assert!(
        !status.success(),
        "exited with {status}: the orchestrator restarts it"
    );
    let log = service.log_text();
    assert!(log.contains("fatal"), "{log}");
    let failed = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .any(|line| {
            let fields = &line["fields"];
            fields["message"] == "readiness check changed"
                && fields["check"] == "producer"
                && fields["passes"] == false
                && fields["status"] == "Failed"
        });
    assert!(failed, "the producer check turned failed:\n{log}");
    // whatever readyz answered after the failure was not ready, and never a healthy producer
    let after_failure = answers
        .iter()
        .skip_while(|(_, body)| !body.contains("\"status\":\"failed\""));
    for (code, body) in after_failure {
        assert_eq!(*code, 503, "{body}");
        assert!(
            body.contains("\"producer\":{\"ok\":false,\"status\":\"failed\"}"),
            "{body}"
        );
    }
    // the recording whose events never made it stays uncommitted: a restart does it again
    assert_eq!(services.committed("fatal", 1), vec![1]);
}

/// Several instances in one group, added, killed (SIGKILL) and stopped (SIGTERM) while
/// recordings flow: every fact arrives, duplicates are the same fact under the same id,
/// exactly one object per recording, every offset committed, and each instance reports the
/// lag of its own partitions only.
async fn scale_out(strategy: &str) {
    let _turn = TURN.lock().await;
    let services = Services::start(6).await;
    let dir = tempfile::tempdir().expect("a directory");
    let group = format!("scale-{strategy}");
    let (config, _) = services.config(dir.path(), &group, "");
    // every instance gets a port of its own, overriding the configuration's
    let launch = |name: &str| {
        let port = callscore_testkit::free_port();
        let listen = format!("127.0.0.1:{port}");
        Service::start_with_env(
            Path::new(env!("CARGO_BIN_EXE_callscore")),
            &services,
            &config,
            port,
            &dir.path().join(format!("{name}.log")),
            &[
                (
                    "CALLSCORE__KAFKA__CONSUMER__PARTITION_ASSIGNMENT_STRATEGY",
                    strategy,
                ),
                ("CALLSCORE__SERVICE__LISTEN", &listen),
            ],
        )
    };
    let recordings = recordings(10);
    let (first_half, second_half) = recordings.split_at(recordings.len() / 2);
    let mut a = launch("a");
    let mut b = launch("b");
    a.wait_ready(READY);
    b.wait_ready(READY);
    services.produce(first_half).await;
    let processed = |s: &Service| s.metric("callscore_recordings_processed_total", &[]);
    let deadline = Instant::now() + DONE;
    while processed(&a) + processed(&b) < 10.0 {
        assert!(Instant::now() < deadline, "no progress with two instances");
        std::thread::sleep(Duration::from_millis(100));
    }
    let c = launch("c");
    c.wait_ready(READY);
    let deadline = Instant::now() + DONE;
    while processed(&a) + processed(&b) + processed(&c) < 25.0 {
        assert!(
            Instant::now() < deadline,
            "no progress with three instances"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    a.kill();
    services.produce(second_half).await;
    std::thread::sleep(Duration::from_secs(2));
    let status = b.terminate(Duration::from_secs(60));
    assert_eq!(status.code(), Some(0), "log:\n{}", b.log_text());
    let d = launch("d");
    d.wait_ready(READY);

    let events = all_events(&services, &recordings);
    assert_eq!(
        answers_of(&events),
        expected_answers(&recordings),
        "every fact, each id with one body"
    );
    let objects = services.objects().await;
    assert_eq!(objects.len(), recordings.len(), "one object per recording");
    until_committed(&services, &group, 6, recordings.len() as i64);
    // the survivors own the six partitions between them, and report only their own
    std::thread::sleep(Duration::from_secs(7));
    let (on_c, on_d) = (c.lag_partitions(), d.lag_partitions());
    let mut all: Vec<i32> = on_c.iter().chain(&on_d).copied().collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..6).collect::<Vec<_>>(),
        "lag gauges: c {on_c:?}, d {on_d:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn instances_added_and_killed_share_the_partitions_eager() {
    scale_out("range,roundrobin").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn instances_added_and_killed_share_the_partitions_cooperative_sticky() {
    scale_out("cooperative-sticky").await;
}
