//! Ogg Opus, which symphonia demuxes but cannot decode: libopus (through the `opus` crate)
//! decodes, plugged into symphonia as a codec so that the rest of the path is the same.

use symphonia::core::audio::{
    AsAudioBufferRef, AudioBuffer, AudioBufferRef, Channels, Signal, SignalSpec,
};
use symphonia::core::codecs::{
    CODEC_TYPE_OPUS, CodecDescriptor, CodecParameters, Decoder, DecoderOptions, FinalizeResult,
};
use symphonia::core::errors::{Error, Result};
use symphonia::core::formats::Packet;

/// Opus always decodes at 48 kHz.
const OPUS_RATE: u32 = 48_000;
/// The longest Opus packet: 120 ms at 48 kHz.
const MAX_PACKET_FRAMES: usize = 5760;

/// libopus behind symphonia's decoder trait (mono and stereo streams).
pub(crate) struct OpusDecoder {
    params: CodecParameters,
    /// libopus's decoder may move between threads but not be shared; symphonia's trait wants
    /// both, and the lock is never contended.
    inner: std::sync::Mutex<::opus::Decoder>,
    channels: usize,
    /// Frames still to drop at the start (the encoder's pre-skip).
    skip: usize,
    interleaved: Vec<f32>,
    buffer: AudioBuffer<f32>,
}

impl Decoder for OpusDecoder {
    fn try_new(params: &CodecParameters, _options: &DecoderOptions) -> Result<OpusDecoder> {
        let count = params.channels.map_or(0, |c| c.count());
        let (layout, channels) = match count {
            1 => (::opus::Channels::Mono, Channels::FRONT_LEFT),
            2 => (
                ::opus::Channels::Stereo,
                Channels::FRONT_LEFT | Channels::FRONT_RIGHT,
            ),
            _ => return Err(Error::Unsupported("Opus with more than two channels")),
        };
        let inner = ::opus::Decoder::new(OPUS_RATE, layout)
            .map_err(|_| Error::DecodeError("libopus refused the stream's parameters"))?;
        let mut params = params.clone();
        params.with_sample_rate(OPUS_RATE);
        Ok(OpusDecoder {
            skip: params.delay.unwrap_or(0) as usize,
            params,
            inner: std::sync::Mutex::new(inner),
            channels: count,
            interleaved: vec![0.0; MAX_PACKET_FRAMES * count],
            buffer: AudioBuffer::new(
                MAX_PACKET_FRAMES as u64,
                SignalSpec::new(OPUS_RATE, channels),
            ),
        })
    }

    fn supported_codecs() -> &'static [CodecDescriptor] {
        &[symphonia::core::support_codec!(
            CODEC_TYPE_OPUS,
            "opus",
            "Opus (libopus)"
        )]
    }

    fn reset(&mut self) {
        // a failed reset leaves the old state, which the next packets overwrite anyway
        let inner = self.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        let _ = inner.reset_state();
    }

    fn codec_params(&self) -> &CodecParameters {
        &self.params
    }

    fn decode(&mut self, packet: &Packet) -> Result<AudioBufferRef<'_>> {
        let inner = self.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        let frames = inner
            .decode_float(&packet.data, &mut self.interleaved, false)
            .map_err(|_| Error::DecodeError("libopus could not decode a packet"))?;
        let skip = self.skip.min(frames);
        self.skip -= skip;
        self.buffer.clear();
        self.buffer.render_reserved(Some(frames - skip));
        for channel in 0..self.channels {
            let plane = self.buffer.chan_mut(channel);
            for (out, frame) in plane
                .iter_mut()
                .zip(self.interleaved.chunks_exact(self.channels).skip(skip))
            {
                *out = frame[channel];
            }
        }
        Ok(self.buffer.as_audio_buffer_ref())
    }

    fn finalize(&mut self) -> FinalizeResult {
        FinalizeResult::default()
    }

    fn last_decoded(&self) -> AudioBufferRef<'_> {
        self.buffer.as_audio_buffer_ref()
    }
}
