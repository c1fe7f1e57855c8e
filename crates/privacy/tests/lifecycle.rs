//! The privacy lifecycle over the memory store: what the sweep deletes and what it keeps, a
//! hold released, keys destroyed, each audited.

use callscore_pipeline::audit::{AuditAction, AuditOrigin, MemoryAudit};
use callscore_pipeline::layout::{Marker, Place};
use callscore_pipeline::{
    AudioStore, Keyring, MemorySink, MemoryStore, ObjectMeta, RecordingRecord, RetentionConfig, hex,
};
use callscore_survey::RetentionClass;
use jiff::Span;
use jiff::civil::{Date, date};
use sha2::{Digest, Sha256};

fn origin(dry_run: bool) -> AuditOrigin {
    AuditOrigin::new("callscore test", "memory", b"", dry_run)
}

/// Stores a recording as the pipeline would: markers, audio, record.
fn store_recording(
    store: &MemoryStore,
    tenant: &str,
    class: RetentionClass,
    id: &str,
    expires_on: Option<Date>,
    after_hold: Option<(RetentionClass, Date)>,
) -> Place {
    pollster::block_on(async {
        let place = Place::new(tenant, class, Some(&format!("ps-k1-{:064x}", id.len())), id);
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
        let record = serde_json::json!({
            "schema_version": 1, "tenant": tenant, "recording_id": id, "call_id": format!("call-{id}"),
            "caller_pseudonym": null,
            "metadata": {"schema_version": 1, "recording_id": id, "call_id": format!("call-{id}"),
                "tenant": tenant, "survey_id": "s", "call_started_at": "2026-01-01T00:00:00Z"},
            "audio": {"key": place.audio("wav").to_string(), "uri": store.uri(&place.audio("wav")),
                "sha256": meta.sha256, "size": meta.size, "content_type": "audio/wav"},
            "retention": {"class": class, "expires_on": expires_on,
                "after_hold": after_hold.map(|(c, d)| serde_json::json!({"class": c, "expires_on": d}))},
            "events": [{"event_id": format!("e-{id}"), "retention": {"class": class, "expires_on": expires_on},
                "audio": {"uri": store.uri(&place.audio("wav"))},
                "comment": {"clip": {"uri": store.uri(&place.file("comment-why.opus"))}}}],
            "stored_at": "2026-01-01T00:00:00Z"
        });
        let record: RecordingRecord = serde_json::from_value(record).expect("a record");
        let bytes = serde_json::to_vec(&record).expect("JSON");
        store
            .replace(&place.record(), &bytes, &meta)
            .await
            .expect("stored");
        place
    })
}

#[test]
fn the_sweep_deletes_exactly_what_expired_and_audits_it() {
    let store = MemoryStore::default();
    let audit = MemoryAudit::default();
    let old = store_recording(
        &store,
        "acme",
        RetentionClass::NonRespondent,
        "r1",
        Some(date(2026, 3, 1)),
        None,
    );
    let due = store_recording(
        &store,
        "acme",
        RetentionClass::Respondent,
        "r2",
        Some(date(2026, 5, 31)),
        None,
    );
    let today_kept = store_recording(
        &store,
        "acme",
        RetentionClass::Respondent,
        "r3",
        Some(date(2026, 6, 1)),
        None,
    );
    let held = store_recording(
        &store,
        "acme",
        RetentionClass::LegalHold,
        "r4",
        None,
        Some((RetentionClass::Respondent, date(2026, 2, 1))),
    );
    let other = store_recording(
        &store,
        "globex",
        RetentionClass::NonRespondent,
        "r5",
        Some(date(2026, 1, 1)),
        None,
    );
    let tenants = vec!["acme".to_string()];

    // a dry run reports the same and changes nothing
    let before = store.len();
    let dry = pollster::block_on(callscore_privacy::sweep(
        &store,
        &audit,
        &origin(true),
        &tenants,
        date(2026, 6, 1),
    ))
    .expect("swept");
    assert_eq!(store.len(), before, "a dry run deletes nothing");
    assert_eq!(dry.total().recordings, 2);

    let report = pollster::block_on(callscore_privacy::sweep(
        &store,
        &audit,
        &origin(false),
        &tenants,
        date(2026, 6, 1),
    ))
    .expect("swept");
    assert_eq!(report.total().recordings, 2);
    assert_eq!(report.total().objects, 4, "audio and record of each");
    assert_eq!(report.tenants["acme"]["non_respondent"].recordings, 1);
    assert_eq!(report.tenants["acme"]["respondent"].recordings, 1);
    for gone in [&old, &due] {
        assert!(!pollster::block_on(callscore_privacy::exists(&store, gone)).expect("listed"));
        assert!(
            pollster::block_on(store.list(&Marker::recording("acme", &gone.recording_id)))
                .expect("listed")
                .is_empty(),
            "its markers are gone too"
        );
    }
    for kept in [&today_kept, &held, &other] {
        assert!(pollster::block_on(callscore_privacy::exists(&store, kept)).expect("listed"));
    }
    let records = audit.records();
    let swept: Vec<_> = records.iter().filter(|r| !r.dry_run).collect();
    assert_eq!(swept.len(), 2, "one record per tenant and class: {swept:?}");
    assert!(
        swept.iter().all(|r| r.action == AuditAction::RetentionSweep
            && r.recordings == 1
            && r.objects == 2)
    );
    // a second sweep finds nothing, and says so
    let again = pollster::block_on(callscore_privacy::sweep(
        &store,
        &audit,
        &origin(false),
        &tenants,
        date(2026, 6, 1),
    ))
    .expect("swept");
    assert_eq!(again.total().recordings, 0);
    assert!(
        audit
            .records()
            .last()
            .is_some_and(|r| r.reason.contains("nothing due"))
    );
}

/// Recording r1 of acme, under a legal hold, a respondent until `until` after it.
fn held_recording(store: &MemoryStore, until: Date) -> Place {
    store_recording(
        store,
        "acme",
        RetentionClass::LegalHold,
        "r1",
        None,
        Some((RetentionClass::Respondent, until)),
    )
}

#[test]
fn a_released_hold_takes_its_normal_class_and_expiry_and_is_then_swept() {
    let (store, audit, sink) = (
        MemoryStore::default(),
        MemoryAudit::default(),
        MemorySink::default(),
    );
    let held = held_recording(&store, date(2026, 2, 1));
    let tenants = vec!["acme".to_string()];
    // held: never swept, however late
    let report = pollster::block_on(callscore_privacy::sweep(
        &store,
        &audit,
        &origin(false),
        &tenants,
        date(2030, 1, 1),
    ))
    .expect("swept");
    assert_eq!(report.total().recordings, 0);

    let refused = pollster::block_on(callscore_privacy::release_hold(
        &store,
        &audit,
        &sink,
        &origin(false),
        "acme",
        "nope",
        date(2026, 6, 1),
    ));
    assert!(matches!(
        refused,
        Err(callscore_privacy::PrivacyError::Refused(_))
    ));
    let released = pollster::block_on(callscore_privacy::release_hold(
        &store,
        &audit,
        &sink,
        &origin(false),
        "acme",
        "r1",
        date(2026, 6, 1),
    ))
    .expect("released");
    assert_eq!(released.class, "respondent");
    assert!(released.expired, "its normal expiry has passed");
    assert!(!pollster::block_on(callscore_privacy::exists(&store, &held)).expect("listed"));
    let moved = held.in_class(RetentionClass::Respondent);
    assert!(pollster::block_on(callscore_privacy::exists(&store, &moved)).expect("listed"));
    let events = sink.events();
    assert_eq!(events.len(), 1, "its events published again");
    assert_eq!(events[0].1["retention"]["class"], "respondent");
    assert!(
        events[0].1["audio"]["uri"]
            .as_str()
            .expect("a URI")
            .contains("/respondent/")
    );
    assert_eq!(
        events[0].1["comment"]["clip"]["uri"],
        store.uri(&moved.file("comment-why.opus")),
        "the comment's clip moved with the audio"
    );
    // now the sweep deletes it
    let report = pollster::block_on(callscore_privacy::sweep(
        &store,
        &audit,
        &origin(false),
        &tenants,
        date(2026, 6, 1),
    ))
    .expect("swept");
    assert_eq!(report.total().recordings, 1);
    assert!(!pollster::block_on(callscore_privacy::exists(&store, &moved)).expect("listed"));
    assert!(
        audit
            .records()
            .iter()
            .any(|r| r.action == AuditAction::HoldRelease)
    );
}

#[test]
fn keys_are_destroyed_once_their_data_may_no_longer_be_kept_unless_held() {
    let dir = tempfile::tempdir().expect("a directory");
    let ring = Keyring::open(dir.path()).expect("a keyring");
    let month = Span::new().months(1);
    for (tenant, days) in [
        ("acme", [date(2026, 1, 1), date(2026, 2, 1)]),
        ("globex", [date(2026, 1, 1), date(2026, 2, 1)]),
    ] {
        for day in days {
            ring.rotate(tenant, day, month).expect("rotated");
        }
    }
    let store = MemoryStore::default();
    // a held recording of globex under its first key
    let held = Place::new(
        "globex",
        RetentionClass::LegalHold,
        Some(&format!("ps-k20260101-{:064x}", 1)),
        "r1",
    );
    pollster::block_on(store.mark(&held.file("audio.wav"))).expect("stored");
    let audit = MemoryAudit::default();
    let mut retention = RetentionConfig::default();
    retention.validate().expect("valid");
    // the longest retention is 24 months after retirement on 2026-01-31
    let early = pollster::block_on(callscore_privacy::destroy_keys(
        &store,
        &ring,
        &audit,
        &origin(false),
        &retention,
        date(2028, 1, 31),
    ))
    .expect("checked");
    assert!(early.destroyed.is_empty() && early.kept_for_holds.is_empty());
    let report = pollster::block_on(callscore_privacy::destroy_keys(
        &store,
        &ring,
        &audit,
        &origin(false),
        &retention,
        date(2028, 2, 1),
    ))
    .expect("destroyed");
    assert_eq!(report.destroyed, vec!["acme/k20260101".to_string()]);
    assert_eq!(report.kept_for_holds, vec!["globex/k20260101".to_string()]);
    assert_eq!(ring.held("acme").len(), 1);
    assert_eq!(ring.held("globex").len(), 2);
    assert!(
        audit
            .records()
            .iter()
            .any(|r| r.action == AuditAction::KeyDestroyed
                && r.subject.as_deref() == Some("key k20260101"))
    );
}

#[test]
fn an_expiry_marker_the_sweep_cannot_read_is_reported_not_passed_over() {
    let store = MemoryStore::default();
    let audit = MemoryAudit::default();
    let due = store_recording(
        &store,
        "acme",
        RetentionClass::Respondent,
        "r1",
        Some(date(2026, 3, 1)),
        None,
    );
    // a marker of a class this version does not know (written by a later one, say), due
    let unknown = "_index/expires/acme/2026-02-01/survey_panel/ps-x/r9/call-r9";
    let unknown = callscore_pipeline::ObjectKey::parse(unknown).expect("a key");
    pollster::block_on(store.mark(&unknown)).expect("marked");
    let report = pollster::block_on(callscore_privacy::sweep(
        &store,
        &audit,
        &origin(false),
        &["acme".to_string()],
        date(2026, 6, 1),
    ))
    .expect("swept");
    assert_eq!(report.total().recordings, 1, "{report:?}");
    assert!(
        pollster::block_on(store.list(&due.prefix()))
            .expect("listed")
            .is_empty(),
        "what it could read it swept"
    );
    assert_eq!(
        report.unreadable_markers,
        vec![unknown.to_string()],
        "{report:?}"
    );
}

#[test]
fn an_export_still_being_written_is_kept_by_its_files_expiry_until_its_day() {
    use callscore_privacy::Bundle;
    let store = MemoryStore::default();
    // an export asked for by message, its files written, its manifest (written last) not yet
    let bundle = callscore_privacy::StoreBundle::new(&store, "acme", "r-1", date(2026, 6, 8));
    pollster::block_on(bundle.write("recordings/r1/audio.wav", b"audio")).expect("written");
    let sweep = |today| {
        pollster::block_on(callscore_privacy::sweep_exports(&store, "acme", today)).expect("swept")
    };
    assert_eq!(sweep(date(2026, 6, 1)), 0, "kept while it is written");
    assert_eq!(store.len(), 1);
    assert_eq!(
        sweep(date(2026, 6, 9)),
        1,
        "gone after its day, manifest or not"
    );
    assert_eq!(store.len(), 0);
}

#[test]
fn a_key_is_kept_while_a_recording_under_it_is_stored_whatever_the_retention_says_now() {
    let dir = tempfile::tempdir().expect("a directory");
    let ring = Keyring::open(dir.path()).expect("a keyring");
    let month = Span::new().months(1);
    for day in [date(2026, 1, 1), date(2026, 2, 1)] {
        ring.rotate("acme", day, month).expect("rotated");
    }
    // stored under the first key with the 36 months a retention configured then gave it; the
    // retention configured now (the default, 24 months) makes the key due on 2028-02-01
    let store = MemoryStore::default();
    let kept = Place::new(
        "acme",
        RetentionClass::Respondent,
        Some(&format!("ps-k20260101-{:064x}", 1)),
        "r1",
    );
    let expires_on = date(2029, 1, 31);
    for marker in Marker::of(&kept, "call-r1", Some(expires_on)) {
        pollster::block_on(store.mark(&marker.key())).expect("marked");
    }
    pollster::block_on(store.mark(&kept.file("audio.wav"))).expect("stored");
    let audit = MemoryAudit::default();
    let mut retention = RetentionConfig::default();
    retention.validate().expect("valid");
    let destroy = |today| {
        pollster::block_on(callscore_privacy::destroy_keys(
            &store,
            &ring,
            &audit,
            &origin(false),
            &retention,
            today,
        ))
        .expect("checked")
    };
    let report = destroy(date(2028, 2, 1));
    assert_eq!(
        report.destroyed,
        Vec::<String>::new(),
        "its recording could no longer be found by the caller's number"
    );
    assert_eq!(
        report.kept_for_recordings,
        vec!["acme/k20260101".to_string()]
    );
    assert_eq!(ring.held("acme").len(), 2);
    // the sweep deletes the recording on its day; then the key goes
    pollster::block_on(callscore_privacy::sweep(
        &store,
        &audit,
        &origin(false),
        &["acme".to_string()],
        expires_on.tomorrow().expect("a day"),
    ))
    .expect("swept");
    let report = destroy(expires_on.tomorrow().expect("a day"));
    assert_eq!(report.destroyed, vec!["acme/k20260101".to_string()]);
}

#[test]
fn a_released_hold_hands_its_comments_on_again_with_the_retention_they_now_have() {
    let (store, audit, sink) = (
        MemoryStore::default(),
        MemoryAudit::default(),
        MemorySink::default(),
    );
    let held = held_recording(&store, date(2027, 2, 1));
    // the record's events: the fixtures' comment score event, as it was published under the
    // hold (a transcriber was told its transcript may be kept as long as the hold lasts)
    let golden = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/recordings/events.golden.ndjson"),
    )
    .expect("the golden events");
    let mut comment: serde_json::Value = golden
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("JSON"))
        .find(|e| e["comment"]["transcription_request_id"].is_string())
        .expect("a comment with a transcription request");
    comment["retention"] = serde_json::json!({"class": "legal_hold", "expires_on": null});
    // the golden file leaves out the times of processing
    for field in ["received_at", "processed_at"] {
        comment[field] = serde_json::json!("2026-06-01T00:00:00Z");
    }
    let request_id = comment["comment"]["transcription_request_id"].clone();
    let mut record: RecordingRecord = serde_json::from_slice(
        &pollster::block_on(store.get(&held.record()))
            .expect("read")
            .expect("a record"),
    )
    .expect("a record");
    record.events = vec![comment];
    let meta = pollster::block_on(store.head(&held.record()))
        .expect("read")
        .expect("there");
    pollster::block_on(store.replace(
        &held.record(),
        &serde_json::to_vec(&record).expect("JSON"),
        &meta,
    ))
    .expect("stored");

    pollster::block_on(callscore_privacy::release_hold(
        &store,
        &audit,
        &sink,
        &origin(false),
        "acme",
        "r1",
        date(2026, 6, 1),
    ))
    .expect("released");
    let requests = sink.transcriptions();
    let [(key, request)] = &requests[..] else {
        panic!("one transcription request made again: {requests:?}")
    };
    assert_eq!(serde_json::json!(key), request_id, "under the same id");
    assert_eq!(
        request["retention"],
        serde_json::json!({"class": "respondent", "expires_on": "2027-02-01"}),
        "{request}"
    );
    assert!(
        request["clip"]["uri"]
            .as_str()
            .expect("a URI")
            .contains("/respondent/"),
        "{request}"
    );
}

/// The markers that find a recording are written before any of its objects: a recording whose
/// audio was stored and whose comment clip could then never be (a permanent failure: it is
/// dead-lettered, never delivered again) is still found by its id, and deleted by the sweep
/// the day after its expiry day. Were the markers written after the recording's objects, the
/// failure in between would leave audio that no sweep or erasure ever finds.
#[test]
fn a_recording_stored_in_part_and_dead_lettered_is_still_found_and_swept() {
    use callscore_worker::testing::{Fault, Faulty};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let text = std::fs::read_to_string(root.join("surveys/nps-comment.toml")).expect("survey");
    let survey = callscore_survey::Survey::from_toml(&text).expect("a valid survey");
    let pipeline = callscore_pipeline::Pipeline::new(callscore_pipeline::Settings {
        surveys: std::collections::HashMap::from([(survey.id().to_string(), survey)]),
        pseudonyms: callscore_pipeline::Pseudonyms::fixed(
            callscore_pipeline::PseudonymKey::new("k1", vec![7; 32]).expect("a key"),
        ),
        retention: RetentionConfig::default(),
        decode: Default::default(),
        extended_keys: true,
        pipeline_version: "test".into(),
        prompts: Default::default(),
    });
    let metadata = callscore_pipeline::RecordingMetadata::from_json(
        &std::fs::read(root.join("recordings/nps8-comment.json")).expect("metadata"),
    )
    .expect("valid metadata");
    let id = metadata.recording_id.clone();
    let incoming = callscore_pipeline::Incoming {
        input: "memory/nps8-comment".into(),
        metadata,
        audio: std::sync::Arc::from(
            std::fs::read(root.join("recordings/nps8-comment.wav"))
                .expect("audio")
                .as_slice(),
        ),
        extension: Some("wav".into()),
        received_at: jiff::Timestamp::UNIX_EPOCH,
    };
    pollster::block_on(async {
        let analysis = pipeline.analyse(incoming).expect("analysed");
        assert!(!analysis.clips.is_empty(), "the caller left a comment");
        let expires_on = analysis.retention.expires_on.expect("an expiry day");
        let store = Faulty::new(MemoryStore::default());
        // the audio's put passes, the clip's fails for good
        store.script_for(
            &id,
            [
                Fault::Delay(std::time::Duration::ZERO),
                Fault::Fail(callscore_pipeline::Retry::Permanent),
            ],
        );
        let failure = pipeline
            .deliver(
                analysis,
                &store,
                &MemorySink::default(),
                jiff::Timestamp::now(),
            )
            .await
            .expect_err("the clip is refused for good");
        assert_eq!(failure.retry, callscore_pipeline::Retry::Permanent);
        let store = store.inner();
        let stored = store.list("acme/").await.expect("listed");
        assert!(
            stored.iter().any(|k| k.as_str().ends_with("/audio.wav")),
            "{stored:?}"
        );
        assert!(
            !store
                .list(&Marker::recording("acme", &id))
                .await
                .expect("listed")
                .is_empty(),
            "found by its id"
        );

        let swept = callscore_privacy::sweep(
            store,
            &MemoryAudit::default(),
            &origin(false),
            &["acme".to_string()],
            expires_on.tomorrow().expect("a day after"),
        )
        .await
        .expect("swept");
        assert_eq!(swept.total().recordings, 1);
        let left = store.list("acme/").await.expect("listed");
        assert!(left.is_empty(), "{left:?}");
    });
}
