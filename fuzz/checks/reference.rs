//! Fuzzes the audio reference of a recordings-topic message and the staging allow-list behind
//! it: whatever the value holds, reading the message and checking the reference never panics,
//! and an allowed reference names exactly its URI's object, in a configured staging bucket,
//! under the message's tenant when that is required, with no `.` or `..` segment.
//!
//! The fuzz target runs [`check`]; so do the tests, over every input kept in
//! `fuzz/regressions/reference` and `fuzz/seeds/reference`.

use callscore_kafka::wire::{self, Audio, REFERENCE_CONTENT_TYPE};
use callscore_s3::{S3Config, staged_object};

/// Tenants that are prefixes of one another, so the check has to find the `/`.
const TENANTS: [&str; 3] = ["acme", "acme-nl", "a"];
const STAGING: [&str; 2] = ["staging", "staging-eu"];

/// Panics when `data` breaks a property above.
pub(crate) fn check(data: &[u8]) {
    let Some((&selector, value)) = data.split_first() else {
        return;
    };
    let tenant = TENANTS[usize::from(selector) % TENANTS.len()];
    let metadata = format!(
        r#"{{"schema_version":1,"recording_id":"rec-1","call_id":"call-1","tenant":"{tenant}",
            "survey_id":"nps","call_started_at":"2026-11-02T09:05:00Z","question_offsets":[]}}"#
    );
    let headers: [(&str, &[u8]); 2] = [
        (wire::METADATA_HEADER, metadata.as_bytes()),
        (wire::CONTENT_TYPE_HEADER, REFERENCE_CONTENT_TYPE.as_bytes()),
    ];
    let message = match wire::read(&headers, value) {
        Ok(message) => message,
        Err(unreadable) => {
            assert!(
                unreadable.metadata.is_some(),
                "the metadata itself is valid"
            );
            return;
        }
    };
    let Audio::Reference(reference) = message.audio else {
        panic!("a reference message read as inline audio");
    };
    let mut config = S3Config::new("audio");
    config.staging_buckets = STAGING.iter().map(|b| b.to_string()).collect();
    config.staging_tenant_prefix = selector & 0x80 != 0;
    if let Ok((bucket, key)) = staged_object(&config, &reference.uri, tenant) {
        assert!(STAGING.contains(&bucket), "a bucket outside the allow-list");
        assert_eq!(
            format!("s3://{bucket}/{key}"),
            reference.uri,
            "not the URI's object"
        );
        assert!(
            key.split('/').all(|part| part != "." && part != ".."),
            "a dot segment"
        );
        if config.staging_tenant_prefix {
            assert!(
                key.starts_with(&format!("{tenant}/")),
                "outside the tenant's prefix"
            );
        }
    }
}
