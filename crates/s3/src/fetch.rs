//! Reading recordings referenced by `s3://` URIs in a staging bucket: the pipeline's
//! [`StagedAudio`] port.

use callscore_pipeline::{AudioReference, Retry, StagedAudio, StoreError};

use crate::S3Config;
use crate::error::Failure;
use crate::store::S3Store;

impl S3Store {
    /// The bucket and key of `reference`, once [`staged_object`] allows it for `tenant`.
    fn allowed<'r>(
        &self,
        reference: &'r AudioReference,
        tenant: &str,
    ) -> Result<(&'r str, &'r str), StoreError> {
        staged_object(&self.config, &reference.uri, tenant).map_err(|message| StoreError {
            operation: "fetch",
            key: callscore_pipeline::redact::redact(&reference.uri).into_owned(),
            retry: Retry::Permanent,
            message: message.to_string(),
        })
    }

    fn fetch_error(&self, reference: &AudioReference, retry: Retry, message: String) -> StoreError {
        StoreError {
            operation: "fetch",
            key: callscore_pipeline::redact::redact(&reference.uri).into_owned(),
            retry,
            message,
        }
    }
}

impl StagedAudio for S3Store {
    async fn size(&self, reference: &AudioReference, tenant: &str) -> Result<u64, StoreError> {
        let (bucket, key) = self.allowed(reference, tenant)?;
        let head = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                let failure = Failure::of(&e);
                // a reference to nothing is the message's fault
                let retry = if failure.status == Some(404) {
                    Retry::Permanent
                } else {
                    failure.retry
                };
                self.fetch_error(reference, retry, failure.message)
            })?;
        Ok(head
            .content_length()
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0))
    }

    /// At most `max_bytes`: a larger object is refused before its body is read (by its
    /// length), and a body that grows past the limit is cut off. The time allowed grows with
    /// the object's length.
    async fn fetch(
        &self,
        reference: &AudioReference,
        tenant: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, StoreError> {
        let (bucket, key) = self.allowed(reference, tenant)?;
        let failed = |retry, message: String| self.fetch_error(reference, retry, message);
        let too_large = |size: u64| {
            failed(
                Retry::Permanent,
                format!("the object is {size} bytes, over the limit of {max_bytes}"),
            )
        };
        let object = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                let failure = Failure::of(&e);
                let retry = if failure.status == Some(404) {
                    Retry::Permanent
                } else {
                    failure.retry
                };
                failed(retry, failure.message)
            })?;
        let length = object.content_length().and_then(|n| u64::try_from(n).ok());
        if let Some(length) = length.filter(|&n| n > max_bytes) {
            return Err(too_large(length));
        }
        let capacity = length.unwrap_or(0).min(max_bytes);
        let timeout = self.config.timeout_for(capacity);
        let read = async {
            let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
            let mut body = object.body;
            while let Some(chunk) = body
                .try_next()
                .await
                .map_err(|e| failed(Retry::Transient, format!("reading the body: {e}")))?
            {
                let size = (bytes.len() + chunk.len()) as u64;
                if size > max_bytes {
                    return Err(too_large(size));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(bytes)
        };
        // the SDK's operation timeout ends when the body starts; this one covers the body, as
        // long as its length needs
        tokio::time::timeout(timeout, read)
            .await
            .unwrap_or_else(|_| {
                Err(failed(
                    Retry::Transient,
                    format!("the body took longer than {timeout:?}"),
                ))
            })
    }
}

/// The bucket and key a staged reference's `uri` names, when `config` allows a message of
/// `tenant` to read it: the URI is `s3://BUCKET/KEY`, the bucket is one of
/// `s3.staging_buckets`, with `s3.staging_tenant_prefix` the key is under `TENANT/`, and no
/// segment of the key is `.` or `..`. Else why not, in words that quote nothing of the URI.
pub fn staged_object<'u>(
    config: &S3Config,
    uri: &'u str,
    tenant: &str,
) -> Result<(&'u str, &'u str), &'static str> {
    let (bucket, key) = parse_uri(uri).ok_or("not an object URI of the form s3://BUCKET/KEY")?;
    if !config.staging_buckets.iter().any(|b| b == bucket) {
        return Err("the bucket is not a configured staging bucket (s3.staging_buckets)");
    }
    if config.staging_tenant_prefix
        && !key
            .strip_prefix(tenant)
            .is_some_and(|rest| rest.starts_with('/'))
    {
        return Err("the key is not under the message's tenant prefix");
    }
    if key.split('/').any(|part| part == ".." || part == ".") {
        return Err("the key has . or .. segments");
    }
    Ok((bucket, key))
}

/// `s3://BUCKET/KEY` as the bucket and the key, both non-empty.
fn parse_uri(uri: &str) -> Option<(&str, &str)> {
    let (bucket, key) = uri.strip_prefix("s3://")?.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_s3_uris_with_a_bucket_and_a_key_parse() {
        assert_eq!(
            parse_uri("s3://staging/acme/r1.wav"),
            Some(("staging", "acme/r1.wav"))
        );
        for bad in [
            "https://staging/r1.wav",
            "s3://staging",
            "s3://staging/",
            "s3:///r1.wav",
            "/tmp/r1.wav",
            "",
        ] {
            assert_eq!(parse_uri(bad), None, "{bad}");
        }
    }
}
