//! A held-out slice of the spoken-comment evaluation (`callscore-corpus comments`), in CI: seed
//! 1001, ten comments per condition. Every comment is found, no comment is invented in
//! silence, noise, babble, music or DTMF alone, and the boundaries meet the target where the
//! full evaluation meets it (clean and pink noise down to 10 dB). Babble and music at 10 dB
//! miss the 95 % target in the full evaluation; here they are held to finding every comment.

use callscore_corpus::comments::{Condition, TARGET_BOUNDARIES, evaluate};
use callscore_corpus::seeds::FIRST_HELD_OUT_SEED;

#[test]
fn held_out_comments_are_found_and_none_is_invented() {
    let tallies = evaluate(
        &[FIRST_HELD_OUT_SEED],
        10,
        &callscore_vad::Settings::default(),
    )
    .expect("espeak-ng and sox make the comments");
    assert_eq!(tallies.len(), Condition::ALL.len());
    for tally in &tallies {
        let name = tally.condition.name();
        assert!(tally.held_out, "{name}");
        assert_eq!(tally.false_comments, 0, "{name}: {:?}", tally.failures);
        if tally.condition.has_comment() {
            assert_eq!(
                tally.found, tally.utterances,
                "{name}: {:?}",
                tally.failures
            );
        }
        let met = name == "clean" || name.starts_with("pink 20") || name.starts_with("pink 10");
        if met {
            assert!(
                tally.boundary_share() >= TARGET_BOUNDARIES,
                "{name}: {:.1} %: {:?}",
                100.0 * tally.boundary_share(),
                tally.failures
            );
        }
    }
}
