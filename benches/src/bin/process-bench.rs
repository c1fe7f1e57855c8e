//! The whole processing path over a few hundred recordings, as `callscore process` runs it
//! (the same `Pipeline`, local store and NDJSON sink), on one thread so that wall time is CPU
//! time: recordings and audio-hours per CPU-second, and the share of each stage.
//!
//! The recordings are the committed survey fixtures (`fixtures/recordings`), each copied
//! under many recording ids, so every one is decoded, detected, scored, stored and published.
//!
//! ```sh
//! cargo run --release -p callscore-benches --bin process-bench -- 400
//! ```

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use callscore_audio::DecodeOptions;
use callscore_benches::thread_cpu_seconds;
use callscore_pipeline::{
    Incoming, LocalStore, NdjsonSink, Pipeline, PseudonymKey, Pseudonyms, RecordingMetadata,
    Settings, Timings,
};
use callscore_survey::Survey;

#[allow(clippy::print_stdout)]
fn main() -> anyhow::Result<()> {
    let count: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(400);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut surveys = HashMap::new();
    for name in ["nps-csat", "nps-comment"] {
        let survey = Survey::from_toml(&std::fs::read_to_string(
            fixtures.join(format!("surveys/{name}.toml")),
        )?)?;
        surveys.insert(survey.id().to_string(), survey);
    }
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(fixtures.join("recordings"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wav") {
            let metadata =
                RecordingMetadata::from_json(&std::fs::read(path.with_extension("json"))?)?;
            let audio: Arc<[u8]> = std::fs::read(&path)?.into();
            sources.push((metadata, audio));
        }
    }
    sources.sort_by(|a, b| a.0.recording_id.cmp(&b.0.recording_id));
    let settings = Settings {
        surveys,
        pseudonyms: Pseudonyms::fixed(PseudonymKey::new("bench", vec![7; 32])?),
        retention: Default::default(),
        decode: DecodeOptions::default(),
        extended_keys: true,
        pipeline_version: "bench".into(),
        prompts: Default::default(),
    };
    let pipeline = Pipeline::new(settings);
    let dir = tempfile::tempdir()?;
    let store = LocalStore::open(&dir.path().join("store"))?;
    let sink = NdjsonSink::new(std::io::BufWriter::new(std::fs::File::create(
        dir.path().join("events.ndjson"),
    )?))
    .with_contacts(dir.path().join("contact-requests.ndjson"))
    .with_transcriptions(
        dir.path().join("transcription-requests.ndjson"),
        dir.path().join("transcripts.ndjson"),
    );

    let mut total = Timings::default();
    let (mut audio_seconds, mut events) = (0.0, 0);
    let started = thread_cpu_seconds();
    for i in 0..count {
        let (metadata, audio) = &sources[i % sources.len()];
        let mut metadata = metadata.clone();
        metadata.recording_id = format!("{}-{i:05}", metadata.recording_id);
        let incoming = Incoming {
            input: metadata.recording_id.clone(),
            metadata,
            audio: Arc::clone(audio),
            extension: Some("wav".into()),
            received_at: jiff::Timestamp::UNIX_EPOCH,
        };
        let analysis = pipeline.analyse(incoming)?;
        let delivered = pollster::block_on(pipeline.deliver(
            analysis,
            &store,
            &sink,
            jiff::Timestamp::UNIX_EPOCH,
        ))?;
        let t = delivered.analysis.timings;
        total.decode += t.decode;
        total.detect += t.detect;
        total.score += t.score;
        total.store += t.store;
        total.publish += t.publish;
        audio_seconds += delivered.analysis.audio_seconds;
        events += delivered.events;
    }
    let cpu = thread_cpu_seconds() - started;
    let stages = [
        ("decode", total.decode),
        ("detect", total.detect),
        ("score", total.score),
        ("store", total.store),
        ("publish", total.publish),
    ];
    let staged: f64 = stages.iter().map(|(_, d)| d.as_secs_f64()).sum();
    println!(
        "{count} recordings ({:.2} audio hours, {events} events) in {cpu:.2} CPU-seconds on one thread",
        audio_seconds / 3600.0
    );
    println!("  {:.0} recordings per CPU-second", count as f64 / cpu);
    println!(
        "  {:.2} audio hours per CPU-second",
        audio_seconds / 3600.0 / cpu
    );
    println!(
        "  wall time per stage, {staged:.2} s in all (more than the CPU time when the store \
         waits for its fsync):"
    );
    for (name, duration) in stages {
        println!(
            "    {name:<8} {:>7.3} s  {:>5.1} %",
            duration.as_secs_f64(),
            100.0 * duration.as_secs_f64() / staged
        );
    }
    Ok(())
}
