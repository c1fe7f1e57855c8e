//! `callscore process`: recordings in, stored audio and score events out, with no services.
//! The same processing path as `callscore serve`, with a local directory store and NDJSON.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, bail};
use callscore_audio::DecodeOptions;
use callscore_pipeline::{
    DeadLetter, Delivered, EventSink, Failure, FileDefaults, FileReceipt, FileSource, Incoming,
    LocalStore, NdjsonSink, Pipeline, PseudonymKey, RecordingSource, Rejected, RetentionConfig,
    Settings,
};
use indicatif::{ProgressBar, ProgressStyle};
use jiff::Timestamp;

/// Process recordings: find the key presses, turn them into survey answers, store the audio
/// with its retention data, and write score events as NDJSON.
///
/// Each recording may have a sidecar metadata file beside it (`NAME.json` for `NAME.wav`;
/// schema: schemas/recording-metadata.v1.schema.json). Without one, the flags supply the
/// tenant and survey, the file name the recording and call ids, and the file's modification
/// time the call's start.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The caller's number is pseudonymised with HMAC-SHA256 under a secret key of at least 32 bytes,
read from the file --pseudonym-key-file names or, as hex, from CALLSCORE_PSEUDONYM_KEY. It never
reaches the events, the store, or the messages.

Exit status: 0 when every recording was processed; 1 when at least one failed (each failure
has a dead-letter record with its reason); 2 for a wrong command line or configuration.")]
pub(crate) struct Args {
    /// Recordings, or directories of recordings (not searched below).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// A survey definition (TOML); repeat for several. Metadata picks one by id.
    #[arg(long = "survey", value_name = "FILE", required = true)]
    surveys: Vec<PathBuf>,

    /// The tenant of recordings without metadata.
    #[arg(long)]
    tenant: Option<String>,

    /// Directory of the audio store (created if missing).
    #[arg(long, value_name = "DIR", default_value = "callscore-store")]
    store: PathBuf,

    /// Where to write the score events; standard output when absent.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,

    /// Where to write dead letters (default: dead-letters.ndjson in the store directory).
    #[arg(long, value_name = "FILE")]
    dead_letters: Option<PathBuf>,

    /// A file holding the pseudonymisation key (raw bytes, or hex).
    #[arg(long, value_name = "FILE")]
    pseudonym_key_file: Option<PathBuf>,

    /// The id of the pseudonymisation key, recorded in every pseudonym so keys can rotate.
    #[arg(long, value_name = "ID", default_value = "k1")]
    pseudonym_key_id: String,

    /// A TOML file of retention periods: a `[default]` table and `[tenants.NAME]` tables, each
    /// with `respondent = "12 months"`, `non_respondent`, `consented_contact` (the built-in
    /// default is 12, 2 and 24 months).
    #[arg(long, value_name = "FILE")]
    retention: Option<PathBuf>,

    /// Recordings processed at once (default: one per core).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
}

/// Extensions that are never recordings.
const NOT_AUDIO: [&str; 6] = ["json", "toml", "md", "txt", "ndjson", "tmp"];

pub(crate) fn run(args: &Args) -> ExitCode {
    match setup(args) {
        Ok((pipeline, files)) => match process(args, &pipeline, &files) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(error) => {
                crate::complain(&format!("{error:#}"));
                ExitCode::FAILURE
            }
        },
        Err(error) => {
            crate::complain(&format!("{error:#}"));
            ExitCode::from(2)
        }
    }
}

/// Reads the configuration and finds the recordings.
fn setup(args: &Args) -> anyhow::Result<(Pipeline, Vec<PathBuf>)> {
    let surveys = crate::settings::load_surveys(&args.surveys)?;
    let secret = crate::settings::read_secret(
        args.pseudonym_key_file.as_deref(),
        "CALLSCORE_PSEUDONYM_KEY",
        "pseudonymisation key",
    )?;
    let pseudonym_key = PseudonymKey::new(&args.pseudonym_key_id, secret)?;
    let retention = match &args.retention {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let config: RetentionConfig =
                toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
            config
                .validate()
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("{}", path.display()))?;
            config
        }
        None => RetentionConfig::default(),
    };
    let settings = Settings {
        surveys,
        pseudonym_key,
        tenant_keys: HashMap::new(),
        retention: retention.default,
        tenant_retention: retention.tenants,
        decode: DecodeOptions::default(),
        extended_keys: true,
        pipeline_version: format!("callscore {}", env!("CARGO_PKG_VERSION")),
    };
    let mut files = Vec::new();
    for path in &args.paths {
        find(path, &mut files).with_context(|| format!("cannot read {}", path.display()))?;
    }
    files.sort();
    if files.is_empty() {
        bail!("no recordings found");
    }
    Ok((Pipeline::new(settings), files))
}

/// Recordings at `path`: the file itself, or every non-hidden file in a directory that is not
/// metadata or notes (subdirectories are not searched: they often hold what was set aside).
fn find(path: &Path, files: &mut Vec<PathBuf>) -> io::Result<()> {
    if !path.is_dir() {
        std::fs::metadata(path)?;
        files.push(path.to_path_buf());
        return Ok(());
    }
    for entry in std::fs::read_dir(path)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        if name.starts_with('.') || NOT_AUDIO.contains(&extension.to_ascii_lowercase().as_str()) {
            continue;
        }
        if path.is_file() {
            files.push(path);
        }
    }
    Ok(())
}

/// What the run saw, for the summary.
#[derive(Debug, Default)]
struct Summary {
    processed: usize,
    already_stored: usize,
    keys: usize,
    audio_seconds: f64,
    answers: BTreeMap<&'static str, usize>,
    failures: BTreeMap<&'static str, usize>,
    warnings: usize,
}

fn process(args: &Args, pipeline: &Pipeline, files: &[PathBuf]) -> anyhow::Result<bool> {
    let store = LocalStore::open(&args.store)
        .with_context(|| format!("cannot open the store {}", args.store.display()))?;
    let events: Box<dyn Write + Send> = match &args.out {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(io::stdout()),
    };
    let letters_path = args
        .dead_letters
        .clone()
        .unwrap_or_else(|| args.store.join("dead-letters.ndjson"));
    let letters = File::options()
        .create(true)
        .append(true)
        .open(&letters_path)
        .with_context(|| format!("cannot open {}", letters_path.display()))?;
    let sink = NdjsonSink::new(events, letters);

    let progress = if io::stderr().is_terminal() {
        let bar = ProgressBar::new(files.len() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len} recordings, ETA {eta}",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let jobs = args
        .jobs
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1)
        .clamp(1, files.len());
    let surveys = &pipeline.settings().surveys;
    let defaults = FileDefaults {
        tenant: args.tenant.clone(),
        survey_id: surveys
            .keys()
            .next()
            .filter(|_| surveys.len() == 1)
            .cloned(),
    };
    let limit = pipeline.settings().decode.limits.max_input_bytes;
    let source = FileSource::new(files.to_vec(), defaults, limit);
    let started = Instant::now();
    let summary = Mutex::new(Summary::default());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                while let Some(next) = pollster::block_on(source.next()) {
                    let (input, outcome) = one(pipeline, &source, &store, &sink, next);
                    let mut summary = summary.lock().unwrap_or_else(|e| e.into_inner());
                    record(&mut summary, &input, outcome, &progress);
                    progress.inc(1);
                }
            });
        }
    });
    progress.finish_and_clear();
    let summary = summary.into_inner().unwrap_or_else(|e| e.into_inner());
    report(
        &summary,
        files.len(),
        started.elapsed().as_secs_f64(),
        &letters_path,
    );
    Ok(summary.failures.is_empty())
}

/// Processes one recording from the source: the shared path, then the acknowledgement; a
/// dead letter for any failure, intake failures included.
fn one(
    pipeline: &Pipeline,
    source: &FileSource,
    store: &LocalStore,
    sink: &NdjsonSink<Box<dyn Write + Send>, File>,
    next: Result<(Incoming, FileReceipt), Rejected>,
) -> (String, Result<Delivered, Failure>) {
    let (input, metadata, result) = match next {
        Ok((incoming, receipt)) => {
            let input = incoming.input.clone();
            let metadata = incoming.metadata.clone();
            let result = pipeline.analyse(incoming).and_then(|analysis| {
                pollster::block_on(pipeline.deliver(analysis, store, sink, Timestamp::now()))
            });
            if result.is_ok() {
                // files need no commit; the count feeds the summary's cross-check
                let _ = pollster::block_on(source.ack(receipt));
            }
            (input, Some(metadata), result)
        }
        Err(rejected) => (
            rejected.input,
            rejected.metadata.map(|m| *m),
            Err(rejected.failure),
        ),
    };
    if let Err(failure) = &result {
        let letter = DeadLetter::new(&input, metadata.as_ref(), failure, Timestamp::now());
        if let Err(error) = pollster::block_on(sink.dead_letter(&letter)) {
            // the one thing worse than a failure is losing track of it
            crate::complain(&format!("{input}: cannot write its dead letter: {error}"));
        }
    }
    (input, result)
}

fn record(
    summary: &mut Summary,
    input: &str,
    outcome: Result<Delivered, Failure>,
    progress: &ProgressBar,
) {
    match outcome {
        Ok(delivered) => {
            let analysis = &delivered.analysis;
            summary.processed += 1;
            if delivered.put == callscore_pipeline::PutOutcome::AlreadyStored {
                summary.already_stored += 1;
            }
            summary.keys += analysis.keys_in_band;
            summary.audio_seconds += analysis.audio_seconds;
            for status in analysis.statuses() {
                *summary.answers.entry(status.name()).or_default() += 1;
            }
            for warning in &analysis.warnings {
                summary.warnings += 1;
                progress.suspend(|| {
                    crate::complain(&format!("{input}: warning: {warning}"));
                });
            }
        }
        Err(failure) => {
            *summary.failures.entry(failure.reason.as_str()).or_default() += 1;
            progress.suspend(|| crate::complain(&format!("{input}: {failure}")));
        }
    }
}

fn report(summary: &Summary, files: usize, seconds: f64, letters: &Path) {
    let failed: usize = summary.failures.values().sum();
    let mut text = format!(
        "{files} recordings in {seconds:.1} s: {} processed ({} already stored), {failed} failed; \
         {:.1} audio minutes, {} key presses\n",
        summary.processed,
        summary.already_stored,
        summary.audio_seconds / 60.0,
        summary.keys
    );
    let answers: Vec<String> = summary
        .answers
        .iter()
        .map(|(status, n)| format!("{status} {n}"))
        .collect();
    text.push_str(&format!(
        "answers: {}\n",
        if answers.is_empty() {
            "none".into()
        } else {
            answers.join(", ")
        }
    ));
    if failed > 0 {
        let reasons: Vec<String> = summary
            .failures
            .iter()
            .map(|(reason, n)| format!("{reason} {n}"))
            .collect();
        text.push_str(&format!(
            "failures: {} (dead letters in {})\n",
            reasons.join(", "),
            letters.display()
        ));
    }
    if summary.warnings > 0 {
        text.push_str(&format!("warnings: {}\n", summary.warnings));
    }
    let _ = io::stderr().write_all(text.as_bytes());
}
