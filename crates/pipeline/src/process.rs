//! The one processing path: decode -> detect -> extract answers -> decide retention -> store
//! audio -> publish events. `callscore process` and `callscore serve` both run it; only the
//! ports differ.
//!
//! It comes in two halves so that a service can keep CPU work off its async runtime:
//! [`Pipeline::analyse`] is synchronous and CPU-bound (decoding, detection, scoring), and
//! [`Pipeline::deliver`] is the I/O (store, then publish). Acknowledging the input (a Kafka
//! offset, a file marked done) is the caller's, after `deliver` returns.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use callscore_audio::{DecodeError, DecodeOptions, ErrorKind, Headerless, Recording};
use callscore_survey::{
    Answers, AudioRef, ClipRef, EventContext, Events, KeyInput, KeyPress, Retention,
    RetentionClass, Status, Survey, events, extract,
};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::comments::{Clip, hear_comments};
use crate::contact::{CONTACT_VERSION, ContactRequest};
use crate::failure::{Failure, Reason, Stage};
use crate::keyring::Keyring;
use crate::keys::{DetectError, Detected, detect_keys};
use crate::layout::{Marker, Place};
use crate::numbers::Numbering;
use crate::ports::{
    AudioStore, EventSink, ObjectKey, ObjectMeta, PutOutcome, SinkError, StoreError,
};
use crate::pseudonym::{PseudonymKey, hex};
use crate::record::{AfterHold, RECORD_VERSION, RecordRetention, RecordingRecord, StoredAudio};
use crate::retention::{RetentionConfig, RetentionDecision};
use crate::transcription::TranscriptionRequest;
use crate::{OUTPUT_EXTENSION_FALLBACK, RecordingMetadata};
use callscore_prompts::Prompt;

/// Everything the pipeline needs to know, fixed at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Surveys by id.
    pub surveys: HashMap<String, Survey>,
    /// How callers' numbers become pseudonyms.
    pub pseudonyms: Pseudonyms,
    /// Retention: the cap, the default policy and tenants' own, validated.
    pub retention: RetentionConfig,
    /// Limits and options of decoding.
    pub decode: DecodeOptions,
    /// Whether the A-D keys count.
    pub extended_keys: bool,
    /// The version written into events.
    pub pipeline_version: String,
    /// The prompt audio each survey names (by survey id), decoded: subtracted from a
    /// recording before keys are detected.
    pub prompts: HashMap<String, Arc<[Prompt]>>,
}

/// How callers' numbers become pseudonyms: the keys, and the numbering plans that give each
/// number one form first.
#[derive(Debug, Clone)]
pub struct Pseudonyms {
    keys: Keys,
    numbering: Numbering,
}

#[derive(Debug, Clone)]
enum Keys {
    /// A default and tenants' own. They never rotate and are never destroyed, so their
    /// pseudonyms stay linkable for as long as the keys exist: use a keyring to keep the
    /// anonymisation promise.
    Fixed {
        default: PseudonymKey,
        tenants: HashMap<String, PseudonymKey>,
    },
    /// Rotating keys, destroyed when everything written under them has expired.
    Ring(Keyring),
}

impl Pseudonyms {
    /// One fixed key for every tenant.
    pub fn fixed(key: PseudonymKey) -> Pseudonyms {
        Pseudonyms::fixed_per_tenant(key, HashMap::new())
    }

    /// Fixed keys: one for tenants without their own, and tenants' own.
    pub fn fixed_per_tenant(
        default: PseudonymKey,
        tenants: HashMap<String, PseudonymKey>,
    ) -> Pseudonyms {
        Pseudonyms {
            keys: Keys::Fixed { default, tenants },
            numbering: Numbering::as_written(),
        }
    }

    /// A keyring's rotating keys.
    pub fn ring(keyring: Keyring) -> Pseudonyms {
        Pseudonyms {
            keys: Keys::Ring(keyring),
            numbering: Numbering::as_written(),
        }
    }

    /// The same keys, with numbers put in one form by these plans first.
    pub fn with_numbering(self, numbering: Numbering) -> Pseudonyms {
        Pseudonyms { numbering, ..self }
    }

    /// The keyring, when the keys are one.
    pub fn keyring(&self) -> Option<&Keyring> {
        match &self.keys {
            Keys::Ring(ring) => Some(ring),
            Keys::Fixed { .. } => None,
        }
    }

    /// The tenants with keys of their own.
    pub fn tenants(&self) -> Vec<String> {
        match &self.keys {
            Keys::Ring(ring) => ring.tenants(),
            Keys::Fixed { tenants, .. } => tenants.keys().cloned().collect(),
        }
    }

    /// The key of `tenant` current on `day`.
    pub fn current(&self, tenant: &str, day: jiff::civil::Date) -> Result<PseudonymKey, Failure> {
        match &self.keys {
            Keys::Fixed { default, tenants } => Ok(tenants.get(tenant).unwrap_or(default).clone()),
            Keys::Ring(ring) => ring.current(tenant, day).map_err(|e| {
                Failure::new(
                    Stage::Score,
                    Reason::InvalidMetadata,
                    crate::ports::Retry::Blocked,
                    e.to_string(),
                )
            }),
        }
    }

    /// Every key held for `tenant`, oldest first, for look-ups by number.
    pub fn held(&self, tenant: &str) -> Vec<PseudonymKey> {
        match &self.keys {
            Keys::Fixed { default, tenants } => {
                vec![tenants.get(tenant).unwrap_or(default).clone()]
            }
            Keys::Ring(ring) => ring.held(tenant).into_iter().map(|k| k.key).collect(),
        }
    }

    /// The pseudonym of `number` in `tenant` under `key`: of the number's canonical form.
    pub fn pseudonymize(&self, key: &PseudonymKey, tenant: &str, number: &str) -> String {
        key.pseudonymize(tenant, &self.numbering.canonical(tenant, number))
    }

    /// Whether `tenant`'s numbering plan, when it has one, can place `number` (see
    /// [`Numbering::places`]).
    pub fn places(&self, tenant: &str, number: &str) -> bool {
        self.numbering.places(tenant, number)
    }

    /// Every pseudonym `number` may have been given in `tenant`: under every key held, of
    /// every form the number may have been written in.
    pub fn look_up(&self, tenant: &str, number: &str) -> Vec<String> {
        let forms = self.numbering.forms(tenant, number);
        self.held(tenant)
            .iter()
            .flat_map(|key| forms.iter().map(|form| key.pseudonymize(tenant, form)))
            .collect()
    }
}

/// One recording to process.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Where it came from, for dead letters: a path, or `topic/partition/offset`.
    pub input: String,
    /// Its metadata, already validated.
    pub metadata: RecordingMetadata,
    /// The audio bytes.
    pub audio: Arc<[u8]>,
    /// The file extension, when there is one.
    pub extension: Option<String>,
    /// When callscore received it.
    pub received_at: Timestamp,
}

/// Time spent per stage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Decoding and resampling.
    pub decode: Duration,
    /// Key detection.
    pub detect: Duration,
    /// Answer extraction, retention, hashing.
    pub score: Duration,
    /// Storing the audio.
    pub store: Duration,
    /// Publishing the events.
    pub publish: Duration,
}

/// The CPU half's result: everything needed to store and publish.
#[derive(Debug, Clone)]
pub struct Analysis {
    incoming: Incoming,
    survey: Survey,
    /// The answers.
    pub answers: Answers,
    /// Key presses found in-band.
    pub keys_in_band: usize,
    /// Audio seconds analysed.
    pub audio_seconds: f64,
    /// Problems decoding worked around (a cut-off file, say).
    pub warnings: Vec<String>,
    /// The retention class and expiry.
    pub retention: RetentionDecision,
    /// The clips of the answered comments.
    pub clips: Vec<Clip>,
    caller_pseudonym: Option<String>,
    place: Place,
    key: ObjectKey,
    meta: ObjectMeta,
    /// Time spent so far.
    pub timings: Timings,
}

/// What one delivered recording produced.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The analysis it came from.
    pub analysis: Analysis,
    /// Whether the audio was written or already there.
    pub put: PutOutcome,
    /// Events published.
    pub events: usize,
}

/// The processing path with its settings.
#[derive(Debug, Clone)]
pub struct Pipeline {
    settings: Arc<Settings>,
}

impl Pipeline {
    /// A pipeline with these settings.
    pub fn new(settings: Settings) -> Pipeline {
        Pipeline {
            settings: Arc::new(settings),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The caller's pseudonym in this recording's tenant, made today, `None` when the number
    /// was withheld. A replayed dead letter carries the pseudonym the number was given the
    /// first time. Fails (blocked) when the tenant's keyring has no key current today.
    pub fn caller_pseudonym(&self, meta: &RecordingMetadata) -> Result<Option<String>, Failure> {
        match (&meta.caller_number, &meta.caller_pseudonym) {
            (Some(number), _) => {
                let today = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
                let pseudonyms = &self.settings.pseudonyms;
                let key = pseudonyms.current(&meta.tenant, today)?;
                Ok(Some(pseudonyms.pseudonymize(&key, &meta.tenant, number)))
            }
            (None, pseudonym) => Ok(pseudonym.clone()),
        }
    }

    /// Decodes, detects and scores one recording. CPU-bound: run it off an async runtime.
    pub fn analyse(&self, incoming: Incoming) -> Result<Analysis, Failure> {
        let meta = &incoming.metadata;
        let survey = self.survey_of(meta)?;
        let options = self.decode_options(&incoming)?;

        let started = Instant::now();
        let (detected, warnings) = self.detect(&incoming, &options)?;
        // decoding and detection interleave block by block: the detector's time was measured
        // inside the loop, the rest is decoding
        let (decode, detect) = split(started.elapsed(), detected.detect_time);

        let scoring = Instant::now();
        let duration = Duration::from_secs_f64(detected.frames as f64 / 8000.0);
        let (answers, clips) = score(&survey, &incoming, &options, &detected, duration)?;
        let retention = self.settings.retention.policy(&meta.tenant).decide(
            &answers,
            meta.consent,
            meta.call_started_at,
        );
        let caller_pseudonym = self.caller_pseudonym(meta)?;
        let extension = output_extension(incoming.extension.as_deref());
        let place = Place::new(
            &meta.tenant,
            retention.class,
            caller_pseudonym.as_deref(),
            &meta.recording_id,
        );
        let object_meta = ObjectMeta {
            tenant: meta.tenant.clone(),
            recording_id: meta.recording_id.clone(),
            retention_class: retention.class,
            expires_on: retention.expires_on,
            sha256: hex(&Sha256::digest(&incoming.audio)),
            content_type: content_type(&extension).to_string(),
            size: incoming.audio.len() as u64,
        };
        let timings = Timings {
            decode,
            detect,
            score: scoring.elapsed(),
            ..Timings::default()
        };
        Ok(Analysis {
            survey,
            answers,
            keys_in_band: detected.keys.len(),
            audio_seconds: duration.as_secs_f64(),
            warnings,
            retention,
            clips,
            caller_pseudonym,
            key: place.audio(&extension),
            place,
            meta: object_meta,
            timings,
            incoming,
        })
    }

    /// The survey a recording answers, which must be configured.
    fn survey_of(&self, meta: &RecordingMetadata) -> Result<Survey, Failure> {
        self.settings
            .surveys
            .get(&meta.survey_id)
            .cloned()
            .ok_or_else(|| {
                Failure::permanent(
                    Stage::Intake,
                    Reason::UnknownSurvey,
                    format!("no survey {:?} is configured", meta.survey_id),
                )
            })
    }

    /// How to decode a recording: the configured options, with its extension and the codec
    /// its metadata names for headerless audio.
    fn decode_options(&self, incoming: &Incoming) -> Result<DecodeOptions, Failure> {
        let headerless = match &incoming.metadata.codec {
            Some(codec) => Some(codec.parse::<Headerless>().map_err(|e| {
                Failure::permanent(
                    Stage::Intake,
                    Reason::InvalidMetadata,
                    crate::redact::without_values(&e.to_string()),
                )
            })?),
            None => None,
        };
        Ok(DecodeOptions {
            extension: incoming.extension.clone(),
            headerless,
            mix_down: false,
            ..self.settings.decode.clone()
        })
    }

    /// Decodes a recording and detects its keys (with its survey's known prompts subtracted),
    /// with the problems decoding worked around.
    fn detect(
        &self,
        incoming: &Incoming,
        options: &DecodeOptions,
    ) -> Result<(Detected, Vec<String>), Failure> {
        let meta = &incoming.metadata;
        let mut recording =
            Recording::open_bytes(Arc::clone(&incoming.audio), options).map_err(decode_failure)?;
        let prompts = self
            .settings
            .prompts
            .get(&meta.survey_id)
            .map_or(&[][..], |p| &p[..]);
        let detected = detect_keys(
            &mut recording,
            meta.caller_channel,
            self.settings.extended_keys,
            prompts,
        )
        .map_err(|error| match error {
            DetectError::Decode(e) => decode_failure(e),
            e @ DetectError::NoChannel { .. } => {
                Failure::permanent(Stage::Decode, Reason::NoSuchChannel, e.to_string())
            }
        })?;
        Ok((detected, recording.stats().warnings()))
    }

    /// Stores the recording, then publishes its events: the markers that find it first (so
    /// that nothing is ever stored without them), then the audio, then its record (with the
    /// events, which name the audio's URI), then the events. Only after this returns may the
    /// input be acknowledged. A failure says whether to retry ([`Failure::is_permanent`]).
    pub async fn deliver(
        &self,
        analysis: Analysis,
        store: &impl AudioStore,
        sink: &impl EventSink,
        processed_at: Timestamp,
    ) -> Result<Delivered, Failure> {
        let mut analysis = analysis;
        let store_failure =
            |e: StoreError| Failure::new(Stage::Store, Reason::StoreFailed, e.retry, e.to_string());
        let answers = self.with_clips(&analysis, store);
        let built = self.events(&analysis, &answers, &store.uri(&analysis.key), processed_at)?;
        let transcriptions = transcription_requests(&built, processed_at);
        let mut values = Vec::with_capacity(built.scores.len() + 1);
        for score in &built.scores {
            values.push(to_value(score)?);
        }
        values.push(to_value(&built.response)?);
        let started = Instant::now();
        let meta = &analysis.incoming.metadata;
        // the markers do not depend on each other: one round trip for all of them
        let markers = Marker::of(
            &analysis.place,
            &meta.call_id,
            analysis.retention.expires_on,
        );
        let keys: Vec<ObjectKey> = markers.iter().map(Marker::key).collect();
        futures_util::future::try_join_all(keys.iter().map(|key| store.mark(key)))
            .await
            .map_err(store_failure)?;
        let put = store
            .put(&analysis.key, &analysis.incoming.audio, &analysis.meta)
            .await
            .map_err(store_failure)?;
        for clip in &analysis.clips {
            let clip_meta = ObjectMeta {
                sha256: clip.sha256.clone(),
                content_type: clip.encoded.content_type.to_string(),
                size: clip.encoded.bytes.len() as u64,
                ..analysis.meta.clone()
            };
            store
                .put(&analysis.clip_key(clip), &clip.encoded.bytes, &clip_meta)
                .await
                .map_err(store_failure)?;
        }
        let contact = self.contact_request(&analysis);
        let mut record = self.record(
            &analysis,
            store,
            &values,
            contact.as_ref().map(|c| c.request_id.clone()),
            processed_at,
        );
        record.transcription_request_ids = transcriptions
            .iter()
            .map(|t| t.request_id.clone())
            .collect();
        let bytes = serde_json::to_vec_pretty(&record)
            .map_err(|e| Failure::permanent(Stage::Store, Reason::StoreFailed, e.to_string()))?;
        let record_meta = ObjectMeta {
            sha256: hex(&Sha256::digest(&bytes)),
            content_type: "application/json".into(),
            size: bytes.len() as u64,
            ..analysis.meta.clone()
        };
        store
            .replace(&analysis.place.record(), &bytes, &record_meta)
            .await
            .map_err(store_failure)?;
        analysis.timings.store = started.elapsed();

        let started = Instant::now();
        let publish_failure = |e: SinkError| {
            Failure::new(
                Stage::Publish,
                Reason::PublishFailed,
                e.retry,
                e.to_string(),
            )
        };
        sink.publish(&values).await.map_err(publish_failure)?;
        if let Some(contact) = contact {
            let value = serde_json::to_value(&contact).map_err(|e| {
                Failure::permanent(Stage::Score, Reason::InvalidScore, e.to_string())
            })?;
            sink.contact(&[value]).await.map_err(publish_failure)?;
        }
        if !transcriptions.is_empty() {
            let requests = transcriptions
                .iter()
                .map(to_value)
                .collect::<Result<Vec<_>, _>>()?;
            sink.transcription(&requests)
                .await
                .map_err(publish_failure)?;
        }
        analysis.timings.publish = started.elapsed();
        Ok(Delivered {
            analysis,
            put,
            events: values.len(),
        })
    }

    /// The answers with each answered comment's clip (where `store` keeps it) and its
    /// transcription request named.
    fn with_clips(&self, analysis: &Analysis, store: &impl AudioStore) -> Answers {
        let mut answers = analysis.answers.clone();
        let meta = &analysis.incoming.metadata;
        for clip in &analysis.clips {
            let Some(comment) = answers.questions[clip.index].comment.as_mut() else {
                continue;
            };
            comment.clip = Some(ClipRef {
                uri: store.uri(&analysis.clip_key(clip)),
                sha256: clip.sha256.clone(),
                content_type: clip.encoded.content_type.to_string(),
                start: clip.start,
                end: clip.end,
            });
            comment.transcription_request_id = Some(TranscriptionRequest::id(
                &meta.tenant,
                &meta.recording_id,
                &clip.question_id,
            ));
        }
        answers
    }

    /// The recording's events, its audio at `uri`.
    fn events(
        &self,
        analysis: &Analysis,
        answers: &Answers,
        uri: &str,
        processed_at: Timestamp,
    ) -> Result<Events, Failure> {
        let meta = &analysis.incoming.metadata;
        let context = EventContext {
            tenant: meta.tenant.clone(),
            recording_id: meta.recording_id.clone(),
            call_id: meta.call_id.clone(),
            caller_pseudonym: analysis.caller_pseudonym.clone(),
            audio: AudioRef {
                uri: uri.to_string(),
                sha256: analysis.meta.sha256.clone(),
            },
            retention: Retention {
                class: analysis.retention.class,
                expires_on: analysis.retention.expires_on,
            },
            call_started_at: meta.call_started_at,
            received_at: analysis.incoming.received_at,
            processed_at,
            pipeline_version: self.settings.pipeline_version.clone(),
        };
        events(&analysis.survey, answers, &context)
            .map_err(|e| Failure::permanent(Stage::Score, Reason::InvalidScore, e.to_string()))
    }

    /// The contact request of a recording whose caller agreed to be contacted about their
    /// answers (its class is `consented_contact`) and whose number is known; else none.
    fn contact_request(&self, analysis: &Analysis) -> Option<ContactRequest> {
        let meta = &analysis.incoming.metadata;
        let consented = analysis.retention.class == RetentionClass::ConsentedContact
            || analysis
                .retention
                .after_hold
                .is_some_and(|(class, _)| class == RetentionClass::ConsentedContact);
        let number = meta.caller_number.as_ref().filter(|_| consented)?;
        let day = meta
            .call_started_at
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date();
        Some(ContactRequest {
            schema_version: CONTACT_VERSION,
            request_id: ContactRequest::id(&meta.tenant, &meta.recording_id),
            tenant: meta.tenant.clone(),
            recording_id: meta.recording_id.clone(),
            call_id: meta.call_id.clone(),
            caller_number: number.clone(),
            caller_pseudonym: analysis.caller_pseudonym.clone(),
            survey_id: meta.survey_id.clone(),
            answers: ContactRequest::answers(&analysis.answers),
            call_started_at: meta.call_started_at,
            expires_on: day
                .checked_add(self.settings.retention.contact_requests)
                .unwrap_or(day),
        })
    }

    /// The record kept beside the audio.
    fn record(
        &self,
        analysis: &Analysis,
        store: &impl AudioStore,
        events: &[serde_json::Value],
        contact_request_id: Option<String>,
        stored_at: Timestamp,
    ) -> RecordingRecord {
        let meta = &analysis.incoming.metadata;
        RecordingRecord {
            schema_version: RECORD_VERSION,
            tenant: meta.tenant.clone(),
            recording_id: meta.recording_id.clone(),
            call_id: meta.call_id.clone(),
            caller_pseudonym: analysis.caller_pseudonym.clone(),
            metadata: meta.without_numbers(analysis.caller_pseudonym.as_deref()),
            audio: StoredAudio {
                key: analysis.key.to_string(),
                uri: store.uri(&analysis.key),
                sha256: analysis.meta.sha256.clone(),
                size: analysis.meta.size,
                content_type: analysis.meta.content_type.clone(),
            },
            retention: RecordRetention {
                class: analysis.retention.class,
                expires_on: analysis.retention.expires_on,
                after_hold: analysis
                    .retention
                    .after_hold
                    .map(|(class, expires_on)| AfterHold { class, expires_on }),
            },
            events: events.to_vec(),
            contact_request_id,
            transcription_request_ids: Vec::new(),
            stored_at,
        }
    }
}

impl Analysis {
    /// The metadata of the recording.
    pub fn metadata(&self) -> &RecordingMetadata {
        &self.incoming.metadata
    }

    /// Where the recording came from (redacted).
    pub fn input(&self) -> &str {
        &self.incoming.input
    }

    /// The survey the recording answered.
    pub fn survey(&self) -> &Survey {
        &self.survey
    }

    /// Where the recording's objects are stored.
    pub fn place(&self) -> &Place {
        &self.place
    }

    /// Where the audio is stored.
    pub fn object_key(&self) -> &ObjectKey {
        &self.key
    }

    /// Where a comment's clip is stored, beside the audio.
    pub fn clip_key(&self, clip: &Clip) -> ObjectKey {
        self.place
            .comment(&clip.question_id, clip.encoded.extension)
    }

    /// Answers by status.
    pub fn statuses(&self) -> Vec<Status> {
        self.answers.questions.iter().map(|a| a.status).collect()
    }
}

/// One transcription request per stored comment clip.
fn transcription_requests(built: &Events, requested_at: Timestamp) -> Vec<TranscriptionRequest> {
    built
        .scores
        .iter()
        .filter_map(|score| TranscriptionRequest::of(score, requested_at))
        .collect()
}
/// The survey's answers from the keys heard in band and those the metadata reports, and the
/// clips of the comments heard on the caller's channel.
fn score(
    survey: &Survey,
    incoming: &Incoming,
    options: &DecodeOptions,
    detected: &Detected,
    duration: Duration,
) -> Result<(Answers, Vec<Clip>), Failure> {
    let meta = &incoming.metadata;
    let input = KeyInput {
        duration,
        in_band: Some(
            detected
                .keys
                .iter()
                .map(|heard| KeyPress::from_event(&heard.event))
                .collect(),
        ),
        out_of_band: meta.out_of_band_presses(),
        question_offsets: meta.offsets(),
    };
    let mut answers = extract(survey, &input)
        .map_err(|e| Failure::permanent(Stage::Score, Reason::InvalidScore, e.to_string()))?;
    let channel = meta.caller_channel.unwrap_or(0);
    let without_prompts = detected
        .without_prompts
        .iter()
        .find(|(c, _)| *c == channel)
        .map(|(_, samples)| samples.as_slice());
    let clips = hear_comments(
        survey,
        &mut answers,
        &incoming.audio,
        options,
        (channel, without_prompts),
        &detected.keys,
    )?;
    Ok((answers, clips))
}

/// The extension the audio is stored under: the recording's own, when it is a short
/// alphanumeric one (in lower case), else the fallback.
fn output_extension(extension: Option<&str>) -> String {
    extension
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or(OUTPUT_EXTENSION_FALLBACK)
        .to_ascii_lowercase()
}

fn to_value(event: &impl serde::Serialize) -> Result<serde_json::Value, Failure> {
    serde_json::to_value(event)
        .map_err(|e| Failure::permanent(Stage::Score, Reason::InvalidScore, e.to_string()))
}

/// Splits `total` into (decode, detect) given the detector's own time.
fn split(total: Duration, detect: Duration) -> (Duration, Duration) {
    let detect = detect.min(total);
    (total - detect, detect)
}

/// A decoding failure in the pipeline's terms. The pipeline decodes bytes in memory, so an
/// I/O error can only mean data that ends before it says it does (symphonia reports a
/// truncated stream, an AAC decoder configuration shorter than it claims, as I/O): the same
/// bytes fail the same way again, so it is permanent, not transient.
pub(crate) fn decode_failure(error: DecodeError) -> Failure {
    let reason = match error.kind() {
        ErrorKind::Io | ErrorKind::Corrupt => Reason::UndecodableAudio,
        ErrorKind::Empty => Reason::EmptyAudio,
        ErrorKind::Unsupported => Reason::UnsupportedAudio,
        ErrorKind::TooLarge => Reason::OverLimit,
    };
    Failure::permanent(Stage::Decode, reason, error.to_string())
}

/// The media type stored with an object, from its extension.
fn content_type(extension: &str) -> &'static str {
    match extension {
        "wav" | "wave" => "audio/wav",
        "mp3" => "audio/mpeg",
        "flac" => "audio/flac",
        "ogg" | "oga" => "audio/ogg",
        "m4a" | "mp4" => "audio/mp4",
        "gsm" => "audio/gsm",
        "ulaw" | "pcmu" | "ul" => "audio/basic",
        "aif" | "aiff" => "audio/aiff",
        _ => "application/octet-stream",
    }
}
