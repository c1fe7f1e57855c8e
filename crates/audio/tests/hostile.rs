//! Hostile and broken input: every failure is a typed error, checked before allocating, never
//! a panic, a hang or an unbounded allocation.

use std::io::Read;
use std::time::Duration;

use callscore_audio::{
    DecodeError, DecodeOptions, Encoding, ErrorKind, Headerless, Limits, Recording, write_wav,
};
use proptest::prelude::*;

/// Decodes everything; returns the frames delivered at 8 kHz.
fn drain(mut recording: Recording) -> Result<u64, DecodeError> {
    let mut frames = 0;
    while let Some(block) = recording.next_block()? {
        frames += block[0].len() as u64;
    }
    Ok(frames)
}

fn decode(bytes: Vec<u8>, options: &DecodeOptions) -> Result<u64, DecodeError> {
    drain(Recording::open_bytes(bytes, options)?)
}

fn kind(result: Result<u64, DecodeError>) -> ErrorKind {
    match result {
        Ok(frames) => panic!("accepted ({frames} frames)"),
        Err(error) => error.kind(),
    }
}

fn with_extension(extension: &str) -> DecodeOptions {
    DecodeOptions {
        extension: Some(extension.into()),
        ..DecodeOptions::default()
    }
}

fn pcm16(seconds: f64, rate: u32, channels: usize) -> Vec<u8> {
    let frames = (seconds * f64::from(rate)) as usize;
    let mut file = Vec::new();
    let channel = vec![0.1f32; frames];
    write_wav(
        &mut file,
        rate,
        Encoding::Pcm { bits: 16 },
        &vec![channel; channels],
    )
    .expect("writes");
    file
}

/// A FLAC stream of `seconds` of a tone, encoded by sox.
fn flac(seconds: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tone.flac");
    let status = std::process::Command::new("sox")
        .args(["-D", "-n", "-r", "8000", "-b", "16"])
        .arg(&path)
        .args(["synth", seconds, "sine", "1000"])
        .status()
        .expect("sox runs (scripts/test.sh installs it)");
    assert!(status.success());
    std::fs::read(path).expect("reads")
}

#[test]
fn empty_input_is_empty() {
    assert_eq!(
        kind(decode(Vec::new(), &DecodeOptions::default())),
        ErrorKind::Empty
    );
    assert_eq!(
        kind(decode(Vec::new(), &with_extension("ulaw"))),
        ErrorKind::Empty
    );
    // a valid header with no samples
    assert_eq!(
        kind(decode(pcm16(0.0, 8000, 1), &DecodeOptions::default())),
        ErrorKind::Empty
    );
}

#[test]
fn unknown_bytes_are_unsupported() {
    let text = b"this is a text file, not a recording\n".repeat(20);
    for extension in ["wav", "mp3", "flac", "ogg", "m4a", "bin"] {
        let error = decode(text.clone(), &with_extension(extension)).expect_err("refused");
        assert!(
            matches!(error.kind(), ErrorKind::Unsupported | ErrorKind::Corrupt),
            "{extension}: {error}"
        );
        assert!(error.is_permanent());
    }
}

#[test]
fn a_wrong_extension_does_not_matter_when_the_bytes_have_a_header() {
    let flac = flac("0.5");
    for extension in ["wav", "mp3", "gsm", "ulaw"] {
        let frames = decode(flac.clone(), &with_extension(extension)).expect("decodes");
        assert_eq!(frames, 4000, "a FLAC file named .{extension}");
    }
    let wav = pcm16(0.5, 16_000, 1);
    let frames = decode(wav, &with_extension("mp3")).expect("decodes");
    assert_eq!(frames, 4000);
}

#[test]
fn truncated_files_keep_what_is_there_or_say_they_are_corrupt() {
    let flac = flac("2");
    for keep in [4, 30, 200, flac.len() / 3, flac.len() - 1] {
        match decode(flac[..keep].to_vec(), &DecodeOptions::default()) {
            Ok(frames) => assert!(frames <= 16_000),
            Err(error) => assert!(
                matches!(error.kind(), ErrorKind::Corrupt | ErrorKind::Empty),
                "{keep} bytes: {error}"
            ),
        }
    }
}

#[test]
fn a_gsm_file_that_is_not_gsm_is_corrupt() {
    let noise: Vec<u8> = (0..33 * 10).map(|i| (i * 7 + 3) as u8).collect();
    let error = decode(noise, &with_extension("gsm")).expect_err("refused");
    assert_eq!(error.kind(), ErrorKind::Corrupt);
    assert!(error.to_string().contains("GSM frame 0"), "{error}");
}

#[test]
fn limits_are_checked_before_decoding() {
    let limits = Limits {
        max_input_bytes: 10_000,
        max_duration: Duration::from_secs(1),
        max_channels: 2,
        max_sample_rate: 48_000,
    };
    let options = DecodeOptions {
        limits,
        ..DecodeOptions::default()
    };
    // too many bytes, known from the length
    assert_eq!(kind(decode(vec![0; 10_001], &options)), ErrorKind::TooLarge);
    // too many channels, too high a rate, too long: declared in the header
    let small = |channels, rate, seconds| {
        let mut file = pcm16(seconds, rate, channels);
        file.truncate(2000);
        file
    };
    assert_eq!(
        kind(decode(small(3, 8000, 0.1), &options)),
        ErrorKind::TooLarge
    );
    assert_eq!(
        kind(decode(small(1, 96_000, 0.01), &options)),
        ErrorKind::TooLarge
    );
    assert_eq!(
        kind(decode(small(1, 8000, 1.5), &options)),
        ErrorKind::TooLarge
    );
    // too slow a rate to carry DTMF
    assert_eq!(
        kind(decode(small(1, 4000, 0.1), &options)),
        ErrorKind::Unsupported
    );
}

#[test]
fn a_stream_over_the_limits_is_stopped_while_it_is_read() {
    // no length and no declared duration: the limits trip as the bytes and samples come
    let options = DecodeOptions {
        limits: Limits {
            max_input_bytes: 50_000,
            ..Limits::default()
        },
        extension: Some("sln".into()),
        ..DecodeOptions::default()
    };
    let endless = std::io::repeat(0).take(1 << 40);
    let recording = Recording::open_stream(endless, &options).expect("opens");
    assert_eq!(kind(drain(recording)), ErrorKind::TooLarge);

    let options = DecodeOptions {
        limits: Limits {
            max_duration: Duration::from_secs(2),
            ..Limits::default()
        },
        headerless: Some(Headerless::Ulaw),
        ..DecodeOptions::default()
    };
    let endless = std::io::repeat(0xFF).take(1 << 40);
    let recording = Recording::open_stream(endless, &options).expect("opens");
    let error = drain(recording).expect_err("stopped");
    assert_eq!(error.kind(), ErrorKind::TooLarge);
    assert!(
        error.to_string().contains("over the limit of 2 s"),
        "{error}"
    );
}

#[test]
fn headers_that_declare_absurd_sizes_allocate_nothing_for_them() {
    // 4 GiB of data (74 hours) declared in 204 bytes of file: refused at the header
    let mut file = pcm16(0.01, 8000, 1);
    file[40..44].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let error = decode(file.clone(), &DecodeOptions::default()).expect_err("refused");
    assert_eq!(error.kind(), ErrorKind::TooLarge);
    assert!(
        error.to_string().contains("over the limit of 7200 s"),
        "{error}"
    );
    // under a longer limit it is read as what is there, with a warning
    let options = DecodeOptions {
        limits: Limits {
            max_duration: Duration::from_secs(300_000),
            ..Limits::default()
        },
        ..DecodeOptions::default()
    };
    let mut recording = Recording::open_bytes(file, &options).expect("opens");
    let mut frames = 0;
    while let Some(block) = recording.next_block().expect("decodes") {
        frames += block[0].len();
    }
    assert_eq!(frames, 80);
    assert!(recording.stats().missing_bytes > 0);
    // 65535 channels
    let mut file = pcm16(0.01, 8000, 1);
    file[22..24].copy_from_slice(&u16::MAX.to_le_bytes());
    let error = decode(file, &DecodeOptions::default()).expect_err("refused");
    assert!(
        matches!(error.kind(), ErrorKind::Corrupt | ErrorKind::TooLarge),
        "{error}"
    );
}

#[test]
fn headerless_codecs_are_named_as_asterisk_names_them() {
    for (name, format) in [
        ("ulaw", Headerless::Ulaw),
        ("pcmu", Headerless::Ulaw),
        ("alaw", Headerless::Alaw),
        ("PCMA", Headerless::Alaw),
        ("gsm", Headerless::Gsm),
        ("sln", Headerless::Slin { sample_rate: 8000 }),
        ("raw", Headerless::Slin { sample_rate: 8000 }),
        (
            "sln16",
            Headerless::Slin {
                sample_rate: 16_000,
            },
        ),
        (
            "slin48",
            Headerless::Slin {
                sample_rate: 48_000,
            },
        ),
    ] {
        assert_eq!(name.parse::<Headerless>().expect(name), format);
        assert_eq!(Headerless::from_extension(name), Some(format));
    }
    assert!("sln7".parse::<Headerless>().is_err());
    assert_eq!(Headerless::from_extension("wav"), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random bytes under any extension give samples or a typed error, never a panic.
    #[test]
    fn random_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..4000),
        extension in prop::sample::select(vec!["wav", "mp3", "flac", "ogg", "m4a", "gsm", "ulaw", "sln16", "aiff", "caf", "mkv"]),
    ) {
        let _ = decode(bytes, &with_extension(extension));
    }

    /// A real file of each container with a few bytes changed never panics.
    #[test]
    fn damaged_files_never_panic(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
        which in 0usize..2,
    ) {
        let mut file = if which == 0 { flac_once().clone() } else { pcm16(0.3, 22_050, 2) };
        for (at, byte) in flips {
            let at = at.index(file.len());
            file[at] = byte;
        }
        let _ = decode(file, &DecodeOptions::default());
    }
}

fn flac_once() -> &'static Vec<u8> {
    static FLAC: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    FLAC.get_or_init(|| flac("0.3"))
}
