//! RIFF/WAVE and RF64 reading, streamed: the header is parsed up front and the samples are
//! decoded a block at a time.

use std::fmt;
use std::io::{self, Read, Write};

use crate::input::read_full;
use crate::{DecodeError, g711};

/// How the samples of a WAV file are coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Linear PCM: 8-bit unsigned, or 16-, 24- or 32-bit signed.
    Pcm {
        /// Bits per sample.
        bits: u16,
    },
    /// IEEE float, 32 or 64 bits.
    Float {
        /// Bits per sample.
        bits: u16,
    },
    /// G.711 A-law, 8 bits.
    Alaw,
    /// G.711 µ-law, 8 bits.
    Ulaw,
    /// GSM 06.10 full rate in Microsoft's WAV49 packing: 65-byte blocks of 320 samples, mono.
    Gsm,
}

impl Encoding {
    /// Bytes of one coding unit per channel: a sample, or a GSM block.
    fn unit_bytes(self) -> usize {
        match self {
            Encoding::Pcm { bits } | Encoding::Float { bits } => usize::from(bits / 8),
            Encoding::Alaw | Encoding::Ulaw => 1,
            Encoding::Gsm => callscore_gsm::WAV49_BLOCK_BYTES,
        }
    }

    /// Samples in one coding unit.
    fn unit_frames(self) -> usize {
        match self {
            Encoding::Gsm => 2 * callscore_gsm::SAMPLES_PER_FRAME,
            _ => 1,
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Encoding::Pcm { bits } => write!(f, "{bits}-bit PCM"),
            Encoding::Float { bits } => write!(f, "{bits}-bit float"),
            Encoding::Alaw => f.write_str("G.711 A-law"),
            Encoding::Ulaw => f.write_str("G.711 µ-law"),
            Encoding::Gsm => f.write_str("GSM 06.10 (WAV49)"),
        }
    }
}

/// What the header of a WAV file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavSpec {
    /// Samples per second per channel.
    pub sample_rate: u32,
    /// Interleaved channels.
    pub channels: u16,
    /// How each sample is coded.
    pub encoding: Encoding,
    /// Frames the header announces; `None` when the writer left the size open, as recorders
    /// that stream to disk do until the call ends.
    pub frames: Option<u64>,
}

/// Most channels a file may have; more is taken as a broken header.
const MAX_CHANNELS: u16 = 64;
/// Longest `fmt ` chunk content that is parsed; the rest is skipped.
const FMT_PARSED: usize = 40;
/// The tail shared by every `WAVE_FORMAT_EXTENSIBLE` sub-format GUID.
const SUBFORMAT_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];
/// Most input bytes decoded at once, whatever the caller asks for.
const MAX_BLOCK_BYTES: usize = 1 << 20;
/// Format tags of Microsoft and IMA ADPCM.
const ADPCM_MS: u16 = 0x0002;
const ADPCM_IMA: u16 = 0x0011;
/// A 32-bit size field that means "unknown" (RF64, and streaming writers).
const SIZE_OPEN: u32 = u32::MAX;

/// A streaming WAV decoder.
///
/// ```
/// # fn main() -> Result<(), callscore_audio::DecodeError> {
/// # use callscore_audio::{Encoding, write_wav};
/// # let mut file = Vec::new();
/// # write_wav(&mut file, 8000, Encoding::Pcm { bits: 16 }, &[vec![0.0; 80]])?;
/// let mut wav = callscore_audio::WavReader::new(&file[..])?;
/// assert_eq!(wav.spec().sample_rate, 8000);
/// while let Some(channels) = wav.next_block(4096)? {
///     let caller: &[f32] = &channels[0];
///     assert_eq!(caller.len(), 80);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct WavReader<R> {
    inner: R,
    spec: WavSpec,
    /// Bytes of one coding unit across all channels (the block align).
    unit_bytes: usize,
    /// Bytes of sample data still to read; `None` reads to the end of the input.
    remaining: Option<u64>,
    ended: bool,
    missing_bytes: u64,
    replaced_samples: u64,
    bytes: Vec<u8>,
    planes: Vec<Vec<f32>>,
    gsm: callscore_gsm::Decoder,
}

impl<R: Read> WavReader<R> {
    /// Parses the header, up to the start of the sample data.
    pub fn new(mut inner: R) -> Result<WavReader<R>, DecodeError> {
        let mut riff = [0u8; 12];
        if read_full(&mut inner, &mut riff)? < riff.len() {
            return Err(DecodeError::Unsupported(
                "not a WAV file (no RIFF/WAVE header)".into(),
            ));
        }
        let rf64 = match &riff[..4] {
            b"RIFF" => false,
            b"RF64" | b"BW64" => true,
            b"RIFX" => {
                return Err(DecodeError::Unsupported("big-endian RIFX files".into()));
            }
            _ => {
                return Err(DecodeError::Unsupported(
                    "not a WAV file (no RIFF/WAVE header)".into(),
                ));
            }
        };
        if &riff[8..] != b"WAVE" {
            return Err(DecodeError::Unsupported(
                "not a WAV file (no RIFF/WAVE header)".into(),
            ));
        }

        let mut format: Option<(u32, u16, Encoding)> = None;
        let mut ds64_data: Option<u64> = None;
        loop {
            let mut header = [0u8; 8];
            if read_full(&mut inner, &mut header)? < header.len() {
                return Err(DecodeError::Corrupt(match format {
                    None => "no fmt chunk".into(),
                    Some(_) => "no data chunk".into(),
                }));
            }
            let id = [header[0], header[1], header[2], header[3]];
            let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
            match &id {
                b"fmt " => {
                    let mut body = [0u8; FMT_PARSED];
                    let want = (size as usize).min(FMT_PARSED);
                    if read_full(&mut inner, &mut body[..want])? < want {
                        return Err(DecodeError::Corrupt("the fmt chunk is cut off".into()));
                    }
                    format = Some(parse_format(&body[..want])?);
                    skip(&mut inner, padded(size) - want as u64, "fmt")?;
                }
                b"ds64" if rf64 => {
                    let mut body = [0u8; 16];
                    let want = (size as usize).min(body.len());
                    if want < body.len() || read_full(&mut inner, &mut body)? < want {
                        return Err(DecodeError::Corrupt("the ds64 chunk is cut off".into()));
                    }
                    ds64_data = Some(u64::from_le_bytes(body[8..16].try_into().unwrap_or([0; 8])));
                    skip(&mut inner, padded(size) - want as u64, "ds64")?;
                }
                b"data" => {
                    let Some((sample_rate, channels, encoding)) = format else {
                        return Err(DecodeError::Corrupt(
                            "data chunk before the fmt chunk".into(),
                        ));
                    };
                    let unit_bytes = usize::from(channels) * encoding.unit_bytes();
                    let remaining = match size {
                        SIZE_OPEN if rf64 => ds64_data,
                        // a writer that never came back to fill in the size
                        SIZE_OPEN | 0 => None,
                        size => Some(u64::from(size)),
                    };
                    let spec = WavSpec {
                        sample_rate,
                        channels,
                        encoding,
                        frames: remaining
                            .map(|bytes| bytes / unit_bytes as u64 * encoding.unit_frames() as u64),
                    };
                    return Ok(WavReader {
                        inner,
                        spec,
                        unit_bytes,
                        remaining,
                        ended: false,
                        missing_bytes: 0,
                        replaced_samples: 0,
                        bytes: Vec::new(),
                        planes: vec![Vec::new(); usize::from(channels)],
                        gsm: callscore_gsm::Decoder::new(),
                    });
                }
                _ => {
                    let name = String::from_utf8_lossy(&id).into_owned();
                    skip(&mut inner, padded(size), &name)?;
                }
            }
        }
    }

    /// What the header says.
    pub fn spec(&self) -> WavSpec {
        self.spec
    }

    /// Decodes up to `max_frames` frames (at least one, and no more than 1 MiB of input) and returns one slice of samples per
    /// channel, full scale 1.0; `None` once the data is over.
    pub fn next_block(&mut self, max_frames: usize) -> Result<Option<&[Vec<f32>]>, DecodeError> {
        if self.ended {
            return Ok(None);
        }
        let units_cap = MAX_BLOCK_BYTES / self.unit_bytes;
        let units = max_frames.div_ceil(self.spec.encoding.unit_frames());
        let mut want = units.clamp(1, units_cap) * self.unit_bytes;
        if let Some(remaining) = self.remaining {
            want = want.min(usize::try_from(remaining).unwrap_or(usize::MAX));
        }
        self.bytes.resize(want, 0);
        let got = read_full(&mut self.inner, &mut self.bytes)?;
        if let Some(remaining) = self.remaining.as_mut() {
            *remaining -= got as u64;
        }
        if got < want || self.remaining == Some(0) {
            self.ended = true;
            self.missing_bytes = self.remaining.unwrap_or(0) + (got % self.unit_bytes) as u64;
        }
        let units = got / self.unit_bytes;
        if units == 0 {
            self.ended = true;
            return Ok(None);
        }
        let bytes = &self.bytes[..units * self.unit_bytes];
        self.replaced_samples += match self.spec.encoding {
            Encoding::Gsm => decode_gsm(&mut self.gsm, bytes, &mut self.planes[0]),
            encoding => decode(encoding, bytes, &mut self.planes),
        };
        Ok(Some(&self.planes))
    }

    /// Bytes of sample data the header announced that the input did not hold, including an
    /// incomplete last frame: non-zero means the recording was cut off.
    pub fn missing_bytes(&self) -> u64 {
        self.missing_bytes
    }

    /// Float samples that were NaN or infinite and were read as silence.
    pub fn replaced_samples(&self) -> u64 {
        self.replaced_samples
    }
}

/// Reads the `fmt ` chunk content: sample rate, channels and encoding.
fn parse_format(body: &[u8]) -> Result<(u32, u16, Encoding), DecodeError> {
    if body.len() < 16 {
        return Err(DecodeError::Corrupt(format!(
            "the fmt chunk has {} bytes, fewer than 16",
            body.len()
        )));
    }
    let u16_at = |at: usize| u16::from_le_bytes([body[at], body[at + 1]]);
    let mut tag = u16_at(0);
    let channels = u16_at(2);
    let sample_rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
    let block_align = u16_at(12);
    let bits = u16_at(14);
    if tag == 0xFFFE {
        if body.len() < 40 {
            return Err(DecodeError::Corrupt(
                "WAVE_FORMAT_EXTENSIBLE without its 22 extension bytes".into(),
            ));
        }
        if body[26..40] != SUBFORMAT_TAIL {
            return Err(DecodeError::Unsupported(
                "WAVE_FORMAT_EXTENSIBLE with a vendor sub-format".into(),
            ));
        }
        tag = u16_at(24);
    }
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(DecodeError::Corrupt(format!("{channels} channels")));
    }
    if sample_rate == 0 {
        return Err(DecodeError::Corrupt("a sample rate of 0 Hz".into()));
    }
    let encoding = match (tag, bits) {
        (1, 8 | 16 | 24 | 32) => Encoding::Pcm { bits },
        (3, 32 | 64) => Encoding::Float { bits },
        (6, 8) => Encoding::Alaw,
        (7, 8) => Encoding::Ulaw,
        // WAV49 writers put 0 or 260 (bits per frame) here; the block align is what counts
        (0x31, _) if channels == 1 => Encoding::Gsm,
        (0x31, _) => {
            return Err(DecodeError::Unsupported(format!(
                "GSM 6.10 with {channels} channels"
            )));
        }
        (1 | 3 | 6 | 7, bits) => {
            return Err(DecodeError::Unsupported(format!(
                "{} with {bits} bits per sample",
                tag_name(tag)
            )));
        }
        (tag, _) => {
            return Err(DecodeError::Unsupported(format!(
                "format tag {tag:#06x} ({})",
                tag_name(tag)
            )));
        }
    };
    let unit_bytes = usize::from(channels) * encoding.unit_bytes();
    if usize::from(block_align) != unit_bytes {
        return Err(DecodeError::Corrupt(format!(
            "block align {block_align} does not match {channels} channels of {encoding}"
        )));
    }
    Ok((sample_rate, channels, encoding))
}

/// The usual name of a WAV format tag, for messages.
fn tag_name(tag: u16) -> &'static str {
    match tag {
        0x0001 => "PCM",
        0x0002 => "Microsoft ADPCM",
        0x0003 => "IEEE float",
        0x0006 => "G.711 A-law",
        0x0007 => "G.711 µ-law",
        0x0011 => "IMA ADPCM",
        0x0022 => "TrueSpeech",
        0x0031 => "GSM 6.10",
        0x0040 | 0x0045 | 0x0064 => "G.721/G.726 ADPCM",
        0x0055 => "MP3",
        0x0067 | 0x0083 => "G.729",
        0x0161 => "Windows Media Audio",
        _ => "unknown",
    }
}

/// Decodes whole interleaved frames into one plane per channel; returns how many float
/// samples were not finite and became silence.
fn decode(encoding: Encoding, bytes: &[u8], planes: &mut [Vec<f32>]) -> u64 {
    let mut replaced = 0;
    match encoding {
        Encoding::Pcm { bits: 8 } => {
            fill::<1>(bytes, planes, |b| (f32::from(b[0]) - 128.0) / 128.0);
        }
        // the common case, mono 16-bit, in a loop the compiler vectorises
        Encoding::Pcm { bits: 16 } if planes.len() == 1 => pcm16_mono(bytes, &mut planes[0]),
        Encoding::Pcm { bits: 16 } => {
            fill::<2>(bytes, planes, |b| {
                f32::from(i16::from_le_bytes(b)) / 32768.0
            });
        }
        Encoding::Pcm { bits: 24 } => fill::<3>(bytes, planes, |b| {
            (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 / 8_388_608.0
        }),
        Encoding::Pcm { .. } => {
            fill::<4>(bytes, planes, |b| {
                i32::from_le_bytes(b) as f32 / 2_147_483_648.0
            });
        }
        Encoding::Float { bits: 32 } => fill::<4>(bytes, planes, |b| {
            finite(f64::from(f32::from_le_bytes(b)), &mut replaced)
        }),
        Encoding::Float { .. } => {
            fill::<8>(bytes, planes, |b| {
                finite(f64::from_le_bytes(b), &mut replaced)
            });
        }
        Encoding::Alaw => fill::<1>(bytes, planes, |b| {
            f32::from(g711::alaw_decode(b[0])) / 32768.0
        }),
        Encoding::Ulaw => fill::<1>(bytes, planes, |b| {
            f32::from(g711::ulaw_decode(b[0])) / 32768.0
        }),
        Encoding::Gsm => unreachable!("GSM blocks go through decode_gsm"),
    }
    replaced
}

/// Mono 16-bit samples into `plane`, full scale 1.0: every sample of the block is written, so
/// the plane keeps its length from block to block instead of being cleared and filled again.
fn pcm16_mono(bytes: &[u8], plane: &mut Vec<f32>) {
    plane.resize(bytes.len() / 2, 0.0);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor reported AVX2.
        #[allow(unsafe_code)]
        unsafe {
            pcm16_avx2(bytes, plane);
        }
        return;
    }
    pcm16(bytes, plane);
}

/// The same loop compiled for AVX2: sixteen samples a step instead of SSE2's eight.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn pcm16_avx2(bytes: &[u8], out: &mut [f32]) {
    pcm16(bytes, out);
}

#[inline(always)]
fn pcm16(bytes: &[u8], out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = f32::from(i16::from_le_bytes([b[0], b[1]])) * (1.0 / 32768.0);
    }
}

/// Decodes whole WAV49 blocks of a mono file; returns 0 (GSM has no non-finite samples).
fn decode_gsm(decoder: &mut callscore_gsm::Decoder, bytes: &[u8], plane: &mut Vec<f32>) -> u64 {
    plane.clear();
    for block in bytes.chunks_exact(callscore_gsm::WAV49_BLOCK_BYTES) {
        let block = block.try_into().expect("chunks_exact yields whole blocks");
        plane.extend(
            decoder
                .decode_wav49_block(block)
                .iter()
                .map(|&s| f32::from(s) / 32768.0),
        );
    }
    0
}

/// Splits interleaved frames of `N`-byte samples into the planes.
fn fill<const N: usize>(
    bytes: &[u8],
    planes: &mut [Vec<f32>],
    mut sample: impl FnMut([u8; N]) -> f32,
) {
    let channels = planes.len();
    for plane in planes.iter_mut() {
        plane.clear();
    }
    for frame in bytes.chunks_exact(N * channels) {
        for (plane, raw) in planes.iter_mut().zip(frame.chunks_exact(N)) {
            let mut word = [0u8; N];
            word.copy_from_slice(raw);
            plane.push(sample(word));
        }
    }
}

/// Writes a complete WAV file (sizes filled in) holding `channels`, which must all have the
/// same length; samples are full scale 1.0 and clipped beyond it. For fixtures and tests.
pub fn write_wav<C: AsRef<[f32]>>(
    out: &mut impl Write,
    sample_rate: u32,
    encoding: Encoding,
    channels: &[C],
) -> io::Result<()> {
    let channels: Vec<&[f32]> = channels.iter().map(AsRef::as_ref).collect();
    let frames = channels.first().map_or(0, |c| c.len());
    if channels.is_empty()
        || channels.len() > usize::from(MAX_CHANNELS)
        || channels.iter().any(|c| c.len() != frames)
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a WAV file needs 1 to 64 channels of equal length",
        ));
    }
    let (tag, bits) = match encoding {
        Encoding::Pcm {
            bits: bits @ (8 | 16 | 24 | 32),
        } => (1u16, bits),
        Encoding::Float {
            bits: bits @ (32 | 64),
        } => (3, bits),
        Encoding::Alaw => (6, 8),
        Encoding::Ulaw => (7, 8),
        Encoding::Gsm | Encoding::Pcm { .. } | Encoding::Float { .. } => {
            let message = format!("callscore does not write {encoding}");
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        }
    };
    let width = encoding.unit_bytes();
    let block_align = channels.len() * width;
    let data_bytes = u32::try_from(frames * block_align)
        .ok()
        .filter(|&n| n < u32::MAX - 64)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "too long for RIFF"))?;
    let mut head = Vec::with_capacity(44);
    head.extend_from_slice(b"RIFF");
    head.extend_from_slice(&(36 + data_bytes + (data_bytes & 1)).to_le_bytes());
    head.extend_from_slice(b"WAVEfmt ");
    head.extend_from_slice(&16u32.to_le_bytes());
    head.extend_from_slice(&tag.to_le_bytes());
    head.extend_from_slice(&(channels.len() as u16).to_le_bytes());
    head.extend_from_slice(&sample_rate.to_le_bytes());
    head.extend_from_slice(&(sample_rate.saturating_mul(block_align as u32)).to_le_bytes());
    head.extend_from_slice(&(block_align as u16).to_le_bytes());
    head.extend_from_slice(&bits.to_le_bytes());
    head.extend_from_slice(b"data");
    head.extend_from_slice(&data_bytes.to_le_bytes());
    out.write_all(&head)?;

    let mut data = Vec::with_capacity(data_bytes as usize + 1);
    for i in 0..frames {
        for channel in &channels {
            let x = f64::from(channel[i]).clamp(-1.0, 1.0);
            let pcm16 = (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
            match encoding {
                Encoding::Pcm { bits: 8 } => {
                    data.push((x * 128.0 + 128.0).round().clamp(0.0, 255.0) as u8);
                }
                Encoding::Pcm { bits: 16 } => data.extend_from_slice(&pcm16.to_le_bytes()),
                Encoding::Pcm { bits: 24 } => {
                    let v = (x * 8_388_608.0).round().clamp(-8_388_608.0, 8_388_607.0) as i32;
                    data.extend_from_slice(&v.to_le_bytes()[..3]);
                }
                Encoding::Pcm { .. } => {
                    let v = (x * 2_147_483_648.0)
                        .round()
                        .clamp(-2_147_483_648.0, 2_147_483_647.0)
                        as i32;
                    data.extend_from_slice(&v.to_le_bytes());
                }
                Encoding::Float { bits: 32 } => data.extend_from_slice(&(x as f32).to_le_bytes()),
                Encoding::Float { .. } => data.extend_from_slice(&x.to_le_bytes()),
                Encoding::Alaw => data.push(g711::alaw_encode(pcm16)),
                Encoding::Ulaw => data.push(g711::ulaw_encode(pcm16)),
                Encoding::Gsm => unreachable!("GSM was refused before the data"),
            }
        }
    }
    if data.len() % 2 == 1 {
        data.push(0);
    }
    out.write_all(&data)
}

/// A float sample as the 16-bit path would see it: clipped to full scale, NaN and infinity
/// counted and read as silence.
fn finite(x: f64, replaced: &mut u64) -> f32 {
    if x.is_finite() {
        x.clamp(-1.0, 1.0) as f32
    } else {
        *replaced += 1;
        0.0
    }
}

/// A chunk's size on disk: chunks are padded to an even length.
fn padded(size: u32) -> u64 {
    u64::from(size) + u64::from(size & 1)
}

/// Skips `bytes` of a chunk that is not needed.
fn skip(inner: &mut impl Read, bytes: u64, chunk: &str) -> Result<(), DecodeError> {
    let skipped = io::copy(&mut inner.take(bytes), &mut io::sink())?;
    if skipped < bytes {
        return Err(DecodeError::Corrupt(format!(
            "the file ends inside the {chunk:?} chunk, before the data chunk"
        )));
    }
    Ok(())
}

/// Whether callscore's own reader should take the WAV file that starts with `head`: every
/// encoding but the ADPCM ones, which symphonia decodes. The reader decodes linear PCM, float,
/// G.711 and GSM (WAV49), and refuses the rest naming the codec. When the format chunk is not
/// within `head` the answer is yes, and the reader will say what it finds.
pub(crate) fn ours(head: &[u8]) -> bool {
    let mut at = 12;
    while let Some(header) = head.get(at..at + 8) {
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if &header[..4] == b"fmt " {
            let body = &head[at + 8..];
            let u16_at = |i: usize| body.get(i..i + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
            let tag = match u16_at(0) {
                Some(0xFFFE) => u16_at(24),
                tag => tag,
            };
            return !matches!(tag, Some(ADPCM_MS | ADPCM_IMA));
        }
        at += 8 + usize::try_from(padded(size)).unwrap_or(usize::MAX - at);
    }
    true
}

impl<R: Read> WavReader<R> {
    /// The header's facts in the form the recording reader shares with the other readers.
    pub(crate) fn info(&self) -> crate::source::SourceInfo {
        crate::source::SourceInfo {
            container: "WAV",
            codec: self.spec.encoding.to_string(),
            sample_rate: self.spec.sample_rate,
            channels: self.spec.channels,
            frames: self.spec.frames,
        }
    }
}
