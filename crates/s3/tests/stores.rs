//! The S3 store against real stores on loopback: garage (no tagging) and moto (tagging).
//! Credentials are handed to the store through an `SdkConfig`, never through the process
//! environment.

use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::config::{Credentials, Region, SharedCredentialsProvider};
use aws_sdk_s3::primitives::ByteStream;
use callscore_pipeline::layout::Place;
use callscore_pipeline::{
    AudioReference, AudioStore, ObjectKey, ObjectMeta, PutOutcome, Retry, StagedAudio, class_name,
    contract,
};
use callscore_s3::{S3Config, S3Error, S3Store, Sse, TaggingMode};
use callscore_survey::RetentionClass;
use callscore_testkit::{Garage, Moto, S3Endpoint};
use sha2::{Digest, Sha256};

const PREFIX: &str = "callscore/";

fn sdk_config(endpoint: &S3Endpoint) -> SdkConfig {
    let credentials = Credentials::new(
        &endpoint.access_key,
        &endpoint.secret_key,
        None,
        None,
        "callscore-test",
    );
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .region(Region::new(endpoint.region.clone()))
        .build()
}

fn config(endpoint: &S3Endpoint) -> S3Config {
    S3Config {
        prefix: Some(PREFIX.into()),
        endpoint_url: Some(endpoint.url.clone()),
        region: Some(endpoint.region.clone()),
        force_path_style: true,
        ..S3Config::new(&endpoint.bucket)
    }
}

async fn connect(endpoint: &S3Endpoint) -> S3Store {
    S3Store::from_sdk_config(&config(endpoint), &sdk_config(endpoint))
        .await
        .expect("connects")
}

/// A plain client, to look at what the store did behind the adapter's back.
fn plain_client(endpoint: &S3Endpoint) -> aws_sdk_s3::Client {
    endpoint.client()
}

fn key(class: RetentionClass, recording: &str) -> ObjectKey {
    Place::new("acme", class, Some("ps-caller"), recording).audio("wav")
}

fn meta(bytes: &[u8], class: RetentionClass, recording: &str) -> ObjectMeta {
    ObjectMeta {
        tenant: "acme".into(),
        recording_id: recording.into(),
        retention_class: class,
        expires_on: (class != RetentionClass::LegalHold).then(|| jiff::civil::date(2027, 3, 1)),
        sha256: Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        content_type: "audio/wav".into(),
        size: bytes.len() as u64,
    }
}

async fn object_count(client: &aws_sdk_s3::Client, bucket: &str) -> usize {
    let listed = client
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("lists");
    listed.contents().len()
}

#[tokio::test]
async fn the_store_keeps_the_contract_on_garage() {
    let garage = Garage::start(&["audio"]);
    let store = connect(garage.endpoint()).await;
    contract::audio_store(&store).await;
}

#[tokio::test]
async fn the_store_keeps_the_contract_on_moto() {
    let moto = Moto::start("audio");
    let store = connect(moto.endpoint()).await;
    contract::audio_store(&store).await;
}

#[tokio::test]
async fn on_moto_objects_carry_their_retention_tags_from_the_first_write() {
    let moto = Moto::start("audio");
    let store = connect(moto.endpoint()).await;
    let capabilities = store.capabilities();
    assert!(capabilities.tagging, "moto keeps tags");
    assert!(
        capabilities.conditional_writes,
        "moto honours If-None-Match"
    );
    assert!(store.limitations().is_empty(), "{:?}", store.limitations());
    let client = plain_client(moto.endpoint());
    assert_eq!(
        object_count(&client, "audio").await,
        0,
        "the probe object is deleted"
    );

    let cases = [
        (RetentionClass::NonRespondent, "r1", "2027-03-01"),
        (RetentionClass::LegalHold, "r2", "none"),
    ];
    for (class, recording, expires_on) in cases {
        let (key, bytes) = (key(class, recording), b"RIFF tagged".to_vec());
        let outcome = store
            .put(&key, &bytes, &meta(&bytes, class, recording))
            .await
            .expect("put");
        assert_eq!(outcome, PutOutcome::Created);
        let tags = client
            .get_object_tagging()
            .bucket("audio")
            .key(format!("{PREFIX}{key}"))
            .send()
            .await
            .expect("tags");
        let mut tags: Vec<(&str, &str)> = tags
            .tag_set()
            .iter()
            .map(|t| (t.key(), t.value()))
            .collect();
        tags.sort_unstable();
        assert_eq!(
            tags,
            [
                ("expires-on", expires_on),
                ("retention-class", class_name(class)),
                ("tenant", "acme"),
            ]
        );
    }
}

#[tokio::test]
async fn server_side_encryption_is_requested_in_the_put_when_configured() {
    let moto = Moto::start("audio");
    let sealed = S3Config {
        server_side_encryption: Some(Sse::Aes256),
        ..config(moto.endpoint())
    };
    let store = S3Store::from_sdk_config(&sealed, &sdk_config(moto.endpoint()))
        .await
        .expect("connects");
    let (key, bytes) = (
        key(RetentionClass::Respondent, "sse"),
        b"RIFF sealed".to_vec(),
    );
    store
        .put(
            &key,
            &bytes,
            &meta(&bytes, RetentionClass::Respondent, "sse"),
        )
        .await
        .expect("put");
    let head = plain_client(moto.endpoint())
        .head_object()
        .bucket("audio")
        .key(format!("{PREFIX}{key}"))
        .send()
        .await
        .expect("head");
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("AES256")
    );
}

#[tokio::test]
async fn on_garage_retention_lives_in_the_key_and_the_metadata() {
    let garage = Garage::start(&["audio"]);
    let store = connect(garage.endpoint()).await;
    let capabilities = store.capabilities();
    assert!(!capabilities.tagging, "garage drops tags");
    assert!(
        !capabilities.conditional_writes,
        "garage ignores If-None-Match"
    );
    let limitations = store.limitations();
    assert!(
        limitations.iter().any(|l| l.contains("tagging")),
        "{limitations:?}"
    );
    assert!(
        limitations.iter().any(|l| l.contains("If-None-Match")),
        "{limitations:?}"
    );
    let client = plain_client(garage.endpoint());
    assert_eq!(
        object_count(&client, "audio").await,
        0,
        "the probe object is deleted"
    );

    let (key, bytes) = (key(RetentionClass::Respondent, "r1"), b"RIFF".to_vec());
    let meta = meta(&bytes, RetentionClass::Respondent, "r1");
    store.put(&key, &bytes, &meta).await.expect("put");
    let head = client
        .head_object()
        .bucket("audio")
        .key(format!("{PREFIX}{key}"))
        .send()
        .await
        .expect("head");
    let stored = head.metadata().expect("user metadata");
    assert_eq!(stored["retention-class"], "respondent");
    assert_eq!(stored["expires-on"], "2027-03-01");
    assert_eq!(stored["tenant"], "acme");
    assert_eq!(stored["sha256"], meta.sha256);
    assert_eq!(
        store.uri(&key),
        format!("s3://audio/{PREFIX}acme/respondent/ps-caller/r1/audio.wav")
    );
}

/// garage verifies `x-amz-checksum-sha256` (moto does not): bytes that are not the bytes the
/// pipeline hashed are refused and nothing is stored.
#[tokio::test]
async fn on_garage_bytes_damaged_after_hashing_are_refused() {
    let garage = Garage::start(&["audio"]);
    let store = connect(garage.endpoint()).await;
    let class = RetentionClass::Respondent;
    let key = key(class, "r1");
    let hashed = meta(b"RIFF as hashed", class, "r1");
    let damaged = b"RIFF as h\x00shed".to_vec();
    let refused = store
        .put(&key, &damaged, &hashed)
        .await
        .expect_err("the checksum does not match");
    assert_eq!(refused.retry, Retry::Permanent, "{refused}");
    assert!(refused.message.contains("InvalidDigest"), "{refused}");
    assert_eq!(store.head(&key).await.expect("head"), None);
}

#[tokio::test]
async fn a_redelivered_put_writes_nothing_and_other_bytes_conflict() {
    let garage = Garage::start(&["audio"]);
    let store = connect(garage.endpoint()).await;
    let client = plain_client(garage.endpoint());
    let class = RetentionClass::Respondent;
    let (key, bytes) = (key(class, "r1"), b"RIFF first delivery".to_vec());
    let meta = meta(&bytes, class, "r1");
    let name = format!("{PREFIX}{key}");

    // what the store holds stands in for our bytes: if a redelivery wrote, it would be gone
    client
        .put_object()
        .bucket("audio")
        .key(&name)
        .body(ByteStream::from_static(b"marker"))
        .metadata("sha256", &meta.sha256)
        .send()
        .await
        .expect("plain put");
    assert_eq!(
        store.put(&key, &bytes, &meta).await.expect("put"),
        PutOutcome::AlreadyStored
    );
    let other = b"RIFF other bytes".to_vec();
    let refused = store
        .put(&key, &other, &self::meta(&other, class, "r1"))
        .await
        .expect_err("other bytes are refused");
    assert_eq!(refused.retry, Retry::Permanent, "{refused}");
    let body = client
        .get_object()
        .bucket("audio")
        .key(&name)
        .send()
        .await
        .expect("get")
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes();
    assert_eq!(&body[..], b"marker", "neither put wrote");
    assert_eq!(object_count(&client, "audio").await, 1);
}

/// Where the store honours `If-None-Match`, workers racing to store one recording write it
/// once: the losers either see it (HEAD) or are refused (412) and then see it.
#[tokio::test]
async fn concurrent_puts_of_one_recording_write_it_once_on_moto() {
    let moto = Moto::start("audio");
    let store = connect(moto.endpoint()).await;
    let class = RetentionClass::Respondent;
    let (key, bytes) = (key(class, "r1"), b"RIFF raced".to_vec());
    let meta = meta(&bytes, class, "r1");
    let mut puts = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (store, key, bytes, meta) = (store.clone(), key.clone(), bytes.clone(), meta.clone());
        puts.spawn(async move { store.put(&key, &bytes, &meta).await });
    }
    let outcomes: Vec<PutOutcome> = puts
        .join_all()
        .await
        .into_iter()
        .map(|outcome| outcome.expect("put"))
        .collect();
    let created = outcomes
        .iter()
        .filter(|o| **o == PutOutcome::Created)
        .count();
    assert_eq!(created, 1, "{outcomes:?}");
}

#[tokio::test]
async fn staged_audio_is_read_only_from_staging_buckets_under_the_tenant_and_within_the_limit() {
    let garage = Garage::start(&["audio", "staging", "other"]);
    let config = S3Config {
        staging_buckets: vec!["staging".into()],
        staging_tenant_prefix: true,
        ..config(garage.endpoint())
    };
    let store = S3Store::from_sdk_config(&config, &sdk_config(garage.endpoint()))
        .await
        .expect("connects");
    let client = plain_client(garage.endpoint());
    let bytes = vec![7u8; 4096];
    for (bucket, key) in [
        ("staging", "acme/in/r1/audio.wav"),
        ("staging", "globex/in/r1/audio.wav"),
        ("other", "acme/in/r1/audio.wav"),
        ("audio", "callscore/acme/respondent/ps-x/r1/audio.wav"),
    ] {
        client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(bytes.clone()))
            .send()
            .await
            .expect("staged");
    }
    let reference = |uri: &str| AudioReference {
        uri: uri.into(),
        sha256: None,
    };
    let uri = "s3://staging/acme/in/r1/audio.wav";
    assert_eq!(
        store.size(&reference(uri), "acme").await.expect("its size"),
        4096
    );
    assert_eq!(
        store
            .fetch(&reference(uri), "acme", 4096)
            .await
            .expect("fetched"),
        bytes
    );
    let refused = [
        (uri, "acme", "over the limit"),
        ("s3://staging/acme/in/gone.wav", "acme", "NoSuchKey"),
        (
            "s3://staging/globex/in/r1/audio.wav",
            "acme",
            "tenant prefix",
        ),
        (
            "s3://other/acme/in/r1/audio.wav",
            "acme",
            "not a configured staging bucket",
        ),
        (
            "s3://audio/callscore/acme/respondent/ps-x/r1/audio.wav",
            "acme",
            "not a configured staging bucket",
        ),
        (
            "s3://staging/acme/../globex/in/r1/audio.wav",
            "acme",
            ". or ..",
        ),
        (
            "https://staging/acme/in/r1/audio.wav",
            "acme",
            "s3://BUCKET/KEY",
        ),
    ];
    for (uri, tenant, why) in refused {
        let error = store
            .fetch(&reference(uri), tenant, 4095)
            .await
            .expect_err(uri);
        assert_eq!(error.retry, Retry::Permanent, "{error}");
        assert!(error.to_string().contains(why), "{uri}: {error}");
    }
}

#[tokio::test]
async fn a_large_put_gets_time_in_proportion_to_its_size() {
    let garage = Garage::start(&["audio"]);
    // a base timeout far shorter than a 64 MiB upload takes, even on loopback
    let config = S3Config {
        timeout_ms: 50,
        ..config(garage.endpoint())
    };
    let store = S3Store::from_sdk_config(&config, &sdk_config(garage.endpoint()))
        .await
        .expect("connects");
    let class = RetentionClass::Respondent;
    let bytes = vec![0x55u8; 64 << 20];
    let key = key(class, "large");
    let meta = meta(&bytes, class, "large");
    let started = std::time::Instant::now();
    let outcome = store.put(&key, &bytes, &meta).await;
    let took = started.elapsed();
    assert_eq!(
        outcome.expect("the upload is given the time its size needs"),
        PutOutcome::Created,
        "took {took:?}"
    );
    assert!(
        took > Duration::from_millis(50),
        "the upload took {took:?}: too fast to show anything"
    );
}

/// Credentials that a test can spoil and mend while a store uses them.
#[derive(Debug, Clone)]
struct Switchable {
    good: Credentials,
    spoilt: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl aws_credential_types::provider::ProvideCredentials for Switchable {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let credentials = if self.spoilt.load(std::sync::atomic::Ordering::SeqCst) {
            Credentials::new(
                self.good.access_key_id(),
                "0000000000000000000000000000000000000000000000000000000000000000",
                None,
                None,
                "spoilt",
            )
        } else {
            self.good.clone()
        };
        aws_credential_types::provider::future::ProvideCredentials::ready(Ok(credentials))
    }
}

#[tokio::test]
async fn refused_credentials_and_a_missing_bucket_block_instead_of_failing_for_good() {
    let garage = Garage::start(&["audio"]);
    let endpoint = garage.endpoint();
    let spoilt = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let provider = Switchable {
        good: Credentials::new(&endpoint.access_key, &endpoint.secret_key, None, None, "t"),
        spoilt: std::sync::Arc::clone(&spoilt),
    };
    // no identity cache: every request asks the provider, as rotated credentials do in time
    let sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .identity_cache(aws_sdk_s3::config::IdentityCache::no_cache())
        .region(Region::new(endpoint.region.clone()))
        .build();
    let config = S3Config {
        tagging: TaggingMode::Off,
        ..config(endpoint)
    };
    let store = S3Store::from_sdk_config(&config, &sdk)
        .await
        .expect("connects");
    let class = RetentionClass::Respondent;
    let (key, bytes) = (key(class, "r1"), b"RIFF refused".to_vec());
    let meta = meta(&bytes, class, "r1");

    spoilt.store(true, std::sync::atomic::Ordering::SeqCst);
    let error = store
        .put(&key, &bytes, &meta)
        .await
        .expect_err("the store refuses the signature");
    assert_eq!(error.retry, Retry::Blocked, "{error}");
    let error = store.ping().await.expect_err("refused");
    assert_eq!(error.retry, Retry::Blocked, "{error}");

    spoilt.store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        store.put(&key, &bytes, &meta).await.expect("mended"),
        PutOutcome::Created
    );

    // a HEAD answered 404 because the bucket is gone is no "no such object"
    store.delete(&key).await.expect("deleted");
    plain_client(endpoint)
        .delete_bucket()
        .bucket(&endpoint.bucket)
        .send()
        .await
        .expect("the empty bucket is deleted");
    let error = store
        .head(&key)
        .await
        .expect_err("a missing bucket is not a missing object");
    assert_eq!(error.retry, Retry::Blocked, "{error}");
    let error = store
        .put(&key, &bytes, &meta)
        .await
        .expect_err("nowhere to write");
    assert_eq!(error.retry, Retry::Blocked, "{error}");
}

#[tokio::test]
async fn an_outage_fails_a_put_as_transient_in_time_and_the_retry_succeeds() {
    let mut garage = Garage::start(&["audio"]);
    let config = S3Config {
        timeout_ms: 2000,
        ..config(garage.endpoint())
    };
    let store = S3Store::from_sdk_config(&config, &sdk_config(garage.endpoint()))
        .await
        .expect("connects");
    let class = RetentionClass::Respondent;
    let (key, bytes) = (key(class, "r1"), b"RIFF during an outage".to_vec());
    let meta = meta(&bytes, class, "r1");

    garage.kill();
    let failed = tokio::time::timeout(
        config.timeout() + Duration::from_secs(1),
        store.put(&key, &bytes, &meta),
    )
    .await
    .expect("the put gives up within its timeout");
    let error = failed.expect_err("the store is down");
    assert_eq!(error.retry, Retry::Transient, "{error}");
    assert!(store.ping().await.is_err(), "readiness sees the outage");

    garage.resume();
    assert_eq!(
        store
            .put(&key, &bytes, &meta)
            .await
            .expect("put after the outage"),
        PutOutcome::Created
    );
    store.ping().await.expect("ready again");
}

#[tokio::test]
async fn a_store_that_never_answers_times_out_as_transient() {
    // accepts connections (the kernel's backlog) and never answers a request
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let endpoint = S3Endpoint {
        url: format!("http://{}", silent.local_addr().expect("address")),
        region: "garage".into(),
        access_key: "GK0".into(),
        secret_key: "secret".into(),
        bucket: "audio".into(),
    };
    let config = S3Config {
        timeout_ms: 500,
        ..config(&endpoint)
    };
    let sdk = sdk_config(&endpoint);
    let connecting = S3Store::from_sdk_config(&config, &sdk);
    let result = tokio::time::timeout(Duration::from_secs(5), connecting)
        .await
        .expect("gives up within its timeout");
    match result {
        Err(S3Error::Unreachable { retry, message, .. }) => {
            assert_eq!(retry, Retry::Transient, "{message}");
        }
        other => panic!("expected an unreachable store, got {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_bucket_is_refused_at_connect() {
    let garage = Garage::start(&["audio"]);
    let config = S3Config {
        bucket: "no-such-bucket".into(),
        tagging: TaggingMode::Off,
        ..config(garage.endpoint())
    };
    let error = S3Store::from_sdk_config(&config, &sdk_config(garage.endpoint()))
        .await
        .expect_err("no bucket");
    match &error {
        S3Error::Unreachable { retry, .. } => assert_eq!(*retry, Retry::Blocked, "{error}"),
        other => panic!("expected an unreachable bucket, got {other:?}"),
    }
    assert!(error.to_string().contains("no-such-bucket"), "{error}");
}

#[tokio::test]
async fn on_moto_a_refused_version_delete_counts_as_locked_only_where_the_bucket_has_object_lock() {
    let moto = Moto::start("audio");
    let versioned = moto.endpoint().new_bucket("versioned", false).await;
    versioned.enable_versioning().await;
    let locked = moto.endpoint().new_bucket("locked", true).await;
    // without Object Lock nothing can keep a version: a refused delete there is the
    // credentials (s3:DeleteObjectVersion), to be fixed, not a lock to be reported
    let versioned = connect(&versioned).await.capabilities();
    assert!(
        versioned.versioning && !versioned.object_lock,
        "{versioned:?}"
    );
    let locked = connect(&locked).await.capabilities();
    assert!(locked.versioning && locked.object_lock, "{locked:?}");
    let plain = connect(moto.endpoint()).await.capabilities();
    assert!(!plain.versioning && !plain.object_lock, "{plain:?}");
}
