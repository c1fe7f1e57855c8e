//! Survey definitions, key presses to answers, and callscore's versioned score events.
//!
//! A digit string is not an answer: "1", "0", "#" may be a 10, or a 1 and a 0; a caller
//! presses `*` to start over, keys 12 on a 0-10 scale or hangs up mid-entry. This crate turns
//! the timed key presses of one recording into one clean answer per question, the way the IVR
//! read them, and those answers into events for the data engineers.
//!
//! 1. [`Survey::from_toml`] reads and validates a survey definition: questions of a
//!    [`Kind`] (NPS, CSAT, CES, yes/no, range, choice, spoken comment), terminator and cancel keys, maximum
//!    digits, inter-digit timeouts, attempts and optional time windows. Problems are reported
//!    by key path, e.g. `questions[2].scale.max: must be at least scale.min (5)`.
//! 2. [`extract`] takes a [`KeyInput`]: the in-band detector's presses, the IVR's out-of-band
//!    (RFC 4733) presses, or both, which it reconciles, plus the question start offsets when
//!    the IVR reports them. It returns [`Answers`]: a [`Status`] and attempt count per
//!    question, the keys no question took, and [`QualityFlag`]s.
//! 3. [`events`] combines the answers with the pipeline's [`EventContext`] into one
//!    [`ScoreEvent`] per question and one [`ResponseEvent`] per recording, schema version
//!    [`SCHEMA_VERSION`], with deterministic ids. [`schema`] generates their JSON Schemas.
//!
//! The segmentation rules, statuses and flags are documented with examples in docs/ivr-engineer.md
//! ("Surveys and score events"); a test checks every one of those examples against this code.
//!
//! The crate is pure: no I/O, no clock, no logging. Times are offsets from the start of the
//! recording; wall-clock timestamps come in through the [`EventContext`].
//!
//! ```
//! use std::time::Duration;
//! use callscore_survey::{events, extract, EventContext, Key, KeyInput, KeyPress, Status, Survey};
//!
//! let survey = Survey::from_toml(r#"
//!     id = "post-call"
//!     version = 1
//!     [[questions]]
//!     id = "recommend"
//!     kind = "nps"
//! "#)?;
//!
//! // The caller keys 1, 0, # a second into the recording.
//! let ms = Duration::from_millis;
//! let press = |key, at| KeyPress::new(key, ms(at), ms(at + 90));
//! let input = KeyInput {
//!     duration: Duration::from_secs(12),
//!     out_of_band: Some(vec![press(Key::D1, 1000), press(Key::D0, 1300), press(Key::Hash, 1600)]),
//!     ..KeyInput::default()
//! };
//!
//! let answers = extract(&survey, &input)?;
//! assert_eq!(answers.questions[0].status, Status::Answered);
//! assert_eq!(answers.questions[0].value, Some(10));
//! assert!(answers.is_respondent());
//! # let ctx = EventContext {
//! #     tenant: "acme".into(), recording_id: "r1".into(), call_id: "c1".into(),
//! #     caller_pseudonym: None,
//! #     audio: callscore_survey::AudioRef { uri: "file:///r1.wav".into(), sha256: "0".repeat(64) },
//! #     retention: callscore_survey::Retention {
//! #         class: callscore_survey::RetentionClass::for_answers(&answers),
//! #         expires_on: Some(jiff::civil::date(2026, 1, 1)),
//! #     },
//! #     call_started_at: jiff::Timestamp::UNIX_EPOCH, received_at: jiff::Timestamp::UNIX_EPOCH,
//! #     processed_at: jiff::Timestamp::UNIX_EPOCH, pipeline_version: "test".into(),
//! # };
//!
//! // With the pipeline's context (tenant, ids, stored audio, retention, timestamps):
//! let events = events(&survey, &answers, &ctx)?;
//! assert_eq!(events.scores[0].nps_category, Some(callscore_survey::NpsCategory::Promoter));
//! # Ok::<(), callscore_survey::Error>(())
//! ```

#![deny(missing_docs)]

mod comment;
mod definition;
mod error;
mod event;
mod extract;
mod file;
mod press;
mod quality;
pub mod schema;

pub use callscore_dtmf::Key;
pub use comment::{ClipRef, Comment, CommentEnd, CommentWindow, Spoken};
pub use definition::{
    CommentSettings, DEFAULT_COMMENT_MAX_DURATION, DEFAULT_COMMENT_MIN_SPEECH,
    DEFAULT_INTER_DIGIT_TIMEOUT, DEFAULT_MATCH_TOLERANCE, DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MIN_CONFIDENCE, DEFAULT_MIN_RESPONSE, Kind, MAX_COMMENT_DURATION, MAX_DIGITS,
    MAX_QUESTIONS, NO, QualitySettings, Question, Scale, Survey, Window, YES,
};
pub use error::{Error, ErrorKind};
pub use event::{
    AudioRef, ClipFacts, CommentFacts, DetectionSource, EventContext, Events, KeyTiming,
    NpsCategory, ResponseEvent, ResponseEventType, Retention, RetentionClass, SCHEMA_VERSION,
    ScoreEvent, ScoreEventType, StatusCounts, events,
};
pub use extract::{Answer, Answers, Segmentation, Status, extract};
pub use press::{KeyInput, KeyPress, MAX_PRESSES, Press, QuestionOffset, Source, SourceReport};
pub use quality::QualityFlag;
