//! Fuzzes the service configuration: any file text and any environment overrides parse to a
//! valid configuration or fail with a message, never a panic, and no message quotes a value
//! given in the environment (it may be a secret set in the wrong variable).
//!
//! Input: the file's text, a NUL byte, then `NAME=VALUE` lines of overrides. One more override
//! puts a marked value at the setting the first byte of the overrides picks.
//!
//! The fuzz target runs [`check`]; so do the tests, over every input kept in
//! `fuzz/regressions/config` and `fuzz/seeds/config`.

use callscore_cli::config::Config;

/// Where the marked value goes: secrets in their place, and in places that are validated.
const TARGETS: [&str; 13] = [
    "CALLSCORE__KAFKA__COMMON__SASL_PASSWORD",
    "CALLSCORE__KAFKA__RECORDINGS_TOPIC",
    "CALLSCORE__KAFKA__COMMON__BOOTSTRAP_SERVERS",
    "CALLSCORE__S3__BUCKET",
    "CALLSCORE__S3__ENDPOINT_URL",
    "CALLSCORE__S3__PREFIX",
    "CALLSCORE__SERVICE__MAX_IN_FLIGHT",
    "CALLSCORE__SERVICE__METRICS_ADDR",
    "CALLSCORE__RETENTION__DEFAULT__RESPONDENT",
    "CALLSCORE__PSEUDONYM__KEY_ID",
    "CALLSCORE__RETENTION__PRIVACY_REQUESTS",
    "CALLSCORE__SERVICE__TOPIC_CHECK_INTERVAL_S",
    "CALLSCORE__NUMBERS__COUNTRY_CODE",
];
/// The marked value: no setting's name or rule contains it.
const MARK: &str = "Zq7xSECRETxVw";

/// Panics when `data` breaks a property above.
pub(crate) fn check(data: &[u8]) {
    let Ok(data) = std::str::from_utf8(data) else {
        return;
    };
    let (text, overrides) = data.split_once('\0').unwrap_or((data, ""));
    let mut vars: Vec<(String, String)> = overrides
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    let target = TARGETS[overrides.bytes().next().map_or(0, usize::from) % TARGETS.len()];
    vars.push((target.to_string(), MARK.to_string()));
    if let Err(error) = Config::parse(text, &vars) {
        let message = format!("{error:#}");
        // the file's own text may be quoted (a TOML syntax error shows its line), and the
        // names of variables; only values that came from the environment must never be
        if !text.contains(MARK) && !vars.iter().any(|(name, _)| name.contains(MARK)) {
            assert!(
                !message.contains(MARK),
                "an override's value is quoted: {message}"
            );
        }
    }
}
