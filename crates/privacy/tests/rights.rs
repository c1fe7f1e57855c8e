//! A caller's rights over the memory store: erasure (by number across a key rotation, by
//! call, by recording, a whole tenant; resumed after a crash), export (the same bundle every
//! time), consent withdrawn.

use std::collections::HashMap;
use std::sync::Arc;

use callscore_pipeline::audit::{AuditAction, AuditOrigin, MemoryAudit};
use callscore_pipeline::layout::{Marker, Place};
use callscore_pipeline::{
    AfterHold, AudioStore, Keyring, MemorySink, MemoryStore, ObjectKey, ObjectMeta, Pseudonyms,
    RecordingRecord, RetentionConfig, Retry, hex,
};
use callscore_privacy::{DirectoryBundle, Selector, Subject};
use callscore_survey::RetentionClass;
use callscore_worker::testing::{Fault, Faulty};
use jiff::Span;
use jiff::civil::date;
use sha2::{Digest, Sha256};

fn origin() -> AuditOrigin {
    AuditOrigin::new("callscore test", "memory", b"", false)
}

/// A recording of `caller` (a pseudonym) stored as the pipeline stores it, with its events
/// published to `sink` (and a contact request when consented).
async fn store_recording(
    store: &impl AudioStore,
    sink: &MemorySink,
    tenant: &str,
    class: RetentionClass,
    caller: Option<&str>,
    id: &str,
) -> Place {
    let place = Place::new(tenant, class, caller, id);
    let expires_on = (class != RetentionClass::LegalHold).then(|| date(2027, 6, 1));
    for marker in Marker::of(&place, &format!("call-{id}"), expires_on) {
        store.mark(&marker.key()).await.expect("marked");
    }
    let audio = format!("audio of {id}").into_bytes();
    let meta = ObjectMeta {
        tenant: tenant.into(),
        recording_id: id.into(),
        retention_class: class,
        expires_on,
        sha256: hex(&Sha256::digest(&audio)),
        content_type: "audio/wav".into(),
        size: audio.len() as u64,
    };
    store
        .put(&place.audio("wav"), &audio, &meta)
        .await
        .expect("stored");
    let events: Vec<serde_json::Value> = ["q1", "response"]
        .iter()
        .map(|q| {
            serde_json::json!({"event_id": format!("{id}-{q}"), "recording_id": id,
            "retention": {"class": class, "expires_on": expires_on}, "audio": {"uri": "x"}})
        })
        .collect();
    sink.publish(&events).await.expect("published");
    let contact = (class == RetentionClass::ConsentedContact).then(|| format!("contact-{id}"));
    if let Some(request) = &contact {
        sink.contact(&[
            serde_json::json!({"request_id": request, "caller_number": "+31205550001"}),
        ])
        .await
        .expect("published");
    }
    let record = serde_json::json!({
        "schema_version": 1, "tenant": tenant, "recording_id": id, "call_id": format!("call-{id}"),
        "caller_pseudonym": caller,
        "metadata": {"schema_version": 1, "recording_id": id, "call_id": format!("call-{id}"),
            "tenant": tenant, "survey_id": "s", "call_started_at": "2026-06-01T00:00:00Z"},
        "audio": {"key": place.audio("wav").to_string(), "uri": "x", "sha256": meta.sha256,
            "size": meta.size, "content_type": "audio/wav"},
        "retention": {"class": class, "expires_on": expires_on, "after_hold": null},
        "events": events, "contact_request_id": contact,
        "stored_at": "2026-06-01T00:00:00Z"
    });
    let record: RecordingRecord = serde_json::from_value(record).expect("a record");
    store
        .replace(
            &place.record(),
            &serde_json::to_vec(&record).expect("JSON"),
            &meta,
        )
        .await
        .expect("stored");
    place
}

use callscore_pipeline::EventSink;

struct World {
    store: Arc<MemoryStore>,
    sink: MemorySink,
    audit: MemoryAudit,
    keys: Pseudonyms,
    number: &'static str,
    _dir: tempfile::TempDir,
}

/// acme: one caller (recordings under two keys, one consenting, one held), another caller,
/// a withheld call; globex: a caller.
async fn world() -> World {
    let dir = tempfile::tempdir().expect("a directory");
    let ring = Keyring::open(dir.path()).expect("a keyring");
    ring.rotate("acme", date(2026, 1, 1), Span::new().months(1))
        .expect("rotated");
    let january = ring.current("acme", date(2026, 1, 15)).expect("a key");
    ring.rotate("acme", date(2026, 2, 1), Span::new().months(1))
        .expect("rotated");
    let february = ring.current("acme", date(2026, 2, 15)).expect("a key");
    ring.rotate("globex", date(2026, 1, 1), Span::new().months(1))
        .expect("rotated");
    let number = "+31205550001";
    let w = World {
        store: Arc::new(MemoryStore::default()),
        sink: MemorySink::default(),
        audit: MemoryAudit::default(),
        keys: Pseudonyms::ring(ring),
        number,
        _dir: dir,
    };
    let (jan, feb) = (
        january.pseudonymize("acme", number),
        february.pseudonymize("acme", number),
    );
    let other = february.pseudonymize("acme", "+31205550002");
    let store = w.store.as_ref();
    store_recording(
        store,
        &w.sink,
        "acme",
        RetentionClass::Respondent,
        Some(&jan),
        "a1",
    )
    .await;
    store_recording(
        store,
        &w.sink,
        "acme",
        RetentionClass::ConsentedContact,
        Some(&feb),
        "a2",
    )
    .await;
    store_recording(
        store,
        &w.sink,
        "acme",
        RetentionClass::LegalHold,
        Some(&feb),
        "a3",
    )
    .await;
    store_recording(
        store,
        &w.sink,
        "acme",
        RetentionClass::Respondent,
        Some(&other),
        "b1",
    )
    .await;
    store_recording(
        store,
        &w.sink,
        "acme",
        RetentionClass::NonRespondent,
        None,
        "w1",
    )
    .await;
    store_recording(
        store,
        &w.sink,
        "globex",
        RetentionClass::Respondent,
        Some("ps-k20260101-00"),
        "g1",
    )
    .await;
    w
}

/// How many objects of recording `id` the tenant `acme`'s respondents hold.
async fn objects_of(store: &MemoryStore, id: &str) -> usize {
    store
        .list("acme/respondent/")
        .await
        .expect("listed")
        .iter()
        .filter(|k| k.as_str().contains(&format!("/{id}/")))
        .count()
}

/// Erases `subject` from `store` (the world's, or a view of it that fails as scripted) with
/// the world's sink, audit log and keys.
async fn erase_with(
    w: &World,
    store: &impl AudioStore,
    subject: &Subject,
) -> Result<callscore_privacy::ErasureReport, callscore_privacy::PrivacyError> {
    callscore_privacy::erase(store, &w.sink, &w.audit, &origin(), &w.keys, subject, None).await
}

/// Overwrites the object under `key` with `bytes`, its retention and metadata kept: what a
/// store holding a damaged object gives back.
async fn damage(store: &MemoryStore, key: &ObjectKey, bytes: &[u8]) {
    let meta = store.head(key).await.expect("read").expect("there");
    let meta = ObjectMeta {
        sha256: hex(&Sha256::digest(bytes)),
        size: bytes.len() as u64,
        ..meta
    };
    store.replace(key, bytes, &meta).await.expect("replaced");
}

/// An erasure of the world's caller that the store stops half-way: 12 reads find the
/// subject, then a1's objects and one of its markers go, and the next request fails.
async fn erase_interrupted(w: &World, subject: &Subject) {
    let faulty = Faulty::new(Arc::clone(&w.store));
    let mut script = vec![Fault::Delay(std::time::Duration::ZERO); 16];
    script.push(Fault::Fail(Retry::Transient));
    faulty.script(script);
    let first = erase_with(w, &faulty, subject).await;
    assert!(first.is_err(), "interrupted");
}

fn ids(sink: &MemorySink) -> Vec<String> {
    sink.events().into_iter().map(|(k, _)| k).collect()
}

#[test]
fn erasing_a_caller_by_number_finds_them_under_every_key_and_keeps_the_hold() {
    pollster::block_on(async {
        let w = world().await;
        let subject = Subject {
            tenant: "acme".into(),
            selector: Selector::Caller(w.number.into()),
        };
        let report = erase_with(&w, &w.store, &subject).await.expect("erased");
        assert_eq!(
            report.recordings, 2,
            "a1 (January key) and a2 (February key)"
        );
        assert_eq!(report.held, vec!["a3".to_string()]);
        assert_eq!(report.events, 4);
        assert_eq!(report.contacts, 1);
        let left = ids(&w.sink);
        assert!(
            !left
                .iter()
                .any(|k| k.starts_with("a1-") || k.starts_with("a2-")),
            "{left:?}"
        );
        assert!(
            left.iter().any(|k| k.starts_with("a3-")),
            "the held recording's facts stay"
        );
        assert!(
            left.iter().any(|k| k.starts_with("b1-")),
            "another caller's facts stay"
        );
        assert!(
            w.sink.contacts().is_empty(),
            "the contact request is retracted"
        );
        let erasure = left.last().expect("the erasure event");
        let event = w.sink.events().last().expect("an event").1.clone();
        assert_eq!(event["event_type"], "erasure");
        assert_eq!(&report.erasure_id, erasure);
        assert_eq!(event["recording_ids"], serde_json::json!(["a1", "a2"]));
        assert_eq!(
            event["caller_pseudonyms"]
                .as_array()
                .expect("pseudonyms")
                .len(),
            2
        );
        assert!(
            !event.to_string().contains("31205550001"),
            "never the number"
        );
        for id in ["a1", "a2"] {
            assert!(
                w.store
                    .list(&Marker::recording("acme", id))
                    .await
                    .expect("listed")
                    .is_empty()
            );
        }
        assert!(
            !w.store
                .list(&Marker::recording("acme", "a3"))
                .await
                .expect("listed")
                .is_empty()
        );
        assert!(
            w.audit
                .records()
                .iter()
                .any(|r| r.action == AuditAction::Erasure && r.recordings == 2)
        );
        // again: nothing more to erase, the first run's answer, nothing announced over the
        // first erasure event
        let again = erase_with(&w, &w.store, &subject).await.expect("erased");
        assert_eq!((again.recordings, again.objects), (2, report.objects));
        assert!(again.finished_before.is_some());
        assert_eq!(&w.sink.events().last().expect("an event").0, erasure);
    });
}

#[test]
fn an_erasure_interrupted_half_way_ends_in_the_same_state_when_run_again() {
    pollster::block_on(async {
        let w = world().await;
        let subject = Subject {
            tenant: "acme".into(),
            selector: Selector::Caller(w.number.into()),
        };
        erase_interrupted(&w, &subject).await;
        assert!(
            w.store
                .list("acme/respondent/")
                .await
                .expect("listed")
                .iter()
                .all(|k| !k.as_str().contains("/a1/")),
            "a1's objects went before the interruption"
        );
        assert!(
            !w.store.list("_erasures/").await.expect("listed").is_empty(),
            "the journal stays"
        );
        let report = erase_with(&w, &w.store, &subject).await.expect("finished");
        let event = w.sink.events().last().expect("an event").1.clone();
        assert_eq!(event["event_type"], "erasure");
        assert_eq!(
            event["recording_ids"],
            serde_json::json!(["a1", "a2"]),
            "the journal kept what was found first"
        );
        assert_eq!(
            report.erasure_id,
            event["event_id"].as_str().expect("an id")
        );
        // the journal stays, finished, for a month; the sweep then deletes it
        let journals = w.store.list("_erasures/").await.expect("listed");
        let [journal] = &journals[..] else {
            panic!("one journal: {journals:?}")
        };
        let kept_until = w
            .store
            .head(journal)
            .await
            .expect("read")
            .expect("there")
            .expires_on
            .expect("a finished journal has a day");
        for (today, left) in [(kept_until, 1), (kept_until.tomorrow().expect("a day"), 0)] {
            callscore_privacy::sweep(
                w.store.as_ref(),
                &w.audit,
                &origin(),
                &["acme".to_string()],
                today,
            )
            .await
            .expect("swept");
            assert_eq!(
                w.store.list("_erasures/").await.expect("listed").len(),
                left,
                "swept on {today}"
            );
        }
        for prefix in ["acme/respondent/", "acme/consented_contact/"] {
            let left: Vec<_> = w.store.list(prefix).await.expect("listed");
            assert!(left.iter().all(|k| k.as_str().contains("/b1/")), "{left:?}");
        }
    });
}

#[test]
fn a_damaged_erasure_journal_stops_the_erasure_instead_of_being_forgotten() {
    pollster::block_on(async {
        let w = world().await;
        let subject = Subject {
            tenant: "acme".into(),
            selector: Selector::Caller(w.number.into()),
        };
        // interrupted after a1's objects went, as above: only the journal still names a1
        // and its events
        erase_interrupted(&w, &subject).await;
        let journals = w.store.list("_erasures/").await.expect("listed");
        let [journal] = &journals[..] else {
            panic!("one journal: {journals:?}")
        };
        damage(&w.store, journal, b"{\"recordings\": [[\"a1\"").await;
        let published = w.sink.events().len();
        let error = erase_with(&w, &w.store, &subject)
            .await
            .expect_err("a damaged journal stops it");
        assert!(
            matches!(error, callscore_privacy::PrivacyError::Damaged(_))
                && error.to_string().contains(journal.as_str()),
            "{error}"
        );
        assert_eq!(w.sink.events().len(), published, "nothing announced");
        assert_eq!(
            w.store.list("_erasures/").await.expect("listed"),
            journals,
            "the journal stays for an operator to look at"
        );
    });
}

#[test]
fn a_record_that_cannot_be_read_stops_the_erasure_instead_of_losing_its_events() {
    pollster::block_on(async {
        let w = world().await;
        let subject = Subject {
            tenant: "acme".into(),
            selector: Selector::Recording("a1".into()),
        };
        let stored = objects_of(&w.store, "a1").await;
        assert!(stored > 0, "a1 is stored");
        let published = w.sink.events().len();
        // the store fails the record's read (the marker listing passes): what names a1's
        // events must not be taken for missing
        let faulty = Faulty::new(Arc::clone(&w.store));
        faulty.script([
            Fault::Delay(std::time::Duration::ZERO),
            Fault::Fail(Retry::Transient),
        ]);
        let failed = erase_with(&w, &faulty, &subject).await;
        assert!(
            matches!(failed, Err(callscore_privacy::PrivacyError::Store(_))),
            "{failed:?}"
        );
        assert_eq!(objects_of(&w.store, "a1").await, stored, "nothing deleted");
        assert_eq!(w.sink.events().len(), published, "nothing announced");

        // a record that is there but damaged: an error naming it
        let record = w
            .store
            .list("acme/respondent/")
            .await
            .expect("listed")
            .into_iter()
            .find(|k| k.as_str().contains("/a1/") && k.as_str().ends_with("record.json"))
            .expect("a1's record");
        damage(&w.store, &record, b"{\"events\": [").await;
        let error = erase_with(&w, &w.store, &subject)
            .await
            .expect_err("a damaged record stops it");
        assert!(
            matches!(error, callscore_privacy::PrivacyError::Damaged(_))
                && error.to_string().contains("a1"),
            "{error}"
        );
        assert_eq!(objects_of(&w.store, "a1").await, stored, "nothing deleted");
        assert_eq!(w.sink.events().len(), published, "nothing announced");
    });
}

#[test]
fn erasing_by_call_and_by_recording_takes_only_those() {
    pollster::block_on(async {
        let w = world().await;
        for selector in [
            Selector::Call("call-b1".into()),
            Selector::Recording("w1".into()),
        ] {
            let subject = Subject {
                tenant: "acme".into(),
                selector,
            };
            let report = erase_with(&w, &w.store, &subject).await.expect("erased");
            assert_eq!(report.recordings, 1);
        }
        let left = ids(&w.sink);
        assert!(left.iter().any(|k| k.starts_with("a1-")));
        assert!(
            !left
                .iter()
                .any(|k| k.starts_with("b1-") || k.starts_with("w1-"))
        );
    });
}

#[test]
fn a_whole_tenant_is_destroyed_but_its_holds_and_the_other_tenants_data() {
    pollster::block_on(async {
        let w = world().await;
        let subject = Subject {
            tenant: "acme".into(),
            selector: Selector::Tenant,
        };
        let report = callscore_privacy::erase(
            &w.store,
            &w.sink,
            &w.audit,
            &origin(),
            &w.keys,
            &subject,
            Some("client-request-1"),
        )
        .await
        .expect("erased");
        assert_eq!(report.recordings, 4);
        assert_eq!(report.held, vec!["a3".to_string()]);
        let acme: Vec<String> = w
            .store
            .list("acme/")
            .await
            .expect("listed")
            .iter()
            .map(|k| k.to_string())
            .collect();
        assert!(acme.iter().all(|k| k.contains("/a3/")), "{acme:?}");
        assert!(!w.store.list("globex/").await.expect("listed").is_empty());
        // the key the held recording is under stays; the other is destroyed
        let Some(ring) = w.keys.keyring() else {
            unreachable!("a keyring")
        };
        assert_eq!(ring.held("acme").len(), 1);
        assert_eq!(report.keys_destroyed, vec!["acme/k20260101".to_string()]);
    });
}

#[test]
fn an_export_is_the_same_bundle_every_time_and_holds_no_number() {
    pollster::block_on(async {
        let w = world().await;
        let subject = Subject {
            tenant: "acme".into(),
            selector: Selector::Caller(w.number.into()),
        };
        let dirs = [
            tempfile::tempdir().expect("a dir"),
            tempfile::tempdir().expect("a dir"),
        ];
        for dir in &dirs {
            let bundle = DirectoryBundle::new(dir.path());
            let report = callscore_privacy::export(
                &w.store,
                &bundle,
                &w.audit,
                &origin(),
                &w.keys,
                &subject,
            )
            .await
            .expect("exported");
            assert_eq!(
                report.recordings, 3,
                "a1, a2 and the held a3: access covers held data"
            );
        }
        let read = |dir: &std::path::Path| {
            let mut files = HashMap::new();
            for entry in walk(dir) {
                files.insert(
                    entry.strip_prefix(dir).expect("inside").to_path_buf(),
                    std::fs::read(&entry).expect("reads"),
                );
            }
            files
        };
        let (first, second) = (read(dirs[0].path()), read(dirs[1].path()));
        assert_eq!(first, second, "the same bundle");
        assert!(first.contains_key(std::path::Path::new("manifest.json")));
        assert!(first.contains_key(std::path::Path::new("recordings/a2/audio.wav")));
        assert!(first.contains_key(std::path::Path::new("recordings/a2/events.json")));
        let text: String = first
            .values()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        assert!(!text.contains("31205550001"));
        assert!(
            w.audit
                .records()
                .iter()
                .any(|r| r.action == AuditAction::Export)
        );
    });
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("reads") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// acme's caller withdraws their consent, with the default retention.
async fn withdraw_caller(w: &World) -> callscore_privacy::WithdrawalReport {
    withdraw_caller_with(w, RetentionConfig::default()).await
}

/// acme's caller withdraws their consent, with `retention`.
async fn withdraw_caller_with(
    w: &World,
    mut retention: RetentionConfig,
) -> callscore_privacy::WithdrawalReport {
    let subject = Subject {
        tenant: "acme".into(),
        selector: Selector::Caller(w.number.into()),
    };
    retention.validate().expect("valid");
    callscore_privacy::withdraw_consent(
        &w.store,
        &w.sink,
        &w.audit,
        &origin(),
        &w.keys,
        &retention,
        &subject,
    )
    .await
    .expect("withdrawn")
}

#[test]
fn withdrawn_consent_retracts_the_contact_request_and_keeps_the_recording_as_a_respondent() {
    pollster::block_on(async {
        let w = world().await;
        let report = withdraw_caller(&w).await;
        assert_eq!((report.recordings, report.contact_requests), (1, 1));
        assert!(w.sink.contacts().is_empty());
        assert!(
            w.store
                .list("acme/consented_contact/")
                .await
                .expect("listed")
                .is_empty()
        );
        let moved = w
            .store
            .list(&Marker::recording("acme", "a2"))
            .await
            .expect("listed");
        assert!(moved[0].as_str().contains("/respondent/"), "{moved:?}");
        let republished: Vec<_> = w
            .sink
            .events()
            .into_iter()
            .filter(|(k, _)| k.starts_with("a2-"))
            .collect();
        assert!(
            republished
                .iter()
                .any(|(_, e)| e["retention"]["class"] == "respondent")
        );
        assert!(
            w.audit
                .records()
                .iter()
                .any(|r| r.action == AuditAction::ConsentWithdrawn)
        );
    });
}

#[test]
fn withdrawn_consent_reaches_a_held_recording_that_would_return_to_the_consent() {
    pollster::block_on(async {
        let w = world().await;
        // a3 is held; released, it would go back to consented_contact
        let held = w
            .store
            .list(&Marker::recording("acme", "a3"))
            .await
            .expect("listed");
        let record_key = Marker::parse(&held[0]).expect("a marker").place.record();
        let mut record: RecordingRecord = serde_json::from_slice(
            &w.store
                .get(&record_key)
                .await
                .expect("read")
                .expect("a record"),
        )
        .expect("a record");
        record.retention.after_hold = Some(AfterHold {
            class: RetentionClass::ConsentedContact,
            expires_on: date(2027, 6, 1),
        });
        let meta = w
            .store
            .head(&record_key)
            .await
            .expect("read")
            .expect("meta");
        w.store
            .replace(
                &record_key,
                &serde_json::to_vec(&record).expect("JSON"),
                &meta,
            )
            .await
            .expect("stored");

        let report = withdraw_caller(&w).await;
        assert_eq!(report.recordings, 2, "the consenting one and the held one");
        let record: RecordingRecord = serde_json::from_slice(
            &w.store
                .get(&record_key)
                .await
                .expect("read")
                .expect("a record"),
        )
        .expect("a record");
        assert_eq!(
            record.retention.class,
            RetentionClass::LegalHold,
            "still held"
        );
        let after = record.retention.after_hold.expect("what follows the hold");
        assert_eq!(after.class, RetentionClass::Respondent);
    });
}

#[test]
fn erasing_by_number_finds_a_key_another_process_created_since_the_keys_were_loaded() {
    pollster::block_on(async {
        let w = world().await;
        let Some(ring) = w.keys.keyring() else {
            unreachable!("a keyring")
        };
        // `serve`'s sweeper (another process) rotates acme's key after this one loaded its
        // keys, and a recording of the caller is stored under the new key
        let other = Keyring::open(ring.dir()).expect("the same keyring");
        other
            .rotate("acme", date(2026, 3, 1), Span::new().months(1))
            .expect("rotated");
        let march = other.current("acme", date(2026, 3, 15)).expect("a key");
        store_recording(
            w.store.as_ref(),
            &w.sink,
            "acme",
            RetentionClass::Respondent,
            Some(&march.pseudonymize("acme", w.number)),
            "a4",
        )
        .await;
        let subject = Subject {
            tenant: "acme".into(),
            selector: Selector::Caller(w.number.into()),
        };
        let report = erase_with(&w, &w.store, &subject).await.expect("erased");
        assert_eq!(report.recordings, 3, "a1, a2 and a4 under the new key");
        assert_eq!(objects_of(&w.store, "a4").await, 0, "a4 is erased");
    });
}

/// Exports `subject` into the store, as `serve-privacy` does for a request `id`.
async fn export_to_store(w: &World, subject: &Subject, id: &str) -> Vec<String> {
    let bundle =
        callscore_privacy::StoreBundle::new(w.store.as_ref(), "acme", id, date(2027, 1, 1));
    callscore_privacy::export(
        w.store.as_ref(),
        &bundle,
        &w.audit,
        &origin(),
        &w.keys,
        subject,
    )
    .await
    .expect("exported");
    w.store
        .list(&format!("_exports/acme/{id}/"))
        .await
        .expect("listed")
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn an_erasure_takes_the_exports_that_hold_the_erased_recordings_and_no_other() {
    pollster::block_on(async {
        let w = world().await;
        let caller = Subject {
            tenant: "acme".into(),
            selector: Selector::Caller(w.number.into()),
        };
        let other = Subject {
            tenant: "acme".into(),
            selector: Selector::Call("call-b1".into()),
        };
        let exported = export_to_store(&w, &caller, "r-export").await;
        assert!(
            exported.iter().any(|k| k.contains("/recordings/a1/")),
            "{exported:?}"
        );
        let kept = export_to_store(&w, &other, "r-other").await;
        assert!(!kept.is_empty());
        erase_with(&w, &w.store, &caller).await.expect("erased");
        assert_eq!(
            w.store
                .list("_exports/acme/r-export/")
                .await
                .expect("listed"),
            Vec::<ObjectKey>::new(),
            "the caller's export copies what was erased: it goes too"
        );
        assert_eq!(
            w.store
                .list("_exports/acme/r-other/")
                .await
                .expect("listed")
                .len(),
            kept.len(),
            "another subject's export stays"
        );
    });
}

#[test]
fn an_export_under_a_request_id_used_before_holds_only_what_it_exports_now() {
    pollster::block_on(async {
        let w = world().await;
        let caller = Subject {
            tenant: "acme".into(),
            selector: Selector::Caller(w.number.into()),
        };
        let first = export_to_store(&w, &caller, "r-again").await;
        assert!(first.iter().any(|k| k.contains("/recordings/a1/")));
        // a1 is erased (by recording: the export is not the caller's erasure), then the same
        // request is delivered again
        let a1 = Subject {
            tenant: "acme".into(),
            selector: Selector::Recording("a1".into()),
        };
        erase_with(&w, &w.store, &a1).await.expect("erased");
        let again = export_to_store(&w, &caller, "r-again").await;
        assert!(
            !again.iter().any(|k| k.contains("/recordings/a1/")),
            "{again:?}"
        );
        assert!(again.iter().any(|k| k.contains("/recordings/a2/")));
    });
}

#[test]
fn an_erasure_run_again_after_it_finished_answers_as_it_did_and_announces_nothing_over_it() {
    pollster::block_on(async {
        let w = world().await;
        for (selector, request) in [
            (Selector::Caller(w.number.into()), "request-1"),
            (Selector::Tenant, "request-2"),
        ] {
            let subject = Subject {
                tenant: "acme".into(),
                selector,
            };
            let origin = origin();
            let erase = || {
                callscore_privacy::erase(
                    w.store.as_ref(),
                    &w.sink,
                    &w.audit,
                    &origin,
                    &w.keys,
                    &subject,
                    Some(request),
                )
            };
            let first = erase().await.expect("erased");
            assert!(first.recordings > 0);
            let announced = w.sink.events().last().expect("an event").clone();
            assert_eq!(announced.1["event_type"], "erasure");
            // the request is delivered again: the same answer, marked as repeated, and the
            // erasure event on the (compacted) topic is not replaced by an empty one
            let again = erase().await.expect("answered");
            assert_eq!(again.recordings, first.recordings, "{again:?}");
            assert_eq!(again.events, first.events);
            assert!(again.finished_before.is_some(), "{again:?}");
            assert_eq!(
                w.sink.events().last(),
                Some(&announced),
                "nothing announced"
            );
        }
    });
}

#[test]
fn an_erasure_run_again_after_new_recordings_arrived_announces_them_with_the_first_ones() {
    pollster::block_on(async {
        let w = world().await;
        let subject = Subject {
            tenant: "acme".into(),
            selector: Selector::Caller(w.number.into()),
        };
        erase_with(&w, &w.store, &subject).await.expect("erased");
        let Some(ring) = w.keys.keyring() else {
            unreachable!("a keyring")
        };
        let february = ring.current("acme", date(2026, 2, 15)).expect("a key");
        store_recording(
            w.store.as_ref(),
            &w.sink,
            "acme",
            RetentionClass::Respondent,
            Some(&february.pseudonymize("acme", w.number)),
            "a5",
        )
        .await;
        let again = erase_with(&w, &w.store, &subject).await.expect("erased");
        assert_eq!(again.finished_before, None, "new work was done");
        let event = w.sink.events().last().expect("an event").1.clone();
        assert_eq!(event["event_type"], "erasure");
        assert_eq!(
            event["recording_ids"],
            serde_json::json!(["a1", "a2", "a5"]),
            "the event under the same id names everything erased under it"
        );
        assert_eq!(objects_of(&w.store, "a5").await, 0);
    });
}

#[test]
fn withdrawn_consent_never_keeps_a_recording_longer_than_the_consent_did() {
    pollster::block_on(async {
        let w = world().await;
        // respondents are kept 36 months here, longer than a2 (consented, call of 2026-06-01)
        // is kept: until 2027-06-01
        let mut retention = RetentionConfig::default();
        retention.default.respondent = Span::new().months(36);
        let report = withdraw_caller_with(&w, retention).await;
        assert_eq!(report.recordings, 1);
        let moved = w
            .store
            .list(&Marker::recording("acme", "a2"))
            .await
            .expect("listed");
        let place = Marker::parse(&moved[0]).expect("a marker").place;
        assert_eq!(place.class, RetentionClass::Respondent);
        let record: RecordingRecord = serde_json::from_slice(
            &w.store
                .get(&place.record())
                .await
                .expect("read")
                .expect("a record"),
        )
        .expect("a record");
        assert_eq!(
            record.retention.expires_on,
            Some(date(2027, 6, 1)),
            "the caller agreed to be kept until then, not longer"
        );
    });
}
