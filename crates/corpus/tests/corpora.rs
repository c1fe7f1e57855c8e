//! The talk-off and barge-in corpora in CI: the full talk-off hour and the full 500-call
//! barge-in set, seed 1. Other seeds run from the command line (`callscore-corpus talk-off
//! --seed N`, `callscore-corpus barge-in --seed N`). Needs espeak-ng and sox; without them the
//! tests fail and say so.

use callscore_corpus::Breadth;
use callscore_corpus::score::Callscore;

#[test]
fn an_hour_of_talk_off_gives_no_false_digit() {
    let reports = callscore_corpus::talk_off(60.0, 1, &[&Callscore], None)
        .expect("generating the talk-off corpus (needs espeak-ng and sox)");
    let report = &reports[0];
    let minutes: f64 = report.categories.iter().map(|c| c.seconds).sum::<f64>() / 60.0;
    assert!(minutes >= 60.0, "only {minutes} minutes generated");
    assert!(
        report.categories.iter().all(|c| c.seconds > 0.0),
        "every category is in the slice"
    );
    assert_eq!(report.false_digits(), 0, "{}", report.render());
}

#[test]
fn barge_in_calls_lose_no_key_and_gain_none() {
    let reports = callscore_corpus::barge_in(500, 1, Breadth::FirstRound, &[&Callscore], None)
        .expect("generating the barge-in calls (needs espeak-ng and sox)");
    let report = &reports[0];
    let o = &report.outcome;
    assert!(o.expected > 2000, "{} keys", o.expected);
    assert!(o.missed.is_empty(), "{}", report.render());
    assert!(o.inserted.is_empty(), "{}", report.render());
    // found keys are timed to 5 ms but for a few whose edges a louder prompt hides
    assert!(o.mistimed.len() * 50 <= o.found, "{}", report.render());
}
