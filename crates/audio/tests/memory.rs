//! Peak memory does not grow with the recording's length: two hours decode in the same heap as
//! one minute. A counting allocator measures the heap itself, so the check is exact and does
//! not depend on timing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Read;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use callscore_audio::{DecodeOptions, Recording};
use std::path::Path;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[allow(unsafe_code)]
// SAFETY: every call is forwarded unchanged to the system allocator; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract, which `System` shares
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as for `alloc`
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The tests measure one at a time: the counters are global.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A WAV file of `seconds` of 16-bit stereo at `rate`, produced on the fly as it is read, so
/// the test itself holds no more than a header.
struct EndlessWav {
    header: Vec<u8>,
    at: u64,
    len: u64,
}

impl EndlessWav {
    fn new(rate: u32, seconds: u32) -> EndlessWav {
        let data = u64::from(rate) * u64::from(seconds) * 4;
        let mut header = Vec::new();
        header.extend_from_slice(b"RIFF");
        header.extend_from_slice(&(36 + data as u32).to_le_bytes());
        header.extend_from_slice(b"WAVEfmt ");
        header.extend_from_slice(&16u32.to_le_bytes());
        header.extend_from_slice(&1u16.to_le_bytes());
        header.extend_from_slice(&2u16.to_le_bytes());
        header.extend_from_slice(&rate.to_le_bytes());
        header.extend_from_slice(&(rate * 4).to_le_bytes());
        header.extend_from_slice(&4u16.to_le_bytes());
        header.extend_from_slice(&16u16.to_le_bytes());
        header.extend_from_slice(b"data");
        header.extend_from_slice(&(data as u32).to_le_bytes());
        let len = header.len() as u64 + data;
        EndlessWav { header, at: 0, len }
    }
}

impl Read for EndlessWav {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min((self.len - self.at) as usize);
        for (i, byte) in buf[..n].iter_mut().enumerate() {
            let at = self.at + i as u64;
            *byte = match self.header.get(at as usize) {
                Some(&b) => b,
                // a slow sawtooth, different on each byte position
                None => (at / 4 % 251) as u8,
            };
        }
        self.at += n as u64;
        Ok(n)
    }
}

/// Decodes everything and returns (frames at 8 kHz, peak heap bytes while doing so).
fn peak_while(open: impl FnOnce() -> Recording) -> (u64, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let mut recording = open();
    let mut frames = 0;
    while let Some(block) = recording.next_block().expect("decodes") {
        frames += block[0].len() as u64;
    }
    drop(recording);
    (frames, PEAK.load(Ordering::Relaxed) - base)
}

/// Decodes a one-minute and a two-hour recording and checks that the longer one needs no
/// more heap (64 KiB of slack for allocator rounding) and little in all.
fn same_heap(minute: impl FnOnce() -> Recording, hours: impl FnOnce() -> Recording) {
    let (minute_frames, minute_peak) = peak_while(minute);
    let (hours_frames, hours_peak) = peak_while(hours);
    assert_eq!(minute_frames, 60 * 8000);
    assert_eq!(hours_frames, 7200 * 8000);
    assert!(
        hours_peak <= minute_peak + 64 * 1024 && hours_peak < 4 << 20,
        "peak heap: {minute_peak} bytes for a minute, {hours_peak} for two hours"
    );
}

#[test]
fn two_hours_of_resampled_stereo_stream_in_the_heap_of_one_minute() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let open = |seconds| {
        move || {
            Recording::open_stream(EndlessWav::new(16_000, seconds), &DecodeOptions::default())
                .expect("opens")
        }
    };
    same_heap(open(60), open(7200));
}

#[test]
fn two_hours_of_flac_in_the_heap_of_one_minute() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("temp dir");
    let flac = |seconds: &str| {
        let path = dir.path().join(format!("{seconds}.flac"));
        let status = std::process::Command::new("sox")
            .args(["-D", "-n", "-r", "8000", "-b", "16"])
            .arg(&path)
            .args([
                "synth", seconds, "sine", "697", "sine", "1209", "remix", "1,2", "vol", "0.4",
            ])
            .status()
            .expect("sox runs (scripts/test.sh installs it)");
        assert!(status.success());
        path
    };
    let (minute, hours) = (flac("60"), flac("7200"));
    let open = |path: std::path::PathBuf| {
        move || Recording::open_path(&path, &DecodeOptions::default()).expect("opens")
    };
    same_heap(open(minute), open(hours));
}

#[test]
fn inputs_the_fuzzer_found_fail_cleanly_in_little_memory() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/decode");
    let mut found = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/regressions/decode is committed") {
        let path = entry.expect("directory entry").path();
        let bytes = std::fs::read(&path).expect("reads");
        // the fuzz target's input: a selector byte, then the recording
        let recording = bytes.get(1..).unwrap_or_default().to_vec();
        let options = DecodeOptions {
            extension: path.extension().and_then(|e| e.to_str()).map(str::to_owned),
            ..DecodeOptions::default()
        };
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        if let Ok(mut recording) = Recording::open_bytes(recording, &options) {
            while let Ok(Some(block)) = recording.next_block() {
                // the fuzz target's invariant: samples are finite and within full scale
                let bad = block
                    .iter()
                    .flatten()
                    .find(|x| !x.is_finite() || x.abs() > 1.0);
                assert!(bad.is_none(), "{}: sample {bad:?}", path.display());
            }
        }
        let peak = PEAK.load(Ordering::Relaxed) - base;
        assert!(peak < 64 << 20, "{}: {peak} bytes of heap", path.display());
        found += 1;
    }
    assert!(found >= 2);
}
