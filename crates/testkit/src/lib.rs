//! Test support: starts the real services callscore's end-to-end tests run against, each on
//! its own loopback ports with its own data directory, and stops them when dropped.
//!
//! - [`Broker`]: nisshi, a Kafka-protocol broker, storing to SQLite so that a restart keeps
//!   topics, messages and committed offsets;
//! - [`Garage`]: an S3-compatible store without object tagging;
//! - [`Moto`]: an S3 emulator with tagging, for the tagging path only;
//! - [`Prometheus`]: Debian's `prometheus`, scraping a service and evaluating alert rules.
//!
//! `scripts/install-servers.sh` installs them into `$CALLSCORE_CACHE` (default
//! `~/.cache/callscore`); `scripts/test.sh` runs it first. A missing server is a test failure
//! that says how to install it, never a skipped test.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub mod service;

/// The broker's version, as `scripts/install-servers.sh` installs it.
pub const NISSHI_VERSION: &str = "0.8.1";
/// The store's version, as `scripts/install-servers.sh` installs it.
pub const GARAGE_VERSION: &str = "2.5.0";

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the servers are installed.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CALLSCORE_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    Path::new(&home).join(".cache/callscore")
}

fn installed(relative: &str) -> PathBuf {
    let path = cache_dir().join(relative);
    assert!(
        path.exists(),
        "{} is not installed: run scripts/install-servers.sh (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding an ephemeral loopback port");
    listener
        .local_addr()
        .expect("a bound socket's address")
        .port()
}

/// Asks `done` every half second until it holds or `timeout` passes; whether it held, asked
/// once more at the end.
pub fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    done()
}

/// Waits until something accepts connections on `port`.
pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A server process, killed when dropped.
#[derive(Debug)]
struct Server {
    name: &'static str,
    child: Option<Child>,
    log: PathBuf,
}

impl Server {
    fn spawn(name: &'static str, mut command: Command, log: PathBuf, port: u16) -> Server {
        let file = std::fs::File::create(&log).expect("creating a server log");
        let err = file.try_clone().expect("cloning a file handle");
        let child = command
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let mut server = Server {
            name,
            child: Some(child),
            log,
        };
        if !wait_for_port(port, START_TIMEOUT) {
            let log = server.log_text();
            server.stop();
            panic!(
                "{name} did not listen on port {port} within {START_TIMEOUT:?}; its log:\n{log}"
            );
        }
        server
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // the server is gone either way; a kill of an exited process fails harmlessly
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
        if std::thread::panicking() {
            // the log is what explains a failed test
            let log = self.log_text();
            let tail: String = log
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            let _ = writeln!(
                std::io::stderr(),
                "--- last lines of {}:\n{tail}",
                self.name
            );
        }
    }
}

/// A Kafka-protocol broker (nisshi) on loopback, storing to SQLite in its own directory.
#[derive(Debug)]
pub struct Broker {
    server: Option<Server>,
    port: u16,
    dir: TempDir,
}

impl Broker {
    /// The broker's process id while it runs (for benchmarks that count its CPU time).
    pub fn pid(&self) -> Option<u32> {
        self.server.as_ref().and_then(Server::pid)
    }

    /// Starts a broker with empty storage.
    pub fn start() -> Broker {
        let dir = tempfile::tempdir().expect("a broker directory");
        let mut broker = Broker {
            server: None,
            port: free_port(),
            dir,
        };
        broker.resume();
        broker
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the broker (as a crash would); its storage stays.
    pub fn kill(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.stop();
        }
    }

    /// Starts the broker again on the same port and storage.
    pub fn resume(&mut self) {
        assert!(self.server.is_none(), "the broker is already running");
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let mut command = Command::new(installed(&format!("nisshi-{NISSHI_VERSION}/bin/nisshi")));
        command
            .current_dir(self.dir.path())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            // relative to the working directory
            .args(["--storage-engine", "sqlite://broker.db"])
            .args(["--cluster-id", "callscore-test"])
            .args(["--group-initial-rebalance-delay", "100ms"])
            .env_remove("STORAGE_ENGINE")
            .env("RUST_LOG", "warn");
        let log = self.dir.path().join(format!("broker-{}.log", now_millis()));
        self.server = Some(Server::spawn("nisshi", command, log, self.port));
    }
}

/// Credentials and addresses of an S3-compatible store.
#[derive(Debug, Clone)]
pub struct S3Endpoint {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The region clients sign with.
    pub region: String,
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// A bucket that exists.
    pub bucket: String,
}

impl S3Endpoint {
    /// A plain aws-sdk-s3 client of this store, signing with its static credentials.
    pub fn client(&self) -> aws_sdk_s3::Client {
        use aws_sdk_s3::config::{BehaviorVersion, Builder, Credentials, Region};
        let config = Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&self.url)
            .region(Region::new(self.region.clone()))
            .credentials_provider(Credentials::new(
                &self.access_key,
                &self.secret_key,
                None,
                None,
                "callscore-test",
            ))
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// Turns versioning on for this endpoint's bucket.
    pub async fn enable_versioning(&self) {
        use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
        self.client()
            .put_bucket_versioning()
            .bucket(&self.bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("versioning on");
    }

    /// Makes `bucket` in this store, with Object Lock (and so versioning) when `locked`, and
    /// returns its endpoint.
    pub async fn new_bucket(&self, bucket: &str, locked: bool) -> S3Endpoint {
        self.client()
            .create_bucket()
            .bucket(bucket)
            .object_lock_enabled_for_bucket(locked)
            .send()
            .await
            .expect("a bucket");
        S3Endpoint {
            bucket: bucket.to_string(),
            ..self.clone()
        }
    }

    /// The variables of the standard AWS chain that point a client at this store.
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.url.clone()),
            ("AWS_REGION", self.region.clone()),
            ("AWS_ACCESS_KEY_ID", self.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_key.clone()),
        ]
    }
}

/// Garage, single node, on loopback. It has no object tagging.
#[derive(Debug)]
pub struct Garage {
    server: Option<Server>,
    dir: TempDir,
    endpoint: S3Endpoint,
    port: u16,
    buckets: Vec<String>,
}

/// Garage's access key ids are `GK` and 24 hex digits, its secrets 64 hex digits.
const GARAGE_ACCESS_KEY: &str = "GK0c0a11c0de5c0re0000000a1";
const GARAGE_SECRET_KEY: &str = "5ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2";

impl Garage {
    /// The store's process id while it runs (for benchmarks that count its CPU time).
    pub fn pid(&self) -> Option<u32> {
        self.server.as_ref().and_then(Server::pid)
    }

    /// Starts a store with the buckets `buckets` (the first is the endpoint's).
    pub fn start(buckets: &[&str]) -> Garage {
        let dir = tempfile::tempdir().expect("a store directory");
        let port = free_port();
        let rpc_port = free_port();
        let config = format!(
            "metadata_dir = \"{meta}\"\n\
             data_dir = \"{data}\"\n\
             db_engine = \"sqlite\"\n\
             replication_factor = 1\n\
             rpc_bind_addr = \"127.0.0.1:{rpc_port}\"\n\
             rpc_secret = \"{secret}\"\n\
             [s3_api]\n\
             s3_region = \"garage\"\n\
             api_bind_addr = \"127.0.0.1:{port}\"\n\
             root_domain = \".s3.garage.localhost\"\n",
            meta = dir.path().join("meta").display(),
            data = dir.path().join("data").display(),
            secret = "c0ffee".repeat(10) + "c0ff",
        );
        std::fs::write(dir.path().join("garage.toml"), config).expect("writing garage.toml");
        let mut garage = Garage {
            server: None,
            endpoint: S3Endpoint {
                url: format!("http://127.0.0.1:{port}"),
                region: "garage".into(),
                access_key: GARAGE_ACCESS_KEY.into(),
                secret_key: GARAGE_SECRET_KEY.into(),
                bucket: buckets.first().copied().unwrap_or("audio").to_string(),
            },
            dir,
            port,
            buckets: buckets.iter().map(|b| b.to_string()).collect(),
        };
        garage.resume();
        garage
    }

    /// Where it listens and how to sign.
    pub fn endpoint(&self) -> &S3Endpoint {
        &self.endpoint
    }

    /// Stops the store (as an outage would); its data stays.
    pub fn kill(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.stop();
        }
    }

    /// Starts the store again on the same port and data.
    pub fn resume(&mut self) {
        assert!(self.server.is_none(), "the store is already running");
        let binary = installed(&format!("garage-{GARAGE_VERSION}/bin/garage"));
        let log = self.dir.path().join(format!("garage-{}.log", now_millis()));
        let mut first = true;
        // --default-bucket makes one bucket; further ones are made with garage's own CLI
        for bucket in self.buckets.clone() {
            if first {
                let mut command = Command::new(&binary);
                command
                    .arg("-c")
                    .arg(self.dir.path().join("garage.toml"))
                    .args(["server", "--single-node", "--default-bucket"])
                    .env("GARAGE_DEFAULT_ACCESS_KEY", GARAGE_ACCESS_KEY)
                    .env("GARAGE_DEFAULT_SECRET_KEY", GARAGE_SECRET_KEY)
                    .env("GARAGE_DEFAULT_BUCKET", &bucket)
                    .env("RUST_LOG", "warn");
                self.server = Some(Server::spawn("garage", command, log.clone(), self.port));
                first = false;
                continue;
            }
            self.garage_cli(&binary, &["bucket", "create", &bucket]);
            self.garage_cli(
                &binary,
                &[
                    "bucket",
                    "allow",
                    "--read",
                    "--write",
                    "--owner",
                    &bucket,
                    "--key",
                    GARAGE_ACCESS_KEY,
                ],
            );
        }
        self.wait_until_serving();
    }

    /// Takes the key's read and write access to `bucket` away (as a revoked permission would).
    pub fn deny(&self, bucket: &str) {
        let binary = installed(&format!("garage-{GARAGE_VERSION}/bin/garage"));
        self.garage_cli(
            &binary,
            &[
                "bucket",
                "deny",
                "--read",
                "--write",
                bucket,
                "--key",
                GARAGE_ACCESS_KEY,
            ],
        );
    }

    /// Gives the key's read and write access to `bucket` back.
    pub fn allow(&self, bucket: &str) {
        let binary = installed(&format!("garage-{GARAGE_VERSION}/bin/garage"));
        self.garage_cli(
            &binary,
            &[
                "bucket",
                "allow",
                "--read",
                "--write",
                bucket,
                "--key",
                GARAGE_ACCESS_KEY,
            ],
        );
    }

    fn garage_cli(&self, binary: &Path, args: &[&str]) {
        let output = Command::new(binary)
            .arg("-c")
            .arg(self.dir.path().join("garage.toml"))
            .args(args)
            .output()
            .expect("running garage's command line");
        let text = String::from_utf8_lossy(&output.stderr);
        // on a restart the bucket exists already
        assert!(
            output.status.success() || text.contains("already exists"),
            "garage {args:?}: {text}"
        );
    }

    /// Waits until the S3 API answers a request (the layout takes a moment after start).
    fn wait_until_serving(&self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            // an unsigned request is refused with 403 once the API serves
            if matches!(http_status(self.port, "GET", "/"), Some(403 | 200)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("garage did not serve S3 within {START_TIMEOUT:?}");
    }
}

/// moto's S3 emulator on loopback: it implements object tagging (and checks no signatures).
#[derive(Debug)]
pub struct Moto {
    _server: Server,
    _dir: TempDir,
    endpoint: S3Endpoint,
}

impl Moto {
    /// Starts the emulator; buckets are created by the test.
    pub fn start(bucket: &str) -> Moto {
        let dir = tempfile::tempdir().expect("a moto directory");
        let port = free_port();
        let mut command = Command::new(installed("moto-venv/bin/moto_server"));
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let server = Server::spawn("moto", command, dir.path().join("moto.log"), port);
        let endpoint = S3Endpoint {
            url: format!("http://127.0.0.1:{port}"),
            region: "us-east-1".into(),
            access_key: "testing".into(),
            secret_key: "testing".into(),
            bucket: bucket.into(),
        };
        // path-style bucket creation; moto checks no signature
        let status = http_status(port, "PUT", &format!("/{bucket}"));
        assert_eq!(status, Some(200), "creating bucket {bucket} on moto");
        Moto {
            _server: server,
            _dir: dir,
            endpoint,
        }
    }

    /// Where it listens and how to sign.
    pub fn endpoint(&self) -> &S3Endpoint {
        &self.endpoint
    }
}

/// A Prometheus server (Debian's `prometheus` package, which `scripts/test.sh` installs) on
/// loopback: it scrapes its targets as job `callscore` every second and evaluates its rule
/// files every second.
#[derive(Debug)]
pub struct Prometheus {
    _server: Server,
    _dir: TempDir,
    port: u16,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (`host:port`) and evaluating `rules`.
    pub fn start(targets: &[String], rules: &Path) -> Prometheus {
        let dir = tempfile::tempdir().expect("a Prometheus directory");
        let port = free_port();
        let targets: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - \"{}\"\n\
             scrape_configs:\n  - job_name: callscore\n    static_configs:\n      - targets: [{}]\n",
            rules.display(),
            targets.join(", ")
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("writing prometheus.yml");
        let mut command = Command::new("prometheus");
        command
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .current_dir(dir.path());
        let log = dir.path().join("prometheus.log");
        let server = Server::spawn("prometheus", command, log, port);
        Prometheus {
            _server: server,
            _dir: dir,
            port,
        }
    }

    /// `GET /api/v1/PATH?NAME=VALUE&...`: the `data` of a successful answer. Panics when
    /// Prometheus answers an error (a query it cannot parse, say), naming the query.
    pub fn api(&self, path: &str, params: &[(&str, &str)]) -> serde_json::Value {
        let query: Vec<String> = params
            .iter()
            .map(|(name, value)| format!("{name}={}", percent_encode(value)))
            .collect();
        let target = format!("/api/v1/{path}?{}", query.join("&"));
        let (status, body) = http_get_unchunked(self.port, &target)
            .unwrap_or_else(|| panic!("Prometheus does not answer {target}"));
        let answer: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{target}: not JSON ({e}): {body}"));
        assert!(
            status == 200 && answer["status"] == "success",
            "{params:?}: {status} {body}"
        );
        answer["data"].clone()
    }

    /// The instant vector or scalar `expr` evaluates to now: the `result` array.
    pub fn query(&self, expr: &str) -> Vec<serde_json::Value> {
        let data = self.api("query", &[("query", expr)]);
        match &data["result"] {
            serde_json::Value::Array(items) => items.clone(),
            // a scalar or a string: one value
            other => vec![other.clone()],
        }
    }

    /// The series matching `selector` seen in the last `seconds`.
    pub fn series(&self, selector: &str, seconds: u64) -> Vec<serde_json::Value> {
        let end = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let start = end.saturating_sub(seconds).to_string();
        let end = end.to_string();
        let data = self.api(
            "series",
            &[("match[]", selector), ("start", &start), ("end", &end)],
        );
        data.as_array().cloned().unwrap_or_default()
    }

    /// The alerts now pending or firing, as `/api/v1/alerts` lists them.
    pub fn alerts(&self) -> Vec<serde_json::Value> {
        let data = self.api("alerts", &[]);
        data["alerts"].as_array().cloned().unwrap_or_default()
    }
}

/// A bare HTTP/1.0 GET: a server answers it without chunked encoding, however long the body.
fn http_get_unchunked(port: u16, path: &str) -> Option<(u16, String)> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let (_, body) = text.split_once("\r\n\r\n")?;
    Some((status, body.to_string()))
}

/// `text` as a URL query value.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The status of a bare HTTP/1.1 request to loopback, `None` when nothing answers.
pub fn http_status(port: u16, method: &str, path: &str) -> Option<u16> {
    let (status, _) = http_request(port, method, path)?;
    Some(status)
}

/// A bare HTTP/1.1 request to loopback: the status and the body, `None` when nothing answers.
pub fn http_request(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    Some((status, body))
}

fn now_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}
