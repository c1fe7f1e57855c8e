//! ITU-T Q.24 (AT&T column) conformance of callscore's DTMF detector: every check of the
//! project's generated suite (see `callscore_corpus::q24`) must pass.

use callscore_corpus::q24::{self, Check};
use callscore_corpus::score::Callscore;

fn assert_passes(check: Check) {
    assert!(
        check.passed(),
        "{} ({}): {} of {} right, {} inserted, {} timed more than 5 ms off (worst {:.1} ms)\n{}",
        check.name,
        check.requirement,
        check.correct,
        check.trials,
        check.insertions,
        check.mistimed,
        check.worst_timing * 1000.0,
        check.failures.join("\n")
    );
}

#[test]
fn every_tone_is_accepted_within_1_5_percent_plus_2_hz() {
    assert_passes(q24::frequency_accepted(&Callscore));
}

#[test]
fn every_tone_is_rejected_from_3_5_percent() {
    assert_passes(q24::frequency_rejected(&Callscore));
}

#[test]
fn twist_is_accepted_up_to_8_db_normal_and_4_db_reverse() {
    assert_passes(q24::twist_accepted(&Callscore));
}

#[test]
fn every_tone_of_40_ms_or_longer_is_detected() {
    assert_passes(q24::long_tones_detected(&Callscore));
}

#[test]
fn no_tone_of_23_ms_or_shorter_is_ever_detected() {
    assert_passes(q24::short_tones_rejected(&Callscore));
}

#[test]
fn a_40_ms_pause_separates_two_identical_digits() {
    assert_passes(q24::pause_separates(&Callscore));
}

#[test]
fn an_interruption_of_10_ms_or_less_is_bridged() {
    assert_passes(q24::interruption_bridged(&Callscore));
}

#[test]
fn levels_from_plus_3_to_minus_25_dbm0_are_accepted_with_clipping() {
    assert_passes(q24::levels_accepted(&Callscore));
}

#[test]
fn nothing_is_detected_below_minus_55_dbm0() {
    assert_passes(q24::quiet_rejected(&Callscore));
}

#[test]
fn at_15_db_snr_in_white_noise_99_percent_are_found_with_no_insertions() {
    assert_passes(q24::white_noise(&Callscore));
}

#[test]
fn twist_reaches_beyond_the_q24_limits() {
    let (normal, reverse) = q24::twist_limits(&Callscore);
    assert!(
        normal >= 8.0 && reverse >= 4.0,
        "{normal} dB normal, {reverse} dB reverse"
    );
}

#[test]
fn a_detector_that_misses_everything_fails_the_acceptance_checks() {
    struct Deaf;
    impl callscore_corpus::score::KeyDetector for Deaf {
        fn name(&self) -> &str {
            "deaf"
        }
        fn detect(&self, _: &[f32]) -> Vec<callscore_corpus::score::Press> {
            Vec::new()
        }
    }
    assert!(!q24::levels_accepted(&Deaf).passed());
    assert!(q24::quiet_rejected(&Deaf).passed());
}
