//! The crate's one error type.

/// Why a survey definition, a recording's key input or an event context could not be used.
///
/// Every error here is permanent: retrying with the same input gives the same error, so the
/// pipeline should dead-letter the recording (or refuse the survey file) rather than retry.
/// "No keys found" is not an error; it is a non-respondent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The survey file is not TOML, or its TOML does not have the shape of a survey (an unknown
    /// or misspelt key, a value of the wrong type). The source's message points at the line.
    #[error("survey definition does not parse")]
    Syntax(#[source] Box<toml::de::Error>),

    /// The survey file parses but describes a survey that cannot work.
    #[error("invalid survey definition: {}", .problems.join("; "))]
    Definition {
        /// Each problem as `key.path: what is wrong`, e.g.
        /// `questions[2].scale.max: must be at least scale.min (5)`.
        problems: Vec<String>,
    },

    /// The key presses or question offsets of a recording cannot be used with this survey.
    #[error("key input {path}: {message}")]
    Input {
        /// Where in the input, e.g. `in_band[3]` or `question_offsets`.
        path: String,
        /// What is wrong with it.
        message: String,
    },

    /// The recording-level context given to [`events`](crate::events) is inconsistent.
    #[error("event context {path}: {message}")]
    Context {
        /// The field, e.g. `retention.expires_on`.
        path: String,
        /// What is wrong with it.
        message: String,
    },
}

/// The broad reason for an [`Error`], with few enough values to use as a metric label or a
/// dead-letter reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The survey definition is wrong ([`Error::Syntax`], [`Error::Definition`]).
    Definition,
    /// The recording's key input is wrong ([`Error::Input`]).
    Input,
    /// The pipeline's event context is wrong ([`Error::Context`]).
    Context,
}

impl Error {
    /// The broad reason, for branching and for bounded labels.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Syntax(_) | Error::Definition { .. } => ErrorKind::Definition,
            Error::Input { .. } => ErrorKind::Input,
            Error::Context { .. } => ErrorKind::Context,
        }
    }

    pub(crate) fn input(path: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Input {
            path: path.into(),
            message: message.into(),
        }
    }

    pub(crate) fn context(path: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Context {
            path: path.into(),
            message: message.into(),
        }
    }
}
