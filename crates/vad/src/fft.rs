//! A radix-2 complex FFT of one fixed size, enough for short-time spectra.

/// An in-place iterative radix-2 FFT of a fixed power-of-two size.
#[derive(Debug, Clone)]
pub(crate) struct Fft {
    /// `exp(-2πik/n)` for `k < n/2`.
    twiddles: Vec<(f32, f32)>,
    /// Bit-reversed index of every position.
    reversed: Vec<usize>,
}

impl Fft {
    /// An FFT of size `n`, a power of two of at least 2.
    pub(crate) fn new(n: usize) -> Self {
        debug_assert!(n.is_power_of_two() && n >= 2);
        let bits = n.trailing_zeros();
        let twiddles = (0..n / 2)
            .map(|k| {
                let angle = -std::f64::consts::TAU * k as f64 / n as f64;
                (angle.cos() as f32, angle.sin() as f32)
            })
            .collect();
        let reversed = (0..n)
            .map(|i| i.reverse_bits() >> (usize::BITS - bits))
            .collect();
        Fft { twiddles, reversed }
    }

    /// Transforms `re`/`im` (each of the FFT's size) in place.
    pub(crate) fn transform(&self, re: &mut [f32], im: &mut [f32]) {
        let n = self.reversed.len();
        for i in 0..n {
            let j = self.reversed[i];
            if i < j {
                re.swap(i, j);
                im.swap(i, j);
            }
        }
        let mut size = 2;
        while size <= n {
            let half = size / 2;
            let stride = n / size;
            for start in (0..n).step_by(size) {
                for k in 0..half {
                    let (wr, wi) = self.twiddles[k * stride];
                    let (a, b) = (start + k, start + k + half);
                    let tr = re[b] * wr - im[b] * wi;
                    let ti = re[b] * wi + im[b] * wr;
                    re[b] = re[a] - tr;
                    im[b] = im[a] - ti;
                    re[a] += tr;
                    im[a] += ti;
                }
            }
            size *= 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_naive_dft() {
        let n = 64;
        let signal: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let (mut re, mut im) = (signal.clone(), vec![0.0f32; n]);
        Fft::new(n).transform(&mut re, &mut im);
        for k in 0..n {
            let (mut want_re, mut want_im) = (0.0f64, 0.0f64);
            for (t, &x) in signal.iter().enumerate() {
                let angle = -std::f64::consts::TAU * (k * t) as f64 / n as f64;
                want_re += f64::from(x) * angle.cos();
                want_im += f64::from(x) * angle.sin();
            }
            assert!((f64::from(re[k]) - want_re).abs() < 1e-3, "bin {k}");
            assert!((f64::from(im[k]) - want_im).abs() < 1e-3, "bin {k}");
        }
    }
}
