//! How many store requests the privacy operations make, by the size of the store: the retention
//! sweep's follow the expired recordings, and an erasure's the subject's recordings, not the
//! bucket.
//!
//! ```sh
//! cargo run --release -p callscore-benches --bin privacy-bench -- 100000
//! ```
//!
//! Fills a store (in memory, every request counted as the S3 adapter would make it) with
//! recordings laid out as the pipeline lays them out (markers, audio, record), spread over
//! two tenants and two years of expiry days, then sweeps at later and later days, and once
//! more over a store ten times smaller with as many recordings expired; then erases one caller,
//! one call and one recording from both stores.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use callscore_pipeline::audit::{AuditOrigin, MemoryAudit};
use callscore_pipeline::layout::{Marker, Place};
use callscore_pipeline::{
    AudioStore, MemorySink, MemoryStore, ObjectMeta, PseudonymKey, Pseudonyms,
};
use callscore_privacy::{Selector, Subject};
use callscore_survey::RetentionClass;
use callscore_worker::{Counted, Observer, StoreOperation, StoreResult};
use jiff::civil::{Date, date};

#[derive(Default)]
struct Requests(AtomicU64);

impl Observer for Requests {
    fn store_request(&self, _operation: StoreOperation, _result: StoreResult) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// The expiry day of recording `i` of `count`: spread evenly over two years from 2027-01-01.
fn expiry(i: usize, count: usize) -> Date {
    let day = i64::try_from(i * 730 / count).unwrap_or(0);
    date(2027, 1, 1)
        .checked_add(jiff::Span::new().days(day))
        .expect("a day")
}

async fn fill(store: &MemoryStore, count: usize) {
    for i in 0..count {
        let tenant = if i % 2 == 0 { "acme" } else { "globex" };
        let day = expiry(i, count);
        let caller = format!("ps-k1-{i:064x}");
        let place = Place::new(
            tenant,
            RetentionClass::Respondent,
            Some(&caller),
            &format!("r{i:07}"),
        );
        for marker in Marker::of(&place, &format!("c{i:07}"), Some(day)) {
            store.mark(&marker.key()).await.expect("marked");
        }
        let meta = ObjectMeta {
            tenant: tenant.into(),
            recording_id: place.recording_id.clone(),
            retention_class: RetentionClass::Respondent,
            expires_on: Some(day),
            sha256: "0".repeat(64),
            content_type: "audio/wav".into(),
            size: 1,
        };
        store
            .replace(&place.audio("wav"), b"a", &meta)
            .await
            .expect("stored");
        let record = record(&place, &format!("c{i:07}"), day);
        store
            .replace(&place.record(), &record, &meta)
            .await
            .expect("stored");
    }
}

/// A recording's record as the pipeline writes it (erasure reads it for the events to
/// retract), without events.
fn record(place: &Place, call_id: &str, expires_on: Date) -> Vec<u8> {
    let record = serde_json::json!({
        "schema_version": 1, "tenant": place.tenant, "recording_id": place.recording_id,
        "call_id": call_id, "caller_pseudonym": place.caller,
        "metadata": {"schema_version": 1, "recording_id": place.recording_id,
            "call_id": call_id, "tenant": place.tenant, "survey_id": "s",
            "call_started_at": "2026-01-01T00:00:00Z"},
        "audio": {"key": place.audio("wav").to_string(), "uri": "memory:///a", "sha256": "0".repeat(64),
            "size": 1, "content_type": "audio/wav"},
        "retention": {"class": "respondent", "expires_on": expires_on, "after_hold": null},
        "events": [], "contact_request_id": null, "stored_at": "2026-01-01T00:00:00Z"
    });
    serde_json::to_vec(&record).expect("JSON")
}

/// Sweeps `store` as on `today`: recordings deleted and requests made.
async fn sweep(store: &Arc<MemoryStore>, today: Date) -> (u64, u64) {
    let requests = Arc::new(Requests::default());
    let counted = Counted::new(Arc::clone(store), Arc::clone(&requests));
    let origin = AuditOrigin::new("privacy-bench", "memory", b"", false);
    let tenants = ["acme".to_string(), "globex".to_string()];
    let report =
        callscore_privacy::sweep(&counted, &MemoryAudit::default(), &origin, &tenants, today)
            .await
            .expect("swept");
    (
        report.total().recordings,
        requests.0.load(Ordering::Relaxed),
    )
}

/// Erases `selector` of tenant acme from `store`: recordings erased and requests made.
async fn erase(store: &Arc<MemoryStore>, selector: Selector) -> (u64, u64) {
    let requests = Arc::new(Requests::default());
    let counted = Counted::new(Arc::clone(store), Arc::clone(&requests));
    let origin = AuditOrigin::new("privacy-bench", "memory", b"", false);
    let key = PseudonymKey::new("k1", vec![7; 32]).expect("a key");
    let pseudonyms = Pseudonyms::fixed(key);
    let subject = Subject {
        tenant: "acme".into(),
        selector,
    };
    let report = callscore_privacy::erase(
        &counted,
        &MemorySink::default(),
        &MemoryAudit::default(),
        &origin,
        &pseudonyms,
        &subject,
        None,
    )
    .await
    .expect("erased");
    (report.recordings, requests.0.load(Ordering::Relaxed))
}

/// The caller of recording `i`, the call of recording `i - 2` and recording `i - 4` (three
/// recordings of acme), erased from `store`.
#[allow(clippy::print_stdout)]
async fn erasures(store: &Arc<MemoryStore>, size: usize, i: usize) {
    for (what, selector) in [
        ("a caller", Selector::Pseudonym(format!("ps-k1-{i:064x}"))),
        ("a call", Selector::Call(format!("c{:07}", i - 2))),
        ("a recording", Selector::Recording(format!("r{:07}", i - 4))),
    ] {
        let (erased, requests) = erase(store, selector).await;
        println!(
            "erasing {what} from a store of {size} recordings: {erased} erased with {requests} requests"
        );
    }
}

// a benchmark reports on standard output
#[allow(clippy::print_stdout)]
fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    pollster::block_on(async {
        let store = Arc::new(MemoryStore::default());
        fill(&store, count).await;
        println!(
            "retention sweep over a store of {count} recordings ({} objects and markers)",
            store.len()
        );
        println!(
            "{:>12} {:>10} {:>10} {:>22}",
            "sweep as of", "deleted", "requests", "requests per deleted"
        );
        let mut total = 0;
        for today in [
            date(2027, 1, 1),
            date(2027, 1, 2),
            date(2027, 1, 8),
            date(2027, 3, 1),
            date(2027, 7, 1),
        ] {
            let (deleted, requests) = sweep(&store, today).await;
            total += deleted;
            let per = if deleted == 0 {
                "-".to_string()
            } else {
                format!("{:.2}", requests as f64 / deleted as f64)
            };
            println!("{today:>12} {deleted:>10} {requests:>10} {per:>22}");
        }
        let small = Arc::new(MemoryStore::default());
        fill(&small, count / 10).await;
        // as many expired as the third sweep above deleted, in a store ten times smaller
        let (deleted, requests) = sweep(&small, date(2027, 3, 11)).await;
        println!(
            "a store of {} recordings: {deleted} deleted with {requests} requests ({:.2} per deleted)",
            count / 10,
            requests as f64 / deleted.max(1) as f64
        );
        println!("{total} recordings deleted in all");
        // recordings of acme (even numbers) that no sweep above reached
        erasures(&store, count, count - 2).await;
        erasures(&small, count / 10, count / 10 - 2).await;
    });
}
