//! `callscore detect`: the DTMF key presses in recordings, as digit strings or JSON.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use callscore_audio::{DecodeError, WavReader, WavSpec};
use callscore_dtmf::{ConfigError, Detector, DetectorConfig, KeyEvent};
use serde::Serialize;

/// Print the DTMF digits keyed in each recording.
///
/// For each FILE, one line on standard output with the digits found in it, in the order they
/// were keyed (all channels together unless --channel picks one). Nothing else is written to
/// standard output, so scripts can read it; messages go to standard error.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Formats: WAV (RIFF or RF64) with linear PCM (8-32 bit), IEEE float or G.711 A-law/u-law
samples, at 8000-192000 Hz, 1-64 channels. Any other format is refused with its name.

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
    #[arg(long, value_name = "N")]
    channel: Option<u16>,

    /// Ignore the A, B, C and D keys, which ordinary telephone keypads lack.
    #[arg(long)]
    no_extended: bool,
}

/// Why one file could not be analysed.
#[derive(Debug, thiserror::Error)]
enum FileError {
    #[error("cannot open: {0}")]
    Open(io::Error),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Rate(#[from] ConfigError),
    #[error("has no channel {channel} (it has {channels}; the first is 0)")]
    NoChannel { channel: u16, channels: u16 },
}

/// What was found in one file.
#[derive(Debug)]
struct Report {
    spec: WavSpec,
    frames: u64,
    /// Key presses of every analysed channel, in the order they started.
    events: Vec<(u16, KeyEvent)>,
    warnings: Vec<String>,
}

/// Frames decoded and analysed at a time.
const BLOCK_FRAMES: usize = 4096;

pub(crate) fn run(args: &Args) -> ExitCode {
    let mut stdout = io::stdout().lock();
    let mut failed = false;
    for path in &args.files {
        let name = path.display().to_string();
        let written = match analyse(path, args) {
            Ok(report) => {
                for warning in &report.warnings {
                    complain(&format!("{name}: warning: {warning}"));
                }
                write_report(&mut stdout, &name, &report, args.json)
            }
            Err(error) => {
                failed = true;
                complain(&format!("{name}: {error}"));
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
                complain(&format!("cannot write the results: {error}"));
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
fn analyse(path: &Path, args: &Args) -> Result<Report, FileError> {
    let input: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(BufReader::new(File::open(path).map_err(FileError::Open)?))
    };
    let mut wav = WavReader::new(input)?;
    let spec = wav.spec();
    let channels: Vec<u16> = match args.channel {
        Some(channel) if channel >= spec.channels => {
            return Err(FileError::NoChannel {
                channel,
                channels: spec.channels,
            });
        }
        Some(channel) => vec![channel],
        None => (0..spec.channels).collect(),
    };
    let config = DetectorConfig {
        sample_rate: spec.sample_rate,
        extended_keys: !args.no_extended,
        ..DetectorConfig::default()
    };
    let mut detectors = Vec::with_capacity(channels.len());
    for _ in &channels {
        detectors.push(Detector::new(&config)?);
    }
    let mut found = vec![Vec::new(); channels.len()];
    let mut frames = 0;
    while let Some(block) = wav.next_block(BLOCK_FRAMES)? {
        frames += block[0].len() as u64;
        for ((detector, events), &channel) in detectors.iter_mut().zip(&mut found).zip(&channels) {
            detector.push(&block[usize::from(channel)], events);
        }
    }
    for (detector, events) in detectors.iter_mut().zip(&mut found) {
        detector.finish(events);
    }

    let mut warnings = Vec::new();
    if wav.missing_bytes() > 0 {
        warnings.push(format!(
            "the recording is cut off ({} bytes of audio missing at the end); analysed what is \
             there",
            wav.missing_bytes()
        ));
    }
    if wav.replaced_samples() > 0 {
        warnings.push(format!(
            "{} float samples were NaN or infinite and were read as silence",
            wav.replaced_samples()
        ));
    }
    let mut events: Vec<(u16, KeyEvent)> = channels
        .iter()
        .zip(found)
        .flat_map(|(&channel, events)| events.into_iter().map(move |e| (channel, e)))
        .collect();
    events.sort_by_key(|(channel, event)| (event.start, *channel));
    Ok(Report {
        spec,
        frames,
        events,
        warnings,
    })
}

fn write_report(out: &mut impl Write, name: &str, report: &Report, json: bool) -> io::Result<()> {
    let digits: String = report.events.iter().map(|(_, e)| e.key.as_char()).collect();
    if !json {
        return writeln!(out, "{digits}");
    }
    let rate = f64::from(report.spec.sample_rate);
    let events = report
        .events
        .iter()
        .map(|(channel, e)| EventJson {
            key: e.key.as_char(),
            channel: *channel,
            start_seconds: round(e.start_seconds(), 4),
            end_seconds: round(e.end_seconds(), 4),
            duration_seconds: round(e.duration_seconds(), 4),
            low_hz: round(f64::from(e.low_hz), 1),
            high_hz: round(f64::from(e.high_hz), 1),
            low_dbm0: round(f64::from(e.low_dbm0), 1),
            high_dbm0: round(f64::from(e.high_dbm0), 1),
            twist_db: round(f64::from(e.twist_db), 1),
            quality: round(f64::from(e.quality), 3),
        })
        .collect();
    write_json(
        out,
        &FileJson {
            file: name,
            sample_rate: report.spec.sample_rate,
            channels: report.spec.channels,
            encoding: report.spec.encoding.to_string(),
            duration_seconds: round(report.frames as f64 / rate, 4),
            digits,
            events,
            warnings: &report.warnings,
        },
    )
}

fn write_json(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    writeln!(out)
}

/// Rounds to `places` decimals, so that the JSON shows what the measurement supports.
fn round(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
}

/// A message for the person at the terminal.
fn complain(message: &str) {
    // nothing better to do when standard error itself is gone
    let _ = writeln!(io::stderr(), "callscore: {message}");
}

#[derive(Debug, Serialize)]
struct FileJson<'a> {
    file: &'a str,
    sample_rate: u32,
    channels: u16,
    encoding: String,
    duration_seconds: f64,
    digits: String,
    events: Vec<EventJson>,
    warnings: &'a [String],
}

#[derive(Debug, Serialize)]
struct EventJson {
    key: char,
    channel: u16,
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
