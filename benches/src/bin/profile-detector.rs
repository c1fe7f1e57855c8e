//! Runs callscore's detector over speech-heavy audio many times, for a profiler. The audio is
//! made once and kept in the system's temporary directory.
use callscore_dtmf::{Detector, DetectorConfig};

#[allow(clippy::print_stdout)]
fn main() -> anyhow::Result<()> {
    let path = std::env::temp_dir().join("callscore-speech-heavy-60s.f32");
    let audio: Vec<f32> = match std::fs::read(&path) {
        Ok(bytes) => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Err(_) => {
            let audio = callscore_benches::speech_heavy(60.0)?;
            let bytes: Vec<u8> = audio.iter().flat_map(|x| x.to_le_bytes()).collect();
            std::fs::write(&path, bytes)?;
            audio
        }
    };
    let passes: usize = std::env::args().nth(1).map_or(Ok(100), |a| a.parse())?;
    let audio = match std::env::args().nth(2).as_deref() {
        Some("silence") => vec![0.0; audio.len()],
        Some("noise") => {
            let mut n = vec![0.0; audio.len()];
            callscore_synth::noise::white(&mut n, -30.0, &mut callscore_synth::Rng::new(1));
            n
        }
        _ => audio,
    };
    let start = callscore_benches::thread_cpu_seconds();
    let mut stats = None;
    let mut fastest = f64::INFINITY;
    for _ in 0..passes {
        let pass = callscore_benches::thread_cpu_seconds();
        let mut detector = Detector::new(&DetectorConfig::default())?;
        let mut events = Vec::new();
        for chunk in audio.chunks(160) {
            detector.push(chunk, &mut events);
        }
        detector.finish(&mut events);
        stats = Some(detector.stats().clone());
        fastest = fastest.min(callscore_benches::thread_cpu_seconds() - pass);
    }
    let seconds = callscore_benches::thread_cpu_seconds() - start;
    if std::env::var_os("SHOW_CANDIDATES").is_some() {
        let mut detector = Detector::new(&DetectorConfig {
            record_candidates: true,
            ..DetectorConfig::default()
        })?;
        let mut events = Vec::new();
        for chunk in audio.chunks(160) {
            detector.push(chunk, &mut events);
        }
        detector.finish(&mut events);
        for c in detector.take_candidates() {
            println!(
                "{} {:.3}s {:.0} ms {:?} shape {}",
                c.key,
                c.start as f64 / 8000.0,
                c.duration_seconds() * 1000.0,
                c.rejection,
                c.shape.is_some()
            );
        }
    }
    println!(
        "{:.2} ns/sample over {passes} passes (fastest pass {:.2}); {stats:?}",
        seconds * 1e9 / (passes * audio.len()) as f64,
        fastest * 1e9 / audio.len() as f64
    );
    Ok(())
}
