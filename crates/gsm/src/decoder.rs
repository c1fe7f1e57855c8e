//! The RPE-LTP decoder (GSM 06.10 §4.3): ties the synthesis stages together and owns the state
//! that carries from one frame to the next.

use crate::arith::{add, mult_r};
use crate::frame::{BitSource, FrameParams, LsbFirst, MsbFirst, SUBFRAMES};
use crate::ltp::LongTermSynthesis;
use crate::rpe::{self, SUBFRAME_LEN};
use crate::stp::ShortTermSynthesis;
use crate::{
    FRAME_BYTES, FrameError, SAMPLES_PER_FRAME, SAMPLES_PER_WAV49_BLOCK, WAV49_BLOCK_BYTES,
};

/// Magic nibble that opens every raw `.gsm` frame (libgsm's `GSM_MAGIC`).
const RAW_MAGIC: u8 = 0xD;
/// Width of the magic nibble.
const RAW_MAGIC_BITS: u32 = 4;
/// De-emphasis coefficient beta = 0.86 in Q15, undoing the encoder's pre-emphasis (§4.3.5).
const DEEMPHASIS: i16 = 28180;
/// The output keeps 13 significant bits; the three low bits are cleared (§4.3.7).
const TRUNCATION_MASK: i16 = !0b111;

/// A GSM 06.10 full-rate stream decoder.
///
/// Holds the filter memories that link consecutive frames, so feed it the frames of one stream
/// in order; call [`reset`](Self::reset) (or make a new decoder) before decoding another
/// stream. Decoding allocates nothing.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    ltp: LongTermSynthesis,
    stp: ShortTermSynthesis,
    /// De-emphasis filter memory msr.
    msr: i16,
}

impl Decoder {
    /// Creates a decoder in the standard's home state (all memories zero).
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the decoder to its home state, as at the start of a stream.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Decodes one 33-byte raw `.gsm` frame (the framing libgsm, sox and Asterisk write) into
    /// 160 samples at 8 kHz.
    ///
    /// # Errors
    ///
    /// [`FrameError::BadMagic`] if the frame does not start with the 0xD nibble; the decoder
    /// state is then left unchanged, so the caller may skip the frame and go on.
    pub fn decode_frame(
        &mut self,
        frame: &[u8; FRAME_BYTES],
    ) -> Result<[i16; SAMPLES_PER_FRAME], FrameError> {
        let mut bits = MsbFirst::new(frame);
        let magic = bits.take(RAW_MAGIC_BITS);
        if magic != RAW_MAGIC {
            return Err(FrameError::BadMagic { found: magic });
        }
        Ok(self.synthesize(&FrameParams::read(&mut bits)))
    }

    /// Decodes one 65-byte WAV49 block (Microsoft GSM 6.10, WAV format tag 0x0031) into 320
    /// samples: two frames packed least significant bit first, without magic nibbles.
    ///
    /// Every bit pattern is a valid block, so this cannot fail.
    pub fn decode_wav49_block(
        &mut self,
        block: &[u8; WAV49_BLOCK_BYTES],
    ) -> [i16; SAMPLES_PER_WAV49_BLOCK] {
        let mut bits = LsbFirst::new(block);
        let first = self.synthesize(&FrameParams::read(&mut bits));
        let second = self.synthesize(&FrameParams::read(&mut bits));
        let mut out = [0; SAMPLES_PER_WAV49_BLOCK];
        let (head, tail) = out.split_at_mut(SAMPLES_PER_FRAME);
        head.copy_from_slice(&first);
        tail.copy_from_slice(&second);
        out
    }

    /// Runs the synthesis chain on one frame's parameters.
    fn synthesize(&mut self, params: &FrameParams) -> [i16; SAMPLES_PER_FRAME] {
        let mut residual = [[0; SUBFRAME_LEN]; SUBFRAMES];
        for (out, sub) in residual.iter_mut().zip(&params.subframes) {
            let erp = rpe::decode(sub);
            *out = self.ltp.filter(sub.lag, sub.gain, &erp);
        }
        let mut signal = [0; SAMPLES_PER_FRAME];
        signal.copy_from_slice(residual.as_flattened());
        self.stp.filter(&params.lar, &mut signal);
        for sample in &mut signal {
            self.msr = add(*sample, mult_r(self.msr, DEEMPHASIS));
            // Upscaling (§4.3.6) doubles with saturation before the truncation.
            *sample = add(self.msr, self.msr) & TRUNCATION_MASK;
        }
        signal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_frame(fill: u8) -> [u8; FRAME_BYTES] {
        let mut frame = [fill; FRAME_BYTES];
        frame[0] = (RAW_MAGIC << 4) | (fill & 0x0F);
        frame
    }

    #[test]
    fn bad_magic_is_an_error_and_leaves_state_alone() {
        let mut decoder = Decoder::new();
        let mut fresh = Decoder::new();
        let mut bad = raw_frame(0x5A);
        bad[0] = 0xC5;
        assert_eq!(
            decoder.decode_frame(&bad),
            Err(FrameError::BadMagic { found: 0xC })
        );
        let good = raw_frame(0x5A);
        assert_eq!(decoder.decode_frame(&good), fresh.decode_frame(&good));
    }

    #[test]
    fn output_keeps_thirteen_bits() {
        let mut decoder = Decoder::new();
        for fill in [0x00, 0x37, 0xA5, 0xFF] {
            let pcm = decoder
                .decode_frame(&raw_frame(fill))
                .expect("magic is set");
            assert!(pcm.iter().all(|s| s & 0b111 == 0));
            assert!(
                pcm.iter().any(|&s| s != 0),
                "fill {fill:#x} decoded to silence"
            );
        }
    }

    #[test]
    fn state_carries_over_and_reset_clears_it() {
        let mut decoder = Decoder::new();
        let first = decoder
            .decode_frame(&raw_frame(0x93))
            .expect("magic is set");
        let again = decoder
            .decode_frame(&raw_frame(0x93))
            .expect("magic is set");
        assert_ne!(
            first, again,
            "a stream decoder must remember the previous frame"
        );
        decoder.reset();
        assert_eq!(decoder.decode_frame(&raw_frame(0x93)), Ok(first));
    }

    #[test]
    fn wav49_block_is_two_frames_in_sequence() {
        let mut block = [0u8; WAV49_BLOCK_BYTES];
        for (i, b) in block.iter_mut().enumerate() {
            *b = u8::try_from(i * 37 % 251).expect("below 251");
        }
        let mut decoder = Decoder::new();
        let pcm = decoder.decode_wav49_block(&block);
        // Decoding the same parameters frame by frame gives the same samples.
        let mut bits = LsbFirst::new(&block);
        let (a, b) = (FrameParams::read(&mut bits), FrameParams::read(&mut bits));
        let mut reference = Decoder::new();
        assert_eq!(pcm[..SAMPLES_PER_FRAME], reference.synthesize(&a));
        assert_eq!(pcm[SAMPLES_PER_FRAME..], reference.synthesize(&b));
    }
}
