//! The per-sample work of the detector: one filter per DTMF frequency applied to each block
//! (see `design`), as a matrix product that the compiler turns into SIMD multiply-adds.
//!
//! Everything else in the detector runs once per block (5 ms), so this is where the speed is.

use crate::complex::Complex;

/// Number of frequency bins (the eight DTMF frequencies).
pub(crate) const BINS: usize = 8;
/// Real outputs per block: the cosine and sine part of each bin.
const OUT: usize = 2 * BINS;

/// One block's analysis: each bin's filter output (phase measured from the block's first
/// sample) and the block's energy (sum of squares).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Spectrum {
    pub(crate) bins: [Complex; BINS],
    pub(crate) energy: f64,
    /// Power of the strongest bin of the row group and of the column group: what screening
    /// looks at first, worked out while the kernel still holds the sums.
    pub(crate) peaks: [f64; 2],
}

impl Spectrum {
    fn set_peaks(&mut self) {
        for (group, peak) in self.peaks.iter_mut().enumerate() {
            *peak = self.bins[group * 4..group * 4 + 4]
                .iter()
                .fold(0.0, |m: f64, b| m.max(b.norm_sqr()));
        }
    }
}

/// Precomputed basis for one block length and sample rate.
///
/// Every analysis filter is conjugate-symmetric about the block's centre up to a rotation:
/// `g[n] = c² conj(g[len - 1 - n])` with `|c| = 1` (the design's system is Hermitian Toeplitz
/// and its right-hand side a DFT vector, so its solution inherits the DFT vector's symmetry).
/// With `h = g / c`, a pair of samples `x[p]`, `x[len - 1 - p]` contributes
/// `(x[p] + x[len - 1 - p]) re h[p] + i (x[p] - x[len - 1 - p]) im h[p]`: the AVX-512 kernel
/// folds the block about its centre and does half the multiply-adds a plain filter sum would,
/// and each bin's sum is turned by `c` at the end. Without AVX-512, folding in narrower
/// registers costs what it saves, and the plain sums are kept.
#[derive(Debug, Clone)]
pub(crate) struct Kernel {
    /// `folded[p] = [re h_0[p], im h_0[p], re h_1[p], im h_1[p], ..]` for each pair `p` of
    /// the folded block (the middle sample of an odd block pairs with itself, at half weight):
    /// the outputs come out in the memory order of `[Complex; BINS]`. The AVX-512 kernel's.
    folded: Vec<[f32; OUT]>,
    /// `basis[n] = [re g_0[n], im g_0[n], re g_1[n], im g_1[n], ..]`: the plain filters, for
    /// processors without AVX-512, where building the folded pairs costs what it saves.
    basis: Vec<[f32; OUT]>,
    /// Samples per block.
    len: usize,
    /// Each bin's `c`, as the real and imaginary factors of a complex product laid out like
    /// the outputs: `re = [c_0.re, c_0.re, c_1.re, ..]`, `im = [-c_0.im, c_0.im, ..]`.
    turn_re: [f64; OUT],
    turn_im: [f64; OUT],
    #[cfg(target_arch = "x86_64")]
    simd: Simd,
}

/// The widest multiply-add the processor offers, found once at construction.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Simd {
    Avx512,
    Avx2Fma,
    Baseline,
}

#[cfg(target_arch = "x86_64")]
impl Simd {
    fn detect() -> Simd {
        if std::arch::is_x86_feature_detected!("avx512f") {
            Simd::Avx512
        } else if avx2_fma() {
            Simd::Avx2Fma
        } else {
            Simd::Baseline
        }
    }
}

/// Whether the processor has AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
fn avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// The unit `c` with `g[n] = c² conj(g[len - 1 - n])`: the phase of `sum g[n] g[len-1-n]`
/// (which is `c²` times the filter's energy) halved; either square root serves.
fn centre_turn(g: &[Complex]) -> Complex {
    let cross = g
        .iter()
        .zip(g.iter().rev())
        .fold(Complex::default(), |acc, (&a, &b)| acc + a * b);
    Complex::unit(cross.arg() / 2.0)
}

impl Kernel {
    /// A kernel applying `filters` (all of the same length, the block length, and each
    /// conjugate-symmetric about the centre up to a rotation, as the design makes them).
    pub(crate) fn new(filters: &[Vec<Complex>; BINS]) -> Kernel {
        let len = filters[0].len();
        let turns = filters.each_ref().map(|g| centre_turn(g));
        let basis = (0..len)
            .map(|n| {
                let mut row = [0.0f32; OUT];
                for (k, g) in filters.iter().enumerate() {
                    row[2 * k] = g[n].re as f32;
                    row[2 * k + 1] = g[n].im as f32;
                }
                row
            })
            .collect();
        let folded = (0..len.div_ceil(2))
            .map(|p| {
                let mirror = len - 1 - p;
                let mut row = [0.0f32; OUT];
                for (k, (g, &c)) in filters.iter().zip(&turns).enumerate() {
                    // h[p] and conj(h[mirror]) agree to rounding: their mean is exactly
                    // symmetric
                    let h = (g[p] * c.conj() + (g[mirror] * c.conj()).conj()).scale(0.5);
                    if p == mirror {
                        // the middle sample comes folded as twice itself, with nothing odd
                        row[2 * k] = (h.re / 2.0) as f32;
                    } else {
                        row[2 * k] = h.re as f32;
                        row[2 * k + 1] = h.im as f32;
                    }
                }
                row
            })
            .collect();
        let mut turn_re = [0.0; OUT];
        let mut turn_im = [0.0; OUT];
        for (k, c) in turns.iter().enumerate() {
            turn_re[2 * k] = c.re;
            turn_re[2 * k + 1] = c.re;
            turn_im[2 * k] = -c.im;
            turn_im[2 * k + 1] = c.im;
        }
        Kernel {
            folded,
            basis,
            len,
            turn_re,
            turn_im,
            #[cfg(target_arch = "x86_64")]
            simd: Simd::detect(),
        }
    }

    /// Analyses four consecutive blocks (`samples` is four block lengths) into `spectra`, and
    /// copies the samples into `keep` if given: one load of each basis row serves all four,
    /// which is most of what the kernel costs. Falls back to one block at a time without
    /// AVX-512. The result does not depend on whether `keep` is given.
    pub(crate) fn run4(
        &self,
        samples: &[f32],
        mut keep: Option<&mut [f32]>,
        spectra: &mut [Spectrum],
    ) {
        let len = self.len;
        assert!(
            samples.len() == 4 * len
                && keep.as_ref().is_none_or(|k| k.len() == 4 * len)
                && spectra.len() == 4,
            "four blocks of one kernel length"
        );
        #[cfg(target_arch = "x86_64")]
        if self.simd == Simd::Avx512 {
            // SAFETY: `simd` is Avx512 only when the CPU reported AVX-512F at construction,
            // and the lengths match (asserted above).
            #[allow(unsafe_code)]
            unsafe {
                folded_avx512::<4>(self, samples, keep, spectra);
            }
            return;
        }
        for (i, (block, spectrum)) in samples
            .chunks_exact(len)
            .zip(spectra.iter_mut())
            .enumerate()
        {
            let keep = keep.as_deref_mut().map(|k| &mut k[i * len..(i + 1) * len]);
            self.run(block, keep, spectrum);
        }
    }

    /// Analyses one block into `spectrum`, and copies its samples into `keep` if given (the
    /// detector's ring of recent samples). Lengths must equal the kernel's block length.
    pub(crate) fn run(&self, block: &[f32], keep: Option<&mut [f32]>, spectrum: &mut Spectrum) {
        assert_eq!(block.len(), self.len, "a block is one kernel length");
        assert!(
            keep.as_ref().is_none_or(|k| k.len() == block.len()),
            "the copy is one kernel length"
        );
        #[cfg(target_arch = "x86_64")]
        if self.simd == Simd::Avx512 {
            // SAFETY: `simd` is Avx512 only when the CPU reported AVX-512F at construction,
            // and the lengths match (asserted above).
            #[allow(unsafe_code)]
            unsafe {
                folded_avx512::<1>(self, block, keep, std::slice::from_mut(spectrum));
            }
            return;
        }
        if let Some(keep) = keep {
            keep.copy_from_slice(block);
        }
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        let (out, energy) = match self.simd {
            // SAFETY: `simd` names only features the CPU reported at construction.
            Simd::Avx2Fma => unsafe { dft_avx2_fma(block, &self.basis) },
            _ => dft::<false>(block, &self.basis),
        };
        #[cfg(not(target_arch = "x86_64"))]
        let (out, energy) = dft::<false>(block, &self.basis);
        spectrum.energy = f64::from(energy);
        for (k, bin) in spectrum.bins.iter_mut().enumerate() {
            *bin = Complex::new(f64::from(out[2 * k]), f64::from(out[2 * k + 1]));
        }
        spectrum.set_peaks();
    }
}

/// The kernel in AVX-512 for `B` consecutive blocks: sixteen pairs of each block at a time
/// are folded in registers into `[sum, difference]` pairs, and each basis row, loaded once,
/// is multiplied with every block's pair (one broadcast-multiply-add per pair and block) into
/// two accumulators per block, which keep the chains short. [`finish_avx512`] adds the
/// energy, widens the outputs and turns them into the spectrum.
///
/// # Safety
/// The CPU must support AVX-512F; `samples` and `keep` (if given) hold `B` blocks of the
/// kernel's length and `spectra` `B` spectra.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
unsafe fn folded_avx512<const B: usize>(
    kernel: &Kernel,
    samples: &[f32],
    keep: Option<&mut [f32]>,
    spectra: &mut [Spectrum],
) {
    use std::arch::x86_64::{
        _mm512_add_ps, _mm512_castpd_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_maskz_loadu_ps,
        _mm512_permutex2var_ps, _mm512_permutexvar_ps, _mm512_set1_pd, _mm512_setr_epi32,
        _mm512_setzero_ps, _mm512_storeu_ps, _mm512_sub_ps,
    };
    let n = kernel.len;
    let pairs = kernel.folded.len();
    let x = samples.as_ptr();
    let b = kernel.folded.as_ptr().cast::<f32>();
    let k = keep.map(|k| k.as_mut_ptr());
    // SAFETY (whole body): unmasked loads stay within `B` blocks of `n` samples and `pairs`
    // basis rows of `OUT` floats, which the caller guarantees (a masked load's masked lanes
    // are not read, so its start may lie before the block); stores stay within the stack
    // buffer of sixteen pairs per block.
    unsafe {
        let reverse = _mm512_setr_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
        // sums and differences interleaved: pairs 0-7 from the first, 8-15 from the second
        let first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        let second =
            _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        let mut acc = [[_mm512_setzero_ps(); 2]; B];
        // each `[sum, difference]` pair of f32 read back as one f64, to broadcast it whole
        let mut folded = [Folded([0.0f64; 16]); B];
        let mut p0 = 0;
        while p0 < pairs {
            let r = (pairs - p0).min(16);
            let low_mask: u16 = if r == 16 { u16::MAX } else { (1 << r) - 1 };
            let high_mask = low_mask << (16 - r);
            for (blk, pair) in folded.iter_mut().enumerate() {
                let block = x.add(blk * n);
                let head = _mm512_maskz_loadu_ps(low_mask, block.add(p0));
                // the r samples ending at n - p0, in the top lanes, then reversed
                let tail =
                    _mm512_maskz_loadu_ps(high_mask, block.wrapping_add(n - p0).wrapping_sub(16));
                let tail = _mm512_permutexvar_ps(reverse, tail);
                let (sum, diff) = (_mm512_add_ps(head, tail), _mm512_sub_ps(head, tail));
                let out = pair.0.as_mut_ptr().cast::<f32>();
                _mm512_storeu_ps(out, _mm512_permutex2var_ps(sum, first, diff));
                _mm512_storeu_ps(out.add(16), _mm512_permutex2var_ps(sum, second, diff));
            }
            // two pairs at a time, each into its own accumulator (fixed indices keep them all
            // in registers)
            let mut j = 0;
            while j + 2 <= r {
                let row0 = _mm512_loadu_ps(b.add((p0 + j) * OUT));
                let row1 = _mm512_loadu_ps(b.add((p0 + j + 1) * OUT));
                for (a, pair) in acc.iter_mut().zip(&folded) {
                    let both0 = _mm512_castpd_ps(_mm512_set1_pd(pair.0[j]));
                    let both1 = _mm512_castpd_ps(_mm512_set1_pd(pair.0[j + 1]));
                    a[0] = _mm512_fmadd_ps(both0, row0, a[0]);
                    a[1] = _mm512_fmadd_ps(both1, row1, a[1]);
                }
                j += 2;
            }
            if j < r {
                let row = _mm512_loadu_ps(b.add((p0 + j) * OUT));
                for (a, pair) in acc.iter_mut().zip(&folded) {
                    let both = _mm512_castpd_ps(_mm512_set1_pd(pair.0[j]));
                    a[0] = _mm512_fmadd_ps(both, row, a[0]);
                }
            }
            p0 += 16;
        }
        for (blk, (a, spectrum)) in acc.iter().zip(spectra.iter_mut()).enumerate() {
            let sum = _mm512_add_ps(a[0], a[1]);
            let start = blk * n;
            finish_avx512(kernel, sum, x.add(start), k.map(|k| k.add(start)), spectrum);
        }
    }
}

/// Sixteen folded pairs of one block, on a cache line of their own so that reading a pair
/// back takes it straight from the store.
#[derive(Clone, Copy)]
#[repr(align(64))]
struct Folded([f64; 16]);

/// Completes one block's spectrum from its summed outputs: the block's energy from the sum of
/// squares (whose loads also store the samples into `keep`), and the outputs widened to `f64`
/// and turned by each bin's `c` straight into the spectrum.
///
/// # Safety
/// The CPU must support AVX-512F; `x` (and `keep`, if given) point to the kernel's length of
/// samples.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
unsafe fn finish_avx512(
    kernel: &Kernel,
    sum: std::arch::x86_64::__m512,
    x: *const f32,
    keep: Option<*mut f32>,
    spectrum: &mut Spectrum,
) {
    use std::arch::x86_64::{
        __m512d, _mm256_castpd_ps, _mm512_castps_pd, _mm512_castps512_ps256, _mm512_cvtps_pd,
        _mm512_extractf64x4_pd, _mm512_fmadd_pd, _mm512_fmadd_ps, _mm512_loadu_pd, _mm512_loadu_ps,
        _mm512_mask_loadu_ps, _mm512_mask_storeu_ps, _mm512_mul_pd, _mm512_permute_pd,
        _mm512_reduce_add_ps, _mm512_setzero_ps, _mm512_storeu_pd, _mm512_storeu_ps,
    };
    let n = kernel.len;
    // SAFETY (whole body): offsets stay below `n` samples, which the caller guarantees, and
    // within the kernel's two arrays of sixteen f64; `Complex` is `repr(C)` of two `f64`, so
    // `[Complex; BINS]` is sixteen contiguous `f64`.
    unsafe {
        let mut squares = _mm512_setzero_ps();
        let mut j = 0;
        while j + 16 <= n {
            let v = _mm512_loadu_ps(x.add(j));
            squares = _mm512_fmadd_ps(v, v, squares);
            if let Some(k) = keep {
                _mm512_storeu_ps(k.add(j), v);
            }
            j += 16;
        }
        if j < n {
            let mask = (1u16 << (n - j)) - 1;
            let v = _mm512_mask_loadu_ps(_mm512_setzero_ps(), mask, x.add(j));
            squares = _mm512_fmadd_ps(v, v, squares);
            if let Some(k) = keep {
                _mm512_mask_storeu_ps(k.add(j), mask, v);
            }
        }
        spectrum.energy = f64::from(_mm512_reduce_add_ps(squares));

        let low = _mm512_cvtps_pd(_mm512_castps512_ps256(sum));
        let high = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(
            _mm512_castps_pd(sum),
            1,
        )));
        // (re + i im) c = [re c.re - im c.im, im c.re + re c.im]
        let turn = |v: __m512d, at: usize| {
            let re = _mm512_loadu_pd(kernel.turn_re.as_ptr().add(at));
            let im = _mm512_loadu_pd(kernel.turn_im.as_ptr().add(at));
            _mm512_fmadd_pd(_mm512_permute_pd(v, 0b0101_0101), im, _mm512_mul_pd(v, re))
        };
        let (low, high) = (turn(low, 0), turn(high, 8));
        let out = spectrum.bins.as_mut_ptr().cast::<f64>();
        _mm512_storeu_pd(out, low);
        _mm512_storeu_pd(out.add(8), high);
        spectrum.peaks = peaks(low, high);
    }
}

/// The strongest bin power of each group from the widened sums (rows in `low`, columns in
/// `high`, each four (re, im) pairs), in registers.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
unsafe fn peaks(low: std::arch::x86_64::__m512d, high: std::arch::x86_64::__m512d) -> [f64; 2] {
    use std::arch::x86_64::{
        _mm_storeu_pd, _mm512_add_pd, _mm512_castpd512_pd128, _mm512_max_pd, _mm512_mul_pd,
        _mm512_permutex_pd, _mm512_shuffle_f64x2, _mm512_unpackhi_pd, _mm512_unpacklo_pd,
    };
    let (sq_low, sq_high) = (_mm512_mul_pd(low, low), _mm512_mul_pd(high, high));
    // re² + im², a row bin and a column bin side by side: [p0, p4, p1, p5, p2, p6, p3, p7]
    let power = _mm512_add_pd(
        _mm512_unpacklo_pd(sq_low, sq_high),
        _mm512_unpackhi_pd(sq_low, sq_high),
    );
    // the maximum over the four bins of each group, in two steps: lanes 0 and 1 end up with
    // the rows' and the columns'
    let halves = _mm512_max_pd(power, _mm512_shuffle_f64x2(power, power, 0b01_00_11_10));
    let both = _mm512_max_pd(halves, _mm512_permutex_pd(halves, 0b01_00_11_10));
    let mut out = [0.0f64; 2];
    // SAFETY: two f64 into an array of two.
    unsafe { _mm_storeu_pd(out.as_mut_ptr(), _mm512_castpd512_pd128(both)) };
    out
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dft_avx2_fma(block: &[f32], basis: &[[f32; OUT]]) -> ([f32; OUT], f32) {
    dft::<true>(block, basis)
}

/// `out[j] = sum_n samples[n] * rows[n][j]` for eight outputs, with the widest multiply-add
/// the processor offers: the spectral probes a candidate is measured with (see `segment`).
pub(crate) fn weighted_sums8(samples: &[f32], rows: &[[f32; 8]]) -> [f32; 8] {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: the CPU reported both features.
        #[allow(unsafe_code)]
        return unsafe { weighted_sums8_avx2_fma(samples, rows) };
    }
    weighted_sums::<false, 8>(samples, rows)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn weighted_sums8_avx2_fma(samples: &[f32], rows: &[[f32; 8]]) -> [f32; 8] {
    weighted_sums::<true, 8>(samples, rows)
}

#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, acc: f32) -> f32 {
    // without hardware FMA, mul_add is a slow library call
    if FMA { a.mul_add(b, acc) } else { a * b + acc }
}

/// `out[j] = sum_n block[n] * basis[n][j]`, and the block's energy.
#[inline(always)]
fn dft<const FMA: bool>(block: &[f32], basis: &[[f32; OUT]]) -> ([f32; OUT], f32) {
    (
        weighted_sums::<FMA, OUT>(block, basis),
        energy::<FMA>(block),
    )
}

/// `out[j] = sum_n samples[n] * rows[n][j]`.
///
/// Four interleaved accumulator sets keep the multiply-add chains short enough that the
/// processor's FMA units stay busy.
#[inline(always)]
fn weighted_sums<const FMA: bool, const W: usize>(samples: &[f32], rows: &[[f32; W]]) -> [f32; W] {
    let mut acc = [[0.0f32; W]; 4];
    let mut quads = samples.chunks_exact(4);
    let mut row_quads = rows.chunks_exact(4);
    for (x4, r4) in (&mut quads).zip(&mut row_quads) {
        for s in 0..4 {
            let x = x4[s];
            for j in 0..W {
                acc[s][j] = madd::<FMA>(x, r4[s][j], acc[s][j]);
            }
        }
    }
    for (&x, r) in quads.remainder().iter().zip(row_quads.remainder()) {
        for j in 0..W {
            acc[0][j] = madd::<FMA>(x, r[j], acc[0][j]);
        }
    }
    let mut out = [0.0f32; W];
    for (j, o) in out.iter_mut().enumerate() {
        *o = (acc[0][j] + acc[1][j]) + (acc[2][j] + acc[3][j]);
    }
    out
}

/// Sum of squares, in 16 independent lanes: one serial chain of multiply-adds would take
/// the processor's full latency per sample.
#[inline(always)]
fn energy<const FMA: bool>(block: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 16];
    let mut chunks = block.chunks_exact(16);
    for chunk in &mut chunks {
        for (l, &x) in lanes.iter_mut().zip(chunk) {
            *l = madd::<FMA>(x, x, *l);
        }
    }
    for (l, &x) in lanes.iter_mut().zip(chunks.remainder()) {
        *l = madd::<FMA>(x, x, *l);
    }
    lanes.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::design::filter;

    /// The filter sum in f64, one bin and one sample at a time.
    fn naive(block: &[f32], g: &[Complex]) -> Complex {
        block
            .iter()
            .zip(g)
            .fold(Complex::default(), |acc, (&x, &g)| {
                acc + g.scale(f64::from(x))
            })
    }

    #[test]
    fn weighted_sums_of_eight_match_the_plain_sums() {
        for len in [3usize, 4, 40, 41] {
            let samples: Vec<f32> = (0..len)
                .map(|n| ((n * 7919 % 1000) as f32 / 500.0 - 1.0) * 0.7)
                .collect();
            let rows: Vec<[f32; 8]> = (0..len)
                .map(|n| std::array::from_fn(|j| ((n * 31 + j * 17) % 23) as f32 / 11.0 - 1.0))
                .collect();
            let sums = weighted_sums8(&samples, &rows);
            for (j, &sum) in sums.iter().enumerate() {
                let want: f64 = samples
                    .iter()
                    .zip(&rows)
                    .map(|(&x, r)| f64::from(x) * f64::from(r[j]))
                    .sum();
                assert!((f64::from(sum) - want).abs() < 1e-5, "len {len} output {j}");
            }
        }
    }

    #[test]
    fn every_designed_filter_is_symmetric_about_its_centre_up_to_a_turn() {
        let freqs = [697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0];
        for (rate, len) in [
            (8000.0, 40usize),
            (8000.0, 41),
            (11025.0, 55),
            (48000.0, 240),
        ] {
            for f in freqs {
                let g = filter(f, rate, len);
                let c = centre_turn(&g);
                let largest = g.iter().map(|v| v.abs()).fold(0.0, f64::max);
                for (n, &v) in g.iter().enumerate() {
                    let mirrored = (c * c) * g[len - 1 - n].conj();
                    assert!(
                        (v - mirrored).abs() < 1e-9 * largest,
                        "{rate} Hz, {len} samples, {f} Hz bin, sample {n}"
                    );
                }
            }
        }
    }

    #[test]
    fn four_blocks_at_once_match_one_at_a_time() {
        let freqs = [697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0];
        for len in [40usize, 41, 221] {
            let kernel = Kernel::new(&freqs.map(|f| filter(f, 8000.0, len)));
            let samples: Vec<f32> = (0..4 * len)
                .map(|n| ((n * 6151 % 997) as f32 / 498.0 - 1.0) * 0.6)
                .collect();
            let mut kept = vec![0.0f32; 4 * len];
            let mut spectra = [Spectrum::default(); 4];
            kernel.run4(&samples, Some(&mut kept), &mut spectra);
            assert_eq!(kept, samples);
            let mut unkept = [Spectrum::default(); 4];
            kernel.run4(&samples, None, &mut unkept);
            assert_eq!(unkept, spectra);
            for (b, spectrum) in spectra.iter().enumerate() {
                let mut one = Spectrum::default();
                kernel.run(&samples[b * len..(b + 1) * len], None, &mut one);
                assert!((spectrum.energy - one.energy).abs() < 1e-4 * one.energy.max(1.0));
                for (x, y) in spectrum.bins.iter().zip(&one.bins) {
                    assert!((*x - *y).abs() < 1e-3, "len {len} block {b}");
                }
            }
        }
    }

    #[test]
    fn matches_naive_sum_for_every_path_and_length() {
        let freqs = [697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0];
        for len in [40usize, 41, 43, 80, 221] {
            let filters = freqs.map(|f| filter(f, 8000.0, len));
            let kernel = Kernel::new(&filters);
            let block: Vec<f32> = (0..len)
                .map(|n| ((n * 7919 % 1000) as f32 / 500.0 - 1.0) * 0.7)
                .collect();
            let mut fast = Spectrum::default();
            let mut kept = vec![0.0f32; len];
            kernel.run(&block, Some(&mut kept), &mut fast);
            assert_eq!(kept, block);
            let portable = dft::<false>(&block, &kernel.basis);
            let energy: f64 = block.iter().map(|&x| f64::from(x).powi(2)).sum();
            assert!((fast.energy - energy).abs() < 1e-4 * energy.max(1.0));
            for group in 0..2 {
                let want = (group * 4..group * 4 + 4)
                    .map(|k| fast.bins[k].norm_sqr())
                    .fold(0.0, f64::max);
                assert!((fast.peaks[group] - want).abs() <= 1e-9 * want.max(1.0));
            }
            for (k, g) in filters.iter().enumerate() {
                let want = naive(&block, g);
                assert!((fast.bins[k] - want).abs() < 1e-4, "len {len} bin {k}");
                let slow = Complex::new(
                    f64::from(portable.0[2 * k]),
                    f64::from(portable.0[2 * k + 1]),
                );
                assert!((slow - want).abs() < 1e-4, "len {len} bin {k} portable");
            }
        }
    }
}
