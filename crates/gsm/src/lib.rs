//! GSM 06.10 full-rate speech decoding for callscore: 13 kbit/s RPE-LTP frames in, 8 kHz 16-bit
//! PCM out.
//!
//! Call recorders store GSM audio in two framings, and [`Decoder`] reads both:
//!
//! - **raw `.gsm`**, as written by libgsm, sox and Asterisk: [`FRAME_BYTES`] = 33 bytes per
//!   frame, a 0xD magic nibble and then the 260 parameter bits, most significant bit first.
//!   [`Decoder::decode_frame`] gives [`SAMPLES_PER_FRAME`] = 160 samples per frame.
//! - **WAV49**, the Microsoft GSM 6.10 WAV encoding (format tag [`WAV49_FORMAT_TAG`]): two
//!   frames packed least significant bit first into [`WAV49_BLOCK_BYTES`] = 65 bytes.
//!   [`Decoder::decode_wav49_block`] gives [`SAMPLES_PER_WAV49_BLOCK`] = 320 samples per block.
//!   Finding the blocks inside the WAV file is the container reader's job.
//!
//! The decoder follows the fixed-point algorithm of ETSI GSM 06.10 (RPE decoding, long-term
//! and short-term synthesis, de-emphasis), with the standard's saturating 16-bit arithmetic, so
//! its output is bit-exact with libgsm's `gsm_decode`. It is a stream decoder: filter memories
//! carry from frame to frame. No input bytes make it panic; a raw frame without the magic
//! nibble is a [`FrameError`].
//!
//! ```
//! use callscore_gsm::{Decoder, FRAME_BYTES, FrameError, SAMPLES_PER_FRAME};
//!
//! // Two frames of a raw .gsm stream: magic nibble, then (here) all-zero parameters.
//! let mut stream = [0u8; 2 * FRAME_BYTES];
//! stream[0] = 0xD0;
//! stream[FRAME_BYTES] = 0xD0;
//!
//! let mut decoder = Decoder::new();
//! let mut pcm = Vec::new();
//! for frame in stream.as_chunks::<FRAME_BYTES>().0 {
//!     pcm.extend(decoder.decode_frame(frame)?);
//! }
//! assert_eq!(pcm.len(), 2 * SAMPLES_PER_FRAME);
//!
//! // A frame that lost its magic nibble is rejected, not decoded.
//! let garbage = [0u8; FRAME_BYTES];
//! assert_eq!(decoder.decode_frame(&garbage), Err(FrameError::BadMagic { found: 0 }));
//! # Ok::<(), FrameError>(())
//! ```

#![deny(missing_docs)]

mod arith;
mod decoder;
mod frame;
mod ltp;
mod rpe;
mod stp;

pub use decoder::Decoder;

/// Bytes in one raw `.gsm` frame: a 4-bit magic nibble and 260 parameter bits (GSM 06.10
/// §1.7; framing of libgsm's `gsm_decode`).
pub const FRAME_BYTES: usize = 33;
/// Bytes in one WAV49 block: two 260-bit frames, no padding (the `nBlockAlign` of Microsoft
/// GSM 6.10 WAV files).
pub const WAV49_BLOCK_BYTES: usize = 65;
/// Samples decoded from one frame: 20 ms at 8 kHz (GSM 06.10 §1.2).
pub const SAMPLES_PER_FRAME: usize = 160;
/// Samples decoded from one WAV49 block (the `wSamplesPerBlock` of Microsoft GSM 6.10).
pub const SAMPLES_PER_WAV49_BLOCK: usize = 2 * SAMPLES_PER_FRAME;
/// Sampling rate of the decoded signal, in Hz (GSM 06.10 §1.2).
pub const SAMPLE_RATE: u32 = 8000;
/// WAV `wFormatTag` of WAV49 / Microsoft GSM 6.10 (`WAVE_FORMAT_GSM610`).
pub const WAV49_FORMAT_TAG: u16 = 0x0031;

/// Why a raw `.gsm` frame cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame's first nibble is not the 0xD magic, so the bytes are not a GSM frame or the
    /// stream has lost frame alignment.
    BadMagic {
        /// The nibble found instead.
        found: u8,
    },
}

// Written by hand rather than with thiserror to keep this crate free of dependencies.
impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadMagic { found } => {
                write!(
                    f,
                    "not a GSM frame: magic nibble is {found:#x}, expected 0xd"
                )
            }
        }
    }
}

impl std::error::Error for FrameError {}
