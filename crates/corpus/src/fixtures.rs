//! The small recordings committed under `fixtures/`, with the truth about each of them.
//!
//! They are generated here, deterministically and without external tools, so that anyone can
//! check where they came from: `callscore-corpus fixtures fixtures/` writes them again, and
//! a test fails if the committed files differ from what this code generates.

use callscore_audio::{Encoding, write_wav};
use callscore_synth::{Digit, Rng, add_digit, g711, mix, music, noise, progress};
use serde::Serialize;

/// One fixture file and what `callscore detect` must say about it.
#[derive(Debug, Clone, Serialize)]
pub struct Fixture {
    /// File name under `fixtures/`.
    pub file: String,
    /// What the recording is.
    pub description: String,
    /// The digit string of the keys pressed, in the order pressed; `None` when the file must
    /// be refused.
    pub digits: Option<String>,
    /// Every key pressed.
    pub keys: Vec<TrueKey>,
    /// A phrase the error message must contain when the file must be refused.
    pub error_contains: Option<String>,
    /// A phrase a warning must contain when the file is read with a warning.
    pub warning_contains: Option<String>,
    /// The file's bytes.
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// A key press as generated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrueKey {
    /// The key.
    pub key: char,
    /// Channel it was keyed on, 0 first.
    pub channel: u16,
    /// Start of the tone in seconds.
    pub start_seconds: f64,
    /// End of the tone in seconds.
    pub end_seconds: f64,
}

/// A key to press: key, start and length in seconds, row and column levels in dBm0,
/// frequency deviation of both tones.
pub(crate) type Press = (char, f64, f64, f64, f64, f64);

/// Adds `presses` to `signal` and returns the truth about them.
pub(crate) fn press(
    signal: &mut [f32],
    rate: u32,
    channel: u16,
    presses: &[Press],
    rng: &mut Rng,
) -> Vec<TrueKey> {
    let r = f64::from(rate);
    presses
        .iter()
        .map(|&(key, start, len, low, high, deviation)| {
            let (start, len) = ((start * r).round() as usize, (len * r).round() as usize);
            let digit = Digit::new(key, start, len)
                .levels(low, high)
                .deviations(deviation, deviation)
                .random_phases(rng);
            add_digit(signal, rate, &digit);
            TrueKey {
                key,
                channel,
                start_seconds: start as f64 / r,
                end_seconds: (start + len) as f64 / r,
            }
        })
        .collect()
}

pub(crate) fn wav(rate: u32, encoding: Encoding, channels: &[Vec<f32>]) -> Vec<u8> {
    let mut bytes = Vec::new();
    // writing to memory cannot fail, and the channels are built with equal lengths
    write_wav(&mut bytes, rate, encoding, channels).expect("fixture channels are valid");
    bytes
}

impl Fixture {
    /// A recording that must be read, with the keys pressed in it.
    fn keyed(file: &str, description: &str, keys: Vec<TrueKey>, bytes: Vec<u8>) -> Fixture {
        Fixture {
            file: file.into(),
            description: description.into(),
            digits: Some(keys.iter().map(|k| k.key).collect()),
            keys,
            error_contains: None,
            warning_contains: None,
            bytes,
        }
    }

    /// A file that must be refused with an error containing `error`.
    fn refused(file: &str, description: &str, error: &str, bytes: Vec<u8>) -> Fixture {
        Fixture {
            file: file.into(),
            description: description.into(),
            digits: None,
            keys: Vec::new(),
            error_contains: Some(error.into()),
            warning_contains: None,
            bytes,
        }
    }
}

/// Every fixture, generated from fixed seeds.
pub fn generate() -> Vec<Fixture> {
    let mut rng = Rng::new(20_261_122);
    let mut fixtures = Vec::new();

    // every key, cleanly keyed, on the 16-bit PCM most recorders write
    let mut all = vec![0.0f32; 8000 * 3];
    noise::white(&mut all, -55.0, &mut rng);
    let presses: Vec<Press> = "0123456789*#ABCD"
        .chars()
        .enumerate()
        .map(|(i, key)| (key, 0.2 + 0.16 * i as f64, 0.08, -8.0, -10.0, 0.0))
        .collect();
    let keys = press(&mut all, 8000, 0, &presses, &mut rng);
    let all_keys = wav(8000, Encoding::Pcm { bits: 16 }, &[all]);
    fixtures.push(Fixture::keyed(
        "all-keys-pcm16.wav",
        "8 kHz 16-bit PCM mono: the 16 keys, 80 ms each, over faint white noise",
        keys,
        all_keys.clone(),
    ));

    // a stereo call: hold music on the IVR side (channel 0), the caller answering 9 and then
    // # on channel 1 with a little of the prompt echoed back
    let mut prompt = music::generate(4.0, &mut rng);
    callscore_synth::set_level(&mut prompt, -18.0);
    let mut caller = vec![0.0f32; prompt.len()];
    mix(&mut caller, 0, &prompt, 0.03);
    noise::pink(&mut caller, -50.0, &mut rng);
    let keys = press(
        &mut caller,
        8000,
        1,
        &[
            ('9', 1.1, 0.15, -7.0, -9.0, 0.006),
            ('#', 2.6, 0.09, -12.0, -10.0, -0.008),
        ],
        &mut rng,
    );
    g711::channel(&mut prompt, g711::Law::Alaw);
    g711::channel(&mut caller, g711::Law::Alaw);
    fixtures.push(Fixture::keyed(
        "survey-stereo-alaw.wav",
        "8 kHz G.711 A-law stereo: IVR music on channel 0, the caller keying 9 and # \
                      on channel 1 with the prompt echoed 30 dB down",
        keys,
        wav(8000, Encoding::Alaw, &[prompt, caller]),
    ));

    // barge-in on a mono mix: 7 and 3 keyed while the music prompt is still playing, with
    // twist and frequency offset
    let mut mono = music::generate(3.0, &mut rng);
    callscore_synth::set_level(&mut mono, -18.0);
    noise::white(&mut mono, -45.0, &mut rng);
    let keys = press(
        &mut mono,
        8000,
        0,
        &[
            ('7', 0.6, 0.12, -9.0, -12.0, 0.009),
            ('3', 1.5, 0.07, -14.0, -11.0, -0.009),
        ],
        &mut rng,
    );
    g711::channel(&mut mono, g711::Law::Ulaw);
    fixtures.push(Fixture::keyed(
        "barge-in-ulaw.wav",
        "8 kHz G.711 u-law mono: 7 and 3 keyed over music at -18 dBm0, with 3 dB \
                      twist and 0.9 % frequency offset",
        keys,
        wav(8000, Encoding::Ulaw, &[mono]),
    ));

    // a wideband recorder: 16 kHz 24-bit, analysed at its own rate
    let mut wide = vec![0.0f32; 16000 * 3 / 2];
    noise::white(&mut wide, -40.0, &mut rng);
    let keys = press(
        &mut wide,
        16000,
        0,
        &[
            ('4', 0.3, 0.1, -10.0, -10.0, 0.0),
            ('2', 0.9, 0.1, -20.0, -18.0, 0.0),
        ],
        &mut rng,
    );
    fixtures.push(Fixture::keyed(
        "wideband-16k-pcm24.wav",
        "16 kHz 24-bit PCM mono: 4 and 2 over white noise",
        keys,
        wav(16000, Encoding::Pcm { bits: 24 }, &[wide]),
    ));

    // no keys at all: a caller who hung up during ringback and busy tone
    let mut tones = progress::generate(progress::Kind::Ringback, 1.5, &mut rng);
    tones.extend(progress::generate(progress::Kind::Busy, 1.5, &mut rng));
    noise::pink(&mut tones, -45.0, &mut rng);
    fixtures.push(Fixture::keyed(
        "no-keys-progress-tones.wav",
        "8 kHz 16-bit PCM mono: ringback then busy tone over pink noise, no keys",
        Vec::new(),
        wav(8000, Encoding::Pcm { bits: 16 }, &[tones]),
    ));

    // a recorder that died mid-call: the all-keys file cut off after 1.5 s and half a sample
    let mut cut = all_keys;
    cut.truncate(44 + 2 * 12_000 + 1);
    let cut_keys: Vec<TrueKey> = fixtures[0]
        .keys
        .iter()
        .filter(|k| k.end_seconds <= 1.5)
        .cloned()
        .collect();
    fixtures.push(Fixture {
        warning_contains: Some("cut off".into()),
        ..Fixture::keyed(
            "cut-off-pcm16.wav",
            "all-keys-pcm16.wav cut off after 1.5 s and one byte, header unchanged",
            cut_keys,
            cut,
        )
    });

    fixtures.push(Fixture::refused(
        "not-a-recording.wav",
        "a text file named .wav",
        "not a recognised audio format",
        b"callscore fixture: this is not audio\n".to_vec(),
    ));

    // a G.729 header: a codec callscore does not decode, which must be named in the refusal
    let mut g729 =
        b"RIFF\x30\0\0\0WAVEfmt \x12\0\0\0\x83\0\x01\0\x40\x1f\0\0\xe8\x03\0\0\x0a\0\x01\0"
            .to_vec();
    g729.extend_from_slice(b"\0\0data\x0a\0\0\0");
    g729.extend_from_slice(&[0; 10]);
    fixtures.push(Fixture::refused(
        "g729.wav",
        "the header of a G.729 WAV file, a codec callscore does not decode",
        "G.729",
        g729,
    ));
    fixtures
}

/// The manifest written next to the fixtures: every fixture but its bytes, as JSON.
pub fn manifest(fixtures: &[Fixture]) -> String {
    // plain data with string keys always serializes
    let mut json = serde_json::to_string_pretty(fixtures).expect("fixtures serialize");
    json.push('\n');
    json
}
