//! callscore's Kafka adapters, over rdkafka with its bundled librdkafka:
//! - [`Intake`]: the recordings consumer, in a consumer group, whose committed offsets only
//!   ever move past finished work ([`OffsetTracker`]), with in-flight work bounded by count
//!   and bytes;
//! - [`KafkaSink`]: the idempotent producer of score events (CloudEvents binary mode, keyed by
//!   call id) and of dead letters that keep the original message;
//! - [`wire`]: the recordings topic's message format.

#![deny(missing_docs)]

mod consumer;
mod offsets;
mod producer;
pub mod wire;

pub use consumer::{Consumed, ConsumerEvents, Intake, IntakeConfig, Messages, PAUSE_AFTER};
pub use offsets::{OffsetTracker, Partition, Receipt};
pub use producer::{KafkaSink, SinkConfig, dead_letter_headers};
pub use rdkafka::message::{Header, Headers, Message, OwnedHeaders, OwnedMessage};

/// The schemas of the recordings topic, with their file names under `schemas/`.
pub fn schemas() -> [(&'static str, serde_json::Value); 2] {
    wire::schemas()
}
