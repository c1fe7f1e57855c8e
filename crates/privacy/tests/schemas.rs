//! The committed schemas of the erasure event and the privacy requests and results are what
//! the code generates.

use std::path::Path;

#[test]
fn committed_schemas_match_the_code() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
    let stale = callscore_survey::schema::check_committed(&dir, callscore_privacy::schemas());
    assert!(
        stale.is_empty(),
        "{} differ from the code; if the change is intended and backward compatible, run \
         `CALLSCORE_BLESS=1 cargo test -p callscore-privacy --test schemas` and commit the result",
        stale.join(", ")
    );
}
