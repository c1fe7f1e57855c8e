//! WAV reading: every encoding call recorders write, the odd headers they write, and hostile
//! input that must give an error and never a panic.

use callscore_audio::{DecodeError, Encoding, WavReader, write_wav};
use proptest::prelude::*;

/// A RIFF file of the given kind from raw chunks, padded as the format requires.
fn riff(kind: &[u8; 4], chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut body = b"WAVE".to_vec();
    for (id, content) in chunks {
        body.extend_from_slice(*id);
        body.extend_from_slice(&(content.len() as u32).to_le_bytes());
        body.extend_from_slice(content);
        if content.len() % 2 == 1 {
            body.push(0);
        }
    }
    let mut file = kind.to_vec();
    file.extend_from_slice(&(body.len() as u32).to_le_bytes());
    file.extend(body);
    file
}

/// A plain 16-byte `fmt ` chunk.
fn fmt(tag: u16, channels: u16, rate: u32, block_align: u16, bits: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&tag.to_le_bytes());
    f.extend_from_slice(&channels.to_le_bytes());
    f.extend_from_slice(&rate.to_le_bytes());
    f.extend_from_slice(&(rate * u32::from(block_align)).to_le_bytes());
    f.extend_from_slice(&block_align.to_le_bytes());
    f.extend_from_slice(&bits.to_le_bytes());
    f
}

fn pcm16(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// A reader that has reached the end, and every sample of every channel it gave.
type Decoded<'a> = (WavReader<&'a [u8]>, Vec<Vec<f32>>);

/// Every sample of every channel, read `chunk` frames at a time.
fn read_all(file: &[u8], chunk: usize) -> Result<Decoded<'_>, DecodeError> {
    let mut wav = WavReader::new(file)?;
    let mut channels = vec![Vec::new(); usize::from(wav.spec().channels)];
    while let Some(block) = wav.next_block(chunk)? {
        for (all, new) in channels.iter_mut().zip(block) {
            all.extend_from_slice(new);
        }
    }
    Ok((wav, channels))
}

fn tone(len: usize, hz: f32, amplitude: f32) -> Vec<f32> {
    (0..len)
        .map(|i| amplitude * (std::f32::consts::TAU * hz * i as f32 / 8000.0).sin())
        .collect()
}

#[test]
fn every_encoding_round_trips() {
    let signal = vec![tone(801, 697.0, 0.7), tone(801, 1633.0, 0.05)];
    let cases = [
        (Encoding::Pcm { bits: 8 }, 1.0 / 128.0),
        (Encoding::Pcm { bits: 16 }, 1.0 / 32768.0),
        (Encoding::Pcm { bits: 24 }, 1.0 / 8_388_608.0),
        (Encoding::Pcm { bits: 32 }, 1e-7),
        (Encoding::Float { bits: 32 }, 1e-7),
        (Encoding::Float { bits: 64 }, 1e-7),
        // G.711 steps are 1/16 of the magnitude at most, plus the smallest step
        (Encoding::Alaw, 0.7 / 16.0),
        (Encoding::Ulaw, 0.7 / 16.0),
    ];
    for (encoding, tolerance) in cases {
        let mut file = Vec::new();
        write_wav(&mut file, 8000, encoding, &signal).expect("writes");
        let (wav, decoded) = read_all(&file, 100).expect("reads");
        let spec = wav.spec();
        assert_eq!(
            (spec.sample_rate, spec.channels, spec.encoding),
            (8000, 2, encoding)
        );
        assert_eq!(spec.frames, Some(801));
        assert_eq!(wav.missing_bytes(), 0, "{encoding}");
        for (original, decoded) in signal.iter().zip(&decoded) {
            assert_eq!(decoded.len(), original.len(), "{encoding}");
            let worst = original
                .iter()
                .zip(decoded)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(
                worst <= tolerance,
                "{encoding}: error {worst} > {tolerance}"
            );
        }
    }
}

#[test]
fn the_block_size_does_not_change_the_samples() {
    let mut file = Vec::new();
    write_wav(&mut file, 8000, Encoding::Ulaw, &[tone(1000, 941.0, 0.3)]).expect("writes");
    let (_, whole) = read_all(&file, 1 << 20).expect("reads");
    for chunk in [0, 1, 7, 160, 999] {
        let (_, pieces) = read_all(&file, chunk).expect("reads");
        assert_eq!(pieces, whole, "blocks of {chunk}");
    }
}

#[test]
fn chunks_around_the_format_are_skipped() {
    let file = riff(
        b"RIFF",
        &[
            (b"LIST", b"INFOISFT\x05\0\0\0odd".to_vec()),
            (b"fmt ", fmt(1, 1, 8000, 2, 16)),
            (b"fact", vec![4, 0, 0, 0]),
            (b"bext", vec![0; 13]),
            (b"data", pcm16(&[1000, -1000, 0, 32767])),
        ],
    );
    let (_, channels) = read_all(&file, 3).expect("reads");
    assert_eq!(
        channels[0],
        vec![1000.0 / 32768.0, -1000.0 / 32768.0, 0.0, 32767.0 / 32768.0]
    );
}

#[test]
fn extensible_formats_are_read_by_their_sub_format() {
    let mut ext = fmt(0xFFFE, 1, 8000, 1, 8);
    ext.extend_from_slice(&22u16.to_le_bytes());
    ext.extend_from_slice(&8u16.to_le_bytes());
    ext.extend_from_slice(&4u32.to_le_bytes());
    ext.extend_from_slice(&7u16.to_le_bytes()); // µ-law
    ext.extend_from_slice(&[
        0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
    ]);
    let file = riff(
        b"RIFF",
        &[(b"fmt ", ext.clone()), (b"data", vec![0xFF, 0x80])],
    );
    let (wav, channels) = read_all(&file, 10).expect("reads");
    assert_eq!(wav.spec().encoding, Encoding::Ulaw);
    assert_eq!(channels[0], vec![0.0, 32124.0 / 32768.0]);

    let last = ext.len() - 1;
    ext[last] ^= 0xFF;
    let vendor = riff(b"RIFF", &[(b"fmt ", ext), (b"data", vec![0xFF])]);
    assert!(matches!(
        WavReader::new(&vendor[..]),
        Err(DecodeError::Unsupported(_))
    ));
}

#[test]
fn rf64_takes_the_data_size_from_ds64() {
    let mut ds64 = vec![0u8; 28];
    ds64[8..16].copy_from_slice(&6u64.to_le_bytes());
    let mut file = riff(
        b"RF64",
        &[(b"ds64", ds64), (b"fmt ", fmt(1, 1, 8000, 2, 16))],
    );
    file.extend_from_slice(b"data");
    file.extend_from_slice(&u32::MAX.to_le_bytes());
    file.extend(pcm16(&[1, 2, 3]));
    // a trailing chunk that is not audio
    file.extend_from_slice(b"LIST\x04\0\0\0abcd");
    let (wav, channels) = read_all(&file, 2).expect("reads");
    assert_eq!(wav.spec().frames, Some(3));
    assert_eq!(channels[0].len(), 3);
}

#[test]
fn an_open_data_size_reads_to_the_end() {
    for size in [0u32, u32::MAX] {
        let mut file = riff(b"RIFF", &[(b"fmt ", fmt(6, 1, 8000, 1, 8))]);
        file.extend_from_slice(b"data");
        file.extend_from_slice(&size.to_le_bytes());
        file.extend(vec![0xD5; 1234]);
        let (wav, channels) = read_all(&file, 100).expect("reads");
        assert_eq!(wav.spec().frames, None);
        assert_eq!(channels[0].len(), 1234, "size field {size:#x}");
        assert_eq!(wav.missing_bytes(), 0);
    }
}

#[test]
fn a_cut_off_recording_keeps_what_is_there_and_says_so() {
    let mut file = Vec::new();
    write_wav(
        &mut file,
        8000,
        Encoding::Pcm { bits: 16 },
        &[vec![0.1; 100], vec![0.2; 100]],
    )
    .expect("writes");
    // cut in the middle of a frame: 40 whole frames and 3 bytes of the next
    file.truncate(44 + 40 * 4 + 3);
    let (wav, channels) = read_all(&file, 16).expect("reads");
    assert_eq!(channels[0].len(), 40);
    assert_eq!(channels[1].len(), 40);
    assert_eq!(wav.missing_bytes(), 60 * 4);
}

#[test]
fn non_finite_floats_are_read_as_silence_and_counted() {
    let data: Vec<u8> = [0.5f32, f32::NAN, f32::INFINITY, -2.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let file = riff(
        b"RIFF",
        &[(b"fmt ", fmt(3, 1, 8000, 4, 32)), (b"data", data)],
    );
    let (wav, channels) = read_all(&file, 16).expect("reads");
    assert_eq!(channels[0], vec![0.5, 0.0, 0.0, -1.0]);
    assert_eq!(wav.replaced_samples(), 2);
}

#[test]
fn broken_and_unsupported_files_give_clear_errors() {
    let message = |file: &[u8]| match WavReader::new(file) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    };
    assert!(message(b"").contains("not a WAV file (no RIFF/WAVE header)"));
    assert!(message(b"ID3\x04\0\0\0\0\0\0\0\0\0\0").contains("not a WAV file"));
    assert!(message(b"RIFX\0\0\0\0WAVE").contains("big-endian"));
    let gsm_stereo = riff(
        b"RIFF",
        &[
            (b"fmt ", fmt(0x31, 2, 8000, 130, 0)),
            (b"data", vec![0; 130]),
        ],
    );
    let text = message(&gsm_stereo);
    assert!(text.contains("GSM 6.10 with 2 channels"), "{text}");
    let adpcm = riff(
        b"RIFF",
        &[
            (b"fmt ", fmt(0x11, 1, 8000, 256, 4)),
            (b"data", vec![0; 256]),
        ],
    );
    assert!(message(&adpcm).contains("IMA ADPCM"), "{}", message(&adpcm));
    let pcm12 = riff(
        b"RIFF",
        &[(b"fmt ", fmt(1, 1, 8000, 2, 12)), (b"data", vec![0; 2])],
    );
    assert!(message(&pcm12).contains("12 bits"));
    let silent = riff(
        b"RIFF",
        &[(b"fmt ", fmt(1, 0, 8000, 0, 16)), (b"data", vec![])],
    );
    assert!(message(&silent).contains("0 channels"));
    let misaligned = riff(
        b"RIFF",
        &[(b"fmt ", fmt(1, 2, 8000, 2, 16)), (b"data", vec![])],
    );
    assert!(message(&misaligned).contains("block align"));
    let no_rate = riff(
        b"RIFF",
        &[(b"fmt ", fmt(1, 1, 0, 2, 16)), (b"data", vec![])],
    );
    assert!(message(&no_rate).contains("0 Hz"));
    let data_first = riff(
        b"RIFF",
        &[(b"data", vec![0; 4]), (b"fmt ", fmt(1, 1, 8000, 2, 16))],
    );
    assert!(message(&data_first).contains("before the fmt"));
    let no_data = riff(b"RIFF", &[(b"fmt ", fmt(1, 1, 8000, 2, 16))]);
    assert!(message(&no_data).contains("no data chunk"));
    let no_fmt = riff(b"RIFF", &[(b"LIST", vec![0; 4])]);
    assert!(message(&no_fmt).contains("no fmt chunk"));
    let short_fmt = riff(b"RIFF", &[(b"fmt ", vec![1, 0, 1, 0]), (b"data", vec![])]);
    assert!(message(&short_fmt).contains("fewer than 16"));
}

#[test]
fn a_huge_chunk_size_is_not_trusted() {
    // a chunk that claims 4 GiB before the format: skipped by reading, so it ends in an error
    // at the end of the input rather than an allocation
    let mut file = b"RIFF\xff\xff\xff\xffWAVEjunk\xfe\xff\xff\xff".to_vec();
    file.extend(vec![0; 1000]);
    let err = WavReader::new(&file[..]).expect_err("rejected");
    assert!(
        err.to_string().contains("ends inside the \"junk\" chunk"),
        "{err}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any corruption of a valid file's bytes gives samples or an error, never a panic.
    #[test]
    fn corrupted_files_never_panic(
        flips in prop::collection::vec((0usize..200, any::<u8>()), 1..8),
        cut in 0usize..200,
        chunk in 1usize..64,
    ) {
        let mut file = Vec::new();
        let signal = vec![tone(50, 770.0, 0.5), tone(50, 1209.0, 0.5)];
        write_wav(&mut file, 8000, Encoding::Pcm { bits: 24 }, &signal).expect("writes");
        for (at, byte) in flips {
            let at = at % file.len();
            file[at] = byte;
        }
        file.truncate(file.len() - cut.min(file.len()));
        if let Ok((wav, channels)) = read_all(&file, chunk) {
            let channel_count = usize::from(wav.spec().channels);
            prop_assert_eq!(channels.len(), channel_count);
            prop_assert!(channels.iter().flatten().all(|x| x.is_finite() && x.abs() <= 1.0));
        }
    }

    /// Arbitrary bytes behind a RIFF/WAVE header never panic either.
    #[test]
    fn arbitrary_chunks_never_panic(tail in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut file = b"RIFF\0\0\0\0WAVE".to_vec();
        file.extend(tail);
        if let Ok((wav, channels)) = read_all(&file, 7) {
            prop_assert!(wav.spec().channels >= 1);
            prop_assert!(channels.iter().all(|c| c.len() == channels[0].len()));
        }
    }
}
