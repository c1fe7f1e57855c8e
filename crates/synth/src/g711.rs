//! A G.711 telephone channel, to put test signals through the codec they meet in a call.

use callscore_audio::g711::{alaw_decode, alaw_encode, ulaw_decode, ulaw_encode};

/// The companding law of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    /// North American and Japanese PCMU.
    Ulaw,
    /// European PCMA.
    Alaw,
}

/// Passes a signal (full scale 1.0) through a G.711 encoder and decoder, clipping as the
/// 16-bit path before it would.
pub fn channel(signal: &mut [f32], law: Law) {
    for x in signal.iter_mut() {
        let pcm = (*x * 32767.0).round().clamp(-32768.0, 32767.0) as i16;
        let out = match law {
            Law::Ulaw => ulaw_decode(ulaw_encode(pcm)),
            Law::Alaw => alaw_decode(alaw_encode(pcm)),
        };
        *x = f32::from(out) / 32767.0;
    }
}
