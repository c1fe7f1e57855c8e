//! Bit-exactness against libgsm, the reference decoder, reached through sox (which links it).
//!
//! Every test builds its input at run time, has sox encode and/or decode it, and requires our
//! samples to equal sox's for every sample. sox is a hard requirement: without it these tests
//! fail rather than skip, since a skipped bit-exactness test proves nothing.

use std::f64::consts::TAU;
use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use callscore_gsm::{
    Decoder, FRAME_BYTES, SAMPLE_RATE, SAMPLES_PER_FRAME, SAMPLES_PER_WAV49_BLOCK,
    WAV49_BLOCK_BYTES, WAV49_FORMAT_TAG,
};

const RATE: f64 = SAMPLE_RATE as f64;

/// Runs sox, failing the test with an actionable message if it is missing or errors.
fn sox<S: AsRef<OsStr>>(args: &[S]) -> String {
    let output = Command::new("sox").args(args).output().unwrap_or_else(|e| {
        panic!(
            "cannot run sox ({e}): the GSM tests compare against libgsm through sox; \
             install it (Debian: apt-get install sox libsox-fmt-all)"
        )
    });
    let shown: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
    assert!(
        output.status.success(),
        "sox {shown:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// sox arguments describing headerless 8 kHz mono s16le audio.
const RAW_PCM: [&str; 12] = [
    "-t", "raw", "-r", "8000", "-e", "signed", "-b", "16", "-c", "1", "--endian", "little",
];

fn write_pcm(path: &Path, samples: &[i16]) {
    let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    std::fs::write(path, bytes).expect("write raw PCM");
}

fn read_pcm(path: &Path) -> Vec<i16> {
    let bytes = std::fs::read(path).expect("read raw PCM");
    assert_eq!(bytes.len() % 2, 0, "odd-length PCM from sox");
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// Decodes `encoded` (a .gsm or .wav file) with sox into s16 samples.
fn sox_decode(encoded: &Path) -> Vec<i16> {
    let out = encoded.with_extension("decoded.raw");
    let mut args: Vec<&OsStr> = vec![encoded.as_os_str()];
    args.extend(RAW_PCM.iter().map(OsStr::new));
    args.push(out.as_os_str());
    sox(&args);
    read_pcm(&out)
}

/// Encodes s16 samples with sox into `encoded`, adding `extra` output options.
fn sox_encode(samples: &[i16], extra: &[&str], encoded: &Path) {
    let input = encoded.with_extension("input.raw");
    write_pcm(&input, samples);
    let mut args: Vec<&OsStr> = RAW_PCM.iter().map(OsStr::new).collect();
    args.push(input.as_os_str());
    args.extend(extra.iter().map(OsStr::new));
    args.push(encoded.as_os_str());
    sox(&args);
}

/// Asserts sample-for-sample equality, pointing at the first frame that differs.
fn assert_bit_exact(ours: &[i16], reference: &[i16]) {
    assert_eq!(ours.len(), reference.len(), "sample counts differ");
    if let Some(i) = ours.iter().zip(reference).position(|(a, b)| a != b) {
        let frame = i / SAMPLES_PER_FRAME;
        let start = frame * SAMPLES_PER_FRAME;
        let end = (start + SAMPLES_PER_FRAME).min(ours.len());
        panic!(
            "first difference at sample {i} (frame {frame}): ours {} vs libgsm {}\n\
             ours:   {:?}\nlibgsm: {:?}",
            ours[i],
            reference[i],
            &ours[start..end],
            &reference[start..end]
        );
    }
}

/// A deterministic generator (SplitMix64) so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn byte(&mut self) -> u8 {
        self.next().to_le_bytes()[0]
    }

    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn to_i16(x: f64) -> i16 {
    x.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
}

/// Four seconds of deliberately varied audio: a sweep, DTMF digits, silence, noise bursts, a
/// hard-clipped tone and a full-scale square wave. Length is a whole number of WAV49 blocks.
fn varied_audio() -> Vec<i16> {
    let seconds = |s: f64| (s * RATE) as usize;
    let mut rng = Rng(0x5EED_0001);
    let mut out = Vec::new();

    // Sweep 100 Hz -> 3800 Hz over one second.
    let n = seconds(1.0);
    let mut phase = 0.0;
    for k in 0..n {
        let f = 100.0 + 3700.0 * k as f64 / n as f64;
        phase += TAU * f / RATE;
        out.push(to_i16(12_000.0 * phase.sin()));
    }

    // DTMF "1 5 9 # 0 * 3 D": 70 ms tone pairs with 55 ms gaps.
    let pairs = [
        (697.0, 1209.0),
        (770.0, 1336.0),
        (852.0, 1477.0),
        (941.0, 1477.0),
        (941.0, 1336.0),
        (941.0, 1209.0),
        (697.0, 1477.0),
        (941.0, 1633.0),
    ];
    for (low, high) in pairs {
        for k in 0..seconds(0.070) {
            let t = k as f64 / RATE;
            out.push(to_i16(
                7_000.0 * (TAU * low * t).sin() + 5_500.0 * (TAU * high * t).sin(),
            ));
        }
        out.extend(std::iter::repeat_n(0, seconds(0.055)));
    }

    out.extend(std::iter::repeat_n(0, seconds(0.4)));

    // Noise bursts of rising level, 100 ms on, 50 ms off.
    for level in [2_000.0, 9_000.0, 20_000.0, 32_000.0] {
        out.extend((0..seconds(0.100)).map(|_| to_i16(level * rng.unit())));
        out.extend((0..seconds(0.050)).map(|_| to_i16(30.0 * rng.unit())));
    }

    // A 440 Hz tone at three times full scale, hard clipped.
    let n = seconds(0.6);
    out.extend((0..n).map(|k| to_i16(98_000.0 * (TAU * 440.0 * k as f64 / RATE).sin())));

    // Full-scale 200 Hz square wave: the sharpest edges the codec will see.
    let n = seconds(0.4);
    out.extend((0..n).map(|k| {
        if (k / 20) % 2 == 0 {
            i16::MAX
        } else {
            i16::MIN
        }
    }));

    out.resize(seconds(4.0), 0);
    assert_eq!(out.len() % SAMPLES_PER_WAV49_BLOCK, 0);
    out
}

fn decode_raw_stream(bytes: &[u8]) -> Vec<i16> {
    let (frames, rest) = bytes.as_chunks::<FRAME_BYTES>();
    assert!(rest.is_empty(), "raw stream is not whole frames");
    let mut decoder = Decoder::new();
    let mut pcm = Vec::with_capacity(frames.len() * SAMPLES_PER_FRAME);
    for (i, frame) in frames.iter().enumerate() {
        let samples = decoder
            .decode_frame(frame)
            .unwrap_or_else(|e| panic!("frame {i}: {e}"));
        pcm.extend(samples);
    }
    pcm
}

fn decode_wav49_stream(data: &[u8]) -> Vec<i16> {
    let (blocks, rest) = data.as_chunks::<WAV49_BLOCK_BYTES>();
    assert!(rest.is_empty(), "WAV49 data is not whole blocks");
    let mut decoder = Decoder::new();
    blocks
        .iter()
        .flat_map(|b| decoder.decode_wav49_block(b))
        .collect()
}

/// The parts of a WAV file these tests look at.
struct Wav {
    format_tag: u16,
    channels: u16,
    sample_rate: u32,
    block_align: u16,
    samples_per_block: Option<u16>,
    data: Vec<u8>,
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Walks the RIFF chunks for `fmt ` and `data`.
fn parse_wav(bytes: &[u8]) -> Wav {
    assert!(
        bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE",
        "not WAV"
    );
    let mut at = 12;
    let (mut fmt, mut data) = (None, None);
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = le32(bytes, at + 4) as usize;
        let body = &bytes[at + 8..(at + 8 + size).min(bytes.len())];
        match id {
            b"fmt " => fmt = Some(body),
            b"data" => data = Some(body),
            _ => {}
        }
        // RIFF chunks are padded to even length.
        at += 8 + size + size % 2;
    }
    let fmt = fmt.expect("no fmt chunk");
    assert!(fmt.len() >= 16, "short fmt chunk");
    let samples_per_block = (fmt.len() >= 20 && le16(fmt, 16) >= 2).then(|| le16(fmt, 18));
    Wav {
        format_tag: le16(fmt, 0),
        channels: le16(fmt, 2),
        sample_rate: le32(fmt, 4),
        block_align: le16(fmt, 12),
        samples_per_block,
        data: data.expect("no data chunk").to_vec(),
    }
}

/// Writes WAV49 blocks into a WAV file laid out the way sox writes one.
fn write_wav49(path: &Path, blocks: &[u8]) {
    let n_blocks = u32::try_from(blocks.len() / WAV49_BLOCK_BYTES).expect("small test file");
    let data_len = u32::try_from(blocks.len()).expect("small test file");
    let block_bytes = u32::try_from(WAV49_BLOCK_BYTES).expect("65");
    let block_samples = u32::try_from(SAMPLES_PER_WAV49_BLOCK).expect("320");
    let mut w = Vec::new();
    w.extend(b"RIFF");
    w.extend((4 + 28 + 12 + 8 + data_len).to_le_bytes());
    w.extend(b"WAVEfmt ");
    w.extend(20u32.to_le_bytes());
    w.extend(WAV49_FORMAT_TAG.to_le_bytes());
    w.extend(1u16.to_le_bytes());
    w.extend(SAMPLE_RATE.to_le_bytes());
    w.extend((SAMPLE_RATE * block_bytes / block_samples).to_le_bytes());
    w.extend(u16::try_from(WAV49_BLOCK_BYTES).expect("65").to_le_bytes());
    w.extend(0u16.to_le_bytes()); // bits per sample: not meaningful for GSM
    w.extend(2u16.to_le_bytes()); // cbSize
    w.extend(
        u16::try_from(SAMPLES_PER_WAV49_BLOCK)
            .expect("320")
            .to_le_bytes(),
    );
    w.extend(b"fact");
    w.extend(4u32.to_le_bytes());
    w.extend((n_blocks * block_samples).to_le_bytes());
    w.extend(b"data");
    w.extend(data_len.to_le_bytes());
    w.extend(blocks);
    std::fs::write(path, w).expect("write WAV49 file");
}

/// Packs fields most significant bit first, as the raw framing does.
#[derive(Default)]
struct MsbWriter {
    bytes: Vec<u8>,
    bits: u32,
}

impl MsbWriter {
    fn put(&mut self, width: u32, value: u64) {
        for i in (0..width).rev() {
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            let bit = u8::from((value >> i) & 1 == 1);
            let last = self.bytes.last_mut().expect("pushed above");
            *last |= bit << (7 - self.bits % 8);
            self.bits += 1;
        }
    }
}

/// Field widths of one frame in transmission order (GSM 06.10 table 1.1).
fn frame_field_widths() -> Vec<u32> {
    let mut widths = vec![6, 6, 5, 5, 4, 4, 3, 3];
    for _ in 0..4 {
        widths.extend([7, 2, 2, 6]);
        widths.extend([3; 13]);
    }
    widths
}

#[test]
fn raw_gsm_matches_libgsm_on_varied_audio() {
    let dir = tempfile::tempdir().expect("temp dir");
    let encoded = dir.path().join("varied.gsm");
    let audio = varied_audio();
    sox_encode(&audio, &[], &encoded);

    let bytes = std::fs::read(&encoded).expect("read .gsm");
    assert_eq!(bytes.len(), audio.len() / SAMPLES_PER_FRAME * FRAME_BYTES);
    let reference = sox_decode(&encoded);
    assert_eq!(reference.len(), audio.len());
    // The reference must carry the loud parts, or the comparison would prove little.
    assert!(
        reference.iter().any(|&s| s.unsigned_abs() > 20_000),
        "reference is too quiet"
    );
    assert_bit_exact(&decode_raw_stream(&bytes), &reference);
}

#[test]
fn wav49_matches_libgsm_on_varied_audio() {
    let dir = tempfile::tempdir().expect("temp dir");
    let encoded = dir.path().join("varied.wav");
    let audio = varied_audio();
    sox_encode(&audio, &["-e", "gsm-full-rate"], &encoded);

    assert_eq!(
        sox(&[OsStr::new("--i"), OsStr::new("-e"), encoded.as_os_str()]).trim(),
        "GSM"
    );
    let wav = parse_wav(&std::fs::read(&encoded).expect("read .wav"));
    assert_eq!(wav.format_tag, WAV49_FORMAT_TAG);
    assert_eq!(usize::from(wav.block_align), WAV49_BLOCK_BYTES);
    assert_eq!(
        wav.samples_per_block.map(usize::from),
        Some(SAMPLES_PER_WAV49_BLOCK)
    );
    assert_eq!((wav.channels, wav.sample_rate), (1, SAMPLE_RATE));
    assert_eq!(
        wav.data.len(),
        audio.len() / SAMPLES_PER_WAV49_BLOCK * WAV49_BLOCK_BYTES
    );

    let reference = sox_decode(&encoded);
    assert_eq!(reference.len(), audio.len());
    assert!(
        reference.iter().any(|&s| s.unsigned_abs() > 20_000),
        "reference is too quiet"
    );
    assert_bit_exact(&decode_wav49_stream(&wav.data), &reference);
}

#[test]
fn raw_gsm_matches_libgsm_on_random_frames() {
    // Random parameters reach states no encoder produces (lags out of range, runaway pitch
    // gain, extreme LARs), which is where saturation decides the output. Half the fields are
    // pinned to their extremes to make those states common.
    const FRAMES: usize = 600;
    let mut rng = Rng(0x6573_6D31_0610);
    let widths = frame_field_widths();
    let mut w = MsbWriter::default();
    for _ in 0..FRAMES {
        w.put(4, 0xD);
        for &width in &widths {
            let max = (1u64 << width) - 1;
            let value = match rng.below(4) {
                0 => 0,
                1 => max,
                _ => rng.next() & max,
            };
            w.put(width, value);
        }
    }
    assert_eq!(w.bytes.len(), FRAMES * FRAME_BYTES);

    let dir = tempfile::tempdir().expect("temp dir");
    let encoded = dir.path().join("random.gsm");
    std::fs::write(&encoded, &w.bytes).expect("write .gsm");
    let reference = sox_decode(&encoded);
    assert_eq!(reference.len(), FRAMES * SAMPLES_PER_FRAME);
    let clipped = reference
        .iter()
        .filter(|&&s| s >= i16::MAX - 7 || s == i16::MIN)
        .count();
    assert!(
        clipped > 100,
        "random frames should drive the output into saturation"
    );
    assert_bit_exact(&decode_raw_stream(&w.bytes), &reference);
}

#[test]
fn wav49_matches_libgsm_on_random_blocks() {
    const BLOCKS: usize = 300;
    let mut rng = Rng(0x0057_4156_3439);
    let blocks: Vec<u8> = (0..BLOCKS * WAV49_BLOCK_BYTES)
        .map(|_| rng.byte())
        .collect();

    let dir = tempfile::tempdir().expect("temp dir");
    let encoded = dir.path().join("random.wav");
    write_wav49(&encoded, &blocks);
    let reference = sox_decode(&encoded);
    assert_eq!(reference.len(), BLOCKS * SAMPLES_PER_WAV49_BLOCK);
    assert_bit_exact(&decode_wav49_stream(&blocks), &reference);
}
