//! A harness for `callscore serve` against a real broker and a real store: topics, a
//! configuration, the service as a child process, and independent clients (plain rdkafka and
//! aws-sdk-s3, none of callscore's adapters) to feed it and read back what it wrote. The
//! end-to-end tests and the throughput benchmark share it.
#![allow(missing_docs, clippy::missing_panics_doc)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::{Broker, Garage, S3Endpoint, free_port, http_request};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use serde_json::Value;

pub const RECORDINGS: &str = "recordings";
pub const SCORES: &str = "scores";
pub const DEAD_LETTERS: &str = "recordings-dlq";
pub const AUDIT: &str = "callscore-audit";
pub const CONTACTS: &str = "callscore-contacts";
pub const PRIVACY_REQUESTS: &str = "callscore-privacy-requests";
pub const PRIVACY_RESULTS: &str = "callscore-privacy-results";
pub const TRANSCRIPTIONS: &str = "callscore-transcriptions";
pub const TRANSCRIPTS: &str = "callscore-transcripts";

/// How a test's service is configured, beyond the defaults.
#[derive(Debug, Default, Clone, Copy)]
pub struct Setup<'a> {
    /// The consumer group.
    pub group: &'a str,
    /// TOML appended to the file (whole tables).
    pub extra: &'a str,
    /// A keyring directory instead of the fixed demo key.
    pub keyring: Option<&'a Path>,
    /// The `[retention]` tables.
    pub retention: &'a str,
    /// Another S3 endpoint than the broker's Garage (moto), with its bucket.
    pub s3: Option<&'a S3Endpoint>,
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A recording to produce, with what its events must say.
#[derive(Debug, Clone)]
pub struct Recording {
    pub metadata: Value,
    pub audio: Vec<u8>,
    pub content_type: &'static str,
    /// question id -> (status, value)
    pub answers: BTreeMap<String, (String, Option<u64>)>,
}

impl Recording {
    /// The headers of its message: the metadata, and `content_type` for the value.
    pub fn headers(&self, content_type: &str) -> OwnedHeaders {
        let metadata = serde_json::to_string(&self.metadata).expect("JSON");
        OwnedHeaders::new()
            .insert(Header {
                key: "callscore_metadata",
                value: Some(&metadata),
            })
            .insert(Header {
                key: "content-type",
                value: Some(content_type),
            })
    }

    pub fn recording_id(&self) -> &str {
        self.metadata["recording_id"].as_str().expect("an id")
    }
    pub fn call_id(&self) -> &str {
        self.metadata["call_id"].as_str().expect("an id")
    }
}

/// The fixture calls with expected answers, each copied `copies` times under new ids.
pub fn recordings(copies: usize) -> Vec<Recording> {
    let dir = root().join("fixtures/recordings");
    let expected: Vec<Value> =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).expect("expected.json"))
            .expect("valid JSON");
    let mut out = Vec::new();
    for copy in 0..copies {
        for entry in &expected {
            let Some(answers) = entry["answers"].as_object() else {
                continue;
            };
            let file = entry["file"].as_str().expect("a file name");
            let audio = std::fs::read(dir.join(file)).expect("the fixture");
            let sidecar = dir.join(file).with_extension("json");
            let mut metadata: Value =
                serde_json::from_slice(&std::fs::read(sidecar).expect("metadata")).expect("JSON");
            for field in ["recording_id", "call_id"] {
                let id = format!("{}-{copy}", metadata[field].as_str().expect("an id"));
                metadata[field] = Value::String(id);
            }
            let answers = answers
                .iter()
                .map(|(q, a)| {
                    let status = a["status"].as_str().expect("a status").to_string();
                    (q.clone(), (status, a["value"].as_u64()))
                })
                .collect();
            out.push(Recording {
                metadata,
                audio,
                content_type: "audio/wav",
                answers,
            });
        }
    }
    out
}

/// The known-prompt example (`fixtures/prompted/`): a mono call keyed over a prompt that its
/// survey names; the answer is read only with the prompt subtracted.
pub fn prompted_recording() -> Recording {
    let dir = root().join("fixtures/prompted");
    let audio = std::fs::read(dir.join("keyed-over-prompt.wav")).expect("the fixture");
    let metadata: Value = serde_json::from_slice(
        &std::fs::read(dir.join("keyed-over-prompt.json")).expect("metadata"),
    )
    .expect("JSON");
    Recording {
        metadata,
        audio,
        content_type: "audio/wav",
        answers: [("recommend".to_string(), ("answered".to_string(), Some(9)))]
            .into_iter()
            .collect(),
    }
}

/// A broker and a store with the service's topics and buckets.
#[derive(Debug)]
pub struct Services {
    pub broker: Broker,
    pub garage: Garage,
}

impl Services {
    pub async fn start(partitions: i32) -> Services {
        let services = Services {
            broker: Broker::start(),
            garage: Garage::start(&["audio", "staging"]),
        };
        services.create_topics(partitions).await;
        services
    }

    pub fn bootstrap(&self) -> String {
        self.broker.bootstrap()
    }

    async fn create_topics(&self, partitions: i32) {
        self.create_topic(RECORDINGS, partitions).await;
        // compacted, as docs/data-engineer.md advises: the tests show that it keeps every fact
        self.create_topic_with(SCORES, 3, &[("cleanup.policy", "compact")])
            .await;
        self.create_topic(DEAD_LETTERS, 1).await;
        self.create_topic(AUDIT, 1).await;
        // compacted and deleted, as deploy/compose/init.sh makes it: the service refuses a
        // contact topic that would keep callers' numbers for ever
        self.create_topic_with(CONTACTS, 1, &[("cleanup.policy", "compact,delete")])
            .await;
        self.create_topic(PRIVACY_REQUESTS, 1).await;
        self.create_topic(PRIVACY_RESULTS, 1).await;
        self.create_topic_with(TRANSCRIPTIONS, 1, &[("cleanup.policy", "compact")])
            .await;
        self.create_topic_with(TRANSCRIPTS, 1, &[("cleanup.policy", "compact")])
            .await;
    }

    /// Creates a topic.
    pub async fn create_topic(&self, name: &str, partitions: i32) {
        self.create_topic_with(name, partitions, &[]).await;
    }

    /// Creates a topic with topic configuration entries (`cleanup.policy`, …).
    pub async fn create_topic_with(&self, name: &str, partitions: i32, config: &[(&str, &str)]) {
        let admin = self.admin();
        let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        for (key, value) in config {
            topic = topic.set(key, value);
        }
        let topics = [topic];
        let results = admin
            .create_topics(&topics, &AdminOptions::new())
            .await
            .expect("creating topics");
        for result in results {
            result.expect("topic created");
        }
    }

    /// Deletes a topic (the test broker has no AlterConfigs: a topic is altered by deleting
    /// it and creating it again).
    pub async fn delete_topic(&self, name: &str) {
        let results = self
            .admin()
            .delete_topics(&[name], &AdminOptions::new())
            .await
            .expect("deleting a topic");
        for result in results {
            result.expect("topic deleted");
        }
    }

    fn admin(&self) -> AdminClient<DefaultClientContext> {
        ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .expect("an admin client")
    }

    /// A configuration file for the service, in `dir`.
    pub fn config(&self, dir: &Path, group: &str, extra: &str) -> (PathBuf, u16) {
        self.config_with(
            dir,
            &Setup {
                group,
                extra,
                ..Setup::default()
            },
        )
    }

    /// A configuration file for the service, in `dir`, as `setup` says.
    pub fn config_with(&self, dir: &Path, setup: &Setup<'_>) -> (PathBuf, u16) {
        let port = free_port();
        let s3 = setup.s3.unwrap_or(self.garage.endpoint());
        let pseudonym = match setup.keyring {
            Some(keyring) => format!("keyring = \"{}\"", keyring.display()),
            None => format!(
                "key_id = \"k1\"\nkey_file = \"{}\"",
                root().join("fixtures/demo-pseudonym.key").display()
            ),
        };
        let text = format!(
            r#"
[kafka]
recordings_topic = "{RECORDINGS}"
scores_topic = "{SCORES}"
dead_letter_topic = "{DEAD_LETTERS}"
audit_topic = "{AUDIT}"
contact_topic = "{CONTACTS}"
privacy_requests_topic = "{PRIVACY_REQUESTS}"
privacy_results_topic = "{PRIVACY_RESULTS}"
transcription_topic = "{TRANSCRIPTIONS}"
transcripts_topic = "{TRANSCRIPTS}"
[kafka.common]
"bootstrap.servers" = "{bootstrap}"
[kafka.consumer]
"group.id" = "{group}"
"session.timeout.ms" = 10000
"auto.commit.interval.ms" = 500
[s3]
bucket = "{bucket}"
endpoint_url = "{url}"
region = "{region}"
force_path_style = true
timeout_ms = 3000
staging_buckets = ["staging"]
[service]
listen = "127.0.0.1:{port}"
max_in_flight = 8
max_in_flight_bytes = 8388608
retry_initial_ms = 100
retry_max_ms = 2000
shutdown_timeout_ms = 20000
log_level = "info,callscore=debug"
[limits]
max_input_bytes = 4194304
[surveys]
files = ["{surveys}", "{comment_survey}", "{prompted_survey}"]
[pseudonym]
{pseudonym}
{retention}
{extra}
"#,
            group = setup.group,
            bootstrap = self.bootstrap(),
            bucket = s3.bucket,
            url = s3.url,
            region = s3.region,
            surveys = root().join("fixtures/surveys/nps-csat.toml").display(),
            comment_survey = root().join("fixtures/surveys/nps-comment.toml").display(),
            prompted_survey = root().join("fixtures/surveys/nps-prompted.toml").display(),
            retention = setup.retention,
            extra = setup.extra,
        );
        let path = dir.join("callscore.toml");
        std::fs::write(&path, text).expect("writing the configuration");
        (path, port)
    }

    /// `binary` with the credentials of `endpoint` (the store's by default) in its
    /// environment, and nothing else of callscore's or AWS's from the test's.
    pub fn command(&self, binary: &Path, endpoint: Option<&S3Endpoint>) -> Command {
        let endpoint = endpoint.unwrap_or(self.garage.endpoint());
        let mut command = Command::new(binary);
        for (name, _) in std::env::vars() {
            if name.starts_with("AWS_") || name.starts_with("CALLSCORE_") {
                command.env_remove(name);
            }
        }
        command
            .env("AWS_ACCESS_KEY_ID", &endpoint.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &endpoint.secret_key)
            .env("AWS_EC2_METADATA_DISABLED", "true");
        command
    }

    /// A plain S3 client of the store.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        self.garage.endpoint().client()
    }

    /// Every recording's audio object in the audio bucket (not records, markers or probes),
    /// with its user metadata and modification time.
    pub async fn objects(&self) -> BTreeMap<String, Stored> {
        let client = self.s3();
        let mut out = BTreeMap::new();
        let mut pages = client
            .list_objects_v2()
            .bucket("audio")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for object in page.expect("listing").contents() {
                let key = object.key().expect("a key").to_string();
                let audio = key
                    .rsplit('/')
                    .next()
                    .is_some_and(|file| file.starts_with("audio."));
                if key.starts_with('_') || !audio {
                    continue;
                }
                let head = client
                    .head_object()
                    .bucket("audio")
                    .key(&key)
                    .send()
                    .await
                    .expect("head");
                let stored = Stored {
                    meta: head.metadata().cloned().unwrap_or_default(),
                    modified: head
                        .last_modified()
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                    etag: head.e_tag().unwrap_or_default().to_string(),
                };
                out.insert(key, stored);
            }
        }
        out
    }

    /// Every key in `bucket`, probes of the store excepted.
    pub async fn keys(&self, bucket: &str) -> Vec<String> {
        let client = self.s3();
        let mut keys = Vec::new();
        let mut pages = client
            .list_objects_v2()
            .bucket(bucket)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for object in page.expect("listing").contents() {
                let key = object.key().expect("a key").to_string();
                if !key.starts_with("_callscore/") {
                    keys.push(key);
                }
            }
        }
        keys
    }

    /// Produces `recordings` with a plain rdkafka producer, keyed by call id.
    pub async fn produce(&self, recordings: &[Recording]) {
        let producer = self.producer();
        for recording in recordings {
            let headers = recording.headers(recording.content_type);
            self.send(&producer, recording.call_id(), &recording.audio, headers)
                .await;
        }
    }

    pub fn producer(&self) -> FutureProducer {
        ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .set("message.max.bytes", "8000000")
            .create()
            .expect("a producer")
    }

    pub async fn send(
        &self,
        producer: &FutureProducer,
        key: &str,
        payload: &[u8],
        headers: OwnedHeaders,
    ) {
        producer
            .send(
                FutureRecord::to(RECORDINGS)
                    .key(key)
                    .payload(payload)
                    .headers(headers),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("produced");
    }

    /// Reads `topic` from the start with a fresh group until `count` messages arrived or
    /// `timeout` passed.
    pub fn read(&self, topic: &str, count: usize, timeout: Duration) -> Vec<Read> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .set("group.id", format!("reader-{}", free_port()))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .expect("a consumer");
        consumer.subscribe(&[topic]).expect("subscribing");
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while out.len() < count && Instant::now() < deadline {
            let Some(message) = consumer.poll(Duration::from_millis(200)) else {
                continue;
            };
            let message = message.expect("a message");
            let headers = message
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| {
                            let value = String::from_utf8_lossy(h.value.unwrap_or_default());
                            (h.key.to_string(), value.into_owned())
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(Read {
                key: message
                    .key()
                    .map(|k| String::from_utf8_lossy(k).into_owned()),
                headers,
                payload: message.payload().unwrap_or_default().to_vec(),
                partition: message.partition(),
                offset: message.offset(),
                timestamp: message.timestamp().to_millis(),
            });
        }
        out
    }

    /// The committed offsets of `group` on every partition of the recordings topic.
    pub fn committed(&self, group: &str, partitions: i32) -> Vec<i64> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .set("group.id", group)
            .create()
            .expect("a consumer");
        let mut list = TopicPartitionList::new();
        for p in 0..partitions {
            list.add_partition(RECORDINGS, p);
        }
        let committed = consumer
            .committed_offsets(list, Duration::from_secs(10))
            .expect("committed offsets");
        committed
            .elements()
            .iter()
            .map(|e| match e.offset() {
                Offset::Offset(o) => o,
                _ => -1,
            })
            .collect()
    }
}

/// An object as the store reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub meta: std::collections::HashMap<String, String>,
    pub modified: String,
    pub etag: String,
}

/// A message read back.
#[derive(Debug, Clone)]
pub struct Read {
    pub key: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub payload: Vec<u8>,
    pub partition: i32,
    pub offset: i64,
    /// The broker's timestamp, in milliseconds since the epoch.
    pub timestamp: Option<i64>,
}

impl Read {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.payload).expect("a JSON event")
    }
}

/// `callscore serve` as a child process.
#[derive(Debug)]
pub struct Service {
    child: Option<Child>,
    pub port: u16,
    log: PathBuf,
}

impl Service {
    /// Starts `binary serve --config CONFIG`, logging to `log`.
    pub fn start(
        binary: &Path,
        services: &Services,
        config: &Path,
        port: u16,
        log: &Path,
    ) -> Service {
        Service::start_with_env(binary, services, config, port, log, &[])
    }

    /// Like [`Service::start`], with more environment variables (configuration overrides).
    pub fn start_with_env(
        binary: &Path,
        services: &Services,
        config: &Path,
        port: u16,
        log: &Path,
        env: &[(&str, &str)],
    ) -> Service {
        let file = std::fs::File::create(log).expect("a log file");
        let mut command = Command::new(binary);
        command
            .args(["serve", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file);
        for (name, _) in std::env::vars() {
            if name.starts_with("AWS_") || name.starts_with("CALLSCORE_") {
                command.env_remove(name);
            }
        }
        let endpoint = services.garage.endpoint();
        command
            .env("AWS_ACCESS_KEY_ID", &endpoint.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &endpoint.secret_key)
            .env("AWS_EC2_METADATA_DISABLED", "true");
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().expect("starting callscore serve");
        Service {
            child: Some(child),
            port,
            log: log.to_path_buf(),
        }
    }

    /// Waits until `/readyz` answers 200.
    pub fn wait_ready(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some((200, _)) = http_request(self.port, "GET", "/readyz") {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "the service was not ready within {timeout:?}; readyz: {:?}\nlog:\n{}",
            http_request(self.port, "GET", "/readyz"),
            self.log_text()
        );
    }

    pub fn readyz(&self) -> Option<(u16, String)> {
        http_request(self.port, "GET", "/readyz")
    }

    pub fn metrics(&self) -> String {
        http_request(self.port, "GET", "/metrics")
            .map(|(_, body)| body)
            .unwrap_or_default()
    }

    /// The sum of the samples of `name` whose labels contain every one of `labels`.
    pub fn metric(&self, name: &str, labels: &[&str]) -> f64 {
        metric(&self.metrics(), name, labels)
    }

    /// Waits until `name` with `labels` reaches `value`.
    pub fn wait_metric(&self, name: &str, labels: &[&str], value: f64, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.metric(name, labels) >= value {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "{name}{labels:?} did not reach {value} within {timeout:?}; metrics:\n{}\nlog:\n{}",
            self.metrics(),
            self.log_text()
        );
    }

    /// The service's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The service's peak resident memory (VmHWM), in KiB, while it runs.
    pub fn peak_memory_kib(&self) -> Option<u64> {
        let pid = self.child.as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Waits, without blocking the async runtime, until `name` with `labels` reaches `value`.
    pub async fn reach(&self, name: &str, labels: &[&str], value: f64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.metric(name, labels) >= value {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
        }
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().expect("waiting") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "no exit within {timeout:?} of SIGTERM; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().expect("waiting") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("no exit within {timeout:?}; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => child.try_wait().expect("waiting").is_some(),
            None => true,
        }
    }

    /// The partitions this instance reports a lag for.
    pub fn lag_partitions(&self) -> Vec<i32> {
        let text = self.metrics();
        let mut partitions: Vec<i32> = text
            .lines()
            .filter(|l| l.starts_with("callscore_consumer_lag_messages{"))
            .filter_map(|l| l.split("partition=\"").nth(1))
            .filter_map(|rest| rest.split('"').next())
            .filter_map(|p| p.parse().ok())
            .collect();
        partitions.sort_unstable();
        partitions
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if std::thread::panicking() {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "--- service log:\n{}", self.log_text());
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The sum of the samples of `name` whose labels contain every one of `labels`.
pub fn metric(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name && labels.iter().all(|l| rest.contains(l)))
                .then(|| value.parse::<f64>().ok())
                .flatten()
        })
        .sum()
}

/// Score events by (recording id, question id) -> (status, value); response events counted
/// apart. Panics on an event id seen with different content.
pub fn answers_of(events: &[Read]) -> BTreeMap<(String, String), (String, Option<u64>)> {
    let mut by_id: BTreeMap<String, Value> = BTreeMap::new();
    for event in events {
        let value = event.json();
        let id = value["event_id"].as_str().expect("an event id").to_string();
        if let Some(seen) = by_id.get(&id) {
            let strip = |v: &Value| {
                let mut v = v.clone();
                v.as_object_mut().expect("object").remove("processed_at");
                v.as_object_mut().expect("object").remove("received_at");
                v
            };
            assert_eq!(strip(seen), strip(&value), "one id, one fact");
        }
        by_id.insert(id, value);
    }
    by_id
        .values()
        .filter(|v| v["event_type"] == "score")
        .map(|v| {
            (
                (
                    v["recording_id"].as_str().expect("id").to_string(),
                    v["question_id"].as_str().expect("id").to_string(),
                ),
                (
                    v["status"].as_str().expect("status").to_string(),
                    v["value"].as_u64(),
                ),
            )
        })
        .collect()
}

/// What the events of `recordings` must say.
pub fn expected_answers(
    recordings: &[Recording],
) -> BTreeMap<(String, String), (String, Option<u64>)> {
    recordings
        .iter()
        .flat_map(|r| {
            r.answers
                .iter()
                .map(|(q, a)| ((r.recording_id().to_string(), q.clone()), a.clone()))
        })
        .collect()
}

/// What a compacted topic keeps of `messages` (read from its start, in order): the latest
/// message of each key, and none of a key whose latest message is a tombstone. Computed
/// because the test broker accepts `cleanup.policy=compact` but does not compact.
pub fn compacted(messages: &[Read]) -> Vec<Read> {
    let mut latest: BTreeMap<(i32, String), &Read> = BTreeMap::new();
    let mut order: Vec<(i32, String)> = Vec::new();
    for message in messages {
        let Some(key) = &message.key else {
            // compaction refuses keyless messages; none may be there
            panic!("a message without a key on a compacted topic");
        };
        let id = (message.partition, key.clone());
        if latest.insert(id.clone(), message).is_none() {
            order.push(id);
        }
    }
    order
        .iter()
        .filter_map(|id| latest.get(id))
        .filter(|m| !m.payload.is_empty())
        .map(|m| (*m).clone())
        .collect()
}

/// Events per recording: one per question plus the response event.
pub fn event_count(recordings: &[Recording]) -> usize {
    recordings.iter().map(|r| r.answers.len() + 1).sum()
}
