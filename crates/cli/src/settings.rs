//! What `process` and `serve` both read: survey definitions and secrets.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};
use callscore_pipeline::RetentionConfig;
use callscore_survey::Survey;

/// Reads survey definitions, by id.
pub(crate) fn load_surveys<P: AsRef<Path>>(paths: &[P]) -> anyhow::Result<HashMap<String, Survey>> {
    let mut surveys = HashMap::new();
    for path in paths {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let survey = Survey::from_toml(&text).with_context(|| format!("{}", path.display()))?;
        surveys.insert(survey.id().to_string(), survey);
    }
    Ok(surveys)
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
