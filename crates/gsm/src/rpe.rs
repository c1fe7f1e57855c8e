//! RPE decoding (GSM 06.10 §4.3.1): the 13 coded pulses of a sub-segment back to a 40-sample
//! excitation, by APCM inverse quantisation (§4.2.16) and grid positioning (§4.2.17).

use crate::arith::{add, mult_r};
use crate::frame::{PULSES, SubframeParams};

/// Samples per sub-segment.
pub(crate) const SUBFRAME_LEN: usize = 40;
/// Spacing of the regular pulse grid: every third sample carries a pulse (§4.2.17).
const GRID_SPACING: usize = 3;
/// Mantissa multipliers FAC\[0..7\] (table 4.5): (9 + i)/8 in Q14, one LSB short so that the
/// largest fits in 16 bits. (The encoder divides by NRFAC from the same table; the decoder must
/// multiply by FAC.)
const FAC: [i16; 8] = [18431, 20479, 22527, 24575, 26623, 28671, 30719, 32767];
/// Largest xmaxc whose exponent is still zero (§4.2.15).
const LINEAR_XMAX: i16 = 15;
/// Exponent of a zero block maximum (§4.2.15).
const ZERO_XMAX_EXPONENT: i16 = -4;
/// Mantissa index of a zero block maximum, before normalisation (§4.2.15).
const ZERO_XMAX_MANTISSA: usize = 7;
/// Largest scale exponent (xmaxc = 63 gives 6); the inverse quantiser shifts by 6 - exp.
const MAX_EXPONENT: i16 = 6;
/// The 3-bit pulse codes are offset binary around this value (§4.2.16).
const PULSE_OFFSET: i16 = 7;
/// Pulse levels are placed at bit 12 before scaling (§4.2.16).
const PULSE_SHIFT: u32 = 12;

/// Splits the coded block maximum into the exponent and normalised mantissa the encoder used
/// (§4.2.15); the decoder repeats the encoder's computation so both scale alike.
fn exponent_and_mantissa(xmaxc: u8) -> (i16, usize) {
    let xmaxc = i16::from(xmaxc);
    let mut exp = if xmaxc > LINEAR_XMAX {
        (xmaxc >> 3) - 1
    } else {
        0
    };
    let mut mant = xmaxc - (exp << 3);
    if mant == 0 {
        return (ZERO_XMAX_EXPONENT, ZERO_XMAX_MANTISSA);
    }
    // Small maxima have no implied leading bit; shift one in and lower the exponent to match.
    while mant <= 7 {
        mant = (mant << 1) | 1;
        exp -= 1;
    }
    // mant is now in 8..=15 because xmaxc has at most 6 bits.
    (exp, usize::from((mant - 8) as u8))
}

/// Decodes one sub-segment's RPE sequence into its excitation signal erp.
pub(crate) fn decode(sub: &SubframeParams) -> [i16; SUBFRAME_LEN] {
    let (exp, mant) = exponent_and_mantissa(sub.xmax);
    let scale = FAC[mant];
    // exp lies in -4..=6, so the shift lies in 0..=10.
    let shift = u32::from((MAX_EXPONENT - exp) as u16);
    // asl(1, shift - 1) in the standard; with shift 0 that is a right shift of 1, i.e. 0.
    let round = if shift == 0 { 0 } else { 1 << (shift - 1) };

    let mut erp = [0; SUBFRAME_LEN];
    let positions = erp
        .iter_mut()
        .skip(usize::from(sub.grid))
        .step_by(GRID_SPACING);
    for (slot, &code) in positions.zip(&sub.pulses).take(PULSES) {
        let level = ((i16::from(code) << 1) - PULSE_OFFSET) << PULSE_SHIFT;
        *slot = add(mult_r(scale, level), round) >> shift;
    }
    erp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponent_and_mantissa_cover_the_coded_range() {
        assert_eq!(exponent_and_mantissa(0), (-4, 7));
        assert_eq!(exponent_and_mantissa(1), (-3, 7));
        assert_eq!(exponent_and_mantissa(8), (0, 0));
        assert_eq!(exponent_and_mantissa(15), (0, 7));
        assert_eq!(exponent_and_mantissa(16), (1, 0));
        assert_eq!(exponent_and_mantissa(63), (6, 7));
    }

    #[test]
    fn fac_is_the_mantissa_in_q14() {
        for (i, &fac) in FAC.iter().enumerate() {
            let nine_plus_i = i32::try_from(9 + i).expect("small");
            assert_eq!(i32::from(fac), 2048 * nine_plus_i - 1);
        }
    }

    #[test]
    fn pulses_land_on_the_chosen_grid() {
        for grid in 0..4u8 {
            let sub = SubframeParams {
                grid,
                xmax: 40,
                pulses: [7; PULSES],
                ..Default::default()
            };
            let erp = decode(&sub);
            for (k, &x) in erp.iter().enumerate() {
                let on_grid = k >= usize::from(grid) && (k - usize::from(grid)) % 3 == 0;
                assert_eq!(
                    x != 0,
                    on_grid && k < usize::from(grid) + 3 * PULSES,
                    "k {k}"
                );
            }
        }
    }

    #[test]
    fn levels_are_symmetric_and_scale_with_xmax() {
        // Codes 0 and 7 are the most negative and most positive levels, mirror images up to
        // the rounding offset.
        let low = SubframeParams {
            xmax: 63,
            pulses: [0; PULSES],
            ..Default::default()
        };
        let high = SubframeParams {
            xmax: 63,
            pulses: [7; PULSES],
            ..Default::default()
        };
        let (lo, hi) = (decode(&low)[0], decode(&high)[0]);
        assert!(lo < 0 && hi > 0);
        assert!((i32::from(lo) + i32::from(hi)).abs() <= 1, "{lo} {hi}");
        // xmaxc 63 is the largest maximum: 28672 * 32767 / 32768, rounded
        assert_eq!(hi, 28671);
        let quieter = SubframeParams { xmax: 55, ..high };
        // One exponent step down (same mantissa) halves the level, with rounding.
        assert_eq!(decode(&quieter)[0], (hi + 1) / 2);
    }
}
