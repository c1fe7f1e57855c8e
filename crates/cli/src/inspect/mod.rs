//! `callscore inspect`: why a digit was found, missed or invented, as a picture per channel and
//! as data.

mod picture;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use callscore_audio::{DecodeOptions, OUTPUT_RATE, Recording};
use callscore_dtmf::diagnostics::diagnose;
use callscore_dtmf::{Candidate, KeyEvent};
use callscore_pipeline::{Heard, PromptHeard, RecordingMetadata};
use callscore_prompts::Prompt;
use callscore_survey::{KeyInput, KeyPress, Survey, extract};
use serde::Serialize;

use crate::detect::{EventJson, PromptJson, round};
use picture::{Mark, MarkKind};

/// Draw and list what the detector made of a recording: for the engineer asking why a digit was
/// missed or invented.
///
/// Writes one PNG per channel into --out (FILE's name, then `.chN.png`): the waveform, a
/// spectrogram of the telephone band (0-4 kHz) with every key found (green) and every rejected
/// candidate (red) boxed at its two tones, a lane of their keys (a rejected one with its
/// verdict's code: TS too short, LV level, TW twist, FQ frequency, PU purity, SH tone share, TO
/// talk-off, DI disabled), and with --survey the question
/// windows (blue, with the answer) and the known prompts found (grey). Prints the pictures'
/// paths, or with --json the same facts as one JSON object: every key with its times and
/// levels, every candidate with its measures and verdict, the prompts found, the answers.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The recording, in any format `callscore detect` reads.
    #[arg(value_name = "FILE")]
    file: PathBuf,

    /// Directory to write the pictures into.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,

    /// Print the facts as JSON on standard output instead of the pictures' paths.
    #[arg(long)]
    json: bool,

    /// The survey the call answers: its question windows and answers are drawn, and the
    /// prompts it names are subtracted before detection.
    #[arg(long, value_name = "FILE")]
    survey: Option<PathBuf>,

    /// The recording's metadata (default: FILE's name with `.json`, when that file exists).
    #[arg(long, value_name = "FILE", requires = "survey")]
    metadata: Option<PathBuf>,

    /// A known prompt to subtract before detection (repeatable), as for `detect`.
    #[arg(long = "prompt", value_name = "FILE")]
    prompts: Vec<PathBuf>,

    /// Ignore the A, B, C and D keys.
    #[arg(long)]
    no_extended: bool,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    match inspect(args) {
        Ok(report) => {
            #[allow(clippy::print_stdout)]
            if args.json {
                match serde_json::to_string(&report) {
                    Ok(json) => println!("{json}"),
                    Err(error) => {
                        crate::complain(&format!("cannot write the facts: {error}"));
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                for picture in &report.pictures {
                    println!("{picture}");
                }
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            crate::complain(&format!("{error:#}"));
            ExitCode::FAILURE
        }
    }
}

/// Everything `inspect` found in one recording.
#[derive(Debug, Serialize)]
struct Report {
    file: String,
    container: String,
    encoding: String,
    sample_rate: u32,
    channels: u16,
    duration_seconds: f64,
    /// The pictures written, one per channel.
    pictures: Vec<String>,
    /// The keys the survey extraction used, all analysed channels merged (the caller's channel
    /// only when the metadata names it), in the order they started.
    digits: String,
    /// Per channel: keys, candidates and prompts.
    analysis: Vec<ChannelReport>,
    /// With --survey: the answers and their windows.
    #[serde(skip_serializing_if = "Option::is_none")]
    survey: Option<SurveyReport>,
}

#[derive(Debug, Serialize)]
struct ChannelReport {
    channel: u16,
    keys: Vec<EventJson>,
    candidates: Vec<CandidateJson>,
    prompts: Vec<PromptJson>,
}

#[derive(Debug, Serialize)]
struct CandidateJson {
    key: char,
    start_seconds: f64,
    end_seconds: f64,
    low_hz: f64,
    high_hz: f64,
    low_dbm0: f64,
    high_dbm0: f64,
    /// `key` when reported, else the first check it failed.
    verdict: &'static str,
    /// The measures that tell a key from a voice; absent outside the Q.24 limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    shape: Option<ShapeJson>,
}

#[derive(Debug, Serialize)]
struct ShapeJson {
    fit: f64,
    purity: f64,
    tone_share: f64,
    neighbours_db: f64,
    drift_db: f64,
    chirp_hz: f64,
    edge_db: f64,
    ramp_blocks: u32,
    decay_db: f64,
    pitch_hz: f64,
    harmonic_deviation: f64,
}

#[derive(Debug, Serialize)]
struct SurveyReport {
    survey_id: String,
    survey_version: u32,
    questions: Vec<QuestionJson>,
}

#[derive(Debug, Serialize)]
struct QuestionJson {
    question_id: String,
    /// When the question's prompt started, and when the next one did (or the recording ended);
    /// absent when not known.
    #[serde(skip_serializing_if = "Option::is_none")]
    window_start_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    window_end_seconds: Option<f64>,
    status: callscore_survey::Status,
    value: Option<u32>,
    raw_keys: String,
}

fn inspect(args: &Args) -> anyhow::Result<Report> {
    let mut prompts: Vec<(String, Prompt)> = Vec::new();
    for path in &args.prompts {
        prompts.push((shown(path), crate::settings::load_prompt(path)?));
    }
    let survey = match &args.survey {
        Some(path) => Some(load_survey(path, &mut prompts)?),
        None => None,
    };
    let metadata = match (&args.survey, &args.metadata) {
        (None, _) => None,
        (Some(_), Some(path)) => Some(read_metadata(path)?),
        (Some(_), None) => {
            let beside = args.file.with_extension("json");
            beside
                .is_file()
                .then(|| read_metadata(&beside))
                .transpose()?
        }
    };

    let mut recording = Recording::open_path(
        &args.file,
        &DecodeOptions {
            extension: args
                .file
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_owned),
            ..DecodeOptions::default()
        },
    )
    .with_context(|| shown(&args.file))?;
    let mut channels = vec![Vec::new(); usize::from(recording.output_channels())];
    while let Some(block) = recording.next_block().with_context(|| shown(&args.file))? {
        for (channel, samples) in channels.iter_mut().zip(block) {
            channel.extend_from_slice(samples);
        }
    }
    let info = recording.info().clone();
    let frames = channels.first().map_or(0, Vec::len);
    let duration = frames as f64 / f64::from(OUTPUT_RATE);

    let known: Vec<Prompt> = prompts.iter().map(|(_, p)| p.clone()).collect();
    let mut analysis = Vec::new();
    let mut events: Vec<(u16, KeyEvent)> = Vec::new();
    let mut marks: Vec<Vec<Mark>> = Vec::new();
    for (index, samples) in channels.iter().enumerate() {
        let channel = u16::try_from(index).context("too many channels")?;
        let mut residual = samples.clone();
        let found = callscore_prompts::cancel(&mut residual, &known);
        let diagnosis = diagnose(&residual, OUTPUT_RATE, !args.no_extended)
            .context("the detector refused the sample rate")?;
        let mut channel_marks: Vec<Mark> = diagnosis
            .candidates
            .iter()
            .map(|c| Mark {
                start: c.start as f64 / f64::from(c.sample_rate),
                end: c.end as f64 / f64::from(c.sample_rate),
                tones: Some((c.low_hz, c.high_hz)),
                // a rejected candidate carries its verdict's code: 9:TO is a 9 taken for talk-off
                label: match c.rejection {
                    None => c.key.as_char().to_string(),
                    Some(_) => {
                        format!("{}:{}", c.key.as_char(), picture::verdict_code(c.verdict()))
                    }
                },
                kind: if c.rejection.is_none() {
                    MarkKind::Key
                } else {
                    MarkKind::Rejected
                },
            })
            .collect();
        channel_marks.extend(found.iter().map(|f| Mark {
            start: f.start_seconds().max(0.0),
            end: f.start_seconds() + known[f.prompt].duration_seconds(),
            tones: None,
            label: "P".into(),
            kind: MarkKind::Prompt,
        }));
        marks.push(channel_marks);
        events.extend(diagnosis.keys.iter().map(|e| (channel, e.clone())));
        analysis.push(ChannelReport {
            channel,
            keys: diagnosis
                .keys
                .iter()
                .map(|event| {
                    EventJson::heard(&Heard {
                        event: event.clone(),
                        channel,
                        also_on: Vec::new(),
                    })
                })
                .collect(),
            candidates: diagnosis.candidates.iter().map(candidate_json).collect(),
            prompts: found
                .into_iter()
                .map(|found| {
                    let name = prompts[found.prompt].0.clone();
                    PromptJson::new(&name, &PromptHeard { channel, found })
                })
                .collect(),
        });
    }

    // the keys the survey sees: the caller's channel when the metadata names it
    let caller = metadata.as_ref().and_then(|m| m.caller_channel);
    let heard = callscore_pipeline::merge(
        events
            .into_iter()
            .filter(|(channel, _)| caller.is_none_or(|c| c == *channel))
            .collect(),
    );
    let digits: String = heard.iter().map(|h| h.event.key.as_char()).collect();
    let survey_report = match &survey {
        Some(survey) => {
            let input = KeyInput {
                duration: std::time::Duration::from_secs_f64(duration),
                in_band: Some(
                    heard
                        .iter()
                        .map(|h| KeyPress::from_event(&h.event))
                        .collect(),
                ),
                out_of_band: metadata
                    .as_ref()
                    .and_then(RecordingMetadata::out_of_band_presses),
                question_offsets: metadata
                    .as_ref()
                    .map(RecordingMetadata::offsets)
                    .unwrap_or_default(),
            };
            let answers = extract(survey, &input).context("the survey's extraction")?;
            let starts: Vec<Option<f64>> = answers
                .questions
                .iter()
                .map(|a| a.prompt_start.map(|d| d.as_secs_f64()))
                .collect();
            let mut questions = Vec::new();
            for (i, answer) in answers.questions.iter().enumerate() {
                let start = starts[i];
                let end = start.map(|_| {
                    starts[i + 1..]
                        .iter()
                        .flatten()
                        .next()
                        .copied()
                        .unwrap_or(duration)
                });
                if let (Some(start), Some(end)) = (start, end) {
                    let value = answer.value.map_or("-".to_string(), |v| v.to_string());
                    for channel_marks in &mut marks {
                        channel_marks.push(Mark {
                            start,
                            end,
                            tones: None,
                            label: format!("Q{}={value}", i + 1),
                            kind: MarkKind::Question,
                        });
                    }
                }
                questions.push(QuestionJson {
                    question_id: answer.question_id.clone(),
                    window_start_seconds: start.map(|s| round(s, 3)),
                    window_end_seconds: end.map(|s| round(s, 3)),
                    status: answer.status,
                    value: answer.value,
                    raw_keys: answer.raw_keys(),
                });
            }
            Some(SurveyReport {
                survey_id: answers.survey_id,
                survey_version: answers.survey_version,
                questions,
            })
        }
        None => None,
    };

    let stem = args.file.file_stem().map_or("recording".to_string(), |s| {
        s.to_string_lossy().into_owned()
    });
    // a file named after the caller does not put the number in the pictures' names
    let stem = callscore_pipeline::redact::redact(&stem).into_owned();
    let mut pictures = Vec::new();
    for (index, (samples, channel_marks)) in channels.iter().zip(&marks).enumerate() {
        let canvas = picture::draw(samples, OUTPUT_RATE, channel_marks);
        let path = args.out.join(format!("{stem}.ch{index}.png"));
        let bytes = canvas.png().context("encoding the picture")?;
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", shown(&path)))?;
        pictures.push(shown(&path));
    }

    Ok(Report {
        file: shown(&args.file),
        container: info.container.to_string(),
        encoding: info.codec.clone(),
        sample_rate: info.sample_rate,
        channels: info.channels,
        duration_seconds: round(duration, 4),
        pictures,
        digits,
        analysis,
        survey: survey_report,
    })
}

/// A path as shown in output: never a phone number.
fn shown(path: &Path) -> String {
    callscore_pipeline::redact::redact(&path.display().to_string()).into_owned()
}

/// The survey at `path`, its prompts added to `prompts`.
fn load_survey(path: &Path, prompts: &mut Vec<(String, Prompt)>) -> anyhow::Result<Survey> {
    let loaded = crate::settings::load_surveys(&[path])?;
    let (id, survey) = loaded
        .surveys
        .into_iter()
        .next()
        .context("the survey file holds no survey")?;
    if let Some(audio) = loaded.prompts.get(&id) {
        for (file, prompt) in survey.prompt_audio().into_iter().zip(audio.iter()) {
            prompts.push((file.to_string(), prompt.clone()));
        }
    }
    Ok(survey)
}

fn read_metadata(path: &Path) -> anyhow::Result<RecordingMetadata> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", shown(path)))?;
    RecordingMetadata::from_json(&bytes).with_context(|| shown(path))
}

fn candidate_json(c: &Candidate) -> CandidateJson {
    let r = |x: f32, places| round(f64::from(x), places);
    CandidateJson {
        key: c.key.as_char(),
        start_seconds: round(c.start as f64 / f64::from(c.sample_rate), 4),
        end_seconds: round(c.end as f64 / f64::from(c.sample_rate), 4),
        low_hz: r(c.low_hz, 1),
        high_hz: r(c.high_hz, 1),
        low_dbm0: r(c.low_dbm0, 1),
        high_dbm0: r(c.high_dbm0, 1),
        verdict: c.verdict(),
        shape: c.shape.as_ref().map(|s| ShapeJson {
            fit: r(s.whole.fit.min(s.cleanest.fit), 3),
            purity: r(s.whole.purity, 3),
            tone_share: r(s.whole.tone_share, 3),
            neighbours_db: r(s.cleanest.neighbours_db, 1),
            drift_db: r(s.drift_db, 1),
            chirp_hz: r(s.chirp_hz, 1),
            edge_db: r(s.edge_db, 1),
            ramp_blocks: s.ramp_blocks,
            decay_db: r(s.decay_db, 1),
            pitch_hz: r(s.pitch_hz, 0),
            harmonic_deviation: r(s.harmonic_deviation, 2),
        }),
    }
}
