//! Fitting the DTMF detector's talk-off score on the tuning seeds.
//!
//! The score ([`callscore_dtmf::TALK_OFF_WEIGHTS`]) is a logistic regression: over the
//! candidates that reach it (within the Q.24 limits and past the checks before it), the key
//! presses of the barge-in calls against everything that is no key (talk-off items and
//! sounds in the calls away from any key). Pieces of a key are left out: they are neither.
//! A false digit weighs [`FALSE_DIGIT_WEIGHT`] times a missed key.
//!
//! [`report`] fits on every tuning seed given and, to show how the fit carries to calls it
//! was not fitted on, on the odd seeds alone (checked on the even ones) and the other way
//! round, next to the detector's own weights. Held-out seeds are refused.

use std::fmt::Write as _;

use callscore_dtmf::{TALK_OFF_BIAS, TALK_OFF_MEASURES, TALK_OFF_WEIGHTS};

use crate::seeds::FIRST_HELD_OUT_SEED;
use crate::{Breadth, Truth, labelled_candidates};

/// How many missed keys one false digit weighs in the fit: an answer invented is worse than
/// an answer lost, which the survey reports as no input.
pub const FALSE_DIGIT_WEIGHT: f64 = 3.0;

/// Measures per candidate.
const MEASURES: usize = TALK_OFF_MEASURES.len();
/// Ridge added to the fit's normal equations, for measures that barely vary.
const RIDGE: f64 = 1e-3;
/// Newton steps at most; the fit converges in about ten.
const MAX_STEPS: usize = 50;

/// One candidate that reached the score.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// The measures the score weighs.
    pub measures: [f64; MEASURES],
    /// A key press (else no key).
    pub key: bool,
    /// Seed of the corpus it came from.
    pub seed: u64,
}

/// A linear score: positive is a key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Model {
    /// Constant term.
    pub bias: f64,
    /// One weight per measure.
    pub weights: [f64; MEASURES],
}

impl Model {
    /// The detector's own score.
    pub fn detector() -> Self {
        Model {
            bias: f64::from(TALK_OFF_BIAS),
            weights: TALK_OFF_WEIGHTS.map(f64::from),
        }
    }

    /// The score of one sample.
    pub fn score(&self, measures: &[f64; MEASURES]) -> f64 {
        self.bias
            + self
                .weights
                .iter()
                .zip(measures)
                .map(|(w, m)| w * m)
                .sum::<f64>()
    }
}

/// Keys a model misses and non-keys it lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Errors {
    /// Keys scored below 0.
    pub missed: usize,
    /// Non-keys scored at 0 or above.
    pub passed: usize,
    /// Keys among the samples.
    pub keys: usize,
    /// Non-keys among the samples.
    pub others: usize,
}

/// How `model` does on `samples`.
pub fn errors<'a>(model: &Model, samples: impl IntoIterator<Item = &'a Sample>) -> Errors {
    let mut e = Errors::default();
    for s in samples {
        let key_like = model.score(&s.measures) >= 0.0;
        if s.key {
            e.keys += 1;
            e.missed += usize::from(!key_like);
        } else {
            e.others += 1;
            e.passed += usize::from(key_like);
        }
    }
    e
}

/// The candidates that reached the score on `minutes` of talk-off and `calls` barge-in calls
/// (of the second round's breadth) of each seed. Held-out seeds are refused.
pub fn samples(seeds: &[u64], calls: usize, minutes: f64) -> anyhow::Result<Vec<Sample>> {
    if let Some(seed) = seeds.iter().find(|&&s| s >= FIRST_HELD_OUT_SEED) {
        anyhow::bail!("seed {seed} is held out: the score is fitted on tuning seeds only");
    }
    let mut out = Vec::new();
    for &seed in seeds {
        for l in labelled_candidates(minutes, calls, seed, Breadth::Wide)? {
            if l.truth == Truth::Fragment {
                continue;
            }
            if let Some(measures) = l.candidate.talk_off_measures() {
                out.push(Sample {
                    measures: measures.map(f64::from),
                    key: l.truth == Truth::Key,
                    seed,
                });
            }
        }
    }
    Ok(out)
}

/// Fits a logistic regression to `samples` by Newton's method (iteratively reweighted least
/// squares), a non-key weighing `false_weight` times a key; `None` without both kinds, or
/// when a step is not finite (a measure that is not).
pub fn fit(samples: &[&Sample], false_weight: f64) -> Option<Model> {
    if !samples.iter().any(|s| s.key) || samples.iter().all(|s| s.key) {
        return None;
    }
    const N: usize = MEASURES + 1;
    let mut w = [0.0f64; N];
    for _ in 0..MAX_STEPS {
        let mut hessian = [[0.0f64; N]; N];
        let mut gradient = [0.0f64; N];
        for (i, row) in hessian.iter_mut().enumerate() {
            row[i] = RIDGE;
            gradient[i] = -RIDGE * w[i];
        }
        for s in samples {
            let mut x = [1.0f64; N];
            x[1..].copy_from_slice(&s.measures);
            let z: f64 = w.iter().zip(&x).map(|(a, b)| a * b).sum();
            let p = 1.0 / (1.0 + (-z.clamp(-30.0, 30.0)).exp());
            let (y, weight) = if s.key {
                (1.0, 1.0)
            } else {
                (0.0, false_weight)
            };
            for i in 0..N {
                gradient[i] += weight * (y - p) * x[i];
                for j in 0..N {
                    hessian[i][j] += weight * p * (1.0 - p) * x[i] * x[j];
                }
            }
        }
        let step = solve(hessian, gradient).filter(|s| s.iter().all(|v| v.is_finite()))?;
        for (wi, si) in w.iter_mut().zip(&step) {
            *wi += si;
        }
        if step.iter().all(|s| s.abs() < 1e-9) {
            break;
        }
    }
    let mut weights = [0.0; MEASURES];
    weights.copy_from_slice(&w[1..]);
    Some(Model {
        bias: w[0],
        weights,
    })
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting; `None` if `a` is singular.
fn solve<const N: usize>(mut a: [[f64; N]; N], mut b: [f64; N]) -> Option<[f64; N]> {
    for col in 0..N {
        let pivot = (col..N).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in 0..N {
            if row != col {
                let factor = a[row][col] / a[col][col];
                let pivot_row = a[col];
                for (x, p) in a[row].iter_mut().zip(pivot_row) {
                    *x -= factor * p;
                }
                b[row] -= factor * b[col];
            }
        }
    }
    Some(std::array::from_fn(|i| b[i] / a[i][i]))
}

/// Fits the score on every sample, and on the odd seeds and the even seeds alone, each
/// checked on the other half next to the detector's own weights: one block of text.
pub fn report(samples: &[Sample]) -> anyhow::Result<String> {
    let all: Vec<&Sample> = samples.iter().collect();
    let (odd, even): (Vec<&Sample>, Vec<&Sample>) = all.iter().partition(|s| s.seed % 2 == 1);
    let fitted = fit(&all, FALSE_DIGIT_WEIGHT)
        .ok_or_else(|| anyhow::anyhow!("no keys or no other candidates to fit on"))?;
    let mut out = String::new();
    let detector = Model::detector();
    // the detector's weights and another model on the same samples, one line each
    let compare = |out: &mut String, heading: String, other: (&str, &Model), on: &[&Sample]| {
        let _ = writeln!(out, "{heading}");
        for (name, model) in [("the detector's weights", &detector), other] {
            let e = errors(model, on.iter().copied());
            let _ = writeln!(
                out,
                "  {name:<24} {} of {} keys missed, {} of {} others taken for keys",
                e.missed, e.keys, e.passed, e.others
            );
        }
    };
    compare(
        &mut out,
        "on every seed given:".into(),
        ("fitted here", &fitted),
        &all,
    );
    for (name, train, check) in [("odd", &odd, &even), ("even", &even, &odd)] {
        if let Some(model) = fit(train, FALSE_DIGIT_WEIGHT) {
            compare(
                &mut out,
                format!("fitted on the {name} seeds, checked on the others:"),
                ("fitted on those seeds", &model),
                check,
            );
        }
    }
    let _ = writeln!(out, "weights fitted on every seed given:");
    let _ = writeln!(out, "  bias {:.4}", fitted.bias);
    for (name, (w, d)) in TALK_OFF_MEASURES
        .iter()
        .zip(fitted.weights.iter().zip(&detector.weights))
    {
        let _ = writeln!(out, "  {name:<24} {w:>9.4} (the detector: {d:.4})");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(measures: [f64; MEASURES], key: bool) -> Sample {
        Sample {
            measures,
            key,
            seed: 1,
        }
    }

    #[test]
    fn the_fit_separates_what_a_measure_separates() {
        // keys quiet around their tones, others crowded, with some overlap
        let samples: Vec<Sample> = (0..200)
            .map(|i| {
                let key = i % 2 == 0;
                let around = if key { -20.0 } else { -2.0 } + f64::from(i % 7) - 3.0;
                let mut m = [0.0; MEASURES];
                m[1] = around;
                m[5] = f64::from(i % 3);
                sample(m, key)
            })
            .collect();
        let refs: Vec<&Sample> = samples.iter().collect();
        let model = fit(&refs, 1.0).expect("both kinds");
        assert!(model.weights[1] < 0.0, "{model:?}");
        let e = errors(&model, samples.iter());
        assert_eq!((e.missed, e.passed, e.keys, e.others), (0, 0, 100, 100));
        // weighing false digits more moves the boundary towards the keys, never away
        let overlapping: Vec<Sample> = (0..400)
            .map(|i| {
                let key = i % 2 == 0;
                let mut m = [0.0; MEASURES];
                m[1] = if key { -10.0 } else { -4.0 } + f64::from(i % 11) - 5.0;
                sample(m, key)
            })
            .collect();
        let refs: Vec<&Sample> = overlapping.iter().collect();
        let even = errors(&fit(&refs, 1.0).expect("fit"), overlapping.iter());
        let strict = errors(&fit(&refs, 10.0).expect("fit"), overlapping.iter());
        assert!(strict.passed <= even.passed && strict.missed >= even.missed);
        assert!(even.missed + even.passed > 0, "the halves overlap");
    }

    #[test]
    fn one_kind_alone_cannot_be_fitted_and_held_out_seeds_are_refused() {
        let keys = [sample([0.0; MEASURES], true)];
        let refs: Vec<&Sample> = keys.iter().collect();
        assert_eq!(fit(&refs, 3.0), None);
        // a measure that is not a number fits nothing rather than weights that are not
        let broken = [
            sample([f64::NAN; MEASURES], true),
            sample([0.0; MEASURES], false),
        ];
        let refs: Vec<&Sample> = broken.iter().collect();
        assert_eq!(fit(&refs, 3.0), None);
        let refused = samples(&[1, FIRST_HELD_OUT_SEED], 1, 0.0);
        assert!(refused.is_err_and(|e| e.to_string().contains("held out")));
    }

    #[test]
    fn the_detectors_own_weights_are_the_model() {
        let mut m = [0.0; MEASURES];
        m[0] = -10.0;
        let expected = f64::from(TALK_OFF_BIAS) - 10.0 * f64::from(TALK_OFF_WEIGHTS[0]);
        assert!((Model::detector().score(&m) - expected).abs() < 1e-9);
    }
}
