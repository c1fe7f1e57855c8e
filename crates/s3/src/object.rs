//! How an [`ObjectMeta`] is written onto an object (user metadata, tags, checksum) and read
//! back.

use std::collections::HashMap;

use base64::Engine;
use callscore_pipeline::{ObjectMeta, class_name};
use jiff::civil::Date;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// `expires-on` of an object under a legal hold, which has no expiry day.
const NO_EXPIRY: &str = "none";

/// User metadata names (sent as `x-amz-meta-NAME`).
const TENANT: &str = "tenant";
const RECORDING_ID: &str = "recording-id";
const RETENTION_CLASS: &str = "retention-class";
const EXPIRES_ON: &str = "expires-on";
pub(crate) const SHA256: &str = "sha256";
const SIZE: &str = "size";

/// What tag values escape: everything but RFC 3986's unreserved characters.
const TAG_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn expires_on(meta: &ObjectMeta) -> String {
    meta.expires_on
        .map_or_else(|| NO_EXPIRY.to_string(), |day| day.to_string())
}

/// The user metadata stored with every object: enough to enforce retention and check
/// integrity from the object alone.
pub(crate) fn user_metadata(meta: &ObjectMeta) -> HashMap<String, String> {
    [
        (TENANT, meta.tenant.clone()),
        (RECORDING_ID, meta.recording_id.clone()),
        (
            RETENTION_CLASS,
            class_name(meta.retention_class).to_string(),
        ),
        (EXPIRES_ON, expires_on(meta)),
        (SHA256, meta.sha256.clone()),
        (SIZE, meta.size.to_string()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect()
}

/// The `x-amz-tagging` value: the retention tags, URL-encoded as a query string.
pub(crate) fn tagging(meta: &ObjectMeta) -> String {
    [
        (
            RETENTION_CLASS,
            class_name(meta.retention_class).to_string(),
        ),
        (EXPIRES_ON, expires_on(meta)),
        (TENANT, meta.tenant.clone()),
    ]
    .iter()
    .map(|(name, value)| format!("{name}={}", utf8_percent_encode(value, TAG_VALUE)))
    .collect::<Vec<_>>()
    .join("&")
}

/// `x-amz-checksum-sha256`: the base64 of the digest `meta.sha256` gives in hex, so that the
/// store verifies the bytes it receives are the bytes the pipeline hashed.
pub(crate) fn checksum_sha256(sha256_hex: &str) -> Option<String> {
    let valid = sha256_hex.len() == 64 && sha256_hex.bytes().all(|b| b.is_ascii_hexdigit());
    if !valid {
        return None;
    }
    let digest: Option<Vec<u8>> = (0..64)
        .step_by(2)
        .map(|at| u8::from_str_radix(&sha256_hex[at..at + 2], 16).ok())
        .collect();
    Some(base64::engine::general_purpose::STANDARD.encode(digest?))
}

/// Rebuilds an object's [`ObjectMeta`] from its user metadata and content type; `Err` names
/// what is missing or malformed.
pub(crate) fn read_meta(
    metadata: Option<&HashMap<String, String>>,
    content_type: Option<&str>,
) -> Result<ObjectMeta, String> {
    let empty = HashMap::new();
    let metadata = metadata.unwrap_or(&empty);
    let field = |name: &str| {
        metadata
            .get(name)
            .ok_or_else(|| format!("the object has no {name} metadata"))
    };
    let class = field(RETENTION_CLASS)?;
    let retention_class = callscore_pipeline::layout::class_of(class)
        .ok_or_else(|| format!("the object's retention class {class:?} is unknown"))?;
    let expires_on = match field(EXPIRES_ON)?.as_str() {
        NO_EXPIRY => None,
        day => Some(
            day.parse::<Date>()
                .map_err(|e| format!("the object's expires-on {day:?} is not a day: {e}"))?,
        ),
    };
    let size = field(SIZE)?;
    Ok(ObjectMeta {
        tenant: field(TENANT)?.clone(),
        recording_id: field(RECORDING_ID)?.clone(),
        retention_class,
        expires_on,
        sha256: field(SHA256)?.clone(),
        content_type: content_type
            .unwrap_or("application/octet-stream")
            .to_string(),
        size: size
            .parse()
            .map_err(|_| format!("the object's size {size:?} is not a number"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use callscore_survey::RetentionClass;

    fn meta(expires_on: Option<Date>) -> ObjectMeta {
        ObjectMeta {
            tenant: "acme-nl".into(),
            recording_id: "r-1".into(),
            retention_class: RetentionClass::NonRespondent,
            expires_on,
            sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
            content_type: "audio/wav".into(),
            size: 0,
        }
    }

    #[test]
    fn metadata_round_trips_with_and_without_an_expiry_day() {
        for expiry in [Some(jiff::civil::date(2027, 3, 1)), None] {
            let meta = meta(expiry);
            let stored = user_metadata(&meta);
            assert_eq!(
                read_meta(Some(&stored), Some("audio/wav")).expect("readable"),
                meta
            );
        }
        assert_eq!(user_metadata(&meta(None))[EXPIRES_ON], "none");
    }

    #[test]
    fn damaged_metadata_is_named() {
        let mut stored = user_metadata(&meta(None));
        stored.insert(RETENTION_CLASS.into(), "forever".into());
        let error = read_meta(Some(&stored), None).expect_err("unknown class");
        assert!(error.contains("forever"), "{error}");
        stored.remove(RETENTION_CLASS);
        let error = read_meta(Some(&stored), None).expect_err("missing class");
        assert!(error.contains("retention-class"), "{error}");
        let mut stored = user_metadata(&meta(None));
        stored.insert(EXPIRES_ON.into(), "soon".into());
        assert!(read_meta(Some(&stored), None).is_err());
        assert!(read_meta(None, None).is_err());
    }

    #[test]
    fn tags_are_url_encoded() {
        let mut meta = meta(Some(jiff::civil::date(2027, 3, 1)));
        assert_eq!(
            tagging(&meta),
            "retention-class=non_respondent&expires-on=2027-03-01&tenant=acme-nl"
        );
        meta.tenant = "a b&c=d".into();
        assert!(tagging(&meta).ends_with("tenant=a%20b%26c%3Dd"));
    }

    #[test]
    fn the_checksum_is_the_base64_of_the_hex_digest() {
        // SHA-256 of no bytes
        assert_eq!(
            checksum_sha256(&meta(None).sha256).as_deref(),
            Some("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
        );
        assert_eq!(checksum_sha256("abc"), None);
        assert_eq!(checksum_sha256(&"g".repeat(64)), None);
    }
}
