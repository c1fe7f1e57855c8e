//! In-memory adapters: for unit tests and the contract suite, never as the proof of a real
//! adapter.

use std::collections::BTreeMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::ports::{
    AudioStore, Deleted, EventSink, ObjectKey, ObjectMeta, PutOutcome, SinkError, StoreError,
    Stream,
};
use crate::pseudonym::hex;

/// The objects of a [`MemoryStore`]: bytes and metadata (none for a marker), by key.
type Objects = BTreeMap<ObjectKey, (Vec<u8>, Option<ObjectMeta>)>;

/// An audio store in a map. Markers are objects without metadata.
#[derive(Debug, Default)]
pub struct MemoryStore {
    objects: Mutex<Objects>,
}

impl MemoryStore {
    fn objects(&self) -> std::sync::MutexGuard<'_, Objects> {
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many objects (markers included) it holds.
    pub fn len(&self) -> usize {
        self.objects().len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.objects().is_empty()
    }
}

/// The keys under `prefix` after `after`, in order, found by range rather than by a scan.
fn under<'a>(
    objects: &'a Objects,
    prefix: &'a str,
    after: Option<&ObjectKey>,
) -> impl Iterator<Item = &'a ObjectKey> + 'a {
    let start = ObjectKey::from_layout(prefix.to_string());
    let from = match after {
        Some(after) if *after > start => std::ops::Bound::Excluded(after.clone()),
        _ => std::ops::Bound::Included(start),
    };
    objects
        .range((from, std::ops::Bound::Unbounded))
        .map(|(k, _)| k)
        .take_while(move |k| k.as_str().starts_with(prefix))
}

impl AudioStore for MemoryStore {
    async fn put(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<PutOutcome, StoreError> {
        let mut objects = self.objects();
        if let Some((existing, _)) = objects.get(key) {
            if hex(&Sha256::digest(existing)) == meta.sha256 {
                return Ok(PutOutcome::AlreadyStored);
            }
            return Err(StoreError::conflict(key));
        }
        objects.insert(key.clone(), (bytes.to_vec(), Some(meta.clone())));
        Ok(PutOutcome::Created)
    }

    async fn replace(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<(), StoreError> {
        self.objects()
            .insert(key.clone(), (bytes.to_vec(), Some(meta.clone())));
        Ok(())
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.objects().get(key).map(|(bytes, _)| bytes.clone()))
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StoreError> {
        Ok(self.objects().get(key).and_then(|(_, meta)| meta.clone()))
    }

    async fn mark(&self, key: &ObjectKey) -> Result<(), StoreError> {
        self.objects()
            .entry(key.clone())
            .or_insert_with(|| (Vec::new(), None));
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StoreError> {
        Ok(under(&self.objects(), prefix, None).cloned().collect())
    }

    async fn list_after(
        &self,
        prefix: &str,
        after: Option<&ObjectKey>,
        limit: usize,
    ) -> Result<Vec<ObjectKey>, StoreError> {
        Ok(under(&self.objects(), prefix, after)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn children(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut names: Vec<String> = under(&self.objects(), prefix, None)
            .filter_map(|k| k.as_str().strip_prefix(prefix))
            .filter_map(|rest| rest.split('/').next())
            .map(str::to_string)
            .collect();
        names.dedup();
        Ok(names)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<Deleted, StoreError> {
        let removed = self.objects().remove(key);
        Ok(Deleted {
            versions: u32::from(removed.is_some()),
            locked: 0,
        })
    }

    fn uri(&self, key: &ObjectKey) -> String {
        format!("memory:///{key}")
    }
}

/// An event sink that keeps what it is given, with the key each fact was published under;
/// a retraction removes them.
#[derive(Debug, Default)]
pub struct MemorySink {
    events: Mutex<Vec<(String, serde_json::Value)>>,
    contacts: Mutex<Vec<(String, serde_json::Value)>>,
    transcriptions: Mutex<Vec<(String, serde_json::Value)>>,
}

impl MemorySink {
    /// Every event published and not retracted, with its key, in order.
    pub fn events(&self) -> Vec<(String, serde_json::Value)> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every contact request published and not retracted, with its key, in order.
    pub fn contacts(&self) -> Vec<(String, serde_json::Value)> {
        self.contacts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every transcription request published and not retracted, with its key, in order.
    pub fn transcriptions(&self) -> Vec<(String, serde_json::Value)> {
        self.transcriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn stream(&self, stream: Stream) -> &Mutex<Vec<(String, serde_json::Value)>> {
        match stream {
            Stream::Scores => &self.events,
            Stream::Contacts => &self.contacts,
            Stream::Transcriptions => &self.transcriptions,
        }
    }

    fn keep(&self, stream: Stream, key_field: &str, facts: &[serde_json::Value]) {
        let mut stored = self
            .stream(stream)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for fact in facts {
            let key = fact
                .get(key_field)
                .and_then(|id| id.as_str())
                .unwrap_or_default()
                .to_string();
            stored.push((key, fact.clone()));
        }
    }
}

impl EventSink for MemorySink {
    async fn publish(&self, events: &[serde_json::Value]) -> Result<(), SinkError> {
        self.keep(Stream::Scores, "event_id", events);
        Ok(())
    }

    async fn contact(&self, requests: &[serde_json::Value]) -> Result<(), SinkError> {
        self.keep(Stream::Contacts, "request_id", requests);
        Ok(())
    }

    async fn transcription(&self, requests: &[serde_json::Value]) -> Result<(), SinkError> {
        self.keep(Stream::Transcriptions, "request_id", requests);
        Ok(())
    }

    async fn retract(&self, stream: Stream, keys: &[String]) -> Result<(), SinkError> {
        self.stream(stream)
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(key, _)| !keys.contains(key));
        Ok(())
    }
}
