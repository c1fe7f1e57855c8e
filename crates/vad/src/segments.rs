//! From frame decisions to segments: bridge short pauses, grow the edges, drop short blips.

use crate::diagnostics::{Analysis, Frame};
use crate::{FRAME_MS, Settings};

/// A stretch of frames `start..end`.
pub(crate) type Run = (usize, usize);

/// Frames that must reach the onset threshold for a stretch to be speech: 50 ms, so that a
/// click or a single loud frame of background does not start a segment.
const MIN_ONSET_FRAMES: usize = 5;

/// The speech segments of an analysis: stretches of voice-like frames above the continuation
/// level that hold enough frames above the onset threshold (hysteresis), with short pauses
/// bridged, edges fitted and short blips dropped.
pub(crate) fn find(analysis: &Analysis, settings: &Settings) -> Vec<Run> {
    let frames = &analysis.frames;
    let frames_of = |ms: u32| (ms / FRAME_MS) as usize;
    let onsets = |run: &Run| frames[run.0..run.1].iter().filter(|f| f.speech).count();
    let stretches: Vec<Run> = runs(frames, |f| {
        f.voice_like && f.level_dbm0 >= analysis.continue_dbm0
    })
    .into_iter()
    .filter(|run| onsets(run) > 0)
    .collect();
    let bridged: Vec<Run> = bridge(&stretches, frames_of(settings.max_gap_ms))
        .into_iter()
        .filter(|run| onsets(run) >= MIN_ONSET_FRAMES)
        .collect();
    let edge_dbm0 = analysis.edge_dbm0;
    let fitted: Vec<Run> = bridged
        .iter()
        .map(|&run| {
            let lowest = speech_level(&frames[run.0..run.1]) - settings.range_db;
            fit(run, frames, frames_of(settings.max_edge_ms), |f| {
                f.level_dbm0 >= edge_dbm0.max(lowest) && f.voice_like
            })
        })
        .collect();
    bridge(&fitted, 0)
        .into_iter()
        .filter(|(start, end)| end - start >= frames_of(settings.min_segment_ms).max(1))
        .collect()
}

/// Level of the speech in a stretch in dBm0: the power mean of its onset frames.
fn speech_level(frames: &[Frame]) -> f32 {
    let powers: Vec<f32> = frames
        .iter()
        .filter(|f| f.speech)
        .map(|f| 10f32.powf(f.level_dbm0 / 10.0))
        .collect();
    if powers.is_empty() {
        return f32::NEG_INFINITY;
    }
    10.0 * (powers.iter().sum::<f32>() / powers.len() as f32).log10()
}

/// The runs of consecutive frames for which `keep` holds.
pub(crate) fn runs(frames: &[Frame], keep: impl Fn(&Frame) -> bool) -> Vec<Run> {
    let mut out = Vec::new();
    let mut start = None;
    for (k, frame) in frames.iter().enumerate() {
        match (keep(frame), start) {
            (true, None) => start = Some(k),
            (false, Some(s)) => {
                out.push((s, k));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, frames.len()));
    }
    out
}

/// Joins runs separated by at most `max_gap` frames.
pub(crate) fn bridge(runs: &[Run], max_gap: usize) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    for &(start, end) in runs {
        match out.last_mut() {
            Some(last) if start.saturating_sub(last.1) <= max_gap => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out
}

/// Fits the edges of a run to the frames for which `edge` holds: first trims frames that fail
/// it from both ends, then grows over up to `limit` neighbouring frames that pass it.
fn fit(run: Run, frames: &[Frame], limit: usize, edge: impl Fn(&Frame) -> bool) -> Run {
    let (mut start, mut end) = run;
    while start < end && !edge(&frames[start]) {
        start += 1;
    }
    while end > start && !edge(&frames[end - 1]) {
        end -= 1;
    }
    if start == end {
        return run;
    }
    let (first, last) = (start.saturating_sub(limit), (end + limit).min(frames.len()));
    while start > first && edge(&frames[start - 1]) {
        start -= 1;
    }
    while end < last && edge(&frames[end]) {
        end += 1;
    }
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridging_joins_only_short_gaps() {
        let runs = [(0, 5), (8, 10), (20, 22)];
        assert_eq!(bridge(&runs, 3), vec![(0, 10), (20, 22)]);
        assert_eq!(bridge(&runs, 2), runs.to_vec());
        assert_eq!(bridge(&[], 3), Vec::<Run>::new());
    }
}

#[cfg(test)]
mod keys {
    use super::*;
    use crate::{Settings, diagnostics};
    use callscore_synth::{Digit, add_digit};

    /// Keys 120 ms apart: the first and last frames of each look like speech to the
    /// spectrum, but they belong to the key.
    #[test]
    fn the_edges_of_keys_are_never_joined_into_speech() {
        let mut samples = vec![0.0f32; 16_000];
        for start in [4000, 4000 + 800 + 960, 4000 + 2 * (800 + 960)] {
            add_digit(
                &mut samples,
                8000,
                &Digit::new('7', start, 800).levels(-5.0, -5.0),
            );
        }
        let settings = Settings::default();
        let analysis = diagnostics::analyse(&samples, &[], &settings);
        assert!(find(&analysis, &settings).is_empty());
    }
}
