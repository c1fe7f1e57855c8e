//! The retention promises kept in the service's mode: recordings of two tenants and every
//! class processed by `callscore serve` into Garage with rotating keys, then swept, a hold
//! released and keys destroyed by the commands against the same store and broker; the store
//! is listed and the topics read from the beginning to see that exactly the right data is
//! gone and the audit trail says so. On moto, with versioning, no version survives a sweep,
//! and lifecycle rules are installed as sent or not at all. `serve`'s own schedule sweeps from
//! one elected instance.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use callscore_testkit::service::{
    self, AUDIT, Recording, SCORES, Service, Services, Setup, event_count, recordings,
};
use callscore_testkit::{Moto, wait_for};
use serde_json::Value;
use tokio::sync::Mutex;

static TURN: Mutex<()> = Mutex::const_new(());

const READY: Duration = Duration::from_secs(60);
const DONE: Duration = Duration::from_secs(120);

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_callscore"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The fixture calls as `acme` and as `globex`.
fn two_tenants() -> Vec<Recording> {
    let mut all = recordings(1);
    let globex: Vec<Recording> = all
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.metadata["tenant"] = "globex".into();
            r
        })
        .collect();
    all.extend(globex);
    all
}

/// `tenant/recording` -> class, from the keys of the audio objects in `bucket`.
async fn classes(services: &Services, bucket: &str) -> BTreeMap<String, String> {
    services
        .keys(bucket)
        .await
        .iter()
        .filter(|k| k.ends_with("/audio.wav") && !k.starts_with('_'))
        .map(|k| {
            let parts: Vec<&str> = k.split('/').collect();
            (format!("{}/{}", parts[0], parts[3]), parts[1].to_string())
        })
        .collect()
}

fn run(services: &Services, args: &[&str]) -> Output {
    services
        .command(binary(), None)
        .args(args)
        .output()
        .expect("callscore runs")
}

const RETENTION: &str = "[retention.tenants.acme]\nrespondent = \"6 months\"\n\
    non_respondent = \"30 days\"\nconsented_contact = \"1 year\"\n";

#[tokio::test(flavor = "multi_thread")]
async fn on_garage_and_kafka_retention_is_enforced_and_every_deletion_audited() {
    let _turn = TURN.lock().await;
    let services = Services::start(2).await;
    let dir = tempfile::tempdir().expect("a directory");
    let keyring = dir.path().join("keyring");
    let (config, port) = services.config_with(
        dir.path(),
        &Setup {
            group: "privacy",
            keyring: Some(&keyring),
            retention: RETENTION,
            ..Setup::default()
        },
    );
    let config = config.to_str().expect("UTF-8").to_string();
    let rotated = run(
        &services,
        &[
            "keys",
            "rotate",
            "--config",
            &config,
            "--tenant",
            "acme",
            "--tenant",
            "globex",
            "--today",
            "2026-11-01",
        ],
    );
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));

    let recordings = two_tenants();
    let mut serve = Service::start(
        binary(),
        &services,
        Path::new(&config),
        port,
        &dir.path().join("serve.log"),
    );
    serve.wait_ready(READY);
    services.produce(&recordings).await;
    serve.wait_metric(
        "callscore_recordings_processed_total",
        &[],
        recordings.len() as f64,
        DONE,
    );
    assert_eq!(serve.terminate(Duration::from_secs(60)).code(), Some(0));
    let before = classes(&services, "audio").await;
    assert_eq!(before.len(), recordings.len(), "{before:?}");

    // an unknown tenant is refused before anything is touched
    let refused = run(
        &services,
        &[
            "retention",
            "sweep",
            "--config",
            &config,
            "--tenant",
            "nobody",
        ],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));

    let dry = run(
        &services,
        &[
            "retention",
            "sweep",
            "--config",
            &config,
            "--today",
            "2026-12-03",
            "--dry-run",
            "--json",
        ],
    );
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let report: Value = serde_json::from_slice(&dry.stdout).expect("JSON");
    assert_eq!(
        report["sweep"]["tenants"]["acme"]["non_respondent"]["recordings"],
        1
    );
    assert_eq!(
        classes(&services, "audio").await,
        before,
        "a dry run deletes nothing"
    );

    let swept = run(
        &services,
        &[
            "retention",
            "sweep",
            "--config",
            &config,
            "--today",
            "2026-12-03",
        ],
    );
    assert!(swept.status.success(), "{}", text(&swept.stderr));
    let after = classes(&services, "audio").await;
    let gone: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    assert_eq!(
        gone,
        vec!["acme/rec-0003-0"],
        "exactly acme's non-respondent"
    );

    let released = run(
        &services,
        &[
            "hold",
            "release",
            "--config",
            &config,
            "--tenant",
            "acme",
            "--recording",
            "rec-0007-0",
            "--today",
            "2026-12-03",
        ],
    );
    assert!(released.status.success(), "{}", text(&released.stderr));
    assert_eq!(
        classes(&services, "audio").await["acme/rec-0007-0"],
        "respondent"
    );

    let rotated = run(
        &services,
        &[
            "keys",
            "rotate",
            "--config",
            &config,
            "--tenant",
            "acme",
            "--tenant",
            "globex",
            "--today",
            "2026-12-01",
        ],
    );
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    let swept = run(
        &services,
        &[
            "retention",
            "sweep",
            "--config",
            &config,
            "--today",
            "2028-12-01",
            "--json",
        ],
    );
    assert!(swept.status.success(), "{}", text(&swept.stderr));
    let report: Value = serde_json::from_slice(&swept.stdout).expect("JSON");
    assert_eq!(
        report["keys"]["destroyed"],
        serde_json::json!(["acme/k20261101", "globex/k20261101"])
    );

    // by listing the store: only globex's hold is left, markers and records included
    let left = classes(&services, "audio").await;
    assert_eq!(
        left.keys().collect::<Vec<_>>(),
        vec!["globex/rec-0007-0"],
        "{left:?}"
    );
    let keys = services.keys("audio").await;
    assert!(
        keys.iter().all(|k| k.contains("rec-0007-0")),
        "nothing else, markers and records included: {keys:?}"
    );

    // by reading the topics from the beginning
    let audit: Vec<Value> = services
        .read(AUDIT, usize::MAX, Duration::from_secs(5))
        .iter()
        .map(service::Read::json)
        .collect();
    let real = |action: &str| {
        audit
            .iter()
            .filter(|r| r["action"] == action && r["dry_run"] == false)
            .count()
    };
    assert_eq!(real("hold_release"), 1);
    assert_eq!(real("key_destroyed"), 2);
    assert_eq!(real("key_created"), 4);
    let deleted: u64 = audit
        .iter()
        .filter(|r| r["action"] == "retention_sweep" && r["dry_run"] == false)
        .map(|r| r["recordings"].as_u64().expect("a count"))
        .sum();
    assert_eq!(
        deleted,
        recordings.len() as u64 - 1,
        "every recording but the hold, audited"
    );
    assert!(
        audit.iter().any(|r| r["dry_run"] == true),
        "the dry run is on the record too"
    );
    // the released hold's facts were published again under the same ids: the compacted
    // topic says where the audio went and how long it is kept
    let events = services.read(SCORES, usize::MAX, Duration::from_secs(5));
    let kept = service::compacted(&events);
    assert_eq!(kept.len(), event_count(&recordings), "every fact, once");
    let released: Vec<Value> = kept
        .iter()
        .map(service::Read::json)
        .filter(|e| e["recording_id"] == "rec-0007-0" && e["tenant"] == "acme")
        .collect();
    assert!(!released.is_empty());
    assert!(
        released
            .iter()
            .all(|e| e["retention"]["class"] == "respondent")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_versioned_moto_bucket_no_version_survives_the_sweep_and_rules_are_installed_as_sent()
{
    let _turn = TURN.lock().await;
    let services = Services::start(1).await;
    let moto = Moto::start("audio");
    let client = moto.endpoint().client();
    moto.endpoint().enable_versioning().await;
    let dir = tempfile::tempdir().expect("a directory");
    let (config, port) = services.config_with(
        dir.path(),
        &Setup {
            group: "versioned",
            retention: RETENTION,
            s3: Some(moto.endpoint()),
            ..Setup::default()
        },
    );
    let env = [
        ("AWS_ACCESS_KEY_ID", moto.endpoint().access_key.as_str()),
        ("AWS_SECRET_ACCESS_KEY", moto.endpoint().secret_key.as_str()),
    ];
    let recordings = recordings(1);
    let mut serve = Service::start_with_env(
        binary(),
        &services,
        &config,
        port,
        &dir.path().join("serve.log"),
        &env,
    );
    serve.wait_ready(READY);
    // twice: the records are written again, so the bucket holds several versions
    services.produce(&recordings).await;
    services.produce(&recordings).await;
    serve.wait_metric(
        "callscore_recordings_processed_total",
        &[],
        2.0 * recordings.len() as f64,
        DONE,
    );
    assert_eq!(serve.terminate(Duration::from_secs(60)).code(), Some(0));
    let versions = |prefix: &'static str| {
        let client = client.clone();
        async move {
            let listed = client
                .list_object_versions()
                .bucket("audio")
                .prefix(prefix)
                .send()
                .await
                .expect("versions");
            listed.versions().len() + listed.delete_markers().len()
        }
    };
    assert!(
        versions("acme/non_respondent/").await >= 3,
        "audio and two records"
    );

    let config = config.to_str().expect("UTF-8").to_string();
    let swept = services
        .command(binary(), Some(moto.endpoint()))
        .args([
            "retention",
            "sweep",
            "--config",
            &config,
            "--today",
            "2026-12-03",
            "--json",
        ])
        .output()
        .expect("runs");
    assert!(swept.status.success(), "{}", text(&swept.stderr));
    let report: Value = serde_json::from_slice(&swept.stdout).expect("JSON");
    let swept = &report["sweep"]["tenants"]["acme"]["non_respondent"];
    assert_eq!(swept["recordings"], 1);
    assert!(swept["versions"].as_u64().expect("a count") >= 3, "{swept}");
    assert_eq!(
        versions("acme/non_respondent/").await,
        0,
        "no version, no delete marker"
    );
    assert!(versions("acme/respondent/").await > 0, "the rest is there");

    // lifecycle rules: installed per tenant and class by prefix, read back as sent
    let installed = services
        .command(binary(), Some(moto.endpoint()))
        .args(["retention", "install", "--config", &config, "--json"])
        .output()
        .expect("runs");
    assert!(installed.status.success(), "{}", text(&installed.stderr));
    let report: Value = serde_json::from_slice(&installed.stdout).expect("JSON");
    assert_eq!(report["installed"], true, "{report}");
    let rules = client
        .get_bucket_lifecycle_configuration()
        .bucket("audio")
        .send()
        .await
        .expect("rules");
    let by_id: BTreeMap<&str, &aws_sdk_s3::types::LifecycleRule> = rules
        .rules()
        .iter()
        .filter_map(|r| r.id().map(|id| (id, r)))
        .collect();
    let acme = by_id["callscore-acme-non_respondent"];
    assert_eq!(
        acme.filter().and_then(|f| f.prefix()),
        Some("acme/non_respondent/")
    );
    assert_eq!(
        acme.expiration().and_then(|e| e.days()),
        Some(31),
        "30 days and the day itself"
    );
    assert!(
        acme.filter().is_some_and(|f| f.tag().is_none()),
        "never a tag filter"
    );
    assert!(
        acme.noncurrent_version_expiration().is_some(),
        "old versions go too"
    );
    assert!(
        !by_id.keys().any(|id| id.contains("legal_hold")),
        "holds never expire"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn on_garage_lifecycle_rules_are_installed_by_prefix_only() {
    let _turn = TURN.lock().await;
    let services = Services::start(1).await;
    let dir = tempfile::tempdir().expect("a directory");
    let (config, _) = services.config_with(
        dir.path(),
        &Setup {
            group: "rules",
            retention: RETENTION,
            ..Setup::default()
        },
    );
    let config = config.to_str().expect("UTF-8").to_string();
    let dry = run(
        &services,
        &[
            "retention",
            "install",
            "--config",
            &config,
            "--dry-run",
            "--json",
        ],
    );
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let report: Value = serde_json::from_slice(&dry.stdout).expect("JSON");
    assert_eq!(report["installed"], false);
    assert_eq!(
        report["rules"].as_array().expect("rules").len(),
        3,
        "acme's three classes"
    );
    let installed = run(&services, &["retention", "install", "--config", &config]);
    assert!(
        installed.status.success(),
        "{}{}",
        text(&installed.stdout),
        text(&installed.stderr)
    );
    // both runs leave their evidence: the dry run marked as one
    let audit: Vec<Value> = services
        .read(AUDIT, usize::MAX, Duration::from_secs(5))
        .iter()
        .map(service::Read::json)
        .filter(|r| r["action"] == "lifecycle_installed")
        .collect();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(
        audit.iter().filter(|r| r["dry_run"] == true).count(),
        1,
        "{audit:?}"
    );
    let rules = services
        .s3()
        .get_bucket_lifecycle_configuration()
        .bucket("audio")
        .send()
        .await
        .expect("rules");
    let prefixes: BTreeSet<&str> = rules
        .rules()
        .iter()
        .filter_map(|r| r.filter().and_then(|f| f.prefix()))
        .collect();
    assert_eq!(
        prefixes,
        BTreeSet::from([
            "acme/consented_contact/",
            "acme/non_respondent/",
            "acme/respondent/"
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_sweeps_on_schedule_from_one_elected_instance() {
    let _turn = TURN.lock().await;
    let services = Services::start(2).await;
    let dir = tempfile::tempdir().expect("a directory");
    let (config, _) = services.config_with(
        dir.path(),
        &Setup {
            group: "scheduled",
            extra: "[sweeper]\nenabled = true\ninterval_s = 2\n",
            ..Setup::default()
        },
    );
    // calls of 2020: expired long ago (a backfill), so the first sweep deletes them
    let mut old = recordings(1);
    for r in &mut old {
        r.metadata["call_started_at"] = "2020-01-01T09:00:00Z".into();
        r.metadata["consent"]["legal_hold"] = false.into();
    }
    let launch = |name: &str| {
        let port = callscore_testkit::free_port();
        let listen = format!("127.0.0.1:{port}");
        Service::start_with_env(
            binary(),
            &services,
            &config,
            port,
            &dir.path().join(format!("{name}.log")),
            &[("CALLSCORE__SERVICE__LISTEN", &listen)],
        )
    };
    let leads = |s: &Service| s.metric("callscore_sweeper_leader", &[]) == 1.0;
    let assignments = |s: &Service| s.metric("callscore_sweeper_election_assignments_total", &[]);
    let deleted = |s: &Service| s.metric("callscore_retention_deleted_objects_total", &[]);
    let last_success = |s: &Service| {
        s.metric(
            "callscore_retention_sweep_last_success_timestamp_seconds",
            &[],
        )
    };
    // the first instance alone leads; the second's join leaves the lead where it is (a scale-out
    // does not move the sweeps), and once the election settles one instance sweeps
    let mut instances = vec![launch("a")];
    instances[0].wait_ready(READY);
    assert!(
        wait_for(DONE, || leads(&instances[0])),
        "an instance on its own leads"
    );
    instances.push(launch("b"));
    instances[1].wait_ready(READY);
    assert!(
        wait_for(DONE, || assignments(&instances[1]) >= 1.0
            && instances.iter().filter(|s| leads(s)).count() == 1),
        "the election settles with one leader of two"
    );
    let settled: Vec<f64> = instances.iter().map(&assignments).collect();
    services.produce(&old).await;
    // stored, then swept
    let swept = |instances: &[Service]| instances.iter().map(deleted).sum::<f64>() > 0.0;
    let deadline = Instant::now() + DONE;
    while (!swept(&instances) || !classes(&services, "audio").await.is_empty())
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        swept(&instances) && classes(&services, "audio").await.is_empty(),
        "the backfilled recordings are swept"
    );
    let leader = (0..2)
        .find(|&i| leads(&instances[i]))
        .expect("one instance leads");
    assert_eq!(
        leader, 0,
        "the lead stays where it was when another instance joins"
    );
    let other = 1 - leader;
    assert_eq!(
        instances.iter().map(assignments).collect::<Vec<_>>(),
        settled,
        "no rebalance while the backfill was swept"
    );
    assert!(deleted(&instances[leader]) > 0.0, "the leader swept");
    assert_eq!(deleted(&instances[other]), 0.0, "the other did not sweep");
    // the leader goes: the other takes over
    let before = last_success(&instances[other]);
    instances[leader].kill();
    let survivor = &instances[other];
    assert!(
        wait_for(DONE, || leads(survivor) && last_success(survivor) > before),
        "the survivor leads and sweeps now"
    );
    let audit = services.read(AUDIT, usize::MAX, Duration::from_secs(5));
    assert!(
        audit
            .iter()
            .any(|r| r.json()["command"] == "callscore serve")
    );
    assert!(
        !survivor.log_text().contains(MANY_PARTITIONS),
        "no warning on an audit topic of one partition"
    );
}

/// What the election logs when the audit topic has more than one partition.
const MANY_PARTITIONS: &str = "the audit topic has more than one partition";

#[tokio::test(flavor = "multi_thread")]
async fn serve_warns_when_the_sweepers_election_runs_on_an_audit_topic_of_several_partitions() {
    let _turn = TURN.lock().await;
    let services = Services::start(1).await;
    // with three partitions, a joining instance is given partition 0 and the lead with it
    let wide = "callscore-audit-wide";
    services.create_topic(wide, 3).await;
    let dir = tempfile::tempdir().expect("a directory");
    let (config, port) = services.config_with(
        dir.path(),
        &Setup {
            group: "wide-audit",
            extra: "[sweeper]\nenabled = true\ninterval_s = 3600\n",
            ..Setup::default()
        },
    );
    let service = Service::start_with_env(
        binary(),
        &services,
        &config,
        port,
        &dir.path().join("serve.log"),
        &[("CALLSCORE__KAFKA__AUDIT_TOPIC", wide)],
    );
    service.wait_ready(READY);
    assert!(
        wait_for(DONE, || service.log_text().contains(MANY_PARTITIONS)),
        "the election warns of the audit topic's partitions"
    );
    assert!(
        wait_for(DONE, || service.metric("callscore_sweeper_leader", &[])
            == 1.0),
        "and still leads on its own"
    );
}
