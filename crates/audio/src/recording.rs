//! [`Recording`]: recognise the format, pick its reader, check the limits, resample to 8 kHz.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::guard::{self, Verdict};
use crate::input::{Input, ReadSeek, SNIFF_BYTES};
use crate::raw::RawReader;
use crate::resample::Resampler;
use crate::source::{Source, SourceInfo, SourceStats};
use crate::wav::{self, WavReader};
use crate::{DecodeError, DecodeOptions, Limits, OUTPUT_RATE};

/// Frames asked of callscore's own WAV reader at a time: 32 KiB of 16-bit mono per `read`, which
/// costs the kernel a quarter of the calls 4,096 frames did, and still fits in the cache.
const WAV_BLOCK_FRAMES: usize = 16384;

/// What a recording is, as its header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingInfo {
    /// The container: `WAV`, `FLAC`, `MP3`, `Ogg`, `MP4`, `headerless`, ….
    pub container: &'static str,
    /// The codec inside it, for messages and logs.
    pub codec: String,
    /// The stream's own sample rate, in Hz.
    pub sample_rate: u32,
    /// The stream's channels.
    pub channels: u16,
    /// The duration the header announces, when it does.
    pub declared_duration: Option<Duration>,
}

/// What decoding found, including damage it worked around.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Frames decoded at the stream's own rate.
    pub input_frames: u64,
    /// Frames delivered at 8 kHz.
    pub output_frames: u64,
    /// Bytes of audio the header announced that the input did not hold: the recording was cut
    /// off.
    pub missing_bytes: u64,
    /// Float samples that were NaN or infinite and were read as silence.
    pub replaced_samples: u64,
    /// Packets or frames that could not be decoded and were skipped.
    pub corrupt_packets: u64,
}

impl DecodeStats {
    /// The damage as sentences for a person, empty when there was none.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.missing_bytes > 0 {
            warnings.push(format!(
                "the recording is cut off ({} bytes of audio missing at the end); analysed what \
                 is there",
                self.missing_bytes
            ));
        }
        if self.replaced_samples > 0 {
            warnings.push(format!(
                "{} float samples were NaN or infinite and were read as silence",
                self.replaced_samples
            ));
        }
        if self.corrupt_packets > 0 {
            warnings.push(format!(
                "{} damaged packets could not be decoded and were skipped",
                self.corrupt_packets
            ));
        }
        warnings
    }
}

/// One recording being decoded: blocks of 8 kHz samples per channel, streamed, so memory does
/// not grow with the recording's length.
#[derive(Debug)]
pub struct Recording {
    source: Box<dyn Source>,
    info: RecordingInfo,
    limits: Limits,
    resampler: Option<Resampler>,
    mix_down: bool,
    over_limit: Arc<AtomicBool>,
    out: Vec<Vec<f32>>,
    mixed: Vec<Vec<f32>>,
    stats: DecodeStats,
    done: bool,
}

impl Recording {
    /// Opens the file at `path`; its extension is the format hint unless `options` gives one.
    pub fn open_path(path: &Path, options: &DecodeOptions) -> Result<Recording, DecodeError> {
        let file = File::open(path)?;
        let mut options = options.clone();
        if options.extension.is_none() {
            options.extension = path.extension().and_then(|e| e.to_str()).map(str::to_owned);
        }
        Recording::open_file(file, &options)
    }

    /// Opens a file already open; a pipe or a device is read as a stream.
    pub fn open_file(mut file: File, options: &DecodeOptions) -> Result<Recording, DecodeError> {
        let metadata = file.metadata()?;
        if metadata.is_dir() {
            return Err(DecodeError::Io(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "it is a directory",
            )));
        }
        if !metadata.is_file() {
            return Recording::open_stream(file, options);
        }
        let len = file.seek(SeekFrom::End(0))?;
        file.seek(SeekFrom::Start(0))?;
        Recording::open_seekable(Box::new(file), len, options)
    }

    /// Opens a recording held in memory (an inline Kafka payload, say).
    pub fn open_bytes(
        bytes: impl AsRef<[u8]> + Send + Sync + 'static,
        options: &DecodeOptions,
    ) -> Result<Recording, DecodeError> {
        let len = bytes.as_ref().len() as u64;
        Recording::open_seekable(Box::new(std::io::Cursor::new(bytes)), len, options)
    }

    /// Opens a stream that can only be read forward (standard input, a download). Formats
    /// that keep their index at the end (some MP4 files) need [`Recording::open_path`] or
    /// [`Recording::open_bytes`].
    pub fn open_stream(
        stream: impl Read + Send + Sync + 'static,
        options: &DecodeOptions,
    ) -> Result<Recording, DecodeError> {
        Recording::open_input(
            Input::stream(stream, options.limits.max_input_bytes),
            options,
        )
    }

    fn open_seekable(
        inner: Box<dyn ReadSeek>,
        len: u64,
        options: &DecodeOptions,
    ) -> Result<Recording, DecodeError> {
        if len > options.limits.max_input_bytes {
            return Err(DecodeError::TooLarge(format!(
                "{len} bytes, over the limit of {}",
                options.limits.max_input_bytes
            )));
        }
        let input = Input::seekable(inner, len, options.limits.max_input_bytes);
        Recording::open_input(input, options)
    }

    fn open_input(mut input: Input, options: &DecodeOptions) -> Result<Recording, DecodeError> {
        let over_limit = input.over_limit_flag();
        let head = input
            .peek(SNIFF_BYTES)
            .map_err(|e| over(e.into(), &over_limit))?;
        if head.is_empty() {
            return Err(DecodeError::Empty("the input has zero bytes"));
        }
        let extension = options.extension.as_deref();
        let headerless = options
            .headerless
            .or_else(|| extension.and_then(crate::Headerless::from_extension));
        let container = match recognise(&head) {
            // a frame sync word is two bytes that raw audio holds by chance (µ-law silence is
            // 0xFF): it decides only when nothing names a headerless format
            Some((_, Magic::Weak)) if headerless.is_some() => None,
            found => found.map(|(container, _)| container),
        };
        let (source, info): (Box<dyn Source>, SourceInfo) = match container {
            Some("WAV") if wav::ours(&head) => {
                let reader = WavReader::new(input)?;
                let info = reader.info();
                (Box::new(reader), info)
            }
            Some(container) => {
                check_headers(&mut input, &head, container).map_err(|e| over(e, &over_limit))?;
                let (reader, info) = crate::media::open(input, extension, container)
                    .map_err(|e| over(e, &over_limit))?;
                (Box::new(reader), info)
            }
            None => match headerless {
                Some(format) => {
                    let (reader, info) = RawReader::new(input, format);
                    (Box::new(reader), info)
                }
                // symphonia's probe would scan the bytes for a signature further on, and hand
                // what it finds to a reader whose headers nobody checked: refused instead
                None => {
                    return Err(DecodeError::Unsupported(
                        "not a recognised audio format".into(),
                    ));
                }
            },
        };
        options
            .limits
            .check_layout(info.sample_rate, info.channels)?;
        if let Some(frames) = info.frames {
            options.limits.check_frames(frames, info.sample_rate)?;
        }
        let channels = usize::from(info.channels);
        let resampler = match info.sample_rate {
            OUTPUT_RATE => None,
            rate => Some(Resampler::new(rate, OUTPUT_RATE, channels)?),
        };
        let info = RecordingInfo {
            container: info.container,
            codec: info.codec,
            sample_rate: info.sample_rate,
            channels: info.channels,
            declared_duration: info
                .frames
                .map(|frames| Duration::from_secs_f64(frames as f64 / f64::from(info.sample_rate))),
        };
        Ok(Recording {
            source,
            info,
            limits: options.limits,
            resampler,
            mix_down: options.mix_down,
            over_limit,
            out: vec![Vec::new(); channels],
            mixed: vec![Vec::new()],
            stats: DecodeStats::default(),
            done: false,
        })
    }

    /// What the header says.
    pub fn info(&self) -> &RecordingInfo {
        &self.info
    }

    /// Channels in each block: the recording's, or one when mixing down.
    pub fn output_channels(&self) -> u16 {
        if self.mix_down { 1 } else { self.info.channels }
    }

    /// What decoding has found so far.
    pub fn stats(&self) -> DecodeStats {
        let SourceStats {
            missing_bytes,
            replaced_samples,
            corrupt_packets,
        } = self.source.stats();
        DecodeStats {
            missing_bytes,
            replaced_samples,
            corrupt_packets,
            ..self.stats
        }
    }

    /// The next block of 8 kHz samples, one slice per output channel, full scale 1.0; `None`
    /// at the end. A recording with no samples at all is [`DecodeError::Empty`].
    pub fn next_block(&mut self) -> Result<Option<&[Vec<f32>]>, DecodeError> {
        let Recording {
            source,
            info,
            limits,
            resampler,
            mix_down,
            over_limit,
            out,
            stats,
            done,
            ..
        } = self;
        let rate = info.sample_rate;
        if resampler.is_none() && !*mix_down {
            // already at 8 kHz and kept apart: the reader's blocks go on without a copy
            let block = pull(source, stats, done, limits, rate, over_limit)?;
            if let Some(block) = block {
                stats.output_frames += block[0].len() as u64;
            }
            return Ok(block);
        }
        for channel in out.iter_mut() {
            channel.clear();
        }
        while !*done && out[0].is_empty() {
            match pull(source, stats, done, limits, rate, over_limit)? {
                Some(block) => match resampler {
                    Some(resampler) => resampler.push(block, out),
                    None => {
                        for (out, input) in out.iter_mut().zip(block) {
                            out.extend_from_slice(input);
                        }
                    }
                },
                None => {
                    if let Some(resampler) = resampler {
                        resampler.finish(out);
                    }
                }
            }
        }
        if self.out[0].is_empty() {
            return Ok(None);
        }
        if self.resampler.is_some() {
            // the low-pass filter can overshoot full scale on hard-clipped input (up to 2x on
            // adversarial signals, found by fuzzing): the output keeps the 1.0 contract
            for channel in &mut self.out {
                for x in channel.iter_mut() {
                    *x = x.clamp(-1.0, 1.0);
                }
            }
        }
        self.stats.output_frames += self.out[0].len() as u64;
        if !self.mix_down {
            return Ok(Some(&self.out));
        }
        let scale = 1.0 / self.out.len() as f32;
        let mixed = &mut self.mixed[0];
        mixed.clear();
        mixed.resize(self.out[0].len(), 0.0);
        for channel in &self.out {
            for (sum, x) in mixed.iter_mut().zip(channel) {
                *sum += x * scale;
            }
        }
        Ok(Some(&self.mixed))
    }
}

/// Checks the leading headers symphonia would trust, reading ahead as far as they reach.
fn check_headers(input: &mut Input, head: &[u8], container: &str) -> Result<(), DecodeError> {
    let len = input.byte_len();
    let check = |bytes: &[u8]| match container {
        "FLAC" => guard::flac(bytes),
        "Ogg" => guard::ogg(bytes),
        "MP4" => guard::mp4(bytes, len),
        _ => Ok(Verdict::Fine),
    };
    let mut bytes = head.to_vec();
    loop {
        match check(&bytes)? {
            Verdict::Fine => return Ok(()),
            Verdict::NeedBytes(len) if len <= bytes.len() => {
                // the bytes it needs are all there and still not enough: a cut-off header
                return Err(DecodeError::Corrupt(format!(
                    "the {container} stream ends inside its headers"
                )));
            }
            Verdict::NeedBytes(len) => {
                // read ahead generously, so that long headers take few rounds
                let want = len.max(2 * bytes.len()).min(guard::MAX_CHECKED_HEADER);
                bytes = input.peek(want)?;
                if bytes.len() < len {
                    return Err(DecodeError::Corrupt(format!(
                        "the {container} stream ends inside its headers"
                    )));
                }
            }
        }
    }
}

/// The source's next block at its own rate, counted against the duration limit; `None` at the
/// end, where a stream that held no samples at all is [`DecodeError::Empty`]. After an error
/// or the end, `done` is set.
fn pull<'a>(
    source: &'a mut Box<dyn Source>,
    stats: &mut DecodeStats,
    done: &mut bool,
    limits: &Limits,
    rate: u32,
    over_limit: &AtomicBool,
) -> Result<Option<&'a [Vec<f32>]>, DecodeError> {
    if *done {
        return Ok(None);
    }
    let block = source.next_block().map_err(|error| {
        *done = true;
        over(error, over_limit)
    })?;
    let Some(block) = block else {
        *done = true;
        if stats.input_frames == 0 {
            return Err(DecodeError::Empty("the stream holds no samples"));
        }
        return Ok(None);
    };
    stats.input_frames += block[0].len() as u64;
    if let Err(error) = limits.check_frames(stats.input_frames, rate) {
        *done = true;
        return Err(error);
    }
    Ok(Some(block))
}

/// An I/O error caused by the input-size limit, reported as such.
fn over(error: DecodeError, over_limit: &AtomicBool) -> DecodeError {
    if over_limit.load(Ordering::Relaxed) {
        DecodeError::TooLarge("the input is over its size limit".into())
    } else {
        error
    }
}

/// How sure a signature makes the guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Magic {
    /// A signature of four bytes or more.
    Strong,
    /// A frame sync word: 11 or 12 bits.
    Weak,
}

/// The container the first bytes show, if any.
fn recognise(head: &[u8]) -> Option<(&'static str, Magic)> {
    let at = |range: std::ops::Range<usize>| head.get(range).unwrap_or_default();
    let strong = match at(0..4) {
        b"RIFF" | b"RF64" | b"BW64" if at(8..12) == b"WAVE" => Some("WAV"),
        b"fLaC" => Some("FLAC"),
        b"OggS" => Some("Ogg"),
        b"caff" => Some("CAF"),
        [0x1A, 0x45, 0xDF, 0xA3] => Some("Matroska"),
        b"FORM" if matches!(at(8..12), b"AIFF" | b"AIFC") => Some("AIFF"),
        _ if at(0..3) == b"ID3" => Some("MP3"),
        _ if at(4..8) == b"ftyp" => Some("MP4"),
        _ => None,
    };
    if let Some(container) = strong {
        return Some((container, Magic::Strong));
    }
    let weak = match at(0..2) {
        // ADTS AAC: sync word, layer 0
        [0xFF, b] if b & 0xF6 == 0xF0 => Some("ADTS"),
        // MPEG audio frame sync, layer bits not 00
        [0xFF, b] if b & 0xE0 == 0xE0 && b & 0x06 != 0 => Some("MP3"),
        _ => None,
    };
    weak.map(|container| (container, Magic::Weak))
}

impl<R: Read + Send + std::fmt::Debug> Source for WavReader<R> {
    fn next_block(&mut self) -> Result<Option<&[Vec<f32>]>, DecodeError> {
        WavReader::next_block(self, WAV_BLOCK_FRAMES)
    }

    fn stats(&self) -> SourceStats {
        SourceStats {
            missing_bytes: self.missing_bytes(),
            replaced_samples: self.replaced_samples(),
            corrupt_packets: 0,
        }
    }
}
