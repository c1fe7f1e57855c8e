//! The streaming detector: block assembly, screening and segment tracking.

use std::f64::consts::PI;

use crate::complex::{Complex, wrap};
use crate::design;
use crate::kernel::{BINS, Kernel, Spectrum};
use crate::key::{COL_HZ, Key, ROW_HZ};
use crate::limits::{
    BLOCK_SECONDS, FULL_SCALE_SINE_DBM0, MAX_BRIDGE_SECONDS, SCREEN_BLOCKS, SCREEN_MAX_DEVIATION,
    SCREEN_MIN_COHERENCE, SCREEN_MIN_LEVEL_DBM0, SCREEN_MIN_SHARE_OF_LOUDEST,
};
use crate::segment::{Rejection, Segment};
use crate::{ConfigError, KeyEvent};

/// Blocks kept for looking back when a key is first screened (160 ms at 5 ms blocks).
const RING: usize = 32;

/// A different key may take over a segment once its tones have been absent this many blocks:
/// longer than the break of up to 10 ms that Q.24 bridges within one key.
const REPLACE_AFTER_BLOCKS: u32 = 3;

/// How a [`Detector`] is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectorConfig {
    /// Input sample rate in Hz. 8000 is native; other rates are analysed directly at their
    /// own rate (the block length follows the rate), at a proportional cost.
    pub sample_rate: u32,
    /// Report the fourth-column keys `A`-`D`. When false they are recognised (so that they
    /// are never mistaken for another key) but not reported.
    pub extended_keys: bool,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            sample_rate: 8000,
            extended_keys: true,
        }
    }
}

/// Counters of what a detector has seen, for the caller to report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DetectorStats {
    /// Samples pushed.
    pub samples: u64,
    /// Blocks analysed.
    pub blocks: u64,
    /// Blocks where screening found a key-like pair of tones.
    pub screened: u64,
    /// Candidate key presses measured as a whole.
    pub segments: u64,
    /// Key presses reported.
    pub keys: u64,
    /// Candidates rejected, by reason.
    pub rejected: Rejections,
}

/// Candidate key presses rejected, by the first check they failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rejections {
    /// Shorter than a key press may be.
    pub too_short: u64,
    /// A tone below the minimum level.
    pub level: u64,
    /// Levels too far apart (twist).
    pub twist: u64,
    /// A tone too far from its DTMF frequency.
    pub frequency: u64,
    /// Tones not steady enough.
    pub purity: u64,
    /// The tones carried too little of the power.
    pub tone_share: u64,
    /// Strong second harmonics (a voice or an instrument).
    pub harmonics: u64,
    /// An `A`-`D` key while those are disabled.
    pub extended_key: u64,
}

impl Rejections {
    fn count(&mut self, rejection: Rejection) {
        let counter = match rejection {
            Rejection::TooShort => &mut self.too_short,
            Rejection::Level => &mut self.level,
            Rejection::Twist => &mut self.twist,
            Rejection::Frequency => &mut self.frequency,
            Rejection::Purity => &mut self.purity,
            Rejection::ToneShare => &mut self.tone_share,
            Rejection::Harmonics => &mut self.harmonics,
        };
        *counter += 1;
    }

    /// Total of all rejections.
    pub fn total(&self) -> u64 {
        self.too_short
            + self.level
            + self.twist
            + self.frequency
            + self.purity
            + self.tone_share
            + self.harmonics
            + self.extended_key
    }
}

/// Block geometry, analysis filters and the constants derived from them, shared with the
/// segment analysis.
#[derive(Debug, Clone)]
pub(crate) struct Geometry {
    pub(crate) rate: f64,
    pub(crate) len: usize,
    pub(crate) freqs: [f64; BINS],
    filters: [Vec<Complex>; BINS],
    /// Phase advance per block of a tone exactly at each bin's frequency, in `(-π, π]`.
    pub(crate) advance: [f64; BINS],
    /// `e^(-i advance)`: turns a lag-1 product of a tone at the bin's frequency to angle 0.
    derotate: [Complex; BINS],
    /// Cosine of the largest per-block phase offset screening accepts in each bin.
    screen_cos: [f64; BINS],
    /// Blocks of absence that end a key press.
    pub(crate) bridge_blocks: u32,
    /// Minimum squared bin magnitude for screening.
    screen_floor: f64,
}

impl Geometry {
    fn new(sample_rate: u32) -> Geometry {
        let rate = f64::from(sample_rate);
        let len = (rate * BLOCK_SECONDS).round() as usize;
        let mut freqs = [0.0; BINS];
        freqs[..4].copy_from_slice(&ROW_HZ);
        freqs[4..].copy_from_slice(&COL_HZ);
        let block_phase = |hz: f64| std::f64::consts::TAU * hz / rate * len as f64;
        let advance = freqs.map(|f| wrap(block_phase(f)));
        let derotate = advance.map(|a| Complex::unit(-a));
        let screen_cos = freqs.map(|f| block_phase(SCREEN_MAX_DEVIATION * f).min(PI).cos());
        let filters = freqs.map(|f| design::filter(f, rate, len));
        // a tone at the screening floor, 30 % off its bin's peak response
        let amp = 10f64.powf((SCREEN_MIN_LEVEL_DBM0 - FULL_SCALE_SINE_DBM0) / 20.0);
        let screen_floor = (0.7 * amp * len as f64 / 2.0).powi(2);
        let bridge_blocks = (MAX_BRIDGE_SECONDS * rate / len as f64).ceil() as u32;
        Geometry {
            rate,
            len,
            freqs,
            filters,
            advance,
            derotate,
            screen_cos,
            bridge_blocks,
            screen_floor,
        }
    }

    /// Offset in Hz from bin `k`'s frequency of a tone whose block-to-block phase product
    /// in that bin is `lag1`.
    pub(crate) fn offset_hz(&self, k: usize, lag1: Complex) -> f64 {
        wrap(lag1.arg() - self.advance[k]) * self.rate / (std::f64::consts::TAU * self.len as f64)
    }

    /// Blocks per second: a bin's phase tells frequencies apart only modulo this.
    pub(crate) fn block_rate(&self) -> f64 {
        self.rate / self.len as f64
    }

    /// The alias of `freq` (a multiple of the block rate away) nearest to `target`.
    pub(crate) fn unalias(&self, freq: f64, target: f64) -> f64 {
        freq + ((target - freq) / self.block_rate()).round() * self.block_rate()
    }

    /// Response of bin `k` to a complex tone at `freq_hz` (negative for an image).
    pub(crate) fn response(&self, k: usize, freq_hz: f64) -> Complex {
        design::response(&self.filters[k], freq_hz, self.rate)
    }

    /// Response of a plain block DFT to a complex tone `delta_hz` away from its frequency:
    /// `sum_{n<len} e^(i w n)`.
    pub(crate) fn dft_response(&self, delta_hz: f64) -> Complex {
        let w = std::f64::consts::TAU * delta_hz / self.rate;
        let n = self.len as f64;
        let half = (w / 2.0).sin();
        let magnitude = if half.abs() < 1e-12 {
            n
        } else {
            (n * w / 2.0).sin() / half
        };
        Complex::unit(w * (n - 1.0) / 2.0).scale(magnitude)
    }
}

/// A key found by screening one window.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    key: Key,
    /// Estimated (row, column) frequencies in Hz.
    freqs: [f64; 2],
}

/// A streaming DTMF detector. See the crate documentation.
#[derive(Debug)]
pub struct Detector {
    geometry: Geometry,
    kernel: Kernel,
    /// The last `RING` blocks of samples; the block being filled is `next_block % RING`.
    raw: Vec<f32>,
    fill: usize,
    spectra: Vec<Spectrum>,
    next_block: u64,
    /// Blocks before this one belong to a closed segment and may not be looked back into.
    floor_block: u64,
    segment: Option<Segment>,
    extended_keys: bool,
    stats: DetectorStats,
}

impl Detector {
    /// Lowest supported sample rate in Hz.
    pub const MIN_SAMPLE_RATE: u32 = 8000;
    /// Highest supported sample rate in Hz.
    pub const MAX_SAMPLE_RATE: u32 = 192_000;

    /// A detector for one stream.
    pub fn new(config: &DetectorConfig) -> Result<Detector, ConfigError> {
        if !(Self::MIN_SAMPLE_RATE..=Self::MAX_SAMPLE_RATE).contains(&config.sample_rate) {
            return Err(ConfigError::SampleRate(config.sample_rate));
        }
        let geometry = Geometry::new(config.sample_rate);
        let kernel = Kernel::new(&geometry.filters);
        Ok(Detector {
            raw: vec![0.0; RING * geometry.len],
            fill: 0,
            spectra: vec![Spectrum::default(); RING],
            next_block: 0,
            floor_block: 0,
            segment: None,
            extended_keys: config.extended_keys,
            stats: DetectorStats::default(),
            geometry,
            kernel,
        })
    }

    /// The sample rate this detector runs at.
    pub fn sample_rate(&self) -> u32 {
        self.geometry.rate as u32
    }

    /// Counters since the detector was made.
    pub fn stats(&self) -> &DetectorStats {
        &self.stats
    }

    /// Analyses `samples` (full scale 1.0) and appends every key press that has ended.
    ///
    /// A key is reported once it is over: about 25 ms after its end, when no break of a
    /// bridgeable length can follow any more.
    pub fn push(&mut self, samples: &[f32], events: &mut Vec<KeyEvent>) {
        let len = self.geometry.len;
        let mut rest = samples;
        while !rest.is_empty() {
            let slot = self.slot(self.next_block) * len;
            let take = (len - self.fill).min(rest.len());
            self.raw[slot + self.fill..slot + self.fill + take].copy_from_slice(&rest[..take]);
            self.fill += take;
            rest = &rest[take..];
            if self.fill == len {
                self.process_block(events);
                self.fill = 0;
            }
        }
        self.stats.samples += samples.len() as u64;
    }

    /// Analyses 16-bit samples; see [`Detector::push`].
    pub fn push_i16(&mut self, samples: &[i16], events: &mut Vec<KeyEvent>) {
        let mut buf = [0.0f32; 256];
        for chunk in samples.chunks(buf.len()) {
            for (b, &s) in buf.iter_mut().zip(chunk) {
                *b = f32::from(s) / 32768.0;
            }
            self.push(&buf[..chunk.len()], events);
        }
    }

    /// Ends the stream: reports a key still in progress and resets the detector, so that it
    /// can analyse a new stream from sample 0. The statistics carry on.
    pub fn finish(&mut self, events: &mut Vec<KeyEvent>) {
        if self.fill > 0 {
            let len = self.geometry.len;
            let slot = self.slot(self.next_block) * len;
            self.raw[slot + self.fill..slot + len].fill(0.0);
            self.process_block(events);
        }
        if let Some(segment) = self.segment.take() {
            self.close(segment, events);
        }
        self.raw.fill(0.0);
        self.spectra.fill(Spectrum::default());
        self.fill = 0;
        self.next_block = 0;
        self.floor_block = 0;
    }

    fn slot(&self, block: u64) -> usize {
        (block % RING as u64) as usize
    }

    fn block_samples(&self, block: u64) -> &[f32] {
        let len = self.geometry.len;
        let slot = self.slot(block) * len;
        &self.raw[slot..slot + len]
    }

    fn process_block(&mut self, events: &mut Vec<KeyEvent>) {
        let block = self.next_block;
        let spectrum = self.kernel.run(self.block_samples(block));
        let slot = self.slot(block);
        self.spectra[slot] = spectrum;
        self.next_block += 1;
        self.stats.blocks += 1;

        let candidate = self.screen(block);
        if candidate.is_some() {
            self.stats.screened += 1;
        }
        if let Some(mut segment) = self.segment.take() {
            let slot = slot * self.geometry.len..(slot + 1) * self.geometry.len;
            let (present, open) =
                segment.observe(&self.geometry, block, &spectrum, &self.raw[slot]);
            // another key takes over only once this one's tones have stopped for longer than a
            // break within one key press lasts
            let replaced = !present
                && segment.absent_blocks() >= REPLACE_AFTER_BLOCKS
                && candidate.is_some_and(|c| c.key != segment.key());
            if open && !replaced {
                self.segment = Some(segment);
            } else {
                self.close(segment, events);
            }
        }
        if self.segment.is_none()
            && let Some(candidate) = candidate
        {
            self.open(block, candidate);
        }
    }

    /// Screens the window of blocks ending at `block` for a key.
    ///
    /// In each group, every bin whose phase advances steadily across the window, at a rate
    /// within screening distance of its own frequency, is a contender; the strongest wins.
    /// Testing each bin against its own frequency matters: a block is only 5 ms long, so a
    /// bin's phase cannot tell a tone 150 Hz away from one 50 Hz away on the other side.
    fn screen(&self, block: u64) -> Option<Candidate> {
        if block + 1 < SCREEN_BLOCKS as u64 {
            return None;
        }
        let newest = &self.spectra[self.slot(block)];
        for group in 0..2 {
            let strongest = (group * 4..group * 4 + 4)
                .map(|k| newest.bins[k].norm_sqr())
                .fold(0.0, f64::max);
            if strongest < self.geometry.screen_floor {
                return None;
            }
        }
        let mut winners = [(0usize, Complex::default()); 2];
        for (group, winner) in winners.iter_mut().enumerate() {
            let mut stats = [(Complex::default(), 0.0, 0.0); 4];
            for (j, (lag1, early, late)) in stats.iter_mut().enumerate() {
                let k = group * 4 + j;
                for i in 1..SCREEN_BLOCKS as u64 {
                    let x = self.spectra[self.slot(block - i + 1)].bins[k];
                    let prev = self.spectra[self.slot(block - i)].bins[k];
                    *lag1 = *lag1 + x * prev.conj();
                    *late += x.norm_sqr();
                    *early += prev.norm_sqr();
                }
            }
            let loudest = stats.iter().map(|s| s.2).fold(0.0, f64::max);
            let mut best: Option<(usize, Complex, f64)> = None;
            for (j, &(lag1, early, late)) in stats.iter().enumerate() {
                let k = group * 4 + j;
                // written so that an empty window (all products zero) fails too
                let steady = lag1.abs() > SCREEN_MIN_COHERENCE * (early * late).sqrt();
                let z = lag1 * self.geometry.derotate[k];
                let near = z.re >= z.abs() * self.geometry.screen_cos[k];
                // a bin far below its group's loudest only sees leakage
                let loud = late >= SCREEN_MIN_SHARE_OF_LOUDEST * loudest;
                if steady && near && loud && best.is_none_or(|b| late > b.2) {
                    best = Some((k, lag1, late));
                }
            }
            let (k, lag1, _) = best?;
            *winner = (k, lag1);
        }
        let freqs = winners.map(|(k, lag1)| self.geometry.freqs[k] + self.geometry.offset_hz(k, lag1));
        if std::env::var_os("DTMF_DEBUG").is_some() {
            eprintln!("screen {block}: {winners:?} freqs {freqs:?}");
        }
        Some(Candidate {
            key: Key::at(winners[0].0, winners[1].0 - 4),
            freqs,
        })
    }

    /// Opens a segment for a screened key, looking back for where its tones began.
    fn open(&mut self, block: u64, candidate: Candidate) {
        let (row, col) = candidate.key.position();
        let bins = [row, 4 + col];
        let window_start = block + 1 - SCREEN_BLOCKS as u64;
        // reference amplitude: screening passes as soon as a tone fills the newest blocks of
        // the window, so those are the full ones
        let reference = bins.map(|k| {
            (block - 1..=block)
                .map(|b| self.spectra[self.slot(b)].bins[k].abs())
                .fold(0.0, f64::max)
        });
        let present = |b: u64| {
            let s = &self.spectra[self.slot(b)];
            bins.iter()
                .zip(reference)
                .all(|(&k, r)| s.bins[k].abs() >= 0.5 * r)
        };
        let oldest = self
            .floor_block
            .max((block + 1).saturating_sub(RING as u64 - 1));
        let mut first = window_start.max(oldest);
        while first > oldest && present(first - 1) {
            first -= 1;
        }
        // one block before the first present block, to time the leading edge
        let from = if first > oldest { first - 1 } else { first };
        let mut segment = Segment::new(&self.geometry, candidate.key, candidate.freqs, reference);
        for b in from..=block {
            let slot = self.slot(b);
            let samples = &self.raw[slot * self.geometry.len..(slot + 1) * self.geometry.len];
            segment.add(b, &self.spectra[slot], samples, present(b));
        }
        self.segment = Some(segment);
    }

    fn close(&mut self, segment: Segment, events: &mut Vec<KeyEvent>) {
        // the blocks after the last present one may start the next key
        self.floor_block = segment.last_present_block() + 1;
        self.stats.segments += 1;
        match segment.finish(&self.geometry) {
            Ok(event) if event.key.is_extended() && !self.extended_keys => {
                self.stats.rejected.extended_key += 1;
            }
            Ok(event) => {
                self.stats.keys += 1;
                events.push(event);
            }
            Err(rejection) => self.stats.rejected.count(rejection),
        }
    }
}
