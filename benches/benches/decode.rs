//! Decoding plus resampling to 8 kHz, per format: audio seconds per CPU-second, next to the
//! detector on the same audio. Issue 4 wants decoding 8 kHz PCM WAV to cost less than detecting
//! on it.
//!
//! The audio is a minute of speech-heavy survey calls (the detector benchmark's), written as
//! 8 kHz PCM WAV by callscore and re-encoded by sox into every other format, then decoded from
//! memory so the disk is not measured.

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use callscore_audio::{DecodeOptions, Encoding, Recording, write_wav};
use callscore_benches::{speech_heavy, thread_cpu_seconds};
use callscore_dtmf::{Detector, DetectorConfig};
use criterion::{Criterion, Throughput};

const SECONDS: f64 = 60.0;
/// Timed passes per format for the summary table; the best is kept.
const PASSES: usize = 7;

/// File name and sox options of each format measured.
const FORMATS: [(&str, &[&str]); 12] = [
    ("pcm16-8k.wav", &[]),
    ("ulaw.wav", &["-e", "u-law"]),
    ("pcm16-16k.wav", &["-r", "16000"]),
    ("stereo-44k.wav", &["-r", "44100", "-c", "2"]),
    ("float-48k.wav", &["-r", "48000", "-e", "floating-point"]),
    ("ima-adpcm.wav", &["-e", "ima-adpcm"]),
    ("wav49.wav", &["-e", "gsm-full-rate"]),
    ("raw.gsm", &[]),
    ("lossless.flac", &[]),
    ("mp3-8k-32kbps.mp3", &["-C", "32"]),
    ("vorbis-16k.ogg", &["-r", "16000"]),
    ("raw.ulaw", &["-t", "ul"]),
];

fn decode(bytes: &Arc<[u8]>, extension: &str) -> usize {
    let options = DecodeOptions {
        extension: Some(extension.into()),
        ..DecodeOptions::default()
    };
    // shared, not copied, as the pipeline hands recordings to the decoder
    let mut recording = Recording::open_bytes(Arc::clone(bytes), &options).expect("decodes");
    let mut frames = 0;
    while let Some(block) = recording.next_block().expect("decodes") {
        frames += block[0].len();
    }
    frames
}

fn detect(samples: &[f32]) -> usize {
    let mut detector = Detector::new(&DetectorConfig::default()).expect("8 kHz is supported");
    let mut events = Vec::new();
    for chunk in samples.chunks(4096) {
        detector.push(chunk, &mut events);
    }
    detector.finish(&mut events);
    events.len()
}

/// Audio seconds per CPU-second of `run`, best of [`PASSES`].
fn speed(mut run: impl FnMut() -> usize) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..PASSES {
        let start = thread_cpu_seconds();
        black_box(run());
        best = best.min(thread_cpu_seconds() - start);
    }
    SECONDS / best
}

fn encode(dir: &Path, source: &Path, name: &str, options: &[&str]) -> Arc<[u8]> {
    let out = dir.join(name);
    let status = Command::new("sox")
        .arg("-D")
        .arg(source)
        .args(options)
        .arg(&out)
        .status()
        .expect("sox runs");
    assert!(status.success(), "sox makes {name}");
    std::fs::read(out).expect("reads").into()
}

#[allow(clippy::print_stdout)]
fn main() {
    let audio = speech_heavy(SECONDS).expect("espeak-ng and sox make the benchmark audio");
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("source.wav");
    let mut wav = Vec::new();
    write_wav(&mut wav, 8000, Encoding::Pcm { bits: 16 }, &[&audio]).expect("writes");
    std::fs::write(&source, &wav).expect("writes");
    let files: Vec<(&str, Arc<[u8]>)> = FORMATS
        .iter()
        .map(|&(name, options)| (name, encode(dir.path(), &source, name, options)))
        .collect();
    let extension = |name: &str| name.rsplit('.').next().unwrap_or_default().to_string();

    let mut criterion = Criterion::default().configure_from_args();
    {
        let mut group = criterion.benchmark_group("decode");
        // elements are milliseconds of audio, so elements/s reads as audio-ms per second
        group.throughput(Throughput::Elements((SECONDS * 1000.0) as u64));
        for (name, bytes) in &files {
            let ext = extension(name);
            group.bench_function(*name, |b| b.iter(|| decode(black_box(bytes), &ext)));
        }
        group.bench_function("detect-8k", |b| b.iter(|| detect(black_box(&audio))));
        group.finish();
    }
    criterion.final_summary();

    println!("\naudio seconds per CPU-second (best of {PASSES} passes over {SECONDS} s of audio):");
    let detecting = speed(|| detect(&audio));
    for (name, bytes) in &files {
        let ext = extension(name);
        let decoding = speed(|| decode(bytes, &ext));
        println!("  decode {name:<20} {decoding:>10.0}");
    }
    let pcm = &files[0].1;
    let decoding = speed(|| decode(pcm, "wav"));
    println!("  detect (8 kHz)              {detecting:>10.0}");
    println!(
        "  decoding 8 kHz PCM WAV costs {:.1} % of detecting on it (target: under 100 %)",
        100.0 * detecting / decoding
    );
}
