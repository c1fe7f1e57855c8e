//! The committed fixtures are exactly what the generator makes: their provenance is checkable.

use std::path::Path;

use callscore_corpus::fixtures::{generate, manifest};

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
}
