//! Talk-off and barge-in corpora for callscore's DTMF detector.
//!
//! Both corpora are generated from a seed with espeak-ng (speech), sox (resampling) and
//! `callscore-synth` (music, noise, tones, DTMF), then run through one or more detectors:
//!
//! - [`talk_off`]: audio with no DTMF in it (speech in eleven languages, babble, music, noise,
//!   call-progress and fax tones); every key detected is a false digit, reported per hour per
//!   category;
//! - [`barge_in`]: survey-like calls in which callers key answers, often over the prompt;
//!   every key must be found and nothing inserted.
//!
//! The `callscore-corpus` binary runs them from the command line; the crate's tests run a
//! talk-off hour and the barge-in set of seed 1 in CI.
//!
//! Seeds 1-10 are the tuning seeds: the only ones any rule, threshold or limit of the detector
//! may be set from. Seeds from 1001 on are held out, for reporting ([`seeds`];
//! `callscore-corpus seeds` runs both groups).

pub mod bargein;
pub mod comments;
pub mod fit;
pub mod fixtures;
pub mod prompted;
pub mod q24;
pub mod recordings;
pub mod score;
pub mod seeds;
pub mod speech;
pub mod talkoff;
pub mod texts;
#[cfg(feature = "pocketsphinx")]
pub mod transcripts;

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use callscore_audio::Encoding;
use callscore_synth::Rng;

pub use crate::bargein::Breadth;
use crate::score::{KeyDetector, Outcome, Press, compare};
use crate::talkoff::Category;

/// Sample rate of every generated signal.
pub const RATE: u32 = 8000;

/// A generator for item `index` of the part of a corpus tagged `tag`, independent of every
/// other item.
pub(crate) fn seeded(seed: u64, tag: u64, index: u64) -> Rng {
    // splitmix64 finaliser over the three inputs
    let mut z = seed
        .wrapping_add(tag.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(index.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    Rng::new(z ^ (z >> 31))
}

/// Runs `work` for `0..n` on every core; results come back in index order.
pub fn parallel<T: Send>(n: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, |p| p.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<(usize, T)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= n {
                            break mine;
                        }
                        mine.push((i, work(i)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a corpus worker panicked"))
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, t)| t).collect()
}

/// False digits of one detector in one category.
#[derive(Debug, Clone)]
pub struct CategoryResult {
    /// The category.
    pub category: Category,
    /// Audio analysed, in seconds.
    pub seconds: f64,
    /// Keys detected (all false).
    pub false_digits: Vec<String>,
}

impl CategoryResult {
    /// False digits per hour of audio.
    pub fn per_hour(&self) -> f64 {
        self.false_digits.len() as f64 * 3600.0 / self.seconds.max(1.0)
    }
}

/// One detector's result on the talk-off corpus.
#[derive(Debug, Clone)]
pub struct TalkOffReport {
    /// The detector.
    pub detector: String,
    /// Per category.
    pub categories: Vec<CategoryResult>,
}

impl TalkOffReport {
    /// False digits over the whole corpus.
    pub fn false_digits(&self) -> usize {
        self.categories.iter().map(|c| c.false_digits.len()).sum()
    }

    /// A table of false digits per category, then each false digit.
    pub fn render(&self) -> String {
        let mut out = format!(
            "talk-off, {}\n{:<8} {:>8} {:>7} {:>9}\n",
            self.detector, "category", "minutes", "false", "per hour"
        );
        let (mut seconds, mut total) = (0.0, 0);
        for c in &self.categories {
            seconds += c.seconds;
            total += c.false_digits.len();
            let _ = writeln!(
                out,
                "{:<8} {:>8.1} {:>7} {:>9.2}",
                c.category.name(),
                c.seconds / 60.0,
                c.false_digits.len(),
                c.per_hour()
            );
        }
        let _ = writeln!(
            out,
            "{:<8} {:>8.1} {:>7} {:>9.2}",
            "all",
            seconds / 60.0,
            total,
            total as f64 * 3600.0 / seconds.max(1.0)
        );
        for c in &self.categories {
            for d in &c.false_digits {
                let _ = writeln!(out, "  false digit: {d}");
            }
        }
        out
    }
}

/// Generates about `minutes` of the talk-off corpus and runs every detector over it.
/// With `write`, every item is also saved there as a WAV file.
pub fn talk_off(
    minutes: f64,
    seed: u64,
    detectors: &[&dyn KeyDetector],
    write: Option<&Path>,
) -> anyhow::Result<Vec<TalkOffReport>> {
    let plan = talkoff::plan(minutes);
    let results = parallel(plan.len(), |i| -> anyhow::Result<_> {
        let (category, index) = plan[i];
        let item = talkoff::item(category, index, seed)?;
        if let Some(dir) = write {
            let name = format!("{}-{:03}", category.name(), index);
            save_wav(&dir.join(format!("{name}.wav")), &item.samples)?;
        }
        let detections: Vec<Vec<Press>> =
            detectors.iter().map(|d| d.detect(&item.samples)).collect();
        Ok((item, detections))
    });
    let mut reports: Vec<TalkOffReport> = detectors
        .iter()
        .map(|d| TalkOffReport {
            detector: d.name().to_owned(),
            categories: Category::ALL
                .iter()
                .map(|&category| CategoryResult {
                    category,
                    seconds: 0.0,
                    false_digits: Vec::new(),
                })
                .collect(),
        })
        .collect();
    for result in results {
        let (item, detections) = result?;
        let seconds = item.samples.len() as f64 / f64::from(RATE);
        for (report, found) in reports.iter_mut().zip(detections) {
            let row = report
                .categories
                .iter_mut()
                .find(|c| c.category == item.category)
                .expect("every category has a row");
            row.seconds += seconds;
            row.false_digits.extend(found.iter().map(|p| {
                format!(
                    "{} at {:.3}-{:.3}s in {}-{:03} ({})",
                    p.key,
                    p.start,
                    p.end,
                    item.category.name(),
                    item.index,
                    item.description
                )
            }));
        }
    }
    Ok(reports)
}

/// One detector's result on the barge-in set.
#[derive(Debug, Clone)]
pub struct BargeInReport {
    /// The detector.
    pub detector: String,
    /// Calls analysed.
    pub calls: usize,
    /// Keys pressed and how many were found, missed and inserted.
    pub outcome: Outcome,
    /// Each call with a miss or an insertion, described.
    pub failures: Vec<String>,
}

impl BargeInReport {
    /// A summary, then each failing call.
    pub fn render(&self) -> String {
        let o = &self.outcome;
        let mut out = format!(
            "barge-in, {}: {} calls, {} keys, {} found ({:.2} %), {} missed, {} inserted; \
             {} found keys timed more than {:.0} ms off, worst {:.1} ms\n",
            self.detector,
            self.calls,
            o.expected,
            o.found,
            100.0 * o.found as f64 / o.expected.max(1) as f64,
            o.missed.len(),
            o.inserted.len(),
            o.mistimed.len(),
            score::TIMING_TOLERANCE * 1000.0,
            o.worst_timing * 1000.0
        );
        for f in &self.failures {
            let _ = writeln!(out, "  {f}");
        }
        out
    }
}

/// Generates `calls` barge-in calls of the given breadth and runs every detector over them.
/// With `write`, every call is also saved there as a WAV file with its keys beside it.
pub fn barge_in(
    calls: usize,
    seed: u64,
    breadth: Breadth,
    detectors: &[&dyn KeyDetector],
    write: Option<&Path>,
) -> anyhow::Result<Vec<BargeInReport>> {
    let results = parallel(calls, |i| -> anyhow::Result<_> {
        let call = bargein::call(i, seed, breadth)?;
        if let Some(dir) = write {
            let name = format!("call-{i:04}");
            save_wav(&dir.join(format!("{name}.wav")), &call.samples)?;
            let keys: String = call
                .presses
                .iter()
                .map(|p| format!("{} {:.4} {:.4}\n", p.key, p.start, p.end))
                .collect();
            std::fs::write(dir.join(format!("{name}.keys")), keys)
                .with_context(|| format!("writing {name}.keys"))?;
        }
        let detections: Vec<Vec<Press>> = detectors
            .iter()
            .map(|d| d.detect_knowing(&call.samples, &call.prompts))
            .collect();
        Ok((call, detections))
    });
    let mut reports: Vec<BargeInReport> = detectors
        .iter()
        .map(|d| BargeInReport {
            detector: d.name().to_owned(),
            calls,
            outcome: Outcome::default(),
            failures: Vec::new(),
        })
        .collect();
    for result in results {
        let (call, detections) = result?;
        for (report, found) in reports.iter_mut().zip(detections) {
            let outcome = compare(&call.presses, &found);
            if !outcome.missed.is_empty()
                || !outcome.inserted.is_empty()
                || !outcome.mistimed.is_empty()
            {
                let show = |p: &[Press]| {
                    p.iter()
                        .map(|p| format!("{}@{:.3}-{:.3}", p.key, p.start, p.end))
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                let mistimed: Vec<String> = outcome
                    .mistimed
                    .iter()
                    .map(|(t, d)| {
                        format!(
                            "{}@{:.3}-{:.3} as {:.3}-{:.3}",
                            t.key, t.start, t.end, d.start, d.end
                        )
                    })
                    .collect();
                report.failures.push(format!(
                    "call {}: missed [{}] inserted [{}] mistimed [{}] ({})",
                    call.index,
                    show(&outcome.missed),
                    show(&outcome.inserted),
                    mistimed.join(" "),
                    call.description
                ));
            }
            report.outcome.add(outcome);
        }
    }
    Ok(reports)
}

/// Writes 8 kHz 16-bit mono WAV.
pub fn save_wav(path: &Path, samples: &[f32]) -> anyhow::Result<()> {
    let mut bytes = Vec::new();
    callscore_audio::write_wav(&mut bytes, RATE, Encoding::Pcm { bits: 16 }, &[samples])?;
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// What a candidate on the corpora was, by the corpora's truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    /// The candidate that best overlaps a key pressed in a barge-in call.
    Key,
    /// Another candidate overlapping a key pressed: a piece of it, which should be rejected.
    Fragment,
    /// A candidate in a barge-in call away from every key pressed.
    CallTalkOff,
    /// A candidate in a talk-off item of this category (`speech`, `music`, …).
    TalkOff(&'static str),
}

impl Truth {
    /// The label of the candidate tables: `key`, `fragment`, `call-talk-off` or the talk-off
    /// category.
    pub fn label(self) -> &'static str {
        match self {
            Truth::Key => "key",
            Truth::Fragment => "fragment",
            Truth::CallTalkOff => "call-talk-off",
            Truth::TalkOff(category) => category,
        }
    }
}

/// One candidate measured on the corpora, with what it was and where.
#[derive(Debug, Clone)]
pub struct Labelled {
    /// What the candidate was.
    pub truth: Truth,
    /// The candidate as the detector measured it.
    pub candidate: callscore_dtmf::Candidate,
    /// `call-0042` or a talk-off item such as `music-010`.
    pub source: String,
}

/// Every candidate callscore's detector measured on `minutes` of talk-off and `calls`
/// barge-in calls of `seed`, labelled by the corpora's truth.
pub fn labelled_candidates(
    minutes: f64,
    calls: usize,
    seed: u64,
    breadth: Breadth,
) -> anyhow::Result<Vec<Labelled>> {
    let plan = talkoff::plan(minutes);
    let talk = parallel(plan.len(), |i| -> anyhow::Result<Vec<Labelled>> {
        let (category, index) = plan[i];
        let item = talkoff::item(category, index, seed)?;
        let source = format!("{}-{:03}", category.name(), index);
        Ok(candidates(&item.samples)
            .into_iter()
            .map(|candidate| Labelled {
                truth: Truth::TalkOff(category.name()),
                candidate,
                source: source.clone(),
            })
            .collect())
    });
    let bargein = parallel(calls, |i| -> anyhow::Result<Vec<Labelled>> {
        let call = bargein::call(i, seed, breadth)?;
        let source = format!("call-{i:04}");
        let found = candidates(&call.samples);
        let overlap = |c: &callscore_dtmf::Candidate, p: &Press| {
            let (s, e) = (
                c.start as f64 / f64::from(RATE),
                c.end as f64 / f64::from(RATE),
            );
            if p.key == c.key.as_char() {
                (e.min(p.end) - s.max(p.start)).max(0.0)
            } else {
                0.0
            }
        };
        // each key press's best-overlapping candidate is the key; others overlapping it are
        // fragments, which should be rejected
        let best: Vec<Option<usize>> = call
            .presses
            .iter()
            .map(|p| {
                (0..found.len())
                    .filter(|&i| overlap(&found[i], p) > 0.0)
                    .max_by(|&a, &b| overlap(&found[a], p).total_cmp(&overlap(&found[b], p)))
            })
            .collect();
        let truths: Vec<Truth> = (0..found.len())
            .map(|i| {
                if best.contains(&Some(i)) {
                    Truth::Key
                } else if call.presses.iter().any(|p| overlap(&found[i], p) > 0.0) {
                    Truth::Fragment
                } else {
                    Truth::CallTalkOff
                }
            })
            .collect();
        Ok(found
            .into_iter()
            .zip(truths)
            .map(|(candidate, truth)| Labelled {
                truth,
                candidate,
                source: source.clone(),
            })
            .collect())
    });
    let mut out = Vec::new();
    for part in talk.into_iter().chain(bargein) {
        out.extend(part?);
    }
    Ok(out)
}

/// Every candidate callscore's detector measured on the corpora, one CSV row each, labelled
/// `key` when it matches a key pressed in a barge-in call and with the talk-off category (or
/// `call-talk-off`) when it does not. For studying the detector's margins.
pub fn candidate_table(
    minutes: f64,
    calls: usize,
    seed: u64,
    breadth: Breadth,
) -> anyhow::Result<String> {
    let mut rows = String::from(
        "label,key,start,duration_ms,low_dbm0,high_dbm0,twist_db,low_dev_hz,high_dev_hz,\
         fit,purity,share,neigh_db,c_fit,c_purity,c_share,c_neigh_db,\
         drift_db,chirp_hz,edge_db,ramp,decay_db,pitch_hz,aperiodicity,harmonic_dev,clipped,rejection,source\n",
    );
    for l in labelled_candidates(minutes, calls, seed, breadth)? {
        rows.push_str(&candidate_row(l.truth.label(), &l.candidate, &l.source));
    }
    Ok(rows)
}

/// Every candidate the detector measured in one call (`call-0186`) or talk-off item
/// (`music-010`), with the keys actually pressed: for explaining a miss or an insertion.
pub fn explain(source: &str, seed: u64, breadth: Breadth) -> anyhow::Result<String> {
    if std::path::Path::new(source).is_file() {
        return explain_file(source);
    }
    let (name, index) = source
        .rsplit_once('-')
        .and_then(|(name, index)| Some((name, index.parse::<usize>().ok()?)))
        .with_context(|| format!("{source:?} is neither call-N nor CATEGORY-N"))?;
    let (samples, presses, description) = if name == "call" {
        let call = bargein::call(index, seed, breadth)?;
        (call.samples, call.presses, call.description)
    } else {
        let category = Category::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .with_context(|| format!("no talk-off category {name:?}"))?;
        let item = talkoff::item(category, index, seed)?;
        (item.samples, Vec::new(), item.description)
    };
    let mut out = format!("{source}: {description}\npressed:");
    for p in &presses {
        let _ = write!(out, " {}@{:.3}-{:.3}", p.key, p.start, p.end);
    }
    out.push('\n');
    out.push_str(&verdicts(&samples));
    Ok(out)
}

/// [`explain`] for a recording file: every channel, decoded to 8 kHz as `callscore detect`
/// decodes it.
fn explain_file(path: &str) -> anyhow::Result<String> {
    let mut recording = callscore_audio::Recording::open_path(
        std::path::Path::new(path),
        &callscore_audio::DecodeOptions::default(),
    )?;
    let mut channels = vec![Vec::new(); usize::from(recording.output_channels())];
    while let Some(block) = recording.next_block()? {
        for (channel, samples) in channels.iter_mut().zip(block) {
            channel.extend_from_slice(samples);
        }
    }
    let info = recording.info();
    let mut out = format!("{path}: {} {}\n", info.container, info.codec);
    for (index, samples) in channels.iter().enumerate() {
        let _ = writeln!(out, "channel {index}");
        out.push_str(&verdicts(samples));
    }
    Ok(out)
}

/// One line per candidate the detector measured in `samples` (8 kHz), with its verdict.
fn verdicts(samples: &[f32]) -> String {
    callscore_dtmf::diagnostics::explain(&candidates(samples))
}

fn candidates(samples: &[f32]) -> Vec<callscore_dtmf::Candidate> {
    callscore_dtmf::diagnostics::diagnose(samples, RATE, true)
        .expect("8 kHz is a supported rate")
        .candidates
}

fn candidate_row(label: &str, c: &callscore_dtmf::Candidate, source: &str) -> String {
    let (low, high) = c.key.frequencies();
    let features = |f: &callscore_dtmf::Features| {
        format!(
            "{:.4},{:.4},{:.4},{:.1}",
            f.fit, f.purity, f.tone_share, f.neighbours_db
        )
    };
    // candidates outside the Q.24 limits have no shape measured
    let shape = c.shape.as_ref().map_or_else(
        || ",".repeat(15),
        |s| {
            format!(
                "{},{},{:.2},{:.2},{:.1},{},{:.2},{:.1},{:.3},{:.3}",
                features(&s.whole),
                features(&s.cleanest),
                s.drift_db,
                s.chirp_hz,
                s.edge_db,
                s.ramp_blocks,
                s.decay_db,
                s.pitch_hz,
                s.aperiodicity,
                s.harmonic_deviation
            )
        },
    );
    format!(
        "{label},{},{:.3},{:.1},{:.2},{:.2},{:.2},{:.2},{:.2},{shape},{},{},{source}\n",
        c.key,
        c.start as f64 / f64::from(c.sample_rate),
        c.duration_seconds() * 1000.0,
        c.low_dbm0,
        c.high_dbm0,
        c.twist_db(),
        f64::from(c.low_hz) - low,
        f64::from(c.high_hz) - high,
        c.clipped,
        c.rejection.map_or("accepted", |r| r.as_str()),
    )
}
