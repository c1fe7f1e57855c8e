//! `callscore retention sweep|install`, `callscore hold release`, `callscore keys rotate`: the
//! retention promises kept by callscore itself, in either mode.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use callscore_pipeline::audit::{AuditAction, AuditCounts, AuditLog, AuditOrigin, AuditRecord};
use callscore_privacy::{HoldReport, KeysReport, SweepReport};
use callscore_s3::lifecycle::LifecycleReport;
use jiff::Timestamp;
use jiff::civil::Date;

use crate::privacy::{Prepared, Target, TargetArgs, check_tenants, print_report, today};

/// Keep the retention promises: delete what has expired, install safety-net rules.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum RetentionCommand {
    Sweep(Box<SweepArgs>),
    Install(InstallArgs),
}

/// Delete every stored recording whose expiry day has passed (and destroy the pseudonymisation
/// keys whose time has come), with an audit record per tenant and class. For a daily cron job
/// or Kubernetes CronJob; `serve` can run the same on a schedule (`[sweeper]`).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Its requests follow the expired recordings, not the size of the store: it pages through each
tenant's expiry markers in day order and stops at today.

Exit status: 0 when everything due was deleted; 1 when the store or the audit log failed (run it
again: it carries on where it stopped); 2 for a wrong command line (an unknown tenant, a
malformed date or period), with nothing touched.")]
pub(crate) struct SweepArgs {
    #[command(flatten)]
    target: TargetArgs,

    /// Only this tenant (repeat for several); default: every tenant stored.
    #[arg(long = "tenant", value_name = "TENANT")]
    tenants: Vec<String>,

    /// Sweep as on this day (UTC): recordings whose expiry day is before it are deleted.
    #[arg(long, value_name = "YYYY-MM-DD")]
    today: Option<Date>,
}

/// Install lifecycle rules on the S3 bucket as a safety net behind the sweep: per tenant and
/// class, by prefix only, never a rule the store would widen (what was installed is read back
/// and compared; a difference puts the previous configuration back).
#[derive(Debug, clap::Args)]
pub(crate) struct InstallArgs {
    /// The service's configuration.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,

    /// Also for these tenants (the configured and stored ones always).
    #[arg(long = "tenant", value_name = "TENANT")]
    tenants: Vec<String>,

    /// Say what would be installed and change nothing.
    #[arg(long)]
    dry_run: bool,

    /// Report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Legal holds.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum HoldCommand {
    Release(ReleaseArgs),
}

/// Release the legal hold of a recording: it returns to the class and expiry it had without
/// the hold (and is deleted by the next sweep when that expiry has passed); its events are
/// published again with the new retention, under the same ids.
#[derive(Debug, clap::Args)]
pub(crate) struct ReleaseArgs {
    #[command(flatten)]
    target: TargetArgs,

    /// The recording's tenant.
    #[arg(long)]
    tenant: String,

    /// The recording.
    #[arg(long = "recording", value_name = "RECORDING_ID")]
    recording: String,

    /// Release as on this day (UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    today: Option<Date>,
}

/// Pseudonymisation keys.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum KeysCommand {
    Rotate(RotateArgs),
}

/// Create the next pseudonymisation key of each tenant whose current key has been current for
/// the rotation period (or who has none). For a daily cron job; safe to run often.
#[derive(Debug, clap::Args)]
pub(crate) struct RotateArgs {
    #[command(flatten)]
    target: TargetArgs,

    /// These tenants (default: every tenant with a key, configured or stored).
    #[arg(long = "tenant", value_name = "TENANT")]
    tenants: Vec<String>,

    /// With --store: how long a key is current (`1 month`, `P3M`).
    #[arg(long, value_name = "PERIOD", default_value = "1 month")]
    rotation: jiff::Span,

    /// Rotate as on this day (UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    today: Option<Date>,
}

/// The keyring among the keys, when they are one.
fn ring(
    pseudonyms: Option<&callscore_pipeline::Pseudonyms>,
) -> Option<&callscore_pipeline::Keyring> {
    pseudonyms.and_then(callscore_pipeline::Pseudonyms::keyring)
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")
}

/// A command's run: refused (exit 2) before anything is touched, or failed (exit 1).
pub(crate) enum Outcome {
    Refused(anyhow::Error),
    Failed(anyhow::Error),
}

pub(crate) fn exit(result: Result<(), Outcome>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Outcome::Refused(error)) => crate::privacy::refused(&error),
        Err(Outcome::Failed(error)) => crate::privacy::failed(&error),
    }
}

pub(crate) fn run(command: &RetentionCommand) -> ExitCode {
    match command {
        RetentionCommand::Sweep(args) => exit(sweep(args)),
        RetentionCommand::Install(args) => exit(install(args)),
    }
}

pub(crate) fn run_hold(command: &HoldCommand) -> ExitCode {
    match command {
        HoldCommand::Release(args) => exit(release(args)),
    }
}

pub(crate) fn run_keys(command: &KeysCommand) -> ExitCode {
    match command {
        KeysCommand::Rotate(args) => exit(rotate(args)),
    }
}

/// The sweep's report with the keys it destroyed.
#[derive(Debug, serde::Serialize)]
struct SweepOutput {
    sweep: SweepReport,
    keys: Option<KeysReport>,
    /// Locally: the contact requests past their expiry day, taken out of the contacts file.
    #[serde(skip_serializing_if = "Option::is_none")]
    contact_requests: Option<ContactsSwept>,
}

/// Contact requests taken out of the local contacts file.
#[derive(Debug, serde::Serialize)]
struct ContactsSwept {
    /// Per tenant.
    expired: std::collections::BTreeMap<String, u64>,
    /// Lines that could not be read, kept.
    unreadable: u64,
}

/// Takes the expired contact requests of `tenants` (every tenant when empty) out of the local
/// contacts file, with an audit record per tenant (`retention_sweep`, class
/// `consented_contact`).
async fn expire_contacts(
    sink: &callscore_pipeline::NdjsonSink<std::fs::File>,
    audit: &impl AuditLog,
    origin: &AuditOrigin,
    tenants: &[String],
    today: Date,
) -> anyhow::Result<ContactsSwept> {
    let expired = sink
        .expire_contacts(tenants, today, origin.dry_run)
        .context("the contact requests file")?;
    let now = Timestamp::now();
    for (tenant, requests) in &expired.expired {
        let record = AuditRecord::new(
            AuditAction::RetentionSweep,
            Some(tenant),
            Some(callscore_survey::RetentionClass::ConsentedContact),
            format!("contact requests whose expiry day is before {today}"),
            Some("contact requests".into()),
            AuditCounts {
                objects: *requests,
                ..AuditCounts::default()
            },
            origin,
            now,
        );
        audit.record(&record).await?;
    }
    Ok(ContactsSwept {
        expired: expired.expired,
        unreadable: expired.unreadable,
    })
}

fn sweep(args: &SweepArgs) -> Result<(), Outcome> {
    let prepared =
        Target::prepare(&args.target, "callscore retention sweep").map_err(Outcome::Refused)?;
    let configured = prepared.configured_tenants();
    let today = today(args.today);
    let output = runtime().map_err(Outcome::Failed)?.block_on(async {
        let target = prepared.open().await.map_err(Outcome::Failed)?;
        macro_rules! with_target {
            ($store:expr, $audit:expr, $keyring:expr, $retention:expr, $origin:expr) => {{
                let stored = callscore_privacy::stored_tenants($store)
                    .await
                    .map_err(|e| Outcome::Failed(e.into()))?;
                let mut known = configured.clone();
                known.extend(stored.iter().cloned());
                check_tenants(&args.tenants, &known).map_err(Outcome::Refused)?;
                let tenants = if args.tenants.is_empty() {
                    stored
                } else {
                    args.tenants.clone()
                };
                let sweep = callscore_privacy::sweep($store, $audit, $origin, &tenants, today)
                    .await
                    .map_err(|e| Outcome::Failed(e.into()))?;
                let keys = match $keyring {
                    Some(ring) => Some(
                        callscore_privacy::destroy_keys(
                            $store, ring, $audit, $origin, $retention, today,
                        )
                        .await
                        .map_err(|e| Outcome::Failed(e.into()))?,
                    ),
                    None => None,
                };
                Ok::<_, Outcome>(SweepOutput {
                    sweep,
                    keys,
                    contact_requests: None,
                })
            }};
        }
        match &target {
            Target::Local {
                store,
                sink,
                audit,
                pseudonyms,
                retention,
                origin,
            } => {
                let mut output =
                    with_target!(store, audit, ring(pseudonyms.as_ref()), retention, origin)?;
                output.contact_requests = Some(
                    expire_contacts(sink, audit, origin, &args.tenants, today)
                        .await
                        .map_err(Outcome::Failed)?,
                );
                Ok(output)
            }
            Target::Service {
                store,
                sink,
                pseudonyms,
                retention,
                origin,
            } => with_target!(
                store.as_ref(),
                sink.as_ref(),
                ring(pseudonyms.as_ref()),
                retention,
                origin
            ),
        }
    })?;
    print_report(args.target.json, &output, &sweep_text(&output));
    match output.sweep.unreadable_markers.len() {
        0 => Ok(()),
        n => Err(Outcome::Failed(anyhow::anyhow!(
            "{n} expiry markers could not be read: their recordings were not swept"
        ))),
    }
}

fn sweep_text(output: &SweepOutput) -> String {
    let report = &output.sweep;
    let verb = if report.dry_run {
        "would be deleted"
    } else {
        "deleted"
    };
    let mut text = format!(
        "retention sweep{}: recordings whose expiry day is before {}\n",
        if report.dry_run { " (dry run)" } else { "" },
        report
            .expired_before
            .map_or_else(|| "?".to_string(), |d| d.to_string())
    );
    for (tenant, classes) in &report.tenants {
        if classes.is_empty() {
            text.push_str(&format!("  {tenant}: nothing due\n"));
        }
        for (class, s) in classes {
            text.push_str(&format!(
                "  {tenant} {class}: {} recordings, {} objects {verb}{}\n",
                s.recordings,
                s.objects,
                if s.locked > 0 {
                    format!(" ({} versions kept by an Object Lock)", s.locked)
                } else {
                    String::new()
                }
            ));
        }
    }
    for marker in &report.unreadable_markers {
        text.push_str(&format!(
            "  expiry marker {marker} cannot be read: its recording was not swept\n"
        ));
    }
    if let Some(contacts) = &output.contact_requests {
        for (tenant, requests) in &contacts.expired {
            text.push_str(&format!(
                "  {tenant}: {requests} contact requests past their expiry day {verb}\n"
            ));
        }
        if contacts.unreadable > 0 {
            text.push_str(&format!(
                "  {} lines of the contact requests file cannot be read: kept, to be looked at\n",
                contacts.unreadable
            ));
        }
    }
    if let Some(keys) = &output.keys {
        for key in &keys.destroyed {
            text.push_str(&format!(
                "  key {key} {}\n",
                if keys.dry_run {
                    "would be destroyed"
                } else {
                    "destroyed"
                }
            ));
        }
        for key in &keys.kept_for_holds {
            text.push_str(&format!(
                "  key {key} is due but kept: recordings under it are held\n"
            ));
        }
        for key in &keys.kept_for_recordings {
            text.push_str(&format!(
                "  key {key} is due but kept: recordings under it are still stored (until their \
                 own expiry)\n"
            ));
        }
    }
    text
}

fn install(args: &InstallArgs) -> Result<(), Outcome> {
    let config = crate::serve::config::Config::load(&args.config).map_err(Outcome::Refused)?;
    let origin = AuditOrigin::new(
        "callscore retention install",
        &args.config.display().to_string(),
        &std::fs::read(&args.config).unwrap_or_default(),
        args.dry_run,
    );
    let report = runtime().map_err(Outcome::Failed)?.block_on(async {
        let store = callscore_s3::S3Store::connect(&config.s3)
            .await
            .map_err(|e| Outcome::Failed(e.into()))?;
        let stored = callscore_privacy::stored_tenants(&store)
            .await
            .map_err(|e| Outcome::Failed(e.into()))?;
        let mut tenants: Vec<String> = config.retention.tenants.keys().cloned().collect();
        tenants.extend(stored);
        tenants.extend(args.tenants.iter().cloned());
        tenants.sort();
        tenants.dedup();
        let rules = callscore_s3::lifecycle::rules(config.s3.prefix(), &config.retention, &tenants);
        let report = store
            .install_lifecycle(rules, args.dry_run)
            .await
            .map_err(|e| Outcome::Failed(e.into()))?;
        // the evidence of what the store was asked and what it kept, where the service
        // audits everything else
        if config.kafka.audit_topic.is_some() {
            let sink = crate::privacy::sink(&config).map_err(Outcome::Failed)?;
            sink.record(&install_audit(&report, &origin))
                .await
                .map_err(|e| Outcome::Failed(anyhow::anyhow!("the audit record: {e}")))?;
        }
        Ok(report)
    })?;
    let mut text = String::new();
    for rule in &report.rules {
        text.push_str(&format!(
            "{} {}: objects under {} expire {} days after upload\n",
            if report.installed {
                "installed"
            } else if report.dry_run {
                "would install"
            } else {
                "not installed"
            },
            rule.id,
            rule.prefix,
            rule.days
        ));
    }
    for kept in &report.kept {
        text.push_str(&format!("kept the rule {kept} (not callscore's)\n"));
    }
    if let Some(why) = &report.refused {
        text.push_str(&format!(
            "refused: {why}; the previous configuration is back. The sweep alone enforces \
             retention on this store\n"
        ));
    }
    print_report(args.json, &report, &text);
    if report.refused.is_some() {
        return Err(Outcome::Failed(anyhow::anyhow!(
            "the store does not keep the rules as sent"
        )));
    }
    Ok(())
}

/// The audit record of one install: the rules, and whether the store kept them.
fn install_audit(report: &LifecycleReport, origin: &AuditOrigin) -> AuditRecord {
    let rules: Vec<String> = report
        .rules
        .iter()
        .map(|r| format!("{} ({} days)", r.prefix, r.days))
        .collect();
    let outcome = match (&report.refused, report.installed) {
        (Some(why), _) => format!("refused by the store ({why}); the previous rules put back"),
        (None, true) => "installed".to_string(),
        (None, false) => "not installed (a dry run)".to_string(),
    };
    AuditRecord::new(
        AuditAction::LifecycleInstalled,
        None,
        None,
        format!(
            "lifecycle expiry rules {outcome}: {}",
            if rules.is_empty() {
                "none".to_string()
            } else {
                rules.join(", ")
            }
        ),
        None,
        AuditCounts::default(),
        origin,
        Timestamp::now(),
    )
}

fn release(args: &ReleaseArgs) -> Result<(), Outcome> {
    let prepared =
        Target::prepare(&args.target, "callscore hold release").map_err(Outcome::Refused)?;
    let today = today(args.today);
    let report: HoldReport = runtime().map_err(Outcome::Failed)?.block_on(async {
        let target = prepared.open().await.map_err(Outcome::Failed)?;
        let result = match &target {
            Target::Local {
                store,
                sink,
                audit,
                origin,
                ..
            } => {
                callscore_privacy::release_hold(
                    store,
                    audit,
                    sink,
                    origin,
                    &args.tenant,
                    &args.recording,
                    today,
                )
                .await
            }
            Target::Service {
                store,
                sink,
                origin,
                ..
            } => {
                callscore_privacy::release_hold(
                    store.as_ref(),
                    sink.as_ref(),
                    sink.as_ref(),
                    origin,
                    &args.tenant,
                    &args.recording,
                    today,
                )
                .await
            }
        };
        result.map_err(|e| match e {
            callscore_privacy::PrivacyError::Refused(why) => Outcome::Refused(anyhow::anyhow!(why)),
            other => Outcome::Failed(other.into()),
        })
    })?;
    let text = format!(
        "{} the legal hold of {} ({}): kept as {} until {}{}\n",
        if report.dry_run {
            "would release"
        } else {
            "released"
        },
        report.recording_id,
        report.tenant,
        report.class,
        report.expires_on,
        if report.expired {
            "; that day has passed, so the next sweep deletes it"
        } else {
            ""
        }
    );
    print_report(args.target.json, &report, &text);
    Ok(())
}

fn rotate(args: &RotateArgs) -> Result<(), Outcome> {
    let prepared =
        Target::prepare(&args.target, "callscore keys rotate").map_err(Outcome::Refused)?;
    let rotation = match &prepared {
        Prepared::Service { config, .. } => config.pseudonym.rotation,
        Prepared::Local { .. } => args.rotation,
    };
    let mut tenants = args.tenants.clone();
    if tenants.is_empty() {
        tenants = prepared.configured_tenants();
    }
    let today = today(args.today);
    let report = runtime().map_err(Outcome::Failed)?.block_on(async {
        let target = prepared.open().await.map_err(Outcome::Failed)?;
        let no_keyring = || {
            Outcome::Refused(anyhow::anyhow!(
                "no keyring is configured: rotation needs one (--keyring, or pseudonym.keyring)"
            ))
        };
        let result = match &target {
            Target::Local {
                audit,
                pseudonyms,
                origin,
                ..
            } => {
                let ring = ring(pseudonyms.as_ref()).ok_or_else(no_keyring)?;
                callscore_privacy::rotate_keys(ring, audit, origin, &tenants, today, rotation).await
            }
            Target::Service {
                sink,
                pseudonyms,
                origin,
                ..
            } => {
                let ring = ring(pseudonyms.as_ref()).ok_or_else(no_keyring)?;
                callscore_privacy::rotate_keys(
                    ring,
                    sink.as_ref(),
                    origin,
                    &tenants,
                    today,
                    rotation,
                )
                .await
            }
        };
        result.map_err(|e| Outcome::Failed(e.into()))
    })?;
    let mut text = String::new();
    for key in &report.created {
        text.push_str(&format!("created key {key}, current from {today}\n"));
    }
    if report.created.is_empty() {
        text.push_str("no key was due\n");
    }
    print_report(args.target.json, &report, &text);
    Ok(())
}
