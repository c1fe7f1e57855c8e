//! A caller's rights and a client's, in the service's mode: recordings of three callers of two
//! tenants (one agreeing to be contacted) processed by `callscore serve` across a key
//! rotation; one caller erased by number (written three ways: their calls and requests are
//! one caller under the tenants' numbering plan), another exported, then their consent withdrawn, the
//! second tenant destroyed. The store is listed and every topic read from the beginning to
//! see that exactly the right data is gone or present, and the audit trail says so; the
//! scores topic is compacted (the broker accepts the policy but does not compact), so what
//! compaction keeps is computed from everything it holds. The same requests sent on the
//! privacy-requests topic to `callscore serve-privacy` give the same end state. On moto, with
//! versioning and an Object Lock on one object, every version goes but the locked one, which
//! is reported.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use callscore_testkit::service::{
    self, AUDIT, CONTACTS, PRIVACY_REQUESTS, PRIVACY_RESULTS, Recording, SCORES, Service, Services,
    Setup, recordings,
};
use rdkafka::message::OwnedHeaders;
use serde_json::Value;
use tokio::sync::Mutex;

static TURN: Mutex<()> = Mutex::const_new(());

const READY: Duration = Duration::from_secs(60);
const DONE: Duration = Duration::from_secs(120);
const CALLER_A: &str = "+31205550901";
/// Caller A's number as their second call's IVR wrote it, and as their request by message
/// gives it: one caller under the tenants' numbering plan (`[numbers] country_code = "31"`).
const CALLER_A_NATIONAL: &str = "020 555 0901";
const CALLER_A_FROM_ABROAD: &str = "0031 20 555 0901";
const CALLER_B: &str = "+31205550902";
const CALLER_C: &str = "+31205550903";

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_callscore"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fixture call as recording `id` of `tenant` by `number`.
fn call(base: &Recording, tenant: &str, id: &str, number: &str, contact: bool) -> Recording {
    let mut r = base.clone();
    r.metadata["tenant"] = tenant.into();
    r.metadata["recording_id"] = id.into();
    r.metadata["call_id"] = format!("call-{id}").into();
    r.metadata["caller_number"] = number.into();
    r.metadata["consent"] = serde_json::json!({"contact": contact, "legal_hold": false});
    r
}

/// The state a privacy officer checks: the recordings stored (tenant/recording/class), the
/// facts a compacted scores topic keeps (recording -> classes), the contact requests kept.
#[derive(Debug, PartialEq, Eq)]
struct State {
    stored: BTreeSet<String>,
    facts: BTreeMap<String, BTreeSet<String>>,
    erasures: usize,
    contacts: usize,
}

async fn state(services: &Services, bucket: &str) -> State {
    let stored = services
        .keys(bucket)
        .await
        .iter()
        .filter(|k| k.ends_with("/audio.wav") && !k.starts_with('_'))
        .map(|k| {
            let p: Vec<&str> = k.split('/').collect();
            format!("{}/{}/{}", p[0], p[3], p[1])
        })
        .collect();
    let kept = service::compacted(&services.read(SCORES, usize::MAX, Duration::from_secs(3)));
    let mut facts: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut erasures = 0;
    for event in kept.iter().map(service::Read::json) {
        if event["event_type"] == "erasure" {
            erasures += 1;
            continue;
        }
        facts
            .entry(format!(
                "{}/{}",
                event["tenant"].as_str().unwrap_or_default(),
                event["recording_id"].as_str().unwrap_or_default()
            ))
            .or_default()
            .insert(
                event["retention"]["class"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
    }
    let contacts =
        service::compacted(&services.read(CONTACTS, usize::MAX, Duration::from_secs(3))).len();
    State {
        stored,
        facts,
        erasures,
        contacts,
    }
}

/// Three callers of two tenants through `serve`, across a key rotation: caller A twice (one
/// recording under each key), B agreeing to be contacted, C of globex.
async fn processed(
    services: &Services,
    dir: &Path,
    s3: Option<&callscore_testkit::S3Endpoint>,
) -> String {
    let keyring = dir.join("keyring");
    let (config, port) = services.config_with(
        dir,
        &Setup {
            group: "rights",
            keyring: Some(&keyring),
            s3,
            extra: "[numbers]\ncountry_code = \"31\"\n",
            ..Setup::default()
        },
    );
    let config = config.to_str().expect("UTF-8").to_string();
    let run = |args: &[&str]| {
        let out = services
            .command(binary(), s3)
            .args(args)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    };
    run(&[
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
    ]);
    let base = recordings(1).remove(0);
    let env: Vec<(&str, &str)> = match s3 {
        Some(endpoint) => vec![
            ("AWS_ACCESS_KEY_ID", endpoint.access_key.as_str()),
            ("AWS_SECRET_ACCESS_KEY", endpoint.secret_key.as_str()),
        ],
        None => Vec::new(),
    };
    let mut serve = Service::start_with_env(
        binary(),
        services,
        Path::new(&config),
        port,
        &dir.join("serve.log"),
        &env,
    );
    serve.wait_ready(READY);
    let first = [
        call(&base, "acme", "a1", CALLER_A, false),
        call(&base, "acme", "b1", CALLER_B, true),
        call(&base, "globex", "c1", CALLER_C, false),
    ];
    services.produce(&first).await;
    serve.wait_metric("callscore_recordings_processed_total", &[], 3.0, DONE);
    assert_eq!(serve.terminate(Duration::from_secs(60)).code(), Some(0));
    // a new key from the first of this month: caller A's next call has another pseudonym
    run(&[
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
    ]);
    let mut serve = Service::start_with_env(
        binary(),
        services,
        Path::new(&config),
        port,
        &dir.join("serve2.log"),
        &env,
    );
    serve.wait_ready(READY);
    services
        .produce(&[call(&base, "acme", "a2", CALLER_A_NATIONAL, false)])
        .await;
    serve.wait_metric("callscore_recordings_processed_total", &[], 1.0, DONE);
    assert_eq!(serve.terminate(Duration::from_secs(60)).code(), Some(0));
    config
}

fn expected_before() -> BTreeSet<String> {
    [
        "acme/a1/respondent",
        "acme/a2/respondent",
        "acme/b1/consented_contact",
        "globex/c1/respondent",
    ]
    .map(str::to_string)
    .into()
}

fn expected_after() -> State {
    State {
        stored: ["acme/b1/respondent".to_string()].into(),
        facts: [("acme/b1".to_string(), ["respondent".to_string()].into())].into(),
        erasures: 2,
        contacts: 0,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_callers_rights_and_a_clients_by_command_and_by_message_end_in_the_same_state() {
    let _turn = TURN.lock().await;
    // by command
    let services = Services::start(1).await;
    let dir = tempfile::tempdir().expect("a directory");
    let config = processed(&services, dir.path(), None).await;
    let before = state(&services, "audio").await;
    assert_eq!(before.stored, expected_before());
    assert_eq!(before.contacts, 1, "B agreed to be contacted");
    let pseudonyms: BTreeSet<String> = services
        .read(SCORES, usize::MAX, Duration::from_secs(3))
        .iter()
        .map(service::Read::json)
        .filter(|e| e["recording_id"] == "a1" || e["recording_id"] == "a2")
        .filter_map(|e| e["caller_pseudonym"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        pseudonyms.len(),
        2,
        "A has a pseudonym under each key: {pseudonyms:?}"
    );

    let command = |args: &[&str], stdin: Option<&str>| -> Output {
        use std::io::Write;
        let mut child = services
            .command(binary(), None)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("runs");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("written");
        }
        child.wait_with_output().expect("ends")
    };
    // a bad selector is refused, nothing touched
    let refused = command(
        &[
            "erase",
            "--config",
            &config,
            "--tenant",
            "acme",
            "--pseudonym",
            "not-one",
        ],
        None,
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    let dry = command(
        &[
            "erase",
            "--config",
            &config,
            "--tenant",
            "acme",
            "--caller",
            "-",
            "--dry-run",
            "--json",
        ],
        Some(CALLER_A),
    );
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let report: Value = serde_json::from_slice(&dry.stdout).expect("JSON");
    assert_eq!(report["recordings"], 2);
    assert_eq!(
        state(&services, "audio").await.stored,
        expected_before(),
        "a dry run erases nothing"
    );

    let erased = command(
        &[
            "erase", "--config", &config, "--tenant", "acme", "--caller", "-", "--json",
        ],
        Some(CALLER_A),
    );
    assert!(erased.status.success(), "{}", text(&erased.stderr));
    let bundle = dir.path().join("bundle");
    let exported = command(
        &[
            "export",
            "--config",
            &config,
            "--tenant",
            "acme",
            "--caller",
            "-",
            "--out",
            bundle.to_str().expect("UTF-8"),
        ],
        Some(CALLER_B),
    );
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).expect("a manifest"))
            .expect("JSON");
    assert_eq!(manifest["recordings"][0]["recording_id"], "b1");
    assert!(bundle.join("recordings/b1/audio.wav").exists());
    assert!(bundle.join("README.txt").exists());
    let withdrawn = command(
        &[
            "consent", "withdraw", "--config", &config, "--tenant", "acme", "--caller", "-",
        ],
        Some(CALLER_B),
    );
    assert!(withdrawn.status.success(), "{}", text(&withdrawn.stderr));
    let destroyed = command(
        &[
            "erase",
            "--config",
            &config,
            "--tenant",
            "globex",
            "--whole-tenant",
            "--request-id",
            "client-7",
        ],
        None,
    );
    assert!(destroyed.status.success(), "{}", text(&destroyed.stderr));
    let by_command = state(&services, "audio").await;
    assert_eq!(by_command, expected_after());
    // the markers and records went with the audio: the store holds b1 and the finished
    // erasures' journals (kept a month, so that the same erasure asked again is answered as
    // it was), nothing else
    let keys = services.keys("audio").await;
    assert!(
        keys.iter().all(|k| k.contains("/b1")
            || k.starts_with("_index/") && k.contains("b1")
            || k.starts_with("_erasures/")),
        "{keys:?}"
    );
    assert_eq!(
        keys.iter().filter(|k| k.starts_with("_erasures/")).count(),
        2,
        "caller A's and globex's: {keys:?}"
    );
    let audit: Vec<Value> = services
        .read(AUDIT, usize::MAX, Duration::from_secs(3))
        .iter()
        .map(service::Read::json)
        .collect();
    let actions: Vec<&str> = audit
        .iter()
        .filter(|r| r["dry_run"] == false)
        .filter_map(|r| r["action"].as_str())
        .filter(|a| !a.starts_with("key_"))
        .collect();
    assert_eq!(
        actions,
        vec!["erasure", "export", "consent_withdrawn", "erasure"]
    );
    let everything: String = audit.iter().map(Value::to_string).collect();
    for number in [CALLER_A, CALLER_B, CALLER_C] {
        assert!(
            !everything.contains(&number[1..]),
            "no number in the audit trail"
        );
    }

    // by message
    let services = Services::start(1).await;
    let dir = tempfile::tempdir().expect("a directory");
    let config = processed(&services, dir.path(), None).await;
    let port = callscore_testkit::free_port();
    let listen = format!("127.0.0.1:{port}");
    let log = dir.path().join("serve-privacy.log");
    let file = std::fs::File::create(&log).expect("a log");
    let mut child = services
        .command(binary(), None)
        .args(["serve-privacy", "--config", &config])
        .env("CALLSCORE__SERVICE__LISTEN", &listen)
        .stderr(file)
        .spawn()
        .expect("serve-privacy starts");
    let producer = services.producer();
    let requests = [
        serde_json::json!({"schema_version": 1, "request_id": "r-bad", "action": "erase", "tenant": "acme", "subject": {"caller_number": CALLER_A, "call_id": "x"}}),
        serde_json::json!({"schema_version": 1, "request_id": "r-1", "action": "erase", "tenant": "acme", "subject": {"caller_number": CALLER_A_FROM_ABROAD}}),
        // delivered twice (a CRM that sends again)
        serde_json::json!({"schema_version": 1, "request_id": "r-1", "action": "erase", "tenant": "acme", "subject": {"caller_number": CALLER_A_FROM_ABROAD}}),
        serde_json::json!({"schema_version": 1, "request_id": "r-2", "action": "export", "tenant": "acme", "subject": {"caller_number": CALLER_B}}),
        serde_json::json!({"schema_version": 1, "request_id": "r-3", "action": "withdraw_consent", "tenant": "acme", "subject": {"caller_number": CALLER_B}}),
        serde_json::json!({"schema_version": 1, "request_id": "client-7", "action": "erase", "tenant": "globex", "subject": {"whole_tenant": true}}),
    ];
    for request in &requests {
        producer
            .send(
                rdkafka::producer::FutureRecord::to(PRIVACY_REQUESTS)
                    .key(request["request_id"].as_str().expect("an id"))
                    .payload(&request.to_string())
                    .headers(OwnedHeaders::new()),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("produced");
    }
    let deadline = Instant::now() + DONE;
    let mut results = Vec::new();
    while results.len() < 5 && Instant::now() < deadline {
        results = services.read(PRIVACY_RESULTS, 5, Duration::from_secs(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        results.len(),
        5,
        "log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let statuses: Vec<(String, String)> = results
        .iter()
        .map(service::Read::json)
        .map(|r| {
            (
                r["request_id"].as_str().unwrap_or_default().to_string(),
                r["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(statuses.iter().all(|(_, s)| s == "done"), "{statuses:?}");
    // the request delivered again is answered as the first time, not with an empty erasure
    let first_erasures: Vec<Value> = results
        .iter()
        .map(service::Read::json)
        .filter(|r| r["request_id"] == "r-1")
        .map(|r| r["report"].clone())
        .collect();
    let [first, again] = &first_erasures[..] else {
        panic!("r-1 answered twice: {first_erasures:?}")
    };
    assert_eq!(first["recordings"], 2, "{first}");
    assert_eq!(
        (&again["recordings"], &again["events"], &again["erasure_id"]),
        (&first["recordings"], &first["events"], &first["erasure_id"]),
        "{again}"
    );
    assert!(again["finished_before"].is_string(), "{again}");
    let erasure_events: Vec<Value> = services
        .read(SCORES, usize::MAX, Duration::from_secs(3))
        .iter()
        .filter(|m| !m.payload.is_empty())
        .map(service::Read::json)
        .filter(|e| e["event_type"] == "erasure" && e["event_id"] == first["erasure_id"])
        .collect();
    assert_eq!(
        erasure_events.len(),
        1,
        "announced once: {erasure_events:?}"
    );
    let letters = services.read(service::DEAD_LETTERS, 1, Duration::from_secs(5));
    assert_eq!(
        letters.len(),
        1,
        "the malformed request is dead-lettered, not executed"
    );
    assert_eq!(
        letters[0].headers["callscore_dlq_reason"],
        "invalid_request"
    );
    assert!(
        !text(&letters[0].payload).contains(&CALLER_A[1..]),
        "its number masked"
    );
    let by_message = state(&services, "audio").await;
    assert_eq!(by_message, by_command, "the same end state");
    let exported = services.keys("audio").await;
    assert!(
        exported
            .iter()
            .any(|k| k.starts_with("_exports/acme/r-2/") && k.ends_with("manifest.json")),
        "{exported:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_versioned_bucket_with_an_object_lock_every_version_goes_but_the_locked_one_which_is_reported()
 {
    let _turn = TURN.lock().await;
    let services = Services::start(1).await;
    let moto = callscore_testkit::Moto::start("unused");
    let client = moto.endpoint().client();
    // with Object Lock, and so versioning
    let endpoint = moto.endpoint().new_bucket("locked", true).await;
    let dir = tempfile::tempdir().expect("a directory");
    let config = processed(&services, dir.path(), Some(&endpoint)).await;
    let audio_a1 = services_keys(&client, "locked")
        .await
        .into_iter()
        .find(|k| k.contains("/a1/audio"))
        .expect("a1");
    client
        .put_object_legal_hold()
        .bucket("locked")
        .key(&audio_a1)
        .legal_hold(
            aws_sdk_s3::types::ObjectLockLegalHold::builder()
                .status(aws_sdk_s3::types::ObjectLockLegalHoldStatus::On)
                .build(),
        )
        .send()
        .await
        .expect("a legal hold of the store's own on a1's audio");
    let erased = services
        .command(binary(), Some(&endpoint))
        .args([
            "erase", "--config", &config, "--tenant", "acme", "--caller", CALLER_A, "--json",
        ])
        .output()
        .expect("runs");
    assert_eq!(
        erased.status.code(),
        Some(1),
        "not everything could go: {}",
        text(&erased.stderr)
    );
    let report: Value = serde_json::from_slice(&erased.stdout).expect("JSON");
    assert_eq!(report["locked"], 1, "{report}");
    let versions = client
        .list_object_versions()
        .bucket("locked")
        .prefix("acme/respondent/")
        .send()
        .await
        .expect("versions");
    let left: Vec<&str> = versions.versions().iter().filter_map(|v| v.key()).collect();
    assert_eq!(
        left,
        vec![audio_a1.as_str()],
        "only the locked version remains"
    );
    assert!(
        versions.delete_markers().is_empty(),
        "no delete marker hides anything"
    );
}

async fn services_keys(client: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    client
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("listed")
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}
