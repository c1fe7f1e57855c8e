//! The contract suites of the ports. Every adapter's tests call these with a fresh instance;
//! a broken contract panics with what was expected.

use callscore_survey::RetentionClass;

use crate::DeadLetter;
use crate::failure::Stage;
use crate::layout::{Marker, Place};
use crate::ports::{AudioStore, EventSink, ObjectMeta, PutOutcome, RecordingSource, Retry};
use crate::pseudonym::hex;
use sha2::{Digest, Sha256};

fn meta(bytes: &[u8], recording: &str) -> ObjectMeta {
    ObjectMeta {
        tenant: "contract".into(),
        recording_id: recording.into(),
        retention_class: RetentionClass::Respondent,
        expires_on: Some(jiff::civil::date(2027, 3, 1)),
        sha256: hex(&Sha256::digest(bytes)),
        content_type: "audio/wav".into(),
        size: bytes.len() as u64,
    }
}

/// Checks the [`AudioStore`] contract on an empty store (or one whose `contract/` and
/// `_index/contract-…` prefixes are empty).
pub async fn audio_store(store: &impl AudioStore) {
    let caller = "ps-k1-0000000000000000000000000000000000000000000000000000000000000001";
    let place = Place::new("contract", RetentionClass::Respondent, Some(caller), "r1");
    let key = place.audio("wav");
    let bytes = b"RIFF fake audio for the contract".to_vec();
    let meta1 = meta(&bytes, "r1");

    assert_eq!(
        store.head(&key).await.expect("head"),
        None,
        "a fresh key has no object"
    );
    assert_eq!(store.get(&key).await.expect("get"), None);
    assert_eq!(
        store.put(&key, &bytes, &meta1).await.expect("put"),
        PutOutcome::Created
    );
    assert_eq!(
        store.head(&key).await.expect("head"),
        Some(meta1.clone()),
        "head returns the metadata put stored"
    );
    assert_eq!(
        store.get(&key).await.expect("get"),
        Some(bytes.clone()),
        "get returns the bytes"
    );
    assert_eq!(
        store.put(&key, &bytes, &meta1).await.expect("second put"),
        PutOutcome::AlreadyStored,
        "the same bytes again are recognised, not rewritten"
    );
    let other = b"other bytes".to_vec();
    let refused = store
        .put(&key, &other, &meta(&other, "r1"))
        .await
        .expect_err("other bytes under an existing key are refused");
    assert_eq!(refused.retry, Retry::Permanent);
    assert_eq!(
        store.head(&key).await.expect("head").map(|m| m.sha256),
        Some(meta1.sha256.clone()),
        "a refused put leaves the object as it was"
    );
    let record = place.record();
    store
        .replace(&record, &other, &meta(&other, "r1"))
        .await
        .expect("replace writes");
    store
        .replace(&record, &bytes, &meta1)
        .await
        .expect("replace writes over what is there");
    assert_eq!(store.get(&record).await.expect("get"), Some(bytes.clone()));

    let place2 = Place::new(
        "contract",
        RetentionClass::NonRespondent,
        Some(caller),
        "r2",
    );
    let key2 = place2.audio("wav");
    let withheld = Place::new("contract", RetentionClass::Respondent, None, "r3").audio("wav");
    for (k, id) in [(&key2, "r2"), (&withheld, "r3")] {
        store.put(k, &bytes, &meta(&bytes, id)).await.expect("put");
    }
    let mut of_caller = Vec::new();
    for prefix in Place::caller_prefixes("contract", caller) {
        of_caller.extend(store.list(&prefix).await.expect("list"));
    }
    of_caller.sort();
    let mut expected = vec![key.clone(), record.clone(), key2.clone()];
    expected.sort();
    assert_eq!(
        of_caller, expected,
        "a caller's prefixes hold exactly their objects"
    );
    let all = store.list("contract/").await.expect("list");
    assert_eq!(all.len(), 4);
    assert!(all.windows(2).all(|w| w[0] < w[1]), "list is in key order");
    let page = store
        .list_after("contract/", None, 2)
        .await
        .expect("a page");
    assert_eq!(page, all[..2].to_vec(), "a page is the first keys");
    let rest = store
        .list_after("contract/", page.last(), 10)
        .await
        .expect("the next page");
    assert_eq!(
        rest,
        all[2..].to_vec(),
        "the next page starts after the last key"
    );
    assert_eq!(
        store.children("contract/").await.expect("children"),
        vec!["non_respondent".to_string(), "respondent".to_string()]
    );

    let markers = Marker::of(&place, "call-1", Some(jiff::civil::date(2027, 3, 1)));
    for marker in &markers {
        store.mark(&marker.key()).await.expect("mark");
        store
            .mark(&marker.key())
            .await
            .expect("marking again succeeds");
    }
    let found = store
        .list(&Marker::recording("contract", "r1"))
        .await
        .expect("list");
    assert_eq!(found.len(), 1);
    assert_eq!(Marker::parse(&found[0]).as_ref(), Some(&markers[1]));
    assert!(
        store
            .children(&Marker::expiry_tenants())
            .await
            .expect("children")
            .contains(&"contract".to_string())
    );

    for k in [&key, &record, &key2, &withheld] {
        let deleted = store.delete(k).await.expect("delete");
        assert!(deleted.versions >= 1 && deleted.locked == 0, "{deleted:?}");
        assert_eq!(store.head(k).await.expect("head"), None, "deleted");
    }
    for marker in &markers {
        store.delete(&marker.key()).await.expect("delete a marker");
    }
    store
        .delete(&key)
        .await
        .expect("deleting what is gone succeeds");
    assert!(store.list("contract/").await.expect("list").is_empty());
    assert!(
        store
            .list(&Marker::recording("contract", "r1"))
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        store.uri(&key).contains("r1/audio.wav"),
        "the URI names the object"
    );
}

/// Checks the [`EventSink`] contract: publishes succeed and `read_back` (the adapter's own way
/// of reading what it wrote) returns every event in order, each under its `event_id` as key.
pub async fn event_sink<S: EventSink>(
    sink: &S,
    read_back: impl Fn(&S) -> Vec<(Option<String>, serde_json::Value)>,
) {
    let events: Vec<serde_json::Value> = (0..3)
        .map(
            |i| serde_json::json!({ "event_id": format!("e{i}"), "call_id": "call-1", "value": i }),
        )
        .collect();
    sink.publish(&events[..2]).await.expect("publish");
    sink.publish(&events[2..]).await.expect("publish");
    let published = read_back(sink);
    let values: Vec<serde_json::Value> = published.iter().map(|(_, v)| v.clone()).collect();
    assert_eq!(values, events, "every event, in order");
    for (key, value) in &published {
        if let Some(key) = key {
            assert_eq!(
                Some(key.as_str()),
                value["event_id"].as_str(),
                "one key per fact: the event id, never the call id"
            );
        }
    }
}

/// Checks the [`RecordingSource`] contract on a source holding `inputs`: drained, every input
/// comes out exactly once (as a recording or a rejection), rejections are dead-lettered and
/// acknowledged, acknowledgements succeed, and the end stays the end. Returns how many were
/// rejected.
pub async fn recording_source<S: RecordingSource>(source: &S, inputs: &[String]) -> usize {
    let mut seen = Vec::new();
    let mut rejected = 0;
    while let Some(taken) = source.next().await {
        match taken.item {
            Ok(received) => {
                seen.push(received.input.clone());
            }
            Err(rejection) => {
                assert!(
                    rejection.failure.stage == Stage::Intake,
                    "a rejection happens at intake"
                );
                let letter = DeadLetter::new(
                    &rejection.input,
                    rejection.metadata.as_deref(),
                    &rejection.failure,
                    jiff::Timestamp::UNIX_EPOCH,
                );
                source
                    .reject(&taken.receipt, &letter, None)
                    .await
                    .expect("dead-lettering a rejected input");
                seen.push(rejection.input.clone());
                rejected += 1;
            }
        }
        source
            .ack(taken.receipt)
            .await
            .expect("acknowledging a finished input");
    }
    assert!(source.next().await.is_none(), "the end stays the end");
    seen.sort();
    let mut expected = inputs.to_vec();
    expected.sort();
    assert_eq!(seen, expected, "every input exactly once");
    rejected
}
