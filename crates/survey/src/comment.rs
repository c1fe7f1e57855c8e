//! Spoken comments: where a comment question listened, what was heard there, and its clip.
//!
//! [`extract`](crate::extract) decides each comment question's window from the question
//! offsets, the keys and the recording's length, and leaves it `no_input`. The pipeline runs a
//! voice-activity detector over the window and hands what it heard to [`Answers::hear`], which
//! makes the comment `answered` when there is at least the question's minimum speech.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Answers, Error, Kind, Status, Survey};

/// What closed a comment window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommentEnd {
    /// The caller pressed the question's terminator key.
    Terminator,
    /// The IVR's maximum recording length ran out.
    MaxDuration,
    /// The next question started.
    NextQuestion,
    /// The recording ended: the caller hung up (or the window reached the end of the file).
    HangUp,
}

/// The stretch of the recording a comment question listened to, from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommentWindow {
    /// When listening began.
    pub start: Duration,
    /// When it ended.
    pub end: Duration,
    /// What ended it.
    pub ended_by: CommentEnd,
}

impl CommentWindow {
    /// How long the window is.
    pub fn len(&self) -> Duration {
        self.end.saturating_sub(self.start)
    }

    /// True for a window of no time (the recording ended before it opened).
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// Speech heard in a comment window, timed from the start of the recording.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spoken {
    /// Start of the first stretch of speech.
    pub start: Duration,
    /// End of the last stretch of speech.
    pub end: Duration,
    /// Total speech, pauses excluded.
    pub speech: Duration,
    /// Speech as a share of the window, 0-1.
    pub ratio: f32,
    /// Active speech level in dBm0.
    pub level_dbm0: Option<f32>,
}

/// A comment's audio as stored: the speech and a little around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipRef {
    /// Where it is stored.
    pub uri: String,
    /// SHA-256 of the stored bytes, lowercase hex.
    pub sha256: String,
    /// Its media type, e.g. `audio/ogg; codecs=opus`.
    pub content_type: String,
    /// Where it starts in the recording.
    pub start: Duration,
    /// Where it ends in the recording.
    pub end: Duration,
}

/// One comment question's outcome beyond its status.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    /// Where it listened.
    pub window: CommentWindow,
    /// What it heard; `None` when there was no speech.
    pub spoken: Option<Spoken>,
    /// The stored clip, once the pipeline has stored it.
    pub clip: Option<ClipRef>,
    /// The language the survey asks the comment in.
    pub language: Option<String>,
    /// The transcription request made for it.
    pub transcription_request_id: Option<String>,
}

impl Answers {
    /// Comment questions and their windows, as `(question index, window)`, in survey order.
    pub fn comment_windows(&self) -> Vec<(usize, CommentWindow)> {
        self.questions
            .iter()
            .enumerate()
            .filter_map(|(i, a)| a.comment.as_ref().map(|c| (i, c.window)))
            .collect()
    }

    /// Records what was heard in comment question `index`: it is `answered` when the speech
    /// reaches the question's `min_speech`, else `no_input`. Refuses an index that is not a
    /// comment question of `survey`, and speech outside the window.
    pub fn hear(
        &mut self,
        survey: &Survey,
        index: usize,
        spoken: Option<Spoken>,
    ) -> Result<(), Error> {
        let settings = survey
            .questions()
            .get(index)
            .filter(|q| q.kind == Kind::Comment)
            .and_then(|q| q.comment.as_ref())
            .ok_or_else(|| Error::input("comment", format!("question {index} is no comment")))?;
        let answer = self
            .questions
            .get_mut(index)
            .ok_or_else(|| Error::input("comment", format!("no answer {index}")))?;
        let comment = answer
            .comment
            .as_mut()
            .ok_or_else(|| Error::input("comment", format!("answer {index} has no window")))?;
        if let Some(s) = &spoken
            && (s.start < comment.window.start || s.end > comment.window.end || s.end < s.start)
        {
            return Err(Error::input(
                "comment",
                "the speech lies outside the comment's window",
            ));
        }
        let enough = spoken.is_some_and(|s| s.speech >= settings.min_speech);
        answer.status = if enough {
            Status::Answered
        } else {
            Status::NoInput
        };
        comment.spoken = spoken;
        Ok(())
    }

    /// Comment questions answered.
    pub fn comments(&self) -> usize {
        self.questions
            .iter()
            .filter(|a| a.comment.is_some() && a.status == Status::Answered)
            .count()
    }
}
