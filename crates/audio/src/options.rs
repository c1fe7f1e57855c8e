//! What a caller can tell the decoder: limits, hints about headerless input, mixing.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::DecodeError;

/// Bounds that stop one hostile or mistaken recording from exhausting the service. Each is
/// checked against what a header declares before anything is allocated for it, and again
/// against what the stream really holds while it is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most input bytes read.
    pub max_input_bytes: u64,
    /// Longest recording decoded.
    pub max_duration: Duration,
    /// Most channels.
    pub max_channels: u16,
    /// Highest sample rate, in Hz.
    pub max_sample_rate: u32,
}

/// Lowest sample rate accepted: DTMF's highest tone (1633 Hz) and the telephone band need it.
pub const MIN_SAMPLE_RATE: u32 = 8000;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            // two hours of 48 kHz stereo 16-bit PCM is 1.4 GB
            max_input_bytes: 2 << 30,
            max_duration: Duration::from_secs(2 * 3600),
            max_channels: 8,
            max_sample_rate: 192_000,
        }
    }
}

impl Limits {
    /// Refuses a stream layout over the limits.
    pub(crate) fn check_layout(&self, sample_rate: u32, channels: u16) -> Result<(), DecodeError> {
        if channels == 0 {
            return Err(DecodeError::Corrupt(
                "the stream declares no channels".into(),
            ));
        }
        if channels > self.max_channels {
            return Err(DecodeError::TooLarge(format!(
                "{channels} channels, more than the limit of {}",
                self.max_channels
            )));
        }
        if sample_rate < MIN_SAMPLE_RATE {
            return Err(DecodeError::Unsupported(format!(
                "a sample rate of {sample_rate} Hz (the least is {MIN_SAMPLE_RATE} Hz)"
            )));
        }
        if sample_rate > self.max_sample_rate {
            return Err(DecodeError::TooLarge(format!(
                "a sample rate of {sample_rate} Hz, over the limit of {} Hz",
                self.max_sample_rate
            )));
        }
        Ok(())
    }

    /// Most frames at `sample_rate` that fit in the duration limit.
    pub(crate) fn max_frames(&self, sample_rate: u32) -> u64 {
        let frames = self.max_duration.as_secs_f64() * f64::from(sample_rate);
        frames.ceil() as u64
    }

    /// Refuses a recording longer than the duration limit.
    pub(crate) fn check_frames(&self, frames: u64, sample_rate: u32) -> Result<(), DecodeError> {
        if frames > self.max_frames(sample_rate) {
            return Err(DecodeError::TooLarge(format!(
                "{:.0} s of audio, over the limit of {} s",
                frames as f64 / f64::from(sample_rate),
                self.max_duration.as_secs()
            )));
        }
        Ok(())
    }
}

/// Headerless recordings, which cannot be recognised from their bytes: the file extension or
/// the codec the IVR declares picks one (names as Asterisk uses them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Headerless {
    /// G.711 µ-law at 8 kHz (`.ulaw`, `.pcmu`, `.ul`, `.mu`).
    Ulaw,
    /// G.711 A-law at 8 kHz (`.alaw`, `.pcma`, `.al`).
    Alaw,
    /// GSM 06.10 full rate, 33-byte frames at 8 kHz (`.gsm`).
    Gsm,
    /// Signed 16-bit little-endian linear PCM (`.sln`, `.raw` at 8 kHz; `.sln16` at 16 kHz and
    /// so on).
    Slin {
        /// Samples per second.
        sample_rate: u32,
    },
}

impl Headerless {
    /// The format a file extension (without the dot, any case) names, if it names one.
    pub fn from_extension(extension: &str) -> Option<Headerless> {
        extension.to_ascii_lowercase().parse().ok()
    }

    /// Samples per second.
    pub fn sample_rate(self) -> u32 {
        match self {
            Headerless::Slin { sample_rate } => sample_rate,
            _ => 8000,
        }
    }
}

impl FromStr for Headerless {
    type Err = DecodeError;

    /// Parses a codec name such as `pcmu`, `alaw`, `gsm`, `slin` or `slin16`.
    fn from_str(name: &str) -> Result<Headerless, DecodeError> {
        let slin = |khz: &str| -> Option<u32> {
            let rate = match khz {
                "" | "8" => 8000,
                "12" => 12_000,
                "16" => 16_000,
                "24" => 24_000,
                "32" => 32_000,
                "44" => 44_100,
                "48" => 48_000,
                "96" => 96_000,
                "192" => 192_000,
                _ => return None,
            };
            Some(rate)
        };
        let lower = name.to_ascii_lowercase();
        let format = match lower.as_str() {
            "ulaw" | "mulaw" | "pcmu" | "ul" | "mu" | "g711u" => Headerless::Ulaw,
            "alaw" | "pcma" | "al" | "g711a" => Headerless::Alaw,
            "gsm" => Headerless::Gsm,
            "raw" => Headerless::Slin { sample_rate: 8000 },
            other => other
                .strip_prefix("sln")
                .or_else(|| other.strip_prefix("slin"))
                .and_then(slin)
                .map(|sample_rate| Headerless::Slin { sample_rate })
                .ok_or_else(|| {
                    DecodeError::Unsupported(format!("no headerless codec is called {name:?}"))
                })?,
        };
        Ok(format)
    }
}

impl fmt::Display for Headerless {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Headerless::Ulaw => f.write_str("raw G.711 µ-law"),
            Headerless::Alaw => f.write_str("raw G.711 A-law"),
            Headerless::Gsm => f.write_str("raw GSM 06.10"),
            Headerless::Slin { sample_rate } => write!(f, "raw 16-bit PCM at {sample_rate} Hz"),
        }
    }
}

/// How to decode one recording.
#[derive(Debug, Clone, Default)]
pub struct DecodeOptions {
    /// Bounds on the input.
    pub limits: Limits,
    /// The file extension, without the dot; helps recognise formats and names headerless ones.
    pub extension: Option<String>,
    /// A headerless codec the source declared; wins over the extension. Input that starts with a
    /// recognised header is read by its header whatever is declared.
    pub headerless: Option<Headerless>,
    /// Average all channels into one instead of keeping them apart.
    pub mix_down: bool,
}
