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
#[derive(Debug, Clone)]
pub(crate) struct Kernel {
    /// `basis[n] = [re g_0[n], im g_0[n], re g_1[n], im g_1[n], ..]`: the outputs come out in
    /// the memory order of `[Complex; BINS]`.
    basis: Vec<[f32; OUT]>,
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

impl Kernel {
    /// A kernel applying `filters` (all of the same length, the block length).
    pub(crate) fn new(filters: &[Vec<Complex>; BINS]) -> Kernel {
        let len = filters[0].len();
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
        Kernel {
            basis,
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
        let len = self.basis.len();
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
                dft4_avx512(samples, &self.basis, keep, spectra);
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
        assert_eq!(
            block.len(),
            self.basis.len(),
            "a block is one kernel length"
        );
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
                dft_avx512(block, &self.basis, keep, spectrum);
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

/// The kernel in AVX-512: each of four accumulators holds all sixteen outputs and takes every
/// fourth sample (one broadcast-multiply-add per sample); [`finish_avx512`] adds the energy
/// and widens the outputs into the spectrum.
///
/// # Safety
/// The CPU must support AVX-512F, and `basis.len() == block.len() == keep.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
unsafe fn dft_avx512(
    block: &[f32],
    basis: &[[f32; OUT]],
    keep: Option<&mut [f32]>,
    spectrum: &mut Spectrum,
) {
    use std::arch::x86_64::{
        _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps,
    };
    let keep = keep.map(|k| k.as_mut_ptr());
    let n = block.len();
    let x = block.as_ptr();
    let b = basis.as_ptr().cast::<f32>();
    // SAFETY (whole body): every pointer offset stays below `n` samples and `n` basis rows of
    // `OUT` floats, which the caller guarantees exist; `Complex` is `repr(C)` of two `f64`, so
    // `[Complex; BINS]` is sixteen contiguous `f64`.
    unsafe {
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        while i + 4 <= n {
            for (s, a) in acc.iter_mut().enumerate() {
                let sample = _mm512_set1_ps(*x.add(i + s));
                *a = _mm512_fmadd_ps(sample, _mm512_loadu_ps(b.add((i + s) * OUT)), *a);
            }
            i += 4;
        }
        while i < n {
            let sample = _mm512_set1_ps(*x.add(i));
            acc[0] = _mm512_fmadd_ps(sample, _mm512_loadu_ps(b.add(i * OUT)), acc[0]);
            i += 1;
        }
        let sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
        finish_avx512(sum, x, n, keep, spectrum);
    }
}

/// Completes one block's spectrum from its summed outputs: the block's energy from the sum of
/// squares (whose loads also store the samples into `keep`), and the outputs widened to `f64`
/// straight into the spectrum.
///
/// # Safety
/// The CPU must support AVX-512F; `x` (and `keep`, if given) point to `n` samples.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
unsafe fn finish_avx512(
    sum: std::arch::x86_64::__m512,
    x: *const f32,
    n: usize,
    keep: Option<*mut f32>,
    spectrum: &mut Spectrum,
) {
    use std::arch::x86_64::{
        _mm256_castpd_ps, _mm512_castps_pd, _mm512_castps512_ps256, _mm512_cvtps_pd,
        _mm512_extractf64x4_pd, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_mask_loadu_ps,
        _mm512_mask_storeu_ps, _mm512_reduce_add_ps, _mm512_setzero_ps, _mm512_storeu_pd,
        _mm512_storeu_ps,
    };
    // SAFETY (whole body): offsets stay below `n` samples, which the caller guarantees;
    // `Complex` is `repr(C)` of two `f64`, so `[Complex; BINS]` is sixteen contiguous `f64`.
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
        _mm512_add_pd, _mm512_mul_pd, _mm512_permute_pd, _mm512_reduce_max_pd,
    };
    // squares, plus the squares with each (re, im) pair swapped: every lane holds its bin's
    // power
    let sq_low = _mm512_mul_pd(low, low);
    let sq_high = _mm512_mul_pd(high, high);
    let pow_low = _mm512_add_pd(sq_low, _mm512_permute_pd(sq_low, 0b0101_0101));
    let pow_high = _mm512_add_pd(sq_high, _mm512_permute_pd(sq_high, 0b0101_0101));
    [
        _mm512_reduce_max_pd(pow_low),
        _mm512_reduce_max_pd(pow_high),
    ]
}

/// Four blocks at once in AVX-512: each basis row is loaded once for four multiply-adds, and
/// two accumulators per block (even and odd samples) keep the chains short.
///
/// # Safety
/// The CPU must support AVX-512F; `samples` and `keep` (if given) hold four blocks of
/// `basis.len()` samples and `spectra` four spectra.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
unsafe fn dft4_avx512(
    samples: &[f32],
    basis: &[[f32; OUT]],
    keep: Option<&mut [f32]>,
    spectra: &mut [Spectrum],
) {
    use std::arch::x86_64::{
        _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps,
    };
    let n = basis.len();
    let x = samples.as_ptr();
    let b = basis.as_ptr().cast::<f32>();
    let k = keep.map(|k| k.as_mut_ptr());
    // SAFETY (whole body): offsets stay below four blocks of `n` samples and `n` basis rows of
    // `OUT` floats, which the caller guarantees; `Complex` is `repr(C)` of two `f64`.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); 2]; 4];
        let mut i = 0;
        while i + 2 <= n {
            let row0 = _mm512_loadu_ps(b.add(i * OUT));
            let row1 = _mm512_loadu_ps(b.add((i + 1) * OUT));
            for (blk, a) in acc.iter_mut().enumerate() {
                let base = blk * n + i;
                a[0] = _mm512_fmadd_ps(_mm512_set1_ps(*x.add(base)), row0, a[0]);
                a[1] = _mm512_fmadd_ps(_mm512_set1_ps(*x.add(base + 1)), row1, a[1]);
            }
            i += 2;
        }
        if i < n {
            let row = _mm512_loadu_ps(b.add(i * OUT));
            for (blk, a) in acc.iter_mut().enumerate() {
                a[0] = _mm512_fmadd_ps(_mm512_set1_ps(*x.add(blk * n + i)), row, a[0]);
            }
        }
        for (blk, (a, spectrum)) in acc.iter().zip(spectra.iter_mut()).enumerate() {
            let sum = _mm512_add_ps(a[0], a[1]);
            let start = blk * n;
            finish_avx512(sum, x.add(start), n, k.map(|k| k.add(start)), spectrum);
        }
    }
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
