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
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Spectrum {
    pub(crate) bins: [Complex; BINS],
    pub(crate) energy: f64,
}

/// Precomputed basis for one block length and sample rate.
#[derive(Debug, Clone)]
pub(crate) struct Kernel {
    /// `basis[n] = [re g_0[n] .. re g_7[n], im g_0[n] .. im g_7[n]]`
    basis: Vec<[f32; OUT]>,
    #[cfg(target_arch = "x86_64")]
    fma: bool,
}

impl Kernel {
    /// A kernel applying `filters` (all of the same length, the block length).
    pub(crate) fn new(filters: &[Vec<Complex>; BINS]) -> Kernel {
        let len = filters[0].len();
        let basis = (0..len)
            .map(|n| {
                let mut row = [0.0f32; OUT];
                for (k, g) in filters.iter().enumerate() {
                    row[k] = g[n].re as f32;
                    row[BINS + k] = g[n].im as f32;
                }
                row
            })
            .collect();
        Kernel {
            basis,
            #[cfg(target_arch = "x86_64")]
            fma: std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma"),
        }
    }

    /// Analyses one block; `block.len()` must equal the kernel's block length.
    pub(crate) fn run(&self, block: &[f32]) -> Spectrum {
        debug_assert_eq!(block.len(), self.basis.len());
        #[cfg(target_arch = "x86_64")]
        let (out, energy) = if self.fma {
            // SAFETY: `fma` is true only when the CPU reported AVX2 and FMA at construction.
            #[allow(unsafe_code)]
            unsafe {
                dft_avx2_fma(block, &self.basis)
            }
        } else {
            dft::<false>(block, &self.basis)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let (out, energy) = dft::<false>(block, &self.basis);
        let mut spectrum = Spectrum {
            energy: f64::from(energy),
            ..Spectrum::default()
        };
        for (k, bin) in spectrum.bins.iter_mut().enumerate() {
            *bin = Complex::new(f64::from(out[k]), f64::from(out[BINS + k]));
        }
        spectrum
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dft_avx2_fma(block: &[f32], basis: &[[f32; OUT]]) -> ([f32; OUT], f32) {
    dft::<true>(block, basis)
}

#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, acc: f32) -> f32 {
    // without hardware FMA, mul_add is a slow library call
    if FMA { a.mul_add(b, acc) } else { a * b + acc }
}

/// `out[j] = sum_n block[n] * basis[n][j]`, and the block's energy.
///
/// Four interleaved accumulator sets keep the multiply-add chains short enough that the
/// processor's FMA units stay busy; each set is 16 lanes wide, two AVX registers.
#[inline(always)]
fn dft<const FMA: bool>(block: &[f32], basis: &[[f32; OUT]]) -> ([f32; OUT], f32) {
    let mut acc = [[0.0f32; OUT]; 4];
    let mut energy = [0.0f32; 4];
    let mut samples = block.chunks_exact(4);
    let mut rows = basis.chunks_exact(4);
    for (x4, b4) in (&mut samples).zip(&mut rows) {
        for s in 0..4 {
            let x = x4[s];
            energy[s] = madd::<FMA>(x, x, energy[s]);
            for j in 0..OUT {
                acc[s][j] = madd::<FMA>(x, b4[s][j], acc[s][j]);
            }
        }
    }
    for (&x, b) in samples.remainder().iter().zip(rows.remainder()) {
        energy[0] = madd::<FMA>(x, x, energy[0]);
        for j in 0..OUT {
            acc[0][j] = madd::<FMA>(x, b[j], acc[0][j]);
        }
    }
    let mut out = [0.0f32; OUT];
    for (j, o) in out.iter_mut().enumerate() {
        *o = (acc[0][j] + acc[1][j]) + (acc[2][j] + acc[3][j]);
    }
    (out, (energy[0] + energy[1]) + (energy[2] + energy[3]))
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
            .fold(Complex::default(), |acc, (&x, &g)| acc + g.scale(f64::from(x)))
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
            let fast = kernel.run(&block);
            let portable = dft::<false>(&block, &kernel.basis);
            let energy: f64 = block.iter().map(|&x| f64::from(x).powi(2)).sum();
            assert!((fast.energy - energy).abs() < 1e-4 * energy.max(1.0));
            for (k, g) in filters.iter().enumerate() {
                let want = naive(&block, g);
                assert!((fast.bins[k] - want).abs() < 1e-4, "len {len} bin {k}");
                let slow = Complex::new(f64::from(portable.0[k]), f64::from(portable.0[BINS + k]));
                assert!((slow - want).abs() < 1e-4, "len {len} bin {k} portable");
            }
        }
    }
}
