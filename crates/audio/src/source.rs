//! The seam between container readers and the rest: each reader yields blocks of samples per
//! channel at the stream's own rate.

use crate::DecodeError;

/// A decoder for one recording at its own sample rate.
pub(crate) trait Source: Send + std::fmt::Debug {
    /// The next block of samples, one slice per channel (full scale 1.0, all the same length
    /// and never empty); `None` at the end.
    fn next_block(&mut self) -> Result<Option<&[Vec<f32>]>, DecodeError>;

    /// What went wrong along the way without stopping the decoding.
    fn stats(&self) -> SourceStats;
}

/// What a reader learnt from the header.
#[derive(Debug, Clone)]
pub(crate) struct SourceInfo {
    pub(crate) container: &'static str,
    pub(crate) codec: String,
    pub(crate) sample_rate: u32,
    pub(crate) channels: u16,
    /// Frames the header announces, when it does.
    pub(crate) frames: Option<u64>,
}

/// Damage a reader worked around.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SourceStats {
    /// Bytes of audio the header announced and the input did not hold.
    pub(crate) missing_bytes: u64,
    /// Samples that were NaN or infinite and were read as silence.
    pub(crate) replaced_samples: u64,
    /// Packets or frames that could not be decoded and were skipped.
    pub(crate) corrupt_packets: u64,
}
