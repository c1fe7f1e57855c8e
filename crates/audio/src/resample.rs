//! Conversion to callscore's working rate, 8 kHz, with rubato's FFT resampler.
//!
//! The ratio between two integer rates is fixed, so a synchronous resampler fits: it filters in
//! the frequency domain with a windowed-sinc low-pass whose transition ends at the output's
//! Nyquist frequency, which keeps every tone of the telephone band where it was and pushes
//! aliases far below the detector's floor (see the tone-sweep tests). Its delay is removed, so
//! an event keeps its time, and the output has exactly as many frames as the input's duration
//! gives.

use rubato::{FftFixedIn, Resampler as _};

use crate::DecodeError;

/// Output frames per resampler call, at least. The FFT's length sets the low-pass filter's
/// length, so this is what keeps the passband flat to 3.4 kHz at every input rate.
const CHUNK_OUTPUT_FRAMES: usize = 512;

/// A resampler from one rate to another, for all channels of a stream.
pub(crate) struct Resampler {
    inner: FftFixedIn<f32>,
    from: u32,
    to: u32,
    /// Input frames per call.
    chunk: usize,
    /// Input waiting for a whole chunk.
    pending: Vec<Vec<f32>>,
    scratch: Vec<Vec<f32>>,
    /// Output frames still to drop at the start (the filter's delay).
    delay_left: usize,
    frames_in: u64,
    frames_out: u64,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("from", &self.from)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

impl Resampler {
    pub(crate) fn new(from: u32, to: u32, channels: usize) -> Result<Resampler, DecodeError> {
        let chunk = (CHUNK_OUTPUT_FRAMES * from as usize).div_ceil(to as usize);
        let inner = FftFixedIn::new(from as usize, to as usize, chunk, 1, channels)
            .map_err(|e| DecodeError::Unsupported(format!("resampling {from} Hz: {e}")))?;
        let scratch = vec![vec![0.0; inner.output_frames_max()]; channels];
        Ok(Resampler {
            delay_left: inner.output_delay(),
            inner,
            from,
            to,
            chunk,
            pending: vec![Vec::with_capacity(2 * chunk); channels],
            scratch,
            frames_in: 0,
            frames_out: 0,
        })
    }

    /// Resamples `block` and appends what is ready to `out` (one vector per channel).
    pub(crate) fn push(&mut self, block: &[Vec<f32>], out: &mut [Vec<f32>]) {
        for (pending, input) in self.pending.iter_mut().zip(block) {
            pending.extend_from_slice(input);
        }
        self.frames_in += block.first().map_or(0, |c| c.len() as u64);
        while self.pending[0].len() >= self.chunk {
            self.run_chunk(out);
            let chunk = self.chunk;
            for pending in &mut self.pending {
                pending.drain(..chunk);
            }
        }
    }

    /// Flushes the tail: the last partial chunk and the filter's delay, cut to the exact
    /// length the input's duration gives.
    pub(crate) fn finish(&mut self, out: &mut [Vec<f32>]) {
        let total = (self.frames_in * u64::from(self.to)).div_ceil(u64::from(self.from));
        while self.frames_out < total {
            for pending in &mut self.pending {
                pending.resize(self.chunk, 0.0);
            }
            self.run_chunk(out);
            for pending in &mut self.pending {
                pending.clear();
            }
        }
        let excess = (self.frames_out - total) as usize;
        for channel in out.iter_mut() {
            channel.truncate(channel.len().saturating_sub(excess));
        }
        self.frames_out = total;
    }

    fn run_chunk(&mut self, out: &mut [Vec<f32>]) {
        let (_, produced) = self
            .inner
            .process_into_buffer(&self.pending, &mut self.scratch, None)
            .expect("buffers are sized from the resampler's own figures");
        let skip = self.delay_left.min(produced);
        self.delay_left -= skip;
        for (channel, scratch) in out.iter_mut().zip(&self.scratch) {
            channel.extend_from_slice(&scratch[skip..produced]);
        }
        self.frames_out += (produced - skip) as u64;
    }
}
