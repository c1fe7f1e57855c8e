//! The scores producer and the dead-letter topic.
//!
//! Score events go to the scores topic keyed by their `event_id`: one key per fact, so a
//! compacted topic keeps every fact (the latest version of each, which for a deterministic id
//! is the same fact) and an erasure can tombstone exactly the facts of one subject. (Keyed by
//! call id, compaction would keep one event per call and delete the rest.) The producer is
//! idempotent (`enable.idempotence`, `acks=all`), and every event carries CloudEvents
//! binary-mode headers: `ce_specversion`, `ce_id` (the event's id, else the fact's key), `ce_type`, `ce_source`,
//! `ce_time`, `ce_subject` and `content-type`.
//!
//! Dead letters keep the original message: its key, value and headers (the metadata header
//! with the caller's pseudonym in place of the number), plus headers naming the source topic,
//! partition and offset, the failing stage, the reason and the redacted error. A dead letter
//! over the producer's message size keeps everything but the value, which becomes a small
//! JSON note with the value's size and SHA-256 (header `callscore_dlq_value_omitted`).
//!
//! A fatal librdkafka error (an idempotence sequence broken beyond repair, say) makes every
//! later produce fail: [`KafkaSink::fatal`] says so, and produces fail with
//! [`Retry::Fatal`], so the service stops and its supervisor restarts it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use callscore_pipeline::audit::{AuditLog, AuditRecord};
use callscore_pipeline::{DeadLetter, EventSink, Retry, SinkError, Stream};
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use sha2::{Digest, Sha256};

use crate::consumer::Original;
use crate::wire;

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
    /// The error in words, never with a phone number.
    pub const ERROR: &str = "callscore_dlq_error";
    /// When it failed (RFC 3339).
    pub const FAILED_AT: &str = "callscore_dlq_failed_at";
    /// Present when the original value was too large for the dead-letter topic and was
    /// replaced by a note with its size and SHA-256.
    pub const VALUE_OMITTED: &str = "callscore_dlq_value_omitted";
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
    /// The audit topic, where the privacy operations' records go.
    pub audit_topic: Option<String>,
    /// The contact topic, where the contact requests of consenting callers go (the one topic
    /// with phone numbers).
    pub contact_topic: Option<String>,
    /// Where transcription requests for comment clips go.
    pub transcription_topic: Option<String>,
    /// Where a transcriber writes its transcripts (keyed by the request's id): erasure
    /// tombstones them there too.
    pub transcripts_topic: Option<String>,
    /// librdkafka properties, verbatim.
    pub properties: BTreeMap<String, String>,
    /// `ce_source` of the events, e.g. `/callscore`.
    pub source: String,
}

struct Context {
    fatal: Arc<AtomicBool>,
}

impl ClientContext for Context {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal) {
            self.fatal.store(true, Ordering::SeqCst);
            tracing::error!(%error, reason, "fatal producer error: nothing more can be produced");
        } else {
            tracing::warn!(%error, reason, "producer");
        }
    }
}

/// Publishes score events and dead letters to Kafka.
pub struct KafkaSink {
    producer: FutureProducer<Context>,
    config: SinkConfig,
    fatal: Arc<AtomicBool>,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("scores_topic", &self.config.scores_topic)
            .field("dead_letter_topic", &self.config.dead_letter_topic)
            .finish_non_exhaustive()
    }
}

impl KafkaSink {
    /// Creates the producer. Fails on a property librdkafka refuses (the error names the
    /// property, never its value).
    pub fn new(config: SinkConfig) -> Result<KafkaSink, crate::ConfigError> {
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
        let fatal = Arc::new(AtomicBool::new(false));
        let producer = client
            .create_with_context(Context {
                fatal: Arc::clone(&fatal),
            })
            .map_err(|e| crate::ConfigError::of(&e, &config.properties))?;
        Ok(KafkaSink {
            producer,
            config,
            fatal,
        })
    }

    /// Whether a broker answers: fetches the scores topic's metadata.
    pub fn ping(&self, timeout: Duration) -> KafkaResult<()> {
        self.producer
            .client()
            .fetch_metadata(Some(&self.config.scores_topic), timeout)
            .map(|_| ())
    }

    /// The fatal error that stopped the producer, if one did.
    pub fn fatal(&self) -> Option<String> {
        if let Some((code, text)) = self.producer.client().fatal_error() {
            return Some(format!("{code:?}: {text}"));
        }
        self.fatal
            .load(Ordering::SeqCst)
            .then(|| "a fatal error was reported".to_string())
    }

    /// Sends the original message to the dead-letter topic with the reasons in headers, and
    /// `metadata` in place of its metadata header.
    pub(crate) async fn dead_letter_original(
        &self,
        original: &Original,
        metadata: Option<&[u8]>,
        letter: &DeadLetter,
    ) -> Result<(), SinkError> {
        let headers = dead_letter_headers(original, metadata, letter);
        // a message keyed by the caller's number keeps its key, masked
        let key = original.key.as_deref().map(kept_key);
        let payload = dead_letter_value(&original.payload);
        let record = FutureRecord::<[u8], [u8]>::to(&self.config.dead_letter_topic)
            .headers(headers.clone())
            .payload(&payload);
        let record = match &key {
            Some(key) => record.key(key.as_slice()),
            None => record,
        };
        let sent = match self.enqueue(record, "dead letter") {
            Ok(delivery) => self.settle(delivery, "dead letter").await,
            Err(error) => Err(error),
        };
        match sent {
            Err(error) if error.retry == Retry::Permanent => {
                // too large for the topic: everything but the value, and a note of the value
                let note = serde_json::json!({
                    "omitted": "the original value was larger than the dead-letter topic takes",
                    "size": original.payload.len(),
                    "sha256": callscore_pipeline::hex(&Sha256::digest(&original.payload)),
                    "producer_error": error.message,
                })
                .to_string();
                let headers = headers.insert(Header {
                    key: dead_letter_headers::VALUE_OMITTED,
                    value: Some("size"),
                });
                let record = FutureRecord::<[u8], [u8]>::to(&self.config.dead_letter_topic)
                    .headers(headers)
                    .payload(note.as_bytes());
                let record = match &key {
                    Some(key) => record.key(key.as_slice()),
                    None => record,
                };
                let delivery = self.enqueue(record, "dead letter")?;
                self.settle(delivery, "dead letter")
                    .await
                    .map_err(|e| SinkError {
                        // the note is small: a refusal now is the topic's, not the size's
                        retry: if e.retry == Retry::Permanent {
                            Retry::Blocked
                        } else {
                            e.retry
                        },
                        ..e
                    })
            }
            other => other,
        }
    }

    /// Waits until everything queued is delivered, up to `timeout`.
    pub fn flush(&self, timeout: Duration) -> KafkaResult<()> {
        self.producer.flush(timeout)
    }

    fn enqueue(
        &self,
        record: FutureRecord<'_, [u8], [u8]>,
        what: &'static str,
    ) -> Result<DeliveryFuture, SinkError> {
        self.producer
            .send_result(record)
            .map_err(|(error, _)| self.sink_error(what, &error))
    }
}

/// A message key as a dead letter keeps it: a text key with anything number-like masked.
/// The field of a privacy request that holds the caller's number, in whatever format.
const CALLER_NUMBER_FIELD: &str = "caller_number";

/// The value a dead letter keeps: a JSON value (a reference to staged audio named after the
/// caller, a privacy request with a caller's number) keeps its shape, numbers masked, and a
/// `caller_number` field's value masked whatever its format ("020 555 0001" is not
/// number-like enough for the general rule); text that is not JSON but names that field (a
/// request cut off) has every longer group of digits masked; audio stays as it came.
fn dead_letter_value(payload: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(payload) {
        Ok(mut value) => {
            if mask_caller_numbers(&mut value) {
                kept_key(&serde_json::to_vec(&value).unwrap_or_default())
            } else {
                kept_key(payload)
            }
        }
        Err(_) => match std::str::from_utf8(payload) {
            Ok(text) if text.contains(CALLER_NUMBER_FIELD) => {
                let masked = mask_cut_caller_numbers(text);
                callscore_pipeline::redact::redact_raw(&masked)
                    .into_owned()
                    .into_bytes()
            }
            _ => payload.to_vec(),
        },
    }
}

/// `text` (a request that is not JSON, cut off say) with what follows each `caller_number`
/// field name masked, up to the end of its value: the closing quote, or the end of the text.
fn mask_cut_caller_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(CALLER_NUMBER_FIELD) {
        let after = at + CALLER_NUMBER_FIELD.len();
        out.push_str(&rest[..after]);
        let tail = &rest[after..];
        // past the name's closing quote, the colon and the value's opening quote
        let start = tail
            .char_indices()
            .find(|&(_, c)| !matches!(c, '"' | ':' | ' ' | '\t'))
            .map_or(tail.len(), |(i, _)| i);
        let end = tail[start..].find('"').map_or(tail.len(), |i| start + i);
        out.push_str(&tail[..start]);
        out.push_str(callscore_pipeline::redact::MASK);
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Masks the value of every `caller_number` field in `value`; whether there was one.
fn mask_caller_numbers(value: &mut serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(fields) => {
            let mut found = false;
            for (name, field) in fields.iter_mut() {
                if name == CALLER_NUMBER_FIELD && !field.is_null() {
                    *field = serde_json::Value::from(callscore_pipeline::redact::MASK);
                    found = true;
                } else {
                    found |= mask_caller_numbers(field);
                }
            }
            found
        }
        serde_json::Value::Array(items) => items
            .iter_mut()
            .fold(false, |found, item| mask_caller_numbers(item) | found),
        _ => false,
    }
}

fn kept_key(key: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(key) {
        Ok(text) => callscore_pipeline::redact::redact(text)
            .into_owned()
            .into_bytes(),
        Err(_) => key.to_vec(),
    }
}

/// The headers of a dead letter: the original's (its metadata header replaced, the others'
/// text values with anything number-like masked) and the reasons.
fn dead_letter_headers(
    original: &Original,
    metadata: Option<&[u8]>,
    letter: &DeadLetter,
) -> OwnedHeaders {
    use dead_letter_headers as h;
    let mut headers = OwnedHeaders::new();
    for (key, value) in &original.headers {
        let kept;
        let value = if key.eq_ignore_ascii_case(wire::METADATA_HEADER) {
            metadata
        } else {
            kept = value.as_deref().map(kept_key);
            kept.as_deref()
        };
        headers = headers.insert(Header {
            key: key.as_str(),
            value,
        });
    }
    let partition = original.partition.to_string();
    let offset = original.offset.to_string();
    let failed_at = letter.failed_at.to_string();
    let error: String = letter.message.chars().take(MAX_ERROR_HEADER).collect();
    for (key, value) in [
        (h::TOPIC, original.topic.as_str()),
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
    headers
}

impl KafkaSink {
    /// Produces `facts` to `topic`, each keyed by its `key_field`, with CloudEvents headers
    /// (`ce_type` from `kind`, else from the fact's `event_type`); every one is queued before
    /// the first wait, so they go out in one batch.
    async fn produce(
        &self,
        topic: &str,
        facts: &[serde_json::Value],
        key_field: &str,
        kind: Option<&str>,
        what: &'static str,
    ) -> Result<(), SinkError> {
        let mut deliveries = Vec::with_capacity(facts.len());
        for fact in facts {
            let payload = serde_json::to_vec(fact).map_err(|e| SinkError {
                what,
                retry: Retry::Permanent,
                message: e.to_string(),
            })?;
            let key = fact
                .get(key_field)
                .and_then(|v| v.as_str())
                .ok_or_else(|| SinkError {
                    what,
                    retry: Retry::Permanent,
                    message: format!("a fact without a {key_field} has no key"),
                })?;
            let headers = cloud_event_headers(fact, &self.config.source, kind, key_field);
            let record = FutureRecord::<[u8], [u8]>::to(topic)
                .key(key.as_bytes())
                .payload(&payload)
                .headers(headers);
            deliveries.push(self.enqueue(record, what)?);
        }
        for delivery in deliveries {
            self.settle(delivery, what).await?;
        }
        Ok(())
    }

    /// Publishes JSON facts to `topic`, each keyed by its `key_field`, with CloudEvents
    /// headers of type `kind`: for the service's other topics (privacy results).
    pub async fn publish_to(
        &self,
        topic: &str,
        facts: &[serde_json::Value],
        key_field: &str,
        kind: &str,
    ) -> Result<(), SinkError> {
        self.produce(topic, facts, key_field, Some(kind), "results")
            .await
    }

    fn transcription_topic(&self) -> Result<&str, SinkError> {
        configured(
            self.config.transcription_topic.as_deref(),
            "transcription requests",
            "a comment was recorded but no kafka.transcription_topic is configured",
        )
    }

    fn contact_topic(&self) -> Result<&str, SinkError> {
        configured(
            self.config.contact_topic.as_deref(),
            "contact requests",
            "a caller agreed to be contacted but no kafka.contact_topic is configured",
        )
    }
}

/// An optional topic, or a blocked failure that says which setting is missing: the record
/// waits (and is retried) until the configuration names the topic.
fn configured<'a>(
    topic: Option<&'a str>,
    what: &'static str,
    missing: &str,
) -> Result<&'a str, SinkError> {
    topic.ok_or_else(|| SinkError {
        what,
        retry: Retry::Blocked,
        message: missing.into(),
    })
}

impl EventSink for KafkaSink {
    async fn publish(&self, events: &[serde_json::Value]) -> Result<(), SinkError> {
        self.produce(
            &self.config.scores_topic,
            events,
            "event_id",
            None,
            "events",
        )
        .await
    }

    async fn contact(&self, requests: &[serde_json::Value]) -> Result<(), SinkError> {
        let topic = self.contact_topic()?;
        self.produce(
            topic,
            requests,
            "request_id",
            Some("com.callscore.contact.v1"),
            "contact requests",
        )
        .await
    }

    /// Tombstones: a null value under each key, which a compacted topic turns into the key's
    /// removal.
    async fn transcription(&self, requests: &[serde_json::Value]) -> Result<(), SinkError> {
        let topic = self.transcription_topic()?;
        self.produce(
            topic,
            requests,
            "request_id",
            Some("com.callscore.transcription-request.v1"),
            "transcription requests",
        )
        .await
    }

    async fn retract(&self, stream: Stream, keys: &[String]) -> Result<(), SinkError> {
        let topics = match stream {
            Stream::Scores => vec![self.config.scores_topic.as_str()],
            Stream::Contacts => vec![self.contact_topic()?],
            Stream::Transcriptions => [
                self.config.transcription_topic.as_deref(),
                self.config.transcripts_topic.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect(),
        };
        let mut deliveries = Vec::with_capacity(keys.len() * topics.len());
        for topic in topics {
            for key in keys {
                let record = FutureRecord::<[u8], [u8]>::to(topic).key(key.as_bytes());
                deliveries.push(self.enqueue(record, "tombstones")?);
            }
        }
        for delivery in deliveries {
            self.settle(delivery, "tombstones").await?;
        }
        Ok(())
    }
}

impl AuditLog for KafkaSink {
    /// Keyed by the record's deterministic id, with CloudEvents headers
    /// (`com.callscore.audit.v1`).
    async fn record(&self, record: &AuditRecord) -> Result<(), SinkError> {
        let topic = configured(
            self.config.audit_topic.as_deref(),
            "audit record",
            "no kafka.audit_topic is configured",
        )?;
        let value = serde_json::to_value(record).map_err(|e| SinkError {
            what: "audit record",
            retry: Retry::Permanent,
            message: e.to_string(),
        })?;
        let payload = value.to_string();
        let mut headers = OwnedHeaders::new();
        let time = record.at.to_string();
        let source = match &record.tenant {
            Some(tenant) => format!("{}/{tenant}", self.config.source),
            None => self.config.source.clone(),
        };
        for (key, value) in [
            ("ce_specversion", "1.0"),
            ("ce_id", record.audit_id.as_str()),
            ("ce_type", "com.callscore.audit.v1"),
            ("ce_source", source.as_str()),
            ("ce_time", time.as_str()),
            ("content-type", "application/json"),
        ] {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        let record = FutureRecord::<[u8], [u8]>::to(topic)
            .key(record.audit_id.as_bytes())
            .payload(payload.as_bytes())
            .headers(headers);
        let delivery = self.enqueue(record, "audit record")?;
        self.settle(delivery, "audit record").await
    }
}

/// The CloudEvents binary-mode headers of one fact: its type `kind`, else one made from its
/// `event_type` and `schema_version`; its id the `event_id`, else its key (`key_field`); its
/// time when processed, erased or finished, where it says.
fn cloud_event_headers(
    event: &serde_json::Value,
    source: &str,
    kind: Option<&str>,
    key_field: &str,
) -> OwnedHeaders {
    let text = |field: &str| {
        event
            .get(field)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
    };
    let kind = match (kind, text("event_type")) {
        (Some(kind), _) => kind.to_string(),
        (None, "") => "callscore.event.v1".to_string(),
        (None, kind) => format!(
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
        // an event's id, else the fact's own key (a contact request's or a result's id)
        ("ce_id", {
            let id = text("event_id");
            if id.is_empty() { text(key_field) } else { id }
        }),
        ("ce_type", &kind),
        ("ce_source", &source),
        ("ce_time", {
            ["processed_at", "erased_at", "finished_at"]
                .into_iter()
                .map(text)
                .find(|t| !t.is_empty())
                .unwrap_or_default()
        }),
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

impl KafkaSink {
    /// Waits for one delivery report.
    async fn settle(&self, delivery: DeliveryFuture, what: &'static str) -> Result<(), SinkError> {
        match delivery.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((error, _))) => Err(self.sink_error(what, &error)),
            Err(_) => Err(SinkError {
                what,
                retry: if self.fatal().is_some() {
                    Retry::Fatal
                } else {
                    Retry::Transient
                },
                message: "the producer went away before delivering".into(),
            }),
        }
    }

    /// What a produce failure means: once the client has a fatal error (librdkafka records it
    /// before it fails the messages), everything is fatal; a refused authorisation or a
    /// missing topic blocks until an operator acts; a record too large is permanent; the rest
    /// passes.
    fn sink_error(&self, what: &'static str, error: &KafkaError) -> SinkError {
        let code = error.rdkafka_error_code();
        if code == Some(RDKafkaErrorCode::Fatal) || self.producer.client().fatal_error().is_some() {
            self.fatal.store(true, Ordering::SeqCst);
        }
        SinkError {
            what,
            retry: classify(code, self.fatal.load(Ordering::SeqCst)),
            message: error.to_string(),
        }
    }
}

/// A produce failure's meaning, given its code and whether the client failed for good.
fn classify(code: Option<RDKafkaErrorCode>, fatal: bool) -> Retry {
    match code {
        _ if fatal => Retry::Fatal,
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::InvalidMessageSize
            | RDKafkaErrorCode::InvalidRecord
            | RDKafkaErrorCode::InvalidMessage,
        ) => Retry::Permanent,
        Some(
            RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::ClusterAuthorizationFailed
            | RDKafkaErrorCode::SaslAuthenticationFailed
            | RDKafkaErrorCode::Authentication
            | RDKafkaErrorCode::UnknownTopic
            | RDKafkaErrorCode::UnknownTopicOrPartition,
        ) => Retry::Blocked,
        _ => Retry::Transient,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_privacy_requests_dead_letter_keeps_no_caller_number_in_any_format() {
        let digits = |bytes: &[u8]| -> String {
            String::from_utf8_lossy(bytes)
                .chars()
                .filter(char::is_ascii_digit)
                .collect()
        };
        for number in [
            "020 555 0001",
            "06 12345678",
            "(020) 555-0001",
            "+31 20 555 0001",
        ] {
            let request = format!(
                r#"{{"request_id":"r-1","tenant":"acme","kind":"erasure","caller_number":"{number}"}}"#
            );
            let kept = super::dead_letter_value(request.as_bytes());
            let number_digits = digits(number.as_bytes());
            assert!(
                !digits(&kept).contains(&number_digits[number_digits.len() - 7..]),
                "{}",
                String::from_utf8_lossy(&kept)
            );
            assert!(
                String::from_utf8_lossy(&kept).contains("r-1"),
                "the rest is kept"
            );
            // cut off: no longer JSON, still a caller's number
            let cut = &request[..request.len() - 2];
            let kept = super::dead_letter_value(cut.as_bytes());
            assert!(
                !digits(&kept).contains(&number_digits[number_digits.len() - 7..]),
                "{}",
                String::from_utf8_lossy(&kept)
            );
        }
        // a number written as a JSON number
        let kept = super::dead_letter_value(br#"{"caller_number": 205550001}"#);
        assert!(!digits(&kept).contains("205550001"), "{kept:?}");
        // audio stays as it came, digits and all
        let audio = b"RIFF\x24\x00\x00\x00WAVE0205550001\xff\xfe".to_vec();
        assert_eq!(super::dead_letter_value(&audio), audio);
    }

    use rdkafka::message::Headers;

    use super::*;

    fn header_map(headers: &OwnedHeaders) -> BTreeMap<String, String> {
        headers
            .iter()
            .map(|h| {
                (
                    h.key.to_string(),
                    String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn every_fact_has_a_cloud_event_id_and_a_time_where_it_has_one() {
        let contact = serde_json::json!({"schema_version": 1, "request_id": "ct-1",
            "tenant": "acme", "recording_id": "r1"});
        let h = header_map(&cloud_event_headers(
            &contact,
            "callscore",
            Some("com.callscore.contact.v1"),
            "request_id",
        ));
        assert_eq!(h["ce_id"], "ct-1");
        assert_eq!(h["ce_subject"], "r1");

        let result = serde_json::json!({"schema_version": 1, "request_id": "crm-4711",
            "tenant": "acme", "finished_at": "2026-12-06T10:00:00Z"});
        let h = header_map(&cloud_event_headers(
            &result,
            "callscore",
            Some("com.callscore.privacy-result.v1"),
            "request_id",
        ));
        assert_eq!(h["ce_id"], "crm-4711");
        assert_eq!(h["ce_time"], "2026-12-06T10:00:00Z");

        let score = serde_json::json!({"event_type": "score", "schema_version": 1,
            "event_id": "e1", "processed_at": "2026-12-06T10:00:01Z"});
        let h = header_map(&cloud_event_headers(&score, "callscore", None, "event_id"));
        assert_eq!(
            (h["ce_id"].as_str(), h["ce_time"].as_str()),
            ("e1", "2026-12-06T10:00:01Z")
        );
    }
}
