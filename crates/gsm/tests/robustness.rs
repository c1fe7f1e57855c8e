//! Hostile-input properties: no bytes make the decoder panic (these run with overflow checks
//! on, so a stray wrapping operation would panic too), bad frames are rejected without
//! disturbing the stream, and `reset` really returns to the home state.

use callscore_gsm::{Decoder, FRAME_BYTES, FrameError, WAV49_BLOCK_BYTES};
use proptest::prelude::*;

/// Bytes for `n` raw frames; the first byte of each frame is drawn separately so that about
/// half carry the magic nibble.
fn raw_frames(max: usize) -> impl Strategy<Value = Vec<[u8; FRAME_BYTES]>> {
    let frame = (
        any::<bool>(),
        any::<u8>(),
        prop::collection::vec(any::<u8>(), FRAME_BYTES - 1),
    )
        .prop_map(|(magic, first, rest)| {
            let mut frame = [0u8; FRAME_BYTES];
            frame[0] = if magic { 0xD0 | (first & 0x0F) } else { first };
            frame[1..].copy_from_slice(&rest);
            frame
        });
    prop::collection::vec(frame, 1..max)
}

fn wav49_blocks(max: usize) -> impl Strategy<Value = Vec<[u8; WAV49_BLOCK_BYTES]>> {
    let block = prop::collection::vec(any::<u8>(), WAV49_BLOCK_BYTES).prop_map(|bytes| {
        let mut block = [0u8; WAV49_BLOCK_BYTES];
        block.copy_from_slice(&bytes);
        block
    });
    prop::collection::vec(block, 1..max)
}

proptest! {
    #[test]
    fn raw_frames_decode_or_are_rejected(frames in raw_frames(24)) {
        let mut decoder = Decoder::new();
        for frame in &frames {
            match decoder.decode_frame(frame) {
                Ok(pcm) => {
                    prop_assert_eq!(frame[0] >> 4, 0xD);
                    prop_assert!(pcm.iter().all(|s| s & 0b111 == 0), "output keeps 13 bits");
                }
                Err(FrameError::BadMagic { found }) => {
                    prop_assert_eq!(found, frame[0] >> 4);
                    prop_assert_ne!(found, 0xD);
                }
                Err(other) => prop_assert!(false, "unexpected error {other}"),
            }
        }
    }

    #[test]
    fn wav49_blocks_always_decode(blocks in wav49_blocks(16)) {
        let mut decoder = Decoder::new();
        for block in &blocks {
            let pcm = decoder.decode_wav49_block(block);
            prop_assert!(pcm.iter().all(|s| s & 0b111 == 0), "output keeps 13 bits");
        }
    }

    #[test]
    fn rejected_frames_leave_the_stream_untouched(frames in raw_frames(16)) {
        // Decoding everything must equal decoding only the well-formed frames.
        let mut all = Decoder::new();
        let mut good_only = Decoder::new();
        for frame in &frames {
            if let Ok(pcm) = all.decode_frame(frame) {
                prop_assert_eq!(Ok(pcm), good_only.decode_frame(frame));
            }
        }
    }

    #[test]
    fn reset_returns_to_the_home_state(
        warmup in wav49_blocks(8),
        probe in wav49_blocks(2),
    ) {
        let mut used = Decoder::new();
        for block in &warmup {
            used.decode_wav49_block(block);
        }
        used.reset();
        let mut fresh = Decoder::new();
        for block in &probe {
            prop_assert_eq!(used.decode_wav49_block(block), fresh.decode_wav49_block(block));
        }
    }
}
