//! The service's configuration: one TOML file, then environment overrides, validated as a
//! whole at start-up.
//!
//! An override is `CALLSCORE__SECTION__KEY=value` (double underscores between levels, any
//! case): `CALLSCORE__SERVICE__MAX_IN_FLIGHT=64`. Under `kafka.common`, `kafka.consumer` and
//! `kafka.producer` single underscores of the last level become dots, so
//! `CALLSCORE__KAFKA__COMMON__SASL_PASSWORD` sets librdkafka's `sasl.password`. A librdkafka
//! property's value is always text (librdkafka takes text, and a password such as "007" must
//! stay "007"); elsewhere a value is a number or a boolean only when it is written exactly as
//! one (`64`, `true`; not `007`), or when the file has a number or boolean there, else text.
//! No error message quotes an overriding value: it may be a secret set in the wrong variable.
//!
//! Secrets never live in the file: librdkafka's password and key properties are refused there
//! (give them in the environment), the pseudonymisation keys come from files or environment
//! variables, and S3 credentials from the standard AWS chain.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use callscore_audio::Limits;
use callscore_pipeline::{NumberPlan, Numbering, RetentionConfig};
use callscore_s3::S3Config;
use callscore_telemetry::LogFormat;
use serde::Deserialize;

/// The prefix of environment overrides.
const ENV_PREFIX: &str = "CALLSCORE__";
/// librdkafka properties that hold secrets.
const SECRET_PROPERTIES: [&str; 7] = [
    "sasl.password",
    "sasl.oauthbearer.client.secret",
    "ssl.key.password",
    "ssl.key.pem",
    "ssl.keystore.password",
    "sasl.oauthbearer.config",
    "ssl_key",
];

/// The whole configuration of `callscore serve`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub kafka: KafkaSection,
    pub s3: S3Config,
    #[serde(default)]
    pub service: ServiceSection,
    pub surveys: SurveysSection,
    #[serde(default)]
    pub limits: LimitsSection,
    pub pseudonym: PseudonymSection,
    #[serde(default)]
    pub numbers: NumbersSection,
    #[serde(default)]
    pub retention: RetentionConfig,
    #[serde(default)]
    pub sweeper: SweeperSection,
}

/// The retention sweep `serve` runs by itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweeperSection {
    /// Whether `serve` sweeps on schedule (off by default: a CronJob running
    /// `callscore retention sweep` does the same). Of several instances, only the one that
    /// owns partition 0 of the audit topic in the group `GROUP.sweeper` sweeps.
    pub enabled: bool,
    /// Seconds between sweeps (and key rotations).
    pub interval_s: u64,
}

impl Default for SweeperSection {
    fn default() -> SweeperSection {
        SweeperSection {
            enabled: false,
            interval_s: 3600,
        }
    }
}

/// Topics and librdkafka properties.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSection {
    /// Where recordings arrive.
    pub recordings_topic: String,
    /// Where score and response events go.
    pub scores_topic: String,
    /// Where recordings that cannot be processed go, as they came.
    pub dead_letter_topic: String,
    /// Where audit records go (every deletion, export, consent change); needed by the
    /// privacy commands and the sweeper.
    #[serde(default)]
    pub audit_topic: Option<String>,
    /// Where the contact requests of callers who agreed to be contacted go: the one topic
    /// that carries phone numbers. Give it a short retention (as `retention.contact_requests`).
    #[serde(default)]
    pub contact_topic: Option<String>,
    /// Where transcription requests for spoken comments go; required when a survey has a
    /// `comment` question.
    #[serde(default)]
    pub transcription_topic: Option<String>,
    /// Where the transcriber writes its transcripts, keyed by the request's id: erasure
    /// tombstones them there too.
    #[serde(default)]
    pub transcripts_topic: Option<String>,
    /// Where erasure and export requests arrive (`callscore serve-privacy`).
    #[serde(default)]
    pub privacy_requests_topic: Option<String>,
    /// Where the results of those requests go.
    #[serde(default)]
    pub privacy_results_topic: Option<String>,
    /// `ce_source` of the events; the tenant is appended.
    #[serde(default = "default_source")]
    pub event_source: String,
    /// librdkafka properties of both clients, verbatim (`bootstrap.servers`, security, …).
    #[serde(default)]
    pub common: BTreeMap<String, toml::Value>,
    /// librdkafka properties of the consumer only (`group.id`, …).
    #[serde(default)]
    pub consumer: BTreeMap<String, toml::Value>,
    /// librdkafka properties of the producer only.
    #[serde(default)]
    pub producer: BTreeMap<String, toml::Value>,
}

fn default_source() -> String {
    "/callscore".into()
}

/// How the service runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceSection {
    /// Address of `/metrics`, `/healthz` and `/readyz`. All interfaces by default (port
    /// 9464): the orchestrator's probes and Prometheus reach it from outside the container, and
    /// it serves nothing confidential (bounded labels, no ids, no error texts); the server
    /// bounds header reads, connection lifetimes and connections. Set `127.0.0.1:9464` where
    /// only local scrapers need it.
    pub listen: SocketAddr,
    /// Most recordings in flight at once (messages taken and not yet committed).
    pub max_in_flight: usize,
    /// Most bytes of recordings in flight at once; librdkafka's prefetch gets the same bound.
    pub max_in_flight_bytes: u64,
    /// Threads that decode and detect (default: one per core).
    pub workers: Option<usize>,
    /// How long SIGTERM waits for recordings in flight before committing and exiting.
    pub shutdown_timeout_ms: u64,
    /// First wait before retrying a transient failure.
    pub retry_initial_ms: u64,
    /// Longest wait between retries.
    pub retry_max_ms: u64,
    /// `json` (default) or `text`.
    pub log_format: LogFormat,
    /// The log filter when `RUST_LOG` is not set.
    pub log_level: String,
    /// Whether the A-D keys count as key presses.
    pub extended_keys: bool,
    /// How often the topics' retention is checked again after start-up, in seconds.
    pub topic_check_interval_s: u64,
}

impl Default for ServiceSection {
    fn default() -> ServiceSection {
        ServiceSection {
            listen: SocketAddr::from(([0, 0, 0, 0], 9464)),
            max_in_flight: 32,
            max_in_flight_bytes: 512 << 20,
            workers: None,
            shutdown_timeout_ms: 30_000,
            retry_initial_ms: 200,
            retry_max_ms: 30_000,
            log_format: LogFormat::Json,
            log_level: "info".into(),
            extended_keys: true,
            topic_check_interval_s: 3600,
        }
    }
}

/// Survey definitions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveysSection {
    /// TOML files, relative to the configuration file.
    pub files: Vec<PathBuf>,
}

/// Limits on input recordings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// Largest recording, in bytes (inline or fetched).
    pub max_input_bytes: u64,
    /// Longest recording, in seconds.
    pub max_duration_s: u64,
    /// Most channels.
    pub max_channels: u16,
}

impl Default for LimitsSection {
    fn default() -> LimitsSection {
        let limits = Limits::default();
        LimitsSection {
            max_input_bytes: 256 << 20,
            max_duration_s: limits.max_duration.as_secs(),
            max_channels: limits.max_channels,
        }
    }
}

impl LimitsSection {
    pub fn limits(&self) -> Limits {
        Limits {
            max_input_bytes: self.max_input_bytes,
            max_duration: Duration::from_secs(self.max_duration_s),
            max_channels: self.max_channels,
            ..Limits::default()
        }
    }
}

/// Where the pseudonymisation keys come from: a keyring (rotated and destroyed on schedule,
/// the way to keep the anonymisation promise), or fixed keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PseudonymSection {
    /// The keyring directory (`TENANT/kYYYYMMDD.key`), shared by every instance and written
    /// only by the rotation (`callscore keys rotate`, or the sweeper).
    #[serde(default)]
    pub keyring: Option<PathBuf>,
    /// How long a key is current before the next one is made.
    #[serde(default = "default_rotation", with = "span_text")]
    pub rotation: jiff::Span,
    /// A fixed key's id, written into every pseudonym (without a keyring).
    #[serde(default)]
    pub key_id: Option<String>,
    /// A file holding the key (raw, or hex); else the environment variable `key_env` (hex).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The variable holding the key as hex when there is no file.
    #[serde(default = "default_key_env")]
    pub key_env: String,
    /// Tenants with keys of their own.
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantKey>,
}

fn default_key_env() -> String {
    "CALLSCORE_PSEUDONYM_KEY".into()
}

fn default_rotation() -> jiff::Span {
    jiff::Span::new().months(1)
}

/// Spans as text: `"1 month"`, `"P1M"`.
mod span_text {
    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<jiff::Span, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<jiff::Span>()
            .map_err(|e| serde::de::Error::custom(format!("{text:?} is not a period: {e}")))
    }
}

/// How the IVRs write callers' numbers, so that every form of one number (`+31 20 555 0101`,
/// `0031205550101`, `020 555 0101`) has one pseudonym. Without a country code, numbers are
/// taken as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumbersSection {
    /// The country code of the tenants without a plan of their own.
    #[serde(default)]
    pub country_code: Option<Digits>,
    /// The prefix of a national number (`0` by default; `1` for country code 1).
    #[serde(default)]
    pub trunk_prefix: Option<Digits>,
    /// The prefix of an international number (`00` by default; `011` for country code 1).
    #[serde(default)]
    pub international_prefix: Option<Digits>,
    /// Tenants in other countries.
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantNumbers>,
}

/// A tenant's own numbering plan.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantNumbers {
    pub country_code: Digits,
    #[serde(default)]
    pub trunk_prefix: Option<Digits>,
    #[serde(default)]
    pub international_prefix: Option<Digits>,
}

/// Digits as text, also when an override from the environment made them a number (`0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digits(pub String);

impl<'de> Deserialize<'de> for Digits {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Digits, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(u64),
        }
        Ok(Digits(match Raw::deserialize(d)? {
            Raw::Text(text) => text,
            Raw::Number(n) => n.to_string(),
        }))
    }
}

impl NumbersSection {
    /// The plans, validated.
    pub fn numbering(&self) -> anyhow::Result<Numbering> {
        let plan = |country: &Digits, trunk: &Option<Digits>, international: &Option<Digits>| {
            NumberPlan::for_country(
                &country.0,
                trunk.as_ref().map(|d| d.0.as_str()),
                international.as_ref().map(|d| d.0.as_str()),
            )
        };
        let default = match &self.country_code {
            Some(country) => Some(
                plan(country, &self.trunk_prefix, &self.international_prefix).context("numbers")?,
            ),
            None if self.trunk_prefix.is_some() || self.international_prefix.is_some() => {
                bail!("numbers: prefixes without a country_code")
            }
            None => None,
        };
        let mut tenants = HashMap::new();
        for (tenant, own) in &self.tenants {
            let own = plan(
                &own.country_code,
                &own.trunk_prefix,
                &own.international_prefix,
            )
            .with_context(|| format!("numbers.tenants.{tenant}"))?;
            tenants.insert(tenant.clone(), own);
        }
        Ok(Numbering::new(default, tenants))
    }
}

/// A tenant's own pseudonymisation key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantKey {
    pub key_id: String,
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    pub key_env: Option<String>,
}

/// What a Kafka topic name may be, for messages that never quote the name itself.
const TOPIC_RULE: &str = "(1 to 249 ASCII letters, digits, '.', '_' and '-')";

impl Config {
    /// Reads `path`, applies the environment's overrides and validates everything. Relative
    /// paths in the file are resolved against its directory.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let vars: Vec<(String, String)> = std::env::vars().collect();
        let mut config = Config::parse(&text, &vars).with_context(|| path.display().to_string())?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve(base);
        Ok(config)
    }

    /// Parses the text with the overrides among `vars`, and validates.
    pub fn parse(text: &str, vars: &[(String, String)]) -> anyhow::Result<Config> {
        let file: toml::Table = toml::from_str(text)?;
        check_no_secrets(&file)?;
        let mut table = file.clone();
        apply_overrides(&mut table, vars)?;
        let mut config: Config = match toml::Value::Table(table).try_into() {
            Ok(config) => config,
            Err(_) => return Err(Config::misfit(&file, vars)),
        };
        config.validate()?;
        Ok(config)
    }

    /// Why the file with the overrides among `vars` does not deserialise, quoting no
    /// override's value (it may be a secret set in the wrong variable, and a parser's message
    /// quotes values in ways no filter can undo: a value may hold quotes itself). When the
    /// file alone deserialises, the fault is an override's: the message names the variables
    /// that break it on their own.
    fn misfit(file: &toml::Table, vars: &[(String, String)]) -> anyhow::Error {
        if let Err(own) = toml::Value::Table(file.clone()).try_into::<Config>() {
            // the file's own fault (an override's too, perhaps): the file alone says which of
            // its settings is wrong, and holds no override
            return anyhow::anyhow!(callscore_pipeline::redact::without_values(&own.to_string()));
        }
        let fits = |table: toml::Table| toml::Value::Table(table).try_into::<Config>().is_ok();
        let culprits: Vec<&str> = vars
            .iter()
            .filter(|(name, _)| name.starts_with(ENV_PREFIX))
            .filter(|var| {
                let mut table = file.clone();
                apply_overrides(&mut table, std::slice::from_ref(*var)).is_err() || !fits(table)
            })
            .map(|(name, _)| name.as_str())
            .collect();
        if culprits.is_empty() {
            anyhow::anyhow!("the environment's overrides together do not fit the configuration")
        } else {
            anyhow::anyhow!(
                "{}: the value does not fit the setting (a wrong type, or a value where a table \
                 belongs)",
                culprits.join(", ")
            )
        }
    }

    fn resolve(&mut self, base: &Path) {
        let at = |p: &PathBuf| {
            if p.is_relative() {
                base.join(p)
            } else {
                p.clone()
            }
        };
        self.surveys.files = self.surveys.files.iter().map(at).collect();
        self.pseudonym.key_file = self.pseudonym.key_file.as_ref().map(at);
        self.pseudonym.keyring = self.pseudonym.keyring.as_ref().map(at);
        for key in self.pseudonym.tenants.values_mut() {
            key.key_file = key.key_file.as_ref().map(at);
        }
    }

    fn validate(&mut self) -> anyhow::Result<()> {
        let mut problems = Vec::new();
        let kafka = &self.kafka;
        for (name, topic) in [
            ("kafka.recordings_topic", &kafka.recordings_topic),
            ("kafka.scores_topic", &kafka.scores_topic),
            ("kafka.dead_letter_topic", &kafka.dead_letter_topic),
        ] {
            let valid = !topic.is_empty()
                && topic.len() <= 249
                && topic
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !valid {
                problems.push(format!(
                    "{name} is not a valid Kafka topic name {TOPIC_RULE}"
                ));
            }
        }
        let mut topics = vec![
            &kafka.recordings_topic,
            &kafka.scores_topic,
            &kafka.dead_letter_topic,
        ];
        for (name, topic) in [
            ("kafka.audit_topic", &kafka.audit_topic),
            ("kafka.contact_topic", &kafka.contact_topic),
            ("kafka.transcription_topic", &kafka.transcription_topic),
            ("kafka.transcripts_topic", &kafka.transcripts_topic),
            (
                "kafka.privacy_requests_topic",
                &kafka.privacy_requests_topic,
            ),
            ("kafka.privacy_results_topic", &kafka.privacy_results_topic),
        ] {
            let Some(topic) = topic else { continue };
            let valid = !topic.is_empty()
                && topic.len() <= 249
                && topic
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !valid {
                problems.push(format!(
                    "{name} is not a valid Kafka topic name {TOPIC_RULE}"
                ));
            }
            topics.push(topic);
        }
        if kafka.contact_topic.is_none() {
            problems.push(
                "kafka.contact_topic is required: the contact requests of callers who agree to \
                 be contacted go there, and without it their recordings would wait"
                    .into(),
            );
        }
        let distinct: std::collections::BTreeSet<&&String> = topics.iter().collect();
        if distinct.len() != topics.len() {
            problems.push("kafka: the topics must differ".into());
        }
        if self.sweeper.enabled && kafka.audit_topic.is_none() {
            problems
                .push("sweeper.enabled needs kafka.audit_topic: every deletion is audited".into());
        }
        if self.service.topic_check_interval_s == 0 {
            problems.push("service.topic_check_interval_s must be more than 0".into());
        }
        if self.sweeper.interval_s == 0 {
            problems.push("sweeper.interval_s must be more than 0".into());
        }
        match (&self.pseudonym.keyring, &self.pseudonym.key_id) {
            (None, None) => problems
                .push("pseudonym: give a keyring (rotated keys) or a key_id (a fixed key)".into()),
            (Some(_), Some(_)) => {
                problems.push("pseudonym: give either a keyring or a key_id, not both".into());
            }
            _ => {}
        }
        if let Err(error) = self.numbers.numbering() {
            problems.push(format!("{error:#}"));
        }
        let properties = self.properties();
        for role in ["consumer", "producer"] {
            if !properties
                .get(role)
                .is_some_and(|p| p.contains_key("bootstrap.servers"))
            {
                problems.push(format!(
                    "kafka: no bootstrap.servers for the {role} (set it in kafka.common)"
                ));
            }
        }
        if !properties
            .get("consumer")
            .is_some_and(|p| p.contains_key("group.id"))
        {
            problems.push("kafka.consumer: group.id is required".into());
        }
        if let Err(error) = self.s3.validate() {
            problems.push(format!("s3: {error}"));
        }
        let service = &self.service;
        if service.max_in_flight == 0 || service.max_in_flight_bytes == 0 {
            problems.push("service: max_in_flight and max_in_flight_bytes must be positive".into());
        }
        if service.max_in_flight_bytes < self.limits.max_input_bytes {
            problems.push(format!(
                "service.max_in_flight_bytes ({}) is below limits.max_input_bytes ({}): the \
                 largest recording could never be taken",
                service.max_in_flight_bytes, self.limits.max_input_bytes
            ));
        }
        if service.retry_initial_ms == 0 || service.retry_max_ms < service.retry_initial_ms {
            problems.push("service: need 0 < retry_initial_ms <= retry_max_ms".into());
        }
        if self.surveys.files.is_empty() {
            problems.push("surveys.files: at least one survey is needed".into());
        }
        if let Err(error) = self.retention.validate() {
            problems.push(format!("retention: {error}"));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            bail!("invalid configuration:\n  {}", problems.join("\n  "))
        }
    }

    /// The librdkafka properties of `consumer` and `producer`: `common`, then the client's own.
    pub fn properties(&self) -> HashMap<&'static str, BTreeMap<String, String>> {
        let text = |v: &toml::Value| match v {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut out = HashMap::new();
        for (role, own) in [
            ("consumer", &self.kafka.consumer),
            ("producer", &self.kafka.producer),
        ] {
            let merged = self
                .kafka
                .common
                .iter()
                .chain(own)
                .map(|(k, v)| (k.clone(), text(v)))
                .collect();
            out.insert(role, merged);
        }
        out
    }
}

fn check_no_secrets(table: &toml::Table) -> anyhow::Result<()> {
    let Some(kafka) = table.get("kafka").and_then(|k| k.as_table()) else {
        return Ok(());
    };
    for section in ["common", "consumer", "producer"] {
        let Some(properties) = kafka.get(section).and_then(|s| s.as_table()) else {
            continue;
        };
        for key in properties.keys() {
            if SECRET_PROPERTIES.contains(&key.as_str()) {
                let variable = format!(
                    "{ENV_PREFIX}KAFKA__{}__{}",
                    section.to_ascii_uppercase(),
                    key.replace('.', "_").to_ascii_uppercase()
                );
                bail!(
                    "kafka.{section}.{key:?} is a secret and must not be in the file: set \
                     {variable} instead"
                );
            }
        }
    }
    Ok(())
}

fn apply_overrides(table: &mut toml::Table, vars: &[(String, String)]) -> anyhow::Result<()> {
    for (name, value) in vars {
        let Some(path) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let mut parts: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
        if parts.iter().any(String::is_empty) {
            bail!("{name}: empty level in the variable's name");
        }
        let librdkafka = parts.len() == 3
            && parts[0] == "kafka"
            && matches!(parts[1].as_str(), "common" | "consumer" | "producer");
        if librdkafka {
            parts[2] = parts[2].replace('_', ".");
        }
        let (last, levels) = parts.split_last().expect("at least one level");
        let mut here = &mut *table;
        for level in levels {
            here = here
                .entry(level.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .with_context(|| format!("{name}: {level} is not a table"))?;
        }
        let value = if librdkafka {
            toml::Value::String(value.clone())
        } else {
            parse_value(value, here.get(last.as_str()))
        };
        here.insert(last.clone(), value);
    }
    Ok(())
}

/// An override's value: of the type the file has at that place, else a number or boolean
/// only when written exactly as one (`64`, `true`, not `007` or `+1`), else text.
fn parse_value(text: &str, existing: Option<&toml::Value>) -> toml::Value {
    let text_value = || toml::Value::String(text.to_string());
    let canonical = text.parse::<i64>().ok().filter(|n| n.to_string() == text);
    match existing {
        Some(toml::Value::String(_)) => text_value(),
        Some(toml::Value::Integer(_)) => canonical.map_or_else(text_value, toml::Value::Integer),
        Some(toml::Value::Boolean(_)) => text
            .parse::<bool>()
            .map_or_else(|_| text_value(), toml::Value::Boolean),
        _ => {
            if let Some(n) = canonical {
                toml::Value::Integer(n)
            } else if let Ok(b) = text.parse::<bool>() {
                toml::Value::Boolean(b)
            } else {
                text_value()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [kafka]
        recordings_topic = "recordings"
        scores_topic = "scores"
        dead_letter_topic = "recordings-dlq"
        contact_topic = "contact"
        [kafka.common]
        "bootstrap.servers" = "127.0.0.1:9092"
        [kafka.consumer]
        "group.id" = "callscore"
        [s3]
        bucket = "audio"
        [surveys]
        files = ["nps.toml"]
        [pseudonym]
        key_id = "k1"
    "#;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_minimal_file_gets_defaults() {
        let config = Config::parse(MINIMAL, &[]).expect("valid");
        assert_eq!(config.service.max_in_flight, 32);
        let properties = config.properties();
        assert_eq!(properties["consumer"]["group.id"], "callscore");
        assert_eq!(
            properties["producer"]["bootstrap.servers"],
            "127.0.0.1:9092"
        );
        assert!(!properties["producer"].contains_key("group.id"));
    }

    #[test]
    fn environment_overrides_reach_any_level() {
        let config = Config::parse(
            MINIMAL,
            &vars(&[
                ("CALLSCORE__SERVICE__MAX_IN_FLIGHT", "7"),
                ("CALLSCORE__KAFKA__COMMON__SASL_PASSWORD", "from-env"),
                ("CALLSCORE__S3__BUCKET", "other"),
                ("UNRELATED", "x"),
            ]),
        )
        .expect("valid");
        assert_eq!(config.service.max_in_flight, 7);
        assert_eq!(config.s3.bucket, "other");
        assert_eq!(config.properties()["consumer"]["sasl.password"], "from-env");
    }

    #[test]
    fn secrets_stay_text_whatever_they_look_like() {
        let config = Config::parse(
            MINIMAL,
            &vars(&[
                ("CALLSCORE__KAFKA__COMMON__SASL_PASSWORD", "007"),
                ("CALLSCORE__KAFKA__PRODUCER__LINGER_MS", "10"),
                ("CALLSCORE__PSEUDONYM__KEY_ID", "007"),
            ]),
        )
        .expect("valid");
        let properties = config.properties();
        assert_eq!(properties["consumer"]["sasl.password"], "007");
        assert_eq!(properties["producer"]["linger.ms"], "10");
        assert_eq!(config.pseudonym.key_id.as_deref(), Some("007"));
    }

    #[test]
    fn a_secret_in_the_wrong_variable_is_never_quoted() {
        let error = Config::parse(
            MINIMAL,
            &vars(&[("CALLSCORE__SERVICE__MAX_IN_FLIGHT", "hunter2-secret")]),
        )
        .expect_err("not a number");
        let text = format!("{error:#}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("CALLSCORE__SERVICE__MAX_IN_FLIGHT"), "{text}");
    }

    #[test]
    fn secrets_in_the_file_are_refused_with_the_variable_to_use() {
        let text = MINIMAL.replace(
            "[kafka.consumer]",
            "\"sasl.password\" = \"hunter2\"\n[kafka.consumer]",
        );
        let error = Config::parse(&text, &[]).expect_err("refused").to_string();
        assert!(
            error.contains("CALLSCORE__KAFKA__COMMON__SASL_PASSWORD"),
            "{error}"
        );
        assert!(!error.contains("hunter2"));
    }

    #[test]
    fn a_value_in_the_wrong_variable_is_never_quoted_by_validation() {
        for name in [
            "CALLSCORE__KAFKA__SCORES_TOPIC",
            "CALLSCORE__S3__BUCKET",
            "CALLSCORE__S3__ENDPOINT_URL",
            "CALLSCORE__S3__PREFIX",
        ] {
            let error = format!(
                "{:#}",
                Config::parse(MINIMAL, &vars(&[(name, "hunter2 secret")])).expect_err("refused")
            );
            assert!(!error.contains("hunter2"), "{name}: {error}");
        }
    }

    #[test]
    fn an_override_that_does_not_fit_is_named_and_its_value_never_quoted() {
        // a value holding quotes defeats any filter of the parser's message
        for (name, value) in [
            ("CALLSCORE__SERVICE__MAX_IN_FLIGHT", "x\" hunter2 \"y"),
            ("CALLSCORE__KAFKA__COMMON", "\"hunter2"),
            ("CALLSCORE__SURVEYS__FILES", "a\"hunter2\"b"),
        ] {
            let error = format!(
                "{:#}",
                Config::parse(MINIMAL, &vars(&[(name, value)])).expect_err("refused")
            );
            assert!(!error.contains("hunter2"), "{name}: {error}");
            assert!(error.contains(name), "the variable is named: {error}");
        }
    }

    #[test]
    fn a_service_without_a_contact_topic_is_refused_at_start() {
        let text = MINIMAL.replace("contact_topic = \"contact\"", "");
        let error = format!("{:#}", Config::parse(&text, &[]).expect_err("refused"));
        assert!(error.contains("kafka.contact_topic"), "{error}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = MINIMAL
            .replace("\"group.id\" = \"callscore\"", "")
            .replace("scores_topic = \"scores\"", "scores_topic = \"bad topic\"")
            .replace("files = [\"nps.toml\"]", "files = []");
        let error = format!("{:#}", Config::parse(&text, &[]).expect_err("refused"));
        for expected in ["group.id", "kafka.scores_topic", "surveys.files"] {
            assert!(error.contains(expected), "{expected} missing from: {error}");
        }
    }

    #[test]
    fn every_example_configuration_in_deploy_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("deploy/config") {
            let path = entry.expect("an entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).expect("readable");
                if let Err(error) = Config::parse(&text, &[]) {
                    panic!("{}: {error:#}", path.display());
                }
                seen += 1;
            }
        }
        assert!(seen >= 2, "the examples are there");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let text = format!("{MINIMAL}\n[service]\nmax_inflight = 3\n");
        let error = format!("{:#}", Config::parse(&text, &[]).expect_err("refused"));
        assert!(error.contains("max_inflight"), "{error}");
    }

    #[test]
    fn numbering_plans_are_read_from_the_file_and_the_environment_and_checked() {
        let text = format!(
            "{MINIMAL}\n[numbers]\ncountry_code = 31\n[numbers.tenants.us-client]\n\
             country_code = \"1\"\n"
        );
        // an override of "0" reaches the section as the number 0, and stays the prefix "0"
        let config = Config::parse(&text, &vars(&[("CALLSCORE__NUMBERS__TRUNK_PREFIX", "0")]))
            .expect("valid");
        let numbering = config.numbers.numbering().expect("valid plans");
        assert_eq!(numbering.canonical("acme", "020 555 0101"), "+31205550101");
        assert_eq!(
            numbering.canonical("us-client", "1 212 555 0101"),
            "+12125550101"
        );
        let wrong = format!("{MINIMAL}\n[numbers]\ncountry_code = \"031\"\n");
        let error = format!("{:#}", Config::parse(&wrong, &[]).expect_err("refused"));
        assert!(error.contains("country code"), "{error}");
        // a value from the environment is never quoted: it may be a secret in the wrong place
        let error = format!(
            "{:#}",
            Config::parse(
                MINIMAL,
                &vars(&[("CALLSCORE__NUMBERS__COUNTRY_CODE", "s3cr3t-value")])
            )
            .expect_err("refused")
        );
        assert!(
            error.contains("country code") && !error.contains("s3cr3t"),
            "{error}"
        );
        let no_country = format!("{MINIMAL}\n[numbers]\ntrunk_prefix = \"0\"\n");
        let error = format!(
            "{:#}",
            Config::parse(&no_country, &[]).expect_err("refused")
        );
        assert!(error.contains("without a country_code"), "{error}");
    }
}
