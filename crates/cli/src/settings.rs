//! What `process` and `serve` both read: survey definitions and secrets.

use std::collections::HashMap;
use std::path::Path;

use std::sync::Arc;

use anyhow::{Context, bail};
use callscore_audio::{DecodeOptions, Recording};
use callscore_pipeline::{NumberPlan, Numbering, RetentionConfig};
use callscore_prompts::Prompt;
use callscore_survey::Survey;

/// Survey definitions by id, and the prompt audio each names, decoded.
pub(crate) struct Surveys {
    pub(crate) surveys: HashMap<String, Survey>,
    pub(crate) prompts: HashMap<String, Arc<[Prompt]>>,
}

/// Reads survey definitions, by id, and the prompt audio files they name (relative to each
/// survey file), so that a missing or broken prompt stops start-up rather than a recording.
pub(crate) fn load_surveys<P: AsRef<Path>>(paths: &[P]) -> anyhow::Result<Surveys> {
    let mut surveys = HashMap::new();
    let mut prompts = HashMap::new();
    for path in paths {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let survey = Survey::from_toml(&text).with_context(|| format!("{}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let audio = survey
            .prompt_audio()
            .into_iter()
            .map(|file| {
                load_prompt(&dir.join(file))
                    .with_context(|| format!("{}: prompt audio {file:?}", path.display()))
            })
            .collect::<anyhow::Result<Vec<Prompt>>>()?;
        if !audio.is_empty() {
            prompts.insert(survey.id().to_string(), Arc::from(audio));
        }
        surveys.insert(survey.id().to_string(), survey);
    }
    Ok(Surveys { surveys, prompts })
}

/// A prompt's audio file, in any format callscore decodes, mixed down to one channel at 8 kHz.
pub(crate) fn load_prompt(path: &Path) -> anyhow::Result<Prompt> {
    let options = DecodeOptions {
        mix_down: true,
        ..DecodeOptions::default()
    };
    let mut recording = Recording::open_path(path, &options)
        .with_context(|| format!("cannot decode {}", path.display()))?;
    // a file longer than any prompt is refused without being decoded whole
    let most =
        (callscore_prompts::MAX_PROMPT_SECONDS * f64::from(callscore_prompts::RATE)) as usize + 1;
    let mut samples = Vec::new();
    while let Some(block) = recording
        .next_block()
        .with_context(|| format!("cannot decode {}", path.display()))?
    {
        samples.extend_from_slice(&block[0]);
        if samples.len() > most {
            break;
        }
    }
    Prompt::new(samples).with_context(|| format!("{}", path.display()))
}

/// The retention periods in the TOML file at `path` (built-in defaults without one),
/// validated.
pub(crate) fn load_retention(path: Option<&Path>) -> anyhow::Result<RetentionConfig> {
    let Some(path) = path else {
        return Ok(RetentionConfig::default());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut config: RetentionConfig =
        toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
    config
        .validate()
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("{}", path.display()))?;
    Ok(config)
}

/// How the recordings' IVRs write callers' numbers, as `[numbers]` in a configuration.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct NumberArgs {
    /// The callers' country code (31): numbers written with the trunk or the international
    /// prefix are put in international form (+31…) before they are pseudonymised, and looked
    /// up in every form, so one caller has one pseudonym. Without it, numbers are taken as
    /// written.
    #[arg(long, value_name = "CC")]
    country_code: Option<String>,

    /// With --country-code: the prefix of a national number (default 0, or 1 for country
    /// code 1; "" where there is none).
    #[arg(long, value_name = "DIGITS", requires = "country_code")]
    trunk_prefix: Option<String>,

    /// With --country-code: the prefix of an international number (default 00, or 011 for
    /// country code 1).
    #[arg(long, value_name = "DIGITS", requires = "country_code")]
    international_prefix: Option<String>,
}

impl NumberArgs {
    /// The plan given, validated.
    pub(crate) fn numbering(&self) -> anyhow::Result<Numbering> {
        let Some(country) = &self.country_code else {
            return Ok(Numbering::as_written());
        };
        let plan = NumberPlan::for_country(
            country,
            self.trunk_prefix.as_deref(),
            self.international_prefix.as_deref(),
        )?;
        Ok(Numbering::new(Some(plan), HashMap::new()))
    }

    /// Whether any was given.
    pub(crate) fn given(&self) -> bool {
        self.country_code.is_some()
    }

    /// The plan as configuration text, for the audit trail; empty without one (so that the
    /// configuration of a command without a plan reads as before plans existed).
    pub(crate) fn describe(&self) -> String {
        match &self.country_code {
            None => String::new(),
            Some(country) => format!(
                "\n[numbers]\ncountry_code = {country:?}\ntrunk_prefix = {:?}\n\
                 international_prefix = {:?}\n",
                self.trunk_prefix, self.international_prefix
            ),
        }
    }
}

/// A secret from a file (raw bytes, or hex text) or, failing that, from the hex in the
/// environment variable `env`. `what` names it in errors.
pub(crate) fn read_secret(file: Option<&Path>, env: &str, what: &str) -> anyhow::Result<Vec<u8>> {
    if let Some(path) = file {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read the {what} file {}", path.display()))?;
        let text = String::from_utf8_lossy(&bytes);
        return Ok(from_hex(text.trim()).unwrap_or(bytes));
    }
    match std::env::var(env) {
        Ok(hex) => from_hex(hex.trim()).with_context(|| format!("{env} is not hexadecimal")),
        Err(_) => bail!("no {what}: give a key file or set {env} (hex, at least 32 bytes)"),
    }
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}
