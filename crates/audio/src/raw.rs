//! Headerless recordings as Asterisk writes them: raw G.711, raw GSM 06.10 frames and signed
//! 16-bit PCM.

use std::io::Read;

use crate::input::read_full;
use crate::source::{Source, SourceInfo, SourceStats};
use crate::{DecodeError, Headerless, g711};

/// Samples decoded at a time.
const BLOCK_SAMPLES: usize = 4096;
/// GSM frames decoded at a time (a little over a second).
const BLOCK_GSM_FRAMES: usize = 26;

/// A reader of one headerless format.
#[derive(Debug)]
pub(crate) struct RawReader<R> {
    inner: R,
    format: Headerless,
    bytes: Vec<u8>,
    /// Bytes carried over from the last read that did not fill a whole unit.
    carry: usize,
    planes: Vec<Vec<f32>>,
    gsm: callscore_gsm::Decoder,
    frames_decoded: u64,
    stats: SourceStats,
    ended: bool,
}

impl<R: Read> RawReader<R> {
    pub(crate) fn new(inner: R, format: Headerless) -> (RawReader<R>, SourceInfo) {
        let info = SourceInfo {
            container: "headerless",
            codec: format.to_string(),
            sample_rate: format.sample_rate(),
            channels: 1,
            frames: None,
        };
        let reader = RawReader {
            inner,
            format,
            bytes: Vec::new(),
            carry: 0,
            planes: vec![Vec::new()],
            gsm: callscore_gsm::Decoder::new(),
            frames_decoded: 0,
            stats: SourceStats::default(),
            ended: false,
        };
        (reader, info)
    }

    /// Bytes per coding unit, and how many units a block holds.
    fn unit(&self) -> (usize, usize) {
        match self.format {
            Headerless::Ulaw | Headerless::Alaw => (1, BLOCK_SAMPLES),
            Headerless::Slin { .. } => (2, BLOCK_SAMPLES),
            Headerless::Gsm => (callscore_gsm::FRAME_BYTES, BLOCK_GSM_FRAMES),
        }
    }
}

impl<R: Read + Send + std::fmt::Debug> Source for RawReader<R> {
    fn next_block(&mut self) -> Result<Option<&[Vec<f32>]>, DecodeError> {
        if self.ended {
            return Ok(None);
        }
        let (unit, units) = self.unit();
        self.bytes.resize(unit * units, 0);
        let got = read_full(&mut self.inner, &mut self.bytes[self.carry..])?;
        let filled = self.carry + got;
        self.ended = filled < self.bytes.len();
        let whole = filled / unit * unit;
        if self.ended {
            self.stats.missing_bytes = (filled - whole) as u64;
        }
        let plane = &mut self.planes[0];
        plane.clear();
        let bytes = &self.bytes[..whole];
        match self.format {
            Headerless::Ulaw => {
                plane.extend(
                    bytes
                        .iter()
                        .map(|&b| f32::from(g711::ulaw_decode(b)) / 32768.0),
                );
            }
            Headerless::Alaw => {
                plane.extend(
                    bytes
                        .iter()
                        .map(|&b| f32::from(g711::alaw_decode(b)) / 32768.0),
                );
            }
            Headerless::Slin { .. } => plane.extend(
                bytes
                    .chunks_exact(2)
                    .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0),
            ),
            Headerless::Gsm => {
                for (index, frame) in bytes.chunks_exact(unit).enumerate() {
                    let frame = frame.try_into().expect("chunks_exact yields whole frames");
                    let samples = self.gsm.decode_frame(frame).map_err(|_| {
                        let at = self.frames_decoded + index as u64;
                        DecodeError::Corrupt(format!(
                            "GSM frame {at} (byte {}) lacks the 0xD signature of a GSM 06.10 \
                             frame",
                            at * unit as u64
                        ))
                    })?;
                    plane.extend(samples.iter().map(|&s| f32::from(s) / 32768.0));
                }
            }
        }
        self.bytes.copy_within(whole..filled, 0);
        self.carry = filled - whole;
        self.frames_decoded += (whole / unit) as u64;
        if plane.is_empty() {
            self.ended = true;
            return Ok(None);
        }
        Ok(Some(&self.planes))
    }

    fn stats(&self) -> SourceStats {
        self.stats
    }
}
