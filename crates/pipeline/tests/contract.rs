//! The port contracts, run against every adapter this crate has. (The S3 and Kafka adapters
//! run the same suites in their own crates, against real servers.)

use std::io::Write;
use std::sync::{Arc, Mutex};

use callscore_pipeline::{
    DeadLetter, FileDefaults, FileSource, LocalStore, MemorySink, MemoryStore, NdjsonSink, contract,
};

#[test]
fn the_local_directory_store_keeps_the_store_contract() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = LocalStore::open(dir.path()).expect("opens");
    pollster::block_on(contract::audio_store(&store));
}

#[test]
fn the_memory_store_keeps_the_store_contract() {
    pollster::block_on(contract::audio_store(&MemoryStore::default()));
}

#[test]
fn the_memory_sink_keeps_the_sink_contract() {
    pollster::block_on(contract::event_sink(&MemorySink::default(), |sink| {
        sink.events()
            .into_iter()
            .map(|(key, e)| (Some(key), e))
            .collect()
    }));
}

/// A writer whose bytes the test can read while the sink still owns it.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn lines<T: serde::de::DeserializeOwned>(&self) -> Vec<T> {
        let bytes = self.0.lock().expect("not poisoned").clone();
        String::from_utf8(bytes)
            .expect("UTF-8")
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect()
    }
}

#[test]
fn the_ndjson_sink_keeps_the_sink_contract() {
    let events = Shared::default();
    let sink = NdjsonSink::new(events.clone());
    pollster::block_on(contract::event_sink(&sink, |_| {
        // a file has no keys: each line is its event
        events
            .lines::<serde_json::Value>()
            .into_iter()
            .map(|e| (None, e))
            .collect()
    }));
}

#[test]
fn a_store_that_breaks_the_contract_is_caught() {
    use callscore_pipeline::{AudioStore, Deleted, ObjectKey, ObjectMeta, PutOutcome, StoreError};
    // a store that overwrites instead of refusing other bytes must fail the suite
    struct Overwriting(MemoryStore);
    impl AudioStore for Overwriting {
        async fn put(
            &self,
            key: &ObjectKey,
            bytes: &[u8],
            meta: &ObjectMeta,
        ) -> Result<PutOutcome, StoreError> {
            self.0.replace(key, bytes, meta).await?;
            Ok(PutOutcome::Created)
        }
        async fn replace(
            &self,
            key: &ObjectKey,
            bytes: &[u8],
            meta: &ObjectMeta,
        ) -> Result<(), StoreError> {
            self.0.replace(key, bytes, meta).await
        }
        async fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, StoreError> {
            self.0.get(key).await
        }
        async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StoreError> {
            self.0.head(key).await
        }
        async fn mark(&self, key: &ObjectKey) -> Result<(), StoreError> {
            self.0.mark(key).await
        }
        async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StoreError> {
            self.0.list(prefix).await
        }
        async fn list_after(
            &self,
            prefix: &str,
            after: Option<&ObjectKey>,
            limit: usize,
        ) -> Result<Vec<ObjectKey>, StoreError> {
            self.0.list_after(prefix, after, limit).await
        }
        async fn children(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
            self.0.children(prefix).await
        }
        async fn delete(&self, key: &ObjectKey) -> Result<Deleted, StoreError> {
            self.0.delete(key).await
        }
        fn uri(&self, key: &ObjectKey) -> String {
            self.0.uri(key)
        }
    }
    let result = std::panic::catch_unwind(|| {
        pollster::block_on(contract::audio_store(&Overwriting(MemoryStore::default())));
    });
    assert!(
        result.is_err(),
        "the contract suite accepted an overwriting store"
    );
}

#[test]
fn the_file_source_keeps_the_source_contract() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sidecar = r#"{"schema_version": 1, "recording_id": "r1", "call_id": "c1",
        "tenant": "acme", "survey_id": "s", "call_started_at": "2026-11-02T09:00:00Z"}"#;
    let files = [
        ("with-metadata.wav", Some(sidecar)),
        ("without-metadata.wav", None),
        ("broken-metadata.wav", Some("{\"schema_version\": 1")),
    ];
    let mut paths = Vec::new();
    for (name, metadata) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, b"RIFF").expect("writes");
        if let Some(metadata) = metadata {
            std::fs::write(path.with_extension("json"), metadata).expect("writes");
        }
        paths.push(path);
    }
    paths.push(dir.path().join("gone.wav"));
    let inputs: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    // without defaults, the file without metadata is rejected too
    let letters = Shared::default();
    let source = FileSource::new(
        paths.clone(),
        FileDefaults::default(),
        1 << 20,
        Box::new(letters.clone()),
    );
    let rejected = pollster::block_on(contract::recording_source(&source, &inputs));
    assert_eq!(rejected, 3);
    assert_eq!(
        source.acknowledged(),
        4,
        "rejected inputs are acknowledged too"
    );
    assert_eq!(source.rejected(), 3);
    let written: Vec<DeadLetter> = letters.lines();
    assert_eq!(written.len(), 3, "one dead letter per rejection");
    let defaults = FileDefaults {
        tenant: Some("acme".into()),
        survey_id: Some("s".into()),
    };
    let source = FileSource::new(paths, defaults, 1 << 20, Box::new(Shared::default()));
    assert_eq!(
        pollster::block_on(contract::recording_source(&source, &inputs)),
        2
    );
}
