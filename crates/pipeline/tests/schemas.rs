//! The committed schemas of recording metadata and dead letters are what the code generates.
//! `CALLSCORE_BLESS=1 cargo test -p callscore-pipeline --test schemas` rewrites them.

use std::path::Path;

#[test]
fn committed_schemas_match_the_code() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
    for (file, schema) in callscore_pipeline::schemas() {
        let text = callscore_survey::schema::to_file_text(&schema);
        let path = dir.join(file);
        if std::env::var_os("CALLSCORE_BLESS").is_some() {
            std::fs::write(&path, &text).expect("writes the schema");
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "schemas/{file} differs from the code; if the change is intended and backward \
             compatible, rerun with CALLSCORE_BLESS=1"
        );
    }
}
