//! [`FileSource`]: recordings in files, each with an optional sidecar metadata file, as
//! `callscore process` reads them.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;

use crate::ports::{
    Payload, Receipt, Received, RecordingSource, Rejected, Retry, SourceError, Taken,
};
use crate::redact::redact;
use crate::{Consent, DeadLetter, Failure, METADATA_VERSION, Reason, RecordingMetadata, Stage};

/// What recordings without a sidecar get.
#[derive(Debug, Clone, Default)]
pub struct FileDefaults {
    /// Their tenant; without one they are rejected.
    pub tenant: Option<String>,
    /// Their survey; without one they are rejected.
    pub survey_id: Option<String>,
}

/// Recordings in files. For `NAME.EXT`, the metadata is `NAME.json` beside it; without one,
/// the [`FileDefaults`] give the tenant and survey, the file name the recording and call ids
/// (anything but letters, digits, `-` and `_` becomes `_`) and the file's modification time
/// the call's start. Files are handed out once each, to any number of workers. A rejected
/// file stays where it is; its dead letter (a [`DeadLetter`] as one NDJSON line) names it.
pub struct FileSource {
    files: Vec<PathBuf>,
    next: AtomicUsize,
    acknowledged: AtomicUsize,
    rejected: AtomicUsize,
    defaults: FileDefaults,
    max_bytes: u64,
    dead_letters: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for FileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSource")
            .field("files", &self.files.len())
            .field("defaults", &self.defaults)
            .finish_non_exhaustive()
    }
}

/// What a [`FileSource`] hands back on acknowledgement: nothing to commit for files. Every
/// file is a lane of its own.
#[derive(Debug)]
pub struct FileReceipt {
    index: usize,
    bytes: u64,
    input: String,
}

impl Receipt for FileReceipt {
    fn lane(&self) -> u64 {
        self.index as u64
    }

    fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl FileSource {
    /// A source over `files`, refusing files over `max_bytes`, writing dead letters to
    /// `dead_letters` (one JSON object per line, flushed per letter).
    pub fn new(
        files: Vec<PathBuf>,
        defaults: FileDefaults,
        max_bytes: u64,
        dead_letters: Box<dyn Write + Send>,
    ) -> FileSource {
        FileSource {
            files,
            next: AtomicUsize::new(0),
            acknowledged: AtomicUsize::new(0),
            rejected: AtomicUsize::new(0),
            defaults,
            max_bytes,
            dead_letters: Mutex::new(dead_letters),
        }
    }

    /// How many files it holds.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// How many inputs were acknowledged.
    pub fn acknowledged(&self) -> usize {
        self.acknowledged.load(Ordering::Relaxed)
    }

    /// How many inputs were dead-lettered.
    pub fn rejected(&self) -> usize {
        self.rejected.load(Ordering::Relaxed)
    }

    fn read(&self, path: &Path) -> Result<Received, Rejected> {
        // a file named after the caller must not carry the number into logs or dead letters
        let input = redact(&path.display().to_string()).into_owned();
        // every failure here is at intake; reading may succeed later, the rest will not
        let reject = |metadata: Option<&RecordingMetadata>, reason, message: String| {
            let retry = if reason == Reason::Unreadable {
                Retry::Transient
            } else {
                Retry::Permanent
            };
            Rejected {
                input: input.clone(),
                metadata: metadata.cloned().map(Box::new),
                failure: Failure::new(Stage::Intake, reason, retry, message),
            }
        };
        let unreadable = |e: io::Error| reject(None, Reason::Unreadable, e.to_string());
        let invalid = |message: String| reject(None, Reason::InvalidMetadata, message);
        let received_at = Timestamp::now();
        let size = std::fs::metadata(path).map_err(unreadable)?.len();
        let sidecar = path.with_extension("json");
        let metadata = match std::fs::read(&sidecar) {
            Ok(bytes) => RecordingMetadata::from_json(&bytes)
                .map_err(|e| invalid(format!("{}: {e}", redact(&sidecar.display().to_string()))))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.default_metadata(path).map_err(invalid)?
            }
            Err(e) => return Err(unreadable(e)),
        };
        if size > self.max_bytes {
            let message = format!("{size} bytes, over the limit of {}", self.max_bytes);
            return Err(reject(Some(&metadata), Reason::OverLimit, message));
        }
        let audio: Arc<[u8]> = std::fs::read(path)
            .map_err(|e| reject(Some(&metadata), Reason::Unreadable, e.to_string()))?
            .into();
        Ok(Received {
            input,
            metadata,
            payload: Payload::Inline(audio),
            extension: path.extension().and_then(|e| e.to_str()).map(str::to_owned),
            received_at,
            sent_at: None,
        })
    }

    fn default_metadata(&self, path: &Path) -> Result<RecordingMetadata, String> {
        let tenant = self
            .defaults
            .tenant
            .clone()
            .ok_or("no sidecar metadata and no default tenant (--tenant)")?;
        let survey_id = self
            .defaults
            .survey_id
            .clone()
            .ok_or("no sidecar metadata to choose between several surveys")?;
        let stem: String = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if crate::redact::redact(&stem) != stem {
            return Err(
                "no sidecar metadata, and the file name looks like a phone number: it cannot \
                 be the recording's id (give a sidecar NAME.json)"
                    .into(),
            );
        }
        let modified = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .map_err(|e| e.to_string())?;
        let call_started_at = Timestamp::try_from(modified).map_err(|e| e.to_string())?;
        let metadata = RecordingMetadata {
            schema_version: METADATA_VERSION,
            recording_id: stem.clone(),
            call_id: stem,
            tenant,
            survey_id,
            caller_number: None,
            called_number: None,
            caller_pseudonym: None,
            agent: None,
            queue: None,
            campaign: None,
            call_started_at,
            caller_channel: None,
            codec: None,
            out_of_band_keys: None,
            question_offsets: Vec::new(),
            consent: Consent::default(),
        };
        metadata.validate().map_err(|e| e.to_string())?;
        Ok(metadata)
    }
}

impl RecordingSource for FileSource {
    type Receipt = FileReceipt;

    async fn next(&self) -> Option<Taken<FileReceipt>> {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        let path = self.files.get(index)?;
        let item = self.read(path);
        let (input, bytes) = match &item {
            Ok(received) => (received.input.clone(), received.payload.len()),
            Err(rejected) => (rejected.input.clone(), 0),
        };
        Some(Taken {
            receipt: FileReceipt {
                index,
                bytes,
                input,
            },
            item,
        })
    }

    async fn ack(&self, _receipt: FileReceipt) -> Result<(), SourceError> {
        self.acknowledged.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn reject(
        &self,
        receipt: &FileReceipt,
        letter: &DeadLetter,
        _caller_pseudonym: Option<&str>,
    ) -> Result<(), SourceError> {
        // the file and its sidecar stay where they are: the letter names them, no copy holds
        // the number
        let mut line = serde_json::to_vec(letter).map_err(|e| SourceError {
            operation: "dead-lettering",
            input: receipt.input.clone(),
            retry: Retry::Permanent,
            message: e.to_string(),
        })?;
        line.push(b'\n');
        let mut out = self.dead_letters.lock().unwrap_or_else(|e| e.into_inner());
        out.write_all(&line)
            .and_then(|()| out.flush())
            .map_err(|e| SourceError {
                operation: "dead-lettering",
                input: receipt.input.clone(),
                retry: Retry::Transient,
                message: e.to_string(),
            })?;
        self.rejected.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
