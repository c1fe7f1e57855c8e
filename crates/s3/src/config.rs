//! The `[s3]` table of the service's configuration.

use std::time::Duration;

use serde::Deserialize;

/// Where and how audio is stored: the `[s3]` table of the service's TOML configuration.
///
/// Credentials are not configured here: they come from the standard AWS chain only
/// (`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, profiles, web identity, instance
/// metadata), so no secret ever sits in a configuration file.
///
/// ```toml
/// [s3]
/// bucket = "callscore-audio"
/// prefix = "callscore/"
/// endpoint_url = "http://127.0.0.1:3900"
/// region = "garage"
/// force_path_style = true
/// server_side_encryption = "aws:kms"
/// kms_key_id = "alias/callscore"
/// tagging = "auto"
/// timeout_ms = 10000
/// min_throughput_bytes_per_s = 1048576
/// staging_buckets = ["callscore-staging"]
/// staging_tenant_prefix = true
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// The bucket audio is stored in. It must exist: callscore never creates buckets.
    pub bucket: String,
    /// Prepended to every object key, e.g. `callscore/` to share a bucket. Ends with `/`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// The store's endpoint, e.g. `http://127.0.0.1:3900` for an S3-compatible store. Unset:
    /// `AWS_ENDPOINT_URL`, else the AWS endpoint of the region.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// The region requests are signed for. Unset: `AWS_REGION`, else the standard chain
    /// (profile, instance metadata).
    #[serde(default)]
    pub region: Option<String>,
    /// Addresses the bucket in the path (`endpoint/bucket/key`) instead of the host name;
    /// most S3-compatible stores need this.
    #[serde(default)]
    pub force_path_style: bool,
    /// Server-side encryption requested for every object written; unset: the bucket's
    /// default.
    #[serde(default)]
    pub server_side_encryption: Option<Sse>,
    /// The KMS key for `server_side_encryption = "aws:kms"`; unset: the account's default
    /// key for S3.
    #[serde(default)]
    pub kms_key_id: Option<String>,
    /// Whether objects get retention tags: `auto` (default) reads the start-up probe
    /// object's tags back, `on` assumes tagging works (no `GetObjectTagging` permission
    /// needed), `off` never sends tags.
    #[serde(default)]
    pub tagging: TaggingMode,
    /// How long one store operation may take, retries included, in milliseconds; an
    /// operation that moves an object's bytes gets as long again as the bytes take at
    /// `min_throughput_bytes_per_s`.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The slowest transfer accepted, in bytes per second: a 256 MiB upload at the default
    /// 1 MiB/s may take the base timeout plus 256 s.
    #[serde(default = "default_min_throughput")]
    pub min_throughput_bytes_per_s: u64,
    /// Buckets that audio references may name (`s3://BUCKET/KEY`); empty: references are
    /// refused. Never the audio bucket itself.
    #[serde(default)]
    pub staging_buckets: Vec<String>,
    /// Whether a reference's key must start with the message's tenant (`TENANT/…`), so that
    /// one tenant's messages cannot make callscore read another's uploads.
    #[serde(default)]
    pub staging_tenant_prefix: bool,
}

/// Server-side encryption of stored objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Sse {
    /// Keys managed by the store (`AES256`).
    #[serde(rename = "aes256")]
    Aes256,
    /// Keys in AWS KMS (`aws:kms`), optionally the one named by `kms_key_id`.
    #[serde(rename = "aws:kms")]
    AwsKms,
}

/// Whether objects are tagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaggingMode {
    /// Read the start-up probe's tags back: tag when the store keeps them.
    #[default]
    Auto,
    /// Tag without checking.
    On,
    /// Never tag.
    Off,
}

fn default_timeout_ms() -> u64 {
    10_000
}

fn default_min_throughput() -> u64 {
    1 << 20
}

impl S3Config {
    /// A configuration for `bucket` with every other setting at its default.
    pub fn new(bucket: impl Into<String>) -> S3Config {
        S3Config {
            bucket: bucket.into(),
            prefix: None,
            endpoint_url: None,
            region: None,
            force_path_style: false,
            server_side_encryption: None,
            kms_key_id: None,
            tagging: TaggingMode::Auto,
            timeout_ms: default_timeout_ms(),
            min_throughput_bytes_per_s: default_min_throughput(),
            staging_buckets: Vec::new(),
            staging_tenant_prefix: false,
        }
    }

    /// Checks what serde cannot: names, the prefix, encryption settings, the timeout. The
    /// message names the setting, never its value (an override may hold a secret by mistake).
    pub fn validate(&self) -> Result<(), String> {
        if !bucket_name_is_valid(&self.bucket) {
            return Err(
                "bucket is not a valid bucket name (3 to 63 lowercase letters, digits, '.' \
                 and '-', starting and ending with a letter or digit)"
                    .into(),
            );
        }
        if let Some(prefix) = &self.prefix
            && (prefix.starts_with('/') || !prefix.ends_with('/') || prefix.contains("//"))
        {
            return Err(
                "prefix must not start with '/', must end with '/' and must not contain '//'"
                    .into(),
            );
        }
        if let Some(url) = &self.endpoint_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err("endpoint_url must start with http:// or https://".into());
        }
        if self.region.as_deref().is_some_and(str::is_empty) {
            return Err("region must not be empty; leave it out to use the standard chain".into());
        }
        if self.kms_key_id.is_some() && self.server_side_encryption != Some(Sse::AwsKms) {
            return Err("kms_key_id is only used with server_side_encryption = \"aws:kms\"".into());
        }
        if self.timeout_ms == 0 {
            return Err("timeout_ms must be more than 0".into());
        }
        if self.min_throughput_bytes_per_s == 0 {
            return Err("min_throughput_bytes_per_s must be more than 0".into());
        }
        for (n, bucket) in self.staging_buckets.iter().enumerate() {
            if !bucket_name_is_valid(bucket) {
                return Err(format!("staging_buckets[{n}] is not a valid bucket name"));
            }
            if *bucket == self.bucket {
                return Err(format!(
                    "staging_buckets[{n}] is the audio bucket; references to stored audio are \
                     never accepted"
                ));
            }
        }
        Ok(())
    }

    /// The timeout of an operation that moves no object's bytes.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The timeout of an operation that moves `bytes`: the base timeout plus the time the
    /// bytes take at the slowest throughput accepted.
    pub fn timeout_for(&self, bytes: u64) -> Duration {
        let transfer =
            Duration::from_secs_f64(bytes as f64 / self.min_throughput_bytes_per_s as f64);
        self.timeout().saturating_add(transfer)
    }

    /// The key prefix, empty when unset.
    pub fn prefix(&self) -> &str {
        self.prefix.as_deref().unwrap_or_default()
    }
}

/// The rules S3 and the S3-compatible stores share (AWS's general purpose bucket naming).
fn bucket_name_is_valid(name: &str) -> bool {
    let edges_alphanumeric = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    (3..=63).contains(&name.len())
        && edges_alphanumeric
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<S3Config, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn a_minimal_table_takes_the_defaults() {
        let config = parse("bucket = \"audio\"").expect("parses");
        assert_eq!(config.tagging, TaggingMode::Auto);
        assert_eq!(config.timeout(), Duration::from_secs(10));
        assert!(!config.force_path_style);
        assert_eq!(config.prefix(), "");
        config.validate().expect("valid");
    }

    #[test]
    fn every_field_parses() {
        let config = parse(
            r#"bucket = "callscore-audio"
               prefix = "callscore/"
               endpoint_url = "http://127.0.0.1:3900"
               region = "garage"
               force_path_style = true
               server_side_encryption = "aws:kms"
               kms_key_id = "alias/callscore"
               tagging = "off"
               timeout_ms = 2000"#,
        )
        .expect("parses");
        assert_eq!(config.server_side_encryption, Some(Sse::AwsKms));
        assert_eq!(config.tagging, TaggingMode::Off);
        assert_eq!(config.timeout(), Duration::from_secs(2));
        config.validate().expect("valid");
        let aes = parse("bucket = \"b12\"\nserver_side_encryption = \"aes256\"").expect("parses");
        assert_eq!(aes.server_side_encryption, Some(Sse::Aes256));
    }

    #[test]
    fn the_timeout_grows_with_the_bytes_moved() {
        let config = parse("bucket = \"audio\"\ntimeout_ms = 2000").expect("parses");
        assert_eq!(config.timeout_for(0), Duration::from_secs(2));
        assert_eq!(config.timeout_for(256 << 20), Duration::from_secs(2 + 256));
    }

    #[test]
    fn the_audio_bucket_is_never_a_staging_bucket() {
        let config = parse("bucket = \"audio\"\nstaging_buckets = [\"audio\"]").expect("parses");
        assert!(
            config
                .validate()
                .expect_err("refused")
                .contains("audio bucket")
        );
        let config = parse("bucket = \"audio\"\nstaging_buckets = [\"staging\"]").expect("parses");
        config.validate().expect("valid");
    }

    #[test]
    fn unknown_fields_and_inline_credentials_are_refused() {
        assert!(parse("bucket = \"audio\"\naccess_key = \"AKIA\"").is_err());
        assert!(parse("bucket = \"audio\"\ntagging = \"maybe\"").is_err());
        assert!(parse("bucket = \"audio\"\nserver_side_encryption = \"AES256\"").is_err());
    }

    #[test]
    fn validation_names_what_is_wrong() {
        let invalid = [
            ("bucket = \"Audio\"", "bucket"),
            ("bucket = \"ab\"", "bucket"),
            ("bucket = \"-audio\"", "bucket"),
            ("bucket = \"a..b\"", "bucket"),
            ("bucket = \"audio\"\nprefix = \"/callscore/\"", "prefix"),
            ("bucket = \"audio\"\nprefix = \"callscore\"", "prefix"),
            (
                "bucket = \"audio\"\nendpoint_url = \"127.0.0.1:3900\"",
                "endpoint_url",
            ),
            ("bucket = \"audio\"\nregion = \"\"", "region"),
            ("bucket = \"audio\"\nkms_key_id = \"k\"", "kms_key_id"),
            (
                "bucket = \"audio\"\nserver_side_encryption = \"aes256\"\nkms_key_id = \"k\"",
                "kms_key_id",
            ),
            ("bucket = \"audio\"\ntimeout_ms = 0", "timeout_ms"),
        ];
        for (text, field) in invalid {
            let error = parse(text).expect("parses").validate().expect_err(text);
            assert!(error.contains(field), "{text}: {error}");
        }
    }
}
