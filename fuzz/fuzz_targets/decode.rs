//! Fuzzes the decode entry point: any bytes, under any of the extensions that steer format
//! choice, must decode or fail with a typed error, within the limits, without a panic.
#![no_main]

use callscore_audio::{DecodeOptions, Limits, Recording};
use libfuzzer_sys::fuzz_target;

/// Extensions that choose a reader when the bytes have no recognisable header.
const EXTENSIONS: [&str; 10] = ["wav", "mp3", "flac", "ogg", "m4a", "gsm", "ulaw", "alaw", "sln16", "bin"];

fuzz_target!(init: {
    // callscore catches panics inside symphonia and turns them into errors; libFuzzer's hook
    // would abort on them first. A panic that escapes callscore still ends the run: the
    // harness aborts on any panic that unwinds out of this closure.
    std::panic::set_hook(Box::new(|_| {}));
}, |data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let options = DecodeOptions {
        extension: Some(EXTENSIONS[usize::from(selector) % EXTENSIONS.len()].into()),
        // small limits keep each run short, and exercise the limit checks
        limits: Limits {
            max_input_bytes: 1 << 20,
            max_duration: std::time::Duration::from_secs(60),
            ..Limits::default()
        },
        mix_down: selector & 0x80 != 0,
        ..DecodeOptions::default()
    };
    let opened = if selector & 0x40 != 0 {
        Recording::open_stream(std::io::Cursor::new(bytes.to_vec()), &options)
    } else {
        Recording::open_bytes(bytes.to_vec(), &options)
    };
    if let Ok(mut recording) = opened {
        while let Ok(Some(block)) = recording.next_block() {
            assert!(!block.is_empty() && !block[0].is_empty());
            assert!(block.iter().flatten().all(|x| x.is_finite() && x.abs() <= 1.0));
        }
    }
});
