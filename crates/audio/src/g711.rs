//! G.711 µ-law and A-law companding, the codecs of most call recordings. Written from the
//! segment tables of ITU-T G.711.

/// µ-law bias added before finding the segment.
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude µ-law encodes before clipping.
const ULAW_CLIP: i32 = 32635;

/// Encodes a 16-bit sample as µ-law.
pub fn ulaw_encode(sample: i16) -> u8 {
    let x = i32::from(sample);
    let sign = if x < 0 { 0x80 } else { 0 };
    let magnitude = x.abs().min(ULAW_CLIP) + ULAW_BIAS;
    let exponent = (31 - magnitude.leading_zeros() as i32 - 7).clamp(0, 7);
    let mantissa = (magnitude >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// Decodes a µ-law byte to a 16-bit sample.
pub fn ulaw_decode(code: u8) -> i16 {
    let u = i32::from(!code);
    let exponent = (u >> 4) & 0x07;
    let mantissa = u & 0x0F;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    (if u & 0x80 != 0 { -magnitude } else { magnitude }) as i16
}

/// Encodes a 16-bit sample as A-law.
pub fn alaw_encode(sample: i16) -> u8 {
    let x = i32::from(sample);
    let (magnitude, mask) = if x >= 0 { (x, 0xD5) } else { (-x - 1, 0x55) };
    let code = if magnitude < 256 {
        magnitude >> 4
    } else {
        let segment = 31 - magnitude.leading_zeros() as i32 - 7;
        (segment << 4) | ((magnitude >> (segment + 3)) & 0x0F)
    };
    (code ^ mask) as u8
}

/// Decodes an A-law byte to a 16-bit sample.
pub fn alaw_decode(code: u8) -> i16 {
    let a = i32::from(code ^ 0x55);
    let segment = (a >> 4) & 0x07;
    let mantissa = a & 0x0F;
    let magnitude = if segment == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (segment - 1)
    };
    (if a & 0x80 != 0 { magnitude } else { -magnitude }) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes() {
        // silence and full scale, from the G.711 tables
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_encode(32767), 0x80);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0xAA), 32256);
    }

    #[test]
    fn round_trip_error_is_within_half_a_step() {
        for x in (-32768i32..=32767).step_by(7) {
            let x = x as i16;
            for (law, decoded) in [
                ("ulaw", ulaw_decode(ulaw_encode(x))),
                ("alaw", alaw_decode(alaw_encode(x))),
            ] {
                let err = (i32::from(decoded) - i32::from(x)).abs();
                // the steps grow with the magnitude: 1/32 of it plus the smallest step
                let limit = i32::from(x).abs() / 32 + 16;
                assert!(err <= limit, "{law} {x} -> {decoded}");
            }
        }
    }

    #[test]
    fn every_code_decodes_and_reencodes_to_itself() {
        for code in 0..=255u8 {
            // µ-law has a negative zero (0x7F) that decodes to the same 0 as 0xFF
            if code != 0x7F {
                assert_eq!(ulaw_encode(ulaw_decode(code)), code, "ulaw {code:#x}");
            }
            assert_eq!(alaw_encode(alaw_decode(code)), code, "alaw {code:#x}");
        }
    }
}
