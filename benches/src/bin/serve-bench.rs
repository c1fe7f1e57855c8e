//! `callscore serve` throughput on this machine, through a real broker (nisshi) and a real
//! store (Garage) on loopback, next to the same broker and store moving the same bytes with
//! no processing.
//!
//! Two runs over the same recordings (the committed fixture calls, copied under new ids):
//! 1. baseline: a plain rdkafka consumer takes each recording, PUTs its bytes to the store and
//!    produces one small event, with the service's concurrency;
//! 2. service: `callscore serve` (the release binary) does the whole job.
//!
//! Each run drains a backlog (recordings per second) and then takes a paced load at half that
//! rate for latency (p50/p99 from just before the recording is produced to its last event's
//! broker timestamp). The service's peak memory is its VmHWM. Where the time goes: the CPU
//! seconds per recording of the service (or the mover), the store and the broker over the
//! backlog, the service's mean time per stage and its store requests per recording. Then the
//! same backlog through 2 and 4 instances in one consumer group on the 4-partition topic.
//!
//! ```sh
//! cargo build --release -p callscore
//! cargo run --release -p callscore-benches --bin serve-bench -- 2000
//! ```

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use callscore_testkit::service::{self, Recording, Services};
use rdkafka::Message;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::Semaphore;

/// Concurrency of both runs (the service's `max_in_flight`).
const IN_FLIGHT: usize = 8;

#[allow(clippy::print_stdout)]
#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let count: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(2000);
    let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/callscore");
    anyhow::ensure!(
        binary.exists(),
        "build the service first: cargo build --release -p callscore"
    );
    let fixtures = service::recordings(1);
    let copies = count.div_ceil(fixtures.len());
    let mut all = service::recordings(copies);
    all.truncate(count);
    let paced_count = (count / 4).max(50);
    let bytes: usize = all.iter().map(|r| r.audio.len()).sum();
    println!(
        "{count} recordings, {:.1} MB, {IN_FLIGHT} in flight; paced runs of {paced_count}",
        bytes as f64 / 1e6
    );

    // baseline
    let services = Services::start(4).await;
    services.create_topic(BASELINE_EVENTS, 4).await;
    services.produce(&all).await;
    let cpu = Cpu::start(&services, None);
    let started = Instant::now();
    let moved = baseline(&services, count, None).await?;
    let rate = count as f64 / started.elapsed().as_secs_f64();
    let baseline_cpu = cpu.per_recording(count);
    let baseline_rate = rate;
    let paced = paced_copies(copies + 1, paced_count);
    let latencies = paced_run(&services, &paced, rate / 2.0, BASELINE_EVENTS, || {
        baseline(&services, paced.len(), Some(moved))
    })
    .await?;
    report(
        "baseline (consume, PUT bytes, produce 1 event)",
        rate,
        &latencies,
        None,
    );
    println!("  CPU ms per recording: {baseline_cpu}");
    drop(services);

    // the service
    let services = Services::start(4).await;
    services.produce(&all).await;
    let dir = tempfile::tempdir()?;
    let (config, port) = bench_config(&services, dir.path())?;
    let started = Instant::now();
    let serve = service::Service::start(
        &binary,
        &services,
        &config,
        port,
        &dir.path().join("serve.log"),
    );
    let cpu = Cpu::start(&services, serve.pid());
    serve.wait_metric(
        "callscore_recordings_processed_total",
        &[],
        count as f64,
        Duration::from_secs(3600),
    );
    let rate = count as f64 / started.elapsed().as_secs_f64();
    let serve_cpu = cpu.per_recording(count);
    let metrics = serve.metrics();
    let latencies = paced_run(&services, &paced, rate / 2.0, service::SCORES, || async {
        let target = (count + paced.len()) as f64;
        let done = serve
            .reach(
                "callscore_recordings_processed_total",
                &[],
                target,
                Duration::from_secs(3600),
            )
            .await;
        anyhow::ensure!(done, "the paced run did not finish");
        Ok(0)
    })
    .await?;
    let peak = serve.peak_memory_kib();
    report(
        "callscore serve (decode, detect, score, store, publish)",
        rate,
        &latencies,
        peak,
    );
    println!("  CPU ms per recording: {serve_cpu}");
    profile(&metrics, count);
    println!(
        "serve / baseline: {:.0} % of the baseline's recordings per second",
        100.0 * rate / baseline_rate
    );
    drop(serve);
    drop(services);

    println!("instances in one group on 4 partitions (2 cores: the ceiling is the cores)");
    println!("  1: {rate:.1} recordings/s");
    for instances in [2, 4] {
        let total = scaled(&binary, &all, instances).await?;
        println!(
            "  {instances}: {total:.1} recordings/s, {:.1} per instance",
            total / instances as f64
        );
    }
    Ok(())
}

/// The service's configuration in `dir` for the benchmark: the bench's in-flight bound, room
/// for the bytes of that many recordings, and warnings only in the log.
fn bench_config(services: &Services, dir: &Path) -> anyhow::Result<(std::path::PathBuf, u16)> {
    let (config, port) = services.config(dir, "bench", "");
    let text = std::fs::read_to_string(&config)?
        .replace("max_in_flight = 8", &format!("max_in_flight = {IN_FLIGHT}"))
        .replace(
            "max_in_flight_bytes = 8388608",
            "max_in_flight_bytes = 67108864",
        )
        .replace(
            "log_level = \"info,callscore=debug\"",
            "log_level = \"warn\"",
        );
    std::fs::write(&config, text)?;
    Ok((config, port))
}

/// Drains `all` through `instances` services in one group: recordings per second in all.
async fn scaled(binary: &Path, all: &[Recording], instances: usize) -> anyhow::Result<f64> {
    let services = Services::start(4).await;
    services.produce(all).await;
    let dirs = (0..instances)
        .map(|_| tempfile::tempdir())
        .collect::<Result<Vec<_>, _>>()?;
    let started = Instant::now();
    let mut running = Vec::new();
    for dir in &dirs {
        let (config, port) = bench_config(&services, dir.path())?;
        running.push(service::Service::start(
            binary,
            &services,
            &config,
            port,
            &dir.path().join("serve.log"),
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(3600);
    loop {
        let done: f64 = running
            .iter()
            .map(|s| service::metric(&s.metrics(), "callscore_recordings_processed_total", &[]))
            .sum();
        if done >= all.len() as f64 {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the instances did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(all.len() as f64 / started.elapsed().as_secs_f64())
}

/// The service's own account of where its time went: mean seconds per stage, and store
/// requests per recording by operation.
#[allow(clippy::print_stdout)]
fn profile(metrics: &str, count: usize) {
    const STAGE: &str = "callscore_stage_duration_seconds";
    let mut stages = Vec::new();
    for stage in ["fetch", "decode", "detect", "score", "store", "publish"] {
        let label = format!("stage=\"{stage}\"");
        let n = service::metric(metrics, &format!("{STAGE}_count"), &[&label]);
        if n > 0.0 {
            let sum = service::metric(metrics, &format!("{STAGE}_sum"), &[&label]);
            stages.push(format!("{stage} {:.1}", 1000.0 * sum / n));
        }
    }
    println!("  mean ms per stage: {}", stages.join(", "));
    let mut requests = Vec::new();
    for operation in ["head", "put", "mark", "get", "list", "delete"] {
        let label = format!("operation=\"{operation}\"");
        let n = service::metric(metrics, "callscore_store_requests_total", &[&label]);
        if n > 0.0 {
            requests.push(format!("{operation} {:.2}", n / count as f64));
        }
    }
    println!("  store requests per recording: {}", requests.join(", "));
}

/// CPU time of the processes of a run: the service (or this process, for the baseline's
/// mover), the store and the broker.
struct Cpu {
    pids: [(&'static str, Option<u32>); 3],
    at_start: [f64; 3],
    machine_at_start: (f64, f64),
}

impl Cpu {
    fn start(services: &Services, service: Option<u32>) -> Cpu {
        let pids = [
            (
                if service.is_some() {
                    "service"
                } else {
                    "mover"
                },
                service.or(Some(std::process::id())),
            ),
            ("store", services.garage.pid()),
            ("broker", services.broker.pid()),
        ];
        let at_start = pids.map(|(_, pid)| cpu_seconds(pid));
        Cpu {
            pids,
            at_start,
            machine_at_start: machine_ticks(),
        }
    }

    /// Each process's CPU milliseconds per recording, and how busy the machine's cores were.
    fn per_recording(&self, count: usize) -> String {
        let (busy, total) = machine_ticks();
        let (busy_0, total_0) = self.machine_at_start;
        let machine = format!(
            "; the machine's cores {:.0} % busy",
            100.0 * (busy - busy_0) / (total - total_0)
        );
        self.pids
            .iter()
            .zip(self.at_start)
            .map(|((name, pid), start)| {
                let ms = 1000.0 * (cpu_seconds(*pid) - start) / count as f64;
                format!("{name} {ms:.1}")
            })
            .collect::<Vec<_>>()
            .join(", ")
            + &machine
    }
}

/// The machine's busy and total CPU ticks so far, all cores (from /proc/stat).
fn machine_ticks() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    let total: f64 = ticks.iter().sum();
    // idle and iowait
    let idle = ticks.get(3).unwrap_or(&0.0) + ticks.get(4).unwrap_or(&0.0);
    (total - idle, total)
}

/// User and system CPU seconds of process `pid` so far (Linux).
fn cpu_seconds(pid: Option<u32>) -> f64 {
    let Some(stat) = pid.and_then(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
    else {
        return f64::NAN;
    };
    // the fields after the command name, which is in parentheses and may hold spaces
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // utime and stime are the 14th and 15th fields of the line, the 12th and 13th here
    // the kernel counts them in USER_HZ, 100 a second on Linux's common architectures
    (ticks(11) + ticks(12)) / 100.0
}

/// `count` recordings copied under ids unused by the backlog, whose copies come before
/// `first_copy`.
fn paced_copies(first_copy: usize, count: usize) -> Vec<Recording> {
    let per_copy = service::recordings(1).len();
    let mut paced = service::recordings(first_copy + count.div_ceil(per_copy));
    paced.drain(..first_copy * per_copy);
    paced.truncate(count);
    paced
}

/// Produces `recordings` at `rate` per second while `drain` runs, then returns each
/// recording's latency in seconds: from just before it was produced to its last event on
/// `events` (the event's timestamp, set by its producer on this machine's clock).
async fn paced_run<F, Fut>(
    services: &Services,
    recordings: &[Recording],
    rate: f64,
    events: &str,
    drain: F,
) -> anyhow::Result<Vec<f64>>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<usize>>,
{
    let producing = async {
        let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
        let mut next = Instant::now();
        let mut sent = HashMap::new();
        for recording in recordings {
            tokio::time::sleep_until(next.into()).await;
            sent.insert(recording.call_id().to_string(), now_millis());
            services.produce(std::slice::from_ref(recording)).await;
            next += interval;
        }
        sent
    };
    let (sent, drained) = tokio::join!(producing, drain());
    drained?;
    let mut last: HashMap<String, i64> = HashMap::new();
    for event in services.read(events, usize::MAX, Duration::from_secs(15)) {
        // the service's events name their call; the baseline's are keyed by it
        let call = serde_json::from_slice::<serde_json::Value>(&event.payload)
            .ok()
            .and_then(|v| v["call_id"].as_str().map(str::to_string));
        let (Some(key), Some(at)) = (call.or(event.key), event.timestamp) else {
            continue;
        };
        let entry = last.entry(key).or_insert(at);
        *entry = (*entry).max(at);
    }
    let mut latencies: Vec<f64> = recordings
        .iter()
        .filter_map(|r| {
            let key = r.call_id();
            Some((last.get(key)? - sent.get(key)?) as f64 / 1000.0)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    Ok(latencies)
}

const BASELINE_EVENTS: &str = "baseline-events";

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Moves recordings from the topic to the store with no processing, `IN_FLIGHT` at a time,
/// until `count` more are done. `consumed` continues a consumer group already `consumed` deep.
async fn baseline(
    services: &Services,
    count: usize,
    consumed: Option<usize>,
) -> anyhow::Result<usize> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", services.bootstrap())
        .set("group.id", "baseline")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.offset.store", "true")
        .create()?;
    consumer.subscribe(&[service::RECORDINGS])?;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", services.bootstrap())
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()?;
    let s3 = services.s3();
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..count {
        let message = consumer.recv().await?.detach();
        let permit = Arc::clone(&permits).acquire_owned().await?;
        let (s3, producer) = (s3.clone(), producer.clone());
        tasks.spawn(async move {
            let _permit = permit;
            let key = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
            let body = message.payload().unwrap_or_default().to_vec();
            s3.put_object()
                .bucket("audio")
                .key(format!("baseline/{key}/{}", message.offset()))
                .body(body.into())
                .send()
                .await?;
            producer
                .send(
                    FutureRecord::to(BASELINE_EVENTS).key(&key).payload("{}"),
                    Duration::from_secs(30),
                )
                .await
                .map_err(|(e, _)| e)?;
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    consumer.commit_consumer_state(rdkafka::consumer::CommitMode::Sync)?;
    Ok(consumed.unwrap_or(0) + count)
}

#[allow(clippy::print_stdout)]
fn report(what: &str, rate: f64, latencies: &[f64], peak_kib: Option<u64>) {
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!("{what}");
    println!("  backlog: {rate:.1} recordings/s");
    println!(
        "  paced at {:.1}/s: end-to-end p50 {:.0} ms, p99 {:.0} ms ({} recordings)",
        rate / 2.0,
        at(0.5) * 1000.0,
        at(0.99) * 1000.0,
        latencies.len()
    );
    if let Some(kib) = peak_kib {
        println!("  peak memory (VmHWM): {:.1} MiB", kib as f64 / 1024.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A paced run measures new recordings: one whose id the backlog used would be a
    /// redelivery, which `serve` answers without writing the audio.
    #[test]
    fn paced_recordings_never_reuse_a_backlog_id() {
        let id = |r: &Recording| r.metadata["recording_id"].as_str().map(str::to_string);
        let backlog: std::collections::HashSet<_> =
            service::recordings(3).iter().filter_map(id).collect();
        let paced = paced_copies(3, 25);
        assert_eq!(paced.len(), 25);
        for recording in &paced {
            let paced_id = id(recording).expect("an id");
            assert!(!backlog.contains(&paced_id), "{paced_id} is a backlog id");
        }
    }
}
