//! The crate's errors, and how an SDK failure is classified into one.

use std::error::Error as StdError;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use callscore_pipeline::{Retry, StoreError};

/// Why the store could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// The `[s3]` configuration is invalid.
    #[error("invalid [s3] configuration: {0}")]
    Config(String),
    /// The bucket does not answer: missing, forbidden, or the store is down.
    #[error("bucket {bucket} is unreachable or missing: {message}")]
    Unreachable {
        /// The bucket.
        bucket: String,
        /// Whether trying again later can help (an outage, not a refusal).
        retry: Retry,
        /// What the store answered.
        message: String,
    },
    /// Writing or reading back the start-up probe object failed: a store that refuses it
    /// would refuse every recording.
    #[error("probing the store's capabilities: {0}")]
    Probe(String),
}

/// A classified SDK failure: whether to retry, the HTTP status when the store answered, and
/// a message with the service's error code and text (never a credential: signatures and
/// keys are in requests, which are not shown).
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) retry: Retry,
    pub(crate) status: Option<u16>,
    pub(crate) code: Option<String>,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn of<E>(error: &SdkError<E, HttpResponse>) -> Failure
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let status = error.raw_response().map(|r| r.status().as_u16());
        let code = error.code().map(str::to_string);
        let retry = match error {
            // the request could not even be built: trying the same again builds the same
            SdkError::ConstructionFailure(_) => Retry::Permanent,
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => Retry::Transient,
            _ => retry_for(status, code.as_deref()),
        };
        let message = match (status, &code, error.message()) {
            (Some(status), Some(code), Some(text)) => format!("{code}: {text} (HTTP {status})"),
            (Some(status), Some(code), None) => format!("{code} (HTTP {status})"),
            (Some(status), None, _) => format!("HTTP {status}"),
            (None, ..) => causes(error),
        };
        Failure {
            retry,
            status,
            code,
            message,
        }
    }

    /// The store does not implement what was asked (501 `NotImplemented`).
    pub(crate) fn not_implemented(&self) -> bool {
        self.status == Some(501) || self.code.as_deref() == Some("NotImplemented")
    }

    pub(crate) fn into_store_error(self, operation: &'static str, key: &str) -> StoreError {
        StoreError {
            operation,
            key: key.to_string(),
            retry: self.retry,
            message: self.message,
        }
    }
}

/// An error and its causes, `: `-separated: "dispatch failure: io error: … Connection refused".
fn causes(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

/// The outcome of a request for something that may not be there: `Ok(None)` for a 404.
pub(crate) fn found<T, E>(
    result: Result<T, SdkError<E, HttpResponse>>,
) -> Result<Option<T>, Failure>
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match result {
        Ok(output) => Ok(Some(output)),
        Err(e) => {
            let failure = Failure::of(&e);
            if failure.status == Some(404) {
                Ok(None)
            } else {
                Err(failure)
            }
        }
    }
}

/// Error codes that say the deployment is refused, not the request: credentials wrong or
/// expired, a permission missing, the clock skewed, the bucket gone or in another region.
/// They are fixed by an operator, never by the recording, so they block instead of
/// dead-lettering.
const DEPLOYMENT_REFUSED: [&str; 12] = [
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "TokenRefreshRequired",
    "InvalidToken",
    "RequestTimeTooSkewed",
    "NoSuchBucket",
    "PermanentRedirect",
    "AuthorizationHeaderMalformed",
    "AccountProblem",
];

/// Timeouts, throttling and server errors pass; a refused deployment (403, the codes of
/// [`DEPLOYMENT_REFUSED`]) blocks; other refusals are permanent. `501 Not Implemented` is a
/// server error that never passes: the store lacks the feature.
pub(crate) fn retry_for(status: Option<u16>, code: Option<&str>) -> Retry {
    match (status, code) {
        (_, Some("SlowDown" | "RequestTimeout" | "InternalError" | "ServiceUnavailable")) => {
            Retry::Transient
        }
        (_, Some(code)) if DEPLOYMENT_REFUSED.contains(&code) => Retry::Blocked,
        // a 403 without a code (a HEAD has no body) is a refusal of the credentials
        (Some(401 | 403), _) => Retry::Blocked,
        (Some(501), _) => Retry::Permanent,
        (Some(408 | 429) | Some(500..=599), _) => Retry::Transient,
        (Some(_), _) => Retry::Permanent,
        // an answer without a status is a response that could not be read
        (None, _) => Retry::Transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_and_throttling_are_transient_and_refusals_permanent() {
        for (status, code) in [
            (500, None),
            (502, None),
            (503, Some("SlowDown")),
            (429, None),
            (408, None),
            (400, Some("RequestTimeout")),
        ] {
            assert_eq!(retry_for(Some(status), code), Retry::Transient, "{status}");
        }
        for (status, code) in [
            (400, Some("InvalidRequest")),
            (404, Some("NoSuchKey")),
            (412, Some("PreconditionFailed")),
            (501, Some("NotImplemented")),
        ] {
            assert_eq!(retry_for(Some(status), code), Retry::Permanent, "{status}");
        }
    }

    #[test]
    fn credential_permission_clock_and_bucket_problems_block() {
        for (status, code) in [
            (403, Some("AccessDenied")),
            (403, Some("InvalidAccessKeyId")),
            (403, Some("SignatureDoesNotMatch")),
            (403, None),
            (400, Some("ExpiredToken")),
            (403, Some("RequestTimeTooSkewed")),
            (404, Some("NoSuchBucket")),
            (301, Some("PermanentRedirect")),
        ] {
            assert_eq!(
                retry_for(Some(status), code),
                Retry::Blocked,
                "{status} {code:?}"
            );
        }
    }
}
