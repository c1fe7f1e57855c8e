//! The fuzz target's seeds (`fuzz/seeds/decode`) decode. Each file is the fuzz target's input:
//! a selector byte, then the recording's bytes. The inputs the fuzzer found faults with are
//! checked in `memory.rs`, whose counting allocator also catches huge allocations.

use std::path::{Path, PathBuf};

use callscore_audio::{DecodeError, DecodeOptions, Recording};

fn inputs(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(dir);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .collect();
    paths.sort();
    paths
}

fn decode(path: &Path) -> Result<u64, DecodeError> {
    let bytes = std::fs::read(path).expect("reads");
    let recording = bytes.get(1..).unwrap_or_default().to_vec();
    let options = DecodeOptions {
        extension: path.extension().and_then(|e| e.to_str()).map(str::to_owned),
        ..DecodeOptions::default()
    };
    let mut recording = Recording::open_bytes(recording, &options)?;
    let mut frames = 0;
    while let Some(block) = recording.next_block()? {
        assert!(block.iter().flatten().all(|x| x.is_finite()));
        frames += block[0].len() as u64;
    }
    Ok(frames)
}

#[test]
fn every_seed_decodes() {
    let seeds = inputs("seeds/decode");
    assert!(seeds.len() >= 15, "the seeds are committed");
    for seed in seeds {
        let frames = decode(&seed).unwrap_or_else(|e| panic!("{}: {e}", seed.display()));
        // 0.2 s of audio; the cut-off one keeps 178 frames
        assert!(frames >= 178, "{}: {frames} frames", seed.display());
    }
}
