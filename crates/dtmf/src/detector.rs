//! The streaming detector: block assembly, screening and segment tracking.

use std::f64::consts::PI;
use std::sync::Arc;

use crate::complex::{Complex, wrap};
use crate::design;
use crate::kernel::{BINS, Kernel, Spectrum};
use crate::key::{COL_HZ, Key, ROW_HZ};
use crate::limits::{
    BLOCK_SECONDS, FULL_SCALE_SINE_DBM0, MAX_BRIDGE_SECONDS, MAX_MASKED_BRIDGE_SECONDS,
    SCREEN_BLOCKS, SCREEN_MAX_DEVIATION, SCREEN_MIN_COHERENCE, SCREEN_MIN_LEVEL_DBM0,
    SCREEN_MIN_SHARE_OF_LOUDEST, SCREEN_MIN_TONAL_SHARE,
};
use crate::limits::{Rejection, judge};
use crate::segment::Segment;
use crate::{Candidate, ConfigError, KeyEvent};

/// Blocks kept for looking back when a key is first screened (160 ms at 5 ms blocks).
const RING: usize = 32;

/// Blocks analysed together: one load of each basis row serves all of them. Blocks are
/// always analysed in the same groups, whatever the chunks they arrive in, so that results do
/// not depend on the chunking down to the last bit.
const GROUP: usize = 4;

/// How far back a newly screened segment may reach: the ring less the up to three blocks
/// ahead that a batch of four analysed before the current one.
const LOOKBACK_BLOCKS: usize = RING - GROUP;

/// How much stronger a new key's tones must be to take over a segment that is still present.
const DOMINANCE: f64 = 2.0;

/// Blocks before a key's leading edge kept for comparison with the key itself.
const CONTEXT_BLOCKS: u64 = 3;

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
    /// Keep every measured candidate, reported or not, for [`Detector::take_candidates`].
    pub record_candidates: bool,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            sample_rate: 8000,
            extended_keys: true,
            record_candidates: false,
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
    /// Blocks loud and tonal enough in both groups to be screened in detail.
    pub examined: u64,
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
    /// Shorter than a key press may be (including segments too short to measure).
    pub too_short: u64,
    /// A tone below the minimum level.
    pub level: u64,
    /// Levels too far apart (twist).
    pub twist: u64,
    /// A tone too far from its DTMF frequency.
    pub frequency: u64,
    /// Not one steady tone per group.
    pub purity: u64,
    /// The tones carried too little of the power.
    pub tone_share: u64,
    /// More like a voice or an instrument than a key press.
    pub talk_off: u64,
    /// An `A`-`D` key while those are disabled.
    pub disabled: u64,
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
            Rejection::TalkOff => &mut self.talk_off,
            Rejection::Disabled => &mut self.disabled,
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
            + self.talk_off
            + self.disabled
    }
}

/// Whether the angle of `z` is within the angle whose cosine is `cos` of zero, without a
/// square root: `re >= |z| cos`.
fn within(z: Complex, cos: f64) -> bool {
    let bound = z.norm_sqr() * cos * cos;
    if cos >= 0.0 {
        z.re >= 0.0 && z.re * z.re >= bound
    } else {
        z.re >= 0.0 || z.re * z.re <= bound
    }
}

/// Whether the tones of key `new` are much stronger in this block than those of key `old`,
/// in each group where the two keys differ.
fn dominates(spectrum: &Spectrum, new: Key, old: Key) -> bool {
    let (new_row, new_col) = new.position();
    let (old_row, old_col) = old.position();
    [(new_row, old_row), (4 + new_col, 4 + old_col)]
        .iter()
        .filter(|(n, o)| n != o)
        .all(|&(n, o)| spectrum.bins[n].abs() >= DOMINANCE * spectrum.bins[o].abs())
}

/// Block geometry, analysis filters and the constants derived from them, shared with the
/// segment analysis.
#[derive(Debug, Clone)]
pub(crate) struct Geometry {
    pub(crate) rate: f64,
    pub(crate) len: usize,
    pub(crate) freqs: [f64; BINS],
    design: Arc<design::Design>,
    /// Phase advance per block of a tone exactly at each bin's frequency, in `(-π, π]`.
    pub(crate) advance: [f64; BINS],
    /// `e^(-i advance)`: turns a lag-1 product of a tone at the bin's frequency to angle 0.
    derotate: [Complex; BINS],
    /// Cosine of the largest per-block phase offset screening accepts in each bin.
    screen_cos: [f64; BINS],
    /// Blocks of absence that end a key press.
    pub(crate) bridge_blocks: u32,
    /// Blocks of absence that end a key press when its bins stay loud throughout (masked).
    pub(crate) masked_bridge_blocks: u32,
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
        let design = design::design(&freqs, rate, len);
        // a tone at the screening floor, 30 % off its bin's peak response
        let amp = 10f64.powf((SCREEN_MIN_LEVEL_DBM0 - FULL_SCALE_SINE_DBM0) / 20.0);
        let screen_floor = (0.7 * amp * len as f64 / 2.0).powi(2);
        let bridge_blocks = (MAX_BRIDGE_SECONDS * rate / len as f64).ceil() as u32;
        let masked_bridge_blocks = (MAX_MASKED_BRIDGE_SECONDS * rate / len as f64).ceil() as u32;
        Geometry {
            rate,
            len,
            freqs,
            design,
            advance,
            derotate,
            screen_cos,
            bridge_blocks,
            masked_bridge_blocks,
            screen_floor,
        }
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
        self.design.response(k, freq_hz)
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

/// An accepted key press held back in case it continues.
#[derive(Debug, Clone)]
struct Pending {
    event: KeyEvent,
    /// Where the same key was last seen, accepted or not.
    reach: u64,
}

/// A key found by screening one window.
#[derive(Debug, Clone, Copy)]
struct Screened {
    key: Key,
    /// Block-to-block product of the two newest blocks in the bins of the key's two tones.
    advance: [Complex; 2],
}

/// A streaming DTMF detector. See the crate documentation.
#[derive(Debug)]
pub struct Detector {
    geometry: Geometry,
    kernel: Kernel,
    /// The last `RING` blocks of samples; the group being filled starts at `next_block % RING`.
    raw: Vec<f32>,
    /// Samples of the group being filled.
    fill: usize,
    spectra: Vec<Spectrum>,
    next_block: u64,
    /// Blocks before this one belong to a closed segment and may not be looked back into.
    floor_block: u64,
    segment: Option<Box<Segment>>,
    extended_keys: bool,
    record_candidates: bool,
    candidates: Vec<Candidate>,
    /// The last accepted key press, held until no continuation can follow.
    pending: Option<Pending>,
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
        let kernel = Kernel::new(&geometry.design.filters);
        Ok(Detector {
            raw: vec![0.0; RING * geometry.len],
            fill: 0,
            spectra: vec![Spectrum::default(); RING],
            next_block: 0,
            floor_block: 0,
            segment: None,
            extended_keys: config.extended_keys,
            record_candidates: config.record_candidates,
            candidates: Vec::new(),
            pending: None,
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

    /// Every candidate measured since the last call, reported or not, when the detector was
    /// configured with `record_candidates`.
    pub fn take_candidates(&mut self) -> Vec<Candidate> {
        std::mem::take(&mut self.candidates)
    }

    /// Analyses `samples` (full scale 1.0) and appends every key press that has ended.
    ///
    /// A key is reported once it is over and no continuation can follow: within about 200 ms
    /// of its end.
    pub fn push(&mut self, samples: &[f32], events: &mut Vec<KeyEvent>) {
        let len = self.geometry.len;
        let group = GROUP * len;
        let mut rest = samples;
        while !rest.is_empty() {
            // groups start at slots that are multiples of GROUP, which divides RING
            let slot = self.slot(self.next_block);
            let (base, spectra) = (slot * len, slot..slot + GROUP);
            if self.fill == 0 && rest.len() >= group {
                // a whole group in the caller's samples: the kernel reads it there and keeps
                // a copy in the ring as it goes
                let (blocks, tail) = rest.split_at(group);
                let ring = &mut self.raw[base..base + group];
                self.kernel
                    .run4(blocks, Some(ring), &mut self.spectra[spectra]);
                self.process_group(events);
                rest = tail;
                continue;
            }
            let take = (group - self.fill).min(rest.len());
            self.raw[base + self.fill..base + self.fill + take].copy_from_slice(&rest[..take]);
            self.fill += take;
            rest = &rest[take..];
            if self.fill == group {
                self.kernel.run4(
                    &self.raw[base..base + group],
                    None,
                    &mut self.spectra[spectra],
                );
                self.process_group(events);
                self.fill = 0;
            }
        }
        self.stats.samples += samples.len() as u64;
    }

    /// Processes the group of blocks just analysed, in order.
    fn process_group(&mut self, events: &mut Vec<KeyEvent>) {
        for _ in 0..GROUP {
            self.process_block(events);
        }
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
        // the blocks of an unfinished group one at a time, the last padded with silence
        let len = self.geometry.len;
        let base = self.slot(self.next_block) * len;
        self.raw[base + self.fill..base + self.fill.next_multiple_of(len)].fill(0.0);
        for block in 0..self.fill.div_ceil(len) {
            let at = base + block * len;
            self.kernel
                .run(&self.raw[at..at + len], None, &mut self.spectra[at / len]);
            self.process_block(events);
        }
        if let Some(segment) = self.segment.take() {
            self.close(&segment, events);
        }
        self.release(events, true);
        self.raw.fill(0.0);
        self.spectra.fill(Spectrum::default());
        self.fill = 0;
        self.next_block = 0;
        self.floor_block = 0;
    }

    fn slot(&self, block: u64) -> usize {
        (block % RING as u64) as usize
    }

    /// Everything after the kernel: the block's spectrum is in place in the ring.
    fn process_block(&mut self, events: &mut Vec<KeyEvent>) {
        let block = self.next_block;
        let slot = self.slot(block);
        self.next_block += 1;
        self.stats.blocks += 1;

        let mut candidate = None;
        if let Some(mut segment) = self.segment.take() {
            let samples = slot * self.geometry.len..(slot + 1) * self.geometry.len;
            let (present, open) = segment.observe(
                &self.geometry,
                block,
                &self.spectra[slot],
                &self.raw[samples],
            );
            // while a key is held, screening would only find it again: it is needed when the
            // key has stopped, or when another bin of a group is strong enough to take over
            let takeover = segment
                .bins()
                .iter()
                .zip(self.spectra[slot].peaks)
                .any(|(&k, peak)| {
                    peak >= DOMINANCE * DOMINANCE * self.spectra[slot].bins[k].norm_sqr()
                });
            if !present || !open || takeover {
                candidate = self.screen(block);
            }
            // another key takes over once this one's tones have stopped for longer than a
            // break within one key press lasts, or at once if its tones are much stronger
            // (this segment may only have been following their leakage); the blocks of the new
            // key's window go to the new key
            let replaced = candidate.filter(|c| {
                c.key != segment.key()
                    && ((!present && segment.absent_blocks() >= REPLACE_AFTER_BLOCKS)
                        || dominates(&self.spectra[slot], c.key, segment.key()))
            });
            if let Some(c) = replaced {
                let window_start = block + 1 - SCREEN_BLOCKS as u64;
                segment.truncate_from(window_start);
                self.close(&segment, events);
                self.floor_block = self.floor_block.max(window_start);
                self.open(block, c);
                self.release(events, false);
                return;
            }
            if open {
                self.segment = Some(segment);
            } else {
                self.close(&segment, events);
            }
        } else {
            candidate = self.screen(block);
        }
        if self.segment.is_none()
            && let Some(candidate) = candidate
        {
            self.open(block, candidate);
        }
        self.release(events, false);
    }

    /// Screens the window of blocks ending at `block` for a key.
    ///
    /// In each group, every bin whose phase advances steadily across the window, at a rate
    /// within screening distance of its own frequency, is a contender; the strongest wins.
    /// Testing each bin against its own frequency matters: a block is only 5 ms long, so a
    /// bin's phase cannot tell a tone 150 Hz away from one 50 Hz away on the other side.
    #[inline]
    fn screen(&mut self, block: u64) -> Option<Screened> {
        if block + 1 < SCREEN_BLOCKS as u64 {
            return None;
        }
        let newest = &self.spectra[self.slot(block)];
        let [row, col] = newest.peaks;
        if row < self.geometry.screen_floor || col < self.geometry.screen_floor {
            return None;
        }
        let tonal = row + col;
        // a pure tone's bin power is its block energy times half the block length: where the
        // two strongest bins hold little of the block, there is no key to screen for
        if tonal < SCREEN_MIN_TONAL_SHARE * newest.energy * self.geometry.len as f64 / 2.0 {
            return None;
        }
        self.examine(block)
    }

    /// The part of screening that looks at the whole window, for blocks loud and tonal enough.
    #[inline(never)]
    fn examine(&mut self, block: u64) -> Option<Screened> {
        self.stats.examined += 1;
        // each bin's power in each block of the window, newest first, and its sums over the
        // later and the earlier blocks of each adjacent pair
        let window: [&Spectrum; SCREEN_BLOCKS] =
            std::array::from_fn(|i| &self.spectra[self.slot(block - i as u64)]);
        let mut late = [0.0f64; BINS];
        let mut early = [0.0f64; BINS];
        for (i, spectrum) in window.iter().enumerate() {
            for (k, bin) in spectrum.bins.iter().enumerate() {
                let power = bin.norm_sqr();
                if i + 1 < SCREEN_BLOCKS {
                    late[k] += power;
                }
                if i > 0 {
                    early[k] += power;
                }
            }
        }
        let mut winners = [(0usize, Complex::default()); 2];
        for (group, winner) in winners.iter_mut().enumerate() {
            // powers first: the phase progression only of bins loud enough to matter
            let powers: [(f64, f64); 4] =
                std::array::from_fn(|j| (early[group * 4 + j], late[group * 4 + j]));
            let loudest = powers.iter().map(|p| p.1).fold(0.0, f64::max);
            let mut best: Option<(usize, Complex, f64)> = None;
            for (j, &(early, late)) in powers.iter().enumerate() {
                // a bin far below its group's loudest only sees leakage
                if late < SCREEN_MIN_SHARE_OF_LOUDEST * loudest || best.is_some_and(|b| late <= b.2)
                {
                    continue;
                }
                let k = group * 4 + j;
                let lag1 = window.windows(2).fold(Complex::default(), |acc, pair| {
                    acc + pair[0].bins[k] * pair[1].bins[k].conj()
                });
                // written so that an empty window (all products zero) fails too
                let steady = lag1.norm_sqr() > SCREEN_MIN_COHERENCE.powi(2) * early * late;
                if steady
                    && within(
                        lag1 * self.geometry.derotate[k],
                        self.geometry.screen_cos[k],
                    )
                {
                    best = Some((k, lag1, late));
                }
            }
            let (k, lag1, _) = best?;
            // the two newest blocks must both be filled: a window whose only product pairs a
            // full block with the one the tone began in is trivially coherent
            let (newest, previous) = (window[0].bins[k].norm_sqr(), window[1].bins[k].norm_sqr());
            if previous < 0.25 * newest || newest < 0.25 * previous {
                return None;
            }
            *winner = (k, lag1);
        }
        let key = Key::at(winners[0].0, winners[1].0 - 4);
        let (row, col) = key.position();
        // the two newest blocks are the ones a tone starting in the window fills completely;
        // a partly filled block's phase is shifted and would bias the estimate
        let advance = [row, 4 + col].map(|k| window[0].bins[k] * window[1].bins[k].conj());
        self.stats.screened += 1;
        Some(Screened { key, advance })
    }

    /// Opens a segment for a screened key, looking back for where its tones began.
    fn open(&mut self, block: u64, candidate: Screened) {
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
        // up to three blocks ahead may already sit in the ring (analysed in a batch of four):
        // their slots held the oldest blocks
        let oldest = self
            .floor_block
            .max((block + 1).saturating_sub(LOOKBACK_BLOCKS as u64));
        let mut first = window_start.max(oldest);
        while first > oldest && present(first - 1) {
            first -= 1;
        }
        // one block before the first present block to time the leading edge, and a few more
        // to compare the key with what came before it
        let from = first.saturating_sub(1 + CONTEXT_BLOCKS).max(oldest);
        let mut segment = Segment::new(&self.geometry, candidate.key, reference, candidate.advance);
        for b in from..=block {
            let slot = self.slot(b);
            let samples = &self.raw[slot * self.geometry.len..(slot + 1) * self.geometry.len];
            let present = present(b);
            segment.add(b, &self.spectra[slot], samples, present, present);
        }
        self.segment = Some(Box::new(segment));
    }

    /// Holds an accepted key press until no bridgeable continuation can follow, merging a
    /// same-key press that starts within a bridgeable break of it: one key press that
    /// interference split in two is still one key press. Rejected stretches of the same key
    /// carry the bridge too (`reach`): the tones were there, only poorly measured.
    fn accept(&mut self, event: KeyEvent, events: &mut Vec<KeyEvent>) {
        let bridge = (MAX_BRIDGE_SECONDS * self.geometry.rate) as u64;
        match self.pending.take() {
            Some(mut held) if held.event.key == event.key && event.start <= held.reach + bridge => {
                held.event.end = held.event.end.max(event.end);
                held.event.quality = held.event.quality.min(event.quality);
                held.reach = held.reach.max(event.end);
                self.pending = Some(held);
            }
            // a key that keeps one of the held key's tones and follows its end within a break
            // the detector bridges is not a new press, since a keypad pauses between digits:
            // one of the two is a louder voice's harmonic standing in for a tone. The cleaner
            // measured one stands. (Measured from the held key's end, not from its reach: a
            // rejected stretch after it may be the start of the next key.)
            Some(mut held)
                if shares_tone(held.event.key, event.key)
                    && event.start <= held.event.end + bridge =>
            {
                let end = held.event.end.max(event.end);
                if event.quality > held.event.quality {
                    held.event = KeyEvent {
                        start: held.event.start.min(event.start),
                        ..event
                    };
                }
                held.event.end = end;
                held.reach = held.reach.max(end);
                self.pending = Some(held);
            }
            Some(held) => {
                self.emit(held.event, events);
                self.pending = Some(Pending {
                    reach: event.end,
                    event,
                });
            }
            None => {
                self.pending = Some(Pending {
                    reach: event.end,
                    event,
                });
            }
        }
    }

    /// Lets a rejected stretch that shares a tone with the held key carry the bridge on: the
    /// same key poorly measured, or one of its tones with a voice's harmonic standing in for
    /// the other while the voice was louder.
    fn extend(&mut self, candidate: &Candidate) {
        let bridge = (MAX_BRIDGE_SECONDS * self.geometry.rate) as u64;
        if let Some(held) = self.pending.as_mut()
            && shares_tone(held.event.key, candidate.key)
            && candidate.start <= held.reach + bridge
        {
            held.reach = held.reach.max(candidate.end);
        }
    }

    /// Reports the held key press once no continuation can follow within a bridgeable break:
    /// no segment is open, and none opened later could start early enough (a segment looks
    /// back from where screening found it, up to the blocks the ring still holds).
    fn release(&mut self, events: &mut Vec<KeyEvent>, force: bool) {
        let bridge = (MAX_BRIDGE_SECONDS * self.geometry.rate) as u64;
        let earliest_block = self
            .floor_block
            .max((self.next_block + 1).saturating_sub(LOOKBACK_BLOCKS as u64));
        // a segment's leading edge lies in the block before its first present one
        let earliest_start = earliest_block.saturating_sub(1) * self.geometry.len as u64;
        if let Some(held) = self.pending.take() {
            if force || (self.segment.is_none() && earliest_start > held.reach + bridge) {
                self.emit(held.event, events);
            } else {
                self.pending = Some(held);
            }
        }
    }

    fn emit(&mut self, event: KeyEvent, events: &mut Vec<KeyEvent>) {
        self.stats.keys += 1;
        events.push(event);
    }

    fn close(&mut self, segment: &Segment, events: &mut Vec<KeyEvent>) {
        // the blocks after the last present one may start the next key
        self.floor_block = segment.last_present_block() + 1;
        self.stats.segments += 1;
        let mut candidate = match segment.measure(&self.geometry) {
            Ok(candidate) => candidate,
            Err(rejection) => {
                self.stats.rejected.count(rejection);
                return;
            }
        };
        candidate.rejection = judge(&candidate).or_else(|| {
            (candidate.key.is_extended() && !self.extended_keys).then_some(Rejection::Disabled)
        });
        match candidate.rejection {
            None => self.accept(candidate.event(), events),
            Some(rejection) => {
                self.stats.rejected.count(rejection);
                self.extend(&candidate);
            }
        }
        if self.record_candidates {
            self.candidates.push(candidate);
        }
    }
}

/// Whether two keys have a tone in common (a key shares both with itself).
fn shares_tone(a: Key, b: Key) -> bool {
    let (a, b) = (a.position(), b.position());
    a.0 == b.0 || a.1 == b.1
}
