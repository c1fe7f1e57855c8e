//! Sounds that are not keys, reduced from the false digits the talk-off corpus
//! (`callscore-corpus talk-off`) found.

mod common;

use callscore_dtmf::Key;
use callscore_synth::{add_sine, amplitude};
use common::detect_with_candidates;

const RATE: u32 = 8000;

/// The talk-off music holds steady two-tone chords a little outside a key's frequencies (seed
/// 9's music-020: 689 Hz and 1230.5 Hz for half a second, 1.8 % above 1209 Hz). Such a chord is
/// as clean as a key, so only its frequencies tell it from one: 1.4 Hz beyond the band Q.24
/// requires a receiver to accept (1.5 % + 2 Hz) it is not a key, on the band's edge it is.
#[test]
fn a_chord_just_beyond_the_q24_band_is_not_a_key_and_one_on_its_edge_is() {
    let edge = 1209.0 * 1.015 + 2.0;
    for (column_hz, expected) in [(edge, vec![Key::D1]), (edge + 1.4, vec![])] {
        let mut signal = vec![0.0f32; 8000];
        let (start, len) = (800, 3840);
        add_sine(&mut signal, RATE, start, len, 689.1, amplitude(-20.0), 0.3);
        add_sine(
            &mut signal,
            RATE,
            start,
            len,
            column_hz,
            amplitude(-17.0),
            1.1,
        );
        let (events, _) = detect_with_candidates(&signal);
        let keys: Vec<Key> = events.iter().map(|e| e.key).collect();
        assert_eq!(keys, expected, "chord of 689.1 Hz and {column_hz:.1} Hz");
    }
}
