//! `callscore process`: recordings in, stored audio and score events out, with no services.
//! The same processing path as `callscore serve`, with a local directory store and NDJSON.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, bail};
use callscore_audio::DecodeOptions;
use callscore_pipeline::{
    Analysis, DeadLetter, Failure, FileDefaults, FileSource, Keyring, LocalStore, NdjsonSink,
    NoStaging, Pipeline, PseudonymKey, Pseudonyms, Settings,
};
use callscore_worker::{Abandon, CancellationToken, Finished, Observer, Outcome, Policy, Worker};
use indicatif::{ProgressBar, ProgressStyle};

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

    /// Where to write the score events (added to the file); standard output when absent.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,

    /// Where to write dead letters (default: dead-letters.ndjson in the store directory).
    #[arg(long, value_name = "FILE")]
    dead_letters: Option<PathBuf>,

    /// Where the contact requests of callers who agreed to be contacted go: the one output
    /// with phone numbers (default: contact-requests.ndjson in the store directory).
    #[arg(long, value_name = "FILE")]
    contacts: Option<PathBuf>,

    /// Where transcription requests for spoken comments go (default:
    /// transcription-requests.ndjson in the store directory). A transcriber writes its
    /// transcripts to transcripts.ndjson beside it, which erasure rewrites too.
    #[arg(long, value_name = "FILE")]
    transcriptions: Option<PathBuf>,

    /// A file holding the pseudonymisation key (raw bytes, or hex).
    #[arg(long, value_name = "FILE", conflicts_with = "keyring")]
    pseudonym_key_file: Option<PathBuf>,

    /// A keyring directory of rotating pseudonymisation keys (`TENANT/kYYYYMMDD.key`, made by
    /// `callscore keys rotate`), instead of one fixed key.
    #[arg(long, value_name = "DIR")]
    keyring: Option<PathBuf>,

    /// The id of the pseudonymisation key, recorded in every pseudonym so keys can rotate.
    #[arg(long, value_name = "ID", default_value = "k1")]
    pseudonym_key_id: String,

    #[command(flatten)]
    numbers: crate::settings::NumberArgs,

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
        Ok((pipeline, files)) => match process(args, pipeline, &files) {
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
    let crate::settings::Surveys { surveys, prompts } =
        crate::settings::load_surveys(&args.surveys)?;
    let pseudonyms = match &args.keyring {
        Some(dir) => Pseudonyms::ring(Keyring::open(dir)?),
        None => {
            let secret = crate::settings::read_secret(
                args.pseudonym_key_file.as_deref(),
                "CALLSCORE_PSEUDONYM_KEY",
                "pseudonymisation key",
            )?;
            Pseudonyms::fixed(PseudonymKey::new(&args.pseudonym_key_id, secret)?)
        }
    }
    .with_numbering(args.numbers.numbering()?);
    let retention = crate::settings::load_retention(args.retention.as_deref())?;
    let settings = Settings {
        surveys,
        pseudonyms,
        retention,
        decode: DecodeOptions::default(),
        extended_keys: true,
        pipeline_version: format!("callscore {}", env!("CARGO_PKG_VERSION")),
        prompts,
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

/// What the run saw, for the summary: the delivery core's events, counted.
struct Summary {
    progress: ProgressBar,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    processed: usize,
    already_stored: usize,
    keys: usize,
    audio_seconds: f64,
    answers: BTreeMap<&'static str, usize>,
    failures: BTreeMap<&'static str, usize>,
    warnings: usize,
    abandoned: usize,
}

impl Summary {
    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Observer for Summary {
    fn analysed(&self, analysis: &Analysis) {
        let mut counts = self.counts();
        counts.keys += analysis.keys_in_band;
        counts.audio_seconds += analysis.audio_seconds;
        for status in analysis.statuses() {
            *counts.answers.entry(status.name()).or_default() += 1;
        }
        for warning in &analysis.warnings {
            counts.warnings += 1;
            let input = analysis.input();
            self.progress
                .suspend(|| crate::complain(&format!("{input}: warning: {warning}")));
        }
    }

    fn dead_lettered(&self, letter: &DeadLetter) {
        *self
            .counts()
            .failures
            .entry(letter.reason.as_str())
            .or_default() += 1;
        let text = format!(
            "{}: {} failed ({}): {}",
            letter.input,
            letter.stage.as_str(),
            letter.reason.as_str(),
            letter.message
        );
        self.progress.suspend(|| crate::complain(&text));
    }

    fn retrying(&self, failure: &Failure, attempt: u32, _wait: std::time::Duration) {
        let text = format!("{failure} (attempt {attempt}; trying again)");
        self.progress.suspend(|| crate::complain(&text));
    }

    fn finished(&self, finished: &Finished<'_>) {
        let mut counts = self.counts();
        match finished.outcome {
            Outcome::Processed => counts.processed += 1,
            Outcome::Redelivered => {
                counts.processed += 1;
                counts.already_stored += 1;
            }
            Outcome::DeadLettered => {}
        }
        self.progress.inc(1);
    }

    fn abandoned(&self, input: &str, _why: Abandon) {
        self.counts().abandoned += 1;
        self.progress
            .suspend(|| crate::complain(&format!("{input}: interrupted, not processed")));
    }
}

fn process(args: &Args, pipeline: Pipeline, files: &[PathBuf]) -> anyhow::Result<bool> {
    let store = LocalStore::open(&args.store)
        .with_context(|| format!("cannot open the store {}", args.store.display()))?;
    // the events file is added to, like the dead letters and the contact requests: it may
    // hold an earlier batch's events and the erasure events downstream needs
    let events: Box<dyn Write + Send> = match &args.out {
        Some(path) => Box::new(BufWriter::new(
            File::options()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open {}", path.display()))?,
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
    let contacts = args
        .contacts
        .clone()
        .unwrap_or_else(|| args.store.join("contact-requests.ndjson"));
    let transcriptions = args
        .transcriptions
        .clone()
        .unwrap_or_else(|| args.store.join("transcription-requests.ndjson"));
    let transcripts = transcriptions.with_file_name("transcripts.ndjson");
    let mut sink = NdjsonSink::new(events)
        .with_contacts(contacts)
        .with_transcriptions(transcriptions, transcripts);
    if let Some(out) = &args.out {
        sink = sink.with_events_file(out.clone());
    }

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
        .and_then(NonZeroUsize::new)
        .unwrap_or(NonZeroUsize::MIN);
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
    let source = FileSource::new(files.to_vec(), defaults, limit, Box::new(letters));
    let summary = Arc::new(Summary {
        progress,
        counts: Mutex::new(Counts::default()),
    });
    let mut policy = Policy::batch(jobs);
    policy.max_input_bytes = limit;
    let worker = Worker::new(
        pipeline,
        source,
        store,
        sink,
        NoStaging,
        Arc::clone(&summary),
        policy,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(jobs.get().max(2))
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let started = Instant::now();
    let report = runtime.block_on(async {
        let cancel = CancellationToken::new();
        let interrupted = cancel.clone();
        tokio::spawn(async move {
            // Ctrl-C: finish what is in flight, take nothing more
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupted.cancel();
            }
        });
        worker.run(cancel).await
    });
    summary.progress.finish_and_clear();
    let counts = summary.counts();
    report_summary(
        &counts,
        files.len(),
        started.elapsed().as_secs_f64(),
        &letters_path,
    );
    if let Some(fatal) = report.fatal {
        bail!("stopped: {fatal}");
    }
    Ok(counts.failures.is_empty() && counts.abandoned == 0)
}

fn report_summary(counts: &Counts, files: usize, seconds: f64, letters: &Path) {
    let failed: usize = counts.failures.values().sum();
    let mut text = format!(
        "{files} recordings in {seconds:.1} s: {} processed ({} already stored), {failed} failed; \
         {:.1} audio minutes, {} key presses\n",
        counts.processed,
        counts.already_stored,
        counts.audio_seconds / 60.0,
        counts.keys
    );
    let answers: Vec<String> = counts
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
        let reasons: Vec<String> = counts
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
    if counts.warnings > 0 {
        text.push_str(&format!("warnings: {}\n", counts.warnings));
    }
    if counts.abandoned > 0 {
        text.push_str(&format!(
            "interrupted: {} recordings not processed\n",
            counts.abandoned
        ));
    }
    let _ = io::stderr().write_all(text.as_bytes());
}
