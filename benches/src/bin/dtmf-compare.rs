//! callscore's DTMF detector and spandsp's `dtmf_rx` side by side: the ITU-T Q.24
//! conformance suite, the talk-off corpus and the barge-in set, on the same signals.
//!
//! `cargo run --release -p callscore-benches --bin dtmf-compare -- [--minutes M] [--calls N]
//! [--seed S]`. Needs espeak-ng and sox (the corpora) and libspandsp-dev.

use anyhow::{Context as _, bail};
use callscore_benches::Spandsp;
use callscore_corpus::q24;
use callscore_corpus::score::{Callscore, KeyDetector};

struct Options {
    minutes: f64,
    calls: usize,
    seed: u64,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        minutes: 60.0,
        calls: 500,
        seed: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--minutes" => options.minutes = value.parse().context("--minutes")?,
            "--calls" => options.calls = value.parse().context("--calls")?,
            "--seed" => options.seed = value.parse().context("--seed")?,
            _ => bail!("unknown option {flag} (known: --minutes, --calls, --seed)"),
        }
    }
    Ok(options)
}

#[allow(clippy::print_stdout)]
fn main() -> anyhow::Result<()> {
    let options = options()?;
    let detectors: [&dyn KeyDetector; 2] = [&Callscore, &Spandsp];

    let results: Vec<(String, Vec<q24::Check>)> = detectors
        .iter()
        .map(|d| (d.name().to_owned(), q24::all(*d)))
        .collect();
    println!("{}", q24::render(&results));
    for d in detectors {
        let (normal, reverse) = q24::twist_limits(d);
        println!(
            "{:<10} accepts twist up to {normal:.1} dB normal, {reverse:.1} dB reverse (every key at 0, -10, -17 dBm0)",
            d.name()
        );
    }
    println!();

    for report in callscore_corpus::talk_off(options.minutes, options.seed, &detectors, None)? {
        println!("{}", report.render());
    }
    for report in callscore_corpus::barge_in(
        options.calls,
        options.seed,
        callscore_corpus::Breadth::FirstRound,
        &detectors,
        None,
    )? {
        let o = &report.outcome;
        println!(
            "barge-in, {}: {} keys in {} calls: {} missed ({:.2} %), {} inserted, {} timed more than 5 ms off",
            report.detector,
            o.expected,
            report.calls,
            o.missed.len(),
            100.0 * o.missed.len() as f64 / o.expected.max(1) as f64,
            o.inserted.len(),
            o.mistimed.len()
        );
    }
    Ok(())
}
