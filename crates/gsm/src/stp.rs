//! Short-term (vocal tract) synthesis filtering: decoding the log-area ratios (GSM 06.10
//! §4.2.8), interpolating them across the frame boundary and turning them into reflection
//! coefficients (§4.2.9, §4.3.3), and the lattice synthesis filter (§4.3.4).

use crate::SAMPLES_PER_FRAME;
use crate::arith::{add, mult_r, sub};

/// Order of the LPC model: eight reflection coefficients.
const ORDER: usize = 8;
/// Offsets MIC that make the coded LARs unsigned (table 4.1).
const MIC: [i16; ORDER] = [-32, -32, -16, -16, -8, -8, -4, -4];
/// Quantiser offsets B, scaled as in table 4.1.
const B: [i16; ORDER] = [0, 0, 2048, -2560, 94, -1792, -341, -1144];
/// Inverses 1/A of the quantiser slopes A of table 4.1, as used by §4.2.8.
const INVA: [i16; ORDER] = [13107, 13107, 13107, 13107, 19223, 17476, 31454, 29708];
/// A decoded LAR sits at bit 10 before the inverse slope is applied (§4.2.8).
const LAR_SHIFT: u32 = 10;

/// The piecewise-linear LAR-to-reflection-coefficient map of §4.2.9.2: below the first knee
/// r = 2|LAR|, below the second r = |LAR| + KNEE_1_OFFSET, above it r = |LAR|/4 + KNEE_2_OFFSET.
const KNEE_1: i16 = 11059;
const KNEE_1_OFFSET: i16 = 11059;
const KNEE_2: i16 = 20070;
const KNEE_2_OFFSET: i16 = 26112;

/// Where the filter coefficients change within a frame, and how much of the previous frame's
/// LARs each stretch still uses (§4.2.9.1). The first 40 samples blend from the old set to the
/// new one so the filter does not jump at the frame boundary.
#[derive(Debug, Clone, Copy)]
enum Blend {
    /// Samples 0..13: 3/4 previous + 1/4 current.
    MostlyPrevious,
    /// Samples 13..27: 1/2 previous + 1/2 current.
    Half,
    /// Samples 27..40: 1/4 previous + 3/4 current.
    MostlyCurrent,
    /// Samples 40..160: current only.
    Current,
}

/// The stretches of a frame with their blends, as sample ranges.
const SEGMENTS: [(usize, usize, Blend); 4] = [
    (0, 13, Blend::MostlyPrevious),
    (13, 27, Blend::Half),
    (27, 40, Blend::MostlyCurrent),
    (40, SAMPLES_PER_FRAME, Blend::Current),
];

impl Blend {
    /// Interpolates one LAR between frames with the standard's shifts and saturating adds; the
    /// rounding of each `>>` is part of the bit-exact result.
    fn apply(self, previous: i16, current: i16) -> i16 {
        match self {
            Self::MostlyPrevious => add(add(previous >> 2, current >> 2), previous >> 1),
            Self::Half => add(previous >> 1, current >> 1),
            Self::MostlyCurrent => add(add(previous >> 2, current >> 2), current >> 1),
            Self::Current => current,
        }
    }
}

/// Decodes the coded log-area ratios LARc into LAR'' (§4.2.8).
fn decode_lars(coded: &[u8; ORDER]) -> [i16; ORDER] {
    let mut lars = [0; ORDER];
    for (i, lar) in lars.iter_mut().enumerate() {
        // LARc + MIC is at most 31 in magnitude, so the shift stays within 16 bits.
        let centred = add(i16::from(coded[i]), MIC[i]) << LAR_SHIFT;
        let unbiased = sub(centred, B[i] << 1);
        let scaled = mult_r(INVA[i], unbiased);
        *lar = add(scaled, scaled);
    }
    lars
}

/// Converts an interpolated LAR' into a reflection coefficient r' (§4.2.9.2).
fn reflection_coefficient(lar: i16) -> i16 {
    let magnitude = lar.saturating_abs();
    let r = if magnitude < KNEE_1 {
        magnitude << 1
    } else if magnitude < KNEE_2 {
        add(magnitude, KNEE_1_OFFSET)
    } else {
        add(magnitude >> 2, KNEE_2_OFFSET)
    };
    if lar < 0 { sub(0, r) } else { r }
}

/// State of the short-term synthesis filter.
#[derive(Debug, Clone, Default)]
pub(crate) struct ShortTermSynthesis {
    /// LAR'' of the previous frame, for interpolation.
    previous_lars: [i16; ORDER],
    /// Lattice delay line v\[0..8\]; v\[8\] is written but never read back.
    v: [i16; ORDER + 1],
}

impl ShortTermSynthesis {
    /// Filters one frame of reconstructed residual in place into the synthesised signal sr.
    pub(crate) fn filter(
        &mut self,
        coded_lars: &[u8; ORDER],
        signal: &mut [i16; SAMPLES_PER_FRAME],
    ) {
        let lars = decode_lars(coded_lars);
        for (start, end, blend) in SEGMENTS {
            let mut rp = [0; ORDER];
            for ((r, &previous), &current) in rp.iter_mut().zip(&self.previous_lars).zip(&lars) {
                *r = reflection_coefficient(blend.apply(previous, current));
            }
            for sample in &mut signal[start..end] {
                *sample = self.lattice(&rp, *sample);
            }
        }
        self.previous_lars = lars;
    }

    /// Runs one sample through the all-pole lattice, highest order first (§4.3.4).
    fn lattice(&mut self, rp: &[i16; ORDER], input: i16) -> i16 {
        let mut sri = input;
        for i in (0..ORDER).rev() {
            sri = sub(sri, mult_r(rp[i], self.v[i]));
            self.v[i + 1] = add(self.v[i], mult_r(rp[i], sri));
        }
        self.v[0] = sri;
        sri
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lars_match_the_real_valued_quantiser() {
        // Naive reference: LAR = (LARc + MIC - B/512) / (A/1024), with LAR'' in Q14. A is
        // table 4.1's slope, of which INVA is the fixed-point inverse.
        const A: [f64; ORDER] = [20480., 20480., 20480., 20480., 13964., 15360., 8534., 9036.];
        const WIDTH: [u32; ORDER] = [6, 6, 5, 5, 4, 4, 3, 3];
        for code in 0..64u8 {
            let coded = WIDTH.map(|w| code & ((1 << w) - 1) as u8);
            let lars = decode_lars(&coded);
            for i in 0..ORDER {
                let centred = f64::from(coded[i]) + f64::from(MIC[i]) - f64::from(B[i]) / 512.0;
                let expected = 16384.0 * centred / (A[i] / 1024.0);
                let got = f64::from(lars[i]);
                assert!(
                    (got - expected).abs() <= 3.0,
                    "LAR{i} code {}: {got} vs {expected}",
                    coded[i]
                );
            }
        }
    }

    #[test]
    fn reflection_map_is_odd_monotonic_and_bounded() {
        let mut last = i16::MIN;
        for lar in (i16::MIN..=i16::MAX).step_by(7) {
            let r = reflection_coefficient(lar);
            assert!(r >= last, "not monotonic at {lar}");
            assert!(r > i16::MIN, "r must never be -1 exactly");
            if lar > i16::MIN {
                assert_eq!(reflection_coefficient(-lar), -r);
            }
            last = r;
        }
        assert_eq!(reflection_coefficient(KNEE_1 - 1), 2 * (KNEE_1 - 1));
        assert_eq!(reflection_coefficient(KNEE_1), KNEE_1 + KNEE_1_OFFSET);
        assert_eq!(reflection_coefficient(KNEE_2), KNEE_2 / 4 + KNEE_2_OFFSET);
        assert_eq!(reflection_coefficient(i16::MAX), i16::MAX);
    }

    #[test]
    fn blends_move_from_previous_to_current() {
        let (p, c) = (4000, -8000);
        assert_eq!(Blend::MostlyPrevious.apply(p, c), 1000);
        assert_eq!(Blend::Half.apply(p, c), -2000);
        assert_eq!(Blend::MostlyCurrent.apply(p, c), -5000);
        assert_eq!(Blend::Current.apply(p, c), c);
    }

    #[test]
    fn zero_coefficients_pass_the_signal_through() {
        let mut stp = ShortTermSynthesis::default();
        for s in [-8000, 0, 123, i16::MAX, i16::MIN] {
            assert_eq!(stp.lattice(&[0; ORDER], s), s);
        }
    }

    #[test]
    fn first_stage_is_a_one_pole_recursion() {
        // With only r1 = 0.5 the lattice reduces to y[n] = x[n] - 0.5 y[n-1].
        let mut stp = ShortTermSynthesis::default();
        let mut rp = [0; ORDER];
        rp[0] = 16384;
        let out: Vec<i16> = [16384, 0, 0, 0]
            .iter()
            .map(|&x| stp.lattice(&rp, x))
            .collect();
        assert_eq!(out, [16384, -8192, 4096, -2048]);
    }
}
