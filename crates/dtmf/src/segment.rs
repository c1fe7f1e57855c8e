//! One candidate key press, from the block where screening found it to the pause after it,
//! and its measurement as a whole.

use crate::KeyEvent;
use crate::complex::{Complex, wrap};
use crate::detector::Geometry;
use crate::kernel::{BINS, Spectrum};
use crate::key::{COL_HZ, Key, ROW_HZ};
use crate::limits::{
    FULL_SCALE_SINE_DBM0, MAX_NORMAL_TWIST_DB, MAX_REVERSE_TWIST_DB, MAX_SECOND_HARMONIC,
    MIN_DURATION_SECONDS, MIN_LEVEL_DBM0, MIN_PURITY, MIN_TONE_SHARE, max_deviation_hz,
};

/// Blocks kept from the start of a segment for its measurement (400 ms); a longer press is
/// measured on its first 400 ms and timed with its last blocks.
const HEAD_BLOCKS: usize = 80;
/// Blocks kept from the end of a segment beyond the pause that closes it, for timing its
/// trailing edge.
const TAIL_MARGIN_BLOCKS: usize = 3;
/// A block whose tone bins are this many times louder than the segment's reference belongs to
/// a new, louder sound: the segment ends before it.
const MAX_SWELL: f64 = 2.5;
/// Lag, in blocks, of the fine frequency estimate.
const FINE_LAG: usize = 4;

/// Why a candidate was not reported, by the first check it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    TooShort,
    Level,
    Twist,
    Frequency,
    Purity,
    ToneShare,
    Harmonics,
}

/// What a segment keeps of each block.
#[derive(Debug, Clone, Copy)]
struct Stored {
    index: u64,
    bins: [Complex; BINS],
    energy: f64,
    /// DFT at twice each tone's screened frequency.
    harmonics: [Complex; 2],
    present: bool,
}

#[derive(Debug)]
pub(crate) struct Segment {
    key: Key,
    /// Bin of the row tone and of the column tone.
    bins: [usize; 2],
    /// Expected per-block magnitude of each tone's bin, for the presence test.
    reference: [f64; 2],
    /// Frequencies of the harmonic probes (twice the screened tone frequencies).
    harmonic_hz: [f64; 2],
    /// `e^(-i w n)` for each harmonic probe, per sample of a block.
    twiddles: Vec<[Complex; 2]>,
    /// Blocks kept from the end: enough to hold the closing pause and the last present block.
    tail_blocks: usize,
    blocks: Vec<Stored>,
    /// Absent blocks since the last present one.
    gap: u32,
}

impl Segment {
    pub(crate) fn new(
        geometry: &Geometry,
        key: Key,
        screened_hz: [f64; 2],
        reference: [f64; 2],
    ) -> Segment {
        let (row, col) = key.position();
        let harmonic_hz = screened_hz.map(|f| 2.0 * f);
        let twiddles = (0..geometry.len)
            .map(|n| {
                harmonic_hz.map(|f| {
                    Complex::unit(-std::f64::consts::TAU * f / geometry.rate * n as f64)
                })
            })
            .collect();
        Segment {
            key,
            bins: [row, 4 + col],
            reference,
            harmonic_hz,
            twiddles,
            tail_blocks: geometry.bridge_blocks as usize + TAIL_MARGIN_BLOCKS,
            blocks: Vec::new(),
            gap: 0,
        }
    }

    pub(crate) fn key(&self) -> Key {
        self.key
    }

    /// Index of the last block in which the tones were present.
    pub(crate) fn last_present_block(&self) -> u64 {
        self.blocks
            .iter()
            .rev()
            .find(|b| b.present)
            .map_or(0, |b| b.index)
    }

    /// Blocks since the tones were last present.
    pub(crate) fn absent_blocks(&self) -> u32 {
        self.gap
    }

    /// Adds a block with a presence decision already made.
    pub(crate) fn add(&mut self, index: u64, spectrum: &Spectrum, samples: &[f32], present: bool) {
        let mut harmonics = [Complex::default(); 2];
        for (&x, tw) in samples.iter().zip(&self.twiddles) {
            for (h, t) in harmonics.iter_mut().zip(tw) {
                *h = *h + t.scale(f64::from(x));
            }
        }
        self.blocks.push(Stored {
            index,
            bins: spectrum.bins,
            energy: spectrum.energy,
            harmonics,
            present,
        });
        if self.blocks.len() > HEAD_BLOCKS + self.tail_blocks {
            self.blocks.remove(HEAD_BLOCKS);
        }
        if present {
            self.gap = 0;
        } else {
            self.gap += 1;
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
        let present = magnitudes
            .iter()
            .zip(self.reference)
            .all(|(&m, r)| m >= 0.5 * r);
        // something much louder started: whatever this segment followed is over
        if magnitudes
            .iter()
            .zip(self.reference)
            .any(|(&m, r)| m > MAX_SWELL * r)
        {
            return (false, false);
        }
        if present {
            // follow slow level changes, ignoring bursts of other sound
            for (r, m) in self.reference.iter_mut().zip(magnitudes) {
                if (0.7 * *r..=1.4 * *r).contains(&m) {
                    *r = 0.9 * *r + 0.1 * m;
                }
            }
        }
        self.add(index, spectrum, samples, present);
        (present, self.gap < geometry.bridge_blocks)
    }

    /// Measures the whole segment and decides whether it was a key press.
    pub(crate) fn finish(self, geometry: &Geometry) -> Result<KeyEvent, Rejection> {
        let blocks = &self.blocks;
        let present: Vec<usize> = (0..blocks.len()).filter(|&i| blocks[i].present).collect();
        if present.len() < 3 {
            return Err(Rejection::TooShort);
        }
        let (first, last) = (present[0], present[present.len() - 1]);
        // blocks the tones fill completely: all present ones but the two edges
        let interior = &present[1..present.len() - 1];

        // 1. each tone's frequency, from its phase progression, with the alias resolved
        let mut bins = self.bins;
        let mut freqs = [0.0; 2];
        let mut fit = 1.0f64;
        for g in 0..2 {
            let aliased = self
                .phase_frequency(geometry, self.bins[g])
                .ok_or(Rejection::TooShort)?;
            let (freq, group_fit) = self.resolve_alias(geometry, g, aliased, interior);
            fit = fit.min(group_fit);
            let nearest = (g * 4..g * 4 + 4)
                .min_by(|&a, &b| {
                    (geometry.freqs[a] - freq)
                        .abs()
                        .total_cmp(&(geometry.freqs[b] - freq).abs())
                })
                .expect("a group has four bins");
            bins[g] = nearest;
            // the bin nearest the tone gives the most precise estimate
            freqs[g] = match self.phase_frequency(geometry, nearest) {
                Some(f) if nearest != self.bins[g] => geometry.unalias(f, freq),
                _ => freq,
            };
        }
        let key = Key::at(bins[0], bins[1] - 4);
        if std::env::var_os("DTMF_DEBUG").is_some() {
            eprintln!("fit {fit:.4} freqs {freqs:?} bins {bins:?}");
        }

        // 2. per-block complex amplitude of each tone, with the other tone's leakage removed
        let m = bins.map(|k| freqs.map(|f| geometry.response(k, f)));
        let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
        if det.abs() < 1e-6 * m[0][0].abs() * m[1][1].abs() {
            return Err(Rejection::Frequency);
        }
        let amps: Vec<[Complex; 2]> = blocks
            .iter()
            .map(|b| {
                let (xr, xc) = (b.bins[bins[0]], b.bins[bins[1]]);
                [
                    (m[1][1] * xr - m[0][1] * xc) / det,
                    (m[0][0] * xc - m[1][0] * xr) / det,
                ]
            })
            .collect();

        // 3. steady amplitude: the median over the interior blocks
        let reference = [0, 1].map(|g| {
            let mut m: Vec<f64> = interior.iter().map(|&i| amps[i][g].abs()).collect();
            m.sort_by(f64::total_cmp);
            (m[m.len() / 2] + m[(m.len() - 1) / 2]) / 2.0
        });
        if reference.iter().any(|&r| r <= 0.0) {
            return Err(Rejection::Level);
        }

        // 4. edges, to a fraction of a block from how much of the edge blocks the tones fill
        let coverage = |i: usize| {
            let c = (amps[i][0].abs() / reference[0] + amps[i][1].abs() / reference[1]) / 2.0;
            c.clamp(0.0, 1.0)
        };
        let adjacent = |i: usize, j: usize| {
            j < blocks.len() && blocks[j].index.abs_diff(blocks[i].index) == 1
        };
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
        if end - start < MIN_DURATION_SECONDS * geometry.rate {
            return Err(Rejection::TooShort);
        }

        // 5. level and twist
        let levels = reference.map(|r| 20.0 * (2.0 * r).log10() + FULL_SCALE_SINE_DBM0);
        if levels.iter().any(|&l| l < MIN_LEVEL_DBM0) {
            return Err(Rejection::Level);
        }
        let twist = levels[0] - levels[1];
        if twist > MAX_NORMAL_TWIST_DB || -twist > MAX_REVERSE_TWIST_DB {
            return Err(Rejection::Twist);
        }

        // 6. frequency
        let (row, col) = key.position();
        let nominal = [ROW_HZ[row], COL_HZ[col]];
        if freqs
            .iter()
            .zip(nominal)
            .any(|(&f, n)| (f - n).abs() > max_deviation_hz(n))
        {
            return Err(Rejection::Frequency);
        }

        // 7. purity: one tone per group, with a steady phase advance between full blocks. A
        // break inside one key press may hold one phase jump (Q.24 bridges it), so the pair
        // that agrees least is left out when there are enough others.
        let mut purity = fit;
        for g in 0..2 {
            let pairs: Vec<Complex> = interior
                .windows(2)
                .filter(|w| blocks[w[1]].index == blocks[w[0]].index + 1)
                .map(|w| amps[w[1]][g] * amps[w[0]][g].conj())
                .collect();
            let sum = pairs.iter().fold(Complex::default(), |a, &p| a + p);
            let norm: f64 = pairs.iter().map(|p| p.abs()).sum();
            if norm <= 0.0 {
                continue;
            }
            let agreement = |p: &Complex| (p.re * sum.re + p.im * sum.im) / (p.abs() * sum.abs());
            let (mut sum, mut norm) = (sum, norm);
            if pairs.len() >= 4
                && let Some(worst) = pairs.iter().min_by(|a, b| agreement(a).total_cmp(&agreement(b)))
            {
                sum = sum - *worst;
                norm -= worst.abs();
            }
            purity = purity.min(sum.abs() / norm);
        }
        if std::env::var_os("DTMF_DEBUG").is_some() {
            eprintln!("purity {purity} fit {fit}");
            for &i in interior { eprintln!("  blk {} cov {:.3} a {:?}", blocks[i].index, coverage(i), amps[i]); }
        }
        if purity < MIN_PURITY {
            return Err(Rejection::Purity);
        }

        // 8. share of the power carried by the tones
        let (tones, total) = interior.iter().fold((0.0, 0.0), |(t, e), &i| {
            let a = amps[i];
            (t + 2.0 * len * (a[0].norm_sqr() + a[1].norm_sqr()), e + blocks[i].energy)
        });
        let share = if total > 0.0 { (tones / total).min(1.0) } else { 0.0 };
        if share < MIN_TONE_SHARE {
            return Err(Rejection::ToneShare);
        }

        // 9. second harmonics, after removing what the tones themselves leak into the probes
        for g in 0..2 {
            let leak = freqs.map(|f| geometry.dft_response(f - self.harmonic_hz[g]));
            let (mut harmonic, mut tone) = (0.0, 0.0);
            for &i in interior {
                let a = amps[i];
                let clean = blocks[i].harmonics[g] - a[0] * leak[0] - a[1] * leak[1];
                harmonic += clean.norm_sqr();
                tone += a[g].norm_sqr() * len * len;
            }
            if harmonic > MAX_SECOND_HARMONIC * tone {
                return Err(Rejection::Harmonics);
            }
        }

        Ok(KeyEvent {
            key,
            start: start.max(0.0).round() as u64,
            end: end.max(0.0).round() as u64,
            sample_rate: geometry.rate as u32,
            low_hz: freqs[0] as f32,
            high_hz: freqs[1] as f32,
            low_dbm0: levels[0] as f32,
            high_dbm0: levels[1] as f32,
            twist_db: twist as f32,
            quality: (share * purity) as f32,
        })
    }

    /// The frequency of the tone seen in bin `k`, from the phase advance between adjacent
    /// present blocks, refined over a longer lag. Only known up to multiples of the block
    /// rate: the result is the alias nearest the bin's frequency.
    fn phase_frequency(&self, geometry: &Geometry, k: usize) -> Option<f64> {
        let blocks = &self.blocks;
        let follows = |i: usize, lag: usize| {
            i >= lag
                && blocks[i].index == blocks[i - lag].index + lag as u64
                && blocks[i - lag..=i].iter().all(|b| b.present)
        };
        let lag_sum = |lag: usize| {
            (lag..blocks.len())
                .filter(|&i| follows(i, lag))
                .fold(Complex::default(), |acc, i| {
                    acc + blocks[i].bins[k] * blocks[i - lag].bins[k].conj()
                })
        };
        let lag1 = lag_sum(1);
        if lag1.norm_sqr() == 0.0 {
            return None;
        }
        let mut offset = wrap(lag1.arg() - geometry.advance[k]);
        let long = lag_sum(FINE_LAG);
        if long.norm_sqr() > 0.0 {
            let n = FINE_LAG as f64;
            offset += wrap(long.arg() - n * (geometry.advance[k] + offset)) / n;
        }
        Some(geometry.freqs[k] + offset * geometry.block_rate() / std::f64::consts::TAU)
    }

    /// Picks, among `aliased` and its neighbours one block rate away, the frequency whose
    /// response pattern across the group's four bins best matches what the bins saw, and how
    /// well it matches (1 is a single pure tone).
    fn resolve_alias(
        &self,
        geometry: &Geometry,
        group: usize,
        aliased: f64,
        interior: &[usize],
    ) -> (f64, f64) {
        let bins = group * 4..group * 4 + 4;
        let mut best = (aliased, f64::MIN);
        for m in -1..=1 {
            let freq = aliased + f64::from(m) * geometry.block_rate();
            let steering: Vec<Complex> = bins.clone().map(|k| geometry.response(k, freq)).collect();
            let norm: f64 = steering.iter().map(|g| g.norm_sqr()).sum();
            let (mut matched, mut total) = (0.0, 0.0);
            for &i in interior {
                let x = &self.blocks[i].bins[bins.clone()];
                let dot = x
                    .iter()
                    .zip(&steering)
                    .fold(Complex::default(), |acc, (&x, g)| acc + x * g.conj());
                matched += dot.norm_sqr() / norm;
                total += x.iter().map(|x| x.norm_sqr()).sum::<f64>();
            }
            let fit = if total > 0.0 { matched / total } else { 0.0 };
            if fit > best.1 {
                best = (freq, fit);
            }
        }
        best
    }
}
