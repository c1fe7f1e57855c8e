//! callscore's Kafka adapters, over rdkafka with its bundled librdkafka:
//! - [`KafkaSource`]: the recordings topic as the pipeline's
//!   [`RecordingSource`](callscore_pipeline::RecordingSource), a consumer group member whose
//!   offsets only ever move past finished work, with dead letters that keep the original
//!   message (and not its phone number);
//! - [`KafkaSink`]: the idempotent producer of score events (CloudEvents binary mode, keyed by
//!   event id) and of dead letters;
//! - [`wire`]: the recordings topic's message format;
//! - [`topics`]: how long a topic keeps its messages, as the broker reports it.

#![deny(missing_docs)]

mod consumer;
mod election;
mod producer;
pub mod topics;
pub mod wire;

use std::collections::BTreeMap;

pub use consumer::{
    ConsumerEvents, GroupChange, KafkaReceipt, KafkaSource, PAUSE_AFTER, Partition, Raw,
    SourceConfig,
};
pub use election::{Election, Membership, MembershipObserver};
pub use producer::{KafkaSink, SinkConfig, dead_letter_headers};

/// A client that could not be created from its configuration. The message names the
/// property librdkafka refused, never its value: a value may be a secret (a password pasted
/// into the wrong variable, say).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// librdkafka refused a property.
    #[error(
        "librdkafka refused the setting of {property:?} (its value is not shown: it may be a secret)"
    )]
    Property {
        /// The property.
        property: String,
    },
    /// librdkafka refused the configuration; its message is withheld because it may quote a
    /// value.
    #[error("librdkafka refused the configuration (its message is withheld: it may quote a value)")]
    Refused,
    /// The polling thread could not start.
    #[error("cannot start the polling thread: {0}")]
    Thread(String),
}

impl ConfigError {
    /// The error of a client creation that failed with `error`, given the properties it was
    /// created with: the property named in librdkafka's message, if any.
    pub fn of(error: &rdkafka::error::KafkaError, properties: &BTreeMap<String, String>) -> Self {
        let text = error.to_string();
        let named = properties
            .keys()
            .map(String::as_str)
            .chain(ALWAYS_SET)
            .filter(|property| text.contains(&format!("\"{property}\"")))
            .max_by_key(|property| property.len());
        match named {
            Some(property) => ConfigError::Property {
                property: property.to_string(),
            },
            None => match unknown_property(&text) {
                // an unknown property's name is the operator's typing, not a value
                Some(property) => ConfigError::Property { property },
                None => ConfigError::Refused,
            },
        }
    }
}

/// Properties callscore sets on every client.
const ALWAYS_SET: [&str; 9] = [
    "statistics.interval.ms",
    "queued.max.messages.kbytes",
    "auto.offset.reset",
    "enable.auto.offset.store",
    "enable.auto.commit",
    "compression.type",
    "linger.ms",
    "message.timeout.ms",
    "enable.idempotence",
];

/// The name in librdkafka's "No such configuration property: \"NAME\"".
fn unknown_property(text: &str) -> Option<String> {
    let rest = text.split("No such configuration property: \"").nth(1)?;
    let name = rest.split('"').next()?;
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        .then(|| name.to_string())
}

/// The schemas of the recordings topic, with their file names under `schemas/`.
pub fn schemas() -> [(&'static str, serde_json::Value); 1] {
    wire::schemas()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_value_is_never_quoted_only_its_property_named() {
        let properties = BTreeMap::from([
            (
                "bootstrap.servers".to_string(),
                "127.0.0.1:9092".to_string(),
            ),
            (
                "security.protocol".to_string(),
                "hunter2-the-password".to_string(),
            ),
        ]);
        let mut client = rdkafka::config::ClientConfig::new();
        for (k, v) in &properties {
            client.set(k, v);
        }
        let error = client
            .create::<rdkafka::producer::BaseProducer>()
            .err()
            .expect("librdkafka refuses the protocol");
        assert!(
            error.to_string().contains("hunter2"),
            "librdkafka quotes it: {error}"
        );
        let ours = ConfigError::of(&error, &properties).to_string();
        assert!(!ours.contains("hunter2"), "{ours}");
        assert!(ours.contains("security.protocol"), "{ours}");
    }

    #[test]
    fn an_unknown_property_is_named() {
        let properties = BTreeMap::from([("sasl.passwrod".to_string(), "secret-1".to_string())]);
        let mut client = rdkafka::config::ClientConfig::new();
        client.set("sasl.passwrod", "secret-1");
        let error = client
            .create::<rdkafka::producer::BaseProducer>()
            .err()
            .expect("no such property");
        let ours = ConfigError::of(&error, &properties).to_string();
        assert!(
            ours.contains("sasl.passwrod") && !ours.contains("secret-1"),
            "{ours}"
        );
    }
}
