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
//! rate for latency (p50/p99 from the recording's broker timestamp to its last event's).
//! The service's peak memory is its VmHWM.
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
    let started = Instant::now();
    let moved = baseline(&services, count, None).await?;
    let rate = count as f64 / started.elapsed().as_secs_f64();
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
    drop(services);

    // the service
    let services = Services::start(4).await;
    services.produce(&all).await;
    let dir = tempfile::tempdir()?;
    let (config, port) = services.config(dir.path(), "bench", "");
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
    let started = Instant::now();
    let serve = service::Service::start(
        &binary,
        &services,
        &config,
        port,
        &dir.path().join("serve.log"),
    );
    serve.wait_metric(
        "callscore_recordings_processed_total",
        &[],
        count as f64,
        Duration::from_secs(3600),
    );
    let rate = count as f64 / started.elapsed().as_secs_f64();
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
    Ok(())
}

/// `count` recordings copied under ids unused by the backlog.
fn paced_copies(first_copy: usize, count: usize) -> Vec<Recording> {
    let mut paced = service::recordings(first_copy + count.div_ceil(7));
    paced.drain(..first_copy * 7);
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
        let (Some(key), Some(at)) = (event.key, event.timestamp) else {
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
