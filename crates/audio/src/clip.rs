//! Short stretches of decoded audio encoded for keeping: the clips of spoken comments.
//!
//! With the `opus` feature a clip is Ogg Opus (RFC 7845) at 16 kbit/s, about a sixth of
//! 16-bit PCM and more than enough for narrowband speech; without it, a 16-bit PCM WAV file,
//! which every tool reads. Either decodes again with [`Recording`](crate::Recording).

use crate::{Encoding, OUTPUT_RATE, write_wav};

/// A clip encoded for storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedClip {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Its media type, e.g. `audio/ogg; codecs=opus`.
    pub content_type: &'static str,
    /// Its file extension, without the dot.
    pub extension: &'static str,
}

/// Encodes 8 kHz mono samples (full scale 1.0) in the most compact codec this build has.
pub fn encode_clip(samples: &[f32]) -> EncodedClip {
    #[cfg(feature = "opus")]
    if let Ok(bytes) = ogg_opus::encode(samples) {
        return EncodedClip {
            bytes,
            content_type: "audio/ogg; codecs=opus",
            extension: "opus",
        };
    }
    encode_wav(samples)
}

/// Encodes 8 kHz mono samples as a 16-bit PCM WAV file.
pub fn encode_wav(samples: &[f32]) -> EncodedClip {
    let mut bytes = Vec::with_capacity(44 + 2 * samples.len());
    write_wav(
        &mut bytes,
        OUTPUT_RATE,
        Encoding::Pcm { bits: 16 },
        &[samples],
    )
    .expect("one channel of 16-bit PCM is always writable to memory");
    EncodedClip {
        bytes,
        content_type: "audio/wav",
        extension: "wav",
    }
}

#[cfg(feature = "opus")]
mod ogg_opus {
    //! An Ogg Opus writer: the identification and comment headers, then the audio packets in
    //! pages of about a second (RFC 7845, RFC 3533).

    use crate::OUTPUT_RATE;

    /// 20 ms packets, the usual frame for speech.
    const FRAME: usize = OUTPUT_RATE as usize / 50;
    /// Granule positions count 48 kHz samples whatever the input rate (RFC 7845 section 4).
    const GRANULE_PER_SAMPLE: u64 = 48_000 / OUTPUT_RATE as u64;
    /// Enough for narrowband speech at good quality.
    const BITRATE: i32 = 16_000;
    /// Packets per page: one second, so a page's 27-byte header costs little.
    const PACKETS_PER_PAGE: usize = 50;
    /// Largest packet libopus is asked to write (RFC 6716 bounds a frame at 1275 bytes).
    const MAX_PACKET: usize = 1275;
    /// Entries of a page's segment table (RFC 3533: one byte counts them).
    const MAX_SEGMENTS: usize = 255;
    const SERIAL: u32 = 0x6361_6c6c; // "call": any serial will do for a one-stream file

    pub(super) fn encode(samples: &[f32]) -> Result<Vec<u8>, opus::Error> {
        let mut encoder =
            opus::Encoder::new(OUTPUT_RATE, opus::Channels::Mono, opus::Application::Voip)?;
        encoder.set_bitrate(opus::Bitrate::Bits(BITRATE))?;
        let lookahead = usize::try_from(encoder.get_lookahead()?).unwrap_or(0);
        let pre_skip = u16::try_from(lookahead as u64 * GRANULE_PER_SAMPLE).unwrap_or(u16::MAX);

        let mut out = Vec::new();
        let mut sequence = 0;
        let mut head = b"OpusHead".to_vec();
        head.push(1); // version
        head.push(1); // channels
        head.extend_from_slice(&pre_skip.to_le_bytes());
        head.extend_from_slice(&OUTPUT_RATE.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes()); // output gain
        head.push(0); // mapping family: mono or stereo
        page(&mut out, &[head], 0, 0x02, &mut sequence);
        let mut tags = b"OpusTags".to_vec();
        let vendor = b"callscore";
        tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        tags.extend_from_slice(vendor);
        tags.extend_from_slice(&0u32.to_le_bytes());
        page(&mut out, &[tags], 0, 0, &mut sequence);

        // the encoder delays its input by its look-ahead: frames run on past the last sample
        // until every sample has come out, and the last granule position trims the rest
        let frames = (samples.len() + lookahead).div_ceil(FRAME).max(1);
        let total = u64::from(pre_skip) + samples.len() as u64 * GRANULE_PER_SAMPLE;
        let mut frame = [0f32; FRAME];
        let mut packets = Vec::with_capacity(PACKETS_PER_PAGE);
        for i in 0..frames {
            frame.fill(0.0);
            let from = (i * FRAME).min(samples.len());
            let chunk = &samples[from..((i + 1) * FRAME).min(samples.len())];
            frame[..chunk.len()].copy_from_slice(chunk);
            packets.push(encoder.encode_vec_float(&frame, MAX_PACKET)?);
            let last = i + 1 == frames;
            if packets.len() == PACKETS_PER_PAGE || page_full(&packets) || last {
                let done = ((i + 1) * FRAME) as u64 * GRANULE_PER_SAMPLE;
                let granule = if last { total } else { done };
                page(
                    &mut out,
                    &packets,
                    granule,
                    if last { 0x04 } else { 0 },
                    &mut sequence,
                );
                packets.clear();
            }
        }
        Ok(out)
    }

    /// True when another packet of the largest size could overflow the page's segment table,
    /// which holds 255 entries (a packet takes one per 255 bytes, and one more).
    pub(super) fn page_full(packets: &[Vec<u8>]) -> bool {
        let segments: usize = packets.iter().map(|p| p.len() / 255 + 1).sum();
        segments + MAX_PACKET / 255 + 1 > MAX_SEGMENTS
    }

    /// Appends one Ogg page holding whole `packets`.
    fn page(out: &mut Vec<u8>, packets: &[Vec<u8>], granule: u64, flags: u8, sequence: &mut u32) {
        let mut lacing = Vec::new();
        for packet in packets {
            lacing.extend(std::iter::repeat_n(255u8, packet.len() / 255));
            lacing.push((packet.len() % 255) as u8);
        }
        let start = out.len();
        out.extend_from_slice(b"OggS");
        out.push(0); // version
        out.push(flags);
        out.extend_from_slice(&granule.to_le_bytes());
        out.extend_from_slice(&SERIAL.to_le_bytes());
        out.extend_from_slice(&sequence.to_le_bytes());
        out.extend_from_slice(&[0; 4]); // checksum, filled in below
        out.push(u8::try_from(lacing.len()).expect("pages are flushed before 255 segments"));
        out.extend_from_slice(&lacing);
        for packet in packets {
            out.extend_from_slice(packet);
        }
        let crc = crc32(&out[start..]);
        out[start + 22..start + 26].copy_from_slice(&crc.to_le_bytes());
        *sequence += 1;
    }

    /// The Ogg checksum: CRC-32 with polynomial 0x04c11db7, no reflection, zero start.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0u32;
        for &byte in bytes {
            crc ^= u32::from(byte) << 24;
            for _ in 0..8 {
                crc = if crc & 0x8000_0000 != 0 {
                    (crc << 1) ^ 0x04c1_1db7
                } else {
                    crc << 1
                };
            }
        }
        crc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DecodeOptions, Recording};
    use std::sync::Arc;

    /// A second of a 440 Hz tone, at -10 dBm0 or so.
    fn tone() -> Vec<f32> {
        (0..8000)
            .map(|i| 0.3 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 8000.0).sin())
            .collect()
    }

    fn decode(clip: &EncodedClip) -> Vec<f32> {
        let options = DecodeOptions {
            extension: Some(clip.extension.into()),
            ..DecodeOptions::default()
        };
        let mut recording =
            Recording::open_bytes(Arc::from(clip.bytes.clone()), &options).expect("opens");
        let mut samples = Vec::new();
        while let Some(block) = recording.next_block().expect("decodes") {
            samples.extend_from_slice(&block[0]);
        }
        samples
    }

    fn rms(samples: &[f32]) -> f32 {
        (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt()
    }

    #[test]
    fn a_clip_decodes_to_the_same_length_and_level() {
        let samples = tone();
        let clip = encode_clip(&samples);
        let decoded = decode(&clip);
        // callscore's Ogg reader does not trim the last frame's padding by the final granule
        // position (libsndfile, which does, reads exactly 8000 frames): up to one 20 ms frame
        // and the encoder's look-ahead may follow
        assert!(
            (samples.len()..samples.len() + 320).contains(&decoded.len()),
            "{}: {} samples",
            clip.content_type,
            decoded.len()
        );
        // the middle of the clip, away from the codec's start-up
        let (a, b) = (rms(&samples[2000..6000]), rms(&decoded[2000..6000]));
        assert!((a / b - 1.0).abs() < 0.1, "level {a} became {b}");
        if cfg!(feature = "opus") {
            assert_eq!(clip.extension, "opus");
            assert!(
                clip.bytes.len() < samples.len() / 2,
                "{} bytes",
                clip.bytes.len()
            );
        } else {
            assert_eq!(clip.bytes.len(), 44 + 2 * samples.len());
        }
    }

    #[cfg(feature = "opus")]
    #[test]
    fn a_page_is_flushed_before_its_segment_table_overflows() {
        // 41 largest packets take 246 entries: a 42nd of 6 more still fits, a 43rd would not
        let largest = vec![0u8; 1275];
        assert!(!ogg_opus::page_full(&vec![largest.clone(); 41]));
        assert!(ogg_opus::page_full(&vec![largest; 42]));
        // speech-sized packets: the 50 of a second fit with room to spare
        assert!(!ogg_opus::page_full(&vec![vec![0u8; 40]; 49]));
    }

    #[test]
    fn an_empty_clip_is_still_a_file() {
        let clip = encode_clip(&[]);
        assert!(!clip.bytes.is_empty());
        assert!(decode(&encode_wav(&tone()[..800])).len() == 800);
    }
}
