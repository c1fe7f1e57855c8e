//! The scores producer and the dead-letter topic.
//!
//! Score events go to the scores topic keyed by call id (so a call's events stay in order and
//! compaction keeps the latest per key), with an idempotent producer (`enable.idempotence`,
//! `acks=all`) and CloudEvents binary-mode headers: `ce_specversion`, `ce_id` (the event's
//! deterministic id), `ce_type`, `ce_source`, `ce_time`, `ce_subject` and `content-type`.
//!
//! Dead letters keep the original message: its key, value and headers, plus headers naming
//! the source topic, partition and offset, the failing stage, the error type and the message.

use std::collections::BTreeMap;
use std::time::Duration;

use callscore_pipeline::{DeadLetter, EventSink, Retry, SinkError};
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};

/// Header names of dead letters, besides the original headers.
pub mod dead_letter_headers {
    /// The topic the message came from.
    pub const TOPIC: &str = "callscore_dlq_source_topic";
    /// Its partition.
    pub const PARTITION: &str = "callscore_dlq_source_partition";
    /// Its offset.
    pub const OFFSET: &str = "callscore_dlq_source_offset";
    /// The failing stage (`intake`, `decode`, …).
    pub const STAGE: &str = "callscore_dlq_stage";
    /// The error type, from a bounded set (`invalid_metadata`, `undecodable_audio`, …).
    pub const REASON: &str = "callscore_dlq_reason";
    /// The error in words.
    pub const ERROR: &str = "callscore_dlq_error";
    /// When it failed (RFC 3339).
    pub const FAILED_AT: &str = "callscore_dlq_failed_at";
}

/// Longest error text put in a dead letter's header.
const MAX_ERROR_HEADER: usize = 2000;

/// The producer's settings.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// The scores topic.
    pub scores_topic: String,
    /// The dead-letter topic.
    pub dead_letter_topic: String,
    /// librdkafka properties, verbatim.
    pub properties: BTreeMap<String, String>,
    /// `ce_source` of the events, e.g. `/callscore`.
    pub source: String,
}

struct Context;

impl ClientContext for Context {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(%error, reason, "producer");
    }
}

/// Publishes score events and dead letters to Kafka.
pub struct KafkaSink {
    producer: FutureProducer<Context>,
    config: SinkConfig,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl KafkaSink {
    /// Creates the producer. Fails on a property librdkafka refuses, or one that would break
    /// idempotence.
    pub fn new(config: SinkConfig) -> KafkaResult<KafkaSink> {
        let mut client = ClientConfig::new();
        client
            .set("compression.type", "zstd")
            .set("linger.ms", "5")
            .set("message.timeout.ms", "30000");
        for (key, value) in &config.properties {
            client.set(key, value);
        }
        // each event is produced once per attempt and retried by librdkafka without
        // duplicates or reordering
        client.set("enable.idempotence", "true").set("acks", "all");
        let producer = client.create_with_context(Context)?;
        Ok(KafkaSink { producer, config })
    }

    /// Whether a broker answers: fetches the scores topic's metadata.
    pub fn ping(&self, timeout: Duration) -> KafkaResult<()> {
        self.producer
            .client()
            .fetch_metadata(Some(&self.config.scores_topic), timeout)
            .map(|_| ())
    }

    /// Sends `message` to the dead-letter topic as it came, with the reasons in headers.
    pub async fn dead_letter_original(
        &self,
        message: &OwnedMessage,
        letter: &DeadLetter,
    ) -> Result<(), SinkError> {
        use dead_letter_headers as h;
        let mut headers = OwnedHeaders::new();
        if let Some(original) = message.headers() {
            for header in original.iter() {
                headers = headers.insert(header);
            }
        }
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        let failed_at = letter.failed_at.to_string();
        let error: String = letter.message.chars().take(MAX_ERROR_HEADER).collect();
        for (key, value) in [
            (h::TOPIC, message.topic()),
            (h::PARTITION, &partition),
            (h::OFFSET, &offset),
            (h::STAGE, letter.stage.as_str()),
            (h::REASON, letter.reason.as_str()),
            (h::ERROR, &error),
            (h::FAILED_AT, &failed_at),
        ] {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        let mut record = FutureRecord::<[u8], [u8]>::to(&self.config.dead_letter_topic)
            .headers(headers)
            .payload(message.payload().unwrap_or_default());
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        let delivery = self.enqueue(record)?;
        settle(delivery, "dead letter").await
    }

    /// Waits until everything queued is delivered, up to `timeout`.
    pub fn flush(&self, timeout: Duration) -> KafkaResult<()> {
        self.producer.flush(timeout)
    }

    fn enqueue(&self, record: FutureRecord<'_, [u8], [u8]>) -> Result<DeliveryFuture, SinkError> {
        self.producer
            .send_result(record)
            .map_err(|(error, _)| sink_error("events", &error))
    }
}

impl EventSink for KafkaSink {
    async fn publish(&self, key: &str, events: &[serde_json::Value]) -> Result<(), SinkError> {
        let mut deliveries = Vec::with_capacity(events.len());
        for event in events {
            let payload = serde_json::to_vec(event).map_err(|e| SinkError {
                what: "events",
                retry: Retry::Permanent,
                message: e.to_string(),
            })?;
            let headers = cloud_event_headers(event, &self.config.source);
            let record = FutureRecord::<[u8], [u8]>::to(&self.config.scores_topic)
                .key(key.as_bytes())
                .payload(&payload)
                .headers(headers);
            deliveries.push(self.enqueue(record)?);
        }
        // every event is queued before the first wait: they go out in one batch
        for delivery in deliveries {
            settle(delivery, "events").await?;
        }
        Ok(())
    }

    async fn dead_letter(&self, letter: &DeadLetter) -> Result<(), SinkError> {
        let payload = serde_json::to_vec(letter).map_err(|e| SinkError {
            what: "dead letter",
            retry: Retry::Permanent,
            message: e.to_string(),
        })?;
        let key = letter.recording_id.as_deref().unwrap_or(&letter.input);
        let record = FutureRecord::<[u8], [u8]>::to(&self.config.dead_letter_topic)
            .key(key.as_bytes())
            .payload(&payload)
            .headers(OwnedHeaders::new().insert(Header {
                key: "content-type",
                value: Some("application/json"),
            }));
        let delivery = self.enqueue(record)?;
        settle(delivery, "dead letter").await
    }
}

/// The CloudEvents binary-mode headers of one event.
fn cloud_event_headers(event: &serde_json::Value, source: &str) -> OwnedHeaders {
    let text = |field: &str| {
        event
            .get(field)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
    };
    let kind = match text("event_type") {
        "" => "callscore.event.v1".to_string(),
        kind => format!(
            "com.callscore.{kind}.v{}",
            event["schema_version"].as_u64().unwrap_or(1)
        ),
    };
    let tenant = text("tenant");
    let source = if tenant.is_empty() {
        source.to_string()
    } else {
        format!("{source}/{tenant}")
    };
    let mut headers = OwnedHeaders::new();
    for (key, value) in [
        ("ce_specversion", "1.0"),
        ("ce_id", text("event_id")),
        ("ce_type", &kind),
        ("ce_source", &source),
        ("ce_time", text("processed_at")),
        ("ce_subject", text("recording_id")),
        ("content-type", "application/json"),
    ] {
        if !value.is_empty() {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
    }
    headers
}

async fn settle(delivery: DeliveryFuture, what: &'static str) -> Result<(), SinkError> {
    match delivery.await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((error, _))) => Err(sink_error(what, &error)),
        Err(_) => Err(SinkError {
            what,
            retry: Retry::Transient,
            message: "the producer went away before delivering".into(),
        }),
    }
}

/// Whether retrying a produce can help: size and authorisation refusals cannot.
fn sink_error(what: &'static str, error: &KafkaError) -> SinkError {
    let permanent = matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::ClusterAuthorizationFailed
                | RDKafkaErrorCode::InvalidRecord
                | RDKafkaErrorCode::InvalidMessage
        )
    );
    SinkError {
        what,
        retry: if permanent {
            Retry::Permanent
        } else {
            Retry::Transient
        },
        message: error.to_string(),
    }
}
