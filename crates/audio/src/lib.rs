//! Audio decoding for callscore: recording bytes in, 8 kHz PCM per channel out.
//!
//! Call recorders write many formats, and a recording callscore cannot read is a lost answer.
//! [`Recording`] recognises the format from the first bytes (the extension, or a codec the IVR
//! declares, only decides for headerless input), decodes it block by block and resamples it to
//! 8 kHz, keeping the channels apart unless asked to mix them:
//!
//! - WAV (RIFF, RF64; plain or `WAVE_FORMAT_EXTENSIBLE`) with linear PCM, float, G.711 A-law and
//!   µ-law and GSM 06.10 (WAV49) is read by callscore's own streaming reader, which also copes
//!   with what recorders that crashed mid-call leave behind (sizes never filled in);
//! - IMA and Microsoft ADPCM WAV, FLAC, MP3, Ogg Vorbis, MP4/M4A (AAC, ALAC), AIFF, CAF and
//!   Matroska go through symphonia, and so does Ogg Opus with the `opus` feature, which plugs
//!   libopus in as its codec;
//! - Asterisk's headerless formats: raw µ-law and A-law, raw GSM 06.10 frames, signed 16-bit
//!   PCM at 8 kHz and above ([`Headerless`]).
//!
//! Memory does not grow with the recording's length, every input is checked against
//! [`Limits`] before anything is allocated for it, and hostile input gives a [`DecodeError`]
//! with a [kind](ErrorKind) (unsupported, corrupt, too large, empty), never a panic.
//!
//! ```
//! # fn main() -> Result<(), callscore_audio::DecodeError> {
//! use callscore_audio::{DecodeOptions, Encoding, Recording, write_wav};
//!
//! // one second of silence, recorded at 16 kHz
//! let mut file = Vec::new();
//! write_wav(&mut file, 16_000, Encoding::Pcm { bits: 16 }, &[vec![0.0; 16_000]])?;
//!
//! let mut recording = Recording::open_bytes(file, &DecodeOptions::default())?;
//! assert_eq!(recording.info().sample_rate, 16_000);
//! let mut frames = 0;
//! while let Some(channels) = recording.next_block()? {
//!     frames += channels[0].len();
//! }
//! assert_eq!(frames, 8000); // one second at 8 kHz
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod clip;
mod error;
pub mod g711;
mod guard;
mod input;
mod media;
mod options;
#[cfg(feature = "opus")]
mod opus;
mod raw;
mod recording;
mod resample;
mod source;
mod wav;

pub use clip::{EncodedClip, encode_clip, encode_wav};
pub use error::{DecodeError, ErrorKind};
pub use options::{DecodeOptions, Headerless, Limits, MIN_SAMPLE_RATE};
pub use recording::{DecodeStats, Recording, RecordingInfo};
pub use wav::{Encoding, WavReader, WavSpec, write_wav};

/// The sample rate of every block a [`Recording`] delivers.
pub const OUTPUT_RATE: u32 = 8000;
