//! The privacy commands' shared set-up: where they act (a local store, or the service's S3
//! store and Kafka topics), with which keys, their audit origin, and their reports.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use callscore_kafka::{KafkaSink, SinkConfig};
use callscore_pipeline::audit::{AuditOrigin, NdjsonAudit};
use callscore_pipeline::{
    Keyring, LocalStore, NdjsonSink, PseudonymKey, Pseudonyms, RetentionConfig,
};
use callscore_s3::S3Store;
use jiff::civil::Date;

use crate::serve::config::Config;

/// Where a privacy command acts.
#[derive(Debug, clap::Args)]
pub(crate) struct TargetArgs {
    /// The service's configuration: its S3 store, its Kafka topics (audit records to
    /// `kafka.audit_topic`), its retention, its keys.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "store",
        required_unless_present = "store"
    )]
    config: Option<PathBuf>,

    /// A local store directory (as `callscore process --store`).
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,

    /// With --store: the retention periods (as `callscore process --retention`).
    #[arg(long, value_name = "FILE", requires = "store")]
    retention: Option<PathBuf>,

    /// With --store: the keyring directory (as `callscore process --keyring`).
    #[arg(
        long,
        value_name = "DIR",
        requires = "store",
        conflicts_with = "pseudonym_key_file"
    )]
    keyring: Option<PathBuf>,

    /// With --store: a fixed pseudonymisation key (as `callscore process`); else
    /// CALLSCORE_PSEUDONYM_KEY.
    #[arg(long, value_name = "FILE", requires = "store")]
    pseudonym_key_file: Option<PathBuf>,

    // with --store: how the callers' numbers were written (as `callscore process`)
    #[command(flatten)]
    numbers: crate::settings::NumberArgs,

    /// With --store: the events file `callscore process --out` wrote: retracted facts are
    /// taken out of it, and new events (an erasure's, a moved recording's) appended (default:
    /// events.republished.ndjson in the store).
    #[arg(long, value_name = "FILE", requires = "store")]
    events: Option<PathBuf>,

    /// With --store: the contact requests file (default: contact-requests.ndjson in the
    /// store, as `callscore process` writes it).
    #[arg(long, value_name = "FILE", requires = "store")]
    contacts: Option<PathBuf>,

    /// With --store: the transcription requests file; transcripts.ndjson beside it holds the
    /// transcripts (default: transcription-requests.ndjson in the store, as `callscore
    /// process` writes it).
    #[arg(long, value_name = "FILE", requires = "store")]
    transcriptions: Option<PathBuf>,

    /// With --store: where audit records go (default: audit.ndjson in the store).
    #[arg(long, value_name = "FILE", requires = "store")]
    audit: Option<PathBuf>,

    /// Say what would be done, in the same report, and change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Report as one JSON object on standard output.
    #[arg(long)]
    pub(crate) json: bool,
}

/// A local store or the service's, opened.
pub(crate) enum Target {
    /// A directory, NDJSON files.
    Local {
        store: LocalStore,
        sink: NdjsonSink<File>,
        audit: NdjsonAudit<File>,
        pseudonyms: Option<Pseudonyms>,
        retention: RetentionConfig,
        origin: AuditOrigin,
    },
    /// S3 and Kafka.
    Service {
        store: Box<S3Store>,
        sink: Box<KafkaSink>,
        pseudonyms: Option<Pseudonyms>,
        retention: RetentionConfig,
        origin: AuditOrigin,
    },
}

impl Target {
    /// Reads the configuration; a problem there is the caller's (exit 2).
    pub(crate) fn prepare(args: &TargetArgs, command: &str) -> anyhow::Result<Prepared> {
        if let Some(path) = &args.config {
            if args.numbers.given() {
                bail!("with --config, the configuration's [numbers] says how numbers are written");
            }
            let text =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let config = Config::load(path)?;
            if config.kafka.audit_topic.is_none() {
                bail!(
                    "{}: kafka.audit_topic is needed: every privacy command leaves an audit \
                     record",
                    path.display()
                );
            }
            // a keyring that will not open stops the command: a sweep without it would keep
            // every key whose time has come, and say nothing. A fixed key only looks callers
            // up, and the commands that need it say so when it is missing.
            let pseudonyms = if config.pseudonym.keyring.is_some() {
                Some(crate::serve::pseudonyms(&config)?)
            } else {
                crate::serve::pseudonyms(&config).ok()
            };
            let origin =
                AuditOrigin::new(command, &path.display().to_string(), &text, args.dry_run);
            return Ok(Prepared::Service {
                config: Box::new(config),
                pseudonyms,
                origin,
            });
        }
        let dir = args.store.as_ref().context("give --config or --store")?;
        if !dir.is_dir() {
            bail!("no store at {}", dir.display());
        }
        let retention = crate::settings::load_retention(args.retention.as_deref())?;
        let numbering = args.numbers.numbering()?;
        let pseudonyms = match &args.keyring {
            Some(dir) => Some(Pseudonyms::ring(Keyring::open(dir)?)),
            None => {
                let secret = crate::settings::read_secret(
                    args.pseudonym_key_file.as_deref(),
                    "CALLSCORE_PSEUDONYM_KEY",
                    "pseudonymisation key",
                );
                // a key file given and unreadable is an error; no key at all is left to the
                // commands that need one
                let secret = match args.pseudonym_key_file {
                    Some(_) => Some(secret?),
                    None => secret.ok(),
                };
                secret
                    .map(|secret| PseudonymKey::new("k1", secret).map(Pseudonyms::fixed))
                    .transpose()?
            }
        }
        .map(|pseudonyms| pseudonyms.with_numbering(numbering));
        let mut text = match &args.retention {
            Some(path) => std::fs::read(path).unwrap_or_default(),
            None => Vec::new(),
        };
        // the numbering plan decides which pseudonyms a number is looked up under: the audit
        // trail says which one was used, as a configuration file's hash does with --config
        text.extend(args.numbers.describe().into_bytes());
        let origin = AuditOrigin::new(command, &dir.display().to_string(), &text, args.dry_run);
        Ok(Prepared::Local {
            audit: args
                .audit
                .clone()
                .unwrap_or_else(|| dir.join("audit.ndjson")),
            events: args
                .events
                .clone()
                .unwrap_or_else(|| dir.join("events.republished.ndjson")),
            contacts: args
                .contacts
                .clone()
                .unwrap_or_else(|| dir.join("contact-requests.ndjson")),
            transcriptions: args
                .transcriptions
                .clone()
                .unwrap_or_else(|| dir.join("transcription-requests.ndjson")),
            dir: dir.clone(),
            retention: Box::new(retention),
            pseudonyms,
            origin,
        })
    }
}

/// A target whose configuration is read, not yet connected.
pub(crate) enum Prepared {
    Local {
        dir: PathBuf,
        audit: PathBuf,
        events: PathBuf,
        contacts: PathBuf,
        transcriptions: PathBuf,
        retention: Box<RetentionConfig>,
        pseudonyms: Option<Pseudonyms>,
        origin: AuditOrigin,
    },
    Service {
        config: Box<Config>,
        pseudonyms: Option<Pseudonyms>,
        origin: AuditOrigin,
    },
}

impl Prepared {
    /// The tenants the configuration names.
    pub(crate) fn configured_tenants(&self) -> Vec<String> {
        let (retention, pseudonyms) = match self {
            Prepared::Local {
                retention,
                pseudonyms,
                ..
            } => (retention.as_ref(), pseudonyms),
            Prepared::Service {
                config, pseudonyms, ..
            } => (&config.retention, pseudonyms),
        };
        let mut tenants: Vec<String> = retention.tenants.keys().cloned().collect();
        if let Some(pseudonyms) = pseudonyms {
            tenants.extend(pseudonyms.tenants());
        }
        tenants.sort();
        tenants.dedup();
        tenants
    }

    /// Connects to the store and the topics.
    pub(crate) async fn open(self) -> anyhow::Result<Target> {
        match self {
            Prepared::Local {
                dir,
                audit,
                events,
                contacts,
                transcriptions,
                retention,
                pseudonyms,
                origin,
            } => {
                let store = LocalStore::open(&dir)
                    .with_context(|| format!("cannot open the store {}", dir.display()))?;
                let appending = |path: &Path| {
                    File::options()
                        .create(true)
                        .append(true)
                        .open(path)
                        .with_context(|| format!("cannot open {}", path.display()))
                };
                let sink = NdjsonSink::new(appending(&events)?)
                    .with_events_file(events)
                    .with_contacts(contacts)
                    .with_transcriptions(
                        transcriptions.clone(),
                        transcriptions.with_file_name("transcripts.ndjson"),
                    );
                Ok(Target::Local {
                    store,
                    sink,
                    audit: NdjsonAudit::new(appending(&audit)?),
                    pseudonyms,
                    retention: *retention,
                    origin,
                })
            }
            Prepared::Service {
                config,
                pseudonyms,
                origin,
            } => {
                let store = S3Store::connect(&config.s3)
                    .await
                    .context("cannot reach the store")?;
                let sink = sink(&config)?;
                Ok(Target::Service {
                    store: Box::new(store),
                    sink: Box::new(sink),
                    pseudonyms,
                    retention: config.retention.clone(),
                    origin,
                })
            }
        }
    }
}

/// The service's producer, with every topic the configuration names.
pub(crate) fn sink(config: &Config) -> anyhow::Result<KafkaSink> {
    let properties = config.properties();
    KafkaSink::new(SinkConfig {
        scores_topic: config.kafka.scores_topic.clone(),
        dead_letter_topic: config.kafka.dead_letter_topic.clone(),
        audit_topic: config.kafka.audit_topic.clone(),
        contact_topic: config.kafka.contact_topic.clone(),
        transcription_topic: config.kafka.transcription_topic.clone(),
        transcripts_topic: config.kafka.transcripts_topic.clone(),
        properties: properties["producer"].clone(),
        source: config.kafka.event_source.clone(),
    })
    .context("cannot create the Kafka producer")
}

/// The keys a command needs to find callers by number.
pub(crate) fn need_pseudonyms(pseudonyms: Option<&Pseudonyms>) -> anyhow::Result<&Pseudonyms> {
    pseudonyms.context(
        "no pseudonymisation key: give --keyring or --pseudonym-key-file (or \
         CALLSCORE_PSEUDONYM_KEY)",
    )
}

/// Today in UTC, unless `--today` says otherwise.
pub(crate) fn today(given: Option<Date>) -> Date {
    given.unwrap_or_else(|| {
        jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
    })
}

/// Refuses tenants that are neither configured nor stored: exit 2, nothing touched.
pub(crate) fn check_tenants(asked: &[String], known: &[String]) -> anyhow::Result<()> {
    let unknown: Vec<&String> = asked.iter().filter(|t| !known.contains(t)).collect();
    if !unknown.is_empty() {
        bail!(
            "unknown tenant {}: neither configured nor stored (known: {})",
            unknown
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    }
    Ok(())
}

/// Writes a report: JSON with `--json`, else its sentences.
pub(crate) fn print_report(json: bool, value: &impl serde::Serialize, text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout();
    let written = if json {
        serde_json::to_string(value)
            .map_err(std::io::Error::other)
            .and_then(|line| writeln!(out, "{line}"))
    } else {
        write!(out, "{text}")
    };
    if written.is_err() {
        crate::complain("cannot write the report to standard output");
    }
}

/// The exit status of a command that failed after its checks: 1, with the reason.
pub(crate) fn failed(error: &anyhow::Error) -> ExitCode {
    crate::complain(&format!("{error:#}"));
    ExitCode::FAILURE
}

/// The exit status of a command refused before it touched anything: 2.
pub(crate) fn refused(error: &anyhow::Error) -> ExitCode {
    crate::complain(&format!("{error:#}"));
    ExitCode::from(2)
}
