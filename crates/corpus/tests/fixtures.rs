//! The committed fixtures are exactly what the generator makes: their provenance is checkable.

use std::collections::BTreeSet;
use std::path::Path;

use callscore_corpus::fixtures::{generate, manifest};
use callscore_corpus::{prompted, recordings};

#[test]
fn committed_fixtures_are_what_the_generator_writes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let fixtures = generate();
    for fixture in &fixtures {
        let committed = std::fs::read(dir.join(&fixture.file)).expect("fixture is committed");
        assert!(
            committed == fixture.bytes,
            "fixtures/{} differs from the generator; run `cargo run -p callscore-corpus -- \
             fixtures fixtures/`",
            fixture.file
        );
    }
    let committed = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest");
    assert_eq!(committed, manifest(&fixtures));

    // A recording or sidecar the generator no longer writes would be read by tests without
    // provenance. Other files (the pipeline's golden output) are not the generator's.
    let ours = |name: &str| [".wav", ".flac", ".json"].iter().any(|e| name.ends_with(e));
    held_to_the_generator(
        &dir,
        recordings::DIR,
        recordings::files(&recordings::generate()),
        &ours,
    );
    // every file of the known-prompt example is the generator's
    held_to_the_generator(&dir, prompted::DIR, prompted::files(), &|_| true);
}

/// Every file the generator writes under `fixtures/FOLDER/` is committed as written, and of the
/// files there (one level of subfolders down) that `ours` claims, none is one it no longer
/// writes.
fn held_to_the_generator(
    dir: &Path,
    folder: &str,
    files: Vec<(String, Vec<u8>)>,
    ours: &dyn Fn(&str) -> bool,
) {
    let sub = dir.join(folder);
    for (name, bytes) in &files {
        let committed = std::fs::read(sub.join(name)).expect("the file is committed");
        assert!(
            committed == *bytes,
            "fixtures/{folder}/{name} differs from the generator; run `cargo run -p \
             callscore-corpus -- fixtures fixtures/`"
        );
    }
    let written: BTreeSet<String> = files
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| ours(name))
        .collect();
    let mut present = BTreeSet::new();
    for entry in std::fs::read_dir(&sub).expect("the folder is committed") {
        let entry = entry.expect("listing the folder");
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() {
            for inner in std::fs::read_dir(entry.path()).expect("listing a subfolder") {
                let inner = inner.expect("listing a subfolder");
                present.insert(format!("{name}/{}", inner.file_name().to_string_lossy()));
            }
        } else {
            present.insert(name);
        }
    }
    present.retain(|name| ours(name));
    assert_eq!(
        present, written,
        "fixtures/{folder} holds files the generator does not write"
    );
}
