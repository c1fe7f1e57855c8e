//! How the pipeline classes failures of whole recordings: what a retry cannot mend is
//! permanent, so it is dead-lettered instead of pinning its partition.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use callscore_pipeline::{
    Incoming, Pipeline, PseudonymKey, Pseudonyms, Reason, RecordingMetadata, Retry, Settings, Stage,
};

fn pipeline() -> Pipeline {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let text = std::fs::read_to_string(root.join("surveys/nps-csat.toml")).expect("survey");
    let survey = callscore_survey::Survey::from_toml(&text).expect("a valid survey");
    Pipeline::new(Settings {
        surveys: HashMap::from([(survey.id().to_string(), survey)]),
        pseudonyms: Pseudonyms::fixed(PseudonymKey::new("k1", vec![7; 32]).expect("a key")),
        retention: Default::default(),
        decode: Default::default(),
        extended_keys: true,
        pipeline_version: "test".into(),
        prompts: Default::default(),
    })
}

/// symphonia reports an AAC decoder configuration shorter than it claims as an I/O error
/// ("unexpected end of bitstream"). The pipeline decodes from memory, where no I/O can fail:
/// the same bytes fail the same way again, so the failure is permanent.
#[test]
fn truncated_in_memory_audio_is_a_permanent_failure_not_a_transient_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let input = std::fs::read(
        root.join("fuzz/regressions/decode/aac-decoder-config-shorter-than-it-claims.m4a"),
    )
    .expect("the regression input");
    let metadata = RecordingMetadata::from_json(
        &std::fs::read(root.join("fixtures/recordings/nps9-csat4.json")).expect("metadata"),
    )
    .expect("valid metadata");
    let incoming = Incoming {
        input: "memory/aac".into(),
        metadata,
        // the fuzz input's first byte selects the decoder options; the rest is the file
        audio: Arc::from(&input[1..]),
        extension: Some("m4a".into()),
        received_at: jiff::Timestamp::UNIX_EPOCH,
    };
    let failure = pipeline()
        .analyse(incoming)
        .expect_err("the audio is broken");
    assert_eq!(failure.stage, Stage::Decode);
    assert_eq!(failure.reason, Reason::UndecodableAudio);
    assert_eq!(failure.retry, Retry::Permanent, "{failure}");
    assert!(failure.message().contains("end of bitstream"), "{failure}");
}
