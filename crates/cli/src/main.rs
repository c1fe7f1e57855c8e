//! The `callscore` command: thin glue over the callscore crates.

mod detect;

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
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Detect(args) => detect::run(&args),
    }
}
