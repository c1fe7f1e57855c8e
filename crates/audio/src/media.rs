//! Everything symphonia decodes: FLAC, MP3, Ogg Vorbis, MP4/M4A (AAC, ALAC), AIFF, CAF,
//! Matroska/WebM, and the WAV encodings callscore's own reader leaves to it (IMA and Microsoft
//! ADPCM). This is the only module that names symphonia types.

use std::panic::{AssertUnwindSafe, catch_unwind};

use symphonia::core::audio::{AudioBuffer, Signal};
use symphonia::core::codecs::{
    CODEC_TYPE_AAC, CODEC_TYPE_ADPCM_G722, CODEC_TYPE_ADPCM_G726, CODEC_TYPE_ADPCM_G726LE,
    CODEC_TYPE_EAC3, CODEC_TYPE_NULL, CODEC_TYPE_OPUS, CODEC_TYPE_SPEEX, CODEC_TYPE_WMA,
    CodecRegistry, CodecType, Decoder, DecoderOptions,
};
use symphonia::core::errors::Error;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::{Hint, Probe};

use crate::DecodeError;
use crate::input::Input;
use crate::source::{Source, SourceInfo, SourceStats};

/// Corrupt packets in a row after which the stream is taken as broken rather than damaged.
const MAX_CORRUPT_RUN: u32 = 50;

impl MediaSource for Input {
    fn is_seekable(&self) -> bool {
        self.seekable_input()
    }

    fn byte_len(&self) -> Option<u64> {
        self.byte_len()
    }
}

/// A symphonia demuxer and decoder for the first audio track.
pub(crate) struct MediaSourceReader {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track: u32,
    channels: usize,
    buffer: Option<AudioBuffer<f32>>,
    planes: Vec<Vec<f32>>,
    stats: SourceStats,
    /// Set once the stream ended or failed: symphonia is not called again.
    finished: bool,
    /// The planes hold a block decoded while opening, not yet handed out.
    primed: bool,
}

impl std::fmt::Debug for MediaSourceReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSourceReader")
            .field("track", &self.track)
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

/// Opens `input` with symphonia's probe; `container` names what the caller recognised.
pub(crate) fn open(
    input: Input,
    extension: Option<&str>,
    container: &'static str,
) -> Result<(MediaSourceReader, SourceInfo), DecodeError> {
    let stream = MediaSourceStream::new(Box::new(input), MediaSourceStreamOptions::default());
    let mut hint = Hint::new();
    if let Some(extension) = extension {
        hint.with_extension(extension);
    }
    let probed = guarded(|| {
        probe_for(container).format(
            &hint,
            stream,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
    })
    .map_err(|error| opening_error(error, container))?;
    let format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|track| track.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or(DecodeError::Empty("the container holds no audio track"))?;
    let params = track.codec_params.clone();
    let track = track.id;
    let codec = codecs()
        .get_codec(params.codec)
        .map(|descriptor| descriptor.long_name)
        .unwrap_or_else(|| undecodable_name(params.codec));
    let sample_rate = params
        .sample_rate
        .ok_or_else(|| DecodeError::Corrupt(format!("{container} track without a sample rate")))?;
    let decoder = guarded(|| codecs().make(&params, &DecoderOptions::default())).map_err(
        |error| match error {
            Error::Unsupported(_) => {
                DecodeError::Unsupported(format!("{codec} in {container} (no decoder for it)"))
            }
            other => opening_error(other, container),
        },
    )?;
    let channels = params
        .channels
        .or(decoder.codec_params().channels)
        .map(|channels| channels.count())
        .unwrap_or(0);
    let mut reader = MediaSourceReader {
        format,
        decoder,
        track,
        channels,
        buffer: None,
        planes: vec![Vec::new(); channels],
        stats: SourceStats::default(),
        finished: false,
        primed: false,
    };
    if channels == 0 {
        // AAC in MP4 (and ADTS) declares its channels only in the first frame: decode it now,
        // and hand it out as the first block
        reader.primed = reader.next_block()?.is_some();
    }
    let info = SourceInfo {
        container,
        codec: codec.to_string(),
        sample_rate,
        channels: u16::try_from(reader.channels).unwrap_or(u16::MAX),
        frames: params.n_frames,
    };
    Ok((reader, info))
}

/// A probe that knows only the container callscore recognised. symphonia's probe scans the
/// stream for any signature it knows; with every reader registered, a WAV or MP3 file could
/// smuggle a FLAC header further on to a reader whose headers callscore never checked (found
/// by fuzzing).
fn probe_for(container: &str) -> &'static Probe {
    use symphonia::default::formats::{
        AdtsReader, AiffReader, CafReader, FlacReader, IsoMp4Reader, MkvReader, MpaReader,
        OggReader, WavReader,
    };
    static PROBES: std::sync::OnceLock<Vec<(&'static str, Probe)>> = std::sync::OnceLock::new();
    let probes = PROBES.get_or_init(|| {
        let one = |register: fn(&mut Probe)| {
            let mut probe = Probe::default();
            register(&mut probe);
            probe
        };
        vec![
            ("WAV", one(|p| p.register_all::<WavReader>())),
            ("FLAC", one(|p| p.register_all::<FlacReader>())),
            ("MP3", one(|p| p.register_all::<MpaReader>())),
            ("ADTS", one(|p| p.register_all::<AdtsReader>())),
            ("Ogg", one(|p| p.register_all::<OggReader>())),
            ("MP4", one(|p| p.register_all::<IsoMp4Reader>())),
            ("AIFF", one(|p| p.register_all::<AiffReader>())),
            ("CAF", one(|p| p.register_all::<CafReader>())),
            ("Matroska", one(|p| p.register_all::<MkvReader>())),
            // recognises nothing: every other container is refused before it gets here
            ("none", Probe::default()),
        ]
    });
    probes
        .iter()
        .find(|(name, _)| *name == container)
        .or_else(|| probes.last())
        .map(|(_, probe)| probe)
        .expect("the list is not empty")
}

/// symphonia's codecs plus the ones callscore plugs in (Opus).
fn codecs() -> &'static CodecRegistry {
    static CODECS: std::sync::OnceLock<CodecRegistry> = std::sync::OnceLock::new();
    CODECS.get_or_init(|| {
        let mut registry = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut registry);
        #[cfg(feature = "opus")]
        registry.register_all::<crate::opus::OpusDecoder>();
        registry
    })
}

/// Names codecs symphonia recognises in containers but cannot decode, for the refusal.
fn undecodable_name(codec: CodecType) -> &'static str {
    match codec {
        CODEC_TYPE_OPUS => "Opus (callscore built without its `opus` feature)",
        CODEC_TYPE_SPEEX => "Speex",
        CODEC_TYPE_AAC => "AAC",
        CODEC_TYPE_ADPCM_G722 => "G.722",
        CODEC_TYPE_ADPCM_G726 | CODEC_TYPE_ADPCM_G726LE => "G.726",
        CODEC_TYPE_WMA => "Windows Media Audio",
        CODEC_TYPE_EAC3 => "E-AC-3",
        _ => "an unknown codec",
    }
}

impl Source for MediaSourceReader {
    fn next_block(&mut self) -> Result<Option<&[Vec<f32>]>, DecodeError> {
        if std::mem::take(&mut self.primed) {
            return Ok(Some(&self.planes));
        }
        let mut corrupt_run = 0;
        while !self.finished {
            let packet = match guarded(|| self.format.next_packet()) {
                Ok(packet) => packet,
                Err(error) => {
                    self.finished = true;
                    return match error {
                        // the normal end of a stream, and a cut-off one, look alike here
                        Error::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                            Ok(None)
                        }
                        // a chained Ogg stream or a format change: callscore reads the first
                        Error::ResetRequired => Ok(None),
                        other => Err(stream_error(other)),
                    };
                }
            };
            if packet.track_id() != self.track {
                continue;
            }
            let decoded = match guarded(|| self.decoder.decode(&packet)) {
                Ok(decoded) => decoded,
                Err(error) if damaged(&error) => {
                    // one damaged packet costs its few milliseconds, not the recording
                    self.stats.corrupt_packets += 1;
                    corrupt_run += 1;
                    if corrupt_run >= MAX_CORRUPT_RUN {
                        self.finished = true;
                        return Err(DecodeError::Corrupt(format!(
                            "{MAX_CORRUPT_RUN} undecodable packets in a row"
                        )));
                    }
                    continue;
                }
                Err(other) => {
                    self.finished = true;
                    return Err(stream_error(other));
                }
            };
            corrupt_run = 0;
            let spec = *decoded.spec();
            if self.channels == 0 {
                self.channels = spec.channels.count();
                self.planes = vec![Vec::new(); self.channels];
            }
            if spec.channels.count() != self.channels {
                self.finished = true;
                return Err(DecodeError::Unsupported(format!(
                    "the channel count changes from {} to {} inside the stream",
                    self.channels,
                    spec.channels.count()
                )));
            }
            let frames = decoded.frames();
            if frames == 0 {
                continue;
            }
            let buffer = match &mut self.buffer {
                Some(buffer) if buffer.capacity() >= frames && *buffer.spec() == spec => buffer,
                slot => slot.insert(AudioBuffer::new(decoded.capacity() as u64, spec)),
            };
            decoded.convert(buffer);
            for (channel, plane) in self.planes.iter_mut().enumerate() {
                plane.clear();
                plane.extend(
                    buffer
                        .chan(channel)
                        .iter()
                        .map(|&x| clean(x, &mut self.stats)),
                );
            }
            return Ok(Some(&self.planes));
        }
        Ok(None)
    }

    fn stats(&self) -> SourceStats {
        self.stats
    }
}

/// A sample clipped to full scale, with NaN and infinity counted and read as silence.
fn clean(x: f32, stats: &mut SourceStats) -> f32 {
    if x.is_finite() {
        x.clamp(-1.0, 1.0)
    } else {
        stats.replaced_samples += 1;
        0.0
    }
}

/// Whether a decoder error means a damaged packet, which is skipped. A packet that ends early
/// reads as an I/O error inside the decoder's bit reader: damaged data, not a failing input.
fn damaged(error: &Error) -> bool {
    match error {
        Error::DecodeError(what) => *what != PANICKED,
        Error::IoError(e) => e.kind() == std::io::ErrorKind::UnexpectedEof,
        _ => false,
    }
}

/// What symphonia reports when it panicked: its state is then unknown, so the stream ends.
const PANICKED: &str = "symphonia failed on this input (a panic, caught)";

/// Runs a symphonia call, turning a panic inside it into a decode error: a bug in a decoder
/// must cost one recording, not the service. (The fuzzer found one: a CAF header with a zero
/// time base.)
fn guarded<T>(call: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(call)).unwrap_or(Err(Error::DecodeError(PANICKED)))
}

fn opening_error(error: Error, container: &str) -> DecodeError {
    match error {
        Error::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            DecodeError::Corrupt(format!("the {container} stream ends inside its header"))
        }
        Error::IoError(e) => DecodeError::Io(e),
        Error::Unsupported(_) if container == "unknown" => {
            DecodeError::Unsupported("not a recognised audio format".into())
        }
        Error::Unsupported(what) => DecodeError::Unsupported(format!("{container}: {what}")),
        Error::LimitError(what) => DecodeError::TooLarge(format!("{container}: {what}")),
        Error::DecodeError(what) => DecodeError::Corrupt(format!("{container}: {what}")),
        Error::SeekError(_) | Error::ResetRequired => {
            DecodeError::Corrupt(format!("{container}: cannot find the start of the audio"))
        }
    }
}

fn stream_error(error: Error) -> DecodeError {
    match error {
        Error::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            DecodeError::Corrupt("the stream ends inside a packet".into())
        }
        Error::IoError(e) => DecodeError::Io(e),
        Error::Unsupported(what) => DecodeError::Unsupported(what.to_string()),
        Error::LimitError(what) => DecodeError::TooLarge(what.to_string()),
        Error::DecodeError(what) => DecodeError::Corrupt(what.to_string()),
        Error::SeekError(_) | Error::ResetRequired => {
            DecodeError::Corrupt("the stream cannot be followed".into())
        }
    }
}
