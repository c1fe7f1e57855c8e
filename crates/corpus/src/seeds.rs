//! Held-out evaluation: the detector on the seeds it was tuned on and on seeds nobody tuned on.
//!
//! Every rule, threshold and limit of the detector may be set from the tuning seeds only
//! ([`TUNING_SEEDS`]: the first round tuned on seeds 1-10, and seed 1 runs in CI). Seeds from
//! [`FIRST_HELD_OUT_SEED`] on are for reporting: a change that helps the tuning seeds and not
//! the held-out ones does not generalise. `callscore-corpus seeds` runs both groups and prints
//! one line per seed, on barge-in calls of the second round's breadth ([`Breadth::Wide`]:
//! louder prompts stored as coded files, weaker keys with more twist, keyed anywhere in a
//! prompt); `--first-round` runs the calls the first round was tuned on instead.

use std::fmt::Write as _;
use std::ops::RangeInclusive;

use crate::score::{Callscore, KnownPrompts};
use crate::{Breadth, barge_in, talk_off};

/// The seeds the detector's rules, thresholds and limits may be set from.
pub const TUNING_SEEDS: RangeInclusive<u64> = 1..=10;

/// The first held-out seed; the held-out seeds are this one and those after it.
pub const FIRST_HELD_OUT_SEED: u64 = 1001;

/// The held-out target: keys found on mono barge-in calls, at least this share.
pub const TARGET_FOUND: f64 = 0.999;

/// What the detector did on one seed's barge-in set and talk-off corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedResult {
    /// The seed.
    pub seed: u64,
    /// Whether it is held out (else a tuning seed).
    pub held_out: bool,
    /// Barge-in calls.
    pub calls: usize,
    /// Keys pressed in them.
    pub keys: usize,
    /// Keys found.
    pub found: usize,
    /// Keys detected that nobody pressed.
    pub inserted: usize,
    /// Keys found with the IVR's prompts known and cancelled first.
    pub found_knowing: usize,
    /// Keys inserted with the IVR's prompts known and cancelled first.
    pub inserted_knowing: usize,
    /// Talk-off audio, in seconds.
    pub talk_off_seconds: f64,
    /// Keys detected in it (all false).
    pub false_digits: usize,
}

/// Runs `calls` barge-in calls of the given breadth ([`Breadth::Wide`] for the held-out
/// evaluation) and `minutes` of talk-off of `seed` through the detector.
pub fn evaluate(
    seed: u64,
    calls: usize,
    minutes: f64,
    breadth: Breadth,
) -> anyhow::Result<SeedResult> {
    let barge = barge_in(calls, seed, breadth, &[&Callscore, &KnownPrompts], None)?;
    let talk = talk_off(minutes, seed, &[&Callscore], None)?;
    let (Some(barge), Some(knowing), Some(talk)) = (barge.first(), barge.get(1), talk.first())
    else {
        anyhow::bail!("no report for seed {seed}");
    };
    Ok(SeedResult {
        seed,
        held_out: seed >= FIRST_HELD_OUT_SEED,
        calls: barge.calls,
        keys: barge.outcome.expected,
        found: barge.outcome.found,
        inserted: barge.outcome.inserted.len(),
        found_knowing: knowing.outcome.found,
        inserted_knowing: knowing.outcome.inserted.len(),
        talk_off_seconds: talk.categories.iter().map(|c| c.seconds).sum(),
        false_digits: talk.false_digits(),
    })
}

/// Whether the held-out results meet the target: at least [`TARGET_FOUND`] of the keys found,
/// none inserted, no false digit.
pub fn held_out_meets_target(results: &[SeedResult]) -> bool {
    let held: Vec<_> = results.iter().filter(|r| r.held_out).collect();
    let keys: usize = held.iter().map(|r| r.keys).sum();
    let found: usize = held.iter().map(|r| r.found).sum();
    !held.is_empty()
        && found as f64 >= TARGET_FOUND * keys as f64
        && held.iter().all(|r| r.inserted == 0 && r.false_digits == 0)
}

/// One line per seed, then a total per group.
pub fn render(results: &[SeedResult]) -> String {
    let mut out = format!(
        "{:<9} {:>6} {:>6} {:>6} {:>6} {:>7} {:>9} {:>8} {:>6} | known prompts: {:>6} {:>7} {:>9}\n",
        "group",
        "seed",
        "calls",
        "keys",
        "found",
        "missed",
        "inserted",
        "talk-off",
        "false",
        "found",
        "missed",
        "inserted"
    );
    let line = |out: &mut String, group: &str, seed: &str, r: &SeedResult| {
        let _ = writeln!(
            out,
            "{group:<9} {seed:>6} {:>6} {:>6} {:>6} {:>7} {:>9} {:>7.1}h {:>6} |                {:>6} {:>7} {:>9}",
            r.calls,
            r.keys,
            r.found,
            r.keys - r.found,
            r.inserted,
            r.talk_off_seconds / 3600.0,
            r.false_digits,
            r.found_knowing,
            r.keys - r.found_knowing,
            r.inserted_knowing,
        );
    };
    let group = |held_out: bool| if held_out { "held-out" } else { "tuning" };
    for r in results {
        line(&mut out, group(r.held_out), &r.seed.to_string(), r);
    }
    for held_out in [false, true] {
        let part: Vec<_> = results.iter().filter(|r| r.held_out == held_out).collect();
        if part.is_empty() {
            continue;
        }
        let total = SeedResult {
            seed: 0,
            held_out,
            calls: part.iter().map(|r| r.calls).sum(),
            keys: part.iter().map(|r| r.keys).sum(),
            found: part.iter().map(|r| r.found).sum(),
            inserted: part.iter().map(|r| r.inserted).sum(),
            found_knowing: part.iter().map(|r| r.found_knowing).sum(),
            inserted_knowing: part.iter().map(|r| r.inserted_knowing).sum(),
            talk_off_seconds: part.iter().map(|r| r.talk_off_seconds).sum(),
            false_digits: part.iter().map(|r| r.false_digits).sum(),
        };
        line(&mut out, group(held_out), "all", &total);
        let _ = writeln!(
            out,
            "{:<9} {:>6} {:.3} % of the keys found; {:.3} % with the known prompts cancelled",
            group(held_out),
            "",
            100.0 * total.found as f64 / total.keys.max(1) as f64,
            100.0 * total.found_knowing as f64 / total.keys.max(1) as f64
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(
        seed: u64,
        keys: usize,
        found: usize,
        inserted: usize,
        false_digits: usize,
    ) -> SeedResult {
        SeedResult {
            seed,
            held_out: seed >= FIRST_HELD_OUT_SEED,
            calls: 500,
            keys,
            found,
            inserted,
            found_knowing: found,
            inserted_knowing: inserted,
            talk_off_seconds: 1800.0,
            false_digits,
        }
    }

    #[test]
    fn the_target_counts_held_out_seeds_only() {
        // a tuning seed's insertion does not count; a held-out one does
        let tuning_miss = [
            result(1, 1000, 900, 3, 2),
            result(1001, 10_000, 9_990, 0, 0),
        ];
        assert!(held_out_meets_target(&tuning_miss));
        let inserted = [result(1001, 10_000, 10_000, 1, 0)];
        assert!(!held_out_meets_target(&inserted));
        let false_digit = [result(1001, 10_000, 10_000, 0, 1)];
        assert!(!held_out_meets_target(&false_digit));
        let missed = [result(1001, 10_000, 9_989, 0, 0)];
        assert!(!held_out_meets_target(&missed));
        assert!(
            !held_out_meets_target(&[result(1, 10, 10, 0, 0)]),
            "nothing held out"
        );
    }

    #[test]
    fn each_group_gets_its_total() {
        let text = render(&[result(1, 100, 99, 0, 0), result(1001, 200, 200, 1, 0)]);
        assert!(text.contains("99.000 % of the keys found"), "{text}");
        assert!(text.contains("100.000 % of the keys found"), "{text}");
        assert_eq!(
            text.lines().filter(|l| l.contains(" all ")).count(),
            2,
            "{text}"
        );
    }
}
