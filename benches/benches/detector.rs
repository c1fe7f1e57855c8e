//! Throughput of callscore's DTMF detector and spandsp's `dtmf_rx` on the same speech-heavy
//! 8 kHz audio (a minute of barge-in calls: prompts, caller speech, keys, background noise).
//!
//! Criterion measures both; afterwards 30 rounds of one pass each, back to back, measure
//! thread CPU time, and the median ratio is printed with the target of at least 3.

use std::hint::black_box;

use callscore_benches::{Spandsp, speech_heavy, thread_cpu_seconds};
use callscore_dtmf::{Detector, DetectorConfig};
use criterion::{Criterion, Throughput};

const SECONDS: f64 = 60.0;
/// Rounds of the side-by-side comparison: one pass of each detector per round.
const ROUNDS: usize = 101;

fn callscore(samples: &[f32]) -> usize {
    let mut detector =
        Detector::new(&DetectorConfig::default()).expect("8 kHz is a supported rate");
    let mut events = Vec::new();
    for chunk in samples.chunks(160) {
        detector.push(chunk, &mut events);
    }
    detector.finish(&mut events);
    events.len()
}

/// Throughput of two detectors over `rounds` rounds, each round one pass of each back to
/// back: the best samples per CPU-second of each, and the median of the per-round ratios. A
/// virtual machine's speed drifts; two passes in a row share its state, so the ratio of a round
/// is fair even when the absolute figures move.
fn rates(
    samples: usize,
    rounds: usize,
    mut a: impl FnMut() -> usize,
    mut b: impl FnMut() -> usize,
) -> (f64, f64, f64) {
    let time = |run: &mut dyn FnMut() -> usize| {
        let start = thread_cpu_seconds();
        black_box(run());
        samples as f64 / (thread_cpu_seconds() - start)
    };
    let mut ratios = Vec::with_capacity(rounds);
    let (mut best_a, mut best_b) = (0.0f64, 0.0f64);
    for _ in 0..rounds {
        let (ra, rb) = (time(&mut a), time(&mut b));
        best_a = best_a.max(ra);
        best_b = best_b.max(rb);
        ratios.push(ra / rb);
    }
    ratios.sort_by(f64::total_cmp);
    (best_a, best_b, ratios[ratios.len() / 2])
}

#[allow(clippy::print_stdout)]
fn main() {
    let audio = speech_heavy(SECONDS).expect("espeak-ng and sox make the benchmark audio");
    let pcm = callscore_synth::to_i16(&audio);
    let mut criterion = Criterion::default().configure_from_args();
    {
        let mut group = criterion.benchmark_group("dtmf");
        group.throughput(Throughput::Elements(audio.len() as u64));
        group.bench_function("callscore", |b| b.iter(|| callscore(black_box(&audio))));
        group.bench_function("spandsp", |b| {
            b.iter(|| Spandsp.throughput_run(black_box(&pcm)));
        });
        group.finish();
    }
    criterion.final_summary();

    let (ours, theirs, ratio) = rates(
        audio.len(),
        ROUNDS,
        || callscore(&audio),
        || Spandsp.throughput_run(&pcm),
    );
    println!(
        "\nthroughput on {SECONDS} s of speech-heavy audio, samples per CPU-second (best of {ROUNDS} \
         rounds, one pass of each per round):"
    );
    println!(
        "  callscore {:>12.0}  ({:.2} ns/sample, {:.0}x real time)",
        ours,
        1e9 / ours,
        ours / 8000.0
    );
    println!(
        "  spandsp   {:>12.0}  ({:.2} ns/sample, {:.0}x real time)",
        theirs,
        1e9 / theirs,
        theirs / 8000.0
    );
    println!("  ratio callscore/spandsp, median of the rounds: {ratio:.2} (target: at least 3)");
}
