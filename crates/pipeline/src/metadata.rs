//! Recording metadata, schema version 1: what the IVR tells callscore about a recording.

use std::time::Duration;

use callscore_survey::{Key, KeyPress, QuestionOffset};
use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The metadata schema version this build reads and writes.
pub const METADATA_VERSION: u32 = 1;
/// Longest id accepted (recording, call, tenant, survey).
const MAX_ID_LEN: usize = 128;

/// What the IVR knows about one recording: who, when, which survey, which channel is the
/// caller, and what it saw of the keys itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordingMetadata {
    /// Always 1 for this version.
    pub schema_version: u32,
    /// The recording's id, unique within the tenant. Letters, digits, `.`, `_` and `-`.
    pub recording_id: String,
    /// The call's id in the IVR.
    pub call_id: String,
    /// The tenant (call centre).
    pub tenant: String,
    /// The id of the survey the caller was asked.
    pub survey_id: String,
    /// The caller's number (ANI), as the IVR saw it; `null` when withheld. Pseudonymised on
    /// arrival: it never reaches events, logs, metrics or storage.
    #[serde(default)]
    pub caller_number: Option<String>,
    /// The number the caller dialled. callscore uses it for nothing and writes it nowhere.
    #[serde(default)]
    pub called_number: Option<String>,
    /// The caller's pseudonym (`ps-KEYID-…`), in place of `caller_number`: how callscore's
    /// own dead letters keep the caller without the number, so that a replayed dead letter
    /// gives the same results. An IVR sends `caller_number` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_pseudonym: Option<String>,
    /// The agent who handled the call, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The queue the call came through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// The campaign the call belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// When the call started (RFC 3339).
    pub call_started_at: Timestamp,
    /// The caller's channel in a multi-channel recording, 0 first; `null` analyses every
    /// channel (a key heard on several at once counts once).
    #[serde(default)]
    pub caller_channel: Option<u16>,
    /// The codec of a headerless recording (`ulaw`, `alaw`, `gsm`, `slin`, `slin16`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    /// Key presses the IVR itself received as RFC 4733 events; `null` when it does not report
    /// them, `[]` when it does and there were none.
    #[serde(default)]
    pub out_of_band_keys: Option<Vec<OutOfBandKey>>,
    /// When each question's prompt started; `[]` when the IVR does not report it.
    #[serde(default)]
    pub question_offsets: Vec<QuestionStart>,
    /// What the caller agreed to.
    #[serde(default)]
    pub consent: Consent,
}

/// One RFC 4733 key event the IVR received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutOfBandKey {
    /// `0`-`9`, `*`, `#` or `A`-`D`.
    pub key: String,
    /// Start, in milliseconds from the start of the recording.
    pub start_ms: u64,
    /// End, in milliseconds from the start of the recording.
    pub end_ms: u64,
}

/// When a question's prompt started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionStart {
    /// The question's id in the survey.
    pub question_id: String,
    /// Milliseconds from the start of the recording.
    pub offset_ms: u64,
}

/// Consent and holds that decide how long the recording is kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Consent {
    /// The caller agreed to be contacted about their answers.
    #[serde(default)]
    pub contact: bool,
    /// A legal hold applies: keep until it is lifted.
    #[serde(default)]
    pub legal_hold: bool,
}

/// Why metadata is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid recording metadata: {0}")]
pub struct MetadataError(pub String);

impl RecordingMetadata {
    /// Parses and validates metadata JSON.
    pub fn from_json(bytes: &[u8]) -> Result<RecordingMetadata, MetadataError> {
        let metadata: RecordingMetadata = serde_json::from_slice(bytes)
            .map_err(|e| MetadataError(crate::redact::without_values(&e.to_string())))?;
        metadata.validate()?;
        Ok(metadata)
    }

    /// Checks what the types cannot: the version, id syntax, key names.
    pub fn validate(&self) -> Result<(), MetadataError> {
        if self.schema_version != METADATA_VERSION {
            // not quoted either: a caller's number fits in the field
            return Err(MetadataError(format!(
                "schema_version: this build reads version {METADATA_VERSION} only"
            )));
        }
        for (field, value) in [
            ("recording_id", &self.recording_id),
            ("call_id", &self.call_id),
            ("tenant", &self.tenant),
            ("survey_id", &self.survey_id),
        ] {
            check_id(field, value)?;
        }
        // values that reach the events and the record: none may be a phone number, the
        // recording's own in any formatting least of all
        let numbers = self.numbers();
        for (field, value) in [
            ("recording_id", Some(&self.recording_id)),
            ("call_id", Some(&self.call_id)),
            ("tenant", Some(&self.tenant)),
            ("survey_id", Some(&self.survey_id)),
            ("agent", self.agent.as_ref()),
            ("queue", self.queue.as_ref()),
            ("campaign", self.campaign.as_ref()),
            ("codec", self.codec.as_ref()),
        ] {
            if let Some(value) = value
                && crate::redact::redact_known(value, &numbers) != value.as_str()
            {
                return Err(MetadataError(format!(
                    "{field}: looks like a phone number, and callscore never stores or \
                     publishes one"
                )));
            }
        }
        if let Some(pseudonym) = &self.caller_pseudonym {
            if self.caller_number.is_some() {
                return Err(MetadataError(
                    "caller_pseudonym: give either caller_number or caller_pseudonym, not both"
                        .into(),
                ));
            }
            if !crate::pseudonym::is_pseudonym(pseudonym) {
                return Err(MetadataError(
                    "caller_pseudonym: must be a callscore pseudonym, ps-KEYID-<64 hex digits>"
                        .into(),
                ));
            }
        }
        // question ids reach the events, the record and dead letters like the ids above
        for (index, start) in self.question_offsets.iter().enumerate() {
            let field = format!("question_offsets[{index}].question_id");
            check_id(&field, &start.question_id)?;
            if crate::redact::redact_known(&start.question_id, &numbers)
                != start.question_id.as_str()
            {
                return Err(MetadataError(format!(
                    "{field}: looks like a phone number, and callscore never stores or publishes \
                     one"
                )));
            }
        }
        for (index, key) in self.out_of_band_keys.iter().flatten().enumerate() {
            if parse_key(&key.key).is_none() {
                return Err(MetadataError(format!(
                    "out_of_band_keys[{index}].key: not a DTMF key (0-9, *, #, A-D)"
                )));
            }
            if key.end_ms < key.start_ms {
                return Err(MetadataError(format!(
                    "out_of_band_keys[{index}]: ends before it starts"
                )));
            }
        }
        Ok(())
    }

    /// The phone numbers in the metadata, to mask wherever free text might quote them.
    pub fn numbers(&self) -> Vec<&str> {
        [&self.caller_number, &self.called_number]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect()
    }

    /// The metadata as a dead letter keeps it: the caller's pseudonym in place of the number,
    /// and no called number (callscore uses it for nothing). Processing it again gives the same
    /// results as the original.
    pub fn without_numbers(&self, caller_pseudonym: Option<&str>) -> RecordingMetadata {
        RecordingMetadata {
            caller_number: None,
            called_number: None,
            caller_pseudonym: caller_pseudonym
                .map(str::to_string)
                .or_else(|| self.caller_pseudonym.clone()),
            ..self.clone()
        }
    }

    /// The out-of-band presses in the survey crate's terms.
    pub fn out_of_band_presses(&self) -> Option<Vec<KeyPress>> {
        self.out_of_band_keys.as_ref().map(|keys| {
            keys.iter()
                .filter_map(|k| {
                    let key = parse_key(&k.key)?;
                    Some(KeyPress::new(
                        key,
                        Duration::from_millis(k.start_ms),
                        Duration::from_millis(k.end_ms),
                    ))
                })
                .collect()
        })
    }

    /// The question offsets in the survey crate's terms.
    pub fn offsets(&self) -> Vec<QuestionOffset> {
        self.question_offsets
            .iter()
            .map(|q| QuestionOffset {
                question_id: q.question_id.clone(),
                offset: Duration::from_millis(q.offset_ms),
            })
            .collect()
    }
}

/// An id that is safe in object keys, file names and metric-free logs.
fn check_id(field: &str, value: &str) -> Result<(), MetadataError> {
    let valid = !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !value.starts_with('.');
    if valid {
        Ok(())
    } else {
        // the value is not quoted: it may be anything, a phone number included
        Err(MetadataError(format!(
            "{field}: must be 1 to {MAX_ID_LEN} letters, digits, '.', '_' or '-', not starting \
             with '.'"
        )))
    }
}

fn parse_key(text: &str) -> Option<Key> {
    let mut chars = text.chars();
    let key = Key::from_char(chars.next()?)?;
    chars.next().is_none().then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_that_holds_the_callers_own_number_in_any_formatting_is_refused() {
        let metadata = |call_id: &str| {
            format!(
                r#"{{"schema_version": 1, "recording_id": "rec-1", "call_id": "{call_id}",
                "tenant": "acme", "survey_id": "nps", "caller_number": "+31 20 555 0101",
                "call_started_at": "2026-11-02T09:40:00Z"}}"#
            )
        };
        for call_id in ["in-020-555-0101", "0031-20-555-0101", "c.20.555.0101"] {
            let error =
                RecordingMetadata::from_json(metadata(call_id).as_bytes()).expect_err("refused");
            assert!(
                error
                    .to_string()
                    .contains("call_id: looks like a phone number"),
                "{call_id}: {error}"
            );
            assert!(!error.to_string().contains("555"), "{error}");
        }
        // ids with other digits pass
        RecordingMetadata::from_json(metadata("call-2026-11-02-0101").as_bytes())
            .expect("an ordinary id");
    }
}
