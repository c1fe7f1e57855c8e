//! One candidate key press, from the block where screening found it to the pause after it,
//! and its measurement as a whole.

use crate::complex::{Complex, wrap};
use crate::detector::Geometry;
use crate::kernel::{BINS, Spectrum, weighted_sums8};
use crate::key::Key;
use crate::limits::{
    FULL_SCALE_SINE_DBM0, NEUTRAL_DEVIATION, max_deviation_hz, pitch_matters, q24_rejection,
};
use crate::pitch::{Pitch, harmonic_deviation, pitch_under_tones};
use crate::{Candidate, Features, Rejection, Shape};

/// Blocks kept from the start of a segment for its measurement (400 ms); a longer press is
/// measured on its first 400 ms and timed with its last blocks.
const HEAD_BLOCKS: usize = 80;
/// Blocks kept from the end of a segment beyond the pause that closes it, for timing its
/// trailing edge.
const TAIL_MARGIN_BLOCKS: usize = 3;
/// A block whose tone bins are this many times louder than the segment's reference is
/// dominated by another, louder sound: the key is masked there, not present.
const MAX_SWELL: f64 = 2.5;
/// Largest deviation, in radians per block, of a bin's phase advance from the segment's tone
/// while the key is held: about 32 Hz at 5 ms blocks, far more than noise or speech under a
/// key causes and less than a neighbouring DTMF tone (73 Hz or more away) does.
const MAX_PHASE_ERROR: f64 = 1.0;
/// Largest deviation, in radians per block, of a bin's phase advance from the segment's tone
/// for a block in which the tone grew louder to count as the key itself (about 11 Hz).
const MAX_GROWTH_PHASE_ERROR: f64 = 0.35;
/// Lag, in blocks, of the fine frequency estimate.
const FINE_LAG: usize = 4;
/// Blocks either side of a key compared with the key (see `Candidate::edge_db`).
const CONTEXT_BLOCKS: u64 = 3;
/// Share of the level's variance a straight line must explain for a decay to count.
const DECAY_MIN_FIT: f64 = 0.6;
/// Relative amplitudes between which a block counts as part of a ramp.
const RAMP_LOW: f64 = 0.3;
const RAMP_HIGH: f64 = 0.7;
/// Interior blocks the neighbour probes look at (the first 200 ms of a key press): enough to
/// find its clearest stretch, and a long press costs no more.
const PROBED_BLOCKS: usize = 40;
/// Length in blocks of the stretch a key pressed over other sound is also judged on (20 ms).
const CLEAN_BLOCKS: usize = 4;
/// Power, relative to an alias that explains a group's bins better, that a tone must keep in
/// a fit of both for the two to count as two sounds (see `Segment::coexists`).
const COEXIST: f64 = 0.25;
/// Blocks the pitch under the tones is measured over (100 ms): a voice's pitch changes little
/// in that time.
const PITCH_BLOCKS: usize = 20;
/// A sample this close to full scale means the signal was clipped.
const CLIP_LEVEL: f32 = 0.98;

/// Spectral probes around each tone, below and above it. They sit one block rate (200 Hz at
/// 8 kHz) from the tone, where a block DFT has its first null, so they see what surrounds the
/// tone (a voice's neighbouring harmonics) and not the tone itself.
const PROBES: usize = 4;

/// Probe frequencies for tones at `freqs`: below and above the row tone, then the column's.
fn probe_frequencies(freqs: [f64; 2], block_rate: f64) -> [f64; PROBES] {
    [
        freqs[0] - block_rate,
        freqs[0] + block_rate,
        freqs[1] - block_rate,
        freqs[1] + block_rate,
    ]
}

/// What a segment keeps of each block.
#[derive(Debug, Clone, Copy)]
struct Stored {
    index: u64,
    bins: [Complex; BINS],
    energy: f64,
    peak: f32,
    present: bool,
    /// Both tone bins were loud enough to be the key's, steady or not: the next block's phase
    /// is compared with this one's.
    loud: bool,
}

#[derive(Debug)]
pub(crate) struct Segment {
    key: Key,
    /// Bin of the row tone and of the column tone.
    bins: [usize; 2],
    /// Expected per-block magnitude of each tone's bin, for the presence test.
    reference: [f64; 2],
    /// Sum of block-to-block products of each tone's bin over the blocks judged present: its
    /// angle is the tone's phase advance per block.
    advance: [Complex; 2],
    /// The samples of each stored block, `len` per block in the order of `blocks`: the
    /// probes are computed from them, and only for candidates that need them.
    raw: Vec<f32>,
    len: usize,
    /// Blocks kept from the end: enough to hold the closing pause and the last present block.
    tail_blocks: usize,
    blocks: Vec<Stored>,
    /// Absent blocks since the last present one.
    gap: u32,
    /// Of those, the blocks in which a tone's bin was quiet: a pause rather than a key
    /// masked by other sound.
    quiet: u32,
}

impl Segment {
    /// A segment for `key`, with the reference magnitude of each tone's bin and a first
    /// block-to-block product of each (`advance`).
    pub(crate) fn new(
        geometry: &Geometry,
        key: Key,
        reference: [f64; 2],
        advance: [Complex; 2],
    ) -> Segment {
        let (row, col) = key.position();
        let tail_blocks = geometry.masked_bridge_blocks as usize + TAIL_MARGIN_BLOCKS;
        // room for all it keeps (and the block about to be dropped) from the start, so that
        // following a key never reallocates
        let most = HEAD_BLOCKS + tail_blocks + 1;
        Segment {
            key,
            bins: [row, 4 + col],
            reference,
            advance,
            raw: Vec::with_capacity(most * geometry.len),
            len: geometry.len,
            tail_blocks,
            blocks: Vec::with_capacity(most),
            gap: 0,
            quiet: 0,
        }
    }

    pub(crate) fn key(&self) -> Key {
        self.key
    }

    /// The bins of the row tone and of the column tone.
    pub(crate) fn bins(&self) -> [usize; 2] {
        self.bins
    }

    /// Index of the last block in which the tones were present.
    pub(crate) fn last_present_block(&self) -> u64 {
        self.blocks
            .iter()
            .rev()
            .find(|b| b.present)
            .map_or(0, |b| b.index)
    }

    /// Forgets the blocks from `index` on: they belong to another key.
    pub(crate) fn truncate_from(&mut self, index: u64) {
        let keep = self.blocks.iter().take_while(|b| b.index < index).count();
        self.blocks.truncate(keep);
        self.raw.truncate(keep * self.len);
    }

    /// Blocks since the tones were last present.
    pub(crate) fn absent_blocks(&self) -> u32 {
        self.gap
    }

    /// Adds a block with a presence decision already made (`present` implies `loud`).
    pub(crate) fn add(
        &mut self,
        index: u64,
        spectrum: &Spectrum,
        samples: &[f32],
        present: bool,
        loud: bool,
    ) {
        let peak = samples.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        self.blocks.push(Stored {
            index,
            bins: spectrum.bins,
            energy: spectrum.energy,
            peak,
            present,
            loud,
        });
        self.raw.extend_from_slice(samples);
        if self.blocks.len() > HEAD_BLOCKS + self.tail_blocks {
            self.blocks.remove(HEAD_BLOCKS);
            self.raw
                .drain(HEAD_BLOCKS * self.len..(HEAD_BLOCKS + 1) * self.len);
        }
        if present {
            self.gap = 0;
            self.quiet = 0;
        } else {
            self.gap += 1;
            self.quiet += u32::from(!loud);
        }
    }

    /// Follows the key into the next block. Returns whether its tones are present in the
    /// block, and whether the segment stays open (false once the pause after the key is long
    /// enough to close it).
    pub(crate) fn observe(
        &mut self,
        geometry: &Geometry,
        index: u64,
        spectrum: &Spectrum,
        samples: &[f32],
    ) -> (bool, bool) {
        let magnitudes = self.bins.map(|k| spectrum.bins[k].abs());
        // the phase is compared with the previous block's whenever that was loud, present or
        // not: a bin that only sees another tone's leakage is loud in every block and steady
        // in none, and must not pass every other block for lack of a comparison
        let products = match self.blocks.last() {
            Some(prev) if prev.loud && prev.index + 1 == index => {
                Some(self.bins.map(|k| spectrum.bins[k] * prev.bins[k].conj()))
            }
            _ => None,
        };
        // each bin's phase advances at this segment's frequencies, not at those of another
        // tone that leaks into it
        let on_track = |p: &[Complex; 2], limit: f64| {
            (0..2).all(|g| {
                let z = p[g] * self.advance[g].conj();
                z.re >= z.abs() * limit.cos()
            })
        };
        let steady = products.is_none_or(|p| on_track(&p, MAX_PHASE_ERROR));
        // something much louder over the key: it masks the key rather than ending it, and a
        // different key much louder than this one takes over (see the detector)
        let swelled = magnitudes
            .iter()
            .zip(self.reference)
            .any(|(&m, r)| m > MAX_SWELL * r);
        let loud = magnitudes
            .iter()
            .zip(self.reference)
            .all(|(&m, r)| m >= 0.5 * r);
        // a tone that grows louder while its phase keeps advancing at the key's rate, block
        // after block, is the key itself getting louder (a codec settling after the onset,
        // gain control), not another sound over it
        let grown = products.is_some_and(|p| on_track(&p, MAX_GROWTH_PHASE_ERROR));
        let present = loud && steady && (!swelled || grown);
        if present && let Some(p) = products {
            for (a, p) in self.advance.iter_mut().zip(p) {
                *a = *a + p;
            }
        }
        if present {
            // follow slow level changes, ignoring bursts of other sound
            for (r, m) in self.reference.iter_mut().zip(magnitudes) {
                if (0.7 * *r..=1.4 * *r).contains(&m) {
                    *r = 0.9 * *r + 0.1 * m;
                }
            }
        }
        self.add(index, spectrum, samples, present, loud);
        // a pause ends the key press; a stretch masked by louder sound, only a long one
        let open = self.quiet < geometry.bridge_blocks && self.gap < geometry.masked_bridge_blocks;
        (present, open)
    }

    /// Measures the whole segment, or says why it cannot be a key press without measuring
    /// further: too short (fewer than three present blocks), or a group with no tone near a
    /// DTMF frequency.
    ///
    /// The steps: which blocks hold the key (`Presence`); its two tones' frequencies and
    /// amplitudes (`Tones`); the candidate's times, levels and frequencies, which the Q.24
    /// limits judge; and, only for a candidate that meets them, the `Shape` that tells a key
    /// from a voice or an instrument.
    pub(crate) fn measure(&self, geometry: &Geometry) -> Result<Candidate, Rejection> {
        let presence = self.presence().ok_or(Rejection::TooShort)?;
        let tones = self.tones(geometry, &presence)?;
        let mut candidate = self.candidate(geometry, &presence, &tones);
        // what tells a key from a voice or an instrument costs more to measure: only for
        // candidates that meet Q.24
        if q24_rejection(&candidate).is_some() {
            return Ok(candidate);
        }
        candidate.shape = Some(self.shape(geometry, &presence, &tones));
        // the pitch of what sounds under the tones, and how far off its harmonics the tones
        // are (a voice's own harmonics sit on its comb): only where it could change the
        // verdict. Measured on the blocks the tones fill, or, where those give no pitch (a
        // short candidate's are too few), on the edge blocks too.
        if pitch_matters(&candidate)
            && let Some(pitch) = self
                .pitch_under(geometry, presence.interior(), tones.freqs)
                .or_else(|| self.pitch_under(geometry, &presence.present, tones.freqs))
            && let Some(shape) = &mut candidate.shape
        {
            shape.pitch_hz = pitch.hz as f32;
            shape.aperiodicity = pitch.aperiodicity as f32;
            shape.harmonic_deviation =
                harmonic_deviation(tones.freqs, &pitch).map_or(NEUTRAL_DEVIATION, |off| off as f32);
        }
        Ok(candidate)
    }

    /// Which stored blocks hold the tones; `None` for fewer than three.
    fn presence(&self) -> Option<Presence> {
        let blocks = &self.blocks;
        let present: Vec<usize> = (0..blocks.len()).filter(|&i| blocks[i].present).collect();
        if present.len() < 3 {
            return None;
        }
        let mut run = vec![0usize; blocks.len()];
        for i in 0..blocks.len() {
            if blocks[i].present {
                let continues = i > 0 && blocks[i].index == blocks[i - 1].index + 1;
                run[i] = if continues { run[i - 1] + 1 } else { 1 };
            }
        }
        Some(Presence { present, run })
    }

    /// The key's two tones: their frequencies, their amplitudes block by block and their
    /// steady amplitudes.
    fn tones(&self, geometry: &Geometry, presence: &Presence) -> Result<Tones, Rejection> {
        let (bins, freqs) = self.frequencies(geometry, presence)?;
        let amps = self.amplitudes(geometry, bins, freqs)?;
        // the steady amplitude: the median over the interior blocks
        let mut magnitudes = Vec::with_capacity(presence.interior().len());
        let reference = [0, 1].map(|g| {
            magnitudes.clear();
            magnitudes.extend(presence.interior().iter().map(|&i| amps[i][g].abs()));
            median(&mut magnitudes)
        });
        if reference.iter().any(|&r| r <= 0.0) {
            return Err(Rejection::Level);
        }
        Ok(Tones {
            key: Key::at(bins[0], bins[1] - 4),
            freqs,
            amps,
            reference,
        })
    }

    /// Each tone's frequency, from its phase progression, and the bin nearest it. Every bin
    /// of a group whose own phase progression puts a tone within the acceptance window of its
    /// frequency is a contender, and the one with the steadiest power wins: a key's tone
    /// holds still, a voice's harmonic near another DTMF frequency wanders. A group without a
    /// contender has no tone Q.24 would accept.
    fn frequencies(
        &self,
        geometry: &Geometry,
        presence: &Presence,
    ) -> Result<([usize; 2], [f64; 2]), Rejection> {
        let estimates = self.phase_frequencies(geometry, &presence.run);
        let mut bins = self.bins;
        let mut freqs = [0.0; 2];
        for g in 0..2 {
            let (screened, aliased, _) = (g * 4..g * 4 + 4)
                .filter_map(|k| {
                    let (f, steady) = estimates[k]?;
                    let nominal = geometry.freqs[k];
                    ((f - nominal).abs() <= max_deviation_hz(nominal)).then_some((k, f, steady))
                })
                .max_by(|a, b| a.2.total_cmp(&b.2))
                .ok_or(Rejection::Frequency)?;
            let freq = self.resolve_alias(geometry, g, aliased, presence.interior());
            let nearest = (g * 4..g * 4 + 4)
                .min_by(|&a, &b| {
                    (geometry.freqs[a] - freq)
                        .abs()
                        .total_cmp(&(geometry.freqs[b] - freq).abs())
                })
                .expect("a group has four bins");
            bins[g] = nearest;
            // the bin nearest the tone gives the most precise estimate
            freqs[g] = match estimates[nearest] {
                Some((f, _)) if nearest != screened => geometry.unalias(f, freq),
                _ => freq,
            };
        }
        Ok((bins, freqs))
    }

    /// Each stored block's complex amplitude of each tone (at `freqs`, seen in `bins`), with
    /// the other tone's leakage removed; a rejection where the two tones' responses cannot be
    /// told apart.
    fn amplitudes(
        &self,
        geometry: &Geometry,
        bins: [usize; 2],
        freqs: [f64; 2],
    ) -> Result<Vec<[Complex; 2]>, Rejection> {
        let m = bins.map(|k| freqs.map(|f| geometry.response(k, f)));
        let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
        if det.abs() < 1e-6 * m[0][0].abs() * m[1][1].abs() {
            return Err(Rejection::Frequency);
        }
        // the inverse of the 2x2 response matrix, once
        let inverse = [
            [m[1][1], Complex::default() - m[0][1]],
            [Complex::default() - m[1][0], m[0][0]],
        ]
        .map(|row| row.map(|x| x / det));
        Ok(self
            .blocks
            .iter()
            .map(|b| {
                let (xr, xc) = (b.bins[bins[0]], b.bins[bins[1]]);
                [
                    inverse[0][0] * xr + inverse[0][1] * xc,
                    inverse[1][0] * xr + inverse[1][1] * xc,
                ]
            })
            .collect())
    }

    /// The candidate as Q.24 judges it: its times, to a fraction of a block from how much of
    /// the edge blocks the tones fill, its frequencies, levels and whether it was clipped.
    fn candidate(&self, geometry: &Geometry, presence: &Presence, tones: &Tones) -> Candidate {
        let blocks = &self.blocks;
        let (first, last) = (presence.first(), presence.last());
        let coverage = |i: usize| tones.coverage(i);
        let adjacent =
            |i: usize, j: usize| j < blocks.len() && blocks[j].index.abs_diff(blocks[i].index) == 1;
        let len = geometry.len as f64;
        let before = if first > 0 && adjacent(first, first - 1) {
            coverage(first - 1)
        } else {
            0.0
        };
        let after = if adjacent(last, last + 1) {
            coverage(last + 1)
        } else {
            0.0
        };
        let start = (blocks[first].index + 1) as f64 * len - (coverage(first) + before) * len;
        let end = blocks[last].index as f64 * len + (coverage(last) + after) * len;
        let levels = tones
            .reference
            .map(|r| 20.0 * (2.0 * r).log10() + FULL_SCALE_SINE_DBM0);
        Candidate {
            key: tones.key,
            start: start.max(0.0).round() as u64,
            end: end.max(0.0).round() as u64,
            sample_rate: geometry.rate as u32,
            low_hz: tones.freqs[0] as f32,
            high_hz: tones.freqs[1] as f32,
            low_dbm0: levels[0] as f32,
            high_dbm0: levels[1] as f32,
            clipped: presence
                .interior()
                .iter()
                .any(|&i| blocks[i].peak >= CLIP_LEVEL),
            shape: None,
            rejection: None,
        }
    }

    /// What tells a key from a voice or an instrument, the pitch under the tones left
    /// neutral: the features of the whole press and of its clearest stretch, and how the
    /// tones drift, start, stop and fade.
    fn shape(&self, geometry: &Geometry, presence: &Presence, tones: &Tones) -> Shape {
        let per_block = self.block_measures(geometry, presence, tones);
        let steer = [0, 1].map(|g| steering(geometry, g, tones.freqs[g]));
        let probed = &per_block[..per_block.len().min(PROBED_BLOCKS)];
        let whole = self.features(probed, &steer, geometry.len);
        // the stretch least disturbed by other sound: a key pressed over a prompt is judged
        // on its clearest 20 ms
        let cleanest = probed
            .windows(CLEAN_BLOCKS)
            .filter(|w| w[CLEAN_BLOCKS - 1].index == w[0].index + CLEAN_BLOCKS as u64 - 1)
            .map(|w| (neighbour_ratio(w), w))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, w)| w)
            .map_or_else(|| whole, |w| self.features(w, &steer, geometry.len));
        let (drift_db, chirp_hz) = drift(geometry, &per_block, whole.fit);
        Shape {
            whole,
            cleanest,
            drift_db: drift_db as f32,
            edge_db: self.edge_db(presence, tones) as f32,
            ramp_blocks: self.ramp_blocks(presence, tones) as u32,
            decay_db: decay_db(&per_block).max(0.0) as f32,
            chirp_hz: chirp_hz as f32,
            pitch_hz: 0.0,
            aperiodicity: 1.0,
            harmonic_deviation: NEUTRAL_DEVIATION,
        }
    }

    /// Per interior block: each tone's energy, and what each probe holds once the tones' own
    /// leakage into it is removed. The probes sit around the measured tones.
    fn block_measures(
        &self,
        geometry: &Geometry,
        presence: &Presence,
        tones: &Tones,
    ) -> Vec<BlockMeasure> {
        let freqs = tones.freqs;
        let len = geometry.len as f64;
        let probe_hz = probe_frequencies(freqs, geometry.block_rate());
        // e^(-i w n) of each probe for every sample of a block, made once per candidate, laid
        // out (re, im) per probe in f32 so that each sample is one vector multiply-add
        let steps = probe_hz.map(|f| Complex::unit(-std::f64::consts::TAU * f / geometry.rate));
        let mut phasors = [Complex::new(1.0, 0.0); PROBES];
        let twiddles: Vec<[f32; 2 * PROBES]> = (0..self.len)
            .map(|_| {
                let mut row = [0.0f32; 2 * PROBES];
                for (p, (phasor, step)) in phasors.iter_mut().zip(steps).enumerate() {
                    row[2 * p] = phasor.re as f32;
                    row[2 * p + 1] = phasor.im as f32;
                    *phasor = *phasor * step;
                }
                row
            })
            .collect();
        let probes_of = |i: usize| {
            let sums = weighted_sums8(&self.raw[i * self.len..(i + 1) * self.len], &twiddles);
            std::array::from_fn::<Complex, PROBES, _>(|p| {
                Complex::new(f64::from(sums[2 * p]), f64::from(sums[2 * p + 1]))
            })
        };
        // each probe's response to each tone's positive and negative frequency does not
        // change from block to block
        let leaks: Vec<[Complex; 4]> = probe_hz
            .iter()
            .map(|&probe| {
                [
                    geometry.dft_response(freqs[0] - probe),
                    geometry.dft_response(-freqs[0] - probe),
                    geometry.dft_response(freqs[1] - probe),
                    geometry.dft_response(-freqs[1] - probe),
                ]
            })
            .collect();
        presence
            .interior()
            .iter()
            .enumerate()
            .map(|(n, &i)| {
                let a = tones.amps[i];
                let mut residual = [0.0; PROBES];
                // the probes look at the first stretch of a long key press only
                let probed = if n < PROBED_BLOCKS { PROBES } else { 0 };
                let probes = if probed > 0 {
                    probes_of(i)
                } else {
                    [Complex::default(); PROBES]
                };
                for p in 0..probed {
                    // the tones are real: each leaks through its positive and its negative
                    // frequency, and `a` is the amplitude of the positive one
                    let l = leaks[p];
                    let clean = probes[p]
                        - a[0] * l[0]
                        - a[0].conj() * l[1]
                        - a[1] * l[2]
                        - a[1].conj() * l[3];
                    residual[p] = clean.norm_sqr();
                }
                BlockMeasure {
                    index: self.blocks[i].index,
                    amps: a,
                    tone: a.map(|a| a.norm_sqr() * len * len),
                    energy: self.blocks[i].energy,
                    residual,
                    position: i,
                }
            })
            .collect()
    }

    /// How much louder, in dB, either tone's bin is in the blocks just around the key than
    /// in the key: a key's tones start and stop abruptly, a voice's harmonic was already
    /// there before (at about the same frequency) and lingers after.
    fn edge_db(&self, presence: &Presence, tones: &Tones) -> f64 {
        let blocks = &self.blocks;
        let (first, last) = (presence.first(), presence.last());
        let outside: Vec<usize> = (0..blocks.len())
            .filter(|&i| {
                (i + 1 < first && blocks[first].index - blocks[i].index <= 1 + CONTEXT_BLOCKS)
                    || (i > last + 1 && blocks[i].index - blocks[last].index <= 1 + CONTEXT_BLOCKS)
            })
            .collect();
        let mut edge_db = -60.0f64;
        if !outside.is_empty() {
            for g in 0..2 {
                let around = outside
                    .iter()
                    .map(|&i| tones.amps[i][g].norm_sqr())
                    .sum::<f64>()
                    / outside.len() as f64;
                let ratio = around / (tones.reference[g] * tones.reference[g]);
                edge_db = edge_db.max(10.0 * ratio.max(1e-6).log10());
            }
        }
        edge_db
    }

    /// The blocks around either edge in which a tone is only partly there, for the tone and
    /// edge with the most: a key's tones step within one block; a voice's harmonic swells and
    /// fades over several.
    fn ramp_blocks(&self, presence: &Presence, tones: &Tones) -> usize {
        let blocks = &self.blocks;
        let (first, last) = (presence.first(), presence.last());
        let partial = |i: usize, g: usize| {
            let c = tones.amps[i][g].abs() / tones.reference[g];
            (RAMP_LOW..RAMP_HIGH).contains(&c)
        };
        let mut ramp = 0usize;
        for g in 0..2 {
            let near = |edge: usize| {
                (0..blocks.len())
                    .filter(|&i| blocks[i].index.abs_diff(blocks[edge].index) <= 1 + CONTEXT_BLOCKS)
                    .filter(|&i| (i <= edge) == (edge == first) || i == edge)
                    .filter(|&i| partial(i, g))
                    .count()
            };
            ramp = ramp.max(near(first)).max(near(last));
        }
        ramp
    }

    /// The pitch of the sound under the tones at `freqs`, over the first contiguous
    /// `PITCH_BLOCKS` of the stored blocks at `positions`, the tones taken out.
    fn pitch_under(
        &self,
        geometry: &Geometry,
        positions: &[usize],
        freqs: [f64; 2],
    ) -> Option<Pitch> {
        let &start = positions.first()?;
        let last = *positions.last()?;
        let end = (start..=last.min(start + PITCH_BLOCKS - 1))
            .take_while(|&i| self.blocks[i].index == self.blocks[start].index + (i - start) as u64)
            .last()?;
        let mut samples = self.raw[start * self.len..(end + 1) * self.len].to_vec();
        pitch_under_tones(&mut samples, freqs, geometry.rate)
    }

    /// The features of a stretch of interior blocks, for tones whose responses across their
    /// groups' bins are `steering`.
    fn features(
        &self,
        part: &[BlockMeasure],
        steering: &[[Complex; 4]; 2],
        len: usize,
    ) -> Features {
        let mut fit = 1.0f64;
        let mut purity = 1.0f64;
        let (mut tones, mut total) = (0.0, 0.0);
        for b in part {
            tones += 2.0 / len as f64 * (b.tone[0] + b.tone[1]);
            total += b.energy;
        }
        for (g, steer) in steering.iter().enumerate() {
            let bins = part.iter().map(|b| &self.blocks[b.position].bins);
            fit = fit.min(group_fit(g, steer, bins));
            let pairs: Vec<Complex> = part
                .windows(2)
                .filter(|w| w[1].index == w[0].index + 1)
                .map(|w| w[1].amps[g] * w[0].amps[g].conj())
                .collect();
            purity = purity.min(steadiness(&pairs));
        }
        Features {
            fit: fit as f32,
            purity: purity as f32,
            tone_share: if total > 0.0 {
                (tones / total).min(1.0) as f32
            } else {
                0.0
            },
            neighbours_db: (10.0 * neighbour_ratio(part).max(1e-12).log10()) as f32,
        }
    }

    /// The frequency of the tone seen in each bin, from the phase advance between adjacent
    /// present blocks, refined over a longer lag, and how much steady power backs it (the
    /// magnitude of the summed block-to-block products). Only known up to multiples of the
    /// block rate: each frequency is the alias nearest its bin's. All bins in one pass over the
    /// blocks; `None` for a bin without two adjacent present blocks.
    fn phase_frequencies(&self, geometry: &Geometry, run: &[usize]) -> [Option<(f64, f64)>; BINS] {
        let blocks = &self.blocks;
        let mut lag1 = [Complex::default(); BINS];
        let mut long = [Complex::default(); BINS];
        for i in 1..blocks.len() {
            if run[i] > 1 {
                for (sum, (x, y)) in lag1
                    .iter_mut()
                    .zip(blocks[i].bins.iter().zip(&blocks[i - 1].bins))
                {
                    *sum = *sum + *x * y.conj();
                }
            }
            if run[i] > FINE_LAG {
                let back = &blocks[i - FINE_LAG].bins;
                for (sum, (x, y)) in long.iter_mut().zip(blocks[i].bins.iter().zip(back)) {
                    *sum = *sum + *x * y.conj();
                }
            }
        }
        std::array::from_fn(|k| {
            if lag1[k].norm_sqr() == 0.0 {
                return None;
            }
            let mut offset = wrap(lag1[k].arg() - geometry.advance[k]);
            if long[k].norm_sqr() > 0.0 {
                let n = FINE_LAG as f64;
                offset += wrap(long[k].arg() - n * (geometry.advance[k] + offset)) / n;
            }
            Some((
                geometry.freqs[k] + offset * geometry.block_rate() / std::f64::consts::TAU,
                lag1[k].abs(),
            ))
        })
    }

    /// Picks, among `aliased` and its neighbours one block rate away, the frequency whose
    /// response pattern across the group's four bins best matches what the bins saw.
    fn resolve_alias(
        &self,
        geometry: &Geometry,
        group: usize,
        aliased: f64,
        interior: &[usize],
    ) -> f64 {
        // the three candidates in one pass over the blocks
        let freqs = [-1.0, 0.0, 1.0].map(|m| aliased + m * geometry.block_rate());
        let steering = freqs.map(|f| steering(geometry, group, f));
        let inverse_norms = steering.map(|s| 1.0 / s.iter().map(|g| g.norm_sqr()).sum::<f64>());
        // each candidate's share of the bins' energy, less the common denominator
        let mut matched = [0.0f64; 3];
        for &i in interior {
            let x = &self.blocks[i].bins[group * 4..group * 4 + 4];
            for ((sum, steer), inverse) in matched.iter_mut().zip(&steering).zip(inverse_norms) {
                let dot = x
                    .iter()
                    .zip(steer)
                    .fold(Complex::default(), |acc, (&x, g)| acc + x * g.conj());
                *sum += dot.norm_sqr() * inverse;
            }
        }
        let best = (0..3)
            .max_by(|&a, &b| matched[a].total_cmp(&matched[b]))
            .expect("three candidates");
        // an alias that explains the bins better may still be a second sound beside the
        // tone (a voice's harmonic 200 Hz from a key's tone): the tone stands if a fit of both
        // together leaves it strong, where the alias's own leakage would leave it nothing
        if best != 1 && self.coexists(&steering[1], &steering[best], group, interior) {
            return aliased;
        }
        freqs[best]
    }

    /// Whether a tone with responses `tone` across `group`'s bins is there beside one with
    /// responses `other`: fitting both to every interior block at once, the tone keeps at
    /// least `COEXIST` of the other's power.
    fn coexists(
        &self,
        tone: &[Complex; 4],
        other: &[Complex; 4],
        group: usize,
        interior: &[usize],
    ) -> bool {
        let dot = |a: &[Complex], b: &[Complex]| {
            a.iter()
                .zip(b)
                .fold(Complex::default(), |acc, (&a, &b)| acc + a.conj() * b)
        };
        let (g11, g22, g12) = (dot(tone, tone).re, dot(other, other).re, dot(tone, other));
        let det = g11 * g22 - g12.norm_sqr();
        if det <= 1e-3 * g11 * g22 {
            return false;
        }
        let (mut tone_power, mut other_power) = (0.0, 0.0);
        for &i in interior {
            let x = &self.blocks[i].bins[group * 4..group * 4 + 4];
            let (r1, r2) = (dot(tone, x), dot(other, x));
            let c = (r1.scale(g22) - g12 * r2).scale(1.0 / det);
            let a = (r2.scale(g11) - g12.conj() * r1).scale(1.0 / det);
            tone_power += c.norm_sqr();
            other_power += a.norm_sqr();
        }
        tone_power > 0.0 && tone_power >= COEXIST * other_power
    }
}

/// Which of a segment's stored blocks hold the key's tones.
struct Presence {
    /// Positions (among the stored blocks) of the blocks the tones are present in, in order:
    /// at least three.
    present: Vec<usize>,
    /// `run[i]`: present blocks in a row ending at stored block `i`.
    run: Vec<usize>,
}

impl Presence {
    fn first(&self) -> usize {
        self.present[0]
    }

    fn last(&self) -> usize {
        self.present[self.present.len() - 1]
    }

    /// The blocks the tones fill completely: all present ones but the two edges.
    fn interior(&self) -> &[usize] {
        &self.present[1..self.present.len() - 1]
    }
}

/// A segment's two tones, measured over its present blocks.
struct Tones {
    key: Key,
    /// The row tone's frequency and the column tone's, in Hz.
    freqs: [f64; 2],
    /// Each stored block's complex amplitude of each tone, the other tone's leakage removed.
    amps: Vec<[Complex; 2]>,
    /// Each tone's steady amplitude: the median over the interior blocks (positive).
    reference: [f64; 2],
}

impl Tones {
    /// How much of stored block `i` the tones fill, 0 to 1.
    fn coverage(&self, i: usize) -> f64 {
        let c = (self.amps[i][0].abs() / self.reference[0]
            + self.amps[i][1].abs() / self.reference[1])
            / 2.0;
        c.clamp(0.0, 1.0)
    }
}

/// How much each tone's level (dB) and frequency (Hz) change from the first third of the
/// key press to the last, the larger of the two tones'.
///
/// A change of frequency counts only beyond its standard error: the sound beside the tones
/// (the share `fit` leaves) shifts each block's phase by about sqrt(r / 2) radians for a
/// noise-to-tone ratio r, and the phases of a stretch's products telescope, so its mean
/// advance errs by sqrt(r) / m for m products. A short key pressed over a prompt is not
/// taken for a voice's glide on two noisy products.
fn drift(geometry: &Geometry, per_block: &[BlockMeasure], fit: f32) -> (f64, f64) {
    let fit = f64::from(fit).max(1e-3);
    let noise_to_tone = (1.0 - fit).max(0.0) / fit;
    let third = per_block.len() / 3;
    let (mut drift_db, mut chirp_hz) = (0.0f64, 0.0f64);
    if third < 2 {
        return (drift_db, chirp_hz);
    }
    let (head, tail) = (&per_block[..third], &per_block[per_block.len() - third..]);
    for g in 0..2 {
        let level = |part: &[BlockMeasure]| {
            part.iter().map(|b| b.amps[g].abs()).sum::<f64>() / part.len() as f64
        };
        if level(head) > 0.0 && level(tail) > 0.0 {
            drift_db = drift_db.max((20.0 * (level(tail) / level(head)).log10()).abs());
        }
        // the summed products of a stretch, and how many there are
        let advance = |part: &[BlockMeasure]| {
            part.windows(2)
                .filter(|w| w[1].index == w[0].index + 1)
                .fold((Complex::default(), 0usize), |(acc, n), w| {
                    (acc + w[1].amps[g] * w[0].amps[g].conj(), n + 1)
                })
        };
        let ((h, h_count), (t, t_count)) = (advance(head), advance(tail));
        if h.norm_sqr() > 0.0 && t.norm_sqr() > 0.0 {
            let variance = noise_to_tone * ((h_count as f64).powi(-2) + (t_count as f64).powi(-2));
            let error = variance.sqrt();
            let delta = (wrap(t.arg() - h.arg()).abs() - error).max(0.0);
            chirp_hz = chirp_hz.max(delta * geometry.block_rate() / std::f64::consts::TAU);
        }
    }
    (drift_db, chirp_hz)
}

/// How far, in dB, the louder-fading tone decays along a straight line over the key press:
/// instruments' partials die away along one, a key holds its level. Counted only where a line
/// explains the level well (`DECAY_MIN_FIT`), else 0.
fn decay_db(per_block: &[BlockMeasure]) -> f64 {
    let mut decay_db = 0.0f64;
    if per_block.len() < 6 {
        return decay_db;
    }
    let n = per_block.len() as f64;
    let t: Vec<f64> = (0..per_block.len()).map(|i| i as f64).collect();
    let t_mean = t.iter().sum::<f64>() / n;
    let t_var: f64 = t.iter().map(|x| (x - t_mean).powi(2)).sum();
    for g in 0..2 {
        let db: Vec<f64> = per_block
            .iter()
            .map(|b| 10.0 * b.amps[g].norm_sqr().max(1e-18).log10())
            .collect();
        let mean = db.iter().sum::<f64>() / n;
        let cov: f64 = t
            .iter()
            .zip(&db)
            .map(|(x, y)| (x - t_mean) * (y - mean))
            .sum();
        let slope = cov / t_var;
        let total: f64 = db.iter().map(|y| (y - mean).powi(2)).sum();
        let explained = if total > 0.0 {
            slope * cov / total
        } else {
            0.0
        };
        if explained >= DECAY_MIN_FIT {
            decay_db = decay_db.max(-slope * (n - 1.0));
        }
    }
    decay_db
}

/// What the measurement keeps of one interior block.
#[derive(Debug, Clone, Copy, Default)]
struct BlockMeasure {
    index: u64,
    /// Complex amplitude of each tone.
    amps: [Complex; 2],
    /// Energy of each tone in the block's DFT.
    tone: [f64; 2],
    /// The block's energy.
    energy: f64,
    /// Each probe's energy, tones removed.
    residual: [f64; PROBES],
    /// Where the block is among the segment's stored blocks.
    position: usize,
}

/// Power around the tones relative to the tones (the worse tone): what picks a stretch.
fn neighbour_ratio(part: &[BlockMeasure]) -> f64 {
    (0..2)
        .map(|g| {
            let tone: f64 = part.iter().map(|b| b.tone[g]).sum();
            let n: f64 = part
                .iter()
                .map(|b| b.residual[2 * g] + b.residual[2 * g + 1])
                .sum();
            if tone > 0.0 { n / tone } else { f64::INFINITY }
        })
        .fold(0.0, f64::max)
}

/// The response of each of `group`'s four bins to a tone at `freq`.
fn steering(geometry: &Geometry, group: usize, freq: f64) -> [Complex; 4] {
    [0, 1, 2, 3].map(|j| geometry.response(group * 4 + j, freq))
}

/// How well one tone whose responses across `group`'s bins are `steering` explains what the
/// bins saw in `blocks`: the share of their energy along that pattern (1 is a single pure
/// tone).
fn group_fit<'a>(
    group: usize,
    steering: &[Complex; 4],
    blocks: impl Iterator<Item = &'a [Complex; BINS]>,
) -> f64 {
    let (mut matched, mut total) = (0.0, 0.0);
    for bins in blocks {
        let x = &bins[group * 4..group * 4 + 4];
        let dot = x
            .iter()
            .zip(steering)
            .fold(Complex::default(), |acc, (&x, g)| acc + x * g.conj());
        matched += dot.norm_sqr();
        total += x.iter().map(|x| x.norm_sqr()).sum::<f64>();
    }
    let norm: f64 = steering.iter().map(|g| g.norm_sqr()).sum();
    if total > 0.0 {
        matched / norm / total
    } else {
        0.0
    }
}

/// The median of a non-empty list (the mean of the two middle values of an even one), by
/// selection rather than sorting.
fn median(values: &mut [f64]) -> f64 {
    let n = values.len();
    let (_, upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        return upper;
    }
    let lower = values[..n / 2].iter().copied().fold(f64::MIN, f64::max);
    (lower + upper) / 2.0
}

/// How steadily the phase advances over a list of block-to-block products: 1 when every
/// product points the same way. With four or more, the one that agrees least is left out.
fn steadiness(pairs: &[Complex]) -> f64 {
    let sum = pairs.iter().fold(Complex::default(), |a, &p| a + p);
    let (mut norm, mut worst) = (0.0, None::<(f64, Complex, f64)>);
    for &p in pairs {
        let magnitude = p.abs();
        norm += magnitude;
        if magnitude > 0.0 {
            // the cosine of the angle to the sum, but for the sum's (common) magnitude
            let agreement = (p.re * sum.re + p.im * sum.im) / magnitude;
            if worst.is_none_or(|w| agreement < w.0) {
                worst = Some((agreement, p, magnitude));
            }
        }
    }
    if norm <= 0.0 || sum.norm_sqr() == 0.0 {
        return if pairs.is_empty() { 1.0 } else { 0.0 };
    }
    let (mut sum, mut norm) = (sum, norm);
    if pairs.len() >= 4
        && let Some((_, p, magnitude)) = worst
    {
        sum = sum - p;
        norm -= magnitude;
    }
    if norm > 0.0 { sum.abs() / norm } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_lists() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut [7.0]), 7.0);
    }

    #[test]
    fn steadiness_forgives_one_phase_jump() {
        let step = Complex::unit(0.7);
        let steady = vec![step; 6];
        assert!((steadiness(&steady) - 1.0).abs() < 1e-12);
        // one product pointing the other way (a break with a new phase) is left out
        let mut jumped = steady;
        jumped[3] = Complex::unit(0.7 + std::f64::consts::PI);
        assert!((steadiness(&jumped) - 1.0).abs() < 1e-12);
        // products spread all round are not steady
        let spread: Vec<Complex> = (0..6).map(|i| Complex::unit(f64::from(i) * 1.1)).collect();
        assert!(steadiness(&spread) < 0.5);
        assert_eq!(steadiness(&[]), 1.0);
    }
}
