//! A radix-2 complex FFT of one fixed size, enough for short-time spectra.

/// An in-place iterative radix-2 FFT of a fixed power-of-two size.
#[derive(Debug, Clone)]
pub(crate) struct Fft {
    /// Each stage's twiddles `exp(-2πik/size)` for `k < size/2`, stages of size 4 and up one
    /// after the other (size 2's only twiddle is 1), real and imaginary parts apart: a stage's
    /// butterflies then read them in order, which lets the compiler vectorise them.
    twiddles_re: Vec<f32>,
    twiddles_im: Vec<f32>,
    /// Bit-reversed index of every position.
    reversed: Vec<usize>,
}

impl Fft {
    /// An FFT of size `n`, a power of two of at least 2.
    pub(crate) fn new(n: usize) -> Self {
        debug_assert!(n.is_power_of_two() && n >= 2);
        let bits = n.trailing_zeros();
        // one table for the largest stage; a stage of `size` takes every (n/size)-th entry
        let table: Vec<(f32, f32)> = (0..n / 2)
            .map(|k| {
                let angle = -std::f64::consts::TAU * k as f64 / n as f64;
                (angle.cos() as f32, angle.sin() as f32)
            })
            .collect();
        let (mut twiddles_re, mut twiddles_im) = (Vec::new(), Vec::new());
        let mut size = 4;
        while size <= n {
            let stride = n / size;
            for k in 0..size / 2 {
                let (wr, wi) = table[k * stride];
                twiddles_re.push(wr);
                twiddles_im.push(wi);
            }
            size *= 2;
        }
        let reversed = (0..n)
            .map(|i| i.reverse_bits() >> (usize::BITS - bits))
            .collect();
        Fft {
            twiddles_re,
            twiddles_im,
            reversed,
        }
    }

    /// Transforms `re`/`im` (each of the FFT's size) in place.
    pub(crate) fn transform(&self, re: &mut [f32], im: &mut [f32]) {
        let n = self.reversed.len();
        assert!(
            re.len() == n && im.len() == n,
            "both parts are the FFT's size"
        );
        for i in 0..n {
            let j = self.reversed[i];
            if i < j {
                re.swap(i, j);
                im.swap(i, j);
            }
        }
        // size 2: the twiddle is 1
        for (re, im) in re.chunks_exact_mut(2).zip(im.chunks_exact_mut(2)) {
            let (tr, ti) = (re[1], im[1]);
            re[1] = re[0] - tr;
            im[1] = im[0] - ti;
            re[0] += tr;
            im[0] += ti;
        }
        let mut size = 4;
        let mut offset = 0;
        while size <= n {
            let half = size / 2;
            let (wr, wi) = (
                &self.twiddles_re[offset..offset + half],
                &self.twiddles_im[offset..offset + half],
            );
            for (re, im) in re.chunks_exact_mut(size).zip(im.chunks_exact_mut(size)) {
                let (re_a, re_b) = re.split_at_mut(half);
                let (im_a, im_b) = im.split_at_mut(half);
                butterflies(re_a, im_a, re_b, im_b, wr, wi);
            }
            offset += half;
            size *= 2;
        }
    }
}

/// One block's butterflies: `a` and `b` are its two halves, `w` the stage's twiddles, all of
/// one length (indexed alike, so that the loop needs no bounds checks and vectorises).
fn butterflies(
    re_a: &mut [f32],
    im_a: &mut [f32],
    re_b: &mut [f32],
    im_b: &mut [f32],
    wr: &[f32],
    wi: &[f32],
) {
    let n = wr.len();
    let (re_a, im_a, re_b, im_b, wi) = (
        &mut re_a[..n],
        &mut im_a[..n],
        &mut re_b[..n],
        &mut im_b[..n],
        &wi[..n],
    );
    for k in 0..n {
        let tr = re_b[k] * wr[k] - im_b[k] * wi[k];
        let ti = re_b[k] * wi[k] + im_b[k] * wr[k];
        re_b[k] = re_a[k] - tr;
        im_b[k] = im_a[k] - ti;
        re_a[k] += tr;
        im_a[k] += ti;
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

    /// The textbook loop, one butterfly at a time with the twiddle of the largest stage's
    /// table at a stride: what the stages in order must reproduce.
    fn textbook(re: &mut [f32], im: &mut [f32]) {
        let n = re.len();
        let bits = n.trailing_zeros();
        for i in 0..n {
            let j = i.reverse_bits() >> (usize::BITS - bits);
            if i < j {
                re.swap(i, j);
                im.swap(i, j);
            }
        }
        let mut size = 2;
        while size <= n {
            let (half, stride) = (size / 2, n / size);
            for start in (0..n).step_by(size) {
                for k in 0..half {
                    let angle = -std::f64::consts::TAU * (k * stride) as f64 / n as f64;
                    let (wr, wi) = (angle.cos() as f32, angle.sin() as f32);
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

    #[test]
    fn the_stages_give_the_textbook_loops_powers_to_the_bit() {
        for n in [2, 4, 8, 512] {
            let fft = Fft::new(n);
            let mut seed = 7u32;
            let mut next = || {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 8) as f32 / 16_777_216.0 - 0.5
            };
            let re: Vec<f32> = (0..n).map(|_| next()).collect();
            let im: Vec<f32> = (0..n).map(|_| next()).collect();
            let (mut re1, mut im1) = (re.clone(), im.clone());
            fft.transform(&mut re1, &mut im1);
            let (mut re2, mut im2) = (re, im);
            textbook(&mut re2, &mut im2);
            for k in 0..n {
                // equal but for the sign of a zero, which no power sees
                assert_eq!(
                    re1[k].abs().to_bits(),
                    re2[k].abs().to_bits(),
                    "{n}: re {k}"
                );
                assert_eq!(
                    im1[k].abs().to_bits(),
                    im2[k].abs().to_bits(),
                    "{n}: im {k}"
                );
            }
        }
    }
}
