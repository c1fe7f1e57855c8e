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

    let sub = dir.join(recordings::DIR);
    let files = recordings::files(&recordings::generate());
    for (name, bytes) in &files {
        let committed = std::fs::read(sub.join(name)).expect("recording file is committed");
        assert!(
            committed == *bytes,
            "fixtures/{}/{name} differs from the generator; run `cargo run -p \
             callscore-corpus -- fixtures fixtures/`",
            recordings::DIR
        );
    }
    // A recording or sidecar the generator no longer writes would be read by tests without
    // provenance. Other files (the pipeline's golden output) are not the generator's.
    let ours = |name: &str| [".wav", ".flac", ".json"].iter().any(|e| name.ends_with(e));
    let written: BTreeSet<String> = files
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| ours(name))
        .collect();
    let mut present = BTreeSet::new();
    for entry in std::fs::read_dir(&sub).expect("fixtures/recordings is committed") {
        let entry = entry.expect("listing fixtures/recordings");
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() {
            for inner in std::fs::read_dir(entry.path()).expect("listing a subdirectory") {
                let inner = inner.expect("listing a subdirectory");
                present.insert(format!("{name}/{}", inner.file_name().to_string_lossy()));
            }
        } else {
            present.insert(name);
        }
    }
    present.retain(|name| ours(name));
    assert_eq!(
        present,
        written,
        "fixtures/{} holds recordings the generator does not write",
        recordings::DIR
    );

    let sub = dir.join(prompted::DIR);
    let files = prompted::files();
    for (name, bytes) in &files {
        let committed = std::fs::read(sub.join(name)).expect("example file is committed");
        assert!(
            committed == *bytes,
            "fixtures/{}/{name} differs from the generator; run `cargo run -p \
             callscore-corpus -- fixtures fixtures/`",
            prompted::DIR
        );
    }
    let written: BTreeSet<String> = files.into_iter().map(|(name, _)| name).collect();
    let mut present = BTreeSet::new();
    for folder in ["", "prompts"] {
        for entry in std::fs::read_dir(sub.join(folder)).expect("fixtures/prompted is committed") {
            let entry = entry.expect("listing fixtures/prompted");
            if entry.path().is_file() {
                let name = entry.file_name().to_string_lossy().into_owned();
                present.insert(if folder.is_empty() {
                    name
                } else {
                    format!("{folder}/{name}")
                });
            }
        }
    }
    assert_eq!(
        present,
        written,
        "fixtures/{} holds files the generator does not write",
        prompted::DIR
    );
}
