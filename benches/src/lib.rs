//! callscore's benchmarks, and the reference they are compared with: spandsp's DTMF receiver
//! (`dtmf_rx`), the strongest open detector. spandsp is linked by this package alone, for
//! measuring; callscore itself never uses it.
//!
//! - `cargo bench -p callscore-benches --bench detector`: throughput of both detectors on the
//!   same speech-heavy audio, and their ratio.
//! - `cargo run --release -p callscore-benches --bin dtmf-compare`: both detectors on the Q.24
//!   conformance sweeps, the talk-off corpus and the barge-in set, side by side.

// The FFI wrapper below is the only unsafe code: calls into spandsp's C API.
#![allow(unsafe_code)]

use std::os::raw::{c_char, c_int, c_void};

use callscore_corpus::score::{KeyDetector, Press};

#[repr(C)]
#[derive(Debug)]
struct DtmfRxState {
    _private: [u8; 0],
}

type ToneReport = extern "C" fn(user_data: *mut c_void, code: c_int, level: c_int, delay: c_int);

unsafe extern "C" {
    fn dtmf_rx_init(
        s: *mut DtmfRxState,
        callback: Option<extern "C" fn(*mut c_void, *const c_char, c_int)>,
        user_data: *mut c_void,
    ) -> *mut DtmfRxState;
    fn dtmf_rx_set_realtime_callback(
        s: *mut DtmfRxState,
        callback: Option<ToneReport>,
        user_data: *mut c_void,
    );
    fn dtmf_rx(s: *mut DtmfRxState, amp: *const i16, samples: c_int) -> c_int;
    fn dtmf_rx_free(s: *mut DtmfRxState) -> c_int;
}

/// What the realtime callback records: digit starts and ends in samples.
#[derive(Debug, Default)]
struct Track {
    /// Samples handed to spandsp before the current chunk.
    position: u64,
    /// Samples in the current chunk.
    chunk: u64,
    open: Option<(char, u64)>,
    presses: Vec<(char, u64, u64)>,
}

/// spandsp analyses 102-sample blocks and confirms a digit after two agreeing blocks.
const SPANDSP_BLOCK: u64 = 102;

extern "C" fn report(user_data: *mut c_void, code: c_int, _level: c_int, _duration: c_int) {
    // SAFETY: `user_data` is the `Track` that `Spandsp::run` registered and keeps alive, and
    // spandsp calls back only from within `dtmf_rx` on the same thread.
    let track = unsafe { &mut *user_data.cast::<Track>() };
    // reported at the end of the block that confirmed the change: a start two blocks after
    // the tone began, an end one block after it stopped
    let now = track.position + track.chunk;
    let at = now.saturating_sub(if code != 0 { 2 } else { 1 } * SPANDSP_BLOCK);
    if let Some((key, start)) = track.open.take() {
        track.presses.push((key, start, at));
    }
    if code != 0 {
        track.open = Some((code as u8 as char, at));
    }
}

/// spandsp's `dtmf_rx` with its default settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spandsp;

impl Spandsp {
    /// Runs a fresh receiver over 8 kHz samples (full scale 1.0) in chunks of `chunk` samples;
    /// returns (key, start, end) in samples.
    pub fn run(&self, samples: &[f32], chunk: usize) -> Vec<(char, u64, u64)> {
        let mut track = receive(&callscore_synth::to_i16(samples), chunk);
        if let Some((key, start)) = track.open.take() {
            track.presses.push((key, start, track.position));
        }
        track.presses
    }

    /// A fresh receiver to feed chunk by chunk.
    pub fn receiver(&self) -> Receiver {
        Receiver::new()
    }

    /// Runs spandsp over 16-bit samples as fast as it goes, for the benchmark.
    pub fn throughput_run(&self, pcm: &[i16]) -> usize {
        receive(pcm, 160).presses.len()
    }
}

/// Feeds `pcm` to a fresh spandsp receiver in chunks of `chunk` samples and returns what its
/// callback tracked.
fn receive(pcm: &[i16], chunk: usize) -> Box<Track> {
    let mut receiver = Receiver::new();
    for part in pcm.chunks(chunk.max(1)) {
        receiver.push(part);
    }
    receiver.finish()
}

/// A spandsp receiver fed chunk by chunk.
#[derive(Debug)]
pub struct Receiver {
    state: *mut DtmfRxState,
    track: Box<Track>,
}

impl Receiver {
    fn new() -> Receiver {
        let mut track = Box::new(Track::default());
        // SAFETY: a null state asks spandsp to allocate one, freed on drop; the callback's user
        // data is the boxed `Track`, which lives as long as the receiver.
        let state = unsafe {
            let state = dtmf_rx_init(std::ptr::null_mut(), None, std::ptr::null_mut());
            assert!(
                !state.is_null(),
                "spandsp could not allocate a DTMF receiver"
            );
            dtmf_rx_set_realtime_callback(
                state,
                Some(report),
                (&mut *track as *mut Track).cast::<c_void>(),
            );
            state
        };
        Receiver { state, track }
    }

    /// Analyses the next 16-bit samples.
    pub fn push(&mut self, pcm: &[i16]) {
        self.track.chunk = pcm.len() as u64;
        // SAFETY: a live receiver and a slice of `pcm.len()` samples.
        unsafe { dtmf_rx(self.state, pcm.as_ptr(), pcm.len() as c_int) };
        self.track.position += pcm.len() as u64;
        self.track.chunk = 0;
    }

    /// The digits reported so far, in order.
    pub fn digits(&self) -> String {
        self.track.presses.iter().map(|(key, _, _)| *key).collect()
    }

    fn finish(mut self) -> Box<Track> {
        std::mem::take(&mut self.track)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // SAFETY: the state came from dtmf_rx_init and is freed once.
        unsafe { dtmf_rx_free(self.state) };
    }
}

impl KeyDetector for Spandsp {
    fn name(&self) -> &str {
        "spandsp"
    }

    fn detect(&self, samples: &[f32]) -> Vec<Press> {
        self.run(samples, 40)
            .into_iter()
            .map(|(key, start, end)| Press {
                key,
                start: start as f64 / 8000.0,
                end: end as f64 / 8000.0,
            })
            .collect()
    }
}

/// Speech-heavy benchmark audio: the first `seconds` of barge-in calls from the corpus
/// (prompts, caller speech, keys and background noise), 8 kHz.
pub fn speech_heavy(seconds: f64) -> anyhow::Result<Vec<f32>> {
    let want = (seconds * 8000.0) as usize;
    let mut audio = Vec::with_capacity(want);
    let mut index = 0;
    while audio.len() < want {
        audio.extend(
            callscore_corpus::bargein::call(index, 1, callscore_corpus::Breadth::FirstRound)?
                .samples,
        );
        index += 1;
    }
    audio.truncate(want);
    Ok(audio)
}

/// CPU time used by the calling thread, in seconds.
pub fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "the thread CPU clock is available on Linux");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

#[cfg(test)]
mod tests {
    use super::*;
    use callscore_synth::{Digit, add_digit};

    #[test]
    fn the_wrapper_reports_spandsp_digits_with_times() {
        let mut signal = vec![0.0f32; 8000];
        for (i, key) in ['1', '5', '#'].into_iter().enumerate() {
            add_digit(
                &mut signal,
                8000,
                &Digit::new(key, 800 + i * 2000, 800).levels(-10.0, -10.0),
            );
        }
        let presses = Spandsp.run(&signal, 40);
        let keys: String = presses.iter().map(|p| p.0).collect();
        assert_eq!(keys, "15#");
        // spandsp reports a digit about two of its 102-sample blocks after it starts
        assert!(presses[0].1.abs_diff(800) < 400, "{presses:?}");
    }
}
