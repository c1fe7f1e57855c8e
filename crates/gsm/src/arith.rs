//! The 16-bit fixed-point primitives of GSM 06.10 §4.1.
//!
//! Bit-exactness depends on doing every step the way the standard does: 16-bit results saturate
//! instead of wrapping, and products round at bit 15. Plain `+`, `-` and `*` on `i16` would
//! either wrap in release builds or panic with overflow checks on, so all codec arithmetic goes
//! through these helpers.

/// Rounding constant added before the Q15 product is shifted down (half of 2^15).
const Q15_ROUND: i32 = 1 << 14;

/// `add(a, b)`: 16-bit addition, saturated to the `i16` range.
pub(crate) fn add(a: i16, b: i16) -> i16 {
    a.saturating_add(b)
}

/// `sub(a, b)`: 16-bit subtraction, saturated to the `i16` range.
pub(crate) fn sub(a: i16, b: i16) -> i16 {
    a.saturating_sub(b)
}

/// `mult_r(a, b)`: Q15 product, rounded to nearest.
pub(crate) fn mult_r(a: i16, b: i16) -> i16 {
    // (-1) * (-1) is the only Q15 product that does not fit; the standard pins it to the largest
    // positive value.
    if a == i16::MIN && b == i16::MIN {
        return i16::MAX;
    }
    let product = (i32::from(a) * i32::from(b) + Q15_ROUND) >> 15;
    // Every other pair of 16-bit operands gives a value within [-32767, 32767] here.
    product as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_and_sub_saturate() {
        assert_eq!(add(30_000, 30_000), i16::MAX);
        assert_eq!(add(-30_000, -30_000), i16::MIN);
        assert_eq!(add(-5, 3), -2);
        assert_eq!(sub(-30_000, 30_000), i16::MIN);
        assert_eq!(sub(30_000, -30_000), i16::MAX);
        assert_eq!(sub(0, i16::MIN), i16::MAX);
    }

    #[test]
    fn mult_r_rounds_to_nearest() {
        // 0.5 * 0.5 = 0.25
        assert_eq!(mult_r(16_384, 16_384), 8_192);
        // 1 * 3 / 2^15 rounds to 0, 3 * 16384 / 2^15 = 1.5 rounds up to 2
        assert_eq!(mult_r(1, 3), 0);
        assert_eq!(mult_r(3, 16_384), 2);
        // -1.5 rounds towards +inf, as (x + 2^14) >> 15 does
        assert_eq!(mult_r(-3, 16_384), -1);
        assert_eq!(mult_r(i16::MIN, i16::MIN), i16::MAX);
        assert_eq!(mult_r(i16::MIN, i16::MAX), -i16::MAX);
    }

    #[test]
    fn mult_r_matches_wide_reference() {
        // Against a naive i64 formula over a grid that covers both signs and the extremes.
        let values = (-32_768..=32_767)
            .step_by(997)
            .chain([i16::MIN, -1, 0, 1, i16::MAX]);
        let values: Vec<i16> = values.collect();
        for &a in &values {
            for &b in &values {
                let wide = (i64::from(a) * i64::from(b) + 16_384) >> 15;
                let expected = wide.clamp(i64::from(i16::MIN), i64::from(i16::MAX));
                assert_eq!(i64::from(mult_r(a, b)), expected, "{a} * {b}");
            }
        }
    }
}
