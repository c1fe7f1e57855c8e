//! `callscore transcribe`: the reference transcriber over a local store's comment clips.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use callscore_audio::{DecodeOptions, Recording};
use callscore_pipeline::layout::Place;
use callscore_pipeline::{
    AudioStore, LocalStore, ObjectMeta, TRANSCRIPTION_VERSION, TranscriptEvent, TranscriptWord,
    TranscriptionRequest, hex,
};
use callscore_transcribe::pocketsphinx::{DEBIAN_MODEL_DIR, PocketSphinx};
use sha2::{Digest, Sha256};

/// Transcribe the spoken comments `callscore process` stored, with the reference recogniser
/// (PocketSphinx, US English): each transcription request not yet answered gets a transcript
/// event in transcripts.ndjson (keyed by the request's id, as any transcriber writes it) and
/// the transcript stored beside its clip, so that export and erasure take it with the
/// recording. For evaluation and small deployments: a production deployment points its own
/// speech-to-text service at the transcription topic.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Idempotent: a request that already has a transcript is skipped.

Exit status: 0 when every request has a transcript; 1 when a clip could not be read or
transcribed (the others are done); 2 for a wrong command line or a missing model.")]
pub(crate) struct Args {
    /// The local store (as `callscore process --store`).
    #[arg(long, value_name = "DIR")]
    store: PathBuf,
    /// The transcription requests (default: transcription-requests.ndjson in the store).
    #[arg(long, value_name = "FILE")]
    requests: Option<PathBuf>,
    /// The recogniser's model directory.
    #[arg(long, value_name = "DIR", default_value = DEBIAN_MODEL_DIR)]
    model: PathBuf,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    match transcribe(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            crate::complain(&format!("{e:#}"));
            ExitCode::from(2)
        }
    }
}

#[allow(clippy::print_stdout)]
fn transcribe(args: &Args) -> anyhow::Result<bool> {
    let requests_path = args
        .requests
        .clone()
        .unwrap_or_else(|| args.store.join("transcription-requests.ndjson"));
    let transcripts_path = requests_path.with_file_name("transcripts.ndjson");
    let store = LocalStore::open(&args.store)
        .with_context(|| format!("cannot open the store {}", args.store.display()))?;
    let mut recogniser = PocketSphinx::new(&args.model)?;
    let done: BTreeSet<String> = read_lines(&transcripts_path)?
        .iter()
        .filter_map(|v| v["request_id"].as_str().map(str::to_string))
        .collect();
    let mut out = File::options()
        .create(true)
        .append(true)
        .open(&transcripts_path)
        .with_context(|| format!("cannot open {}", transcripts_path.display()))?;
    let (mut made, mut failed) = (0, 0);
    for value in read_lines(&requests_path)? {
        let request: TranscriptionRequest = match serde_json::from_value(value) {
            Ok(request) => request,
            Err(e) => {
                crate::complain(&format!("a malformed transcription request: {e}"));
                failed += 1;
                continue;
            }
        };
        if done.contains(&request.request_id) {
            continue;
        }
        match one(&store, &mut recogniser, &request) {
            Ok(event) => {
                let mut line = serde_json::to_vec(&event)?;
                line.push(b'\n');
                out.write_all(&line)?;
                made += 1;
            }
            Err(e) => {
                crate::complain(&format!("request {}: {e:#}", request.request_id));
                failed += 1;
            }
        }
    }
    out.sync_data()?;
    println!(
        "{made} transcribed, {} already were, {failed} failed ({})",
        done.len(),
        recogniser.engine()
    );
    Ok(failed == 0)
}

/// Transcribes one clip and stores the transcript beside it.
fn one(
    store: &LocalStore,
    recogniser: &mut PocketSphinx,
    request: &TranscriptionRequest,
) -> anyhow::Result<TranscriptEvent> {
    let key = store
        .key_of(&request.clip.uri)
        .with_context(|| format!("the clip {} is not in this store", request.clip.uri))?;
    let bytes = pollster::block_on(store.get(&key))?.context("the clip is not in the store")?;
    anyhow::ensure!(
        hex(&Sha256::digest(&bytes)) == request.clip.sha256,
        "the clip's checksum differs from the request's"
    );
    let extension = Path::new(key.as_str())
        .extension()
        .map(|e| e.to_string_lossy().into_owned());
    let options = DecodeOptions {
        extension,
        ..DecodeOptions::default()
    };
    let mut recording = Recording::open_bytes(Arc::from(bytes), &options)?;
    let mut samples = Vec::new();
    while let Some(block) = recording.next_block()? {
        samples.extend_from_slice(&block[0]);
    }
    let heard = recogniser.transcribe(&samples)?;
    let event = TranscriptEvent {
        schema_version: TRANSCRIPTION_VERSION,
        event_type: "transcript".into(),
        request_id: request.request_id.clone(),
        tenant: request.tenant.clone(),
        recording_id: request.recording_id.clone(),
        question_id: request.question_id.clone(),
        language: Some("en-US".into()),
        text: heard.text,
        confidence: heard.confidence,
        words: heard
            .words
            .into_iter()
            .map(|w| TranscriptWord {
                text: w.text,
                start_ms: w.start_ms,
                end_ms: w.end_ms,
            })
            .collect(),
        engine: recogniser.engine(),
        retention: request.retention,
        transcribed_at: jiff::Timestamp::now(),
    };
    let json = serde_json::to_vec_pretty(&event)?;
    let (place, _) = Place::of_key(&key).context("the clip is not laid out as callscore's")?;
    let meta = ObjectMeta {
        tenant: request.tenant.clone(),
        recording_id: request.recording_id.clone(),
        retention_class: request.retention.class,
        expires_on: request.retention.expires_on,
        sha256: hex(&Sha256::digest(&json)),
        content_type: "application/json".into(),
        size: json.len() as u64,
    };
    let transcript = place.file(&format!(
        "{}{}.transcript.json",
        callscore_pipeline::layout::COMMENT_FILE,
        request.question_id
    ));
    pollster::block_on(store.replace(&transcript, &json, &meta))?;
    Ok(event)
}

fn read_lines(path: &Path) -> anyhow::Result<Vec<serde_json::Value>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).with_context(|| format!("{}: not JSON", path.display())))
        .collect()
}
