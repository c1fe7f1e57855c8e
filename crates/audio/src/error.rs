//! The one error type of the crate, with a kind callers branch on.

use std::io;

/// Why a recording cannot be decoded.
///
/// Every variant but [`DecodeError::Io`] is permanent: the same bytes fail the same way again,
/// so a pipeline dead-letters them instead of retrying. [`DecodeError::kind`] says which.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Reading the input failed; the bytes themselves may be fine.
    #[error("cannot read the recording: {0}")]
    Io(#[from] io::Error),
    /// The input holds no audio at all (zero bytes, or a container with no samples).
    #[error("the recording is empty: {0}")]
    Empty(&'static str),
    /// The input is in a format or encoding callscore does not decode.
    #[error("unsupported recording: {0}")]
    Unsupported(String),
    /// The input claims to be a format it then breaks.
    #[error("corrupt recording: {0}")]
    Corrupt(String),
    /// The input is over one of the [`Limits`](crate::Limits).
    #[error("recording over a limit: {0}")]
    TooLarge(String),
}

/// The kind of a [`DecodeError`], for callers that count or route failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Reading failed; worth retrying.
    Io,
    /// No audio in the input.
    Empty,
    /// A format or encoding callscore does not decode.
    Unsupported,
    /// Broken data.
    Corrupt,
    /// Over a configured limit.
    TooLarge,
}

impl ErrorKind {
    /// A short lowercase name, stable for metrics labels and dead-letter records.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Io => "io",
            ErrorKind::Empty => "empty",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::TooLarge => "too_large",
        }
    }
}

impl DecodeError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DecodeError::Io(_) => ErrorKind::Io,
            DecodeError::Empty(_) => ErrorKind::Empty,
            DecodeError::Unsupported(_) => ErrorKind::Unsupported,
            DecodeError::Corrupt(_) => ErrorKind::Corrupt,
            DecodeError::TooLarge(_) => ErrorKind::TooLarge,
        }
    }

    /// Whether decoding the same bytes again would fail again.
    pub fn is_permanent(&self) -> bool {
        self.kind() != ErrorKind::Io
    }
}
