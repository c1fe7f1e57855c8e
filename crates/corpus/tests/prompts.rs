//! Known-prompt cancellation in CI, on a held-out slice (seed 1001, 100 barge-in calls of the
//! second round's breadth, prompts stored as coded files among them): with
//! the IVR's prompts cancelled the detector loses no key the plain detector finds and inserts
//! none it does not, call by call; and audio that does not carry the prompts is left exactly as
//! it was. The full before/after figures come from `callscore-corpus barge-in` and
//! `callscore-corpus seeds`. Needs espeak-ng and sox.

use callscore_corpus::bargein::{self, Breadth};
use callscore_corpus::score::{Callscore, KeyDetector, KnownPrompts, Press, compare};
use callscore_corpus::talkoff::{self, Category};

const SEED: u64 = 1001;
const CALLS: usize = 100;

/// The same press: the same key, overlapping in time.
fn same(a: &Press, b: &Press) -> bool {
    a.key == b.key && a.start < b.end && b.start < a.end
}

#[test]
fn cancelling_known_prompts_loses_no_key_and_inserts_none_on_held_out_calls() {
    let (mut plain_wrong, mut knowing_wrong, mut plain_mistimed, mut knowing_mistimed) =
        (0, 0, 0, 0);
    let mut keys = 0;
    let mut uncancelled = Vec::new();
    for index in 0..CALLS {
        let call = bargein::call(index, SEED, Breadth::Wide)
            .expect("generating a call (needs espeak-ng, sox)");
        let plain = compare(&call.presses, &Callscore.detect(&call.samples));
        let knowing = compare(
            &call.presses,
            &KnownPrompts.detect_knowing(&call.samples, &call.prompts),
        );
        let mut residual = call.samples.clone();
        let found = callscore_prompts::cancel(&mut residual, &call.prompts);
        if found.len() < call.prompts.len() {
            uncancelled.push(format!(
                "call {index}: {} prompts, {found:?}",
                call.prompts.len()
            ));
        }
        for missed in &knowing.missed {
            assert!(
                plain.missed.iter().any(|m| same(m, missed)),
                "call {index}: {missed:?} lost by cancelling ({})",
                call.description
            );
        }
        for inserted in &knowing.inserted {
            assert!(
                plain.inserted.iter().any(|i| same(i, inserted)),
                "call {index}: {inserted:?} inserted by cancelling ({})",
                call.description
            );
        }
        keys += call.presses.len();
        plain_wrong += plain.missed.len() + plain.inserted.len();
        knowing_wrong += knowing.missed.len() + knowing.inserted.len();
        plain_mistimed += plain.mistimed.len();
        knowing_mistimed += knowing.mistimed.len();
    }
    assert!(keys > 400, "{keys} keys");
    // every prompt played is found
    assert!(uncancelled.is_empty(), "{uncancelled:#?}");
    assert!(
        knowing_wrong <= plain_wrong,
        "{knowing_wrong} > {plain_wrong}"
    );
    assert!(
        knowing_mistimed <= plain_mistimed,
        "{knowing_mistimed} > {plain_mistimed}"
    );
}

#[test]
fn audio_without_the_prompts_is_left_exactly_as_it_was() {
    // the prompts of some held-out calls, looked for in talk-off audio of every category
    let prompts: Vec<_> = (0..4)
        .flat_map(|i| {
            bargein::call(i, SEED, Breadth::Wide)
                .expect("a call")
                .prompts
        })
        .collect();
    assert!(prompts.len() >= 4, "{} prompts", prompts.len());
    for category in Category::ALL {
        for index in 0..3 {
            let item = talkoff::item(category, index, SEED).expect("a talk-off item");
            let mut samples = item.samples.clone();
            let found = callscore_prompts::cancel(&mut samples, &prompts);
            assert!(found.is_empty(), "{}: {found:?}", item.description);
            assert!(samples == item.samples, "{} changed", item.description);
        }
    }
}

#[test]
fn a_call_with_coded_prompt_files_is_the_same_every_time() {
    // sox dithers when it writes 16-bit GSM 6.10 or MP3; unseeded, the same seed would give
    // other calls from run to run
    let mut checked = Vec::new();
    for index in 0..40 {
        let call = bargein::call(index, SEED, Breadth::Wide).expect("a call");
        let file = ["GSM 6.10", "MP3"]
            .into_iter()
            .find(|f| call.description.contains(&format!("({f}")));
        let Some(file) = file.filter(|f| !checked.contains(f)) else {
            continue;
        };
        let again = bargein::call(index, SEED, Breadth::Wide).expect("a call");
        assert!(
            again.samples == call.samples,
            "call {index} ({file}) changed"
        );
        assert!(
            again
                .prompts
                .iter()
                .map(|p| p.samples())
                .eq(call.prompts.iter().map(|p| p.samples())),
            "call {index} ({file}): its prompts changed"
        );
        checked.push(file);
    }
    assert_eq!(
        checked.len(),
        2,
        "calls with GSM and MP3 prompts among the first 40: {checked:?}"
    );
}
