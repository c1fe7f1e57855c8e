//! In-band key detection over a decoded recording's channels.

use callscore_audio::{DecodeError, OUTPUT_RATE, Recording};
use callscore_dtmf::{Detector, DetectorConfig, KeyEvent};
use callscore_prompts::Prompt;

/// One key press and where it was heard.
#[derive(Debug, Clone, PartialEq)]
pub struct Heard {
    /// The press, timed from the start of the recording at 8 kHz.
    pub event: KeyEvent,
    /// The channel that heard it best.
    pub channel: u16,
    /// Other channels that heard the same press at the same time.
    pub also_on: Vec<u16>,
}

/// Why detection could not run.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// The audio failed to decode part way.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The channel asked for does not exist.
    #[error("the recording has no channel {channel} (it has {channels}; the first is 0)")]
    NoChannel {
        /// The channel asked for.
        channel: u16,
        /// The channels there are.
        channels: u16,
    },
}

/// What detection found in one recording.
#[derive(Debug, Clone)]
pub struct Detected {
    /// Key presses in the order they started, each counted once.
    pub keys: Vec<Heard>,
    /// Frames analysed per channel (8 kHz).
    pub frames: u64,
    /// Time spent in the detectors and in cancelling prompts (the rest of the loop is
    /// decoding).
    pub detect_time: std::time::Duration,
    /// The known prompts found and subtracted before detection, by channel.
    pub prompts: Vec<PromptHeard>,
    /// With known prompts, each analysed channel decoded whole with the prompts subtracted, by
    /// channel number: what the comments are listened for in. Empty without prompts.
    pub without_prompts: Vec<(u16, Vec<f32>)>,
}

/// A known prompt found in a channel and subtracted before detection.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptHeard {
    /// The channel.
    pub channel: u16,
    /// Where and how it was found.
    pub found: callscore_prompts::Found,
}

/// Runs a detector over `channel` of `recording`, or over every channel when `None`, and
/// merges what the channels heard.
///
/// With known `prompts`, each channel is decoded whole, the prompts found in it are subtracted
/// ([`callscore_prompts::cancel`]), and the detector runs on what is left; the decoder's
/// duration limit bounds the memory (32 kB per second of a channel). Without, the channels are
/// detected block by block as they decode.
pub fn detect_keys(
    recording: &mut Recording,
    channel: Option<u16>,
    extended_keys: bool,
    prompts: &[Prompt],
) -> Result<Detected, DetectError> {
    let available = recording.output_channels();
    let channels: Vec<u16> = match channel {
        Some(channel) if channel >= available => {
            return Err(DetectError::NoChannel {
                channel,
                channels: available,
            });
        }
        Some(channel) => vec![channel],
        None => (0..available).collect(),
    };
    let config = DetectorConfig {
        sample_rate: OUTPUT_RATE,
        extended_keys,
        ..DetectorConfig::default()
    };
    let mut detectors: Vec<Detector> = channels
        .iter()
        .map(|_| Detector::new(&config).expect("8 kHz is a supported rate"))
        .collect();
    let mut found = vec![Vec::new(); channels.len()];
    let mut frames = 0;
    let mut detect_time = std::time::Duration::ZERO;
    let mut whole: Vec<Vec<f32>> = vec![
        Vec::new();
        if prompts.is_empty() {
            0
        } else {
            channels.len()
        }
    ];
    while let Some(block) = recording.next_block()? {
        frames += block[0].len() as u64;
        if !whole.is_empty() {
            for (samples, &channel) in whole.iter_mut().zip(&channels) {
                samples.extend_from_slice(&block[usize::from(channel)]);
            }
            continue;
        }
        let started = std::time::Instant::now();
        for ((detector, events), &channel) in detectors.iter_mut().zip(&mut found).zip(&channels) {
            detector.push(&block[usize::from(channel)], events);
        }
        detect_time += started.elapsed();
    }
    let started = std::time::Instant::now();
    let mut heard_prompts = Vec::new();
    for ((samples, detector), (events, &channel)) in whole
        .iter_mut()
        .zip(detectors.iter_mut())
        .zip(found.iter_mut().zip(&channels))
    {
        heard_prompts.extend(
            callscore_prompts::cancel(samples, prompts)
                .into_iter()
                .map(|found| PromptHeard { channel, found }),
        );
        detector.push(samples, events);
    }
    for (detector, events) in detectors.iter_mut().zip(&mut found) {
        detector.finish(events);
    }
    detect_time += started.elapsed();
    let events = channels
        .iter()
        .zip(found)
        .flat_map(|(&channel, events)| events.into_iter().map(move |e| (channel, e)))
        .collect();
    Ok(Detected {
        keys: merge(events),
        frames,
        detect_time,
        prompts: heard_prompts,
        without_prompts: channels.iter().copied().zip(whole).collect(),
    })
}

/// Counts a key heard on several channels at once as one press: the same key on another
/// channel whose tone overlaps this one in time is the same press (a mixed-down leg, or the
/// caller's tones leaking into the prompt's channel). The channel that heard it best keeps it.
pub fn merge(mut events: Vec<(u16, KeyEvent)>) -> Vec<Heard> {
    events.sort_by_key(|(channel, event)| (event.start, *channel));
    let mut merged: Vec<Heard> = Vec::with_capacity(events.len());
    for (channel, event) in events {
        let same = merged.iter_mut().rev().take(8).find(|heard| {
            heard.event.key == event.key
                && heard.channel != channel
                && !heard.also_on.contains(&channel)
                && event.start < heard.event.end
                && heard.event.start < event.end
        });
        match same {
            Some(heard) => {
                if event.quality > heard.event.quality {
                    heard.also_on.push(heard.channel);
                    heard.channel = channel;
                    heard.event = event;
                } else {
                    heard.also_on.push(channel);
                }
                heard.also_on.sort_unstable();
            }
            None => merged.push(Heard {
                event,
                channel,
                also_on: Vec::new(),
            }),
        }
    }
    merged
}
