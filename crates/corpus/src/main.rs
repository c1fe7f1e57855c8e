//! `callscore-corpus`: generate the talk-off and barge-in corpora and run the detector on them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use callscore_corpus::score::{Callscore, KeyDetector, KnownPrompts};

/// Generate callscore's DTMF test corpora from a seed and report how the detector does.
///
/// Needs espeak-ng and sox on the PATH (Debian: apt-get install espeak-ng sox).
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Non-DTMF telephone audio: every key detected is a false digit. Exits 1 on any.
    TalkOff {
        /// Length of the corpus in minutes (items are 30 s; a shorter corpus is the start of
        /// a longer one).
        #[arg(long, default_value_t = 60.0)]
        minutes: f64,
        /// Seed of the corpus.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also write every item as a WAV file into this directory.
        #[arg(long)]
        write: Option<PathBuf>,
    },
    /// Survey calls with keys pressed over prompts: every key must be found and nothing
    /// inserted. Exits 1 otherwise.
    BargeIn {
        /// Number of calls.
        #[arg(long, default_value_t = 500)]
        calls: usize,
        /// Seed of the set.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also write every call as a WAV file (and its keys) into this directory.
        #[arg(long)]
        write: Option<PathBuf>,
        /// The second round's calls (what `seeds` evaluates): prompts up to -12 dBm0 and
        /// stored as coded files, keys down to -20 dBm0 and 6 dB apart, keyed anywhere in a
        /// prompt.
        #[arg(long)]
        wide: bool,
    },
    /// The detector on the tuning seeds (1-10) and on held-out seeds (1001 on), one line per
    /// seed: barge-in keys found, missed and inserted (calls of the second round's breadth, as
    /// `barge-in --wide`), and talk-off false digits. Rules,
    /// thresholds and limits may be set from the tuning seeds only. Exits 1 if the held-out
    /// seeds miss the target (99.9 % of keys found, none inserted, no false digit).
    Seeds {
        /// Barge-in calls per seed.
        #[arg(long, default_value_t = 500)]
        calls: usize,
        /// Minutes of talk-off per seed (20 held-out seeds of 30 minutes are 10 hours).
        #[arg(long, default_value_t = 30.0)]
        minutes: f64,
        /// How many held-out seeds, from 1001.
        #[arg(long, default_value_t = 20)]
        held_out: u64,
        /// Run the held-out seeds only.
        #[arg(long)]
        held_out_only: bool,
        /// Barge-in calls of the first round's breadth instead of the second's.
        #[arg(long)]
        first_round: bool,
    },
    /// Every candidate the detector measured on both corpora, as CSV on stdout, labelled
    /// `key` for real key presses: for studying the detector's margins.
    Features {
        /// Minutes of the talk-off corpus.
        #[arg(long, default_value_t = 60.0)]
        minutes: f64,
        /// Barge-in calls.
        #[arg(long, default_value_t = 500)]
        calls: usize,
        /// Seed of both corpora.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Barge-in calls of the second round's breadth.
        #[arg(long)]
        wide: bool,
    },
    /// Fits the DTMF detector's talk-off score (a logistic regression over the measures it
    /// weighs) on the tuning seeds' barge-in calls and talk-off, and shows how a fit on half
    /// the seeds does on the other half next to the detector's own weights.
    FitTalkOff {
        /// Barge-in calls per seed (of the second round's breadth).
        #[arg(long, default_value_t = 500)]
        calls: usize,
        /// Minutes of talk-off per seed.
        #[arg(long, default_value_t = 300.0)]
        minutes: f64,
        /// How many tuning seeds, from 1 (held-out seeds are refused).
        #[arg(long, default_value_t = 10)]
        tuning: u64,
    },
    /// The voice-activity detector on spoken comments: one line per condition (clean; pink
    /// noise, babble and music at several SNRs; silence, noise, babble, music and DTMF alone)
    /// for the tuning seeds (1-10) and the held-out seeds (from 1001): utterances found,
    /// precision of the speech found, comments with both boundaries within 100 ms, and false
    /// comments where there is none. Exits 1 if the held-out seeds miss the target (95 % of
    /// the boundaries at 10 dB SNR or better, no false comment).
    Comments {
        /// Windows per condition per seed.
        #[arg(long, default_value_t = 20)]
        windows: usize,
        /// How many tuning seeds, from 1.
        #[arg(long, default_value_t = 3)]
        tuning: u64,
        /// How many held-out seeds, from 1001.
        #[arg(long, default_value_t = 3)]
        held_out: u64,
        /// Run these seeds instead (repeatable).
        #[arg(long)]
        seed: Vec<u64>,
        /// Also list every failing window.
        #[arg(long)]
        verbose: bool,
        /// Instead, print every frame's measures as CSV (tuning seeds only).
        #[arg(long)]
        frames: bool,
    },
    /// Writes the recordings committed under `fixtures/` and their manifest, and the survey
    /// calls with metadata under `fixtures/recordings/`, from fixed seeds.
    Fixtures {
        /// Directory to write into (the repository's is `fixtures/`).
        dir: PathBuf,
    },
    /// The reference transcriber (PocketSphinx, US English) on generated English comments
    /// through a telephone line: word error rate over quiet line noise and with pink noise
    /// 20 dB down. Needs the `pocketsphinx` feature.
    #[cfg(feature = "pocketsphinx")]
    Transcripts {
        /// Comments per condition (about 3 s of CPU each).
        #[arg(long, default_value_t = 20)]
        comments: usize,
        /// Seed of the comments.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The model directory.
        #[arg(long, default_value = callscore_transcribe::pocketsphinx::DEBIAN_MODEL_DIR)]
        model: PathBuf,
    },
    /// Every candidate the detector measured in one call or talk-off item, with the keys
    /// pressed: for explaining a miss or an insertion.
    Explain {
        /// `call-N` for a barge-in call, `CATEGORY-N` for a talk-off item (`music-010`), or
        /// the path of a recording in any format `callscore detect` reads.
        source: String,
        /// Seed of the corpus.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// A call of the second round's breadth (as `barge-in --wide` and `seeds`).
        #[arg(long)]
        wide: bool,
    },
}

fn breadth(wide: bool) -> callscore_corpus::Breadth {
    if wide {
        callscore_corpus::Breadth::Wide
    } else {
        callscore_corpus::Breadth::FirstRound
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("callscore-corpus: {e:#}");
            }
            ExitCode::from(2)
        }
    }
}

#[allow(clippy::print_stdout)]
fn run(cli: Cli) -> anyhow::Result<bool> {
    let detectors: [&dyn KeyDetector; 1] = [&Callscore];
    match cli.command {
        Command::TalkOff {
            minutes,
            seed,
            write,
        } => {
            prepare(write.as_ref())?;
            let reports = callscore_corpus::talk_off(minutes, seed, &detectors, write.as_deref())?;
            for r in &reports {
                print!("{}", r.render());
            }
            Ok(reports.iter().all(|r| r.false_digits() == 0))
        }
        Command::BargeIn {
            calls,
            seed,
            write,
            wide,
        } => {
            prepare(write.as_ref())?;
            // the plain detector and, beside it, the same with the IVR's prompts cancelled
            let reports = callscore_corpus::barge_in(
                calls,
                seed,
                breadth(wide),
                &[&Callscore, &KnownPrompts],
                write.as_deref(),
            )?;
            for r in &reports {
                print!("{}", r.render());
            }
            Ok(reports.iter().all(|r| r.failures.is_empty()))
        }
        Command::Seeds {
            calls,
            minutes,
            held_out,
            held_out_only,
            first_round,
        } => {
            use callscore_corpus::seeds;
            let tuning: Vec<u64> = if held_out_only {
                Vec::new()
            } else {
                seeds::TUNING_SEEDS.collect()
            };
            let held = seeds::FIRST_HELD_OUT_SEED..seeds::FIRST_HELD_OUT_SEED + held_out;
            let mut results = Vec::new();
            for seed in tuning.into_iter().chain(held) {
                results.push(seeds::evaluate(
                    seed,
                    calls,
                    minutes,
                    breadth(!first_round),
                )?);
            }
            print!("{}", seeds::render(&results));
            Ok(seeds::held_out_meets_target(&results))
        }
        Command::Features {
            minutes,
            calls,
            seed,
            wide,
        } => {
            print!(
                "{}",
                callscore_corpus::candidate_table(minutes, calls, seed, breadth(wide))?
            );
            Ok(true)
        }
        Command::Comments {
            windows,
            tuning,
            held_out,
            seed,
            verbose,
            frames,
        } => {
            use callscore_corpus::{comments, seeds};
            let settings = callscore_vad::Settings::default();
            let seeds: Vec<u64> = if seed.is_empty() {
                (1..=tuning)
                    .chain(seeds::FIRST_HELD_OUT_SEED..seeds::FIRST_HELD_OUT_SEED + held_out)
                    .collect()
            } else {
                seed
            };
            if frames {
                print!("{}", comments::frame_table(&seeds, windows, &settings)?);
                return Ok(true);
            }
            let tallies = comments::evaluate(&seeds, windows, &settings)?;
            print!("{}", comments::render_table(&tallies));
            if verbose {
                for t in &tallies {
                    for f in &t.failures {
                        println!("  {f}");
                    }
                }
            }
            Ok(comments::held_out_meets_target(&tallies))
        }
        Command::FitTalkOff {
            calls,
            minutes,
            tuning,
        } => {
            let seeds: Vec<u64> = (1..=tuning).collect();
            let samples = callscore_corpus::fit::samples(&seeds, calls, minutes)?;
            print!("{}", callscore_corpus::fit::report(&samples)?);
            Ok(true)
        }
        Command::Fixtures { dir } => {
            std::fs::create_dir_all(&dir)?;
            let fixtures = callscore_corpus::fixtures::generate();
            for fixture in &fixtures {
                std::fs::write(dir.join(&fixture.file), &fixture.bytes)?;
            }
            let manifest = callscore_corpus::fixtures::manifest(&fixtures);
            std::fs::write(dir.join("manifest.json"), manifest)?;
            let recordings = callscore_corpus::recordings::generate();
            let sub = dir.join(callscore_corpus::recordings::DIR);
            std::fs::create_dir_all(&sub)?;
            for (name, bytes) in callscore_corpus::recordings::files(&recordings) {
                let path = sub.join(name);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(path, bytes)?;
            }
            let prompted = dir.join(callscore_corpus::prompted::DIR);
            std::fs::create_dir_all(&prompted)?;
            for (name, bytes) in callscore_corpus::prompted::files() {
                let path = prompted.join(name);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(path, bytes)?;
            }
            println!(
                "wrote {} fixtures and manifest.json, {} survey recordings with their \
                 metadata, expected.json and README.md under {}/, and the known-prompt example \
                 under {}/, to {}",
                fixtures.len(),
                recordings.len(),
                callscore_corpus::recordings::DIR,
                callscore_corpus::prompted::DIR,
                dir.display()
            );
            Ok(true)
        }
        #[cfg(feature = "pocketsphinx")]
        Command::Transcripts {
            comments,
            seed,
            model,
        } => {
            let mut recogniser = callscore_transcribe::pocketsphinx::PocketSphinx::new(&model)?;
            let started = std::time::Instant::now();
            let report = callscore_corpus::transcripts::evaluate(&mut recogniser, comments, seed)?;
            println!(
                "{} on {} English comments, seed {seed}",
                recogniser.engine(),
                report.comments
            );
            println!("condition            words  errors     WER");
            for (name, e) in [
                ("quiet line", report.clean),
                ("pink noise 20 dB", report.noisy),
            ] {
                println!(
                    "{name:<18} {:>7} {:>7} {:>6.1} %",
                    e.words,
                    e.errors,
                    100.0 * e.rate()
                );
            }
            for (said, heard) in &report.examples {
                println!("said:  {said}\nheard: {heard}");
            }
            println!("{:.0} s", started.elapsed().as_secs_f64());
            Ok(true)
        }
        Command::Explain { source, seed, wide } => {
            print!(
                "{}",
                callscore_corpus::explain(&source, seed, breadth(wide))?
            );
            Ok(true)
        }
    }
}

fn prepare(dir: Option<&PathBuf>) -> anyhow::Result<()> {
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
    }
    Ok(())
}
