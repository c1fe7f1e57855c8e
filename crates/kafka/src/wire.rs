//! The wire format of the recordings topic, version 1.
//!
//! A message is one recording:
//! - header `callscore_metadata` (required): the recording's metadata as JSON
//!   (`schemas/recording-metadata.v1.schema.json`);
//! - header `content-type`: the media type of the value. An audio type (`audio/wav`,
//!   `audio/mpeg`, `audio/basic`, …) or `application/octet-stream` means the value is the
//!   audio itself; [`REFERENCE_CONTENT_TYPE`] means the value is an [`AudioReference`] to an
//!   object already uploaded to a staging bucket. Absent: the value is the audio;
//! - header `callscore_extension` (optional): the recording's file extension (`wav`, `ulaw`,
//!   `gsm`, …), a hint for formats without a signature;
//! - the key is not interpreted (the call id is a good choice: it keeps a call's recordings in
//!   order).

pub use callscore_pipeline::AudioReference;
use callscore_pipeline::{Failure, Reason, RecordingMetadata, Stage};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The header holding the metadata.
pub const METADATA_HEADER: &str = "callscore_metadata";
/// The header holding the file extension hint.
pub const EXTENSION_HEADER: &str = "callscore_extension";
/// The header holding the value's media type.
pub const CONTENT_TYPE_HEADER: &str = "content-type";
/// The media type of a value that refers to audio in a staging bucket.
pub const REFERENCE_CONTENT_TYPE: &str = "application/vnd.callscore.audio-ref.v1+json";
/// File name of the message schema under `schemas/`.
pub const MESSAGE_SCHEMA_FILE: &str = "recording-message.v1.schema.json";

/// The headers of a recordings-topic message, as a JSON object of header name to text (the
/// value is described in the header docs).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RecordingMessageHeaders {
    /// The recording's metadata, as JSON text (recording-metadata.v1).
    pub callscore_metadata: String,
    /// The media type of the value: an audio type or `application/octet-stream` for inline
    /// audio, `application/vnd.callscore.audio-ref.v1+json` for an audio-reference.v1 document.
    #[serde(rename = "content-type", default)]
    pub content_type: Option<String>,
    /// The file extension of the recording (`wav`, `ulaw`, `gsm`, …): a hint for formats
    /// without a signature.
    #[serde(default)]
    pub callscore_extension: Option<String>,
}

/// Where a message's audio is.
#[derive(Debug, Clone)]
pub enum Audio {
    /// In the message: the value is the audio.
    Inline,
    /// In a staging bucket.
    Reference(AudioReference),
}

/// A recordings-topic message, read.
#[derive(Debug, Clone)]
pub struct RecordingMessage {
    /// The metadata, validated.
    pub metadata: RecordingMetadata,
    /// The audio, or where it is.
    pub audio: Audio,
    /// The file extension: the header's, or one implied by the media type or reference.
    pub extension: Option<String>,
}

/// A message that cannot be read: why, and its metadata when that much was readable (for the
/// dead letter).
#[derive(Debug, Clone)]
pub struct Unreadable {
    /// The metadata, when it was readable.
    pub metadata: Option<Box<RecordingMetadata>>,
    /// Why the message cannot be read; always permanent.
    pub failure: Failure,
}

/// Reads a message from its headers (name, value) and value. A failure is permanent: the
/// same message will never read differently.
pub fn read(headers: &[(&str, &[u8])], value: &[u8]) -> Result<RecordingMessage, Unreadable> {
    let header = |name: &str| {
        headers
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    };
    let invalid =
        |message: String| Failure::permanent(Stage::Intake, Reason::InvalidMetadata, message);
    let metadata = header(METADATA_HEADER)
        .ok_or_else(|| invalid(format!("no {METADATA_HEADER} header")))
        .and_then(|bytes| {
            // the error never quotes a value (it may be a number): see RecordingMetadata
            RecordingMetadata::from_json(bytes)
                .map_err(|e| invalid(format!("{METADATA_HEADER}: {e}")))
        })
        .map_err(|failure| Unreadable {
            metadata: None,
            failure,
        })?;
    let text = |name: &str| -> Result<Option<String>, Failure> {
        header(name)
            .map(|v| {
                std::str::from_utf8(v)
                    .map(|s| s.trim().to_ascii_lowercase())
                    .map_err(|_| invalid(format!("header {name} is not UTF-8")))
            })
            .transpose()
    };
    let read_rest = || -> Result<RecordingMessage, Failure> {
        let content_type = text(CONTENT_TYPE_HEADER)?;
        let mut extension = text(EXTENSION_HEADER)?;
        let audio = if content_type.as_deref() == Some(REFERENCE_CONTENT_TYPE) {
            let reference: AudioReference = serde_json::from_slice(value).map_err(|e| {
                invalid(format!(
                    "audio reference: {}",
                    callscore_pipeline::redact::without_values(&e.to_string())
                ))
            })?;
            if !reference.uri.starts_with("s3://") {
                return Err(invalid("audio reference: not an s3:// URI".to_string()));
            }
            if extension.is_none() {
                extension = reference
                    .uri
                    .rsplit('/')
                    .next()
                    .and_then(|name| name.rsplit_once('.'))
                    .map(|(_, ext)| ext.to_ascii_lowercase());
            }
            Audio::Reference(reference)
        } else {
            if value.is_empty() {
                return Err(Failure::permanent(
                    Stage::Intake,
                    Reason::EmptyAudio,
                    "the message has no audio",
                ));
            }
            if extension.is_none() {
                extension = content_type
                    .as_deref()
                    .and_then(extension_of)
                    .map(str::to_string);
            }
            Audio::Inline
        };
        Ok(RecordingMessage {
            metadata: metadata.clone(),
            audio,
            extension,
        })
    };
    read_rest().map_err(|failure| Unreadable {
        metadata: Some(Box::new(metadata.clone())),
        failure,
    })
}

/// The extension implied by a media type (parameters ignored).
fn extension_of(content_type: &str) -> Option<&'static str> {
    let essence = content_type.split(';').next()?.trim();
    Some(match essence {
        "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => "wav",
        "audio/mpeg" | "audio/mp3" => "mp3",
        "audio/flac" | "audio/x-flac" => "flac",
        "audio/ogg" | "audio/opus" => "ogg",
        "audio/mp4" | "audio/m4a" | "audio/x-m4a" | "audio/aac" => "m4a",
        "audio/basic" | "audio/pcmu" => "ulaw",
        "audio/pcma" => "alaw",
        "audio/gsm" => "gsm",
        "audio/aiff" | "audio/x-aiff" => "aiff",
        _ => return None,
    })
}

/// The schemas this module owns, with their file names under `schemas/`.
pub fn schemas() -> [(&'static str, serde_json::Value); 1] {
    [(
        MESSAGE_SCHEMA_FILE,
        callscore_survey::schema::generate::<RecordingMessageHeaders>(MESSAGE_SCHEMA_FILE),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    const METADATA: &str = r#"{"schema_version":1,"recording_id":"r1","call_id":"c1","tenant":"acme","survey_id":"nps","caller_number":"+31201234567","call_started_at":"2026-11-01T10:00:00Z"}"#;

    #[test]
    fn inline_audio_takes_its_extension_from_the_media_type() {
        let message = read(
            &[
                (METADATA_HEADER, METADATA.as_bytes()),
                ("content-type", b"audio/basic"),
            ],
            b"\xff\xff",
        )
        .expect("readable");
        assert_eq!(message.extension.as_deref(), Some("ulaw"));
        assert!(matches!(message.audio, Audio::Inline));
    }

    #[test]
    fn references_take_their_extension_from_the_key() {
        let message = read(
            &[
                (METADATA_HEADER, METADATA.as_bytes()),
                ("content-type", REFERENCE_CONTENT_TYPE.as_bytes()),
            ],
            br#"{"uri":"s3://staging/2026/r1.WAV"}"#,
        )
        .expect("readable");
        assert_eq!(message.extension.as_deref(), Some("wav"));
        assert!(matches!(message.audio, Audio::Reference(_)));
    }

    #[test]
    fn bad_messages_are_permanent_intake_failures() {
        type Headers<'a> = &'a [(&'a str, &'a [u8])];
        let cases: [(Headers<'_>, &[u8]); 4] = [
            (&[], b"audio"),
            (&[(METADATA_HEADER, b"{not json")], b"audio"),
            (&[(METADATA_HEADER, METADATA.as_bytes())], b""),
            (
                &[
                    (METADATA_HEADER, METADATA.as_bytes()),
                    ("content-type", REFERENCE_CONTENT_TYPE.as_bytes()),
                ],
                br#"{"uri":"https://example.com/a.wav"}"#,
            ),
        ];
        for (headers, value) in cases {
            let failure = read(headers, value).expect_err("refused").failure;
            assert_eq!(failure.stage, Stage::Intake);
            assert!(failure.is_permanent());
        }
    }
}
