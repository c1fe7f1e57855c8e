//! `callscore detect`: the DTMF key presses in recordings, as digit strings or JSON.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use callscore_audio::{
    DecodeError, DecodeOptions, Headerless, OUTPUT_RATE, Recording, RecordingInfo,
};
use callscore_pipeline::{DetectError, Heard, PromptHeard, detect_keys};
use callscore_prompts::Prompt;
use serde::Serialize;

/// Print the DTMF digits keyed in each recording.
///
/// For each FILE, one line on standard output with the digits found in it, in the order they
/// were keyed (all channels together unless --channel picks one). Nothing else is written to
/// standard output, so scripts can read it; messages go to standard error.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Formats, recognised from their first bytes whatever the file is called: WAV (RIFF or RF64) with
linear PCM, float, G.711 A-law/u-law, GSM 6.10 (WAV49), IMA or Microsoft ADPCM; FLAC; MP3; Ogg
Vorbis, or Opus when built with the opus feature; MP4/M4A (AAC, ALAC); AIFF; CAF; Matroska. Headerless files are read by their extension
(.ulaw .pcmu .alaw .pcma .gsm .sln .raw .sln16 ...) or by --codec. 8000-192000 Hz, up to 8
channels, up to 2 hours; everything is analysed at 8 kHz.

A key heard on several channels at the same time (a mixed-down leg, crosstalk) counts once.

Exit status: 0 when every file was read; 1 when at least one could not be (its error is on
standard error, and in --json mode also on standard output as {\"file\", \"error\"}; the
other files are still reported); 2 for a wrong command line.")]
pub(crate) struct Args {
    /// Recordings to read; `-` reads one from standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Print one JSON object per file, with every key event (times, tone levels in dBm0,
    /// twist, quality, channel), instead of the digit strings.
    #[arg(long)]
    json: bool,

    /// Analyse only this channel (0 is the first, or left, channel).
    #[arg(long, value_name = "N", conflicts_with = "mix_down")]
    channel: Option<u16>,

    /// Average all channels into one before analysing them.
    #[arg(long)]
    mix_down: bool,

    /// Read headerless input as this codec: ulaw, alaw, gsm, slin (8 kHz), slin16, slin48, ...
    /// Needed for headerless data on standard input; files are recognised by their extension.
    #[arg(long, value_name = "CODEC", value_parser = parse_codec)]
    codec: Option<Headerless>,

    /// Ignore the A, B, C and D keys, which ordinary telephone keypads lack.
    #[arg(long)]
    no_extended: bool,

    /// An audio file of a prompt the IVR plays (repeatable). Where a recording's channel
    /// carries it (a mono recording of the caller and the IVR), it is found and subtracted
    /// before keys are detected, so that keys keyed over it are not lost.
    #[arg(long = "prompt", value_name = "FILE")]
    prompts: Vec<PathBuf>,
}

/// Why one file could not be analysed.
#[derive(Debug, thiserror::Error)]
enum FileError {
    #[error("cannot open: {0}")]
    Open(io::Error),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("has no channel {channel} (it has {channels}; the first is 0)")]
    NoChannel { channel: u16, channels: u16 },
}

/// What was found in one file.
#[derive(Debug)]
struct Report {
    info: RecordingInfo,
    frames: u64,
    /// Key presses, in the order they started, each with the channel it was heard on best and
    /// the other channels that heard it too.
    events: Vec<Heard>,
    /// Known prompts found and subtracted.
    prompts: Vec<PromptHeard>,
    warnings: Vec<String>,
}

fn parse_codec(name: &str) -> Result<Headerless, String> {
    name.parse().map_err(|e: DecodeError| e.to_string())
}

pub(crate) fn run(args: &Args) -> ExitCode {
    let mut prompts = Vec::with_capacity(args.prompts.len());
    for path in &args.prompts {
        match crate::settings::load_prompt(path) {
            Ok(prompt) => prompts.push(prompt),
            Err(error) => {
                crate::complain(&format!("--prompt: {error:#}"));
                return ExitCode::from(2);
            }
        }
    }
    let mut stdout = io::stdout().lock();
    let mut failed = false;
    for path in &args.files {
        // a file named after the caller does not put the number in the results
        let name = callscore_pipeline::redact::redact(&path.display().to_string()).into_owned();
        let written = match analyse(path, args, &prompts) {
            Ok(report) => {
                for warning in &report.warnings {
                    crate::complain(&format!("{name}: warning: {warning}"));
                }
                write_report(&mut stdout, &name, &report, args.json, &args.prompts)
            }
            Err(error) => {
                failed = true;
                crate::complain(&format!("{name}: {error}"));
                if args.json {
                    write_json(
                        &mut stdout,
                        &FileFailure {
                            file: &name,
                            error: error.to_string(),
                        },
                    )
                } else {
                    Ok(())
                }
            }
        };
        if let Err(error) = written.and_then(|()| stdout.flush()) {
            // a reader that went away (`| head`) is not an error worth a message
            if error.kind() != io::ErrorKind::BrokenPipe {
                crate::complain(&format!("cannot write the results: {error}"));
            }
            return ExitCode::FAILURE;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Decodes one recording and runs a detector over each selected channel.
fn analyse(path: &Path, args: &Args, prompts: &[Prompt]) -> Result<Report, FileError> {
    let options = DecodeOptions {
        headerless: args.codec,
        mix_down: args.mix_down,
        ..DecodeOptions::default()
    };
    let mut recording = if path.as_os_str() == "-" {
        Recording::open_stream(io::stdin(), &options)?
    } else {
        let file = File::open(path).map_err(FileError::Open)?;
        let options = DecodeOptions {
            extension: path.extension().and_then(|e| e.to_str()).map(str::to_owned),
            ..options
        };
        Recording::open_file(file, &options)?
    };
    let detected =
        detect_keys(&mut recording, args.channel, !args.no_extended, prompts).map_err(|error| {
            match error {
                DetectError::Decode(e) => FileError::Decode(e),
                DetectError::NoChannel { channel, channels } => {
                    FileError::NoChannel { channel, channels }
                }
            }
        })?;
    let stats = recording.stats();
    Ok(Report {
        info: recording.info().clone(),
        frames: stats.output_frames,
        events: detected.keys,
        prompts: detected.prompts,
        warnings: stats.warnings(),
    })
}

fn write_report(
    out: &mut impl Write,
    name: &str,
    report: &Report,
    json: bool,
    prompt_files: &[PathBuf],
) -> io::Result<()> {
    let digits: String = report
        .events
        .iter()
        .map(|h| h.event.key.as_char())
        .collect();
    if !json {
        return writeln!(out, "{digits}");
    }
    let events = report.events.iter().map(EventJson::heard).collect();
    write_json(
        out,
        &FileJson {
            file: name,
            container: report.info.container,
            encoding: &report.info.codec,
            sample_rate: report.info.sample_rate,
            channels: report.info.channels,
            duration_seconds: round(report.frames as f64 / f64::from(OUTPUT_RATE), 4),
            digits,
            events,
            prompts: report
                .prompts
                .iter()
                .map(|p| PromptJson::new(&args_prompt_name(prompt_files, p.found.prompt), p))
                .collect(),
            warnings: &report.warnings,
        },
    )
}

fn write_json(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    writeln!(out)
}

/// Rounds to `places` decimals, so that the JSON shows what the measurement supports.
pub(crate) fn round(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
}

#[derive(Debug, Serialize)]
struct FileJson<'a> {
    file: &'a str,
    container: &'a str,
    encoding: &'a str,
    sample_rate: u32,
    channels: u16,
    duration_seconds: f64,
    digits: String,
    events: Vec<EventJson>,
    /// Known prompts found and subtracted before detection.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    prompts: Vec<PromptJson>,
    warnings: &'a [String],
}

/// A known prompt found, as `--json` (and `inspect --json`) writes it.
#[derive(Debug, Serialize)]
pub(crate) struct PromptJson {
    /// The prompt's file as given.
    prompt: String,
    channel: u16,
    /// Where its first sample sounds (negative when the recording starts during it).
    start_seconds: f64,
    gain_db: f64,
    cancelled_db: f64,
}

impl EventJson {
    /// A key press and the channels that heard it.
    pub(crate) fn heard(heard: &Heard) -> EventJson {
        let e = &heard.event;
        EventJson {
            key: e.key.as_char(),
            channel: heard.channel,
            also_on: heard.also_on.clone(),
            start_seconds: round(e.start_seconds(), 4),
            end_seconds: round(e.end_seconds(), 4),
            duration_seconds: round(e.duration_seconds(), 4),
            low_hz: round(f64::from(e.low_hz), 1),
            high_hz: round(f64::from(e.high_hz), 1),
            low_dbm0: round(f64::from(e.low_dbm0), 1),
            high_dbm0: round(f64::from(e.high_dbm0), 1),
            twist_db: round(f64::from(e.twist_db), 1),
            quality: round(f64::from(e.quality), 3),
        }
    }
}

impl PromptJson {
    /// Prompt `name` as found on a channel.
    pub(crate) fn new(name: &str, heard: &PromptHeard) -> PromptJson {
        PromptJson {
            prompt: name.to_string(),
            channel: heard.channel,
            start_seconds: round(heard.found.start_seconds(), 4),
            gain_db: round(heard.found.gain_db, 1),
            cancelled_db: round(heard.found.cancelled_db, 1),
        }
    }
}

/// The name of prompt `index` as given on the command line.
fn args_prompt_name(files: &[PathBuf], index: usize) -> String {
    files
        .get(index)
        .map(|f| callscore_pipeline::redact::redact(&f.display().to_string()).into_owned())
        .unwrap_or_default()
}

/// A key event as `--json` (and `inspect --json`) writes it.
#[derive(Debug, Serialize)]
pub(crate) struct EventJson {
    key: char,
    channel: u16,
    /// Other channels that heard the same press at the same time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    also_on: Vec<u16>,
    start_seconds: f64,
    end_seconds: f64,
    duration_seconds: f64,
    low_hz: f64,
    high_hz: f64,
    low_dbm0: f64,
    high_dbm0: f64,
    twist_db: f64,
    quality: f64,
}

#[derive(Debug, Serialize)]
struct FileFailure<'a> {
    file: &'a str,
    error: String,
}
