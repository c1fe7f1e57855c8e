//! Reading recordings referenced by `s3://` URIs, e.g. in a staging bucket.

use callscore_pipeline::Retry;

use crate::error::{Failure, FetchError};
use crate::store::S3Store;

impl S3Store {
    /// The bytes of the object `uri` (`s3://BUCKET/KEY`) names, in any bucket the credentials
    /// can read, at most `max_bytes` of them: a larger object is refused before its body is
    /// read (by its length), and a body that grows past the limit is cut off.
    ///
    /// Missing, forbidden and oversized objects and malformed URIs are permanent failures;
    /// timeouts, outages and 5xx answers are transient.
    pub async fn fetch(&self, uri: &str, max_bytes: u64) -> Result<Vec<u8>, FetchError> {
        let failed = |retry, message: String| FetchError {
            uri: uri.to_string(),
            retry,
            message,
        };
        let (bucket, key) = parse_uri(uri).ok_or_else(|| {
            failed(
                Retry::Permanent,
                "not an object URI of the form s3://BUCKET/KEY".into(),
            )
        })?;
        let too_large = |size: u64| {
            failed(
                Retry::Permanent,
                format!("the object is {size} bytes, over the limit of {max_bytes}"),
            )
        };
        let read = async {
            let object = self
                .client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| {
                    let failure = Failure::of(&e);
                    failed(failure.retry, failure.message)
                })?;
            let length = object.content_length().and_then(|n| u64::try_from(n).ok());
            if let Some(length) = length.filter(|&n| n > max_bytes) {
                return Err(too_large(length));
            }
            let capacity = length.unwrap_or(0).min(max_bytes);
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
        // the SDK's operation timeout ends when the body starts; this one covers the body too
        tokio::time::timeout(self.config.timeout(), read)
            .await
            .unwrap_or_else(|_| {
                Err(failed(
                    Retry::Transient,
                    format!("timed out after {:?}", self.config.timeout()),
                ))
            })
    }
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
