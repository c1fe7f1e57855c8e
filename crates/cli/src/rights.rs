//! `callscore erase`, `callscore export`, `callscore consent withdraw`: a caller's rights (and
//! a client's right to have everything destroyed), in either mode.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use callscore_privacy::{DirectoryBundle, PrivacyError, Selector, Subject};

use crate::privacy::{Target, TargetArgs, need_pseudonyms, print_report};
use crate::retention::{Outcome, exit, runtime};

/// Whose data, in a tenant: exactly one of these.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub(crate) struct SelectorArgs {
    /// A caller, by phone number, looked up under every pseudonymisation key still held;
    /// `-` reads it from standard input (so that it stays out of process listings and shell
    /// histories).
    #[arg(long, value_name = "NUMBER")]
    caller: Option<String>,

    /// A caller, by pseudonym (`ps-KEYID-…`).
    #[arg(long, value_name = "PSEUDONYM")]
    pseudonym: Option<String>,

    /// One call's recordings.
    #[arg(long = "call", value_name = "CALL_ID")]
    call: Option<String>,

    /// One recording.
    #[arg(long = "recording", value_name = "RECORDING_ID")]
    recording: Option<String>,

    /// Everything of the tenant: the client's request to destroy all its data (erasure only).
    #[arg(long)]
    whole_tenant: bool,
}

impl SelectorArgs {
    fn subject(&self, tenant: &str) -> anyhow::Result<Subject> {
        let selector = if let Some(number) = &self.caller {
            let number = if number == "-" {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text)?;
                text.trim().to_string()
            } else {
                number.clone()
            };
            Selector::Caller(number)
        } else if let Some(pseudonym) = &self.pseudonym {
            Selector::Pseudonym(pseudonym.clone())
        } else if let Some(call) = &self.call {
            Selector::Call(call.clone())
        } else if let Some(recording) = &self.recording {
            Selector::Recording(recording.clone())
        } else {
            Selector::Tenant
        };
        let subject = Subject {
            tenant: tenant.to_string(),
            selector,
        };
        subject.check()?;
        Ok(subject)
    }
}

/// Erase a subject's data on request: every stored object (every version), its facts
/// retracted from the scores, contact and transcription streams (tombstones for their exact
/// keys), and one erasure event on the scores stream naming what was erased so that downstream
/// copies go too.
/// Recordings under a legal hold are kept and reported; so are versions an Object Lock keeps.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Idempotent and resumable: run it again after an interruption and it ends in the same state.
Its requests follow the subject's own data (a few prefixes per pseudonymisation key), not the
size of the store.

Exit status: 0 when everything found was erased; 1 when the store or a topic failed, or when
something is kept (a legal hold, an Object Lock: the report says what); 2 for a wrong command
line (a malformed selector), with nothing touched.")]
pub(crate) struct EraseArgs {
    #[command(flatten)]
    target: TargetArgs,

    /// The tenant.
    #[arg(long)]
    tenant: String,

    #[command(flatten)]
    selector: SelectorArgs,

    /// The request's id (from the requester's system): it makes the erasure's id.
    #[arg(long, value_name = "ID")]
    request_id: Option<String>,
}

/// Export a subject's data (access and portability): one bundle, in a directory, with every
/// recording's audio, its metadata without phone numbers, its answers and events, its
/// retention, and a manifest a person can read. Running it again gives the same bundle.
#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    target: TargetArgs,

    /// The tenant.
    #[arg(long)]
    tenant: String,

    #[command(flatten)]
    selector: SelectorArgs,

    /// The directory the bundle is written to.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// Consent.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ConsentCommand {
    Withdraw(WithdrawArgs),
}

/// A caller withdraws their consent to be contacted: their contact requests are retracted,
/// and their recordings kept as respondents (with that class's expiry), their events published
/// again under the same ids.
#[derive(Debug, clap::Args)]
pub(crate) struct WithdrawArgs {
    #[command(flatten)]
    target: TargetArgs,

    /// The tenant.
    #[arg(long)]
    tenant: String,

    #[command(flatten)]
    selector: SelectorArgs,
}

fn outcome(error: PrivacyError) -> Outcome {
    match error {
        PrivacyError::Refused(why) => Outcome::Refused(anyhow::anyhow!(why)),
        other => Outcome::Failed(other.into()),
    }
}

/// Runs a privacy operation against whichever target the arguments name.
macro_rules! on_target {
    ($target:expr, |$store:ident, $sink:ident, $audit:ident, $pseudonyms:ident, $retention:ident, $origin:ident| $body:expr) => {
        match $target {
            Target::Local {
                store: $store,
                sink: $sink,
                audit: $audit,
                pseudonyms: $pseudonyms,
                retention: $retention,
                origin: $origin,
            } => $body,
            Target::Service {
                store: $store,
                sink: $sink,
                pseudonyms: $pseudonyms,
                retention: $retention,
                origin: $origin,
            } => {
                let ($store, $audit) = ($store.as_ref(), $sink.as_ref());
                let $sink = $sink.as_ref();
                $body
            }
        }
    };
}

pub(crate) fn run_erase(args: &EraseArgs) -> ExitCode {
    exit(erase(args))
}

fn erase(args: &EraseArgs) -> Result<(), Outcome> {
    if args.selector.whole_tenant && args.request_id.is_none() && !args.target.dry_run {
        return Err(Outcome::Refused(anyhow::anyhow!(
            "--whole-tenant destroys everything of the tenant: give --request-id too, the \
             client's request it answers (try --dry-run first)"
        )));
    }
    let subject = args
        .selector
        .subject(&args.tenant)
        .map_err(Outcome::Refused)?;
    let prepared = Target::prepare(&args.target, "callscore erase").map_err(Outcome::Refused)?;
    let report = runtime().map_err(Outcome::Failed)?.block_on(async {
        let target = prepared.open().await.map_err(Outcome::Failed)?;
        on_target!(&target, |store,
                             sink,
                             audit,
                             pseudonyms,
                             _retention,
                             origin| {
            let keys = need_pseudonyms(pseudonyms.as_ref()).map_err(Outcome::Refused)?;
            callscore_privacy::erase(
                store,
                sink,
                audit,
                origin,
                keys,
                &subject,
                args.request_id.as_deref(),
            )
            .await
            .map_err(outcome)
        })
    })?;
    let mut text = String::new();
    if let Some(at) = report.finished_before {
        text.push_str(&format!(
            "erasure {} finished at {at}, and nothing of the subject was stored since: what it \
             did then\n",
            report.erasure_id
        ));
    }
    text.push_str(&format!(
        "{} {} of tenant {}: {} recordings, {} objects ({} versions), {} events and {} contact \
         requests retracted (erasure {})\n",
        if report.dry_run {
            "would erase"
        } else {
            "erased"
        },
        report.selector,
        report.tenant,
        report.recordings,
        report.objects,
        report.versions,
        report.events,
        report.contacts,
        report.erasure_id
    ));
    if report.export_files > 0 {
        text.push_str(&format!(
            "{} files of exports kept in the store that copied it deleted\n",
            report.export_files
        ));
    }
    for key in &report.keys_destroyed {
        text.push_str(&format!("destroyed key {key}\n"));
    }
    if !report.held.is_empty() {
        text.push_str(&format!(
            "kept under a legal hold: {}\n",
            report.held.join(", ")
        ));
    }
    if report.locked > 0 {
        text.push_str(&format!(
            "{} stored versions are kept by an Object Lock: they go when the lock ends\n",
            report.locked
        ));
    }
    print_report(args.target.json, &report, &text);
    if let Some(why) = kept(&report) {
        return Err(Outcome::Failed(anyhow::anyhow!(why)));
    }
    Ok(())
}

/// What an erasure had to keep, in words; `None` when it erased everything it found.
pub(crate) fn kept(report: &callscore_privacy::ErasureReport) -> Option<String> {
    let mut kept = Vec::new();
    if !report.held.is_empty() {
        kept.push(format!(
            "{} recordings are kept under a legal hold ({})",
            report.held.len(),
            report.held.join(", ")
        ));
    }
    if report.locked > 0 {
        kept.push(format!(
            "{} stored versions are kept by an Object Lock until it ends",
            report.locked
        ));
    }
    (!kept.is_empty()).then(|| {
        format!(
            "done, but not everything could be erased: {}",
            kept.join("; ")
        )
    })
}

pub(crate) fn run_export(args: &ExportArgs) -> ExitCode {
    exit(export(args))
}

fn export(args: &ExportArgs) -> Result<(), Outcome> {
    if args.selector.whole_tenant {
        return Err(Outcome::Refused(anyhow::anyhow!(
            "--whole-tenant is for erasure: an export is one subject's"
        )));
    }
    let subject = args
        .selector
        .subject(&args.tenant)
        .map_err(Outcome::Refused)?;
    let prepared = Target::prepare(&args.target, "callscore export").map_err(Outcome::Refused)?;
    let bundle = DirectoryBundle::new(&args.out);
    let report = runtime().map_err(Outcome::Failed)?.block_on(async {
        let target = prepared.open().await.map_err(Outcome::Failed)?;
        on_target!(&target, |store,
                             _sink,
                             audit,
                             pseudonyms,
                             _retention,
                             origin| {
            let keys = need_pseudonyms(pseudonyms.as_ref()).map_err(Outcome::Refused)?;
            callscore_privacy::export(store, &bundle, audit, origin, keys, &subject)
                .await
                .map_err(outcome)
        })
    })?;
    let text = format!(
        "{} {} recordings ({} files) to {}\n",
        if report.dry_run {
            "would export"
        } else {
            "exported"
        },
        report.recordings,
        report.files,
        report.location
    );
    print_report(args.target.json, &report, &text);
    Ok(())
}

pub(crate) fn run_consent(command: &ConsentCommand) -> ExitCode {
    match command {
        ConsentCommand::Withdraw(args) => exit(withdraw(args)),
    }
}

fn withdraw(args: &WithdrawArgs) -> Result<(), Outcome> {
    if args.selector.whole_tenant {
        return Err(Outcome::Refused(anyhow::anyhow!(
            "--whole-tenant is for erasure: consent is one caller's"
        )));
    }
    let subject = args
        .selector
        .subject(&args.tenant)
        .map_err(Outcome::Refused)?;
    let prepared =
        Target::prepare(&args.target, "callscore consent withdraw").map_err(Outcome::Refused)?;
    let report = runtime().map_err(Outcome::Failed)?.block_on(async {
        let target = prepared.open().await.map_err(Outcome::Failed)?;
        on_target!(&target, |store,
                             sink,
                             audit,
                             pseudonyms,
                             retention,
                             origin| {
            let keys = need_pseudonyms(pseudonyms.as_ref()).map_err(Outcome::Refused)?;
            callscore_privacy::withdraw_consent(
                store, sink, audit, origin, keys, retention, &subject,
            )
            .await
            .map_err(outcome)
        })
    })?;
    let text = format!(
        "{} consent: {} contact requests retracted, {} recordings kept as respondents\n",
        if report.dry_run {
            "would withdraw"
        } else {
            "withdrew"
        },
        report.contact_requests,
        report.recordings
    );
    print_report(args.target.json, &report, &text);
    Ok(())
}
