//! Unpacking the 76 parameters of one 260-bit frame (GSM 06.10 §1.7, table 1.1).
//!
//! Both framings carry the parameters in the same order and with the same widths; they differ
//! only in how bits fill bytes. The raw `.gsm` framing writes each parameter most significant
//! bit first after a 4-bit magic nibble; WAV49 packs two frames back to back, least significant
//! bit first, with no magic.

/// Widths of the eight coded log-area ratios LARc\[1..8\] (table 1.1).
const LAR_BITS: [u32; 8] = [6, 6, 5, 5, 4, 4, 3, 3];
/// Width of the coded LTP lag Nc (table 1.1).
const LAG_BITS: u32 = 7;
/// Width of the coded LTP gain bc (table 1.1).
const GAIN_BITS: u32 = 2;
/// Width of the RPE grid position Mc (table 1.1).
const GRID_BITS: u32 = 2;
/// Width of the coded block maximum xmaxc (table 1.1).
const XMAX_BITS: u32 = 6;
/// Width of each coded RPE pulse xMc (table 1.1).
const PULSE_BITS: u32 = 3;
/// RPE pulses per sub-segment (table 1.1).
pub(crate) const PULSES: usize = 13;
/// Sub-segments per frame.
pub(crate) const SUBFRAMES: usize = 4;
/// Bits in one frame's parameters (GSM 06.10 §1.7).
pub(crate) const FRAME_BITS: u32 = 260;

const _: () = {
    let mut lar = 0;
    let mut i = 0;
    while i < LAR_BITS.len() {
        lar += LAR_BITS[i];
        i += 1;
    }
    let subframe = LAG_BITS + GAIN_BITS + GRID_BITS + XMAX_BITS + PULSE_BITS * PULSES as u32;
    assert!(lar + SUBFRAMES as u32 * subframe == FRAME_BITS);
};

/// The coded parameters of one sub-segment of 40 samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SubframeParams {
    /// LTP lag Nc.
    pub(crate) lag: u8,
    /// LTP gain code bc.
    pub(crate) gain: u8,
    /// RPE grid position Mc.
    pub(crate) grid: u8,
    /// Coded block maximum xmaxc.
    pub(crate) xmax: u8,
    /// Coded RPE pulses xMc.
    pub(crate) pulses: [u8; PULSES],
}

/// The coded parameters of one 20 ms frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FrameParams {
    /// Coded log-area ratios LARc.
    pub(crate) lar: [u8; 8],
    /// The four sub-segments in time order.
    pub(crate) subframes: [SubframeParams; SUBFRAMES],
}

/// A source of bit fields; the two framings differ only here.
pub(crate) trait BitSource {
    /// Takes the next `bits` (at most 8) bits as an unsigned value. Past the end of the input
    /// it yields zero bits; callers size their input so that never happens.
    fn take(&mut self, bits: u32) -> u8;
}

impl FrameParams {
    /// Reads one frame's parameters in transmission order.
    pub(crate) fn read(src: &mut impl BitSource) -> Self {
        let mut frame = Self::default();
        for (lar, bits) in frame.lar.iter_mut().zip(LAR_BITS) {
            *lar = src.take(bits);
        }
        for sub in &mut frame.subframes {
            sub.lag = src.take(LAG_BITS);
            sub.gain = src.take(GAIN_BITS);
            sub.grid = src.take(GRID_BITS);
            sub.xmax = src.take(XMAX_BITS);
            for pulse in &mut sub.pulses {
                *pulse = src.take(PULSE_BITS);
            }
        }
        frame
    }
}

/// Mask of the low `bits` bits.
fn low_mask(bits: u32) -> u32 {
    (1 << bits) - 1
}

/// Bits taken most significant first, as in raw `.gsm` frames.
#[derive(Debug)]
pub(crate) struct MsbFirst<'a> {
    bytes: std::slice::Iter<'a, u8>,
    /// Bits read from `bytes` but not yet taken, right-aligned.
    held: u32,
    held_bits: u32,
}

impl<'a> MsbFirst<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes: bytes.iter(),
            held: 0,
            held_bits: 0,
        }
    }
}

impl BitSource for MsbFirst<'_> {
    fn take(&mut self, bits: u32) -> u8 {
        while self.held_bits < bits {
            let byte = self.bytes.next().copied().unwrap_or(0);
            self.held = (self.held << 8) | u32::from(byte);
            self.held_bits += 8;
        }
        self.held_bits -= bits;
        let value = (self.held >> self.held_bits) & low_mask(bits);
        self.held &= low_mask(self.held_bits);
        // At most 8 bits were masked in.
        value as u8
    }
}

/// Bits taken least significant first, as in WAV49 blocks.
#[derive(Debug)]
pub(crate) struct LsbFirst<'a> {
    bytes: std::slice::Iter<'a, u8>,
    /// Bits read from `bytes` but not yet taken, next bit lowest.
    held: u32,
    held_bits: u32,
}

impl<'a> LsbFirst<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes: bytes.iter(),
            held: 0,
            held_bits: 0,
        }
    }
}

impl BitSource for LsbFirst<'_> {
    fn take(&mut self, bits: u32) -> u8 {
        while self.held_bits < bits {
            let byte = self.bytes.next().copied().unwrap_or(0);
            self.held |= u32::from(byte) << self.held_bits;
            self.held_bits += 8;
        }
        let value = self.held & low_mask(bits);
        self.held >>= bits;
        self.held_bits -= bits;
        // At most 8 bits were masked in.
        value as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test-only packer: the inverse of [`FrameParams::read`], one bit at a time.
    fn fields(frame: &FrameParams) -> Vec<(u32, u8)> {
        let mut out: Vec<(u32, u8)> = LAR_BITS.iter().copied().zip(frame.lar).collect();
        for sub in &frame.subframes {
            out.extend([
                (LAG_BITS, sub.lag),
                (GAIN_BITS, sub.gain),
                (GRID_BITS, sub.grid),
                (XMAX_BITS, sub.xmax),
            ]);
            out.extend(sub.pulses.iter().map(|&p| (PULSE_BITS, p)));
        }
        out
    }

    fn sample_frame(seed: u8) -> FrameParams {
        let mut frame = FrameParams::default();
        let mut next = seed;
        let mut draw = |bits: u32| {
            next = next.wrapping_mul(73).wrapping_add(41);
            next & ((1u16 << bits) - 1) as u8
        };
        for (lar, bits) in frame.lar.iter_mut().zip(LAR_BITS) {
            *lar = draw(bits);
        }
        for sub in &mut frame.subframes {
            sub.lag = draw(LAG_BITS);
            sub.gain = draw(GAIN_BITS);
            sub.grid = draw(GRID_BITS);
            sub.xmax = draw(XMAX_BITS);
            for p in &mut sub.pulses {
                *p = draw(PULSE_BITS);
            }
        }
        frame
    }

    #[test]
    fn msb_first_round_trips() {
        for seed in 0..20 {
            let frame = sample_frame(seed);
            let mut bits = vec![1, 1, 0, 1];
            for (width, value) in fields(&frame) {
                bits.extend((0..width).rev().map(|i| (value >> i) & 1));
            }
            let bytes: Vec<u8> = bits
                .chunks(8)
                .map(|c| {
                    c.iter()
                        .enumerate()
                        .fold(0, |acc, (i, &b)| acc | b << (7 - i))
                })
                .collect();
            assert_eq!(bytes.len(), 33);
            let mut src = MsbFirst::new(&bytes);
            assert_eq!(src.take(4), 0xD);
            assert_eq!(FrameParams::read(&mut src), frame);
        }
    }

    #[test]
    fn lsb_first_round_trips_two_frames() {
        let (first, second) = (sample_frame(3), sample_frame(200));
        let mut bits = Vec::new();
        for frame in [&first, &second] {
            for (width, value) in fields(frame) {
                bits.extend((0..width).map(|i| (value >> i) & 1));
            }
        }
        let bytes: Vec<u8> = bits
            .chunks(8)
            .map(|c| c.iter().enumerate().fold(0, |acc, (i, &b)| acc | b << i))
            .collect();
        assert_eq!(bytes.len(), 65);
        let mut src = LsbFirst::new(&bytes);
        assert_eq!(FrameParams::read(&mut src), first);
        assert_eq!(FrameParams::read(&mut src), second);
    }

    #[test]
    fn first_lar_straddles_the_magic_nibble() {
        // 0xD7 0x80: magic 0xD, then LARc[1] = 0b0111_10 = 30
        let mut src = MsbFirst::new(&[0xD7, 0x80]);
        assert_eq!(src.take(4), 0xD);
        assert_eq!(src.take(6), 30);
    }

    #[test]
    fn reading_past_the_end_yields_zeros() {
        let mut src = LsbFirst::new(&[0xFF]);
        assert_eq!(src.take(6), 0x3F);
        assert_eq!(src.take(6), 0x03);
        assert_eq!(src.take(8), 0);
    }
}
