//! Key presses from the two sources, and their reconciliation into one list.
//!
//! A recording's keys can come from the in-band detector (tones in the audio) and from the
//! out-of-band RFC 4733 events the IVR reports in the metadata. When both are given, a press
//! seen by both is one press; the IVR acted on the out-of-band events, so their key and timing
//! win and the detector contributes its confidence. A press seen by one source only is still
//! used (RTP events get lost; a detector hears keys the gateway did not relay), and it is
//! marked disputed so that the disagreement is visible rather than silently resolved.

use std::time::Duration;

use callscore_dtmf::{Key, KeyEvent};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Error;

/// Most key presses accepted per source for one recording. A survey call has a few dozen; far
/// more means the input is not a survey call, and the limit bounds the reconciliation's work
/// (quadratic in the presses that crowd within the match tolerance of each other).
pub const MAX_PRESSES: usize = 1000;

/// One key press as one source reported it. Times are offsets from the start of the recording.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyPress {
    /// The key.
    pub key: Key,
    /// When the tone (or the RFC 4733 event) started.
    pub start: Duration,
    /// When it ended.
    pub end: Duration,
    /// The detector's quality figure, 0 to 1; `None` for out-of-band events, which carry none.
    pub confidence: Option<f32>,
}

impl KeyPress {
    /// A press without a confidence figure, as out-of-band events are.
    pub fn new(key: Key, start: Duration, end: Duration) -> KeyPress {
        KeyPress {
            key,
            start,
            end,
            confidence: None,
        }
    }

    /// The press the in-band detector reported, with its quality as the confidence. The
    /// event's sample positions must count from the start of the recording.
    pub fn from_event(event: &KeyEvent) -> KeyPress {
        let at = |samples: u64| samples_to_duration(samples, event.sample_rate);
        KeyPress {
            key: event.key,
            start: at(event.start),
            end: at(event.end),
            confidence: Some(event.quality),
        }
    }
}

fn samples_to_duration(samples: u64, rate: u32) -> Duration {
    let rate = u64::from(rate);
    if rate == 0 {
        return Duration::ZERO;
    }
    // Whole seconds and the remainder separately, so that no product can overflow.
    let nanos = (samples % rate) * 1_000_000_000 / rate;
    Duration::from_secs(samples / rate) + Duration::from_nanos(nanos)
}

/// One question's start, as the IVR reports it in the recording's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionOffset {
    /// The question's id in the survey definition.
    pub question_id: String,
    /// When its prompt started, from the start of the recording.
    pub offset: Duration,
}

/// Everything answer extraction needs from one recording.
///
/// `None` for a source means "not available" (no detector run, or an IVR that does not report
/// RFC 4733 events); `Some(vec![])` means "looked, found nothing". The difference matters:
/// a key found by one source is disputed only if the other source was available.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeyInput {
    /// Length of the recording; tells a caller who hung up mid-entry from a completed entry.
    pub duration: Duration,
    /// Presses the in-band detector found on the caller's channel.
    pub in_band: Option<Vec<KeyPress>>,
    /// Presses the IVR reported as RFC 4733 events.
    pub out_of_band: Option<Vec<KeyPress>>,
    /// Question start offsets, when the IVR reports them; empty otherwise. Questions absent
    /// from a non-empty list were not asked.
    pub question_offsets: Vec<QuestionOffset>,
}

/// Which source saw a press.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Only the in-band detector.
    InBand,
    /// Only the IVR's RFC 4733 events.
    OutOfBand,
    /// Both, within the match tolerance.
    Both,
}

/// A reconciled key press.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Press {
    /// The key (the out-of-band key when both sources saw the press).
    pub key: Key,
    /// Start, from the start of the recording (out-of-band timing when both saw it).
    pub start: Duration,
    /// End, from the start of the recording.
    pub end: Duration,
    /// Which source saw it.
    pub source: Source,
    /// The detector's confidence; `None` when the detector did not see the press.
    pub confidence: Option<f32>,
    /// The sources disagree about this press: only one of two available sources saw it, or
    /// both saw it with different keys.
    pub disputed: bool,
}

impl Press {
    /// A press that only one source saw; disputed when the other source was available.
    fn alone(p: KeyPress, source: Source, disputed: bool) -> Press {
        Press {
            key: p.key,
            start: p.start,
            end: p.end,
            source,
            confidence: p.confidence,
            disputed,
        }
    }
}

/// How the two sources compared over one recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SourceReport {
    /// Presses the in-band detector found; `null` when it was not run.
    pub in_band: Option<u32>,
    /// Presses the IVR reported out of band; `null` when it reports none.
    pub out_of_band: Option<u32>,
    /// Presses both sources saw, with the same key.
    pub matched: u32,
    /// Presses both sources saw, with different keys (the out-of-band key is used).
    pub different_key: u32,
    /// Presses only the in-band detector saw, while out-of-band events were available.
    pub in_band_only: u32,
    /// Presses only the out-of-band events reported, while the detector was run.
    pub out_of_band_only: u32,
}

impl SourceReport {
    /// Presses the sources disagree about.
    pub fn disagreements(&self) -> u32 {
        self.different_key + self.in_band_only + self.out_of_band_only
    }
}

/// Checks one source's presses and returns them sorted by start.
fn checked(name: &str, presses: &[KeyPress]) -> Result<Vec<KeyPress>, Error> {
    if presses.len() > MAX_PRESSES {
        return Err(Error::input(
            name,
            format!(
                "{} key presses, more than the limit of {MAX_PRESSES}",
                presses.len()
            ),
        ));
    }
    for (i, p) in presses.iter().enumerate() {
        if p.end < p.start {
            return Err(Error::input(
                format!("{name}[{i}]"),
                "ends before it starts",
            ));
        }
        if let Some(c) = p.confidence
            && !(0.0..=1.0).contains(&c)
        {
            return Err(Error::input(
                format!("{name}[{i}].confidence"),
                format!("{c} is not between 0 and 1"),
            ));
        }
    }
    let mut sorted = presses.to_vec();
    sorted.sort_by_key(|p| (p.start, p.end));
    Ok(sorted)
}

/// Merges the two sources into one list sorted by start.
///
/// Presses are paired by an alignment that keeps both sources in time order and pairs only
/// presses starting within `tolerance` of each other. It minimises the presses left unpaired
/// plus the pairs whose keys differ, then the total time difference. A greedy pairing would
/// do worse when one source misses a key: it pairs the neighbour instead, and reports two
/// disagreements where there is one.
pub(crate) fn reconcile(
    in_band: Option<&[KeyPress]>,
    out_of_band: Option<&[KeyPress]>,
    tolerance: Duration,
) -> Result<(Vec<Press>, SourceReport), Error> {
    let a = in_band.map(|p| checked("in_band", p)).transpose()?;
    let b = out_of_band.map(|p| checked("out_of_band", p)).transpose()?;
    let count = |v: &Option<Vec<KeyPress>>| {
        v.as_ref()
            .map(|v| u32::try_from(v.len()).unwrap_or(u32::MAX))
    };
    let mut report = SourceReport {
        in_band: count(&a),
        out_of_band: count(&b),
        ..SourceReport::default()
    };
    let both_available = a.is_some() && b.is_some();
    let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());

    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    // Presses only pair within the tolerance, so a gap wider than it in the merged time order
    // splits the problem into independent clusters, each aligned on its own.
    while i < a.len() || j < b.len() {
        let (ci, cj) = cluster_end(&a, &b, i, j, tolerance);
        for step in align(&a[i..ci], &b[j..cj], tolerance) {
            let press = match step {
                Step::Pair(x, y) => {
                    let (p, q) = (a[i + x], b[j + y]);
                    if p.key == q.key {
                        report.matched += 1;
                    } else {
                        report.different_key += 1;
                    }
                    Press {
                        key: q.key,
                        start: q.start,
                        end: q.end,
                        source: Source::Both,
                        confidence: p.confidence,
                        disputed: p.key != q.key,
                    }
                }
                Step::OnlyA(x) => {
                    report.in_band_only += u32::from(both_available);
                    Press::alone(a[i + x], Source::InBand, both_available)
                }
                Step::OnlyB(y) => {
                    report.out_of_band_only += u32::from(both_available);
                    Press::alone(b[j + y], Source::OutOfBand, both_available)
                }
            };
            out.push(press);
        }
        (i, j) = (ci, cj);
    }
    out.sort_by_key(|p| (p.start, p.end));
    Ok((out, report))
}

/// The ends of the cluster that starts at `a[i]` / `b[j]`: the presses whose starts follow
/// each other (in merged order) by at most `tolerance`.
fn cluster_end(
    a: &[KeyPress],
    b: &[KeyPress],
    mut i: usize,
    mut j: usize,
    tolerance: Duration,
) -> (usize, usize) {
    let mut last: Option<Duration> = None;
    loop {
        let next_a = a.get(i).map(|p| p.start);
        let next_b = b.get(j).map(|p| p.start);
        let (take_a, start) = match (next_a, next_b) {
            (Some(x), Some(y)) if x <= y => (true, x),
            (_, Some(y)) => (false, y),
            (Some(x), None) => (true, x),
            (None, None) => return (i, j),
        };
        if last.is_some_and(|last| start - last > tolerance) {
            return (i, j);
        }
        last = Some(start);
        if take_a {
            i += 1;
        } else {
            j += 1;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Pair(usize, usize),
    OnlyA(usize),
    OnlyB(usize),
}

/// Optimal order-keeping alignment of two short runs (see [`reconcile`]).
fn align(a: &[KeyPress], b: &[KeyPress], tolerance: Duration) -> Vec<Step> {
    #[derive(Clone, Copy)]
    struct Cell {
        /// Disagreements, then total time difference, of the best alignment reaching here.
        cost: (u32, Duration),
        /// The move that reached this cell.
        from: Option<Step>,
    }
    let (n, m) = (a.len(), b.len());
    let width = m + 1;
    let unreached = Cell {
        cost: (u32::MAX, Duration::MAX),
        from: None,
    };
    let mut cells = vec![unreached; (n + 1) * width];
    cells[0].cost = (0, Duration::ZERO);
    for i in 0..=n {
        for j in 0..=m {
            let here = cells[i * width + j].cost;
            let mut relax = |to: usize, add: u32, diff: Duration, step: Step| {
                let candidate = (here.0.saturating_add(add), here.1.saturating_add(diff));
                if candidate < cells[to].cost {
                    cells[to] = Cell {
                        cost: candidate,
                        from: Some(step),
                    };
                }
            };
            if i < n && j < m {
                let d = a[i].start.abs_diff(b[j].start);
                if d <= tolerance {
                    let add = u32::from(a[i].key != b[j].key);
                    relax((i + 1) * width + j + 1, add, d, Step::Pair(i, j));
                }
            }
            if i < n {
                relax((i + 1) * width + j, 1, Duration::ZERO, Step::OnlyA(i));
            }
            if j < m {
                relax(i * width + j + 1, 1, Duration::ZERO, Step::OnlyB(j));
            }
        }
    }
    let mut steps = Vec::with_capacity(n + m);
    let mut at = n * width + m;
    while let Some(step) = cells[at].from {
        steps.push(step);
        at = match step {
            Step::Pair(i, j) => i * width + j,
            Step::OnlyA(i) => i * width + at % width,
            Step::OnlyB(j) => (at / width) * width + j,
        };
    }
    steps.reverse();
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn presses(spec: &[(char, u64)]) -> Vec<KeyPress> {
        spec.iter()
            .map(|&(c, start)| KeyPress {
                key: Key::from_char(c).expect("key"),
                start: ms(start),
                end: ms(start + 80),
                confidence: Some(0.9),
            })
            .collect()
    }

    fn keys(p: &[Press]) -> String {
        p.iter().map(|p| p.key.as_char()).collect()
    }

    const TOL: Duration = Duration::from_millis(120);

    #[test]
    fn same_presses_from_both_sources_match() {
        let a = presses(&[('1', 1000), ('0', 1300), ('#', 1600)]);
        let mut b = presses(&[('1', 1040), ('0', 1330), ('#', 1610)]);
        b.iter_mut().for_each(|p| p.confidence = None);
        let (out, report) = reconcile(Some(&a), Some(&b), TOL).expect("valid");
        assert_eq!(keys(&out), "10#");
        assert!(out.iter().all(|p| p.source == Source::Both && !p.disputed));
        assert_eq!(out[0].start, ms(1040), "out-of-band timing wins");
        assert_eq!(
            out[0].confidence,
            Some(0.9),
            "the detector's confidence is kept"
        );
        assert_eq!(report.matched, 3);
        assert_eq!(report.disagreements(), 0);
    }

    #[test]
    fn a_key_missing_from_one_source_is_one_disagreement_not_two() {
        // The in-band '1' is 100 ms from the out-of-band '2': a greedy pairing would take it
        // and then leave the in-band '2' alone.
        let a = presses(&[('1', 1000), ('2', 1100)]);
        let b = presses(&[('2', 1100)]);
        let (out, report) = reconcile(Some(&a), Some(&b), TOL).expect("valid");
        assert_eq!(keys(&out), "12");
        assert_eq!((out[0].source, out[0].disputed), (Source::InBand, true));
        assert_eq!((out[1].source, out[1].disputed), (Source::Both, false));
        assert_eq!(
            (report.matched, report.in_band_only, report.disagreements()),
            (1, 1, 1)
        );
    }

    #[test]
    fn different_keys_at_the_same_time_take_the_out_of_band_key() {
        let a = presses(&[('8', 1000)]);
        let b = presses(&[('9', 1010)]);
        let (out, report) = reconcile(Some(&a), Some(&b), TOL).expect("valid");
        assert_eq!(keys(&out), "9");
        assert!(out[0].disputed);
        assert_eq!(report.different_key, 1);
    }

    #[test]
    fn presses_further_apart_than_the_tolerance_are_separate() {
        let a = presses(&[('5', 1000)]);
        let b = presses(&[('5', 1200)]);
        let (out, report) = reconcile(Some(&a), Some(&b), TOL).expect("valid");
        assert_eq!(keys(&out), "55");
        assert_eq!((report.in_band_only, report.out_of_band_only), (1, 1));
    }

    #[test]
    fn one_available_source_is_not_a_disagreement() {
        let a = presses(&[('5', 1000), ('#', 1300)]);
        let (out, report) = reconcile(Some(&a), None, TOL).expect("valid");
        assert_eq!(keys(&out), "5#");
        assert!(
            out.iter()
                .all(|p| p.source == Source::InBand && !p.disputed)
        );
        assert_eq!(
            (report.in_band, report.out_of_band, report.disagreements()),
            (Some(2), None, 0)
        );
        // An available but empty source does dispute the other one's presses.
        let (out, report) = reconcile(Some(&a), Some(&[]), TOL).expect("valid");
        assert!(out.iter().all(|p| p.disputed));
        assert_eq!(report.in_band_only, 2);
    }

    #[test]
    fn unsorted_input_is_sorted() {
        let a = presses(&[('2', 2000), ('1', 1000)]);
        let (out, _) = reconcile(Some(&a), None, TOL).expect("valid");
        assert_eq!(keys(&out), "12");
    }

    #[test]
    fn bad_presses_are_refused_with_their_position() {
        let mut a = presses(&[('1', 1000), ('2', 2000)]);
        a[1].end = ms(10);
        let err = reconcile(Some(&a), None, TOL).expect_err("end before start");
        assert_eq!(
            err.to_string(),
            "key input in_band[1]: ends before it starts"
        );
        let mut b = presses(&[('1', 1000)]);
        b[0].confidence = Some(f32::NAN);
        let err = reconcile(None, Some(&b), TOL).expect_err("NaN confidence");
        assert!(
            err.to_string()
                .starts_with("key input out_of_band[0].confidence"),
            "{err}"
        );
        let many = vec![presses(&[('1', 0)])[0]; MAX_PRESSES + 1];
        assert!(reconcile(Some(&many), None, TOL).is_err());
    }

    #[test]
    fn detector_events_convert_at_their_sample_rate() {
        let event = KeyEvent {
            key: Key::D7,
            start: 8_004,
            end: 8_800,
            sample_rate: 8000,
            low_hz: 852.0,
            high_hz: 1209.0,
            low_dbm0: -10.0,
            high_dbm0: -10.0,
            twist_db: 0.0,
            quality: 0.8,
        };
        let press = KeyPress::from_event(&event);
        assert_eq!(
            (press.start, press.end),
            (Duration::from_micros(1_000_500), ms(1100))
        );
        assert_eq!(press.confidence, Some(0.8));
    }
}
