//! Audio decoding for callscore: recording bytes in, PCM per channel out (full scale 1.0).
//!
//! Today this reads WAV files the way call recorders write them: linear PCM, IEEE float and
//! G.711 A-law and µ-law, plain or `WAVE_FORMAT_EXTENSIBLE`, RIFF or RF64, including files whose
//! writer never filled in the sizes. Reading is streamed, so a recording of any length needs
//! bounded memory, and hostile input gives a [`DecodeError`], never a panic.

pub mod g711;
mod wav;

pub use wav::{Encoding, WavReader, WavSpec, write_wav};

/// Why a recording cannot be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Reading the input failed.
    #[error("cannot read the recording: {0}")]
    Io(#[from] std::io::Error),
    /// The input is not a WAV file at all.
    #[error("not a WAV file (no RIFF/WAVE header)")]
    NotWav,
    /// The input is a WAV file whose structure is broken.
    #[error("malformed WAV file: {0}")]
    Malformed(String),
    /// The input is a well-formed WAV file in an encoding callscore does not decode.
    #[error("unsupported WAV encoding: {0}")]
    Unsupported(String),
}
