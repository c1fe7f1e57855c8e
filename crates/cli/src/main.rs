//! The `callscore` command: thin glue over the callscore crates.

mod detect;
mod inspect;
mod privacy;
mod process;
mod retention;
mod rights;
mod serve;
mod serve_privacy;
mod settings;
#[cfg(feature = "pocketsphinx")]
mod transcribe;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// callscore reads the keypad answers out of recorded post-call survey calls.
#[derive(Debug, Parser)]
#[command(name = "callscore", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Detect(detect::Args),
    Inspect(inspect::Args),
    Process(process::Args),
    Serve(serve::Args),
    ServePrivacy(serve_privacy::Args),
    #[command(subcommand)]
    Retention(retention::RetentionCommand),
    #[command(subcommand)]
    Hold(retention::HoldCommand),
    #[command(subcommand)]
    Keys(retention::KeysCommand),
    Erase(rights::EraseArgs),
    Export(rights::ExportArgs),
    #[command(subcommand)]
    Consent(rights::ConsentCommand),
    #[cfg(feature = "pocketsphinx")]
    Transcribe(transcribe::Args),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Detect(args) => detect::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Process(args) => process::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::ServePrivacy(args) => serve_privacy::run(&args),
        Command::Retention(command) => retention::run(&command),
        Command::Hold(command) => retention::run_hold(&command),
        Command::Keys(command) => retention::run_keys(&command),
        Command::Erase(args) => rights::run_erase(&args),
        Command::Export(args) => rights::run_export(&args),
        Command::Consent(command) => rights::run_consent(&command),
        #[cfg(feature = "pocketsphinx")]
        Command::Transcribe(args) => transcribe::run(&args),
    }
}

/// A message for the person at the terminal, with anything that looks like a phone number
/// masked (a file named after the caller, say).
fn complain(message: &str) {
    use std::io::Write;
    let message = callscore_pipeline::redact::redact(message);
    // nothing better to do when standard error itself is gone
    let _ = writeln!(std::io::stderr(), "callscore: {message}");
}
